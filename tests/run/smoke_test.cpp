#include <catch2/catch.hpp>

#include "fakes/fake_host.hpp"

using namespace loom;

TEST_CASE("a two-step workflow runs to its outputs", "[run]") {
  AgentRegistry agents = AgentRegistry::with_builtins();
  auto wf = test::load_text(R"(
name: hello
inputs:
  who: {type: string, default: world}
steps:
  - id: greet
    agent: text.template
    with: {template: "Hello, {{ inputs.who }}!"}
  - id: wait
    agent: util.sleep
    needs: [greet]
    with: {ms: 5, value: "{{ steps.greet.output | upper }}"}
outputs:
  text: "{{ steps.wait.output }}"
)", agents);
  auto run = Run::start(wf, Json::object(), RunOptions{}, 0, agents);
  REQUIRE(run.ok());
  test::FakeHost host;
  REQUIRE(host.drive(**run));
  CHECK((*run)->status() == RunStatus::kSucceeded);
  CHECK((*run)->outputs()["text"] == "HELLO, WORLD!");
  CHECK(host.now == 5);
}
