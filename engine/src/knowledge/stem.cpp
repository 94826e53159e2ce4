// stem.cpp — English Snowball ("Porter2") stems through libstemmer.

#include <libstemmer.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "knowledge/analysis.hpp"
#include "loom/knowledge.hpp"

namespace loom::knowledge {
namespace detail {
namespace {

// A stemmer is a small state machine with its own buffer: one per thread, made on first use.
struct Stemmer {
  sb_stemmer* stemmer = sb_stemmer_new("english", "UTF_8");
  Stemmer() = default;
  Stemmer(const Stemmer&) = delete;
  Stemmer& operator=(const Stemmer&) = delete;
  ~Stemmer() {
    if (stemmer) sb_stemmer_delete(stemmer);
  }
};

// Letters of the Latin script (Basic Latin, Latin-1, Extended-A/B, Extended Additional) and the
// apostrophe: the English stemmer is meant for these; any other token is left as it is.
bool is_latin_word(std::string_view token) {
  std::size_t i = 0;
  while (i < token.size()) {
    const auto c = static_cast<unsigned char>(token[i]);
    if (c < 0x80) {
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '\'')) return false;
      ++i;
      continue;
    }
    std::uint32_t cp = 0;
    std::size_t len = 0;
    if ((c & 0xE0) == 0xC0) {
      cp = c & 0x1Fu;
      len = 2;
    } else if ((c & 0xF0) == 0xE0) {
      cp = c & 0x0Fu;
      len = 3;
    } else {
      return false;
    }
    if (i + len > token.size()) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(token[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3Fu);
    }
    const bool latin = (cp >= 0xC0 && cp <= 0x24F && cp != 0xD7 && cp != 0xF7) || (cp >= 0x1E00 && cp <= 0x1EFF);
    if (!latin) return false;
    i += len;
  }
  return !token.empty();
}

}  // namespace

void stem_into(std::string_view token, std::string& out) {
  out.assign(token.data(), token.size());
  if (!is_latin_word(token)) return;
  thread_local Stemmer s;
  if (!s.stemmer) return;  // out of memory when it was made: unstemmed is still a valid term
  const sb_symbol* r = sb_stemmer_stem(s.stemmer, reinterpret_cast<const sb_symbol*>(token.data()),
                                       static_cast<int>(token.size()));
  if (!r) return;
  out.assign(reinterpret_cast<const char*>(r), static_cast<std::size_t>(sb_stemmer_length(s.stemmer)));
}

}  // namespace detail

std::string stem(std::string_view token) {
  std::string out;
  detail::stem_into(token, out);
  return out;
}

}  // namespace loom::knowledge
