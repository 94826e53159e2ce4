// base_test.cpp — the knowledge base (base.cpp): entries and their chunks, BM25F scores against
// hand-computed values, k1/b and field boosts, incremental put/remove against a fresh build,
// filters, and the fingerprint.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "loom/knowledge.hpp"
#include "loom/text.hpp"

using namespace loom::knowledge;
using loom::ErrorCode;

namespace {

Entry entry(std::string id, std::string name, std::string text, Category category = Category::kOther,
            Inclusion inclusion = Inclusion::kByRelevance, std::vector<std::string> aliases = {}) {
  Entry e;
  e.id = std::move(id);
  e.name = std::move(name);
  e.text = std::move(text);
  e.category = category;
  e.inclusion = inclusion;
  e.aliases = std::move(aliases);
  return e;
}

void must_put(KnowledgeBase& kb, Entry e) {
  auto st = kb.put(std::move(e));
  INFO(st.message);
  REQUIRE(st.code == ErrorCode::kOk);
}

// id of the hit's entry, for readable expectations.
std::vector<std::string> ids(const KnowledgeBase& kb, const std::vector<Hit>& hits) {
  std::vector<std::string> out;
  for (const auto& h : hits) out.push_back(kb.entries()[h.entry].id);
  return out;
}

// (entry id, chunk ordinal) -> score for every hit of `query`.
std::map<std::pair<std::string, std::uint32_t>, double> scores(const KnowledgeBase& kb, const std::string& query) {
  std::map<std::pair<std::string, std::uint32_t>, double> out;
  SearchOptions all;
  all.k = 100000;
  all.filter.include_never = true;
  for (const auto& h : kb.search(query, all)) {
    out[{kb.entries()[h.entry].id, kb.chunks()[h.chunk].ordinal}] = h.score;
  }
  return out;
}

// The small corpus of the hand-computed scores: three one-chunk entries whose names share no
// term with the queries. Analyzed bodies ("ferry" stems to "ferri"):
//   alpha: ferri ferri river         (length 3)
//   beta:  river town                (length 2)
//   gamma: ferri mountain lake town  (length 4)     N = 3, average length 3
KnowledgeBase small_corpus(IndexOptions options = {}) {
  KnowledgeBase kb(options);
  must_put(kb, entry("alpha", "Alpha", "ferry ferry river"));
  must_put(kb, entry("beta", "Beta", "river town"));
  must_put(kb, entry("gamma", "Gamma", "ferry mountain lake town"));
  return kb;
}

}  // namespace

TEST_CASE("put chunks an entry's text with text::chunk's rules and overlap", "[knowledge]") {
  std::string text;
  for (int p = 0; p < 6; ++p) {
    for (int s = 0; s < 5; ++s) text += "Paragraph " + std::to_string(p) + " sentence " + std::to_string(s) + " tells of the ferry. ";
    text += "\n\n";
  }
  IndexOptions o;
  o.chunk_chars = 300;
  o.chunk_overlap = 60;
  KnowledgeBase kb(o);
  must_put(kb, entry("a", "A", "short"));
  must_put(kb, entry("b", "B", text));
  const auto expected = loom::text::chunk(text, {300, 60});
  REQUIRE(expected.size() > 3);
  REQUIRE(kb.chunks().size() == expected.size() + 1);
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const Chunk& c = kb.chunks()[i + 1];
    CHECK(c.entry == 1);
    CHECK(c.ordinal == i);
    CHECK(kb.chunk_text(static_cast<std::uint32_t>(i + 1)) == expected[i]);
    if (i > 0) CHECK(c.begin < kb.chunks()[i].end);  // overlaps the previous chunk
  }
  CHECK(kb.chunk_text(0) == "short");
  CHECK(kb.chunk_text(999).empty());
}

TEST_CASE("put refuses an entry without id or name or with a negative position", "[knowledge]") {
  KnowledgeBase kb;
  CHECK(kb.put(entry("", "Name", "x")).code == ErrorCode::kInvalidValue);
  CHECK(kb.put(entry("id", "", "x")).code == ErrorCode::kInvalidValue);
  Entry e = entry("id", "Name", "x");
  e.from = StoryPosition{-1, 0};
  CHECK(kb.put(e).code == ErrorCode::kInvalidValue);
  CHECK(kb.size() == 0);
  CHECK(kb.chunks().empty());
}

