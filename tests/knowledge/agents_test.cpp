// agents_test.cpp — knowledge.query (agents.cpp): registration with and without a base, its
// arguments, inside a run, and the step cache across a change of the base; AgentRegistry::set.
#include <catch2/catch.hpp>

#include <memory>
#include <string>

#include "fakes/fake_host.hpp"
#include "loom/knowledge.hpp"

using namespace loom;
using knowledge::Category;
using knowledge::Entry;
using knowledge::Inclusion;
using knowledge::KnowledgeBase;

namespace {

std::shared_ptr<KnowledgeBase> base(const std::string& ferry_text = "The ferry waits out the storm behind the breakwater.") {
  auto kb = std::make_shared<KnowledgeBase>();
  Entry pov;
  pov.id = "pov";
  pov.name = "Mara Quill";
  pov.category = Category::kCharacter;
  pov.inclusion = Inclusion::kAlways;
  pov.text = "Mara fears deep water.";
  kb->put(pov);
  Entry ferry;
  ferry.id = "ferry";
  ferry.name = "Ferry notes";
  ferry.category = Category::kResearch;
  ferry.text = ferry_text;
  kb->put(ferry);
  return kb;
}

AgentRegistry registry_with(std::shared_ptr<const KnowledgeBase> kb) {
  AgentRegistry r = test::agents();
  REQUIRE(knowledge::register_knowledge_agents(r, std::move(kb)).code == ErrorCode::kOk);
  return r;
}

const char* kWorkflow = R"(
name: kb_scene
inputs:
  outline: {type: string, required: true}
steps:
  - id: kb
    agent: knowledge.query
    with:
      queries: ["ferry storm"]
      text: "{{ inputs.outline }}"
      position: {chapter: 2, scene: 1}
      budget_tokens: 500
  - id: draft
    agent: test.effect
    needs: [kb]
    with: {prompt: "{{ steps.kb.output.context }}\n\nWrite: {{ inputs.outline }}"}
outputs:
  context: "{{ steps.kb.output.context }}"
  count: "{{ steps.kb.output.included | length }}"
  draft: "{{ steps.draft.output }}"
)";

}  // namespace

TEST_CASE("AgentRegistry::set adds or replaces; add refuses a taken name", "[knowledge]") {
  AgentRegistry r;
  AgentSpec a;
  a.name = "x.y";
  a.version = "1";
  a.run = [](const Json&) -> Result<Json> { return Json(1); };
  CHECK(r.add(a).code == ErrorCode::kOk);
  CHECK(r.add(a).code == ErrorCode::kInvalidValue);
  a.version = "2";
  CHECK(r.set(a).code == ErrorCode::kOk);
  CHECK(r.find("x.y")->version == "2");
  CHECK(r.names().size() == 1);
  AgentSpec bad = a;
  bad.name = "Bad Name";
  CHECK(r.set(bad).code == ErrorCode::kInvalidValue);
  AgentSpec no_fn;
  no_fn.name = "x.y";
  CHECK(r.set(no_fn).code == ErrorCode::kInvalidValue);
  CHECK(r.find("x.y")->version == "2");  // unchanged by the refused set
}

TEST_CASE("the built-in knowledge.query fails until a base is registered", "[knowledge]") {
  const AgentRegistry r = AgentRegistry::with_builtins();
  const AgentSpec* spec = r.find("knowledge.query");
  REQUIRE(spec != nullptr);
  CHECK(spec->kind == AgentKind::kPure);
  auto out = spec->run(Json{{"queries", {"ferry"}}});
  REQUIRE_FALSE(out.ok());
  CHECK(out.error().code == ErrorCode::kBadArgument);
  CHECK(out.error().message ==
        "no knowledge base is loaded: add references in the studio's Knowledge panel or pass --kb");
}

TEST_CASE("register_knowledge_agents binds a base and versions the agent by its fingerprint", "[knowledge]") {
  auto kb = base();
  AgentRegistry r = AgentRegistry::with_builtins();
  REQUIRE(knowledge::register_knowledge_agents(r, kb).code == ErrorCode::kOk);
  const std::string v1 = r.find("knowledge.query")->version;
  CHECK(v1 == "1+" + kb->fingerprint());
  auto out = r.find("knowledge.query")->run(Json{{"queries", {"ferry storm"}}, {"budget_tokens", 200}});
  REQUIRE(out.ok());
  CHECK((*out)["included"].size() == 2);
  CHECK((*out)["context"].get<std::string>().rfind("[1] Mara Quill (character)\nMara fears deep water.", 0) == 0);

  auto changed = base("The ferry sank.");
  REQUIRE(knowledge::register_knowledge_agents(r, changed).code == ErrorCode::kOk);
  CHECK(r.find("knowledge.query")->version != v1);
  REQUIRE(knowledge::register_knowledge_agents(r, nullptr).code == ErrorCode::kOk);
  CHECK(r.find("knowledge.query")->version == "1");
}

