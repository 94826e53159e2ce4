// runs.js: runs stored event by event in IndexedDB (fake-indexeddb), resumed by a "new tab"
// after the first one died mid-run, re-run from the failed step with the step cache — against
// the wasm engine and tools/fake-llm, so the provider's counters tell what was called.
import 'fake-indexeddb/auto';
import test from 'node:test';
import assert from 'node:assert/strict';
import { IDBFactory } from 'fake-indexeddb';
import { loadEngine } from '../src/engine.js';
import { openStorage } from '../src/storage.js';
import { performEffect } from '../src/host.js';
import { RunManager } from '../src/runs.js';
import { readRepo } from './helpers.mjs';
import { startFakeLlm } from '../../tools/fake-llm/server.mjs';

const WORKFLOW = { name: 'draft_revise', yaml: readRepo('workflows/examples/draft_revise.yaml') };

function modelsYaml(url) {
  return [
    'default: local-draft',
    'models:',
    `  local-draft: {provider: ollama, base_url: "${url}/v1", model: local-draft}`,
    `  local-revise: {provider: ollama, base_url: "${url}/v1", model: local-revise}`,
    `  keyed: {provider: openai, base_url: "${url}/v1", model: keyed-gpt, credential: FAKE_KEY, price: {input: 1, output: 2}}`,
  ].join('\n');
}

const INPUTS = { outline: 'A ferry at dawn [[words:12]]', draft_model: 'local-draft', revise_model: 'local-revise' };

async function setup(t) {
  const fake = await startFakeLlm({ port: 0, host: '127.0.0.1', chunkDelayMs: 0 });
  const engine = await loadEngine();
  const storage = await openStorage({ indexedDB: new IDBFactory() });
  t.after(async () => {
    storage.close();
    engine.dispose();
    await fake.close();
  });
  return { fake, engine, storage, models: modelsYaml(fake.url) };
}

async function stats(fake) {
  return (await (await fetch(`${fake.url}/_fake/stats`)).json()).models;
}

async function fault(fake, model, faults) {
  const r = await fetch(`${fake.url}/_fake/faults`, { method: 'POST', body: JSON.stringify({ model, faults }) });
  assert.equal(r.status, 200);
}

test('a run is stored as it goes: its record, then every event in order, then its ending', async (t) => {
  const { engine, storage, models, fake } = await setup(t);
  const runs = new RunManager({ engine, storage });
  const seen = [];
  runs.subscribe((c) => seen.push(c.kind));
  const id = await runs.start({ workflow: WORKFLOW, inputs: INPUTS, models });
  assert.equal((await storage.getRun(id)).status, 'running', 'the record exists before the run ends');
  const result = await runs.finished(id);
  assert.equal(result.status, 'succeeded', JSON.stringify(result.error));
  const record = await storage.getRun(id);
  assert.equal(record.status, 'succeeded');
  assert.match(record.outputs.revision, /^Echo: Revise this passage/);
  assert.ok(record.finished >= record.started);
  const events = await storage.readEvents(id);
  assert.deepEqual(events.map((e) => e.seq), events.map((_, i) => i + 1), 'seq 1..n, nothing missing');
  assert.equal(events[0].type, 'run_started');
  assert.equal(events[0].run_id, id);
  assert.equal(events.at(-1).type, 'run_succeeded');
  assert.ok(events.some((e) => e.type === 'step_output_delta' && e.step === 'draft'), 'streamed text is logged');
  assert.equal(seen.at(-1), 'finished');
  assert.ok(seen.includes('events'));
  const s = await stats(fake);
  assert.equal(s['local-draft'].completed, 1);
  assert.equal(s['local-revise'].completed, 1);
  // The view of a finished run is the engine's snapshot rebuilt from the log.
  const view = await runs.view(id);
  assert.equal(view.live, false);
  assert.equal(view.snapshot.status, 'succeeded');
  assert.deepEqual(view.snapshot.steps.map((x) => [x.path, x.status]), [['draft', 'succeeded'], ['revise', 'succeeded']]);
});

test('bad inputs are refused before anything is stored', async (t) => {
  const { engine, storage, models } = await setup(t);
  const runs = new RunManager({ engine, storage });
  await assert.rejects(runs.start({ workflow: WORKFLOW, inputs: { draft_model: 'local-draft' }, models }),
    (e) => e.codeName === 'input_missing');
  await assert.rejects(runs.start({ workflow: WORKFLOW, inputs: { ...INPUTS, words: 'many' }, models }),
    (e) => e.codeName === 'input_type');
  assert.deepEqual(await storage.listRuns(), []);
  // A model named through an input is checked when the step runs: the run fails with its code.
  const id = await runs.start({ workflow: WORKFLOW, inputs: { ...INPUTS, draft_model: 'nope' }, models });
  const r = await runs.finished(id);
  assert.equal(r.status, 'failed');
  assert.equal(r.error.name, 'bad_argument');
  assert.match(r.error.message, /model 'nope' is not in the models file/);
  assert.equal((await storage.getRun(id)).error.name, 'bad_argument');
});

