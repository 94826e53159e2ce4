#include <catch2/catch.hpp>

#include "fakes/fake_host.hpp"
#include "loom/loom.hpp"

using namespace loom;
using test::agents;

namespace {

std::vector<Error> errors_of(const std::string& yaml, const WorkflowLibrary* library = nullptr) {
  return load_workflow(yaml, "w.yaml", agents(), library).errors;
}

// The one error a snippet has: its code, line and column.
void expect_one(const std::string& yaml, ErrorCode code, int line, int column) {
  auto errors = errors_of(yaml);
  for (const auto& e : errors) UNSCOPED_INFO(e.format());
  REQUIRE(errors.size() == 1);
  CHECK_FALSE(errors[0].hint.empty());  // every validation error says how to fix it
  CHECK(errors[0].code == code);
  CHECK(errors[0].line == line);
  CHECK(errors[0].column == column);
  CHECK(errors[0].file == "w.yaml");
}

}  // namespace

TEST_CASE("a valid workflow loads with its model", "[workflow]") {
  auto wf = test::load_text(R"(
name: digest
description: d
inputs:
  document: {type: string, required: true}
  n: {type: number, default: 5}
  tags: list
steps:
  - id: chunks
    agent: text.chunk
    with: {text: "{{ inputs.document }}"}
  - id: summary
    agent: text.summarize
    needs: chunks
    foreach: "{{ steps.chunks.output.chunks }}"
    when: "inputs.n > 0"
    with: {text: "{{ item }}", sentences: "{{ inputs.n }}"}
  - id: fetch
    agent: http.fetch
    with: {url: "http://localhost/"}
    retry: {max_attempts: 3, backoff: fixed, initial_delay: 500ms, max_delay: 1m}
    timeout: 1.5s
    on_error: continue
    pool: web
    cache: false
outputs:
  digest: "{{ steps.summary.output | join('\n') }}"
)", agents());
  CHECK(wf->name == "digest");
  REQUIRE(wf->inputs.size() == 3);
  CHECK(wf->inputs[0].required);
  CHECK(wf->inputs[1].default_value == Json(5));
  CHECK(wf->inputs[2].type == InputType::kList);
  REQUIRE(wf->steps.size() == 3);
  CHECK(wf->steps[1].need_index == std::vector<int>{0});
  CHECK(wf->steps[0].dependent_index == std::vector<int>{1});
  CHECK(wf->steps[1].when != nullptr);  // a bare expression is accepted
  const StepDef& f = wf->steps[2];
  CHECK(f.retry.max_attempts == 3);
  CHECK(f.retry.backoff == RetryPolicy::Backoff::kFixed);
  CHECK(f.retry.initial_delay_ms == 500);
  CHECK(f.retry.max_delay_ms == 60000);
  CHECK(f.timeout_ms == 1500);
  CHECK(f.on_error == OnError::kContinue);
  CHECK(f.pool == "web");
  CHECK_FALSE(f.cache);
  CHECK(wf->outputs.size() == 1);
  CHECK(wf->version().size() == 32);
}

