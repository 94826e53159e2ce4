// html.js — web pages and HTML e-mails as text.
//
//   extractHtml(html, { url, parseHtml })   // the readable part of a page (Readability), as text
//   htmlToText(element)                     // any element's text: one paragraph per block
//
// Parsing is injected: `parseHtml(html)` returns a Document. The default is the browser's
// DOMParser, whose documents are inert: no script runs, nothing is fetched (no images, no
// styles). Under node, tests pass linkedom's. Scripts and styles are cut from the source before
// it is parsed, and embedded content from the document before anything else looks at it.
import { Readability } from '@mozilla/readability';
import { ExtractError, excerpt, quoted } from './errors.js';
import { baseTitle } from './text.js';

/// The browser's HTML parser as a parseHtml function, or null where there is none (node).
export function defaultParseHtml() {
  const Parser = globalThis.DOMParser;
  return Parser ? (html) => new Parser().parseFromString(html, 'text/html') : null;
}

function parserOrThrow(parseHtml, where) {
  const parse = parseHtml ?? defaultParseHtml();
  if (!parse) {
    throw new ExtractError('unavailable', `Loom has no HTML parser here, so ${quoted(where)} was not read ` +
      '(outside a browser, pass parseHtml).', { where });
  }
  return parse;
}

// Never text: their content is code, styling, media or form state.
const SKIP = new Set(['script', 'style', 'noscript', 'template', 'iframe', 'frame', 'frameset', 'object', 'embed',
  'applet', 'svg', 'math', 'canvas', 'video', 'audio', 'img', 'picture', 'source', 'track', 'map', 'button',
  'input', 'select', 'option', 'textarea', 'head', 'title', 'meta', 'link', 'base']);
// Removed from a document before Readability sees it.
const STRIP = 'script, style, noscript, template, iframe, frame, frameset, object, embed, applet, link[rel=stylesheet]';

const BLOCK = new Set(['address', 'article', 'aside', 'blockquote', 'body', 'caption', 'center', 'dd', 'details',
  'dialog', 'dir', 'div', 'dl', 'dt', 'fieldset', 'figcaption', 'figure', 'footer', 'form', 'h1', 'h2', 'h3', 'h4',
  'h5', 'h6', 'header', 'hgroup', 'hr', 'html', 'legend', 'li', 'main', 'menu', 'nav', 'ol', 'p', 'pre', 'section',
  'summary', 'table', 'tbody', 'td', 'tfoot', 'th', 'thead', 'tr', 'ul']);
const LISTS = new Set(['ul', 'ol', 'menu', 'dir']);

const tagOf = (el) => String(el.localName ?? el.nodeName ?? '').toLowerCase();

/// The text of `root` (an Element or Document): each block (paragraph, heading, list item, table
/// row, quotation) its own paragraph, separated by blank lines; list items as "- item" or "1. item"
/// lines of one paragraph; <br> a line break; <pre> as it is; white space elsewhere collapsed.
/// Scripts, styles, media, form controls and [hidden] elements give no text.
export function htmlToText(root) {
  const blocks = [];   // {text, list}: consecutive list items are joined by one newline
  let buf = '';
  let listItem = null;  // the marker of the list item being collected
  const flush = (pre = false) => {
    const text = pre
      ? buf.replace(/^\n+|\s+$/g, '')
      : buf.split('\n').map((l) => l.replace(/[ \u00a0]+/g, ' ').trim()).filter(Boolean).join('\n');
    if (text) blocks.push({ text: listItem ? `${listItem}${text}` : text, list: !!listItem });
    buf = '';
    listItem = null;
  };
  const walk = (node, { pre = false, depth = 0 } = {}) => {
    for (let child = node.firstChild; child; child = child.nextSibling) {
      if (child.nodeType === 3) {
        buf += pre ? child.data : child.data.replace(/[\s\u00a0]+/g, ' ');
        continue;
      }
      if (child.nodeType !== 1) continue;
      const tag = tagOf(child);
      if (SKIP.has(tag) || child.hasAttribute?.('hidden')) continue;
      if (tag === 'br') {
        buf += '\n';
      } else if (tag === 'td' || tag === 'th') {
        if (buf.trim()) buf += '\t';
        walk(child, { pre, depth });
      } else if (tag === 'li' && LISTS.has(tagOf(child.parentNode ?? {}))) {
        flush(pre);
        const list = child.parentNode;
        let n = 1;
        for (let s = child.previousSibling; s; s = s.previousSibling) if (s.nodeType === 1 && tagOf(s) === 'li') ++n;
        const start = Number(list.getAttribute?.('start')) || 1;
        listItem = `${'  '.repeat(depth)}${tagOf(list) === 'ol' ? `${start + n - 1}.` : '-'} `;
        walk(child, { pre, depth: depth + 1 });
        flush(pre);
      } else if (BLOCK.has(tag)) {
        // A block opening a list item (<li><p>...): the item's marker goes on its first text.
        const marker = listItem;
        const count = blocks.length;
        flush(pre);
        if (blocks.length === count) listItem = marker;
        walk(child, { pre: pre || tag === 'pre', depth });
        flush(pre || tag === 'pre');
      } else {
        walk(child, { pre, depth });
      }
    }
  };
  walk(root);
  flush();
  let out = '';
  blocks.forEach((b, i) => {
    out += i === 0 ? b.text : `${b.list && blocks[i - 1].list ? '\n' : '\n\n'}${b.text}`;
  });
  return out;
}