TEST_CASE("an entry with empty text has no chunks and is never ranked", "[knowledge]") {
  KnowledgeBase kb;
  must_put(kb, entry("mara", "Mara Quill", ""));
  CHECK(kb.size() == 1);
  CHECK(kb.chunks().empty());
  CHECK(kb.search("mara").empty());
}

TEST_CASE("put replaces an entry of the same id in place, remove takes it out", "[knowledge]") {
  KnowledgeBase kb = small_corpus();
  must_put(kb, entry("alpha", "Alpha", "a lighthouse keeper"));
  CHECK(kb.size() == 3);
  CHECK(kb.entries()[0].id == "alpha");
  CHECK(kb.find("alpha")->text == "a lighthouse keeper");
  CHECK(ids(kb, kb.search("lighthouse")) == std::vector<std::string>{"alpha"});
  CHECK(ids(kb, kb.search("ferry")) == std::vector<std::string>{"gamma"});
  CHECK(kb.remove("beta"));
  CHECK_FALSE(kb.remove("beta"));
  CHECK(kb.find("beta") == nullptr);
  CHECK(kb.size() == 2);
  CHECK(kb.entries()[1].id == "gamma");
  CHECK(kb.chunks()[1].entry == 1);
  CHECK(ids(kb, kb.search("town")) == std::vector<std::string>{"gamma"});
}

TEST_CASE("BM25 scores equal the hand-computed values", "[knowledge]") {
  // score = idf * (k1 + 1) * tf / (tf + k1 * B), B = 1 - b + b * len / avg, k1 = 1.2, b = 0.75,
  // idf = ln(1 + (N - n + 0.5) / (n + 0.5)); every query term below has n = 2, so idf = ln(1.6).
  const double idf = std::log(1 + (3 - 2 + 0.5) / (2 + 0.5));
  CHECK(idf == Approx(0.4700036292457356).epsilon(1e-15));
  KnowledgeBase kb = small_corpus();

  // "ferry": alpha tf 2, B = 1; gamma tf 1, B = 0.25 + 0.75 * 4/3 = 1.25.
  auto hits = kb.search("ferry");
  REQUIRE(ids(kb, hits) == std::vector<std::string>{"alpha", "gamma"});
  CHECK(hits[0].score == Approx(idf * 2.2 * 2 / (2 + 1.2 * 1.0)).epsilon(1e-12));   // 0.646255
  CHECK(hits[0].score == Approx(0.6462549902128864).epsilon(1e-12));
  CHECK(hits[1].score == Approx(idf * 2.2 * 1 / (1 + 1.2 * 1.25)).epsilon(1e-12));  // 0.413603
  CHECK(hits[1].score == Approx(0.41360319373624736).epsilon(1e-12));
  CHECK(hits[0].matched == std::vector<std::string>{"ferri"});

  // "river town": beta has both (B = 0.25 + 0.75 * 2/3 = 0.75), alpha river (B = 1), gamma town.
  hits = kb.search("river town");
  REQUIRE(ids(kb, hits) == std::vector<std::string>{"beta", "alpha", "gamma"});
  CHECK(hits[0].score == Approx(2 * idf * 2.2 / (1 + 1.2 * 0.75)).epsilon(1e-12));
  CHECK(hits[1].score == Approx(idf * 2.2 / (1 + 1.2)).epsilon(1e-12));
  CHECK(hits[2].score == Approx(idf * 2.2 / (1 + 1.2 * 1.25)).epsilon(1e-12));
  CHECK(hits[0].matched == std::vector<std::string>{"river", "town"});

  // A term in every chunk still counts a little (Lucene's idf is never negative); repeats count once.
  must_put(kb, entry("delta", "Delta", "lake lake"));
  const double idf_lake = std::log(1 + (4 - 2 + 0.5) / (2 + 0.5));
  hits = kb.search("lake lake");
  REQUIRE(ids(kb, hits) == std::vector<std::string>{"delta", "gamma"});
  // avg = 11/4: delta B = 0.25 + 0.75 * 2/2.75, gamma B = 0.25 + 0.75 * 4/2.75
  CHECK(hits[0].score == Approx(idf_lake * 2.2 * 2 / (2 + 1.2 * (0.25 + 0.75 * 2 / 2.75))).epsilon(1e-12));
  CHECK(hits[1].score == Approx(idf_lake * 2.2 / (1 + 1.2 * (0.25 + 0.75 * 4 / 2.75))).epsilon(1e-12));
}

