#include "extract.hpp"

#include <poppler-document.h>
#include <poppler-global.h>
#include <poppler-page.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <cctype>
#include <filesystem>
#include <memory>
#include <sstream>

#include "files.hpp"

namespace loom::cli {
namespace {

Error bad(std::string message, std::string hint = {}) {
  return make_error(ErrorCode::kBadArgument, std::move(message), std::move(hint));
}

std::string trim(std::string s) {
  auto space = [](unsigned char c) { return std::isspace(c) != 0; };
  s.erase(s.begin(), std::find_if_not(s.begin(), s.end(), space));
  s.erase(std::find_if_not(s.rbegin(), s.rend(), space).base(), s.end());
  return s;
}

// A UTF-8 byte order mark and CRLF line ends are what editors on other systems leave behind.
std::string normalized_text(std::string text) {
  if (text.rfind("\xEF\xBB\xBF", 0) == 0) text.erase(0, 3);
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;
    out += text[i];
  }
  return out;
}

std::string utf8(const poppler::ustring& s) {
  poppler::byte_array bytes = s.to_utf8();
  return std::string(bytes.begin(), bytes.end());
}

// Poppler's physical layout keeps paragraphs apart with blank lines but pads lines with spaces to
// their place on the page: keep the lines and paragraphs, drop the padding.
std::string tidy_page(const std::string& text) {
  std::istringstream in(text);
  std::string line, out;
  int blank = 0;
  while (std::getline(in, line)) {
    line = trim(line);
    if (line.empty()) {
      ++blank;
      continue;
    }
    if (!out.empty()) out += blank ? "\n\n" : "\n";
    out += line;
    blank = 0;
  }
  return out;
}

void quiet(const std::string&, void*) {}  // Poppler's complaints become our one-line reasons

Result<Document> read_pdf(const std::string& bytes) {
  poppler::set_debug_error_function(quiet, nullptr);
  if (bytes.size() > static_cast<std::size_t>(INT32_MAX)) return bad("the PDF is larger than 2 GB");
  std::unique_ptr<poppler::document> doc(
      poppler::document::load_from_raw_data(bytes.data(), static_cast<int>(bytes.size())));
  if (!doc) return bad("not a readable PDF (damaged or cut short)");
  if (doc->is_locked()) {
    return bad("the PDF is encrypted with a password", "save a copy without the password and add that");
  }
  Document d;
  for (int i = 0; i < doc->pages(); ++i) {
    std::unique_ptr<poppler::page> page(doc->create_page(i));
    if (!page) continue;
    std::string text = tidy_page(normalized_text(utf8(page->text())));
    if (text.empty()) continue;
    if (!d.text.empty()) d.text += "\n\n";
    d.text += text;
  }
  if (d.text.empty()) {
    return bad("the PDF has no text (" + std::to_string(doc->pages()) + " pages of images: a scan?)",
               "run it through OCR (ocrmypdf) and add the result");
  }
  d.title = trim(utf8(doc->info_key("Title")));
  return d;
}

}  // namespace

std::string first_heading(const std::string& markdown) {
  std::istringstream in(markdown);
  std::string line;
  bool first = true, front_matter = false, fence = false;
  while (std::getline(in, line)) {
    if (first && trim(line) == "---") {
      front_matter = true;
      first = false;
      continue;
    }
    first = false;
    if (front_matter) {
      if (trim(line) == "---" || trim(line) == "...") front_matter = false;
      continue;
    }
    std::string t = trim(line);
    if (t.rfind("```", 0) == 0 || t.rfind("~~~", 0) == 0) {
      fence = !fence;
      continue;
    }
    if (fence || line.rfind("    ", 0) == 0) continue;
    std::size_t hashes = t.find_first_not_of('#');
    if (hashes == 0 || hashes > 6 || hashes == std::string::npos || t[hashes] != ' ') continue;
    std::string title = trim(t.substr(hashes));
    std::size_t closing = title.find_last_not_of('#');  // "# Title #" closes with hashes
    if (closing != std::string::npos && closing + 1 < title.size() && title[closing] == ' ') {
      title = trim(title.substr(0, closing + 1));
    }
    if (!title.empty()) return title;
  }
  return "";
}

Result<Document> read_document(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  if (ext != ".txt" && ext != ".md" && ext != ".pdf") {
    return bad("cannot read " + (ext.empty() ? std::string("a file without an extension") : ext + " files") +
               ": the knowledge base takes .txt, .md and .pdf");
  }
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return bad("it is a folder (name the files in it)");
  auto bytes = read_file(path);
  if (!bytes) return bad("cannot read it (" + std::string(std::strerror(errno)) + ")");
  if (ext == ".pdf") return read_pdf(*bytes);
  Document d;
  d.text = normalized_text(std::move(*bytes));
  if (ext == ".md") d.title = first_heading(d.text);
  return d;
}

}  // namespace loom::cli
