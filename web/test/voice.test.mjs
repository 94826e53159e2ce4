// The studio's voice service (web/src/voice.js) over the real wasm engine and the background that
// tools/build --wasm makes (build/voice/background.loomvb), with voices kept in a fresh in-memory
// IndexedDB (fake-indexeddb) per test.
import 'fake-indexeddb/auto';
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { IDBFactory } from 'fake-indexeddb';
import { ErrorCode, EngineError, loadEngine, loadVoiceBackground } from '../src/engine.js';
import { RunManager } from '../src/runs.js';
import { openStorage, StorageError } from '../src/storage.js';
import { createVoices, splitPassages, splitNames, confidenceLabel, usesVoice, VOICES_KEY, VoiceError } from '../src/voice.js';
import { REPO } from './helpers.mjs';
import { HISTORIAN, JON, MANUSCRIPT, MARA, MARA_AGAIN } from './fixtures/voices.mjs';

const BACKGROUND = path.join(REPO, 'build/voice/background.loomvb');
let bytes = null;

function clock(start = 1_700_000_000_000) {
  let t = start;
  return () => (t += 1000);
}

/// {voices, storage, loads}: the service over a fresh database; `loads` counts background loads.
async function setup(t, { storage: wrap } = {}) {
  bytes ??= await readFile(BACKGROUND);
  const storage = await openStorage({ indexedDB: new IDBFactory() });
  const made = [];
  const loads = { count: 0 };
  const voices = createVoices({
    storage: wrap ? wrap(storage) : storage,
    now: clock(),
    locks: null,
    loadBackground: async () => {
      loads.count += 1;
      const bg = await loadVoiceBackground(new Uint8Array(bytes));
      made.push(bg);
      return bg;
    },
  });
  t.after(() => {
    for (const bg of made) bg.delete();
    storage.close();
  });
  return { voices, storage, loads };
}

test('splitPassages, splitNames, confidenceLabel', () => {
  assert.deepEqual(splitPassages('one\ntwo\n\n  three  \n \n\n\nfour\r\n\r\nfive'), ['one\ntwo', 'three', 'four', 'five']);
  assert.deepEqual(splitPassages(['  a ', '', 'b']), ['a', 'b']);
  assert.deepEqual(splitPassages(''), []);
  assert.deepEqual(splitNames('Mara, the Quill girl, , Mara'), ['Mara', 'the Quill girl']);
  assert.deepEqual(confidenceLabel(0.82), { level: 'high', text: 'high confidence (0.82)' });
  assert.equal(confidenceLabel(0.5).level, 'medium');
  assert.equal(confidenceLabel(0.1).level, 'low');
  assert.equal(confidenceLabel(undefined).level, 'low');
});

test('voices: built from pasted passages, listed by name, kept in IndexedDB, removed', async (t) => {
  const { voices, storage, loads } = await setup(t);
  assert.deepEqual(await voices.list(), []);
  assert.equal(loads.count, 0, 'listing needs no background');

  const { record } = await voices.build({ name: ' Mara ', references: MARA.join('\n\n') });
  assert.equal(record.name, 'Mara');
  assert.deepEqual(record.references, MARA);
  assert.deepEqual(record.source, { kind: 'references', passages: 5 });
  assert.equal(typeof record.built, 'number');
  const p = record.profile;
  assert.equal(p.format, 'loom.voice.profile/1');
  assert.equal(p.name, 'Mara');
  assert.ok(p.words > 350 && p.words < 500, `words: ${p.words}`);
  assert.equal(p.background, voices.info.fingerprint);
  assert.equal(p.references, undefined, 'the references are stored once, in the record');
  assert.ok(p.features.length >= 10, 'a reading per feature');
  for (const f of p.features) {
    assert.ok(f.id && f.label && typeof f.unit === 'string', JSON.stringify(f));
    assert.ok(Number.isFinite(f.value) && Number.isFinite(f.z) && Number.isFinite(f.background_mean), JSON.stringify(f));
  }
  const contractions = p.features.find((f) => f.id === 'contractions');
  assert.ok(contractions.z > 1, `Mara contracts far more than the background (z ${contractions.z})`);
  assert.ok(Array.isArray(p.signature_words));

  await voices.build({ name: 'The historian', references: [HISTORIAN, HISTORIAN.replace(/harbour/g, 'port')] });
  await voices.build({ name: 'Ada', references: MARA.slice(0, 3) });
  assert.deepEqual((await voices.list()).map((v) => v.name), ['Ada', 'Mara', 'The historian']);
  assert.equal(loads.count, 1, 'the background is loaded once');

  // Stored as one settings value; another service over the same database sees the same voices.
  const stored = await storage.getSetting(VOICES_KEY);
  assert.equal(stored.format, 'loom.voices/1');
  assert.equal(stored.voices.length, 3);
  const again = createVoices({ storage, locks: null, loadBackground: () => assert.fail('no background needed to list') });
  assert.deepEqual((await again.list()).map((v) => v.name), ['Ada', 'Mara', 'The historian']);
  assert.deepEqual((await again.get('Mara')).references, MARA);

  // The same name again replaces the voice.
  const replaced = await voices.build({ name: 'Ada', references: MARA.slice(1, 5) });
  assert.equal((await voices.list()).length, 3);
  assert.deepEqual((await voices.get('Ada')).references, MARA.slice(1, 5));
  assert.ok(replaced.record.built > record.built);

  await voices.remove('Ada');
  await voices.remove('nobody');
  assert.deepEqual((await voices.list()).map((v) => v.name), ['Mara', 'The historian']);
});

