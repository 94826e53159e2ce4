// chunk.cpp — splitting text into bounded, overlapping chunks.
//
// Every chunk is a slice of the original text. The text is first cut into atoms — whole
// paragraphs when they fit in max_chars, else their sentences, else a sentence's words, else
// pieces of a word — and the atoms are packed greedily. A chunk after the first starts at a word
// boundary inside the previous chunk's tail, so its overlap is that tail verbatim.

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "loom/text.hpp"
#include "text_internal.hpp"

namespace loom::text {
namespace {

using detail::is_continuation;
using detail::is_space;
using detail::Span;

constexpr std::size_t kNone = static_cast<std::size_t>(-1);

// Paragraphs are separated by whitespace holding at least two line breaks (a blank line).
std::vector<Span> paragraph_spans(std::string_view text) {
  std::vector<Span> spans;
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (true) {
    while (i < n && is_space(text[i])) ++i;
    if (i == n) break;
    const std::size_t begin = i;
    std::size_t last = i;
    while (i < n) {
      if (!is_space(text[i])) {
        last = ++i;
        continue;
      }
      int newlines = 0;
      for (; i < n && is_space(text[i]); ++i) newlines += text[i] == '\n' ? 1 : 0;
      if (newlines >= 2) break;
    }
    spans.push_back({begin, last});
  }
  return spans;
}

// End of the longest prefix of text[begin, end) that fits in max_chars without splitting a UTF-8
// sequence. Always makes progress: a character longer than max_chars is kept whole.
std::size_t piece_end(std::string_view text, std::size_t begin, std::size_t end,
                      std::size_t max_chars) {
  if (end - begin <= max_chars) return end;
  const std::size_t cut = begin + max_chars;
  std::size_t back = cut;
  // A valid sequence has at most three continuation bytes; past that the text is malformed and
  // any cut is as good as another.
  for (int steps = 0; steps < 3 && back > begin && is_continuation(text[back]); ++steps) --back;
  if (!is_continuation(text[back]) && back > begin) return back;
  if (back == begin) {
    std::size_t forward = begin + 1;
    while (forward < end && forward - begin < 4 && is_continuation(text[forward])) ++forward;
    return forward;
  }
  return cut;
}

class Chunker {
 public:
  Chunker(std::string_view text, std::size_t max_chars, std::size_t overlap)
      : text_(text), max_chars_(max_chars), overlap_(overlap) {}

  std::vector<Span> run() {
    for (const Span& paragraph : paragraph_spans(text_)) add_paragraph(paragraph);
    std::vector<Span> chunks;
    if (atoms_.empty()) return chunks;
    Span current = atoms_.front();
    for (std::size_t i = 1; i < atoms_.size(); ++i) {
      const Span& atom = atoms_[i];
      if (atom.end - current.begin <= max_chars_) {
        current.end = atom.end;
        continue;
      }
      chunks.push_back(current);
      const std::size_t start = overlap_start(current, atom.end);
      current = {start == kNone ? atom.begin : start, atom.end};
    }
    chunks.push_back(current);
    return chunks;
  }

 private:
  std::string_view slice(Span span) const {
    return text_.substr(span.begin, span.end - span.begin);
  }

  void add_paragraph(Span paragraph) {
    paragraphs_.push_back(paragraph);
    starts_.emplace_back();
    ready_.push_back(0);
    if (paragraph.end - paragraph.begin <= max_chars_) {
      atoms_.push_back(paragraph);
      return;
    }
    for (const Span& sentence : sentences(paragraphs_.size() - 1)) add_sentence(sentence);
  }

  // The sentences of paragraph p, absolute. Only paragraphs that are too long or hold an overlap
  // need them, and splitting sentences is the costly part of chunking: they are found on demand.
  std::vector<Span> sentences(std::size_t p) const {
    const Span paragraph = paragraphs_[p];
    std::vector<Span> out = detail::sentence_spans(slice(paragraph));
    for (Span& sentence : out) {
      sentence.begin += paragraph.begin;
      sentence.end += paragraph.begin;
    }
    if (!ready_[p]) {
      for (const Span& sentence : out) starts_[p].push_back(sentence.begin);
      ready_[p] = 1;
    }
    return out;
  }

