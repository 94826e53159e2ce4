// manuscript.js against fake-indexeddb: each test opens its own IDBFactory, so nothing is shared.
import 'fake-indexeddb/auto';  // idb checks `instanceof IDBDatabase` etc. against the globals
import test from 'node:test';
import assert from 'node:assert/strict';
import { IDBFactory } from 'fake-indexeddb';
import { openStorage } from '../src/storage.js';
import { createManuscript, countWords, AUTOSAVE_WINDOW_MS } from '../src/manuscript.js';
import { rejectsWithStorageError, patched } from './helpers.mjs';

// A clock the test moves: now() returns t.value.
function clock(start = 1_000_000) {
  const t = { value: start };
  t.now = () => t.value;
  return t;
}

async function withManuscript(fn) {
  const storage = await openStorage({ indexedDB: new IDBFactory() });
  const time = clock();
  try {
    return await fn(createManuscript({ storage, now: time.now }), time, storage);
  } finally {
    await storage.close();
  }
}

// A project with two acts: I (chapters 1 [a, b], 2 [c]) and II (chapter 3 [d]).
async function novel(ms) {
  const p = await ms.createProject('The Night Ferry');
  const act1 = await ms.addAct(p.id, { title: 'I' });
  const act2 = await ms.addAct(p.id, { title: 'II' });
  const ch1 = await ms.addChapter(p.id, { act: act1.id, title: '1' });
  const ch2 = await ms.addChapter(p.id, { act: act1.id, title: '2' });
  const ch3 = await ms.addChapter(p.id, { act: act2.id, title: '3' });
  const a = await ms.addScene(p.id, { chapter: ch1.id, title: 'a' });
  const b = await ms.addScene(p.id, { chapter: ch1.id, title: 'b' });
  const c = await ms.addScene(p.id, { chapter: ch2.id, title: 'c' });
  const d = await ms.addScene(p.id, { chapter: ch3.id, title: 'd' });
  return { p, act1, act2, ch1, ch2, ch3, a, b, c, d };
}

// The outline as titles: [[act, [[chapter, [scene titles]]]]].
async function outline(ms, projectId) {
  const project = await ms.getProject(projectId);
  const titles = Object.fromEntries((await ms.scenes(projectId)).map((s) => [s.id, s.title]));
  return project.acts.map((act) => [act.title, act.chapters.map((ch) => [ch.title, ch.scenes.map((id) => titles[id])])]);
}

test('the tree is built in order, and positions insert where asked', async () => {
  await withManuscript(async (ms) => {
    const n = await novel(ms);
    assert.deepEqual(await outline(ms, n.p.id), [['I', [['1', ['a', 'b']], ['2', ['c']]]], ['II', [['3', ['d']]]]]);
    const first = await ms.addScene(n.p.id, { chapter: n.ch1.id, title: 'first' }, 0);
    await ms.addAct(n.p.id, { title: 'Prologue' }, 0);
    assert.deepEqual(await outline(ms, n.p.id),
      [['Prologue', []], ['I', [['1', ['first', 'a', 'b']], ['2', ['c']]]], ['II', [['3', ['d']]]]]);
    assert.deepEqual((await ms.scenes(n.p.id)).map((s) => [s.title, s.order]),
      [['first', 0], ['a', 1], ['b', 2], ['c', 3], ['d', 4]]);
    const scene = await ms.getScene(first.id);
    assert.equal(scene.project, n.p.id);
    assert.equal(scene.status, 'idea');
    assert.deepEqual(scene.beats, []);
    assert.match(scene.id, /^[0-9a-f-]{36}$/);
    await rejectsWithStorageError(ms.addScene(n.p.id, { chapter: n.ch1.id }, 9), 'bad_argument', /index/);
    await rejectsWithStorageError(ms.addScene(n.p.id, { chapter: 'nope' }), 'not_found');
    await rejectsWithStorageError(ms.addChapter('nope', { act: n.act1.id }), 'not_found');
    assert.equal((await ms.scenes(n.p.id)).length, 5, 'the refused scenes were not stored');
  });
});

