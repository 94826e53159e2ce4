// web/src/extract/ under node: text, Markdown, PDF (pdf.js's legacy build), e-mail (postal-mime)
// and web pages (Readability on linkedom), from the fixtures in fixtures/extract/ (make.mjs there
// writes the PDFs and the byte-exact texts) and from a local HTTP server. Every error path checks
// its ExtractError code.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DOMParser } from 'linkedom';
import { ExtractError, extractFile, extractUrl, htmlToText, pdfText } from '../src/extract/index.js';
import { withoutStyles } from '../src/extract/html.js';
import { cleanText, decodeText, markdownTitle } from '../src/extract/text.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/extract');
const bytesOf = (name) => readFileSync(path.join(FIXTURES, name));
const fixture = (name, type = '') => new File([bytesOf(name)], name, { type });
const parseHtml = (html) => new DOMParser().parseFromString(html, 'text/html');
const paragraphs = (text) => text.split('\n\n');

// Rejects with an ExtractError of `code`, about `where`, whose message explains in a few lines
// and quotes no more than a short excerpt of the input.
async function rejectsWith(promise, code, { where, match } = {}) {
  let error;
  await assert.rejects(promise, (e) => {
    error = e;
    assert.ok(e instanceof ExtractError, `an ExtractError, got ${e?.name}: ${e?.message}`);
    assert.equal(e.name, 'ExtractError');
    assert.equal(e.code, code, e.message);
    assert.ok(e.message.length > 40 && e.message.length < 600, `a message of a few lines: ${e.message}`);
    if (where !== undefined) assert.equal(e.where, where);
    if (match) assert.match(e.message, match);
    return true;
  });
  return error;
}

const LIGHTHOUSE = [
  'The Lighthouse Keeper',
  'Mara climbed the stairs every evening, counting the steps as her father had taught her. The old lamp was ' +
    "temperamental, and the keeper's log was full of complicated notes about its moods.",
  'On the night the fog came in she wrote in the margin: Café déjà vu.',
  'The second page starts a new paragraph, which goes on for two lines and ends here.',
].join('\n\n');

// ---- text and Markdown ----------------------------------------------------------------------

test('text: the BOM is dropped, CRLF becomes LF, blank lines collapse, a form feed is a break', async () => {
  const doc = await extractFile(fixture('bom_crlf.txt', 'text/plain'));
  assert.equal(doc.kind, 'text');
  assert.equal(doc.title, 'bom_crlf');
  assert.equal(doc.source, 'bom_crlf.txt');
  assert.equal(doc.text, 'Characters\n\nMara \u2014 the keeper\u2019s daughter, 17.\nAfraid of the foghorn.\n\n' +
    'Tom\tthe ferryman.\n\nLast page.');
  assert.deepEqual(doc.meta, { encoding: 'utf-8', bytes: 122, warnings: [] });
  assert.equal(doc.pages, undefined);
});

test('text: invalid UTF-8 is replaced and reported in meta.warnings', async () => {
  const doc = await extractFile(fixture('latin1.txt'));
  assert.equal(doc.text, 'Notes\n\nCaf\ufffd on the quay.\nThe caf\ufffd closes at nine.');
  assert.equal(doc.meta.warnings.length, 1);
  assert.match(doc.meta.warnings[0], /^2 invalid UTF-8 sequences were replaced .*line 3.*Windows-1252/);
  // A real U+FFFD in valid UTF-8 is not counted as a replacement.
  const real = decodeText(new TextEncoder().encode('a \ufffd b'));
  assert.deepEqual(real, { text: 'a \ufffd b', encoding: 'utf-8', warnings: [] });
  const one = decodeText(new Uint8Array([0x61, 0xff, 0x62, 0xef, 0xbf, 0xbd]));
  assert.equal(one.text, 'a\ufffdb\ufffd');
  assert.match(one.warnings[0], /^1 invalid UTF-8 sequence was replaced/);
});

test('text: UTF-16 with a BOM is decoded', async () => {
  const doc = await extractFile(fixture('utf16.txt'));
  assert.equal(doc.text, 'Déjà vu');
  assert.equal(doc.meta.encoding, 'utf-16le');
});

