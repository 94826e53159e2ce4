// Bindings of the engine for JavaScript (embind). Declarations only: rich data crosses as JSON
// strings, every call returns an envelope {ok, value} or {ok: false, error}; web/src/engine.js
// is the only importer and turns errors into EngineError.
#include <emscripten/bind.h>

#include <memory>
#include <string>

#include "loom/loom.hpp"

namespace {

using loom::Json;

std::string ok(Json value) { return Json{{"ok", true}, {"value", std::move(value)}}.dump(-1, ' ', false, Json::error_handler_t::replace); }

Json error_json(const loom::Error& e) {
  return {{"code", static_cast<int>(e.code)}, {"name", loom::error_code_name(e.code)}, {"message", e.message},
          {"hint", e.hint}, {"file", e.file}, {"line", e.line}, {"column", e.column}};
}

std::string fail(const loom::Error& e) { return Json{{"ok", false}, {"error", error_json(e)}}.dump(-1, ' ', false, Json::error_handler_t::replace); }

// The one place an exception could still cross into JavaScript: turn it into an envelope.
template <typename Fn>
std::string guarded(Fn&& fn) {
  try {
    return fn();
  } catch (const std::exception& e) {
    return fail(loom::make_error(loom::ErrorCode::kBadArgument, std::string("malformed argument: ") + e.what()));
  }
}

std::string fail_all(const std::vector<loom::Error>& errors) {
  Json list = Json::array();
  for (const auto& e : errors) list.push_back(error_json(e));
  return Json{{"ok", false}, {"error", list.empty() ? Json() : list[0]}, {"errors", list}}.dump(-1, ' ', false, Json::error_handler_t::replace);
}

loom::Result<Json> parse(const std::string& text, const char* what) {
  Json j = Json::parse(text, nullptr, false);
  if (j.is_discarded()) return loom::make_error(loom::ErrorCode::kBadArgument, std::string(what) + " is not valid JSON");
  return j;
}

Json events_json(std::vector<loom::Event> events) {
  Json out = Json::array();
  for (const auto& e : events) out.push_back(loom::event_to_json(e));
  return out;
}

// The long-lived engine object: an agent registry, a library of workflows, and runs by id.
// A knowledge base for JavaScript: JSON strings in and out (loom/knowledge.hpp's JSON shapes),
// the snapshot as bytes. Held by a shared_ptr so an engine can take a copy for its runs.
class Knowledge {
 public:
  std::string init(const std::string& options_json) {
    return guarded([&]() -> std::string {
      auto j = parse(options_json, "options");
      if (!j) return fail(j.error());
      auto options = loom::knowledge::index_options_from_json(*j);
      if (!options) return fail(options.error());
      kb_ = loom::knowledge::KnowledgeBase(*options);
      return ok(nullptr);
    });
  }

  std::string load(const std::string& bytes) {
    return guarded([&]() -> std::string {
      auto kb = loom::knowledge::KnowledgeBase::load(bytes);
      if (!kb) return fail(kb.error());
      kb_ = std::move(*kb);
      return ok(nullptr);
    });
  }

  std::string put_many(const std::string& entries_json) {
    return guarded([&]() -> std::string {
      auto j = parse(entries_json, "entries");
      if (!j) return fail(j.error());
      if (!j->is_array()) return fail(loom::make_error(loom::ErrorCode::kBadArgument, "entries must be a list"));
      for (std::size_t i = 0; i < j->size(); ++i) {
        auto entry = loom::knowledge::entry_from_json((*j)[i]);
        loom::Status s = entry ? kb_.put(std::move(*entry)) : loom::Status(entry.error());
        if (s.code != loom::ErrorCode::kOk) {
          s.message = "entry " + std::to_string(i) + ": " + s.message;
          return fail(s);
        }
      }
      return ok(Json{{"entries", kb_.size()}});
    });
  }

  std::string remove(const std::string& id) {
    return guarded([&]() -> std::string { return ok(kb_.remove(id)); });
  }

  std::string search(const std::string& query, const std::string& options_json) {
    return guarded([&]() -> std::string {
      auto j = parse(options_json, "options");
      if (!j) return fail(j.error());
      auto options = loom::knowledge::search_options_from_json(*j);
      if (!options) return fail(options.error());
      return ok(loom::knowledge::hits_to_json(kb_, kb_.search(query, *options)));
    });
  }

