// agents_test.cpp — voice.profile, voice.score and voice.rank (voice/agents.cpp): without a
// background, bound to the real one (versions carry its fingerprint), the request adapters' happy
// paths and every refusal, and the agents inside a workflow run.
#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "fakes/fake_host.hpp"
#include "loom/voice.hpp"
#include "voice/voice_fixtures.hpp"

using namespace loom;
using namespace loom::voice;
using namespace loom::voice::test_fixtures;

namespace {

bool contains(const std::string& haystack, const std::string& needle) { return haystack.find(needle) != std::string::npos; }

// Mara's lines, each attributed "said Mara"; Ives answers in between.
const std::vector<std::string> kMaraLines = {
    "Wind's backing east. I don't like it. You can smell it on the water, can't you?",
    "Get the jib down. Now! Don't stand there gawping. She's heeling hard and the lee rail's under.",
    "I've seen this before, off Fastnet. We lost a man. Good man, too.",
    "You reef early or you don't reef at all. That's the rule.",
    "Grab the sheet. Hard in. Harder! There. Feel her settle? That's the boat talking.",
    "Coffee's in the thermos. It's cold. Drink it anyway. We've got four hours to the headland.",
    "Keep your harness clipped on. I mean it. I'm not fishing you out of the Channel at night.",
    "Call out if she wanders past the mark. Can't see the light yet. We will. Give it an hour."};
const std::vector<std::string> kIvesLines = {"Smell what?", "It looks calm enough to me.", "Aye, aye.",
                                             "The forecast said fair.", "Is that an order?", "Right you are.",
                                             "Four hours is a long time.", "I can see a light."};

std::string manuscript() {
  std::string text = "The ferry left the breakwater at dusk.\n\n";
  for (std::size_t i = 0; i < kMaraLines.size(); ++i) {
    std::string line = kMaraLines[i];
    // "…, can't you?" said Mara. / "… all," said Mara.
    if (line.back() == '.') line.back() = ',';
    text += "\"" + line + "\" said Mara.\n\n";
    std::string reply = kIvesLines[i];
    if (reply.back() == '.') reply.back() = ',';
    text += "\"" + reply + "\" said Ives.\n\n";
  }
  return text;
}

AgentRegistry registry_with(std::shared_ptr<const Background> bg) {
  AgentRegistry r = loom::test::agents();
  REQUIRE(register_voice_agents(r, std::move(bg)).code == ErrorCode::kOk);
  return r;
}

Json sailor_profile_json() {
  auto p = Profile::build("Hask", sailor_references(), real_background());
  REQUIRE(p.ok());
  return p->to_json();
}

void require_bad(const Result<Json>& r, const std::string& mentions) {
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::kBadArgument);
  INFO(r.error().message);
  CHECK(contains(r.error().message, mentions));
}

const char* kWorkflow = R"(
name: voice_check
inputs:
  manuscript: {type: string, required: true}
  draft: {type: string, required: true}
  other: {type: string, required: true}
steps:
  - id: mara
    agent: voice.profile
    with:
      name: Mara
      text: "{{ inputs.manuscript }}"
      character: Mara
  - id: check
    agent: voice.score
    needs: [mara]
    with:
      profile: "{{ steps.mara.output }}"
      text: "{{ inputs.draft }}"
  - id: pick
    agent: voice.rank
    needs: [mara]
    with:
      profile: "{{ steps.mara.output }}"
      candidates:
        - {label: draft, text: "{{ inputs.draft }}"}
        - {label: other, text: "{{ inputs.other }}"}
outputs:
  lines: "{{ steps.mara.output.lines }}"
  score: "{{ steps.check.output.score }}"
  who: "{{ steps.check.output.profile }}"
  evidence: "{{ steps.check.output.evidence | length }}"
  best: "{{ steps.pick.output.best_label }}"
)";

}  // namespace