test('Markdown stays Markdown; its title is the front matter title, else the first # heading', async () => {
  const doc = await extractFile(fixture('chapter_notes.md'));
  assert.equal(doc.kind, 'markdown');
  assert.equal(doc.title, 'Chapter notes');
  assert.equal(doc.text, bytesOf('chapter_notes.md').toString('utf8').trimEnd());
  assert.equal(markdownTitle('```\n# not this\n```\n\nSetext title\n===\n\n# Later'), 'Setext title');
  assert.equal(markdownTitle('Intro\n\n## Part\n\n# The heading #\n'), 'The heading');
  assert.equal(markdownTitle('no heading at all'), null);
  const crlf = await extractFile(new File(['# Scenes\r\n\r\nOne  \r\nTwo\r\n\r\n\r\n\r\n    code\r\n'], 'scenes.markdown'));
  assert.equal(crlf.title, 'Scenes');
  assert.equal(crlf.text, '# Scenes\n\nOne  \nTwo\n\n\n\n    code', 'hard breaks and blank lines are kept');
});

test('cleanText: control characters go, white space at the ends goes', () => {
  assert.equal(cleanText('\n\n  \nA\u0000B\u0007 \u00a0\r\n\r\n\r\nC\u2028D  \n\n'), 'AB\n\nC\nD');
});

test('a file is typed by its content, then its extension, then its MIME type', async () => {
  const pdfAsText = await extractFile(new File([bytesOf('two_pages.pdf')], 'misnamed.txt', { type: 'text/plain' }));
  assert.equal(pdfAsText.kind, 'pdf');
  const byType = await extractFile(new File(['Just text.'], 'notes', { type: 'text/plain' }));
  assert.deepEqual([byType.kind, byType.title, byType.text], ['text', 'notes', 'Just text.']);
  const mdByType = await extractFile(new File(['# Hi\n'], 'clip', { type: 'text/markdown; charset=utf-8' }));
  assert.equal(mdByType.kind, 'markdown');
  const blob = await extractFile(new Blob(['First line here\nsecond'], { type: 'text/plain' }));
  assert.deepEqual([blob.title, blob.source], ['First line here', ''], 'a Blob without a name: the first line');
});

test('unsupported types: the message says what Loom reads and what to do', async () => {
  const e = await rejectsWith(extractFile(new File(['PK\u0003\u0004'], 'novel.docx')), 'unsupported_type',
    { where: 'novel.docx', match: /word-processor document: save it as PDF or as plain text/ });
  for (const ext of ['.txt', '.md', '.pdf', '.html', '.eml']) assert.ok(e.message.includes(ext), ext);
  await rejectsWith(extractFile(new File(['\u0089PNG'], 'map.png', { type: 'image/png' })), 'unsupported_type',
    { match: /an image: Loom does not read text in images/ });
  await rejectsWith(extractFile(new File(['x'], 'data.xyz')), 'unsupported_type', { match: /not \.xyz files/ });
  await rejectsWith(extractFile(new File(['x'], 'noext', { type: 'application/zip' })), 'unsupported_type',
    { match: /files of type application\/zip/ });
});

test('empty, blank, binary, unreadable, too large and cancelled files', async () => {
  await rejectsWith(extractFile(new File([], 'empty.txt')), 'empty', { where: 'empty.txt', match: /is empty/ });
  await rejectsWith(extractFile(new File([' \n\t\r\n'], 'blank.md')), 'empty', { match: /only white space/ });
  await rejectsWith(extractFile(new File([new Uint8Array([0x50, 0x4b, 0, 0, 1, 2, 3, 0, 0x41])], 'fake.txt')),
    'unreadable', { match: /binary data/ });
  await rejectsWith(extractFile(new File([bytesOf('two_pages.pdf').subarray(0, 0)], 'zero.pdf')), 'empty');
  const gone = { name: 'moved.txt', type: 'text/plain', size: 10,
    arrayBuffer: () => Promise.reject(new DOMException('The file could not be read', 'NotReadableError')) };
  await rejectsWith(extractFile(gone), 'unreadable', { where: 'moved.txt', match: /NotReadableError.*Pick it again/ });
  await rejectsWith(extractFile(null), 'unreadable');
  await rejectsWith(extractFile(new File(['x'.repeat(2048)], 'big.txt'), { maxBytes: 1024 }), 'too_large',
    { match: /limit is 0\.0 MB|limit is/ });
  const aborted = AbortSignal.abort();
  await rejectsWith(extractFile(fixture('bom_crlf.txt'), { signal: aborted }), 'aborted', { match: /cancelled/ });
});

