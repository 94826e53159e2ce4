// engine.js — the only importer of the wasm module (build/wasm-release/loom.mjs, served at
// /wasm/loom.mjs). It turns the bindings' JSON envelopes into values and exceptions:
// {ok: true, value} returns `value`; {ok: false, error} throws an EngineError.
//
//   const engine = await loadEngine();
//   try {
//     engine.load(yaml, 'workflows/ingestion_digest.yaml');
//     const { run, events } = engine.start('ingestion_digest', { document }, {}, Date.now());
//     const step = engine.poll(run, Date.now());   // {effects, events, status, wakeup, ready}
//   } finally {
//     engine.dispose();                            // frees the C++ object
//   }

/// Mirrors loom::ErrorCode (engine/include/loom/error.hpp); web/test/engine.test.mjs checks that
/// the two lists agree, name for name and number for number.
export const ErrorCode = Object.freeze({
  OK: 0,
  YAML_SYNTAX: 1,
  UNKNOWN_KEY: 2,
  MISSING_KEY: 3,
  INVALID_VALUE: 4,
  DUPLICATE_STEP: 5,
  UNKNOWN_NEED: 6,
  CYCLE: 7,
  UNKNOWN_AGENT: 8,
  TEMPLATE_SYNTAX: 9,
  TEMPLATE_NOT_UPSTREAM: 10,
  TEMPLATE_UNKNOWN_NAME: 11,
  TEMPLATE_EVAL: 12,
  INPUT_TYPE: 13,
  INPUT_MISSING: 14,
  INPUT_UNKNOWN: 15,
  UNKNOWN_WORKFLOW: 16,
  AGENT_FAILED: 17,
  TIMEOUT: 18,
  CANCELLED: 19,
  UNKNOWN_EFFECT: 20,
  BAD_EVENT_LOG: 21,
  INVALID_STATE: 22,
  BAD_ARGUMENT: 23,
  HOST_ERROR: 24,
  RATE_LIMITED: 25,
  UNAVAILABLE: 26,
  AUTH: 27,
  BAD_REQUEST: 28,
  BUDGET_EXCEEDED: 29,
  NOT_IMPLEMENTED: 30,
  CONTENT_FILTERED: 31,
  BAD_RESPONSE: 32,
});

const NAME_OF_CODE = new Map(Object.entries(ErrorCode).map(([k, v]) => [v, k.toLowerCase()]));

/// The snake_case name of a code ("unknown_agent"), as the engine spells it; undefined if unknown.
export function errorCodeName(code) {
  return NAME_OF_CODE.get(code);
}

/// An error reported by the engine: `code` is an ErrorCode number, `name` its snake_case name.
/// Workflow errors carry file, line and column; load() errors carry every error in `errors`.
export class EngineError extends Error {
  constructor(code, message, { name, hint = '', line = 0, column = 0, file = '', errors } = {}) {
    super(message);
    this.code = code;
    this.codeName = name ?? errorCodeName(code) ?? 'unknown';
    this.hint = hint;
    this.line = line;
    this.column = column;
    this.file = file;
    this.errors = errors ?? [];
  }

  get name() {
    return 'EngineError';
  }

  /// "file:line:column: error[name]: message" like loom::Error::format().
  format() {
    const where = this.file ? `${this.file}:${this.line}:${this.column}: ` : '';
    return `${where}error[${this.codeName}]: ${this.message}${this.hint ? `\n  hint: ${this.hint}` : ''}`;
  }
}

function errorFromJson(e) {
  return new EngineError(e.code, e.message, e);
}

function unwrap(envelope) {
  const parsed = JSON.parse(envelope);
  if (parsed.ok) return parsed.value;
  const first = parsed.error ?? { code: ErrorCode.BAD_ARGUMENT, message: 'the engine failed without an error' };
  const err = errorFromJson(first);
  if (parsed.errors) err.errors = parsed.errors;
  return err;
}

const isNode = typeof process === 'object' && typeof process.versions?.node === 'string' &&
  typeof window === 'undefined';