test('move: a scene within and across chapters, a chapter across acts, an act', async () => {
  await withManuscript(async (ms) => {
    const n = await novel(ms);
    await ms.move(n.p.id, { kind: 'scene', id: n.b.id, to: { index: 0 } });
    assert.deepEqual(await outline(ms, n.p.id), [['I', [['1', ['b', 'a']], ['2', ['c']]]], ['II', [['3', ['d']]]]]);
    await ms.move(n.p.id, { kind: 'scene', id: n.a.id, to: { chapter: n.ch3.id, index: 1 } });
    assert.deepEqual(await outline(ms, n.p.id), [['I', [['1', ['b']], ['2', ['c']]]], ['II', [['3', ['d', 'a']]]]]);
    await ms.move(n.p.id, { kind: 'chapter', id: n.ch1.id, to: { act: n.act2.id, index: 1 } });
    assert.deepEqual(await outline(ms, n.p.id), [['I', [['2', ['c']]]], ['II', [['3', ['d', 'a']], ['1', ['b']]]]]);
    await ms.move(n.p.id, { kind: 'act', id: n.act2.id, to: { index: 0 } });
    assert.deepEqual(await outline(ms, n.p.id), [['II', [['3', ['d', 'a']], ['1', ['b']]]], ['I', [['2', ['c']]]]]);
    assert.deepEqual((await ms.scenes(n.p.id)).map((s) => s.title), ['d', 'a', 'b', 'c'], 'order follows the tree');

    const before = await outline(ms, n.p.id);
    await rejectsWithStorageError(ms.move(n.p.id, { kind: 'scene', id: n.a.id, to: { chapter: n.ch2.id, index: 5 } }), 'bad_argument', /index/);
    await rejectsWithStorageError(ms.move(n.p.id, { kind: 'scene', id: 'nope', to: { index: 0 } }), 'not_found');
    await rejectsWithStorageError(ms.move(n.p.id, { kind: 'book', id: n.a.id, to: { index: 0 } }), 'bad_argument', /kind/);
    assert.deepEqual(await outline(ms, n.p.id), before, 'a refused move changes nothing');
  });
});

test('updateScene: each bad field is named with bad_argument and nothing is stored', async () => {
  await withManuscript(async (ms) => {
    const { a } = await novel(ms);
    const updated = await ms.updateScene(a.id, { pov: 'Mara', tense: 'past', beats: ['fog', 'horn'], status: 'outline', outline: 'She waits.' });
    assert.deepEqual([updated.pov, updated.tense, updated.beats, updated.status], ['Mara', 'past', ['fog', 'horn'], 'outline']);
    const cases = [
      [{ mood: 'grim' }, /'mood'/], [{ tense: 'future' }, /'tense'/], [{ status: 'done' }, /'status'/],
      [{ beats: 'fog' }, /'beats'/], [{ beats: ['fog', 3] }, /'beats'/], [{ title: 7 }, /'title'/],
      [{ pov: null }, /'pov'/], [{ text: 'sneaky' }, /'text'.*saveText/], [{ id: 'x' }, /'id'/],
      [{ title: 'ok', order: 3 }, /'order'/], [null, /object/],
    ];
    for (const [patch, pattern] of cases) await rejectsWithStorageError(ms.updateScene(a.id, patch), 'bad_argument', pattern);
    assert.deepEqual(await ms.getScene(a.id), updated, 'nothing of the refused patches was stored');
    await rejectsWithStorageError(ms.updateScene('nope', { pov: 'Mara' }), 'not_found');
  });
});