// ---- PDF -------------------------------------------------------------------------------------

test('PDF: two pages, paragraphs by position, a hyphenated break joined, Café déjà vu', async () => {
  const doc = await extractFile(fixture('two_pages.pdf', 'application/pdf'));
  assert.equal(doc.kind, 'pdf');
  assert.equal(doc.pages, 2);
  assert.equal(doc.title, 'The Lighthouse Keeper', 'from the metadata');
  assert.equal(doc.source, 'two_pages.pdf');
  assert.equal(doc.text, LIGHTHOUSE, 'the page number "2" at the foot of page 2 is left out');
  assert.deepEqual(doc.meta, { pages: 2, warnings: [], author: 'A. Writer', producer: 'loom fixture script' });
});

test('PDF: without metadata the title is the first line; indented lines start paragraphs', async () => {
  const doc = await extractFile(fixture('indented.pdf'));
  assert.equal(doc.title, 'Notes on the Harbour');
  assert.deepEqual(paragraphs(doc.text), [
    'Notes on the Harbour',
    'The harbour wall was built in 1822, after the storm that took the old pier.',
    'Fishing boats moor on the east side; the ferry uses the west.',
    'A well-known pub faces the slipway.',
  ]);
});

test('PDF: encrypted with an owner password only opens like any other', async () => {
  const doc = await extractFile(fixture('owner_only.pdf'));
  assert.equal(doc.text, LIGHTHOUSE);
});

test('PDF errors: a password, no text layer (no OCR), truncated, not a PDF', async () => {
  await rejectsWith(extractFile(fixture('encrypted.pdf')), 'pdf_encrypted', { where: 'encrypted.pdf', match: /password/ });
  await rejectsWith(extractFile(fixture('scanned.pdf')), 'pdf_no_text',
    { where: 'scanned.pdf', match: /its 2 pages are images.*no OCR/ });
  await rejectsWith(extractFile(fixture('truncated.pdf')), 'pdf_broken', { where: 'truncated.pdf', match: /damaged/ });
  await rejectsWith(extractFile(fixture('garbage.pdf')), 'pdf_broken');
  await rejectsWith(extractFile(fixture('two_pages.pdf'), { signal: AbortSignal.abort() }), 'aborted');
});

test('PDF: cancelling while pdf.js reads rejects with aborted', async () => {
  const controller = new AbortController();
  const pending = extractFile(fixture('two_pages.pdf'), { signal: controller.signal });
  controller.abort();
  await rejectsWith(pending, 'aborted');
});

// A text item as pdf.js gives it: [size, 0, 0, size, x, y].
const item = (str, x, y, { size = 12, width = str.length * size * 0.5, eol = false } = {}) =>
  ({ str, transform: [size, 0, 0, size, x, y], width, height: size, hasEOL: eol });

test('pdfText: items without spaces are spaced by their positions; touching items are not', () => {
  const { text } = pdfText([[item('Hello', 72, 700, { width: 30 }), item('world', 106, 700, { width: 30 }),
    item('wide', 140, 700, { width: 24 }), item('ly', 164.2, 700, { width: 12 })]]);
  assert.equal(text, 'Hello world widely');
});

