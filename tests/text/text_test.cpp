// text_test.cpp — tests for loom::text (sentences, words, stopwords, chunk, summarize, keywords).

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "loom/text.hpp"

using loom::text::chunk;
using loom::text::ChunkOptions;
using loom::text::is_stopword;
using loom::text::Keyword;
using loom::text::keywords;
using loom::text::split_sentences;
using loom::text::summarize;
using loom::text::words;

namespace {

using Strings = std::vector<std::string>;

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

bool is_valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto lead = static_cast<unsigned char>(s[i]);
    std::size_t length = 0;
    if (lead < 0x80) {
      length = 1;
    } else if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
    } else {
      return false;
    }
    if (i + length > s.size()) return false;
    for (std::size_t k = 1; k < length; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += length;
  }
  return true;
}

bool is_trimmed(std::string_view s) {
  return !s.empty() && !is_space(s.front()) && !is_space(s.back());
}

// Length of the overlap `current` repeats from the end of `previous`: the longest run of whole
// words that ends `previous` and begins `current`, at most `limit` bytes. Exact for texts whose
// words are all distinct, as the generated ones below are.
std::size_t overlap_length(const std::string& previous, const std::string& current,
                           std::size_t limit) {
  const std::size_t most = std::min({limit, previous.size() - 1, current.size()});
  for (std::size_t k = most; k > 0; --k) {
    if (previous.compare(previous.size() - k, k, current, 0, k) != 0) continue;
    if (!is_space(previous[previous.size() - k - 1])) continue;
    if (k < current.size() && !is_space(current[k])) continue;
    return k;
  }
  return 0;
}

Strings whitespace_tokens(std::string_view s) {
  Strings tokens;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && is_space(s[i])) ++i;
    const std::size_t begin = i;
    while (i < s.size() && !is_space(s[i])) ++i;
    if (i > begin) tokens.emplace_back(s.substr(begin, i - begin));
  }
  return tokens;
}

// Deterministic pseudo-random numbers so generated texts are the same on every run.
class Lcg {
 public:
  explicit Lcg(std::uint32_t seed) : state_(seed) {}
  std::uint32_t next(std::uint32_t bound) {
    state_ = state_ * 1664525u + 1013904223u;
    return (state_ >> 8) % bound;
  }

 private:
  std::uint32_t state_;
};

// A long text of paragraphs, sentences and distinct words (each at most 14 bytes), with
// multi-byte letters, curly quotes, brackets, decimals, single line breaks and runs of blank
// lines, for property tests.
std::string generated_text(std::uint32_t seed, int paragraphs) {
  Lcg random(seed);
  int id = 0;
  auto word = [&]() {
    static const char* const kStems[] = {"w", "café", "naïve", "日本", "x-y", "don't"};
    char digits[8];
    std::snprintf(digits, sizeof digits, "%04d", id++);
    return std::string(kStems[random.next(6)]) + digits;
  };
  std::string text;
  for (int p = 0; p < paragraphs; ++p) {
    if (p > 0) text += random.next(4) == 0 ? "\n \n\n" : "\n\n";
    const int sentences = 1 + static_cast<int>(random.next(8));
    for (int s = 0; s < sentences; ++s) {
      if (s > 0) text += random.next(6) == 0 ? "\n" : " ";
      const int length = 1 + static_cast<int>(random.next(25));
      const bool quoted = random.next(8) == 0;
      std::string sentence = quoted ? "\xE2\x80\x9C" : "";
      for (int w = 0; w < length; ++w) {
        if (w > 0) sentence += ' ';
        const std::uint32_t kind = random.next(20);
        if (kind == 0) {
          sentence += "(" + word() + ") ";
        } else if (kind == 1) {
          sentence += std::to_string(id++) + ".5 ";
        }
        std::string next = word();
        if (w == 0) next[0] = static_cast<char>(next[0] == 'w' ? 'W' : next[0]);
        sentence += next;
      }
      static const char* const kEnds[] = {".", "!", "?", "..."};
      sentence += kEnds[random.next(4)];
      if (quoted) sentence += "\xE2\x80\x9D";
      text += sentence;
    }
  }
  return text;
}

