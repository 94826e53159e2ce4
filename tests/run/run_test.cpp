// The run state machine, driven by the scripted fake host: scheduling, limits, retries,
// timeouts, cancel, conditions, fan-out, loops, workflow calls, the step cache, pauses.
#include <catch2/catch.hpp>

#include <algorithm>

#include "fakes/fake_host.hpp"

using namespace loom;
using test::agents;
using test::FakeHost;
using test::Reply;

namespace {

std::unique_ptr<Run> start(std::shared_ptr<const Workflow> wf, Json inputs = Json::object(), RunOptions opts = {},
                           const WorkflowLibrary* library = nullptr) {
  auto r = Run::start(std::move(wf), inputs, opts, 0, agents(), library);
  if (!r) FAIL(r.error().format());
  return std::move(*r);
}

std::vector<const Event*> of_type(const FakeHost& host, EventType type, const std::string& step = "") {
  std::vector<const Event*> out;
  for (const auto& e : host.log) {
    if (e.type == type && (step.empty() || e.step == step)) out.push_back(&e);
  }
  return out;
}

Json step_of(const Run& run, const std::string& path) {
  Json snapshot = run.snapshot();
  for (const auto& s : snapshot["steps"]) {
    if (s["path"] == path) return s;
  }
  return Json();
}

// A handler that fails the first `failures` attempts of `agent` with `code`, then succeeds.
std::function<Reply(const Effect&)> flaky(int failures, ErrorCode code, std::int64_t retry_after = -1) {
  return [=](const Effect& e) {
    Reply r;
    r.latency_ms = 10;
    if (e.attempt <= failures) {
      r.result = EffectResult::failure(code, "busy", retry_after);
    } else {
      r.result = EffectResult::success(Json{{"status", 200}, {"body", "ok"}});
    }
    return r;
  };
}

const char* kSleeps = R"(
name: sleeps
steps:
  - {id: s1, agent: util.sleep, with: {ms: 100, value: 1}}
  - {id: s2, agent: util.sleep, with: {ms: 100, value: 2}}
  - {id: s3, agent: util.sleep, with: {ms: 100, value: 3}}
  - {id: s4, agent: util.sleep, with: {ms: 100, value: 4}}
  - {id: s5, agent: util.sleep, with: {ms: 100, value: 5}}
  - {id: s6, agent: util.sleep, with: {ms: 100, value: 6}}
  - id: sum
    agent: text.template
    needs: [s1, s2, s3, s4, s5, s6]
    with: {template: "{{ steps.s1.output + steps.s2.output + steps.s3.output + steps.s4.output + steps.s5.output + steps.s6.output }}"}
outputs: {sum: "{{ steps.sum.output }}"}
)";

const char* kFetch = R"(
name: fetch
steps:
  - id: page
    agent: http.fetch
    with: {url: "http://example.test/"}
    retry: {max_attempts: 3, backoff: exponential, initial_delay: 1s, max_delay: 10s}
outputs: {body: "{{ steps.page.output.body }}"}
)";

}  // namespace

TEST_CASE("independent steps run in parallel within the concurrency limit", "[run]") {
  auto wf = test::load_text(kSleeps, agents());
  auto limit = GENERATE(0, 1, 2, 4);
  RunOptions opts;
  opts.max_concurrency = limit;
  auto run = start(wf, Json::object(), opts);
  FakeHost host;
  REQUIRE(host.drive(*run));
  REQUIRE(run->status() == RunStatus::kSucceeded);
  CHECK(run->outputs()["sum"] == 21);
  std::size_t expected_parallel = limit == 0 ? 6 : static_cast<std::size_t>(limit);
  CHECK(host.max_in_flight == expected_parallel);
  std::int64_t waves = (6 + static_cast<std::int64_t>(expected_parallel) - 1) / static_cast<std::int64_t>(expected_parallel);
  CHECK(host.now == waves * 100);
}

