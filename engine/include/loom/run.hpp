// loom/run.hpp — a workflow run: a sans-IO state machine driven by its host.
//
// The engine never performs I/O, reads a clock or draws a random number. The host drives it:
//
//   auto run = loom::Run::start(workflow, inputs, options, now, agents, &library);
//   while (!run->finished()) {
//     for (const loom::Effect& e : run->poll(now)) perform(e);     // HTTP calls, timers, ...
//     persist(run->take_events());                                 // before effects start
//     // ... when an effect finishes:  run->resolve(id, result, now);
//     // ... streamed bytes:           run->feed(id, chunk, now);
//     // ... sleep until the next completion or run->next_wakeup()
//   }
//
// Every change of state is an Event appended to the run's log; Run::restore() rebuilds the
// same state from a log, so a run stopped at any point resumes without redoing finished steps.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "loom/agent.hpp"
#include "loom/error.hpp"
#include "loom/json.hpp"
#include "loom/llm.hpp"
#include "loom/workflow.hpp"

namespace loom {

/// The kinds of event in a run's log. Their names (event_type_name) are part of the log format.
enum class EventType : std::uint8_t {
  kRunStarted,      ///< data: {workflow, version, run_id, inputs, seed}
  kStepScheduled,   ///< its needs are done; data: {items} for foreach steps
  kStepStarted,     ///< an attempt began; effect id set for host effects
  kStepOutputDelta, ///< streamed output; data: {delta}
  kStepSucceeded,   ///< data: {output, cached?, cache_key?}
  kStepFailed,      ///< data: {error: {code, message}}
  kStepRetrying,    ///< data: {error, delay_ms, at}
  kStepSkipped,     ///< data: {reason: "when" | "upstream"}
  kLoopIteration,   ///< a loop step begins an iteration; data: {iteration}
  kRunPaused,       ///< waiting for a person; data: {step}
  kRunResumed,      ///< the person answered
  kRunSucceeded,    ///< data: {outputs}
  kRunFailed,       ///< data: {error, step}
  kRunCancelled,    ///< data: {reason}
};

/// "run_started", "step_scheduled", ... for an EventType.
std::string_view event_type_name(EventType type);

/// One entry of a run's append-only log.
struct Event {
  std::uint64_t seq = 0;  ///< 1, 2, 3, ... within the run
  EventType type = EventType::kRunStarted;
  std::int64_t time_ms = 0;  ///< the host's `now` when it happened
  std::string step;          ///< step path ("summary", "polish#2/rewrite", "call/chunks"); "" for run events
  int item = -1;             ///< foreach item index, -1 when none
  int attempt = 0;           ///< attempt number for step_started/succeeded/failed/retrying
  std::uint64_t effect = 0;  ///< the effect id of a host-performed attempt, 0 when none
  Json data;                 ///< type-specific payload, null when none
};

/// The event as a JSON object: {seq, type, t, step?, item?, attempt?, effect?, ...data}.
Json event_to_json(const Event& event);
/// Parses an event_to_json object. kBadEventLog when fields are missing or malformed.
Result<Event> event_from_json(const Json& json);

/// Something the host must do for the run.
struct Effect {
  enum class Kind {
    kAgent,        ///< perform `agent` with `args`; resolve with its output or an error
    kCacheLookup,  ///< look `cache_key` up in the step cache; resolve {hit: bool, output?}
    kCancel,       ///< stop effect `cancels` if it is still running; do not resolve it
    kHttp,         ///< send the HTTP request in `args` (llm::http_request_to_json), adding the
                   ///< named credential's header; feed() the body as it arrives when
                   ///< args.stream, resolve {status, headers, body: the rest} or a transport error
  };
  std::uint64_t id = 0;
  Kind kind = Kind::kAgent;
  std::string agent;
  Json args;
  std::string step;  ///< step path, for display
  int item = -1;
  int attempt = 0;
  std::string pool;
  std::int64_t deadline_ms = 0;  ///< 0: none; the engine itself fails the attempt after it
  std::string cache_key;         ///< for kCacheLookup, and on cacheable agent effects
  std::uint64_t cancels = 0;     ///< for kCancel
};

/// The effect as JSON: {id, kind: "agent"|"cache_lookup"|"cancel"|"http", agent, args, step, ...}.
Json effect_to_json(const Effect& effect);

/// What the host reports when an effect finishes.
struct EffectResult {
  bool ok = true;
  Json output;   ///< when ok
  Error error;   ///< when !ok; retryable codes (see is_retryable) may be retried
  std::int64_t retry_after_ms = -1;  ///< a delay the provider asked for (Retry-After); -1: none

