// loom/json.hpp — the engine's value type.
//
// Workflow inputs, step arguments and outputs, events and effects are JSON values
// (nlohmann::json: objects keep keys sorted, so serialization is deterministic).
#pragma once

#include <nlohmann/json.hpp>

namespace loom {
using Json = nlohmann::json;
}  // namespace loom
