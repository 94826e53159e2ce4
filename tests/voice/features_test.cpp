// features_test.cpp — the style features a writer reads (voice/features.cpp): sentence and word
// lengths, contractions, dialogue with straight and curly quotes, person, punctuation, vocabulary
// richness (MATTR), empty and malformed text; feature_table().
#include <catch2/catch.hpp>

#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "loom/voice.hpp"
#include "voice/voice_fixtures.hpp"

using loom::voice::feature_table;
using loom::voice::FeatureInfo;
using loom::voice::Features;
using loom::voice::measure;

namespace {

// Every field of Features, for "all zeros" checks.
void require_all_zero(const Features& f) {
  CHECK(f.words == 0);
  CHECK(f.sentences == 0);
  for (const FeatureInfo& info : feature_table()) {
    INFO(info.id);
    CHECK(f.*(info.field) == 0.0);
  }
}

}  // namespace

TEST_CASE("measure: an empty text, or one without words, gives zeros", "[voice]") {
  require_all_zero(measure(""));
  require_all_zero(measure("   \n\n\t  "));
  // Punctuation alone is not counted either: the rates are per word and there are none.
  require_all_zero(measure("?! ... \xE2\x80\x94 -- ; : , ( ) \xE2\x80\xA6 \"\" \xE2\x80\x9C\xE2\x80\x9D"));
}

TEST_CASE("measure: sentence length, spread, and the number of sentences", "[voice]") {
  // 2, 4 and 1 words.
  const Features f = measure("I ran. She ran home fast. Go.");
  CHECK(f.words == 7);
  CHECK(f.sentences == 3);
  CHECK(f.sentence_length == Approx(7.0 / 3.0));
  const double m = 7.0 / 3.0;
  CHECK(f.sentence_spread == Approx(std::sqrt(((2 - m) * (2 - m) + (4 - m) * (4 - m) + (1 - m) * (1 - m)) / 3)));

  // Sentences of one length have no spread; a text without a terminator is one sentence.
  const Features even = measure("The boat sank. The crew swam. The gulls laughed.");
  CHECK(even.sentences == 3);
  CHECK(even.sentence_length == Approx(3.0));
  CHECK(even.sentence_spread == Approx(0.0).margin(1e-12));
  const Features one = measure("no full stop at all here");
  CHECK(one.sentences == 1);
  CHECK(one.sentence_length == Approx(6.0));
  CHECK(one.sentence_spread == Approx(0.0).margin(1e-12));

  // Questions and exclamations end sentences too.
  CHECK(measure("Where? Here! Now then.").sentences == 3);
}

TEST_CASE("measure: word length counts letters, not apostrophes; hyphenated words are one word", "[voice]") {
  CHECK(measure("cat dog").word_length == Approx(3.0));
  // don't = 4 letters (the apostrophe does not count), a = 1.
  const Features f = measure("don't a");
  CHECK(f.words == 2);
  CHECK(f.word_length == Approx(2.5));
  // The curly apostrophe neither.
  CHECK(measure("don\xE2\x80\x99t a").word_length == Approx(2.5));
  const Features h = measure("a state-of-the-art boat");
  CHECK(h.words == 3);
  // Non-ASCII letters count once each: café = 4.
  CHECK(measure("caf\xC3\xA9").word_length == Approx(4.0));
}

TEST_CASE("measure: contractions per 1,000 words; a possessive is not one", "[voice]") {
  // i, don't, know, i'm, here, she's, gone: 3 contractions in 7 words.
  const Features f = measure("I don't know. I'm here. She's gone.");
  CHECK(f.words == 7);
  CHECK(f.contractions == Approx(3000.0 / 7.0));

  CHECK(measure("Mara's boat is here.").contractions == 0.0);
  CHECK(measure("The captain's log and the sailors' mess.").contractions == 0.0);
  // The typographic apostrophe works the same.
  CHECK(measure("I don\xE2\x80\x99t know.").contractions == Approx(1000.0 / 3.0));
  CHECK(measure("Mara\xE2\x80\x99s boat.").contractions == 0.0);
  // 's after a pronoun is a contraction (it's, that's, there's, what's); after a name it is not.
  CHECK(measure("It's late and that's that.").contractions == Approx(2000.0 / 5.0));
  CHECK(measure("Ives's chart.").contractions == 0.0);
  // Other endings: we'll, they're, we've, he'd.
  CHECK(measure("We'll go. They're here. We've won. He'd know.").contractions == Approx(4000.0 / 8.0));
  // Archaic elisions: 'tis, o'er.
  CHECK(measure("'Tis cold o'er the sea.").contractions == Approx(2000.0 / 5.0));
  // Single quotes around a word are not contractions.
  CHECK(measure("He called it 'the boat' and left.").contractions == 0.0);
}