TEST_CASE("a named pool limits its steps; the workflow's concurrency applies", "[run]") {
  auto wf = test::load_source_workflow("workflows/examples/parallel.yaml", agents());
  auto run = start(wf);
  FakeHost host;
  REQUIRE(host.drive(*run));
  CHECK(run->outputs()["joined"] == "abcd");
  // a, b, c share pool "slow" (2 at a time) and d runs beside them: two waves of 300 ms.
  CHECK(host.now == 600);
  CHECK(host.max_in_flight == 3);
}

TEST_CASE("a dependent step starts only after its needs", "[run]") {
  auto wf = test::load_text(R"(
name: chain
steps:
  - {id: a, agent: util.sleep, with: {ms: 50, value: x}}
  - {id: b, agent: util.sleep, needs: [a], with: {ms: 50, value: "{{ steps.a.output }}y"}}
  - {id: c, agent: util.sleep, needs: [b], with: {ms: 50, value: "{{ steps.b.output }}z"}}
outputs: {v: "{{ steps.c.output }}"}
)", agents());
  auto run = start(wf);
  FakeHost host;
  REQUIRE(host.drive(*run));
  CHECK(run->outputs()["v"] == "xyz");
  CHECK(host.now == 150);
  auto a_done = of_type(host, EventType::kStepSucceeded, "a")[0]->seq;
  auto b_start = of_type(host, EventType::kStepStarted, "b")[0]->seq;
  CHECK(a_done < b_start);
}

TEST_CASE("retryable failures are retried with exponential backoff and seeded jitter", "[run]") {
  auto wf = test::load_text(kFetch, agents());
  auto run_with_seed = [&](std::uint64_t seed) {
    RunOptions opts;
    opts.seed = seed;
    auto run = start(wf, Json::object(), opts);
    FakeHost host;
    host.handler = flaky(2, ErrorCode::kUnavailable);
    REQUIRE(host.drive(*run));
    CHECK(run->status() == RunStatus::kSucceeded);
    CHECK(run->outputs()["body"] == "ok");
    CHECK(host.calls["page"] == 3);
    auto retries = of_type(host, EventType::kStepRetrying, "page");
    REQUIRE(retries.size() == 2);
    std::vector<std::int64_t> delays;
    for (std::size_t i = 0; i < retries.size(); ++i) {
      std::int64_t base = 1000 << i;  // 1 s, then 2 s
      std::int64_t d = retries[i]->data["delay_ms"].get<std::int64_t>();
      CHECK(retries[i]->attempt == static_cast<int>(i) + 1);
      CHECK(retries[i]->data["error"]["code"] == "unavailable");
      CHECK(d >= base / 2);
      CHECK(d <= base);
      delays.push_back(d);
    }
    CHECK(step_of(*run, "page")["attempts"] == 3);
    return delays;
  };
  auto a = run_with_seed(7);
  auto b = run_with_seed(7);
  CHECK(a == b);  // the same seed jitters the same
  bool differs = false;
  for (std::uint64_t seed = 8; seed < 16 && !differs; ++seed) differs = run_with_seed(seed) != a;
  CHECK(differs);
}

TEST_CASE("a retry time asked for by the host (Retry-After) wins", "[run]") {
  auto wf = test::load_text(kFetch, agents());
  auto run = start(wf);
  FakeHost host;
  host.handler = flaky(1, ErrorCode::kRateLimited, 7000);
  REQUIRE(host.drive(*run));
  CHECK(run->status() == RunStatus::kSucceeded);
  auto retries = of_type(host, EventType::kStepRetrying, "page");
  REQUIRE(retries.size() == 1);
  CHECK(retries[0]->data["delay_ms"] == 7000);
  CHECK(host.now == 10 + 7000 + 10);
}

TEST_CASE("a non-retryable failure fails the step and the run at once", "[run]") {
  auto wf = test::load_text(kFetch, agents());
  auto run = start(wf);
  FakeHost host;
  host.handler = flaky(5, ErrorCode::kAuth);
  REQUIRE(host.drive(*run));
  CHECK(run->status() == RunStatus::kFailed);
  CHECK(run->failure().code == ErrorCode::kAuth);
  CHECK(host.calls["page"] == 1);
  auto failed = of_type(host, EventType::kRunFailed);
  REQUIRE(failed.size() == 1);
  CHECK(failed[0]->step == "page");
}

