#include "serve_runs.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <thread>

#include "files.hpp"
#include "host.hpp"
#include "models.hpp"
#include "run_log.hpp"
#include "serve_util.hpp"

namespace loom::cli {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

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

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.flush();
  return static_cast<bool>(out);
}

// A question a human.input step waits on, until it is answered over HTTP.
struct Question {
  std::string step;
  Json args;
  std::optional<Json> answer;
};

}  // namespace

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

  bool has_slot = false;  // guarded by RunRegistry::slots_mu_: the run may be driven now
};

namespace {

// With r.mu held, on the thread that owns the run.
void refresh_snapshot(RunRecord& r) {
  if (!r.snapshot_stale || !r.run) return;
  r.snapshot = r.run->snapshot();
  r.snapshot_at = Clock::now();
  r.snapshot_stale = false;
}

// A run that ends its event streams: it reached its end, or its thread gave up on it.
bool ended(const RunRecord& r) { return r.finished || r.driver == "stuck" || r.driver == "broken"; }

}  // namespace

RunRegistry::RunRegistry(const AgentRegistry& agents, const WorkflowLibrary& library,
                         const RunOptions& base_options, std::string data_dir, int max_runs)
    : agents_(agents),
      library_(library),
      base_options_(base_options),
      data_dir_(std::move(data_dir)),
      max_runs_(max_runs) {}

RunRegistry::~RunRegistry() {
  stop_all();
  join();
}

// ---------------------------------------------------------------- restoring

void RunRegistry::restore() {
  std::vector<fs::path> dirs;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(fs::path(data_dir_) / "runs", ec)) {
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
    add(r);
    if (s.code == ErrorCode::kOk && !r->finished) {
      std::fprintf(stderr, "run %s: resuming after %zu events\n", r->id.c_str(), r->events.size());
      launch(r);
      ++resumed;
    }
  }
  if (!dirs.empty())
    std::fprintf(stderr, "loom serve: %zu runs on disk, %d resumed\n", dirs.size(), resumed);
}

Status RunRegistry::restore_run(RunRecord& r) {
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

// ---------------------------------------------------------------- the registry

void RunRegistry::add(const RunHandle& r) {
  std::lock_guard<std::mutex> lock(runs_mu_);
  runs_[r->id] = r;
  order_.push_back(r->id);
}

RunHandle RunRegistry::find(const std::string& id) const {
  std::lock_guard<std::mutex> lock(runs_mu_);
  auto it = runs_.find(id);
  return it == runs_.end() ? nullptr : it->second;
}

std::vector<RunHandle> RunRegistry::all() const {
  std::vector<RunHandle> records;
  std::lock_guard<std::mutex> lock(runs_mu_);
  for (const auto& id : order_) records.push_back(runs_.at(id));
  return records;
}

// ---------------------------------------------------------------- starting and driving

Result<std::string> RunRegistry::start(const std::shared_ptr<const Workflow>& wf,
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
  r->meta = {
      {"id", r->id}, {"workflow", wf->name}, {"file", wf->file}, {"created_at", iso_time(created)}};
  if (!trigger.is_null()) r->meta["trigger"] = trigger;
  // The run's folder is written under a hidden name and renamed once it holds the workflow, the
  // meta and the first events: a crash never leaves a half-made run for the next start (which
  // skips hidden folders). The open log follows the rename.
  fs::path runs = fs::path(data_dir_) / "runs";
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
    return make_error(ErrorCode::kHostError, "cannot write the run's files under " + runs.string());
  }
  add(r);
  launch(r);
  return r->id;
}

void RunRegistry::launch(const RunHandle& r) {
  {
    std::lock_guard<std::mutex> lock(r->mu);
    r->driver = "queued";
  }
  r->thread = std::thread([this, r] { drive_run(r); });
}

