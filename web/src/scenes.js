// scenes.js — the scene workflows, seen from the manuscript: draft a scene (scene_generation),
// rewrite it in a character's voice (scene_enhancement), and find the model that captures a
// voice (voice_testing). No DOM here: the Manuscript view and the Voice panel call it.
//
//   const flows = createSceneFlows({ engine, runs, manuscript, storage, voices, knowledge });
//   flows.watch();                                   // once, at start: results reach the manuscript
//   const runId = await flows.generate(sceneId, { targetWords: 900 });
//   // ... the run streams, waits for the writer's approval in the run view (across reloads) ...
//   // on success, flows saves the approved text as the scene's new revision, with its provenance
//
// A run works for a scene through its record's `link` {project, scene, purpose}: whatever tab
// finishes the run — this one, or the one that resumed it after a reload — saves the result, once
// (apply() is idempotent: a revision whose origin names the run means it was saved already). The
// inputs come from the manuscript: the scene's outline, POV, tense; the voice from the stored
// voice of that name (its reference passages), the character's knowledge entry and the project's
// other scenes (the character's lines); the cast from the writer's other stored voices.

/// The shipped workflows each entry point runs (the writer's edited copy of that name, if any),
/// unless the project names its own copy (project.workflows[purpose]).
export const SCENE_WORKFLOWS = { generate: 'scene_generation', enhance: 'scene_enhancement', test: 'voice_testing' };

const ORIGIN_KIND = { generate: 'generated', enhance: 'enhanced' };
const KEPT = new Set(['approve', 'edit']);

export class SceneFlowError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'SceneFlowError';
    this.code = code;
  }
}

export function createSceneFlows({ engine, runs, manuscript, storage, voices = null, knowledge = null }) {
  return new SceneFlows({ engine, runs, manuscript, storage, voices, knowledge });
}

const round = (x, digits = 2) => (Number.isFinite(x) ? Number(x.toFixed(digits)) : null);

class SceneFlows {
  #engine;
  #runs;
  #manuscript;
  #storage;
  #voices;
  #knowledge;
  #applying = new Map();  // run id -> Promise of apply(), so two callers save once
  #savedListeners = new Set();

  constructor({ engine, runs, manuscript, storage, voices, knowledge }) {
    this.#engine = engine;
    this.#runs = runs;
    this.#manuscript = manuscript;
    this.#storage = storage;
    this.#voices = voices;
    this.#knowledge = knowledge;
  }

  /// Calls fn(revision) after each revision this saves (a view showing that scene reloads its
  /// text). Returns the function that stops it.
  onSaved(fn) {
    this.#savedListeners.add(fn);
    return () => this.#savedListeners.delete(fn);
  }

