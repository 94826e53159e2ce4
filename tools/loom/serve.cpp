#include "serve.hpp"

#include <fcntl.h>
#include <httplib.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "files.hpp"
#include "http.hpp"
#include "loom/loom.hpp"
#include "mail.hpp"
#include "models.hpp"
#include "report.hpp"
#include "run_log.hpp"
#include "serve_http.hpp"
#include "serve_runs.hpp"
#include "serve_util.hpp"
#include "triggers.hpp"
#include "voice.hpp"

namespace loom::cli {
namespace {

namespace fs = std::filesystem;

// The server: loads what it serves, holds DATA's lock, then serves the HTTP API (serve_http.hpp)
// over the runs (serve_runs.hpp) until SIGINT or SIGTERM.
class Service {
 public:
  explicit Service(const ServeOptions& o) : o_(o) {}

  int run() {
    if (int code = setup()) return code;
    RunRegistry runs(agents_, library_, base_options_, o_.data, o_.max_runs);
    HttpApi api(o_, token_, library_, triggers_, runs);
    return serve(runs, api);
  }

 private:
  // ---------------------------------------------------------------- startup

  int setup() {
    agents_ = AgentRegistry::with_builtins();
    if (int code = use_knowledge_base(agents_, o_.kb)) return code;
    if (int code = use_voice_background(agents_, o_.voice_background)) return code;
    if (int code = load_workflows()) return code;
    if (!o_.triggers.empty()) {
      auto text = read_file(o_.triggers);
      if (!text)
        return fail(2, "cannot read the triggers file '" + o_.triggers + "'", "check the path");
      auto errors = Triggers::load(o_.triggers, *text, library_, &triggers_);
      for (const auto& e : errors) std::fputs(format_with_source(e, *text).c_str(), stderr);
      if (!errors.empty()) {
        return fail(2,
                    o_.triggers + ": " + std::to_string(errors.size()) + " error" +
                        (errors.size() == 1 ? "" : "s"),
                    "fix the triggers file; docs/serve.md describes it");
      }
    }
    std::string models_path = find_models_file(o_.models);
    if (!models_path.empty()) {
      base_options_.models = load_models_file(models_path);
      if (!base_options_.models) {
        if (!o_.models.empty()) return 2;
        std::fprintf(stderr,
                     "loom serve: going on without %s: workflows that call models will not start\n",
                     models_path.c_str());
      }
    }
    base_options_.max_concurrency = o_.max_concurrency;
    std::error_code ec;
    fs::create_directories(fs::path(o_.data) / "runs", ec);
    if (ec)
      return fail(2, "cannot create '" + o_.data + "/runs': " + ec.message(), "pass --data DIR");
    // Two servers on one folder would both resume its runs: the second is refused. The lock is
    // the kernel's, so a crashed server leaves none behind.
    std::string lock_path = (fs::path(o_.data) / "lock").string();
    lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock_fd_ < 0 || ::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
      return fail(2, "another loom serve uses '" + o_.data + "'",
                  "stop it, or pass another --data DIR");
    }
    if (int code = load_token()) return code;
    mail_init();
    http_global_init();
    return 0;
  }

  // Every *.yaml of each --workflows folder (or the file itself), checked against the library
  // of its folder; a workflow that does not load is left out with a warning.
  int load_workflows() {
    for (const auto& where : o_.workflows) {
      bool is_dir = fs::is_directory(where);
      if (!is_dir && !fs::is_regular_file(where)) {
        return fail(2, "no workflows at '" + where + "'",
                    "pass --workflows DIR (a folder of *.yaml)");
      }
      WorkflowLibrary near =
          load_library_near(is_dir ? (fs::path(where) / "-").string() : where, agents_);
      for (const auto& name : near.names()) {
        auto wf = near.find(name);
        if (!is_dir && fs::path(wf->file) != fs::path(where)) continue;
        LoadResult r = load_file(wf->file, agents_, near);
        if (!r.errors.empty()) {
          std::fprintf(stderr, "loom serve: leaving out %s: %s\n", wf->file.c_str(),
                       r.errors[0].format().c_str());
          continue;
        }
        if (auto other = library_.find(name)) {
          return fail(2,
                      "two workflows are named '" + name + "': " + other->file + " and " + wf->file,
                      "rename one, or pass only one of their folders with --workflows");
        }
        library_.add(r.workflow);
      }
    }
    if (library_.names().empty()) std::fprintf(stderr, "loom serve: no workflows loaded\n");
    return 0;
  }

  // The token: --token-file, else $LOOM_SERVE_TOKEN, else DATA/token, made when missing.
  int load_token() {
    std::string path = (fs::path(o_.data) / "token").string();
    std::string where;
    if (!o_.token_file.empty()) {
      auto text = read_file(o_.token_file);
      if (!text)
        return fail(2, "cannot read the token file '" + o_.token_file + "'", "check the path");
      token_ = trim(*text);
      where = "the token in '" + o_.token_file + "'";
    } else if (const char* env = std::getenv("LOOM_SERVE_TOKEN"); env && *env) {
      token_ = trim(env);
      where = "LOOM_SERVE_TOKEN";
    } else if (auto text = read_file(path); text && !trim(*text).empty()) {
      token_ = trim(*text);
      where = "the token in '" + path + "'";
      std::fprintf(stderr, "loom serve: the API token is in %s\n", path.c_str());
    } else {
      return make_token(path);
    }
    if (token_.size() < 16) {
      return fail(2, where + " is shorter than 16 characters",
                  "make one with: head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n'");
    }
    return 0;
  }