TEST_CASE("each validation error has its code, line and column", "[workflow]") {
  SECTION("YAML syntax") {
    expect_one("name: x\nsteps:\n  - id: a\n    with: {template: 'x'\n  - id: b\n", ErrorCode::kYamlSyntax, 5, 3);
  }
  SECTION("unknown key, with the nearest suggested") {
    auto errors = errors_of("name: x\nsteps:\n  - id: a\n    agent: text.template\n    wiht: {template: x}\n");
    // The misspelt key, and what follows from it: text.template gets no template.
    REQUIRE(errors.size() == 2);
    CHECK(errors[0].code == ErrorCode::kMissingKey);
    CHECK(errors[1].code == ErrorCode::kUnknownKey);
    CHECK(errors[1].line == 5);
    CHECK(errors[1].column == 5);
    CHECK(errors[1].hint == "did you mean 'with'?");
  }
  SECTION("unknown top-level key") {
    expect_one("name: x\nstepz: []\nsteps:\n  - {id: a, agent: text.template, with: {template: x}}\n",
               ErrorCode::kUnknownKey, 2, 1);
  }
  SECTION("missing name") {
    expect_one("steps:\n  - {id: a, agent: text.template, with: {template: x}}\n", ErrorCode::kMissingKey, 1, 1);
  }
  SECTION("missing steps") { expect_one("name: x\n", ErrorCode::kMissingKey, 1, 1); }
  SECTION("missing required agent argument") {
    expect_one("name: x\nsteps:\n  - id: a\n    agent: text.chunk\n    with: {max_chars: 100}\n",
               ErrorCode::kMissingKey, 5, 5);
  }
  SECTION("duplicate step id") {
    expect_one("name: x\nsteps:\n  - {id: a, agent: text.template, with: {template: x}}\n"
               "  - {id: a, agent: text.template, with: {template: y}}\n",
               ErrorCode::kDuplicateStep, 4, 6);
  }
  SECTION("unknown need") {
    expect_one("name: x\nsteps:\n  - {id: a, agent: text.template, with: {template: x}}\n"
               "  - id: b\n    agent: text.template\n    needs: [aa]\n    with: {template: y}\n",
               ErrorCode::kUnknownNeed, 6, 5);
  }
  SECTION("a step needing itself") {
    expect_one("name: x\nsteps:\n  - id: a\n    needs: [a]\n    agent: text.template\n    with: {template: x}\n",
               ErrorCode::kCycle, 4, 5);
  }
  SECTION("unknown agent, with the nearest suggested") {
    auto errors = errors_of("name: x\nsteps:\n  - id: a\n    agent: text.chnk\n    with: {text: x}\n");
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].code == ErrorCode::kUnknownAgent);
    CHECK(errors[0].line == 4);
    CHECK(errors[0].hint == "did you mean 'text.chunk'?");
  }
  SECTION("template syntax inside a quoted string") {
    expect_one("name: x\nsteps:\n  - id: a\n    agent: text.template\n    with: {template: \"ab {{ 1 + }}\"}\n",
               ErrorCode::kTemplateSyntax, 5, 33);
  }
  SECTION("template reading a step that is not upstream") {
    expect_one("name: x\nsteps:\n  - {id: a, agent: text.template, with: {template: x}}\n"
               "  - id: b\n    agent: text.template\n    with: {template: \"{{ steps.a.output }}\"}\n",
               ErrorCode::kTemplateNotUpstream, 6, 25);
  }
  SECTION("template reading an unknown step") {
    expect_one("name: x\nsteps:\n  - id: b\n    agent: text.template\n    with: {template: \"{{ steps.zz }}\"}\n",
               ErrorCode::kTemplateUnknownName, 5, 25);
  }
  SECTION("template reading an undeclared input") {
    expect_one("name: x\nsteps:\n  - id: b\n    agent: text.template\n    with: {template: \"{{ inputs.zz }}\"}\n",
               ErrorCode::kTemplateUnknownName, 5, 25);
  }
  SECTION("item outside a foreach step") {
    expect_one("name: x\nsteps:\n  - id: b\n    agent: text.template\n    with: {template: \"{{ item }}\"}\n",
               ErrorCode::kTemplateUnknownName, 5, 25);
  }
  SECTION("wrong value type") {
    expect_one("name: x\nsteps:\n  - id: b\n    agent: text.template\n    with: {template: x}\n    on_error: maybe\n",
               ErrorCode::kInvalidValue, 6, 15);
  }
  SECTION("input default of the wrong type") {
    expect_one("name: x\ninputs:\n  n: {type: number, default: many}\nsteps:\n  - {id: b, agent: text.template, with: {template: x}}\n",
               ErrorCode::kInvalidValue, 3, 30);
  }
  SECTION("a constant argument of the wrong type") {
    expect_one("name: x\nsteps:\n  - id: b\n    agent: text.chunk\n    with: {text: [1, 2]}\n",
               ErrorCode::kInvalidValue, 5, 5);
  }
  SECTION("unknown argument of an agent") {
    auto errors = errors_of("name: x\nsteps:\n  - id: b\n    agent: text.chunk\n    with: {text: x, max_char: 5}\n");
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].code == ErrorCode::kUnknownKey);
    CHECK(errors[0].hint == "did you mean 'max_chars'?");
  }
  SECTION("a loop without max_iterations") {
    expect_one("name: x\nsteps:\n  - id: l\n    loop:\n      steps:\n        - {id: a, agent: text.template, with: {template: x}}\n",
               ErrorCode::kMissingKey, 5, 7);
  }
}