TEST_CASE("retries stop at max_attempts", "[run]") {
  auto wf = test::load_text(kFetch, agents());
  auto run = start(wf);
  FakeHost host;
  host.handler = flaky(10, ErrorCode::kUnavailable);
  REQUIRE(host.drive(*run));
  CHECK(run->status() == RunStatus::kFailed);
  CHECK(run->failure().code == ErrorCode::kUnavailable);
  CHECK(host.calls["page"] == 3);
}

TEST_CASE("a timeout is driven by now: the attempt is cancelled and retried", "[run]") {
  auto wf = test::load_text(R"(
name: slow
steps:
  - id: s
    agent: http.fetch
    with: {url: "http://example.test/"}
    timeout: 1s
    retry: {max_attempts: 2, backoff: fixed, initial_delay: 500ms}
)", agents());
  auto run = start(wf);
  FakeHost host;
  host.handler = [](const Effect&) {
    Reply r;
    r.latency_ms = 5000;
    return r;
  };
  REQUIRE(host.drive(*run));
  CHECK(run->status() == RunStatus::kFailed);
  CHECK(run->failure().code == ErrorCode::kTimeout);
  CHECK(host.calls["s"] == 2);
  CHECK(host.cancelled.size() == 2);  // both attempts were told to stop
  auto retries = of_type(host, EventType::kStepRetrying, "s");
  REQUIRE(retries.size() == 1);
  CHECK(retries[0]->time_ms == 1000);
  CHECK(retries[0]->data["error"]["code"] == "timeout");
  CHECK(host.now >= 1000 + 250 + 1000);
}

TEST_CASE("cancel stops in-flight effects and ends the run", "[run]") {
  auto wf = test::load_text(kSleeps, agents());
  auto run = start(wf);
  auto effects = run->poll(0);
  REQUIRE(effects.size() == 6);
  REQUIRE(run->resolve(effects[0].id, EffectResult::success(1), 10).code == ErrorCode::kOk);
  REQUIRE(run->cancel(20, "writer pressed stop").code == ErrorCode::kOk);
  auto after = run->poll(20);
  std::vector<std::uint64_t> cancelled;
  for (const auto& e : after) {
    CHECK(e.kind == Effect::Kind::kCancel);
    cancelled.push_back(e.cancels);
  }
  CHECK(cancelled.size() == 5);
  CHECK(run->status() == RunStatus::kCancelled);
  CHECK(run->failure().code == ErrorCode::kCancelled);
  CHECK(run->resolve(effects[1].id, EffectResult::success(2), 30).code == ErrorCode::kUnknownEffect);
  CHECK(run->cancel(40).code == ErrorCode::kInvalidState);
  CHECK(step_of(*run, "s1")["status"] == "succeeded");
  CHECK(step_of(*run, "s2")["status"] == "cancelled");
}

TEST_CASE("when: false skips a step; its dependents are skipped unless they decide", "[run]") {
  auto wf = test::load_text(R"(
name: cond
inputs: {go: {type: boolean, default: false}}
steps:
  - {id: maybe, agent: text.template, when: "{{ inputs.go }}", with: {template: ran}}
  - {id: after, agent: text.template, needs: [maybe], with: {template: "{{ steps.maybe.output }}"}}
  - id: fallback
    agent: text.template
    needs: [maybe]
    when: "{{ steps.maybe.status == 'skipped' }}"
    with: {template: "maybe was {{ steps.maybe.status }}"}
outputs:
  after: "{{ steps.after.status }}"
  fallback: "{{ steps.fallback.output }}"
)", agents());
  auto run = start(wf);
  FakeHost host;
  REQUIRE(host.drive(*run));
  REQUIRE(run->status() == RunStatus::kSucceeded);
  CHECK(run->outputs()["after"] == "skipped");
  CHECK(run->outputs()["fallback"] == "maybe was skipped");
  CHECK(of_type(host, EventType::kStepSkipped, "maybe")[0]->data["reason"] == "when");
  CHECK(of_type(host, EventType::kStepSkipped, "after")[0]->data["reason"] == "upstream");

  auto run2 = start(wf, Json{{"go", true}});
  FakeHost host2;
  REQUIRE(host2.drive(*run2));
  CHECK(run2->outputs()["after"] == "succeeded");
  CHECK(run2->outputs()["fallback"].is_null());
}

