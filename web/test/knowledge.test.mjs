// The knowledge base from JavaScript: engine.js's KnowledgeBase over the wasm engine, and the
// studio's knowledge.js keeping entries and the index snapshot together in IndexedDB.
import test from 'node:test';
import assert from 'node:assert/strict';
import { engineAndStorage } from './studio_setup.mjs';
import { ErrorCode } from '../src/engine.js';
import { StorageError } from '../src/storage.js';
import { openKnowledge, normalizeEntry } from '../src/knowledge.js';
import { runWorkflow } from '../src/host.js';
import { readRepo } from './helpers.mjs';

const MARA = { id: 'mara', name: 'Mara Quill', aliases: ['Mara', 'the Quill girl'], category: 'character',
  inclusion: 'when_mentioned', text: 'Mara grew up on the ferry between the islands. She hates fog and loves tide tables.' };
const FERRY = { id: 'ferry', name: 'The Night Ferry', category: 'location', inclusion: 'by_relevance',
  text: 'The ferry crosses at dawn. Its horn is heard across the bay whenever there is fog.' };
const REVEAL = { id: 'reveal', name: 'The Drowned Lighthouse', category: 'lore', inclusion: 'always', from: { chapter: 5 },
  text: 'The lighthouse was never lit: the keeper drowned in the first winter.' };

test('engine.js: put, search with scores and matched stems, mentions, snapshot round trip', async (t) => {
  const { engine } = await engineAndStorage(t);
  const kb = engine.createKnowledgeBase();
  t.after(() => kb.delete());
  assert.deepEqual(kb.putMany([MARA, FERRY]), { entries: 2 });
  const hits = kb.search('fog ferry crossing');
  assert.equal(hits[0].id, 'ferry');
  assert.ok(hits[0].score > hits[1].score);
  assert.deepEqual([...hits[0].matched].sort(), ['cross', 'ferri', 'fog']);
  const mentions = kb.mentions("At dawn Mara's boat left; the Quill girl waved.");
  assert.deepEqual(mentions.map((m) => [m.id, m.surface]), [['mara', 'Mara'], ['mara', 'the Quill girl']]);
  const text = "At dawn Mara's boat left; the Quill girl waved.";
  assert.equal(text.slice(mentions[1].begin, mentions[1].end), 'the Quill girl');

  const ranked = kb.searchRanked('fog ferry crossing');
  assert.deepEqual(ranked.map(([id, chunk]) => [id, chunk]), hits.map((h) => [h.id, h.chunk]), 'the same ranking');
  ranked.forEach(([, , score], i) => assert.ok(Math.abs(score - hits[i].score) < 1e-4));
  const bytes = kb.snapshot();
  assert.ok(bytes instanceof Uint8Array && bytes.length > 100);
  const again = engine.loadKnowledgeBase(bytes);
  t.after(() => again.delete());
  assert.deepEqual(again.search('fog ferry crossing'), hits);
  assert.equal(again.fingerprint(), kb.fingerprint());
  assert.equal(kb.remove('ferry'), true);
  assert.equal(kb.remove('ferry'), false);
  assert.notEqual(kb.fingerprint(), again.fingerprint());
});

test('engine.js: each bad input gets its code', async (t) => {
  const { engine } = await engineAndStorage(t);
  assert.throws(() => engine.createKnowledgeBase({ k1: -1 }), (e) => e.code === ErrorCode.BAD_ARGUMENT && /k1/.test(e.message));
  const kb = engine.createKnowledgeBase();
  t.after(() => kb.delete());
  assert.throws(() => kb.putMany([MARA, { id: 'x', name: 'X', category: 'villain' }]),
    (e) => e.code === ErrorCode.BAD_ARGUMENT && /entry 1/.test(e.message) && /character/.test(e.message));
  assert.equal(kb.stats().entries, 1, 'the entries before the bad one are in');
  assert.throws(() => kb.search('fog', { position: { chapter: -2 } }), (e) => e.code === ErrorCode.BAD_ARGUMENT);
  const bytes = kb.snapshot();
  bytes[bytes.length - 3] ^= 0xff;
  assert.throws(() => engine.loadKnowledgeBase(bytes), (e) => e.code === ErrorCode.BAD_ARGUMENT);
  assert.throws(() => engine.loadKnowledgeBase(new Uint8Array([1, 2, 3])), (e) => e.code === ErrorCode.BAD_ARGUMENT);
  assert.deepEqual(engine.knowledgeAnalyze("Mara's running, the well-known ferries"), ['mara', 'run', 'well', 'known', 'wellknown', 'ferri']);
});

