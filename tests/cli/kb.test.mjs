// `loom kb` (add, query, context, list, remove) and `loom run --kb`: the knowledge base in one
// file, the engine's snapshot. Each test works in its own folder, the base at its default place
// (.loom/kb.loomkb) unless it says otherwise. LOOM_BIN names the binary (tools/test sets it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const loom = process.env.LOOM_BIN || join(root, 'build/native-debug/loom');
const fixture = (f) => join(root, 'web/test/fixtures/extract', f);
const env = { ...process.env };
delete env.LOOM_KB;

function run(cwd, args, { stdin, extraEnv } = {}) {
  return new Promise((resolve) => {
    const child = spawn(loom, args, { cwd, env: { ...env, ...extraEnv } });
    child.stdin.end(stdin ?? '');
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

// A folder with notes of a small book: a character, a place, a style guide, a later reveal.
function project() {
  const dir = mkdtempSync(join(tmpdir(), 'loom-kb-'));
  mkdirSync(join(dir, 'notes'));
  const files = {
    'notes/mara.md': '---\ntitle: ignored\n---\n\n# Mara Quill\n\nMara grew up on the ferry between the two harbours.\n'
      + 'She keeps a blue notebook of tides.\n',
    'notes/harbour.txt': 'The harbour wall was built in 1822, after the storm that took the old pier.\n'
      + 'The ferry uses the west side; fishing boats moor on the east side of the harbour.\n',
    'notes/style.md': '# Style guide\n\nPresent tense. Short sentences. No adverbs.\n',
    'notes/secret.md': '# The keeper\'s secret\n\nThe keeper is Mara\'s father; he faked his drowning.\n',
  };
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}
const base = (dir) => join(dir, '.loom/kb.loomkb');

async function ok(dir, args, opts) {
  const r = await run(dir, args, opts);
  assert.equal(r.code, 0, `loom ${args.join(' ')}: ${r.stderr}`);
  return r;
}

async function book(dir) {
  await ok(dir, ['kb', 'add', 'notes/mara.md', '--category', 'character', '--alias', 'Mara', '--inclusion', 'when_mentioned']);
  await ok(dir, ['kb', 'add', 'notes/harbour.txt', '--category', 'location', '--name', 'The harbour']);
  await ok(dir, ['kb', 'add', 'notes/style.md', '--category', 'style', '--inclusion', 'always']);
  await ok(dir, ['kb', 'add', 'notes/secret.md', '--category', 'lore', '--from', '5.2']);
}

test('kb add reads .txt, .md and .pdf into the default base, naming each entry', async () => {
  const dir = project();
  copyFileSync(fixture('two_pages.pdf'), join(dir, 'two_pages.pdf'));
  const r = await ok(dir, ['kb', 'add', 'notes/mara.md', 'notes/harbour.txt', 'two_pages.pdf', '--category', 'research']);
  assert.deepEqual(r.stdout.trim().split('\n'), [
    'added notes/mara.md as "Mara Quill" (research, 1 chunk)',        // the first heading, past the front matter
    'added notes/harbour.txt as "harbour" (research, 1 chunk)',       // the file name
    'added two_pages.pdf as "The Lighthouse Keeper" (research, 1 chunk)',  // the PDF's title
  ]);
  assert.ok(existsSync(base(dir)));
  assert.deepEqual(readdirSync(join(dir, '.loom')), ['kb.loomkb'], 'no temporary file is left');
  const list = JSON.parse((await ok(dir, ['kb', 'list', '--json'])).stdout);
  assert.deepEqual(list.map((e) => [e.id, e.name, e.category, e.inclusion, e.source, e.chunks]), [
    ['notes/mara.md', 'Mara Quill', 'research', 'by_relevance', 'notes/mara.md', 1],
    ['notes/harbour.txt', 'harbour', 'research', 'by_relevance', 'notes/harbour.txt', 1],
    ['two_pages.pdf', 'The Lighthouse Keeper', 'research', 'by_relevance', 'two_pages.pdf', 1],
  ]);
  assert.equal(list[0].text, undefined, 'list leaves the text out');
  // Both pages of the PDF, in order, the page texts a paragraph apart.
  const hit = JSON.parse((await ok(dir, ['kb', 'query', 'second page paragraph', '--json'])).stdout)[0];
  assert.equal(hit.id, 'two_pages.pdf');
  assert.match(hit.text, /Café déjà vu\.\n\nThe second page starts a new paragraph/);
  assert.match(hit.text, /^The Lighthouse Keeper\nMara climbed the stairs/);
});

test('kb add reports each file it cannot read, adds the others, and exits 1', async () => {
  const dir = project();
  for (const f of ['scanned.pdf', 'encrypted.pdf', 'truncated.pdf']) copyFileSync(fixture(f), join(dir, f));
  writeFileSync(join(dir, 'notes.docx'), 'PK');
  const r = await run(dir, ['kb', 'add', 'scanned.pdf', 'notes/mara.md', 'encrypted.pdf', 'notes.docx', 'truncated.pdf', 'gone.txt']);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, 'added notes/mara.md as "Mara Quill" (other, 1 chunk)\n');
  assert.match(r.stderr, /cannot add scanned\.pdf: the PDF has no text \(2 pages of images: a scan\?\)\n  hint: run it through OCR/);
  assert.match(r.stderr, /cannot add encrypted\.pdf: the PDF is encrypted with a password/);
  assert.match(r.stderr, /cannot add notes\.docx: cannot read \.docx files: the knowledge base takes \.txt, \.md and \.pdf/);
  assert.match(r.stderr, /cannot add truncated\.pdf: not a readable PDF \(damaged or cut short\)/);
  assert.match(r.stderr, /cannot add gone\.txt: cannot read it \(No such file or directory\)/);
  assert.match(r.stderr, /5 of 6 files could not be added\n$/);
  const list = JSON.parse((await ok(dir, ['kb', 'list', '--json'])).stdout);
  assert.deepEqual(list.map((e) => e.id), ['notes/mara.md']);
});

test('kb add refuses wrong options before reading any file, with the engine\'s names', async () => {
  const dir = project();
  const category = await run(dir, ['kb', 'add', 'notes/mara.md', '--category', 'villain']);
  assert.equal(category.code, 2);
  assert.match(category.stderr, /unknown category "villain": the categories are character, location, item, lore, style, research, other/);
  const inclusion = await run(dir, ['kb', 'add', 'notes/mara.md', '--inclusion', 'sometimes']);
  assert.equal(inclusion.code, 2);
  assert.match(inclusion.stderr, /unknown inclusion "sometimes": the inclusions are always, when_mentioned, by_relevance, never/);
  const from = await run(dir, ['kb', 'add', 'notes/mara.md', '--from', 'three']);
  assert.equal(from.code, 2);
  assert.match(from.stderr, /--from 'three' is not CHAPTER or CHAPTER\.SCENE/);
  const two = await run(dir, ['kb', 'add', 'notes/mara.md', 'notes/harbour.txt', '--name', 'Mara']);
  assert.equal(two.code, 2);
  assert.match(two.stderr, /--name, --alias and --id describe one file, and 2 were given/);
  assert.equal(existsSync(base(dir)), false, 'nothing was written');
});

test('adding a file again replaces its entry; --id gives it another', async () => {
  const dir = project();
  await ok(dir, ['kb', 'add', 'notes/harbour.txt']);
  writeFileSync(join(dir, 'notes/harbour.txt'), 'The lighthouse stands at the end of the breakwater.\n');
  const again = await ok(dir, ['kb', 'add', './notes/../notes/harbour.txt', '--category', 'location']);
  assert.equal(again.stdout, 'replaced ./notes/../notes/harbour.txt as "harbour" (location, 1 chunk)\n');
  const list = JSON.parse((await ok(dir, ['kb', 'list', '--json'])).stdout);
  assert.deepEqual(list.map((e) => [e.id, e.category]), [['notes/harbour.txt', 'location']]);
  assert.deepEqual(JSON.parse((await ok(dir, ['kb', 'query', 'ferry', '--json'])).stdout), [], 'the old text is gone');
  assert.equal(JSON.parse((await ok(dir, ['kb', 'query', 'breakwater', '--json'])).stdout).length, 1);
  await ok(dir, ['kb', 'add', 'notes/harbour.txt', '--id', 'harbour-2']);
  assert.equal(JSON.parse((await ok(dir, ['kb', 'list', '--json'])).stdout).length, 2);
});

test('kb query ranks by BM25F: the name counts, then how often and how densely a term occurs', async () => {
  const dir = project();
  writeFileSync(join(dir, 'a.txt'), 'The ferry left. The ferry came back. The ferry sank. Ferry ferry.\n');
  writeFileSync(join(dir, 'b.txt'), 'A long account of the town, its mills and its markets, its church and its '
    + 'schools, in which the ferry is mentioned once, near the end, among many other things of the place.\n');
  writeFileSync(join(dir, 'c.txt'), 'Nothing about boats here at all.\n');
  writeFileSync(join(dir, 'd.md'), '# The Ferry\n\nIt is old.\n');
  await ok(dir, ['kb', 'add', 'a.txt', 'b.txt', 'c.txt', 'd.md']);
  const hits = JSON.parse((await ok(dir, ['kb', 'query', 'ferries', '--json'])).stdout);
  assert.deepEqual(hits.map((h) => h.id), ['d.md', 'a.txt', 'b.txt']);
  assert.ok(hits[0].score > hits[1].score && hits[1].score > hits[2].score);
  assert.deepEqual(Object.keys(hits[0]).sort(), ['category', 'chunk', 'id', 'matched', 'name', 'score', 'source', 'text']);
  assert.deepEqual(hits[0].matched, ['ferri']);
  assert.deepEqual(JSON.parse((await ok(dir, ['kb', 'query', 'ferry', '--k', '1', '--json'])).stdout).map((h) => h.id), ['d.md']);
  const text = await ok(dir, ['kb', 'query', 'ferry']);
  const lines = text.stdout.split('\n');
  assert.match(lines[0], /^ 1\. +\d+\.\d{4} {2}The Ferry \(other\) {2}d\.md #1$/);
  assert.equal(lines[1], '    # The Ferry It is old.');
  assert.match(lines[2], /^ 2\. .* a\.txt #1$/);
  assert.match(lines[4], /^ 3\. .* b\.txt #1$/);
  assert.ok(lines[5].endsWith('…') && lines[5].length <= 4 + 101, lines[5]);
  const none = await ok(dir, ['kb', 'query', 'zeppelin']);
  assert.equal(none.stdout, '');
  assert.match(none.stderr, /nothing in \.loom\/kb\.loomkb matches "zeppelin" \(4 entries\)/);
});

test('kb query filters by category and by the story position', async () => {
  const dir = project();
  await book(dir);
  const ids = async (...args) => JSON.parse((await ok(dir, ['kb', 'query', ...args, '--json'])).stdout).map((h) => h.id);
  assert.deepEqual(await ids('keeper harbour ferry'), ['notes/secret.md', 'notes/harbour.txt', 'notes/mara.md']);
  assert.deepEqual(await ids('keeper harbour ferry', '--category', 'location', '--category', 'lore'),
    ['notes/secret.md', 'notes/harbour.txt']);
  assert.deepEqual(await ids('keeper harbour ferry', '--chapter', '5.1'), ['notes/harbour.txt', 'notes/mara.md']);
  assert.deepEqual(await ids('keeper harbour ferry', '--chapter', '5.2'), ['notes/secret.md', 'notes/harbour.txt', 'notes/mara.md']);
  const bad = await run(dir, ['kb', 'query', 'x', '--category', 'place']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown category "place" in 'categories': the categories are character, location/);
  const k = await run(dir, ['kb', 'query', 'x', '--k', '-1']);
  assert.equal(k.code, 2);
  assert.match(k.stderr, /'k' must be a whole number from 0 to 100000, got -1/);
});

test('kb context assembles what the router would give a prompt, within the budget and the position', async () => {
  const dir = project();
  await book(dir);
  const text = 'Mara walks down to the harbour wall at dusk.';
  const full = JSON.parse((await ok(dir, ['kb', 'context', '--text', '-', '--query', 'harbour wall storm', '--json'],
    { stdin: text })).stdout);
  assert.deepEqual(Object.keys(full).sort(), ['context', 'dropped', 'included', 'tokens']);
  assert.deepEqual(full.included.map((i) => [i.id, i.reason, i.citation]), [
    ['notes/style.md', 'always', 1], ['notes/mara.md', 'mentioned', 2], ['notes/harbour.txt', 'ranked', 3]]);
  assert.deepEqual(Object.keys(full.included[0]).sort(),
    ['category', 'chunk', 'citation', 'id', 'name', 'reason', 'score', 'source', 'text', 'tokens']);
  assert.match(full.context, /^\[1\] Style guide \(style\)\n# Style guide/);
  assert.match(full.context, /\[3\] The harbour \(location\)\nThe harbour wall was built in 1822/);
  // The keeper's secret is true from 5.2 on: a query for it finds it later in the book only.
  const secret = async (chapter) => JSON.parse((await ok(dir, ['kb', 'context', '--query', 'keeper drowning',
    '--chapter', chapter, '--json'])).stdout).included.map((i) => i.id);
  assert.deepEqual(await secret('2'), ['notes/style.md']);
  assert.deepEqual(await secret('6'), ['notes/style.md', 'notes/secret.md']);
  // A small budget keeps what fits and says what it dropped.
  const small = JSON.parse((await ok(dir, ['kb', 'context', '--text', '-', '--query', 'harbour wall storm', '--budget', '25',
    '--json'], { stdin: text })).stdout);
  assert.ok(small.tokens <= 25);
  assert.deepEqual(small.included.map((i) => i.id), ['notes/style.md']);
  assert.deepEqual(small.dropped.map((i) => [i.id, i.reason, i.citation]),
    [['notes/mara.md', 'mentioned', 0], ['notes/harbour.txt', 'ranked', 0], ['notes/mara.md', 'ranked', 0]]);
  // Without --json: the context on stdout, the account of it on stderr.
  writeFileSync(join(dir, 'scene.txt'), text);
  const plain = await ok(dir, ['kb', 'context', '--text', 'scene.txt', '--budget', '25']);
  assert.equal(plain.stdout, `${small.context}\n`);
  assert.match(plain.stderr, /1 included, \d+ of 25 tokens\n {2}\[1\] {2}Style guide \(style\) {2}always, \d+ tokens {2}notes\/style\.md\n/);
  assert.match(plain.stderr, /\n1 dropped \(over the budget\):\n {2}- {4}Mara Quill \(character\) {2}mentioned, \d+ tokens {2}notes\/mara\.md\n$/);
  const neither = await run(dir, ['kb', 'context']);
  assert.equal(neither.code, 2);
  assert.match(neither.stderr, /kb context needs a text \(--text FILE, or - for stdin\) or a --query/);
  const budget = await run(dir, ['kb', 'context', '--query', 'x', '--budget', '-5']);
  assert.equal(budget.code, 2);
  assert.match(budget.stderr, /'budget_tokens' must be a whole number/);
});

test('kb list and kb remove', async () => {
  const dir = project();
  await book(dir);
  const list = await ok(dir, ['kb', 'list']);
  assert.deepEqual(list.stdout.trim().split('\n'), [
    'notes/mara.md  "Mara Quill" (character, when_mentioned, 1 chunk)',
    'notes/harbour.txt  "The harbour" (location, by_relevance, 1 chunk)',
    'notes/style.md  "Style guide" (style, always, 1 chunk)',
    'notes/secret.md  "The keeper\'s secret" (lore, by_relevance, 1 chunk, from 5.2)',
  ]);
  const json = JSON.parse((await ok(dir, ['kb', 'list', '--json'])).stdout);
  assert.deepEqual(json[0], { id: 'notes/mara.md', name: 'Mara Quill', aliases: ['Mara'], category: 'character',
    inclusion: 'when_mentioned', source: 'notes/mara.md', chunks: 1, bytes: json[0].bytes });
  assert.deepEqual(json[3].from, { chapter: 5, scene: 2 });
  assert.equal((await ok(dir, ['kb', 'remove', 'notes/harbour.txt'])).stdout, 'removed notes/harbour.txt ("The harbour")\n');
  assert.deepEqual(JSON.parse((await ok(dir, ['kb', 'list', '--json'])).stdout).map((e) => e.id),
    ['notes/mara.md', 'notes/style.md', 'notes/secret.md']);
  const gone = await run(dir, ['kb', 'remove', 'notes/harbour.txt']);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /no entry 'notes\/harbour\.txt' in \.loom\/kb\.loomkb\n {2}hint: `loom kb list` shows the ids/);
  for (const id of ['notes/mara.md', 'notes/style.md', 'notes/secret.md']) await ok(dir, ['kb', 'remove', id]);
  const empty = await ok(dir, ['kb', 'list']);
  assert.match(empty.stderr, /the knowledge base \.loom\/kb\.loomkb is empty/);
});

test('a missing base: add creates it, the others say so and exit 2', async () => {
  const dir = project();
  for (const args of [['query', 'x'], ['list'], ['context', '--query', 'x'], ['remove', 'x']]) {
    const r = await run(dir, ['kb', ...args]);
    assert.equal(r.code, 2, args[0]);
    assert.match(r.stderr, /loom: no knowledge base at \.loom\/kb\.loomkb\n {2}hint: `loom kb add FILE\.\.\.` creates it/, args[0]);
  }
  // --kb and $LOOM_KB choose another file.
  await ok(dir, ['kb', 'add', 'notes/mara.md', '--kb', 'books/one.loomkb']);
  assert.ok(existsSync(join(dir, 'books/one.loomkb')));
  assert.equal(existsSync(base(dir)), false);
  const viaEnv = await ok(dir, ['kb', 'list'], { extraEnv: { LOOM_KB: 'books/one.loomkb' } });
  assert.match(viaEnv.stdout, /^notes\/mara\.md {2}"Mara Quill"/);
  const other = await run(dir, ['kb', 'list', '--kb', 'books/two.loomkb']);
  assert.equal(other.code, 2);
  assert.match(other.stderr, /no knowledge base at books\/two\.loomkb/);
});

test('a damaged base is refused (the snapshot\'s checksum) and left as it is', async () => {
  const dir = project();
  await book(dir);
  const bytes = readFileSync(base(dir));
  bytes[Math.floor(bytes.length / 2)] ^= 0x01;
  writeFileSync(base(dir), bytes);
  for (const args of [['query', 'ferry'], ['list'], ['add', 'notes/harbour.txt'], ['remove', 'notes/mara.md']]) {
    const r = await run(dir, ['kb', ...args]);
    assert.equal(r.code, 2, args[0]);
    assert.match(r.stderr, /loom: the knowledge base \.loom\/kb\.loomkb is damaged: .*checksum/, args[0]);
    assert.match(r.stderr, /hint: rebuild it: delete it and add your files again with `loom kb add FILE\.\.\.`/, args[0]);
  }
  assert.deepEqual(readFileSync(base(dir)), bytes);
  const run1 = await run(dir, ['run', join(root, 'workflows/examples/knowledge_context.yaml'), '-i', 'outline=x', '--kb', base(dir)]);
  assert.equal(run1.code, 2);
  assert.match(run1.stderr, /is damaged/);
});

test('an add that adds nothing leaves the base byte for byte as it was', async () => {
  const dir = project();
  await book(dir);
  const before = readFileSync(base(dir));
  copyFileSync(fixture('scanned.pdf'), join(dir, 'scanned.pdf'));
  const r = await run(dir, ['kb', 'add', 'scanned.pdf', 'missing.md']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /2 of 2 files could not be added; the knowledge base is unchanged/);
  assert.deepEqual(readFileSync(base(dir)), before);
  assert.deepEqual(readdirSync(join(dir, '.loom')), ['kb.loomkb']);
});

test('loom run --kb gives knowledge.query steps the base; without it they say to pass --kb', async () => {
  const dir = project();
  await book(dir);
  const workflow = join(root, 'workflows/examples/knowledge_context.yaml');
  const args = ['run', workflow, '-i', 'outline=Mara looks at the harbour wall', '-i', 'chapter=2', '--json'];
  const r = await ok(dir, [...args, '--kb', '.loom/kb.loomkb']);
  const result = JSON.parse(r.stdout);
  assert.equal(result.status, 'succeeded');
  assert.deepEqual(result.outputs.included.map((i) => [i.id, i.reason]),
    [['notes/style.md', 'always'], ['notes/mara.md', 'mentioned'], ['notes/harbour.txt', 'ranked']]);
  assert.match(result.outputs.brief, /^Outline: Mara looks at the harbour wall\n\nWhat we know \(\d+ tokens\):\n\[1\] Style guide/);
  // The same through $LOOM_KB.
  const viaEnv = JSON.parse((await ok(dir, args, { extraEnv: { LOOM_KB: base(dir) } })).stdout);
  assert.deepEqual(viaEnv.outputs, result.outputs);
  const without = await run(dir, args);
  assert.equal(without.code, 1);
  assert.deepEqual(JSON.parse(without.stdout).error, { code: 'bad_argument',
    message: 'no knowledge base is loaded: pass --kb FILE (or set LOOM_KB); `loom kb add` builds one' });
  const missing = await run(dir, [...args, '--kb', 'nope.loomkb']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /no knowledge base at nope\.loomkb\n {2}hint: `loom kb add FILE\.\.\.` creates it/);
});
