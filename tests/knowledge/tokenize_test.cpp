// tokenize_test.cpp — the knowledge tokenizer (tokenize.cpp): Unicode words, apostrophes,
// hyphens, normalization, invalid UTF-8; stopwords and analyze().
#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "knowledge/analysis.hpp"
#include "loom/knowledge.hpp"

using loom::knowledge::analyze;
using loom::knowledge::is_stopword;
using loom::knowledge::tokenize;
using Strings = std::vector<std::string>;

namespace {

bool strictly_valid_utf8(const std::string& s) { return loom::knowledge::detail::is_valid_utf8(s); }

}  // namespace

TEST_CASE("tokenize splits Unicode text into normalized words", "[knowledge]") {
  using Row = std::tuple<std::string, std::string, Strings>;
  auto row = GENERATE(table<std::string, std::string, Strings>({
      Row{"ASCII, lowercased", "The Ferry LEFT at 6", {"the", "ferry", "left", "at", "6"}},
      Row{"accented letters keep their marks", "Café NOËL", {"café", "noël"}},
      Row{"a decomposed é composes (NFC inside NFKC)", "Cafe\xCC\x81", {"café"}},
      Row{"ß case-folds to ss", "Straße STRASSE", {"strasse", "strasse"}},
      Row{"Cyrillic", "Мара Квилл", {"мара", "квилл"}},
      Row{"Greek with final sigma folded", "ΟΔΥΣΣΕΥΣ ὁδός", {"οδυσσευσ", "ὁδόσ"}},
      Row{"CJK ideographs are one token each", "東京に行く", {"東", "京", "に", "行", "く"}},
      Row{"katakana stays a word", "タワー", {"タワー"}},
      Row{"digits are words, and words with digits", "R2D2 in 1984", {"r2d2", "in", "1984"}},
      Row{"the fi ligature and fullwidth letters (NFKC)", "ﬁnal ＡＢＣ１２", {"final", "abc12"}},
      Row{"punctuation and emoji are dropped", "wait... what?! \xF0\x9F\x98\x80 (yes) \xE2\x9D\xA4\xEF\xB8\x8F ok", {"wait", "what", "yes", "ok"}},
      Row{"an apostrophe inside a word stays", "don't o'brien", {"don't", "o'brien"}},
      Row{"typographic apostrophes become '", "don\xE2\x80\x99t can\xCA\xBCt", {"don't", "can't"}},
      Row{"quotes around words are not apostrophes", "'tis the 'end'", {"tis", "the", "end"}},
      Row{"a possessive 's is dropped", "Mara's ferry and Mara\xE2\x80\x99s boat", {"mara", "ferry", "and", "mara", "boat"}},
      Row{"a plural possessive keeps its s", "the Quills' house", {"the", "quills", "house"}},
      Row{"hyphenated words give parts and the joined word", "well-known", {"well", "known", "wellknown"}},
      Row{"three parts", "mother-in-law", {"mother", "in", "law", "motherinlaw"}},
      Row{"Unicode hyphens join too; dashes do not", "x\xE2\x80\x90" "ray a\xE2\x80\x94" "b", {"x", "ray", "xray", "a", "b"}},
      Row{"a hyphen at a word's edge is dropped", "-well- known-", {"well", "known"}},
      Row{"a soft hyphen vanishes inside a word", "hyphen\xC2\xAD" "ation", {"hyphenation"}},
      Row{"empty and blank", "  \n\t ", {}},
  }));
  const std::string& what = std::get<0>(row);
  INFO(what);
  CHECK(tokenize(std::get<1>(row)) == std::get<2>(row));
}

TEST_CASE("tokenize drops tokens longer than the limit", "[knowledge]") {
  const std::string longest(loom::knowledge::detail::kMaxTokenBytes, 'a');
  CHECK(tokenize(longest + " b") == Strings{longest, "b"});
  CHECK(tokenize(longest + "a b") == Strings{"b"});
}

