// loom/json.hpp — the engine's value type.
//
// Workflow inputs, step arguments and outputs, events and effects are JSON values
// (nlohmann::json: objects keep keys sorted, so serialization is deterministic).
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace loom {
using Json = nlohmann::json;

/// `bytes` with every invalid UTF-8 sequence (and a sequence cut at the end) replaced by U+FFFD,
/// so that any bytes — a streamed chunk, a fetched page — can enter JSON. Never fails.
std::string valid_utf8(std::string_view bytes);
}  // namespace loom