/// `html` without <script>, <style>, <link> and <template> elements and without style and on*
/// attributes, before it is parsed: Chromium checks a parsed document's inline styles against the
/// page's CSP (style-src 'self') even in an inert document, and reports each as a violation. A
/// tag this misses (an attribute value with a '>' in it) is still harmless: the style is refused
/// and nothing runs; stripDocument() removes the rest after parsing.
export function withoutStyles(html) {
  return String(html)
    .replace(/<(script|style|template)\b[^>]*>[\s\S]*?<\/\1\s*>/gi, '')
    .replace(/<link\b[^>]*>/gi, '')
    .replace(/<[a-zA-Z][^>]*>/g, (tag) => tag.replace(
      /\s(?:style|on[a-z]+)(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'>]+))?(?=[\s/>])/gi, ''));
}

/// Removes what must never be read or run from a parsed document (in place), and returns it.
export function stripDocument(doc) {
  for (const el of [...doc.querySelectorAll(STRIP)]) el.remove();
  // Inline event handlers are inert in a parsed document, but nothing downstream needs them.
  for (const el of [...doc.querySelectorAll('*')]) {
    for (const attr of [...(el.attributes ?? [])]) {
      if (/^on/i.test(attr.name)) el.removeAttribute(attr.name);
    }
  }
  return doc;
}

function lastSegment(url) {
  try {
    const u = new URL(url);
    return decodeURIComponent(u.pathname.split('/').filter(Boolean).pop() ?? '') || u.hostname;
  } catch {
    return '';
  }
}

/// The readable text of a web page. `html` is its source; `url` where it came from (for the
/// title and the metadata); `where` names it in messages (the URL, or a saved file's name).
/// Resolves {kind: 'html', title, text, source, meta: {url?, byline?, siteName?, excerpt?, lang?,
/// published?, warnings}}. Throws ExtractError 'no_content' (nothing readable), 'unavailable'
/// (no parser).
export function extractHtml(html, { url, where = url ?? '', name, parseHtml } = {}) {
  const parse = parserOrThrow(parseHtml, where);
  const doc = stripDocument(parse(withoutStyles(html)));
  const pageTitle = (doc.title ?? '').trim();
  let article = null;
  try {
    article = new Readability(doc, { serializer: (el) => el }).parse();
  } catch {
    article = null;  // a document Readability cannot walk: nothing readable, said below
  }
  const text = article?.content ? htmlToText(article.content).trim() : '';
  if (!text) {
    throw new ExtractError('no_content', `${quoted(where, 'the page')} has no readable text: Loom found no ` +
      'article or paragraphs in it (a page that builds itself with scripts, a sign-in page or a gallery of ' +
      'images looks like this). Open it in your browser, and once it shows its text, save it (File > Save Page ' +
      'As) and add the saved file, or copy the text into a text file and add that.', { where });
  }
  const meta = { warnings: [] };
  if (url) meta.url = url;
  for (const [key, value] of [['byline', article.byline], ['siteName', article.siteName],
    ['excerpt', article.excerpt && excerpt(article.excerpt, 300)], ['lang', article.lang],
    ['published', article.publishedTime]]) {
    if (typeof value === 'string' && value.trim()) meta[key] = value.trim();
  }
  const title = (article.title ?? '').trim() || pageTitle || (url ? lastSegment(url) : '') ||
    (name ? baseTitle(name) : excerpt(text.split('\n')[0], 120));
  return { kind: 'html', title, text, source: where, meta };
}

/// The text of an e-mail's HTML body: the whole body (no Readability: a message is not a page
/// with navigation around it), scripts and styles removed.
export function emailHtmlToText(html, { parseHtml, where } = {}) {
  const doc = stripDocument(parserOrThrow(parseHtml, where)(withoutStyles(html)));
  // A browser puts a fragment ("<p>Hi</p>") in a <body> it makes; some parsers leave the body
  // empty and the fragment at the top: then the whole document is read (its <head> gives no text).
  const root = doc.body?.firstChild ? doc.body : doc;
  return htmlToText(root).trim();
}
