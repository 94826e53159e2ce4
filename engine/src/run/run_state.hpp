// The run's state and its transitions. Private to engine/src/run.
//
// Discipline (event sourcing): every durable change of state happens in RunState::apply(event),
// and the live path changes state only by emitting events through emit(). Restore replays the
// same apply() over a log, so a restored run is the same run. Decisions (skip or schedule,
// retry or fail, iterate a loop again) are made in poll() and resolve(), which evaluate
// templates and emit the events that record the decision.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

#include "loom/run.hpp"
#include "loom/template.hpp"

namespace loom {

enum class StepStatus { kPending, kScheduled, kRunning, kSucceeded, kFailed, kSkipped, kCancelled };
enum class ItemStatus {
  kWaiting, kCacheLookup, kRunning, kRetryWait,
  kGateWait,  // a model call waits for its model's concurrency slot or rate limit (not logged)
  kSucceeded, kFailed, kCancelled
};

std::string_view step_status_name(StepStatus s);

inline bool terminal(StepStatus s) {
  return s == StepStatus::kSucceeded || s == StepStatus::kFailed || s == StepStatus::kSkipped ||
         s == StepStatus::kCancelled;
}

struct StepInst;
/// The step's view for templates, {status: pending, output: null} before it has one.
const Json& view_of(const StepInst& step);

struct Scope;
struct StepInst;

struct Item {
  ItemStatus status = ItemStatus::kWaiting;
  int attempt = 0;
  std::uint64_t effect = 0;
  std::int64_t started_at = -1;
  std::int64_t finished_at = -1;
  std::int64_t retry_at = -1;
  bool cached = false;
  bool cache_checked = false;  // transient: a cache lookup already missed
  Json value;                  // the foreach element
  Json output;
  Error error;
  std::string partial;         // streamed output so far
  std::string cache_key;
  std::string pool;
  std::unique_ptr<Scope> child;  // for `agent: workflow`
  // Model calls (llm.generate).
  int model_index = 0;   // 0: the named model; k: its k-th fallback (logged by step_retrying)
  int attempt_base = 0;  // attempts made before the current model: its retries count from here
  std::vector<std::string> model_chain;  // the named model then its fallbacks (set per attempt)
  std::string model;     // the model of the attempt in flight ("" when none holds a gate)
  std::int64_t reserved_tokens = 0;  // the attempt's worst case, held against the budget
  double reserved_cost = 0;
  std::int64_t limited_tokens = 0;   // taken from the model's token bucket when it started
  std::int64_t estimated_input = 0;  // the engine's count of the prompt, when the provider gives none
};

/// Tokens spent by model calls.
struct Spend {
  std::int64_t input_tokens = 0;
  std::int64_t output_tokens = 0;
  double cost_usd = 0;
  bool any = false;
  void add(const Json& usage, double cost);
  Json to_json() const;
};

struct StepInst {
  const StepDef* def = nullptr;
  const AgentSpec* agent = nullptr;
  Scope* scope = nullptr;
  int index = 0;
  std::string path;
  StepStatus status = StepStatus::kPending;
  int waiting = 0;  // needs not yet finished
  bool fanout = false;
  std::vector<Item> items;
  int items_done = 0;
  int items_failed = 0;
  Json view;  // what templates read as steps.<id>: {status, output[, error]}; null while pending
  Error error;
  std::int64_t scheduled_at = -1;
  std::int64_t started_at = -1;
  std::int64_t finished_at = -1;
  std::vector<std::unique_ptr<Scope>> iterations;  // loop steps
  bool converged = false;
  Spend spend;        // model calls of this step's own attempts
  std::string model;  // the model of its latest call
};

struct Scope {
  const std::vector<StepDef>* defs = nullptr;
  const std::map<std::string, int, std::less<>>* index = nullptr;
  Scope* lookup_parent = nullptr;  // loop bodies read the enclosing scope; workflows do not
  StepInst* owner = nullptr;       // null for the root scope
  int owner_item = -1;             // workflow call: the item; loop: the iteration
  bool is_loop = false;
  const Workflow* workflow = nullptr;  // for workflow scopes (root and calls)
  Json inputs;                         // for workflow scopes
  Json loop_view;                      // for loop scopes: {iteration, previous}
  std::string prefix;
  std::vector<StepInst> steps;
  int remaining = 0;
  bool failed = false;
  bool dead = false;  // cancelled or failed: its steps are no longer scheduled
  Error failure;
  std::string failed_step;
};

struct ItemRef {
  StepInst* step = nullptr;
  int item = 0;
  Item& get() const { return step->items[static_cast<std::size_t>(item)]; }
};

struct Timer {
  enum Kind : std::uint8_t { kTimeout, kRetry, kGate };
  std::int64_t at;
  std::uint64_t order;  // FIFO among equal times, for determinism
  Kind kind;            // an attempt's deadline, a retry's wake-up, or a rate limit's refill
  std::uint64_t effect;
  ItemRef ref;
  bool operator>(const Timer& o) const { return at != o.at ? at > o.at : order > o.order; }
};

struct InFlight {
  ItemRef ref;
  bool cache_lookup = false;
  std::int64_t deadline = 0;
};

/// A token bucket (Turner): up to `capacity` units, refilled continuously at `per_ms`. Driven by
/// the run's `now`, so a restored run rebuilds the same levels from its log's times.
struct TokenBucket {
  double capacity = 0;  // 0: no limit
  double per_ms = 0;
  double level = 0;
  std::int64_t at = 0;
  bool started = false;
  void refill(std::int64_t now);
  /// Milliseconds until `n` units are there (n is capped at capacity); 0: now.
  std::int64_t wait_for(double n, std::int64_t now);
  /// Takes n units (the level may go below zero: later calls wait for it to recover).
  void take(double n, std::int64_t now);
};

/// Per model: calls in flight, its rate limits, and the calls waiting for a slot.
struct ModelGate {
  int running = 0;
  TokenBucket requests;
  TokenBucket tokens;
  std::deque<ItemRef> waiting;
};

// What poll() must decide about.
struct Pending {
  enum Kind { kFanoutDone, kScopeDone, kScopeFailed } kind;
  StepInst* step = nullptr;  // kFanoutDone
  Scope* scope = nullptr;    // kScopeDone / kScopeFailed
};

class RunState {
 public:
  RunState(std::shared_ptr<const Workflow> wf, const AgentRegistry& agents, const WorkflowLibrary* lib);

