// extract/ — what a writer adds to the knowledge base (a file, or a web page by its address),
// turned into text for it. Nothing is stored here: a file that fails gives an ExtractError and
// leaves everything else as it was.
//
//   const doc = await extractFile(file);              // a File from <input type=file> or a drop
//   const page = await extractUrl('https://example.org/essay');
//   // {kind: 'text'|'markdown'|'pdf'|'html'|'eml', title, text, source, pages?, meta}
//
// `text` is plain text with paragraphs separated by one blank line (the engine's chunker splits
// on them); Markdown stays Markdown. `source` is the file's name or the URL. `meta.warnings` lists
// what was read with a loss (invalid UTF-8 replaced, pages without text). Every failure is an
// ExtractError with a `code` (errors.js lists them) and `where` (the file's name or the URL).
//
// Options of both: `signal` (an AbortSignal), `parseHtml` (html => Document; the browser's
// DOMParser by default), `pdfjs` (a loaded pdf.js module; loaded on first use by default),
// `maxBytes` (MAX_BYTES by default).
import { ExtractError, checkAborted, excerpt, quoted } from './errors.js';
import { extractEml } from './eml.js';
import { extractHtml } from './html.js';
import { extractPdf } from './pdf.js';
import { extractText } from './text.js';

export { ExtractError } from './errors.js';
export { htmlToText } from './html.js';
export { pdfText } from './pdf.js';

/// The largest file or page read: 100 MiB.
export const MAX_BYTES = 100 * 1024 * 1024;

/// What Loom reads, for a file picker's `accept` and for messages.
export const ACCEPT = '.txt,.text,.md,.markdown,.pdf,.html,.htm,.xhtml,.eml,text/plain,text/markdown,' +
  'application/pdf,text/html,message/rfc822';
const READS = 'text (.txt), Markdown (.md), PDF (.pdf), saved web pages (.html) and e-mails (.eml)';

const BY_EXTENSION = {
  txt: 'text', text: 'text', md: 'markdown', markdown: 'markdown', mdown: 'markdown', mkd: 'markdown',
  pdf: 'pdf', html: 'html', htm: 'html', xhtml: 'html', eml: 'eml',
};
const BY_TYPE = {
  'text/plain': 'text', 'text/markdown': 'markdown', 'text/x-markdown': 'markdown', 'application/pdf': 'pdf',
  'application/x-pdf': 'pdf', 'text/html': 'html', 'application/xhtml+xml': 'html', 'message/rfc822': 'eml',
};
// What a file Loom does not read probably is, to say so and what to do instead.
const OTHER = [
  [/^(docx?|odt|rtf|pages|wpd)$/, 'a word-processor document', 'save it as PDF or as plain text from the program that made it'],
  [/^(epub|mobi|azw3?)$/, 'an e-book', 'convert it to PDF or text with an e-book program (Calibre can)'],
  [/^(png|jpe?g|gif|webp|heic|tiff?|bmp)$/, 'an image', 'Loom does not read text in images; type or OCR the text into a text file'],
  [/^(msg|mbox)$/, 'a mail file in another format', 'save the message as .eml from your mail program'],
  [/^(xlsx?|ods|csv|numbers)$/, 'a spreadsheet', 'save the sheet as PDF, or copy its text into a text file'],
];

const extensionOf = (name) => /\.([A-Za-z0-9]{1,10})$/.exec(String(name ?? ''))?.[1].toLowerCase() ?? '';
const mimeOf = (type) => String(type ?? '').split(';')[0].trim().toLowerCase();

function startsWith(bytes, ascii) {
  if (bytes.length < ascii.length) return false;
  for (let i = 0; i < ascii.length; ++i) if (bytes[i] !== ascii.charCodeAt(i)) return false;
  return true;
}

