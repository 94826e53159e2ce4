#include "run_log.hpp"

#include <cstdio>
#include <filesystem>
#include <memory>

#include "files.hpp"
#include "kb.hpp"
#include "report.hpp"

namespace loom::cli {

Result<std::vector<Event>> read_log(const std::string& path) {
  auto text = read_file(path);
  if (!text) return make_error(ErrorCode::kBadArgument, "cannot read the run log '" + path + "'");
  std::vector<Event> events;
  std::size_t pos = 0, good = 0;
  int line_no = 0;
  while (pos < text->size()) {
    std::size_t end = text->find('\n', pos);
    bool complete = end != std::string::npos;
    std::string line = text->substr(pos, complete ? end - pos : std::string::npos);
    ++line_no;
    if (!line.empty()) {
      Json j = Json::parse(line, nullptr, false);
      if (j.is_discarded() || !complete) {
        if (!complete) break;  // a torn final write
        Error e = make_error(ErrorCode::kBadEventLog,
                             "line " + std::to_string(line_no) + " of the log is not JSON",
                             "the log was edited or damaged");
        e.file = path;
        e.line = line_no;
        return e;
      }
      auto ev = event_from_json(j);
      if (!ev) {
        Error e = ev.error();
        e.file = path;
        e.line = line_no;
        return e;
      }
      events.push_back(std::move(*ev));
    }
    pos = complete ? end + 1 : text->size();
    good = pos;
  }
  if (good < text->size()) {
    std::error_code ec;
    std::filesystem::resize_file(path, good, ec);
    std::fprintf(
        stderr,
        "loom: dropped an incomplete last line of %s (the previous run stopped while writing)\n",
        path.c_str());
  }
  return events;
}

std::string event_line(const Event& event) {
  return event_to_json(event).dump(-1, ' ', false, Json::error_handler_t::replace);
}

bool LogWriter::open(const std::string& path, bool append) {
  out_.open(path, append ? std::ios::app | std::ios::binary : std::ios::trunc | std::ios::binary);
  return out_.is_open();
}

bool LogWriter::append(const std::string& line) {
  out_ << line << '\n';
  out_.flush();
  return static_cast<bool>(out_);
}

// The engine's message for a missing base speaks of the studio's panel too; this one says how
// to give one to the native tool.
int use_knowledge_base(AgentRegistry& agents, const std::string& path) {
  if (path.empty()) {
    AgentSpec spec = *agents.find("knowledge.query");
    spec.run = [](const Json&) -> Result<Json> {
      return make_error(
          ErrorCode::kBadArgument,
          "no knowledge base is loaded: pass --kb FILE (or set LOOM_KB); `loom kb add` builds one");
    };
    agents.set(std::move(spec));
    return 0;
  }
  auto kb = open_kb(path, false);
  if (!kb) return fail(2, kb.error().message, kb.error().hint);
  knowledge::register_knowledge_agents(
      agents, std::make_shared<const knowledge::KnowledgeBase>(std::move(*kb)));
  return 0;
}

bool calls_models(const std::vector<StepDef>& steps, const AgentRegistry& agents) {
  for (const auto& s : steps) {
    const AgentSpec* a = s.agent.empty() ? nullptr : agents.find(s.agent);
    if (a && a->calls_model) return true;
    if (s.loop && calls_models(s.loop->steps, agents)) return true;
  }
  return false;
}

}  // namespace loom::cli
