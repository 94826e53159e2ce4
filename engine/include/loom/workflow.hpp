// loom/workflow.hpp — the workflow language: model, loading and validation.
//
// A workflow is a YAML (or JSON) document describing a DAG of steps; docs/workflow-language.md
// is its reference. Loading parses and checks everything that can be checked before a run and
// reports every problem in one pass, each with file:line:column and a hint.
//
//   loom::AgentRegistry agents = loom::AgentRegistry::with_builtins();
//   loom::LoadResult r = loom::load_workflow(yaml_text, "digest.yaml", agents);
//   if (!r.errors.empty()) for (auto& e : r.errors) print(e.format());
//   else run(*r.workflow);
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "loom/error.hpp"
#include "loom/json.hpp"

namespace loom {

class AgentRegistry;
class Template;  // a parsed "{{ ... }}" string; see loom/template.hpp

/// Where a construct appears in its source file (1-based; 0 when built in code).
struct SourcePos {
  int line = 0;
  int column = 0;
};

/// The types a workflow input may declare.
enum class InputType { kString, kNumber, kBoolean, kList, kObject, kAny };

/// "string", "number", ... for an InputType.
std::string_view input_type_name(InputType type);

/// One declared input.
struct InputSpec {
  std::string name;
  InputType type = InputType::kAny;
  bool required = false;
  std::optional<Json> default_value;
  std::string description;
  SourcePos pos;
};

/// How a failed attempt is retried.
struct RetryPolicy {
  enum class Backoff { kFixed, kExponential };
  int max_attempts = 1;  ///< total attempts, >= 1
  Backoff backoff = Backoff::kExponential;
  std::int64_t initial_delay_ms = 1000;
  std::int64_t max_delay_ms = 60000;
};

/// What a step's failure does to the run.
enum class OnError { kFail, kContinue };

/// A JSON value in which every string may hold templates: kept with its parsed templates so
/// that evaluation does not re-parse. Built by the loader.
struct TemplatedValue {
  Json raw;  ///< the value as written
  /// Parsed templates for every string leaf that contains "{{", keyed by JSON pointer.
  std::vector<std::pair<std::string, std::shared_ptr<const Template>>> templates;
  bool is_constant() const { return templates.empty(); }
};

struct StepDef;

/// A loop: its body of steps runs again and again until `until` holds or max_iterations runs out.
struct LoopDef {
  std::vector<StepDef> steps;
  std::shared_ptr<const Template> until;  ///< evaluated after each iteration; may be null
  int max_iterations = 1;
  SourcePos pos;
  std::map<std::string, int, std::less<>> step_index;  ///< step id -> index in `steps`
};

/// One step of a workflow (or of a loop body).
struct StepDef {
  std::string id;
  std::string agent;  ///< empty for a loop step
  TemplatedValue with;
  std::vector<std::string> needs;
  std::shared_ptr<const Template> when;     ///< null when absent
  std::shared_ptr<const Template> foreach;  ///< null when absent
  RetryPolicy retry;
  std::int64_t timeout_ms = 0;  ///< 0: no timeout
  OnError on_error = OnError::kFail;
  std::string pool;   ///< concurrency pool; "" means the agent's default pool
  bool cache = true;  ///< may the step cache serve this step (if its agent is cacheable)
  std::string description;
  std::shared_ptr<const LoopDef> loop;  ///< set for loop steps
  SourcePos pos;
  std::map<std::string, SourcePos> key_pos;  ///< where each key of the step appears

  // Filled in by validation:
  std::vector<int> need_index;       ///< indices of `needs` in the same scope
  std::vector<int> dependent_index;  ///< indices of the steps in the scope that need this one
};

/// A loaded, validated workflow. Immutable once loaded; shared by runs.
struct Workflow {
  std::string name;
  std::string description;
  std::string file;  ///< the file it was loaded from ("" when from a string)
  std::vector<InputSpec> inputs;
  std::vector<StepDef> steps;
  std::map<std::string, int, std::less<>> step_index;  ///< step id -> index in `steps`
  std::vector<std::pair<std::string, std::shared_ptr<const Template>>> outputs;
  int max_concurrency = 0;                ///< 0: the run's option decides
  std::map<std::string, int> pool_limits;  ///< concurrency per named pool
  double budget_cost_usd = 0;              ///< `budget.max_cost_usd`; 0: none
  std::int64_t budget_tokens = 0;          ///< `budget.max_tokens`; 0: none
  std::string source;                      ///< the source text, for hashing and export

  /// Index of the input named `name`, or -1.
  int input_index(std::string_view name) const;
  /// A stable hash of the source text (hex), recorded in run_started events.
  std::string version() const;
};

/// Named workflows a run may call with `agent: workflow`.
class WorkflowLibrary {
 public:
  /// Adds or replaces a workflow under its name.
  void add(std::shared_ptr<const Workflow> workflow);
  /// The workflow named `name`, or null.
  std::shared_ptr<const Workflow> find(std::string_view name) const;
  std::vector<std::string> names() const;

 private:
  std::map<std::string, std::shared_ptr<const Workflow>, std::less<>> by_name_;
};

/// The outcome of loading: the workflow when it is valid, and every error found.
struct LoadResult {
  std::shared_ptr<const Workflow> workflow;  ///< null when errors is not empty
  std::vector<Error> errors;
};

/// Parses and validates a workflow from YAML (or JSON) text. `file` names the source in errors.
/// `library`, when given, resolves `agent: workflow` calls (unknown names are errors, and call
/// cycles are reported); without it, called workflow names are not checked.
/// Never throws; every problem is an Error with line and column.
LoadResult load_workflow(std::string_view text, std::string_view file,
                         const AgentRegistry& agents, const WorkflowLibrary* library = nullptr);

/// Checks run inputs against the workflow's declarations and fills in defaults.
/// Returns the complete inputs object, or every problem (kInputMissing, kInputType,
/// kInputUnknown).
Result<Json> bind_inputs(const Workflow& workflow, const Json& given, std::vector<Error>* all = nullptr);

/// Parses a duration: "250ms", "2s", "1.5m", "1h", or a bare number of seconds.
/// Returns milliseconds, or kInvalidValue.
Result<std::int64_t> parse_duration(std::string_view text);

/// The candidate closest to `word` by edit distance if it is close enough to be a likely typo,
/// else "". Used for "did you mean" hints.
std::string nearest(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace loom