  const std::vector<std::size_t>& sentence_starts(std::size_t p) const {
    if (!ready_[p]) sentences(p);
    return starts_[p];
  }

  // The first sentence start at or after `at`, or kNone.
  std::size_t sentence_start_from(std::size_t at) const {
    auto p = static_cast<std::size_t>(
        std::upper_bound(paragraphs_.begin(), paragraphs_.end(), at, [](std::size_t v, const Span& s) { return v < s.end; }) -
        paragraphs_.begin());
    for (; p < paragraphs_.size(); ++p) {
      const auto& starts = sentence_starts(p);
      const auto it = std::lower_bound(starts.begin(), starts.end(), at);
      if (it != starts.end()) return *it;
    }
    return kNone;
  }

  void add_sentence(Span sentence) {
    if (sentence.end - sentence.begin <= max_chars_) {
      atoms_.push_back(sentence);
      return;
    }
    std::size_t i = sentence.begin;
    while (i < sentence.end) {
      while (i < sentence.end && is_space(text_[i])) ++i;
      const std::size_t begin = i;
      while (i < sentence.end && !is_space(text_[i])) ++i;
      if (i > begin) add_word({begin, i});
    }
  }

  void add_word(Span word) {
    while (word.begin < word.end) {
      const std::size_t end = piece_end(text_, word.begin, word.end, max_chars_);
      atoms_.push_back({word.begin, end});
      word.begin = end;
    }
  }

  // Where the chunk after `previous` starts so that it repeats a tail of `previous` of at most
  // overlap_ bytes and still fits the atom ending at next_end; kNone for no overlap.
  std::size_t overlap_start(Span previous, std::size_t next_end) const {
    if (overlap_ == 0) return kNone;
    // The atom did not fit after previous.begin, so `low` lies past it: the overlap is a proper
    // tail and text_[p - 1] below is in range.
    std::size_t low = next_end - max_chars_;
    if (previous.end > overlap_) low = std::max(low, previous.end - overlap_);
    std::size_t word = kNone;
    for (std::size_t p = low; p < previous.end; ++p) {
      if (is_space(text_[p - 1]) && !is_space(text_[p])) {
        word = p;
        break;
      }
    }
    if (word == kNone) return kNone;
    // Every sentence start is also a word start, so none lies before `word`. A sentence boundary
    // reads better, but not at the price of losing more than half the context.
    const std::size_t sentence = sentence_start_from(word);
    if (sentence != kNone && sentence < previous.end && (previous.end - sentence) * 2 >= previous.end - word) {
      return sentence;
    }
    return word;
  }

  std::string_view text_;
  std::size_t max_chars_;
  std::size_t overlap_;
  std::vector<Span> atoms_;
  std::vector<Span> paragraphs_;                         // ascending
  mutable std::vector<std::vector<std::size_t>> starts_;  // per paragraph, when ready_
  mutable std::vector<char> ready_;
};

}  // namespace

namespace detail {
std::vector<Span> chunk_spans(std::string_view text, const ChunkOptions& options) {
  // Nonsense options get the nearest sensible meaning rather than an error: this never fails.
  const std::size_t max_chars = std::max<std::size_t>(options.max_chars, 1);
  // A text that fits is one chunk, trimmed (what the packing below gives, found without it).
  std::size_t begin = 0, end = text.size();
  while (begin < end && is_space(text[begin])) ++begin;
  while (end > begin && is_space(text[end - 1])) --end;
  if (begin == end) return {};
  if (end - begin <= max_chars) return {Span{begin, end}};
  const std::size_t overlap = options.overlap >= max_chars ? max_chars / 2 : options.overlap;
  return Chunker(text, max_chars, overlap).run();
}
}  // namespace detail

std::vector<std::string> chunk(std::string_view text, const ChunkOptions& options) {
  std::vector<std::string> chunks;
  for (const Span& span : detail::chunk_spans(text, options)) {
    chunks.emplace_back(text.substr(span.begin, span.end - span.begin));
  }
  return chunks;
}

}  // namespace loom::text
