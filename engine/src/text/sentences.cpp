// sentences.cpp — sentence splitting, word tokens and the English stopword list.

#include <algorithm>
#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "loom/text.hpp"
#include "text_internal.hpp"

namespace loom::text {
namespace {

using detail::is_ascii_alpha;
using detail::is_ascii_digit;
using detail::is_ascii_lower;
using detail::is_ascii_upper;
using detail::is_space;
using detail::Span;

constexpr std::size_t kNone = static_cast<std::size_t>(-1);

// ---- UTF-8 -----------------------------------------------------------------------------------

struct CodePoint {
  char32_t value = 0;
  std::size_t length = 1;
  bool valid = false;
};

CodePoint decode_utf8(std::string_view text, std::size_t pos) {
  const auto lead = static_cast<unsigned char>(text[pos]);
  if (lead < 0x80) return {lead, 1, true};
  std::size_t length = 0;
  char32_t value = 0;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    value = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    value = lead & 0x0F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    value = lead & 0x07;
  } else {
    return {lead, 1, false};
  }
  if (pos + length > text.size()) return {lead, 1, false};
  for (std::size_t i = 1; i < length; ++i) {
    const char c = text[pos + i];
    if (!detail::is_continuation(c)) return {lead, 1, false};
    value = (value << 6) | (static_cast<unsigned char>(c) & 0x3F);
  }
  // Overlong forms and surrogates are malformed: reading them byte by byte keeps a bad sequence
  // from swallowing the bytes that follow it.
  if ((length == 3 && value < 0x800) || (length == 4 && (value < 0x10000 || value > 0x10FFFF)) ||
      (value >= 0xD800 && value <= 0xDFFF)) {
    return {lead, 1, false};
  }
  return {value, length, true};
}

// Without Unicode tables we call every non-ASCII character a letter except the punctuation,
// symbol and emoji blocks, which covers accented Latin, Greek, Cyrillic, CJK and so on while
// keeping curly quotes, dashes, ellipses and the like out of words.
bool is_word_code_point(char32_t cp) {
  if (cp < 0x80) {
    const auto c = static_cast<char>(cp);
    return is_ascii_alpha(c) || is_ascii_digit(c);
  }
  if (cp <= 0xBF) return cp == 0xAA || cp == 0xB5 || cp == 0xBA;  // ª µ º are letters
  if (cp == 0xD7 || cp == 0xF7) return false;                     // × ÷
  if (cp >= 0x2000 && cp <= 0x2BFF) return false;  // punctuation, symbols, arrows, dingbats
  if (cp >= 0x2E00 && cp <= 0x2E7F) return false;  // supplemental punctuation
  if (cp >= 0x3000 && cp <= 0x303F) return false;  // CJK symbols and punctuation
  if (cp >= 0xFE00 && cp <= 0xFE0F) return false;  // variation selectors
  if (cp >= 0xFE30 && cp <= 0xFE6F) return false;  // CJK compatibility and small forms
  if (cp == 0xFEFF) return false;                  // byte order mark
  if ((cp >= 0xFF01 && cp <= 0xFF0F) || (cp >= 0xFF1A && cp <= 0xFF20) ||
      (cp >= 0xFF3B && cp <= 0xFF40) || (cp >= 0xFF5B && cp <= 0xFF65)) {
    return false;  // fullwidth punctuation
  }
  if (cp >= 0xFFF0 && cp <= 0xFFFF) return false;    // specials
  if (cp >= 0x1F000 && cp <= 0x1FAFF) return false;  // emoji and pictographs
  if (cp >= 0xE0000 && cp <= 0xE007F) return false;  // tags
  return true;
}

struct CharClass {
  std::size_t length = 1;
  bool is_word = false;
};

CharClass classify(std::string_view text, std::size_t pos) {
  const CodePoint cp = decode_utf8(text, pos);
  // A malformed byte >= 0x80 counts as a letter so that text in a legacy encoding still
  // tokenizes into words rather than vanishing.
  if (!cp.valid) return {1, true};
  return {cp.length, is_word_code_point(cp.value)};
}

bool starts_with_at(std::string_view text, std::size_t pos, std::string_view what) {
  return text.substr(pos, what.size()) == what;
}

constexpr std::string_view kRightSingleQuote = "\xE2\x80\x99";  // ’
constexpr std::string_view kRightDoubleQuote = "\xE2\x80\x9D";  // ”
constexpr std::string_view kSingleRightAngle = "\xE2\x80\xBA";  // ›
constexpr std::string_view kDoubleRightAngle = "\xC2\xBB";      // »
constexpr std::string_view kEllipsis = "\xE2\x80\xA6";          // …

// Bytes of an apostrophe or hyphen at pos that may join two word parts, 0 if there is none.
std::size_t joiner_length(std::string_view text, std::size_t pos) {
  if (text[pos] == '\'' || text[pos] == '-') return 1;
  if (starts_with_at(text, pos, kRightSingleQuote)) return kRightSingleQuote.size();
  return 0;
}

// ---- sentences -------------------------------------------------------------------------------

std::size_t terminator_length(std::string_view text, std::size_t pos) {
  const char c = text[pos];
  if (c == '.' || c == '!' || c == '?') return 1;
  if (starts_with_at(text, pos, kEllipsis)) return kEllipsis.size();
  return 0;
}

std::size_t closer_length(std::string_view text, std::size_t pos) {
  const char c = text[pos];
  if (c == '"' || c == '\'' || c == ')' || c == ']' || c == '}') return 1;
  for (std::string_view closer :
       {kRightDoubleQuote, kRightSingleQuote, kSingleRightAngle, kDoubleRightAngle}) {
    if (starts_with_at(text, pos, closer)) return closer.size();
  }
  return 0;
}

// Opening punctuation that may precede the first letter of a sentence.
std::size_t opener_length(std::string_view text, std::size_t pos) {
  const char c = text[pos];
  if (c == '"' || c == '\'' || c == '(' || c == '[' || c == '{') return 1;
  for (std::string_view opener :
       {std::string_view("\xE2\x80\x9C"), std::string_view("\xE2\x80\x98"),
        std::string_view("\xC2\xAB"), std::string_view("\xC2\xBF"),
        std::string_view("\xC2\xA1")}) {  // “ ‘ « ¿ ¡
    if (starts_with_at(text, pos, opener)) return opener.size();
  }
  return 0;
}

// The first letter of what follows pos (skipping whitespace and opening punctuation), or 0.
char next_letter(std::string_view text, std::size_t pos) {
  while (pos < text.size()) {
    if (is_space(text[pos])) {
      ++pos;
    } else if (const std::size_t length = opener_length(text, pos); length > 0) {
      pos += length;
    } else {
      return text[pos];
    }
  }
  return 0;
}

// Abbreviations after which a period never ends a sentence: titles are followed by a name, and
// e.g. / i.e. / cf. / vs. by anything at all.
constexpr std::array<std::string_view, 22> kTitleAbbreviations = {
    "capt",   "cf", "col", "dr", "e.g", "fr",   "gen", "gov", "hon", "i.e", "lt",
    "messrs", "mr", "mrs", "ms", "mt",  "prof", "rev", "sen", "sgt", "st",  "vs"};

// Abbreviations that often end a sentence too ("... apples, pears, etc. Then ..."): the period
// ends the sentence only when a capital letter follows.
constexpr std::array<std::string_view, 32> kOtherAbbreviations = {
    "al",  "approx", "apr", "aug", "co",   "corp", "dec", "dept", "ed",  "eds", "eq",
    "est", "etc",    "feb", "fig", "figs", "inc",  "jan", "jr",   "jul", "jun", "ltd",
    "mar", "no",     "nos", "nov", "oct",  "pp",   "sep", "sept", "sr",  "vol"};

template <std::size_t N>
bool contains(const std::array<std::string_view, N>& list, std::string_view word) {
  return std::find(list.begin(), list.end(), word) != list.end();
}

// Decides whether the terminator run text[run_begin, run_end), followed by closing punctuation up
// to after_closers (which is followed by whitespace), ends the sentence that began at start.
bool ends_sentence(std::string_view text, std::size_t start, std::size_t run_begin,
                   std::size_t run_end, std::size_t after_closers) {
  const char next = next_letter(text, after_closers);
  const bool next_lower = is_ascii_lower(next);
  const bool next_upper = is_ascii_upper(next);
  const std::string_view run = text.substr(run_begin, run_end - run_begin);
  if (run.find_first_of("!?") != std::string_view::npos) {
    // “Run!” she said. — quoted speech continues when the sentence goes on in lower case.
    return !(after_closers > run_end && next_lower);
  }
  if (run != ".") return !next_lower;  // an ellipsis may trail off mid-sentence

  // A single period: look at the token it ends.
  std::size_t token_begin = run_begin;
  while (token_begin > start &&
         (is_ascii_alpha(text[token_begin - 1]) || is_ascii_digit(text[token_begin - 1]) ||
          text[token_begin - 1] == '.')) {
    --token_begin;
  }
  // The token is the tail of a longer word with non-ASCII letters ("Straße."): an ordinary word.
  if (token_begin > start && static_cast<unsigned char>(text[token_begin - 1]) >= 0x80) {
    return true;
  }
  const std::string_view token = text.substr(token_begin, run_begin - token_begin);
  if (token.empty()) return true;
  if (std::all_of(token.begin(), token.end(), is_ascii_digit)) {
    return token_begin != start;  // "1. First item" is a list marker, "cost 5. Then" is not
  }
  std::string lower;
  for (char c : token) lower += detail::to_ascii_lower(c);
  if (contains(kTitleAbbreviations, lower)) return false;
  if (contains(kOtherAbbreviations, lower)) return next_upper;
  if (token.size() == 1 && is_ascii_alpha(token[0])) {
    return is_ascii_upper(token[0]) ? false : next_upper;  // initials: "J. R. R. Tolkien"
  }
  // Dotted forms like U.S. or p.m. may end a sentence or not; decimals never reach here because
  // their period is not followed by whitespace.
  if (token.find('.') != std::string_view::npos &&
      std::none_of(token.begin(), token.end(), is_ascii_digit)) {
    return next_upper;
  }
  return true;
}

// Whether a single line break at the whitespace ending before next_pos continues the sentence:
// hard-wrapped prose does (next line in lower case, or a line ending in a comma); lists and
// headings do not. A line ending in a period that did not end the sentence ("Dr.", "J.") goes on.
bool line_continues(std::string_view text, std::size_t last, std::size_t next_pos) {
  const char end = text[last - 1];
  return end == ',' || end == '.' || is_ascii_lower(text[next_pos]);
}

}  // namespace