// A kind from the first bytes: a PDF anywhere in its first KiB (some have junk before the header),
// an HTML document. null when they say nothing.
function sniff(bytes) {
  const head = new TextDecoder('latin1').decode(bytes.subarray(0, 1024));
  if (/^%PDF-/.test(head) || (head.includes('%PDF-') && !/^\s*</.test(head))) return 'pdf';
  if (/^(?:\ufeff|\xef\xbb\xbf)?\s*(?:<!--[\s\S]*?-->\s*)*<(?:!doctype\s+html|html[\s>])/i.test(head)) return 'html';
  return null;
}

function unsupported(where, ext, type) {
  const other = OTHER.find(([re]) => re.test(ext));
  const what = other ? ` It looks like ${other[1]}: ${other[2]}, and add that.` :
    ` Save it in one of those formats and add that.`;
  const named = ext ? `.${ext} files` : type ? `files of type ${excerpt(type, 60)}` : 'this kind of file';
  return new ExtractError('unsupported_type', `${quoted(where)} cannot be added: Loom reads ${READS}, not ${named}.${what}`,
    { where });
}

function tooLarge(where, size, max) {
  const mb = (n) => `${(n / 1024 / 1024).toFixed(n < 10 * 1024 * 1024 ? 1 : 0)} MB`;
  return new ExtractError('too_large', `${quoted(where)} is too large to add (${size ? mb(size) : `over ${mb(max)}`}; ` +
    `the limit is ${mb(max)}). Split it into smaller files, or add only the chapters you need.`, { where });
}

