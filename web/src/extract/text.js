// text.js — plain text and Markdown: bytes to a clean string.
//
//   decodeText(bytes)          // {text, encoding, warnings}: BOM stripped, bad UTF-8 replaced
//   cleanText(text)            // line endings, control characters, blank-line paragraphs
//   extractText(bytes, {where, name, markdown})
import { ExtractError, excerpt, quoted } from './errors.js';

const REPLACEMENT = '\ufffd';

function countOf(text, ch) {
  let n = 0;
  for (let i = text.indexOf(ch); i !== -1; i = text.indexOf(ch, i + 1)) ++n;
  return n;
}

// How many times the bytes EF BF BD (a real U+FFFD in UTF-8) occur.
function encodedReplacements(bytes) {
  let n = 0;
  for (let i = 0; i + 2 < bytes.length; ++i) {
    if (bytes[i] === 0xef && bytes[i + 1] === 0xbf && bytes[i + 2] === 0xbd) ++n;
  }
  return n;
}

/// `bytes` (a Uint8Array) as a string: UTF-8 unless a byte order mark says UTF-16; the BOM is
/// dropped. Invalid UTF-8 is replaced with U+FFFD and reported in `warnings` (how many sequences,
/// and the line of the first). Never throws.
export function decodeText(bytes) {
  const warnings = [];
  if (bytes[0] === 0xff && bytes[1] === 0xfe) {
    return { text: new TextDecoder('utf-16le').decode(bytes.subarray(2)), encoding: 'utf-16le', warnings };
  }
  if (bytes[0] === 0xfe && bytes[1] === 0xff) {
    return { text: new TextDecoder('utf-16be').decode(bytes.subarray(2)), encoding: 'utf-16be', warnings };
  }
  const body = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? bytes.subarray(3) : bytes;
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(body), encoding: 'utf-8', warnings };
  } catch {
    const text = new TextDecoder('utf-8').decode(body);
    const bad = Math.max(1, countOf(text, REPLACEMENT) - encodedReplacements(body));
    const line = text.slice(0, text.indexOf(REPLACEMENT)).split(/\r\n|\r|\n/).length;
    warnings.push(`${bad} invalid UTF-8 ${bad === 1 ? 'sequence was' : 'sequences were'} replaced with "${REPLACEMENT}" ` +
      `(the first on line ${line}): the file may be in another encoding, such as Windows-1252. Save it as UTF-8 ` +
      'and add it again to keep those characters.');
    return { text, encoding: 'utf-8', warnings };
  }
}

/// `text` with \n line endings, no control characters but tab and newline (a form feed is a
/// paragraph break), no trailing spaces, at most one blank line between paragraphs, and no blank
/// lines at either end. With `markdown`, trailing spaces (a hard line break) and runs of blank
/// lines (which a code block may hold) are kept.
export function cleanText(text, { markdown = false } = {}) {
  let out = text
    .replace(/\r\n?|[\u2028\u2029\u0085]/g, '\n')
    .replace(/\f/g, '\n\n')
    .replace(/[\u0000-\u0008\u000b\u000e-\u001f\u007f]/g, '');
  if (!markdown) out = out.replace(/[ \t\u00a0]+$/gm, '').replace(/\n{3,}/g, '\n\n');
  return out.replace(/^(?:[ \t]*\n)+/, '').replace(/\s+$/, '');
}

/// The title of a Markdown text: `title:` of a YAML front matter, the first "# heading" (or a
/// setext "Heading\n===") outside code fences; null if none.
export function markdownTitle(text) {
  const front = /^---\n([\s\S]*?)\n(?:---|\.\.\.)\n/.exec(text);
  const title = front && /^title:\s*(["']?)(.+?)\1\s*$/m.exec(front[1]);
  if (title) return title[2];
  let fence = null;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; ++i) {
    const line = lines[i];
    const f = /^\s{0,3}(`{3,}|~{3,})/.exec(line);
    if (f) {
      if (!fence) fence = f[1][0];
      else if (f[1][0] === fence) fence = null;
      continue;
    }
    if (fence) continue;
    const atx = /^\s{0,3}#\s+(.+?)(?:\s+#+)?\s*$/.exec(line);
    if (atx) return atx[1];
    if (line.trim() && /^\s{0,3}=+\s*$/.test(lines[i + 1] ?? '')) return line.trim();
  }
  return null;
}

/// `name` without its folder and extension: 'notes/Characters.md' -> 'Characters'.
export function baseTitle(name) {
  const base = String(name ?? '').split(/[\\/]/).pop();
  return base.replace(/\.[A-Za-z0-9]{1,10}$/, '') || base;
}

// More than this share of control characters (or any NUL) and it is not text.
const MAX_CONTROL_SHARE = 0.01;

/// A text or Markdown file's extraction result from its bytes. Throws ExtractError 'empty' (no
/// bytes, or only white space) or 'unreadable' (binary data).
export function extractText(bytes, { where = '', name = where, markdown = false } = {}) {
  const kind = markdown ? 'markdown' : 'text';
  if (!bytes.length) {
    throw new ExtractError('empty', `${quoted(where)} is empty: there is nothing to add. Check that you picked ` +
      'the right file.', { where });
  }
  const { text: raw, encoding, warnings } = decodeText(bytes);
  const controls = (raw.match(/[\u0000-\u0008\u000e-\u001f]/g) ?? []).length;
  if (raw.includes('\u0000') || controls > raw.length * MAX_CONTROL_SHARE) {
    throw new ExtractError('unreadable', `${quoted(where)} does not contain text: it holds binary data, so it is ` +
      `another kind of file named like a ${markdown ? 'Markdown' : 'text'} file, or text in an encoding Loom ` +
      'does not read. Open it in the program that made it and save it as plain text (UTF-8), Markdown or PDF.',
    { where });
  }
  const text = cleanText(raw, { markdown });
  if (!text.trim()) {
    throw new ExtractError('empty', `${quoted(where)} holds only white space: there is nothing to add.`, { where });
  }
  const firstLine = excerpt(text.split('\n').find((l) => l.trim()) ?? '', 120);
  const title = (markdown && markdownTitle(text)) || (name ? baseTitle(name) : firstLine);
  return { kind, title, text, source: where, meta: { encoding, bytes: bytes.length, warnings } };
}