TEST_CASE("the built-in voice agents fail until a background is registered", "[voice]") {
  const AgentRegistry r = AgentRegistry::with_builtins();
  const Json args_for[] = {Json{{"name", "Mara"}, {"references", sailor_references()}},
                           Json{{"profile", {{"name", "Mara"}}}, {"text", "Hello."}},
                           Json{{"profile", {{"name", "Mara"}}}, {"candidates", {"Hello."}}}};
  const char* names[] = {"voice.profile", "voice.score", "voice.rank"};
  for (int i = 0; i < 3; ++i) {
    INFO(names[i]);
    const AgentSpec* spec = r.find(names[i]);
    REQUIRE(spec != nullptr);
    CHECK(spec->kind == AgentKind::kPure);
    CHECK(spec->version == "1");
    CHECK_FALSE(spec->description.empty());
    auto out = spec->run(args_for[i]);
    REQUIRE_FALSE(out.ok());
    CHECK(out.error().code == ErrorCode::kBadArgument);
    CHECK(out.error().message == "no voice background is loaded");
    CHECK(contains(out.error().hint, "background.loomvb"));
    CHECK(contains(out.error().hint, "tools/build --wasm"));
  }
}

TEST_CASE("register_voice_agents binds the background and versions the agents by its fingerprint", "[voice]") {
  auto bg = real_background_ptr();
  AgentRegistry r = AgentRegistry::with_builtins();
  REQUIRE(register_voice_agents(r, bg).code == ErrorCode::kOk);
  for (const char* name : {"voice.profile", "voice.score", "voice.rank"}) {
    INFO(name);
    const AgentSpec* spec = r.find(name);
    REQUIRE(spec != nullptr);
    CHECK(spec->version == "1+" + bg->fingerprint());
    CHECK(spec->version.size() == 18);
    CHECK(spec->kind == AgentKind::kPure);
  }
  // The parameters the workflow loader checks.
  const AgentSpec& profile = *r.find("voice.profile");
  std::vector<std::string> param_names;
  for (const auto& param : profile.params) param_names.push_back(param.name);
  for (const char* expected : {"name", "references", "text", "character", "aliases", "others"}) {
    CHECK(std::find(param_names.begin(), param_names.end(), expected) != param_names.end());
  }
  REQUIRE_FALSE(profile.params.empty());
  CHECK(profile.params[0].name == "name");
  CHECK(profile.params[0].required);
  CHECK(check_agent_args(profile, Json{{"name", "Mara"}, {"voice", "x"}}).code != ErrorCode::kOk);
  CHECK(check_agent_args(*r.find("voice.score"), Json{{"text", "x"}}).code != ErrorCode::kOk);

  auto out = r.find("voice.profile")->run(Json{{"name", "Hask"}, {"references", sailor_references()}});
  REQUIRE(out.ok());
  CHECK((*out)["name"] == "Hask");
  CHECK((*out)["background"] == bg->fingerprint());

  // Another background: another version; none again: back to "1" and failing.
  REQUIRE(register_voice_agents(r, std::make_shared<const Background>(synthetic_background())).code == ErrorCode::kOk);
  CHECK(r.find("voice.score")->version == "1+" + synthetic_background().fingerprint());
  CHECK(r.find("voice.score")->version != "1+" + bg->fingerprint());
  REQUIRE(register_voice_agents(r, nullptr).code == ErrorCode::kOk);
  CHECK(r.find("voice.rank")->version == "1");
  CHECK_FALSE(r.find("voice.profile")->run(Json{{"name", "Hask"}, {"references", sailor_references()}}).ok());
}

// ---------------------------------------------------------------- profile_request

TEST_CASE("profile_request from references gives the profile's JSON", "[voice]") {
  const Background& bg = real_background();
  auto out = profile_request(Json{{"name", "Hask"}, {"references", sailor_references()}}, bg);
  REQUIRE(out.ok());
  CHECK(*out == sailor_profile_json());
  CHECK_FALSE(out->contains("lines"));  // only with text
  // null references are no references; aliases without text are ignored.
  auto with_nulls = profile_request(
      Json{{"name", "Hask"}, {"references", sailor_references()}, {"text", nullptr}, {"character", nullptr}, {"aliases", {"Old Hask"}}},
      bg);
  REQUIRE(with_nulls.ok());
  CHECK(*with_nulls == *out);
}

