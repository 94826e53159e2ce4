// json_test.cpp — the knowledge base's JSON shapes (json.cpp) for bindings, `loom kb` and the agent.
#include <catch2/catch.hpp>

#include <string>

#include "loom/knowledge.hpp"

using namespace loom::knowledge;
using loom::ErrorCode;
using loom::Json;

TEST_CASE("entry_from_json reads an entry and entry_to_json writes it back", "[knowledge]") {
  const Json j = Json::parse(R"({"id": "mara", "name": "Mara Quill", "aliases": ["Mara"], "category": "character",
                                 "inclusion": "when_mentioned", "from": {"chapter": 5, "scene": 2},
                                 "text": "Mara grew up on the ferry.", "source": "notes/mara.md"})");
  auto e = entry_from_json(j);
  REQUIRE(e.ok());
  CHECK(e->id == "mara");
  CHECK(e->aliases == std::vector<std::string>{"Mara"});
  CHECK(e->category == Category::kCharacter);
  CHECK(e->inclusion == Inclusion::kWhenMentioned);
  REQUIRE(e->from.has_value());
  CHECK(*e->from == StoryPosition{5, 2});
  CHECK(entry_to_json(*e) == j);

  auto minimal = entry_from_json(Json{{"id", "x"}, {"name", "X"}});
  REQUIRE(minimal.ok());
  CHECK(minimal->category == Category::kOther);
  CHECK(minimal->inclusion == Inclusion::kByRelevance);
  CHECK_FALSE(minimal->from.has_value());
  CHECK_FALSE(entry_to_json(*minimal).contains("from"));
}

TEST_CASE("entry_from_json refuses a malformed entry with kBadArgument", "[knowledge]") {
  auto row = GENERATE(as<std::string>(), R"([])", R"({"name": "X"})", R"({"id": "", "name": "X"})", R"({"id": "x"})",
                      R"({"id": 1, "name": "X"})", R"({"id": "x", "name": "X", "aliases": "Y"})",
                      R"({"id": "x", "name": "X", "aliases": [1]})", R"({"id": "x", "name": "X", "category": "villain"})",
                      R"({"id": "x", "name": "X", "inclusion": "sometimes"})",
                      R"({"id": "x", "name": "X", "from": {"chapter": -1}})", R"({"id": "x", "name": "X", "from": {"scene": 1}})",
                      R"({"id": "x", "name": "X", "text": 5})", R"({"id": "x", "name": "X", "colour": "red"})");
  INFO(row);
  auto e = entry_from_json(Json::parse(row));
  REQUIRE_FALSE(e.ok());
  CHECK(e.error().code == ErrorCode::kBadArgument);
}

TEST_CASE("an unknown inclusion names the valid ones", "[knowledge]") {
  auto e = entry_from_json(Json{{"id", "x"}, {"name", "X"}, {"inclusion", "sometimes"}});
  REQUIRE_FALSE(e.ok());
  CHECK(e.error().message.find("always, when_mentioned, by_relevance, never") != std::string::npos);
}

TEST_CASE("index and search options from JSON", "[knowledge]") {
  auto o = index_options_from_json(Json{{"k1", 1.5}, {"b", 0.5}, {"chunk_chars", 800}, {"chunk_overlap", 100}});
  REQUIRE(o.ok());
  CHECK(o->k1 == 1.5);
  CHECK(o->b == 0.5);
  CHECK(o->chunk_chars == 800);
  CHECK(o->chunk_overlap == 100);
  CHECK(index_options_to_json(*o)["name_boost"] == IndexOptions().name_boost);
  auto defaults = index_options_from_json(Json());
  REQUIRE(defaults.ok());
  CHECK(defaults->k1 == IndexOptions().k1);
  for (const char* bad : {R"({"k1": -1})", R"({"b": 2})", R"({"k1": "high"})", R"({"chunk_chars": 10})",
                          R"({"chunk_chars": 100, "chunk_overlap": 100})", R"({"k": 3})", R"(7)"}) {
    INFO(bad);
    CHECK(index_options_from_json(Json::parse(bad)).error().code == ErrorCode::kBadArgument);
  }

  auto s = search_options_from_json(Json::parse(R"({"k": 3, "categories": ["lore"], "position": {"chapter": 2}, "include_never": true})"));
  REQUIRE(s.ok());
  CHECK(s->k == 3);
  CHECK(s->filter.categories == std::vector<Category>{Category::kLore});
  CHECK(*s->filter.position == StoryPosition{2, 0});
  CHECK(s->filter.include_never);
  for (const char* bad : {R"({"k": -1})", R"({"categories": ["x"]})", R"({"include_never": 1})", R"({"position": []})",
                          R"({"q": "ferry"})"}) {
    INFO(bad);
    CHECK(search_options_from_json(Json::parse(bad)).error().code == ErrorCode::kBadArgument);
  }
}

TEST_CASE("hits and mentions as JSON, with UTF-16 offsets for JavaScript", "[knowledge]") {
  KnowledgeBase kb;
  auto e = entry_from_json(Json{{"id", "mara"}, {"name", "Mara"}, {"text", "Mara grew up on the ferry."}, {"source", "m.md"}});
  REQUIRE(e.ok());
  REQUIRE(kb.put(*e).code == ErrorCode::kOk);
  const Json hits = hits_to_json(kb, kb.search("ferry"));
  REQUIRE(hits.size() == 1);
  CHECK(hits[0]["id"] == "mara");
  CHECK(hits[0]["chunk"] == 0);
  CHECK(hits[0]["text"] == "Mara grew up on the ferry.");
  CHECK(hits[0]["matched"] == Json::array({"ferri"}));
  CHECK(hits[0]["source"] == "m.md");

  // "é" is two bytes and one UTF-16 unit; "😀" four bytes and two units.
  const std::string text = "é😀 Mara's boat, MARA";
  const Json ms = mentions_to_json(kb, text, kb.mentions(text));
  REQUIRE(ms.size() == 2);
  CHECK(ms[0]["byte_begin"] == 7);
  CHECK(ms[0]["begin"] == 4);
  CHECK(ms[0]["end"] == 8);
  CHECK(ms[0]["surface"] == "Mara");
  CHECK(ms[1]["byte_begin"] == 20);
  CHECK(ms[1]["begin"] == 17);
  CHECK(ms[1]["end"] == 21);
  CHECK(ms[1]["surface"] == "MARA");
}

TEST_CASE("query_request_from_json reads the agent's arguments", "[knowledge]") {
  auto r = query_request_from_json(Json::parse(R"({"queries": ["ferry", "storm"], "text": "Mara", "categories": ["character"],
                                                   "position": {"chapter": 3, "scene": 1}, "budget_tokens": 900, "k": 4})"));
  REQUIRE(r.ok());
  CHECK(r->queries == std::vector<std::string>{"ferry", "storm"});
  CHECK(r->text == "Mara");
  CHECK(r->categories == std::vector<Category>{Category::kCharacter});
  CHECK(*r->position == StoryPosition{3, 1});
  CHECK(r->budget_tokens == 900);
  CHECK(r->k == 4);
  auto defaults = query_request_from_json(Json::object());
  REQUIRE(defaults.ok());
  CHECK(defaults->budget_tokens == 1500);
  CHECK(defaults->k == 8);
  CHECK_FALSE(defaults->position.has_value());
}
