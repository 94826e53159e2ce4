// summarize.cpp — extractive summaries by TextRank (Mihalcea & Tarau, 2004).

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "loom/text.hpp"
#include "text_internal.hpp"

namespace loom::text {
namespace {

constexpr double kDamping = 0.85;
constexpr double kTolerance = 1e-6;
constexpr int kMaxIterations = 100;
// The graph is quadratic in sentences; past this many only the first ones compete.
constexpr std::size_t kMaxGraphSentences = 400;

// A sentence as TextRank sees it: its content words.
struct Terms {
  std::vector<std::string> distinct;  // sorted, unique
  std::size_t count = 0;              // with repeats
};

Terms terms_of(std::string_view sentence) {
  Terms terms;
  for (std::string& word : words(sentence)) {
    if (is_stopword(word)) continue;
    terms.distinct.push_back(std::move(word));
    ++terms.count;
  }
  std::sort(terms.distinct.begin(), terms.distinct.end());
  terms.distinct.erase(std::unique(terms.distinct.begin(), terms.distinct.end()),
                       terms.distinct.end());
  return terms;
}

// Shared words normalized by sentence lengths: |Si ∩ Sj| / (log|Si| + log|Sj|).
double similarity(const Terms& a, const Terms& b) {
  if (a.count == 0 || b.count == 0) return 0;
  const double denominator =
      std::log(static_cast<double>(a.count)) + std::log(static_cast<double>(b.count));
  // Only two one-word sentences get here with 0; the formula has no value for them, and giving
  // such fragments infinite weight would let them swallow the ranking.
  if (denominator <= 0) return 0;
  std::size_t shared = 0;
  auto i = a.distinct.begin();
  auto j = b.distinct.begin();
  while (i != a.distinct.end() && j != b.distinct.end()) {
    if (*i < *j) {
      ++i;
    } else if (*j < *i) {
      ++j;
    } else {
      ++shared;
      ++i;
      ++j;
    }
  }
  return static_cast<double>(shared) / denominator;
}

struct Edge {
  std::size_t to = 0;
  double weight = 0;
};

// Weighted PageRank by Jacobi iteration, which (unlike updating in place) does not depend on
// the order nodes are visited in.
std::vector<double> text_rank(const std::vector<std::vector<Edge>>& graph) {
  const std::size_t n = graph.size();
  std::vector<double> out_weight(n, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    for (const Edge& edge : graph[i]) out_weight[i] += edge.weight;
  }
  std::vector<double> scores(n, 1.0);
  std::vector<double> next(n, 0.0);
  for (int iteration = 0; iteration < kMaxIterations; ++iteration) {
    double change = 0;
    for (std::size_t i = 0; i < n; ++i) {
      double sum = 0;
      // The graph is undirected, so i's neighbours are also the nodes that vote for i.
      for (const Edge& edge : graph[i]) sum += edge.weight / out_weight[edge.to] * scores[edge.to];
      next[i] = (1 - kDamping) + kDamping * sum;
      change = std::max(change, std::abs(next[i] - scores[i]));
    }
    scores.swap(next);
    if (change < kTolerance) break;
  }
  return scores;
}

}  // namespace

std::vector<std::string> summarize(std::string_view text, std::size_t count) {
  std::vector<std::string> sentences = split_sentences(text);
  if (sentences.size() <= count) return sentences;
  if (count == 0) return {};

  const std::size_t n = std::min(sentences.size(), kMaxGraphSentences);
  std::vector<Terms> terms;
  terms.reserve(n);
  for (std::size_t i = 0; i < n; ++i) terms.push_back(terms_of(sentences[i]));
  std::vector<std::vector<Edge>> graph(n);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = i + 1; j < n; ++j) {
      const double weight = similarity(terms[i], terms[j]);
      if (weight <= 0) continue;
      graph[i].push_back({j, weight});
      graph[j].push_back({i, weight});
    }
  }
  const std::vector<double> scores = text_rank(graph);

  std::vector<std::int64_t> keys(n);
  for (std::size_t i = 0; i < n; ++i) keys[i] = detail::rank_key(scores[i]);
  std::vector<std::size_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&keys](std::size_t a, std::size_t b) {
    return keys[a] != keys[b] ? keys[a] > keys[b] : a < b;
  });
  order.resize(std::min(count, n));
  std::sort(order.begin(), order.end());

  std::vector<std::string> summary;
  summary.reserve(order.size());
  for (std::size_t index : order) summary.push_back(std::move(sentences[index]));
  return summary;
}

}  // namespace loom::text