TEST_CASE("a cycle is reported with its path", "[workflow]") {
  auto errors = errors_of(test::read_source_file("workflows/examples/broken/cycle.yaml"));
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].code == ErrorCode::kCycle);
  CHECK(errors[0].message.find("draft -> review -> polish -> draft") != std::string::npos);
  CHECK(errors[0].line == 15);
}

TEST_CASE("every error of a broken file is reported in one pass", "[workflow]") {
  using Expect = std::tuple<ErrorCode, int, int>;
  SECTION("typos.yaml") {
    auto errors = errors_of(test::read_source_file("workflows/examples/broken/typos.yaml"));
    std::vector<Expect> got;
    for (const auto& e : errors) {
      got.emplace_back(e.code, e.line, e.column);
      CHECK_FALSE(e.hint.empty());
    }
    std::vector<Expect> want = {
        {ErrorCode::kMissingKey, 13, 5},           {ErrorCode::kUnknownKey, 14, 5},
        {ErrorCode::kUnknownAgent, 17, 5},         {ErrorCode::kUnknownNeed, 18, 5},
        {ErrorCode::kTemplateSyntax, 19, 22},      {ErrorCode::kDuplicateStep, 20, 5},
        {ErrorCode::kTemplateNotUpstream, 25, 25}, {ErrorCode::kTemplateUnknownName, 28, 25}};
    CHECK(got == want);
  }
  SECTION("values.yaml") {
    auto errors = errors_of(test::read_source_file("workflows/examples/broken/values.yaml"));
    std::vector<std::pair<ErrorCode, int>> got;
    for (const auto& e : errors) {
      got.emplace_back(e.code, e.line);
      CHECK_FALSE(e.hint.empty());
    }
    std::vector<std::pair<ErrorCode, int>> want = {
        {ErrorCode::kInvalidValue, 5},  {ErrorCode::kInvalidValue, 7},  {ErrorCode::kInvalidValue, 8},
        {ErrorCode::kInvalidValue, 13}, {ErrorCode::kInvalidValue, 14}, {ErrorCode::kMissingKey, 15},
        {ErrorCode::kInvalidValue, 20}};
    CHECK(got == want);
  }
  SECTION("yaml_syntax.yaml") {
    auto errors = errors_of(test::read_source_file("workflows/examples/broken/yaml_syntax.yaml"));
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].code == ErrorCode::kYamlSyntax);
    CHECK(errors[0].line == 7);
  }
}

TEST_CASE("loops: body steps read the loop and upstream steps only", "[workflow]") {
  const char* ok = R"(
name: l
inputs: {target: {type: number, default: 3}}
steps:
  - {id: seed, agent: text.template, with: {template: s}}
  - id: polish
    needs: [seed]
    loop:
      max_iterations: 4
      until: "{{ steps.b.output >= inputs.target }}"
      steps:
        - {id: a, agent: text.template, with: {template: "{{ loop.previous.a.output | default(steps.seed.output) }}x"}}
        - {id: b, agent: text.template, needs: [a], with: {template: "{{ steps.a.output | length }}"}}
)";
  CHECK(errors_of(ok).empty());
  const char* bad = R"(
name: l
steps:
  - {id: late, agent: text.template, with: {template: s}}
  - id: polish
    loop:
      max_iterations: 2
      steps:
        - {id: a, agent: text.template, with: {template: "{{ steps.late.output }}"}}
  - {id: after, agent: text.template, with: {template: "{{ loop.iteration }}"}}
)";
  auto errors = errors_of(bad);
  REQUIRE(errors.size() == 2);
  CHECK(errors[0].code == ErrorCode::kTemplateNotUpstream);  // late is not a need of polish
  CHECK(errors[1].code == ErrorCode::kTemplateUnknownName);  // loop outside a loop
}

