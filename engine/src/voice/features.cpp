// features.cpp — the style features a writer can read: sentence and word lengths, contractions,
// dialogue, vocabulary richness, person, punctuation.

#include <algorithm>
#include <cmath>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "text/text_internal.hpp"
#include "voice/voice_internal.hpp"

namespace loom::voice {
namespace {

using text::detail::Span;

bool is_letter_byte(char c) {
  return text::detail::is_ascii_alpha(c) || (static_cast<unsigned char>(c) & 0x80) != 0;
}

bool starts_with(std::string_view s, std::size_t i, std::string_view what) {
  return s.size() >= i + what.size() && s.compare(i, what.size(), what) == 0;
}

// An apostrophe at s[i] of `width` bytes; true when it makes a contraction: n't, 'll, 're, 've,
// 'm, 'd, 's after a pronoun or adverb, or a leading/inner elision ('tis, o'er, e'er, th').
bool contraction_at(std::string_view s, std::size_t i, std::size_t width, std::string_view word_before) {
  const std::size_t after = i + width;
  auto letters_after = [&]() {
    std::size_t j = after;
    while (j < s.size() && text::detail::is_ascii_alpha(s[j])) ++j;
    std::string w(s.substr(after, j - after));
    for (char& c : w) c = text::detail::to_ascii_lower(c);
    return w;
  };
  const std::string tail = letters_after();
  if (word_before.empty()) return tail == "tis" || tail == "twas" || tail == "em" || tail == "twere";
  if (tail.empty()) return word_before == "th" || word_before == "o";  // th' o' (archaic elisions)
  if (tail == "t" && !word_before.empty() && word_before.back() == 'n') return true;
  if (tail == "ll" || tail == "re" || tail == "ve" || tail == "m" || tail == "d") return true;
  if (tail == "s") {
    static const char* const kHosts[] = {"it", "he", "she", "that", "there", "here", "what", "who", "where",
                                         "how", "let", "when", "why", "this", "everything", "nothing"};
    for (const char* h : kHosts) {
      if (word_before == h) return true;
    }
    return false;
  }
  if (tail == "clock") return false;  // o'clock is how everyone writes it, not a voice's habit
  return tail == "er" || tail == "en" || word_before == "o" || word_before == "e";  // o'er e'er ne'er ev'n
}

const std::unordered_map<std::string, int>& person_words() {
  static const std::unordered_map<std::string, int> words = {
      {"i", 1}, {"me", 1}, {"my", 1}, {"mine", 1}, {"myself", 1}, {"we", 1}, {"us", 1}, {"our", 1},
      {"ours", 1}, {"ourselves", 1}, {"you", 2}, {"your", 2}, {"yours", 2}, {"yourself", 2},
      {"yourselves", 2}, {"thou", 2}, {"thee", 2}, {"thy", 2}, {"thine", 2}, {"thyself", 2}, {"ye", 2}};
  return words;
}

// Moving-average type-token ratio over windows of `window` words (the plain ratio for fewer).
double mattr(const std::vector<std::string>& words, std::size_t window) {
  if (words.empty()) return 0;
  if (words.size() <= window) {
    std::unordered_map<std::string_view, int> seen;
    for (const auto& w : words) ++seen[w];
    return static_cast<double>(seen.size()) / static_cast<double>(words.size());
  }
  std::unordered_map<std::string_view, int> in_window;
  for (std::size_t i = 0; i < window; ++i) ++in_window[words[i]];
  double sum = static_cast<double>(in_window.size());
  std::size_t windows = 1;
  for (std::size_t i = window; i < words.size(); ++i) {
    auto out = in_window.find(words[i - window]);
    if (--out->second == 0) in_window.erase(out);
    ++in_window[words[i]];
    sum += static_cast<double>(in_window.size());
    ++windows;
  }
  return sum / static_cast<double>(windows * window);
}

}  // namespace

const std::vector<FeatureInfo>& feature_table() {
  static const std::vector<FeatureInfo> table = {
      {"sentence_length", "sentence length", "words per sentence", &Features::sentence_length},
      {"sentence_spread", "sentence variety", "words (standard deviation)", &Features::sentence_spread},
      {"word_length", "word length", "characters per word", &Features::word_length},
      {"contractions", "contractions", "per 1,000 words", &Features::contractions},
      {"dialogue_share", "dialogue", "share of words in quotes", &Features::dialogue_share},
      {"vocabulary", "vocabulary richness", "distinct words per 50", &Features::vocabulary},
      {"first_person", "first-person words", "per 1,000 words", &Features::first_person},
      {"second_person", "second-person words", "per 1,000 words", &Features::second_person},
      {"ly_adverbs", "-ly adverbs", "per 1,000 words", &Features::ly_adverbs},
      {"commas", "commas", "per 1,000 words", &Features::commas},
      {"semicolons", "semicolons", "per 1,000 words", &Features::semicolons},
      {"colons", "colons", "per 1,000 words", &Features::colons},
      {"dashes", "dashes", "per 1,000 words", &Features::dashes},
      {"ellipses", "ellipses", "per 1,000 words", &Features::ellipses},
      {"exclamations", "exclamation marks", "per 1,000 words", &Features::exclamations},
      {"questions", "question marks", "per 1,000 words", &Features::questions},
      {"parentheses", "parentheses", "per 1,000 words", &Features::parentheses},
  };
  return table;
}

Features measure(std::string_view text) {
  Features f;
  const std::vector<Span> word_spans = text::detail::word_spans(text);
  std::vector<std::string> words;
  words.reserve(word_spans.size());
  for (const Span& w : word_spans) words.push_back(text::detail::normalize_word(text.substr(w.begin, w.end - w.begin)));
  f.words = static_cast<std::int64_t>(words.size());
  if (f.words == 0) return f;
  const double per_k = 1000.0 / static_cast<double>(f.words);

  // Sentences: lengths in words (a sentence without a word does not count).
  std::vector<double> lengths;
  std::size_t w = 0;
  for (const Span& s : text::detail::sentence_spans(text)) {
    std::size_t n = 0;
    while (w < word_spans.size() && word_spans[w].begin < s.end) {
      if (word_spans[w].begin >= s.begin) ++n;
      ++w;
    }
    if (n > 0) lengths.push_back(static_cast<double>(n));
  }
  if (lengths.empty()) lengths.push_back(static_cast<double>(f.words));
  f.sentences = static_cast<std::int64_t>(lengths.size());
  double sum = 0;
  for (double l : lengths) sum += l;
  f.sentence_length = sum / static_cast<double>(lengths.size());
  double var = 0;
  for (double l : lengths) var += (l - f.sentence_length) * (l - f.sentence_length);
  f.sentence_spread = std::sqrt(var / static_cast<double>(lengths.size()));

  // Words: length (code points, apostrophes excluded), person, -ly adverbs.
  std::int64_t letters = 0, first = 0, second = 0, ly = 0;
  const auto& person = person_words();
  for (const std::string& word : words) {
    std::int64_t n = 0;
    for (char c : word) n += (!text::detail::is_continuation(c) && c != '\'') ? 1 : 0;
    letters += n;
    auto p = person.find(word);
    if (p != person.end()) (p->second == 1 ? first : second) += 1;
    if (word.size() >= 4 && word.compare(word.size() - 2, 2, "ly") == 0) ++ly;
  }
  f.word_length = static_cast<double>(letters) / static_cast<double>(f.words);
  f.first_person = static_cast<double>(first) * per_k;
  f.second_person = static_cast<double>(second) * per_k;
  f.ly_adverbs = static_cast<double>(ly) * per_k;
  f.vocabulary = mattr(words, 50);

  // One pass over the bytes: punctuation, contractions, quotes.
  std::int64_t commas = 0, semicolons = 0, colons = 0, dashes = 0, ellipses = 0, exclamations = 0, questions = 0,
               parens = 0, contractions = 0;
  std::string word_before;  // the letters right before the current position, lowercased
  bool in_quote = false;
  std::vector<bool> quoted_at;  // per byte: inside double quotes
  quoted_at.assign(text.size(), false);
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    quoted_at[i] = in_quote;
    if (text::detail::is_ascii_alpha(c)) {
      word_before.push_back(text::detail::to_ascii_lower(c));
      continue;
    }
    std::size_t apostrophe = 0;
    if (c == '\'') apostrophe = 1;
    if (starts_with(text, i, "\xE2\x80\x99")) apostrophe = 3;  // ’
    if (apostrophe) {
      const bool letter_after = i + apostrophe < text.size() && is_letter_byte(text[i + apostrophe]);
      if ((letter_after || !word_before.empty()) && contraction_at(text, i, apostrophe, word_before)) ++contractions;
      i += apostrophe - 1;
      if (!letter_after) word_before.clear();
      continue;
    }
    if (!text::detail::is_continuation(c)) word_before.clear();
    switch (c) {
      case ',': ++commas; break;
      case ';': ++semicolons; break;
      case ':': ++colons; break;
      case '!': ++exclamations; break;
      case '?': ++questions; break;
      case '(': ++parens; break;
      case '"': in_quote = !in_quote; break;
      case '-':
        if (starts_with(text, i, "--")) {
          ++dashes;
          while (i + 1 < text.size() && text[i + 1] == '-') ++i;
        } else if ((i == 0 || text::detail::is_space(text[i - 1])) && i + 1 < text.size() &&
                   text::detail::is_space(text[i + 1])) {
          ++dashes;  // a spaced hyphen used as a dash
        }
        break;
      case '.':
        if (starts_with(text, i, "...")) {
          ++ellipses;
          while (i + 1 < text.size() && text[i + 1] == '.') ++i;
        }
        break;
      default:
        if (starts_with(text, i, "\xE2\x80\x94") || starts_with(text, i, "\xE2\x80\x93")) ++dashes, i += 2;  // — –
        else if (starts_with(text, i, "\xE2\x80\xA6")) ++ellipses, i += 2;                                  // …
        else if (starts_with(text, i, "\xE2\x80\x9C")) in_quote = true, i += 2;                             // “
        else if (starts_with(text, i, "\xE2\x80\x9D")) in_quote = false, i += 2;                            // ”
        break;
    }
  }
  std::int64_t quoted_words = 0;
  for (const Span& s : word_spans) quoted_words += quoted_at[s.begin] ? 1 : 0;
  f.dialogue_share = static_cast<double>(quoted_words) / static_cast<double>(f.words);
  f.contractions = static_cast<double>(contractions) * per_k;
  f.commas = static_cast<double>(commas) * per_k;
  f.semicolons = static_cast<double>(semicolons) * per_k;
  f.colons = static_cast<double>(colons) * per_k;
  f.dashes = static_cast<double>(dashes) * per_k;
  f.ellipses = static_cast<double>(ellipses) * per_k;
  f.exclamations = static_cast<double>(exclamations) * per_k;
  f.questions = static_cast<double>(questions) * per_k;
  f.parentheses = static_cast<double>(parens) * per_k;
  return f;
}

}  // namespace loom::voice
