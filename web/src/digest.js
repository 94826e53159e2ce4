// digest.js — the Digest view's logic (no DOM): files and web pages read into text, each digested
// by a run of its own, and a digest filed into the knowledge base with where it came from.
//
//   const digester = createDigester({ engine, storage, vault, runs, knowledge });
//   const choice = await digester.modelChoice();   // {model: 'draft' | '', models, why}
//   const results = await digester.digest([file, 'https://example.org/essay'], { model: choice.model, onProgress });
//   // [{ok: true, source, title, kind, digest, keywords, runId, model} | {ok: false, source, error: {code, message}}]
//   await digester.fileIntoKnowledge(results[0], { category: 'research' });
//
// A model writes the digest (workflows/ingestion_digest_llm.yaml) when one is chosen; without
// one the offline extractive summary does (workflows/ingestion_digest.yaml). Each source goes its
// own way: one that cannot be read or whose run fails is reported with its error's code and the
// others go on. The runs are stored as every run is, and each remembers its source, so the
// digests are still there after a reload (recent()).
import { extractFile, extractUrl } from './extract/index.js';
import { errorCodeName } from './engine.js';

/// The workflows behind a digest: offline, and with a model.
export const OFFLINE_WORKFLOW = 'ingestion_digest';
export const MODEL_WORKFLOW = 'ingestion_digest_llm';
const WORKFLOWS = [OFFLINE_WORKFLOW, MODEL_WORKFLOW];

/// Why a digest could not be made or filed, when no ExtractError, EngineError or run error says
/// it: 'no_workflow' (the library lacks the workflow), 'no_models' (a model is chosen and the
/// pool is empty), 'bad_argument', 'cancelled', 'run_failed' (a run that ended without a digest).
export class DigestError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }

  get name() {
    return 'DigestError';
  }
}

// {code, message} of anything thrown or of a run's error object; codes are names ('cors').
function errorOf(e, fallback = 'run_failed') {
  let code = e?.codeName ?? e?.code ?? e?.name;
  if (typeof code === 'number') code = errorCodeName(code);
  if (!code || code === 'Error') code = fallback;
  return { code: String(code), message: String(e?.message ?? e ?? '') };
}

/// What a source is called in messages and in a knowledge entry's `source`: a file's name, or
/// the address.
export function sourceName(source) {
  return typeof source === 'string' ? source.trim() : String(source?.name ?? '');
}