test('voices: a character\'s dialogue from the manuscript, her lines only', async (t) => {
  const { voices } = await setup(t);
  const lines = await voices.linesOf(MANUSCRIPT, 'Mara');
  assert.equal(lines.length, MARA.length, JSON.stringify(lines.map((l) => l.text.slice(0, 30))));
  lines.forEach((l, i) => {
    assert.equal(l.speaker, 'Mara');
    assert.equal(l.text, MARA[i]);
    assert.equal(MANUSCRIPT.slice(l.begin, l.end), MARA[i], 'offsets into the text (UTF-16)');
  });
  const jon = await voices.linesOf(MANUSCRIPT, ['Jon']);
  assert.deepEqual(jon.map((l) => l.text), JON);

  const { record, lines: used } = await voices.build({ name: 'Mara', manuscript: MANUSCRIPT, character: 'Mara', aliases: 'the Quill girl' });
  assert.equal(used.length, MARA.length);
  assert.equal(record.source.kind, 'manuscript');
  assert.equal(record.source.character, 'Mara');
  assert.deepEqual(record.source.aliases, ['the Quill girl']);
  assert.equal(record.source.lines, MARA.length);
  for (const line of MARA) assert.ok(record.references.includes(line), 'each of her lines is a reference');
  for (const line of JON) assert.ok(!record.references.some((r) => r.includes(line)), `not Jon's: ${line}`);
  assert.ok(record.profile.words > 350);

  await assert.rejects(voices.build({ name: 'Mara', manuscript: MANUSCRIPT }),
    (e) => e instanceof VoiceError && e.code === 'bad_argument' && /character/.test(e.message));
  await assert.rejects(voices.linesOf(MANUSCRIPT, ' , '), (e) => e.code === 'bad_argument');
});

test('voices: a score from the engine, in range, with evidence; her own words score higher', async (t) => {
  const { voices } = await setup(t);
  await voices.build({ name: 'Mara', references: MARA.join('\n\n') });
  const same = await voices.score('Mara', MARA_AGAIN);
  const other = await voices.score('Mara', HISTORIAN);
  for (const s of [same, other]) {
    assert.ok(s.score >= 0 && s.score <= 100, `score ${s.score}`);
    assert.ok(s.confidence >= 0 && s.confidence <= 1, `confidence ${s.confidence}`);
    assert.ok(s.uncertainty > 0, `uncertainty ${s.uncertainty}`);
    assert.ok(s.words > 90, `words ${s.words}`);
    assert.ok(s.evidence.length >= 1, 'reasons');
    for (const e of s.evidence) assert.ok(typeof e.text === 'string' && e.text.length > 5 && typeof e.feature === 'string', JSON.stringify(e));
  }
  assert.ok(same.score > other.score, `Mara ${same.score} > the historian ${other.score}`);
  assert.ok(other.evidence.some((e) => /Mara/.test(e.text)), 'the reasons name the voice');

  const r = await voices.rank('Mara', [HISTORIAN, { label: 'hers', text: MARA_AGAIN }]);
  assert.equal(r.ranking.length, 2);
  assert.equal(r.ranking[0].candidate, 1);
  assert.equal(r.ranking[0].label, 'hers');
  assert.equal(r.best, 1);
  assert.equal(r.ranking[0].rank, 1);

  await assert.rejects(voices.score('nobody', MARA_AGAIN), (e) => e instanceof VoiceError && e.code === 'not_found');
});