TEST_CASE("search gives nothing for unknown words, stopwords, k = 0 or an empty base", "[knowledge]") {
  KnowledgeBase kb = small_corpus();
  CHECK(kb.search("submarine").empty());
  CHECK(kb.search("the of and").empty());
  CHECK(kb.search("").empty());
  SearchOptions none;
  none.k = 0;
  CHECK(kb.search("ferry", none).empty());
  CHECK(KnowledgeBase().search("ferry").empty());
  SearchOptions one;
  one.k = 1;
  CHECK(ids(kb, kb.search("ferry", one)) == std::vector<std::string>{"alpha"});
}

TEST_CASE("k1 and b change the ranking as BM25 says", "[knowledge]") {
  // short: "ferry" alone (length 1). long: "ferry" twice among 10 terms. Average length 5.5.
  auto build = [](double k1, double b) {
    IndexOptions o;
    o.k1 = k1;
    o.b = b;
    KnowledgeBase kb(o);
    must_put(kb, entry("short", "S", "ferry"));
    must_put(kb, entry("long", "L", "ferry ferry harbour docks pier wharf quay jetty tide salt"));
    return kb;
  };
  SECTION("without length normalization (b = 0) more occurrences win") {
    auto kb = build(1.2, 0);
    CHECK(ids(kb, kb.search("ferry")) == std::vector<std::string>{"long", "short"});
  }
  SECTION("with full length normalization (b = 1) the short chunk wins") {
    auto kb = build(1.2, 1);
    CHECK(ids(kb, kb.search("ferry")) == std::vector<std::string>{"short", "long"});
  }
  SECTION("k1 = 0 ignores term frequency: equal scores, ties by entry order") {
    auto kb = build(0, 0.75);
    auto hits = kb.search("ferry");
    REQUIRE(hits.size() == 2);
    CHECK(hits[0].score == hits[1].score);
    CHECK(ids(kb, hits) == std::vector<std::string>{"short", "long"});
  }
  SECTION("a larger k1 lets frequency matter more (b = 0: the ratio is 2(1 + k1)/(2 + k1))") {
    auto low = build(0.5, 0), high = build(3.0, 0);
    auto l = low.search("ferry"), h = high.search("ferry");
    REQUIRE(l.size() == 2);
    REQUIRE(h.size() == 2);
    const double ratio_low = scores(low, "ferry")[{"long", 0}] / scores(low, "ferry")[{"short", 0}];
    const double ratio_high = scores(high, "ferry")[{"long", 0}] / scores(high, "ferry")[{"short", 0}];
    CHECK(ratio_low == Approx(2 * 1.5 / 2.5));
    CHECK(ratio_high == Approx(2 * 4.0 / 5.0));
  }
}

TEST_CASE("out-of-range index options are clamped", "[knowledge]") {
  IndexOptions o;
  o.k1 = -1;
  o.b = 7;
  o.name_boost = std::nan("");
  o.chunk_chars = 0;
  KnowledgeBase kb(o);
  CHECK(kb.options().k1 == 0);
  CHECK(kb.options().b == 1);
  CHECK(kb.options().name_boost == IndexOptions().name_boost);
  CHECK(kb.options().chunk_chars == 1);
}