  std::string search_ranked(const std::string& query, const std::string& options_json) {
    return guarded([&]() -> std::string {
      auto j = parse(options_json, "options");
      if (!j) return fail(j.error());
      auto options = loom::knowledge::search_options_from_json(*j);
      if (!options) return fail(options.error());
      // Only what ranking needs, [[id, chunk ordinal, score], ...]: the least to copy per query.
      Json out = Json::array();
      for (const auto& h : kb_.search(query, *options)) {
        out.push_back(Json::array({kb_.entries()[h.entry].id, kb_.chunks()[h.chunk].ordinal, h.score}));
      }
      return ok(out);
    });
  }

  std::string mentions(const std::string& text) {
    return guarded([&]() -> std::string {
      return ok(loom::knowledge::mentions_to_json(kb_, text, kb_.mentions(text)));
    });
  }

  std::string query(const std::string& request_json) {
    return guarded([&]() -> std::string {
      auto j = parse(request_json, "request");
      if (!j) return fail(j.error());
      auto request = loom::knowledge::query_request_from_json(*j);
      if (!request) return fail(request.error());
      return ok(loom::knowledge::query_result_to_json(kb_, loom::knowledge::query(kb_, *request)));
    });
  }

  std::string entries() {
    return guarded([&]() -> std::string {
      Json out = Json::array();
      for (const auto& e : kb_.entries()) {
        Json j = loom::knowledge::entry_to_json(e);
        j.erase("text");
        out.push_back(std::move(j));
      }
      return ok(out);
    });
  }

  std::string stats() {
    return guarded([&]() -> std::string {
      return ok(Json{{"entries", kb_.size()}, {"chunks", kb_.chunks().size()},
                     {"options", loom::knowledge::index_options_to_json(kb_.options())}});
    });
  }

  // A Uint8Array copy: a std::string would go out as (corrupted) UTF-8 text.
  emscripten::val snapshot() {
    std::string bytes = kb_.snapshot();
    emscripten::val view(emscripten::typed_memory_view(bytes.size(), reinterpret_cast<const unsigned char*>(bytes.data())));
    return emscripten::val::global("Uint8Array").new_(view);
  }

  std::string fingerprint() { return kb_.fingerprint(); }

  const loom::knowledge::KnowledgeBase& base() const { return kb_; }

 private:
  loom::knowledge::KnowledgeBase kb_;
};

std::string knowledge_analyze(const std::string& text) {
  return guarded([&]() -> std::string { return ok(loom::knowledge::analyze(text)); });
}

// A voice background for JavaScript: built from voices (tools/voice-background.mjs) or loaded
// from its snapshot; profiles, scores, rankings, dialogue and features as JSON (the same
// request shapes as the voice.* agents). Held by a shared_ptr so an engine can bind its agents.
class Voice {
 public:
  std::string build(const std::string& voices_json) {
    return guarded([&]() -> std::string {
      auto j = parse(voices_json, "voices");
      if (!j) return fail(j.error());
      auto bg = loom::voice::Background::build(j->get<std::vector<std::vector<std::string>>>());
      if (!bg) return fail(bg.error());
      background_ = std::make_shared<const loom::voice::Background>(std::move(*bg));
      return info();
    });
  }

  std::string load(const std::string& bytes) {
    return guarded([&]() -> std::string {
      auto bg = loom::voice::Background::load(bytes);
      if (!bg) return fail(bg.error());
      background_ = std::make_shared<const loom::voice::Background>(std::move(*bg));
      return info();
    });
  }

  std::string info() const {
    if (!background_) return no_background();
    return ok({{"passages", background_->passages()}, {"words", background_->words()},
               {"fingerprint", background_->fingerprint()}});
  }

  emscripten::val snapshot() const {
    const std::string bytes = background_ ? background_->snapshot() : std::string();
    emscripten::val view(emscripten::typed_memory_view(bytes.size(), reinterpret_cast<const unsigned char*>(bytes.data())));
    return emscripten::val::global("Uint8Array").new_(view);
  }