TEST_CASE("profile_request takes a character's lines from manuscript text", "[voice]") {
  const Background& bg = real_background();
  const std::string text = manuscript();
  auto out = profile_request(Json{{"name", "Mara"}, {"text", text}, {"character", "Mara"}}, bg);
  REQUIRE(out.ok());
  CHECK((*out)["format"] == "loom.voice.profile/1");
  CHECK((*out)["name"] == "Mara");
  CHECK((*out)["lines"] == kMaraLines.size());
  const Json& refs = (*out)["references"];
  REQUIRE(refs.size() == kMaraLines.size());
  for (std::size_t i = 0; i < refs.size(); ++i) {
    const std::string ref = refs[i];
    INFO(ref);
    // Mara's words, without the quotation marks; none of Ives's.
    CHECK(contains(ref, kMaraLines[i].substr(0, kMaraLines[i].size() - 1)));
    CHECK_FALSE(contains(ref, "\""));
    for (const auto& ives : kIvesLines) CHECK_FALSE(contains(ref, ives.substr(0, ives.size() - 1)));
  }
  CHECK((*out)["words"].get<std::int64_t>() >= 100);

  // References and lines together; an alias's lines count as the character's.
  const std::string aliased = text + "\"Stow that line properly, lad,\" said the Skipper.\n\n";
  auto both = profile_request(Json{{"name", "Mara"},
                                   {"references", {sailor_references()[0]}},
                                   {"text", aliased},
                                   {"character", "Mara"},
                                   {"aliases", {"the Skipper"}}},
                              bg);
  REQUIRE(both.ok());
  CHECK((*both)["lines"] == kMaraLines.size() + 1);
  CHECK((*both)["references"].size() == kMaraLines.size() + 2);
  CHECK((*both)["references"][0] == sailor_references()[0]);

  // Ives's lines make Ives's profile, but there are too few of them to be a voice.
  auto ives = profile_request(Json{{"name", "Ives"}, {"text", text}, {"character", "Ives"}}, bg);
  REQUIRE_FALSE(ives.ok());
  CHECK(ives.error().code == ErrorCode::kInvalidValue);
  CHECK(contains(ives.error().message, "\"Ives\" hold"));

  // The rest of the cast named in `others` only helps tell the turns apart: the same lines.
  auto with_others = profile_request(
      Json{{"name", "Mara"}, {"text", text}, {"character", "Mara"}, {"others", {"Ives", "Sol"}}}, bg);
  REQUIRE(with_others.ok());
  CHECK((*with_others)["lines"] == kMaraLines.size());
  CHECK((*with_others)["references"] == (*out)["references"]);

  // `character` without `text` takes nothing (the header's rule): the references alone, no `lines`.
  auto no_text = profile_request(Json{{"name", "Hask"}, {"references", sailor_references()}, {"character", "Hask"}}, bg);
  REQUIRE(no_text.ok());
  CHECK_FALSE(no_text->contains("lines"));
  CHECK(*no_text == sailor_profile_json());
  auto nothing = profile_request(Json{{"name", "Mara"}, {"character", "Mara"}}, bg);
  REQUIRE_FALSE(nothing.ok());
  CHECK(nothing.error().code == ErrorCode::kInvalidValue);

  // A character who never speaks adds no lines; with references the profile still builds.
  auto silent = profile_request(
      Json{{"name", "Sol"}, {"references", sailor_references()}, {"text", text}, {"character", "Sol"}}, bg);
  REQUIRE(silent.ok());
  CHECK((*silent)["lines"] == 0);
  CHECK((*silent)["references"].size() == sailor_references().size());
}

TEST_CASE("profile_request refuses bad arguments, naming the field", "[voice]") {
  const Background& bg = real_background();
  const Json refs = sailor_references();
  struct Row {
    Json args;
    const char* mentions;
  };
  const std::vector<Row> rows = {
      {Json::array({"Hask"}), "must be an object"},
      {Json("Hask"), "must be an object"},
      {Json{{"references", refs}}, "'name' is required"},
      {Json{{"name", nullptr}, {"references", refs}}, "'name' is required"},
      {Json{{"name", 3}, {"references", refs}}, "'name' must be a text"},
      {Json{{"name", "Hask"}, {"references", "one text"}}, "'references' must be a list of texts"},
      {Json{{"name", "Hask"}, {"references", {refs[0], 7}}}, "'references[1]' must be a text"},
      {Json{{"name", "Hask"}, {"references", refs}, {"text", 5}}, "'text' must be a text"},
      {Json{{"name", "Hask"}, {"references", refs}, {"character", true}}, "'character' must be a text"},
      {Json{{"name", "Hask"}, {"references", refs}, {"aliases", "Old Hask"}}, "'aliases' must be a list of texts"},
      {Json{{"name", "Hask"}, {"references", refs}, {"aliases", {1}}}, "'aliases[0]' must be a text"},
      {Json{{"name", "Hask"}, {"references", refs}, {"others", "Ives"}}, "'others' must be a list of texts"},
      {Json{{"name", "Hask"}, {"references", refs}, {"others", {"Ives", false}}}, "'others[1]' must be a text"},
      {Json{{"name", "Mara"}, {"text", manuscript()}}, "'text' needs 'character'"},
      {Json{{"name", "Mara"}, {"text", manuscript()}, {"character", ""}}, "'text' needs 'character'"},
  };
  for (const Row& row : rows) {
    INFO(row.args.dump().substr(0, 200));
    require_bad(profile_request(row.args, bg), row.mentions);
  }
  // Profile::build's refusals come through as they are.
  auto thin = profile_request(Json{{"name", "Hask"}, {"references", {"Too short."}}}, bg);
  REQUIRE_FALSE(thin.ok());
  CHECK(thin.error().code == ErrorCode::kInvalidValue);
  auto nameless = profile_request(Json{{"name", ""}, {"references", refs}}, bg);
  REQUIRE_FALSE(nameless.ok());
  CHECK(nameless.error().code == ErrorCode::kInvalidValue);
}

