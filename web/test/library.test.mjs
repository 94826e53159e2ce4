// library.js: the shipped workflows in the writer's library, the model pool and the connection
// policy that follows from it (fake-indexeddb and the wasm engine).
import test from 'node:test';
import assert from 'node:assert/strict';
import { engineAndStorage } from './studio_setup.mjs';
import { workflowIndex } from '../../tools/serve.mjs';
import {
  syncShippedWorkflows, ensureModelPool, saveModelPool, credentialsOf, workflowTemplate, TEST_CONNECTION_WORKFLOW,
} from '../src/library.js';
import { readRepo } from './helpers.mjs';

test('every shipped workflow lands in the library, callers after the workflows they call', async (t) => {
  const { engine, storage } = await engineAndStorage(t);
  const index = await workflowIndex();
  const r = await syncShippedWorkflows(storage, engine, index);
  assert.deepEqual(r.skipped, []);
  const names = (await storage.listWorkflows()).map((w) => w.name);
  assert.equal(names.length, index.length);
  for (const n of ['example_call_workflow', 'keywords_digest', 'draft_revise', 'ingestion_digest']) assert.ok(names.includes(n), n);
  const again = await syncShippedWorkflows(storage, engine, index);
  assert.deepEqual([again.added, again.updated], [[], []], 'a second sync changes nothing');
});

test('an edited shipped workflow is kept; an unedited one follows the release; a broken one is reported', async (t) => {
  const { engine, storage } = await engineAndStorage(t);
  const yaml = readRepo('workflows/examples/keywords_digest.yaml');
  await syncShippedWorkflows(storage, engine, [{ file: 'k.yaml', yaml }]);
  const edited = yaml.replace(/^description: .*$/m, 'description: mine now');
  await storage.putWorkflow({ ...(await storage.getWorkflow('keywords_digest')), yaml: edited, source: 'user' });
  const newer = yaml.replace(/^description: .*$/m, 'description: the next release');
  const llm = readRepo('workflows/examples/llm_hello.yaml');
  const r = await syncShippedWorkflows(storage, engine, [
    { file: 'k.yaml', yaml: newer }, { file: 'l.yaml', yaml: llm }, { file: 'bad.yaml', yaml: 'name: x\nsteps: 3\n' },
  ]);
  assert.equal((await storage.getWorkflow('keywords_digest')).yaml, edited);
  assert.deepEqual(r.added, ['llm_hello']);
  assert.equal(r.skipped.length, 1);
  assert.equal(r.skipped[0].file, 'bad.yaml');
  assert.equal(r.skipped[0].error.codeName, 'invalid_value');
  await storage.putWorkflow({ ...(await storage.getWorkflow('llm_hello')) });
  const r2 = await syncShippedWorkflows(storage, engine, [{ file: 'l.yaml', yaml: llm.replace('The smallest', 'The tiniest') }]);
  assert.deepEqual(r2.updated, ['llm_hello']);
});

test('the model pool: seeded once, saved only when valid, with its connect origins', async (t) => {
  const { engine, storage } = await engineAndStorage(t);
  const shipped = readRepo('workflows/models/default.yaml');
  assert.equal(await ensureModelPool(storage, shipped), shipped);
  assert.equal(await ensureModelPool(storage, 'models: {}\n'), shipped, 'an existing pool is not replaced');

  const mine = 'default: local\nmodels:\n  local: {provider: ollama, base_url: "http://127.0.0.1:8090/v1", model: llama3.2}\n' +
    '  gpt: {provider: openai, model: gpt-4o-mini}\n';
  const r = await saveModelPool(storage, engine, mine);
  assert.deepEqual(r.origins, ['http://127.0.0.1:8090', 'https://api.openai.com']);
  assert.equal(r.originsChanged, true);
  assert.equal((await storage.getModels()).yaml, mine);
  assert.deepEqual(await storage.getSetting('connect_origins'), r.origins);
  assert.equal((await saveModelPool(storage, engine, mine)).originsChanged, false);
  assert.deepEqual(credentialsOf(r.pool), [{ name: 'OPENAI_API_KEY', models: ['gpt'] }]);

  await assert.rejects(saveModelPool(storage, engine, 'models:\n  x:\n    provider: nope\n    model: m\n'), (e) => {
    assert.equal(e.codeName, 'invalid_value');
    assert.equal(e.errors[0].line, 3);
    return true;
  });
  assert.equal((await storage.getModels()).yaml, mine, 'a wrong file stores nothing');
});

test('the built-in texts are valid workflows', async (t) => {
  const { engine } = await engineAndStorage(t);
  assert.deepEqual(engine.validate(TEST_CONNECTION_WORKFLOW.yaml), []);
  assert.equal(engine.load(TEST_CONNECTION_WORKFLOW.yaml).name, TEST_CONNECTION_WORKFLOW.name);
  assert.deepEqual(engine.validate(workflowTemplate('my_workflow_1')), []);
});
