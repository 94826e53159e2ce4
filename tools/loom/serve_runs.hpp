// The runs of `loom serve`: a registry that starts runs, drives each on a thread of its own,
// persists every event under DATA/runs/<id>/ (workflow.yaml, meta.json, events.jsonl) before
// the effect it announces starts, parks human.input questions until they are answered, cancels,
// and at startup restores the runs on disk (the unfinished ones are driven again). At most
// --max-runs runs are driven at once; the others wait for a slot. The HTTP routes
// (serve_http.hpp) use only this interface.
//
// Thread-safety: find, start, describe, list, answer, cancel, wait_for_events and stop_all may
// be called from any thread (the HTTP workers, the signal waiter), at the same time as the runs'
// own threads; restore() is called once before the routes are served, join() once at the end.
// A RunRecord is opaque outside serve_runs.cpp; a RunHandle keeps it alive (an event stream may
// outlive the server's stop).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "loom/loom.hpp"

namespace loom::cli {

struct HostConfig;  // host.hpp

/// One run the registry knows; defined in serve_runs.cpp.
struct RunRecord;
using RunHandle = std::shared_ptr<RunRecord>;

/// An event as it is in the run's log: what an event stream sends.
struct LoggedEvent {
  std::uint64_t seq;
  std::string type;  ///< event_type_name()
  std::string line;  ///< the log line (JSON), as event_line() writes it
};

/// What wait_for_events() gives: the events after the given seq, and whether no more will come
/// (the run ended, is stuck or broken, or the server is stopping).
struct EventBatch {
  std::vector<LoggedEvent> events;
  bool end = false;
};

/// What answer() did.
struct AnswerOutcome {
  enum Kind {
    kAnswered,    ///< `step` is the question's step
    kNotWaiting,  ///< no unanswered question (at `step`, when one was named)
    kNotAChoice,  ///< the value is not one of `choices`
  } kind;
  std::string step;
  Json choices;
};

/// What cancel() did.
struct CancelOutcome {
  bool already_ended = false;  ///< the run had ended: nothing was done
  std::string status;          ///< the run's status ("finished" when an ended run has none)
};

class RunRegistry {
 public:
  /// Runs are started with `base_options` (each with its own run_id and seed) against `agents`
  /// and `library`, which must outlive the registry; their folders are under `data_dir`/runs,
  /// which must exist.
  RunRegistry(const AgentRegistry& agents, const WorkflowLibrary& library,
              const RunOptions& base_options, std::string data_dir, int max_runs);
  /// Stops the runs and waits for their threads.
  ~RunRegistry();
  RunRegistry(const RunRegistry&) = delete;
  RunRegistry& operator=(const RunRegistry&) = delete;

  /// Lists every run under DATA/runs (hidden folders are drafts and left out), in the order of
  /// their ids, and drives the unfinished ones again. A run that cannot be restored is listed
  /// as broken. Says on stderr what it found.
  void restore();

  /// Starts a run of `wf`: checks the inputs, persists the workflow, the meta (with `trigger`
  /// unless it is null) and the first events, and hands the run to a driving thread.
  /// Returns the run's id; the engine's error when the inputs do not fit (`errors` receives all
  /// of them); kHostError when the run's files cannot be written.
  Result<std::string> start(const std::shared_ptr<const Workflow>& wf, const Json& inputs,
                            const Json& trigger, std::vector<Error>* errors);

  /// The run with that id; null when there is none.
  RunHandle find(const std::string& id) const;

  /// What GET /api/runs/{id} shows: the engine's snapshot with id, created_at, trigger, driver,
  /// events (their count), problem, question and questions.
  Json describe(RunRecord& r) const;

  /// What GET /api/runs lists: per run, in the order they were added, its id, workflow, status,
  /// driver, created_at and whether it waits for an answer.
  Json list() const;

  /// Answers the first unanswered question (at `step`, unless it is empty) with `value`; the
  /// run's thread goes on with it. A question with choices takes only one of them.
  AnswerOutcome answer(RunRecord& r, const std::string& step, const Json& value);

  /// Cancels the run unless it has ended, and waits (up to 5 s) until its thread has recorded the
  /// cancellation; the status is the run's then.
  CancelOutcome cancel(RunRecord& r);

  /// Waits up to `wait` for events after `after` (or the end) and returns them.
  EventBatch wait_for_events(RunRecord& r, std::uint64_t after,
                             std::chrono::milliseconds wait) const;

  /// Asks every run to stop (an unfinished one resumes at the next start) and wakes the event
  /// streams and the runs waiting for a slot. Returns at once; join() waits.
  void stop_all();

  /// Waits for every run's thread (after stop_all()); returns how many runs are unfinished.
  int join();

 private:
  Status restore_run(RunRecord& r);
  void add(const RunHandle& r);
  void launch(const RunHandle& r);
  void drive_run(RunHandle r);
  HostConfig host_config(const RunHandle& r);
  bool record_event(RunRecord& r, const Event& e);
  EffectResult ask(RunRecord& r, const Effect& e, const std::atomic<bool>& cancel);
  bool acquire_slot(RunRecord& r);
  void release_slot(RunRecord& r);
  void wake_slots();
  void set_driver(RunRecord& r, const std::string& driver);
  std::vector<RunHandle> all() const;

  const AgentRegistry& agents_;
  const WorkflowLibrary& library_;
  const RunOptions base_options_;
  const std::string data_dir_;
  const int max_runs_;
  std::atomic<bool> stopping_{false};

  mutable std::mutex runs_mu_;  // guards runs_ and order_
  std::map<std::string, RunHandle> runs_;
  std::vector<std::string> order_;  // the order runs were added in

  std::mutex slots_mu_;  // guards active_ and each RunRecord's has_slot
  std::condition_variable slots_cv_;
  int active_ = 0;
};

}  // namespace loom::cli
