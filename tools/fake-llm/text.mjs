// text.mjs — the fake model's deterministic answers. TEST INFRASTRUCTURE, not a model.
//
// Everything here depends on the request only (never on time or on a random source), so the
// same request always gets the same text, streamed or not, from any of the three protocols:
//
//   seed     FNV-1a (32-bit) over the UTF-8 bytes of: model, system, then each message's role
//            and text, every part followed by a NUL byte.
//   text     "Echo: " + the first 8 words of the last user message + "." and then words from
//            WORDS picked by a PRNG (mulberry32) seeded with `seed`, in sentences of 4 to 12
//            words with a capital and a full stop.
//   length   the natural length in words is 30 + seed % 51 (30..80), or N when the last user
//            message holds the directive [[words:N]] (the directive itself is never echoed).
//   tokens   a token is a whitespace-separated word. Input tokens = words in the system prompt
//            and in every message (directives included); output tokens = words emitted.
//   limits   a max-tokens limit below the natural length cuts the text at that many words
//            (finish 'length'); a stop sequence found in the text cuts it just before it
//            (finish 'stop_sequence').
//   deltas   streaming splits the text into pieces of 1 to 3 words (from a second PRNG stream
//            of the same seed); the pieces joined give back the text exactly.

import { mulberry32 } from '../mulberry32.mjs';

// About two hundred ordinary words, no two alike.
export const WORDS = [
  'the', 'a', 'small', 'house', 'stood', 'near', 'river', 'and', 'old', 'woman', 'walked', 'slowly',
  'toward', 'garden', 'where', 'children', 'played', 'under', 'tall', 'trees', 'morning', 'light', 'fell',
  'across', 'quiet', 'road', 'while', 'birds', 'sang', 'in', 'green', 'field', 'beyond', 'stone',
  'wall', 'her', 'brother', 'carried', 'bread', 'from', 'village', 'market', 'every', 'day', 'they',
  'talked', 'about', 'weather', 'harvest', 'long', 'winter', 'ahead', 'door', 'opened', 'cold',
  'wind', 'came', 'through', 'window', 'candle', 'burned', 'low', 'on', 'wooden', 'table', 'he',
  'wrote', 'letter', 'to', 'friend', 'city', 'far', 'away', 'mountains', 'were', 'covered', 'with',
  'snow', 'boat', 'drifted', 'along', 'shore', 'at', 'evening', 'fisherman', 'mended', 'his', 'nets',
  'sat', 'by', 'fire', 'listening', 'rain', 'story', 'began', 'again', 'young', 'girl', 'found',
  'key', 'beneath', 'floor', 'of', 'library', 'book', 'was', 'heavy', 'pages', 'smelled', 'dust',
  'summer', 'afternoon', 'dog', 'slept', 'beside', 'gate', 'clock', 'struck', 'noon', 'farmer',
  'counted', 'sheep', 'hill', 'lantern', 'glowed', 'dark', 'forest', 'path', 'turned', 'north',
  'travelers', 'rested', 'inn', 'soup', 'warm', 'music', 'drifted', 'tavern', 'baker', 'sold',
  'cakes', 'honey', 'apples', 'orchard', 'ripened', 'late', 'autumn', 'leaves', 'gold', 'red',
  'train', 'arrived', 'station', 'platform', 'crowded', 'voices', 'sister', 'waited', 'patiently',
  'bridge', 'crossed', 'narrow', 'stream', 'meadow', 'flowers', 'bloomed', 'spring', 'sun', 'rose',
  'over', 'sea', 'ship', 'sailed', 'east', 'captain', 'watched', 'stars', 'night', 'moon', 'silver',
  'clouds', 'gathered', 'thunder', 'rolled', 'valley', 'horses', 'ran', 'barn', 'hay', 'dry',
  'kitchen', 'smelled', 'coffee', 'mother', 'laughed', 'softly', 'father', 'read', 'newspaper',
  'chair', 'corner', 'room', 'painted', 'blue', 'mirror', 'hung', 'hall', 'stairs', 'creaked',
  'attic', 'trunk', 'held', 'photographs', 'memories', 'years', 'passed', 'quickly', 'town', 'grew',
].filter((w, i, all) => all.indexOf(w) === i);

const DIRECTIVE = /\[\[words:(\d+)\]\]/;
const DIRECTIVES = /\[\[words:\d+\]\]/g;
const MAX_DIRECTIVE_WORDS = 100000;

