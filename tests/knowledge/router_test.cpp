// router_test.cpp — the knowledge router (router.cpp): order, scope, deduplication, budget,
// citations.
#include <catch2/catch.hpp>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "loom/knowledge.hpp"
#include "loom/llm.hpp"

using namespace loom::knowledge;
using loom::llm::estimate_tokens;

namespace {

const std::vector<std::string> kFerrySentences = {
    "The ferry leaves the north pier at dawn.", "In a storm the ferry waits behind the breakwater.",
    "The ferry's bell is cracked and rings flat.", "Twice a year the ferry is hauled out for tar.",
    "Storm lanterns hang along the ferry's rail.", "The old ferry sank in the storm of the long winter."};

Entry make(std::string id, std::string name, Category c, Inclusion i, std::string text,
           std::vector<std::string> aliases = {}) {
  Entry e;
  e.id = std::move(id);
  e.name = std::move(name);
  e.category = c;
  e.inclusion = i;
  e.text = std::move(text);
  e.aliases = std::move(aliases);
  e.source = "notes/" + e.id + ".md";
  return e;
}

KnowledgeBase story() {
  IndexOptions o;
  o.chunk_chars = 110;
  o.chunk_overlap = 60;
  KnowledgeBase kb(o);
  kb.put(make("pov", "Mara Quill", Category::kCharacter, Inclusion::kAlways,
              "Mara is the point-of-view character. She fears deep water."));
  kb.put(make("style", "Style guide", Category::kStyle, Inclusion::kAlways, "Close third person, past tense."));
  Entry late = make("late", "The captain's secret", Category::kLore, Inclusion::kAlways, "The captain is Mara's father.");
  late.from = StoryPosition{5, 0};
  kb.put(late);
  kb.put(make("edwin", "Edwin Quill", Category::kCharacter, Inclusion::kWhenMentioned,
              "Edwin keeps the crossing ledger.", {"Old Quill"}));
  kb.put(make("harbor", "The Harbor", Category::kLocation, Inclusion::kWhenMentioned, "The harbor freezes in winter."));
  std::string ferry;
  for (const auto& s : kFerrySentences) ferry += s + " ";
  kb.put(make("ferry", "Ferry notes", Category::kResearch, Inclusion::kByRelevance, ferry));
  kb.put(make("never", "Scrapped draft", Category::kResearch, Inclusion::kNever, "storm ferry storm ferry storm"));
  return kb;
}

std::vector<std::string> reasons(const KnowledgeBase& kb, const QueryResult& r) {
  std::vector<std::string> out;
  for (const auto& inc : r.included) out.push_back(kb.entries()[inc.entry].id + ":" + inc.reason);
  return out;
}

QueryRequest request(std::int64_t budget = 100000) {
  QueryRequest q;
  q.queries = {"ferry storm"};
  q.text = "Old Quill waited at the harbor, and Old Quill again.";
  q.position = StoryPosition{3, 1};
  q.budget_tokens = budget;
  return q;
}

// Every included part's block, with its citation, in the context in order.
void check_citations(const KnowledgeBase& kb, const QueryResult& r) {
  std::size_t at = 0;
  for (std::size_t i = 0; i < r.included.size(); ++i) {
    const auto& inc = r.included[i];
    CHECK(inc.citation == static_cast<int>(i + 1));
    const Entry& e = kb.entries()[inc.entry];
    const std::string block = "[" + std::to_string(i + 1) + "] " + e.name + " (" + std::string(category_name(e.category)) +
                              ")\n" + inc.text;
    const std::size_t found = r.context.find(block, at);
    REQUIRE(found != std::string::npos);
    CHECK(found == (i == 0 ? 0 : at + 2));  // blocks are separated by one blank line
    at = found + block.size();
  }
  CHECK(at == r.context.size());
  for (const auto& d : r.dropped) CHECK(d.citation == 0);
  CHECK(r.context.find("[" + std::to_string(r.included.size() + 1) + "]") == std::string::npos);
}

}  // namespace

TEST_CASE("the router puts always, then mentioned, then ranked", "[knowledge]") {
  const KnowledgeBase kb = story();
  const QueryResult r = query(kb, request());
  const auto got = reasons(kb, r);
  REQUIRE(got.size() >= 5);
  // "late" is always-included but true only from chapter 5; "never" never comes in.
  CHECK(std::vector<std::string>(got.begin(), got.begin() + 4) ==
        std::vector<std::string>{"pov:always", "style:always", "edwin:mentioned", "harbor:mentioned"});
  for (std::size_t i = 4; i < got.size(); ++i) CHECK(got[i] == "ferry:ranked");
  for (std::size_t i = 5; i < r.included.size(); ++i) CHECK(r.included[i - 1].score >= r.included[i].score);
  CHECK(r.included[0].chunk == -1);
  CHECK(r.included[4].chunk >= 0);
  CHECK(r.included[4].score > 0);
  CHECK(r.dropped.empty());
  CHECK(r.context.find("Scrapped") == std::string::npos);
  CHECK(r.context.find("captain") == std::string::npos);
  check_citations(kb, r);

  QueryRequest later = request();
  later.position = StoryPosition{5, 1};
  CHECK(reasons(kb, query(kb, later))[2] == "late:always");
  QueryRequest anywhere = request();
  anywhere.position.reset();
  CHECK(reasons(kb, query(kb, anywhere))[2] == "late:always");
}

