// snapshot_test.cpp — the binary snapshot (snapshot.cpp): round trip, size, and refusal of any
// damaged input without a crash (run under ASan natively).
#include <catch2/catch.hpp>

#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "knowledge/snapshot.hpp"
#include "loom/knowledge.hpp"

using namespace loom::knowledge;
using loom::ErrorCode;

namespace {

KnowledgeBase sample() {
  IndexOptions o;
  o.chunk_chars = 200;
  o.chunk_overlap = 40;
  o.k1 = 1.4;
  KnowledgeBase kb(o);
  const std::vector<std::string> sentences = {
      "Mara grew up on the ferry that crosses the grey bay.",
      "Her mother ran the night crossing for twenty years.",
      "The lighthouse keeper writes letters he never sends.",
      "Salt gets into everything: the bread, the bells, the ink.",
      "Edwin Quill keeps the ledger of every crossing since the storm.",
      "Nobody on the island says the drowned captain's name aloud."};
  for (int e = 0; e < 12; ++e) {
    Entry entry;
    entry.id = "e" + std::to_string(e);
    entry.name = e % 3 == 0 ? "Mara Quill " + std::to_string(e) : "Entry " + std::to_string(e);
    if (e % 2) entry.aliases = {"the Quill girl", "Bay " + std::to_string(e)};
    entry.category = static_cast<Category>(e % 7);
    entry.inclusion = static_cast<Inclusion>(e % 4);
    if (e % 5 == 0) entry.from = StoryPosition{e, e % 3};
    entry.source = "notes/e" + std::to_string(e) + ".md";
    for (int s = 0; s < 2 + e; ++s) entry.text += sentences[(e + s) % sentences.size()] + (s % 3 == 2 ? "\n\n" : " ");
    if (e == 4) entry.text = "Ünïcödé: 東京, Москва — ﬁne.";
    if (e == 7) entry.text.clear();
    REQUIRE(kb.put(entry).code == ErrorCode::kOk);
  }
  return kb;
}

const std::vector<std::string> kQueries = {"ferry crossing", "Quill", "salt bells", "Москва", "drowned captain's name",
                                           "letters"};

void require_same(const KnowledgeBase& a, const KnowledgeBase& b) {
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    const Entry &x = a.entries()[i], &y = b.entries()[i];
    CHECK(x.id == y.id);
    CHECK(x.name == y.name);
    CHECK(x.aliases == y.aliases);
    CHECK(x.category == y.category);
    CHECK(x.inclusion == y.inclusion);
    CHECK(x.from.has_value() == y.from.has_value());
    if (x.from && y.from) CHECK(*x.from == *y.from);
    CHECK(x.text == y.text);
    CHECK(x.source == y.source);
  }
  REQUIRE(a.chunks().size() == b.chunks().size());
  for (std::uint32_t c = 0; c < a.chunks().size(); ++c) {
    CHECK(a.chunks()[c].entry == b.chunks()[c].entry);
    CHECK(a.chunks()[c].ordinal == b.chunks()[c].ordinal);
    CHECK(a.chunk_text(c) == b.chunk_text(c));
  }
  SearchOptions all;
  all.k = 1000;
  all.filter.include_never = true;
  for (const auto& q : kQueries) {
    auto ha = a.search(q, all), hb = b.search(q, all);
    REQUIRE(ha.size() == hb.size());
    for (std::size_t i = 0; i < ha.size(); ++i) {
      CHECK(ha[i].chunk == hb[i].chunk);
      CHECK(ha[i].score == hb[i].score);  // identical, not approximately
      CHECK(ha[i].matched == hb[i].matched);
    }
  }
  CHECK(a.options().k1 == b.options().k1);
  CHECK(a.options().chunk_chars == b.options().chunk_chars);
  CHECK(a.fingerprint() == b.fingerprint());
}

}  // namespace

TEST_CASE("a snapshot loads into an equal base", "[knowledge]") {
  const KnowledgeBase kb = sample();
  const std::string bytes = kb.snapshot();
  auto loaded = KnowledgeBase::load(bytes);
  REQUIRE(loaded.ok());
  require_same(kb, *loaded);
  CHECK(loaded->snapshot() == bytes);
  CHECK(loaded->mentions("the Quill girl").size() == kb.mentions("the Quill girl").size());

  // A loaded base keeps working incrementally, like the original.
  KnowledgeBase original = kb;
  Entry e;
  e.id = "new";
  e.name = "Bellringer";
  e.text = "The bell tolls at every crossing of the ferry.";
  REQUIRE(loaded->put(e).code == ErrorCode::kOk);
  REQUIRE(original.put(e).code == ErrorCode::kOk);
  REQUIRE(loaded->remove("e3"));
  REQUIRE(original.remove("e3"));
  require_same(original, *loaded);
  CHECK(loaded->snapshot() == original.snapshot());
}

