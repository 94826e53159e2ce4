// loom/agent.hpp — the agent registry: what a step's `agent:` may name.
//
// A pure agent runs inside the engine (text.chunk, text.summarize, ...): a function from its
// arguments to its output. An effect agent (http.fetch, llm.generate, human.input) is performed
// by the host: the engine hands it out as an Effect and waits for resolve(). The special agent
// `workflow` calls another workflow from the library as a step.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "loom/error.hpp"
#include "loom/json.hpp"
#include "loom/workflow.hpp"

namespace loom {

enum class AgentKind {
  kPure,      ///< runs inside the engine, synchronously
  kEffect,    ///< performed by the host
  kWorkflow,  ///< calls a workflow of the library (`agent: workflow`)
};

/// One parameter an agent accepts in its step's `with`.
struct AgentParam {
  std::string name;
  InputType type = InputType::kAny;
  bool required = false;
  std::string description;
};

/// A pure agent's function: arguments (with defaults applied) in, output or error out.
using PureAgentFn = std::function<Result<Json>(const Json& args)>;

/// A registered agent.
struct AgentSpec {
  std::string name;     ///< "text.chunk"; [a-z0-9_.]+
  std::string version;  ///< changes when its output for the same input may change (cache key)
  std::string description;
  AgentKind kind = AgentKind::kPure;
  std::vector<AgentParam> params;
  bool open_params = false;  ///< accepts keys beyond `params` (no unknown-key check)
  PureAgentFn run;           ///< kPure only
  std::string pool = "default";  ///< concurrency pool of its effects unless the step names one
  bool cacheable = false;        ///< may the step cache serve it (effects that cost time/money)
  bool pauses = false;           ///< waits for a person: the run is reported paused meanwhile
  bool calls_model = false;      ///< llm.generate: the engine encodes an http effect for a model of the pool
};

/// Agents by name. Copyable; the engine only reads it.
class AgentRegistry {
 public:
  /// A registry holding every built-in agent (text.*, knowledge.query with no base bound,
  /// http.fetch, llm.generate, human.input, util.sleep, workflow).
  static AgentRegistry with_builtins();

  /// Adds an agent. kInvalidValue when the name is malformed or taken, or a pure agent has no
  /// function.
  Status add(AgentSpec spec);
  /// Adds an agent, or replaces the one of the same name (a knowledge base bound anew, say).
  /// kInvalidValue when the name is malformed or a pure agent has no function (nothing changes).
  Status set(AgentSpec spec);
  /// The agent named `name`, or null.
  const AgentSpec* find(std::string_view name) const;
  /// All names, sorted.
  std::vector<std::string> names() const;

 private:
  std::map<std::string, AgentSpec, std::less<>> agents_;
};

/// Checks `args` against the agent's params and fills in nothing: kBadArgument naming the
/// first wrong parameter (unknown key, missing required key, wrong type).
Status check_agent_args(const AgentSpec& agent, const Json& args);

/// Whether a JSON value has the given declared type.
bool matches_type(const Json& value, InputType type);

}  // namespace loom
