#include "progress.hpp"

#include <algorithm>

namespace loom::cli {
namespace {
std::string seconds(std::int64_t ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2fs", static_cast<double>(ms) / 1000.0);
  return buf;
}
bool top_level(const std::string& path) { return path.find('/') == std::string::npos; }
std::string money(double usd) {
  char buf[32];
  const char* format = usd == 0 ? "$%.2f" : usd < 0.0001 ? "$%.6f" : usd < 0.01 ? "$%.4f" : "$%.2f";
  std::snprintf(buf, sizeof buf, format, usd);
  return buf;
}
std::string tokens(std::int64_t in, std::int64_t out) {
  return std::to_string(in) + " in / " + std::to_string(out) + " out";
}
}  // namespace

Progress::Progress(std::FILE* out, bool tty, std::size_t top_level_steps)
    : out_(out), tty_(tty), total_(top_level_steps) {}

void Progress::absorb(const std::vector<Event>& events) {
  quiet_ = true;
  for (const auto& e : events) on_event(e);
  quiet_ = false;
  paused_ = false;
}

void Progress::line(const std::string& text) {
  if (quiet_) return;
  if (tty_ && line_shown_) std::fputs("\r\033[K", out_);
  line_shown_ = false;
  std::fputs(text.c_str(), out_);
  std::fputc('\n', out_);
  std::fflush(out_);
}

void Progress::on_event(const Event& e) {
  if (start_ < 0) start_ = e.time_ms;
  now_ = std::max(now_, e.time_ms);
  std::string when = seconds(e.time_ms - start_);
  bool run_event = e.type == EventType::kRunStarted || e.type == EventType::kRunPaused ||
                   e.type == EventType::kRunResumed || e.type == EventType::kRunSucceeded ||
                   e.type == EventType::kRunFailed || e.type == EventType::kRunCancelled;
  if (run_event) {
    switch (e.type) {
      case EventType::kRunPaused:
        line("  " + when + "  run paused: waiting for a person");
        paused_ = true;
        break;
      case EventType::kRunResumed: paused_ = false; break;
      case EventType::kRunFailed: {
        std::string msg = e.data.is_object() && e.data.contains("error") ? e.data["error"].value("message", "") : "";
        line("  " + when + "  run failed" + (e.step.empty() ? "" : " at " + e.step) + ": " + msg);
        break;
      }
      case EventType::kRunCancelled: line("  " + when + "  run cancelled"); break;
      default: break;
    }
    return;
  }
  if (!steps_.count(e.step)) order_.push_back(e.step);
  StepView& s = steps_[e.step];
  std::string shown;
  if (e.data.is_object() && e.data.contains("usage") && e.data["usage"].is_object()) {
    const Json& u = e.data["usage"];
    std::int64_t in = u.value("input_tokens", static_cast<std::int64_t>(0));
    std::int64_t out = u.value("output_tokens", static_cast<std::int64_t>(0));
    double cost = e.data.value("cost_usd", 0.0);
    s.tokens_in += in;
    s.tokens_out += out;
    s.cost += cost;
    s.spent = true;
    tokens_in_ += in;
    tokens_out_ += out;
    cost_ += cost;
    spent_ = true;
  }
  switch (e.type) {
    case EventType::kStepScheduled:
      s.status = "scheduled";
      if (e.data.is_object() && e.data.contains("items")) s.items = e.data["items"].get<int>();
      break;
    case EventType::kStepStarted:
      s.status = "running";
      s.attempts = std::max(s.attempts, e.attempt);
      if (s.started < 0) s.started = e.time_ms;
      s.streamed = 0;
      if (e.data.is_object() && e.data.contains("model")) {
        s.model = e.data.value("model", "");
        shown = "calling " + s.model + " (" + e.data.value("model_id", "") + ")";
      }
      break;
    case EventType::kStepOutputDelta:
      if (e.data.is_object() && e.data.contains("delta")) s.streamed += e.data["delta"].get_ref<const std::string&>().size();
      break;
    case EventType::kLoopIteration:
      s.status = "running";
      if (s.started < 0) s.started = e.time_ms;
      shown = "iteration " + std::to_string(e.data.value("iteration", 0) + 1);
      break;
    case EventType::kStepSucceeded:
      if (e.item >= 0) {
        ++s.items_done;
        break;
      }
      s.status = "succeeded";
      s.finished = e.time_ms;
      s.cached = e.data.is_object() && e.data.value("cached", false);
      shown = s.cached ? "succeeded (from the step cache)" : "succeeded";
      if (s.spent && !s.cached) shown += " · " + tokens(s.tokens_in, s.tokens_out) + " tokens · " + money(s.cost);
      if (e.data.is_object() && e.data.contains("output") && e.data["output"].is_object() &&
          e.data["output"].value("truncated", false)) {
        shown += " · cut short by max_tokens";
      }
      break;
    case EventType::kStepFailed:
      if (e.item >= 0) {
        ++s.items_done;
        shown = "item " + std::to_string(e.item) + " failed: " + e.data["error"].value("message", "");
        break;
      }
      s.status = "failed";
      s.finished = e.time_ms;
      s.error = e.data.is_object() ? e.data["error"].value("message", "") : "";
      shown = "failed: " + s.error;
      break;
    case EventType::kStepRetrying:
      shown = "attempt " + std::to_string(e.attempt) + " failed (" + e.data["error"].value("message", "") + "); " +
              (e.data.contains("fallback") ? "falling back to " + e.data.value("fallback", "")
                                           : "retrying in " + seconds(e.data.value("delay_ms", 0)));
      break;
    case EventType::kStepSkipped:
      s.status = "skipped";
      shown = "skipped (" + e.data.value("reason", std::string("when")) + ")";
      break;
    default:
      break;
  }
  if (!shown.empty() && (!tty_ || s.status != "running" || e.type != EventType::kStepStarted)) {
    line("  " + when + "  " + e.step + "  " + shown);
  }
}

void Progress::tick(std::int64_t now) {
  now_ = std::max(now_, now);
  if (!tty_ || paused_) return;
  std::size_t done = 0;
  std::string running;
  for (const auto& path : order_) {
    const StepView& s = steps_[path];
    if (top_level(path) && (s.status == "succeeded" || s.status == "failed" || s.status == "skipped")) ++done;
    if (s.status == "running" && running.size() < 60) {
      running += (running.empty() ? "" : ", ") + path;
      if (s.items >= 0) running += " [" + std::to_string(s.items_done) + "/" + std::to_string(s.items) + "]";
      if (s.attempts > 1) running += " (attempt " + std::to_string(s.attempts) + ")";
      if (s.streamed > 0) running += " (" + std::to_string(s.streamed) + " chars)";
    }
  }
  std::string text = "\r\033[K  " + std::to_string(done) + "/" + std::to_string(total_) + " steps done";
  if (!running.empty()) text += " · running: " + running;
  if (start_ >= 0) text += " · " + seconds(now_ - start_);
  std::fputs(text.c_str(), out_);
  std::fflush(out_);
  line_shown_ = true;
}

void Progress::summary(const Run& run) {
  if (tty_ && line_shown_) std::fputs("\r\033[K", out_);
  line_shown_ = false;
  std::size_t width = 4;
  for (const auto& p : order_) width = std::max(width, p.size());
  std::fprintf(out_, "\n  %-*s  %-9s  %8s  %-8s%s\n", static_cast<int>(width), "step", "status", "time", "attempts",
               spent_ ? "  model         tokens                cost" : "");
  for (const auto& path : order_) {
    const StepView& s = steps_[path];
    std::string time = s.started >= 0 && s.finished >= 0 ? seconds(s.finished - s.started) : "-";
    std::string attempts = s.cached ? "cached" : std::to_string(s.attempts);
    if (s.items >= 0) attempts += "  (" + std::to_string(s.items) + " items)";
    std::string spend;
    if (spent_ && (s.spent || !s.model.empty())) {
      char buf[128];
      std::snprintf(buf, sizeof buf, "  %-12s  %-20s  %s", s.model.c_str(), tokens(s.tokens_in, s.tokens_out).c_str(),
                    money(s.cost).c_str());
      spend = buf;
    }
    std::fprintf(out_, "  %-*s  %-9s  %8s  %-8s%s\n", static_cast<int>(width), path.c_str(), s.status.c_str(), time.c_str(),
                 attempts.c_str(), spend.c_str());
  }
  std::fprintf(out_, "\n  run %s in %s", std::string(run_status_name(run.status())).c_str(),
               seconds(start_ >= 0 ? now_ - start_ : 0).c_str());
  if (spent_) std::fprintf(out_, " · %s tokens · %s", tokens(tokens_in_, tokens_out_).c_str(), money(cost_).c_str());
  std::fprintf(out_, "\n");
  std::fflush(out_);
}

}  // namespace loom::cli
