// tokenize.cpp — the knowledge base's tokenizer (Unicode via utf8proc), stopwords and analyze().
//
// One pass over the code points. A word is a run of letters, digits and marks, joined across an
// apostrophe or a hyphen that has a letter or digit on both sides; ideographs and hiragana are
// words of one character each (as Lucene's StandardTokenizer, after UAX #29). Only the words are
// normalized (NFKC with case folding), so offsets always point into the original text. ASCII
// words, the bulk of most texts, skip utf8proc entirely.

#include <algorithm>
#include <array>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <utf8proc.h>

#include "knowledge/analysis.hpp"
#include "loom/knowledge.hpp"

namespace loom::knowledge {
namespace detail {
namespace {

enum Cls : unsigned char {
  kSep,     // ends a word, dropped (spaces, punctuation, symbols, emoji, invalid bytes)
  kAlnum,   // letters and numbers of any script
  kMark,    // combining marks: continue a word, never start one
  kApos,    // ' ’ ʼ ′ ＇: inside a word only
  kHyphen,  // - ‐ ‑: splits a word into parts, which are also joined
  kSingle,  // ideographs and hiragana: one token each
  kIgnore,  // soft hyphen, zero-width joiners: invisible inside a word
};

constexpr std::array<Cls, 128> make_ascii_table() {
  std::array<Cls, 128> t{};
  for (int c = 0; c < 128; ++c) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    t[c] = alnum ? kAlnum : c == '\'' ? kApos : c == '-' ? kHyphen : kSep;
  }
  return t;
}
constexpr std::array<Cls, 128> kAscii = make_ascii_table();

// Every byte: the ASCII classes, and kHigh for the bytes of multi-byte sequences.
constexpr unsigned char kHigh = 0xFF;
constexpr std::array<unsigned char, 256> make_byte_table() {
  std::array<unsigned char, 256> t{};
  for (int c = 0; c < 256; ++c) t[c] = c < 128 ? kAscii[c] : kHigh;
  return t;
}
constexpr std::array<unsigned char, 256> kByte = make_byte_table();

bool is_single(std::int32_t cp) {
  return (cp >= 0x3005 && cp <= 0x3007) || (cp >= 0x3021 && cp <= 0x3029) ||
         (cp >= 0x3038 && cp <= 0x303B) || (cp >= 0x3041 && cp <= 0x309F && cp != 0x3099 && cp != 0x309A) ||
         (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x4E00 && cp <= 0x9FFF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x20000 && cp <= 0x3FFFF);
}

Cls classify(std::int32_t cp) {
  if (cp < 0) return kSep;
  if (cp < 0x80) return kAscii[static_cast<std::size_t>(cp)];
  switch (cp) {
    case 0x2019: case 0x02BC: case 0x2032: case 0xFF07: return kApos;
    case 0x2010: case 0x2011: return kHyphen;
    case 0x00AD: case 0x200C: case 0x200D: case 0x2060: case 0xFEFF: return kIgnore;
    default: break;
  }
  if (is_single(cp)) return kSingle;
  switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
      return kAlnum;
    case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
      return kMark;
    default:
      return kSep;
  }
}

// The code point at text[i] and its length; an invalid sequence is one byte of code point -1.
inline std::size_t decode(std::string_view text, std::size_t i, std::int32_t* cp) {
  const auto c = static_cast<unsigned char>(text[i]);
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  const utf8proc_ssize_t n = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(text.data() + i),
                                              static_cast<utf8proc_ssize_t>(text.size() - i), cp);
  if (n <= 0) {
    *cp = -1;
    return 1;
  }
  return static_cast<std::size_t>(n);
}

inline Cls class_at(std::string_view text, std::size_t i, std::size_t* len) {
  if (i >= text.size()) {
    *len = 0;
    return kSep;
  }
  const auto c = static_cast<unsigned char>(text[i]);
  if (c < 0x80) {  // most text: no decoding, no call
    *len = 1;
    return kAscii[c];
  }
  std::int32_t cp = 0;
  *len = decode(text, i, &cp);
  return classify(cp);
}

utf8proc_int32_t apostrophe_to_ascii(utf8proc_int32_t cp, void*) {
  return cp == 0x2019 || cp == 0x02BC || cp == 0x2032 || cp == 0xFF07 ? '\'' : cp;
}

constexpr utf8proc_option_t kNormalize = static_cast<utf8proc_option_t>(
    UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD | UTF8PROC_IGNORE);