test('a workflow step asks the base: always / mentioned / ranked, in scope at the position', async (t) => {
  const { engine } = await engineAndStorage(t);
  engine.load(readRepo('workflows/examples/knowledge_context.yaml'));
  const run = (inputs) => runWorkflow(engine, { workflow: 'knowledge_context', inputs });
  const none = await run({ outline: 'Mara waits for the ferry in the fog.' });
  assert.equal(none.status, 'failed');
  assert.match(none.error.message, /no knowledge base is loaded/);

  const kb = engine.createKnowledgeBase();
  t.after(() => kb.delete());
  kb.putMany([MARA, FERRY, REVEAL]);
  engine.useKnowledgeBase(kb);
  const early = await run({ outline: 'Mara waits for the ferry in the fog.', chapter: 2 });
  assert.equal(early.status, 'succeeded', JSON.stringify(early.error));
  const why = early.outputs.included.map((x) => [x.id, x.reason]);
  assert.deepEqual(why.slice(0, 1), [['mara', 'mentioned']]);
  assert.ok(why.some(([id, reason]) => id === 'ferry' && reason === 'ranked'));
  assert.ok(!why.some(([id]) => id === 'reveal'), 'a chapter 5 reveal stays out of chapter 2');
  assert.match(early.outputs.brief, /\[1\] Mara Quill/);
  const late = await run({ outline: 'Mara waits for the ferry in the fog.', chapter: 6 });
  assert.deepEqual(late.outputs.included[0].id, 'reveal', 'always-included entries come first, once in scope');
});

test('knowledge.js: entries and the index stored together; reopened without a rebuild; a failed write changes nothing', async (t) => {
  const { engine, storage } = await engineAndStorage(t);
  const k = await openKnowledge({ engine, storage });
  const saved = await k.save({ ...MARA, aliases: 'Mara, the Quill girl' });
  assert.deepEqual(saved.aliases, ['Mara', 'the Quill girl']);
  await k.save(FERRY);
  assert.equal((await storage.getKnowledgeIndex()).entries, 2);
  assert.deepEqual((await k.list()).map((e) => e.name), ['Mara Quill', 'The Night Ferry']);

  const reopened = await openKnowledge({ engine, storage });
  assert.deepEqual(reopened.base.search('fog').map((h) => h.id), k.base.search('fog').map((h) => h.id));

  // The disk is full: the entry is not saved and the index the runs use does not have it either.
  const full = Object.create(storage);
  full.saveKnowledge = async () => {
    throw new StorageError('quota_exceeded', 'The browser refused to store more');
  };
  const k2 = await openKnowledge({ engine, storage: full });
  await assert.rejects(k2.save(REVEAL), (e) => e.code === 'quota_exceeded');
  assert.equal(k2.base.stats().entries, 2);
  assert.equal(await storage.getKnowledge('reveal'), undefined);

  await k.remove('ferry');
  assert.equal((await storage.getKnowledgeIndex()).entries, 1);
  assert.deepEqual(k.base.search('horn bay'), []);
});

test('normalizeEntry: every bad field named', () => {
  assert.throws(() => normalizeEntry({ name: ' ' }), (e) => e.code === 'bad_argument' && /name/.test(e.message));
  assert.throws(() => normalizeEntry({ name: 'X', category: 'villain' }), (e) => e.code === 'bad_argument' && /character/.test(e.message));
  assert.throws(() => normalizeEntry({ name: 'X', inclusion: 'sometimes' }), (e) => e.code === 'bad_argument' && /when_mentioned/.test(e.message));
  assert.throws(() => normalizeEntry({ name: 'X', from: { chapter: -1 } }), (e) => e.code === 'bad_argument');
  const e = normalizeEntry({ name: 'Notes', category: 'research' });
  assert.equal(e.inclusion, 'by_relevance');
  assert.ok(e.id);
});

test('knowledge.js: an entry from a file keeps its kind and meta in the store, the index gets its fields', async (t) => {
  const { engine, storage } = await engineAndStorage(t);
  const k = await openKnowledge({ engine, storage });
  const saved = await k.save({ name: 'Harbour notes', text: 'Tar and fog.', source: 'harbour.md', kind: 'markdown', meta: { warnings: [] } });
  assert.equal((await storage.getKnowledge(saved.id)).kind, 'markdown');
  assert.equal(k.base.search('fog')[0].id, saved.id);
});
