// The project's export (Markdown, EPUB, DOCX) and backup/restore, against fake-indexeddb: each test
// opens its own IDBFactory, so nothing is shared; a "fresh browser profile" is a new IDBFactory.
import 'fake-indexeddb/auto';  // idb checks `instanceof IDBDatabase` etc. against the globals
import test from 'node:test';
import assert from 'node:assert/strict';
import { IDBFactory } from 'fake-indexeddb';
import JSZip from 'jszip';
import { DOMParser } from '@xmldom/xmldom';
import { openStorage } from '../src/storage.js';
import { createManuscript } from '../src/manuscript.js';
import { projectToMarkdown } from '../src/export/markdown.js';
import { projectToEpub } from '../src/export/epub.js';
import { projectToDocx } from '../src/export/docx.js';
import { backupProject, restoreProject, BACKUP_FORMAT } from '../src/export/backup.js';
import { rejectsWithStorageError } from './helpers.mjs';

async function open() {
  const storage = await openStorage({ indexedDB: new IDBFactory() });
  let t = 1_000_000;
  return { storage, ms: createManuscript({ storage, now: () => (t += 1000) }) };
}

async function withStorage(fn) {
  const { storage, ms } = await open();
  try {
    return await fn(ms, storage);
  } finally {
    await storage.close();
  }
}

const HOSTILE = 'She typed <script>alert("x")</script> & said \'no\' — <b>bold</b> ]]> "quoted" &amp; \u0001';

// Act I (chapters Fog [a, b, empty], Harbour [c]), Act II (chapter Open Sea [d]).
async function novel(ms) {
  const p = await ms.createProject('The Night Ferry');
  const act1 = await ms.addAct(p.id, { title: 'Act I' });
  const act2 = await ms.addAct(p.id, { title: 'Act II' });
  const fog = await ms.addChapter(p.id, { act: act1.id, title: 'Fog' });
  const harbour = await ms.addChapter(p.id, { act: act1.id, title: 'Harbour' });
  const sea = await ms.addChapter(p.id, { act: act2.id, title: 'Open Sea' });
  const a = await ms.addScene(p.id, { chapter: fog.id, title: 'Dawn crossing', text: 'The ferry left at dawn.\n\nMara watched.' });
  const b = await ms.addScene(p.id, { chapter: fog.id, title: 'The horn', text: 'A horn, twice.' });
  const empty = await ms.addScene(p.id, { chapter: fog.id, title: 'Empty', text: '  \n ' });
  const c = await ms.addScene(p.id, { chapter: harbour.id, title: 'Quay', text: 'Ropes.\nGulls.' });
  const d = await ms.addScene(p.id, { chapter: sea.id, title: 'Swell', pov: 'Ives', tense: 'past', beats: ['wave'] });
  await ms.saveText(d.id, 'First swell.', { kind: 'manual' });
  await ms.saveText(d.id, 'Second swell.', { kind: 'generated', run: 'r1', model: 'local' }, { title: 'draft 2' });
  return { p, act1, act2, fog, harbour, sea, a, b, empty, c, d };
}

// Parses `text` as XML and fails on any error or fatal error (a real, strict XML parser).
function parseXml(text, name) {
  return new DOMParser({
    onError: (level, message) => {
      if (level !== 'warning') throw new Error(`${name} is not well-formed XML: ${message}`);
    },
  }).parseFromString(text, 'application/xml');
}

const byTag = (doc, tag) => Array.from(doc.getElementsByTagName(tag));

test('Markdown: title, acts, chapters, scenes in outline order with breaks; empty scenes skipped', async () => {
  await withStorage(async (ms) => {
    const n = await novel(ms);
    await ms.move(n.p.id, { kind: 'scene', id: n.b.id, to: { index: 0 } });
    const md = await projectToMarkdown(ms, n.p.id);
    assert.equal(md, [
      '# The Night Ferry',
      '## Act I',
      '### Fog',
      '<!-- scene: The horn -->\nA horn, twice.',
      '* * *',
      '<!-- scene: Dawn crossing -->\nThe ferry left at dawn.\n\nMara watched.',
      '### Harbour',
      '<!-- scene: Quay -->\nRopes.\nGulls.',
      '## Act II',
      '### Open Sea',
      '<!-- scene: Swell -->\nSecond swell.',
    ].join('\n\n') + '\n');
    assert.doesNotMatch(md, /Empty/, 'the empty scene and its break are left out');
    await rejectsWithStorageError(projectToMarkdown(ms, 'nope'), 'not_found');
  });
});