  std::string profile(const std::string& request_json) { return request(request_json, &loom::voice::profile_request); }
  std::string score(const std::string& request_json) { return request(request_json, &loom::voice::score_request); }
  std::string rank(const std::string& request_json) { return request(request_json, &loom::voice::rank_request); }

  std::string dialogue(const std::string& text, const std::string& names_json) {
    return guarded([&]() -> std::string {
      auto names = parse(names_json, "names");
      if (!names) return fail(names.error());
      return ok(loom::voice::dialogue_to_json(text, loom::voice::extract_dialogue(text, names->get<std::vector<std::string>>())));
    });
  }

  std::string features(const std::string& text) {
    const loom::voice::Features f = loom::voice::measure(text);
    Json out = Json::array();
    for (const auto& info : loom::voice::feature_table()) {
      out.push_back({{"id", info.id}, {"label", info.label}, {"unit", info.unit}, {"value", f.*(info.field)}});
    }
    return ok(out);
  }

  std::shared_ptr<const loom::voice::Background> background() const { return background_; }

 private:
  static std::string no_background() {
    return fail(loom::make_error(loom::ErrorCode::kInvalidState, "no voice background is loaded"));
  }
  std::string request(const std::string& request_json, loom::Result<Json> (*fn)(const Json&, const loom::voice::Background&)) {
    return guarded([&]() -> std::string {
      if (!background_) return no_background();
      auto j = parse(request_json, "request");
      if (!j) return fail(j.error());
      auto out = fn(*j, *background_);
      if (!out) return fail(out.error());
      return ok(std::move(*out));
    });
  }
  std::shared_ptr<const loom::voice::Background> background_;
};

class Engine {
 public:
  Engine() : agents_(loom::AgentRegistry::with_builtins()) {}

  /// Loads (validates) a workflow; on success adds it to the library. Envelope value: summary.
  std::string load(const std::string& yaml, const std::string& file) {
    return guarded([&]() -> std::string {
      loom::LoadResult r = loom::load_workflow(yaml, file, agents_, &library_);
      if (!r.errors.empty()) return fail_all(r.errors);
      library_.add(r.workflow);
      return ok(summary(*r.workflow));
    });
  }

  /// Validates without adding: every error (an empty list when valid).
  std::string validate(const std::string& yaml, const std::string& file) {
    return guarded([&]() -> std::string {
      loom::LoadResult r = loom::load_workflow(yaml, file, agents_, &library_);
      Json list = Json::array();
      for (const auto& e : r.errors) list.push_back(error_json(e));
      return ok(list);
    });
  }

  std::string agents() const {
    Json out = Json::array();
    for (const auto& name : agents_.names()) {
      const loom::AgentSpec* a = agents_.find(name);
      Json params = Json::array();
      for (const auto& p : a->params) {
        params.push_back({{"name", p.name}, {"type", loom::input_type_name(p.type)}, {"required", p.required},
                          {"description", p.description}});
      }
      out.push_back({{"name", name}, {"description", a->description}, {"params", params},
                     {"kind", a->kind == loom::AgentKind::kPure ? "pure" : a->kind == loom::AgentKind::kEffect ? "effect" : "workflow"}});
    }
    return ok(out);
  }

  // The base knowledge.query steps of runs started from now on read: a copy of `kb` as it is.
  std::string use_knowledge(const Knowledge& kb) {
    return guarded([&]() -> std::string {
      auto copy = std::make_shared<const loom::knowledge::KnowledgeBase>(kb.base());
      loom::Status s = loom::knowledge::register_knowledge_agents(agents_, copy);
      if (s.code != loom::ErrorCode::kOk) return fail(s);
      return ok(nullptr);
    });
  }

  std::string clear_knowledge() {
    return guarded([&]() -> std::string {
      loom::Status s = loom::knowledge::register_knowledge_agents(agents_, nullptr);
      if (s.code != loom::ErrorCode::kOk) return fail(s);
      return ok(nullptr);
    });
  }

  // voice.* steps of runs started from now on use `voice`'s background.
  std::string use_voice(const Voice& voice) {
    return guarded([&]() -> std::string {
      loom::Status s = loom::voice::register_voice_agents(agents_, voice.background());
      if (s.code != loom::ErrorCode::kOk) return fail(s);
      return ok(nullptr);
    });
  }