TEST_CASE("the router deduplicates: no chunk of a whole entry, no repeated overlap", "[knowledge]") {
  const KnowledgeBase kb = story();
  QueryRequest q = request();
  q.queries = {"Mara deep water", "ferry", "storm", "Edwin ledger"};
  q.k = 20;
  const QueryResult r = query(kb, q);
  std::set<std::int64_t> chunks;
  for (const auto& inc : r.included) {
    const std::string id = kb.entries()[inc.entry].id;
    if (id == "pov" || id == "edwin") CHECK(inc.chunk == -1);  // whole already: never again as a chunk
    if (inc.chunk >= 0) CHECK(chunks.insert(inc.chunk).second);
  }
  // The ferry notes' chunks overlap by up to 60 bytes; in the context each sentence appears once.
  for (const auto& s : kFerrySentences) {
    const std::size_t first = r.context.find(s);
    INFO(s);
    CHECK(first != std::string::npos);
    CHECK(r.context.find(s, first + 1) == std::string::npos);
  }
  REQUIRE(kb.chunks().size() > 4);
}

TEST_CASE("the router stays within the budget and lists what it dropped", "[knowledge]") {
  const KnowledgeBase kb = story();
  const QueryResult full = query(kb, request());
  std::int64_t full_tokens = 0;
  for (const auto& inc : full.included) full_tokens += inc.tokens;
  auto budget = GENERATE(0, 1, 10, 25, 40, 60, 90, 120, 1000);
  INFO("budget " << budget);
  const QueryResult r = query(kb, request(budget));
  std::int64_t sum = 0;
  for (const auto& inc : r.included) sum += inc.tokens;
  CHECK(sum <= budget);
  CHECK(r.tokens == estimate_tokens(r.context));
  CHECK(r.tokens <= sum);
  check_citations(kb, r);
  // Everything the full context had is included or dropped, and each drop did not fit.
  std::set<std::pair<std::uint32_t, std::int64_t>> seen;
  for (const auto& inc : r.included) seen.insert({inc.entry, inc.chunk});
  for (const auto& d : r.dropped) {
    seen.insert({d.entry, d.chunk});
    CHECK(sum + d.tokens > budget);
    CHECK(d.tokens > 0);
  }
  for (const auto& inc : full.included) CHECK(seen.count({inc.entry, inc.chunk}) == 1);
  if (budget >= full_tokens) CHECK(r.dropped.empty());
  if (budget == 0) {
    CHECK(r.included.empty());
    CHECK(r.context.empty());
    CHECK(r.tokens == 0);
  }
}

TEST_CASE("a dropped always entry leaves room for later, smaller parts", "[knowledge]") {
  KnowledgeBase kb;
  kb.put(make("big", "Encyclopedia", Category::kLore, Inclusion::kAlways, std::string(2000, 'x')));
  kb.put(make("small", "Pin", Category::kItem, Inclusion::kAlways, "A tin pin."));
  QueryRequest q;
  q.budget_tokens = 50;
  const QueryResult r = query(kb, q);
  REQUIRE(r.included.size() == 1);
  CHECK(kb.entries()[r.included[0].entry].id == "small");
  CHECK(r.included[0].citation == 1);
  REQUIRE(r.dropped.size() == 1);
  CHECK(kb.entries()[r.dropped[0].entry].id == "big");
  CHECK(r.context.rfind("[1] Pin (item)\n", 0) == 0);
}

TEST_CASE("the router filters by category and never includes kNever", "[knowledge]") {
  const KnowledgeBase kb = story();
  QueryRequest q = request();
  q.categories = {Category::kCharacter};
  q.queries = {"ferry storm", "scrapped draft"};
  const QueryResult r = query(kb, q);
  CHECK(reasons(kb, r) == std::vector<std::string>{"pov:always", "edwin:mentioned"});
  q.categories = {Category::kResearch};
  const QueryResult research = query(kb, q);
  for (const auto& inc : research.included) CHECK(kb.entries()[inc.entry].id == "ferry");
  CHECK_FALSE(research.included.empty());
}

TEST_CASE("an empty base, or nothing found, gives an empty context", "[knowledge]") {
  const QueryResult r = query(KnowledgeBase(), request());
  CHECK(r.included.empty());
  CHECK(r.dropped.empty());
  CHECK(r.context.empty());
  CHECK(r.tokens == 0);
  KnowledgeBase kb;
  kb.put(make("x", "X", Category::kOther, Inclusion::kByRelevance, "nothing relevant"));
  CHECK(query(kb, request()).context.empty());
}

TEST_CASE("query_result_to_json carries what the inspector shows", "[knowledge]") {
  const KnowledgeBase kb = story();
  const QueryResult r = query(kb, request(70));
  const loom::Json j = query_result_to_json(kb, r);
  CHECK(j["context"] == r.context);
  CHECK(j["tokens"] == r.tokens);
  REQUIRE(j["included"].size() == r.included.size());
  REQUIRE(j["dropped"].size() == r.dropped.size());
  REQUIRE_FALSE(r.dropped.empty());
  const auto& first = j["included"][0];
  CHECK(first["id"] == "pov");
  CHECK(first["name"] == "Mara Quill");
  CHECK(first["category"] == "character");
  CHECK(first["source"] == "notes/pov.md");
  CHECK(first["reason"] == "always");
  CHECK(first["citation"] == 1);
  CHECK(first["chunk"].is_null());
  CHECK(first["text"] == kb.find("pov")->text);
  CHECK(first["tokens"] == r.included[0].tokens);
  for (std::size_t i = 0; i < r.dropped.size(); ++i) {
    const auto& d = j["dropped"][i];
    CHECK(d["citation"] == 0);
    if (r.dropped[i].chunk >= 0) {
      CHECK(d["chunk"] == kb.chunks()[static_cast<std::size_t>(r.dropped[i].chunk)].ordinal);
      CHECK(d["reason"] == "ranked");
      const double score = d["score"].get<double>();
      CHECK(score == Approx(r.dropped[i].score).margin(0.00005));
    }
  }
}