test('pdfText: a paragraph cut by a page break is joined again; a running header goes', () => {
  const header = (n) => item(`The Harbour — ${n}`, 200, 760, { size: 9 });
  const pages = [
    [header(1), item('It was late when the ferry came in, and the', 72, 700), item('whole quay was', 72, 686)],
    [header(2), item('waiting for it. The captain was ill-', 72, 700), item('tempered and tired.', 72, 686)],
    [header(3), item('A new chapter.', 72, 700)],
  ];
  assert.equal(pdfText(pages).text, 'It was late when the ferry came in, and the whole quay was waiting for it. ' +
    'The captain was illtempered and tired.\n\nA new chapter.');
});

test('pdfText: a double-spaced manuscript keeps its indented paragraphs; a heading is its own', () => {
  const lines = [
    item('CHAPTER ONE', 250, 720, { size: 14 }),
    item('The rain had not stopped for three', 108, 680), item('days.', 72, 656),
    item('Mara counted the steps again.', 108, 632),
  ];
  assert.deepEqual(paragraphs(pdfText([lines]).text),
    ['CHAPTER ONE', 'The rain had not stopped for three days.', 'Mara counted the steps again.']);
  const { text, emptyPages } = pdfText([[], lines.slice(1, 3), []]);
  assert.equal(text, 'The rain had not stopped for three days.');
  assert.deepEqual(emptyPages, [1, 3]);
});

// ---- e-mail ----------------------------------------------------------------------------------

test('e-mail: subject as title, from/to/cc/date in meta, the plain-text body', async () => {
  const mail = await extractFile(fixture('plain.eml'), { parseHtml });
  assert.equal(mail.kind, 'eml');
  assert.equal(mail.title, 'Notes on chapter three');
  assert.equal(mail.source, 'plain.eml');
  assert.equal(mail.meta.from, 'Ines Moreau <ines@example.org>');
  assert.deepEqual(mail.meta.to, ['Sam Writer <sam@example.net>', 'editor@example.net']);
  assert.deepEqual(mail.meta.cc, ['Agent <agent@example.com>']);
  assert.equal(mail.meta.date, '2024-03-12T08:15:00.000Z');
  assert.equal(mail.meta.body, 'text/plain');
  assert.deepEqual(mail.meta.attachments, []);
  assert.deepEqual(paragraphs(mail.text), ['Sam,',
    "The lighthouse scene works, but the keeper's daughter should not know\nabout the letter yet. Move that reveal to chapter five.",
    'Also: the ferry runs only in summer.', '--\nInes']);
});

test('e-mail: an HTML-only message is reduced to text, without its style, script or images', async () => {
  const mail = await extractFile(fixture('html_only.eml', 'message/rfc822'), { parseHtml });
  assert.equal(mail.meta.body, 'text/html');
  assert.equal(mail.meta.from, 'Harbour Museum <news@museum.example>');
  assert.equal(mail.text, 'The archive reopens\n\nThe reading room is open on Tuesdays and Thursdays.\n\n' +
    "- Ship logs 1820–1900\n- Harbour maps\n\nAsk for the keeper's letters at the desk.");
  await rejectsWith(extractFile(fixture('html_only.eml')), 'unavailable', { match: /no HTML parser/ });
  const fragment = await extractFile(new File(['Subject: hi\nContent-Type: text/html\n\n<p>One</p><p>Two &amp; three</p>'],
    'fragment.eml'), { parseHtml });
  assert.equal(fragment.text, 'One\n\nTwo & three');
});

test('e-mail: multipart with attachments: the text part only, attachments listed', async () => {
  const mail = await extractFile(fixture('attachment.eml'), { parseHtml });
  assert.equal(mail.title, 'The map, and my notes');
  assert.equal(mail.text, 'Here is the harbour map I promised.\n\nMy notes on the tides are attached as well.');
  assert.doesNotMatch(mail.text, /SECRET-ATTACHMENT-TEXT/, 'an attached text file is not read');
  assert.deepEqual(mail.meta.attachments, [
    { name: 'harbour map.pdf', type: 'application/pdf', size: 26 },
    { name: 'tides.txt', type: 'text/plain', size: 45 },
  ]);
});