  // A models file (YAML): its pool as JSON, or every error with its line.
  std::string models(const std::string& yaml, const std::string& file) {
    return guarded([&]() -> std::string {
      loom::llm::ModelPoolLoad pool = loom::llm::load_model_pool(yaml, file.empty() ? "models.yaml" : file);
      if (!pool.errors.empty()) return fail_all(pool.errors);
      return ok(loom::llm::model_pool_to_json(*pool.pool));
    });
  }

  std::string start(const std::string& workflow, const std::string& inputs_json, const std::string& options_json,
                    double now) {
    return guarded([&]() -> std::string {
      auto wf = library_.find(workflow);
      if (!wf) return fail(loom::make_error(loom::ErrorCode::kUnknownWorkflow, "no workflow '" + workflow + "' is loaded"));
      auto inputs = parse(inputs_json, "inputs");
      if (!inputs) return fail(inputs.error());
      auto opts = options(options_json);
      if (!opts) return fail(opts.error());
      std::vector<loom::Error> errors;
      auto run = loom::Run::start(wf, *inputs, *opts, static_cast<std::int64_t>(now), agents_, &library_, &errors);
      if (!run) return errors.empty() ? fail(run.error()) : fail_all(errors);
      int id = next_id_++;
      runs_[id] = std::move(*run);
      return ok(Json{{"run", id}, {"events", events_json(runs_[id]->take_events())}});
    });
  }

  std::string restore(const std::string& workflow, const std::string& events_jsonl_array, const std::string& options_json) {
    return guarded([&]() -> std::string {
      auto wf = library_.find(workflow);
      if (!wf) return fail(loom::make_error(loom::ErrorCode::kUnknownWorkflow, "no workflow '" + workflow + "' is loaded"));
      auto arr = parse(events_jsonl_array, "events");
      if (!arr) return fail(arr.error());
      if (!arr->is_array()) return fail(loom::make_error(loom::ErrorCode::kBadEventLog, "events must be a list"));
      std::vector<loom::Event> events;
      for (const auto& j : *arr) {
        auto e = loom::event_from_json(j);
        if (!e) return fail(e.error());
        events.push_back(std::move(*e));
      }
      auto opts = options(options_json);
      if (!opts) return fail(opts.error());
      auto run = loom::Run::restore(wf, events, agents_, &library_, &*opts);
      if (!run) return fail(run.error());
      int id = next_id_++;
      runs_[id] = std::move(*run);
      return ok(Json{{"run", id}});
    });
  }

  /// Envelope value: {effects, events, status, wakeup, ready}.
  std::string poll(int run, double now) {
    return guarded([&]() -> std::string {
      loom::Run* r = find(run);
      if (!r) return no_run(run);
      std::vector<loom::Effect> effects = r->poll(static_cast<std::int64_t>(now));
      return ok(step_result(*r, &effects));
    });
  }

  /// results: [{id, ok, output | error, retry_after_ms}] resolved in order.
  std::string resolve(int run, const std::string& results_json, double now) {
    return guarded([&]() -> std::string {
      loom::Run* r = find(run);
      if (!r) return no_run(run);
      auto results = parse(results_json, "results");
      if (!results) return fail(results.error());
      if (!results->is_array()) *results = Json::array({*results});
      for (const auto& j : *results) {
        auto res = loom::effect_result_from_json(j);
        if (!res) return fail(res.error());
        auto id = j.find("id");
      if (id == j.end() || !id->is_number_unsigned()) {
        return fail(loom::make_error(loom::ErrorCode::kBadArgument, "each result needs a numeric 'id' (the effect's id)"));
      }
      loom::Status s = r->resolve(id->get<std::uint64_t>(), *res, static_cast<std::int64_t>(now));
        // A result for an effect the engine no longer waits for (cancelled, timed out) is dropped.
        if (s.code != loom::ErrorCode::kOk && s.code != loom::ErrorCode::kUnknownEffect) return fail(s);
      }
      return ok(step_result(*r, nullptr));
    });
  }

  std::string feed(int run, double effect, const std::string& chunk, double now) {
    return guarded([&]() -> std::string {
      loom::Run* r = find(run);
      if (!r) return no_run(run);
      loom::Status s = r->feed(static_cast<std::uint64_t>(effect), chunk, static_cast<std::int64_t>(now));
      if (s.code != loom::ErrorCode::kOk) return fail(s);
      return ok(step_result(*r, nullptr));
    });
  }