  // Durable transitions.
  Status apply(const Event& e, StepInst* hint = nullptr);
  void emit(Event e);

  // Driving.
  std::vector<Effect> poll(std::int64_t now);
  Status resolve(std::uint64_t id, const EffectResult& r, std::int64_t now);
  Status feed(std::uint64_t id, std::string_view chunk, std::int64_t now);
  Status cancel(std::int64_t now, std::string_view reason);
  void after_restore();
  Json snapshot() const;

  std::shared_ptr<const Workflow> workflow_;
  AgentRegistry agents_;  // copied: a run outlives the caller's registry
  const WorkflowLibrary* library_;
  RunOptions options_;
  RunStatus status_ = RunStatus::kRunning;
  bool started_ = false;
  Json outputs_;
  Error failure_;
  std::vector<Event> pending_events_;
  std::uint64_t next_seq_ = 1;
  std::uint64_t next_effect_ = 1;
  std::uint64_t timer_order_ = 0;
  std::int64_t now_ = 0;
  std::unique_ptr<Scope> root_;
  mutable std::unordered_map<std::string, StepInst*> by_path_;  // built lazily: only restore needs it
  mutable std::size_t by_path_indexed_ = 0;
  mutable StepInst* made_for_ = nullptr;  // the step of the last make(): spares emit() a lookup
  std::vector<StepInst*> all_steps_;  // in creation order, for snapshots
  std::deque<StepInst*> ready_;
  std::deque<ItemRef> pure_queue_;
  std::map<std::string, std::deque<std::pair<std::uint64_t, ItemRef>>> pool_queues_;
  std::uint64_t enqueue_order_ = 0;
  std::deque<Pending> pending_;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>> timers_;
  std::unordered_map<std::uint64_t, InFlight> in_flight_;
  std::map<std::string, int> running_by_pool_;
  int running_total_ = 0;
  int paused_count_ = 0;
  std::vector<Effect> out_effects_;
  Json pending_items_;  // side channel: foreach items already evaluated by poll()
  bool have_pending_items_ = false;
  std::map<std::string, int> pool_limits_;
  int max_concurrency_ = 0;
  bool stopped_on_budget_ = false;  // the last poll() ran out of max_work_per_poll
  // Model calls.
  Budget budget_;     // the stricter of the options' and the workflow's
  Spend spent_;       // the whole run's
  std::int64_t reserved_tokens_ = 0;  // worst cases of the calls in flight
  double reserved_cost_ = 0;
  std::map<std::string, ModelGate> gates_;
  std::unordered_map<std::uint64_t, llm::ResponseDecoder> decoders_;  // per http effect in flight

