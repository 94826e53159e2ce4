// text_internal.hpp — private helpers shared by the loom::text sources.
//
// Everything works on byte offsets into UTF-8 text. Boundaries are only ever placed at ASCII
// whitespace or punctuation, or at the start of a UTF-8 sequence, so no helper splits a character.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "loom/text.hpp"

namespace loom::text::detail {

/// A half-open byte range [begin, end) of a text.
struct Span {
  std::size_t begin = 0;
  std::size_t end = 0;
};

inline bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

inline bool is_continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }
inline bool is_ascii_lower(char c) { return c >= 'a' && c <= 'z'; }
inline bool is_ascii_upper(char c) { return c >= 'A' && c <= 'Z'; }
inline bool is_ascii_alpha(char c) { return is_ascii_lower(c) || is_ascii_upper(c); }
inline bool is_ascii_digit(char c) { return c >= '0' && c <= '9'; }

inline char to_ascii_lower(char c) {
  return is_ascii_upper(c) ? static_cast<char>(c - 'A' + 'a') : c;
}

/// Sentences of text as trimmed spans, in order. Only whitespace lies between two spans.
std::vector<Span> sentence_spans(std::string_view text);

/// The chunks chunk() returns, as spans of `text` (the knowledge base keeps offsets, not copies).
std::vector<Span> chunk_spans(std::string_view text, const ChunkOptions& options);

/// Word tokens of text as spans (see loom::text::words for what a word is).
std::vector<Span> word_spans(std::string_view text);

/// A raw word token as words() reports it: ASCII lowercased, ’ spelled as '.
std::string normalize_word(std::string_view raw);

/// An integer ordering key for a score. Rounding to 1e-9 makes scores that are equal in exact
/// arithmetic compare equal whatever the floating-point summation order, so that ties really fall
/// to position as the API promises.
inline std::int64_t rank_key(double score) {
  if (!std::isfinite(score)) return 0;
  return static_cast<std::int64_t>(std::llround(score * 1e9));
}

}  // namespace loom::text::detail
