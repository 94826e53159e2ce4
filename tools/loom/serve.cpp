#include "serve.hpp"

#include <fcntl.h>
#include <httplib.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include "files.hpp"
#include "host.hpp"
#include "http.hpp"
#include "loom/loom.hpp"
#include "mail.hpp"
#include "models.hpp"
#include "report.hpp"
#include "run_log.hpp"
#include "triggers.hpp"
#include "voice.hpp"

namespace loom::cli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string iso_time(std::int64_t ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string random_hex(std::size_t bytes) {
  std::string out;
  static const char* kHex = "0123456789abcdef";
  std::random_device rd;  // /dev/urandom on Linux
  for (std::size_t i = 0; i < bytes; ++i) {
    unsigned v = rd() & 0xff;
    out += kHex[v >> 4];
    out += kHex[v & 15];
  }
  return out;
}

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

// Compares in time that depends on the lengths only, never on where the first difference is.
bool same_secret(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < a.size(); ++i)
    diff |= static_cast<unsigned char>(a[i] ^ b[i % (b.empty() ? 1 : b.size())]);
  return diff == 0 && !b.empty();
}

struct LoggedEvent {
  std::uint64_t seq;
  std::string type;
  std::string line;  // as in the log
};

// A question a human.input step waits on, until it is answered over HTTP.
struct Question {
  std::string step;
  Json args;
  std::optional<Json> answer;
};

// One run the server knows: its engine state (owned by its driving thread while it runs), its
// log on disk and in memory (for the event streams), and what GET /api/runs/{id} shows.
struct RunRecord {
  std::string id;
  std::string dir;
  Json meta;  // {id, workflow, created_at, trigger?}: DATA/runs/<id>/meta.json
  std::shared_ptr<const Workflow> workflow;
  std::unique_ptr<Run> run;
  std::int64_t clock_base = 0;
  std::atomic<bool> stop{false};    // drive()'s `interrupted`: the server stops, or a cancel
  std::atomic<bool> cancel{false};  // POST /cancel asked for it
  std::thread thread;

  std::mutex mu;  // guards what follows
  std::condition_variable cv;
  LogWriter log;
  std::vector<LoggedEvent> events;
  Json snapshot = Json::object();
  bool snapshot_stale = false;  // events came since it was taken
  Clock::time_point snapshot_at;
  bool finished = false;        // the run reached its end (succeeded, failed, cancelled)
  std::string driver = "idle";  // queued, running, stopped, stuck, broken, done
  Error problem;                // why it is stuck or broken
  std::map<std::uint64_t, Question> questions;  // by effect id

  bool has_slot = false;  // guarded by Service::slots_mu_: the run may be driven now
};

struct HttpError {
  int status;
  std::string code, message, hint;
};

class Service {
 public:
  explicit Service(const ServeOptions& o) : o_(o) {}

  int run() {
    if (int code = setup()) return code;
    return serve();
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

  // Every run under DATA/runs: finished ones are listed, unfinished ones driven again.
  void restore_runs() {
    std::vector<fs::path> dirs;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(fs::path(o_.data) / "runs", ec)) {
      if (entry.is_directory() && entry.path().filename().string()[0] != '.')
        dirs.push_back(entry.path());
    }
    std::sort(dirs.begin(), dirs.end());
    int resumed = 0;
    for (const auto& dir : dirs) {
      auto r = std::make_shared<RunRecord>();
      r->id = dir.filename().string();
      r->dir = dir.string();
      Status s = restore_run(*r);
      if (s.code != ErrorCode::kOk) {
        r->driver = "broken";
        r->problem = s;
        r->finished = true;
        r->snapshot = {{"workflow", r->meta.value("workflow", "")}, {"status", "broken"}};
        std::fprintf(stderr, "run %s: cannot be restored: %s\n", r->id.c_str(), s.format().c_str());
      }
      add_record(r);
      if (s.code == ErrorCode::kOk && !r->finished) {
        std::fprintf(stderr, "run %s: resuming after %zu events\n", r->id.c_str(),
                     r->events.size());
        launch(r);
        ++resumed;
      }
    }
    if (!dirs.empty())
      std::fprintf(stderr, "loom serve: %zu runs on disk, %d resumed\n", dirs.size(), resumed);
  }