  std::string cancel(int run, double now) {
    return guarded([&]() -> std::string {
      loom::Run* r = find(run);
      if (!r) return no_run(run);
      loom::Status s = r->cancel(static_cast<std::int64_t>(now));
      if (s.code != loom::ErrorCode::kOk) return fail(s);
      std::vector<loom::Effect> effects = r->poll(static_cast<std::int64_t>(now));
      return ok(step_result(*r, &effects));
    });
  }

  std::string snapshot(int run) {
    return guarded([&]() -> std::string {
      loom::Run* r = find(run);
      if (!r) return no_run(run);
      return ok(r->snapshot());
    });
  }

  void close(int run) { runs_.erase(run); }

 private:
  static Json summary(const loom::Workflow& wf) {
    Json inputs = Json::array();
    for (const auto& in : wf.inputs) {
      Json j = {{"name", in.name}, {"type", loom::input_type_name(in.type)}, {"required", in.required},
                {"description", in.description}};
      if (in.default_value) j["default"] = *in.default_value;
      inputs.push_back(j);
    }
    Json steps = Json::array();
    for (const auto& s : wf.steps) {
      steps.push_back({{"id", s.id}, {"agent", s.loop ? "loop" : s.agent}, {"needs", s.needs},
                       {"foreach", s.foreach != nullptr}, {"when", s.when != nullptr}});
    }
    Json outputs = Json::array();
    for (const auto& o : wf.outputs) outputs.push_back(o.first);
    return {{"name", wf.name}, {"description", wf.description}, {"inputs", inputs}, {"steps", steps},
            {"outputs", outputs}, {"version", wf.version()}};
  }

  static loom::Result<loom::RunOptions> options(const std::string& text) {
    loom::RunOptions o;
    if (text.empty()) return o;
    auto j = parse(text, "options");
    if (!j) return j.error();
    if (!j->is_object()) return loom::make_error(loom::ErrorCode::kBadArgument, "options must be an object");
    auto bad = [](const char* key, const char* type) {
      return loom::make_error(loom::ErrorCode::kBadArgument, std::string("option '") + key + "' must be " + type);
    };
    auto field = [&](const char* key) { return j->contains(key) ? &(*j)[key] : nullptr; };
    if (auto* v = field("run_id")) {
      if (!v->is_string()) return bad("run_id", "a string");
      o.run_id = v->get<std::string>();
    }
    if (auto* v = field("seed")) {
      if (!v->is_number_unsigned()) return bad("seed", "a whole number >= 0");
      o.seed = v->get<std::uint64_t>();
    }
    if (auto* v = field("max_concurrency")) {
      if (!v->is_number_integer() || v->get<std::int64_t>() < 0) return bad("max_concurrency", "a whole number >= 0");
      o.max_concurrency = v->get<int>();
    }
    if (auto* v = field("use_cache")) {
      if (!v->is_boolean()) return bad("use_cache", "true or false");
      o.use_cache = v->get<bool>();
    }
    if (auto* v = field("max_work_per_poll")) {
      if (!v->is_number_integer() || v->get<std::int64_t>() < 1) return bad("max_work_per_poll", "a whole number >= 1");
      o.max_work_per_poll = v->get<int>();
    }
    if (auto* v = field("models")) {  // the text of a models file (YAML)
      if (!v->is_string()) return bad("models", "the text of a models file");
      loom::llm::ModelPoolLoad pool = loom::llm::load_model_pool(v->get<std::string>(), "models.yaml");
      if (!pool.errors.empty()) return pool.errors.front();
      o.models = pool.pool;
    }
    if (auto* v = field("budget")) {
      if (!v->is_object()) return bad("budget", "an object {max_cost_usd, max_tokens}");
      if (v->contains("max_cost_usd")) {
        if (!(*v)["max_cost_usd"].is_number() || (*v)["max_cost_usd"].get<double>() < 0) return bad("budget.max_cost_usd", "a number >= 0");
        o.budget.max_cost_usd = (*v)["max_cost_usd"].get<double>();
      }
      if (v->contains("max_tokens")) {
        if (!(*v)["max_tokens"].is_number_integer() || (*v)["max_tokens"].get<std::int64_t>() < 0) {
          return bad("budget.max_tokens", "a whole number >= 0");
        }
        o.budget.max_tokens = (*v)["max_tokens"].get<std::int64_t>();
      }
    }
    if (j->contains("pool_limits") && (*j)["pool_limits"].is_object()) {
      for (auto it = (*j)["pool_limits"].begin(); it != (*j)["pool_limits"].end(); ++it) {
        if (it->is_number_integer()) o.pool_limits[it.key()] = it->get<int>();
      }
    }
    return o;
  }

