// The log format: events, effects and effect results to and from JSON.
#include <array>

#include "loom/run.hpp"

namespace loom {
namespace {

constexpr std::array<std::string_view, 14> kEventNames = {
    "run_started",    "step_scheduled", "step_started", "step_output_delta", "step_succeeded",
    "step_failed",    "step_retrying",  "step_skipped", "loop_iteration",    "run_paused",
    "run_resumed",    "run_succeeded",  "run_failed",   "run_cancelled"};

bool reserved_key(const std::string& k) {
  return k == "seq" || k == "type" || k == "t" || k == "step" || k == "item" || k == "attempt" ||
         k == "effect";
}

}  // namespace

std::string_view event_type_name(EventType type) {
  return kEventNames[static_cast<std::size_t>(type)];
}

std::string_view run_status_name(RunStatus status) {
  switch (status) {
    case RunStatus::kRunning: return "running";
    case RunStatus::kPaused: return "paused";
    case RunStatus::kSucceeded: return "succeeded";
    case RunStatus::kFailed: return "failed";
    case RunStatus::kCancelled: return "cancelled";
  }
  return "running";
}

Json event_to_json(const Event& e) {
  Json j = e.data.is_object() ? e.data : Json::object();
  j["seq"] = e.seq;
  j["type"] = event_type_name(e.type);
  j["t"] = e.time_ms;
  if (!e.step.empty()) j["step"] = e.step;
  if (e.item >= 0) j["item"] = e.item;
  if (e.attempt > 0) j["attempt"] = e.attempt;
  if (e.effect > 0) j["effect"] = e.effect;
  return j;
}

Result<Event> event_from_json(const Json& j) {
  auto bad = [&](const std::string& why) {
    return make_error(ErrorCode::kBadEventLog, "malformed event: " + why,
                      "the run log was damaged or written by another program");
  };
  if (!j.is_object()) return bad("not an object");
  Event e;
  auto seq = j.find("seq");
  auto type = j.find("type");
  auto t = j.find("t");
  if (seq == j.end() || !seq->is_number_unsigned()) return bad("no 'seq'");
  if (type == j.end() || !type->is_string()) return bad("no 'type'");
  if (t == j.end() || !t->is_number_integer()) return bad("no 't'");
  e.seq = seq->get<std::uint64_t>();
  e.time_ms = t->get<std::int64_t>();
  bool found = false;
  for (std::size_t i = 0; i < kEventNames.size(); ++i) {
    if (kEventNames[i] == type->get_ref<const std::string&>()) {
      e.type = static_cast<EventType>(i);
      found = true;
    }
  }
  if (!found) return bad("unknown type '" + type->get<std::string>() + "'");
  if (auto it = j.find("step"); it != j.end()) {
    if (!it->is_string()) return bad("'step' is not a string");
    e.step = it->get<std::string>();
  }
  if (auto it = j.find("item"); it != j.end()) {
    if (!it->is_number_integer()) return bad("'item' is not a number");
    e.item = it->get<int>();
  }
  if (auto it = j.find("attempt"); it != j.end()) {
    if (!it->is_number_integer()) return bad("'attempt' is not a number");
    e.attempt = it->get<int>();
  }
  if (auto it = j.find("effect"); it != j.end()) {
    if (!it->is_number_unsigned()) return bad("'effect' is not a number");
    e.effect = it->get<std::uint64_t>();
  }
  Json data = Json::object();
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!reserved_key(it.key())) data[it.key()] = it.value();
  }
  if (!data.empty()) e.data = std::move(data);
  return e;
}

Json effect_to_json(const Effect& e) {
  Json j = Json::object();
  j["id"] = e.id;
  switch (e.kind) {
    case Effect::Kind::kAgent:
    case Effect::Kind::kHttp:
      j["kind"] = e.kind == Effect::Kind::kHttp ? "http" : "agent";
      j["agent"] = e.agent;
      j["args"] = e.args;
      j["pool"] = e.pool;
      if (e.deadline_ms > 0) j["deadline"] = e.deadline_ms;
      if (!e.cache_key.empty()) j["cache_key"] = e.cache_key;
      break;
    case Effect::Kind::kCacheLookup:
      j["kind"] = "cache_lookup";
      j["agent"] = e.agent;
      j["cache_key"] = e.cache_key;
      break;
    case Effect::Kind::kCancel:
      j["kind"] = "cancel";
      j["cancels"] = e.cancels;
      break;
  }
  if (!e.step.empty()) j["step"] = e.step;
  if (e.item >= 0) j["item"] = e.item;
  if (e.attempt > 0) j["attempt"] = e.attempt;
  return j;
}

EffectResult EffectResult::success(Json output) {
  EffectResult r;
  r.ok = true;
  r.output = std::move(output);
  return r;
}

EffectResult EffectResult::failure(ErrorCode code, std::string message, std::int64_t retry_after_ms) {
  EffectResult r;
  r.ok = false;
  r.error = make_error(code, std::move(message));
  r.retry_after_ms = retry_after_ms;
  return r;
}

Result<EffectResult> effect_result_from_json(const Json& j) {
  auto bad = [](const std::string& why) {
    return make_error(ErrorCode::kBadArgument, "malformed effect result: " + why,
                      "send {ok: true, output} or {ok: false, error: {code, message}}");
  };
  if (!j.is_object()) return bad("not an object");
  auto ok = j.find("ok");
  if (ok == j.end() || !ok->is_boolean()) return bad("no boolean 'ok'");
  if (ok->get<bool>()) {
    auto out = j.find("output");
    return EffectResult::success(out == j.end() ? Json() : *out);
  }
  auto err = j.find("error");
  if (err == j.end() || !err->is_object()) return bad("no 'error' object");
  auto text = [&](const char* key, const char* fallback) -> std::string {
    auto it = err->find(key);
    return it != err->end() && it->is_string() ? it->get<std::string>() : std::string(fallback);
  };
  std::string code = text("code", "host_error");
  std::int64_t after = -1;
  if (auto ra = j.find("retry_after_ms"); ra != j.end() && ra->is_number()) after = ra->get<std::int64_t>();
  ErrorCode c = error_code_from_name(code);
  if (c == ErrorCode::kBadArgument && code != "bad_argument") c = ErrorCode::kHostError;
  EffectResult r = EffectResult::failure(c, text("message", "the host reported an error"), after);
  r.error.hint = text("hint", "");
  return r;
}

}  // namespace loom