std::vector<std::string> terms_of(const std::vector<Keyword>& found) {
  Strings terms;
  for (const Keyword& keyword : found) terms.push_back(keyword.term);
  return terms;
}

}  // namespace

// ---- split_sentences -------------------------------------------------------------------------

TEST_CASE("split_sentences splits at terminators and trims", "[text]") {
  CHECK(split_sentences("  Hello there.  How are you?  Fine!  ") ==
        Strings{"Hello there.", "How are you?", "Fine!"});
  CHECK(split_sentences("No terminator at all") == Strings{"No terminator at all"});
  CHECK(split_sentences("What?! Really... I see.") == Strings{"What?!", "Really...", "I see."});
  CHECK(split_sentences("I thought... maybe not.") == Strings{"I thought... maybe not."});
}

TEST_CASE("split_sentences gives nothing for empty or blank text", "[text]") {
  CHECK(split_sentences("").empty());
  CHECK(split_sentences(" \n\t \r\n ").empty());
}

TEST_CASE("split_sentences does not split after abbreviations or initials", "[text]") {
  CHECK(split_sentences("Mr. Smith went home. He slept.") ==
        Strings{"Mr. Smith went home.", "He slept."});
  CHECK(split_sentences("Dr. Jones and Mrs. Lee met at St. Paul's. They talked.") ==
        Strings{"Dr. Jones and Mrs. Lee met at St. Paul's.", "They talked."});
  CHECK(split_sentences("J. R. R. Tolkien wrote it. Everyone read it.") ==
        Strings{"J. R. R. Tolkien wrote it.", "Everyone read it."});
  CHECK(split_sentences("Bring tools, e.g. a hammer. Or i.e. anything.") ==
        Strings{"Bring tools, e.g. a hammer.", "Or i.e. anything."});
  CHECK(split_sentences("We bought apples, pears, etc. and left.") ==
        Strings{"We bought apples, pears, etc. and left."});
}

TEST_CASE("split_sentences lets ambiguous abbreviations end a sentence before a capital",
          "[text]") {
  CHECK(split_sentences("We bought pears, etc. Then we left.") ==
        Strings{"We bought pears, etc.", "Then we left."});
  CHECK(split_sentences("She moved to the U.S. The move went well.") ==
        Strings{"She moved to the U.S.", "The move went well."});
  CHECK(split_sentences("See No. 5 for details. Done.") ==
        Strings{"See No. 5 for details.", "Done."});
}

TEST_CASE("split_sentences does not split decimals, versions or hosts", "[text]") {
  CHECK(split_sentences("The price rose 3.5 percent. Analysts were surprised.") ==
        Strings{"The price rose 3.5 percent.", "Analysts were surprised."});
  CHECK(split_sentences("Visit example.com with v1.2.3 today. Bye.") ==
        Strings{"Visit example.com with v1.2.3 today.", "Bye."});
  CHECK(split_sentences("It cost 5. Then it rose.") == Strings{"It cost 5.", "Then it rose."});
  CHECK(split_sentences("We met at 5 p.m. yesterday. Fine.") ==
        Strings{"We met at 5 p.m. yesterday.", "Fine."});
}

TEST_CASE("split_sentences keeps closing quotes and brackets with the sentence", "[text]") {
  CHECK(split_sentences("\xE2\x80\x9CRun!\xE2\x80\x9D she said. Then silence.") ==
        Strings{"\xE2\x80\x9CRun!\xE2\x80\x9D she said.", "Then silence."});
  CHECK(split_sentences("\xE2\x80\x9CStop.\xE2\x80\x9D Then he left.") ==
        Strings{"\xE2\x80\x9CStop.\xE2\x80\x9D", "Then he left."});
  CHECK(split_sentences("He said \"stop.\" Then he left.") ==
        Strings{"He said \"stop.\"", "Then he left."});
  CHECK(split_sentences("(This is an aside.) Next one.") ==
        Strings{"(This is an aside.)", "Next one."});
  CHECK(split_sentences("Mara\xE2\x80\x99s cat slept. It purred.") ==
        Strings{"Mara\xE2\x80\x99s cat slept.", "It purred."});
}

