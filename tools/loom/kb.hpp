// `loom kb`: build and query a knowledge base kept in one file, the engine's snapshot
// (KnowledgeBase::snapshot/load), and the loading `loom run --kb` shares.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "loom/knowledge.hpp"

namespace loom::cli {

/// Where the base lives unless --kb says: $LOOM_KB, else .loom/kb.loomkb under the current folder.
std::string default_kb_path();

/// The base stored at `path`. A missing file is an empty base when `missing_ok`, else an error
/// saying that `loom kb add` creates it; a damaged file (the snapshot's checksum) is an error
/// saying how to rebuild it. Every error's message and hint are ready to print; exit code 2.
Result<knowledge::KnowledgeBase> open_kb(const std::string& path, bool missing_ok);

/// Writes the base's snapshot atomically: a temporary file next to `path`, fsync, rename (then
/// fsync of the folder), so a crash leaves the old file or the new one, never half of one. The
/// folder is created when missing. kBadArgument naming the path and the system's reason.
Status save_kb(const std::string& path, const knowledge::KnowledgeBase& kb);

/// The `kb` subcommand and its own subcommands (add, query, context, list, remove), defined on
/// construction; run() performs the one that was parsed and returns the exit code.
class KbCommand {
 public:
  explicit KbCommand(CLI::App& app);
  bool parsed() const { return kb_->parsed(); }
  int run();

 private:
  int add();
  int query();
  int context();
  int list();
  int remove();

  CLI::App* kb_;
  CLI::App *add_, *query_, *context_, *list_, *remove_;
  std::string path_;
  std::vector<std::string> files_;
  std::string name_, id_, category_, inclusion_, from_;
  std::vector<std::string> aliases_;
  std::string query_text_;
  std::int64_t k_ = 10;
  std::int64_t budget_ = 1500;
  std::vector<std::string> categories_;
  std::string chapter_;
  std::string text_file_;
  std::vector<std::string> queries_;
  bool json_ = false;
  std::string remove_id_;
};

}  // namespace loom::cli
