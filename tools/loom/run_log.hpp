// The run log of the native tool (JSON lines, one Event each) and the setup `loom run` and
// `loom serve` share: the knowledge base agent and whether a workflow calls models.
#pragma once

#include <fstream>
#include <string>
#include <vector>

#include "loom/loom.hpp"

namespace loom::cli {

/// Reads a run log; a last line cut short by a crash is dropped (and cut from the file).
/// kBadArgument when the file cannot be read; kBadEventLog (with file and line) when a line is
/// not an event.
Result<std::vector<Event>> read_log(const std::string& path);

/// The event as one log line, without the newline: what `loom run --events` writes.
std::string event_line(const Event& event);

/// Appends events to a log file, each flushed before append() returns, so that an event is on
/// disk before the effect it announces is started.
class LogWriter {
 public:
  /// Opens `path`, truncating it unless `append`. False when it cannot be opened.
  bool open(const std::string& path, bool append);
  bool is_open() const { return out_.is_open(); }
  /// Writes `line` and a newline, flushed. False when the write failed.
  bool append(const std::string& line);

 private:
  std::ofstream out_;
};

/// Makes knowledge.query read the base at `path`. Without one, its steps fail saying how to give
/// one. Returns 0, or the exit code after printing why the base cannot be opened.
int use_knowledge_base(AgentRegistry& agents, const std::string& path);

/// True when a step (or a loop body's step) uses an agent that calls models.
bool calls_models(const std::vector<StepDef>& steps, const AgentRegistry& agents);

}  // namespace loom::cli
