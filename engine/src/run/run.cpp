// The run state machine. See run_state.hpp for the discipline: apply() changes state, emit()
// records and applies, poll()/resolve() decide.
#include <algorithm>
#include <exception>

#include "loom/run.hpp"
#include "run/run_state.hpp"
#include "workflow/hash.hpp"

namespace loom {
namespace {

Json error_json(const Error& e) {
  Json j = {{"code", error_code_name(e.code)}, {"message", e.message}};
  if (!e.hint.empty()) j["hint"] = e.hint;
  return j;
}

Error error_from_json(const Json& j) {
  Error e;
  if (!j.is_object()) return make_error(ErrorCode::kHostError, "unknown error");
  e.code = error_code_from_name(j.value("code", "host_error"));
  e.message = j.value("message", "");
  e.hint = j.value("hint", "");
  return e;
}

std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

bool item_terminal(ItemStatus s) {
  return s == ItemStatus::kSucceeded || s == ItemStatus::kFailed || s == ItemStatus::kCancelled;
}

// What templates see: the scope chain, the foreach item and index, the loop.
class EvalScope : public TemplateScope {
 public:
  EvalScope(const Scope& scope, const Json* item, const Json* index)
      : scope_(scope), item_(item), index_(index) {}

  const Json* root(std::string_view name) const override {
    if (name == "inputs") {
      for (const Scope* c = &scope_; c; c = c->lookup_parent) {
        if (c->workflow) return &c->inputs;
      }
      return nullptr;
    }
    if (name == "item") return item_;
    if (name == "index") return index_;
    if (name == "loop") {
      for (const Scope* c = &scope_; c; c = c->lookup_parent) {
        if (c->is_loop) return &c->loop_view;
      }
    }
    return nullptr;
  }

  const Json* step(std::string_view id) const override {
    for (const Scope* c = &scope_; c; c = c->lookup_parent) {
      auto it = c->index->find(id);
      if (it != c->index->end()) return &view_of(c->steps[static_cast<std::size_t>(it->second)]);
    }
    return nullptr;
  }

