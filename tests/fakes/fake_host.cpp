#include "fakes/fake_host.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

namespace loom::test {

FakeHost::FakeHost() {
  handler = [](const Effect& e) {
    Reply r;
    if (e.agent == "util.sleep") {
      r.latency_ms = e.args.value("ms", 0);
      r.result = EffectResult::success(e.args.value("value", Json()));
    } else {
      r.result = EffectResult::failure(ErrorCode::kNotImplemented, "the fake host does not perform " + e.agent);
      r.latency_ms = 0;
    }
    return r;
  };
}

void FakeHost::take(Run& run, std::size_t stop_after, bool* crashed) {
  for (Event& e : run.take_events()) {
    if (log.size() >= stop_after) {
      *crashed = true;
      return;
    }
    if (e.type == EventType::kStepSucceeded && e.data.is_object() && e.data.contains("cache_key") &&
        !e.data.value("cached", false)) {
      cache[e.data["cache_key"].get<std::string>()] = e.data["output"];
    }
    log.push_back(std::move(e));
  }
}

bool FakeHost::drive(Run& run, std::size_t stop_after) {
  bool crashed = false;
  for (int guard = 0; guard < 10000000; ++guard) {
    std::vector<Effect> effects = run.poll(now);
    take(run, stop_after, &crashed);
    if (crashed) return true;
    for (Effect& e : effects) {
      switch (e.kind) {
        case Effect::Kind::kCancel:
          cancelled.push_back(e.cancels);
          pending_.erase(std::remove_if(pending_.begin(), pending_.end(),
                                        [&](const Pending& p) { return p.effect == e.cancels; }),
                         pending_.end());
          break;
        case Effect::Kind::kCacheLookup: {
          auto it = cache.find(e.cache_key);
          Json out = it == cache.end() ? Json{{"hit", false}} : Json{{"hit", true}, {"output", it->second}};
          pending_.push_back({now, order_++, e.id, false, {}, EffectResult::success(out)});
          break;
        }
        case Effect::Kind::kHttp:
        case Effect::Kind::kAgent: {
          ++calls[e.step + (e.item >= 0 ? "[" + std::to_string(e.item) + "]" : "")];
          performed.push_back(e);
          Reply r = handler(e);
          for (std::size_t i = 0; i < r.deltas.size(); ++i) {
            std::int64_t at = now + r.latency_ms * static_cast<std::int64_t>(i) / static_cast<std::int64_t>(r.deltas.size() + 1);
            pending_.push_back({at, order_++, e.id, true, r.deltas[i], {}});
          }
          pending_.push_back({now + r.latency_ms, order_++, e.id, false, {}, r.result});
          break;
        }
      }
    }
    std::size_t agents_in_flight = 0;
    for (const auto& p : pending_) agents_in_flight += !p.is_delta;
    max_in_flight = std::max(max_in_flight, agents_in_flight);
    if (run.finished()) return true;
    if (run.has_ready_work()) continue;
    // Advance the clock to the next thing that happens.
    std::int64_t next = std::numeric_limits<std::int64_t>::max();
    for (const auto& p : pending_) next = std::min(next, p.at);
    if (auto w = run.next_wakeup()) next = std::min(next, *w);
    if (next == std::numeric_limits<std::int64_t>::max()) return false;  // stuck
    now = std::max(now, next);
    std::sort(pending_.begin(), pending_.end(),
              [](const Pending& a, const Pending& b) { return a.at != b.at ? a.at < b.at : a.order < b.order; });
    while (!pending_.empty() && pending_.front().at <= now) {
      Pending p = pending_.front();
      pending_.erase(pending_.begin());
      if (p.is_delta) {
        run.feed(p.effect, p.delta, now);
      } else {
        run.resolve(p.effect, p.result, now);
      }
      take(run, stop_after, &crashed);
      if (crashed) return true;
    }
  }
  return false;
}

std::string FakeHost::log_jsonl() const {
  std::string out;
  for (const auto& e : log) out += event_to_json(e).dump() + "\n";
  return out;
}

const AgentRegistry& agents() {
  static const AgentRegistry registry = [] {
    AgentRegistry r = AgentRegistry::with_builtins();
    // A host-performed agent with no meaning of its own: tests script what it answers.
    AgentSpec spec;
    spec.name = "test.effect";
    spec.version = "1";
    spec.description = "An effect for engine tests; the fake host's handler answers it.";
    spec.kind = AgentKind::kEffect;
    spec.open_params = true;
    spec.pool = "llm";
    spec.cacheable = true;
    r.add(spec);
    return r;
  }();
  return registry;
}

std::string read_source_file(const std::string& rel) {
  std::ifstream in(std::string(LOOM_SOURCE_DIR) + "/" + rel, std::ios::binary);
  if (!in) return {};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_source_file(const std::string& rel, const std::string& text) {
  std::ofstream out(std::string(LOOM_SOURCE_DIR) + "/" + rel, std::ios::binary);
  out << text;
}

std::shared_ptr<const Workflow> load_text(const std::string& yaml, const AgentRegistry& agents,
                                          const WorkflowLibrary* library) {
  LoadResult r = load_workflow(yaml, "test.yaml", agents, library);
  for (const auto& e : r.errors) UNSCOPED_INFO(e.format());
  REQUIRE(r.errors.empty());
  return r.workflow;
}

std::shared_ptr<const Workflow> load_source_workflow(const std::string& rel, const AgentRegistry& agents,
                                                     const WorkflowLibrary* library) {
  std::string text = read_source_file(rel);
  REQUIRE_FALSE(text.empty());
  LoadResult r = load_workflow(text, rel, agents, library);
  for (const auto& e : r.errors) UNSCOPED_INFO(e.format());
  REQUIRE(r.errors.empty());
  return r.workflow;
}

}  // namespace loom::test
