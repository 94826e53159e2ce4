// loom — the native command: validate, run, graph and list agents for Loom workflows; kb; voice.
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <sstream>

#include "files.hpp"
#include "graph.hpp"
#include "host.hpp"
#include "http.hpp"
#include "kb.hpp"
#include "report.hpp"
#include "voice.hpp"
#include "loom/loom.hpp"
#include "models.hpp"
#include "progress.hpp"
#include "run_log.hpp"
#include "serve.hpp"

namespace {

using namespace loom;
using namespace loom::cli;

std::atomic<bool> g_interrupted{false};

void on_sigint(int) {
  g_interrupted = true;
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C ends the process at once
}

int usage_error(const std::string& message, const std::string& hint = {}) { return fail(2, message, hint); }

// --input k=v: the value is read as the declared type of input k.
Result<Json> parse_input_value(const Workflow& wf, const std::string& name, const std::string& text) {
  int i = wf.input_index(name);
  InputType type = i >= 0 ? wf.inputs[static_cast<std::size_t>(i)].type : InputType::kAny;
  if (type == InputType::kString) return Json(text);
  Json v = Json::parse(text, nullptr, false);
  if (v.is_discarded()) {
    if (type == InputType::kAny) return Json(text);
    return make_error(ErrorCode::kInputType,
                      "input '" + name + "' must be a " + std::string(input_type_name(type)) + ", got '" + text + "'");
  }
  return v;
}

Result<Json> collect_inputs(const Workflow& wf, const std::vector<std::string>& pairs,
                            const std::vector<std::string>& file_pairs) {
  Json inputs = Json::object();
  for (const auto& p : pairs) {
    auto eq = p.find('=');
    if (eq == std::string::npos || eq == 0) {
      return make_error(ErrorCode::kBadArgument, "--input '" + p + "' is not NAME=VALUE");
    }
    auto v = parse_input_value(wf, p.substr(0, eq), p.substr(eq + 1));
    if (!v) return v.error();
    inputs[p.substr(0, eq)] = *v;
  }
  for (const auto& p : file_pairs) {
    auto eq = p.find('=');
    if (eq == std::string::npos || eq == 0) {
      return make_error(ErrorCode::kBadArgument, "--input-file '" + p + "' is not NAME=PATH");
    }
    std::string name = p.substr(0, eq), path = p.substr(eq + 1);
    auto text = read_file(path);
    if (!text) return make_error(ErrorCode::kBadArgument, "cannot read '" + path + "' for input '" + name + "'");
    int i = wf.input_index(name);
    InputType type = i >= 0 ? wf.inputs[static_cast<std::size_t>(i)].type : InputType::kString;
    if (type == InputType::kList || type == InputType::kObject || type == InputType::kNumber) {
      auto v = parse_input_value(wf, name, *text);
      if (!v) return v.error();
      inputs[name] = *v;
    } else {
      inputs[name] = valid_utf8(*text);
    }
  }
  return inputs;
}

int cmd_validate(const std::vector<std::string>& files, bool json) {
  AgentRegistry agents = AgentRegistry::with_builtins();
  int failed = 0;
  Json report = Json::array();
  std::map<std::string, WorkflowLibrary> libraries;  // one per folder: `loom validate dir/*.yaml` loads it once
  for (const auto& file : files) {
    std::string folder = std::filesystem::path(file).parent_path().string();
    auto lib = libraries.find(folder);
    if (lib == libraries.end()) lib = libraries.emplace(folder, load_library_near(file, agents)).first;
    const WorkflowLibrary& library = lib->second;
    LoadResult r = load_file(file, agents, library);
    std::string source = read_file(file).value_or("");
    Json entry = {{"file", file}, {"ok", r.errors.empty()}, {"errors", Json::array()}};
    for (const auto& e : r.errors) {
      entry["errors"].push_back({{"code", error_code_name(e.code)}, {"message", e.message}, {"hint", e.hint},
                                 {"line", e.line}, {"column", e.column}});
      if (!json) std::fputs(format_with_source(e, source).c_str(), stderr);
    }
    if (r.errors.empty()) {
      if (!json) std::printf("ok  %s (%s, %zu steps)\n", file.c_str(), r.workflow->name.c_str(), r.workflow->steps.size());
    } else {
      ++failed;
      if (!json) std::fprintf(stderr, "%s: %zu error%s\n\n", file.c_str(), r.errors.size(), r.errors.size() == 1 ? "" : "s");
    }
    report.push_back(entry);
  }
  if (json) std::printf("%s\n", report.dump(2).c_str());
  return failed ? 1 : 0;
}

int cmd_graph(const std::string& file, const std::string& format) {
  AgentRegistry agents = AgentRegistry::with_builtins();
  WorkflowLibrary library = load_library_near(file, agents);
  LoadResult r = load_file(file, agents, library);
  if (!r.errors.empty()) {
    std::string source = read_file(file).value_or("");
    for (const auto& e : r.errors) std::fputs(format_with_source(e, source).c_str(), stderr);
    return 1;
  }
  if (format == "mermaid") std::fputs(graph_mermaid(*r.workflow).c_str(), stdout);
  else if (format == "dot") std::fputs(graph_dot(*r.workflow).c_str(), stdout);
  else std::fputs(graph_ascii(*r.workflow).c_str(), stdout);
  return 0;
}

int cmd_agents() {
  AgentRegistry agents = AgentRegistry::with_builtins();
  for (const auto& name : agents.names()) {
    const AgentSpec* a = agents.find(name);
    const char* kind = a->kind == AgentKind::kPure ? "offline" : a->kind == AgentKind::kEffect ? "host" : "workflow";
    std::printf("%-15s %-8s %s\n", name.c_str(), kind, a->description.c_str());
    for (const auto& p : a->params) {
      std::printf("    %-13s %-8s %s%s\n", p.name.c_str(), std::string(input_type_name(p.type)).c_str(),
                  p.required ? "(required) " : "", p.description.c_str());
    }
  }
  return 0;
}

struct RunArgs {
  std::string file;
  std::vector<std::string> inputs;
  std::vector<std::string> input_files;
  std::string events;
  std::string resume;
  std::string cache_dir;
  bool json = false;
  int max_concurrency = 8;
  std::uint64_t seed = 0;
  std::string models;
  double budget_usd = 0;
  std::int64_t budget_tokens = 0;
  std::string kb;
  std::string voice_background;
};

int cmd_run(const RunArgs& a) {
  AgentRegistry agents = AgentRegistry::with_builtins();
  if (int code = use_knowledge_base(agents, a.kb)) return code;
  if (int code = use_voice_background(agents, a.voice_background)) return code;
  WorkflowLibrary library = load_library_near(a.file, agents);
  LoadResult loaded = load_file(a.file, agents, library);
  if (!loaded.errors.empty()) {
    std::string source = read_file(a.file).value_or("");
    for (const auto& e : loaded.errors) std::fputs(format_with_source(e, source).c_str(), stderr);
    return 1;
  }
  auto wf = loaded.workflow;
  RunOptions options;
  options.max_concurrency = a.max_concurrency;
  options.use_cache = !a.cache_dir.empty();
  options.budget.max_cost_usd = a.budget_usd;
  options.budget.max_tokens = a.budget_tokens;
  std::string models_path = find_models_file(a.models);
  bool needs_models = calls_models(wf->steps, agents);
  if (!models_path.empty()) {
    options.models = load_models_file(models_path);
    if (!options.models) {
      // A broken default models file does not stop a workflow that calls no model.
      if (needs_models || !a.models.empty()) return 1;
      std::fprintf(stderr, "loom: going on without %s: %s calls no model\n", models_path.c_str(), wf->name.c_str());
    }
  } else if (needs_models) {
    return usage_error(wf->name + " calls models, and no models file was found",
                       "pass --models workflows/models/default.yaml (edit it first), set LOOM_MODELS, or copy it to "
                       "~/.config/loom/models.yaml");
  }
  std::unique_ptr<Run> run;
  std::vector<Event> resumed_events;
  std::string log_path = !a.resume.empty() ? a.resume : a.events;
  std::int64_t clock_base = 0;
  if (!a.resume.empty()) {
    if (!a.inputs.empty() || !a.input_files.empty()) {
      return usage_error("--resume takes the inputs from the log", "drop --input/--input-file");
    }
    auto events = read_log(a.resume);
    if (!events) return usage_error(events.error().format());
    resumed_events = *events;
    auto r = Run::restore(wf, *events, agents, &library, &options);
    if (!r) return usage_error(r.error().format());
    run = std::move(*r);
    if (run->finished()) {
      std::fprintf(stderr, "loom: this run already %s\n", std::string(run_status_name(run->status())).c_str());
    }
    clock_base = events->back().time_ms;
    std::fprintf(stderr, "resuming %s from %s (%zu events)\n", wf->name.c_str(), a.resume.c_str(), events->size());
  } else {
    auto inputs = collect_inputs(*wf, a.inputs, a.input_files);
    if (!inputs) return usage_error(inputs.error().format());
    std::random_device rd;
    options.seed = a.seed ? a.seed : (static_cast<std::uint64_t>(rd()) << 32 | rd());
    auto now = std::chrono::system_clock::now().time_since_epoch();
    options.run_id = wf->name + "-" + std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(now).count());
    std::vector<Error> errors;
    auto r = Run::start(wf, *inputs, options, 0, agents, &library, &errors);
    if (!r) {
      for (const auto& e : errors) std::fprintf(stderr, "%s\n", e.format().c_str());
      return 1;
    }
    run = std::move(*r);
  }