TEST_CASE("on_error: continue lets the run finish without the step", "[run]") {
  auto wf = test::load_text(R"(
name: optional
steps:
  - {id: extra, agent: http.fetch, with: {url: "http://example.test/"}, on_error: continue}
  - {id: main, agent: text.template, with: {template: fine}}
  - {id: uses_extra, agent: text.template, needs: [extra], with: {template: "{{ steps.extra.output.body }}"}}
outputs:
  main: "{{ steps.main.output }}"
  extra: "{{ steps.extra.status }}"
)", agents());
  auto run = start(wf);
  FakeHost host;
  host.handler = flaky(9, ErrorCode::kBadRequest);
  REQUIRE(host.drive(*run));
  CHECK(run->status() == RunStatus::kSucceeded);
  CHECK(run->outputs()["main"] == "fine");
  CHECK(run->outputs()["extra"] == "failed");
  CHECK(step_of(*run, "uses_extra")["status"] == "skipped");
  CHECK(step_of(*run, "extra")["error"]["code"] == "bad_request");
}

TEST_CASE("foreach fans out: the output keeps the items' order", "[run]") {
  auto wf = test::load_text(R"(
name: fan
inputs: {names: {type: list, required: true}}
steps:
  - id: each
    agent: util.sleep
    foreach: "{{ inputs.names }}"
    with: {ms: "{{ 100 - index * 10 }}", value: "{{ index }}:{{ item | upper }}"}
outputs: {all: "{{ steps.each.output | join(',') }}", n: "{{ steps.each.output | length }}"}
)", agents());
  auto run = start(wf, Json{{"names", {"ann", "bo", "cy", "di"}}});
  FakeHost host;
  REQUIRE(host.drive(*run));
  CHECK(run->outputs()["all"] == "0:ANN,1:BO,2:CY,3:DI");  // finished in reverse, kept in order
  CHECK(host.now == 100);
  auto sched = of_type(host, EventType::kStepScheduled, "each");
  REQUIRE(sched.size() == 1);
  CHECK(sched[0]->data["items"] == 4);
  CHECK(of_type(host, EventType::kStepSucceeded, "each").size() == 5);  // 4 items + the step

  auto empty = start(wf, Json{{"names", Json::array()}});
  FakeHost host2;
  REQUIRE(host2.drive(*empty));
  CHECK(empty->outputs()["n"] == 0);
}

// http.fetch by address: one with "bad" in it fails (404), one with "slow" takes a second, the
// others answer their address at once.
static Reply fetch_by_url(const Effect& e) {
  Reply r;
  std::string url = e.args["url"];
  r.latency_ms = url.find("slow") != std::string::npos ? 1000 : 10;
  r.result = url.find("bad") != std::string::npos ? EffectResult::failure(ErrorCode::kBadRequest, "404")
                                                  : EffectResult::success(Json{{"body", url}});
  return r;
}

TEST_CASE("foreach item failure with on_error fail cancels the others", "[run]") {
  auto wf = test::load_text(R"(
name: fanfail
inputs: {urls: {type: list}}
steps:
  - id: each
    agent: http.fetch
    foreach: "{{ inputs.urls }}"
    with: {url: "{{ item }}"}
)", agents());
  auto run = start(wf, Json{{"urls", {"http://x.test/ok", "http://x.test/bad", "http://x.test/slow"}}});
  FakeHost host;
  host.handler = fetch_by_url;
  REQUIRE(host.drive(*run));
  CHECK(run->status() == RunStatus::kFailed);
  CHECK(run->failure().code == ErrorCode::kBadRequest);
  CHECK(run->failure().message.find("item 1") != std::string::npos);
  CHECK(host.cancelled.size() == 1);  // the slow one
  CHECK(host.now < 1000);
}