  Json step_result(loom::Run& r, std::vector<loom::Effect>* effects) {
    Json out = Json::object();
    Json list = Json::array();
    if (effects) {
      for (const auto& e : *effects) list.push_back(loom::effect_to_json(e));
    }
    out["effects"] = std::move(list);
    out["events"] = events_json(r.take_events());
    out["status"] = loom::run_status_name(r.status());
    out["ready"] = r.has_ready_work();
    auto w = r.next_wakeup();
    out["wakeup"] = w ? Json(*w) : Json();
    if (r.finished()) {
      out["outputs"] = r.outputs();
      if (r.failure().code != loom::ErrorCode::kOk) out["error"] = error_json(r.failure());
    }
    return out;
  }

  loom::Run* find(int run) {
    auto it = runs_.find(run);
    return it == runs_.end() ? nullptr : it->second.get();
  }
  static std::string no_run(int run) {
    return fail(loom::make_error(loom::ErrorCode::kInvalidState, "no run " + std::to_string(run) + " (closed?)"));
  }

  loom::AgentRegistry agents_;
  loom::WorkflowLibrary library_;
  std::map<int, std::unique_ptr<loom::Run>> runs_;
  int next_id_ = 1;
};

std::string error_codes() {
  Json out = Json::object();
  for (int c = 0; c <= loom::kLastErrorCode; ++c) {
    out[std::string(loom::error_code_name(static_cast<loom::ErrorCode>(c)))] = c;
  }
  return out.dump();
}

}  // namespace

EMSCRIPTEN_BINDINGS(loom) {
  emscripten::class_<Engine>("Engine")
      .constructor<>()
      .function("load", &Engine::load)
      .function("validate", &Engine::validate)
      .function("agents", &Engine::agents)
      .function("models", &Engine::models)
      .function("useKnowledge", &Engine::use_knowledge)
      .function("clearKnowledge", &Engine::clear_knowledge)
      .function("useVoice", &Engine::use_voice)
      .function("start", &Engine::start)
      .function("restore", &Engine::restore)
      .function("poll", &Engine::poll)
      .function("resolve", &Engine::resolve)
      .function("feed", &Engine::feed)
      .function("cancel", &Engine::cancel)
      .function("snapshot", &Engine::snapshot)
      .function("close", &Engine::close);
  emscripten::class_<Knowledge>("KnowledgeBase")
      .constructor<>()
      .function("init", &Knowledge::init)
      .function("load", &Knowledge::load)
      .function("putMany", &Knowledge::put_many)
      .function("remove", &Knowledge::remove)
      .function("search", &Knowledge::search)
      .function("searchRanked", &Knowledge::search_ranked)
      .function("mentions", &Knowledge::mentions)
      .function("query", &Knowledge::query)
      .function("entries", &Knowledge::entries)
      .function("stats", &Knowledge::stats)
      .function("snapshot", &Knowledge::snapshot)
      .function("fingerprint", &Knowledge::fingerprint);
  emscripten::class_<Voice>("Voice")
      .constructor<>()
      .function("build", &Voice::build)
      .function("load", &Voice::load)
      .function("info", &Voice::info)
      .function("snapshot", &Voice::snapshot)
      .function("profile", &Voice::profile)
      .function("score", &Voice::score)
      .function("rank", &Voice::rank)
      .function("dialogue", &Voice::dialogue)
      .function("features", &Voice::features);
  emscripten::function("knowledgeAnalyze", &knowledge_analyze);
  emscripten::function("errorCodes", &error_codes);
  emscripten::function("version", emscripten::optional_override([]() { return std::string(loom::kVersion); }));
}
