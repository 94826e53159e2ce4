// runs.js — the studio's runs: started, stored event by event in IndexedDB, resumed after a
// reload, cancelled, re-run from a failed step, watched by the views.
//
//   start() ──> run record stored ──> runWorkflow(onEvents: append to the log, then tell the views)
//   page load ──> resumeUnfinished(): every run whose record still says running is restored from
//                 its log and carries on; finished steps are not performed again
//
// One tab drives a run at a time: the run holds a Web Lock named after it for as long as it is
// driven here, so a second tab open on the studio shows the run without performing its calls twice.

import { runWorkflow, performEffect, FINISHED } from './host.js';

function newRunId() {
  if (globalThis.crypto?.randomUUID) return globalThis.crypto.randomUUID();
  return `run-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}

/// The step cache of the engine, kept in storage: {get(key), set(key, output)} for host.js.
export function storageCache(storage) {
  return {
    get: (key) => storage.cacheGet(key),
    set: (key, output) => storage.cachePut(key, output),
  };
}

/// What a run's record says about it once its state is known: status, outputs, error, spend.
function summaryOf(snapshot, result) {
  const out = { status: result?.status ?? snapshot?.status };
  if (snapshot) {
    out.cost_usd = snapshot.cost_usd ?? 0;
    out.usage = snapshot.usage ?? null;
    out.steps_total = snapshot.steps?.length ?? 0;
    out.steps_failed = snapshot.steps?.filter((s) => s.status === 'failed').length ?? 0;
  }
  if (result?.outputs) out.outputs = result.outputs;
  if (result?.error) out.error = result.error;
  return out;
}

/// Runs workflows for the studio. `engine` is a LoomEngine, `storage` the web/src/storage.js
/// Storage, `secrets(name)` the vault's key lookup (never stored, never given to the engine).
/// `locks` is navigator.locks where there is one; `fetch` and `now` are replaceable in tests.
export class RunManager {
  #engine;
  #storage;
  #secrets;
  #fetch;
  #now;
  #locks;
  #perform;
  #prepare;
  #live = new Map();  // run id -> {controller, done: Promise, snapshot, text: Map(step -> streamed text)}
  #listeners = new Set();

  /// `prepare(workflow)` ({name, yaml}) is awaited before a run starts or resumes: the studio
  /// loads what the workflow's steps need (the voice background for voice.* steps) there.
  constructor({ engine, storage, secrets = async () => null, fetch = globalThis.fetch?.bind(globalThis),
    now = Date.now, locks = globalThis.navigator?.locks, perform = performEffect, prepare = async () => {} } = {}) {
    this.#engine = engine;
    this.#storage = storage;
    this.#secrets = secrets;
    this.#fetch = fetch;
    this.#now = now;
    this.#locks = locks;
    this.#perform = perform;
    this.#prepare = prepare;
  }

  /// Calls fn(change) on every change of a run: {runId, kind: 'events'|'finished'|'interrupted',
  /// events?, snapshot?, record?, error?}. Returns the function that stops it.
  subscribe(fn) {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  #tell(change) {
    for (const fn of this.#listeners) {
      try {
        fn(change);
      } catch (e) {
        console.error('a run listener failed', e);
      }
    }
  }

  /// True while this tab drives the run.
  isLive(runId) {
    return this.#live.has(runId);
  }

  /// The text streamed so far by each step of a live run: Map(step path -> text).
  streamed(runId) {
    return this.#live.get(runId)?.text ?? new Map();
  }

  /// Resolves when this tab stops driving the run: {status, outputs, error} or {interrupted}.
  finished(runId) {
    return this.#live.get(runId)?.done ?? Promise.resolve(null);
  }

  /// Starts a run of `workflow` ({name, yaml}) with `inputs`. `models` is the text of the models
  /// file the run may call, `budget` {max_cost_usd, max_tokens}, `useCache` lets the step cache
  /// answer steps that succeeded before (re-runs), `parent` the run this one re-runs, `link` what
  /// the run works for ({project, scene?, purpose}: kept on its record, so whoever saves its
  /// result can find it again after a reload — see scenes.js). Resolves
  /// to the run's id once its record and first events are stored; throws EngineError (bad
  /// inputs, a model the pool does not have) before anything is stored, StorageError when the
  /// record cannot be stored.
  async start({ workflow, inputs = {}, models, budget, useCache = false, parent, link } = {}) {
    await this.#prepare(workflow);
    this.#engine.load(workflow.yaml, workflow.name);
    const id = newRunId();
    const options = { run_id: id, seed: Math.floor(Math.random() * 2 ** 31), use_cache: Boolean(useCache) };
    if (models) options.models = models;
    if (budget && (budget.max_cost_usd || budget.max_tokens)) options.budget = budget;
    const record = {
      id, workflow: workflow.name, yaml: workflow.yaml, inputs, options, status: 'running',
      started: this.#now(),
    };
    if (parent) record.parent = parent;
    if (link) record.link = link;
    // The record is stored with the run's first events: the engine refuses bad inputs before
    // there are any, so a refused run leaves nothing behind.
    await this.#drive(record, null);
    return id;
  }

  /// Carries on every run the store says is running and no other tab drives. Returns their ids.
  async resumeUnfinished() {
    const runs = await this.#storage.listRuns({ limit: 1000, status: 'running' });
    const resumed = [];
    for (const record of runs) {
      if (this.#live.has(record.id)) continue;
      const ok = await this.resume(record.id);
      if (ok) resumed.push(record.id);
    }
    return resumed;
  }

  /// Restores a stored run from its log and drives it on. False when another tab drives it or it
  /// has already finished.
  async resume(runId) {
    if (this.#live.has(runId)) return true;
    const record = await this.#storage.getRun(runId);
    if (!record || FINISHED.has(record.status)) return false;
    const events = await this.#storage.readEvents(runId);
    if (!events.length) {
      // Stored record, no log: the tab closed between the two writes. Nothing ran; start afresh.
      await this.#storage.updateRun(runId, { status: 'failed', finished: this.#now(),
        error: { code: 'bad_event_log', message: 'the run stopped before its first event was saved; start it again' } });
      return false;
    }
    await this.#prepare({ name: record.workflow, yaml: record.yaml });
    this.#engine.load(record.yaml, record.workflow);
    const started = await this.#drive(record, events);
    return started;
  }

  /// Cancels a run this tab drives. False when it does not drive it.
  cancel(runId) {
    const live = this.#live.get(runId);
    if (!live) return false;
    live.controller.abort();
    return true;
  }

  /// Starts the run again with its inputs, workflow version and models. With fromFailed, the step
  /// cache answers every step that succeeded (no model is called again for them) and the run
  /// carries on from the step that failed. Resolves to the new run's id.
  async rerun(runId, { fromFailed = false } = {}) {
    const record = await this.#storage.getRun(runId);
    if (!record) throw Object.assign(new Error(`no run ${runId}`), { code: 'not_found' });
    return this.start({
      workflow: { name: record.workflow, yaml: record.yaml },
      inputs: record.inputs,
      models: record.options?.models,
      budget: record.options?.budget,
      useCache: fromFailed,
      parent: runId,
      link: record.link,
    });
  }

  /// A stored run as the views draw it: {record, events, snapshot, live}. The snapshot is the
  /// engine's own, rebuilt from the log when the run is not driven here.
  async view(runId) {
    const record = await this.#storage.getRun(runId);
    if (!record) return null;
    const events = await this.#storage.readEvents(runId);
    const live = this.#live.get(runId);
    let snapshot = live?.snapshot ?? null;
    if (!snapshot && events.length) snapshot = this.#replay(record, events);
    return { record, events, snapshot, live: Boolean(live) };
  }

  #replay(record, events) {
    try {
      this.#engine.load(record.yaml, record.workflow);
      const { run } = this.#engine.restore(record.workflow, events, record.options ?? {});
      try {
        return this.#engine.snapshot(run);
      } finally {
        this.#engine.close(run);
      }
    } catch (e) {
      return { status: record.status, steps: [], error: { code: e.codeName ?? 'bad_event_log', message: e.message } };
    }
  }

  /// The question a run of this tab waits on (a human.input step): {prompt, choices, show, step}
  /// or null. A restored run asks again: the answer is only in the log once given.
  question(runId) {
    return this.#live.get(runId)?.question ?? null;
  }

  /// Answers the run's question; false when it has none. The answer becomes the step's output.
  answer(runId, value) {
    const question = this.#live.get(runId)?.question;
    if (!question) return false;
    question.resolve(value);
    return true;
  }

  // A human.input effect: the question is kept until answered (or the run is cancelled), and the
  // views are told both ways.
  #ask(runId, live, args, { signal, effectId }) {
    return new Promise((resolve, reject) => {
      const done = () => {
        live.question = null;
        signal?.removeEventListener('abort', onAbort);
        this.#tell({ runId, kind: 'question', question: null });
      };
      const onAbort = () => {
        done();
        reject(signal.reason ?? new DOMException('cancelled', 'AbortError'));
      };
      live.question = {
        effectId,
        prompt: String(args.prompt ?? 'Your answer?'),
        choices: Array.isArray(args.choices) ? args.choices.map(String) : [],
        show: args.show ?? null,
        resolve: (value) => {
          done();
          resolve(value);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#tell({ runId, kind: 'question', question: live.question });
    });
  }

  // Drives a run in this tab under its lock. Resolves once the run's first events are stored
  // (true), or false when another tab holds the lock. The run itself goes on in the background.
  #drive(record, restore) {
    return new Promise((resolveReady, rejectReady) => {
      const body = async (lock) => {
        if (lock === null) {
          resolveReady(false);
          return;
        }
        await this.#driveHere(record, restore, resolveReady, rejectReady);
      };
      if (this.#locks?.request) {
        this.#locks.request(`loom-run:${record.id}`, { ifAvailable: true }, body).catch(rejectReady);
      } else {
        body(true).catch(rejectReady);
      }
    });
  }

  async #driveHere(record, restore, resolveReady, rejectReady) {
    const controller = new AbortController();
    let finish;
    const live = { controller, snapshot: null, text: new Map(), question: null, done: new Promise((r) => { finish = r; }) };
    this.#live.set(record.id, live);
    let first = true;
    const onEvents = async (events, progress) => {
      await this.#storage.appendEvents(record.id, events);
      if (first && !restore) await this.#storage.putRun(record);
      for (const e of events) {
        if (e.type === 'step_output_delta') live.text.set(e.step, (live.text.get(e.step) ?? '') + (e.delta ?? ''));
        else if (e.type === 'step_started' && e.attempt > 1) live.text.delete(e.step);  // a retry starts over
      }
      live.snapshot = progress.snapshot();
      if (first) {
        first = false;
        resolveReady(true);
      }
      this.#tell({ runId: record.id, kind: 'events', events, snapshot: live.snapshot });
    };
    let result;
    try {
      result = await runWorkflow(this.#engine, {
        workflow: record.workflow,
        inputs: record.inputs,
        options: record.options,
        restore: restore ?? undefined,
        onEvents,
        signal: controller.signal,
        cache: storageCache(this.#storage),
        secrets: this.#secrets,
        now: this.#now,
        perform: (effect, ctx) => this.#perform(effect, { ...ctx, fetch: this.#fetch, ask: (args, opts) => this.#ask(record.id, live, args, opts) }),
      });
    } catch (error) {
      // The log could not be written (storage full, the database closed by an upgrade) or the
      // run could not be restored. What is stored stays; the record still says running, so the
      // next page load (or resume()) carries on from the last stored event.
      this.#live.delete(record.id);
      // Before its first events were stored the caller of start()/resume() gets the error;
      // after, the views are told the run stopped.
      if (first) rejectReady(error);
      else this.#tell({ runId: record.id, kind: 'interrupted', error });
      finish({ interrupted: true, error });
      return;
    }
    if (first) resolveReady(true);  // restored runs that had nothing left to log
    live.snapshot = result.snapshot;
    const patch = { ...summaryOf(result.snapshot, result), finished: this.#now() };
    let stored;
    try {
      stored = await this.#storage.updateRun(record.id, patch);
    } catch (error) {
      // The log has the ending; the record catches up on the next resume.
      this.#live.delete(record.id);
      this.#tell({ runId: record.id, kind: 'interrupted', error });
      finish({ interrupted: true, error });
      return;
    }
    this.#live.delete(record.id);
    this.#tell({ runId: record.id, kind: 'finished', record: stored, snapshot: result.snapshot });
    finish(result);
  }
}