// ---------------------------------------------------------------- score_request

TEST_CASE("score_request scores a text against a profile's JSON", "[voice]") {
  const Background& bg = real_background();
  const Json profile = sailor_profile_json();
  auto out = score_request(Json{{"profile", profile}, {"text", kSailorHeldOut}}, bg);
  REQUIRE(out.ok());
  auto p = Profile::from_json(profile, bg);
  REQUIRE(p.ok());
  Json expected = score_to_json(score(*p, kSailorHeldOut));
  expected["profile"] = "Hask";
  CHECK(*out == expected);
  CHECK((*out)["score"].get<double>() > 50);
  // The minimal profile form works too; an empty text scores 0.
  auto minimal = score_request(Json{{"profile", {{"name", "Hask"}, {"references", sailor_references()}}}, {"text", ""}}, bg);
  REQUIRE(minimal.ok());
  CHECK((*minimal)["score"] == 0);
  CHECK((*minimal)["confidence"] == 0);
  CHECK((*minimal)["evidence"].size() == 1);
}

TEST_CASE("score_request and rank_request take a cast of profiles", "[voice]") {
  const Background& bg = real_background();
  const Json sailor = sailor_profile_json();
  const Json narrator = {{"name", "Penhallow"}, {"references", narrator_references()}};
  auto out = score_request(Json{{"profile", sailor}, {"text", kNarratorHeldOut}, {"cast", Json::array({narrator})}}, bg);
  REQUIRE(out.ok());
  CHECK((*out)["cast"] == 1);
  CHECK((*out)["score"].get<double>() < 50);
  auto alone = score_request(Json{{"profile", sailor}, {"text", kNarratorHeldOut}}, bg);
  REQUIRE(alone.ok());
  CHECK((*alone)["cast"] == 0);
  auto ranked = rank_request(Json{{"profile", narrator}, {"candidates", {kSailorHeldOut, kNarratorHeldOut}},
                                  {"cast", Json::array({sailor})}}, bg);
  REQUIRE(ranked.ok());
  CHECK((*ranked)["ranking"][0]["candidate"] == 1);
  CHECK((*ranked)["ranking"][0]["cast"] == 1);
  // A cast that is not a list, or a member that is not a profile, names where.
  require_bad(score_request(Json{{"profile", sailor}, {"text", "x"}, {"cast", "Penhallow"}}, bg), "'cast' must be a list");
  require_bad(score_request(Json{{"profile", sailor}, {"text", "x"}, {"cast", Json::array({narrator, 3})}}, bg), "'cast[1]'");
  require_bad(rank_request(Json{{"profile", sailor}, {"candidates", {"x"}}, {"cast", Json::array({Json::object()})}}, bg), "'cast[0]'");
}

TEST_CASE("score_request refuses a missing or bad profile or text", "[voice]") {
  const Background& bg = real_background();
  const Json profile = sailor_profile_json();
  require_bad(score_request(Json{{"text", kSailorHeldOut}}, bg), "'profile' is required");
  require_bad(score_request(Json{{"profile", nullptr}, {"text", kSailorHeldOut}}, bg), "'profile' is required");
  require_bad(score_request(Json{{"profile", "Hask"}, {"text", kSailorHeldOut}}, bg), "not a voice profile");
  require_bad(score_request(Json{{"profile", {{"name", "Hask"}}}, {"text", kSailorHeldOut}}, bg), "`references`");
  require_bad(score_request(Json{{"profile", profile}}, bg), "'text' is required");
  require_bad(score_request(Json{{"profile", profile}, {"text", nullptr}}, bg), "'text' is required");
  require_bad(score_request(Json{{"profile", profile}, {"text", {"a", "list"}}}, bg), "'text' must be a text");
  require_bad(score_request(Json::object(), bg), "'profile' is required");
}