TEST_CASE("an empty base round trips", "[knowledge]") {
  auto loaded = KnowledgeBase::load(KnowledgeBase().snapshot());
  REQUIRE(loaded.ok());
  CHECK(loaded->size() == 0);
  CHECK(loaded->search("x").empty());
}

TEST_CASE("snapshot size, in bytes per indexed token (printed, not asserted)", "[knowledge]") {
  const KnowledgeBase kb = sample();
  std::size_t tokens = 0, text = 0;
  for (const auto& e : kb.entries()) {
    tokens += analyze(e.text).size();
    text += e.text.size();
  }
  const std::string bytes = kb.snapshot();
  std::printf("[knowledge] snapshot: %zu bytes for %zu entries, %zu text bytes, %zu indexed tokens: %.2f bytes/token "
              "overall, %.2f bytes/token beyond the text\n",
              bytes.size(), kb.size(), text, tokens, static_cast<double>(bytes.size()) / static_cast<double>(tokens),
              static_cast<double>(bytes.size() - text) / static_cast<double>(tokens));
  CHECK(bytes.size() > text);
}

TEST_CASE("every truncation of a snapshot is refused with kBadArgument", "[knowledge]") {
  const std::string bytes = sample().snapshot();
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    auto r = KnowledgeBase::load(std::string_view(bytes).substr(0, n));
    INFO("cut at " << n << " of " << bytes.size());
    REQUIRE_FALSE(r.ok());
    REQUIRE(r.error().code == ErrorCode::kBadArgument);
  }
  auto longer = KnowledgeBase::load(bytes + "x");
  REQUIRE_FALSE(longer.ok());
  CHECK(longer.error().code == ErrorCode::kBadArgument);
}

TEST_CASE("random byte flips are refused with kBadArgument", "[knowledge]") {
  const std::string bytes = sample().snapshot();
  std::mt19937 rng(77);
  for (int round = 0; round < 3000; ++round) {
    std::string damaged = bytes;
    const std::size_t at = rng() % damaged.size();
    damaged[at] = static_cast<char>(damaged[at] ^ static_cast<char>(1 + rng() % 255));
    if (round % 3 == 0) {  // a second flip elsewhere
      const std::size_t at2 = rng() % damaged.size();
      damaged[at2] = static_cast<char>(damaged[at2] ^ 0x40);
    }
    if (damaged == bytes) continue;
    auto r = KnowledgeBase::load(damaged);
    INFO("round " << round << ", byte " << at);
    REQUIRE_FALSE(r.ok());
    // The version byte (offset 6) read as a newer version is that error; anything else is damage.
    const auto version = static_cast<unsigned char>(damaged[6]);
    REQUIRE(r.error().code == (version > detail::kSnapshotVersion ? ErrorCode::kInvalidValue : ErrorCode::kBadArgument));
  }
}

TEST_CASE("a snapshot of a newer format version is kInvalidValue", "[knowledge]") {
  std::string bytes = sample().snapshot();
  bytes[6] = static_cast<char>(detail::kSnapshotVersion + 1);
  auto r = KnowledgeBase::load(bytes);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::kInvalidValue);
  bytes[6] = 0;
  CHECK(KnowledgeBase::load(bytes).error().code == ErrorCode::kBadArgument);
}

TEST_CASE("a well-sealed body that does not hold together is kBadArgument", "[knowledge]") {
  // Past the checksum, the parser checks structure: these bodies carry valid checksums.
  const std::string good = sample().snapshot();
  const std::string body = good.substr(7, good.size() - 7 - 8);
  std::vector<std::string> bodies = {
      "",
      std::string(40, '\0'),
      body.substr(0, body.size() / 2),
      body + "x",
      std::string(32, '\0') + std::string("\x01\x00\x01", 3),  // chunk_chars 1, overlap 0, one entry cut short
      std::string(32, '\xff') + std::string("\x01\x00\x00", 3),  // NaN options
  };
  // An entry count (after 32 bytes of options and the varints 200 and 40) of 127, not 12.
  std::string big = body;
  REQUIRE(big[35] == 12);
  big[35] = '\x7f';
  bodies.push_back(big);
  for (const auto& b : bodies) {
    auto r = KnowledgeBase::load(detail::seal_snapshot(b));
    INFO("body of " << b.size() << " bytes");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::kBadArgument);
  }
  auto ok = KnowledgeBase::load(detail::seal_snapshot(body));
  CHECK(ok.ok());
}

TEST_CASE("anything but a snapshot is kBadArgument", "[knowledge]") {
  for (const std::string& junk : {std::string(), std::string("LOOMKB"), std::string("{\"entries\": []}"),
                                  std::string("LOOMKA\x01........")}) {
    auto r = KnowledgeBase::load(junk);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::kBadArgument);
  }
}