namespace detail {

std::vector<Span> sentence_spans(std::string_view text) {
  std::vector<Span> spans;
  const std::size_t n = text.size();
  std::size_t start = kNone;  // first byte of the current sentence
  std::size_t last = 0;       // one past its last non-space byte so far
  auto emit = [&](std::size_t end) {
    spans.push_back({start, end});
    start = kNone;
  };
  std::size_t i = 0;
  while (i < n) {
    const char c = text[i];
    if (is_space(c)) {
      if (c != '\n' || start == kNone) {
        ++i;
        continue;
      }
      std::size_t j = i;
      int newlines = 0;
      for (; j < n && is_space(text[j]); ++j) newlines += text[j] == '\n' ? 1 : 0;
      if (j < n && (newlines >= 2 || !line_continues(text, last, j))) emit(last);
      i = j;
      continue;
    }
    if (start == kNone) start = i;
    if (terminator_length(text, i) == 0) {
      last = ++i;
      continue;
    }
    std::size_t run_end = i;
    while (run_end < n) {
      const std::size_t length = terminator_length(text, run_end);
      if (length == 0) break;
      run_end += length;
    }
    std::size_t after = run_end;
    while (after < n) {
      const std::size_t length = closer_length(text, after);
      if (length == 0) break;
      after += length;
    }
    if (after < n && !is_space(text[after])) {
      // "3.14", "example.com", "e.g." mid-token: no boundary here; rescan what follows the run.
      last = i = run_end;
      continue;
    }
    last = after;
    if (after < n && ends_sentence(text, start, i, run_end, after)) emit(after);
    i = after;
  }
  if (start != kNone) emit(last);
  return spans;
}

std::vector<Span> word_spans(std::string_view text) {
  std::vector<Span> spans;
  std::size_t i = 0;
  while (i < text.size()) {
    const CharClass first = classify(text, i);
    if (!first.is_word) {
      i += first.length;
      continue;
    }
    const std::size_t begin = i;
    i += first.length;
    while (i < text.size()) {
      const CharClass next = classify(text, i);
      if (next.is_word) {
        i += next.length;
        continue;
      }
      // Apostrophes and hyphens stay only between two word characters: "don't", "Mara’s",
      // "state-of-the-art", but not 'quoted' or -dashes-.
      const std::size_t joiner = joiner_length(text, i);
      if (joiner == 0 || i + joiner >= text.size()) break;
      const CharClass after = classify(text, i + joiner);
      if (!after.is_word) break;
      i += joiner + after.length;
    }
    spans.push_back({begin, i});
  }
  return spans;
}

std::string normalize_word(std::string_view raw) {
  std::string word;
  word.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    // One spelling of the apostrophe lets "don’t" match the stopword "don't".
    if (starts_with_at(raw, i, kRightSingleQuote)) {
      word += '\'';
      i += kRightSingleQuote.size() - 1;
    } else {
      word += to_ascii_lower(raw[i]);
    }
  }
  return word;
}

}  // namespace detail