  Status restore_run(RunRecord& r) {
    std::string meta_path = r.dir + "/meta.json", wf_path = r.dir + "/workflow.yaml",
                log_path = r.dir + "/events.jsonl";
    auto meta = read_file(meta_path);
    r.meta = meta ? Json::parse(*meta, nullptr, false) : Json();
    if (!r.meta.is_object()) {
      r.meta = {{"id", r.id}};  // what is shown of a broken run
      return make_error(ErrorCode::kBadArgument, "cannot read " + meta_path);
    }
    auto source = read_file(wf_path);
    if (!source) return make_error(ErrorCode::kBadArgument, "cannot read " + wf_path);
    LoadResult loaded = load_workflow(*source, wf_path, agents_, &library_);
    if (!loaded.errors.empty()) return loaded.errors[0];
    auto events = read_log(log_path);
    if (!events) return events.error();
    auto run = Run::restore(loaded.workflow, *events, agents_, &library_, &base_options_);
    if (!run) return run.error();
    r.workflow = loaded.workflow;
    r.run = std::move(*run);
    r.clock_base = events->empty() ? 0 : events->back().time_ms;
    for (const Event& e : *events)
      r.events.push_back({e.seq, std::string(event_type_name(e.type)), event_line(e)});
    r.snapshot = r.run->snapshot();
    r.finished = r.run->finished();
    r.driver = r.finished ? "done" : "idle";
    if (!r.log.open(log_path, true))
      return make_error(ErrorCode::kHostError, "cannot append to " + log_path);
    return {};
  }

  // ---------------------------------------------------------------- runs

  void add_record(const std::shared_ptr<RunRecord>& r) {
    std::lock_guard<std::mutex> lock(runs_mu_);
    runs_[r->id] = r;
    order_.push_back(r->id);
  }

  std::shared_ptr<RunRecord> find_run(const std::string& id) {
    std::lock_guard<std::mutex> lock(runs_mu_);
    auto it = runs_.find(id);
    return it == runs_.end() ? nullptr : it->second;
  }

  // Starts a run of `wf`: checks the inputs, persists the workflow and the first events, and
  // hands the run to a driving thread. The engine's errors when the inputs do not fit.
  Result<std::shared_ptr<RunRecord>> start_run(const std::shared_ptr<const Workflow>& wf,
                                               const Json& inputs, const Json& trigger,
                                               std::vector<Error>* errors) {
    auto r = std::make_shared<RunRecord>();
    std::int64_t created = wall_ms();
    r->id = wf->name + "-" + std::to_string(created) + "-" + random_hex(3);
    RunOptions options = base_options_;
    options.run_id = r->id;
    std::random_device rd;
    options.seed = static_cast<std::uint64_t>(rd()) << 32 | rd();
    auto run = Run::start(wf, inputs, options, 0, agents_, &library_, errors);
    if (!run) return run.error();
    r->run = std::move(*run);
    r->workflow = wf;
    r->meta = {{"id", r->id},
               {"workflow", wf->name},
               {"file", wf->file},
               {"created_at", iso_time(created)}};
    if (!trigger.is_null()) r->meta["trigger"] = trigger;
    // The run's folder is written under a hidden name and renamed once it holds the workflow, the
    // meta and the first events: a crash never leaves a half-made run for the next start (which
    // skips hidden folders). The open log follows the rename.
    fs::path runs = fs::path(o_.data) / "runs";
    std::string draft = (runs / ("." + r->id)).string();
    r->dir = (runs / r->id).string();
    std::error_code ec;
    fs::create_directories(draft, ec);
    bool ok = !ec && write_file(draft + "/workflow.yaml", wf->source) &&
              write_file(draft + "/meta.json", dump(r->meta)) &&
              r->log.open(draft + "/events.jsonl", false);
    if (ok) {
      for (const Event& e : r->run->take_events()) ok = ok && record_event(*r, e);
    }
    if (ok) fs::rename(draft, r->dir, ec);
    if (!ok || ec) {
      fs::remove_all(draft, ec);
      return make_error(ErrorCode::kHostError,
                        "cannot write the run's files under " + runs.string());
    }
    add_record(r);
    launch(r);
    return r;
  }

  static bool write_file(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    return static_cast<bool>(out);
  }

  void launch(const std::shared_ptr<RunRecord>& r) {
    {
      std::lock_guard<std::mutex> lock(r->mu);
      r->driver = "queued";
    }
    r->thread = std::thread([this, r] { drive_run(r); });
  }