/** FNV-1a, 32 bits, over the UTF-8 bytes of the parts, each followed by a NUL byte. */
export function fnv1a(parts) {
  let h = 0x811c9dc5;
  for (const part of parts) {
    for (const byte of [...Buffer.from(String(part), 'utf8'), 0]) {
      h ^= byte;
      h = Math.imul(h, 0x01000193) >>> 0;
    }
  }
  return h >>> 0;
}


/** Whitespace-separated words: the fake's token count. */
export function countWords(text) {
  const s = String(text ?? '').trim();
  return s ? s.split(/\s+/).length : 0;
}

const pick = (next, n) => Math.floor(next() * n);
const endsSentence = (w) => /[.!?]$/.test(w);
const capital = (w) => w.charAt(0).toUpperCase() + w.slice(1);

/** The last message whose role is user, or ''. */
function lastUserText(messages) {
  for (let i = messages.length - 1; i >= 0; i -= 1) if (messages[i].role === 'user') return messages[i].text;
  return '';
}

/** The words of the untruncated answer. */
function naturalWords(seed, lastUser) {
  const directive = lastUser.match(DIRECTIVE);
  const length = directive ? Math.min(Number(directive[1]), MAX_DIRECTIVE_WORDS) : 30 + (seed % 51);
  const echoed = lastUser.replace(DIRECTIVES, ' ').trim().split(/\s+/).filter(Boolean).slice(0, 8);
  const words = `Echo: ${echoed.join(' ')}.`.split(' ').filter(Boolean);
  const next = mulberry32(seed);
  while (words.length < length) {
    const sentence = 4 + pick(next, 9);
    for (let i = 0; i < sentence && words.length < length; i += 1) {
      let w = WORDS[pick(next, WORDS.length)];
      if (i === 0) w = capital(w);
      if (i === sentence - 1) w += '.';
      words.push(w);
    }
  }
  words.length = Math.min(words.length, length);
  if (words.length && !endsSentence(words[words.length - 1])) words[words.length - 1] += '.';
  return words;
}

/** Splits text into pieces of 1 to 3 words (whitespace travels with the word after it). */
export function splitDeltas(text, seed) {
  const pieces = text.match(/\s*\S+/g) || [];
  const trailing = text.slice(pieces.join('').length);
  if (trailing) {
    if (pieces.length) pieces[pieces.length - 1] += trailing;
    else pieces.push(trailing);
  }
  const next = mulberry32((seed ^ 0x9e3779b9) >>> 0);
  const deltas = [];
  for (let i = 0; i < pieces.length;) {
    const n = 1 + pick(next, 3);
    deltas.push(pieces.slice(i, i + n).join(''));
    i += n;
  }
  return deltas;
}

/**
 * The answer to a normalized request.
 *   model      the model name as the request gave it
 *   system     the system prompt ('' when none)
 *   messages   [{role: 'user' | 'assistant' | ..., text}] in order (system messages excluded)
 *   maxTokens  the max-tokens limit, or null
 *   stop       stop sequences ([] when none)
 * Returns {text, deltas, inputTokens, outputTokens, finish: 'stop' | 'length' | 'stop_sequence',
 * stopSequence, seed}.
 */
export function composeReply({ model, system = '', messages = [], maxTokens = null, stop = [] }) {
  const parts = [model, system];
  for (const m of messages) parts.push(m.role, m.text);
  const seed = fnv1a(parts);
  const natural = naturalWords(seed, lastUserText(messages));
  let words = natural;
  let finish = 'stop';
  if (maxTokens != null && natural.length > maxTokens) {
    words = natural.slice(0, maxTokens);
    finish = 'length';
  }
  let text = words.join(' ');
  let stopSequence = null;
  let at = -1;
  for (const s of stop) {
    if (!s) continue;
    const i = text.indexOf(s);
    if (i >= 0 && (at < 0 || i < at)) { at = i; stopSequence = s; }
  }
  if (at >= 0) {
    text = text.slice(0, at);
    finish = 'stop_sequence';
  }
  const inputTokens = countWords(system) + messages.reduce((n, m) => n + countWords(m.text), 0);
  return { text, deltas: splitDeltas(text, seed), inputTokens, outputTokens: countWords(text), finish, stopSequence, seed };
}