// Appends the normalized form of text[begin, end) to out.chars.
void append_normalized(std::string_view text, std::size_t begin, std::size_t end, bool ascii,
                       TokenBuffer& out) {
  if (ascii) {
    // Lowercased in a local buffer, appended at once (callers drop longer ones unseen).
    char lower[kMaxTokenBytes + 2];
    const std::size_t n = std::min(end - begin, sizeof lower);
    for (std::size_t i = 0; i < n; ++i) {
      const char c = text[begin + i];
      lower[i] = c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
    }
    out.chars.append(lower, n);
    return;
  }
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(text.data() + begin);
  const auto n = static_cast<utf8proc_ssize_t>(end - begin);
  if (out.scratch.size() < static_cast<std::size_t>(n) * 4 + 16) out.scratch.resize(static_cast<std::size_t>(n) * 4 + 16);
  utf8proc_ssize_t count = 0;
  for (int attempt = 0; attempt < 2; ++attempt) {
    count = utf8proc_decompose_custom(p, n, out.scratch.data(), static_cast<utf8proc_ssize_t>(out.scratch.size()),
                                      kNormalize, apostrophe_to_ascii, nullptr);
    if (count < 0) return;  // cannot happen: the span holds only valid code points
    if (static_cast<std::size_t>(count) <= out.scratch.size()) break;
    out.scratch.resize(static_cast<std::size_t>(count));
  }
  count = utf8proc_normalize_utf32(out.scratch.data(), count, kNormalize);
  if (count < 0) return;
  utf8proc_uint8_t bytes[4];
  for (utf8proc_ssize_t k = 0; k < count; ++k) {
    const utf8proc_ssize_t len = utf8proc_encode_char(out.scratch[static_cast<std::size_t>(k)], bytes);
    out.chars.append(reinterpret_cast<const char*>(bytes), static_cast<std::size_t>(len));
  }
}

// Emits one token for text[part), normalized; false when it normalized to nothing or too much.
bool emit_part(std::string_view text, const Part& part, TokenBuffer& out) {
  // ASCII keeps its length, so a part too long even without a possessive 's is dropped unread.
  if (part.ascii && part.end - part.begin > kMaxTokenBytes + 2) return false;
  const std::size_t offset = out.chars.size();
  append_normalized(text, part.begin, part.end, part.ascii, out);
  std::size_t length = out.chars.size() - offset;
  std::size_t end = part.end;
  // A possessive 's goes (Lucene's EnglishPossessiveFilter); the surface stops before it.
  if (length > 2 && part.last_apos != std::string_view::npos && out.chars[offset + length - 1] == 's' &&
      out.chars[offset + length - 2] == '\'') {
    length -= 2;
    end = part.last_apos;
  }
  if (length == 0 || length > kMaxTokenBytes) {
    out.chars.resize(offset);
    return false;
  }
  out.chars.resize(offset + length);
  out.tokens.push_back(Token{part.begin, end, static_cast<std::uint32_t>(offset),
                             static_cast<std::uint32_t>(length), false});
  return true;
}

}  // namespace

void tokenize_into(std::string_view text, TokenBuffer& out) {
  out.chars.clear();
  out.tokens.clear();
  const std::size_t n = text.size();
  std::size_t i = 0;
  std::vector<Part>& parts = out.parts;
  while (i < n) {
    // Fast path: ASCII separators, and an ASCII word that ends at an ASCII separator (most words
    // of most texts) need none of the general path's bookkeeping; it gives the same tokens.
    const unsigned char k = kByte[static_cast<unsigned char>(text[i])];
    if (k != kHigh) {
      if (k != kAlnum) {
        ++i;
        continue;
      }
      const char* p = text.data();
      std::size_t j = i + 1;
      while (j < n && kByte[static_cast<unsigned char>(p[j])] == kAlnum) ++j;
      if (j == n || kByte[static_cast<unsigned char>(p[j])] == kSep) {
        const std::size_t length = j - i;
        if (length <= kMaxTokenBytes) {
          const std::size_t offset = out.chars.size();
          out.chars.append(text.data() + i, length);
          for (char* p = &out.chars[offset]; p != out.chars.data() + offset + length; ++p) {
            if (*p >= 'A' && *p <= 'Z') *p = static_cast<char>(*p - 'A' + 'a');
          }
          out.tokens.push_back(Token{i, j, static_cast<std::uint32_t>(offset), static_cast<std::uint32_t>(length), false});
        }
        i = j;
        continue;
      }
    }
    std::size_t len = 0;
    const Cls c = class_at(text, i, &len);
    if (c == kSingle) {
      std::size_t j = i + len, mlen = 0;
      while (j < n && class_at(text, j, &mlen) == kMark) j += mlen;
      emit_part(text, Part{i, j, std::string_view::npos, false}, out);
      i = j;
      continue;
    }
    if (c != kAlnum) {
      i += len;
      continue;
    }
    parts.clear();
    Part part{i, i, std::string_view::npos, true};
    std::size_t j = i;
    while (true) {
      // Inside a part: letters, digits, marks, invisible joiners, and apostrophes between them.
      while (j < n) {
        std::size_t l = 0;
        const Cls k = class_at(text, j, &l);
        if (k == kAlnum || k == kMark || k == kIgnore) {
          if (l > 1) part.ascii = false;
          j += l;
          continue;
        }
        if (k == kApos) {
          std::size_t l2 = 0;
          if (class_at(text, j + l, &l2) == kAlnum) {
            if (l > 1) part.ascii = false;
            part.last_apos = j;
            j += l;
            continue;
          }
        }
        break;
      }
      part.end = j;
      parts.push_back(part);
      std::size_t l = 0, l2 = 0;
      if (j < n && class_at(text, j, &l) == kHyphen && class_at(text, j + l, &l2) == kAlnum) {
        j += l;
        part = Part{j, j, std::string_view::npos, true};
        continue;
      }
      break;
    }
    i = j;
    const std::size_t first = out.tokens.size();
    for (const Part& p : parts) emit_part(text, p, out);
    const std::size_t emitted = out.tokens.size() - first;
    if (emitted >= 2) {
      // The joined form: "well-known" is also searched as "wellknown".
      Token joined{out.tokens[first].begin, out.tokens.back().end, static_cast<std::uint32_t>(out.chars.size()), 0, true};
      std::size_t total = 0;
      for (std::size_t k = first; k < first + emitted; ++k) total += out.tokens[k].length;
      out.chars.reserve(out.chars.size() + total);  // the appends below read from chars itself
      for (std::size_t k = first; k < first + emitted; ++k) {
        const Token t = out.tokens[k];
        out.chars.append(out.chars, t.offset, t.length);
      }
      joined.length = static_cast<std::uint32_t>(out.chars.size() - joined.offset);
      if (joined.length <= kMaxTokenBytes) {
        out.tokens.push_back(joined);
      } else {
        out.chars.resize(joined.offset);
      }
    }
  }
}

