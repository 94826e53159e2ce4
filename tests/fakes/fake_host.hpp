// A scripted host for engine tests: a virtual clock, no threads, no sleeps (after ngtcp2's
// sim.cc). It performs effects by asking a handler for a reply and a latency, keeps a step
// cache, records the event log, and can "crash" after N events to test restore.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "loom/loom.hpp"

namespace loom::test {

struct Reply {
  EffectResult result = EffectResult::success(Json());
  std::int64_t latency_ms = 10;
  std::vector<std::string> deltas;  // streamed before the result, evenly spread over the latency
};

class FakeHost {
 public:
  /// Replies for agent effects; the default answers util.sleep after `ms` with `value`,
  /// and fails everything else with kNotImplemented.
  std::function<Reply(const Effect&)> handler;

  FakeHost();

  /// Drives `run` until it finishes, gets stuck, or the log holds `stop_after` events (a crash:
  /// the log is cut there, as if the host died while writing). Returns false when stuck.
  bool drive(Run& run, std::size_t stop_after = std::numeric_limits<std::size_t>::max());

  std::vector<Event> log;                 ///< every event taken from the run, in order
  std::map<std::string, Json> cache;      ///< the step cache the host keeps
  std::map<std::string, int> calls;       ///< agent effects performed, by step path
  std::vector<std::uint64_t> cancelled;   ///< effects the engine cancelled
  std::vector<Effect> performed;          ///< agent effects, in the order they were started
  std::int64_t now = 0;
  std::size_t max_in_flight = 0;          ///< most agent effects in flight at once

  /// The log as JSON lines.
  std::string log_jsonl() const;

 private:
  struct Pending {
    std::int64_t at;
    std::uint64_t order;
    std::uint64_t effect;
    bool is_delta;
    std::string delta;
    EffectResult result;
  };
  std::vector<Pending> pending_;
  std::uint64_t order_ = 0;
  void take(Run& run, std::size_t stop_after, bool* crashed);
};

/// The registry with every built-in agent and `test.effect` (an effect agent with open
/// parameters that only the fake host's handler answers), shared by the tests.
const AgentRegistry& agents();

/// Reads a file of the source tree (tests read workflows/ and tests/golden/).
std::string read_source_file(const std::string& relative_path);
/// Writes a file of the source tree (to refresh goldens with LOOM_UPDATE_GOLDEN=1).
void write_source_file(const std::string& relative_path, const std::string& text);
/// Loads a workflow file of the source tree; FAILs the test on errors.
std::shared_ptr<const Workflow> load_source_workflow(const std::string& relative_path,
                                                     const AgentRegistry& agents,
                                                     const WorkflowLibrary* library = nullptr);
/// Loads a workflow from text; FAILs the test on errors.
std::shared_ptr<const Workflow> load_text(const std::string& yaml, const AgentRegistry& agents,
                                          const WorkflowLibrary* library = nullptr);

}  // namespace loom::test