// ---------------------------------------------------------------- rank_request

TEST_CASE("rank_request ranks texts and labelled candidates, best first", "[voice]") {
  const Background& bg = real_background();
  const Json profile = sailor_profile_json();
  auto out = rank_request(
      Json{{"profile", profile},
           {"candidates", {kNarratorHeldOut, {{"label", "Hask's own"}, {"text", kSailorHeldOut}}, {{"text", "Aye."}, {"label", 4}}}}},
      bg);
  REQUIRE(out.ok());
  CHECK((*out)["profile"] == "Hask");
  const Json& ranking = (*out)["ranking"];
  REQUIRE(ranking.size() == 3);
  CHECK(ranking[0]["candidate"] == 1);
  CHECK(ranking[0]["label"] == "Hask's own");
  CHECK(ranking[0]["rank"] == 1);
  CHECK(ranking[0]["tie"] == false);
  for (const auto& r : ranking) {
    const std::size_t c = r["candidate"];
    if (c == 0) CHECK(r["label"] == "candidate 1");
    if (c == 2) CHECK(r["label"] == "candidate 3");  // a label that is not a text is not used
    CHECK(r.size() == 10);
  }
  CHECK((*out)["best"] == 1);
  CHECK((*out)["best_label"] == "Hask's own");
  CHECK((*out)["skipped"] == Json::array());
  CHECK(out->size() == 5);
}

TEST_CASE("rank_request skips null candidates and names the others by their place in the list", "[voice]") {
  const Background& bg = real_background();
  // A comparison of three models where the first did not answer.
  auto out = rank_request(Json{{"profile", sailor_profile_json()},
                               {"candidates", {nullptr, kNarratorHeldOut, {{"label", "m3"}, {"text", kSailorHeldOut}}}}},
                          bg);
  REQUIRE(out.ok());
  const Json& ranking = (*out)["ranking"];
  REQUIRE(ranking.size() == 2);
  CHECK(ranking[0]["candidate"] == 2);
  CHECK(ranking[0]["label"] == "m3");
  CHECK(ranking[1]["candidate"] == 1);
  CHECK(ranking[1]["label"] == "candidate 2");
  CHECK((*out)["best"] == 2);
  CHECK((*out)["skipped"] == Json::array({0}));
  require_bad(rank_request(Json{{"profile", sailor_profile_json()}, {"candidates", {nullptr, nullptr}}}, bg),
              "every candidate is null");
}

TEST_CASE("rank_request: best is null when the top two tie", "[voice]") {
  const Background& bg = real_background();
  auto out = rank_request(Json{{"profile", sailor_profile_json()},
                               {"candidates", {kNarratorHeldOut, {{"label", "a"}, {"text", kSailorHeldOut}},
                                               {{"label", "b"}, {"text", kSailorHeldOut}}}}},
                          bg);
  REQUIRE(out.ok());
  CHECK((*out)["best"].is_null());
  CHECK((*out)["best_label"].is_null());
  const Json& ranking = (*out)["ranking"];
  CHECK(ranking[0]["rank"] == 1);
  CHECK(ranking[1]["rank"] == 1);
  CHECK(ranking[0]["tie"] == true);
  CHECK(ranking[1]["tie"] == true);
  CHECK(ranking[2]["rank"] == 3);

  // One candidate is the best by itself.
  auto single = rank_request(Json{{"profile", sailor_profile_json()}, {"candidates", {kSailorHeldOut}}}, bg);
  REQUIRE(single.ok());
  CHECK((*single)["best"] == 0);
  CHECK((*single)["best_label"] == "candidate 1");
}