test('saveText stores the text and a revision; autosaves coalesce within the window, other origins append', async () => {
  await withManuscript(async (ms, time) => {
    const { a } = await novel(ms);
    const r1 = await ms.saveText(a.id, 'The ferry left.', { kind: 'autosave' });
    assert.equal(r1.n, 1);
    assert.equal(r1.text, undefined, 'resolves without the text');
    time.value += 20_000;
    await ms.saveText(a.id, 'The ferry left at dawn.', { kind: 'autosave' });
    time.value += 20_000;
    await ms.saveText(a.id, 'The ferry left at dawn, in fog.', { kind: 'autosave' });
    let revs = await ms.revisions(a.id);
    assert.equal(revs.length, 1, 'autosaves within the window replace one another');
    assert.equal((await ms.revision(a.id, 1)).text, 'The ferry left at dawn, in fog.');
    assert.equal(revs[0].updated, time.value);

    assert.equal(await ms.saveText(a.id, 'The ferry left at dawn, in fog.', { kind: 'autosave' }), null, 'unchanged: nothing');
    time.value = r1.created + AUTOSAVE_WINDOW_MS;  // the window is anchored at the revision's first autosave
    await ms.saveText(a.id, 'The ferry left at dawn, in thick fog.', { kind: 'autosave' });
    const gen = { kind: 'generated', run: 'run-1', workflow: 'scene', workflow_version: 3, model: 'fake',
      prompt: 'Write it.', knowledge: ['mara'], scores: { before: 40, after: 72 } };
    time.value += 1;
    await ms.saveText(a.id, 'Mara watched the ferry leave.', gen, { title: 'first draft' });
    time.value += 1;
    await ms.saveText(a.id, 'Mara watched the ferry go.', { kind: 'autosave' });
    await ms.saveText(a.id, 'Mara watched the ferry go.', { kind: 'manual' });
    await ms.saveText(a.id, 'Mara watched the ferry go.', { kind: 'manual' });

    revs = await ms.revisions(a.id);
    assert.deepEqual(revs.map((r) => [r.n, r.origin.kind]),
      [[6, 'manual'], [5, 'manual'], [4, 'autosave'], [3, 'generated'], [2, 'autosave'], [1, 'autosave']], 'newest first');
    assert.ok(revs.every((r) => r.text === undefined));
    assert.deepEqual(revs[3].origin, gen);
    assert.equal(revs[3].title, 'first draft');
    assert.equal((await ms.revisions(a.id, { text: true }))[3].text, 'Mara watched the ferry leave.');
    assert.equal((await ms.getScene(a.id)).text, 'Mara watched the ferry go.');
    assert.equal(await ms.revision(a.id, 99), undefined);

    await rejectsWithStorageError(ms.saveText(a.id, 'x', { kind: 'typed' }), 'bad_argument', /origin\.kind/);
    await rejectsWithStorageError(ms.saveText(a.id, 'x', { kind: 'manual', mood: 1 }), 'bad_argument', /origin\.mood/);
    await rejectsWithStorageError(ms.saveText(a.id, 42, { kind: 'manual' }), 'bad_argument', /'text'/);
    await rejectsWithStorageError(ms.saveText('nope', 'x', { kind: 'manual' }), 'not_found');
    assert.equal((await ms.revisions(a.id)).length, 6);
    assert.equal((await ms.getScene(a.id)).text, 'Mara watched the ferry go.');
  });
});

test('restore makes an old text current as a new revision and deletes nothing; diff is word-level', async () => {
  await withManuscript(async (ms, time) => {
    const { a } = await novel(ms);
    await ms.saveText(a.id, 'The cat sat on the mat.', { kind: 'manual' });
    time.value += 1;
    await ms.saveText(a.id, 'The dog sat on the warm mat.', { kind: 'enhanced', model: 'fake' });
    const restored = await ms.restore(a.id, 1);
    assert.deepEqual([restored.n, restored.origin], [3, { kind: 'restored', restored_from: 1 }]);
    assert.equal((await ms.getScene(a.id)).text, 'The cat sat on the mat.');
    assert.deepEqual((await ms.revisions(a.id)).map((r) => r.n), [3, 2, 1]);
    assert.equal((await ms.revision(a.id, 2)).text, 'The dog sat on the warm mat.');
    await rejectsWithStorageError(ms.restore(a.id, 7), 'not_found');

    const d = await ms.diff(a.id, 1, 2);
    assert.deepEqual(d, [
      { op: 'equal', text: 'The ' }, { op: 'delete', text: 'cat' }, { op: 'insert', text: 'dog' },
      { op: 'equal', text: ' sat on the ' }, { op: 'insert', text: 'warm ' }, { op: 'equal', text: 'mat.' },
    ]);
    const join = (ops) => d.filter((p) => ops.includes(p.op)).map((p) => p.text).join('');
    assert.equal(join(['equal', 'delete']), 'The cat sat on the mat.');
    assert.equal(join(['equal', 'insert']), 'The dog sat on the warm mat.');
    assert.deepEqual(await ms.diff(a.id, 1, 3), [{ op: 'equal', text: 'The cat sat on the mat.' }]);
    await rejectsWithStorageError(ms.diff(a.id, 1, 9), 'not_found');
  });
});