TEST_CASE("split_sentences ends sentences at paragraph and list line breaks", "[text]") {
  CHECK(split_sentences("A heading\n\nBody text here") == Strings{"A heading", "Body text here"});
  CHECK(split_sentences("Shopping:\n- eggs\n- milk") == Strings{"Shopping:", "- eggs", "- milk"});
  CHECK(split_sentences("1. First item.\n2. Second item.") ==
        Strings{"1. First item.", "2. Second item."});
  CHECK(split_sentences("Dr.\nWatson arrived.\nHolmes left.") ==
        Strings{"Dr.\nWatson arrived.", "Holmes left."});
  // Hard-wrapped prose: the line continues in lower case.
  CHECK(split_sentences("This sentence is wrapped\nacross two lines. Next.") ==
        Strings{"This sentence is wrapped\nacross two lines.", "Next."});
}

TEST_CASE("split_sentences reassembles to the text's content", "[text]") {
  const std::string text = generated_text(7, 40);
  std::string joined;
  for (const std::string& sentence : split_sentences(text)) {
    CHECK(is_trimmed(sentence));
    CHECK(is_valid_utf8(sentence));
    joined += sentence + " ";
  }
  CHECK(whitespace_tokens(joined) == whitespace_tokens(text));
}

// ---- words and stopwords ---------------------------------------------------------------------

TEST_CASE("words lowercases ASCII and keeps UTF-8 letters, apostrophes and hyphens", "[text]") {
  CHECK(words("Don't stop, Mara\xE2\x80\x99s caf\xC3\xA9 is na\xC3\xAFve!") ==
        Strings{"don't", "stop", "mara's", "caf\xC3\xA9", "is", "na\xC3\xAFve"});
  CHECK(words("state-of-the-art -dash- 'quoted' R2-D2 has 3 legs") ==
        Strings{"state-of-the-art", "dash", "quoted", "r2-d2", "has", "3", "legs"});
  // Curly quotes, dashes, ellipses and emoji are not letters.
  CHECK(words("\xE2\x80\x9CQuoted\xE2\x80\x9D \xE2\x80\x94 text\xE2\x80\xA6 \xF0\x9F\x8E\x89ok") ==
        Strings{"quoted", "text", "ok"});
  // Only ASCII is case-folded.
  CHECK(words("CAF\xC3\x89 \xE6\x97\xA5\xE6\x9C\xAC") ==
        Strings{"caf\xC3\x89", "\xE6\x97\xA5\xE6\x9C\xAC"});
  CHECK(words("").empty());
  CHECK(words(" ... --- !!! ").empty());
}

TEST_CASE("is_stopword knows common function words only", "[text]") {
  for (const char* word : {"the", "and", "of", "a", "is", "with", "they're", "yourselves"}) {
    CHECK(is_stopword(word));
  }
  for (const char* word : {"cat", "solar", "engine", "", "th", "thee", "zebra"}) {
    CHECK_FALSE(is_stopword(word));
  }
  CHECK(is_stopword("don\xE2\x80\x99t"));  // the curly apostrophe as words() would not give it
  CHECK(is_stopword("The"));
}

// ---- chunk -----------------------------------------------------------------------------------

TEST_CASE("chunk gives nothing for empty text and one trimmed chunk for short text", "[text]") {
  CHECK(chunk("").empty());
  CHECK(chunk(" \n\n\t ").empty());
  CHECK(chunk("  Short text.\n\nTwo paragraphs.  \n") == Strings{"Short text.\n\nTwo paragraphs."});
}