TEST_CASE("knowledge.query checks its arguments", "[knowledge]") {
  const AgentRegistry r = registry_with(base());
  const AgentSpec& spec = *r.find("knowledge.query");
  auto row = GENERATE(as<std::string>(),
                      R"({"queries": "ferry"})", R"({"queries": [1]})", R"({"text": 3})", R"({"categories": "character"})",
                      R"({"categories": ["character", "villain"]})", R"({"position": 3})", R"({"position": {"scene": 1}})",
                      R"({"position": {"chapter": -1}})", R"({"position": {"chapter": 1.5}})",
                      R"({"position": {"chapter": 1, "act": 2}})", R"({"budget_tokens": -5})", R"({"budget_tokens": "lots"})",
                      R"({"k": 0})", R"({"k": 2.5})", R"({"k": 5000})");
  INFO(row);
  auto out = spec.run(Json::parse(row));
  REQUIRE_FALSE(out.ok());
  CHECK(out.error().code == ErrorCode::kBadArgument);
}

TEST_CASE("an unknown category names itself and the valid ones", "[knowledge]") {
  const AgentRegistry r = registry_with(base());
  auto out = r.find("knowledge.query")->run(Json{{"categories", {"character", "villain"}}});
  REQUIRE_FALSE(out.ok());
  CHECK(out.error().code == ErrorCode::kBadArgument);
  const std::string& m = out.error().message;
  CHECK(m.find("villain") != std::string::npos);
  CHECK(m.find("character, location, item, lore, style, research, other") != std::string::npos);
}

TEST_CASE("a workflow step runs knowledge.query with a base registered", "[knowledge]") {
  const AgentRegistry r = registry_with(base());
  auto wf = test::load_text(kWorkflow, r);
  test::FakeHost host;
  host.handler = [](const Effect& e) {
    test::Reply reply;
    reply.result = EffectResult::success(Json("drafted from " + std::to_string(e.args["prompt"].get<std::string>().size()) + " bytes"));
    return reply;
  };
  auto run = Run::start(wf, Json{{"outline", "Mara watches the storm."}}, RunOptions{}, 0, r);
  REQUIRE(run.ok());
  REQUIRE(host.drive(**run));
  REQUIRE((*run)->status() == RunStatus::kSucceeded);
  const Json& out = (*run)->outputs();
  const std::string context = out["context"];
  CHECK(context.rfind("[1] Mara Quill (character)\n", 0) == 0);
  CHECK(context.find("[2] Ferry notes (research)\nThe ferry waits out the storm") != std::string::npos);
  CHECK(out["count"] == 2);
  REQUIRE(host.performed.size() == 1);
  CHECK(host.performed[0].args["prompt"].get<std::string>().rfind(context, 0) == 0);
}

TEST_CASE("a changed base changes what the step cache is keyed on", "[knowledge]") {
  RunOptions opts;
  opts.use_cache = true;
  test::FakeHost host;
  host.handler = [](const Effect&) {
    test::Reply reply;
    reply.result = EffectResult::success(Json("a draft"));
    return reply;
  };
  auto draft_key = [&](std::shared_ptr<const KnowledgeBase> kb) {
    const AgentRegistry r = registry_with(std::move(kb));
    auto run = Run::start(test::load_text(kWorkflow, r), Json{{"outline", "The storm."}}, opts, 0, r);
    REQUIRE(run.ok());
    host.log.clear();
    REQUIRE(host.drive(**run));
    REQUIRE((*run)->status() == RunStatus::kSucceeded);
    std::string key;
    for (const auto& e : host.log) {
      if (e.step == "draft" && e.type == EventType::kStepSucceeded) key = e.data.value("cache_key", "");
    }
    return key;
  };
  const std::string first = draft_key(base());
  CHECK_FALSE(first.empty());
  CHECK(host.calls["draft"] == 1);
  CHECK(draft_key(base()) == first);  // the same base: served from the cache
  CHECK(host.calls["draft"] == 1);
  const std::string changed = draft_key(base("The ferry never sails in a storm."));
  CHECK(changed != first);  // a changed base: a new key, a new call
  CHECK(host.calls["draft"] == 2);
}
