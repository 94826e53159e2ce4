// pdf.js — a PDF's text layer as paragraphs, with pdf.js (pdfjs-dist).
//
//   const doc = await extractPdf(bytes, { where: 'notes.pdf' });  // {kind: 'pdf', title, text, pages, meta}
//   pdfText(pagesOfItems)  // the layout step alone, on pdf.js getTextContent() items: pure
//
// pdf.js is loaded on first use: in a browser, the modern build with its worker served from our
// own origin (pdfjs_browser.js; the CSP's worker-src 'self'); under node, the legacy build, which
// runs the worker's code in the same thread. Callers may pass their own loaded module as `pdfjs`.
import { ExtractError, checkAborted, excerpt, quoted } from './errors.js';
import { baseTitle } from './text.js';

const NODE_BUILD = 'pdfjs-dist/legacy/build/pdf.mjs';

const isNode = () => typeof process !== 'undefined' && !!process.versions?.node && typeof window === 'undefined';

let loading = null;

/// The pdf.js module, loaded once. Rejects if it cannot be loaded (a failed chunk download).
export function loadPdfjs() {
  loading ??= (isNode()
    ? import(/* @vite-ignore */ NODE_BUILD)
    : import('./pdfjs_browser.js').then((m) => m.pdfjs)
  ).catch((e) => {
    loading = null;  // a later call tries again (the network may be back)
    throw e;
  });
  return loading;
}

// ---- layout: text items to lines to paragraphs ------------------------------------------------

const median = (values) => {
  if (!values.length) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};

/// The lines of one page from its text items ({str, transform, width, hasEOL}, pdf.js order):
/// [{text, x, y, size, right}]. Items on one baseline that follow each other left to right form a
/// line; a gap wider than a fifth of the font size between two items is a space.
export function pageLines(items) {
  const lines = [];
  let line = null;
  for (const item of items) {
    if (typeof item?.str !== 'string' || !Array.isArray(item.transform)) continue;  // marked content
    const [, , c, d, x, y] = item.transform;
    const size = Math.hypot(c, d) || item.height || 1;
    const width = Number.isFinite(item.width) ? item.width : 0;
    if (!item.str) {
      if (item.hasEOL && line) line.closed = true;
      continue;
    }
    const blank = !item.str.trim();
    const tolerance = 0.4 * Math.max(size, line?.size ?? 0);
    if (line && !line.closed && Math.abs(y - line.y) <= tolerance && x >= line.right - Math.max(size, line.size)) {
      if (blank) {
        if (!/\s$/.test(line.text)) line.text += ' ';
      } else {
        const gap = x - line.right;
        if (gap > 0.2 * Math.min(size, line.size) && !/\s$/.test(line.text) && !/^\s/.test(item.str)) line.text += ' ';
        line.text += item.str;
        if (size > line.size && item.str.trim().length > 1) line.size = size;
      }
      line.right = Math.max(line.right, x + width);
    } else {
      if (blank) continue;
      line = { text: item.str, x, y, size, right: x + width, closed: false };
      lines.push(line);
    }
    if (item.hasEOL) line.closed = true;
  }
  return lines
    .map(({ text, x, y, size, right }) => ({ text: text.replace(/\s+/g, ' ').trim(), x, y, size, right }))
    .filter((l) => l.text);
}

// A page number or a running header/footer line: "12", "- 12 -", "Page 3", "xiv".
const PAGE_NUMBER = /^(?:page\s+)?[-–—]?\s*(?:\d{1,4}|[ivxlcdm]{1,7})\s*[-–—]?(?:\s*(?:of|\/)\s*\d{1,4})?$/i;
// A list item's first line.
const BULLET = /^[•◦▪▫‣●○■□➢►–]\s/u;
const sameSize = (a, b) => Math.abs(a - b) <= 0.15 * Math.max(a, b);

/// One page's lines grouped into paragraphs (arrays of lines). A new paragraph starts where the
/// baseline drops by more than 1.3 times the page's usual line spacing, where the font size
/// changes (a heading), where a line is indented after a short one (a novel's paragraphs), at a
/// bullet, and where the text jumps up (a new column or a box).
export function pageParagraphs(lines) {
  if (!lines.length) return [];
  const spacings = [];
  for (let i = 1; i < lines.length; ++i) {
    const dy = lines[i - 1].y - lines[i].y;
    if (dy > 0 && dy < 3 * lines[i].size && sameSize(lines[i - 1].size, lines[i].size)) spacings.push(dy);
  }
  const spacing = median(spacings);
  // Where full lines end: most lines of a page of prose are full, so a high quantile of the
  // lines' right ends (the maximum would be a page number or a header set further right).
  const rights = lines.map((l) => l.right).sort((a, b) => a - b);
  const rightEdge = rights[Math.floor(0.75 * (rights.length - 1))];

  const paragraphs = [];
  let current = null;
  lines.forEach((line, i) => {
    const prev = lines[i - 1];
    let start = !prev;
    if (prev) {
      const dy = prev.y - line.y;
      const usual = Number.isFinite(spacing) ? spacing : 1.2 * line.size;
      // An indent: this line starts right of the previous one, which ended short of the edge
      // (a hanging indent's continuation follows a full line).
      const indent = line.x > prev.x + 0.8 * line.size && prev.right < rightEdge - 2 * line.size;
      start = dy > 1.3 * usual || dy < -line.size || !sameSize(prev.size, line.size) || indent ||
        BULLET.test(line.text);
    }
    if (start) {
      current = [];
      paragraphs.push(current);
    }
    current.push(line);
  });
  return paragraphs;
}

