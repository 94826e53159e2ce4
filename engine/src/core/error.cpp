#include "loom/error.hpp"

#include <array>

namespace loom {
namespace {

struct CodeName {
  ErrorCode code;
  std::string_view name;
};

constexpr std::array<CodeName, 33> kNames{{
    {ErrorCode::kOk, "ok"},
    {ErrorCode::kYamlSyntax, "yaml_syntax"},
    {ErrorCode::kUnknownKey, "unknown_key"},
    {ErrorCode::kMissingKey, "missing_key"},
    {ErrorCode::kInvalidValue, "invalid_value"},
    {ErrorCode::kDuplicateStep, "duplicate_step"},
    {ErrorCode::kUnknownNeed, "unknown_need"},
    {ErrorCode::kCycle, "cycle"},
    {ErrorCode::kUnknownAgent, "unknown_agent"},
    {ErrorCode::kTemplateSyntax, "template_syntax"},
    {ErrorCode::kTemplateNotUpstream, "template_not_upstream"},
    {ErrorCode::kTemplateUnknownName, "template_unknown_name"},
    {ErrorCode::kTemplateEval, "template_eval"},
    {ErrorCode::kInputType, "input_type"},
    {ErrorCode::kInputMissing, "input_missing"},
    {ErrorCode::kInputUnknown, "input_unknown"},
    {ErrorCode::kUnknownWorkflow, "unknown_workflow"},
    {ErrorCode::kAgentFailed, "agent_failed"},
    {ErrorCode::kTimeout, "timeout"},
    {ErrorCode::kCancelled, "cancelled"},
    {ErrorCode::kUnknownEffect, "unknown_effect"},
    {ErrorCode::kBadEventLog, "bad_event_log"},
    {ErrorCode::kInvalidState, "invalid_state"},
    {ErrorCode::kBadArgument, "bad_argument"},
    {ErrorCode::kHostError, "host_error"},
    {ErrorCode::kRateLimited, "rate_limited"},
    {ErrorCode::kUnavailable, "unavailable"},
    {ErrorCode::kAuth, "auth"},
    {ErrorCode::kBadRequest, "bad_request"},
    {ErrorCode::kBudgetExceeded, "budget_exceeded"},
    {ErrorCode::kNotImplemented, "not_implemented"},
    {ErrorCode::kContentFiltered, "content_filtered"},
    {ErrorCode::kBadResponse, "bad_response"},
}};

}  // namespace

std::string_view error_code_name(ErrorCode code) {
  for (const auto& n : kNames) {
    if (n.code == code) return n.name;
  }
  return "unknown";
}

ErrorCode error_code_from_name(std::string_view name) {
  for (const auto& n : kNames) {
    if (n.name == name) return n.code;
  }
  return ErrorCode::kBadArgument;
}

bool is_retryable(ErrorCode code) {
  switch (code) {
    case ErrorCode::kTimeout:
    case ErrorCode::kHostError:
    case ErrorCode::kRateLimited:
    case ErrorCode::kUnavailable:
    case ErrorCode::kBadResponse:
      return true;
    default:
      return false;
  }
}

std::string Error::format() const {
  std::string out;
  if (!file.empty()) out += file + ":";
  if (line > 0) out += std::to_string(line) + ":" + std::to_string(column) + ":";
  if (!out.empty()) out += " ";
  out += "error[";
  out += error_code_name(code);
  out += "]: " + message;
  if (!hint.empty()) out += "\n  hint: " + hint;
  return out;
}

}  // namespace loom