test('Markdown: untitled acts and chapters get numbers; a title cannot close its comment', async () => {
  await withStorage(async (ms) => {
    const p = await ms.createProject('Untitled book');
    const act = await ms.addAct(p.id);
    const ch = await ms.addChapter(p.id, { act: act.id });
    await ms.addScene(p.id, { chapter: ch.id, title: 'sneaky --> end', text: 'x' });
    const md = await projectToMarkdown(ms, p.id);
    assert.match(md, /^## Act 1$/m);
    assert.match(md, /^### Chapter 1$/m);
    assert.equal(md.match(/-->/g).length, 1, 'only the comment itself closes');
  });
});

test('EPUB: mimetype first and stored, container -> OPF, spine in chapter order, XHTML well-formed', async () => {
  await withStorage(async (ms) => {
    const n = await novel(ms);
    await ms.move(n.p.id, { kind: 'chapter', id: n.harbour.id, to: { index: 0 } });  // Harbour before Fog
    const bytes = await projectToEpub(ms, n.p.id, { lang: 'en', now: Date.UTC(2026, 10, 21, 12, 0, 0, 123) });
    assert.ok(bytes instanceof Uint8Array);

    // The raw zip: the first local file header is `mimetype`, method 0 (stored), no extra field,
    // its data the media type, uncompressed, at offset 38.
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    assert.equal(view.getUint32(0, true), 0x04034b50, 'a local file header first');
    assert.equal(view.getUint16(8, true), 0, 'compression method 0: stored');
    const nameLength = view.getUint16(26, true);
    const extraLength = view.getUint16(28, true);
    assert.equal(new TextDecoder().decode(bytes.subarray(30, 30 + nameLength)), 'mimetype');
    assert.equal(extraLength, 0);
    assert.equal(new TextDecoder().decode(bytes.subarray(30 + nameLength, 30 + nameLength + 20)), 'application/epub+zip');

    const zip = await JSZip.loadAsync(bytes);
    const names = Object.keys(zip.files);
    assert.equal(names[0], 'mimetype');
    assert.equal(await zip.file('mimetype').async('string'), 'application/epub+zip');
    assert.equal(zip.files.mimetype._data.compression.magic, '\x00\x00', 'jszip reads it as stored too');

    const container = parseXml(await zip.file('META-INF/container.xml').async('string'), 'container.xml');
    const rootfile = byTag(container, 'rootfile')[0];
    assert.equal(rootfile.getAttribute('full-path'), 'OEBPS/content.opf');
    assert.equal(rootfile.getAttribute('media-type'), 'application/oebps-package+xml');

    const opf = parseXml(await zip.file('OEBPS/content.opf').async('string'), 'content.opf');
    const pkg = opf.documentElement;
    assert.equal(pkg.getAttribute('version'), '3.0');
    const identifier = byTag(opf, 'dc:identifier')[0];
    assert.equal(identifier.textContent, `urn:uuid:${n.p.id}`);
    assert.equal(identifier.getAttribute('id'), pkg.getAttribute('unique-identifier'));
    assert.equal(byTag(opf, 'dc:title')[0].textContent, 'The Night Ferry');
    assert.equal(byTag(opf, 'dc:language')[0].textContent, 'en');
    const modified = byTag(opf, 'meta').find((m) => m.getAttribute('property') === 'dcterms:modified');
    assert.equal(modified.textContent, '2026-11-21T12:00:00Z');

    const items = Object.fromEntries(byTag(opf, 'item').map((i) => [i.getAttribute('id'), i]));
    const nav = Object.values(items).filter((i) => (i.getAttribute('properties') ?? '').split(' ').includes('nav'));
    assert.equal(nav.length, 1, 'one nav document');
    for (const item of Object.values(items)) {
      assert.ok(zip.file(`OEBPS/${item.getAttribute('href')}`), `${item.getAttribute('href')} is in the zip`);
    }
    const spine = byTag(opf, 'itemref').map((r) => items[r.getAttribute('idref')].getAttribute('href'));
    assert.equal(spine[0], 'title.xhtml');
    const chapterFiles = spine.slice(1);
    const headings = [];
    for (const file of chapterFiles) {
      const doc = parseXml(await zip.file(`OEBPS/${file}`).async('string'), file);
      headings.push(byTag(doc, 'h1').map((h) => `part:${h.textContent}`), byTag(doc, 'h2').map((h) => h.textContent));
    }
    assert.deepEqual(headings.flat(), ['part:Act I', 'Harbour', 'Fog', 'part:Act II', 'Open Sea'], 'the spine follows the outline');

    // Fog: two scenes (the empty one skipped), one break; paragraphs from blank-line-separated text.
    const fog = parseXml(await zip.file(`OEBPS/${chapterFiles[1]}`).async('string'), 'fog');
    assert.deepEqual(byTag(fog, 'p').map((p) => p.textContent), ['The ferry left at dawn.', 'Mara watched.', 'A horn, twice.']);
    assert.equal(byTag(fog, 'hr').length, 1);
    const harbour = parseXml(await zip.file(`OEBPS/${chapterFiles[0]}`).async('string'), 'harbour');
    assert.equal(byTag(harbour, 'br').length, 1, 'a single line break stays inside its paragraph');

    const navDoc = parseXml(await zip.file('OEBPS/nav.xhtml').async('string'), 'nav.xhtml');
    const tocNav = byTag(navDoc, 'nav').find((el) => el.getAttribute('epub:type') === 'toc');
    assert.ok(tocNav, 'a toc nav');
    assert.deepEqual(byTag(tocNav, 'a').map((a) => a.textContent),
      ['The Night Ferry', 'Act I', 'Harbour', 'Fog', 'Act II', 'Open Sea']);
    for (const name of names.filter((x) => x.endsWith('.xhtml'))) parseXml(await zip.file(name).async('string'), name);

    await rejectsWithStorageError(projectToEpub(ms, 'nope'), 'not_found');
    await rejectsWithStorageError(projectToEpub(ms, n.p.id, { lang: 'en"><x' }), 'bad_argument', /lang/);
  });
});

test('EPUB: hostile text in titles and scenes is escaped and stays well-formed', async () => {
  await withStorage(async (ms) => {
    const p = await ms.createProject(`Title ${HOSTILE}`);
    const act = await ms.addAct(p.id, { title: `Act ${HOSTILE}` });
    const ch = await ms.addChapter(p.id, { act: act.id, title: `Chapter ${HOSTILE}` });
    await ms.addScene(p.id, { chapter: ch.id, title: HOSTILE, text: `${HOSTILE}\n\nSecond <p> & '${HOSTILE}'` });
    const zip = await JSZip.loadAsync(await projectToEpub(ms, p.id));
    const expected = HOSTILE.replace('\u0001', '');
    for (const name of Object.keys(zip.files).filter((x) => /\.(xhtml|opf|xml)$/.test(x))) {
      const text = await zip.file(name).async('string');
      const doc = parseXml(text, name);
      assert.equal(byTag(doc, 'script').length, 0, `${name} has no <script> element`);
      assert.equal(byTag(doc, 'b').length, 0, `${name} has no <b> element`);
    }
    const opf = parseXml(await zip.file('OEBPS/content.opf').async('string'), 'opf');
    assert.equal(byTag(opf, 'dc:title')[0].textContent, `Title ${expected}`);
    const chapter = parseXml(await zip.file('OEBPS/chapter-001.xhtml').async('string'), 'chapter');
    assert.equal(byTag(chapter, 'h1')[0].textContent, `Act ${expected}`);
    assert.equal(byTag(chapter, 'h2')[0].textContent, `Chapter ${expected}`);
    assert.deepEqual(byTag(chapter, 'p').map((x) => x.textContent), [expected, `Second <p> & '${expected}'`]);
  });
});

// The outline as titles, every scene's fields and text, and every revision, without ids.
async function snapshot(ms, projectId) {
  const project = await ms.getProject(projectId);
  const scenes = Object.fromEntries((await ms.scenes(projectId)).map((s) => [s.id, s]));
  const outline = [];
  for (const act of project.acts) {
    outline.push([act.title, act.chapters.map((ch) => [ch.title, ch.scenes.map((id) => {
      const { id: _, project: __, ...fields } = scenes[id];
      return fields;
    })])]);
  }
  const revisions = [];
  for (const s of await ms.scenes(projectId)) {
    revisions.push([s.title, (await ms.revisions(s.id, { text: true })).map(({ scene, ...r }) => r)]);
  }
  return { title: project.title, created: project.created, outline, revisions };
}

// A .docx's paragraphs as [style, text] ('' for body text), line breaks as '\n'.
async function docxParagraphs(bytes) {
  const zip = await JSZip.loadAsync(bytes);
  for (const part of ['[Content_Types].xml', '_rels/.rels', 'word/document.xml', 'word/styles.xml', 'docProps/core.xml']) {
    assert.ok(zip.file(part), `${part} is in the package`);
  }
  const doc = parseXml(await zip.file('word/document.xml').async('string'), 'word/document.xml');
  return byTag(doc, 'w:p').map((p) => {
    const style = byTag(p, 'w:pStyle')[0]?.getAttribute('w:val') ?? '';
    let text = '';
    for (const node of byTag(p, '*')) {
      if (node.tagName === 'w:t') text += node.textContent;
      if (node.tagName === 'w:br') text += '\n';
    }
    return [style, text];
  });
}

test('DOCX: a valid Word package; title, acts and chapters as headings, scenes as paragraphs with breaks, in order', async () => {
  await withStorage(async (ms) => {
    const n = await novel(ms);
    const bytes = await projectToDocx(ms, n.p.id, { now: () => Date.UTC(2026, 10, 21) });
    assert.equal(Buffer.from(bytes.subarray(0, 2)).toString('latin1'), 'PK');
    assert.deepEqual(await docxParagraphs(bytes), [
      ['Title', 'The Night Ferry'],
      ['Heading1', 'Act I'],
      ['Heading2', 'Fog'],
      ['', 'The ferry left at dawn.'],
      ['', 'Mara watched.'],
      ['', '* * *'],
      ['', 'A horn, twice.'],
      ['Heading2', 'Harbour'],
      ['', 'Ropes.\nGulls.'],
      ['Heading1', 'Act II'],
      ['Heading2', 'Open Sea'],
      ['', 'Second swell.'],
    ]);
    const core = parseXml(await (await JSZip.loadAsync(bytes)).file('docProps/core.xml').async('string'), 'core.xml');
    assert.equal(byTag(core, 'dc:title')[0].textContent, 'The Night Ferry');
    await rejectsWithStorageError(projectToDocx(ms, 'nope'), 'not_found');
  });
});

test('DOCX: hostile text in titles and scenes is escaped and stays well-formed', async () => {
  await withStorage(async (ms) => {
    const p = await ms.createProject(HOSTILE);
    const act = await ms.addAct(p.id, { title: HOSTILE });
    const ch = await ms.addChapter(p.id, { act: act.id, title: 'Fog' });
    await ms.addScene(p.id, { chapter: ch.id, title: 'x', text: HOSTILE });
    const paragraphs = await docxParagraphs(await projectToDocx(ms, p.id));
    assert.equal(paragraphs[0][0], 'Title');
    assert.ok(paragraphs[0][1].includes('<script>alert("x")</script> & said'), paragraphs[0][1]);
    assert.ok(paragraphs.at(-1)[1].includes(']]> "quoted" &amp;'));
  });
});

test('backup -> restore into a fresh browser profile gives the same outline, texts and revisions', async () => {
  const first = await open();
  let backup;
  let before;
  try {
    const n = await novel(first.ms);
    await first.storage.putSetting('secret', 'do-not-export');
    await first.ms.setDefaultModel(n.p.id, 'claude');
    await first.ms.setProjectWorkflow(n.p.id, 'enhance', 'my_rewrites');
    before = await snapshot(first.ms, n.p.id);
    backup = JSON.parse(JSON.stringify(await backupProject(first.storage, n.p.id)));  // through a file
    assert.equal(backup.format, BACKUP_FORMAT);
    assert.equal(backup.scenes.length, 5);
    assert.equal(backup.revisions.length, 6, 'a, b, the empty one and c with one revision each, d with two');
    assert.doesNotMatch(JSON.stringify(backup), /do-not-export|credential|keyring/);
    await rejectsWithStorageError(backupProject(first.storage, 'nope'), 'not_found');
  } finally {
    await first.storage.close();
  }

  const fresh = await open();
  try {
    const id = await restoreProject(fresh.storage, backup);
    assert.notEqual(id, backup.project.id, 'asNew by default: fresh ids');
    assert.deepEqual(await snapshot(fresh.ms, id), before);
    const restored = await fresh.ms.getProject(id);
    assert.equal(restored.default_model, 'claude');
    assert.deepEqual(restored.workflows, { enhance: 'my_rewrites' });
    // And it is a working project: the next save numbers on from the restored revisions.
    const d = (await fresh.ms.scenes(id)).find((s) => s.title === 'Swell');
    assert.equal((await fresh.ms.saveText(d.id, 'Third swell.', { kind: 'manual' })).n, 3);

    const again = await restoreProject(fresh.storage, backup, { asNew: false });
    assert.equal(again, backup.project.id, 'asNew: false keeps the ids');
    assert.deepEqual(await snapshot(fresh.ms, again), before);
    const scenes = await fresh.ms.scenes(again);
    assert.deepEqual(scenes.map((s) => s.id), backup.scenes.map((s) => s.id));
  } finally {
    await fresh.storage.close();
  }
});

test('restore asNew into the same browser keeps both projects, with no shared ids', async () => {
  await withStorage(async (ms, storage) => {
    const n = await novel(ms);
    const before = await snapshot(ms, n.p.id);
    const backup = await backupProject(storage, n.p.id);
    const copy = await restoreProject(storage, backup, { asNew: true });
    assert.notEqual(copy, n.p.id);
    assert.equal((await ms.listProjects()).length, 2);
    assert.deepEqual(await snapshot(ms, n.p.id), before, 'the original is untouched');
    assert.deepEqual(await snapshot(ms, copy), before, 'the copy has the same book');

    const ids = (p) => [p.id, ...p.acts.flatMap((a) => [a.id, ...a.chapters.flatMap((c) => [c.id, ...c.scenes])])];
    const original = ids(await ms.getProject(n.p.id));
    const copied = ids(await ms.getProject(copy));
    assert.equal(copied.filter((id) => original.includes(id)).length, 0, 'every id is fresh');

    // Editing the copy leaves the original alone, and deleting one leaves the other.
    const copyScene = (await ms.scenes(copy))[0];
    await ms.saveText(copyScene.id, 'Changed in the copy.', { kind: 'manual' });
    assert.deepEqual(await snapshot(ms, n.p.id), before);
    await ms.deleteProject(copy);
    assert.deepEqual(await snapshot(ms, n.p.id), before);
  });
});

test('a bad backup is refused with bad_argument naming the problem, and nothing is written', async () => {
  await withStorage(async (ms, storage) => {
    const n = await novel(ms);
    const good = await backupProject(storage, n.p.id);
    const counts = () => storage.transaction(['projects', 'scenes', 'revisions'], 'readonly', 'Counting', async (t) =>
      [await t.objectStore('projects').count(), await t.objectStore('scenes').count(), await t.objectStore('revisions').count()]);
    const before = await counts();
    const variant = (change) => {
      const copy = structuredClone(good);
      change(copy);
      return copy;
    };
    const cases = [
      [null, /not a JSON object/],
      [variant((b) => { b.format = 'loom-export'; }), /format/],
      [variant((b) => { delete b.format; }), /format/],
      [variant((b) => { delete b.scenes[2].id; }), /scenes\[2\]\.id/],
      [variant((b) => { b.revisions.push({ ...b.revisions[0], scene: 'ghost', n: 1 }); }), /revisions\[6\]\.scene "ghost"/],
      [variant((b) => { b.revisions[1].n = 0; }), /revisions\[1\]\.n/],
      [variant((b) => { b.revisions.push({ ...b.revisions[0] }); }), /twice/],
      [variant((b) => { b.scenes[0].status = 'done'; }), /scenes\[0\]\.status/],
      [variant((b) => { b.scenes[1].text = 42; }), /scenes\[1\]\.text/],
      [variant((b) => { b.project.acts[0].chapters[0].scenes.push('ghost'); }), /"ghost"/],
      [variant((b) => { b.project.acts[1].chapters[0].scenes = []; }), /in no chapter/],
      [variant((b) => { b.project.acts = 'many'; }), /project\.acts/],
      [variant((b) => { b.project.acts[1] = 'Act II'; }), /project\.acts\[1\] must be an object/],
      [variant((b) => { b.project.acts[1].title = 2; }), /project\.acts\[1\]\.title must be a string/],
      [variant((b) => { b.project.acts[1].id = b.project.acts[0].chapters[0].id; }), /project\.acts\[1\]\.id must be a non-empty string no other act or chapter has/],
      [variant((b) => { b.project.acts[0].chapters[1].id = b.project.acts[0].chapters[0].id; }), /project\.acts\[0\]\.chapters\[1\]\.id must be a non-empty string no other/],
      [variant((b) => { b.project.acts[0].chapters[0].scenes = 'a, b'; }), /project\.acts\[0\]\.chapters\[0\]\.scenes must be a list/],
      [variant((b) => { b.project.acts[0].chapters = {}; }), /project\.acts\[0\]\.chapters must be a list/],
      [variant((b) => { delete b.project.id; }), /project\.id/],
      [variant((b) => { b.revisions = undefined; }), /'revisions'/],
    ];
    for (const [backup, pattern] of cases) {
      await rejectsWithStorageError(restoreProject(storage, backup), 'bad_argument', pattern);
      await rejectsWithStorageError(restoreProject(storage, backup, { asNew: false }), 'bad_argument', pattern);
    }
    assert.deepEqual(await counts(), before, 'nothing of a refused backup was written');

    // A write that fails halfway (a scene id already taken by another project) rolls back whole.
    const other = await novel(ms);
    const clash = variant((b) => {
      b.scenes[0].id = other.a.id;
      b.project.acts[0].chapters[0].scenes[0] = other.a.id;
      b.revisions.filter((r) => r.scene === good.scenes[0].id).forEach((r) => { r.scene = other.a.id; });
      b.project.id = 'a-new-project';
      b.scenes.forEach((s) => { s.project = 'a-new-project'; });
    });
    const withOther = await counts();
    await rejectsWithStorageError(restoreProject(storage, clash, { asNew: false }), 'conflict');
    assert.deepEqual(await counts(), withOther);
    assert.equal(await ms.getProject('a-new-project'), undefined);
  });
});

test('restore with asNew: false replaces the project of that id whole; a failed write leaves nothing', async () => {
  await withStorage(async (ms, storage) => {
    const n = await novel(ms);
    const before = await snapshot(ms, n.p.id);
    const backup = await backupProject(storage, n.p.id);
    // The writer goes on after the backup: a new scene, a new revision, a rename.
    const extra = await ms.addScene(n.p.id, { chapter: n.sea.id, title: 'Later', text: 'Written after the backup.' });
    await ms.saveText(n.a.id, 'Rewritten.', { kind: 'manual' });
    await ms.renameProject(n.p.id, 'Renamed');
    assert.equal(await restoreProject(storage, backup, { asNew: false }), n.p.id);
    assert.deepEqual(await snapshot(ms, n.p.id), before, 'back to the backup');
    assert.equal(await ms.getScene(extra.id), undefined, 'the newer scene is gone');
    assert.deepEqual(await ms.revisions(extra.id), [], 'and its revisions: no orphans');
    assert.equal((await ms.listProjects()).length, 1);

    // The disk fills up while the revisions are written: nothing of the restore stays.
    const { IDBObjectStore } = await import('fake-indexeddb');
    const add = IDBObjectStore.prototype.add;
    IDBObjectStore.prototype.add = function (...args) {
      if (this.name === 'revisions') throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
      return add.apply(this, args);
    };
    try {
      await rejectsWithStorageError(restoreProject(storage, backup), 'quota_exceeded');
      await rejectsWithStorageError(restoreProject(storage, backup, { asNew: false }), 'quota_exceeded');
    } finally {
      IDBObjectStore.prototype.add = add;
    }
    assert.equal((await ms.listProjects()).length, 1, 'no half-restored copy');
    assert.deepEqual(await snapshot(ms, n.p.id), before, 'the replaced project is kept as it was');
  });
});

test('an empty project exports too: Markdown with its title, an EPUB with a title page', async () => {
  await withStorage(async (ms) => {
    const p = await ms.createProject('Nothing yet');
    await ms.addAct(p.id, { title: 'Empty act' });
    assert.equal(await projectToMarkdown(ms, p.id), '# Nothing yet\n\n## Empty act\n');
    const zip = await JSZip.loadAsync(await projectToEpub(ms, p.id, { lang: 'pt-BR' }));
    const opf = parseXml(await zip.file('OEBPS/content.opf').async('string'), 'opf');
    assert.deepEqual(byTag(opf, 'itemref').map((r) => r.getAttribute('idref')), ['title']);
    assert.equal(byTag(opf, 'dc:language')[0].textContent, 'pt-BR');
    for (const name of Object.keys(zip.files).filter((x) => x.endsWith('.xhtml'))) {
      parseXml(await zip.file(name).async('string'), name);
    }
  });
});
