// Reading workflow files and their library (the sibling .yaml files) for the native tool.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "loom/loom.hpp"

namespace loom::cli {

/// The whole file, or nullopt when it cannot be read.
std::optional<std::string> read_file(const std::string& path);

/// Workflows found next to `path` (every *.yaml / *.yml in its folder) that load cleanly;
/// they are what `agent: workflow` steps may call.
WorkflowLibrary load_library_near(const std::string& path, const AgentRegistry& agents);

/// Loads `path` against the library. Errors carry file, line and column.
LoadResult load_file(const std::string& path, const AgentRegistry& agents, const WorkflowLibrary& library);

/// "file:line:col: error[code]: message", the source line with a caret under the column, and
/// the hint: what a compiler prints.
std::string format_with_source(const Error& error, const std::string& source);

}  // namespace loom::cli