std::vector<std::string> split_sentences(std::string_view text) {
  std::vector<std::string> sentences;
  for (const Span& span : detail::sentence_spans(text)) {
    sentences.emplace_back(text.substr(span.begin, span.end - span.begin));
  }
  return sentences;
}

std::vector<std::string> words(std::string_view text) {
  std::vector<std::string> result;
  for (const Span& span : detail::word_spans(text)) {
    result.push_back(detail::normalize_word(text.substr(span.begin, span.end - span.begin)));
  }
  return result;
}

namespace {

// Sorted in byte order for binary search (checked below at compile time).
constexpr std::array<std::string_view, 200> kStopwords = {
    "a",          "about",   "above",   "after",   "again",  "against",   "all",      "also",
    "am",         "an",      "and",     "any",     "are",    "aren't",    "as",       "at",
    "be",         "because", "been",    "before",  "being",  "below",     "between",  "both",
    "but",        "by",      "can",     "can't",   "cannot", "could",     "couldn't", "did",
    "didn't",     "do",      "does",    "doesn't", "doing",  "don't",     "down",     "during",
    "each",       "either",  "else",    "ever",    "every",  "few",       "for",      "from",
    "further",    "had",     "hadn't",  "has",     "hasn't", "have",      "haven't",  "having",
    "he",         "he'd",    "he'll",   "he's",    "her",    "here",      "here's",   "hers",
    "herself",    "him",     "himself", "his",     "how",    "how's",     "however",  "i",
    "i'd",        "i'll",    "i'm",     "i've",    "if",     "in",        "into",     "is",
    "isn't",      "it",      "it's",    "its",     "itself", "just",      "let's",    "may",
    "me",         "might",   "more",    "most",    "much",   "must",      "mustn't",  "my",
    "myself",     "neither", "no",      "nor",     "not",    "now",       "of",       "off",
    "on",         "once",    "only",    "or",      "other",  "ought",     "our",      "ours",
    "ourselves",  "out",     "over",    "own",     "per",    "same",      "shall",    "shan't",
    "she",        "she'd",   "she'll",  "she's",   "should", "shouldn't", "so",       "some",
    "such",       "than",    "that",    "that's",  "the",    "their",     "theirs",   "them",
    "themselves", "then",    "there",   "there's", "these",  "they",      "they'd",   "they'll",
    "they're",    "they've", "this",    "those",   "though", "through",   "thus",     "to",
    "too",        "under",   "until",   "up",      "upon",   "us",        "very",     "was",
    "wasn't",     "we",      "we'd",    "we'll",   "we're",  "we've",     "were",     "weren't",
    "what",       "what's",  "when",    "when's",  "where",  "where's",   "whether",  "which",
    "while",      "who",     "who's",   "whom",    "whose",  "why",       "why's",    "will",
    "with",       "within",  "without", "won't",   "would",  "wouldn't",  "yet",      "you",
    "you'd",      "you'll",  "you're",  "you've",  "your",   "yours",     "yourself", "yourselves"};

constexpr bool is_sorted_list() {
  for (std::size_t i = 1; i < kStopwords.size(); ++i) {
    if (!(kStopwords[i - 1] < kStopwords[i])) return false;
  }
  return true;
}
static_assert(is_sorted_list(), "kStopwords must be sorted for binary search");

}  // namespace

bool is_stopword(std::string_view lowercase_word) {
  if (lowercase_word.empty() || lowercase_word.size() > 16) return false;
  // Callers may pass "The" or "don’t"; normalizing here is cheap and saves them the trouble.
  const std::string word = detail::normalize_word(lowercase_word);
  return std::binary_search(kStopwords.begin(), kStopwords.end(), std::string_view(word));
}

}  // namespace loom::text