  // Persists one event (flushed before the effect it announces starts: drive() calls this
  // before it performs the effects of the same poll), keeps it for the event streams, and
  // refreshes the state GET /api/runs/{id} shows. Called on the thread that owns the run.
  bool record_event(RunRecord& r, const Event& e) {
    std::string line = event_line(e);
    std::lock_guard<std::mutex> lock(r.mu);
    if (!r.log.append(line)) {
      std::fprintf(stderr, "run %s: writing its log failed; stopping it so that nothing is lost\n",
                   r.id.c_str());
      return false;
    }
    r.events.push_back({e.seq, std::string(event_type_name(e.type)), std::move(line)});
    // A snapshot costs O(steps): taken for each run-level event, else at most every 100 ms (and
    // on the host's ticks), so that a fan-out of thousands of items does not cost O(n^2).
    r.snapshot_stale = true;
    if (Clock::now() - r.snapshot_at >= std::chrono::milliseconds(100)) refresh_snapshot(r);
    switch (e.type) {
      case EventType::kRunStarted:
      case EventType::kRunPaused:
      case EventType::kRunResumed:
        refresh_snapshot(r);
        std::fprintf(stderr, "run %s: %s%s\n", r.id.c_str(),
                     std::string(event_type_name(e.type)).c_str(),
                     e.step.empty() ? "" : (" at " + e.step).c_str());
        break;
      case EventType::kRunSucceeded:
      case EventType::kRunFailed:
      case EventType::kRunCancelled:
        r.finished = true;
        refresh_snapshot(r);
        std::fprintf(stderr, "run %s: %s\n", r.id.c_str(),
                     std::string(event_type_name(e.type)).c_str());
        break;
      default:
        break;
    }
    r.cv.notify_all();
    return true;
  }

  // With r.mu held, on the thread that owns the run.
  static void refresh_snapshot(RunRecord& r) {
    if (!r.snapshot_stale || !r.run) return;
    r.snapshot = r.run->snapshot();
    r.snapshot_at = Clock::now();
    r.snapshot_stale = false;
  }

  // human.input: parks the question until POST /api/runs/{id}/answer answers it, or the run
  // is stopped (the answer is then asked again when the run resumes).
  // While it waits, the run gives its slot back (a person may take days); it takes one again
  // to go on with the answer.
  EffectResult ask(RunRecord& r, const Effect& e, const std::atomic<bool>& cancel) {
    std::unique_lock<std::mutex> lock(r.mu);
    r.questions[e.id] = {e.step, e.args, std::nullopt};
    bool first = r.questions.size() == 1;
    std::fprintf(stderr, "run %s: waiting for an answer at %s\n", r.id.c_str(), e.step.c_str());
    r.cv.notify_all();
    lock.unlock();
    if (first) release_slot(r);
    lock.lock();
    while (!r.questions[e.id].answer && !cancel.load())
      r.cv.wait_for(lock, std::chrono::milliseconds(100));
    Question q = std::move(r.questions[e.id]);
    r.questions.erase(e.id);
    bool last = r.questions.empty();
    lock.unlock();
    if (last) acquire_slot(r);
    if (!q.answer)
      return EffectResult::failure(ErrorCode::kCancelled, "no answer: the run was stopped");
    return EffectResult::success(std::move(*q.answer));
  }

  // --max-runs slots; a run drives only while it holds one. Waits for a free slot unless the
  // run is stopped (or cancelled); true when the run holds one.
  bool acquire_slot(RunRecord& r) {
    std::unique_lock<std::mutex> lock(slots_mu_);
    slots_cv_.wait(lock, [&] { return r.has_slot || active_ < o_.max_runs || r.stop.load(); });
    if (!r.has_slot && active_ < o_.max_runs && !r.stop.load()) {
      ++active_;
      r.has_slot = true;
    }
    return r.has_slot;
  }

  void release_slot(RunRecord& r) {
    {
      std::lock_guard<std::mutex> lock(slots_mu_);
      if (!r.has_slot) return;
      r.has_slot = false;
      --active_;
    }
    slots_cv_.notify_all();
  }