test('e-mail: quoted-printable UTF-8 with soft breaks and an encoded subject', async () => {
  const mail = await extractFile(fixture('quoted_printable.eml'), { parseHtml });
  assert.equal(mail.title, 'Café déjà vu');
  assert.equal(mail.meta.from, 'Inès Moreau <ines@example.org>');
  assert.equal(mail.text, 'Café déjà vu: the narrator has been in this harbour before, but she does not remember ' +
    'when.\n\nNaïve readers will not notice. — I.');
});

test('e-mail errors: only an attachment, no headers, no MIME boundary', async () => {
  await rejectsWith(extractFile(fixture('attachment_only.eml'), { parseHtml }), 'eml_no_text',
    { where: 'attachment_only.eml', match: /neither a plain-text nor an HTML part.*scan0001\.pdf/ });
  const e = await rejectsWith(extractFile(fixture('not_an_email.eml'), { parseHtml }), 'eml_malformed',
    { match: /does not start with mail headers/ });
  assert.doesNotMatch(e.message, /wrong name/, 'the message does not quote the file');
  await rejectsWith(extractFile(fixture('no_boundary.eml'), { parseHtml }), 'eml_malformed', { match: /boundary/ });
  await rejectsWith(extractFile(new File(['From: a@b.c\nSubject: empty\n\n'], 'empty_body.eml'), { parseHtml }),
    'eml_no_text', { match: /body is empty/ });
});

// ---- HTML ------------------------------------------------------------------------------------

test('htmlToText: blocks are paragraphs, lists lines, <br> a line break, <pre> as it is', () => {
  const doc = parseHtml('<!doctype html><html><head><title>Not this</title></head><body><h2>Title</h2><p>One <i>two</i>\n three<br>four</p><div>Five<p>six</p>seven</div>' +
    '<ol start="3"><li>a</li><li><p>b</p><ul><li>c</li></ul></li></ol><pre>  x\n    y</pre>' +
    '<table><tr><td>k</td><td>v</td></tr></table><p hidden>secret</p><button>Press</button>' +
    '<script>bad()</script><style>.x{}</style></body></html>');
  assert.equal(htmlToText(doc.body), 'Title\n\nOne two three\nfour\n\nFive\n\nsix\n\nseven\n\n3. a\n4. b\n  - c\n\n' +
    '  x\n    y\n\nk\tv');
});

test('withoutStyles: no style or script elements, no style or on* attributes, the text untouched', () => {
  assert.equal(withoutStyles('<HEAD><Style media=x>p { color: red }</STYLE><link rel=stylesheet href=a.css>' +
    '<script>if (a < b) x("</p>")</script></head><p Style="a:b" class=x onClick=\'go()\' style=c:d hidden>' +
    'The style="not an attribute" stays; a<b onload=x>bold</b>.</p><template><p>t</p></template>'),
  '<HEAD></head><p class=x hidden>The style="not an attribute" stays; a<b>bold</b>.</p>');
});

test('a saved web page (.html) is read like a fetched one', async () => {
  const page = await extractFile(fixture('article.html'), { parseHtml });
  assert.equal(page.kind, 'html');
  assert.equal(page.title, 'Lighthouses of the North Coast');
  assert.equal(page.source, 'article.html');
  assert.ok(page.text.includes('Tomas Reed'));
  await rejectsWith(extractFile(fixture('scripted.html'), { parseHtml }), 'no_content', { where: 'scripted.html' });
});