test('voices: a score relative to the other voices (the cast)', async (t) => {
  const { voices } = await setup(t);
  await voices.build({ name: 'Mara', references: MARA.join('\n\n') });
  await voices.build({ name: 'Historian', references: HISTORIAN });
  const alone = await voices.score('Mara', HISTORIAN);
  const relative = await voices.score('Mara', HISTORIAN, { cast: ['Mara', 'Historian', 'nobody'] });
  assert.equal(alone.cast, 0);
  assert.equal(relative.cast, 1, 'herself and unknown names are left out of the cast');
  assert.ok(relative.score < 50 && relative.score < alone.score, `${relative.score} < 50, < ${alone.score}`);
  const hers = await voices.score('Mara', MARA_AGAIN, { cast: ['Historian'] });
  assert.ok(hers.score > 50, `hers ${hers.score}`);
  const r = await voices.rank('Mara', [HISTORIAN, MARA_AGAIN], { cast: ['Historian'] });
  assert.equal(r.ranking[0].candidate, 1);
  assert.equal(r.ranking[0].cast, 1);
});

test('voices: too few words is INVALID_VALUE, and nothing stored is lost', async (t) => {
  const { voices, storage } = await setup(t);
  await voices.build({ name: 'Mara', references: MARA.join('\n\n') });
  const before = await storage.getSetting(VOICES_KEY);

  await assert.rejects(voices.build({ name: 'Mara', references: 'Row. Just row, and don\'t look back at the lights.' }), (e) => {
    assert.ok(e instanceof EngineError, `an EngineError, got ${e?.name}: ${e?.message}`);
    assert.equal(e.code, ErrorCode.INVALID_VALUE);
    assert.match(e.message, /100/);
    return true;
  });
  await assert.rejects(voices.build({ name: 'Pip', references: 'Too short to be anyone.' }), (e) => e.code === ErrorCode.INVALID_VALUE);
  await assert.rejects(voices.build({ name: '  ', references: MARA }), (e) => e instanceof VoiceError && e.code === 'bad_argument');
  await assert.rejects(voices.build({ name: 'Pip', references: '\n\n' }), (e) => e instanceof VoiceError && e.code === 'bad_argument');
  assert.deepEqual(await storage.getSetting(VOICES_KEY), before, 'the stored voices are as they were');
  assert.deepEqual((await voices.get('Mara')).references, MARA);
});

test('voices: a failed write stores nothing and the next one works', async (t) => {
  let full = true;
  const { voices, storage } = await setup(t, {
    storage: (s) => Object.assign(Object.create(s), {
      putSetting: async (...args) => {
        if (full) throw new StorageError('quota_exceeded', 'The browser refused to store more');
        return s.putSetting(...args);
      },
    }),
  });
  await assert.rejects(voices.build({ name: 'Mara', references: MARA }), (e) => e.code === 'quota_exceeded');
  assert.deepEqual(await voices.list(), []);
  assert.equal(await storage.getSetting(VOICES_KEY, null), null);
  full = false;
  await voices.build({ name: 'Mara', references: MARA });
  assert.deepEqual((await voices.list()).map((v) => v.name), ['Mara']);
});

test('voices: writes from one tab queue up; none is lost', async (t) => {
  const { voices } = await setup(t);
  await voices.background();
  await Promise.all([
    voices.build({ name: 'A', references: MARA }),
    voices.build({ name: 'B', references: MARA.slice(1) }),
    voices.build({ name: 'C', references: MARA.slice(0, 4) }),
  ]);
  assert.deepEqual((await voices.list()).map((v) => v.name), ['A', 'B', 'C']);
});