test('deleteProject removes its project, scenes and revisions, and nothing of another project', async () => {
  await withManuscript(async (ms, time, storage) => {
    const one = await novel(ms);
    const two = await novel(ms);
    await ms.saveText(one.a.id, 'Gone soon.', { kind: 'manual' });
    await ms.saveText(two.a.id, 'Stays.', { kind: 'manual' });
    await ms.renameProject(two.p.id, 'The Day Ferry');
    await ms.deleteProject(one.p.id);
    assert.deepEqual((await ms.listProjects()).map((p) => p.title), ['The Day Ferry']);
    assert.equal(await ms.getProject(one.p.id), undefined);
    assert.equal(await ms.getScene(one.a.id), undefined);
    assert.deepEqual(await ms.revisions(one.a.id), []);
    assert.equal((await ms.scenes(two.p.id)).length, 4);
    assert.equal((await ms.getScene(two.a.id)).text, 'Stays.');
    assert.equal((await ms.revisions(two.a.id)).length, 1);
    const counts = await storage.transaction(['scenes', 'revisions'], 'readonly', 'Counting', async (t) =>
      [await t.objectStore('scenes').count(), await t.objectStore('revisions').count()]);
    assert.deepEqual(counts, [4, 1], 'no orphan is left behind');
    await ms.deleteProject('not-there');
  });
});

test('renameItem renames acts and chapters; removeItem deletes a scene, a chapter or an act with all it holds', async () => {
  await withManuscript(async (ms, time, storage) => {
    const n = await novel(ms);
    await ms.renameItem(n.p.id, { kind: 'act', id: n.act1.id, title: ' Act One ' });
    await ms.renameItem(n.p.id, { kind: 'chapter', id: n.ch3.id, title: 'Open Sea' });
    assert.deepEqual(await outline(ms, n.p.id), [['Act One', [['1', ['a', 'b']], ['2', ['c']]]], ['II', [['Open Sea', ['d']]]]]);
    await rejectsWithStorageError(ms.renameItem(n.p.id, { kind: 'scene', id: n.a.id, title: 'x' }), 'bad_argument');
    await rejectsWithStorageError(ms.renameItem(n.p.id, { kind: 'act', id: 'nope', title: 'x' }), 'not_found');
    await rejectsWithStorageError(ms.renameItem(n.p.id, { kind: 'act', id: n.act2.id, title: 7 }), 'bad_argument');

    await ms.saveText(n.b.id, 'Gone soon.', { kind: 'manual' });
    await ms.saveText(n.c.id, 'Stays.', { kind: 'manual' });
    assert.equal((await ms.removeItem(n.p.id, { kind: 'scene', id: n.b.id })).scenes, 1);
    assert.equal(await ms.getScene(n.b.id), undefined);
    assert.deepEqual(await ms.revisions(n.b.id), []);
    const removed = await ms.removeItem(n.p.id, { kind: 'act', id: n.act2.id });
    assert.equal(removed.scenes, 1);
    assert.deepEqual(await outline(ms, n.p.id), [['Act One', [['1', ['a']], ['2', ['c']]]]]);
    assert.deepEqual((await ms.scenes(n.p.id)).map((s) => [s.title, s.order]), [['a', 0], ['c', 1]], 'orders follow the tree');
    await ms.removeItem(n.p.id, { kind: 'chapter', id: n.ch1.id });
    assert.deepEqual(await outline(ms, n.p.id), [['Act One', [['2', ['c']]]]]);
    assert.equal((await ms.getScene(n.c.id)).text, 'Stays.');
    const counts = await storage.transaction(['scenes', 'revisions'], 'readonly', 'Counting', async (t) =>
      [await t.objectStore('scenes').count(), await t.objectStore('revisions').count()]);
    assert.deepEqual(counts, [1, 1], 'no orphan is left behind');
    await rejectsWithStorageError(ms.removeItem(n.p.id, { kind: 'scene', id: n.d.id }), 'not_found');
    await rejectsWithStorageError(ms.removeItem(n.p.id, { kind: 'book', id: 'x' }), 'bad_argument');
    // A delete that fails halfway leaves everything.
    await patched('delete', function (del, ...args) {
      if (this.name === 'scenes') throw new DOMException('Something broke.', 'UnknownError');
      return del.apply(this, args);
    }, async () => {
      await rejectsWithStorageError(ms.removeItem(n.p.id, { kind: 'chapter', id: n.ch2.id }), 'unavailable');
    });
    assert.deepEqual(await outline(ms, n.p.id), [['Act One', [['2', ['c']]]]]);
    assert.equal((await ms.revisions(n.c.id)).length, 1);
  });
});