TEST_CASE("workflow calls are checked against the library", "[workflow]") {
  WorkflowLibrary library;
  library.add(test::load_text("name: child\ninputs: {text: {type: string, required: true}}\nsteps:\n"
                              "  - {id: a, agent: text.template, with: {template: x}}\noutputs: {o: '{{ steps.a.output }}'}\n",
                              agents()));
  library.add(test::load_text("name: calls_parent\nsteps:\n  - {id: c, agent: workflow, with: {workflow: parent}}\n",
                              agents()));
  SECTION("unknown workflow") {
    auto errors = errors_of("name: parent\nsteps:\n  - {id: c, agent: workflow, with: {workflow: chld}}\n", &library);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].code == ErrorCode::kUnknownWorkflow);
    CHECK(errors[0].hint == "did you mean 'child'?");
  }
  SECTION("missing and unknown inputs") {
    auto errors = errors_of("name: parent\nsteps:\n  - {id: c, agent: workflow, with: {workflow: child, inputs: {txt: a}}}\n",
                            &library);
    REQUIRE(errors.size() == 2);
    CHECK(errors[0].code == ErrorCode::kInputUnknown);
    CHECK(errors[1].code == ErrorCode::kInputMissing);
  }
  SECTION("a call cycle") {
    auto errors = errors_of("name: parent\nsteps:\n  - {id: c, agent: workflow, with: {workflow: calls_parent}}\n",
                            &library);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].code == ErrorCode::kCycle);
    CHECK(errors[0].message.find("parent -> calls_parent -> parent") != std::string::npos);
  }
  SECTION("a templated workflow name") {
    auto errors = errors_of("name: parent\nsteps:\n  - {id: c, agent: workflow, with: {workflow: '{{ 1 }}'}}\n",
                            &library);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].code == ErrorCode::kInvalidValue);
  }
}

TEST_CASE("run inputs are bound and checked", "[workflow]") {
  auto wf = test::load_text(R"(
name: b
inputs:
  doc: {type: string, required: true}
  n: {type: number, default: 5}
  tags: {type: list}
steps:
  - {id: a, agent: text.template, with: {template: x}}
)", agents());
  auto ok = bind_inputs(*wf, Json{{"doc", "text"}});
  REQUIRE(ok.ok());
  CHECK(*ok == Json({{"doc", "text"}, {"n", 5}, {"tags", nullptr}}));
  std::vector<Error> all;
  auto bad = bind_inputs(*wf, Json{{"n", "five"}, {"extra", 1}}, &all);
  REQUIRE_FALSE(bad.ok());
  REQUIRE(all.size() == 3);
  CHECK(all[0].code == ErrorCode::kInputMissing);
  CHECK(all[1].code == ErrorCode::kInputType);
  CHECK(all[2].code == ErrorCode::kInputUnknown);
  CHECK(bind_inputs(*wf, Json::array()).error().code == ErrorCode::kBadArgument);
}

TEST_CASE("durations", "[workflow]") {
  CHECK(*parse_duration("250ms") == 250);
  CHECK(*parse_duration("2s") == 2000);
  CHECK(*parse_duration("2") == 2000);
  CHECK(*parse_duration("1.5m") == 90000);
  CHECK(*parse_duration("1h") == 3600000);
  CHECK(parse_duration("soon").error().code == ErrorCode::kInvalidValue);
  CHECK(parse_duration("5 parsecs").error().code == ErrorCode::kInvalidValue);
  CHECK(parse_duration("-1s").error().code == ErrorCode::kInvalidValue);
}

TEST_CASE("every shipped workflow is valid", "[workflow]") {
  for (const char* f : {"workflows/ingestion_digest.yaml", "workflows/examples/fanout.yaml",
                        "workflows/examples/conditional.yaml", "workflows/examples/retry_timeout.yaml",
                        "workflows/examples/loop_until.yaml", "workflows/examples/parallel.yaml",
                        "workflows/examples/keywords_digest.yaml", "workflows/examples/approval.yaml",
                        "workflows/examples/llm_hello.yaml"}) {
    INFO(f);
    CHECK(errors_of(test::read_source_file(f)).empty());
  }
}

TEST_CASE("error codes have stable names", "[workflow]") {
  for (int c = 0; c <= kLastErrorCode; ++c) {
    auto code = static_cast<ErrorCode>(c);
    std::string_view name = error_code_name(code);
    INFO(c);
    CHECK(name != "unknown");
    CHECK(error_code_from_name(name) == code);
  }
}
