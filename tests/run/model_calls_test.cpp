// Model calls inside a run, driven by the scripted fake host: llm.generate becomes an http
// effect for a model of the pool; the answer streams into delta events; tokens and cost are
// recorded; budgets refuse calls; rate limits and concurrency are kept by timers, not sleeps;
// retries, Retry-After and fallbacks act on the error class; a restored run does not call a
// finished step again.
#include <catch2/catch.hpp>

#include <algorithm>

#include "fakes/fake_host.hpp"

using namespace loom;
using test::agents;
using test::FakeHost;
using test::Reply;

namespace {

// A pool of two models on two protocols; prices are easy to add up.
std::shared_ptr<llm::ModelPool> pool(double rpm = 0, int concurrency = 0) {
  auto p = std::make_shared<llm::ModelPool>();
  llm::ModelSpec m;
  m.name = "main";
  m.provider = llm::Provider::kOpenAI;
  m.base_url = "http://models.test/v1";
  m.model_id = "main-1";
  m.credential = {"TEST_API_KEY", "Authorization", "Bearer "};
  m.price_input_per_mtok = 1.0;   // $1 per million in
  m.price_output_per_mtok = 2.0;  // $2 per million out
  m.requests_per_minute = rpm;
  m.concurrency = concurrency;
  m.fallback = {"backup"};
  p->add(m);
  llm::ModelSpec b;
  b.name = "backup";
  b.provider = llm::Provider::kAnthropic;
  b.base_url = "http://backup.test/v1";
  b.model_id = "backup-1";
  b.credential = {"BACKUP_KEY", "x-api-key", ""};
  b.price_input_per_mtok = 10.0;
  b.price_output_per_mtok = 20.0;
  p->add(b);
  p->set_default("main");
  p->set_file("models.yaml");
  return p;
}

// An OpenAI-compatible streamed answer: the text in SSE chunks, then usage, then [DONE].
Reply openai_stream(const std::string& text, std::int64_t in, std::int64_t out) {
  Reply r;
  r.latency_ms = 100;
  std::size_t half = text.size() / 2;
  for (const std::string& piece : {text.substr(0, half), text.substr(half)}) {
    r.deltas.push_back("data: " + Json{{"choices", {{{"index", 0}, {"delta", {{"content", piece}}}, {"finish_reason", nullptr}}}}}.dump() + "\n\n");
  }
  r.deltas.push_back("data: " + Json{{"choices", {{{"index", 0}, {"delta", Json::object()}, {"finish_reason", "stop"}}}}}.dump() + "\n\n");
  r.deltas.push_back("data: " + Json{{"choices", Json::array()}, {"usage", {{"prompt_tokens", in}, {"completion_tokens", out}}}}.dump() + "\n\ndata: [DONE]\n\n");
  r.result = EffectResult::success(Json{{"status", 200}, {"headers", Json::object()}, {"body", ""}});
  return r;
}

Reply anthropic_answer(const std::string& text, std::int64_t in, std::int64_t out) {
  Reply r;
  r.latency_ms = 100;
  Json body = {{"type", "message"}, {"role", "assistant"}, {"model", "backup-1"},
               {"content", {{{"type", "text"}, {"text", text}}}}, {"stop_reason", "end_turn"},
               {"usage", {{"input_tokens", in}, {"output_tokens", out}}}};
  r.deltas.push_back("event: message_start\ndata: " + Json{{"type", "message_start"}, {"message", {{"model", "backup-1"}, {"usage", {{"input_tokens", in}, {"output_tokens", 1}}}}}}.dump() + "\n\n");
  r.deltas.push_back("event: content_block_delta\ndata: " + Json{{"type", "content_block_delta"}, {"index", 0}, {"delta", {{"type", "text_delta"}, {"text", text}}}}.dump() + "\n\n");
  r.deltas.push_back("event: message_delta\ndata: " + Json{{"type", "message_delta"}, {"delta", {{"stop_reason", "end_turn"}}}, {"usage", {{"output_tokens", out}}}}.dump() + "\n\n");
  r.deltas.push_back("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
  r.result = EffectResult::success(Json{{"status", 200}, {"headers", Json::object()}, {"body", ""}});
  return r;
}

Reply http_error(int status, const std::string& body, Json headers = Json::object()) {
  Reply r;
  r.latency_ms = 50;
  r.result = EffectResult::success(Json{{"status", status}, {"headers", std::move(headers)}, {"body", body}});
  return r;
}

std::unique_ptr<Run> start(const std::string& yaml, RunOptions opts, Json inputs = Json::object()) {
  auto wf = test::load_text(yaml, agents());
  auto r = Run::start(wf, inputs, opts, 0, agents());
  if (!r) FAIL(r.error().format());
  return std::move(*r);
}

RunOptions with_pool(std::shared_ptr<const llm::ModelPool> p) {
  RunOptions o;
  o.models = std::move(p);
  o.seed = 7;
  return o;
}

std::vector<const Event*> of_type(const FakeHost& host, EventType type) {
  std::vector<const Event*> out;
  for (const auto& e : host.log) {
    if (e.type == type) out.push_back(&e);
  }
  return out;
}

const char* kOneCall =
    "name: one\nsteps:\n  - id: draft\n    agent: llm.generate\n    with: {prompt: 'Write the storm.', max_tokens: 100}\n"
    "outputs: {text: '{{ steps.draft.output.text }}'}\n";

}  // namespace

TEST_CASE("a model call streams its text into delta events and records tokens and cost", "[run][llm]") {
  auto run = start(kOneCall, with_pool(pool()));
  FakeHost host;
  host.handler = [](const Effect& e) {
    CHECK(e.kind == Effect::Kind::kHttp);
    CHECK(e.agent == "llm.generate");
    CHECK(e.args["url"] == "http://models.test/v1/chat/completions");
    CHECK(e.args["stream"] == true);
    // The effect names the credential and its header; the key itself is the host's business.
    CHECK(e.args["credential"] == Json{{"name", "TEST_API_KEY"}, {"header", "Authorization"}, {"prefix", "Bearer "}});
    Json body = Json::parse(e.args["body"].get<std::string>());
    CHECK(body["model"] == "main-1");
    CHECK(body["messages"].back()["content"] == "Write the storm.");
    CHECK(body["max_tokens"] == 100);
    return openai_stream("Rain hammered the shutters.", 1000, 500);
  };
  REQUIRE(host.drive(*run));
  REQUIRE(run->status() == RunStatus::kSucceeded);
  CHECK(run->outputs()["text"] == "Rain hammered the shutters.");
  std::string streamed;
  for (const Event* e : of_type(host, EventType::kStepOutputDelta)) streamed += e->data["delta"].get<std::string>();
  CHECK(streamed == "Rain hammered the shutters.");
  CHECK(of_type(host, EventType::kStepOutputDelta).size() == 2);  // the usage and [DONE] events add no text

  const Event* started = of_type(host, EventType::kStepStarted)[0];
  CHECK(started->data["model"] == "main");
  CHECK(started->data["estimate"]["output_tokens"] == 100);
  const Event* ok = of_type(host, EventType::kStepSucceeded)[0];
  Json out = ok->data["output"];
  CHECK(out["model"] == "main");
  CHECK(out["model_id"] == "main-1");
  CHECK(out["provider"] == "openai");
  CHECK(out["finish_reason"] == "stop");
  CHECK(out["truncated"] == false);
  CHECK(out["usage"] == Json{{"input_tokens", 1000}, {"output_tokens", 500}});
  CHECK(out["cost_usd"].get<double>() == Approx((1000 * 1.0 + 500 * 2.0) / 1e6));
  Json snap = run->snapshot();
  CHECK(snap["usage"] == Json{{"input_tokens", 1000}, {"output_tokens", 500}});
  CHECK(snap["cost_usd"].get<double>() == Approx(0.002));
  CHECK(snap["steps"][0]["model"] == "main");
  CHECK(snap["steps"][0]["cost_usd"].get<double>() == Approx(0.002));
}

TEST_CASE("tokens and cost add up over a fan-out, and a cached answer costs nothing", "[run][llm]") {
  const char* yaml =
      "name: fan\ninputs: {lines: {type: list, default: [1, 2, 3]}}\nsteps:\n  - id: each\n    agent: llm.generate\n    foreach: '{{ inputs.lines }}'\n"
      "    with: {prompt: 'Line {{ item }}', max_tokens: 10}\n";
  RunOptions opts = with_pool(pool());
  opts.use_cache = true;
  FakeHost host;
  host.handler = [](const Effect&) { return openai_stream("A line.", 100, 10); };
  auto run = start(yaml, opts);
  REQUIRE(host.drive(*run));
  REQUIRE(run->status() == RunStatus::kSucceeded);
  CHECK(run->snapshot()["usage"] == Json{{"input_tokens", 300}, {"output_tokens", 30}});
  CHECK(run->snapshot()["cost_usd"].get<double>() == Approx(3 * (100 * 1.0 + 10 * 2.0) / 1e6));
  CHECK(host.performed.size() == 3);

  auto again = start(yaml, opts);  // the same host keeps its step cache
  REQUIRE(host.drive(*again));
  CHECK(again->status() == RunStatus::kSucceeded);
  CHECK(host.performed.size() == 3);  // no new call
  CHECK_FALSE(again->snapshot().contains("usage"));
}

TEST_CASE("a budget refuses the call that could pass it, before it is made", "[run][llm]") {
  const char* yaml =
      "name: b\nbudget: {max_cost_usd: 0.0013}\nsteps:\n"
      "  - {id: first, agent: llm.generate, with: {prompt: 'one', max_tokens: 100}}\n"
      "  - {id: second, agent: llm.generate, needs: [first], with: {prompt: 'two', max_tokens: 100}}\n";
  FakeHost host;
  host.handler = [](const Effect&) { return openai_stream("Done.", 1000, 100); };  // $0.0012 a call
  auto run = start(yaml, with_pool(pool()));
  REQUIRE(host.drive(*run));
  CHECK(run->status() == RunStatus::kFailed);
  CHECK(run->failure().code == ErrorCode::kBudgetExceeded);
  CHECK(run->failure().message.find("budget") != std::string::npos);
  CHECK(host.performed.size() == 1);  // the second call was never sent
  CHECK(run->snapshot()["budget"]["max_cost_usd"].get<double>() == Approx(0.0013));

  SECTION("the stricter of the workflow's and the run's budget applies; tokens count too") {
    RunOptions opts = with_pool(pool());
    opts.budget.max_tokens = 120;  // a call's worst case: its prompt (~5) + 100 answer tokens
    FakeHost h2;
    h2.handler = [](const Effect&) { return openai_stream("Done.", 20, 10); };
    auto r2 = start(yaml, opts);
    REQUIRE(h2.drive(*r2));
    CHECK(r2->failure().code == ErrorCode::kBudgetExceeded);
    CHECK(h2.performed.size() == 1);
  }
}

TEST_CASE("requests per minute: calls wait for the bucket on timers, the host never sleeps", "[run][llm]") {
  const char* yaml =
      "name: rate\ninputs: {lines: {type: list, default: [1, 2, 3, 4]}}\nsteps:\n  - id: each\n    agent: llm.generate\n    foreach: '{{ inputs.lines }}'\n"
      "    with: {prompt: 'Line {{ item }}', max_tokens: 10}\n";
  FakeHost host;
  host.handler = [](const Effect&) { return openai_stream("x", 1, 1); };
  auto run = start(yaml, with_pool(pool(/*rpm=*/2)));
  REQUIRE(host.drive(*run));
  REQUIRE(run->status() == RunStatus::kSucceeded);
  std::vector<std::int64_t> starts;
  for (const Event* e : of_type(host, EventType::kStepStarted)) starts.push_back(e->time_ms);
  // A bucket of 2 that refills one request every 30 s.
  CHECK(starts == std::vector<std::int64_t>{0, 0, 30000, 60000});
}

TEST_CASE("a model's concurrency limit holds calls until a slot frees", "[run][llm]") {
  const char* yaml =
      "name: conc\ninputs: {lines: {type: list, default: [1, 2, 3]}}\nsteps:\n  - id: each\n    agent: llm.generate\n    foreach: '{{ inputs.lines }}'\n"
      "    with: {prompt: 'Line {{ item }}', max_tokens: 10}\n";
  FakeHost host;
  host.handler = [](const Effect&) { return openai_stream("x", 1, 1); };
  auto run = start(yaml, with_pool(pool(0, /*concurrency=*/1)));
  REQUIRE(host.drive(*run));
  CHECK(run->status() == RunStatus::kSucceeded);
  CHECK(host.max_in_flight == 1);
  CHECK(host.performed.size() == 3);
}

TEST_CASE("error classes: rate limits wait as asked, overloads retry, then the fallback answers", "[run][llm]") {
  SECTION("429 with Retry-After: the next attempt starts when the provider said") {
    int calls = 0;
    FakeHost host;
    host.handler = [&](const Effect&) {
      if (++calls == 1) return http_error(429, R"({"error":{"message":"slow down","type":"requests","code":"rate_limit_exceeded"}})", {{"retry-after", "7"}});
      return openai_stream("ok", 1, 1);
    };
    auto run = start(kOneCall, with_pool(pool()));
    REQUIRE(host.drive(*run));
    CHECK(run->status() == RunStatus::kSucceeded);
    auto retrying = of_type(host, EventType::kStepRetrying);
    REQUIRE(retrying.size() == 1);
    CHECK(retrying[0]->data["error"]["code"] == "rate_limited");
    CHECK(retrying[0]->data["delay_ms"] == 7000);
    CHECK(of_type(host, EventType::kStepStarted)[1]->time_ms == retrying[0]->time_ms + 7000);
  }
  SECTION("503 three times on the model, then its fallback on another protocol") {
    FakeHost host;
    host.handler = [&](const Effect& e) {
      if (e.args["url"].get<std::string>().find("models.test") != std::string::npos) {
        return http_error(503, R"({"error":{"message":"overloaded","type":"server_error"}})");
      }
      CHECK(e.args["url"] == "http://backup.test/v1/messages");
      CHECK(e.args["credential"]["name"] == "BACKUP_KEY");
      return anthropic_answer("The backup speaks.", 40, 4);
    };
    auto run = start(kOneCall, with_pool(pool()));
    REQUIRE(host.drive(*run));
    REQUIRE(run->status() == RunStatus::kSucceeded);
    CHECK(run->outputs()["text"] == "The backup speaks.");
    CHECK(host.performed.size() == 4);  // three attempts on main (the default retry), one on backup
    auto retrying = of_type(host, EventType::kStepRetrying);
    REQUIRE(retrying.size() == 3);
    CHECK(retrying[2]->data["fallback"] == "backup");
    const Event* ok = of_type(host, EventType::kStepSucceeded)[0];
    CHECK(ok->data["output"]["model"] == "backup");
    CHECK(ok->data["output"]["cost_usd"].get<double>() == Approx((40 * 10.0 + 4 * 20.0) / 1e6));
  }
  SECTION("auth fails for good on a model with no fallback, naming the credential") {
    auto p = pool();
    llm::ModelSpec solo = *p->find("main");
    solo.name = "solo";
    solo.fallback.clear();
    p->add(solo);
    FakeHost host;
    host.handler = [](const Effect&) {
      return http_error(401, R"({"error":{"message":"Incorrect API key provided","type":"invalid_request_error","code":"invalid_api_key"}})");
    };
    auto run = start("name: a\nsteps:\n  - {id: s, agent: llm.generate, with: {model: solo, prompt: hi}}\n", with_pool(p));
    REQUIRE(host.drive(*run));
    CHECK(run->failure().code == ErrorCode::kAuth);
    CHECK(host.performed.size() == 1);
    const Event* failed = of_type(host, EventType::kStepFailed)[0];
    CHECK(failed->data["error"]["hint"].get<std::string>().find("TEST_API_KEY") != std::string::npos);
  }
  SECTION("a stream cut in the middle is retried, and the new attempt's text replaces the old") {
    int calls = 0;
    FakeHost host;
    host.handler = [&](const Effect&) {
      Reply r = openai_stream("Whole answer.", 5, 2);
      if (++calls == 1) r.deltas.resize(1);  // half the text, then the body ends
      return r;
    };
    auto run = start(kOneCall, with_pool(pool()));
    REQUIRE(host.drive(*run));
    CHECK(run->status() == RunStatus::kSucceeded);
    CHECK(of_type(host, EventType::kStepRetrying)[0]->data["error"]["code"] == "bad_response");
    CHECK(run->outputs()["text"] == "Whole answer.");
  }
}

TEST_CASE("model names are checked before the run starts", "[run][llm]") {
  auto wf = test::load_text("name: n\nsteps:\n  - {id: s, agent: llm.generate, with: {model: mian, prompt: hi}}\n", agents());
  std::vector<Error> errors;
  auto r = Run::start(wf, Json::object(), with_pool(pool()), 0, agents(), nullptr, &errors);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::kBadArgument);
  CHECK(r.error().hint == "did you mean 'main'?");
  CHECK(r.error().line == 3);

