// The model pool: the writer's models file (YAML) -> named ModelSpecs, with every problem
// reported at its line.
#include <algorithm>
#include <set>

#include "loom/llm.hpp"
#include "workflow/yaml_reader.hpp"

namespace loom::llm {
namespace {

using detail::pos_of;

const std::vector<std::string> kTopKeys = {"default", "models"};
const std::vector<std::string> kModelKeys = {"provider", "base_url", "model",   "credential", "temperature",
                                             "max_tokens", "system", "stream",  "price",      "limits",
                                             "timeouts", "context_tokens", "fallback", "description"};
const std::vector<std::string> kPriceKeys = {"input", "output"};
const std::vector<std::string> kLimitKeys = {"concurrency", "requests_per_minute", "tokens_per_minute"};
const std::vector<std::string> kTimeoutKeys = {"connect", "read"};

// A provider name as a writer writes it: the wire protocol and its defaults.
struct ProviderDefaults {
  const char* name;
  Provider provider;
  const char* base_url;
  const char* credential;  // "" for local servers
};

const ProviderDefaults kProviders[] = {
    {"openai", Provider::kOpenAI, "https://api.openai.com/v1", "OPENAI_API_KEY"},
    {"anthropic", Provider::kAnthropic, "https://api.anthropic.com/v1", "ANTHROPIC_API_KEY"},
    {"gemini", Provider::kGemini, "https://generativelanguage.googleapis.com/v1beta", "GEMINI_API_KEY"},
    {"ollama", Provider::kOpenAI, "${OLLAMA_HOST:-http://localhost:11434}/v1", ""},
    {"lmstudio", Provider::kOpenAI, "http://localhost:1234/v1", ""},
    {"llamacpp", Provider::kOpenAI, "http://localhost:8080/v1", ""},
    {"vllm", Provider::kOpenAI, "http://localhost:8000/v1", ""},
    {"openrouter", Provider::kOpenAI, "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY"},
};

const ProviderDefaults* find_provider(const std::string& name) {
  for (const auto& p : kProviders) {
    if (name == p.name) return &p;
  }
  return nullptr;
}

Credential credential_for(Provider p, const std::string& name) {
  Credential c;
  c.name = name;
  if (name.empty()) return c;
  switch (p) {
    case Provider::kOpenAI: c.header = "Authorization"; c.prefix = "Bearer "; break;
    case Provider::kAnthropic: c.header = "x-api-key"; break;
    case Provider::kGemini: c.header = "x-goog-api-key"; break;
  }
  return c;
}

bool valid_variable_name(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

class PoolLoader : public detail::YamlReader {
 public:
  PoolLoader(std::string_view file, const VariableLookup& vars) : YamlReader(file), vars_(vars) {}

  ModelPoolLoad load(std::string_view text) {
    ModelPoolLoad out;
    auto pool = std::make_shared<ModelPool>();
    pool->set_file(file_);
    YAML::Node root;
    if (parse(text, &root)) {
      try {
        read(root, *pool);
      } catch (const YAML::Exception& e) {
        add(ErrorCode::kYamlSyntax, {e.mark.line + 1, e.mark.column + 1}, "invalid YAML: " + e.msg,
            "check indentation, colons and quotes around this point");
      }
    }
    std::stable_sort(errors_.begin(), errors_.end(), [](const Error& a, const Error& b) {
      return a.line != b.line ? a.line < b.line : a.column < b.column;
    });
    out.errors = std::move(errors_);
    if (out.errors.empty()) out.pool = std::move(pool);
    return out;
  }

 private:
  void read(const YAML::Node& root, ModelPool& pool) {
    if (!root.IsMap()) {
      add(ErrorCode::kInvalidValue, pos_of(root), "a models file must be a mapping with a `models:` key",
          "see workflows/models/default.yaml for the shape");
      return;
    }
    check_map(root, "the models file", kTopKeys);
    YAML::Node models = root["models"];
    if (!models) {
      add(ErrorCode::kMissingKey, pos_of(root), "the models file has no `models:`",
          "add models: with at least one named model");
      return;
    }
    if (!check_keys(models, "models", nullptr)) return;
    std::map<std::string, SourcePos> fallback_pos;
    for (const auto& kv : models) {
      ModelSpec spec;
      spec.name = kv.first.Scalar();
      spec.line = pos_of(kv.first).line;
      if (!valid_model_name(spec.name)) {
        add(ErrorCode::kInvalidValue, pos_of(kv.first), "model name '" + spec.name + "' is not [a-z0-9_.-]+",
            "use a short lowercase name such as draft, fast or local");
        continue;
      }
      if (read_model(kv.second, pos_of(kv.first), &spec, &fallback_pos)) pool.add(std::move(spec));
    }
    std::string def;
    if (auto d = root["default"]) {
      if (get_string(d, "default", &def)) {
        if (!pool.find(def)) {
          std::string near = nearest(def, pool.names());
          add(ErrorCode::kInvalidValue, pos_of(d), "default names model '" + def + "', which is not defined",
              near.empty() ? "define it under models:" : "did you mean '" + near + "'?");
        }
        pool.set_default(def);
      }
    }
    check_fallbacks(pool, fallback_pos);
  }

  static bool valid_model_name(const std::string& s) {
    if (s.empty()) return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    });
  }

