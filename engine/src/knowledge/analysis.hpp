// analysis.hpp — private: the tokenizer with byte offsets, and the stemmer, shared by the
// knowledge sources (tokenize(), the index, mentions).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace loom::knowledge::detail {

/// A token of a text: its normalized form (in TokenBuffer::chars) and where it was written.
struct Token {
  std::size_t begin = 0;  ///< byte offsets into the tokenized text: [begin, end) is the surface
  std::size_t end = 0;    ///< (a dropped possessive 's is outside it)
  std::uint32_t offset = 0;  ///< the normalized form: chars.substr(offset, length)
  std::uint32_t length = 0;
  bool joined = false;  ///< the joined form of a hyphenated word ("wellknown"), after its parts
};

/// The parts of a word between hyphens, while tokenizing.
struct Part {
  std::size_t begin = 0, end = 0;
  std::size_t last_apos = 0;  ///< byte offset of the part's last apostrophe, or npos
  bool ascii = true;
};

/// Tokens of one text; reused from text to text so that tokenizing does not allocate.
struct TokenBuffer {
  std::string chars;
  std::vector<Token> tokens;
  std::vector<std::int32_t> scratch;  ///< code points while normalizing a non-ASCII word
  std::vector<Part> parts;

  std::string_view term(const Token& t) const { return std::string_view(chars).substr(t.offset, t.length); }
};

/// The longest normalized token kept, in bytes; longer ones (hashes, base64) are dropped.
inline constexpr std::size_t kMaxTokenBytes = 128;

/// Tokenizes `text` into `out` (cleared first): see loom::knowledge::tokenize.
void tokenize_into(std::string_view text, TokenBuffer& out);

/// Whether `text` is valid UTF-8 by the strict rules (no overlong forms, surrogates or values
/// past U+10FFFF), as JSON serialization requires.
bool is_valid_utf8(std::string_view text);
/// `text` with each invalid byte replaced by U+FFFD (strict rules, as is_valid_utf8).
std::string strict_utf8(std::string_view text);

/// The stem of `token` into `out` (see loom::knowledge::stem); reuses out's storage.
void stem_into(std::string_view token, std::string& out);

}  // namespace loom::knowledge::detail