  auto none = Run::start(wf, Json::object(), RunOptions{}, 0, agents());
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().message.find("no models file") != std::string::npos);

  // A templated name is checked when the call is made: the step fails with the same code.
  auto templated = test::load_text(
      "name: t\ninputs: {m: {type: string}}\nsteps:\n  - {id: s, agent: llm.generate, with: {model: '{{ inputs.m }}', prompt: hi}}\n",
      agents());
  auto run = Run::start(templated, Json{{"m", "nope"}}, with_pool(pool()), 0, agents());
  REQUIRE(run.ok());
  FakeHost host;
  REQUIRE(host.drive(**run));
  CHECK((*run)->failure().code == ErrorCode::kBadArgument);
  CHECK(host.performed.empty());
}

TEST_CASE("a run stopped in the middle of model calls resumes without calling a finished step again",
          "[run][llm]") {
  const char* yaml =
      "name: two\nsteps:\n  - {id: a, agent: llm.generate, with: {prompt: 'first', max_tokens: 10}}\n"
      "  - {id: b, agent: llm.generate, needs: [a], with: {prompt: '{{ steps.a.output.text }} then', max_tokens: 10}}\n"
      "outputs: {text: '{{ steps.b.output.text }}'}\n";
  auto handler = [](const Effect& e) {
    Json body = Json::parse(e.args["body"].get<std::string>());
    return openai_stream("after " + body["messages"].back()["content"].get<std::string>(), 3, 2);
  };
  FakeHost full;
  full.handler = handler;
  auto reference = start(yaml, with_pool(pool()));
  REQUIRE(full.drive(*reference));
  REQUIRE(reference->status() == RunStatus::kSucceeded);

  for (std::size_t cut = 1; cut < full.log.size(); ++cut) {
    INFO("crash after event " << cut);
    FakeHost first;
    first.handler = handler;
    auto run = start(yaml, with_pool(pool()));
    first.drive(*run, cut);
    RunOptions opts = with_pool(pool());
    auto restored = Run::restore(test::load_text(yaml, agents()), first.log, agents(), nullptr, &opts);
    REQUIRE(restored.ok());
    FakeHost second;
    second.handler = handler;
    second.now = first.log.back().time_ms;
    second.log = first.log;
    REQUIRE(second.drive(**restored));
    CHECK((*restored)->outputs() == reference->outputs());
    // A step whose success is in the log is never called again; a call in flight is made once more.
    for (const std::string step : {"a", "b"}) {
      bool done_before = std::any_of(first.log.begin(), first.log.end(), [&](const Event& e) {
        return e.type == EventType::kStepSucceeded && e.step == step;
      });
      if (done_before) CHECK(second.calls[step] == 0);
      else CHECK(second.calls[step] == 1);
    }
    CHECK((*restored)->snapshot()["usage"] == reference->snapshot()["usage"]);
  }
}

