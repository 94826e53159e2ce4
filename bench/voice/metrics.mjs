// metrics.mjs — the figures of each track from a run's scores.
//
// A run's output (Loom's or a baseline's) has `tasks: [{name, score}]`, score[c][p] the score of
// candidate c against profile p, higher = closer. Only the order of scores matters: every metric
// is a share of comparisons won, ties counting as specified below.

/// ROC AUC of positive against negative scores: the probability that a random positive scores
/// above a random negative, ties counting half (Mann-Whitney U over midranks).
export function rocAuc(positives, negatives) {
  if (!positives.length || !negatives.length) return null;
  const all = [...positives.map((s) => [s, 1]), ...negatives.map((s) => [s, 0])].sort((a, b) => a[0] - b[0]);
  let rankSum = 0;
  for (let i = 0; i < all.length;) {
    let j = i;
    while (j < all.length && all[j][0] === all[i][0]) j += 1;
    const midrank = (i + 1 + j) / 2;
    for (let k = i; k < j; k += 1) if (all[k][1]) rankSum += midrank;
    i = j;
  }
  const p = positives.length, n = negatives.length;
  return (rankSum - (p * (p + 1)) / 2) / (p * n);
}

const mean = (xs) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);

/// Whether a candidate's own profile is alone at the top of its scores.
const topIsTrue = (scores, truth) => scores.every((s, p) => p === truth || s < scores[truth]);

/// The classification tracks' figures, pooled over their tasks: top1 (share of candidates whose
/// own profile scores strictly highest), balanced_accuracy (the mean over voices, a voice being a
/// profile name within its task's group, of that voice's top-1 recall) and auc (every
/// (candidate, profile) score of a task, positive when the profile is the candidate's own).
function classification(tasks, scoreOf) {
  const hits = [], byVoice = new Map(), positives = [], negatives = [];
  for (const task of tasks) {
    const score = scoreOf(task);
    task.truth.forEach((truth, c) => {
      const hit = topIsTrue(score[c], truth) ? 1 : 0;
      hits.push(hit);
      const voice = `${task.group}/${task.profiles[truth].name}`;
      if (!byVoice.has(voice)) byVoice.set(voice, []);
      byVoice.get(voice).push(hit);
      score[c].forEach((s, p) => (p === truth ? positives : negatives).push(s));
    });
  }
  return {
    top1: mean(hits),
    balanced_accuracy: mean([...byVoice.values()].map(mean)),
    auc: rocAuc(positives, negatives),
  };
}

/// Over every pair of a ranking task's candidates, the share where the one with fewer foreign
/// words scores higher (ties half), pooled over the tasks.
function pairwise(tasks, scoreOf) {
  const wins = [];
  for (const task of tasks) {
    const s = scoreOf(task).map((row) => row[0]);
    for (let i = 0; i < s.length; i += 1) {
      for (let j = i + 1; j < s.length; j += 1) {
        const [cleaner, dirtier] = task.foreign[i] < task.foreign[j] ? [i, j] : [j, i];
        wins.push(s[cleaner] > s[dirtier] ? 1 : s[cleaner] === s[dirtier] ? 0.5 : 0);
      }
    }
  }
  return mean(wins);
}

/// The tracks' metrics, in report order: [{track, metric, value}].
export function evaluate(tasks, output) {
  const byName = new Map(output.tasks.map((t) => [t.name, t.score]));
  const scoreOf = (task) => byName.get(task.name);
  const of = (track) => tasks.filter((t) => t.track === track);
  const authors = classification(of('authors_fewshot'), scoreOf);
  const characters = classification(of('characters'), scoreOf);
  return [
    { track: 'authors_fewshot', metric: 'top1', value: authors.top1 },
    { track: 'authors_fewshot', metric: 'auc', value: authors.auc },
    { track: 'characters', metric: 'balanced_accuracy', value: characters.balanced_accuracy },
    { track: 'characters', metric: 'auc', value: characters.auc },
    { track: 'ranking_authors', metric: 'pairwise_accuracy', value: pairwise(of('ranking_authors'), scoreOf) },
    { track: 'ranking_characters', metric: 'pairwise_accuracy', value: pairwise(of('ranking_characters'), scoreOf) },
  ];
}

/// The largest absolute difference between two runs' scores of the same tasks.
export function maxAbsDifference(a, b) {
  const other = new Map(b.tasks.map((t) => [t.name, t.score]));
  let max = 0;
  for (const t of a.tasks) {
    t.score.forEach((row, c) => row.forEach((s, p) => { max = Math.max(max, Math.abs(s - other.get(t.name)[c][p])); }));
  }
  return max;
}