TEST_CASE("foreach with on_error continue keeps the items that succeeded, null for the failed ones", "[run]") {
  auto wf = test::load_text(R"(
name: fancontinue
inputs: {urls: {type: list}}
steps:
  - id: each
    agent: http.fetch
    foreach: "{{ inputs.urls }}"
    with: {url: "{{ item }}"}
    on_error: continue
    retry: {max_attempts: 1}
  - id: after
    agent: text.template
    needs: [each]
    when: "{{ steps.each.output != null }}"
    with: {template: "{{ steps.each.output | map('body') | join(',') }}"}
outputs:
  bodies: "{{ steps.after.output }}"
  status: "{{ steps.each.status }}"
)", agents());
  auto run = start(wf, Json{{"urls", {"http://x.test/a", "http://x.test/bad", "http://x.test/c"}}});
  FakeHost host;
  host.handler = fetch_by_url;
  REQUIRE(host.drive(*run));
  CHECK(run->status() == RunStatus::kSucceeded);
  CHECK(run->outputs()["status"] == "failed");
  CHECK(run->outputs()["bodies"] == "http://x.test/a,,http://x.test/c");
  const Json each = step_of(*run, "each");
  CHECK(each["output"] == Json::array({Json{{"body", "http://x.test/a"}}, nullptr, Json{{"body", "http://x.test/c"}}}));
  CHECK(each["error"]["code"] == "bad_request");
  // The log alone gives the same: a restored run has the same partial output.
  auto restored = Run::restore(wf, host.log, agents());
  REQUIRE(restored.ok());
  CHECK(step_of(**restored, "each")["output"] == each["output"]);
}

TEST_CASE("a loop repeats until its condition holds", "[run]") {
  auto wf = test::load_source_workflow("workflows/examples/loop_until.yaml", agents());
  SECTION("converges") {
    auto run = start(wf);
    FakeHost host;
    REQUIRE(host.drive(*run));
    REQUIRE(run->status() == RunStatus::kSucceeded);
    CHECK(run->outputs()["converged"] == true);
    // 40 characters, then 16 more per iteration: 120 is reached after 5.
    CHECK(run->outputs()["iterations"] == 5);
    CHECK(run->outputs()["draft"] ==
          "The lighthouse keeper counted the ships. Line 1 follows. Line 2 follows. Line 3 follows. "
          "Line 4 follows. Line 5 follows.");
    CHECK(of_type(host, EventType::kLoopIteration, "polish").size() == 5);
    CHECK(step_of(*run, "polish#4/grow")["status"] == "succeeded");
    CHECK(step_of(*run, "polish#5/grow").is_null());
  }
  SECTION("runs out of iterations") {
    auto run = start(wf, Json{{"target_chars", 100000}});
    FakeHost host;
    REQUIRE(host.drive(*run));
    REQUIRE(run->status() == RunStatus::kSucceeded);
    CHECK(run->outputs()["converged"] == false);
    CHECK(run->outputs()["iterations"] == 6);
  }
}

TEST_CASE("a failing step inside a loop fails the loop step", "[run]") {
  auto wf = test::load_text(R"(
name: loopfail
steps:
  - id: l
    loop:
      max_iterations: 3
      steps:
        - {id: f, agent: http.fetch, with: {url: "http://x.test/"}}
)", agents());
  auto run = start(wf);
  FakeHost host;
  host.handler = flaky(9, ErrorCode::kAuth);
  REQUIRE(host.drive(*run));
  CHECK(run->status() == RunStatus::kFailed);
  CHECK(run->failure().code == ErrorCode::kAuth);
  CHECK(run->failure().message.find("l#0/f") != std::string::npos);
}

TEST_CASE("a workflow runs another as a step", "[run]") {
  WorkflowLibrary library;
  library.add(test::load_source_workflow("workflows/examples/keywords_digest.yaml", agents()));
  auto wf = test::load_source_workflow("workflows/examples/call_workflow.yaml", agents(), &library);
  Json notes = {"The storm broke over the harbour at night. Boats strained at their moorings. The harbour master watched.",
                "Mara kept her letters in a tin box. She never read them twice."};
  auto run = start(wf, Json{{"notes", notes}}, RunOptions{}, &library);
  FakeHost host;
  REQUIRE(host.drive(*run));
  REQUIRE(run->status() == RunStatus::kSucceeded);
  const Json& digests = run->outputs()["digests"];
  REQUIRE(digests.size() == 2);
  CHECK(digests[1]["gist"] == "Mara kept her letters in a tin box.");
  CHECK(digests[0]["phrases"].size() == 3);
  CHECK(step_of(*run, "per_note[1]/gist")["status"] == "succeeded");
  auto started = of_type(host, EventType::kStepStarted, "per_note");
  REQUIRE(started.size() == 2);
  CHECK(started[0]->data["workflow"] == "keywords_digest");
}