TEST_CASE("measure: dialogue share with straight and curly quotes", "[voice]") {
  // go, home | she, said: half the words inside the quotes.
  CHECK(measure("\"Go home,\" she said.").dialogue_share == Approx(0.5));
  CHECK(measure("\xE2\x80\x9CGo home,\xE2\x80\x9D she said.").dialogue_share == Approx(0.5));
  // No quotes: no dialogue; all quoted: all dialogue.
  CHECK(measure("She went home.").dialogue_share == 0.0);
  CHECK(measure("\"Go home now.\"").dialogue_share == Approx(1.0));
  CHECK(measure("\xE2\x80\x9CGo home now.\xE2\x80\x9D").dialogue_share == Approx(1.0));
  // Two speeches around narration: 4 of 6 words quoted.
  CHECK(measure("\"Come here,\" said Mara. \"Right now.\"").dialogue_share == Approx(4.0 / 6.0));
  // Mixed: a curly speech, then a straight one.
  CHECK(measure("\xE2\x80\x9CYes,\xE2\x80\x9D he said. \"No,\" she said.").dialogue_share == Approx(2.0 / 6.0));
  // Single quotes are not dialogue marks.
  CHECK(measure("He called it 'the boat' and left.").dialogue_share == 0.0);
}

TEST_CASE("measure: first and second person per 1,000 words", "[voice]") {
  // i, saw, you, and, we, met, your, friend: first i, we; second you, your.
  const Features f = measure("I saw you and we met your friend.");
  CHECK(f.words == 8);
  CHECK(f.first_person == Approx(250.0));
  CHECK(f.second_person == Approx(250.0));
  // Case does not matter; archaic forms count; words that merely contain "me" or "us" do not.
  const Features g = measure("MY ship, thy ship, our ship. Thee and ye. Mess, use, meal.");
  CHECK(g.first_person == Approx(2000.0 / static_cast<double>(g.words)));
  CHECK(g.second_person == Approx(3000.0 / static_cast<double>(g.words)));
  const Features third = measure("He gave her the rope and they left.");
  CHECK(third.first_person == 0.0);
  CHECK(third.second_person == 0.0);
}

TEST_CASE("measure: -ly adverbs of four letters or more", "[voice]") {
  // he, quickly, and, quietly, left, only, fly: quickly, quietly, only (fly is too short).
  const Features f = measure("He quickly and quietly left. Only fly.");
  CHECK(f.words == 7);
  CHECK(f.ly_adverbs == Approx(3000.0 / 7.0));
  CHECK(measure("Fly by.").ly_adverbs == 0.0);
}

TEST_CASE("measure: punctuation rates per 1,000 words", "[voice]") {
  // 10 words: 2 commas, 1 semicolon, 1 colon, 1 exclamation, 2 questions, 1 parenthesis.
  const Features f = measure("One, two; three: four! Five? Six? Seven (eight), nine ten.");
  CHECK(f.words == 10);
  CHECK(f.commas == Approx(200.0));
  CHECK(f.semicolons == Approx(100.0));
  CHECK(f.colons == Approx(100.0));
  CHECK(f.exclamations == Approx(100.0));
  CHECK(f.questions == Approx(200.0));
  CHECK(f.parentheses == Approx(100.0));  // an opening parenthesis counts, not the pair twice
  CHECK(f.dashes == 0.0);
  CHECK(f.ellipses == 0.0);
}

TEST_CASE("measure: dashes are em and en dashes and --, not hyphens inside words", "[voice]") {
  // wait, no, then, maybe, a, well-known, fact, and, so, on: 10 words, 4 dashes (— -- – ---).
  const Features f = measure("Wait\xE2\x80\x94no. Then -- maybe. A well-known fact\xE2\x80\x93" "and so---on.");
  CHECK(f.words == 10);
  CHECK(f.dashes == Approx(400.0));
  // Hyphens inside words are not dashes.
  CHECK(measure("A well-known, up-to-date, two-seven-oh heading.").dashes == 0.0);
  // A run of hyphens is one dash.
  CHECK(measure("Wait---no.").dashes == Approx(500.0));
  CHECK(measure("Wait--no.").dashes == Approx(500.0));
}

TEST_CASE("measure: ellipses are … and ..., a longer run of dots is one", "[voice]") {
  // well, maybe, or, not: 4 words, 2 ellipses.
  CHECK(measure("Well\xE2\x80\xA6 maybe... or not.").ellipses == Approx(500.0));
  CHECK(measure("Well.... maybe.").ellipses == Approx(500.0));
  // A single full stop is not an ellipsis.
  CHECK(measure("Well. Maybe.").ellipses == 0.0);
}

