// baselines.mjs — two classic stylometric baselines, run on the same job as Loom.
//
// Both standardize relative frequencies of the background's most frequent features with the
// background passages' means and standard deviations (z-scores, as Burrows's Delta does), make a
// profile of the concatenated reference passages, and score a candidate by the cosine of its
// z-vector with the profile's (Smith and Aldridge's Cosine Delta).
//   cosine_delta: the 300 most frequent words (lower case, apostrophes kept inside words)
//   char3_zcos:   the 1,000 most frequent character 3-grams of the lower-cased text with every
//                 run of whitespace made one space (punctuation kept)
// runBaseline() answers a job in the Loom binary's output format, timings included.

const WORD = /\p{L}+(?:['\u2019]\p{L}+)*/gu;

export const BASELINES = {
  cosine_delta: {
    label: 'cosine delta',
    size: 300,
    features: (text) => text.toLowerCase().match(WORD) ?? [],
  },
  char3_zcos: {
    label: 'char 3-gram',
    size: 1000,
    features: (text) => {
      const s = text.toLowerCase().replace(/\s+/g, ' ').trim();
      const grams = [];
      for (let i = 0; i + 3 <= s.length; i += 1) grams.push(s.slice(i, i + 3));
      return grams;
    },
  },
};

function counts(items) {
  const m = new Map();
  for (const x of items) m.set(x, (m.get(x) ?? 0) + 1);
  return m;
}

/// The z-scoring model of one baseline over a background.
export class ZModel {
  constructor(baseline, background) {
    this.features = baseline.features;
    const perPassage = background.map((p) => this.features(p));
    const total = counts(perPassage.flat());
    // The most frequent features; equal counts in code-unit order, so the vocabulary is stable.
    const vocabulary = [...total].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, baseline.size);
    this.index = new Map(vocabulary.map(([f], i) => [f, i]));
    const rates = perPassage.map((fs) => this.rates(fs));
    const n = rates.length, k = this.index.size;
    this.mean = new Float64Array(k);
    this.sd = new Float64Array(k);
    for (const r of rates) for (let i = 0; i < k; i += 1) this.mean[i] += r[i] / n;
    for (const r of rates) for (let i = 0; i < k; i += 1) this.sd[i] += (r[i] - this.mean[i]) ** 2 / (n - 1);
    for (let i = 0; i < k; i += 1) this.sd[i] = Math.sqrt(this.sd[i]);
  }

  /// Relative frequencies of the vocabulary among all of a text's features.
  rates(features) {
    const r = new Float64Array(this.index.size);
    for (const f of features) {
      const i = this.index.get(f);
      if (i !== undefined) r[i] += 1;
    }
    if (features.length) for (let i = 0; i < r.length; i += 1) r[i] /= features.length;
    return r;
  }

  /// A text's z-vector.
  z(text) {
    const r = this.rates(this.features(text));
    for (let i = 0; i < r.length; i += 1) r[i] = this.sd[i] > 0 ? (r[i] - this.mean[i]) / this.sd[i] : 0;
    return r;
  }
}

export function cosine(a, b) {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i += 1) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return na && nb ? dot / Math.sqrt(na * nb) : 0;
}

/// A baseline's answer to a job: {engine, tasks: [{name, score}], timing} as the Loom binary's.
/// scored_bytes counts each candidate's UTF-8 bytes once (it is scored against every profile of
/// its task); mb_per_s is scored_bytes / 10^6 per second of score_ms.
export function runBaseline(name, job) {
  const t0 = performance.now();
  const model = new ZModel(BASELINES[name], job.background.flat());
  const t1 = performance.now();
  const profiles = job.tasks.map((t) => t.profiles.map((p) => model.z(p.references.join('\n\n'))));
  const t2 = performance.now();
  const tasks = job.tasks.map((t, i) => ({
    name: t.name,
    score: t.candidates.map((c) => {
      const z = model.z(c);
      return profiles[i].map((p) => cosine(p, z));
    }),
  }));
  const t3 = performance.now();
  const scoredBytes = job.tasks.reduce((n, t) => n + t.candidates.reduce((m, c) => m + Buffer.byteLength(c), 0), 0);
  return {
    engine: name,
    tasks,
    timing: {
      background_ms: t1 - t0,
      profiles_ms: t2 - t1,
      score_ms: t3 - t2,
      scored_bytes: scoredBytes,
      mb_per_s: scoredBytes / 1e6 / ((t3 - t2) / 1000),
    },
  };
}