TEST_CASE("a called workflow's bad inputs fail the calling step", "[run]") {
  WorkflowLibrary library;
  library.add(test::load_source_workflow("workflows/examples/keywords_digest.yaml", agents()));
  auto wf = test::load_text(R"(
name: caller
inputs: {t: {type: number, default: 5}}
steps:
  - {id: call, agent: workflow, with: {workflow: keywords_digest, inputs: {text: "{{ inputs.t }}"}}}
)", agents(), &library);
  auto run = start(wf, Json::object(), RunOptions{}, &library);
  FakeHost host;
  REQUIRE(host.drive(*run));
  CHECK(run->status() == RunStatus::kFailed);
  CHECK(run->failure().code == ErrorCode::kInputType);
}

TEST_CASE("the step cache lets a new run skip steps that already succeeded", "[run]") {
  auto wf = test::load_text(R"(
name: cached
steps:
  - {id: expensive, agent: http.fetch, with: {url: "http://x.test/a"}}
  - {id: fragile, agent: http.fetch, needs: [expensive], with: {url: "http://x.test/{{ steps.expensive.output.body }}"}}
outputs: {v: "{{ steps.fragile.output.body }}"}
)", agents());
  RunOptions opts;
  opts.use_cache = true;
  FakeHost host;
  bool fragile_broken = true;
  host.handler = [&](const Effect& e) {
    Reply r;
    bool is_fragile = e.step == "fragile";
    if (is_fragile && fragile_broken) {
      r.result = EffectResult::failure(ErrorCode::kAuth, "bad key");
    } else {
      r.result = EffectResult::success(Json{{"body", is_fragile ? "done" : "b"}});
    }
    return r;
  };
  auto first = start(wf, Json::object(), opts);
  REQUIRE(host.drive(*first));
  CHECK(first->status() == RunStatus::kFailed);
  CHECK(host.calls["expensive"] == 1);
  CHECK(host.cache.size() == 1);

  fragile_broken = false;
  host.log.clear();
  auto second = start(wf, Json::object(), opts);
  REQUIRE(host.drive(*second));
  CHECK(second->status() == RunStatus::kSucceeded);
  CHECK(second->outputs()["v"] == "done");
  CHECK(host.calls["expensive"] == 1);  // served by the cache
  CHECK(host.calls["fragile"] == 2);
  auto ok = of_type(host, EventType::kStepSucceeded, "expensive");
  REQUIRE(ok.size() == 1);
  CHECK(ok[0]->data["cached"] == true);
  CHECK(step_of(*second, "expensive")["cached"] == true);

  // cache: false on the step, or no cache in the options: performed again.
  RunOptions no_cache;
  auto third = start(wf, Json::object(), no_cache);
  REQUIRE(host.drive(*third));
  CHECK(host.calls["expensive"] == 2);
}

TEST_CASE("streamed output becomes delta events and shows in the snapshot", "[run]") {
  auto wf = test::load_text("name: s\nsteps:\n  - {id: gen, agent: test.effect, with: {prompt: hi}}\n", agents());
  auto run = start(wf);
  auto effects = run->poll(0);
  REQUIRE(effects.size() == 1);
  CHECK(effects[0].pool == "llm");
  REQUIRE(run->feed(effects[0].id, "Once upon", 5).code == ErrorCode::kOk);
  REQUIRE(run->feed(effects[0].id, " a time \xE2\x80", 6).code == ErrorCode::kOk);  // cut mid-character
  CHECK(step_of(*run, "gen")["partial"].get<std::string>().rfind("Once upon a time ", 0) == 0);
  auto events = run->take_events();
  int deltas = 0;
  for (const auto& e : events) {
    if (e.type == EventType::kStepOutputDelta) {
      ++deltas;
      CHECK_NOTHROW(event_to_json(e).dump());  // always valid UTF-8
    }
  }
  CHECK(deltas == 2);
  CHECK(run->feed(999, "x", 7).code == ErrorCode::kUnknownEffect);
  CHECK(run->resolve(999, EffectResult::success(1), 7).code == ErrorCode::kUnknownEffect);
  REQUIRE(run->resolve(effects[0].id, EffectResult::success("Once upon a time."), 8).code == ErrorCode::kOk);
  run->poll(8);
  CHECK(run->status() == RunStatus::kSucceeded);
}

