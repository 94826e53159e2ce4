// keywords.cpp — key phrases by RAKE (Rose, Engel, Cramer & Cowley, 2010).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "loom/text.hpp"
#include "text_internal.hpp"

namespace loom::text {
namespace {

using detail::Span;

// Longer stopword-free runs are usually lists or headings rather than phrases, and RAKE, which
// favours long candidates, would rank them first; like common RAKE implementations we drop them.
constexpr std::size_t kMaxPhraseWords = 4;

// Whether the bytes between two words break a phrase: any punctuation or a line break does; spaces
// (including a no-break space) do not.
bool gap_breaks_phrase(std::string_view gap) {
  for (std::size_t i = 0; i < gap.size(); ++i) {
    const char c = gap[i];
    if (c == '\n') return true;
    if (detail::is_space(c)) continue;
    if (gap.substr(i, 2) == "\xC2\xA0") {
      ++i;
      continue;
    }
    return true;
  }
  return false;
}

// Numbers carry little meaning on their own, so they delimit phrases like stopwords do.
bool is_number(std::string_view word) {
  return std::none_of(word.begin(), word.end(), [](char c) {
    return detail::is_ascii_alpha(c) || static_cast<unsigned char>(c) >= 0x80;
  });
}

std::vector<std::vector<std::string>> candidate_phrases(std::string_view text) {
  std::vector<std::vector<std::string>> phrases;
  std::vector<std::string> current;
  auto flush = [&] {
    if (!current.empty() && current.size() <= kMaxPhraseWords) phrases.push_back(current);
    current.clear();
  };
  const std::vector<Span> spans = detail::word_spans(text);
  for (std::size_t i = 0; i < spans.size(); ++i) {
    if (i > 0 &&
        gap_breaks_phrase(text.substr(spans[i - 1].end, spans[i].begin - spans[i - 1].end))) {
      flush();
    }
    std::string word =
        detail::normalize_word(text.substr(spans[i].begin, spans[i].end - spans[i].begin));
    if (is_stopword(word) || is_number(word)) {
      flush();
      continue;
    }
    current.push_back(std::move(word));
  }
  flush();
  return phrases;
}

struct WordStats {
  double frequency = 0;
  double degree = 0;  // summed lengths of the phrases the word occurs in
};

}  // namespace

std::vector<Keyword> keywords(std::string_view text, std::size_t count) {
  if (count == 0) return {};
  const std::vector<std::vector<std::string>> phrases = candidate_phrases(text);

  std::unordered_map<std::string, WordStats> stats;
  for (const auto& phrase : phrases) {
    for (const std::string& word : phrase) {
      WordStats& entry = stats[word];
      entry.frequency += 1;
      entry.degree += static_cast<double>(phrase.size());
    }
  }

  // Distinct phrases in order of first appearance, which is also the tie-break order.
  std::vector<Keyword> result;
  std::unordered_map<std::string, std::size_t> seen;
  for (const auto& phrase : phrases) {
    std::string term;
    double score = 0;
    for (const std::string& word : phrase) {
      if (!term.empty()) term += ' ';
      term += word;
      const WordStats& entry = stats.find(word)->second;
      score += entry.degree / entry.frequency;
    }
    if (seen.emplace(term, result.size()).second) result.push_back({std::move(term), score});
  }

  std::vector<std::int64_t> keys(result.size());
  for (std::size_t i = 0; i < result.size(); ++i) keys[i] = detail::rank_key(result[i].score);
  std::vector<std::size_t> order(result.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&keys](std::size_t a, std::size_t b) {
    return keys[a] != keys[b] ? keys[a] > keys[b] : a < b;
  });
  order.resize(std::min(count, order.size()));

  std::vector<Keyword> best;
  best.reserve(order.size());
  for (std::size_t index : order) best.push_back(std::move(result[index]));
  return best;
}

}  // namespace loom::text
