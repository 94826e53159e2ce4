// chat.js: questions answered by the shipped chat workflow (the wasm engine, IndexedDB through
// fake-indexeddb, tools/fake-llm), with the project's outline, the knowledge base's notes and the
// conversation so far in the prompt; workflows started from the panel as turns; errors with codes.
import 'fake-indexeddb/auto';
import test from 'node:test';
import assert from 'node:assert/strict';
import { IDBFactory } from 'fake-indexeddb';
import { loadEngine } from '../src/engine.js';
import { openStorage } from '../src/storage.js';
import { RunManager } from '../src/runs.js';
import { createManuscript } from '../src/manuscript.js';
import { openKnowledge } from '../src/knowledge.js';
import { createChat, CHAT_WORKFLOW } from '../src/chat.js';
import { readRepo, thrownCode } from './helpers.mjs';
import { startFakeLlm } from '../../tools/fake-llm/server.mjs';
import { fakeRequests, queueFaults } from '../../tools/fake-llm/client.mjs';

async function setup(t) {
  const fake = await startFakeLlm({ port: 0, host: '127.0.0.1', chunkDelayMs: 0 });
  const engine = await loadEngine();
  const storage = await openStorage({ indexedDB: new IDBFactory() });
  const knowledge = await openKnowledge({ engine, storage });
  const runs = new RunManager({ engine, storage, locks: null });
  for (const [name, file] of [[CHAT_WORKFLOW, 'workflows/chat.yaml'], ['example_approval', 'workflows/examples/approval.yaml']]) {
    await storage.putWorkflow({ name, yaml: readRepo(file), source: 'shipped' });
  }
  await storage.putModels(['default: local-chat', 'models:',
    `  local-chat: {provider: ollama, base_url: "${fake.url}/v1", model: local-chat}`].join('\n'));
  const manuscript = createManuscript({ storage });
  let clock = 1_700_000_000_000;
  const chat = createChat({ runs, storage, manuscript, now: () => (clock += 1000) });
  t.after(async () => {
    storage.close();
    engine.dispose();
    await fake.close();
  });
  return { fake, engine, storage, knowledge, runs, manuscript, chat };
}

async function lastPrompt(fake) {
  const requests = await fakeRequests(fake.url);
  return requests.at(-1).body.messages.at(-1).content;
}


test('ask: the answer comes from a chat run given the outline and the notes; the turns keep it over a reload', async (t) => {
  const { fake, runs, chat, manuscript, knowledge, storage } = await setup(t);
  const project = await manuscript.createProject('The Night Ferry');
  const act = await manuscript.addAct(project.id, { title: 'Act I' });
  const chapter = await manuscript.addChapter(project.id, { act: act.id, title: 'Fog' });
  await manuscript.addScene(project.id, { chapter: chapter.id, title: 'Dawn crossing', pov: 'Mara', outline: 'Mara rows out.', text: 'The fog came in.' });
  await knowledge.save({ name: 'Mara', category: 'character', inclusion: 'when_mentioned', text: 'Mara is seventeen and hates boats.' });

  const { runId, turns } = await chat.ask(project.id, 'What does Mara want next?');
  assert.deepEqual(turns.map((x) => [x.role, x.status ?? null]), [['user', null], ['assistant', 'running']]);
  assert.deepEqual((await storage.getRun(runId)).link, { purpose: 'chat', project: project.id });
  assert.equal((await runs.finished(runId)).status, 'succeeded');
  const prompt = await lastPrompt(fake);
  assert.match(prompt, /^The project:\n"The Night Ferry"\nAct I\n {2}Fog\n {4}- Dawn crossing \(POV Mara, idea, 4 words\): Mara rows out\./);
  assert.match(prompt, /Notes:\n[\s\S]*Mara is seventeen and hates boats/);
  assert.match(prompt, /Question: What does Mara want next\?$/);
  assert.doesNotMatch(prompt, /conversation so far/, 'nothing before the first question');

  const after = await chat.turns(project.id);
  const answer = after[1];
  assert.equal(answer.status, 'succeeded');
  assert.match(answer.text, /^Echo: /);
  assert.equal(answer.model, 'local-chat');
  assert.deepEqual(answer.knowledge.map((k) => [k.name, k.reason]), [['Mara', 'mentioned']]);
  assert.equal(answer.knowledge[0].citation, 1, 'its [n] marker in the notes');

  // The next question carries the conversation.
  const second = await chat.ask(project.id, 'And Jon?');
  await runs.finished(second.runId);
  assert.match(await lastPrompt(fake), /The conversation so far:\nWriter: What does Mara want next\?\nYou: Echo: [^\n]*\n\nQuestion: And Jon\?$/);
  // A new manager over the same database (a reload) reads the same conversation.
  const again = createChat({ runs: new RunManager({ engine: null, storage, locks: null }), storage, manuscript });
  assert.deepEqual((await again.turns(project.id)).map((x) => x.role), ['user', 'assistant', 'user', 'assistant']);
  // Each project has its own; clear forgets one.
  assert.deepEqual(await chat.turns(null), []);
  await chat.clear(project.id);
  assert.deepEqual(await chat.turns(project.id), []);
});

test('startWorkflow: a run of the library is a turn, filled in when it ends', async (t) => {
  const { runs, chat } = await setup(t);
  const { runId, turns } = await chat.startWorkflow(null, 'example_approval', { line: 'The tide came in twice.' });
  assert.deepEqual(turns.map((x) => [x.role, x.workflow, x.status]), [['run', 'example_approval', 'running']]);
  while (!runs.question(runId)) await new Promise((r) => setTimeout(r, 5));
  runs.answer(runId, 'yes');
  await runs.finished(runId);
  const [turn] = await chat.turns(null);
  assert.equal(turn.status, 'succeeded');
  assert.deepEqual(turn.outputs, { verdict: 'kept: The tide came in twice.' });
});

test('errors: an empty question, a missing workflow, a model that fails', async (t) => {
  const { fake, runs, chat, storage } = await setup(t);
  assert.equal(await thrownCode(chat.ask(null, '   ')), 'bad_argument');
  assert.equal(await thrownCode(chat.startWorkflow(null, 'nope')), 'not_found');
  await queueFaults(fake.url, 'local-chat', [{ type: 'status', status: 401 }]);
  const { runId } = await chat.ask(null, 'Hello?');
  assert.equal((await runs.finished(runId)).status, 'failed');
  const turns = await chat.turns(null);
  assert.equal(turns[1].status, 'failed');
  assert.equal(turns[1].error.code, 'auth');
  await storage.deleteWorkflow(CHAT_WORKFLOW);
  assert.equal(await thrownCode(chat.ask(null, 'Again?')), 'not_found');
  assert.equal((await chat.turns(null)).length, 2, 'a refused question is not stored');
});