 private:
  Scope* create_scope(const std::vector<StepDef>* defs, const std::map<std::string, int, std::less<>>* index,
                      Scope* lookup_parent, StepInst* owner, int owner_item, std::string prefix);
  StepInst* find_step(const std::string& path) const;
  void enqueue_item(ItemRef ref);
  void release(ItemRef ref);
  void release_subtree(Scope& scope, std::vector<std::uint64_t>* cancelled);
  void release_step(StepInst& step, std::vector<std::uint64_t>* cancelled);
  void complete_step(StepInst& step, StepStatus status, Json output, const Error* error);
  void scope_step_done(Scope& scope);
  Result<Json> evaluate(const Template& t, const Scope& scope, const Item* item, int index) const;
  Result<Json> evaluate_with(const StepInst& step, int item) const;

  void decide(StepInst& step);
  void start_item(ItemRef ref);
  bool start_effect_if_possible();
  void attempt_failed(ItemRef ref, const Error& error, std::int64_t retry_after, const Json& spend = Json());
  void item_failed_final(ItemRef ref, const Error& error, const Json& spend = Json());
  const RetryPolicy& retry_policy(const StepInst& step) const;
  Effect effect_for(ItemRef ref, int attempt) const;  // agent, step, item, attempt and pool filled in
  // The step cache key of a call: agent, version, what else decides the answer (`identity`, "" for
  // most agents) and the arguments; "" when the step may not be cached.
  std::string cache_key(const StepInst& s, std::string_view identity, const Json& args) const;
  void emit_delta(ItemRef ref, std::uint64_t effect, std::string text);  // a step_output_delta
  void begin_cache_lookup(ItemRef ref, Effect ef);     // asks the host's step cache for ef.cache_key
  // Model calls (model_calls.cpp).
  Result<const llm::ModelSpec*> model_for(Item& it, const Json& args) const;
  void start_model_call(ItemRef ref, Json args, int attempt);
  void resolve_model_call(ItemRef ref, std::uint64_t id, llm::ResponseDecoder decoder, const EffectResult& r);
  ModelGate& gate_for(const std::string& model);
  void hold_gate(Item& it, const Event& started);
  void release_gate(Item& it);
  void account(StepInst& step, const Json& data, Item* item);
  std::string budget_refusal(const llm::ModelSpec& m, std::int64_t input, std::int64_t output, double cost) const;
  void finalize(const Pending& p);
  void fail_scope_owner(Scope& scope);
  void finish_run_failed(const Error& error, const std::string& step);
  Result<Json> evaluate_outputs(const Scope& scope,
                                const std::vector<std::pair<std::string, std::shared_ptr<const Template>>>& outs) const;
  std::int64_t retry_delay(const StepInst& step, int item, int attempt) const;
  int pool_limit(const std::string& pool) const;
  Event make(EventType type, const StepInst* step = nullptr, int item = -1) const;
  void cancel_effects(std::vector<std::uint64_t> ids);  // emits kCancel effects, in id order
  void cancel_all_in_flight();
  // Effects in flight anywhere under a step or scope (items, called workflows, loop iterations).
  void collect_effects(const StepInst& step, std::vector<std::uint64_t>* ids) const;
  void collect_effects(const Scope& scope, std::vector<std::uint64_t>* ids) const;
  bool finished() const {
    return status_ == RunStatus::kSucceeded || status_ == RunStatus::kFailed || status_ == RunStatus::kCancelled;
  }

  friend class Run;
};

}  // namespace loom