TEST_CASE("the shipped models file loads, with the four provider families and a keyless local model", "[llm]") {
  llm::ModelPoolLoad r = llm::load_model_pool(test::read_source_file("workflows/models/default.yaml"),
                                              "workflows/models/default.yaml");
  for (const auto& e : r.errors) INFO(e.format());
  REQUIRE(r.errors.empty());
  const llm::ModelPool& p = *r.pool;
  REQUIRE(p.find(p.default_model()));
  bool openai = false, anthropic = false, gemini = false;
  for (const auto& name : p.names()) {
    const llm::ModelSpec& m = *p.find(name);
    openai = openai || (m.provider == llm::Provider::kOpenAI && m.credential.name == "OPENAI_API_KEY");
    anthropic = anthropic || m.provider == llm::Provider::kAnthropic;
    gemini = gemini || m.provider == llm::Provider::kGemini;
  }
  CHECK((openai && anthropic && gemini));
  const llm::ModelSpec* local = p.find("local");
  REQUIRE(local);
  CHECK(local->credential.name.empty());
  CHECK(local->base_url == "http://localhost:11434/v1");  // no OLLAMA_HOST lookup given
  // The smallest model workflow runs against it up to the first call.
  auto wf = test::load_source_workflow("workflows/examples/llm_hello.yaml", agents());
  RunOptions opts;
  opts.models = r.pool;
  auto run = Run::start(wf, Json{{"model", "local"}}, opts, 0, agents());
  REQUIRE(run.ok());
  auto effects = (*run)->poll(0);
  REQUIRE(effects.size() == 1);
  CHECK(effects[0].kind == Effect::Kind::kHttp);
  CHECK(effects[0].args["url"] == "http://localhost:11434/v1/chat/completions");
  CHECK_FALSE(effects[0].args.contains("credential"));
}