TEST_CASE("names and aliases outrank a passing mention (field boosts)", "[knowledge]") {
  auto build = [](double name_boost, double alias_boost) {
    IndexOptions o;
    o.name_boost = name_boost;
    o.alias_boost = alias_boost;
    o.chunk_chars = 80;
    o.chunk_overlap = 0;
    KnowledgeBase kb(o);
    must_put(kb, entry("harbor", "The Harbor", "Boats come in at dawn. A quill pen lies on the harbour master's desk."));
    must_put(kb, entry("mara", "Mara Tallow",
                       "She grew up on the ferry that crosses the bay.\n\nHer mother ran the night crossing for years.",
                       Category::kCharacter, Inclusion::kByRelevance, {"the Quill girl"}));
    return kb;
  };
  SECTION("with boosts every chunk of the entry with the alias ranks above the mention") {
    auto kb = build(3, 2);
    auto hits = kb.search("quill");
    REQUIRE(hits.size() == 3);
    CHECK(ids(kb, hits) == std::vector<std::string>{"mara", "mara", "harbor"});
    CHECK(hits[0].matched == std::vector<std::string>{"quill"});
    // The name field counts as much: a query of the name finds the entry's chunks.
    CHECK(ids(kb, kb.search("Tallow")) == std::vector<std::string>{"mara", "mara"});
  }
  SECTION("without boosts only the body mention matches") {
    auto kb = build(0, 0);
    CHECK(ids(kb, kb.search("quill")) == std::vector<std::string>{"harbor"});
  }
  SECTION("a name match adds to a body match of the same term (one saturation)") {
    auto kb = build(3, 2);
    must_put(kb, entry("ferry", "Ferry",
                       "The ferry crosses the bay twice a day, rain or shine.\n\nNothing else matters here at all, not even the weather."));
    REQUIRE(kb.find("ferry")->text.size() > 80);
    auto s = scores(kb, "ferry");
    // The ferry entry's first chunk has the term in body and name; its second in the name only.
    CHECK(s[{"ferry", 0}] > s[{"ferry", 1}]);
    CHECK(s[{"ferry", 1}] > s[{"mara", 0}]);
  }
}

TEST_CASE("filters: categories, story position, kNever", "[knowledge]") {
  KnowledgeBase kb;
  Entry reveal = entry("reveal", "The Secret", "The ferry captain is Mara's father.", Category::kLore);
  reveal.from = StoryPosition{5, 0};
  must_put(kb, reveal);
  must_put(kb, entry("ferry", "The Ferry", "The ferry crosses twice a day.", Category::kLocation));
  must_put(kb, entry("hidden", "Notes", "ferry ferry draft notes", Category::kResearch, Inclusion::kNever));

  SearchOptions o;
  CHECK(ids(kb, kb.search("ferry", o)) == std::vector<std::string>{"ferry", "reveal"});
  o.filter.include_never = true;
  CHECK(ids(kb, kb.search("ferry", o)).size() == 3);
  o.filter.include_never = false;

  o.filter.categories = {Category::kLocation, Category::kResearch};
  CHECK(ids(kb, kb.search("ferry", o)) == std::vector<std::string>{"ferry"});
  o.filter.categories = {};

  using Row = std::tuple<int, int, bool>;
  auto row = GENERATE(table<int, int, bool>({Row{3, 0, false}, Row{4, 9, false}, Row{5, 0, true}, Row{5, 1, true}, Row{9, 2, true}}));
  o.filter.position = StoryPosition{std::get<0>(row), std::get<1>(row)};
  INFO("at chapter " << std::get<0>(row) << " scene " << std::get<1>(row));
  auto found = ids(kb, kb.search("ferry captain", o));
  CHECK((std::find(found.begin(), found.end(), "reveal") != found.end()) == std::get<2>(row));
}