TEST_CASE("tokenize skips invalid UTF-8 bytes as separators", "[knowledge]") {
  using Row = std::tuple<std::string, std::string, Strings>;
  auto row = GENERATE(table<std::string, std::string, Strings>({
      Row{"a stray continuation byte splits a word", "ab\x80" "cd", {"ab", "cd"}},
      Row{"a cut sequence at the end", "caf\xC3", {"caf"}},
      Row{"an overlong encoding of 'A'", "x\xC1\x81y", {"x", "y"}},
      Row{"a UTF-16 surrogate", "x\xED\xA0\x80y", {"x", "y"}},
      Row{"past U+10FFFF", "x\xF4\x90\x80\x80y", {"x", "y"}},
      Row{"a lead byte followed by ASCII", "\xE2" "abc", {"abc"}},
  }));
  INFO(std::get<0>(row));
  CHECK(tokenize(std::get<1>(row)) == std::get<2>(row));
}

TEST_CASE("tokens never split a UTF-8 sequence and offsets slice the text (property)", "[knowledge]") {
  // Random strings over a palette of ASCII, multi-byte letters, marks, separators and broken bytes.
  const std::vector<std::string> palette = {
      "a", "Z", "7", " ", "-", "'", "\xE2\x80\x99", ".", "\n", "é", "ß", "Ж", "東", "\xCC\x81", "\xF0\x9F\x98\x80",
      "\x80", "\xC3", "\xE2\x80", "ﬁ", "Ａ", "\xC2\xAD", "s"};
  std::mt19937 rng(5);
  loom::knowledge::detail::TokenBuffer buffer;
  for (int round = 0; round < 2000; ++round) {
    std::string text;
    const int n = static_cast<int>(rng() % 24);
    for (int i = 0; i < n; ++i) text += palette[rng() % palette.size()];
    loom::knowledge::detail::tokenize_into(text, buffer);
    for (const auto& t : buffer.tokens) {
      const std::string term(buffer.term(t));
      INFO("text: " << text << " term: " << term);
      REQUIRE(!term.empty());
      REQUIRE(strictly_valid_utf8(term));
      REQUIRE(t.begin < t.end);
      REQUIRE(t.end <= text.size());
      REQUIRE(strictly_valid_utf8(text.substr(t.begin, t.end - t.begin)));
    }
    CHECK(tokenize(text).size() == buffer.tokens.size());
  }
}

TEST_CASE("token offsets point at the surface, without a possessive", "[knowledge]") {
  loom::knowledge::detail::TokenBuffer buffer;
  const std::string text = "Ask Mara’s ÉLAN, well-known.";
  loom::knowledge::detail::tokenize_into(text, buffer);
  std::vector<std::string> surfaces;
  for (const auto& t : buffer.tokens) surfaces.push_back(text.substr(t.begin, t.end - t.begin));
  CHECK(surfaces == Strings{"Ask", "Mara", "ÉLAN", "well", "known", "well-known"});
  CHECK(buffer.tokens.back().joined);
}

TEST_CASE("is_stopword knows Snowball's English list", "[knowledge]") {
  for (const char* w : {"the", "a", "and", "of", "ourselves", "don't", "i'm", "not", "very"}) {
    INFO(w);
    CHECK(is_stopword(w));
  }
  for (const char* w : {"ferry", "mara", "will", "may", "The", "", "quill"}) {
    INFO(w);
    CHECK_FALSE(is_stopword(w));
  }
}

TEST_CASE("analyze drops stopwords and stems", "[knowledge]") {
  CHECK(analyze("Mara's running to the ferries") == Strings{"mara", "run", "ferri"});
  CHECK(analyze("The well-known Generously") == Strings{"well", "known", "wellknown", "generous"});
  CHECK(analyze("of the and") == Strings{});
  CHECK(analyze("東京 Москва") == Strings{"東", "京", "москва"});
}
