// Golden event logs of the shipped workflows, and restore: a run rebuilt from its log is the
// same run, and a run cut short at any event finishes without redoing finished steps.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <limits>
#include <set>

#include "fakes/fake_host.hpp"

using namespace loom;
using test::agents;
using test::FakeHost;
using test::Reply;

namespace {

struct Case {
  std::string name;      // tests/golden/<name>.jsonl and <name>.inputs.json
  std::string workflow;  // its file
};

const std::vector<Case>& cases() {
  static const std::vector<Case> all = {
      {"ingestion_digest", "workflows/ingestion_digest.yaml"},
      {"example_fanout", "workflows/examples/fanout.yaml"},
      {"example_conditional", "workflows/examples/conditional.yaml"},
      {"example_retry_timeout", "workflows/examples/retry_timeout.yaml"},
      {"example_loop_until", "workflows/examples/loop_until.yaml"},
      {"example_parallel", "workflows/examples/parallel.yaml"},
      {"keywords_digest", "workflows/examples/keywords_digest.yaml"},
      {"example_call_workflow", "workflows/examples/call_workflow.yaml"},
      {"example_approval", "workflows/examples/approval.yaml"},
      {"nested", "tests/run/data/nested.yaml"},
  };
  return all;
}

const WorkflowLibrary& library() {
  static const WorkflowLibrary lib = [] {
    WorkflowLibrary l;
    l.add(test::load_source_workflow("workflows/examples/keywords_digest.yaml", agents()));
    return l;
  }();
  return lib;
}

// The scripted world the goldens are recorded in: sleeps take their time; the page server is
// busy once, then answers; the mirror refuses connections.
Reply script(const Effect& e) {
  Reply r;
  if (e.agent == "util.sleep") {
    r.latency_ms = e.args.value("ms", 0);
    r.result = EffectResult::success(e.args.value("value", Json()));
  } else if (e.agent == "http.fetch" && e.step.find("flaky") != std::string::npos) {
    r.latency_ms = 20;
    r.result = e.attempt == 1 ? EffectResult::failure(ErrorCode::kUnavailable, "busy")
                              : EffectResult::success(Json{{"status", 200}, {"body", e.args["url"]}});
  } else if (e.agent == "http.fetch" && e.step == "page") {
    r.latency_ms = 120;
    r.result = e.attempt == 1
                   ? EffectResult::failure(ErrorCode::kUnavailable, "HTTP 503 from " + e.args["url"].get<std::string>())
                   : EffectResult::success(Json{{"status", 200},
                                                {"url", e.args["url"]},
                                                {"body", "The archive opens at nine. Readers must sign the ledger. "
                                                         "Manuscripts stay in the reading room. The archivist "
                                                         "answers questions by letter."}});
  } else if (e.agent == "human.input") {
    r.latency_ms = 60000;  // a person takes a minute
    r.result = EffectResult::success("yes");
  } else if (e.agent == "http.fetch") {
    r.latency_ms = 3;
    r.result = EffectResult::failure(ErrorCode::kHostError, "connection refused");
  } else {
    r.result = EffectResult::failure(ErrorCode::kNotImplemented, e.agent);
    r.latency_ms = 0;
  }
  return r;
}

RunOptions golden_options() {
  RunOptions o;
  o.run_id = "golden";
  o.seed = 42;
  return o;
}

std::shared_ptr<const Workflow> load_case(const Case& c) {
  return test::load_source_workflow(c.workflow, agents(), &library());
}

Json inputs_of(const Case& c);

// A case run to its end (or stopped after `stop_after` events) in the scripted world.
struct Recorded {
  std::unique_ptr<Run> run;
  FakeHost host;
};

Recorded record(const Case& c, std::size_t stop_after = std::numeric_limits<std::size_t>::max()) {
  Recorded r;
  auto run = Run::start(load_case(c), inputs_of(c), golden_options(), 0, agents(), &library());
  REQUIRE(run.ok());
  r.run = std::move(*run);
  r.host.handler = script;
  REQUIRE(r.host.drive(*r.run, stop_after));
  return r;
}

Json inputs_of(const Case& c) {
  std::string text = test::read_source_file("tests/golden/" + c.name + ".inputs.json");
  REQUIRE_FALSE(text.empty());
  return Json::parse(text);
}

}  // namespace

TEST_CASE("each shipped workflow produces its golden event log", "[run][golden]") {
  for (const auto& c : cases()) {
    DYNAMIC_SECTION(c.name) {
      Recorded r = record(c);
      CHECK(r.run->status() == RunStatus::kSucceeded);
      std::string got = r.host.log_jsonl();
      std::string path = "tests/golden/" + c.name + ".jsonl";
      if (std::getenv("LOOM_UPDATE_GOLDEN")) test::write_source_file(path, got);
      std::string want = test::read_source_file(path);
      REQUIRE_FALSE(want.empty());
      CHECK(got == want);
    }
  }
}

