// mentions_test.cpp — which entries a text names (mentions.cpp).
#include <catch2/catch.hpp>

#include <string>
#include <tuple>
#include <vector>

#include "loom/knowledge.hpp"

using namespace loom::knowledge;

namespace {

Entry named(std::string id, std::string name, std::vector<std::string> aliases = {},
            Inclusion inclusion = Inclusion::kWhenMentioned) {
  Entry e;
  e.id = std::move(id);
  e.name = std::move(name);
  e.aliases = std::move(aliases);
  e.inclusion = inclusion;
  e.text = "About " + e.name + ".";
  return e;
}

KnowledgeBase cast() {
  KnowledgeBase kb;
  kb.put(named("mara", "Mara Quill", {"Mara", "the Quill girl"}));
  kb.put(named("quill-sr", "Edwin Quill", {"Old Quill"}));
  kb.put(named("anne", "Anne-Marie", {}));
  kb.put(named("ferry", "The Dawn Ferry", {"the ferry"}));
  kb.put(named("twin-a", "Ash", {"the twins"}));
  kb.put(named("twin-b", "Rowan", {"the twins"}, Inclusion::kNever));
  kb.put(named("zoe", "Zoë", {}));
  return kb;
}

// "id@surface" for each mention, checking that the offsets slice the text to the surface.
std::vector<std::string> found(const KnowledgeBase& kb, const std::string& text) {
  std::vector<std::string> out;
  std::size_t last_begin = 0;
  for (const Mention& m : kb.mentions(text)) {
    REQUIRE(m.end <= text.size());
    CHECK(text.substr(m.begin, m.end - m.begin) == m.surface);
    CHECK(m.begin >= last_begin);  // in order of appearance
    last_begin = m.begin;
    out.push_back(kb.entries()[m.entry].id + "@" + m.surface);
  }
  return out;
}

}  // namespace

TEST_CASE("mentions finds names and aliases as whole words", "[knowledge]") {
  const KnowledgeBase kb = cast();
  using Row = std::tuple<std::string, std::string, std::vector<std::string>>;
  auto row = GENERATE(table<std::string, std::string, std::vector<std::string>>({
      Row{"a name", "Then Mara Quill left.", {"mara@Mara Quill"}},
      Row{"an alias", "Mara left.", {"mara@Mara"}},
      Row{"case-insensitive", "MARA and mara", {"mara@MARA", "mara@mara"}},
      Row{"a possessive, without its 's", "Mara's boat and Mara’s oar", {"mara@Mara", "mara@Mara"}},
      Row{"longest match first", "Mara Quill's ferry", {"mara@Mara Quill"}},
      Row{"no partial words", "Maradona and Amara and Mara-like", {"mara@Mara"}},
      Row{"a multi-word alias", "It was the Quill girl again.", {"mara@the Quill girl"}},
      Row{"names split by punctuation are two words", "Mara. Quill came.", {"mara@Mara"}},
      Row{"across a line break", "Mara\nQuill", {"mara@Mara\nQuill"}},
      Row{"a hyphenated name", "Anne-Marie and anne-marie", {"anne@Anne-Marie", "anne@anne-marie"}},
      Row{"a hyphenated name written with a space", "Anne Marie", {"anne@Anne Marie"}},
      Row{"a shared alias gives every entry", "the twins", {"twin-a@the twins", "twin-b@the twins"}},
      Row{"accents must match", "Zoë not Zoe", {"zoe@Zoë"}},
      Row{"several in order", "Old Quill met Mara on the ferry",
          {"quill-sr@Old Quill", "mara@Mara", "ferry@the ferry"}},
      Row{"nothing", "No one was there.", {}},
  }));
  INFO(std::get<0>(row) << ": " << std::get<1>(row));
  CHECK(found(kb, std::get<1>(row)) == std::get<2>(row));
}

TEST_CASE("mentions gives byte offsets into the original text", "[knowledge]") {
  const KnowledgeBase kb = cast();
  const std::string text = "Évian: Zoë saw MARA’s ﬁre";
  auto ms = kb.mentions(text);
  REQUIRE(ms.size() == 2);
  CHECK(ms[0].begin == text.find("Zoë"));
  CHECK(ms[0].end == ms[0].begin + std::string("Zoë").size());
  CHECK(ms[1].surface == "MARA");
  CHECK(ms[1].begin == text.find("MARA"));
}

TEST_CASE("mentions follows puts and removes, and an empty base finds nothing", "[knowledge]") {
  KnowledgeBase kb;
  CHECK(kb.mentions("Mara").empty());
  kb.put(named("mara", "Mara"));
  CHECK(found(kb, "Mara") == std::vector<std::string>{"mara@Mara"});
  kb.put(named("mara", "Mara Quill", {"the girl"}));
  CHECK(found(kb, "Mara and the girl") == std::vector<std::string>{"mara@the girl"});
  kb.remove("mara");
  CHECK(kb.mentions("Mara and the girl").empty());
}
