#include <catch2/catch.hpp>

#include "loom/template.hpp"

using namespace loom;

namespace {

class MapScope : public TemplateScope {
 public:
  Json inputs = {{"name", "Mara"}, {"n", 3}, {"ratio", 0.5}, {"flag", true}, {"empty", ""},
                 {"tags", {"sea", "salt", "storm"}}, {"nothing", nullptr}, {"obj", {{"a", {{"b", 7}}}}},
                 {"people", Json::array({{{"name", "Mara"}}, {{"name", "Ives"}}, Json::object()})}};
  Json item = "chapter one";
  Json index = 2;
  Json steps = {{"draft", {{"status", "succeeded"}, {"output", {{"text", "It rained."}, {"score", 81}}}}},
                {"skipped", {{"status", "skipped"}, {"output", nullptr}}}};
  const Json* root(std::string_view name) const override {
    if (name == "inputs") return &inputs;
    if (name == "item") return &item;
    if (name == "index") return &index;
    return nullptr;
  }
  const Json* step(std::string_view id) const override {
    auto it = steps.find(std::string(id));
    return it == steps.end() ? nullptr : &*it;
  }
};

Json eval(const std::string& text) {
  auto t = Template::parse(text);
  INFO(text);
  REQUIRE(t.ok());
  MapScope scope;
  auto v = (*t)->evaluate(scope);
  if (!v) FAIL(v.error().message);
  return *v;
}

ErrorCode eval_error(const std::string& text) {
  auto t = Template::parse(text);
  REQUIRE(t.ok());
  MapScope scope;
  auto v = (*t)->evaluate(scope);
  REQUIRE_FALSE(v.ok());
  return v.error().code;
}

}  // namespace

TEST_CASE("a single-expression template keeps the value's type", "[workflow][template]") {
  CHECK(eval("{{ inputs.n }}") == Json(3));
  CHECK(eval("{{ inputs.tags }}") == Json({"sea", "salt", "storm"}));
  CHECK(eval("{{ inputs.flag }}") == Json(true));
  CHECK(eval("{{inputs.obj.a}}") == Json({{"b", 7}}));
  CHECK(eval("  {{ inputs.n }}") == Json("  3"));  // text around it: rendered as a string
}

TEST_CASE("expressions evaluate as documented", "[workflow][template]") {
  using Row = std::tuple<std::string, Json>;
  auto row = GENERATE(table<std::string, Json>({
      Row{"{{ inputs.tags[0] }}", "sea"},
      Row{"{{ inputs.tags[-1] }}", "storm"},
      Row{"{{ inputs.tags[index] }}", "storm"},
      Row{"{{ inputs.tags.1 }}", "salt"},
      Row{"{{ inputs.tags[9] }}", nullptr},
      Row{"{{ inputs.obj['a'].b }}", 7},
      Row{"{{ inputs.missing }}", nullptr},
      Row{"{{ inputs.nothing.deeper }}", nullptr},
      Row{"{{ inputs.n > 2 }}", true},
      Row{"{{ inputs.n >= 4 }}", false},
      Row{"{{ inputs.n == 3 and inputs.flag }}", true},
      Row{"{{ inputs.n < 1 or not inputs.flag }}", false},
      Row{"{{ not inputs.empty }}", true},
      Row{"{{ inputs.name == 'Mara' }}", true},
      Row{"{{ inputs.name != \"Mara\" }}", false},
      Row{"{{ 'a' < 'b' }}", true},
      Row{"{{ index + 1 }}", 3},
      Row{"{{ inputs.n * 2 - 1 }}", 5},
      Row{"{{ inputs.n / 2 }}", 1.5},
      Row{"{{ inputs.n % 2 }}", 1},
      Row{"{{ -inputs.n }}", -3},
      Row{"{{ (1 + 2) * 3 }}", 9},
      Row{"{{ 'a' + 'b' }}", "ab"},
      Row{"{{ inputs.ratio * 2 }}", 1.0},
      Row{"{{ null }}", nullptr},
      Row{"{{ True }}", true},
      Row{"{{ steps.draft.output.score >= 80 }}", true},
      Row{"{{ steps.skipped.status }}", "skipped"},
      Row{"{{ steps['draft'].status }}", "succeeded"},
      Row{"{{ item }}", "chapter one"},
      Row{"{{ inputs.tags | join(', ') }}", "sea, salt, storm"},
      Row{"{{ inputs.tags | join }}", "seasaltstorm"},
      Row{"{{ inputs.nothing | join(',') }}", ""},
      Row{"{{ inputs.nothing | default('none') }}", "none"},
      Row{"{{ inputs.n | default(9) }}", 3},
      Row{"{{ inputs.missing | default(inputs.name) | upper }}", "MARA"},
      Row{"{{ inputs.tags | length }}", 3},
      Row{"{{ 'naïve' | length }}", 5},
      Row{"{{ inputs.nothing | length }}", 0},
      Row{"{{ inputs.tags | length > 2 }}", true},
      Row{"{{ inputs.name | lower }}", "mara"},
      Row{"{{ 'The storm came in fast' | truncate(12) }}", "The storm..."},
      Row{"{{ 'short' | truncate(12) }}", "short"},
      Row{"{{ 'abcdefghij' | truncate(6, '~') }}", "abcde~"},
      Row{"{{ inputs.obj | json }}", "{\"a\":{\"b\":7}}"},
      Row{"{{ 'line\\nbreak' }}", "line\nbreak"},
      Row{"Hello {{ inputs.name }}, {{ inputs.n }} ships, {{ inputs.ratio }}, {{ inputs.nothing }}.",
          "Hello Mara, 3 ships, 0.5, ."},
      Row{"{{ inputs.tags }} as text: {{ inputs.flag }}", "[\"sea\",\"salt\",\"storm\"] as text: true"},
      Row{"{{ '}}' }}", "}}"},
      Row{"{{ 9223372036854775807 + 1 }}", 9223372036854775808.0},
      Row{"{{ 9999999999 * 999999332 > 0 }}", true},
      Row{"{{ 7 % -1 }}", 0},
      Row{"{{ 'many' if inputs.n > 2 else 'few' }}", "many"},
      Row{"{{ 'many' if inputs.n > 5 else 'few' }}", "few"},
      Row{"{{ 'yes' if inputs.nothing }}", nullptr},
      Row{"Scene{{ ' \"' + inputs.name + '\"' if inputs.name }}.", "Scene \"Mara\"."},
      Row{"Scene{{ ' \"' + inputs.nothing + '\"' if inputs.nothing }}.", "Scene."},
      Row{"{{ 'a' if inputs.n > 5 else 'b' if inputs.n > 2 else 'c' }}", "b"},
      Row{"{{ ('x' if inputs.flag else 'y') | upper }}", "X"},
      Row{"{{ inputs.tags[0 if inputs.flag else 1] }}", "sea"},
      Row{"{{ 'ok' if true else 1 / 0 }}", "ok"},
      Row{"{{ 1 / 0 if false else 'ok' }}", "ok"},
      Row{"{{ inputs.people | map('name') | join(', ') }}", "Mara, Ives, "},
      Row{"score {{ 99.71 + 0.00000000000001 }}", "score 99.71"},
      Row{"{{ 0.1 + 0.2 }} and {{ 1 / 3 }}", "0.3 and 0.333333333333333"},
      Row{"{{ inputs.nothing | map('name') }}", nullptr},
  }));
  INFO(std::get<0>(row));
  CHECK(eval(std::get<0>(row)) == std::get<1>(row));
}