TEST_CASE("restoring a golden log gives the same state", "[run][golden]") {
  for (const auto& c : cases()) {
    DYNAMIC_SECTION(c.name) {
      auto wf = load_case(c);
      Recorded r = record(c);
      // From the golden file itself, parsed back from JSON.
      std::vector<Event> events;
      std::string text = test::read_source_file("tests/golden/" + c.name + ".jsonl");
      std::size_t pos = 0;
      while (pos < text.size()) {
        std::size_t end = text.find('\n', pos);
        auto e = event_from_json(Json::parse(text.substr(pos, end - pos)));
        REQUIRE(e.ok());
        events.push_back(*e);
        pos = end + 1;
      }
      auto restored = Run::restore(wf, events, agents(), &library());
      if (!restored) FAIL(restored.error().format());
      CHECK((*restored)->snapshot() == r.run->snapshot());
      CHECK((*restored)->outputs() == r.run->outputs());
      CHECK((*restored)->finished());
    }
  }
}

TEST_CASE("a run stopped after any event resumes and finishes without redoing finished steps",
          "[run][golden]") {
  for (const auto& c : cases()) {
    DYNAMIC_SECTION(c.name) {
      auto wf = load_case(c);
      Recorded whole = record(c);
      const std::size_t total = whole.host.log.size();
      for (std::size_t cut = 1; cut < total; ++cut) {
        INFO("stopped after event " << cut << " of " << total);
        Recorded stopped = record(c, cut);
        const FakeHost& first = stopped.host;
        REQUIRE(first.log.size() == cut);
        std::set<std::string> finished;  // effects whose success was logged before the stop
        for (const auto& e : first.log) {
          if (e.type == EventType::kStepSucceeded && e.effect) {
            finished.insert(e.step + (e.item >= 0 ? "[" + std::to_string(e.item) + "]" : ""));
          }
        }
        auto restored = Run::restore(wf, first.log, agents(), &library());
        if (!restored) FAIL(restored.error().format());
        FakeHost second;
        second.handler = script;
        second.now = first.now;
        second.log = first.log;
        REQUIRE(second.drive(**restored));
        CHECK((*restored)->status() == RunStatus::kSucceeded);
        CHECK((*restored)->outputs() == whole.run->outputs());
        for (const auto& f : finished) {
          INFO(f);
          CHECK(second.calls[f] == 0);
        }
        // The log stays a valid log: restoring it all again gives the finished run.
        auto again = Run::restore(wf, second.log, agents(), &library());
        REQUIRE(again.ok());
        CHECK((*again)->outputs() == whole.run->outputs());
      }
    }
  }
}

TEST_CASE("restore refuses logs that do not fit", "[run]") {
  const Case& c = cases()[0];
  auto wf = load_case(c);
  std::vector<Event> log = record(c).host.log;

  CHECK(Run::restore(wf, {}, agents()).error().code == ErrorCode::kBadEventLog);
  SECTION("not beginning with run_started") {
    std::vector<Event> tail(log.begin() + 1, log.end());
    CHECK(Run::restore(wf, tail, agents()).error().code == ErrorCode::kBadEventLog);
  }
  SECTION("another workflow") {
    auto other = test::load_source_workflow("workflows/examples/fanout.yaml", agents());
    CHECK(Run::restore(other, log, agents()).error().code == ErrorCode::kBadEventLog);
  }
  SECTION("the workflow changed since") {
    std::string text = test::read_source_file(c.workflow) + "\n# edited\n";
    auto edited = test::load_text(text, agents());
    auto r = Run::restore(edited, log, agents());
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::kBadEventLog);
    CHECK(r.error().message.find("changed") != std::string::npos);
  }
  SECTION("a gap in the sequence") {
    log.erase(log.begin() + 2);
    CHECK(Run::restore(wf, log, agents()).error().code == ErrorCode::kBadEventLog);
  }
  SECTION("an event for a step that does not exist") {
    log[2].step = "nope";
    CHECK(Run::restore(wf, log, agents()).error().code == ErrorCode::kBadEventLog);
  }
  SECTION("events after the end") {
    Event extra = log.back();
    extra.seq = log.back().seq + 1;
    log.push_back(extra);
    CHECK(Run::restore(wf, log, agents()).error().code == ErrorCode::kBadEventLog);
  }
  SECTION("a field of the wrong type") {
    for (auto& e : log) {
      if (e.type == EventType::kStepStarted) {
        e.data = Json{{"cache_key", 12}};
        break;
      }
    }
    CHECK(Run::restore(wf, log, agents()).error().code == ErrorCode::kBadEventLog);
  }
  SECTION("malformed JSON events") {
    CHECK(event_from_json(Json{{"type", "run_started"}}).error().code == ErrorCode::kBadEventLog);
    CHECK(event_from_json(Json{{"seq", 1}, {"t", 0}, {"type", "nonsense"}}).error().code == ErrorCode::kBadEventLog);
    CHECK(event_from_json(Json::array()).error().code == ErrorCode::kBadEventLog);
  }
}