/// The digester of the studio. `runs` is the RunManager, `vault` the key vault (hasKey),
/// `knowledge` the open knowledge base (or null: filing then fails 'unavailable');
/// `extractOptions` go to extractFile/extractUrl (fetch, parseHtml, pdfjs in tests).
export function createDigester({ engine, storage, vault, runs, knowledge, extractOptions = {} }) {
  const poolText = async () => (await storage.getModels())?.yaml ?? '';

  // Whether `m` (a model of engine.models()) can be called now: no key needed, or its key stored.
  async function usable(m) {
    if (!/^https?:\/\//.test(m.base_url ?? '')) return { usable: false, why: `its address '${m.base_url ?? ''}' is not http(s)` };
    const key = m.credential?.name;
    if (!key || key === 'none') return { usable: true, why: 'needs no key' };
    if (await vault?.hasKey(key)) return { usable: true, why: `its key ${key} is saved` };
    return { usable: false, why: `no key saved for ${key} (Settings)` };
  }

  /// The models a digest may use and the one to use by default: {model, models: [{name,
  /// provider, usable, why}], why}. `model` is the pool's default when it is usable, else ''
  /// (offline); `why` says why, for the view ("the default model draft has no key saved...").
  async function modelChoice() {
    const yaml = await poolText();
    let pool = null;
    if (yaml.trim()) {
      try {
        pool = engine.models(yaml);
      } catch (e) {
        return { model: '', models: [], why: `the model pool has an error (${errorOf(e).code}); see Settings` };
      }
    }
    const models = [];
    for (const m of pool?.models ?? []) models.push({ name: m.name, provider: m.provider, ...(await usable(m)) });
    if (!models.length) return { model: '', models, why: 'no model is configured (Settings)' };
    const def = models.find((m) => m.name === pool.default);
    if (!def) return { model: '', models, why: 'the model pool names no default model' };
    if (!def.usable) return { model: '', models, why: `the default model ${def.name} cannot be used, ${def.why}` };
    return { model: def.name, models, why: `it is the default model and ${def.why}` };
  }

  async function workflow(name) {
    const w = await storage.getWorkflow(name);
    if (!w) throw new DigestError('no_workflow', `The workflow ${name} is not in the library; reload the studio to restore the shipped workflows.`);
    return { name: w.name, yaml: w.yaml };
  }

  // Reads one source into {title, kind, text, source}.
  async function read(source, signal) {
    const doc = typeof source === 'string'
      ? await extractUrl(source, { ...extractOptions, signal })
      : await extractFile(source, { ...extractOptions, signal });
    return { title: doc.title || sourceName(source), kind: doc.kind, text: doc.text, source: sourceName(source) };
  }

  // The result of a finished run of `record`: the digest, or its error.
  function resultOf(record, end) {
    const base = { source: record.digest.source, title: record.digest.title, kind: record.digest.kind,
      runId: record.id, model: record.inputs?.model ?? '', filed: record.digest.filed ?? null };
    if (end?.status === 'succeeded' && typeof end.outputs?.digest === 'string') {
      return { ok: true, ...base, digest: end.outputs.digest, keywords: String(end.outputs.keywords ?? '')
        .split(',').map((k) => k.trim()).filter(Boolean) };
    }
    const error = end?.interrupted ? errorOf(end.error, 'interrupted')
      : end?.status === 'cancelled' ? { code: 'cancelled', message: 'the digest was cancelled' }
        : end?.error ? errorOf(end.error) : { code: 'run_failed', message: `the run ended ${end?.status ?? 'without a result'}` };
    return { ok: false, ...base, error };
  }

  // One source, start to end; never rejects.
  async function one(source, { model, chunkChars, signal, tell }) {
    const name = sourceName(source);
    try {
      tell({ stage: 'reading' });
      const doc = await read(source, signal);
      tell({ stage: 'starting', title: doc.title });
      const inputs = { document: doc.text };
      if (chunkChars) inputs.chunk_chars = chunkChars;
      if (model) inputs.model = model;
      const models = await poolText();
      if (model && !models.trim()) throw new DigestError('no_models', 'A model was chosen but the model pool is empty (Settings).');
      if (signal?.aborted) throw new DigestError('cancelled', 'the digest was cancelled before its run started');
      const runId = await runs.start({ workflow: await workflow(model ? MODEL_WORKFLOW : OFFLINE_WORKFLOW), inputs,
        models: models.trim() ? models : undefined });
      const record = await storage.updateRun(runId, { digest: { source: doc.source, title: doc.title, kind: doc.kind } });
      tell({ stage: 'running', runId, title: doc.title });
      const end = await runs.finished(runId);
      const result = resultOf(record, end ?? await storage.getRun(runId));
      tell({ stage: result.ok ? 'done' : 'failed', runId, result });
      return result;
    } catch (e) {
      const result = { ok: false, source: name, title: name, error: errorOf(e, 'failed') };
      tell({ stage: 'failed', result });
      return result;
    }
  }

  /// Digests each of `sources` (File objects and http(s) addresses) with `model` ('' or absent:
  /// offline). `signal` cancels: the reading, and the runs under way (they end 'cancelled'). `onProgress(index, {stage: 'reading'|'starting'|'running'|'done'|'failed', runId?,
  /// title?, result?, snapshot?, streamed?})` follows each: while its run goes, with the run's
  /// snapshot (steps and their status) and the text each step streamed so far. Resolves one
  /// result per source, in order (see the top of this file); it never rejects for a source.
  async function digest(sources, { model = '', chunkChars, signal, onProgress = () => {} } = {}) {
    const watching = new Map();  // run id -> source index
    const stop = runs.subscribe((c) => {
      if (!watching.has(c.runId) || c.kind !== 'events') return;
      onProgress(watching.get(c.runId), { stage: 'running', runId: c.runId, snapshot: c.snapshot,
        streamed: runs.streamed(c.runId) });
    });
    const cancel = () => {
      for (const runId of watching.keys()) runs.cancel(runId);
    };
    signal?.addEventListener('abort', cancel);
    try {
      return await Promise.all([...sources].map((source, i) => one(source, {
        model, chunkChars, signal,
        tell: (p) => {
          if (p.runId) watching.set(p.runId, i);
          onProgress(i, p);
        },
      })));
    } finally {
      stop();
      signal?.removeEventListener('abort', cancel);
    }
  }

  /// The digests stored in this browser, newest first: finished runs of the digest workflows
  /// started by a digest (they carry their source), as results like digest()'s.
  async function recent({ limit = 20 } = {}) {
    const records = await storage.listRuns({ limit: 200 });
    return records.filter((r) => r.digest && WORKFLOWS.includes(r.workflow) && r.status !== 'running')
      .slice(0, limit).map((r) => resultOf(r, r));
  }

  /// Files a digest (a result of digest() or recent()) into the knowledge base as an entry whose
  /// text is the digest and whose source names the original file or address and the run. `title`
  /// (default: the source's title) names the entry, `category` defaults to 'research'. A digest
  /// filed before replaces its entry rather than adding a second one. Resolves the stored entry
  /// and marks the run's record as filed. Rejects KnowledgeError
  /// ('bad_argument': a bad category), DigestError('bad_argument': no digest), StorageError.
  async function fileIntoKnowledge(result, { category = 'research', title } = {}) {
    if (!knowledge) throw new DigestError('unavailable', 'The knowledge base did not open; the digest cannot be filed now.');
    if (!result?.ok || !result.digest) throw new DigestError('bad_argument', 'Only a finished digest can be filed.');
    const by = result.model ? `model ${result.model}` : 'the offline summary';
    const entry = await knowledge.save({
      id: result.filed ?? undefined,
      name: String(title ?? '').trim() || result.title || result.source,
      category,
      inclusion: category === 'research' ? 'by_relevance' : undefined,
      text: result.digest,
      source: `digest of ${result.source} (run ${result.runId}, ${by})`,
      kind: 'digest',
      meta: { digest: { source: result.source, kind: result.kind, run: result.runId, model: result.model || null,
        keywords: result.keywords ?? [] } },
    });
    try {
      const record = await storage.getRun(result.runId);
      if (record?.digest) await storage.updateRun(result.runId, { digest: { ...record.digest, filed: entry.id } });
    } catch {
      // the entry is saved; only the run's "filed" mark is missing, which the view can live without
    }
    return entry;
  }

  return { modelChoice, digest, recent, fileIntoKnowledge };
}