// The test server: each path answers as its entry says; `requests` records what came in.
async function withServer(fn) {
  const requests = [];
  const routes = {
    '/article': [200, { 'Content-Type': 'text/html; charset=utf-8' }, bytesOf('article.html')],
    '/moved': [302, { Location: '/article' }, ''],
    '/scripted': [200, { 'Content-Type': 'text/html' }, bytesOf('scripted.html')],
    '/notes/chapter_notes.md': [200, { 'Content-Type': 'text/markdown; charset=utf-8' }, bytesOf('chapter_notes.md')],
    '/files/report': [200, { 'Content-Type': 'application/pdf' }, bytesOf('two_pages.pdf')],
    '/download/two_pages.pdf': [200, { 'Content-Type': 'application/octet-stream' }, bytesOf('two_pages.pdf')],
    '/letter.eml': [200, { 'Content-Type': 'message/rfc822' }, bytesOf('quoted_printable.eml')],
    '/old': [200, { 'Content-Type': 'text/html; charset=windows-1252' },
      Buffer.from('<html><head><title>Old page</title></head><body><article><p>Caf\xe9 on the quay, ' +
        'and a long enough paragraph of text to count as the article of this old page.</p></article></body></html>',
      'latin1')],
    '/empty': [200, { 'Content-Type': 'text/html' }, ''],
    '/photo': [200, { 'Content-Type': 'image/jpeg' }, Buffer.from([0xff, 0xd8, 0xff])],
    '/huge': [200, { 'Content-Type': 'text/plain', 'Content-Length': '5000' }, 'x'.repeat(5000)],
    '/stream': [200, { 'Content-Type': 'text/plain' }, null],  // chunked, no length
    '/forbidden': [403, { 'Content-Type': 'text/html' }, '<p>no robots</p>'],
    '/broken': [500, {}, 'oops'],
  };
  const server = http.createServer((req, res) => {
    requests.push({ url: req.url, headers: req.headers });
    const route = routes[req.url];
    if (!route) {
      res.writeHead(404, { 'Content-Type': 'text/html' }).end('<h1>Not Found</h1>');
      return;
    }
    const [status, headers, body] = route;
    if (body === null) {
      res.writeHead(status, headers);
      for (let i = 0; i < 10; ++i) res.write('y'.repeat(500));
      res.end();
      return;
    }
    res.writeHead(status, headers).end(body);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await fn(`http://127.0.0.1:${server.address().port}`, requests);
  } finally {
    server.closeAllConnections?.();
    await new Promise((resolve) => server.close(resolve));
  }
}

test('web pages by URL, from a local server', async (t) => {
  await withServer(async (base, requests) => {
    await t.test('an article: its readable text, headings as paragraphs, no menus, ads, footers or scripts', async () => {
      const page = await extractUrl(`${base}/article#visiting`, { parseHtml });
      assert.equal(page.kind, 'html');
      assert.equal(page.title, 'Lighthouses of the North Coast');
      assert.equal(page.source, `${base}/article`, 'the fragment is dropped');
      const ps = paragraphs(page.text);
      assert.ok(ps.includes('The keeper’s log'), 'a heading is a paragraph of its own');
      assert.ok(ps.includes('Visiting today'));
      assert.ok(ps.includes('- Tours every hour from ten\n- Tickets at the museum'));
      assert.ok(ps.some((p) => p.startsWith('The first lighthouse on the north coast was lit in 1822, after a winter storm')));
      assert.ok(page.text.includes('a café on the quay'));
      for (const junk of ['INJECTED', 'Buy our calendar', 'All rights reserved', 'Shop', 'open daily', 'changed by a script', 'font-family']) {
        assert.ok(!page.text.includes(junk), `no "${junk}"`);
      }
      assert.equal(page.meta.url, `${base}/article`);
      assert.equal(page.meta.byline, 'Ada Lantern');
      assert.equal(page.meta.siteName, 'Harbour Museum');
      assert.equal(page.meta.lang, 'en');
      assert.equal(page.meta.finalUrl, undefined);
      const sent = requests.at(-1);
      assert.equal(sent.url, '/article');
      assert.equal(sent.headers.cookie, undefined);
      assert.equal(sent.headers.referer, undefined);
      assert.match(sent.headers.accept, /^text\/html/);
    });

    await t.test('a redirect is followed and noted', async () => {
      const page = await extractUrl(`${base}/moved`, { parseHtml });
      assert.equal(page.title, 'Lighthouses of the North Coast');
      assert.equal(page.source, `${base}/moved`);
      assert.equal(page.meta.finalUrl, `${base}/article`);
    });

    await t.test('other kinds by their Content-Type or, for octet-stream, the path', async () => {
      const md = await extractUrl(`${base}/notes/chapter_notes.md`, { parseHtml });
      assert.deepEqual([md.kind, md.title], ['markdown', 'Chapter notes']);
      const pdf = await extractUrl(`${base}/files/report`);
      assert.deepEqual([pdf.kind, pdf.pages, pdf.text], ['pdf', 2, LIGHTHOUSE]);
      const download = await extractUrl(`${base}/download/two_pages.pdf`);
      assert.equal(download.kind, 'pdf');
      const mail = await extractUrl(`${base}/letter.eml`, { parseHtml });
      assert.deepEqual([mail.kind, mail.title], ['eml', 'Café déjà vu']);
      const old = await extractUrl(`${base}/old`, { parseHtml });
      assert.match(old.text, /^Café on the quay/, 'the declared charset is used');
    });

    await t.test('a status other than 2xx: its status, and what it means', async () => {
      const e = await rejectsWith(extractUrl(`${base}/nowhere`, { parseHtml }), 'http_status',
        { where: `${base}/nowhere`, match: /answered 404 Not Found.*check the address/ });
      assert.equal(e.status, 404);
      assert.equal((await rejectsWith(extractUrl(`${base}/forbidden`, { parseHtml }), 'http_status',
        { match: /403.*sign in/ })).status, 403);
      await rejectsWith(extractUrl(`${base}/broken`, { parseHtml }), 'http_status', { match: /500.*try again later/ });
    });

    await t.test('no readable content, an empty page, an image, too large', async () => {
      await rejectsWith(extractUrl(`${base}/scripted`, { parseHtml }), 'no_content', { match: /Save Page As/ });
      await rejectsWith(extractUrl(`${base}/empty`, { parseHtml }), 'empty');
      await rejectsWith(extractUrl(`${base}/photo`, { parseHtml }), 'unsupported_type', { match: /image\/jpeg/ });
      await rejectsWith(extractUrl(`${base}/huge`, { parseHtml, maxBytes: 1000 }), 'too_large');
      await rejectsWith(extractUrl(`${base}/stream`, { parseHtml, maxBytes: 1000 }), 'too_large');
      const ok = await extractUrl(`${base}/stream`, { parseHtml, maxBytes: 10_000 });
      assert.equal(ok.text.length, 5000);
    });
  });
});

test('URLs that are not http(s) are refused before any request', async () => {
  const fetch = () => assert.fail('no request may be made');
  for (const url of ['ftp://example.org/file.txt', 'file:///etc/passwd', 'javascript:alert(1)', 'example.org/page', '',
    'data:text/html,<p>hi</p>']) {
    await rejectsWith(extractUrl(url, { fetch, parseHtml }), 'bad_url', { match: /http:\/\/ or https:\/\// });
  }
  await rejectsWith(extractUrl('https://user:pw@example.org/', { fetch }), 'bad_url', { match: /user name or password/ });
  const long = `ftp://example.org/${'a'.repeat(5000)}`;
  const e = await rejectsWith(extractUrl(long, { fetch }), 'bad_url');
  assert.ok(e.message.length < 300, 'only a short excerpt of the address is quoted');
  assert.equal(e.where, long);
});

test('a fetch the browser refuses (TypeError, as for CORS) explains CORS and the workaround', async () => {
  const url = 'https://novel-research.example/article';
  const fetch = async () => {
    throw new TypeError('Failed to fetch');
  };
  const e = await rejectsWith(extractUrl(url, { fetch, parseHtml }), 'cors',
    { where: url, match: /a site must allow pages of other sites to read it \(CORS\).*save it.*add the saved file/ });
  assert.ok(e.cause instanceof TypeError);
});

test('a fetch cancelled by the signal rejects with aborted', async () => {
  const controller = new AbortController();
  const fetch = (url, { signal }) => new Promise((resolve, reject) => {
    signal.addEventListener('abort', () => reject(new DOMException('The operation was aborted.', 'AbortError')));
  });
  const pending = extractUrl('https://example.org/slow', { fetch, signal: controller.signal, parseHtml });
  controller.abort();
  await rejectsWith(pending, 'aborted');
});