// The factory module, by URL: one instance per page is plenty (each Engine is its own object).
const modules = new Map();

async function importFactory(moduleUrl) {
  const mod = await import(/* @vite-ignore */ moduleUrl);
  return mod.default;
}

// Emscripten 3.1.6's ES6 output reads `__dirname` when it runs under node (where an ES module has
// none) and installs process-wide uncaughtException/unhandledRejection handlers that rethrow.
// Give it a __dirname for the duration of the call and take its handlers back out.
async function instantiateInNode(factory, moduleUrl, wasmBinary) {
  const { fileURLToPath } = await import('node:url');
  const path = await import('node:path');
  const { createRequire } = await import('node:module');
  const events = ['uncaughtException', 'unhandledRejection'];
  const before = new Map(events.map((e) => [e, process.listeners(e)]));
  const hadDirname = Object.prototype.hasOwnProperty.call(globalThis, '__dirname');
  const hadRequire = Object.prototype.hasOwnProperty.call(globalThis, 'require');
  const file = moduleUrl.startsWith('file:') ? fileURLToPath(moduleUrl) : moduleUrl;
  if (!hadDirname) globalThis.__dirname = path.dirname(file);
  if (!hadRequire) globalThis.require = createRequire(file);
  try {
    const pending = factory({ wasmBinary });
    return await pending;
  } finally {
    if (!hadDirname) delete globalThis.__dirname;
    if (!hadRequire) delete globalThis.require;
    for (const e of events) {
      for (const l of process.listeners(e)) {
        if (!before.get(e).includes(l)) process.removeListener(e, l);
      }
    }
  }
}

async function readBytesInNode(url) {
  const { readFile } = await import('node:fs/promises');
  const { fileURLToPath } = await import('node:url');
  if (/^https?:/.test(url)) {
    const r = await fetch(url);
    if (!r.ok) throw new Error(`cannot fetch ${url}: HTTP ${r.status}`);
    return new Uint8Array(await r.arrayBuffer());
  }
  return readFile(url.startsWith('file:') ? fileURLToPath(url) : url);
}

function defaultModuleUrl() {
  if (isNode) return new URL(/* @vite-ignore */ '../../build/wasm-release/loom.mjs', import.meta.url).href;
  return new URL('/wasm/loom.mjs', globalThis.location?.href ?? import.meta.url).href;
}

async function loadModule({ moduleUrl, wasmUrl, wasmBinary }) {
  moduleUrl = moduleUrl ?? defaultModuleUrl();
  const key = `${moduleUrl}|${wasmUrl ?? ''}`;
  if (!wasmBinary && modules.has(key)) return modules.get(key);
  const pending = (async () => {
    const factory = await importFactory(moduleUrl);
    if (isNode) {
      const bytes = wasmBinary ?? (await readBytesInNode(wasmUrl ?? new URL('loom.wasm', moduleUrl).href));
      return instantiateInNode(factory, moduleUrl, bytes);
    }
    const settings = {};
    if (wasmBinary) settings.wasmBinary = wasmBinary;
    if (wasmUrl) settings.locateFile = (p) => (p.endsWith('.wasm') ? wasmUrl : p);
    return factory(settings);
  })();
  if (!wasmBinary) {
    modules.set(key, pending);
    pending.catch(() => modules.delete(key));
  }
  return pending;
}

function stringify(value, what) {
  try {
    return JSON.stringify(value ?? {});
  } catch (e) {
    throw new EngineError(ErrorCode.BAD_ARGUMENT, `${what} cannot be sent to the engine: ${e.message}`);
  }
}

// RunOptions keys as the engine spells them; camelCase is accepted too.
const OPTION_KEYS = {
  runId: 'run_id',
  maxConcurrency: 'max_concurrency',
  poolLimits: 'pool_limits',
  useCache: 'use_cache',
  maxWorkPerPoll: 'max_work_per_poll',
};