TEST_CASE("chunk keeps paragraphs whole when they fit", "[text]") {
  const std::string p1 = "Alpha paragraph one has a few words.";   // 36 bytes
  const std::string p2 = "Beta has two. Both are short, surely.";  // 37 bytes
  const std::string p3 = "Gamma three.";
  const std::string text = p1 + "\n\n" + p2 + "\n\n" + p3;
  CHECK(chunk(text, {50, 0}) == Strings{p1, p2, p3});
  CHECK(chunk(text, {60, 0}) == Strings{p1, p2 + "\n\n" + p3});
  CHECK(chunk(text, {1000, 0}) == Strings{text});
}

TEST_CASE("chunk starts the next chunk with a sentence from the previous one", "[text]") {
  const std::string p1 = "The first sentence here is rather long. Short tail one.";
  const std::string p2 = "Second paragraph text.";
  const Strings chunks = chunk(p1 + "\n\n" + p2, {60, 30});
  REQUIRE(chunks.size() == 2);
  CHECK(chunks[0] == p1);
  CHECK(chunks[1] == "Short tail one.\n\n" + p2);
}

TEST_CASE("chunk prefers a word boundary when a sentence start would leave little overlap",
          "[text]") {
  const std::string p1 = "Words one two three four five six seven eight nine. Ok.";
  const std::string p2 = "Next paragraph here.";
  const Strings chunks = chunk(p1 + "\n\n" + p2, {60, 25});
  REQUIRE(chunks.size() == 2);
  CHECK(chunks[1] == "six seven eight nine. Ok.\n\n" + p2);  // not just "Ok."
}

TEST_CASE("chunk shortens the overlap so a paragraph still fits whole", "[text]") {
  const std::string p1 = "Alpha beta gamma delta epsilon zeta eta theta iota.";
  // 100 - 90 - 2 leaves 8 bytes for the overlap: "iota." fits, "theta iota." does not.
  const std::string p2(90, 'x');
  Strings chunks = chunk(p1 + "\n\n" + p2, {100, 30});
  REQUIRE(chunks.size() == 2);
  CHECK(chunks[0] == p1);
  CHECK(chunks[1] == "iota.\n\n" + p2);
  // No room at all: the overlap goes.
  const std::string p3(97, 'x');
  chunks = chunk(p1 + "\n\n" + p3, {100, 30});
  REQUIRE(chunks.size() == 2);
  CHECK(chunks[1] == p3);
  // With room, the overlap is longer (cut at a word, as no sentence starts in the window).
  chunks = chunk(p1 + "\n\n" + p2, {200, 30});
  CHECK(chunks == Strings{p1 + "\n\n" + p2});
  chunks = chunk(p1 + "\n\n" + std::string(150, 'x'), {180, 20});
  REQUIRE(chunks.size() == 2);
  CHECK(chunks[1] == "zeta eta theta iota.\n\n" + std::string(150, 'x'));  // exactly 20 bytes
}

TEST_CASE("chunk splits a long paragraph at sentence boundaries", "[text]") {
  Strings sentences;
  std::string paragraph;
  for (int i = 0; i < 9; ++i) {
    sentences.push_back("Sentence number " + std::to_string(i) + " is here.");
    paragraph += (i > 0 ? " " : "") + sentences.back();
  }
  const Strings chunks = chunk(paragraph, {70, 0});
  Strings rebuilt;
  std::vector<std::size_t> counts;
  for (const std::string& piece : chunks) {
    CHECK(piece.size() <= 70);
    const Strings inside = split_sentences(piece);
    counts.push_back(inside.size());
    rebuilt.insert(rebuilt.end(), inside.begin(), inside.end());
  }
  CHECK(rebuilt == sentences);
  // 26-byte sentences: two fit in 70 bytes, three do not; the ninth is left alone.
  CHECK(counts == std::vector<std::size_t>{2, 2, 2, 2, 1});
}

TEST_CASE("chunk splits a long sentence at word boundaries", "[text]") {
  std::string sentence;
  for (int i = 0; i < 40; ++i) sentence += (i > 0 ? " word" : "word") + std::to_string(i);
  const Strings chunks = chunk(sentence, {30, 0});
  Strings rebuilt;
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    const std::string& piece = chunks[i];
    CHECK(piece.size() <= 30);
    // Greedy: the next word (a space and at most 6 bytes) did not fit.
    if (i + 1 < chunks.size()) CHECK(piece.size() + 7 > 30);
    const Strings tokens = whitespace_tokens(piece);
    rebuilt.insert(rebuilt.end(), tokens.begin(), tokens.end());
  }
  CHECK(rebuilt == whitespace_tokens(sentence));
}