  LogWriter log;
  if (!log_path.empty() && !log.open(log_path, !a.resume.empty())) {
    return usage_error("cannot write the run log '" + log_path + "'");
  }
  bool tty = isatty(STDERR_FILENO);
  Progress progress(stderr, tty, wf->steps.size());
  if (!a.resume.empty()) progress.absorb(resumed_events);
  HostConfig config;
  config.cache_dir = a.cache_dir;
  config.clock_base_ms = clock_base;
  config.interrupted = &g_interrupted;
  config.secrets = secret_from_env;
  config.on_event = [&](const Event& e) {
    if (log.is_open()) {
      if (!log.append(event_line(e))) {  // on disk before the effect it announces is started
        std::fprintf(stderr, "loom: writing %s failed; stopping so that nothing is lost\n", log_path.c_str());
        return false;
      }
    }
    progress.on_event(e);
    return true;
  };
  config.on_tick = [&](std::int64_t now) { progress.tick(now); };
  std::signal(SIGINT, on_sigint);
  http_global_init();
  HostExit exit = drive(*run, config);
  if (exit == HostExit::kInterrupted) {
    progress.summary(*run);
    if (!log_path.empty()) {
      std::string again = "loom run " + a.file + " --resume " + log_path;
      if (!a.models.empty()) again += " --models " + a.models;
      if (a.budget_usd > 0) again += " --budget-usd " + Json(a.budget_usd).dump();
      if (a.budget_tokens > 0) again += " --budget-tokens " + std::to_string(a.budget_tokens);
      if (!a.cache_dir.empty()) again += " --cache-dir " + a.cache_dir;
      std::fprintf(stderr, "\ninterrupted. Resume with:\n  %s\n", again.c_str());
    } else {
      std::fprintf(stderr, "\ninterrupted. Run with --events FILE to be able to resume.\n");
    }
    return 130;
  }
  if (exit == HostExit::kWriteFailed) return 1;
  if (exit == HostExit::kStuck) {
    std::fprintf(stderr, "loom: the run is stuck (no effect in flight and nothing scheduled)\n");
    return 1;
  }
  if (!a.json) progress.summary(*run);
  Json result = {{"workflow", wf->name}, {"status", run_status_name(run->status())}, {"outputs", run->outputs()}};
  Json snapshot = run->snapshot();
  if (snapshot.contains("usage")) {
    result["usage"] = snapshot["usage"];
    result["cost_usd"] = snapshot["cost_usd"];
  }
  if (run->failure().code != ErrorCode::kOk) {
    result["error"] = {{"code", error_code_name(run->failure().code)}, {"message", run->failure().message}};
  }
  if (!log_path.empty()) result["events"] = log_path;
  if (a.json) {
    std::printf("%s\n", result.dump(2, ' ', false, Json::error_handler_t::replace).c_str());
  } else if (run->status() == RunStatus::kSucceeded) {
    for (auto it = run->outputs().begin(); it != run->outputs().end(); ++it) {
      std::printf("\n%s:\n%s\n", it.key().c_str(),
                  it->is_string() ? it->get<std::string>().c_str() : it->dump(2).c_str());
    }
  } else {
    std::fprintf(stderr, "\nrun %s: %s\n", std::string(run_status_name(run->status())).c_str(),
                 run->failure().message.c_str());
  }
  return run->status() == RunStatus::kSucceeded ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"loom — run AI writing workflows written as YAML DAGs"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("loom ") + loom::kVersion);

  std::vector<std::string> validate_files;
  bool validate_json = false;
  auto* validate = app.add_subcommand("validate", "Check workflow files; print every error with its line and column");
  validate->add_option("files", validate_files, "workflow files")->required()->check(CLI::ExistingFile);
  validate->add_flag("--json", validate_json, "print the report as JSON");

  RunArgs run_args;
  auto* run = app.add_subcommand("run", "Run a workflow, showing each step's progress");
  run->add_option("file", run_args.file, "the workflow file")->required()->check(CLI::ExistingFile);
  run->add_option("--input,-i", run_args.inputs, "an input, NAME=VALUE (repeatable)");
  run->add_option("--input-file", run_args.input_files, "an input read from a file, NAME=PATH (repeatable)");
  run->add_option("--events", run_args.events, "write the run's event log (JSON lines) to this file");
  run->add_option("--resume", run_args.resume, "resume the run whose event log is this file");
  run->add_option("--cache-dir", run_args.cache_dir, "use a step cache in this folder (re-runs skip finished steps)");
  run->add_option("--max-concurrency", run_args.max_concurrency, "host effects in flight at once (0: no limit)");
  run->add_option("--seed", run_args.seed, "seed for retry jitter (default: random)");
  run->add_flag("--json", run_args.json, "print the result as JSON on stdout");
  run->add_option("--models", run_args.models, "the models file (default: $LOOM_MODELS, ~/.config/loom/models.yaml)");
  run->add_option("--budget-usd", run_args.budget_usd, "refuse model calls that could take the run past this cost")
      ->check(CLI::PositiveNumber);
  run->add_option("--budget-tokens", run_args.budget_tokens, "refuse model calls that could take the run past this many tokens")
      ->check(CLI::PositiveNumber);
  run->add_option("--kb", run_args.kb, "the knowledge base knowledge.query steps read (`loom kb add` builds one)")
      ->envname("LOOM_KB");
  run->add_option("--voice-background", run_args.voice_background,
                  "the background voice.* steps measure against (default: build/voice/background.loomvb)")
      ->envname("LOOM_VOICE_BACKGROUND");
  run->get_option("--resume")->excludes(run->get_option("--events"));

  std::string graph_file, graph_format = "ascii";
  auto* graph = app.add_subcommand("graph", "Draw a workflow's DAG");
  graph->add_option("file", graph_file, "the workflow file")->required()->check(CLI::ExistingFile);
  graph->add_option("--format,-f", graph_format, "ascii, mermaid or dot")
      ->check(CLI::IsMember({"ascii", "mermaid", "dot"}));

  auto* agents = app.add_subcommand("agents", "List the agents a step may use");

  std::string models_file;
  auto* models = app.add_subcommand("models", "List the models of the models file, and whether their keys are set");
  models->add_option("--models", models_file, "the models file (default: $LOOM_MODELS, ~/.config/loom/models.yaml)");

  KbCommand kb(app);
  VoiceCommand voice(app);
  ServeCommand serve(app);

  CLI11_PARSE(app, argc, argv);
  if (kb.parsed()) return kb.run();
  if (voice.parsed()) return voice.run();
  if (serve.parsed()) return serve.run();
  if (*validate) return cmd_validate(validate_files, validate_json);
  if (*run) return cmd_run(run_args);
  if (*graph) return cmd_graph(graph_file, graph_format);
  if (*agents) return cmd_agents();
  if (*models) return cmd_models(models_file);
  return 2;
}