TEST_CASE("template syntax errors point at their column", "[workflow][template]") {
  using Row = std::tuple<std::string, int>;
  auto row = GENERATE(table<std::string, int>({
      Row{"{{ }}", 3},
      Row{"{{ inputs. }}", 12},
      Row{"{{ inputs.n = 3 }}", 13},
      Row{"{{ inputs.n && 1 }}", 13},
      Row{"{{ 'open }}", 4},
      Row{"text {{ inputs.n", 6},
      Row{"{{ inputs.n | nope }}", 15},
      Row{"{{ (1 + 2 }}", 11},
      Row{"{{ inputs.tags[0 }}", 18},
      Row{"{{ 1 2 }}", 6},
      Row{"{{ and }}", 4},
      Row{"{{ inputs.n | join(',' }}", 24},
      Row{"{{ 'a' if }}", 11},
      Row{"{{ 'a' if inputs.n else }}", 25},
      Row{"{{ if inputs.n }}", 4},
      Row{"{{ 'a' else 'b' }}", 8},
  }));
  auto t = Template::parse(std::get<0>(row));
  INFO(std::get<0>(row));
  REQUIRE_FALSE(t.ok());
  CHECK(t.error().code == ErrorCode::kTemplateSyntax);
  CHECK(t.error().column == std::get<1>(row));
}

TEST_CASE("an unknown filter suggests the nearest", "[workflow][template]") {
  auto t = Template::parse("{{ inputs.tags | joon(',') }}");
  REQUIRE_FALSE(t.ok());
  CHECK(t.error().code == ErrorCode::kTemplateSyntax);
  CHECK(t.error().hint.find("join") != std::string::npos);
}

TEST_CASE("evaluation errors are kTemplateEval", "[workflow][template]") {
  auto text = GENERATE(as<std::string>{}, "{{ inputs.n.x }}", "{{ inputs.name < 3 }}", "{{ inputs.n | join }}",
                       "{{ inputs.n | length }}", "{{ inputs.tags['x'] }}", "{{ inputs.name - 1 }}",
                       "{{ 1 / 0 }}", "{{ inputs.n % 0 }}", "{{ steps.nope.output }}", "{{ loop.iteration }}",
                       "{{ inputs.name | truncate('x') }}", "{{ inputs.n | default }}",
                       "{{ inputs.n | map('x') }}", "{{ inputs.people | map(1) }}", "{{ inputs.people | map }}");
  INFO(text);
  CHECK(eval_error(text) == ErrorCode::kTemplateEval);
}

TEST_CASE("references are collected for validation", "[workflow][template]") {
  auto t = Template::parse("{{ steps.draft.output | default(inputs.name) }} {{ item }} {{ steps[x] }}");
  REQUIRE(t.ok());
  const auto& refs = (*t)->references();
  REQUIRE(refs.size() == 5);
  CHECK(refs[0].root == "steps");
  CHECK(refs[0].name == "draft");
  CHECK(refs[0].offset == 3);
  CHECK(refs[1].root == "inputs");
  CHECK(refs[1].name == "name");
  CHECK(refs[2].root == "item");
  CHECK(refs[3].root == "steps");
  CHECK(refs[3].name.empty());  // dynamic: cannot be checked before the run
  CHECK(refs[4].root == "x");
}

TEST_CASE("truthiness", "[workflow][template]") {
  CHECK_FALSE(is_truthy(Json()));
  CHECK_FALSE(is_truthy(Json(0)));
  CHECK_FALSE(is_truthy(Json(0.0)));
  CHECK_FALSE(is_truthy(Json("")));
  CHECK_FALSE(is_truthy(Json::array()));
  CHECK_FALSE(is_truthy(Json::object()));
  CHECK(is_truthy(Json("0")));
  CHECK(is_truthy(Json(-1)));
  CHECK(is_truthy(Json({1})));
}
