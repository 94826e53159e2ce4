// splits.mjs — the benchmark's tasks, deterministic for a seed.
//
// Every (track, round) draws from its own mulberry32 generator, seeded from BENCH_SEED and the
// track's name and round, so more rounds do not change the earlier rounds' draws.
// A task is what the Loom binary scores (`name`, `profiles` [{name, references}], `candidates`)
// plus what the metrics need: `truth` (each candidate's profile index) for the classification
// tracks, `foreign` (the share of each candidate's words taken from another voice) for ranking.
import { mulberry32 } from '../../tools/mulberry32.mjs';

export const REFERENCES = 3;
export const AUTHOR_HELD_OUT = 20;
export const CHARACTER_HELD_OUT = 15;
export const BLOCKS = 20;
export const RANKING_LEVELS = [0, 0.25, 0.5, 0.75, 1];


/// The generator of one label ("authors_fewshot/0"): the seed mixed with the label's FNV-1a hash.
function rngFor(seed, label) {
  let h = 0x811c9dc5;
  for (const ch of label) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193);
  return mulberry32((seed ^ h) >>> 0);
}

/// `k` distinct elements of `items` (all of them when there are fewer), in random order.
function sample(rng, items, k) {
  const a = [...items];
  const n = Math.min(k, a.length);
  for (let i = 0; i < n; i += 1) {
    const j = i + Math.floor(rng() * (a.length - i));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a.slice(0, n);
}

const pick = (rng, items) => items[Math.floor(rng() * items.length)];

/// One round's draw for each voice: REFERENCES passages from the first half of its passages and
/// up to `heldOut` from the second half.
function draw(rng, voices, heldOut) {
  return Object.entries(voices).map(([name, ps]) => {
    const half = Math.floor(ps.length / 2);
    const secondHalf = ps.slice(half);
    return {
      name,
      secondHalf,
      references: sample(rng, ps.slice(0, half), REFERENCES),
      heldOut: sample(rng, secondHalf, heldOut),
    };
  });
}

/// Every held-out passage against every profile of the group.
function classificationTask(name, track, group, drawn) {
  return {
    name,
    track,
    group,
    profiles: drawn.map((v) => ({ name: v.name, references: v.references })),
    candidates: drawn.flatMap((v) => v.heldOut),
    truth: drawn.flatMap((v, i) => v.heldOut.map(() => i)),
  };
}

/// Block b of an n-word passage covers its words floor(b·n/BLOCKS) to floor((b+1)·n/BLOCKS) - 1.
const blockOf = (word, n) => Math.floor((word * BLOCKS) / n);

/// `base` with the words of the blocks in `replaced` taken from `other` at the same positions,
/// each word with the whitespace that follows it in its own passage.
export function mix(base, other, replaced) {
  const a = base.split(/(\s+)/), b = other.split(/(\s+)/);
  const n = (a.length + 1) / 2;
  if ((b.length + 1) / 2 !== n) throw new Error('mix: passages of different lengths');
  const out = [];
  for (let w = 0; w < n; w += 1) {
    const src = replaced.has(blockOf(w, n)) ? b : a;
    out.push(src[2 * w], w < n - 1 ? src[2 * w + 1] : '');
  }
  return out.join('');
}

/// For each voice of the group: its round's references as the one profile, the group's other
/// voices (their references) as its cast (Loom can score relative to them; the baselines do not
/// use it); a held-out passage P
/// of the voice, a second-half passage Q of another voice of the group; five candidates where 0,
/// 5, 10, 15 and 20 of P's 20 blocks are Q's (the blocks in one random order, so each set contains
/// the previous one).
function rankingTasks(rng, prefix, track, group, drawn) {
  return drawn.map((v) => {
    const base = pick(rng, v.heldOut);
    const other = pick(rng, pick(rng, drawn.filter((w) => w !== v)).secondHalf);
    const order = sample(rng, [...Array(BLOCKS).keys()], BLOCKS);
    return {
      name: `${prefix}/${v.name}`,
      track,
      group,
      profiles: [{ name: v.name, references: v.references }],
      cast: drawn.filter((w) => w !== v).map((w) => ({ name: w.name, references: w.references })),
      candidates: RANKING_LEVELS.map((share) => mix(base, other, new Set(order.slice(0, share * BLOCKS)))),
      foreign: RANKING_LEVELS,
    };
  });
}

/// All tasks of all tracks and rounds: authors_fewshot/ROUND, ranking_authors/ROUND/AUTHOR,
/// characters/PLAY/ROUND and ranking_characters/PLAY/ROUND/CHARACTER. The draw of a round (its
/// references and held-out passages, which its ranking tasks share) comes from the generator
/// labelled with the classification task's name, the ranking tasks' choices from the one labelled
/// with their name up to the round.
export function buildTasks(data, { seed, rounds }) {
  const tasks = [];
  for (let round = 0; round < rounds; round += 1) {
    const label = `authors_fewshot/${round}`;
    const authors = draw(rngFor(seed, label), data.authors, AUTHOR_HELD_OUT);
    tasks.push(classificationTask(label, 'authors_fewshot', 'authors', authors));
    const ranking = `ranking_authors/${round}`;
    tasks.push(...rankingTasks(rngFor(seed, ranking), ranking, 'ranking_authors', 'authors', authors));
    for (const [play, characters] of Object.entries(data.characters)) {
      const label = `characters/${play}/${round}`;
      const drawn = draw(rngFor(seed, label), characters, CHARACTER_HELD_OUT);
      tasks.push(classificationTask(label, 'characters', play, drawn));
      const ranking = `ranking_characters/${play}/${round}`;
      tasks.push(...rankingTasks(rngFor(seed, ranking), ranking, 'ranking_characters', play, drawn));
    }
  }
  return tasks;
}
