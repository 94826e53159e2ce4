// stem_test.cpp — English Snowball stems (stem.cpp, libstemmer).
#include <catch2/catch.hpp>

#include <string>
#include <tuple>

#include "loom/knowledge.hpp"

using loom::knowledge::stem;

TEST_CASE("stem gives Snowball English (Porter2) stems", "[knowledge]") {
  auto row = GENERATE(table<std::string, std::string>({
      {"running", "run"},
      {"generously", "generous"},
      {"ferries", "ferri"},
      {"ferry", "ferri"},
      {"happiness", "happi"},
      {"consigned", "consign"},
      {"knightly", "knight"},
      {"skies", "sky"},
      {"dying", "die"},
      {"news", "news"},
      {"mara", "mara"},
      {"don't", "don't"},
      {"café", "café"},
  }));
  INFO(std::get<0>(row));
  CHECK(stem(std::get<0>(row)) == std::get<1>(row));
}

TEST_CASE("stem leaves tokens that are not Latin-script words unchanged", "[knowledge]") {
  for (const char* token : {"москва", "бегущий", "δρόμος", "東", "タワー", "1984", "r2d2", "runs2", ""}) {
    INFO(token);
    CHECK(stem(token) == token);
  }
}
