// export/epub.js — a manuscript project as an EPUB 3 book (made with jszip), for e-readers and
// for sending a draft to beta readers. Only the project's outline and its scenes' current text go
// in: no settings, keys or revisions.
//
//   const bytes = await projectToEpub(createManuscript({ storage }), projectId, { lang: 'en' });
//   download(new Blob([bytes], { type: 'application/epub+zip' }), 'The Night Ferry.epub');
//
// The book (OCF container, EPUB 3.3):
//   mimetype                    first entry, stored uncompressed: "application/epub+zip"
//   META-INF/container.xml      points at OEBPS/content.opf
//   OEBPS/content.opf           metadata (dc:identifier urn:uuid:<project id>, dc:title,
//                               dc:language, dcterms:modified), manifest, spine
//   OEBPS/nav.xhtml             the table of contents: acts with their chapters
//   OEBPS/title.xhtml           the title page (first in the spine)
//   OEBPS/chapter-001.xhtml ... one file per chapter in outline order; the first chapter of an act
//                               opens with the act's title as a part heading (<h1>), each chapter
//                               has its title as <h2>; a scene's paragraphs are its text split at
//                               blank lines (a single line break stays a <br/>); scenes are
//                               separated by <hr class="scene-break"/>; empty scenes are skipped
//   OEBPS/style.css
// Acts without chapters are left out. Every piece of text is escaped for XML (& < > " ') and
// characters XML cannot hold (control characters, lone surrogates) are dropped, so any text makes
// well-formed XHTML.

import JSZip from 'jszip';
import { readProject, bookOutline, oneLine, sceneText } from './markdown.js';
import { StorageError } from '../storage.js';