TEST_CASE("rank_request refuses a missing profile and bad candidates, naming the field", "[voice]") {
  const Background& bg = real_background();
  const Json profile = sailor_profile_json();
  require_bad(rank_request(Json{{"candidates", {"a text"}}}, bg), "'profile' is required");
  require_bad(rank_request(Json{{"profile", 3}, {"candidates", {"a text"}}}, bg), "not a voice profile");
  require_bad(rank_request(Json{{"profile", profile}}, bg), "'candidates' must be a non-empty list");
  require_bad(rank_request(Json{{"profile", profile}, {"candidates", Json::array()}}, bg), "'candidates' must be a non-empty list");
  require_bad(rank_request(Json{{"profile", profile}, {"candidates", "a text"}}, bg), "'candidates' must be a non-empty list");
  require_bad(rank_request(Json{{"profile", profile}, {"candidates", {{"text", "x"}}}}, bg),
              "'candidates' must be a non-empty list");  // an object, not a list
  require_bad(rank_request(Json{{"profile", profile}, {"candidates", {"a text", 5}}}, bg), "'candidates[1]' must be a text");
  require_bad(rank_request(Json{{"profile", profile}, {"candidates", {Json{{"label", "x"}}}}}, bg), "'candidates[0]'");
  require_bad(rank_request(Json{{"profile", profile}, {"candidates", {Json{{"label", "x"}, {"text", 5}}}}}, bg),
              "'candidates[0]'");
  require_bad(rank_request(Json{{"profile", profile}, {"candidates", {Json::array({"nested"})}}}, bg), "'candidates[0]'");
}

// ---------------------------------------------------------------- in a workflow

TEST_CASE("a workflow builds a profile from a manuscript and scores and ranks drafts with it", "[voice]") {
  auto bg = real_background_ptr();
  const AgentRegistry r = registry_with(bg);
  auto wf = loom::test::load_text(kWorkflow, r);
  loom::test::FakeHost host;
  const Json inputs = {{"manuscript", manuscript()}, {"draft", kSailorHeldOut}, {"other", kNarratorHeldOut}};
  auto run = Run::start(wf, inputs, RunOptions{}, 0, r);
  REQUIRE(run.ok());
  REQUIRE(host.drive(**run));
  REQUIRE((*run)->status() == RunStatus::kSucceeded);
  CHECK(host.performed.empty());  // pure steps only: nothing for the host to do

  const Json& out = (*run)->outputs();
  INFO(out.dump());
  CHECK(out["lines"] == kMaraLines.size());
  CHECK(out["who"] == "Mara");
  CHECK(out["best"] == "draft");
  CHECK(out["evidence"].get<int>() >= 3);

  // The step's score is what the adapters give for the same profile and draft.
  auto profile = profile_request(Json{{"name", "Mara"}, {"text", manuscript()}, {"character", "Mara"}}, *bg);
  REQUIRE(profile.ok());
  auto direct = score_request(Json{{"profile", *profile}, {"text", kSailorHeldOut}}, *bg);
  REQUIRE(direct.ok());
  CHECK(out["score"] == (*direct)["score"]);
}

TEST_CASE("the shipped example workflows/examples/voice_check.yaml runs with the real background", "[voice]") {
  auto bg = real_background_ptr();
  const AgentRegistry r = registry_with(bg);
  auto wf = loom::test::load_source_workflow("workflows/examples/voice_check.yaml", r);
  loom::test::FakeHost host;
  const Json inputs = {{"character", "Mara"},
                       {"manuscript", manuscript()},
                       {"draft", kSailorHeldOut},
                       {"alternatives", {kNarratorHeldOut, kSailorHeldOut}}};
  auto run = Run::start(wf, inputs, RunOptions{}, 0, r);
  REQUIRE(run.ok());
  REQUIRE(host.drive(**run));
  REQUIRE((*run)->status() == RunStatus::kSucceeded);
  const Json& out = (*run)->outputs();
  INFO(out.dump().substr(0, 2000));
  CHECK(out["score"].get<double>() > 50);
  CHECK(out["confidence"].get<double>() > 0);
  CHECK(out["evidence"].size() >= 3);
  CHECK(out["ranking"]["best"] == 1);
  CHECK(out["ranking"]["best_label"] == "candidate 2");
  CHECK(out["ranking"]["ranking"].size() == 2);
}

TEST_CASE("a workflow step without a background fails with the background's message", "[voice]") {
  const AgentRegistry& r = loom::test::agents();  // with_builtins: no background bound
  auto wf = loom::test::load_text(kWorkflow, r);
  loom::test::FakeHost host;
  auto run = Run::start(wf, Json{{"manuscript", manuscript()}, {"draft", "x"}, {"other", "y"}}, RunOptions{}, 0, r);
  REQUIRE(run.ok());
  host.drive(**run);
  CHECK((*run)->status() == RunStatus::kFailed);
  bool said = false;
  for (const auto& e : host.log) said = said || contains(e.data.dump(), "no voice background is loaded");
  CHECK(said);
}