TEST_CASE("a step waiting for a person pauses the run", "[run]") {
  auto wf = test::load_text(
      "name: h\nsteps:\n  - {id: ask, agent: human.input, with: {prompt: 'Approve?'}}\noutputs: {a: '{{ steps.ask.output }}'}\n",
      agents());
  auto run = start(wf);
  auto effects = run->poll(0);
  REQUIRE(effects.size() == 1);
  CHECK(run->status() == RunStatus::kPaused);
  REQUIRE(run->resolve(effects[0].id, EffectResult::success("yes"), 100).code == ErrorCode::kOk);
  run->poll(100);
  CHECK(run->status() == RunStatus::kSucceeded);
  CHECK(run->outputs()["a"] == "yes");
  std::vector<EventType> types;
  for (const auto& e : run->take_events()) types.push_back(e.type);
  CHECK(std::count(types.begin(), types.end(), EventType::kRunPaused) == 1);
  CHECK(std::count(types.begin(), types.end(), EventType::kRunResumed) == 1);
}

TEST_CASE("run-time errors fail the step with their code", "[run]") {
  SECTION("a template that cannot be evaluated") {
    auto wf = test::load_text(
        "name: t\ninputs: {n: {type: number, default: 3}}\nsteps:\n  - {id: a, agent: text.template, with: {template: '{{ inputs.n.x }}'}}\n",
        agents());
    auto run = start(wf);
    FakeHost host;
    REQUIRE(host.drive(*run));
    CHECK(run->failure().code == ErrorCode::kTemplateEval);
  }
  SECTION("an argument out of range for a pure agent") {
    auto wf = test::load_text("name: t\nsteps:\n  - {id: a, agent: text.chunk, with: {text: x, max_chars: 3}}\n", agents());
    auto run = start(wf);
    FakeHost host;
    REQUIRE(host.drive(*run));
    CHECK(run->failure().code == ErrorCode::kBadArgument);
  }
  SECTION("an argument of the wrong type after templating") {
    auto wf = test::load_text(
        "name: t\ninputs: {v: {type: any, default: [1]}}\nsteps:\n  - {id: a, agent: text.chunk, with: {text: '{{ inputs.v }}'}}\n",
        agents());
    auto run = start(wf);
    FakeHost host;
    REQUIRE(host.drive(*run));
    CHECK(run->failure().code == ErrorCode::kBadArgument);
  }
  SECTION("an effect the host cannot perform") {
    auto wf = test::load_text("name: t\nsteps:\n  - {id: a, agent: test.effect, with: {prompt: x}}\n", agents());
    auto run = start(wf);
    FakeHost host;
    REQUIRE(host.drive(*run));
    CHECK(run->failure().code == ErrorCode::kNotImplemented);
  }
}

TEST_CASE("start checks the inputs", "[run]") {
  auto wf = test::load_source_workflow("workflows/ingestion_digest.yaml", agents());
  std::vector<Error> errors;
  auto r = Run::start(wf, Json{{"max_sentences", "five"}}, RunOptions{}, 0, agents(), nullptr, &errors);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::kInputMissing);
  REQUIRE(errors.size() == 2);
  CHECK(errors[1].code == ErrorCode::kInputType);
  CHECK(Run::start(nullptr, Json(), RunOptions{}, 0, agents()).error().code == ErrorCode::kBadArgument);
}

