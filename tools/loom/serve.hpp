// `loom serve`: the native headless server. An HTTP API for workflows (list, start a run, its
// status, its events as Server-Sent Events, answer a person's question, cancel) and an inbound
// e-mail webhook routed by a triggers file (triggers.hpp) to a workflow. A bearer token guards
// every /api route but /api/health; request bodies are size-limited; every run persists under
// DATA/runs/<id>/ (the workflow it runs, its event log) and is resumed at the next start.
// docs/serve.md describes the API.
//
// The code: serve.{hpp,cpp} (options, startup, serving and shutdown, the subcommand),
// serve_runs.{hpp,cpp} (the runs: persisting, driving, questions, cancel, --max-runs),
// serve_http.{hpp,cpp} (the routes), serve_util.hpp (small helpers they share).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <vector>

namespace loom::cli {

struct ServeOptions {
  std::string data = "loom-data";
  std::string host = "127.0.0.1";
  int port = 8787;  ///< 0: any free port (the line "listening on http://HOST:PORT" says which)
  std::vector<std::string> workflows = {"workflows"};
  std::string triggers;
  std::string models;
  std::string kb;
  std::string voice_background;
  std::uint64_t max_body = 1 << 20;
  std::string token_file;
  int max_runs = 4;         ///< runs driven at once; more wait their turn
  int max_concurrency = 8;  ///< host effects in flight at once, per run
};

/// The `serve` subcommand, defined on construction; run() serves until SIGINT or SIGTERM and
/// returns the exit code (0 after a clean stop, 2 when it cannot start).
class ServeCommand {
 public:
  explicit ServeCommand(CLI::App& app);
  bool parsed() const { return serve_->parsed(); }
  int run();

 private:
  CLI::App* serve_;
  ServeOptions options_;
};

}  // namespace loom::cli