  void drive_run(std::shared_ptr<RunRecord> r) {
    auto started = Clock::now();
    HostExit exit = HostExit::kInterrupted;  // stopped or cancelled before its turn came
    if (acquire_slot(*r)) {
      set_driver(*r, "running");
      exit = r->run->finished() ? HostExit::kFinished : drive(*r->run, host_config(r));
    }
    std::string driver = "done";
    if (exit == HostExit::kInterrupted && r->cancel && !r->run->finished()) {
      auto elapsed =
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
      r->run->cancel(r->clock_base + elapsed, "cancelled over HTTP");
      for (const Event& e : r->run->take_events()) {
        if (!record_event(*r, e)) break;
      }
    } else if (exit == HostExit::kInterrupted) {
      driver = "stopped";
    } else if (exit == HostExit::kStuck) {
      driver = "stuck";
      std::fprintf(stderr, "run %s: stuck (no effect in flight and nothing scheduled)\n",
                   r->id.c_str());
    } else if (exit == HostExit::kWriteFailed) {
      driver = "broken";
    }
    set_driver(*r, driver);
    release_slot(*r);
  }

  HostConfig host_config(const std::shared_ptr<RunRecord>& r) {
    HostConfig config;
    config.clock_base_ms = r->clock_base;
    config.interrupted = &r->stop;
    config.secrets = secret_from_env;
    config.on_event = [this, r](const Event& e) { return record_event(*r, e); };
    config.ask_person = [this, r](const Effect& e, const std::atomic<bool>& cancel) {
      return ask(*r, e, cancel);
    };
    config.on_tick = [r](std::int64_t) {
      std::lock_guard<std::mutex> lock(r->mu);
      refresh_snapshot(*r);
    };
    return config;
  }

  // Called by the run's own thread.
  void set_driver(RunRecord& r, const std::string& driver) {
    std::lock_guard<std::mutex> lock(r.mu);
    refresh_snapshot(r);
    r.driver = driver;
    if (driver == "stuck") r.problem = make_error(ErrorCode::kInvalidState, "the run is stuck");
    if (driver == "broken")
      r.problem = make_error(ErrorCode::kHostError, "writing the run's log failed");
    r.cv.notify_all();
  }

  // What GET /api/runs/{id} shows. With r.mu held.
  static Json describe(const RunRecord& r) {
    Json out = r.snapshot;
    out.erase("run_id");
    out["id"] = r.id;
    out["created_at"] = r.meta.value("created_at", "");
    if (r.meta.contains("trigger")) out["trigger"] = r.meta["trigger"];
    out["driver"] = r.driver;
    out["events"] = r.events.size();
    if (r.problem.code != ErrorCode::kOk) {
      out["problem"] = {{"code", error_code_name(r.problem.code)}, {"message", r.problem.message}};
    }
    Json questions = Json::array();
    for (const auto& [id, q] : r.questions) {
      if (q.answer) continue;
      Json j = {{"step", q.step}, {"prompt", q.args.value("prompt", "?")}};
      if (q.args.contains("choices")) j["choices"] = q.args["choices"];
      if (q.args.contains("show") && !q.args["show"].is_null()) j["show"] = q.args["show"];
      questions.push_back(std::move(j));
    }
    if (!questions.empty()) out["question"] = questions[0];
    out["questions"] = std::move(questions);
    return out;
  }

  // ---------------------------------------------------------------- HTTP

  static void send(httplib::Response& res, int status, const Json& body) {
    res.status = status;
    res.set_content(dump(body) + "\n", "application/json");
  }

  static void send_error(httplib::Response& res, const HttpError& e) {
    send(res, e.status, {{"error", {{"code", e.code}, {"message", e.message}, {"hint", e.hint}}}});
  }

  static HttpError engine_error(int status, const Error& e) {
    return {status, std::string(error_code_name(e.code)), e.message, e.hint};
  }

  static Result<Json> parse_json_body(const std::string& text) {
    Json body = Json::parse(text, nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
      return make_error(ErrorCode::kBadArgument, "the body is not a JSON object",
                        "send JSON, e.g. {\"workflow\": \"NAME\"}");
    }
    return body;
  }

  bool authorized(const httplib::Request& req) const {
    std::string auth = req.get_header_value("Authorization");
    const std::string prefix = "Bearer ";
    if (auth.size() <= prefix.size() || auth.compare(0, prefix.size(), prefix) != 0) return false;
    return same_secret(trim(auth.substr(prefix.size())), token_);
  }