// The engine refuses options of the wrong type (bad_argument); JavaScript callers get the
// conversions they would expect instead: run_id a string, counts integers, use_cache a boolean.
const OPTION_TYPES = {
  run_id: (v) => String(v),
  seed: (v) => Math.max(0, Math.trunc(Number(v))),
  max_concurrency: (v) => Math.max(0, Math.trunc(Number(v))),
  max_work_per_poll: (v) => Math.max(1, Math.trunc(Number(v))),
  use_cache: (v) => Boolean(v),
};

function optionsJson(options) {
  const out = {};
  for (const [k, v] of Object.entries(options ?? {})) {
    const key = OPTION_KEYS[k] ?? k;
    if (v === undefined) continue;
    const value = OPTION_TYPES[key] ? OPTION_TYPES[key](v) : v;
    if (typeof value === 'number' && !Number.isFinite(value)) {
      throw new EngineError(ErrorCode.BAD_ARGUMENT, `option ${key} must be a number, got ${JSON.stringify(v)}`);
    }
    out[key] = value;
  }
  return stringify(out, 'options');
}

// An effect result as effect_result_from_json expects it: error.code a snake_case name (a
// numeric ErrorCode is translated here; the engine would read a number as host_error), message a string.
function normalizeResult(r) {
  if (!r || typeof r !== 'object') {
    throw new EngineError(ErrorCode.BAD_ARGUMENT, 'an effect result must be an object {id, ok, ...}');
  }
  const id = Number(r.id);
  if (!Number.isSafeInteger(id) || id < 0) {
    throw new EngineError(ErrorCode.BAD_ARGUMENT, `an effect result needs the effect's id, got ${JSON.stringify(r.id)}`);
  }
  if (r.ok) return { id, ok: true, output: r.output ?? null };
  const e = r.error ?? {};
  let code = e.code;
  if (typeof code === 'number') code = errorCodeName(code) ?? 'host_error';
  if (typeof code !== 'string' || !code) code = 'host_error';
  const out = { id, ok: false, error: { code, message: String(e.message ?? 'the host reported an error') } };
  if (typeof e.hint === 'string') out.error.hint = e.hint;
  if (typeof r.retry_after_ms === 'number' && Number.isFinite(r.retry_after_ms)) {
    out.retry_after_ms = Math.round(r.retry_after_ms);
  }
  return out;
}

/// Loads the wasm module (once per URL) and makes an Engine. In node the bytes are read from
/// disk (build/wasm-release/loom.wasm by default); in a page the module is /wasm/loom.mjs.
/// Throws whatever the import or instantiation throws (a missing build, a CSP refusal).
export async function loadEngine({ moduleUrl, wasmUrl, wasmBinary } = {}) {
  const Module = await loadModule({ moduleUrl, wasmUrl, wasmBinary });
  return new LoomEngine(Module);
}

/// One engine: an agent registry, a library of loaded workflows and the runs started on it.
/// Every method throws EngineError when the engine answers {ok: false}.
export class LoomEngine {
  #module;
  #handle;

  constructor(Module) {
    this.#module = Module;
    this.#handle = new Module.Engine();
  }

  #call(method, ...args) {
    if (!this.#handle) throw new EngineError(ErrorCode.INVALID_STATE, 'the engine was disposed');
    let envelope;
    try {
      envelope = this.#handle[method](...args);
    } catch (e) {
      // Only a bug gets here: the bindings promise an envelope for every call.
      throw new EngineError(ErrorCode.BAD_ARGUMENT, `the engine raised an exception in ${method}(): ${e?.message ?? e}`,
        { hint: 'this is an engine bug; the arguments were probably malformed' });
    }
    const value = unwrap(envelope);
    if (value instanceof EngineError) throw value;
    return value;
  }

  /// The engine's version string, e.g. "0.1.0".
  version() {
    return this.#module.version();
  }