TEST_CASE("chunk cuts a word longer than max_chars only between UTF-8 characters", "[text]") {
  std::string word;
  for (int i = 0; i < 40; ++i)
    word += (i % 3 == 0) ? "a" : (i % 3 == 1) ? "\xC3\xA9" : "\xF0\x9F\x8E\x89";
  for (std::size_t max_chars : {4u, 5u, 7u, 10u}) {
    const Strings chunks = chunk(word, {max_chars, 2});
    std::string joined;
    for (std::size_t i = 0; i < chunks.size(); ++i) {
      CHECK(chunks[i].size() <= max_chars);
      CHECK(is_valid_utf8(chunks[i]));
      if (i + 1 < chunks.size()) CHECK(chunks[i].size() + 4 > max_chars);  // cut as late as valid
      joined += chunks[i];
    }
    CHECK(joined == word);  // no word boundary inside, so no overlap either
  }
}

TEST_CASE("chunk treats nonsensical options sensibly", "[text]") {
  CHECK(chunk("ab cd", {0, 0}) == Strings{"a", "b", "c", "d"});
  CHECK(chunk("ab cd", {1, 7}) == Strings{"a", "b", "c", "d"});
  // A character longer than max_chars is kept whole rather than split.
  CHECK(chunk("\xC3\xA9", {1, 0}) == Strings{"\xC3\xA9"});
  // overlap >= max_chars is clamped to max_chars / 2.
  std::string text;
  for (int i = 0; i < 30; ++i) text += "ab" + std::to_string(i % 10) + " ";
  const Strings chunks = chunk(text, {12, 500});
  REQUIRE(chunks.size() > 2);
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    CHECK(chunks[i].size() <= 12);
    if (i > 0) CHECK(chunks[i].substr(0, 3) == chunks[i - 1].substr(chunks[i - 1].size() - 3));
  }
}

TEST_CASE("chunk repeats a bounded overlap at a sentence boundary", "[text]") {
  std::string text;
  for (int i = 0; i < 50; ++i) text += "Item " + std::to_string(1000 + i) + " is listed here. ";
  const std::size_t overlap = 40;
  const Strings chunks = chunk(text, {120, overlap});
  REQUIRE(chunks.size() > 5);
  for (std::size_t i = 1; i < chunks.size(); ++i) {
    const std::size_t k = overlap_length(chunks[i - 1], chunks[i], overlap);
    CHECK(k > 0);
    CHECK(chunks[i].rfind("Item ", 0) == 0);  // starts at a sentence
    CHECK(chunks[i].size() <= 120);
  }
}

TEST_CASE("chunk overlap falls back to a word boundary inside a long sentence", "[text]") {
  std::string text;
  for (int i = 0; i < 100; ++i) text += "w" + std::to_string(1000 + i) + " ";
  const Strings chunks = chunk(text, {60, 20});
  REQUIRE(chunks.size() > 5);
  for (std::size_t i = 1; i < chunks.size(); ++i) {
    const std::size_t k = overlap_length(chunks[i - 1], chunks[i], 20);
    CHECK(k > 0);
    CHECK(k <= 20);
    CHECK(chunks[i].size() <= 60);
  }
}