  void routes(httplib::Server& svr) {
    svr.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (req.path.rfind("/api/", 0) != 0 || req.path == "/api/health" || authorized(req)) {
        return httplib::Server::HandlerResponse::Unhandled;
      }
      res.set_header("WWW-Authenticate", "Bearer realm=\"loom\"");
      send_error(res, {401, "unauthorized", "a valid bearer token is required",
                       "send \"Authorization: Bearer TOKEN\"; the token is in --token-file, "
                       "LOOM_SERVE_TOKEN or "
                       "DATA/token"});
      return httplib::Server::HandlerResponse::Handled;
    });
    // httplib's own refusals (no route, a body over --max-body, a malformed request) get the
    // same JSON error shape as ours.
    svr.set_error_handler(httplib::Server::HandlerWithResponse(
        [this](const httplib::Request&, httplib::Response& res) {
          if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
          if (res.status == 413) {
            send_error(res, too_large());
          } else if (res.status == 404) {
            send_error(
                res, {404, "not_found", "no such route", "the routes are listed in docs/serve.md"});
          } else {
            send_error(res, {res.status, "bad_request", "the request was refused", ""});
          }
          return httplib::Server::HandlerResponse::Handled;
        }));
    // A handler that throws (it should not) answers 500 without the exception's text.
    svr.set_exception_handler([](const httplib::Request&, httplib::Response& res,
                                 std::exception_ptr) {
      send_error(res,
                 {500, "internal", "the server failed on this request", "its stderr may say more"});
    });
    svr.set_logger([](const httplib::Request& req, const httplib::Response& res) {
      std::fprintf(stderr, "%s %s -> %d\n", req.method.c_str(), req.path.c_str(), res.status);
    });

    svr.Get("/api/health", [](const httplib::Request&, httplib::Response& res) {
      send(res, 200, {{"status", "ok"}, {"version", kVersion}});
    });
    svr.Get("/api/workflows", [this](const httplib::Request&, httplib::Response& res) {
      Json list = Json::array();
      for (const auto& name : library_.names())
        list.push_back(describe_workflow(*library_.find(name)));
      send(res, 200, {{"workflows", list}});
    });
    using namespace std::placeholders;
    post(svr, "/api/runs", std::bind(&Service::post_run, this, _1, _2, _3));
    svr.Get("/api/runs",
            [this](const httplib::Request&, httplib::Response& res) { list_runs(res); });
    const std::string run_path = R"(/api/runs/([A-Za-z0-9_.-]+))";
    svr.Get(run_path, [this](const httplib::Request& req, httplib::Response& res) {
      with_run(req, res, [&](RunRecord& r) {
        std::lock_guard<std::mutex> lock(r.mu);
        send(res, 200, describe(r));
      });
    });
    svr.Get(run_path + "/events", [this](const httplib::Request& req, httplib::Response& res) {
      stream_events(req, res);
    });
    post(svr, run_path + "/answer", std::bind(&Service::answer, this, _1, _2, _3));
    post(svr, run_path + "/cancel", std::bind(&Service::cancel, this, _1, _2, _3));
    post(svr, "/api/inbound/email", std::bind(&Service::inbound, this, _1, _2, _3));
  }

  HttpError too_large() const {
    return {413, "payload_too_large",
            "the body is larger than " + std::to_string(o_.max_body) + " bytes",
            "send less, or start the server with a larger --max-body"};
  }

  // A POST route whose handler gets the body, read here: at most --max-body bytes, whether the
  // client announced its length (httplib refuses a larger Content-Length before reading) or sent
  // chunks (counted as they come; httplib 0.11 would read them all).
  using BodyHandler =
      std::function<void(const httplib::Request&, const std::string&, httplib::Response&)>;
  void post(httplib::Server& svr, const std::string& pattern, BodyHandler handler) {
    svr.Post(pattern, [this, handler](const httplib::Request& req, httplib::Response& res,
                                      const httplib::ContentReader& read) {
      std::string body;
      bool too_big = false;
      bool complete = read([&](const char* data, std::size_t n) {
        too_big = too_big || body.size() + n > o_.max_body;
        if (!too_big) body.append(data, n);
        return !too_big;
      });
      if (too_big || res.status == 413) {
        res.set_header("Connection", "close");  // the rest of the body is not read
        return send_error(res, too_large());
      }
      if (!complete) return send_error(res, {400, "bad_request", "the body could not be read", ""});
      handler(req, body, res);
    });
  }

  static Json describe_workflow(const Workflow& wf) {
    Json inputs = Json::array();
    for (const auto& in : wf.inputs) {
      Json j = {{"name", in.name}, {"type", input_type_name(in.type)}, {"required", in.required}};
      if (in.default_value) j["default"] = *in.default_value;
      if (!in.description.empty()) j["description"] = in.description;
      inputs.push_back(std::move(j));
    }
    return {{"name", wf.name},
            {"description", wf.description},
            {"inputs", inputs},
            {"version", wf.version()}};
  }

  // The run the route's path names; null after answering 404 unknown_run.
  std::shared_ptr<RunRecord> run_or_404(const httplib::Request& req, httplib::Response& res) {
    auto r = find_run(req.matches[1]);
    if (!r) {
      send_error(res, {404, "unknown_run", "no run '" + std::string(req.matches[1]) + "'",
                       "GET /api/runs lists the runs"});
    }
    return r;
  }

  template <class F>
  void with_run(const httplib::Request& req, httplib::Response& res, F f) {
    if (auto r = run_or_404(req, res)) f(*r);
  }

  void post_run(const httplib::Request&, const std::string& text, httplib::Response& res) {
    auto body = parse_json_body(text);
    if (!body) return send_error(res, engine_error(400, body.error()));
    if (!body->contains("workflow") || !(*body)["workflow"].is_string()) {
      return send_error(res, {400, "bad_argument", "'workflow' must name a workflow",
                              "GET /api/workflows lists them"});
    }
    std::string name = (*body)["workflow"];
    auto wf = library_.find(name);
    if (!wf) {
      std::string near = nearest(name, library_.names());
      return send_error(
          res, {404, "unknown_workflow", "no workflow named '" + name + "'",
                near.empty() ? "GET /api/workflows lists them" : "did you mean '" + near + "'?"});
    }
    Json inputs = body->contains("inputs") ? (*body)["inputs"] : Json::object();
    if (!inputs.is_object()) {
      return send_error(res, {400, "bad_argument", "'inputs' must be a JSON object",
                              "e.g. {\"document\": \"...\"}"});
    }
    respond_started(res, 201, wf, inputs, Json());
  }

  // Starts the run and answers {id, status, workflow} (with the rule for a trigger), or the
  // engine's error when the inputs do not fit.
  void respond_started(httplib::Response& res, int status,
                       const std::shared_ptr<const Workflow>& wf, const Json& inputs,
                       const Json& trigger) {
    std::vector<Error> errors;
    auto r = start_run(wf, inputs, trigger, &errors);
    if (!r) {
      int code = r.error().code == ErrorCode::kHostError ? 500 : trigger.is_null() ? 400 : 422;
      HttpError e = engine_error(code, r.error());
      // The engine's hints for inputs speak of `loom run --input`; here they come in JSON.
      ErrorCode c = r.error().code;
      if (c == ErrorCode::kInputMissing || c == ErrorCode::kInputType ||
          c == ErrorCode::kInputUnknown) {
        e.hint =
            trigger.is_null()
                ? "GET /api/workflows lists the inputs of '" + wf->name + "' and their types"
                : "the rule '" + trigger.value("rule", "") + "' of " + o_.triggers + " gives them";
      }
      Json body = {{"error", {{"code", e.code}, {"message", e.message}, {"hint", e.hint}}}};
      if (errors.size() > 1) {
        for (const auto& x : errors)
          body["errors"].push_back({{"code", error_code_name(x.code)}, {"message", x.message}});
      }
      return send(res, code, body);
    }
    Json out = {{"id", (*r)->id}, {"workflow", wf->name}, {"status", "running"}};
    if (!trigger.is_null()) out["rule"] = trigger["rule"];
    res.set_header("Location", "/api/runs/" + (*r)->id);
    send(res, status, out);
  }

  void list_runs(httplib::Response& res) {
    std::vector<std::shared_ptr<RunRecord>> records;
    {
      std::lock_guard<std::mutex> lock(runs_mu_);
      for (const auto& id : order_) records.push_back(runs_[id]);
    }
    Json list = Json::array();
    for (const auto& r : records) {
      std::lock_guard<std::mutex> lock(r->mu);
      list.push_back({{"id", r->id},
                      {"workflow", r->meta.value("workflow", "")},
                      {"status", r->snapshot.value("status", "")},
                      {"driver", r->driver},
                      {"created_at", r->meta.value("created_at", "")},
                      {"waiting", !r->questions.empty()}});
    }
    send(res, 200, {{"runs", list}});
  }

  void answer(const httplib::Request& req, const std::string& text, httplib::Response& res) {
    with_run(req, res, [&](RunRecord& r) {
      auto body = parse_json_body(text);
      if (!body) return send_error(res, engine_error(400, body.error()));
      if (!body->contains("value")) {
        return send_error(
            res, {400, "bad_argument", "the answer has no 'value'", "send {\"value\": \"yes\"}"});
      }
      if (body->contains("step") && !(*body)["step"].is_string()) {
        return send_error(res, {400, "bad_argument", "'step' must be a step's path",
                                "as in the run's questions"});
      }
      std::string step = body->value("step", "");
      std::lock_guard<std::mutex> lock(r.mu);
      Question* q = nullptr;
      for (auto& [id, x] : r.questions) {
        if (!x.answer && (step.empty() || x.step == step)) {
          q = &x;
          break;
        }
      }
      if (!q) {
        return send_error(res,
                          {409, "not_waiting",
                           step.empty() ? "the run is not waiting for an answer"
                                        : "the run is not waiting for an answer at '" + step + "'",
                           "GET /api/runs/" + r.id + " shows its questions"});
      }
      const Json& value = (*body)["value"];
      if (q->args.contains("choices") && q->args["choices"].is_array() &&
          !q->args["choices"].empty()) {
        const Json& choices = q->args["choices"];
        if (std::find(choices.begin(), choices.end(), value) == choices.end()) {
          return send_error(res, {400, "bad_answer", "the answer must be one of the choices",
                                  "one of: " + dump(choices)});
        }
      }
      q->answer = value.is_string() ? Json(valid_utf8(value.get<std::string>())) : value;
      r.cv.notify_all();
      std::fprintf(stderr, "run %s: answered at %s\n", r.id.c_str(), q->step.c_str());
      send(res, 200, {{"id", r.id}, {"step", q->step}, {"answered", true}});
    });
  }

  void cancel(const httplib::Request& req, const std::string&, httplib::Response& res) {
    with_run(req, res, [&](RunRecord& r) {
      std::unique_lock<std::mutex> lock(r.mu);
      if (r.finished) {
        return send_error(res, {409, "invalid_state", "the run has already ended",
                                "it is " + r.snapshot.value("status", std::string("finished"))});
      }
      r.cancel = true;
      r.stop = true;
      r.cv.notify_all();
      lock.unlock();
      wake_slots();  // a run waiting for its turn is cancelled without one
      lock.lock();
      // The driving thread records the cancellation; wait for it.
      r.cv.wait_for(lock, std::chrono::seconds(5), [&] { return r.finished; });
      send(res, 202, {{"id", r.id}, {"status", r.snapshot.value("status", "")}});
    });
  }

  // Server-Sent Events: the persisted events after Last-Event-ID (or ?after=N), then the live
  // ones, until the run ends (or the server stops). Each is `id: SEQ`, `event: TYPE`, `data: JSON`.
  void stream_events(const httplib::Request& req, httplib::Response& res) {
    auto r = run_or_404(req, res);
    if (!r) return;
    std::string after_text = req.has_header("Last-Event-ID") ? req.get_header_value("Last-Event-ID")
                                                             : req.get_param_value("after");
    std::uint64_t after = std::strtoull(after_text.c_str(), nullptr, 10);
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");
    auto sent = std::make_shared<std::uint64_t>(after);
    res.set_chunked_content_provider(
        "text/event-stream", [this, r, sent](std::size_t, httplib::DataSink& sink) {
          std::string chunk;
          bool end = false;
          {
            std::unique_lock<std::mutex> lock(r->mu);
            auto pending = [&] {
              return (!r->events.empty() && r->events.back().seq > *sent) || r->finished ||
                     stopping_.load() || r->driver == "stuck" || r->driver == "broken";
            };
            r->cv.wait_for(lock, std::chrono::seconds(10), pending);
            for (const auto& e : r->events) {
              if (e.seq <= *sent) continue;
              chunk += "id: " + std::to_string(e.seq) + "\nevent: " + e.type + "\ndata: " + e.line +
                       "\n\n";
              *sent = e.seq;
            }
            end = r->finished || stopping_.load() || r->driver == "stuck" || r->driver == "broken";
          }
          if (chunk.empty() && !end) chunk = ": still running\n\n";
          if (!chunk.empty() && !sink.write(chunk.data(), chunk.size())) return false;
          if (end) sink.done();
          return true;
        });
  }

  void inbound(const httplib::Request& req, const std::string& body_text, httplib::Response& res) {
    std::string type = req.get_header_value("Content-Type");
    type = ascii_lower(trim(type.substr(0, type.find(';'))));
    Result<Json> email = make_error(ErrorCode::kBadArgument, "");
    if (type == "application/json") {
      Json body = Json::parse(body_text, nullptr, false);
      email = body.is_discarded()
                  ? Result<Json>(make_error(ErrorCode::kBadArgument, "the body is not JSON"))
                  : email_from_json(body);
    } else if (type == "message/rfc822" || type == "text/plain" || type.empty()) {
      email = parse_rfc822(body_text);
    } else {
      return send_error(res,
                        {415, "unsupported_media_type", "cannot read a '" + type + "' e-mail",
                         "send the raw message as message/rfc822, or JSON as application/json"});
    }
    if (!email)
      return send_error(res, {400, "bad_email", email.error().message, email.error().hint});
    const TriggerRule* rule = triggers_.route(*email);
    if (!rule) {
      std::fprintf(stderr, "inbound e-mail: no rule matches\n");
      return send_error(
          res, {422, "no_trigger", "no rule of the triggers file matches this e-mail",
                o_.triggers.empty() ? "start loom serve with --triggers FILE"
                                    : "add a rule to " + o_.triggers + " (docs/serve.md)"});
    }
    auto inputs = Triggers::inputs_for(*rule, *email);
    if (!inputs) return send_error(res, engine_error(422, inputs.error()));
    std::fprintf(stderr, "inbound e-mail: rule '%s' starts %s\n", rule->name.c_str(),
                 rule->workflow.c_str());
    Json trigger = {{"rule", rule->name},
                    {"subject", (*email)["subject"]},
                    {"from", (*email)["from"]},
                    {"message_id", (*email)["message_id"]}};
    respond_started(res, 202, library_.find(rule->workflow), *inputs, trigger);
  }

  // ---------------------------------------------------------------- serving

  int serve() {
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
    routes(svr);
    int port = o_.port;
    if (port == 0) {
      port = svr.bind_to_any_port(o_.host);
      if (port < 0) return fail(2, "cannot listen on " + o_.host, "check --host");
    } else if (!svr.bind_to_port(o_.host, port)) {
      return fail(2, "cannot listen on " + o_.host + ":" + std::to_string(port),
                  "is another server on that port? pass --port N (0: any free port)");
    }
    restore_runs();
    std::thread waiter([this, &svr, signals] {
      int sig = 0;
      sigwait(&signals, &sig);
      std::fprintf(stderr, "loom serve: %s, stopping the runs\n",
                   sig == SIGTERM ? "SIGTERM" : "SIGINT");
      stop_all();
      svr.stop();
    });
    waiter.detach();
    std::fprintf(
        stderr,
        "loom serve: listening on http://%s:%d (%zu workflows, %zu trigger rules, data in %s)\n",
        o_.host.c_str(), port, library_.names().size(), triggers_.size(), o_.data.c_str());
    svr.listen_after_bind();
    stop_all();
    std::vector<std::shared_ptr<RunRecord>> records;
    {
      std::lock_guard<std::mutex> lock(runs_mu_);
      for (auto& [id, r] : runs_) records.push_back(r);
    }
    int unfinished = 0;
    for (auto& r : records) {
      if (r->thread.joinable()) r->thread.join();
      if (!r->finished) ++unfinished;
    }
    std::fprintf(stderr, "loom serve: stopped; %d unfinished runs resume at the next start\n",
                 unfinished);
    return 0;
  }

  void stop_all() {
    stopping_ = true;
    {
      std::lock_guard<std::mutex> lock(runs_mu_);
      for (auto& [id, r] : runs_) {
        r->stop = true;
        std::lock_guard<std::mutex> run_lock(r->mu);
        r->cv.notify_all();
      }
    }
    wake_slots();
  }

  // After a run's `stop` is set: a run waiting for a slot sees it (taking the lock first, so
  // that a waiter between its check and its wait does not miss the notification).
  void wake_slots() {
    { std::lock_guard<std::mutex> lock(slots_mu_); }
    slots_cv_.notify_all();
  }

  const ServeOptions& o_;
  AgentRegistry agents_;
  WorkflowLibrary library_;
  Triggers triggers_;
  RunOptions base_options_;
  std::string token_;
  int lock_fd_ = -1;  // held (flock) while the server runs
  std::atomic<bool> stopping_{false};

  std::mutex runs_mu_;
  std::map<std::string, std::shared_ptr<RunRecord>> runs_;
  std::vector<std::string> order_;

  std::mutex slots_mu_;
  std::condition_variable slots_cv_;
  int active_ = 0;
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