  /// Saves the results of linked runs as they finish (and of those that finished while no tab
  /// was saving: a crash between the run's end and the save). Returns the function that stops it.
  watch({ onApplied = () => {}, onError = () => {} } = {}) {
    const stop = this.#runs.subscribe((change) => {
      if (change.kind !== 'finished' || !change.record?.link?.scene) return;
      this.apply(change.runId).then((rev) => rev && onApplied(rev, change.runId), onError);
    });
    this.applyFinished().then((saved) => saved.forEach(({ revision, runId }) => onApplied(revision, runId)), onError);
    return stop;
  }

  /// Starts scene_generation for scene `sceneId`: its outline (and beats), title, POV and tense;
  /// `model` (else the project's default, else the pool's), `targetWords`, `queries` (extra
  /// questions for the knowledge base). Resolves the run's id.
  async generate(sceneId, { model, targetWords = 800, queries = [] } = {}) {
    const { scene, project } = await this.#scene(sceneId, 'Drafting a scene');
    const outline = [scene.outline, ...(scene.beats ?? []).map((b) => `- ${b}`)].filter(Boolean).join('\n');
    if (!outline.trim()) {
      throw new SceneFlowError('bad_argument', `The scene '${scene.title || 'untitled'}' has no outline or beats yet: ` +
        'write what happens in it first, then draft it.');
    }
    const inputs = {
      outline, title: scene.title, pov: scene.pov, tense: scene.tense || 'past', target_words: targetWords,
      queries, chapter: chapterNumber(project, sceneId),
    };
    if (scene.pov) Object.assign(inputs, await this.#voiceInputs(project, scene.pov, sceneId));
    return this.#start('generate', project, scene, inputs, model);
  }

  /// Starts scene_enhancement for scene `sceneId` in `character`'s voice (the POV by default):
  /// `targetScore` (75), `maxIterations` (3), `notes` (what the rewrite must keep), `model`.
  async enhance(sceneId, { character, targetScore = 75, maxIterations = 3, notes = '', model } = {}) {
    const { scene, project } = await this.#scene(sceneId, 'Enhancing a scene');
    const who = String(character || scene.pov || '').trim();
    if (!who) throw new SceneFlowError('bad_argument', 'Name the character whose voice the scene should be in (or set the scene\'s POV).');
    if (!scene.text?.trim()) throw new SceneFlowError('bad_argument', `The scene '${scene.title || 'untitled'}' has no text to rewrite yet.`);
    const inputs = {
      text: scene.text, character: who, target_score: targetScore, max_iterations: maxIterations, notes,
      ...await this.#voiceInputs(project, who, sceneId),
    };
    return this.#start('enhance', project, scene, inputs, model);
  }

  /// Starts voice_testing: `prompt` to each of `models` (2 to 5 names of the pool), ranked by
  /// `character`'s voice; the run is linked to project `projectId` (its cost counts there).
  async voiceTest({ projectId, prompt, models, character, maxTokens = 800 } = {}) {
    const list = [...new Set((models ?? []).map(String).filter(Boolean))];
    if (list.length < 2 || list.length > 5) {
      throw new SceneFlowError('bad_argument', `Pick 2 to 5 different models to compare (got ${list.length}).`);
    }
    if (!String(prompt ?? '').trim()) throw new SceneFlowError('bad_argument', 'Write the prompt every model gets.');
    const who = String(character ?? '').trim();
    if (!who) throw new SceneFlowError('bad_argument', 'Name the character whose voice the answers are ranked by.');
    const project = projectId ? await this.#project(projectId, 'Testing voices') : null;
    const inputs = { prompt: String(prompt), models: list, character: who, max_tokens: maxTokens,
      ...await this.#voiceInputs(project, who, null) };
    return this.#start('test', project, null, inputs, undefined);
  }

  /// The comparison of a finished voice_testing run: {rows, failed, recommended, tie} with a row
  /// per model that answered {model, rank, tie, score, confidence, uncertainty, evidence, text,
  /// tokens {input, output}, cost_usd, latency_ms}, best rank first, and one per model that did
  /// not {model, failed: true, error {code, message}}; recommended is the best model, or null
  /// when the top ranks tie. Null while the run has no ranking.
  async matrix(runId) {
    // The stored record and log are enough: runs.view() would also rebuild the run in the engine.
    const record = await this.#storage.getRun(runId);
    const outputs = record?.outputs;
    if (!outputs?.ranking) return null;
    const events = await this.#storage.readEvents(runId);
    const latency = latencies(events, 'drafts');
    const rows = outputs.ranking.map((r) => {
      const draft = outputs.drafts?.[r.candidate] ?? {};
      return {
        model: outputs.models[r.candidate], rank: r.rank, tie: Boolean(r.tie), score: round(r.score),
        confidence: r.confidence, uncertainty: round(r.uncertainty), evidence: r.evidence ?? [],
        text: draft.text ?? '', tokens: { input: draft.usage?.input_tokens ?? 0, output: draft.usage?.output_tokens ?? 0 },
        cost_usd: draft.cost_usd ?? 0, latency_ms: latency.get(r.candidate) ?? null,
      };
    });
    const recommended = outputs.recommended ?? null;  // the workflow's: none on a tie at the top
    // The models that did not answer (after their retries): last, with why.
    const errors = itemErrors(events, 'drafts');
    const failed = (outputs.failed ?? []).map((i) => ({ model: outputs.models[i], failed: true, error: errors.get(i) ?? null }));
    return { rows, failed, recommended, tie: recommended === null, character: record.inputs?.character ?? '' };
  }

  /// Saves a finished linked run's result as its scene's new revision, once: resolves the
  /// revision (no text), or null when there is nothing to save (not finished, not succeeded,
  /// rejected, unchanged, or saved before).
  apply(runId) {
    if (!this.#applying.has(runId)) {
      const p = this.#apply(runId).finally(() => this.#applying.delete(runId));
      this.#applying.set(runId, p);
    }
    return this.#applying.get(runId);
  }

  async #apply(runId) {
    const record = await this.#storage.getRun(runId);
    const link = record?.link;
    if (!link?.scene || record.status !== 'succeeded' || record.applied) return null;
    const out = record.outputs ?? {};
    if (!KEPT.has(out.decision) || typeof out.text !== 'string' || !out.text.trim()) {
      await this.#storage.updateRun(runId, { applied: { saved: false, decision: out.decision ?? null } });
      return null;
    }
    const earlier = (await this.#manuscript.revisions(link.scene)).find((r) => r.origin?.run === runId);
    if (earlier) {
      await this.#storage.updateRun(runId, { applied: { saved: true, revision: earlier.n } });
      return null;
    }
    const origin = {
      kind: ORIGIN_KIND[link.purpose] ?? 'generated', run: runId, workflow: record.workflow,
      workflow_version: this.#versionOf(record), model: out.model ?? null, model_id: out.model_id ?? null,
      prompt: out.prompt ?? null, edited: Boolean(out.edited),
    };
    if (link.purpose === 'generate') {
      origin.knowledge = (out.knowledge ?? []).map(knowledgeNote);
      if (record.inputs?.pov) origin.character = record.inputs.pov;
      if (out.voice_score !== null && out.voice_score !== undefined) origin.scores = { after: round(out.voice_score) };
    } else {
      origin.character = record.inputs?.character ?? null;
      origin.scores = { before: round(out.before_score), after: round(out.after_score) };
    }
    const title = link.purpose === 'enhance' ? `In ${origin.character}'s voice` : 'Drafted';
    const revision = await this.#manuscript.saveText(link.scene, out.text, origin, { title });
    await this.#storage.updateRun(runId, { applied: { saved: true, revision: revision.n } });
    for (const fn of this.#savedListeners) {
      try {
        fn(revision);
      } catch (e) {
        console.error('a listener of saved revisions failed', e);
      }
    }
    return revision;
  }

  /// Applies every finished linked run not applied yet; resolves [{runId, revision}] of those saved.
  async applyFinished() {
    const saved = [];
    for (const record of await this.#storage.listRuns({ limit: 1000, status: 'succeeded' })) {
      if (!record.link?.scene || record.applied) continue;
      const revision = await this.apply(record.id);
      if (revision) saved.push({ runId: record.id, revision });
    }
    return saved;
  }

  /// What the scene workflows cost in project `projectId`: {project, chapters: {id: spend},
  /// scenes: {id: spend}, runs} where a spend is {cost_usd, input_tokens, output_tokens, runs}.
  /// Every linked run counts, kept or rejected: the tokens were spent either way.
  async spend(projectId) {
    const project = await this.#project(projectId, 'Adding up the cost');
    const zero = () => ({ cost_usd: 0, input_tokens: 0, output_tokens: 0, runs: 0 });
    const add = (into, r) => {
      into.cost_usd += r.cost_usd ?? 0;
      into.input_tokens += r.usage?.input_tokens ?? 0;
      into.output_tokens += r.usage?.output_tokens ?? 0;
      into.runs += 1;
    };
    const out = { project: zero(), chapters: {}, scenes: {} };
    const chapterOf = new Map();
    for (const act of project.acts) for (const ch of act.chapters) for (const s of ch.scenes) chapterOf.set(s, ch.id);
    for (const record of await this.#storage.listRunsOf({ project: projectId })) {
      add(out.project, record);
      const scene = record.link.scene;
      if (!scene || !chapterOf.has(scene)) continue;
      add(out.scenes[scene] ??= zero(), record);
      add(out.chapters[chapterOf.get(scene)] ??= zero(), record);
    }
    return out;
  }

  /// The model pool's names and its default: {names, fallback}.
  async modelNames() {
    const yaml = (await this.#storage.getModels())?.yaml;
    if (!yaml) return { names: [], fallback: '' };
    const pool = this.#engine.models(yaml);
    return { names: (pool.models ?? []).map((m) => m.name), fallback: pool.default ?? '' };
  }

  /// The runs that worked on scene `sceneId`, newest first (their records).
  async runsOf(sceneId) {
    return this.#storage.listRunsOf({ scene: sceneId });
  }

  // ---- helpers ----

  async #start(purpose, project, scene, inputs, model) {
    const own = project?.workflows?.[purpose];
    const name = own || SCENE_WORKFLOWS[purpose];
    const workflow = await this.#storage.getWorkflow(name);
    if (!workflow) {
      throw new SceneFlowError('not_found', own
        ? `This project uses the workflow '${own}', which is not in your library any more. Pick another in the ` +
          'outline\'s Workflows, or the shipped one.'
        : `The workflow '${name}' is not in your library. Reload the studio to get the shipped workflows back, ` +
          'or import it in the Workflows view.');
    }
    const chosen = String(model ?? project?.default_model ?? '').trim();
    if (chosen) inputs.model = chosen;
    // A writer's copy may take fewer inputs than the shipped workflow: it gets those it declares.
    const declared = new Set(this.#engine.load(workflow.yaml, workflow.name).inputs.map((i) => i.name));
    for (const key of Object.keys(inputs)) if (!declared.has(key)) delete inputs[key];
    const models = (await this.#storage.getModels())?.yaml;
    const link = { purpose };
    if (project) link.project = project.id;
    if (scene) link.scene = scene.id;
    return this.#runs.start({ workflow: { name: workflow.name, yaml: workflow.yaml }, inputs, models, link });
  }

  async #project(projectId, what) {
    const project = await this.#manuscript.getProject(projectId);
    if (!project) throw new SceneFlowError('not_found', `${what} failed: there is no project '${projectId}' (deleted in another tab?).`);
    return project;
  }

  async #scene(sceneId, what) {
    const scene = await this.#manuscript.getScene(sceneId);
    if (!scene) throw new SceneFlowError('not_found', `${what} failed: there is no scene '${sceneId}' (deleted in another tab?).`);
    return { scene, project: await this.#project(scene.project, what) };
  }

  // What voice.profile gets for `character`: the stored voice's passages and the character's
  // lines in the project's other scenes and in their knowledge entries; the cast: the writer's
  // other stored voices.
  async #voiceInputs(project, character, exceptScene) {
    const stored = this.#voices ? await this.#voices.get(character) : undefined;
    const parts = [];
    if (project) {
      for (const s of await this.#manuscript.scenes(project.id)) if (s.id !== exceptScene && s.text) parts.push(s.text);
    }
    if (this.#knowledge) {
      for (const entry of await this.#knowledge.list()) {
        const names = [entry.name, ...(entry.aliases ?? [])].map((n) => String(n).toLowerCase());
        if (entry.category === 'character' && names.includes(character.toLowerCase()) && entry.text) parts.push(entry.text);
      }
    }
    const cast = this.#voices
      ? (await this.#voices.list()).filter((v) => v.name !== character).map((v) => ({ name: v.name, references: v.references }))
      : [];
    const text = parts.join('\n\n');
    const references = [...(stored?.references ?? [])];
    if (this.#voices && text) {
      // The character's lines, found here, go in as references: the run keeps them, not the whole
      // manuscript (a run's record holds its inputs). The workflow would find the same lines.
      const lines = await this.#voices.linesOf(text, [character]);
      return { references: [...references, ...lines.map((l) => l.text)], manuscript: '', cast };
    }
    return { references, manuscript: text, cast };
  }

  #versionOf(record) {
    try {
      return this.#engine.load(record.yaml, record.workflow).version ?? null;
    } catch {
      return null;
    }
  }
}

// The scene's chapter, counted from 1 in outline order (for the knowledge base's reveals); 0
// when the scene is in none.
function chapterNumber(project, sceneId) {
  const chapters = project.acts.flatMap((a) => a.chapters);
  return chapters.findIndex((ch) => ch.scenes.includes(sceneId)) + 1;
}

// What a revision keeps of a knowledge.query `included` entry: enough to say where the prompt's
// notes came from, not the whole passage again.
function knowledgeNote(item) {
  if (!item || typeof item !== 'object') return { name: String(item) };
  const note = {};
  for (const key of ['citation', 'id', 'name', 'category', 'source', 'reason', 'chunk', 'tokens']) {
    if (item[key] !== undefined) note[key] = item[key];
  }
  return note;
}

// Per foreach item of step `step` that failed: its last error {code, message} (Map item -> error).
function itemErrors(events, step) {
  const out = new Map();
  for (const e of events ?? []) {
    if (e.step === step && e.item !== undefined && e.type === 'step_failed') {
      const err = e.error ?? {};
      out.set(e.item, { code: typeof err.code === 'string' ? err.code : err.name ?? String(err.code ?? 'error'), message: err.message ?? '' });
    }
  }
  return out;
}

// Per foreach item of step `step`: the time from the start of its successful attempt to its
// success, from the run's events (Map item -> ms).
function latencies(events, step) {
  const started = new Map();
  const out = new Map();
  for (const e of events ?? []) {
    if (e.step !== step || e.item === undefined) continue;
    if (e.type === 'step_started') started.set(e.item, e.t);
    if (e.type === 'step_succeeded' && started.has(e.item)) out.set(e.item, e.t - started.get(e.item));
  }
  return out;
}
