// bm25.mjs — the reference scorer: plain BM25 over the analyzed terms of each chunk.
//
//   score(q, d) = sum over the distinct terms t of q found in d of
//                 idf(t) * tf(t,d) * (k1 + 1) / (tf(t,d) + k1 * (1 - b + b * |d| / avgdl))
//   idf(t)      = ln(1 + (N - n(t) + 0.5) / (n(t) + 0.5))          (Lucene's, never negative)
//   k1 = 1.2, b = 0.75; |d| = the number of terms analyze() gives for d; avgdl = their mean.
//
// Ties are broken by chunk order, as loom::knowledge::KnowledgeBase::search breaks them.

export class ReferenceBM25 {
  /// docs: an array of term arrays, one per chunk (chunk id = index).
  constructor(docs, { k1 = 1.2, b = 0.75 } = {}) {
    this.k1 = k1;
    this.b = b;
    this.n = docs.length;
    this.len = new Float64Array(docs.length);
    const postings = new Map();  // term -> [doc, tf, doc, tf, ...]
    let total = 0;
    docs.forEach((terms, d) => {
      this.len[d] = terms.length;
      total += terms.length;
      const tf = new Map();
      for (const t of terms) tf.set(t, (tf.get(t) ?? 0) + 1);
      for (const [t, f] of tf) {
        let p = postings.get(t);
        if (!p) postings.set(t, (p = []));
        p.push(d, f);
      }
    });
    this.avgdl = total / Math.max(1, docs.length);
    this.postings = postings;
  }

  idf(term) {
    const p = this.postings.get(term);
    const n = p ? p.length / 2 : 0;
    return Math.log(1 + (this.n - n + 0.5) / (n + 0.5));
  }

  /// Every matching chunk's score: Map doc -> score.
  scores(terms) {
    const out = new Map();
    const { k1, b, avgdl, len } = this;
    for (const t of new Set(terms)) {
      const p = this.postings.get(t);
      if (!p) continue;
      const idf = this.idf(t);
      for (let i = 0; i < p.length; i += 2) {
        const d = p[i], tf = p[i + 1];
        const s = (idf * tf * (k1 + 1)) / (tf + k1 * (1 - b + (b * len[d]) / avgdl));
        out.set(d, (out.get(d) ?? 0) + s);
      }
    }
    return out;
  }

  /// The k best chunks [{id, score}], best first (ties: lower id first).
  top(terms, k = 10) {
    return [...this.scores(terms)].map(([id, score]) => ({ id, score }))
      .sort((a, b) => b.score - a.score || a.id - b.id)
      .slice(0, k);
  }
}

/// Agreement of a library's top 10 (ids) with the reference: the share of its ids that are in the
/// reference top 10, over min(10, chunks the reference finds). A chunk tied (to 1e-9 relative)
/// with the reference's 10th counts as in it, so that the order among equal scores does not matter.
export function agreement(ref, terms, ids, k = 10) {
  const scores = ref.scores(terms);
  if (scores.size === 0) return ids.length === 0 ? 1 : 0;
  const sorted = [...scores.values()].sort((a, b) => b - a);
  const want = Math.min(k, sorted.length);
  const cut = sorted[want - 1] * (1 - 1e-9);
  let hit = 0;
  for (const id of new Set(ids.slice(0, k))) {
    const s = scores.get(Number(id));
    if (s !== undefined && s >= cut) hit += 1;
  }
  return Math.min(hit, want) / want;
}