bool is_valid_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    // Eight ASCII bytes at a time: entries are mostly ASCII and long.
    while (i + 8 <= text.size()) {
      std::uint64_t word = 0;
      std::memcpy(&word, text.data() + i, 8);
      if (word & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i >= text.size()) break;
    std::int32_t cp = 0;
    i += decode(text, i, &cp);
    if (cp < 0) return false;
  }
  return true;
}

std::string strict_utf8(std::string_view text) {
  if (is_valid_utf8(text)) return std::string(text);
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    std::int32_t cp = 0;
    const std::size_t len = decode(text, i, &cp);
    if (cp < 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD
    } else {
      out.append(text.data() + i, len);
    }
    i += len;
  }
  return out;
}

}  // namespace detail

std::vector<std::string> tokenize(std::string_view text) {
  detail::TokenBuffer buffer;
  detail::tokenize_into(text, buffer);
  std::vector<std::string> out;
  out.reserve(buffer.tokens.size());
  for (const auto& t : buffer.tokens) out.emplace_back(buffer.term(t));
  return out;
}

namespace {
// Snowball's English stopword list (snowballstem.org/algorithms/english/stop.txt), sorted.
// The contractions are there as the list has them, though a possessive 's never reaches here.
constexpr std::string_view kStopwords[] = {
    "a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any", "are",
    "aren't", "as", "at", "be", "because", "been", "before", "being", "below", "between", "both",
    "but", "by", "can't", "cannot", "could", "couldn't", "did", "didn't", "do", "does", "doesn't",
    "doing", "don't", "down", "during", "each", "few", "for", "from", "further", "had", "hadn't",
    "has", "hasn't", "have", "haven't", "having", "he", "he'd", "he'll", "he's", "her", "here",
    "here's", "hers", "herself", "him", "himself", "his", "how", "how's", "i", "i'd", "i'll", "i'm",
    "i've", "if", "in", "into", "is", "isn't", "it", "it's", "its", "itself", "let's", "me", "more",
    "most", "mustn't", "my", "myself", "no", "nor", "not", "of", "off", "on", "once", "only", "or",
    "other", "ought", "our", "ours", "ourselves", "out", "over", "own", "same", "shan't", "she",
    "she'd", "she'll", "she's", "should", "shouldn't", "so", "some", "such", "than", "that",
    "that's", "the", "their", "theirs", "them", "themselves", "then", "there", "there's", "these",
    "they", "they'd", "they'll", "they're", "they've", "this", "those", "through", "to", "too",
    "under", "until", "up", "very", "was", "wasn't", "we", "we'd", "we'll", "we're", "we've",
    "were", "weren't", "what", "what's", "when", "when's", "where", "where's", "which", "while",
    "who", "who's", "whom", "why", "why's", "with", "won't", "would", "wouldn't", "you", "you'd",
    "you'll", "you're", "you've", "your", "yours", "yourself", "yourselves",
};
}  // namespace

bool is_stopword(std::string_view token) {
  return std::binary_search(std::begin(kStopwords), std::end(kStopwords), token);
}

std::vector<std::string> analyze(std::string_view text) {
  detail::TokenBuffer buffer;
  detail::tokenize_into(text, buffer);
  std::vector<std::string> out;
  std::string stemmed;
  for (const auto& t : buffer.tokens) {
    const std::string_view term = buffer.term(t);
    if (is_stopword(term)) continue;
    detail::stem_into(term, stemmed);
    out.push_back(stemmed);
  }
  return out;
}

}  // namespace loom::knowledge
