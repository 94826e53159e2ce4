// The agent registry and the built-in effect agents (performed by hosts).
#include <algorithm>

#include "loom/agent.hpp"
#include "loom/knowledge.hpp"
#include "loom/voice.hpp"
#include "text/agents.hpp"

namespace loom {

namespace {
bool valid_agent_name(const std::string& name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
  });
}

void add_effect_agents(AgentRegistry& r) {
  AgentSpec fetch;
  fetch.name = "http.fetch";
  fetch.version = "1";
  fetch.description = "Fetches a URL (the host performs the request). Output: {status, headers, body, url}.";
  fetch.kind = AgentKind::kEffect;
  fetch.params = {AgentParam{"url", InputType::kString, true, "http:// or https:// URL"},
                  AgentParam{"method", InputType::kString, false, "GET (default), POST, ..."},
                  AgentParam{"headers", InputType::kObject, false, "request headers"},
                  AgentParam{"body", InputType::kString, false, "request body"},
                  AgentParam{"max_bytes", InputType::kNumber, false, "refuse larger responses (default 10 MB)"}};
  fetch.pool = "http";
  fetch.cacheable = true;
  r.add(fetch);

  AgentSpec llm;
  llm.name = "llm.generate";
  llm.version = "2";
  llm.description =
      "Asks a model of the model pool (the engine encodes the provider's request; the host sends it). "
      "Output: {text, model, model_id, provider, finish_reason, truncated, usage, cost_usd}.";
  llm.kind = AgentKind::kEffect;
  llm.params = {AgentParam{"model", InputType::kString, false, "a model name from the model pool"},
                AgentParam{"prompt", InputType::kString, false, "the user prompt"},
                AgentParam{"system", InputType::kString, false, "the system prompt"},
                AgentParam{"messages", InputType::kList, false, "chat messages [{role, content}]"},
                AgentParam{"temperature", InputType::kNumber, false, "sampling temperature"},
                AgentParam{"max_tokens", InputType::kNumber, false, "output token limit"},
                AgentParam{"top_p", InputType::kNumber, false, "nucleus sampling"},
                AgentParam{"stop", InputType::kAny, false, "a stop sequence or a list of them"},
                AgentParam{"stream", InputType::kBoolean, false, "stream the answer (default: the model's)"}};
  llm.calls_model = true;
  llm.pool = "llm";
  llm.cacheable = true;
  r.add(llm);

  AgentSpec human;
  human.name = "human.input";
  human.version = "1";
  human.description = "Asks a person; the run is paused until the answer comes. Output: the answer.";
  human.kind = AgentKind::kEffect;
  human.params = {AgentParam{"prompt", InputType::kString, true, "what to ask"},
                  AgentParam{"choices", InputType::kList, false, "allowed answers"},
                  AgentParam{"show", InputType::kAny, false, "content to show with the question"}};
  human.pool = "human";
  human.pauses = true;
  r.add(human);

  AgentSpec sleep;
  sleep.name = "util.sleep";
  sleep.version = "1";
  sleep.description = "Waits `ms` milliseconds in the host, then outputs `value` (tests, pacing).";
  sleep.kind = AgentKind::kEffect;
  sleep.params = {AgentParam{"ms", InputType::kNumber, true, "milliseconds to wait"},
                  AgentParam{"value", InputType::kAny, false, "the output"}};
  r.add(sleep);

  AgentSpec wf;
  wf.name = "workflow";
  wf.version = "1";
  wf.description = "Runs another workflow of the library as this step. Output: its outputs.";
  wf.kind = AgentKind::kWorkflow;
  wf.params = {AgentParam{"workflow", InputType::kString, true, "the called workflow's name"},
               AgentParam{"inputs", InputType::kObject, false, "its inputs"}};
  r.add(wf);
}
}  // namespace

bool matches_type(const Json& value, InputType type) {
  switch (type) {
    case InputType::kString: return value.is_string();
    case InputType::kNumber: return value.is_number();
    case InputType::kBoolean: return value.is_boolean();
    case InputType::kList: return value.is_array();
    case InputType::kObject: return value.is_object();
    case InputType::kAny: return true;
  }
  return true;
}

AgentRegistry AgentRegistry::with_builtins() {
  AgentRegistry r;
  text::register_text_agents(r);
  knowledge::register_knowledge_agents(r, nullptr);
  voice::register_voice_agents(r, nullptr);
  add_effect_agents(r);
  return r;
}

namespace {
Status check_spec(const AgentSpec& spec) {
  if (!valid_agent_name(spec.name)) {
    return make_error(ErrorCode::kInvalidValue, "agent name '" + spec.name + "' is not [a-z0-9_.]+");
  }
  if (spec.kind == AgentKind::kPure && !spec.run) {
    return make_error(ErrorCode::kInvalidValue, "pure agent '" + spec.name + "' has no function");
  }
  return {};
}
}  // namespace

Status AgentRegistry::set(AgentSpec spec) {
  Status st = check_spec(spec);
  if (st.code != ErrorCode::kOk) return st;
  std::string name = spec.name;
  agents_.insert_or_assign(std::move(name), std::move(spec));
  return {};
}

Status AgentRegistry::add(AgentSpec spec) {
  Status st = check_spec(spec);
  if (st.code != ErrorCode::kOk) return st;
  if (agents_.count(spec.name)) {
    return make_error(ErrorCode::kInvalidValue, "agent '" + spec.name + "' is already registered");
  }
  std::string name = spec.name;
  agents_.emplace(std::move(name), std::move(spec));
  return {};
}

const AgentSpec* AgentRegistry::find(std::string_view name) const {
  auto it = agents_.find(name);
  return it == agents_.end() ? nullptr : &it->second;
}

std::vector<std::string> AgentRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& kv : agents_) out.push_back(kv.first);
  return out;
}

Status check_agent_args(const AgentSpec& agent, const Json& args) {
  if (!args.is_object()) {
    return make_error(ErrorCode::kBadArgument, "the arguments of '" + agent.name + "' must be an object");
  }
  for (const auto& p : agent.params) {
    auto it = args.find(p.name);
    if (it == args.end() || it->is_null()) {
      if (p.required) {
        return make_error(ErrorCode::kBadArgument, "'" + agent.name + "' needs '" + p.name + "'",
                          "it was missing or null after templates were evaluated");
      }
      continue;
    }
    if (!matches_type(*it, p.type)) {
      return make_error(ErrorCode::kBadArgument,
                        "argument '" + p.name + "' of '" + agent.name + "' must be a " +
                            std::string(input_type_name(p.type)) + ", got " + it->dump().substr(0, 80));
    }
  }
  if (!agent.open_params) {
    for (auto it = args.begin(); it != args.end(); ++it) {
      bool known = std::any_of(agent.params.begin(), agent.params.end(),
                               [&](const AgentParam& p) { return p.name == it.key(); });
      if (!known) return make_error(ErrorCode::kBadArgument, "'" + agent.name + "' has no argument '" + it.key() + "'");
    }
  }
  return {};
}

}  // namespace loom
