// Model calls: llm.generate steps become http effects for a model of the pool. The run keeps
// each model's gate (concurrency and token-bucket rate limits, driven by `now`), the budget
// (a call whose worst case would pass it is refused before it starts), fallbacks, and the
// tokens and cost of every step and of the run.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "run/run_state.hpp"

namespace loom {
namespace {

// Assumed answer length for budgets and token limits when neither the call nor the model
// sets max_tokens.
constexpr std::int64_t kAssumedOutputTokens = 4096;

std::string dollars(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, v < 0.01 ? "$%.4f" : "$%.2f", v);
  return buf;
}

std::string list_of(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

std::int64_t count_of(const Json& usage, const char* key) {
  auto it = usage.find(key);
  return it != usage.end() && it->is_number() ? std::max<std::int64_t>(0, it->get<std::int64_t>()) : 0;
}

}  // namespace

// ---------------------------------------------------------------- spend and buckets

void Spend::add(const Json& usage, double cost) {
  if (!usage.is_object()) return;
  input_tokens += count_of(usage, "input_tokens");
  output_tokens += count_of(usage, "output_tokens");
  cost_usd += cost;
  any = true;
}

Json Spend::to_json() const {
  return {{"usage", {{"input_tokens", input_tokens}, {"output_tokens", output_tokens}}}, {"cost_usd", cost_usd}};
}

void TokenBucket::refill(std::int64_t now) {
  if (!started) {
    started = true;
    level = capacity;
    at = now;
    return;
  }
  if (now > at) {
    level = std::min(capacity, level + static_cast<double>(now - at) * per_ms);
    at = now;
  }
}

std::int64_t TokenBucket::wait_for(double n, std::int64_t now) {
  if (capacity <= 0) return 0;
  refill(now);
  n = std::min(n, capacity);
  if (level >= n) return 0;
  return static_cast<std::int64_t>(std::ceil((n - level) / per_ms));
}

void TokenBucket::take(double n, std::int64_t now) {
  if (capacity <= 0) return;
  refill(now);
  level = std::min(capacity, level - n);
}

// ---------------------------------------------------------------- gates and accounting

ModelGate& RunState::gate_for(const std::string& model) {
  auto [it, inserted] = gates_.try_emplace(model);
  if (inserted && options_.models) {
    if (const llm::ModelSpec* m = options_.models->find(model)) {
      it->second.requests.capacity = m->requests_per_minute;
      it->second.requests.per_ms = m->requests_per_minute / 60000.0;
      it->second.tokens.capacity = m->tokens_per_minute;
      it->second.tokens.per_ms = m->tokens_per_minute / 60000.0;
    }
  }
  return it->second;
}

void RunState::hold_gate(Item& it, const Event& started) {
  const Json& d = started.data;
  std::string model = d.is_object() ? d.value("model", "") : "";
  if (model.empty()) return;
  Json estimate = d.value("estimate", Json::object());
  std::int64_t in = estimate.value("input_tokens", static_cast<std::int64_t>(0));
  std::int64_t out = estimate.value("output_tokens", static_cast<std::int64_t>(0));
  double cost = estimate.value("cost_usd", 0.0);
  ModelGate& g = gate_for(model);
  ++g.running;
  g.requests.take(1, started.time_ms);
  g.tokens.take(static_cast<double>(in + out), started.time_ms);
  it.model = model;
  it.limited_tokens = in + out;
  it.estimated_input = in;
  it.reserved_tokens = in + out;
  it.reserved_cost = cost;
  reserved_tokens_ += in + out;
  reserved_cost_ += cost;
}

void RunState::release_gate(Item& it) {
  if (it.model.empty()) return;
  reserved_tokens_ = std::max<std::int64_t>(0, reserved_tokens_ - it.reserved_tokens);
  reserved_cost_ = std::max(0.0, reserved_cost_ - it.reserved_cost);
  it.reserved_tokens = 0;
  it.reserved_cost = 0;
  auto g = gates_.find(it.model);
  it.model.clear();
  if (g == gates_.end()) return;
  --g->second.running;
  // A slot is free: the longest-waiting call of this model may start.
  auto& waiting = g->second.waiting;
  while (!waiting.empty()) {
    ItemRef next = waiting.front();
    waiting.pop_front();
    Item& w = next.get();
    if (w.status == ItemStatus::kGateWait && !next.step->scope->dead && !terminal(next.step->status)) {
      w.status = ItemStatus::kWaiting;
      enqueue_item(next);
      break;
    }
  }
}

void RunState::account(StepInst& step, const Json& data, Item* item) {
  if (!data.is_object() || !data.contains("usage") || !data["usage"].is_object()) return;
  const Json& usage = data["usage"];
  double cost = data.value("cost_usd", 0.0);
  step.spend.add(usage, cost);
  spent_.add(usage, cost);
  if (item && !item->model.empty()) {
    // The bucket was charged the estimate when the call started; now the provider has counted.
    std::int64_t actual = count_of(usage, "input_tokens") + count_of(usage, "output_tokens");
    auto g = gates_.find(item->model);
    if (g != gates_.end()) g->second.tokens.take(static_cast<double>(actual - item->limited_tokens), now_);
    item->limited_tokens = actual;
  }
}

std::string RunState::budget_refusal(const llm::ModelSpec& m, std::int64_t input, std::int64_t output,
                                     double cost) const {
  std::string call = "a call to '" + m.name + "' (about " + std::to_string(input) + " prompt tokens + up to " +
                     std::to_string(output) + " answer tokens)";
  double committed = spent_.cost_usd + reserved_cost_;
  if (budget_.max_cost_usd > 0 && committed + cost > budget_.max_cost_usd * (1 + 1e-12)) {
    return call + " could cost " + dollars(cost) + "; the run has spent " + dollars(spent_.cost_usd) +
           (reserved_cost_ > 0 ? " (and " + dollars(reserved_cost_) + " is in flight)" : "") + " of its " +
           dollars(budget_.max_cost_usd) + " budget";
  }
  std::int64_t used = spent_.input_tokens + spent_.output_tokens + reserved_tokens_;
  if (budget_.max_tokens > 0 && used + input + output > budget_.max_tokens) {
    return call + " would pass the run's budget of " + std::to_string(budget_.max_tokens) + " tokens (" +
           std::to_string(used) + " used or in flight)";
  }
  return "";
}

// ---------------------------------------------------------------- the call

Result<const llm::ModelSpec*> RunState::model_for(Item& it, const Json& args) const {
  const llm::ModelPool* pool = options_.models.get();
  if (!pool) {
    return make_error(ErrorCode::kBadArgument, "llm.generate needs a models file, and this run has none",
                      "natively: loom run --models workflows/models/default.yaml; in the studio: Settings > Models");
  }
  std::string where = pool->file().empty() ? "the model pool" : "the models file " + pool->file();
  std::string name = args.contains("model") && args["model"].is_string() ? args["model"].get<std::string>()
                                                                          : pool->default_model();
  if (name.empty()) {
    return make_error(ErrorCode::kBadArgument, "the step names no model, and " + where + " sets no default",
                      "add model: NAME under the step's with:, or default: NAME to the models file");
  }
  const llm::ModelSpec* primary = pool->find(name);
  if (!primary) {
    std::string near = nearest(name, pool->names());
    return make_error(ErrorCode::kBadArgument, "model '" + name + "' is not in " + where,
                      near.empty() ? "its models are: " + list_of(pool->names()) : "did you mean '" + near + "'?");
  }
  it.model_chain.assign(1, name);
  for (const auto& f : primary->fallback) it.model_chain.push_back(f);
  std::size_t index = std::min<std::size_t>(static_cast<std::size_t>(std::max(0, it.model_index)), it.model_chain.size() - 1);
  const llm::ModelSpec* m = pool->find(it.model_chain[index]);
  if (!m) {
    return make_error(ErrorCode::kBadArgument, "fallback model '" + it.model_chain[index] + "' is not in " + where);
  }
  return m;
}

void RunState::start_model_call(ItemRef ref, Json args, int attempt) {
  StepInst& s = *ref.step;
  Item& it = ref.get();
  auto found = model_for(it, args);
  if (!found) {
    item_failed_final(ref, found.error());
    return;
  }
  const llm::ModelSpec& model = **found;
  auto call = llm::call_from_args(model, args);
  if (!call) {
    Error err = call.error();
    err.message = "llm.generate: " + err.message;
    item_failed_final(ref, err);
    return;
  }
  // The same arguments to the same provider model give the same answer, whatever its pool name.
  std::string key = cache_key(s, std::string(llm::provider_name(model.provider)) + "\n" + model.base_url + "\n" +
                                     model.model_id + "\n",
                              args);
  if (options_.use_cache && !key.empty() && !it.cache_checked) {
    Effect ef = effect_for(ref, attempt);
    ef.cache_key = key;
    begin_cache_lookup(ref, std::move(ef));
    return;
  }
  std::int64_t input = llm::estimate_tokens(*call);
  std::int64_t output = call->max_tokens ? *call->max_tokens : kAssumedOutputTokens;
  double cost = llm::cost_usd(model, llm::Usage{input, output});
  std::string refusal = budget_refusal(model, input, output, cost);
  if (!refusal.empty()) {
    item_failed_final(ref, make_error(ErrorCode::kBudgetExceeded, refusal,
                                      "raise the budget (budget: in the workflow, or --budget-usd / --budget-tokens), "
                                      "or lower max_tokens so the call fits"));
    return;
  }
  ModelGate& gate = gate_for(model.name);
  if (model.concurrency > 0 && gate.running >= model.concurrency) {
    it.status = ItemStatus::kGateWait;  // woken when a call of this model ends
    gate.waiting.push_back(ref);
    return;
  }
  std::int64_t wait = std::max(gate.requests.wait_for(1, now_), gate.tokens.wait_for(static_cast<double>(input + output), now_));
  if (wait > 0) {
    it.status = ItemStatus::kGateWait;  // a timer, never a sleep: the host polls again then
    timers_.push(Timer{now_ + wait, timer_order_++, Timer::kGate, 0, ref});
    return;
  }
  llm::HttpRequest request = llm::encode_request(model, *call);
  Effect ef = effect_for(ref, attempt);
  ef.id = next_effect_++;
  ef.kind = Effect::Kind::kHttp;
  ef.cache_key = key;
  Event started = make(EventType::kStepStarted, &s, ref.item);
  started.attempt = attempt;
  started.effect = ef.id;
  started.data = {{"model", model.name},
                  {"provider", llm::provider_name(model.provider)},
                  {"model_id", model.model_id},
                  {"estimate", {{"input_tokens", input}, {"output_tokens", output}, {"cost_usd", cost}}}};
  if (!key.empty()) started.data["cache_key"] = key;
  emit(std::move(started));
  if (s.def->timeout_ms > 0) ef.deadline_ms = now_ + s.def->timeout_ms;
  ef.args = llm::http_request_to_json(request);
  decoders_.emplace(ef.id, llm::ResponseDecoder(model.provider, request.stream, model.credential.name));
  out_effects_.push_back(std::move(ef));
}

void RunState::resolve_model_call(ItemRef ref, std::uint64_t id, llm::ResponseDecoder decoder, const EffectResult& r) {
  Item& it = ref.get();
  const llm::ModelSpec* model = options_.models ? options_.models->find(it.model) : nullptr;
  if (!r.ok) {  // the transfer itself failed: timeout, network, a missing key
    Error err = r.error;
    if (err.code == ErrorCode::kOk) err.code = ErrorCode::kHostError;
    attempt_failed(ref, err, r.retry_after_ms);
    return;
  }
  int status = r.output.is_object() && r.output.contains("status") && r.output["status"].is_number()
                   ? r.output["status"].get<int>()
                   : 0;
  Json headers = r.output.is_object() && r.output.contains("headers") && r.output["headers"].is_object()
                     ? r.output["headers"]
                     : Json::object();
  if (r.output.is_object() && r.output.contains("body") && r.output["body"].is_string()) {
    decoder.set_status(status);
    std::string text = decoder.feed(r.output["body"].get_ref<const std::string&>());
    if (!text.empty()) emit_delta(ref, id, std::move(text));
  }
  llm::ResponseDecoder::Outcome o = decoder.finish(status, headers);
  auto spend_of = [&](llm::Usage usage, bool estimated) {
    Json u = {{"input_tokens", std::max<std::int64_t>(0, usage.input_tokens)},
              {"output_tokens", std::max<std::int64_t>(0, usage.output_tokens)}};
    if (estimated) u["estimated"] = true;
    return Json{{"usage", std::move(u)}, {"cost_usd", model ? llm::cost_usd(*model, usage) : 0.0}};
  };
  if (!o.ok) {
    Json spend = o.failure.usage.known() ? spend_of(o.failure.usage, false) : Json();
    attempt_failed(ref, o.failure.error, o.failure.retry_after_ms, spend);
    return;
  }
  const llm::Completion& c = o.completion;
  llm::Usage usage = c.usage;
  bool estimated = false;
  if (usage.input_tokens < 0) {  // some servers do not count: the engine's estimate stands in
    usage.input_tokens = it.estimated_input;
    estimated = true;
  }
  if (usage.output_tokens < 0) {
    usage.output_tokens = llm::estimate_tokens(c.text);
    estimated = true;
  }
  Json spend = spend_of(usage, estimated);
  Json output = {{"text", c.text},
                 {"model", it.model},
                 {"model_id", model ? model->model_id : ""},
                 {"provider", model ? std::string(llm::provider_name(model->provider)) : ""},
                 {"finish_reason", llm::finish_reason_name(c.finish_reason)},
                 {"truncated", c.truncated},
                 {"usage", spend["usage"]},
                 {"cost_usd", spend["cost_usd"]}};
  if (!c.model.empty()) output["served_by"] = c.model;
  Event ok = make(EventType::kStepSucceeded, ref.step, ref.item);
  ok.attempt = it.attempt;
  ok.effect = id;
  ok.data = Json::object();
  ok.data["output"] = std::move(output);
  ok.data["usage"] = spend["usage"];
  ok.data["cost_usd"] = spend["cost_usd"];
  if (!it.cache_key.empty()) ok.data["cache_key"] = it.cache_key;
  emit(std::move(ok));
}

}  // namespace loom
