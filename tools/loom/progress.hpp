// What `loom run` shows while a run goes: an updating status line on a terminal, plain lines
// otherwise, and a table of steps at the end.
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "loom/run.hpp"

namespace loom::cli {

class Progress {
 public:
  Progress(std::FILE* out, bool tty, std::size_t top_level_steps);
  void on_event(const Event& e);
  /// Takes in the events of a resumed run's log without printing them, so that the summary
  /// counts the whole run (its time, attempts, tokens and cost).
  void absorb(const std::vector<Event>& events);
  void tick(std::int64_t now);
  /// Clears the status line and prints the table of steps.
  void summary(const Run& run);

 private:
  struct StepView {
    std::string status = "pending";
    int attempts = 0;
    int items = -1;
    int items_done = 0;
    std::int64_t started = -1;
    std::int64_t finished = -1;
    bool cached = false;
    std::string error;
    std::string model;              // the model of its latest call
    std::int64_t tokens_in = 0;     // tokens its model calls used
    std::int64_t tokens_out = 0;
    double cost = 0;
    bool spent = false;
    std::size_t streamed = 0;       // characters of streamed text in the current attempt
  };
  void line(const std::string& text);
  std::FILE* out_;
  bool tty_;
  std::size_t total_;
  std::int64_t start_ = -1;
  std::int64_t now_ = 0;
  bool line_shown_ = false;
  bool paused_ = false;  // a question is on the terminal: do not draw over it
  bool quiet_ = false;   // absorbing a log: update, do not print
  std::int64_t tokens_in_ = 0;  // the run's model calls
  std::int64_t tokens_out_ = 0;
  double cost_ = 0;
  bool spent_ = false;
  std::vector<std::string> order_;
  std::map<std::string, StepView> steps_;
};

}  // namespace loom::cli