  static EffectResult success(Json output);
  static EffectResult failure(ErrorCode code, std::string message, std::int64_t retry_after_ms = -1);
};

/// Parses {ok: true, output} / {ok: false, error: {code, message}, retry_after_ms}.
Result<EffectResult> effect_result_from_json(const Json& json);

/// Limits on what a run may spend on model calls (0: no limit). The engine refuses to start a
/// call whose worst case (its prompt plus max_tokens of answer) would pass either.
struct Budget {
  double max_cost_usd = 0;
  std::int64_t max_tokens = 0;
};

/// How a run is driven.
struct RunOptions {
  std::string run_id;        ///< the host's id for the run, recorded in run_started
  std::uint64_t seed = 1;    ///< seeds retry jitter; recorded, so a restored run jitters the same
  int max_concurrency = 8;   ///< host effects in flight at once; 0 means no limit
  std::map<std::string, int> pool_limits;  ///< per pool; the workflow's `concurrency` adds to it
  bool use_cache = false;    ///< ask the host's step cache before performing cacheable agents
  int max_work_per_poll = 10000;  ///< pure steps run per poll(), so a page stays responsive
  /// The models llm.generate may name. Without it, a workflow that calls a model cannot start.
  std::shared_ptr<const llm::ModelPool> models;
  Budget budget;  ///< with the workflow's `budget:`, the stricter of each limit applies
};

enum class RunStatus { kRunning, kPaused, kSucceeded, kFailed, kCancelled };
std::string_view run_status_name(RunStatus status);

class RunState;  // the implementation

/// One run of a workflow. Not thread-safe: the host calls it from one thread.
class Run {
 public:
  /// Starts a run: checks inputs and records run_started. Returns kInputMissing, kInputType,
  /// kInputUnknown or kBadArgument (the first; `errors`, when given, receives all of them).
  static Result<std::unique_ptr<Run>> start(std::shared_ptr<const Workflow> workflow,
                                             const Json& inputs, const RunOptions& options,
                                             std::int64_t now, const AgentRegistry& agents,
                                             const WorkflowLibrary* library = nullptr,
                                             std::vector<Error>* errors = nullptr);

  /// Rebuilds a run from its log (as written by the host from take_events()). Attempts that were
  /// in flight when the log ends are started again by the next poll(); finished steps are not.
  /// kBadEventLog when the log is empty, malformed, or was made by another workflow version.
  static Result<std::unique_ptr<Run>> restore(std::shared_ptr<const Workflow> workflow,
                                               const std::vector<Event>& events,
                                               const AgentRegistry& agents,
                                               const WorkflowLibrary* library = nullptr,
                                               const RunOptions* overrides = nullptr);

  /// Advances the run to `now`: fires due retries and timeouts, runs ready pure steps (at most
  /// max_work_per_poll), and returns the effects the host must perform now. Never fails.
  std::vector<Effect> poll(std::int64_t now);

  /// Reports the result of an effect. kUnknownEffect when `id` is not in flight (already
  /// resolved, cancelled or timed out: the result is dropped).
  Status resolve(std::uint64_t id, const EffectResult& result, std::int64_t now);

  /// Reports streamed output of an effect in flight: text deltas for agent effects, the raw
  /// response body for http effects (the engine decodes it). kUnknownEffect as resolve().
  Status feed(std::uint64_t id, std::string_view chunk, std::int64_t now);

  /// Cancels the run: in-flight effects get kCancel effects, the run ends cancelled.
  /// kInvalidState when the run has already finished.
  Status cancel(std::int64_t now, std::string_view reason = "cancelled by the user");

  /// Events recorded since the last call, in order. The host persists them before performing
  /// the effects returned by the same poll().
  std::vector<Event> take_events();

  /// The earliest time poll() has timed work to do (a retry or a timeout), if any.
  std::optional<std::int64_t> next_wakeup() const;
  /// True when poll() would run more pure steps right now (it stopped at max_work_per_poll).
  bool has_ready_work() const;
  /// Effects handed out and not yet resolved.
  std::size_t in_flight() const;

  RunStatus status() const;
  bool finished() const;
  /// The run's outputs once it succeeded (null before).
  const Json& outputs() const;
  /// Why the run failed (kOk unless failed/cancelled).
  const Error& failure() const;
  /// The run's whole state as JSON (steps with status, attempts, outputs, timings): what a UI
  /// draws, and what tests compare between a live run and its restored copy.
  Json snapshot() const;

  ~Run();
  Run(Run&&) noexcept;
  Run& operator=(Run&&) noexcept;

 private:
  explicit Run(std::unique_ptr<RunState> state);
  std::unique_ptr<RunState> state_;
};

}  // namespace loom