test('totals count words per scene, chapter, act and project', async () => {
  assert.equal(countWords("Mara's well-known ferry — it left at 6, didn't it?"), 9);
  assert.equal(countWords(''), 0);
  await withManuscript(async (ms) => {
    const n = await novel(ms);
    await ms.saveText(n.a.id, 'One two three.', { kind: 'manual' });
    await ms.saveText(n.c.id, 'Four five.', { kind: 'manual' });
    await ms.saveText(n.d.id, 'Six seven eight nine ten.', { kind: 'manual' });
    const t = await ms.totals(n.p.id);
    assert.equal(t.project, 10);
    assert.deepEqual(t.acts, { [n.act1.id]: 5, [n.act2.id]: 5 });
    assert.deepEqual(t.chapters, { [n.ch1.id]: 3, [n.ch2.id]: 2, [n.ch3.id]: 5 });
    assert.deepEqual(t.scenes, { [n.a.id]: 3, [n.b.id]: 0, [n.c.id]: 2, [n.d.id]: 5 });
    await rejectsWithStorageError(ms.totals('nope'), 'not_found');
  });
});

test('a failed write loses nothing: neither the text nor the revisions saved before', async () => {
  await withManuscript(async (ms, time) => {
    const n = await novel(ms);
    await ms.saveText(n.a.id, 'Three hours of prose.', { kind: 'manual' });
    time.value += 1;
    await ms.saveText(n.a.id, 'Three hours of prose, and more.', { kind: 'autosave' });
    const before = { scene: await ms.getScene(n.a.id), revisions: await ms.revisions(n.a.id, { text: true }) };

    // The disk fills up as the scene's text is written (after the revision was): both roll back.
    await patched('put', function (put, ...args) {
      if (this.name === 'scenes') throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
      return put.apply(this, args);
    }, async () => {
      await rejectsWithStorageError(ms.saveText(n.a.id, 'A new beginning.', { kind: 'manual' }), 'quota_exceeded');
      // An autosave into the coalescing revision fails too: its old text stays.
      await rejectsWithStorageError(ms.saveText(n.a.id, 'Three hours of prose, and lost.', { kind: 'autosave' }), 'quota_exceeded');
      await rejectsWithStorageError(ms.restore(n.a.id, 1), 'quota_exceeded');
    });
    // The revision's add fails as a request, the way a browser reports a full disk.
    await patched('add', function (add, ...args) {
      if (this.name !== 'revisions') return add.apply(this, args);
      return this.transaction._execRequestAsync({
        source: this,
        operation: () => {
          throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
        },
      });
    }, async () => {
      await rejectsWithStorageError(ms.saveText(n.a.id, 'A new beginning.', { kind: 'generated' }), 'quota_exceeded');
    });
    // A delete that fails halfway leaves the whole project.
    await patched('delete', function (del, ...args) {
      if (this.name === 'projects') throw new DOMException('Something broke.', 'UnknownError');
      return del.apply(this, args);
    }, async () => {
      await rejectsWithStorageError(ms.deleteProject(n.p.id), 'unavailable');
    });

    assert.deepEqual(await ms.getScene(n.a.id), before.scene);
    assert.deepEqual(await ms.revisions(n.a.id, { text: true }), before.revisions);
    assert.equal((await ms.scenes(n.p.id)).length, 4);
    // And the studio goes on saving once the disk has room.
    await ms.saveText(n.a.id, 'A new beginning.', { kind: 'manual' });
    assert.deepEqual((await ms.revisions(n.a.id)).map((r) => r.n), [3, 2, 1]);
  });
});

test('the studio export holds the manuscript: the outline, the scenes and every revision', async () => {
  await withManuscript(async (ms, time, storage) => {
    const n = await novel(ms);
    const scene = (await ms.scenes(n.p.id))[0];
    await ms.saveText(scene.id, 'The ferry left at dawn.', { kind: 'manual' });
    await ms.saveText(scene.id, 'The ferry left at dawn, late.', { kind: 'generated', run: 'r1', model: 'local-draft' });
    const data = await storage.exportData();
    assert.deepEqual(data.manuscript.projects.map((p) => p.id), [n.p.id]);
    assert.equal(data.manuscript.scenes.length, 4);
    assert.equal(data.manuscript.scenes.find((s) => s.id === scene.id).text, 'The ferry left at dawn, late.');
    assert.deepEqual(data.manuscript.revisions.map((r) => [r.n, r.origin.kind]), [[1, 'manual'], [2, 'generated']]);
  });
});
