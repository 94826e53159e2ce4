// analysis.mjs — the reference analysis: the steps of loom::knowledge::analyze()
// (engine/include/loom/knowledge.hpp) redone in JavaScript, for the reference BM25 scorer and for
// the peers that take a tokenizer (every one but FTS5, which is handed the terms as text).
//
//   NFKC, then toLowerCase (Loom: utf8proc NFKC + case folding)
//   words: runs of Unicode letters, marks and digits; an apostrophe inside a word stays (’ ʼ ′
//     become '); a trailing possessive 's is dropped ("Mara's" -> "mara"); a hyphenated word gives
//     its parts and the joined word ("well-known" -> "well", "known", "wellknown")
//   English stopwords dropped (Snowball's list, below), then the Snowball English ("Porter2") stem
//     (npm snowball-stemmers; Loom links libstemmer, the same algorithm in C).
//
// Where this differs from Loom: toLowerCase is not full case folding (ß stays ß, Loom's folding
// gives ss), and snowball-stemmers is an older generation of the Snowball English stemmer than
// Debian's libstemmer. run.mjs prefers Loom's own engine.knowledgeAnalyze() for the reference when
// the binding has it, and reports how many chunks the two analyses disagree on.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const snowball = require('snowball-stemmers');

/// Snowball's English stop list (snowballstem.org, algorithms/english/stop.txt), as Loom uses it.
export const STOPWORDS = new Set(`
i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she her
hers herself it its itself they them their theirs themselves what which who whom this that these
those am is are was were be been being have has had having do does did doing would should could
ought i'm you're he's she's it's we're they're i've you've we've they've i'd you'd he'd she'd we'd
they'd i'll you'll he'll she'll we'll they'll isn't aren't wasn't weren't hasn't haven't hadn't
doesn't don't didn't won't wouldn't shan't shouldn't can't cannot couldn't mustn't let's that's
who's what's here's there's when's where's why's how's a an the and but if or because as until
while of at by for with about against between into through during before after above below to from
up down in out on off over under again further then once here there when where why how all any both
each few more most other some such no nor not only own same so than too very`.trim().split(/\s+/));

// A word: letters, marks, digits, with inner apostrophes; words joined by hyphens form one match.
const WORD = "[\\p{L}\\p{M}\\p{N}]+(?:['\u2019\u02bc\u2032][\\p{L}\\p{M}\\p{N}]+)*";
const TOKEN_RE = new RegExp(`${WORD}(?:[-\u2010]${WORD})*`, 'gu');
const APOSTROPHES_RE = /[\u2019\u02bc\u2032]/g;

function pushWord(out, w) {
  if (w.includes('\u2019') || w.includes('\u02bc') || w.includes('\u2032')) w = w.replace(APOSTROPHES_RE, "'");
  if (w.endsWith("'s")) w = w.slice(0, -2);
  if (w) out.push(w);
}

/// Search tokens (no stopword removal, no stemming), like loom::knowledge::tokenize().
export function tokenize(text) {
  const out = [];
  const s = text.normalize('NFKC').toLowerCase();
  for (const m of s.matchAll(TOKEN_RE)) {
    const t = m[0];
    if (t.includes('-') || t.includes('\u2010')) {
      const parts = t.split(/[-\u2010]/);
      for (const p of parts) pushWord(out, p);
      pushWord(out, parts.join(''));
    } else {
      pushWord(out, t);
    }
  }
  return out;
}

/// A fresh analyzer with its own stem cache (each benchmark process starts with an empty one, so
/// every library's build pays the same analysis cost). Returns text -> terms.
export function makeAnalyzer() {
  const stemmer = snowball.newStemmer('english');
  const cache = new Map();
  const stem = (t) => {
    let s = cache.get(t);
    if (s === undefined) {
      s = stemmer.stem(t);
      cache.set(t, s);
    }
    return s;
  };
  const analyze = (text) => {
    const out = [];
    for (const t of tokenize(text)) {
      if (!STOPWORDS.has(t)) out.push(stem(t));
    }
    return out;
  };
  analyze.stem = stem;
  return analyze;
}