TEST_CASE("measure: vocabulary richness (MATTR) is low for repetitive text, 1 for all-different words", "[voice]") {
  std::string repetitive;
  for (int i = 0; i < 40; ++i) repetitive += "the cat sat ";
  const Features r = measure(repetitive);
  CHECK(r.words == 120);
  CHECK(r.vocabulary == Approx(3.0 / 50.0));  // every 50-word window holds 3 distinct words

  const auto words = loom::voice::test_fixtures::made_up_words(120, 7);
  std::string varied;
  for (const auto& w : words) varied += w + " ";
  const Features v = measure(varied);
  CHECK(v.words == 120);
  CHECK(v.vocabulary == Approx(1.0));

  // Fewer than 50 words: the plain type-token ratio. Case does not make a word new.
  CHECK(measure("a b a b").vocabulary == Approx(0.5));
  CHECK(measure("Boat boat BOAT sea").vocabulary == Approx(0.5));

  // Real prose lies in between, and the varied narrator above the clipped sailor's repetitions.
  const double sailor = measure(loom::voice::test_fixtures::kSailorHeldOut).vocabulary;
  const double narrator = measure(loom::voice::test_fixtures::kNarratorHeldOut).vocabulary;
  CHECK(sailor > 0.5);
  CHECK(sailor < 1.0);
  CHECK(narrator > 0.5);
  CHECK(narrator < 1.0);
}

TEST_CASE("measure: the two test voices differ where they were written to differ", "[voice]") {
  using namespace loom::voice::test_fixtures;
  const Features s = measure(kSailorHeldOut);
  const Features n = measure(kNarratorHeldOut);
  CHECK(s.sentence_length < 8);
  CHECK(n.sentence_length > 30);
  CHECK(s.contractions > 50);
  CHECK(n.contractions == 0.0);
  CHECK(s.semicolons == 0.0);
  CHECK(n.semicolons > 10);
  CHECK(s.second_person > n.second_person);
  CHECK(n.commas > s.commas);
}

TEST_CASE("measure never fails on malformed UTF-8 or odd bytes", "[voice]") {
  const std::vector<std::string> inputs = {
      std::string("\xFF\xFE boat \xE2\x80", 11), std::string("\xE2\x80\x9C", 3), std::string("\xE2", 1),
      std::string("word\0word", 9), std::string("'"), std::string("'s"), std::string("n't"),
      std::string("\xE2\x80\x99\xE2\x80\x99"), std::string("-"), std::string(" - "), std::string("..")};
  for (const auto& in : inputs) {
    INFO(in);
    const Features f = measure(in);
    CHECK(f.words >= 0);
    CHECK(f.dialogue_share >= 0.0);
    CHECK(f.dialogue_share <= 1.0);
    for (const FeatureInfo& info : feature_table()) CHECK(std::isfinite(f.*(info.field)));
  }
}

TEST_CASE("feature_table: 17 features, unique ids, every field of Features reachable once", "[voice]") {
  const auto& table = feature_table();
  REQUIRE(table.size() == 17);
  std::set<std::string> ids, labels;
  for (const FeatureInfo& info : table) {
    INFO(info.id);
    CHECK(std::string(info.id).size() > 0);
    CHECK(std::string(info.label).size() > 0);
    CHECK(std::string(info.unit).size() > 0);
    CHECK(info.field != nullptr);
    ids.insert(info.id);
    labels.insert(info.label);
  }
  CHECK(ids.size() == table.size());
  CHECK(labels.size() == table.size());

  // Write k+1 through each entry's member pointer: each named field then holds its own number,
  // so every field is reached and no two entries share one.
  Features f;
  for (std::size_t k = 0; k < table.size(); ++k) f.*(table[k].field) = static_cast<double>(k + 1);
  auto at = [&](const char* id) {
    for (std::size_t k = 0; k < table.size(); ++k) {
      if (std::string(table[k].id) == id) return static_cast<double>(k + 1);
    }
    FAIL("no feature " << id);
    return 0.0;
  };
  CHECK(f.sentence_length == at("sentence_length"));
  CHECK(f.sentence_spread == at("sentence_spread"));
  CHECK(f.word_length == at("word_length"));
  CHECK(f.contractions == at("contractions"));
  CHECK(f.dialogue_share == at("dialogue_share"));
  CHECK(f.vocabulary == at("vocabulary"));
  CHECK(f.first_person == at("first_person"));
  CHECK(f.second_person == at("second_person"));
  CHECK(f.ly_adverbs == at("ly_adverbs"));
  CHECK(f.commas == at("commas"));
  CHECK(f.semicolons == at("semicolons"));
  CHECK(f.colons == at("colons"));
  CHECK(f.dashes == at("dashes"));
  CHECK(f.ellipses == at("ellipses"));
  CHECK(f.exclamations == at("exclamations"));
  CHECK(f.questions == at("questions"));
  CHECK(f.parentheses == at("parentheses"));
  CHECK(f.words == 0);
  CHECK(f.sentences == 0);
  // The order charts show them starts with the sentence features.
  CHECK(std::string(table.front().id) == "sentence_length");
  // The same table every call.
  CHECK(&feature_table() == &table);
}