TEST_CASE("chunk never exceeds max_chars and loses no words (property)", "[text]") {
  const std::string text = generated_text(42, 60);
  const Strings all_words = words(text);
  REQUIRE(text.size() > 10000);
  for (std::size_t max_chars : {16u, 24u, 40u, 64u, 100u, 250u, 1000u, 5000u}) {
    for (std::size_t requested : {0u, 1u, 5u, 20u, 50u, 200u, 100000u}) {
      CAPTURE(max_chars, requested);
      const std::size_t overlap = requested >= max_chars ? max_chars / 2 : requested;
      const Strings chunks = chunk(text, {max_chars, requested});
      REQUIRE_FALSE(chunks.empty());
      Strings seen;
      std::size_t overlapped = 0;
      for (std::size_t i = 0; i < chunks.size(); ++i) {
        const std::string& piece = chunks[i];
        REQUIRE(piece.size() <= max_chars);
        REQUIRE(is_trimmed(piece));
        REQUIRE(is_valid_utf8(piece));
        const std::size_t k = i == 0 ? 0 : overlap_length(chunks[i - 1], piece, overlap);
        overlapped += k > 0 ? 1 : 0;
        const Strings fresh = words(std::string_view(piece).substr(k));
        REQUIRE_FALSE(fresh.empty());
        seen.insert(seen.end(), fresh.begin(), fresh.end());
      }
      CHECK(seen == all_words);
      // With room to spare, most chunks after the first carry some overlap.
      if (overlap >= 20 && max_chars >= 100) CHECK(overlapped * 2 > chunks.size());
      if (overlap == 0) CHECK(overlapped == 0);
    }
  }
}

// ---- summarize -------------------------------------------------------------------------------

namespace {

const std::string kOffTopic1 = "My cat likes to sleep on the warm windowsill.";
const std::string kModern = "Modern solar panels convert more sunlight into electricity.";
const std::string kOffTopic2 = "The bakery on the corner sells fresh bread every morning.";
const std::string kHomes = "Homes with solar panels produce cheap electricity.";
const std::string kHub = "Solar panels convert sunlight into electricity for homes.";
const std::string kOffTopic3 = "Jazz musicians often improvise during live concerts.";
const std::string kSolarText =
    kOffTopic1 + " " + kModern + " " + kOffTopic2 + " " + kHomes + " " + kHub + " " + kOffTopic3;

}  // namespace

TEST_CASE("summarize picks the central sentences in their original order", "[text]") {
  // kHub shares words with both other solar sentences, so it ranks first...
  CHECK(summarize(kSolarText, 1) == Strings{kHub});
  // ...yet comes last among them, in text order.
  CHECK(summarize(kSolarText, 3) == Strings{kModern, kHomes, kHub});
}

TEST_CASE("summarize is deterministic and breaks ties by position", "[text]") {
  CHECK(summarize(kSolarText, 2) == summarize(kSolarText, 2));
  // No two sentences share a word: every score ties, so the first ones win.
  const std::string text =
      "Apples grow on trees. Rivers reach oceans. Clocks measure time. "
      "Dogs chase balls. Pianos make music.";
  CHECK(summarize(text, 2) == Strings{"Apples grow on trees.", "Rivers reach oceans."});
}

TEST_CASE("summarize returns short texts whole and handles empty input", "[text]") {
  CHECK(summarize(kSolarText, 6) == split_sentences(kSolarText));
  CHECK(summarize(kSolarText, 100) == split_sentences(kSolarText));
  CHECK(summarize("", 3).empty());
  CHECK(summarize("   \n\n ", 3).empty());
  CHECK(summarize(kSolarText, 0).empty());
}

TEST_CASE("summarize ranks only the first 400 sentences", "[text]") {
  std::string text;
  for (int i = 0; i < 420; ++i) {
    text += "Alpha" + std::to_string(i) + " beta" + std::to_string(i) + ". ";
  }
  // A tight cluster after the cap would dominate an uncapped ranking.
  for (int i = 0; i < 30; ++i) text += "Shared topic words recur constantly here. ";
  CHECK(summarize(text, 2) == Strings{"Alpha0 beta0.", "Alpha1 beta1."});
}

// ---- keywords --------------------------------------------------------------------------------

