// The native tool's model pool: which models file to use, loading it, and `loom models`.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "loom/llm.hpp"

namespace loom::cli {

/// The models file to use: `explicit_path` when given, else $LOOM_MODELS, else
/// ~/.config/loom/models.yaml when it exists; "" when there is none.
std::string find_models_file(const std::string& explicit_path);

/// Loads a models file, expanding ${VAR} in base URLs from the environment (OLLAMA_HOST).
/// Prints every error with its source line to stderr and returns null when there are any.
std::shared_ptr<const llm::ModelPool> load_models_file(const std::string& path);

/// A secret by name, from the environment.
std::optional<std::string> secret_from_env(const std::string& name);

/// `loom models`: the pool's models, their provider, model id, base URL, price and whether
/// their key is set (never the key). Returns the exit code.
int cmd_models(const std::string& explicit_path);

}  // namespace loom::cli