  bool read_model(const YAML::Node& n, SourcePos name_pos, ModelSpec* spec,
                  std::map<std::string, SourcePos>* fallback_pos) {
    std::string where = "model '" + spec->name + "'";
    if (!check_map(n, where, kModelKeys)) return false;
    std::size_t before = errors_.size();
    const ProviderDefaults* defaults = nullptr;
    if (auto p = n["provider"]) {
      std::string name;
      if (get_string(p, where + ": provider", &name)) {
        defaults = find_provider(name);
        if (!defaults) {
          std::vector<std::string> names;
          for (const auto& d : kProviders) names.push_back(d.name);
          std::string near = nearest(name, names);
          std::string list;
          for (const auto& x : names) list += (list.empty() ? "" : ", ") + x;
          add(ErrorCode::kInvalidValue, pos_of(p), where + ": unknown provider '" + name + "'",
              near.empty() ? "one of: " + list : "did you mean '" + near + "'?");
        }
      }
    } else {
      add(ErrorCode::kMissingKey, name_pos, where + " has no provider",
          "add provider: openai, anthropic, gemini or ollama");
    }
    if (auto m = n["model"]) {
      get_string(m, where + ": model", &spec->model_id);
    } else {
      add(ErrorCode::kMissingKey, name_pos, where + " has no model",
          "add model: with the provider's model id, e.g. gpt-4o-mini");
    }
    if (!defaults) return false;
    spec->provider = defaults->provider;
    std::string base = defaults->base_url;
    SourcePos base_pos = pos_of(n);
    if (auto b = n["base_url"]) {
      get_string(b, where + ": base_url", &base);
      base_pos = pos_of(b);
    }
    spec->base_url = expand_base_url(base, base_pos, where);
    std::string cred = defaults->credential;
    if (auto c = n["credential"]) {
      if (get_string(c, where + ": credential", &cred)) {
        if (cred == "none") {
          cred.clear();
        } else if (!valid_variable_name(cred)) {
          add(ErrorCode::kInvalidValue, pos_of(c), where + ": credential '" + cred + "' is not a key's name",
              "name the key, e.g. OPENAI_API_KEY (the key itself never goes in this file), or write none");
        }
      }
    }
    spec->credential = credential_for(spec->provider, cred);
    if (auto t = n["temperature"]) {
      double v = 0;
      if (get_number(t, where + ": temperature", 0, 2, &v)) spec->temperature = v;
    }
    if (auto t = n["max_tokens"]) {
      int v = 0;
      if (get_int(t, where + ": max_tokens", 1, &v)) spec->max_tokens = v;
    }
    if (auto s = n["system"]) get_string(s, where + ": system", &spec->system);
    if (auto s = n["stream"]) get_bool(s, where + ": stream", &spec->stream);
    if (auto c = n["context_tokens"]) {
      int v = 0;
      if (get_int(c, where + ": context_tokens", 1, &v)) spec->context_tokens = v;
    }
    if (auto d = n["description"]) {
      std::string ignored;
      get_string(d, where + ": description", &ignored);
    }
    if (auto p = n["price"]) {
      if (check_map(p, where + ": price", kPriceKeys)) {
        if (auto i = p["input"]) get_number(i, where + ": price.input", 0, 1e6, &spec->price_input_per_mtok);
        if (auto o = p["output"]) get_number(o, where + ": price.output", 0, 1e6, &spec->price_output_per_mtok);
      }
    }
    if (auto l = n["limits"]) {
      if (check_map(l, where + ": limits", kLimitKeys)) {
        if (auto c = l["concurrency"]) get_int(c, where + ": limits.concurrency", 1, &spec->concurrency);
        if (auto r = l["requests_per_minute"]) {
          get_number(r, where + ": limits.requests_per_minute", 0.001, 1e9, &spec->requests_per_minute);
        }
        if (auto t = l["tokens_per_minute"]) {
          get_number(t, where + ": limits.tokens_per_minute", 1, 1e12, &spec->tokens_per_minute);
        }
      }
    }
    if (auto t = n["timeouts"]) {
      if (check_map(t, where + ": timeouts", kTimeoutKeys)) {
        if (auto c = t["connect"]) get_duration(c, where + ": timeouts.connect", &spec->connect_timeout_ms);
        if (auto r = t["read"]) get_duration(r, where + ": timeouts.read", &spec->read_timeout_ms);
      }
    }
    if (auto f = n["fallback"]) {
      if (!f.IsSequence()) {
        add(ErrorCode::kInvalidValue, pos_of(f), where + ": fallback must be a list of model names",
            "e.g. fallback: [fast, local]");
      } else {
        for (const auto& x : f) {
          std::string name;
          if (!get_string(x, where + ": fallback", &name)) continue;
          spec->fallback.push_back(name);
          (*fallback_pos)[spec->name + "\n" + name] = pos_of(x);
        }
      }
    }
    return errors_.size() == before;
  }