test('a tab dies during the second step: the next one resumes, the first step is not called again', async (t) => {
  const { engine, storage, models, fake } = await setup(t);
  // Tab 1: the revise call never comes back (the tab is closed while it streams).
  const stuck = [];
  const tab1 = new RunManager({
    engine, storage,
    perform: (effect, ctx) => {
      if (effect.step === 'revise') return new Promise((resolve) => stuck.push(resolve));
      return performEffect(effect, ctx);
    },
  });
  const id = await tab1.start({ workflow: WORKFLOW, inputs: INPUTS, models });
  while (!stuck.length) await new Promise((r) => setTimeout(r, 5));
  const before = await storage.readEvents(id);
  assert.ok(before.some((e) => e.type === 'step_succeeded' && e.step === 'draft'));
  assert.ok(before.some((e) => e.type === 'step_started' && e.step === 'revise'), 'the revise attempt was logged before it started');

  // Tab 2: a new engine and manager on the same database.
  const engine2 = await loadEngine();
  t.after(() => engine2.dispose());
  const tab2 = new RunManager({ engine: engine2, storage });
  assert.deepEqual(await tab2.resumeUnfinished(), [id]);
  const result = await tab2.finished(id);
  assert.equal(result.status, 'succeeded', JSON.stringify(result.error));
  const s = await stats(fake);
  assert.equal(s['local-draft'].requests, 1, 'the finished draft step was not called again');
  assert.equal(s['local-revise'].requests, 1, 'tab 1 never sent its revise call; tab 2 sent it once');
  const events = await storage.readEvents(id);
  assert.deepEqual(events.map((e) => e.seq), events.map((_, i) => i + 1), 'the resumed log continues the sequence');
  assert.equal((await storage.getRun(id)).status, 'succeeded');
  // Nothing left to resume.
  assert.deepEqual(await tab2.resumeUnfinished(), []);
});

test('re-run from the failed step: the step cache answers the draft, only the revise is called', async (t) => {
  const { engine, storage, models, fake } = await setup(t);
  const runs = new RunManager({ engine, storage });
  await fault(fake, 'local-revise', [{ type: 'status', status: 400 }]);
  const id = await runs.start({ workflow: WORKFLOW, inputs: INPUTS, models });
  const failed = await runs.finished(id);
  assert.equal(failed.status, 'failed');
  assert.equal((await storage.getRun(id)).status, 'failed');
  assert.equal((await storage.getRun(id)).error.name, 'bad_request');

  const again = await runs.rerun(id, { fromFailed: true });
  const result = await runs.finished(again);
  assert.equal(result.status, 'succeeded', JSON.stringify(result.error));
  const record = await storage.getRun(again);
  assert.equal(record.parent, id);
  const events = await storage.readEvents(again);
  const draft = events.find((e) => e.type === 'step_succeeded' && e.step === 'draft');
  assert.equal(draft.cached, true, 'the draft came from the step cache');
  const s = await stats(fake);
  assert.equal(s['local-draft'].requests, 1, 'the draft model was called once in all');
  assert.equal(s['local-revise'].requests, 2, 'the revise model: the failed call and the re-run');

  // A plain re-run calls every step again.
  const fresh = await runs.rerun(id);
  assert.equal((await runs.finished(fresh)).status, 'succeeded');
  assert.equal((await stats(fake))['local-draft'].requests, 2);
});

test('cancel: the run ends cancelled, its record says so', async (t) => {
  const { engine, storage, models } = await setup(t);
  const runs = new RunManager({
    engine, storage,
    perform: (effect, ctx) => (effect.step === 'draft'
      ? new Promise((resolve) => ctx.signal.addEventListener('abort', () => resolve({ ok: false, error: { code: 'cancelled', message: 'cancelled' } })))
      : performEffect(effect, ctx)),
  });
  const id = await runs.start({ workflow: WORKFLOW, inputs: INPUTS, models });
  assert.equal(runs.isLive(id), true);
  assert.equal(runs.cancel(id), true);
  assert.equal((await runs.finished(id)).status, 'cancelled');
  assert.equal((await storage.getRun(id)).status, 'cancelled');
  assert.equal(runs.isLive(id), false);
  assert.equal(runs.cancel(id), false, 'nothing to cancel any more');
});