TEST_CASE("poll does bounded work", "[run]") {
  std::string yaml = "name: many\nsteps:\n";
  for (int i = 0; i < 50; ++i) yaml += "  - {id: s" + std::to_string(i) + ", agent: text.template, with: {template: x}}\n";
  auto wf = test::load_text(yaml, agents());
  RunOptions opts;
  opts.max_work_per_poll = 10;
  auto run = start(wf, Json::object(), opts);
  run->poll(0);
  CHECK(run->has_ready_work());
  CHECK_FALSE(run->finished());
  for (int i = 0; i < 20 && !run->finished(); ++i) run->poll(0);
  CHECK(run->status() == RunStatus::kSucceeded);
}

TEST_CASE("effect results from JSON are checked, never thrown on", "[run]") {
  auto ok = effect_result_from_json(Json{{"ok", true}, {"output", {1, 2}}});
  REQUIRE(ok.ok());
  CHECK(ok->output == Json({1, 2}));
  auto rate = effect_result_from_json(
      Json{{"ok", false}, {"error", {{"code", "rate_limited"}, {"message", "slow down"}}}, {"retry_after_ms", 1500}});
  REQUIRE(rate.ok());
  CHECK(rate->error.code == ErrorCode::kRateLimited);
  CHECK(rate->retry_after_ms == 1500);
  auto odd = effect_result_from_json(Json{{"ok", false}, {"error", {{"code", 7}, {"message", Json::array()}}}});
  REQUIRE(odd.ok());
  CHECK(odd->error.code == ErrorCode::kHostError);
  auto unknown = effect_result_from_json(Json{{"ok", false}, {"error", {{"code", "gremlins"}}}});
  CHECK(unknown->error.code == ErrorCode::kHostError);
  CHECK(effect_result_from_json(Json{{"output", 1}}).error().code == ErrorCode::kBadArgument);
  CHECK(effect_result_from_json(Json{{"ok", false}}).error().code == ErrorCode::kBadArgument);
  CHECK(effect_result_from_json(Json("yes")).error().code == ErrorCode::kBadArgument);
}

TEST_CASE("a fan-out wider than the poll budget does not stall the host", "[run]") {
  std::string yaml = "name: wide\nsteps:\n";
  for (int i = 0; i < 60; ++i) yaml += "  - {id: s" + std::to_string(i) + ", agent: util.sleep, with: {ms: 5, value: 1}}\n";
  auto wf = test::load_text(yaml, agents());
  RunOptions opts;
  opts.max_work_per_poll = 10;
  opts.max_concurrency = 0;
  auto run = start(wf, Json::object(), opts);
  auto first = run->poll(0);
  CHECK(first.empty());             // the budget went on deciding steps
  CHECK(run->has_ready_work());     // so the host must poll again, not wait
  FakeHost host;
  REQUIRE(host.drive(*run));
  CHECK(run->status() == RunStatus::kSucceeded);
  CHECK(host.max_in_flight == 60);
}

TEST_CASE("a failure cancels what still runs beneath it, however deep", "[run]") {
  auto wf = test::load_text(R"(
name: deep
steps:
  - id: outer
    on_error: continue    # the run goes on: only the failure's own cleanup cancels the sleep
    loop:
      max_iterations: 1
      steps:
        - id: slow
          loop:
            max_iterations: 1
            steps:
              - {id: wait, agent: util.sleep, with: {ms: 10000, value: 1}}
        - {id: bad, agent: http.fetch, with: {url: "http://x.test/"}}
)", agents());
  auto run = start(wf);
  FakeHost host;
  host.handler = [](const Effect& e) {
    Reply r;
    if (e.agent == "util.sleep") {
      r.latency_ms = 10000;
      r.result = EffectResult::success(1);
    } else {
      r.latency_ms = 10;
      r.result = EffectResult::failure(ErrorCode::kAuth, "no key");
    }
    return r;
  };
  REQUIRE(host.drive(*run));
  CHECK(run->status() == RunStatus::kSucceeded);
  CHECK(step_of(*run, "outer")["error"]["code"] == "auth");
  REQUIRE(host.cancelled.size() == 1);  // the sleep two loops down
  CHECK(host.now < 10000);
  CHECK(step_of(*run, "outer#0/slow#0/wait")["status"] == "cancelled");
}
