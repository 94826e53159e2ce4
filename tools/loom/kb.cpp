#include "kb.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <iterator>

#include "extract.hpp"
#include "files.hpp"
#include "report.hpp"

namespace loom::cli {
namespace fs = std::filesystem;
using knowledge::KnowledgeBase;

namespace {

// "3" or "3.2" as the engine's {chapter, scene}; the engine checks the range.
Result<Json> position_json(const std::string& text, const char* option) {
  auto number = [](std::string_view s, long long* out) {
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
    return !s.empty() && ec == std::errc() && end == s.data() + s.size();
  };
  std::size_t dot = text.find('.');
  long long chapter = 0, scene = 0;
  std::string_view t(text);
  if (!number(t.substr(0, dot), &chapter) || (dot != std::string::npos && !number(t.substr(dot + 1), &scene))) {
    return make_error(ErrorCode::kBadArgument, std::string(option) + " '" + text + "' is not CHAPTER or CHAPTER.SCENE",
                      std::string("e.g. ") + option + " 3 or " + option + " 3.2");
  }
  return Json{{"chapter", chapter}, {"scene", scene}};
}

// The id and source of a file: its path relative to the current folder, so adding it again
// replaces it.
std::string relative_id(const std::string& file) {
  std::error_code ec;
  fs::path abs = fs::absolute(file, ec).lexically_normal();
  fs::path rel = abs.lexically_relative(fs::current_path(ec));
  return (rel.empty() ? abs : rel).generic_string();
}

std::size_t chunk_count(const KnowledgeBase& kb, std::string_view id) {
  const knowledge::Entry* e = kb.find(id);
  if (!e) return 0;
  auto index = static_cast<std::uint32_t>(e - kb.entries().data());
  std::size_t n = 0;
  for (const auto& c : kb.chunks()) n += c.entry == index;
  return n;
}

// One line of at most `width` bytes, whitespace collapsed, cut at a UTF-8 boundary.
std::string excerpt(std::string_view text, std::size_t width = 100) {
  std::string out;
  bool space = false;
  for (char c : text) {
    if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
    if (out.size() > width + 8) break;
  }
  if (out.size() <= width) return out;
  std::size_t cut = width;
  while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
  return out.substr(0, cut) + "…";
}

std::string where(const Json& item) {
  std::string source = item.value("source", "");
  if (source.empty()) source = item.value("id", "");
  if (item.contains("chunk") && item["chunk"].is_number()) source += " #" + std::to_string(item["chunk"].get<int>() + 1);
  return source;
}

void print_json(const Json& j) {
  std::printf("%s\n", j.dump(2, ' ', false, Json::error_handler_t::replace).c_str());
}

}  // namespace

std::string default_kb_path() {
  const char* env = std::getenv("LOOM_KB");
  return env && *env ? env : ".loom/kb.loomkb";
}

Result<KnowledgeBase> open_kb(const std::string& path, bool missing_ok) {
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    if (missing_ok) return KnowledgeBase();
    return make_error(ErrorCode::kBadArgument, "no knowledge base at " + path,
                      "`loom kb add FILE...` creates it (--kb FILE or $LOOM_KB choose another file)");
  }
  auto bytes = read_file(path);
  if (!bytes) {
    return make_error(ErrorCode::kBadArgument,
                      "cannot read the knowledge base " + path + " (" + std::strerror(errno) + ")");
  }
  auto kb = KnowledgeBase::load(*bytes);
  if (!kb) {
    if (kb.error().code == ErrorCode::kInvalidValue) {
      return make_error(ErrorCode::kBadArgument, path + " was written by a newer loom: " + kb.error().message,
                        "update loom");
    }
    return make_error(ErrorCode::kBadArgument, "the knowledge base " + path + " is damaged: " + kb.error().message,
                      "rebuild it: delete it and add your files again with `loom kb add FILE...`");
  }
  return kb;
}