// The charset a Content-Type or an HTML document declares, if TextDecoder knows it.
function declaredCharset(contentType, bytes) {
  const candidates = [/charset\s*=\s*["']?([\w.:-]+)/i.exec(contentType ?? '')?.[1]];
  if (bytes) {
    const head = new TextDecoder('latin1').decode(bytes.subarray(0, 2048));
    candidates.push(/<meta[^>]+charset\s*=\s*["']?([\w.:-]+)/i.exec(head)?.[1]);
  }
  for (const label of candidates) {
    if (!label) continue;
    try {
      return new TextDecoder(label).encoding;
    } catch {
      // an unknown label: try the next, then UTF-8
    }
  }
  return null;
}

// An HTML document's text: its BOM, else its declared charset, else UTF-8 (Windows-1252 if it
// is not valid UTF-8, as browsers guess for old pages).
function decodeHtml(bytes, contentType) {
  if (startsWith(bytes, '\xef\xbb\xbf')) return new TextDecoder('utf-8').decode(bytes);
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return new TextDecoder('utf-16le').decode(bytes);
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return new TextDecoder('utf-16be').decode(bytes);
  const charset = declaredCharset(contentType, bytes);
  if (charset && charset !== 'utf-8') return new TextDecoder(charset).decode(bytes);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return new TextDecoder(charset ? 'utf-8' : 'windows-1252').decode(bytes);
  }
}

// Runs the extractor of `kind` on bytes that are known not to be empty.
async function extractBytes(kind, bytes, { where, name, contentType, url, signal, parseHtml, pdfjs }) {
  checkAborted(signal, where);
  switch (kind) {
    case 'text':
    case 'markdown':
      return extractText(bytes, { where, name, markdown: kind === 'markdown' });
    case 'pdf':
      return extractPdf(bytes, { where, name, signal, pdfjs });
    case 'eml':
      return extractEml(bytes, { where, name, parseHtml });
    case 'html':
      return extractHtml(decodeHtml(bytes, contentType), { url, where, name, parseHtml });
    default:
      throw new Error(`unknown kind ${kind}`);
  }
}

/// The text of `file` (a File, or a Blob with a `name` and a `type`). Its kind comes from its
/// content (a PDF is a PDF whatever its name), else its extension, else its MIME type. Rejects
/// with ExtractError: 'unsupported_type', 'empty', 'unreadable' (the browser could not read it, or
/// it is not text), 'too_large', 'aborted', and those of each kind (pdf_*, eml_*, no_content).
export async function extractFile(file, { signal, parseHtml, pdfjs, maxBytes = MAX_BYTES } = {}) {
  const name = typeof file?.name === 'string' ? file.name : '';
  const where = name;
  checkAborted(signal, where);
  if (!file || typeof file.arrayBuffer !== 'function') {
    throw new ExtractError('unreadable', `${quoted(where)} is not a file Loom can read. Pick the file again.`, { where });
  }
  const ext = extensionOf(name);
  const type = mimeOf(file.type);
  const guess = BY_EXTENSION[ext] ?? BY_TYPE[type] ?? null;
  if (!guess && ext && OTHER.some(([re]) => re.test(ext))) throw unsupported(where, ext, type);
  if (file.size > maxBytes) throw tooLarge(where, file.size, maxBytes);
  if (file.size === 0) {
    throw new ExtractError('empty', `${quoted(where)} is empty: there is nothing to add. Check that you picked the ` +
      'right file.', { where });
  }
  let bytes;
  try {
    bytes = new Uint8Array(await file.arrayBuffer());
  } catch (e) {
    checkAborted(signal, where);
    throw new ExtractError('unreadable', `${quoted(where)} could not be read (${e?.name ?? 'error'}): it may have been ` +
      'moved, deleted or changed since you picked it, or it is on a drive that is not available. Pick it again.',
    { where, cause: e });
  }
  const kind = sniff(bytes) === 'pdf' ? 'pdf' : guess ?? sniff(bytes);
  if (!kind) throw unsupported(where, ext, type);
  return extractBytes(kind, bytes, { where, name, contentType: file.type, signal, parseHtml, pdfjs });
}

// Reads a response's body, refusing more than `max` bytes without reading them all.
async function readBody(response, { max, where, signal }) {
  const declared = Number(response.headers.get('content-length'));
  if (declared > max) throw tooLarge(where, declared, max);
  if (!response.body?.getReader) {
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (bytes.length > max) throw tooLarge(where, bytes.length, max);
    return bytes;
  }
  const reader = response.body.getReader();
  const chunks = [];
  let size = 0;
  for (;;) {
    checkAborted(signal, where);
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > max) {
      reader.cancel().catch(() => {});
      throw tooLarge(where, 0, max);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  return bytes;
}

// In a page, a fetch that the Content-Security-Policy refuses (connect-src: the studio lists only
// itself and its model servers) rejects with the same TypeError as one CORS refuses; the
// securitypolicyviolation event it also fires tells the two apart.
function watchPolicy(origin) {
  const doc = globalThis.document;
  if (typeof doc?.addEventListener !== 'function') return { refused: async () => false, stop() {} };
  let hit = false;
  const listener = (e) => {
    if (!/^connect-src/.test(e.effectiveDirective ?? e.violatedDirective ?? '')) return;
    try {
      if (new URL(e.blockedURI).origin === origin) hit = true;
    } catch {
      // a blockedURI that is not a URL ('inline', 'eval'): not this fetch
    }
  };
  doc.addEventListener('securitypolicyviolation', listener);
  return {
    // The event is queued as a task of its own: let it arrive before deciding.
    refused: async () => {
      await new Promise((resolve) => setTimeout(resolve, 0));
      return hit;
    },
    stop: () => doc.removeEventListener('securitypolicyviolation', listener),
  };
}

function statusMessage(where, status, statusText) {
  const said = `${status}${statusText ? ` ${excerpt(statusText, 40)}` : ''}`;
  let advice = 'Open the address in your browser to see what the site says.';
  if (status === 404 || status === 410) advice = 'the page is not there (any more): check the address.';
  else if (status === 401 || status === 403) advice = 'the site wants you to sign in, or does not let programs read ' +
    'this page. Open it in your browser, save it (File > Save Page As) and add the saved file.';
  else if (status === 429) advice = 'the site is receiving too many requests: try again later.';
  else if (status >= 500) advice = 'the site has a problem of its own: try again later.';
  return `${where} answered ${said} instead of the page, so there was nothing to read; ${advice}`;
}

/// The text of the web page (or PDF, text, Markdown, e-mail) at `url`, an http(s) address. HTML is
/// reduced to its readable part (Readability). The request sends no cookies and no Referer.
/// Rejects with ExtractError: 'bad_url', 'cors' (the browser refused to let the page read the site,
/// or it could not be reached), 'connect_policy' (the page's CSP does not list the site's origin),
/// 'http_status' (with `status`), 'empty', 'no_content',
/// 'unsupported_type', 'too_large', 'aborted', and those of each kind.
export async function extractUrl(url, { fetch = globalThis.fetch, signal, parseHtml, pdfjs, maxBytes = MAX_BYTES } = {}) {
  const given = String(url ?? '').trim();
  let parsed;
  try {
    parsed = new URL(given);
  } catch {
    parsed = null;
  }
  const shown = `'${excerpt(given, 100)}'`;
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    throw new ExtractError('bad_url', `${given ? shown : 'An empty address'} is not a web address Loom can read: ` +
      'only addresses starting with http:// or https:// work. A file on your computer is added as a file.',
    { where: given });
  }
  if (parsed.username || parsed.password) {
    throw new ExtractError('bad_url', `${shown} has a user name or password in it, which browsers refuse to send ` +
      'this way. Open the page in your browser, save it and add the saved file.', { where: given });
  }
  parsed.hash = '';
  const href = parsed.href;
  const where = href;
  const named = `'${excerpt(href, 100)}'`;
  checkAborted(signal, where);
  let response;
  const policy = watchPolicy(parsed.origin);
  try {
    response = await fetch(href, {
      method: 'GET',
      headers: { Accept: 'text/html,application/xhtml+xml,text/plain,text/markdown,application/pdf,*/*;q=0.5' },
      credentials: 'omit',
      referrerPolicy: 'no-referrer',
      redirect: 'follow',
      signal,
    });
  } catch (e) {
    checkAborted(signal, where);
    if (e?.name === 'AbortError') checkAborted({ aborted: true, reason: e }, where);
    if (await policy.refused()) {
      throw new ExtractError('connect_policy', `Loom's connection policy did not let it read ${named}: the studio ` +
        'connects only to itself, its model servers and the sites it was allowed, and ' +
        `${parsed.origin} is not one of them. Allow the site first, or open the page in your browser, save it ` +
        '(File > Save Page As, "Web page, HTML only") and add the saved file.', { where, cause: e });
    }
    throw new ExtractError('cors', `The browser did not let Loom read ${named}: a site must allow pages of other ` +
      'sites to read it (CORS), and most do not — or it could not be reached. Open the page in your browser, save ' +
      'it (File > Save Page As, "Web page, HTML only") and add the saved file.', { where, cause: e });
  } finally {
    policy.stop();
  }
  if (!response.ok) {
    throw new ExtractError('http_status', statusMessage(named, response.status, response.statusText),
      { where, status: response.status });
  }
  const bytes = await readBody(response, { max: maxBytes, where, signal });
  if (!bytes.length) {
    throw new ExtractError('empty', `${named} answered with an empty page: there is nothing to add.`, { where });
  }
  const contentType = response.headers.get('content-type') ?? '';
  const type = mimeOf(contentType);
  const ext = extensionOf(parsed.pathname);
  const sniffed = sniff(bytes);
  let kind = sniffed === 'pdf' ? 'pdf' : BY_TYPE[type] ?? null;
  if (!kind && (!type || type === 'application/octet-stream' || type === 'binary/octet-stream')) {
    kind = BY_EXTENSION[ext] ?? sniffed;
  }
  if (!kind && type.startsWith('text/')) kind = 'text';
  if (!kind) throw unsupported(href, ext, type);
  const result = await extractBytes(kind, bytes, { where, name: parsed.pathname.split('/').pop() || parsed.hostname,
    contentType, url: href, signal, parseHtml, pdfjs });
  result.meta.url = href;
  if (response.url && response.url !== href) result.meta.finalUrl = response.url;
  return result;
}