  /// {snake_name: number} as the engine itself knows its error codes.
  errorCodes() {
    return JSON.parse(this.#module.errorCodes());
  }

  /// Validates a workflow and adds it to the library. Returns its summary {name, description,
  /// inputs, steps, outputs, version}; throws the first error with every error in `.errors`.
  load(yaml, file = '') {
    return this.#call('load', String(yaml), String(file));
  }

  /// Every error of a workflow as plain objects {code, name, message, hint, file, line, column};
  /// [] when it is valid. Does not add it to the library.
  validate(yaml, file = '') {
    return this.#call('validate', String(yaml), String(file));
  }

  /// Parses a models file (YAML, docs/models.md): {default, models: [{name, provider, base_url,
  /// model, credential: {name, header, prefix}, price, limits, timeouts, fallback, line, ...}]}.
  /// Throws the first error with every error (each with its line) in `.errors`.
  models(yaml, file = 'models.yaml') {
    return this.#call('models', String(yaml), String(file));
  }

  /// The registered agents: [{name, description, kind, params}].
  agents() {
    return this.#call('agents');
  }

  /// Starts a run of a loaded workflow. Returns {run, events}; throws INPUT_* errors (all in
  /// `.errors`), UNKNOWN_WORKFLOW or BAD_ARGUMENT.
  start(workflow, inputs = {}, options = {}, now = Date.now()) {
    return this.#call('start', String(workflow), stringify(inputs, 'inputs'), optionsJson(options), Number(now));
  }

  /// Rebuilds a run from its persisted events. Returns {run}; throws BAD_EVENT_LOG.
  restore(workflow, events, options = {}) {
    return this.#call('restore', String(workflow), stringify(events ?? [], 'events'), optionsJson(options));
  }

  /// Advances a run to `now`. Returns {effects, events, status, wakeup, ready, outputs?, error?}.
  poll(run, now = Date.now()) {
    return this.#call('poll', run, Number(now));
  }

  /// Reports effect results [{id, ok, output} | {id, ok: false, error: {code, message},
  /// retry_after_ms}] (one result or a list). Results for effects no longer awaited are dropped.
  resolve(run, results, now = Date.now()) {
    const list = (Array.isArray(results) ? results : [results]).map(normalizeResult);
    return this.#call('resolve', run, stringify(list, 'results'), Number(now));
  }

  /// Streams a chunk of output of effect `effect`. Throws UNKNOWN_EFFECT when it is not in flight.
  feed(run, effect, chunk, now = Date.now()) {
    return this.#call('feed', run, Number(effect), String(chunk), Number(now));
  }

  /// Cancels a run; returns {effects (kind "cancel"), events, status}. INVALID_STATE if finished.
  cancel(run, now = Date.now()) {
    return this.#call('cancel', run, Number(now));
  }

  /// The run's whole state (steps with status, attempts, outputs, timings).
  snapshot(run) {
    return this.#call('snapshot', run);
  }

  /// Forgets a run. Never fails.
  close(run) {
    if (this.#handle) this.#handle.close(run);
  }

  // ---- the knowledge base (loom/knowledge.hpp) ----

  /// A new, empty knowledge base: options {k1, b, name_boost, alias_boost, chunk_chars,
  /// chunk_overlap}. Free it with kb.delete(). Throws BAD_ARGUMENT for a bad option.
  createKnowledgeBase(options = {}) {
    const kb = new KnowledgeBase(this.#module);
    try {
      kb._init(options);
    } catch (e) {
      kb.delete();
      throw e;
    }
    return kb;
  }

  /// A knowledge base from a snapshot (kb.snapshot()'s bytes). Throws BAD_ARGUMENT for bytes that
  /// are not a snapshot, INVALID_VALUE for one from a newer Loom.
  loadKnowledgeBase(bytes) {
    const kb = new KnowledgeBase(this.#module);
    try {
      kb._load(bytes);
    } catch (e) {
      kb.delete();
      throw e;
    }
    return kb;
  }

  /// Makes `kb` (a copy of it as it is now) the base that knowledge.query steps of runs started
  /// from now on read; null removes it. Call it again after changing kb.
  useKnowledgeBase(kb) {
    if (!this.#handle) throw new EngineError(ErrorCode.INVALID_STATE, 'the engine was disposed');
    const value = unwrap(kb ? this.#handle.useKnowledge(kb._handle) : this.#handle.clearKnowledge());
    if (value instanceof EngineError) throw value;
  }

  /// Binds the voice.profile / voice.score / voice.rank steps of runs started from now on to
  /// `voice` (a VoiceBackground).
  useVoice(voice) {
    if (!this.#handle) throw new EngineError(ErrorCode.INVALID_STATE, 'the engine was disposed');
    const value = unwrap(this.#handle.useVoice(voice._handle));
    if (value instanceof EngineError) throw value;
  }

  /// The terms the knowledge index stores for `text` (tokenized, stopwords out, stemmed).
  knowledgeAnalyze(text) {
    const value = unwrap(this.#module.knowledgeAnalyze(String(text ?? '')));
    if (value instanceof EngineError) throw value;
    return value;
  }

  /// Frees the C++ engine; the object is unusable afterwards. Safe to call twice.
  dispose() {
    if (this.#handle) {
      const h = this.#handle;
      this.#handle = null;
      h.delete();
    }
  }

  get disposed() {
    return this.#handle === null;
  }
}

/// A knowledge base in the engine (entries, chunks, a BM25 index). Made by
/// engine.createKnowledgeBase() or engine.loadKnowledgeBase(bytes); free it with delete().
/// Entries are {id, name, aliases, category, inclusion, from: {chapter, scene}, text, source}.
export class KnowledgeBase {
  #handle;

  constructor(Module) {
    this.#handle = new Module.KnowledgeBase();
  }

  get _handle() {
    if (!this.#handle) throw new EngineError(ErrorCode.INVALID_STATE, 'the knowledge base was deleted');
    return this.#handle;
  }

  #call(method, ...args) {
    const value = unwrap(this._handle[method](...args));
    if (value instanceof EngineError) throw value;
    return value;
  }

  _init(options) {
    return this.#call('init', stringify(options ?? {}, 'options'));
  }

  _load(bytes) {
    const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
    return this.#call('load', view);
  }

  /// Adds or replaces (same id) one entry.
  put(entry) {
    return this.putMany([entry]);
  }

  /// Adds or replaces entries in one call. Throws BAD_ARGUMENT / INVALID_VALUE naming the first
  /// bad entry (by its position and id); the entries before it are in.
  putMany(entries) {
    return this.#call('putMany', stringify(entries ?? [], 'entries'));
  }

  /// Removes entry `id`; false when there was none.
  remove(id) {
    return this.#call('remove', String(id));
  }

  /// Ranked chunks: [{id, name, category, chunk, score, text, matched}]. Options {k, categories,
  /// position: {chapter, scene}, includeNever}.
  search(query, { k = 10, categories, position, includeNever = false } = {}) {
    return this.#call('search', String(query ?? ''),
      stringify({ k, categories, position, include_never: includeNever }, 'options'));
  }

  /// Only the ranking: [[id, chunk, score], ...], best first — for callers that need no text or
  /// names (much less to copy out of wasm per query).
  searchRanked(query, { k = 10, categories, position, includeNever = false } = {}) {
    return this.#call('searchRanked', String(query ?? ''),
      stringify({ k, categories, position, include_never: includeNever }, 'options'));
  }

  /// Entries `text` names: [{id, name, begin, end, surface}] (byte offsets into the UTF-8 text).
  mentions(text) {
    return this.#call('mentions', String(text ?? ''));
  }

  /// The router, as a knowledge.query step runs it: {context, tokens, included, dropped}.
  query(request) {
    return this.#call('query', stringify(request ?? {}, 'request'));
  }

  /// Every entry (without its text): [{id, name, aliases, category, inclusion, from, source, chunks}].
  entries() {
    return this.#call('entries');
  }

  /// {entries, chunks, terms, postings}.
  stats() {
    return this.#call('stats');
  }

  /// The base as bytes, for storage; engine.loadKnowledgeBase(bytes) reads them back.
  snapshot() {
    return new Uint8Array(this._handle.snapshot());
  }

  /// A hash of the content: it changes whenever an entry or an option does.
  fingerprint() {
    return this._handle.fingerprint();
  }

  /// Frees the C++ base. Safe to call twice.
  delete() {
    if (this.#handle) {
      const h = this.#handle;
      this.#handle = null;
      h.delete();
    }
  }
}

/// The voice background (engine/include/loom/voice.hpp): profiles, scores, rankings, dialogue and
/// style features. Made by loadVoiceBackground(bytes) (the shipped build/voice/background.loomvb)
/// or buildVoiceBackground(voices); free it with delete(). Every method throws EngineError.
export class VoiceBackground {
  #handle;

  constructor(Module) {
    this.#handle = new Module.Voice();
  }

  get _handle() {
    if (!this.#handle) throw new EngineError(ErrorCode.INVALID_STATE, 'the voice background was deleted');
    return this.#handle;
  }

  #call(method, ...args) {
    const value = unwrap(this._handle[method](...args));
    if (value instanceof EngineError) throw value;
    return value;
  }

  _build(voices) {
    return this.#call('build', stringify(voices ?? [], 'voices'));
  }

  _load(bytes) {
    return this.#call('load', bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes));
  }

  /// {passages, words, fingerprint}.
  info() {
    return this.#call('info');
  }

  /// A profile from {name, references?: [text], text?, character?, aliases?} (voice.profile's
  /// arguments): {format, name, words, references, features, signature_words, background, lines?}.
  profile(request) {
    return this.#call('profile', stringify(request, 'request'));
  }

  /// {score, confidence, uncertainty, words, cast, evidence: [{feature, text, z}], profile}. With
  /// `cast` (other voices' profiles) the score is relative to them (docs/voice.md).
  score(profile, text, cast = []) {
    return this.#call('score', stringify({ profile, text: String(text ?? ''), cast }, 'request'));
  }

  /// Candidates (texts or {label, text}) ranked: {ranking: [...], best, best_label}; `cast` as in score().
  rank(profile, candidates, cast = []) {
    return this.#call('rank', stringify({ profile, candidates, cast }, 'request'));
  }

  /// Dialogue lines of `text` attributed to `names`: [{speaker, text, begin, end}] (string indices).
  dialogue(text, names = []) {
    return this.#call('dialogue', String(text ?? ''), stringify(names, 'names'));
  }

  /// The style features of any text: [{id, label, unit, value}].
  features(text) {
    return this.#call('features', String(text ?? ''));
  }

  /// The background as bytes (what loadVoiceBackground reads).
  snapshot() {
    return new Uint8Array(this._handle.snapshot());
  }

  /// Frees it. Safe to call twice.
  delete() {
    if (this.#handle) {
      const h = this.#handle;
      this.#handle = null;
      h.delete();
    }
  }
}

async function makeVoiceBackground(init, settings) {
  const Module = await loadModule(settings ?? {});
  const voice = new VoiceBackground(Module);
  try {
    init(voice);
  } catch (e) {
    voice.delete();
    throw e;
  }
  return voice;
}

/// A voice background from its snapshot bytes. Throws BAD_ARGUMENT for bytes that are not one.
export function loadVoiceBackground(bytes, settings) {
  return makeVoiceBackground((v) => v._load(bytes), settings);
}

/// A voice background built from voices: [[passage, ...] per writer] (tools/voice-background.mjs).
export function buildVoiceBackground(voices, settings) {
  return makeVoiceBackground((v) => v._build(voices), settings);
}

/// Runs `fn(engine)` with a fresh engine and disposes of it afterwards, even when fn throws.
export async function withEngine(fn, settings) {
  const engine = await loadEngine(settings);
  try {
    return await fn(engine);
  } finally {
    engine.dispose();
  }
}
