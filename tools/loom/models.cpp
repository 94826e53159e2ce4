#include "models.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "files.hpp"

namespace loom::cli {

std::optional<std::string> secret_from_env(const std::string& name) {
  if (name.empty()) return std::nullopt;
  const char* v = std::getenv(name.c_str());
  if (!v || !*v) return std::nullopt;
  return std::string(v);
}

std::string find_models_file(const std::string& explicit_path) {
  if (!explicit_path.empty()) return explicit_path;
  if (auto env = secret_from_env("LOOM_MODELS")) return *env;
  if (const char* home = std::getenv("HOME")) {
    std::string path = std::string(home) + "/.config/loom/models.yaml";
    std::error_code ec;
    if (std::filesystem::exists(path, ec)) return path;
  }
  return "";
}

std::shared_ptr<const llm::ModelPool> load_models_file(const std::string& path) {
  auto text = read_file(path);
  if (!text) {
    std::fprintf(stderr, "loom: cannot read the models file '%s'\n", path.c_str());
    return nullptr;
  }
  auto vars = [](std::string_view name) { return secret_from_env(std::string(name)); };
  llm::ModelPoolLoad r = llm::load_model_pool(*text, path, vars);
  if (!r.errors.empty()) {
    for (const auto& e : r.errors) std::fputs(format_with_source(e, *text).c_str(), stderr);
    std::fprintf(stderr, "%s: %zu error%s\n", path.c_str(), r.errors.size(), r.errors.size() == 1 ? "" : "s");
    return nullptr;
  }
  return r.pool;
}

int cmd_models(const std::string& explicit_path) {
  std::string path = find_models_file(explicit_path);
  if (path.empty()) {
    std::fprintf(stderr, "loom: no models file\n  hint: pass --models FILE (workflows/models/default.yaml is a start), "
                         "set LOOM_MODELS, or copy it to ~/.config/loom/models.yaml\n");
    return 2;
  }
  auto pool = load_models_file(path);
  if (!pool) return 1;
  std::printf("%s%s\n\n", path.c_str(), pool->default_model().empty() ? "" : (" (default: " + pool->default_model() + ")").c_str());
  for (const auto& name : pool->names()) {
    const llm::ModelSpec* m = pool->find(name);
    std::string key = m->credential.name.empty() ? "no key needed"
                      : secret_from_env(m->credential.name) ? m->credential.name + " is set"
                                                            : m->credential.name + " is NOT set";
    std::printf("%-12s %-9s %-32s %s\n", name.c_str(), std::string(llm::provider_name(m->provider)).c_str(),
                m->model_id.c_str(), m->base_url.c_str());
    std::printf("             %s · $%.2f / $%.2f per million tokens in / out", key.c_str(), m->price_input_per_mtok,
                m->price_output_per_mtok);
    if (!m->fallback.empty()) {
      std::string f;
      for (const auto& x : m->fallback) f += (f.empty() ? "" : ", ") + x;
      std::printf(" · falls back to %s", f.c_str());
    }
    std::printf("\n");
  }
  return 0;
}

}  // namespace loom::cli
