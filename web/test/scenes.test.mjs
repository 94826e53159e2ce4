// scenes.js: the scene workflows run for real — the wasm engine, the shipped scene_generation,
// scene_enhancement and voice_testing, the voice background, IndexedDB (fake-indexeddb) and
// tools/fake-llm, whose `reply` fault scripts what a model writes.
import 'fake-indexeddb/auto';
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { IDBFactory } from 'fake-indexeddb';
import { loadEngine, loadVoiceBackground } from '../src/engine.js';
import { openStorage } from '../src/storage.js';
import { RunManager } from '../src/runs.js';
import { createManuscript } from '../src/manuscript.js';
import { openKnowledge } from '../src/knowledge.js';
import { createVoices, usesVoice } from '../src/voice.js';
import { createSceneFlows, SCENE_WORKFLOWS, SceneFlowError } from '../src/scenes.js';
import { REPO, readRepo, thrownCode } from './helpers.mjs';
import { HISTORIAN, LEGAL, MANUSCRIPT, MARA, MARA_AGAIN } from './fixtures/voices.mjs';
import { startFakeLlm } from '../../tools/fake-llm/server.mjs';
import { fakeRequests, fakeStats, queueFaults, scriptReplies } from '../../tools/fake-llm/client.mjs';


function modelsYaml(url) {
  const m = (name) => `  ${name}: {provider: openai, base_url: "${url}/v1", model: ${name}, credential: FAKE_KEY, price: {input: 1, output: 2}}`;
  return ['default: local-a', 'models:', m('local-a'), m('local-b'), m('local-c')].join('\n');
}

async function setup(t) {
  const fake = await startFakeLlm({ port: 0, host: '127.0.0.1', chunkDelayMs: 0 });
  const engine = await loadEngine();
  const storage = await openStorage({ indexedDB: new IDBFactory() });
  const bytes = await readFile(path.join(REPO, 'build/voice/background.loomvb'));
  const backgrounds = [];
  const voices = createVoices({
    storage, locks: null,
    loadBackground: async () => {
      const bg = await loadVoiceBackground(new Uint8Array(bytes));
      backgrounds.push(bg);
      return bg;
    },
    onLoad: (bg) => engine.useVoice(bg),
  });
  const knowledge = await openKnowledge({ engine, storage });
  const runs = new RunManager({
    engine, storage, locks: null, secrets: async (name) => (name === 'FAKE_KEY' ? 'test-key-5d1c' : null),
    prepare: async (wf) => { if (usesVoice(wf.yaml)) await voices.background(); },
  });
  for (const name of Object.values(SCENE_WORKFLOWS)) {
    await storage.putWorkflow({ name, yaml: readRepo(`workflows/${name}.yaml`), source: 'shipped' });
  }
  await storage.putModels(modelsYaml(fake.url));
  const manuscript = createManuscript({ storage });
  const flows = createSceneFlows({ engine, runs, manuscript, storage, voices, knowledge });
  t.after(async () => {
    for (const bg of backgrounds) bg.delete();
    storage.close();
    engine.dispose();
    await fake.close();
  });
  const project = await manuscript.createProject('The Night Ferry');
  const act = await manuscript.addAct(project.id, { title: 'Act I' });
  const chapter = await manuscript.addChapter(project.id, { act: act.id, title: 'Fog' });
  return { fake, engine, storage, voices, knowledge, runs, manuscript, flows, project, chapter };
}



