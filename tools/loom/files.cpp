#include "files.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

namespace loom::cli {
namespace fs = std::filesystem;

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

WorkflowLibrary load_library_near(const std::string& path, const AgentRegistry& agents) {
  WorkflowLibrary library;
  std::error_code ec;
  fs::path dir = fs::path(path).parent_path();
  if (dir.empty()) dir = ".";
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    auto ext = entry.path().extension();
    if (entry.is_regular_file() && (ext == ".yaml" || ext == ".yml")) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  // Without a library, calls are not checked; a second pass lets callers of callers load.
  for (int pass = 0; pass < 2; ++pass) {
    for (const auto& f : files) {
      auto text = read_file(f.string());
      if (!text) continue;
      LoadResult r = load_workflow(*text, f.string(), agents, pass == 0 ? nullptr : &library);
      if (r.workflow && (pass == 0 || !library.find(r.workflow->name))) library.add(r.workflow);
    }
  }
  return library;
}

LoadResult load_file(const std::string& path, const AgentRegistry& agents, const WorkflowLibrary& library) {
  auto text = read_file(path);
  if (!text) {
    LoadResult r;
    Error e = make_error(ErrorCode::kBadArgument, "cannot read '" + path + "'", "check the path and permissions");
    r.errors.push_back(e);
    return r;
  }
  return load_workflow(*text, path, agents, &library);
}

std::string format_with_source(const Error& error, const std::string& source) {
  std::string out = error.file.empty() ? "" : error.file + ":";
  if (error.line > 0) out += std::to_string(error.line) + ":" + std::to_string(error.column) + ":";
  out += (out.empty() ? "" : " ") + std::string("error[") + std::string(error_code_name(error.code)) + "]: " +
         error.message + "\n";
  if (error.line > 0) {
    std::istringstream in(source);
    std::string line;
    for (int i = 0; i < error.line && std::getline(in, line); ++i) {
    }
    std::string num = std::to_string(error.line);
    out += "  " + num + " | " + line + "\n";
    out += "  " + std::string(num.size(), ' ') + " | " +
           std::string(static_cast<std::size_t>(std::max(0, error.column - 1)), ' ') + "^\n";
  }
  if (!error.hint.empty()) out += "  hint: " + error.hint + "\n";
  return out;
}

}  // namespace loom::cli