  // ${NAME} and ${NAME:-fallback}; a host value without a scheme ("127.0.0.1:11434") gets http://.
  std::string expand_base_url(const std::string& text, SourcePos pos, const std::string& where) {
    std::string out;
    std::size_t i = 0;
    while (i < text.size()) {
      std::size_t open = text.find("${", i);
      if (open == std::string::npos) {
        out += text.substr(i);
        break;
      }
      out += text.substr(i, open - i);
      std::size_t close = text.find('}', open);
      if (close == std::string::npos) {
        add(ErrorCode::kInvalidValue, pos, where + ": base_url has an unclosed ${", "write ${NAME} or ${NAME:-default}");
        return text;
      }
      std::string inner = text.substr(open + 2, close - open - 2);
      std::string name = inner;
      std::string fallback;
      auto dash = inner.find(":-");
      if (dash != std::string::npos) {
        name = inner.substr(0, dash);
        fallback = inner.substr(dash + 2);
      }
      std::optional<std::string> value;
      if (vars_) value = vars_(name);
      std::string piece = value && !value->empty() ? *value : fallback;
      if (value && !value->empty() && piece.find("://") == std::string::npos) piece = "http://" + piece;
      while (!piece.empty() && piece.back() == '/') piece.pop_back();
      out += piece;
      i = close + 1;
    }
    if (out.rfind("http://", 0) != 0 && out.rfind("https://", 0) != 0) {
      add(ErrorCode::kInvalidValue, pos, where + ": base_url '" + out + "' is not an http:// or https:// URL",
          "e.g. http://localhost:11434/v1");
    }
    while (!out.empty() && out.back() == '/') out.pop_back();
    return out;
  }

