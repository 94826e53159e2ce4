#include "host.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <optional>
#include <condition_variable>
#include <deque>
#include <iostream>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "files.hpp"
#include "http.hpp"

namespace loom::cli {
namespace {

struct Completion {
  std::uint64_t effect;
  EffectResult result;
  bool is_chunk = false;  // a piece of a streamed body, fed before the effect resolves
  std::string chunk;
};

class Worker {
 public:
  std::atomic<bool> cancel{false};
  std::thread thread;
  bool blocking = false;  // waits on a person at the terminal: cannot be interrupted, only left
};

// The editor a person edits a shown text in: $LOOM_EDITOR, else $VISUAL or $EDITOR when standard
// input is a terminal (an interactive editor must not start under a pipe); "" when none.
std::string text_editor() {
  if (const char* e = std::getenv("LOOM_EDITOR"); e && *e) return e;
  if (!isatty(STDIN_FILENO)) return "";
  for (const char* name : {"VISUAL", "EDITOR"}) {
    if (const char* e = std::getenv(name); e && *e) return e;
  }
  return "";
}

// A free-text answer that starts from `text` (a draft to edit): `text` in a temporary file, the
// editor run on it, the file read back. Nothing when the editor cannot be run or fails: the
// caller asks on the terminal instead.
std::optional<std::string> edit_in_editor(const std::string& editor, const std::string& text) {
  const char* dir = std::getenv("TMPDIR");
  std::string path = std::string(dir && *dir ? dir : "/tmp") + "/loom-answer-XXXXXX.md";
  int fd = mkstemps(path.data(), 3);
  if (fd < 0) return std::nullopt;
  bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  std::optional<std::string> answer;
  if (written) {
    std::fprintf(stderr, "  (editing in %s; save and quit to answer)\n", editor.c_str());
    std::fflush(stderr);
    int status = std::system((editor + " '" + path + "'").c_str());
    if (status == 0) {
      std::ifstream in(path, std::ios::binary);
      std::string edited((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (in.good() || in.eof()) {
        while (!edited.empty() && (edited.back() == '\n' || edited.back() == '\r')) edited.pop_back();
        answer = std::move(edited);
      }
    } else {
      std::fprintf(stderr, "  the editor ended with status %d; answer on the terminal instead\n", status);
    }
  }
  std::remove(path.c_str());
  return answer;
}

// human.input: shows the question on stderr and reads the answer from stdin, asking again while
// the answer is not one of `choices`. A free-text question that shows a text (a draft to edit)
// opens it in the person's editor when there is one (text_editor()). Standard input closed: the
// run cannot get an answer.
EffectResult ask_person(const Json& args) {
  static std::mutex terminal;  // one question at a time
  std::lock_guard<std::mutex> lock(terminal);
  std::string prompt = args.value("prompt", "?");
  std::vector<std::string> choices;
  if (args.contains("choices") && args["choices"].is_array()) {
    for (const auto& c : args["choices"]) choices.push_back(c.is_string() ? c.get<std::string>() : c.dump());
  }
  if (args.contains("show") && !args["show"].is_null()) {
    const Json& show = args["show"];
    std::fprintf(stderr, "\n%s\n", show.is_string() ? show.get<std::string>().c_str() : show.dump(2).c_str());
  }
  std::string options;
  for (const auto& c : choices) options += (options.empty() ? "" : "/") + c;
  const bool editable = choices.empty() && args.contains("show") && args["show"].is_string();
  if (editable) {
    if (std::string editor = text_editor(); !editor.empty()) {
      std::fprintf(stderr, "\n? %s\n", prompt.c_str());
      if (auto edited = edit_in_editor(editor, args["show"].get<std::string>())) return EffectResult::success(valid_utf8(*edited));
    } else {
      std::fprintf(stderr, "  (one line answers here; set EDITOR, or LOOM_EDITOR, to edit the text above instead)\n");
    }
  }
  for (;;) {
    std::fprintf(stderr, "\n? %s%s ", prompt.c_str(), options.empty() ? "" : (" [" + options + "]").c_str());
    std::fflush(stderr);
    std::string answer;
    if (!std::getline(std::cin, answer)) {
      return EffectResult::failure(ErrorCode::kCancelled, "no answer to '" + prompt + "': standard input is closed");
    }
    while (!answer.empty() && (answer.back() == '\r' || answer.back() == ' ')) answer.pop_back();
    if (choices.empty() || std::find(choices.begin(), choices.end(), answer) != choices.end()) {
      return EffectResult::success(valid_utf8(answer));
    }
    std::fprintf(stderr, "  please answer one of: %s\n", options.c_str());
  }
}

class Host {
 public:
  Host(Run& run, const HostConfig& config) : run_(run), config_(config), start_(std::chrono::steady_clock::now()) {}

  ~Host() {
    for (auto& [id, w] : workers_) w->cancel = true;
    for (auto& [id, w] : workers_) {
      if (!w->thread.joinable()) continue;
      if (w->blocking) {
        w->thread.detach();  // still waiting on the terminal; the process is ending anyway
      } else {
        w->thread.join();
      }
    }
  }

  HostExit drive() {
    for (;;) {
      if (config_.interrupted && config_.interrupted->load()) return HostExit::kInterrupted;
      std::vector<Effect> effects = run_.poll(now());
      if (!flush_events()) return HostExit::kWriteFailed;
      for (Effect& e : effects) perform(std::move(e));
      if (run_.finished()) return HostExit::kFinished;
      if (run_.has_ready_work()) continue;
      if (!wait_and_resolve()) return HostExit::kStuck;
      if (!flush_events()) return HostExit::kWriteFailed;
    }
  }

 private:
  std::int64_t now() const {
    auto elapsed = std::chrono::steady_clock::now() - start_;
    return config_.clock_base_ms + std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count();
  }

  bool flush_events() {
    for (const Event& e : run_.take_events()) {
      if (e.type == EventType::kStepSucceeded && !config_.cache_dir.empty() && e.data.is_object() &&
          e.data.contains("cache_key") && !e.data.value("cached", false)) {
        store_cache(e.data["cache_key"].get<std::string>(), e.data["output"]);
      }
      if (config_.on_event && !config_.on_event(e)) return false;
    }
    return true;
  }

  void store_cache(const std::string& key, const Json& output) {
    std::error_code ec;
    std::filesystem::create_directories(config_.cache_dir, ec);
    std::string path = config_.cache_dir + "/" + key + ".json";
    std::string tmp = path + ".tmp";
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out << output.dump(-1, ' ', false, Json::error_handler_t::replace);
      if (!out) return;
    }
    std::filesystem::rename(tmp, path, ec);  // atomic: a reader never sees half an entry
  }

  void complete(std::uint64_t id, EffectResult r) {
    std::lock_guard<std::mutex> lock(mu_);
    done_.push_back({id, std::move(r), false, {}});
    cv_.notify_one();
  }

  void stream_chunk(std::uint64_t id, std::string_view bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    done_.push_back({id, EffectResult{}, true, std::string(bytes)});
    cv_.notify_one();
  }

  // Milliseconds until the effect's deadline (at least 1), 0 when it has none.
  std::int64_t time_left(const Effect& e) const {
    return e.deadline_ms > 0 ? std::max<std::int64_t>(1, e.deadline_ms - now()) : 0;
  }

  // Performs `job` on a worker thread of its own; its result completes effect `id`.
  void spawn(std::uint64_t id, bool blocking, std::function<EffectResult(const std::atomic<bool>& cancel)> job) {
    auto worker = std::make_unique<Worker>();
    Worker* w = worker.get();
    w->blocking = blocking;
    w->thread = std::thread([this, w, id, job = std::move(job)] { complete(id, job(w->cancel)); });
    workers_[id] = std::move(worker);
  }

  void perform(Effect e) {
    switch (e.kind) {
      case Effect::Kind::kCancel: {
        timers_.erase(e.cancels);
        auto it = workers_.find(e.cancels);
        if (it != workers_.end()) it->second->cancel = true;
        return;
      }
      case Effect::Kind::kCacheLookup: {
        Json out = {{"hit", false}};
        if (!config_.cache_dir.empty()) {
          if (auto text = read_file(config_.cache_dir + "/" + e.cache_key + ".json")) {
            Json v = Json::parse(*text, nullptr, false);
            if (!v.is_discarded()) out = {{"hit", true}, {"output", v}};
          }
        }
        complete(e.id, EffectResult::success(out));
        return;
      }
      case Effect::Kind::kHttp: {
        std::int64_t timeout = time_left(e);
        std::uint64_t id = e.id;
        spawn(id, false, [this, id, args = std::move(e.args), timeout](const std::atomic<bool>& cancel) {
          auto on_chunk = [this, id](std::string_view bytes) { stream_chunk(id, bytes); };
          return http_request(args, timeout, cancel, config_.secrets, on_chunk);
        });
        return;
      }
      case Effect::Kind::kAgent:
        break;
    }
    if (e.agent == "util.sleep") {
      double ms = e.args.value("ms", 0.0);
      timers_[e.id] = {now() + static_cast<std::int64_t>(ms), e.args.value("value", Json())};
      return;
    }
    if (e.agent == "http.fetch") {
      std::int64_t timeout = time_left(e);
      spawn(e.id, false, [args = std::move(e.args), timeout](const std::atomic<bool>& cancel) {
        return http_fetch(args, timeout, cancel);
      });
      return;
    }
    if (e.agent == "human.input") {
      if (config_.ask_person) {
        spawn(e.id, false, [this, e](const std::atomic<bool>& cancel) { return config_.ask_person(e, cancel); });
      } else {
        spawn(e.id, true, [args = std::move(e.args)](const std::atomic<bool>&) { return ask_person(args); });
      }
      return;
    }
    complete(e.id, EffectResult::failure(ErrorCode::kNotImplemented,
                                         "the native host does not perform '" + e.agent + "' yet",
                                         -1));
  }

  // Waits for a completion, a due timer or the run's next wakeup; resolves what is due.
  bool wait_and_resolve() {
    std::int64_t next = now() + 200;  // redraw progress and check for Ctrl-C this often
    for (const auto& [id, t] : timers_) next = std::min(next, t.first);
    if (auto w = run_.next_wakeup()) next = std::min(next, *w);
    bool anything = !timers_.empty() || !workers_.empty() || run_.next_wakeup().has_value() || run_.in_flight() > 0;
    {
      std::unique_lock<std::mutex> lock(mu_);
      std::int64_t wait = std::max<std::int64_t>(0, next - now());
      cv_.wait_for(lock, std::chrono::milliseconds(wait), [this] { return !done_.empty(); });
    }
    std::deque<Completion> ready;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ready.swap(done_);
    }
    for (auto& c : ready) {
      if (c.is_chunk) {
        auto w = workers_.find(c.effect);
        if (w != workers_.end() && !w->second->cancel.load()) run_.feed(c.effect, c.chunk, now());
        continue;
      }
      auto w = workers_.find(c.effect);
      if (w != workers_.end()) {
        if (w->second->thread.joinable()) w->second->thread.join();
        bool was_cancelled = w->second->cancel.load();
        workers_.erase(w);
        if (was_cancelled) continue;  // the engine no longer waits for it
      }
      run_.resolve(c.effect, c.result, now());
    }
    std::int64_t t = now();
    for (auto it = timers_.begin(); it != timers_.end();) {
      if (it->second.first <= t) {
        run_.resolve(it->first, EffectResult::success(it->second.second), t);
        it = timers_.erase(it);
      } else {
        ++it;
      }
    }
    if (config_.on_tick) config_.on_tick(t);
    return anything || !ready.empty();
  }

  Run& run_;
  const HostConfig& config_;
  std::chrono::steady_clock::time_point start_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Completion> done_;
  std::map<std::uint64_t, std::unique_ptr<Worker>> workers_;
  std::map<std::uint64_t, std::pair<std::int64_t, Json>> timers_;
};

}  // namespace

HostExit drive(Run& run, const HostConfig& config) {
  Host host(run, config);
  return host.drive();
}

}  // namespace loom::cli