const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };
// Not allowed in XML 1.0: C0 controls other than tab, LF and CR; U+FFFE, U+FFFF; lone surrogates.
const NOT_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/// `text` escaped for XML text and attribute values, without the characters XML cannot hold.
export function escapeXml(text) {
  return String(text ?? '').replace(NOT_XML, '').replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

/// `text` as XHTML paragraphs: split at blank lines; single line breaks inside become <br/>.
export function paragraphs(text) {
  return text.split(/\n[ \t]*\n\s*/).map((p) => p.trim()).filter(Boolean)
    .map((p) => `<p>${p.split('\n').map((line) => escapeXml(line.trim())).join('<br/>')}</p>`);
}

// A timestamp as dcterms:modified wants it: CCYY-MM-DDThh:mm:ssZ.
function modified(ms) {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function xhtml(title, lang, body) {
  return '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE html>\n' +
    `<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops" xml:lang="${escapeXml(lang)}" lang="${escapeXml(lang)}">\n` +
    `<head>\n<meta charset="UTF-8"/>\n<title>${escapeXml(title)}</title>\n` +
    '<link rel="stylesheet" type="text/css" href="style.css"/>\n</head>\n' +
    `<body>\n${body}\n</body>\n</html>\n`;
}

const CONTAINER = '<?xml version="1.0" encoding="UTF-8"?>\n' +
  '<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">\n' +
  '  <rootfiles>\n    <rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>\n' +
  '  </rootfiles>\n</container>\n';

const STYLE = 'body { font-family: serif; line-height: 1.5; }\n' +
  'h1.part { text-align: center; margin: 3em 0 2em; page-break-before: always; }\n' +
  'h2 { text-align: center; margin: 2em 0 1em; }\n' +
  'p { margin: 0; text-indent: 1.5em; }\n' +
  'h2 + p, hr.scene-break + p { text-indent: 0; }\n' +
  'hr.scene-break { border: none; margin: 1.5em 0; text-align: center; }\n' +
  'hr.scene-break::after { content: "* * *"; }\n' +
  '.title { text-align: center; margin-top: 30%; }\n';

/// Project `projectId` of `manuscript` (createManuscript()'s result) as an EPUB 3 file (see the
/// top of this file). `lang` is the book's language (a BCP 47 tag, 'en' by default); `now` the
/// time of dcterms:modified (a function returning milliseconds, or milliseconds; Date.now by
/// default). Resolves the bytes. Rejects StorageError 'not_found' when there is no such project,
/// 'bad_argument' for a `lang` that is not a language tag.
export async function projectToEpub(manuscript, projectId, { lang = 'en', now = Date.now } = {}) {
  if (typeof lang !== 'string' || !/^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$/.test(lang)) {
    throw new StorageError('bad_argument', `Exporting project '${projectId}' as EPUB failed: 'lang' must be a ` +
      `language tag such as 'en' or 'pt-BR' (got ${JSON.stringify(lang)}).`);
  }
  const stamp = typeof now === 'function' ? now() : now;
  const { project, scenes } = await readProject(manuscript, projectId);
  const title = oneLine(project.title) || 'Untitled';
  const acts = bookOutline(project, scenes).filter((act) => act.chapters.length > 0);

  const chapters = [];  // {file, id, title, act}
  const files = [];     // [name, content]
  for (const act of acts) {
    act.chapters.forEach((chapter, i) => {
      const n = chapters.length + 1;
      const file = `chapter-${String(n).padStart(3, '0')}.xhtml`;
      const entry = { file, id: `chapter-${n}`, title: chapter.title };
      chapters.push(entry);
      (act.entries ??= []).push(entry);
      const body = [];
      if (i === 0) body.push(`<h1 class="part" id="part-${n}">${escapeXml(act.title)}</h1>`);
      body.push('<section epub:type="chapter">', `<h2>${escapeXml(chapter.title)}</h2>`);
      let first = true;
      for (const scene of chapter.scenes) {
        const text = sceneText(scene);
        if (!text.trim()) continue;
        if (!first) body.push('<hr class="scene-break"/>');
        first = false;
        body.push(...paragraphs(text));
      }
      body.push('</section>');
      files.push([file, xhtml(chapter.title, lang, body.join('\n'))]);
      act.firstFile ??= { file, anchor: `part-${n}` };
    });
  }

  const toc = acts.map((act) => `    <li><a href="${act.firstFile.file}#${act.firstFile.anchor}">${escapeXml(act.title)}</a>\n` +
    `      <ol>\n${act.entries.map((c) => `        <li><a href="${c.file}">${escapeXml(c.title)}</a></li>`).join('\n')}\n` +
    '      </ol>\n    </li>').join('\n');
  const nav = xhtml(title, lang, '<nav epub:type="toc" id="toc">\n  <h1>Contents</h1>\n  <ol>\n' +
    `    <li><a href="title.xhtml">${escapeXml(title)}</a></li>\n${toc}\n  </ol>\n</nav>`);
  const titlePage = xhtml(title, lang, `<section epub:type="titlepage" class="title">\n<h1>${escapeXml(title)}</h1>\n</section>`);

  const manifest = [
    '<item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>',
    '<item id="style" href="style.css" media-type="text/css"/>',
    '<item id="title" href="title.xhtml" media-type="application/xhtml+xml"/>',
    ...chapters.map((c) => `<item id="${c.id}" href="${c.file}" media-type="application/xhtml+xml"/>`),
  ];
  const spine = ['<itemref idref="title"/>', ...chapters.map((c) => `<itemref idref="${c.id}"/>`)];
  const opf = '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="book-id" xml:lang="${escapeXml(lang)}">\n` +
    '  <metadata xmlns:dc="http://purl.org/dc/elements/1.1/">\n' +
    `    <dc:identifier id="book-id">urn:uuid:${escapeXml(project.id)}</dc:identifier>\n` +
    `    <dc:title>${escapeXml(title)}</dc:title>\n` +
    `    <dc:language>${escapeXml(lang)}</dc:language>\n` +
    `    <meta property="dcterms:modified">${modified(stamp)}</meta>\n` +
    '  </metadata>\n' +
    `  <manifest>\n${manifest.map((m) => `    ${m}`).join('\n')}\n  </manifest>\n` +
    `  <spine>\n${spine.map((s) => `    ${s}`).join('\n')}\n  </spine>\n` +
    '</package>\n';

  const zip = new JSZip();
  const date = new Date(stamp);
  // The OCF rules: `mimetype` first, stored (not compressed), with no extra field.
  zip.file('mimetype', 'application/epub+zip', { compression: 'STORE', date });
  zip.file('META-INF/container.xml', CONTAINER, { date });
  zip.file('OEBPS/content.opf', opf, { date });
  zip.file('OEBPS/nav.xhtml', nav, { date });
  zip.file('OEBPS/style.css', STYLE, { date });
  zip.file('OEBPS/title.xhtml', titlePage, { date });
  for (const [file, content] of files) zip.file(`OEBPS/${file}`, content, { date });
  return zip.generateAsync({ type: 'uint8array', compression: 'DEFLATE', compressionOptions: { level: 9 },
    mimeType: 'application/epub+zip' });
}