  void check_fallbacks(const ModelPool& pool, const std::map<std::string, SourcePos>& fallback_pos) {
    for (const auto& name : pool.names()) {
      const ModelSpec* m = pool.find(name);
      for (const auto& f : m->fallback) {
        auto pos_it = fallback_pos.find(name + "\n" + f);
        SourcePos pos = pos_it == fallback_pos.end() ? SourcePos{m->line, 1} : pos_it->second;
        if (!pool.find(f)) {
          std::string near = nearest(f, pool.names());
          add(ErrorCode::kInvalidValue, pos, "model '" + name + "' falls back to '" + f + "', which is not defined",
              near.empty() ? "define it under models:, or remove it from the list" : "did you mean '" + near + "'?");
        } else if (f == name) {
          add(ErrorCode::kCycle, pos, "model '" + name + "' falls back to itself", "remove it from its own fallback list");
        }
      }
    }
    // A longer cycle (a -> b -> a) would make the engine go round forever.
    for (const auto& name : pool.names()) {
      std::vector<std::string> path{name};
      if (cycle_from(pool, name, &path)) {
        std::string shown;
        for (const auto& p : path) shown += (shown.empty() ? "" : " -> ") + p;
        const ModelSpec* m = pool.find(name);
        add(ErrorCode::kCycle, {m->line, 1}, "fallbacks form a cycle: " + shown,
            "a fallback list may not lead back to the model itself");
        return;  // one report is enough
      }
    }
  }

  bool cycle_from(const ModelPool& pool, const std::string& start, std::vector<std::string>* path) {
    const ModelSpec* m = pool.find(path->back());
    if (!m || path->size() > pool.names().size() + 1) return false;
    for (const auto& f : m->fallback) {
      if (f == path->back()) continue;  // reported above
      if (f == start) {
        path->push_back(f);
        return true;
      }
      if (std::find(path->begin(), path->end(), f) != path->end()) continue;
      path->push_back(f);
      if (cycle_from(pool, start, path)) return true;
      path->pop_back();
    }
    return false;
  }

  const VariableLookup& vars_;
};

}  // namespace

std::string_view provider_name(Provider p) {
  switch (p) {
    case Provider::kOpenAI: return "openai";
    case Provider::kAnthropic: return "anthropic";
    case Provider::kGemini: return "gemini";
  }
  return "openai";
}

const ModelSpec* ModelPool::find(std::string_view name) const {
  auto it = models_.find(name);
  return it == models_.end() ? nullptr : &it->second;
}

std::vector<std::string> ModelPool::names() const {
  std::vector<std::string> out;
  for (const auto& kv : models_) out.push_back(kv.first);
  return out;
}

void ModelPool::add(ModelSpec spec) {
  std::string name = spec.name;
  models_[name] = std::move(spec);
}

Json model_pool_to_json(const ModelPool& pool) {
  Json models = Json::array();
  for (const auto& name : pool.names()) {
    const ModelSpec& m = *pool.find(name);
    Json j = {{"name", m.name},
              {"provider", provider_name(m.provider)},
              {"base_url", m.base_url},
              {"model", m.model_id},
              {"credential", {{"name", m.credential.name}, {"header", m.credential.header}, {"prefix", m.credential.prefix}}},
              {"stream", m.stream},
              {"price", {{"input_per_mtok", m.price_input_per_mtok}, {"output_per_mtok", m.price_output_per_mtok}}},
              {"limits", {{"concurrency", m.concurrency}, {"requests_per_minute", m.requests_per_minute},
                          {"tokens_per_minute", m.tokens_per_minute}}},
              {"timeouts", {{"connect_ms", m.connect_timeout_ms}, {"read_ms", m.read_timeout_ms}}},
              {"context_tokens", m.context_tokens},
              {"fallback", m.fallback},
              {"line", m.line}};
    if (m.temperature) j["temperature"] = *m.temperature;
    if (m.max_tokens) j["max_tokens"] = *m.max_tokens;
    if (!m.system.empty()) j["system"] = m.system;
    models.push_back(std::move(j));
  }
  return {{"default", pool.default_model()}, {"models", std::move(models)}};
}

ModelPoolLoad load_model_pool(std::string_view text, std::string_view file, const VariableLookup& vars) {
  PoolLoader loader(file, vars);
  return loader.load(text);
}

}  // namespace loom::llm
