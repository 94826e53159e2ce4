// loom/loom.hpp — the umbrella header of Loom's engine.
//
// The engine is portable, sans-IO C++17: it builds natively and to WebAssembly, and it never
// performs I/O, reads a clock or draws a random number. Hosts (web/src/host.js, tools/loom)
// drive it. docs/architecture.md is the map.
#pragma once

#include "loom/agent.hpp"
#include "loom/error.hpp"
#include "loom/json.hpp"
#include "loom/knowledge.hpp"
#include "loom/llm.hpp"
#include "loom/run.hpp"
#include "loom/template.hpp"
#include "loom/text.hpp"
#include "loom/voice.hpp"
#include "loom/workflow.hpp"

namespace loom {
/// The engine's version, recorded by hosts alongside runs.
inline constexpr const char* kVersion = "0.1.0";
}  // namespace loom