test('a key comes from secrets() at the call and is in no event, record or export', async (t) => {
  const { engine, storage, models } = await setup(t);
  const KEY = 'sk-test-abcdefghijklmnop';
  const runs = new RunManager({ engine, storage, secrets: async (name) => (name === 'FAKE_KEY' ? KEY : null) });
  const id = await runs.start({ workflow: WORKFLOW, inputs: { ...INPUTS, draft_model: 'keyed' }, models });
  assert.equal((await runs.finished(id)).status, 'succeeded');
  const dump = JSON.stringify(await storage.exportData());
  assert.ok(dump.includes('keyed-gpt'), 'the export has the run');
  assert.ok(!dump.includes(KEY), 'the key is nowhere in it');
  // Without the key the call fails with auth and says where to add it.
  const none = new RunManager({ engine, storage });
  const id2 = await none.start({ workflow: WORKFLOW, inputs: { ...INPUTS, draft_model: 'keyed' }, models });
  const r = await none.finished(id2);
  assert.equal(r.status, 'failed');
  assert.equal(r.error.name, 'auth');
  assert.match(r.error.message, /FAKE_KEY/);
});

test('storage refusing an event stops the run without losing what was stored; resume carries on', async (t) => {
  const { engine, storage, models, fake } = await setup(t);
  let refuse = false;
  const flaky = Object.create(storage);
  flaky.appendEvents = async (run, events) => {
    if (refuse) {
      const { StorageError } = await import('../src/storage.js');
      throw new StorageError('quota_exceeded', 'The browser refused to store more');
    }
    if (events.some((e) => e.type === 'step_succeeded' && e.step === 'draft')) refuse = true;
    return storage.appendEvents(run, events);
  };
  const runs = new RunManager({ engine, storage: flaky });
  const interruptions = [];
  runs.subscribe((c) => c.kind === 'interrupted' && interruptions.push(c.error.code));
  const id = await runs.start({ workflow: WORKFLOW, inputs: INPUTS, models });
  const r = await runs.finished(id);
  assert.equal(r.interrupted, true);
  assert.deepEqual(interruptions, ['quota_exceeded']);
  const stored = await storage.readEvents(id);
  assert.ok(stored.some((e) => e.type === 'step_succeeded' && e.step === 'draft'), 'the draft is kept');
  assert.equal((await storage.getRun(id)).status, 'running', 'the record still says running: resumable');
  assert.equal((await stats(fake))['local-revise']?.requests ?? 0, 0, 'no call was started after the refused write');

  const again = new RunManager({ engine, storage });
  assert.equal(await again.resume(id), true);
  assert.equal((await again.finished(id)).status, 'succeeded');
  assert.equal((await stats(fake))['local-draft'].requests, 1);
});

test('human.input: the run asks in the page, the answer is the step\'s output; a new tab asks again', async (t) => {
  const { engine, storage } = await setup(t);
  const approval = { name: 'example_approval', yaml: readRepo('workflows/examples/approval.yaml') };
  const runs = new RunManager({ engine, storage });
  const asked = [];
  runs.subscribe((c) => { if (c.kind === 'question') asked.push(c.question ? 'asked' : 'answered'); });
  const waitForQuestion = async (manager, id) => {
    while (!manager.question(id)) await new Promise((r) => setTimeout(r, 5));
    return manager.question(id);
  };

  const id = await runs.start({ workflow: approval, inputs: { line: 'The tide came in twice.' } });
  const q = await waitForQuestion(runs, id);
  assert.equal(q.prompt, 'Keep this line?');
  assert.deepEqual(q.choices, ['yes', 'no']);
  assert.equal(q.show, 'The tide came in twice.');
  assert.equal(runs.answer('no-such-run', 'yes'), false);
  assert.equal(runs.answer(id, 'yes'), true);
  assert.equal(runs.question(id), null);
  const result = await runs.finished(id);
  assert.equal(result.status, 'succeeded', JSON.stringify(result.error));
  assert.equal(result.outputs.verdict, 'kept: The tide came in twice.');
  assert.deepEqual(asked, ['asked', 'answered']);
  const events = await storage.readEvents(id);
  assert.ok(events.some((e) => e.type === 'step_succeeded' && e.step === 'ask' && e.output === 'yes'), 'the answer is in the log');

  // The page is closed while the question waits: the next one restores the run and asks again.
  const tab1 = new RunManager({ engine, storage });
  const id2 = await tab1.start({ workflow: approval, inputs: { line: 'A gull on the rail.' } });
  await waitForQuestion(tab1, id2);
  assert.equal((await storage.getRun(id2)).status, 'running');
  const engine2 = await loadEngine();
  t.after(() => engine2.dispose());
  const tab2 = new RunManager({ engine: engine2, storage });
  assert.deepEqual(await tab2.resumeUnfinished(), [id2]);
  const again = await waitForQuestion(tab2, id2);
  assert.equal(again.show, 'A gull on the rail.');
  tab2.answer(id2, 'no');
  const second = await tab2.finished(id2);
  assert.equal(second.status, 'succeeded', JSON.stringify(second.error));
  assert.equal(second.outputs.verdict, 'dropped');
});

test('human.input without anyone to ask fails not_implemented', async () => {
  const r = await performEffect({ id: 1, kind: 'agent', agent: 'human.input', args: { prompt: 'x' } }, {});
  assert.equal(r.ok, false);
  assert.equal(r.error.code, 'not_implemented');
});