  // 32 random bytes, hex, in `path` (mode 0600); says where, never what.
  int make_token(const std::string& path) {
    token_ = random_hex(32);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    std::string line = token_ + "\n";
    bool ok = fd >= 0 && ::fchmod(fd, 0600) == 0 &&
              ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
    if (fd >= 0) ::close(fd);
    if (!ok)
      return fail(2, "cannot write the token to '" + path + "'",
                  "pass --token-file FILE or set LOOM_SERVE_TOKEN");
    std::fprintf(
        stderr,
        "loom serve: made a new API token in %s (send it as \"Authorization: Bearer TOKEN\")\n",
        path.c_str());
    return 0;
  }

  // ---------------------------------------------------------------- serving

  int serve(RunRegistry& runs, HttpApi& api) {
    // SIGINT and SIGTERM are taken by one thread (sigwait), never by the server's threads.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    std::signal(SIGPIPE, SIG_IGN);

    httplib::Server svr;
    svr.new_task_queue = [] { return new httplib::ThreadPool(32); };
    svr.set_payload_max_length(o_.max_body);
    // httplib's default also sets SO_REUSEPORT, with which a second server would share the port
    // silently; SO_REUSEADDR alone lets a restart bind at once and a second server fail.
    svr.set_socket_options([](int sock) {
      int yes = 1;
      ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
    svr.set_keep_alive_timeout(1);  // an idle connection holds a worker, and the stop waits for it
    api.install(svr);
    int port = o_.port;
    if (port == 0) {
      port = svr.bind_to_any_port(o_.host);
      if (port < 0) return fail(2, "cannot listen on " + o_.host, "check --host");
    } else if (!svr.bind_to_port(o_.host, port)) {
      return fail(2, "cannot listen on " + o_.host + ":" + std::to_string(port),
                  "is another server on that port? pass --port N (0: any free port)");
    }
    runs.restore();
    std::thread waiter([&runs, &svr, signals] {
      int sig = 0;
      sigwait(&signals, &sig);
      std::fprintf(stderr, "loom serve: %s, stopping the runs\n",
                   sig == SIGTERM ? "SIGTERM" : "SIGINT");
      runs.stop_all();
      svr.stop();
    });
    waiter.detach();
    std::fprintf(
        stderr,
        "loom serve: listening on http://%s:%d (%zu workflows, %zu trigger rules, data in %s)\n",
        o_.host.c_str(), port, library_.names().size(), triggers_.size(), o_.data.c_str());
    svr.listen_after_bind();
    runs.stop_all();
    int unfinished = runs.join();
    std::fprintf(stderr, "loom serve: stopped; %d unfinished runs resume at the next start\n",
                 unfinished);
    return 0;
  }

  const ServeOptions& o_;
  AgentRegistry agents_;
  WorkflowLibrary library_;
  Triggers triggers_;
  RunOptions base_options_;
  std::string token_;
  int lock_fd_ = -1;  // held (flock) while the server runs
};

}  // namespace

ServeCommand::ServeCommand(CLI::App& app) {
  serve_ =
      app.add_subcommand("serve", "Serve an HTTP API for workflows and an inbound e-mail webhook");
  auto& o = options_;
  serve_->add_option("--data", o.data, "where runs and the generated token are kept")
      ->capture_default_str();
  serve_->add_option("--host", o.host, "the address to listen on")->capture_default_str();
  serve_->add_option("--port", o.port, "the port (0: any free one)")->capture_default_str();
  serve_
      ->add_option("--workflows", o.workflows,
                   "a folder of workflows (*.yaml) or one file (repeatable)")
      ->capture_default_str();
  serve_->add_option("--triggers", o.triggers,
                     "the rules routing inbound e-mail to workflows (YAML)");
  serve_->add_option("--models", o.models,
                     "the models file (default: $LOOM_MODELS, ~/.config/loom/models.yaml)");
  serve_->add_option("--kb", o.kb, "the knowledge base knowledge.query steps read")
      ->envname("LOOM_KB");
  serve_
      ->add_option("--voice-background", o.voice_background,
                   "the background voice.* steps measure against")
      ->envname("LOOM_VOICE_BACKGROUND");
  serve_->add_option("--max-body", o.max_body, "the largest request body, in bytes")
      ->capture_default_str();
  serve_->add_option("--token-file", o.token_file,
                     "a file holding the API token (default: $LOOM_SERVE_TOKEN, else DATA/token, "
                     "made if missing)");
  serve_->add_option("--max-runs", o.max_runs, "runs driven at once; more wait their turn")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  serve_
      ->add_option("--max-concurrency", o.max_concurrency,
                   "host effects in flight at once, per run (0: no limit)")
      ->capture_default_str();
}

int ServeCommand::run() {
  Service service(options_);
  return service.run();
}

}  // namespace loom::cli