Status save_kb(const std::string& path, const KnowledgeBase& kb) {
  auto failed = [&](const std::string& what) {
    return make_error(ErrorCode::kBadArgument, "cannot write the knowledge base " + path + ": " + what + " (" +
                                                   std::strerror(errno) + ")",
                      "the file there is unchanged");
  };
  fs::path target(path);
  fs::path dir = target.parent_path();
  std::error_code ec;
  if (!dir.empty()) fs::create_directories(dir, ec);
  std::string tmp = path + ".tmp-" + std::to_string(getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return failed("creating " + tmp);
  const std::string bytes = kb.snapshot();
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  bool ok = done == bytes.size() && ::fsync(fd) == 0;
  Status error = ok ? Status{} : failed("writing " + tmp);
  if (::close(fd) != 0 && ok) ok = false, error = failed("closing " + tmp);
  if (ok && ::rename(tmp.c_str(), path.c_str()) != 0) ok = false, error = failed("renaming " + tmp);
  if (!ok) {
    ::unlink(tmp.c_str());
    return error;
  }
  // The rename is durable once the folder's entry is.
  int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

KbCommand::KbCommand(CLI::App& app) {
  kb_ = app.add_subcommand("kb", "Build and query a knowledge base (one file, default .loom/kb.loomkb)");
  kb_->require_subcommand(1);
  auto with_path = [this](CLI::App* sub) {
    sub->add_option("--kb", path_, "the knowledge base file (default: $LOOM_KB, .loom/kb.loomkb)");
  };

  add_ = kb_->add_subcommand("add", "Add .txt, .md and .pdf files (adding a file again replaces it)");
  add_->add_option("files", files_, "the files")->required();
  add_->add_option("--name", name_, "the entry's name (default: the first heading, the PDF title, the file name)");
  add_->add_option("--alias", aliases_, "another name it goes by (repeatable)");
  add_->add_option("--category", category_, "character, location, item, lore, style, research or other");
  add_->add_option("--inclusion", inclusion_, "always, when_mentioned, by_relevance (default) or never");
  add_->add_option("--from", from_, "true only from CHAPTER[.SCENE] on");
  add_->add_option("--id", id_, "the entry's id (default: the file's path from here)");
  with_path(add_);

  query_ = kb_->add_subcommand("query", "The passages that rank best for a query");
  query_->add_option("query", query_text_, "what to look for")->required();
  query_->add_option("--k", k_, "how many passages (default 10)");
  query_->add_option("--category", categories_, "only this category (repeatable)");
  query_->add_option("--chapter", chapter_, "leave out what is true only after CHAPTER[.SCENE]");
  query_->add_flag("--json", json_, "print the hits as JSON");
  with_path(query_);

  context_ = kb_->add_subcommand("context", "The context a prompt would get, and what went in and why");
  context_->add_option("--text", text_file_, "the text whose mentions bring entries in (a file, or - for stdin)");
  context_->add_option("--query", queries_, "a query whose best passages compete (repeatable)");
  context_->add_option("--budget", budget_, "the context's size limit in tokens (default 1500)");
  context_->add_option("--category", categories_, "only this category (repeatable)");
  context_->add_option("--chapter", chapter_, "where the writing is: CHAPTER[.SCENE]");
  context_->add_flag("--json", json_, "print the router's result as JSON");
  with_path(context_);

  list_ = kb_->add_subcommand("list", "List the entries");
  list_->add_flag("--json", json_, "print the entries as JSON");
  with_path(list_);

  remove_ = kb_->add_subcommand("remove", "Remove an entry by its id");
  remove_->add_option("id", remove_id_, "the entry's id (see `loom kb list`)")->required();
  with_path(remove_);
}

int KbCommand::run() {
  if (path_.empty()) path_ = default_kb_path();
  if (*add_) return add();
  if (*query_) return query();
  if (*context_) return context();
  if (*list_) return list();
  if (*remove_) return remove();
  return 2;
}

int KbCommand::add() {
  if (files_.size() > 1 && (!name_.empty() || !id_.empty() || !aliases_.empty())) {
    return fail(2, "--name, --alias and --id describe one file, and " + std::to_string(files_.size()) + " were given",
                "add that file on its own");
  }
  Json common = Json::object();
  if (!category_.empty()) common["category"] = category_;
  if (!inclusion_.empty()) common["inclusion"] = inclusion_;
  if (!from_.empty()) {
    auto from = position_json(from_, "--from");
    if (!from) return fail(2, from.error());
    common["from"] = *from;
  }
  Json probe = common;  // the engine checks the names before any file is read
  probe["id"] = probe["name"] = "-";
  if (auto e = knowledge::entry_from_json(probe); !e) return fail(2, e.error());
  auto kb = open_kb(path_, true);
  if (!kb) return fail(2, kb.error());

  const bool progress = files_.size() > 1 && isatty(STDERR_FILENO);
  int failed = 0, added = 0;
  for (std::size_t i = 0; i < files_.size(); ++i) {
    const std::string& file = files_[i];
    if (progress) std::fprintf(stderr, "\r\033[K[%zu/%zu] %s", i + 1, files_.size(), file.c_str());
    auto doc = read_document(file);
    if (progress) std::fputs("\r\033[K", stderr);
    Error error;
    if (doc) {
      Json j = common;
      j["id"] = id_.empty() ? relative_id(file) : id_;
      j["source"] = relative_id(file);
      std::string name = !name_.empty() ? name_ : !doc->title.empty() ? doc->title : fs::path(file).stem().string();
      j["name"] = valid_utf8(name);
      j["aliases"] = aliases_;
      j["text"] = valid_utf8(doc->text);
      auto entry = knowledge::entry_from_json(j);
      if (entry) {
        std::string id = entry->id, shown = entry->name;
        std::string category(knowledge::category_name(entry->category));
        bool replaced = kb->find(id) != nullptr;
        error = kb->put(std::move(*entry));
        if (error.code == ErrorCode::kOk) {
          ++added;
          std::size_t chunks = chunk_count(*kb, id);
          std::printf("%s %s as \"%s\" (%s, %zu chunk%s)\n", replaced ? "replaced" : "added", file.c_str(),
                      shown.c_str(), category.c_str(), chunks, chunks == 1 ? "" : "s");
          std::fflush(stdout);
          continue;
        }
      } else {
        error = entry.error();
      }
    } else {
      error = doc.error();
    }
    ++failed;
    fail(1, "cannot add " + file + ": " + error.message, error.hint);
  }
  if (added > 0) {
    Status saved = save_kb(path_, *kb);
    if (saved.code != ErrorCode::kOk) return fail(1, saved);
  }
  if (failed) {
    std::fprintf(stderr, "loom: %d of %zu files could not be added%s\n", failed, files_.size(),
                 added ? "" : "; the knowledge base is unchanged");
  }
  return failed ? 1 : 0;
}

int KbCommand::query() {
  auto kb = open_kb(path_, false);
  if (!kb) return fail(2, kb.error());
  Json options = {{"k", k_}, {"include_never", true}};
  if (!categories_.empty()) options["categories"] = categories_;
  if (!chapter_.empty()) {
    auto position = position_json(chapter_, "--chapter");
    if (!position) return fail(2, position.error());
    options["position"] = *position;
  }
  auto search = knowledge::search_options_from_json(options);
  if (!search) return fail(2, search.error());
  Json hits = knowledge::hits_to_json(*kb, kb->search(query_text_, *search));
  if (json_) {
    print_json(hits);
    return 0;
  }
  if (hits.empty()) {
    std::fprintf(stderr, "nothing in %s matches \"%s\" (%zu entries)\n", path_.c_str(), query_text_.c_str(), kb->size());
    return 0;
  }
  int rank = 0;
  for (const auto& h : hits) {
    std::printf("%2d. %7.4f  %s (%s)  %s\n    %s\n", ++rank, h["score"].get<double>(),
                h["name"].get<std::string>().c_str(), h["category"].get<std::string>().c_str(), where(h).c_str(),
                excerpt(h["text"].get<std::string>()).c_str());
  }
  return 0;
}

int KbCommand::context() {
  if (text_file_.empty() && queries_.empty()) {
    return fail(2, "kb context needs a text (--text FILE, or - for stdin) or a --query, or both");
  }
  auto kb = open_kb(path_, false);
  if (!kb) return fail(2, kb.error());
  Json args = {{"budget_tokens", budget_}, {"queries", queries_}};
  if (!text_file_.empty()) {
    std::optional<std::string> text;
    if (text_file_ == "-") {
      text = std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    } else {
      text = read_file(text_file_);
    }
    if (!text) return fail(2, "cannot read the text " + text_file_ + " (" + std::strerror(errno) + ")");
    args["text"] = valid_utf8(*text);
  }
  if (!categories_.empty()) args["categories"] = categories_;
  if (!chapter_.empty()) {
    auto position = position_json(chapter_, "--chapter");
    if (!position) return fail(2, position.error());
    args["position"] = *position;
  }
  auto request = knowledge::query_request_from_json(args);
  if (!request) return fail(2, request.error());
  Json result = knowledge::query_result_to_json(*kb, knowledge::query(*kb, *request));
  if (json_) {
    print_json(result);
    return 0;
  }
  // The context on stdout (ready for a prompt), the account of it on stderr.
  const std::string context = result["context"].get<std::string>();
  if (!context.empty()) std::printf("%s\n", context.c_str());
  std::fflush(stdout);
  std::fprintf(stderr, "%s%zu included, %lld of %lld tokens\n", context.empty() ? "" : "\n",
               result["included"].size(), static_cast<long long>(result["tokens"].get<std::int64_t>()),
               static_cast<long long>(budget_));
  auto show = [](const Json& item) {
    std::string reason = item["reason"].get<std::string>();
    if (reason == "ranked") {
      char score[32];
      std::snprintf(score, sizeof score, " %.4f", item["score"].get<double>());
      reason += score;
    }
    std::string mark = item["citation"].get<int>() ? "[" + std::to_string(item["citation"].get<int>()) + "]" : "-";
    std::fprintf(stderr, "  %-4s %s (%s)  %s, %lld tokens  %s\n", mark.c_str(), item["name"].get<std::string>().c_str(),
                 item["category"].get<std::string>().c_str(), reason.c_str(),
                 static_cast<long long>(item["tokens"].get<std::int64_t>()), where(item).c_str());
  };
  for (const auto& item : result["included"]) show(item);
  if (!result["dropped"].empty()) {
    std::fprintf(stderr, "%zu dropped (over the budget):\n", result["dropped"].size());
    for (const auto& item : result["dropped"]) show(item);
  }
  return 0;
}

int KbCommand::list() {
  auto kb = open_kb(path_, false);
  if (!kb) return fail(2, kb.error());
  Json entries = Json::array();
  for (const auto& e : kb->entries()) {
    Json j = knowledge::entry_to_json(e);
    j.erase("text");
    j["chunks"] = chunk_count(*kb, e.id);
    j["bytes"] = e.text.size();
    entries.push_back(std::move(j));
  }
  if (json_) {
    print_json(entries);
    return 0;
  }
  if (entries.empty()) std::fprintf(stderr, "the knowledge base %s is empty\n", path_.c_str());
  for (const auto& j : entries) {
    std::string from;
    if (j.contains("from")) {
      from = ", from " + std::to_string(j["from"]["chapter"].get<int>()) + "." + std::to_string(j["from"]["scene"].get<int>());
    }
    std::size_t chunks = j["chunks"].get<std::size_t>();
    std::printf("%s  \"%s\" (%s, %s, %zu chunk%s%s)\n", j["id"].get<std::string>().c_str(),
                j["name"].get<std::string>().c_str(), j["category"].get<std::string>().c_str(),
                j["inclusion"].get<std::string>().c_str(), chunks, chunks == 1 ? "" : "s", from.c_str());
  }
  return 0;
}

int KbCommand::remove() {
  auto kb = open_kb(path_, false);
  if (!kb) return fail(2, kb.error());
  const knowledge::Entry* e = kb->find(remove_id_);
  if (!e) return fail(1, "no entry '" + remove_id_ + "' in " + path_, "`loom kb list` shows the ids");
  std::string name = e->name;
  kb->remove(remove_id_);
  Status saved = save_kb(path_, *kb);
  if (saved.code != ErrorCode::kOk) return fail(1, saved);
  std::printf("removed %s (\"%s\")\n", remove_id_.c_str(), name.c_str());
  return 0;
}

}  // namespace loom::cli