// Joins the lines of a paragraph: a word broken by a hyphen at a line's end ("compli-" +
// "cated") is joined without it when the next line starts in lower case; a soft hyphen always.
function joinLines(texts) {
  let out = '';
  for (const text of texts) {
    if (!out) {
      out = text;
    } else if (/\u00ad$/.test(out)) {
      out = out.slice(0, -1) + text;
    } else if (/\p{L}-$/u.test(out) && /^\p{Ll}/u.test(text)) {
      out = out.slice(0, -1) + text;
    } else if (/[—/]$/.test(out)) {
      out += text;
    } else {
      out += ` ${text}`;
    }
  }
  return out.replace(/\u00ad/g, '');
}

/// The text of a document from its pages' text items (an array per page, in pdf.js's
/// getTextContent() form): paragraphs separated by blank lines. Page numbers alone on a page's
/// first or last line, and a header or footer line repeated on most pages, are left out. A
/// paragraph that a page break cuts (the next page starts in lower case, or the page ends in a
/// hyphenated word) is joined again. Returns {text, firstLine, emptyPages: [page numbers]}.
export function pdfText(pagesOfItems) {
  const pages = pagesOfItems.map((items) => pageLines(items ?? []));
  // Running headers and footers: the same first (or last) line, digits aside, on most pages.
  const key = (l) => l?.text.replace(/\d+/g, '#').toLowerCase();
  const repeated = (pick) => {
    const counts = new Map();
    for (const lines of pages) {
      const k = key(pick(lines));
      if (k) counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    const withText = pages.filter((l) => l.length).length;
    return new Set([...counts].filter(([, n]) => withText >= 3 && n >= Math.max(3, 0.6 * withText)).map(([k]) => k));
  };
  const heads = repeated((l) => l[0]);
  const feet = repeated((l) => l.at(-1));
  const firstLine = pages.find((l) => l.length)?.[0]?.text ?? '';

  const out = [];  // paragraphs as strings; `open` says the last one may go on
  const emptyPages = [];
  let open = false;
  pages.forEach((all, p) => {
    let lines = all;
    if (lines.length > 1 && (heads.has(key(lines[0])) || PAGE_NUMBER.test(lines[0].text))) lines = lines.slice(1);
    if (lines.length > 1 && (feet.has(key(lines.at(-1))) || PAGE_NUMBER.test(lines.at(-1).text))) lines = lines.slice(0, -1);
    const paragraphs = pageParagraphs(lines).map((ls) => joinLines(ls.map((l) => l.text)));
    if (!paragraphs.length) {
      emptyPages.push(p + 1);
      return;
    }
    paragraphs.forEach((text, i) => {
      if (i === 0 && open && out.length && (/^\p{Ll}/u.test(text) || /(\p{L}-|\u00ad)$/u.test(out.at(-1)))) {
        out[out.length - 1] = joinLines([out.at(-1), text]);
      } else {
        out.push(text);
      }
    });
    open = true;
  });
  return { text: out.join('\n\n'), firstLine, emptyPages };
}

// ---- the document -----------------------------------------------------------------------------

function pdfDate(pdfjs, value) {
  if (!value) return undefined;
  try {
    const date = pdfjs.PDFDateString?.toDateObject(value);
    return date && !Number.isNaN(date.getTime()) ? date.toISOString() : undefined;
  } catch {
    return undefined;
  }
}

// A metadata title worth showing: not empty, not "Untitled", not a word processor's file name.
function usableTitle(value) {
  const title = typeof value === 'string' ? value.trim() : '';
  if (!title || /^untitled\b/i.test(title) || /^microsoft (word|powerpoint) - /i.test(title)) return null;
  if (/\.(docx?|odt|rtf|pages|tex|pdf|indd)$/i.test(title)) return null;
  return title;
}

function toPdfError(e, where) {
  if (e instanceof ExtractError) return e;
  const name = e?.name ?? '';
  if (name === 'PasswordException') {
    return new ExtractError('pdf_encrypted', `${quoted(where)} is protected by a password, and Loom cannot open ` +
      'protected PDFs. Open it with its password in a PDF reader, save or print a copy without protection, and add ' +
      'that copy.', { where, cause: e });
  }
  const detail = e?.message ? ` (${excerpt(e.message, 100)})` : '';
  return new ExtractError('pdf_broken', `${quoted(where)} is damaged or is not a complete PDF${detail}, so Loom ` +
    'could not read it. If it was downloaded, download it again; if a PDF reader still opens it, save a new copy ' +
    'from there and add that.', { where, cause: e });
}

/// The text of a PDF given as bytes (Uint8Array). Resolves {kind: 'pdf', title, text, source,
/// pages, meta: {pages, author?, subject?, keywords?, creator?, producer?, created?, modified?,
/// warnings}}. Rejects with ExtractError 'pdf_encrypted', 'pdf_broken', 'pdf_no_text' (no page has
/// a text layer: a scan), 'aborted'.
export async function extractPdf(bytes, { where = '', name = where, signal, pdfjs } = {}) {
  checkAborted(signal, where);
  let lib;
  try {
    lib = pdfjs ?? await loadPdfjs();
  } catch (e) {
    throw new ExtractError('unavailable', `Loom could not load its PDF reader (${excerpt(e?.message ?? e, 100)}), ` +
      `so ${quoted(where)} was not read. Check the connection and reload the page, then add the file again.`,
    { where, cause: e });
  }
  // pdf.js takes the bytes over (it may move them to its worker): give it a copy.
  const task = lib.getDocument({
    data: bytes.slice(),
    isEvalSupported: false,  // no new Function(): the CSP has no 'unsafe-eval', and text needs none
    disableFontFace: true,
    useSystemFonts: false,
    stopAtErrors: false,
    verbosity: 0,            // errors only: a missing standard font's file is not one for text
  });
  const onAbort = () => task.destroy();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    let doc;
    try {
      doc = await task.promise;
    } catch (e) {
      checkAborted(signal, where);
      throw toPdfError(e, where);
    }
    const warnings = [];
    const pagesOfItems = [];
    const failed = [];
    for (let n = 1; n <= doc.numPages; ++n) {
      checkAborted(signal, where);
      try {
        const page = await doc.getPage(n);
        pagesOfItems.push((await page.getTextContent()).items);
        page.cleanup();
      } catch (e) {
        checkAborted(signal, where);
        failed.push(n);
        pagesOfItems.push([]);
      }
    }
    if (failed.length === doc.numPages) {
      throw toPdfError(new Error(`none of its ${doc.numPages} pages could be read`), where);
    }
    const { text, firstLine, emptyPages } = pdfText(pagesOfItems);
    if (!text.trim()) {
      const pages = doc.numPages === 1 ? 'its page is an image' : `its ${doc.numPages} pages are images`;
      throw new ExtractError('pdf_no_text', `${quoted(where)} has no text to read: ${pages} (a scan or a photo) ` +
        'without a text layer, and Loom does not recognise text in images (no OCR). Run it through an OCR program ' +
        'first (many scanners and PDF readers have one), then add the result.', { where });
    }
    if (failed.length) warnings.push(`Page${failed.length > 1 ? 's' : ''} ${failed.join(', ')} could not be read and ${failed.length > 1 ? 'were' : 'was'} left out.`);
    const blank = emptyPages.filter((p) => !failed.includes(p));
    if (blank.length) warnings.push(`Page${blank.length > 1 ? 's' : ''} ${blank.join(', ')} ${blank.length > 1 ? 'have' : 'has'} no text (an image or a blank page; Loom does no OCR).`);

    let info = {};
    try {
      info = (await doc.getMetadata())?.info ?? {};
    } catch {
      // metadata is optional: the text is what matters
    }
    const meta = { pages: doc.numPages, warnings };
    for (const [key, field] of [['author', 'Author'], ['subject', 'Subject'], ['keywords', 'Keywords'],
      ['creator', 'Creator'], ['producer', 'Producer']]) {
      if (typeof info[field] === 'string' && info[field].trim()) meta[key] = info[field].trim();
    }
    const created = pdfDate(lib, info.CreationDate);
    const modified = pdfDate(lib, info.ModDate);
    if (created) meta.created = created;
    if (modified) meta.modified = modified;
    const title = usableTitle(info.Title) ?? (excerpt(firstLine, 120) || baseTitle(name));
    return { kind: 'pdf', title, text, source: where, pages: doc.numPages, meta };
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await task.destroy().catch(() => {});
  }
}
