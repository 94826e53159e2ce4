// loom/error.hpp — errors are values: ErrorCode, Error and Result<T>.
//
// No exception crosses the engine's API. Every fallible call returns a Result<T> (or a
// std::vector<Error> when it reports every problem it finds in one pass, as validation does).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace loom {

/// Every error the engine reports. The numeric values are stable: web/src/engine.js mirrors
/// them (a test checks that the two lists agree) and they appear in persisted event logs.
enum class ErrorCode : int {
  kOk = 0,                   // no error
  kYamlSyntax = 1,           // the file is not valid YAML (or JSON)
  kUnknownKey = 2,           // a key the workflow language does not have (the hint names the nearest)
  kMissingKey = 3,           // a required key is absent (name, steps, a step's id or agent)
  kInvalidValue = 4,         // a key has a value of the wrong type or out of range
  kDuplicateStep = 5,        // two steps in one scope share an id
  kUnknownNeed = 6,          // `needs` names a step that does not exist in the scope
  kCycle = 7,                // the steps (or workflows calling workflows) form a cycle
  kUnknownAgent = 8,         // `agent` names no registered agent (the hint names the nearest)
  kTemplateSyntax = 9,       // a {{ ... }} template does not parse
  kTemplateNotUpstream = 10, // a template references a step that is not upstream of its user
  kTemplateUnknownName = 11, // a template references an undeclared input or unknown name
  kTemplateEval = 12,        // a template failed while evaluating (wrong type, bad filter arg)
  kInputType = 13,           // a run input has the wrong type
  kInputMissing = 14,        // a required run input was not given
  kInputUnknown = 15,        // a run input was given that the workflow does not declare
  kUnknownWorkflow = 16,     // `agent: workflow` names a workflow the library does not hold
  kAgentFailed = 17,         // an agent reported failure (message from the agent)
  kTimeout = 18,             // a step attempt passed its timeout
  kCancelled = 19,           // the run or step was cancelled
  kUnknownEffect = 20,       // resolve/feed named an effect id that is not in flight
  kBadEventLog = 21,         // restore was given a log that is malformed or does not fit
  kInvalidState = 22,        // the call is not allowed in the run's current state
  kBadArgument = 23,         // an API argument (JSON, option) is malformed
  kHostError = 24,           // the host failed to perform an effect (network, file, ...)
  kRateLimited = 25,         // a provider refused for rate; retryable after a delay
  kUnavailable = 26,         // a provider is overloaded or returned 5xx; retryable
  kAuth = 27,                // credentials missing or refused; not retryable
  kBadRequest = 28,          // the provider rejected the request; not retryable
  kBudgetExceeded = 29,      // a run budget would be passed
  kNotImplemented = 30,      // the host does not perform this kind of effect (yet)
  kContentFiltered = 31,     // the provider refused or withheld the answer (safety filter); not retryable
  kBadResponse = 32,         // the provider's answer could not be understood (bad JSON, a cut stream); retryable
};

/// The highest ErrorCode value (for tables that list every code).
inline constexpr int kLastErrorCode = 32;

/// The stable snake_case name of a code, e.g. "unknown_agent". Never fails.
std::string_view error_code_name(ErrorCode code);

/// The code for a snake_case name; kBadArgument when the name is unknown.
ErrorCode error_code_from_name(std::string_view name);

/// Whether the run's retry policy may retry an attempt that failed with this code.
bool is_retryable(ErrorCode code);

/// An error with where it happened. line and column are 1-based, 0 when not known.
struct Error {
  ErrorCode code = ErrorCode::kOk;
  std::string message;  // one line, says what is wrong
  std::string hint;     // one line, says how to fix it ("" when there is nothing to add)
  std::string file;     // the source file, when the error is about a file
  int line = 0;
  int column = 0;

  /// "file:line:column: error[code]: message" plus "\n  hint: ..." when there is a hint.
  std::string format() const;
};

/// A value or an Error. Construct from either; test with ok().
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}            // NOLINT(runtime/explicit)
  Result(Error error) : v_(std::move(error)) {}        // NOLINT(runtime/explicit)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  T& operator*() & { return std::get<0>(v_); }
  const T& operator*() const& { return std::get<0>(v_); }
  T&& operator*() && { return std::get<0>(std::move(v_)); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

/// Result of an operation with no value: an Error whose code is kOk means success.
using Status = Error;

/// Builds an Error in one expression.
inline Error make_error(ErrorCode code, std::string message, std::string hint = {}) {
  Error e;
  e.code = code;
  e.message = std::move(message);
  e.hint = std::move(hint);
  return e;
}

}  // namespace loom