TEST_CASE("keywords ranks the recurring multi-word phrase first", "[text]") {
  const std::string text =
      "Machine learning pipelines are fast. They are built with care, and machine learning "
      "pipelines are cheap to run. Reports arrive on time. Everyone likes the machine learning "
      "pipelines.";
  const std::vector<Keyword> found = keywords(text, 10);
  REQUIRE(found.size() >= 3);
  CHECK(found[0].term == "machine learning pipelines");
  CHECK(found[0].score == Approx(9.0));      // three words, each of degree 9 over frequency 3
  CHECK(found[1].term == "reports arrive");  // ties with "everyone likes"; earlier wins
  CHECK(found[2].term == "everyone likes");
  for (std::size_t i = 1; i < found.size(); ++i) CHECK(found[i - 1].score >= found[i].score);
  Strings terms = terms_of(found);
  std::sort(terms.begin(), terms.end());
  CHECK(std::adjacent_find(terms.begin(), terms.end()) == terms.end());  // deduplicated
  CHECK(keywords(text, 1).size() == 1);
  const std::vector<Keyword> again = keywords(text, 10);
  REQUIRE(again.size() == found.size());
  for (std::size_t i = 0; i < found.size(); ++i) {
    CHECK(again[i].term == found[i].term);
    CHECK(again[i].score == found[i].score);
  }
}

TEST_CASE("keywords delimits phrases at stopwords, punctuation and numbers", "[text]") {
  CHECK(terms_of(keywords("the cat and the dog", 10)) == Strings{"cat", "dog"});
  CHECK(terms_of(keywords("red apples, green pears", 10)) == Strings{"red apples", "green pears"});
  CHECK(terms_of(keywords("version 2 release", 10)) == Strings{"version", "release"});
  CHECK(terms_of(keywords("Introduction\nMachine learning", 10)) ==
        Strings{"machine learning", "introduction"});
  CHECK(terms_of(keywords("Crème brûlée recipes", 10)) == Strings{"crème brûlée recipes"});
  // Runs of more than four content words are lists, not phrases.
  CHECK(terms_of(keywords("alpha beta gamma delta epsilon and zeta", 10)) == Strings{"zeta"});
}

TEST_CASE("keywords gives nothing for empty, stopword-only or zero-count requests", "[text]") {
  CHECK(keywords("", 5).empty());
  CHECK(keywords("the and of it is", 5).empty());
  CHECK(keywords("solar panels", 0).empty());
}

// ---- robustness ------------------------------------------------------------------------------

TEST_CASE("text functions hold their invariants on arbitrary and malformed input", "[text]") {
  // Pieces chosen to hit every special case, including truncated and stray UTF-8 bytes.
  // clang-format off
  static const char* const kPieces[] = {
      ".", "!", "?", "...", " ", "  ", "\n", "\n\n", "\t", "Mr", "e.g", "J", "a", "Word", "3",
      "\"", "'", "(", ")", "-", ",", "\xE2\x80\x9D", "\xE2\x80\x9C", "\xE2\x80\x99",
      "\xE2\x80\xA6", "\xC3\xA9", "\xF0\x9F\x8E\x89", "\xE2", "\x80", "\xFF", "\xC3"};
  // clang-format on
  constexpr std::uint32_t kPieceCount = sizeof kPieces / sizeof kPieces[0];
  Lcg random(99);
  for (int round = 0; round < 300; ++round) {
    std::string text;
    const std::uint32_t length = random.next(120);
    for (std::uint32_t i = 0; i < length; ++i) text += kPieces[random.next(kPieceCount)];
    const bool valid = is_valid_utf8(text);
    for (const std::string& sentence : split_sentences(text)) {
      CHECK(is_trimmed(sentence));
      if (valid) CHECK(is_valid_utf8(sentence));
    }
    for (const std::string& word : words(text)) {
      CHECK_FALSE(word.empty());
      if (valid) CHECK(is_valid_utf8(word));
    }
    const std::size_t max_chars = 4 + random.next(40);
    for (const std::string& piece : chunk(text, {max_chars, random.next(30)})) {
      CHECK(piece.size() <= max_chars);
      CHECK(is_trimmed(piece));
      if (valid) CHECK(is_valid_utf8(piece));
    }
    CHECK(summarize(text, 2).size() <= 2);
    for (const Keyword& keyword : keywords(text, 5)) CHECK(keyword.score > 0);
  }
}