TEST_CASE("incremental put/remove scores exactly as a fresh build (property)", "[knowledge]") {
  const std::vector<std::string> words = {"ferry", "river", "mara", "quill", "lamp", "storm", "harbor", "night",
                                          "letter", "crossing", "salt", "bell", "tower", "mother", "captain",
                                          "the", "and", "of", "running", "ran", "well-known", "Ferries"};
  std::mt19937 rng(20240517);
  auto pick = [&](std::size_t n) {
    std::string out;
    for (std::size_t i = 0; i < n; ++i) {
      const bool paragraph = rng() % 9 == 0;
      if (i) out += paragraph ? ".\n\n" : " ";
      out += words[rng() % words.size()];
    }
    return out;
  };
  IndexOptions o;
  o.chunk_chars = 90;
  o.chunk_overlap = 20;
  KnowledgeBase kb(o);
  const std::vector<std::string> queries = {"ferry", "mara quill", "storm night bell", "running", "well-known harbor",
                                            "captain's letter", "salt"};
  for (int op = 0; op < 160; ++op) {
    const std::size_t n = kb.size();
    const unsigned choice = rng() % 10;
    if (choice < 2 && n > 0) {
      const std::string id = kb.entries()[rng() % n].id;
      REQUIRE(kb.remove(id));
    } else {
      // A new id, or (often) the id of an entry already there.
      const std::string id = (choice < 5 && n > 0) ? kb.entries()[rng() % n].id : "e" + std::to_string(op);
      // One draw per statement: the order of evaluation of arguments differs between compilers.
      const std::string name = pick(1 + rng() % 2);
      const std::string text = pick(rng() % 60);
      const auto category = static_cast<Category>(rng() % 7);
      const auto inclusion = static_cast<Inclusion>(rng() % 4);
      Entry e = entry(id, name, text, category, inclusion, {});
      for (unsigned a = rng() % 3; a > 0; --a) e.aliases.push_back(pick(1 + rng() % 2));
      must_put(kb, e);
    }
    if (op % 8 != 7) continue;
    KnowledgeBase fresh(o);
    for (const Entry& e : kb.entries()) must_put(fresh, e);
    INFO("after operation " << op << " with " << kb.size() << " entries");
    REQUIRE(fresh.chunks().size() == kb.chunks().size());
    for (const auto& q : queries) {
      INFO("query " << q);
      REQUIRE(scores(kb, q) == scores(fresh, q));  // exact equality of every double
    }
    CHECK(kb.snapshot() == fresh.snapshot());
    CHECK(kb.fingerprint() == fresh.fingerprint());
  }
}

TEST_CASE("the fingerprint follows content and options only", "[knowledge]") {
  KnowledgeBase a = small_corpus(), b = small_corpus();
  CHECK(a.fingerprint().size() == 32);
  CHECK(a.fingerprint() == b.fingerprint());
  must_put(b, entry("beta", "Beta", "river town!"));
  CHECK(a.fingerprint() != b.fingerprint());
  must_put(b, entry("beta", "Beta", "river town"));
  CHECK(a.fingerprint() == b.fingerprint());
  IndexOptions o;
  o.k1 = 1.5;
  CHECK(small_corpus(o).fingerprint() != a.fingerprint());
  KnowledgeBase copy = a;
  CHECK(copy.fingerprint() == a.fingerprint());
  CHECK(scores(copy, "ferry") == scores(a, "ferry"));
}

TEST_CASE("put stores invalid UTF-8 with replacement characters", "[knowledge]") {
  KnowledgeBase kb;
  must_put(kb, entry("x", "Bad\xC3", "ferry \xFF boat"));
  CHECK(kb.entries()[0].name == "Bad\xEF\xBF\xBD");
  CHECK(kb.entries()[0].text == "ferry \xEF\xBF\xBD boat");
  CHECK(kb.search("boat").size() == 1);
}

TEST_CASE("category and inclusion names round trip", "[knowledge]") {
  for (int c = 0; c <= static_cast<int>(Category::kOther); ++c) {
    const auto cat = static_cast<Category>(c);
    CHECK(category_from_name(category_name(cat)) == cat);
  }
  for (int i = 0; i <= static_cast<int>(Inclusion::kNever); ++i) {
    const auto inc = static_cast<Inclusion>(i);
    CHECK(inclusion_from_name(inclusion_name(inc)) == inc);
  }
  CHECK(category_name(Category::kCharacter) == "character");
  CHECK(inclusion_name(Inclusion::kWhenMentioned) == "when_mentioned");
  CHECK_FALSE(category_from_name("person").has_value());
  CHECK_FALSE(inclusion_from_name("sometimes").has_value());
}