test('voices: the background loads once, on first need; a failed load is tried again', async (t) => {
  bytes ??= await readFile(BACKGROUND);
  const storage = await openStorage({ indexedDB: new IDBFactory() });
  t.after(() => storage.close());
  let calls = 0;
  const bound = [];
  const bgs = [];
  t.after(() => bgs.forEach((b) => b.delete()));
  const voices = createVoices({
    storage, locks: null,
    onLoad: (bg) => {
      bound.push(bg);
      throw new Error('a binding that fails does not fail the panel');
    },
    loadBackground: async () => {
      calls += 1;
      if (calls === 1) throw new VoiceError('unavailable', 'offline and never cached');
      const bg = await loadVoiceBackground(bytes);
      bgs.push(bg);
      return bg;
    },
  });
  assert.equal(voices.loaded, false);
  await assert.rejects(voices.background(), (e) => e.code === 'unavailable');
  assert.equal(voices.loaded, false);
  const [a, b] = await Promise.all([voices.background(), voices.background()]);
  assert.equal(a, b);
  assert.equal(calls, 2);
  assert.equal(voices.loaded, true);
  assert.deepEqual(bound, [a], 'onLoad: once, with the background');
  const info = voices.info;
  assert.ok(info.passages >= 20 && info.words >= 20_000, JSON.stringify(info));
  assert.match(info.fingerprint, /^[0-9a-f]{16}$/);

  // The engine refuses bytes that are not a background.
  assert.ok(await loadVoiceBackground(new Uint8Array([1, 2, 3])).then((bg) => {
    bg.delete();
    return false;
  }, (e) => e instanceof EngineError && e.code === ErrorCode.BAD_ARGUMENT));
});

test('voices: a profile made against another background is rebuilt from its references when used', async (t) => {
  const { voices, storage } = await setup(t);
  const { record } = await voices.build({ name: 'Mara', references: MARA });
  const old = { ...record, built: 1, profile: { ...record.profile, background: '0123456789abcdef', features: [] } };
  await storage.putSetting(VOICES_KEY, { format: 'loom.voices/1', voices: [old] });
  const fresh = await voices.current('Mara');
  assert.equal(fresh.profile.background, voices.info.fingerprint);
  assert.ok(fresh.profile.features.length > 0);
  assert.ok(fresh.built > 1);
  assert.deepEqual((await voices.get('Mara')).profile.background, voices.info.fingerprint, 'and stored');
  const s = await voices.score('Mara', MARA_AGAIN);
  assert.ok(s.score > 50, `score ${s.score}`);
});

test('a run with voice.* steps gets the background first (RunManager prepare, as the studio wires it)', async (t) => {
  const { storage } = await setup(t);
  const engine = await loadEngine();
  t.after(() => engine.dispose());
  const loaded = [];
  const voices = createVoices({
    storage, locks: null, onLoad: (bg) => engine.useVoice(bg),
    loadBackground: async () => {
      const bg = await loadVoiceBackground(new Uint8Array(bytes));
      loaded.push(bg);
      return bg;
    },
  });
  t.after(() => { for (const bg of loaded) bg.delete(); });
  const prepared = [];
  const runs = new RunManager({
    engine, storage, locks: null,
    prepare: async (workflow) => {
      prepared.push(workflow.name);
      if (usesVoice(workflow.yaml)) await voices.background();
    },
  });
  const yaml = await readFile(path.join(REPO, 'workflows/examples/voice_check.yaml'), 'utf8');
  assert.equal(usesVoice(yaml), true);
  assert.equal(usesVoice('steps:\n  - {id: a, agent: text.template, with: {template: "voice.score"}}'), false);
  const id = await runs.start({ workflow: { name: 'voice_check', yaml },
    inputs: { character: 'Mara', references: MARA, draft: HISTORIAN } });
  const result = await runs.finished(id);
  assert.equal(result.status, 'succeeded', JSON.stringify(result.error));
  // The step scored with the loaded background: the same number the background gives directly.
  const bg = loaded[0];
  assert.equal(result.outputs.score, bg.score(bg.profile({ name: 'Mara', references: MARA }), HISTORIAN).score);
  assert.ok(result.outputs.evidence.length >= 3);
  assert.deepEqual(prepared, ['voice_check']);
  assert.equal(loaded.length, 1, 'the background was loaded once, for the run');
});