async function question(runs, id) {
  for (;;) {
    const q = runs.question(id);
    if (q) return q;
    const live = runs.isLive(id);
    if (!live) throw new Error(`run ${id} stopped without asking: ${JSON.stringify((await runs.view(id))?.record?.error)}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}


test('generate: outline and notes -> a streamed draft -> a voice score -> approved -> a revision with its provenance', async (t) => {
  const { fake, runs, manuscript, flows, voices, knowledge, project, chapter, storage } = await setup(t);
  await voices.build({ name: 'Mara', references: MARA });
  await knowledge.save({ name: 'The Gannet', category: 'item', inclusion: 'when_mentioned', text: 'The Gannet is a blue dinghy with a cracked oar.' });
  // An earlier scene where Mara and Jon talk: her lines join her voice's passages.
  await manuscript.addScene(project.id, { chapter: chapter.id, title: 'The quay', text: MANUSCRIPT });
  const scene = await manuscript.addScene(project.id, {
    chapter: chapter.id, title: 'Dawn crossing', pov: 'Mara', tense: 'past',
    outline: 'Mara takes the Gannet out into the fog to find the box.', beats: ['the bell rings twice', 'she rows'],
  });
  await scriptReplies(fake.url, 'local-a', [MARA_AGAIN]);
  const id = await flows.generate(scene.id, { targetWords: 120 });
  const record = await storage.getRun(id);
  assert.deepEqual(record.link, { purpose: 'generate', project: project.id, scene: scene.id });
  assert.equal(record.inputs.pov, 'Mara');
  assert.match(record.inputs.outline, /the Gannet out into the fog[\s\S]*- the bell rings twice\n- she rows/);
  assert.deepEqual(record.inputs.references.slice(0, MARA.length), MARA.map((p) => p.trim()), 'the stored voice\'s passages');
  assert.deepEqual(record.inputs.references.slice(MARA.length), MARA, 'then her lines in the other scenes');
  assert.equal(record.inputs.manuscript, '', 'the run keeps her lines, not the manuscript');

  const q = await question(runs, id);
  assert.deepEqual(q.choices, ['approve', 'edit', 'reject']);
  assert.match(q.show, /^Voice of Mara: \d+(\.\d+)? \(50 = an unrelated voice/);
  assert.ok(q.show.endsWith(MARA_AGAIN));
  runs.answer(id, 'approve');
  assert.equal((await runs.finished(id)).status, 'succeeded');
  const revision = await flows.apply(id);
  assert.equal(revision.n, 1);
  assert.equal((await manuscript.getScene(scene.id)).text, MARA_AGAIN);
  const [stored] = await manuscript.revisions(scene.id);
  assert.equal(stored.title, 'Drafted');
  const o = stored.origin;
  assert.equal(o.kind, 'generated');
  assert.equal(o.run, id);
  assert.equal(o.workflow, 'scene_generation');
  assert.match(o.workflow_version, /^[0-9a-f]{32}$/);
  assert.equal(o.model, 'local-a');
  assert.equal(o.model_id, 'local-a');
  assert.equal(o.character, 'Mara');
  assert.equal(o.edited, false);
  assert.match(o.prompt, /^Write the scene "Dawn crossing" from this outline\.\nPoint of view: Mara\. Tense: past\. Length: about 120 words\./);
  assert.match(o.prompt, /What the notes say[\s\S]*The Gannet is a blue dinghy/);
  assert.equal(o.knowledge.length, 1);
  assert.equal(o.knowledge[0].name, 'The Gannet');
  assert.equal(o.knowledge[0].reason, 'mentioned');
  assert.equal(o.knowledge[0].text, undefined, 'the passage itself is not copied into the revision');
  assert.ok(o.scores.after > 80, `scored in her voice: ${o.scores.after}`);
  // The prompt the model got is the one recorded.
  const sent = (await fakeRequests(fake.url)).at(-1).body.messages.at(-1).content;
  assert.equal(sent, o.prompt);

  assert.equal(await flows.apply(id), null, 'applied once');
  assert.equal((await manuscript.revisions(scene.id)).length, 1);
  assert.deepEqual((await storage.getRun(id)).applied, { saved: true, revision: 1 });
});

test('generate: edit sends the writer\'s text; reject keeps the scene as it was', async (t) => {
  const { runs, manuscript, flows, project, chapter, storage } = await setup(t);
  const scene = await manuscript.addScene(project.id, { chapter: chapter.id, outline: 'Jon waits on the dock.', text: 'Jon waited.' });
  const id = await flows.generate(scene.id, { targetWords: 40 });
  runs.answer(id, (await question(runs, id), 'edit'));
  const edit = await question(runs, id);
  assert.equal(edit.prompt, 'Edit the draft, then send it back');
  assert.match(edit.show, /^Echo: Write the scene from this outline\./, 'no title, no POV: the prompt leaves them out');
  runs.answer(id, 'Jon waited on the dock until the fog lifted.');
  await runs.finished(id);
  const revision = await flows.apply(id);
  assert.equal(revision.n, 2);
  assert.equal((await manuscript.getScene(scene.id)).text, 'Jon waited on the dock until the fog lifted.');
  const [latest] = await manuscript.revisions(scene.id);
  assert.equal(latest.origin.edited, true);
  assert.equal(latest.origin.scores, undefined, 'no POV, no voice score');
  assert.equal(latest.origin.character, undefined);

  const rejected = await flows.generate(scene.id, { targetWords: 40 });
  runs.answer(rejected, (await question(runs, rejected), 'reject'));
  await runs.finished(rejected);
  assert.equal(await flows.apply(rejected), null);
  assert.equal((await manuscript.getScene(scene.id)).text, 'Jon waited on the dock until the fog lifted.');
  assert.equal((await manuscript.revisions(scene.id)).length, 2);
  assert.deepEqual((await storage.getRun(rejected)).applied, { saved: false, decision: 'reject' });
});

test('enhance: rewrites until the voice score reaches the target, then saves the rewrite with both scores', async (t) => {
  const { fake, runs, manuscript, flows, voices, project, chapter } = await setup(t);
  await voices.build({ name: 'Mara', references: MARA });
  const low = (await voices.score('Mara', LEGAL)).score;
  const high = (await voices.score('Mara', MARA_AGAIN)).score;
  const before = (await voices.score('Mara', HISTORIAN)).score;
  const target = Math.round((Math.max(low, before) + high) / 2);
  assert.ok(high > target && target > low && target > before, `${before} ${low} -> ${high}, target ${target}`);
  const scene = await manuscript.addScene(project.id, { chapter: chapter.id, title: 'Harbour', pov: 'Mara', text: HISTORIAN });
  await scriptReplies(fake.url, 'local-b', [LEGAL, MARA_AGAIN]);
  const id = await flows.enhance(scene.id, { targetScore: target, maxIterations: 3, model: 'local-b' });
  const q = await question(runs, id);
  assert.match(q.show, new RegExp(`^Voice of Mara: [\\d.]+ before, [\\d.]+ after 2 rewrites \\(target ${target}\\)\\.`));
  runs.answer(id, 'approve');
  const result = await runs.finished(id);
  assert.equal(result.status, 'succeeded', JSON.stringify(result.error));
  const out = result.outputs;
  assert.equal(out.iterations, 2, 'it stopped at the target, not at the iteration limit');
  assert.equal(out.reached, true);
  assert.ok(out.before_score < target && out.after_score >= target, `${out.before_score} -> ${out.after_score}`);
  assert.equal((await fakeStats(fake.url))['local-b'].completed, 2);
  // The second rewrite was asked with what the first one's score said was off.
  const requests = (await fakeRequests(fake.url)).filter((r) => r.model === 'local-b');
  assert.ok(requests[1].body.messages.at(-1).content.includes(LEGAL), 'the second rewrite starts from the first');
  assert.match(requests[0].body.messages.at(-1).content, /What still sounds unlike Mara:\n\S/);

  const revision = await flows.apply(id);
  assert.equal(revision.origin.kind, 'enhanced');
  assert.equal(revision.title, 'In Mara\'s voice');
  assert.equal(revision.origin.character, 'Mara');
  assert.equal(revision.origin.model, 'local-b');
  assert.deepEqual(revision.origin.scores, { before: Number(out.before_score.toFixed(2)), after: Number(out.after_score.toFixed(2)) });
  assert.equal((await manuscript.getScene(scene.id)).text, MARA_AGAIN);
});

test('enhance: the iterations run out below the target; the writer still decides', async (t) => {
  const { fake, runs, flows, voices, manuscript, project, chapter } = await setup(t);
  await voices.build({ name: 'Mara', references: MARA });
  const scene = await manuscript.addScene(project.id, { chapter: chapter.id, pov: 'Mara', text: HISTORIAN });
  await scriptReplies(fake.url, 'local-a', [LEGAL, LEGAL]);
  const id = await flows.enhance(scene.id, { targetScore: 99, maxIterations: 2 });
  runs.answer(id, (await question(runs, id), 'reject'));
  const { outputs } = await runs.finished(id);
  assert.equal(outputs.iterations, 2);
  assert.equal(outputs.reached, false);
  assert.equal(outputs.decision, 'reject');
  assert.equal(await flows.apply(id), null);
  assert.equal((await manuscript.getScene(scene.id)).text, HISTORIAN);
});

test('voice testing: three models, one prompt, ranked by the voice; the matrix, the recommendation, the project default', async (t) => {
  const { fake, runs, flows, voices, manuscript, project, storage } = await setup(t);
  await voices.build({ name: 'Mara', references: MARA });
  await scriptReplies(fake.url, 'local-a', [HISTORIAN]);
  await scriptReplies(fake.url, 'local-b', [MARA_AGAIN]);
  await scriptReplies(fake.url, 'local-c', [LEGAL]);
  const id = await flows.voiceTest({ projectId: project.id, prompt: 'Mara tells Jon to row.', models: ['local-a', 'local-b', 'local-c'], character: 'Mara' });
  const result = await runs.finished(id);
  assert.equal(result.status, 'succeeded', JSON.stringify(result.error));
  const m = await flows.matrix(id);
  assert.equal(m.rows.length, 3);
  assert.equal(m.rows[0].model, 'local-b');
  assert.equal(m.rows[0].rank, 1);
  assert.equal(m.recommended, 'local-b');
  assert.equal(m.character, 'Mara');
  for (const row of m.rows) {
    assert.ok(Number.isFinite(row.score) && Number.isFinite(row.uncertainty), JSON.stringify(row));
    assert.ok(row.tokens.input > 0 && row.tokens.output > 0);
    assert.ok(row.cost_usd > 0, 'priced models cost something');
    assert.equal(typeof row.latency_ms, 'number');
    assert.ok(row.evidence.length > 0);
  }
  assert.equal(m.rows.find((r) => r.model === 'local-a').text, HISTORIAN);
  const s = await fakeStats(fake.url);
  assert.equal(s['local-a'].streamed, 1);
  assert.equal(s['local-c'].completed, 1);

  await manuscript.setDefaultModel(project.id, m.recommended);
  assert.equal((await manuscript.getProject(project.id)).default_model, 'local-b');
  const chapter = (await manuscript.getProject(project.id)).acts[0].chapters[0];
  const scene = await manuscript.addScene(project.id, { chapter: chapter.id, outline: 'The bell.' });
  const gen = await flows.generate(scene.id, { targetWords: 30 });
  assert.equal((await storage.getRun(gen)).inputs.model, 'local-b', 'the project default is used');
  runs.cancel(gen);
  await runs.finished(gen);
});

test('voice testing: a model that does not answer is left out of the ranking and shown with its error', async (t) => {
  const { fake, runs, flows, voices, project } = await setup(t);
  await voices.build({ name: 'Mara', references: MARA });
  await scriptReplies(fake.url, 'local-a', [HISTORIAN]);
  await scriptReplies(fake.url, 'local-b', [MARA_AGAIN]);
  await queueFaults(fake.url, 'local-c', [{ type: 'status', status: 401 }]);
  const id = await flows.voiceTest({ projectId: project.id, prompt: 'Mara tells Jon to row.', models: ['local-a', 'local-b', 'local-c'], character: 'Mara' });
  const result = await runs.finished(id);
  assert.equal(result.status, 'succeeded', JSON.stringify(result.error));
  const m = await flows.matrix(id);
  assert.deepEqual(m.rows.map((r) => r.model), ['local-b', 'local-a']);
  assert.equal(m.recommended, 'local-b');
  assert.equal(m.failed.length, 1);
  assert.equal(m.failed[0].model, 'local-c');
  assert.equal(m.failed[0].error.code, 'auth');
  assert.equal(result.outputs.drafts[2], null);
});

test('spend: cost and tokens add up per scene, chapter and project, rejected runs included', async (t) => {
  const { runs, flows, manuscript, project, chapter, storage } = await setup(t);
  const ch2 = await manuscript.addChapter(project.id, { act: project.acts?.[0]?.id ?? (await manuscript.getProject(project.id)).acts[0].id, title: 'Ebb' });
  const a = await manuscript.addScene(project.id, { chapter: chapter.id, outline: 'One.' });
  const b = await manuscript.addScene(project.id, { chapter: ch2.id, outline: 'Two.' });
  const ids = [];
  for (const [scene, answer] of [[a, 'approve'], [a, 'reject'], [b, 'approve']]) {
    const id = await flows.generate(scene.id, { targetWords: 20 });
    runs.answer(id, (await question(runs, id), answer));
    await runs.finished(id);
    ids.push(id);
  }
  const records = await Promise.all(ids.map((id) => storage.getRun(id)));
  const sum = (rs, key) => rs.reduce((n, r) => n + (key === 'cost_usd' ? r.cost_usd : r.usage[key]), 0);
  const spend = await flows.spend(project.id);
  assert.equal(spend.scenes[a.id].runs, 2);
  assert.equal(spend.scenes[b.id].runs, 1);
  assert.ok(Math.abs(spend.scenes[a.id].cost_usd - sum(records.slice(0, 2), 'cost_usd')) < 1e-12);
  assert.equal(spend.scenes[a.id].output_tokens, sum(records.slice(0, 2), 'output_tokens'));
  assert.deepEqual(spend.chapters[chapter.id], spend.scenes[a.id]);
  assert.deepEqual(spend.chapters[ch2.id], spend.scenes[b.id]);
  assert.equal(spend.project.runs, 3);
  assert.equal(spend.project.input_tokens, sum(records, 'input_tokens'));
  assert.ok(spend.project.cost_usd > 0);
});

test('a run that finished while no one saved it is saved on the next start, once', async (t) => {
  const { runs, manuscript, project, chapter, engine, storage, voices, knowledge } = await setup(t);
  const scene = await manuscript.addScene(project.id, { chapter: chapter.id, outline: 'Fog.' });
  // A first tab starts and finishes the run but closes before saving (no flows watching).
  const first = createSceneFlows({ engine, runs, manuscript, storage, voices, knowledge });
  const id = await first.generate(scene.id, { targetWords: 20 });
  runs.answer(id, (await question(runs, id), 'approve'));
  await runs.finished(id);
  assert.equal((await manuscript.revisions(scene.id)).length, 0);
  // The next start: watch() saves what was left.
  const next = createSceneFlows({ engine, runs, manuscript, storage, voices, knowledge });
  const saved = [];
  const stop = next.watch({ onApplied: (rev, runId) => saved.push([rev.n, runId]) });
  t.after(stop);
  while (!saved.length) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(saved, [[1, id]]);
  assert.deepEqual(await next.applyFinished(), [], 'nothing left to save');
  assert.equal((await manuscript.revisions(scene.id)).length, 1);
});

test('a project runs its own copy of a workflow: the copy\'s prompt, only the inputs it declares, its name in the revision', async (t) => {
  const { fake, runs, flows, manuscript, project, chapter, storage } = await setup(t);
  // The writer's copy: another name, its own system prompt, no knowledge and no voice.
  const copy = [
    'name: terse_drafts',
    'inputs:',
    '  outline: {type: string, required: true}',
    '  target_words: {type: number, default: 300}',
    '  model: {type: string}',
    'steps:',
    '  - id: draft',
    '    agent: llm.generate',
    '    with: {model: "{{ inputs.model }}", system: "Write tersely, like Hemingway.", prompt: "{{ inputs.outline }}", max_tokens: 400}',
    '  - id: review',
    '    agent: human.input',
    '    needs: [draft]',
    '    with: {prompt: "Keep it?", choices: [approve, reject], show: "{{ steps.draft.output.text }}"}',
    'outputs:',
    '  decision: "{{ steps.review.output }}"',
    '  text: "{{ steps.draft.output.text }}"',
    '  prompt: "{{ inputs.outline }}"',
    '  model: "{{ steps.draft.output.model }}"',
  ].join('\n');
  await storage.putWorkflow({ name: 'terse_drafts', yaml: copy, source: 'user' });
  const updated = await manuscript.setProjectWorkflow(project.id, 'generate', 'terse_drafts');
  assert.deepEqual(updated.workflows, { generate: 'terse_drafts' });
  const scene = await manuscript.addScene(project.id, { chapter: chapter.id, pov: 'Mara', outline: 'The bell.' });
  const id = await flows.generate(scene.id, { targetWords: 20 });
  const record = await storage.getRun(id);
  assert.equal(record.workflow, 'terse_drafts');
  assert.equal(record.inputs.references, undefined, 'inputs the copy does not declare are left out');
  runs.answer(id, (await question(runs, id), 'approve'));
  assert.equal((await runs.finished(id)).status, 'succeeded');
  const sent = (await fakeRequests(fake.url)).at(-1).body.messages[0].content;
  assert.match(sent, /^Write tersely, like Hemingway\./);
  assert.equal((await flows.apply(id)).origin.workflow, 'terse_drafts');
  // Back to the shipped one; a copy that is gone is named in the error.
  assert.equal((await manuscript.setProjectWorkflow(project.id, 'generate', '')).workflows.generate, undefined);
  await manuscript.setProjectWorkflow(project.id, 'generate', 'deleted_copy');
  assert.equal(await thrownCode(flows.generate(scene.id)), 'not_found');
  assert.equal(await thrownCode(manuscript.setProjectWorkflow(project.id, 'publish', 'x')), 'bad_argument');
  assert.equal(await thrownCode(manuscript.setProjectWorkflow(project.id, 'generate', 3)), 'bad_argument');
});

test('bad requests are refused with their codes, and nothing is started', async (t) => {
  const { flows, manuscript, project, chapter, storage } = await setup(t);
  const empty = await manuscript.addScene(project.id, { chapter: chapter.id, title: 'Blank' });
  assert.equal(await thrownCode(flows.generate(empty.id)), 'bad_argument');
  assert.equal(await thrownCode(flows.generate('no-such-scene')), 'not_found');
  assert.equal(await thrownCode(flows.enhance(empty.id, { character: 'Mara' })), 'bad_argument', 'no text');
  assert.equal(await thrownCode(flows.enhance(empty.id)), 'bad_argument', 'no character');
  assert.equal(await thrownCode(flows.voiceTest({ prompt: 'x', models: ['local-a'], character: 'Mara' })), 'bad_argument');
  assert.equal(await thrownCode(flows.voiceTest({ prompt: 'x', models: ['a', 'b', 'c', 'd', 'e', 'f'], character: 'Mara' })), 'bad_argument');
  assert.equal(await thrownCode(flows.voiceTest({ prompt: ' ', models: ['local-a', 'local-b'], character: 'Mara' })), 'bad_argument');
  assert.equal(await thrownCode(flows.voiceTest({ prompt: 'x', models: ['local-a', 'local-b'], character: '' })), 'bad_argument');
  await storage.deleteWorkflow('scene_generation');
  const withOutline = await manuscript.addScene(project.id, { chapter: chapter.id, outline: 'Fog.' });
  assert.equal(await thrownCode(flows.generate(withOutline.id)), 'not_found');
  assert.equal((await storage.listRuns()).length, 0);
  assert.ok(new SceneFlowError('x', 'y') instanceof Error);
});