 private:
  const Scope& scope_;
  const Json* item_;
  const Json* index_;
};

}  // namespace

std::string_view step_status_name(StepStatus s) {
  switch (s) {
    case StepStatus::kPending: return "pending";
    case StepStatus::kScheduled: return "scheduled";
    case StepStatus::kRunning: return "running";
    case StepStatus::kSucceeded: return "succeeded";
    case StepStatus::kFailed: return "failed";
    case StepStatus::kSkipped: return "skipped";
    case StepStatus::kCancelled: return "cancelled";
  }
  return "pending";
}

RunState::RunState(std::shared_ptr<const Workflow> wf, const AgentRegistry& agents, const WorkflowLibrary* lib)
    : workflow_(std::move(wf)), agents_(agents), library_(lib) {}

// ---------------------------------------------------------------- scopes and bookkeeping

Scope* RunState::create_scope(const std::vector<StepDef>* defs,
                              const std::map<std::string, int, std::less<>>* index, Scope* lookup_parent,
                              StepInst* owner, int owner_item, std::string prefix) {
  auto scope = std::make_unique<Scope>();
  Scope* sc = scope.get();
  sc->defs = defs;
  sc->index = index;
  sc->lookup_parent = lookup_parent;
  sc->owner = owner;
  sc->owner_item = owner_item;
  sc->prefix = std::move(prefix);
  sc->steps.resize(defs->size());
  sc->remaining = static_cast<int>(defs->size());
  for (std::size_t i = 0; i < defs->size(); ++i) {
    StepInst& s = sc->steps[i];
    s.def = &(*defs)[i];
    s.agent = s.def->agent.empty() ? nullptr : agents_.find(s.def->agent);
    s.scope = sc;
    s.index = static_cast<int>(i);
    s.path = sc->prefix + s.def->id;
    s.waiting = static_cast<int>(s.def->need_index.size());
    all_steps_.push_back(&s);
  }
  for (auto& s : sc->steps) {
    if (s.waiting == 0) ready_.push_back(&s);
  }
  if (!owner) {
    root_ = std::move(scope);
  } else if (owner->def->loop) {
    owner->iterations.push_back(std::move(scope));
  } else {
    owner->items[static_cast<std::size_t>(owner_item)].child = std::move(scope);
  }
  return sc;
}

StepInst* RunState::find_step(const std::string& path) const {
  for (; by_path_indexed_ < all_steps_.size(); ++by_path_indexed_) {
    StepInst* s = all_steps_[by_path_indexed_];
    by_path_[s->path] = s;
  }
  auto it = by_path_.find(path);
  return it == by_path_.end() ? nullptr : it->second;
}

void RunState::enqueue_item(ItemRef ref) {
  StepInst& s = *ref.step;
  Item& it = ref.get();
  if (!s.agent || s.agent->kind != AgentKind::kEffect) {
    pure_queue_.push_back(ref);
    return;
  }
  if (it.pool.empty()) it.pool = s.def->pool.empty() ? s.agent->pool : s.def->pool;
  pool_queues_[it.pool].push_back({enqueue_order_++, ref});
}

void RunState::release(ItemRef ref) {
  Item& it = ref.get();
  if (it.effect == 0) return;
  auto f = in_flight_.find(it.effect);
  if (f != in_flight_.end()) {
    if (!f->second.cache_lookup) {
      if (ref.step->agent && ref.step->agent->pauses) {
        --paused_count_;
      } else {
        --running_total_;
      }
      --running_by_pool_[it.pool];
      release_gate(it);
    }
    in_flight_.erase(f);
  }
  it.effect = 0;
}

void RunState::release_step(StepInst& step, std::vector<std::uint64_t>* cancelled) {
  for (std::size_t i = 0; i < step.items.size(); ++i) {
    Item& it = step.items[i];
    if (it.effect && cancelled && in_flight_.count(it.effect)) cancelled->push_back(it.effect);
    release(ItemRef{&step, static_cast<int>(i)});
    if (!item_terminal(it.status)) it.status = ItemStatus::kCancelled;
    if (it.child) release_subtree(*it.child, cancelled);
  }
  for (auto& iter : step.iterations) release_subtree(*iter, cancelled);
}

void RunState::release_subtree(Scope& scope, std::vector<std::uint64_t>* cancelled) {
  scope.dead = true;
  for (auto& s : scope.steps) {
    release_step(s, cancelled);
    if (!terminal(s.status)) s.status = StepStatus::kCancelled;
  }
}

void RunState::complete_step(StepInst& step, StepStatus status, Json output, const Error* error) {
  step.status = status;
  step.finished_at = now_;
  step.view = Json::object();
  step.view["status"] = step_status_name(status);
  step.view["output"] = std::move(output);
  if (error) {
    step.error = *error;
    step.view["error"] = error_json(*error);
  }
  Scope& sc = *step.scope;
  if (sc.dead) return;
  for (int d : step.def->dependent_index) {
    StepInst& dep = sc.steps[static_cast<std::size_t>(d)];
    if (--dep.waiting == 0) ready_.push_back(&dep);
  }
  scope_step_done(sc);
}

void RunState::scope_step_done(Scope& scope) {
  if (--scope.remaining == 0 && !scope.failed) pending_.push_back({Pending::kScopeDone, nullptr, &scope});
}

int RunState::pool_limit(const std::string& pool) const {
  auto it = pool_limits_.find(pool);
  return it == pool_limits_.end() ? 0 : it->second;
}

const Json& view_of(const StepInst& step) {
  static const Json kPending = Json{{"status", "pending"}, {"output", nullptr}};
  return step.view.is_null() ? kPending : step.view;
}

Event RunState::make(EventType type, const StepInst* step, int item) const {
  made_for_ = const_cast<StepInst*>(step);
  Event e;
  e.type = type;
  if (step) e.step = step->path;
  e.item = (step && step->fanout) ? item : -1;
  return e;
}

void RunState::emit(Event e) {
  e.seq = next_seq_++;
  e.time_ms = now_;
  StepInst* hint = made_for_ && made_for_->path == e.step ? made_for_ : nullptr;
  made_for_ = nullptr;
  apply(e, hint);
  pending_events_.push_back(std::move(e));
}

void RunState::cancel_all_in_flight() {
  std::vector<std::uint64_t> ids;
  for (const auto& kv : in_flight_) ids.push_back(kv.first);
  cancel_effects(std::move(ids));
}

void RunState::cancel_effects(std::vector<std::uint64_t> ids) {
  std::sort(ids.begin(), ids.end());  // a deterministic order, whatever the containers' order
  for (std::uint64_t id : ids) {
    Effect c;
    c.kind = Effect::Kind::kCancel;
    c.cancels = id;
    auto f = in_flight_.find(id);
    if (f != in_flight_.end()) {
      c.step = f->second.ref.step->path;
      c.item = f->second.ref.step->fanout ? f->second.ref.item : -1;
    }
    out_effects_.push_back(std::move(c));
  }
}

// ---------------------------------------------------------------- apply: the transitions

Status RunState::apply(const Event& e, StepInst* hint) {
  auto bad = [&](const std::string& why) {
    return make_error(ErrorCode::kBadEventLog,
                      "event " + std::to_string(e.seq) + " (" + std::string(event_type_name(e.type)) + "): " + why,
                      "the log does not belong to this workflow, or was cut in the middle");
  };
  now_ = std::max(now_, e.time_ms);
  if (e.type == EventType::kRunStarted) {
    if (started_) return bad("a second run_started");
    started_ = true;
    if (e.data.is_object()) {
      options_.run_id = e.data.value("run_id", "");
      options_.seed = e.data.value("seed", static_cast<std::uint64_t>(1));
    }
    Scope* root = create_scope(&workflow_->steps, &workflow_->step_index, nullptr, nullptr, -1, "");
    root->workflow = workflow_.get();
    root->inputs = e.data.is_object() && e.data.contains("inputs") ? e.data["inputs"] : Json::object();
    return {};
  }
  if (!started_) return bad("the log does not begin with run_started");

  StepInst* s = nullptr;
  if (!e.step.empty()) {
    s = hint ? hint : find_step(e.step);
    if (!s) return bad("no step '" + e.step + "' in this run");
    if (e.item >= 0 && (!s->fanout || e.item >= static_cast<int>(s->items.size()))) {
      return bad("step '" + e.step + "' has no item " + std::to_string(e.item));
    }
  }
  auto need_step = [&]() { return s != nullptr; };
  int idx = e.item >= 0 ? e.item : 0;
  const Json& d = e.data;

  switch (e.type) {
    case EventType::kRunStarted:
      break;
    case EventType::kStepScheduled: {
      if (!need_step()) return bad("no step");
      s->status = StepStatus::kScheduled;
      s->scheduled_at = e.time_ms;
      if (s->def->loop) break;  // loop_iteration follows
      if (s->def->foreach) {
        s->fanout = true;
        Json items;
        if (have_pending_items_) {
          items = std::move(pending_items_);
          have_pending_items_ = false;
        } else {
          auto r = evaluate(*s->def->foreach, *s->scope, nullptr, -1);
          if (!r || !r->is_array()) return bad("foreach of '" + s->path + "' no longer gives a list");
          items = std::move(*r);
        }
        if (d.is_object() && d.value("items", -1) != static_cast<int>(items.size())) {
          return bad("foreach of '" + s->path + "' gives a different number of items");
        }
        s->items.resize(items.size());
        for (std::size_t i = 0; i < items.size(); ++i) s->items[i].value = std::move(items[i]);
        if (items.empty()) pending_.push_back({Pending::kFanoutDone, s, nullptr});
      } else {
        s->items.resize(1);
      }
      for (std::size_t i = 0; i < s->items.size(); ++i) enqueue_item(ItemRef{s, static_cast<int>(i)});
      break;
    }
    case EventType::kStepStarted: {
      if (!need_step() || s->items.empty()) return bad("step was not scheduled");
      Item& it = s->items[static_cast<std::size_t>(idx)];
      it.status = ItemStatus::kRunning;
      it.attempt = e.attempt;
      it.started_at = e.time_ms;
      it.partial.clear();  // a new attempt streams its own text
      if (s->started_at < 0) s->started_at = e.time_ms;
      s->status = StepStatus::kRunning;
      if (d.is_object() && d.contains("cache_key")) it.cache_key = d["cache_key"].get<std::string>();
      if (e.effect) {
        if (!s->agent || s->agent->kind != AgentKind::kEffect) return bad("an effect for a step the engine runs");
        if (it.pool.empty()) it.pool = s->def->pool.empty() ? s->agent->pool : s->def->pool;
        it.effect = e.effect;
        InFlight fl{ItemRef{s, idx}, false, 0};
        if (s->def->timeout_ms > 0) {
          fl.deadline = e.time_ms + s->def->timeout_ms;
          timers_.push(Timer{fl.deadline, timer_order_++, Timer::kTimeout, e.effect, fl.ref});
        }
        in_flight_[e.effect] = fl;
        if (s->agent->pauses) ++paused_count_;
        else ++running_total_;
        ++running_by_pool_[it.pool];
        next_effect_ = std::max(next_effect_, e.effect + 1);
        if (s->agent->calls_model) {
          hold_gate(it, e);
          if (!it.model.empty()) s->model = it.model;
        }
      }
      if (s->agent && s->agent->kind == AgentKind::kWorkflow) {
        std::string name = d.is_object() ? d.value("workflow", "") : "";
        auto callee = library_ ? library_->find(name) : nullptr;
        if (!callee) return bad("workflow '" + name + "' is not in the library");
        std::string prefix = s->path + (s->fanout ? "[" + std::to_string(idx) + "]" : "") + "/";
        Scope* child = create_scope(&callee->steps, &callee->step_index, nullptr, s, idx, prefix);
        child->workflow = callee.get();
        child->inputs = d.value("inputs", Json::object());
      }
      break;
    }
    case EventType::kStepOutputDelta: {
      if (!need_step() || s->items.empty()) return bad("step was not started");
      if (d.is_object() && d.contains("delta") && d["delta"].is_string()) {
        s->items[static_cast<std::size_t>(idx)].partial += d["delta"].get<std::string>();
      }
      break;
    }
    case EventType::kStepSucceeded: {
      if (!need_step()) return bad("no step");
      account(*s, d, !s->items.empty() ? &s->items[static_cast<std::size_t>(idx)] : nullptr);
      Json output = d.is_object() && d.contains("output") ? d["output"] : Json();
      bool cached = d.is_object() && d.value("cached", false);
      if (e.item >= 0) {
        Item& it = s->items[static_cast<std::size_t>(idx)];
        if (item_terminal(it.status)) return bad("item finished twice");
        release(ItemRef{s, idx});
        it.status = ItemStatus::kSucceeded;
        it.output = std::move(output);
        it.cached = cached;
        it.finished_at = e.time_ms;
        it.partial.clear();
        if (++s->items_done == static_cast<int>(s->items.size())) {
          pending_.push_back({Pending::kFanoutDone, s, nullptr});
        }
        break;
      }
      if (terminal(s->status)) return bad("step finished twice");
      if (s->fanout) {
        output = Json::array();
        for (auto& it : s->items) output.push_back(std::move(it.output));
      } else if (s->def->loop) {
        s->converged = output.is_object() && output.value("converged", false);
      } else if (!s->items.empty()) {
        Item& it = s->items[0];
        release(ItemRef{s, 0});
        it.status = ItemStatus::kSucceeded;
        it.cached = cached;
        it.finished_at = e.time_ms;
        it.partial.clear();
        if (!it.attempt && !cached) it.attempt = e.attempt;
      }
      complete_step(*s, StepStatus::kSucceeded, std::move(output), nullptr);
      break;
    }
    case EventType::kStepFailed: {
      if (!need_step()) return bad("no step");
      account(*s, d, !s->items.empty() ? &s->items[static_cast<std::size_t>(idx)] : nullptr);
      Error err = error_from_json(d.is_object() ? d.value("error", Json()) : Json());
      if (e.item >= 0) {
        Item& it = s->items[static_cast<std::size_t>(idx)];
        if (item_terminal(it.status)) return bad("item finished twice");
        release(ItemRef{s, idx});
        it.status = ItemStatus::kFailed;
        it.error = err;
        it.finished_at = e.time_ms;
        ++s->items_done;
        bool first_failure = s->items_failed++ == 0;
        bool fail_fast = s->def->on_error == OnError::kFail && first_failure;
        if (fail_fast || s->items_done == static_cast<int>(s->items.size())) {
          if (!(s->def->on_error == OnError::kFail && !first_failure)) {
            pending_.push_back({Pending::kFanoutDone, s, nullptr});
          }
        }
        break;
      }
      if (terminal(s->status)) return bad("step finished twice");
      if (!s->fanout && !s->items.empty()) {
        s->items[0].status = ItemStatus::kFailed;
        s->items[0].error = err;
        s->items[0].finished_at = e.time_ms;
      }
      release_step(*s, nullptr);
      if (s->def->on_error == OnError::kContinue) {
        // A foreach step that goes on keeps what its items made: the list of their outputs, null
        // where an item failed (a comparison of models shows the models that answered).
        Json partial;
        if (s->fanout) {
          partial = Json::array();
          for (const auto& it : s->items) partial.push_back(it.status == ItemStatus::kSucceeded ? it.output : Json());
        }
        complete_step(*s, StepStatus::kFailed, std::move(partial), &err);
      } else {
        s->status = StepStatus::kFailed;
        s->finished_at = e.time_ms;
        s->error = err;
        s->view = Json{{"status", "failed"}, {"output", nullptr}, {"error", error_json(err)}};
        Scope& sc = *s->scope;
        if (!sc.failed && !sc.dead) {
          sc.failed = true;
          sc.failure = err;
          sc.failed_step = s->path;
          pending_.push_back({Pending::kScopeFailed, nullptr, &sc});
        }
      }
      break;
    }
    case EventType::kStepRetrying: {
      if (!need_step() || s->items.empty()) return bad("step was not started");
      ItemRef ref{s, idx};
      Item& it = ref.get();
      account(*s, d, &it);
      release(ref);
      if (d.is_object() && d.contains("fallback")) {  // the model gave up: its next fallback takes over
        ++it.model_index;
        it.attempt_base = e.attempt;
      }
      it.status = ItemStatus::kRetryWait;
      it.retry_at = d.is_object() ? d.value("at", e.time_ms) : e.time_ms;
      it.error = error_from_json(d.is_object() ? d.value("error", Json()) : Json());
      timers_.push(Timer{it.retry_at, timer_order_++, Timer::kRetry, 0, ref});
      break;
    }
    case EventType::kStepSkipped:
      if (!need_step()) return bad("no step");
      if (terminal(s->status)) return bad("step finished twice");
      complete_step(*s, StepStatus::kSkipped, Json(), nullptr);
      break;
    case EventType::kLoopIteration: {
      if (!need_step() || !s->def->loop) return bad("not a loop step");
      int k = d.is_object() ? d.value("iteration", -1) : -1;
      if (k != static_cast<int>(s->iterations.size())) return bad("loop iterations out of order");
      s->status = StepStatus::kRunning;
      if (s->started_at < 0) s->started_at = e.time_ms;
      Json previous = nullptr;
      if (k > 0) {
        previous = Json::object();
        for (const auto& st : s->iterations.back()->steps) previous[st.def->id] = view_of(st);
      }
      Scope* sc = create_scope(&s->def->loop->steps, &s->def->loop->step_index, s->scope, s, k,
                               s->path + "#" + std::to_string(k) + "/");
      sc->is_loop = true;
      sc->loop_view = Json{{"iteration", k}, {"previous", std::move(previous)}};
      break;
    }
    case EventType::kRunPaused:
      status_ = RunStatus::kPaused;
      break;
    case EventType::kRunResumed:
      if (status_ == RunStatus::kPaused) status_ = RunStatus::kRunning;
      break;
    case EventType::kRunSucceeded:
      status_ = RunStatus::kSucceeded;
      outputs_ = d.is_object() ? d.value("outputs", Json::object()) : Json::object();
      break;
    case EventType::kRunFailed:
    case EventType::kRunCancelled: {
      bool cancelled = e.type == EventType::kRunCancelled;
      status_ = cancelled ? RunStatus::kCancelled : RunStatus::kFailed;
      failure_ = cancelled ? make_error(ErrorCode::kCancelled, d.is_object() ? d.value("reason", "cancelled") : "cancelled")
                           : error_from_json(d.is_object() ? d.value("error", Json()) : Json());
      if (root_) release_subtree(*root_, nullptr);
      in_flight_.clear();
      running_total_ = 0;
      paused_count_ = 0;
      running_by_pool_.clear();
      break;
    }
  }
  return {};
}

// ---------------------------------------------------------------- evaluation

Result<Json> RunState::evaluate(const Template& t, const Scope& scope, const Item* item, int index) const {
  Json idx = index >= 0 ? Json(index) : Json();
  EvalScope es(scope, item ? &item->value : nullptr, index >= 0 ? &idx : nullptr);
  return t.evaluate(es);
}

Result<Json> RunState::evaluate_with(const StepInst& step, int item) const {
  const TemplatedValue& w = step.def->with;
  if (w.is_constant()) return w.raw;
  const Item* it = step.fanout ? &step.items[static_cast<std::size_t>(item)] : nullptr;
  Json args = w.raw;
  for (const auto& [pointer, t] : w.templates) {
    auto v = evaluate(*t, *step.scope, it, step.fanout ? item : -1);
    if (!v) {
      Error e = v.error();
      e.message = "with" + pointer + ": " + e.message;
      return e;
    }
    if (pointer.empty()) {
      args = std::move(*v);
    } else {
      args[Json::json_pointer(pointer)] = std::move(*v);
    }
  }
  return args;
}

Result<Json> RunState::evaluate_outputs(
    const Scope& scope, const std::vector<std::pair<std::string, std::shared_ptr<const Template>>>& outs) const {
  Json out = Json::object();
  for (const auto& [name, t] : outs) {
    auto v = evaluate(*t, scope, nullptr, -1);
    if (!v) {
      Error e = v.error();
      e.message = "output '" + name + "': " + e.message;
      return e;
    }
    out[name] = std::move(*v);
  }
  return out;
}

std::int64_t RunState::retry_delay(const StepInst& step, int item, int attempt) const {
  const RetryPolicy& p = retry_policy(step);
  std::int64_t base = p.initial_delay_ms;
  if (p.backoff == RetryPolicy::Backoff::kExponential) {
    for (int i = 1; i < attempt && base < p.max_delay_ms; ++i) base *= 2;
  }
  base = std::min(base, p.max_delay_ms);
  if (base <= 1) return base;
  // "Equal jitter" from the run's seed: half fixed, half random, the same on every replay.
  std::uint64_t h = splitmix64(options_.seed ^ fnv1a(step.path) ^ (static_cast<std::uint64_t>(item + 1) << 32) ^
                               static_cast<std::uint64_t>(attempt));
  std::int64_t half = base / 2;
  return half + static_cast<std::int64_t>(h % static_cast<std::uint64_t>(base - half + 1));
}

// ---------------------------------------------------------------- decisions

void RunState::decide(StepInst& step) {
  if (step.scope->dead || step.status != StepStatus::kPending) return;
  const StepDef& d = *step.def;
  if (d.when) {
    auto r = evaluate(*d.when, *step.scope, nullptr, -1);
    if (!r) {
      Error err = r.error();
      err.message = "when: " + err.message;
      Event f = make(EventType::kStepFailed, &step);
      f.data = {{"error", error_json(err)}};
      emit(std::move(f));
      return;
    }
    if (!is_truthy(*r)) {
      Event k = make(EventType::kStepSkipped, &step);
      k.data = {{"reason", "when"}};
      emit(std::move(k));
      return;
    }
  } else {
    for (int n : d.need_index) {
      const StepInst& need = step.scope->steps[static_cast<std::size_t>(n)];
      if (need.status == StepStatus::kSkipped || need.status == StepStatus::kFailed) {
        Event k = make(EventType::kStepSkipped, &step);
        k.data = {{"reason", "upstream"}, {"need", need.def->id}};
        emit(std::move(k));
        return;
      }
    }
  }
  if (d.foreach) {
    auto r = evaluate(*d.foreach, *step.scope, nullptr, -1);
    Error err;
    if (!r) {
      err = r.error();
    } else if (!r->is_array()) {
      err = make_error(ErrorCode::kTemplateEval,
                       "foreach must give a list, got " + (r->is_null() ? std::string("null") : r->dump().substr(0, 60)));
    }
    if (err.code != ErrorCode::kOk) {
      err.message = err.message.rfind("foreach", 0) == 0 ? err.message : "foreach: " + err.message;
      Event f = make(EventType::kStepFailed, &step);
      f.data = {{"error", error_json(err)}};
      emit(std::move(f));
      return;
    }
    std::size_t n = r->size();
    pending_items_ = std::move(*r);
    have_pending_items_ = true;
    Event sch = make(EventType::kStepScheduled, &step);
    sch.data = {{"items", n}};
    emit(std::move(sch));
    return;
  }
  emit(make(EventType::kStepScheduled, &step));
  if (d.loop) {
    Event it = make(EventType::kLoopIteration, &step);
    it.data = {{"iteration", 0}};
    emit(std::move(it));
  }
}

namespace {
// Adds a model call's {usage, cost_usd} (when it has one) to an event's data.
void add_spend(Json* data, const Json& spend) {
  if (!spend.is_object()) return;
  for (auto it = spend.begin(); it != spend.end(); ++it) (*data)[it.key()] = it.value();
}
}  // namespace

void RunState::item_failed_final(ItemRef ref, const Error& error, const Json& spend) {
  StepInst& s = *ref.step;
  Event f = make(EventType::kStepFailed, &s, ref.item);
  f.attempt = ref.get().attempt;
  f.data = {{"error", error_json(error)}};
  add_spend(&f.data, spend);
  emit(std::move(f));
}

const RetryPolicy& RunState::retry_policy(const StepInst& step) const {
  // A model call without its own `retry:` rides out rate limits and overloads.
  static const RetryPolicy kModelDefault{3, RetryPolicy::Backoff::kExponential, 1000, 30000};
  if (step.agent && step.agent->calls_model && !step.def->key_pos.count("retry")) return kModelDefault;
  return step.def->retry;
}

void RunState::attempt_failed(ItemRef ref, const Error& error, std::int64_t retry_after, const Json& spend) {
  StepInst& s = *ref.step;
  Item& it = ref.get();
  int made = it.attempt - it.attempt_base;  // attempts on the current model
  if (is_retryable(error.code) && made < retry_policy(s).max_attempts && !s.scope->dead) {
    std::int64_t delay = retry_after >= 0 ? retry_after : retry_delay(s, ref.item, made);
    Event r = make(EventType::kStepRetrying, &s, ref.item);
    r.attempt = it.attempt;
    r.data = {{"error", error_json(error)}, {"delay_ms", delay}, {"at", now_ + delay}};
    add_spend(&r.data, spend);
    emit(std::move(r));
    return;
  }
  bool can_fall_back = s.agent && s.agent->calls_model && !s.scope->dead &&
                       it.model_index + 1 < static_cast<int>(it.model_chain.size()) &&
                       error.code != ErrorCode::kCancelled && error.code != ErrorCode::kBudgetExceeded;
  if (can_fall_back) {
    Event r = make(EventType::kStepRetrying, &s, ref.item);
    r.attempt = it.attempt;
    r.data = {{"error", error_json(error)},
              {"delay_ms", 0},
              {"at", now_},
              {"fallback", it.model_chain[static_cast<std::size_t>(it.model_index + 1)]}};
    add_spend(&r.data, spend);
    emit(std::move(r));
    return;
  }
  item_failed_final(ref, error, spend);
}

std::string RunState::cache_key(const StepInst& s, std::string_view identity, const Json& args) const {
  if (!s.agent->cacheable || !s.def->cache) return "";
  return detail::hash_hex(s.agent->name + "\n" + s.agent->version + "\n" + std::string(identity) +
                          args.dump(-1, ' ', false, Json::error_handler_t::replace));
}

Effect RunState::effect_for(ItemRef ref, int attempt) const {
  const StepInst& s = *ref.step;
  Effect ef;
  ef.agent = s.agent->name;
  ef.step = s.path;
  ef.item = s.fanout ? ref.item : -1;
  ef.attempt = attempt;
  ef.pool = ref.get().pool;
  return ef;
}

void RunState::begin_cache_lookup(ItemRef ref, Effect ef) {
  Item& it = ref.get();
  ef.id = next_effect_++;
  ef.kind = Effect::Kind::kCacheLookup;
  it.status = ItemStatus::kCacheLookup;
  it.effect = ef.id;
  it.cache_key = ef.cache_key;
  in_flight_[ef.id] = InFlight{ref, true, 0};
  out_effects_.push_back(std::move(ef));
}

void RunState::start_item(ItemRef ref) {
  StepInst& s = *ref.step;
  Item& it = ref.get();
  auto args = evaluate_with(s, ref.item);
  if (!args) {
    item_failed_final(ref, args.error());
    return;
  }
  // Constant arguments were checked when the workflow was loaded.
  if (s.agent->kind != AgentKind::kWorkflow && !s.def->with.is_constant()) {
    Status st = check_agent_args(*s.agent, *args);
    if (st.code != ErrorCode::kOk) {
      item_failed_final(ref, st);
      return;
    }
  }
  const int attempt = it.attempt + 1;
  switch (s.agent->kind) {
    case AgentKind::kPure: {
      Event started = make(EventType::kStepStarted, &s, ref.item);
      started.attempt = attempt;
      emit(std::move(started));
      Result<Json> out = make_error(ErrorCode::kAgentFailed, "");
      try {
        out = s.agent->run(*args);
      } catch (const std::exception& ex) {
        out = make_error(ErrorCode::kAgentFailed, std::string(s.agent->name) + " failed: " + ex.what());
      }
      if (out) {
        Event ok = make(EventType::kStepSucceeded, &s, ref.item);
        ok.attempt = attempt;
        ok.data = Json::object();
        ok.data["output"] = std::move(*out);
        emit(std::move(ok));
      } else {
        Error err = out.error();
        if (err.code == ErrorCode::kOk) err.code = ErrorCode::kAgentFailed;
        item_failed_final(ref, err);
      }
      return;
    }
    case AgentKind::kWorkflow: {
      std::string name = args->value("workflow", "");
      auto callee = library_ ? library_->find(name) : nullptr;
      if (!callee) {
        item_failed_final(ref, make_error(ErrorCode::kUnknownWorkflow, "workflow '" + name + "' is not in the library"));
        return;
      }
      auto bound = bind_inputs(*callee, args->value("inputs", Json::object()));
      if (!bound) {
        Error err = bound.error();
        err.message = "calling '" + name + "': " + err.message;
        item_failed_final(ref, err);
        return;
      }
      Event started = make(EventType::kStepStarted, &s, ref.item);
      started.attempt = attempt;
      started.data = {{"workflow", name}, {"inputs", std::move(*bound)}};
      emit(std::move(started));
      return;
    }
    case AgentKind::kEffect: {
      if (s.agent->calls_model) {
        start_model_call(ref, std::move(*args), attempt);
        return;
      }
      std::string key = cache_key(s, "", *args);
      Effect ef = effect_for(ref, attempt);
      ef.cache_key = key;
      if (options_.use_cache && !key.empty() && !it.cache_checked) {
        begin_cache_lookup(ref, std::move(ef));
        return;
      }
      ef.id = next_effect_++;
      ef.kind = Effect::Kind::kAgent;
      Event started = make(EventType::kStepStarted, &s, ref.item);
      started.attempt = attempt;
      started.effect = ef.id;
      if (!key.empty()) started.data = {{"cache_key", key}};
      emit(std::move(started));
      if (s.def->timeout_ms > 0) ef.deadline_ms = now_ + s.def->timeout_ms;
      ef.args = std::move(*args);
      out_effects_.push_back(std::move(ef));
      if (s.agent->pauses && status_ != RunStatus::kPaused) {
        // The waiting step is the event's own `step`, so the log reads the same after a round trip.
        emit(make(EventType::kRunPaused, &s, -1));
      }
      return;
    }
  }
}

bool RunState::start_effect_if_possible() {
  if (max_concurrency_ > 0 && running_total_ >= max_concurrency_) {
    // Only steps that wait for a person may still start: they hold no slot.
    bool any_pausing = false;
    for (auto& [pool, q] : pool_queues_) {
      if (!q.empty() && q.front().second.step->agent->pauses) any_pausing = true;
    }
    if (!any_pausing) return false;
  }
  std::deque<std::pair<std::uint64_t, ItemRef>>* best = nullptr;
  for (auto& [pool, q] : pool_queues_) {
    while (!q.empty()) {
      const ItemRef& r = q.front().second;
      if (r.get().status == ItemStatus::kWaiting && !r.step->scope->dead && !terminal(r.step->status)) break;
      q.pop_front();
    }
    if (q.empty()) continue;
    int limit = pool_limit(pool);
    if (limit > 0 && running_by_pool_[pool] >= limit) continue;
    bool pausing = q.front().second.step->agent->pauses;
    if (!pausing && max_concurrency_ > 0 && running_total_ >= max_concurrency_) continue;
    if (!best || q.front().first < best->front().first) best = &q;
  }
  if (!best) return false;
  ItemRef ref = best->front().second;
  best->pop_front();
  start_item(ref);
  return true;
}

void RunState::finish_run_failed(const Error& error, const std::string& step) {
  cancel_all_in_flight();
  Event f = make(EventType::kRunFailed);
  f.step = step;  // the step whose failure failed the run ("" for a failing output)
  f.data = {{"error", error_json(error)}};
  emit(std::move(f));
}

void RunState::collect_effects(const StepInst& step, std::vector<std::uint64_t>* ids) const {
  for (const auto& it : step.items) {
    if (it.effect && in_flight_.count(it.effect)) ids->push_back(it.effect);
    if (it.child) collect_effects(*it.child, ids);
  }
  for (const auto& iter : step.iterations) collect_effects(*iter, ids);
}

void RunState::collect_effects(const Scope& scope, std::vector<std::uint64_t>* ids) const {
  for (const auto& st : scope.steps) collect_effects(st, ids);
}

void RunState::fail_scope_owner(Scope& sc) {
  StepInst& owner = *sc.owner;
  // Whatever still runs in the failed scope, however deep, is cancelled.
  std::vector<std::uint64_t> ids;
  collect_effects(sc, &ids);
  cancel_effects(std::move(ids));
  Error err = sc.failure;
  err.message = "step '" + sc.failed_step + "' failed: " + err.message;
  if (owner.def->loop) {
    Event f = make(EventType::kStepFailed, &owner);
    f.data = {{"error", error_json(err)}};
    emit(std::move(f));
  } else {
    item_failed_final(ItemRef{&owner, sc.owner_item}, err);
  }
}

void RunState::finalize(const Pending& p) {
  switch (p.kind) {
    case Pending::kFanoutDone: {
      StepInst& s = *p.step;
      if (terminal(s.status) || s.scope->dead) return;
      if (s.items_failed > 0 && (s.def->on_error == OnError::kFail || s.items_done == static_cast<int>(s.items.size()))) {
        std::vector<std::uint64_t> ids;
        collect_effects(s, &ids);
        cancel_effects(std::move(ids));
        const Item* first = nullptr;
        int first_index = 0;
        for (std::size_t i = 0; i < s.items.size(); ++i) {
          if (s.items[i].status == ItemStatus::kFailed) {
            first = &s.items[i];
            first_index = static_cast<int>(i);
            break;
          }
        }
        Error err = first ? first->error : make_error(ErrorCode::kAgentFailed, "an item failed");
        err.message = std::to_string(s.items_failed) + " of " + std::to_string(s.items.size()) +
                      " items failed; item " + std::to_string(first_index) + ": " + err.message;
        Event f = make(EventType::kStepFailed, &s);
        f.data = {{"error", error_json(err)}};
        emit(std::move(f));
        return;
      }
      if (s.items_done == static_cast<int>(s.items.size())) {
        Event ok = make(EventType::kStepSucceeded, &s);
        ok.data = {{"items", s.items.size()}};
        emit(std::move(ok));
      }
      return;
    }
    case Pending::kScopeFailed: {
      Scope& sc = *p.scope;
      if (finished()) return;
      if (!sc.owner) {
        finish_run_failed(sc.failure, sc.failed_step);
        return;
      }
      if (sc.dead || terminal(sc.owner->status)) return;
      fail_scope_owner(sc);
      return;
    }
    case Pending::kScopeDone: {
      Scope& sc = *p.scope;
      if (finished() || sc.dead) return;
      if (!sc.owner) {
        auto outs = evaluate_outputs(sc, workflow_->outputs);
        if (!outs) {
          finish_run_failed(outs.error(), "");
          return;
        }
        Event ok = make(EventType::kRunSucceeded);
        ok.data = {{"outputs", std::move(*outs)}};
        emit(std::move(ok));
        return;
      }
      StepInst& owner = *sc.owner;
      if (terminal(owner.status)) return;
      if (sc.is_loop) {
        const LoopDef& loop = *owner.def->loop;
        int k = sc.owner_item;
        if (k + 1 != static_cast<int>(owner.iterations.size())) return;  // already moved on
        bool done = false;
        if (loop.until) {
          auto r = evaluate(*loop.until, sc, nullptr, -1);
          if (!r) {
            Error err = r.error();
            err.message = "until: " + err.message;
            Event f = make(EventType::kStepFailed, &owner);
            f.data = {{"error", error_json(err)}};
            emit(std::move(f));
            return;
          }
          done = is_truthy(*r);
        }
        if (!done && k + 1 < loop.max_iterations) {
          Event it = make(EventType::kLoopIteration, &owner);
          it.data = {{"iteration", k + 1}};
          emit(std::move(it));
          return;
        }
        Json last = Json::object();
        for (const auto& st : sc.steps) last[st.def->id] = view_of(st).value("output", Json());
        Event ok = make(EventType::kStepSucceeded, &owner);
        ok.data = {{"output", {{"iterations", k + 1}, {"converged", done}, {"last", std::move(last)}}}};
        emit(std::move(ok));
        return;
      }
      // A workflow call finished: its outputs are the step's (or the item's) output.
      Item& it = owner.items[static_cast<std::size_t>(sc.owner_item)];
      if (item_terminal(it.status)) return;
      auto outs = evaluate_outputs(sc, sc.workflow->outputs);
      if (!outs) {
        item_failed_final(ItemRef{&owner, sc.owner_item}, outs.error());
        return;
      }
      Event ok = make(EventType::kStepSucceeded, &owner, sc.owner_item);
      ok.attempt = it.attempt;
      ok.data = Json::object();
      ok.data["output"] = std::move(*outs);
      emit(std::move(ok));
      return;
    }
  }
}

// ---------------------------------------------------------------- driving

std::vector<Effect> RunState::poll(std::int64_t now) {
  now_ = std::max(now_, now);
  while (!finished() && !timers_.empty() && timers_.top().at <= now_) {
    Timer t = timers_.top();
    timers_.pop();
    if (t.kind == Timer::kTimeout) {
      auto f = in_flight_.find(t.effect);
      if (f == in_flight_.end() || f->second.cache_lookup || f->second.deadline != t.at) continue;
      ItemRef ref = f->second.ref;
      cancel_effects({t.effect});
      Error err = make_error(ErrorCode::kTimeout,
                             "attempt " + std::to_string(ref.get().attempt) + " timed out after " +
                                 std::to_string(ref.step->def->timeout_ms) + " ms",
                             "raise the step's timeout, or add retry");
      attempt_failed(ref, err, -1);
    } else if (t.kind == Timer::kRetry) {
      Item& it = t.ref.get();
      if (it.status == ItemStatus::kRetryWait && it.retry_at == t.at && !t.ref.step->scope->dead) {
        it.status = ItemStatus::kWaiting;
        enqueue_item(t.ref);
      }
    } else {
      Item& it = t.ref.get();
      if (it.status == ItemStatus::kGateWait && !t.ref.step->scope->dead && !terminal(t.ref.step->status)) {
        it.status = ItemStatus::kWaiting;
        enqueue_item(t.ref);
      }
    }
  }
  int budget = options_.max_work_per_poll > 0 ? options_.max_work_per_poll : 1;
  while (!finished() && budget > 0) {
    if (!pending_.empty()) {
      Pending p = pending_.front();
      pending_.pop_front();
      finalize(p);
      --budget;
      continue;
    }
    if (!ready_.empty()) {
      StepInst* s = ready_.front();
      ready_.pop_front();
      decide(*s);
      --budget;
      continue;
    }
    if (!pure_queue_.empty()) {
      ItemRef r = pure_queue_.front();
      pure_queue_.pop_front();
      if (r.get().status == ItemStatus::kWaiting && !r.step->scope->dead && !terminal(r.step->status)) {
        start_item(r);
        --budget;
      }
      continue;
    }
    if (start_effect_if_possible()) {
      --budget;
      continue;
    }
    break;
  }
  // Out of budget with work left (effects waiting for a slot count too): the host polls again.
  stopped_on_budget_ = budget == 0 && !finished();
  std::vector<Effect> out;
  out.swap(out_effects_);
  out_effects_.reserve(std::min<std::size_t>(out.size(), 4096));
  return out;
}

Status RunState::resolve(std::uint64_t id, const EffectResult& r, std::int64_t now) {
  now_ = std::max(now_, now);
  auto f = in_flight_.find(id);
  if (f == in_flight_.end()) {
    return make_error(ErrorCode::kUnknownEffect, "effect " + std::to_string(id) + " is not in flight",
                      finished() ? "the run has finished" : "it was resolved, cancelled or timed out already");
  }
  InFlight fl = f->second;
  ItemRef ref = fl.ref;
  Item& it = ref.get();
  if (fl.cache_lookup) {
    in_flight_.erase(f);
    it.effect = 0;
    if (r.ok && r.output.is_object() && r.output.value("hit", false) && r.output.contains("output")) {
      Event ok = make(EventType::kStepSucceeded, ref.step, ref.item);
      ok.data = {{"output", r.output["output"]}, {"cached", true}, {"cache_key", it.cache_key}};
      emit(std::move(ok));
    } else {
      it.cache_checked = true;
      it.status = ItemStatus::kWaiting;
      enqueue_item(ref);
    }
    return {};
  }
  auto dec = decoders_.find(id);
  if (dec != decoders_.end()) {
    llm::ResponseDecoder decoder = std::move(dec->second);
    decoders_.erase(dec);
    resolve_model_call(ref, id, std::move(decoder), r);
    return {};
  }
  bool pausing = ref.step->agent && ref.step->agent->pauses;
  if (r.ok) {
    Event ok = make(EventType::kStepSucceeded, ref.step, ref.item);
    ok.attempt = it.attempt;
    ok.effect = id;
    ok.data = Json::object();
    ok.data["output"] = r.output;
    if (!it.cache_key.empty()) ok.data["cache_key"] = it.cache_key;
    emit(std::move(ok));
  } else {
    Error err = r.error;
    if (err.code == ErrorCode::kOk) err.code = ErrorCode::kHostError;
    attempt_failed(ref, err, r.retry_after_ms);
  }
  if (pausing && paused_count_ == 0 && status_ == RunStatus::kPaused) emit(make(EventType::kRunResumed));
  return {};
}

Status RunState::feed(std::uint64_t id, std::string_view chunk, std::int64_t now) {
  now_ = std::max(now_, now);
  auto f = in_flight_.find(id);
  if (f == in_flight_.end() || f->second.cache_lookup) {
    return make_error(ErrorCode::kUnknownEffect, "effect " + std::to_string(id) + " is not in flight");
  }
  std::string text;
  auto dec = decoders_.find(id);
  if (dec != decoders_.end()) {
    text = dec->second.feed(chunk);  // response bytes: the decoder finds the text in them
    if (text.empty()) return {};
  } else {
    text = valid_utf8(chunk);
  }
  emit_delta(f->second.ref, id, std::move(text));
  return {};
}

void RunState::emit_delta(ItemRef ref, std::uint64_t effect, std::string text) {
  Event d = make(EventType::kStepOutputDelta, ref.step, ref.item);
  d.attempt = ref.get().attempt;
  d.effect = effect;
  d.data = {{"delta", std::move(text)}};
  emit(std::move(d));
}

Status RunState::cancel(std::int64_t now, std::string_view reason) {
  now_ = std::max(now_, now);
  if (finished()) {
    return make_error(ErrorCode::kInvalidState, "the run has already " + std::string(run_status_name(status_)));
  }
  cancel_all_in_flight();
  Event c = make(EventType::kRunCancelled);
  c.data = {{"reason", std::string(reason)}};
  emit(std::move(c));
  return {};
}

void RunState::after_restore() {
  // Attempts in flight when the log ended were lost with the host: start them again.
  std::vector<std::pair<std::uint64_t, ItemRef>> lost;
  for (const auto& kv : in_flight_) lost.push_back({kv.first, kv.second.ref});
  std::sort(lost.begin(), lost.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  in_flight_.clear();
  running_total_ = 0;
  paused_count_ = 0;
  running_by_pool_.clear();
  for (auto& [id, ref] : lost) release_gate(ref.get());  // the lost calls hold no slot or budget
  decoders_.clear();
  // A loop step logged as scheduled whose first iteration was not: begin it now.
  std::vector<StepInst*> unstarted_loops;  // collected first: emitting adds steps to all_steps_
  for (StepInst* s : all_steps_) {
    if (s->def->loop && s->status == StepStatus::kScheduled && s->iterations.empty() && !s->scope->dead) {
      unstarted_loops.push_back(s);
    }
  }
  for (StepInst* s : unstarted_loops) {
    Event it = make(EventType::kLoopIteration, s);
    it.data = {{"iteration", 0}};
    emit(std::move(it));
  }
  // Pure steps logged as started but not finished: the engine was stopped mid-step.
  for (StepInst* s : all_steps_) {
    if (!s->agent || s->agent->kind != AgentKind::kPure || s->scope->dead) continue;
    for (std::size_t i = 0; i < s->items.size(); ++i) {
      if (s->items[i].status == ItemStatus::kRunning) lost.push_back({0, ItemRef{s, static_cast<int>(i)}});
    }
  }
  for (auto& [id, ref] : lost) {
    Item& it = ref.get();
    it.effect = 0;
    it.status = ItemStatus::kWaiting;
    it.attempt = std::max(0, it.attempt - 1);  // the lost attempt is made again under its number
    it.partial.clear();
    enqueue_item(ref);
  }
}

Json RunState::snapshot() const {
  Json steps = Json::array();
  for (const StepInst* s : all_steps_) {
    Json j = {{"path", s->path}, {"status", step_status_name(s->status)}};
    if (s->def->loop) j["iterations"] = s->iterations.size();
    if (s->fanout) {
      j["items"] = s->items.size();
      j["items_done"] = s->items_done;
      j["items_failed"] = s->items_failed;
    }
    int attempts = 0;
    bool cached = !s->items.empty();
    std::string partial;
    for (const auto& it : s->items) {
      attempts = std::max(attempts, it.attempt);
      cached = cached && it.cached;
      if (!it.partial.empty()) partial += it.partial;
    }
    if (attempts) j["attempts"] = attempts;
    if (cached && terminal(s->status)) j["cached"] = true;
    if (!partial.empty()) j["partial"] = partial;
    if (s->view.is_object() && s->view.contains("output") && !s->view["output"].is_null()) j["output"] = s->view["output"];
    if (s->error.code != ErrorCode::kOk) j["error"] = error_json(s->error);
    if (!s->model.empty()) j["model"] = s->model;
    if (s->spend.any) add_spend(&j, s->spend.to_json());
    if (s->scheduled_at >= 0) j["scheduled_at"] = s->scheduled_at;
    if (s->started_at >= 0) j["started_at"] = s->started_at;
    if (s->finished_at >= 0) j["finished_at"] = s->finished_at;
    steps.push_back(std::move(j));
  }
  Json out = {{"workflow", workflow_->name}, {"run_id", options_.run_id},
              {"status", run_status_name(status_)}, {"steps", std::move(steps)}};
  if (spent_.any) add_spend(&out, spent_.to_json());
  if (budget_.max_cost_usd > 0 || budget_.max_tokens > 0) {
    out["budget"] = Json::object();
    if (budget_.max_cost_usd > 0) out["budget"]["max_cost_usd"] = budget_.max_cost_usd;
    if (budget_.max_tokens > 0) out["budget"]["max_tokens"] = budget_.max_tokens;
  }
  if (status_ == RunStatus::kSucceeded) out["outputs"] = outputs_;
  if (failure_.code != ErrorCode::kOk) out["error"] = error_json(failure_);
  return out;
}

// ---------------------------------------------------------------- Run: the public face

Run::Run(std::unique_ptr<RunState> state) : state_(std::move(state)) {}
Run::~Run() = default;
Run::Run(Run&&) noexcept = default;
Run& Run::operator=(Run&&) noexcept = default;

namespace {
// Before a run starts: a workflow that calls models needs a model pool, and the model names it
// writes out (not templated ones, which are checked when the call is made) must be in it.
void check_models(const Workflow& wf, const std::vector<StepDef>& steps, const AgentRegistry& agents,
                  const llm::ModelPool* pool, std::vector<Error>* errors) {
  for (const StepDef& d : steps) {
    if (d.loop) check_models(wf, d.loop->steps, agents, pool, errors);
    const AgentSpec* agent = d.agent.empty() ? nullptr : agents.find(d.agent);
    if (!agent || !agent->calls_model) continue;
    SourcePos pos = d.key_pos.count("with") ? d.key_pos.at("with") : d.pos;
    auto add = [&](std::string message, std::string hint) {
      Error e = make_error(ErrorCode::kBadArgument, std::move(message), std::move(hint));
      e.file = wf.file;
      e.line = pos.line;
      e.column = pos.column;
      errors->push_back(std::move(e));
    };
    if (!pool) {
      add("step '" + d.id + "' calls a model, and no models file was given",
          "natively: loom run --models workflows/models/default.yaml (or set LOOM_MODELS); in the studio: Settings > Models");
      return;  // once is enough
    }
    const Json& with = d.with.raw;
    bool templated = std::any_of(d.with.templates.begin(), d.with.templates.end(),
                                 [](const auto& t) { return t.first == "/model" || t.first.empty(); });
    if (templated) continue;
    std::string name = with.is_object() && with.contains("model") && with["model"].is_string()
                           ? with["model"].get<std::string>()
                           : pool->default_model();
    std::string where = pool->file().empty() ? "the model pool" : "the models file " + pool->file();
    if (name.empty()) {
      add("step '" + d.id + "' names no model, and " + where + " sets no default",
          "add model: NAME under with:, or default: NAME to the models file");
    } else if (!pool->find(name)) {
      std::string near = nearest(name, pool->names());
      std::string all;
      for (const auto& n : pool->names()) all += (all.empty() ? "" : ", ") + n;
      add("step '" + d.id + "' names model '" + name + "', which is not in " + where,
          near.empty() ? "its models are: " + all : "did you mean '" + near + "'?");
    }
  }
}

void configure_limits(RunState& st, const Workflow& wf, const RunOptions& opts) {
  st.max_concurrency_ = opts.max_concurrency;
  if (wf.max_concurrency > 0 && (st.max_concurrency_ == 0 || wf.max_concurrency < st.max_concurrency_)) {
    st.max_concurrency_ = wf.max_concurrency;
  }
  st.pool_limits_ = wf.pool_limits;
  for (const auto& kv : opts.pool_limits) st.pool_limits_[kv.first] = kv.second;
  auto stricter = [](auto a, auto b) { return a > 0 && (b <= 0 || a < b) ? a : b; };
  st.budget_.max_cost_usd = stricter(opts.budget.max_cost_usd, wf.budget_cost_usd);
  st.budget_.max_tokens = stricter(opts.budget.max_tokens, wf.budget_tokens);
}
}  // namespace

Result<std::unique_ptr<Run>> Run::start(std::shared_ptr<const Workflow> workflow, const Json& inputs,
                                        const RunOptions& options, std::int64_t now, const AgentRegistry& agents,
                                        const WorkflowLibrary* library, std::vector<Error>* errors) {
  if (!workflow) return make_error(ErrorCode::kBadArgument, "no workflow given");
  auto bound = bind_inputs(*workflow, inputs, errors);
  if (!bound) return bound.error();
  std::vector<Error> model_errors;
  check_models(*workflow, workflow->steps, agents, options.models.get(), &model_errors);
  if (!model_errors.empty()) {
    if (errors) *errors = model_errors;
    return model_errors.front();
  }
  auto st = std::make_unique<RunState>(workflow, agents, library);
  st->options_ = options;
  configure_limits(*st, *workflow, options);
  st->now_ = now;
  Event e;
  e.type = EventType::kRunStarted;
  e.data = {{"workflow", workflow->name},
            {"version", workflow->version()},
            {"run_id", options.run_id},
            {"inputs", std::move(*bound)},
            {"seed", options.seed}};
  st->emit(std::move(e));
  return std::unique_ptr<Run>(new Run(std::move(st)));
}

Result<std::unique_ptr<Run>> Run::restore(std::shared_ptr<const Workflow> workflow, const std::vector<Event>& events,
                                          const AgentRegistry& agents, const WorkflowLibrary* library,
                                          const RunOptions* overrides) {
  if (!workflow) return make_error(ErrorCode::kBadArgument, "no workflow given");
  if (events.empty() || events.front().type != EventType::kRunStarted) {
    return make_error(ErrorCode::kBadEventLog, "the run log does not begin with run_started",
                      "give the whole log of the run, from its first line");
  }
  const Json& d = events.front().data;
  std::string name = d.is_object() ? d.value("workflow", "") : "";
  std::string version = d.is_object() ? d.value("version", "") : "";
  if (name != workflow->name) {
    return make_error(ErrorCode::kBadEventLog, "the log is of workflow '" + name + "', not '" + workflow->name + "'");
  }
  if (version != workflow->version()) {
    return make_error(ErrorCode::kBadEventLog, "workflow '" + name + "' changed since this run started",
                      "resume with the workflow file as it was, or start a new run (the step cache keeps finished work)");
  }
  auto st = std::make_unique<RunState>(workflow, agents, library);
  RunOptions opts = overrides ? *overrides : RunOptions{};
  st->options_ = opts;
  configure_limits(*st, *workflow, opts);
  std::uint64_t expect = 1;
  for (const Event& e : events) {
    if (e.seq != expect) {
      return make_error(ErrorCode::kBadEventLog,
                        "event " + std::to_string(e.seq) + " follows " + std::to_string(expect - 1),
                        "the log has a gap or repeats; it was damaged");
    }
    ++expect;
    if (st->status_ == RunStatus::kSucceeded || st->status_ == RunStatus::kFailed ||
        st->status_ == RunStatus::kCancelled) {
      return make_error(ErrorCode::kBadEventLog, "events after the run ended");
    }
    Status s;
    try {
      s = st->apply(e);
    } catch (const std::exception& ex) {
      // A field of the wrong type (the log was edited): the log, not the engine, is at fault.
      s = make_error(ErrorCode::kBadEventLog, "event " + std::to_string(e.seq) + " is malformed: " + ex.what(),
                     "the log was edited or damaged");
    }
    if (s.code != ErrorCode::kOk) return s;
  }
  st->next_seq_ = expect;
  if (overrides) st->options_.max_work_per_poll = overrides->max_work_per_poll;
  st->after_restore();
  return std::unique_ptr<Run>(new Run(std::move(st)));
}

std::vector<Effect> Run::poll(std::int64_t now) { return state_->poll(now); }
Status Run::resolve(std::uint64_t id, const EffectResult& r, std::int64_t now) { return state_->resolve(id, r, now); }
Status Run::feed(std::uint64_t id, std::string_view chunk, std::int64_t now) { return state_->feed(id, chunk, now); }
Status Run::cancel(std::int64_t now, std::string_view reason) { return state_->cancel(now, reason); }

std::vector<Event> Run::take_events() {
  std::vector<Event> out;
  out.swap(state_->pending_events_);
  state_->pending_events_.reserve(std::min<std::size_t>(out.size(), 4096));  // the next batch is alike
  return out;
}

std::optional<std::int64_t> Run::next_wakeup() const {
  if (state_->finished() || state_->timers_.empty()) return std::nullopt;
  return state_->timers_.top().at;
}

bool Run::has_ready_work() const {
  const RunState& s = *state_;
  return !s.finished() && (s.stopped_on_budget_ || !s.pending_.empty() || !s.ready_.empty() || !s.pure_queue_.empty());
}

std::size_t Run::in_flight() const { return state_->in_flight_.size(); }
RunStatus Run::status() const { return state_->status_; }
bool Run::finished() const {
  RunStatus s = state_->status_;
  return s == RunStatus::kSucceeded || s == RunStatus::kFailed || s == RunStatus::kCancelled;
}
const Json& Run::outputs() const { return state_->outputs_; }
const Error& Run::failure() const { return state_->failure_; }
Json Run::snapshot() const { return state_->snapshot(); }

}  // namespace loom