void RunRegistry::drive_run(RunHandle r) {
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

HostConfig RunRegistry::host_config(const RunHandle& r) {
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

// Persists one event (flushed before the effect it announces starts: drive() calls this
// before it performs the effects of the same poll), keeps it for the event streams, and
// refreshes the state GET /api/runs/{id} shows. Called on the thread that owns the run.
bool RunRegistry::record_event(RunRecord& r, const Event& e) {
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

// Called by the run's own thread.
void RunRegistry::set_driver(RunRecord& r, const std::string& driver) {
  std::lock_guard<std::mutex> lock(r.mu);
  refresh_snapshot(r);
  r.driver = driver;
  if (driver == "stuck") r.problem = make_error(ErrorCode::kInvalidState, "the run is stuck");
  if (driver == "broken")
    r.problem = make_error(ErrorCode::kHostError, "writing the run's log failed");
  r.cv.notify_all();
}

// ---------------------------------------------------------------- questions

// human.input: parks the question until answer() answers it, or the run is stopped (the answer
// is then asked again when the run resumes).
// While it waits, the run gives its slot back (a person may take days); it takes one again
// to go on with the answer.
EffectResult RunRegistry::ask(RunRecord& r, const Effect& e, const std::atomic<bool>& cancel) {
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

AnswerOutcome RunRegistry::answer(RunRecord& r, const std::string& step, const Json& value) {
  std::lock_guard<std::mutex> lock(r.mu);
  Question* q = nullptr;
  for (auto& [id, x] : r.questions) {
    if (!x.answer && (step.empty() || x.step == step)) {
      q = &x;
      break;
    }
  }
  if (!q) return {AnswerOutcome::kNotWaiting, step, Json()};
  if (q->args.contains("choices") && q->args["choices"].is_array() && !q->args["choices"].empty()) {
    const Json& choices = q->args["choices"];
    if (std::find(choices.begin(), choices.end(), value) == choices.end())
      return {AnswerOutcome::kNotAChoice, q->step, choices};
  }
  q->answer = value.is_string() ? Json(valid_utf8(value.get<std::string>())) : value;
  r.cv.notify_all();
  std::fprintf(stderr, "run %s: answered at %s\n", r.id.c_str(), q->step.c_str());
  return {AnswerOutcome::kAnswered, q->step, Json()};
}

// ---------------------------------------------------------------- slots

// --max-runs slots; a run drives only while it holds one. Waits for a free slot unless the
// run is stopped (or cancelled); true when the run holds one.
bool RunRegistry::acquire_slot(RunRecord& r) {
  std::unique_lock<std::mutex> lock(slots_mu_);
  slots_cv_.wait(lock, [&] { return r.has_slot || active_ < max_runs_ || r.stop.load(); });
  if (!r.has_slot && active_ < max_runs_ && !r.stop.load()) {
    ++active_;
    r.has_slot = true;
  }
  return r.has_slot;
}

void RunRegistry::release_slot(RunRecord& r) {
  {
    std::lock_guard<std::mutex> lock(slots_mu_);
    if (!r.has_slot) return;
    r.has_slot = false;
    --active_;
  }
  slots_cv_.notify_all();
}

// After a run's `stop` is set: a run waiting for a slot sees it (taking the lock first, so
// that a waiter between its check and its wait does not miss the notification).
void RunRegistry::wake_slots() {
  { std::lock_guard<std::mutex> lock(slots_mu_); }
  slots_cv_.notify_all();
}

// ---------------------------------------------------------------- what the routes see

Json RunRegistry::describe(RunRecord& r) const {
  std::lock_guard<std::mutex> lock(r.mu);
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

Json RunRegistry::list() const {
  Json list = Json::array();
  for (const auto& r : all()) {
    std::lock_guard<std::mutex> lock(r->mu);
    list.push_back({{"id", r->id},
                    {"workflow", r->meta.value("workflow", "")},
                    {"status", r->snapshot.value("status", "")},
                    {"driver", r->driver},
                    {"created_at", r->meta.value("created_at", "")},
                    {"waiting", !r->questions.empty()}});
  }
  return list;
}

CancelOutcome RunRegistry::cancel(RunRecord& r) {
  std::unique_lock<std::mutex> lock(r.mu);
  if (r.finished) return {true, r.snapshot.value("status", std::string("finished"))};
  r.cancel = true;
  r.stop = true;
  r.cv.notify_all();
  lock.unlock();
  wake_slots();  // a run waiting for its turn is cancelled without one
  lock.lock();
  // The driving thread records the cancellation; wait for it.
  r.cv.wait_for(lock, std::chrono::seconds(5), [&] { return r.finished; });
  return {false, r.snapshot.value("status", "")};
}

EventBatch RunRegistry::wait_for_events(RunRecord& r, std::uint64_t after,
                                        std::chrono::milliseconds wait) const {
  EventBatch batch;
  std::unique_lock<std::mutex> lock(r.mu);
  auto pending = [&] {
    return (!r.events.empty() && r.events.back().seq > after) || ended(r) || stopping_.load();
  };
  r.cv.wait_for(lock, wait, pending);
  for (const auto& e : r.events) {
    if (e.seq > after) batch.events.push_back(e);
  }
  batch.end = ended(r) || stopping_.load();
  return batch;
}

// ---------------------------------------------------------------- stopping

void RunRegistry::stop_all() {
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

int RunRegistry::join() {
  int unfinished = 0;
  for (auto& r : all()) {
    if (r->thread.joinable()) r->thread.join();
    if (!r->finished) ++unfinished;
  }
  return unfinished;
}

}  // namespace loom::cli
