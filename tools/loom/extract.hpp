// Reading reference files into text for the knowledge base: .txt and .md as UTF-8, .pdf through
// Poppler. The engine never reads files; this is the native host's half of `loom kb add`.
#pragma once

#include <string>

#include "loom/error.hpp"

namespace loom::cli {

/// A file turned into text, and the title it gives itself (a Markdown file's first heading, a
/// PDF's Title), "" when it has none.
struct Document {
  std::string text;
  std::string title;
};

/// The file's text. kBadArgument with a one-line reason for a file that cannot be read, an
/// extension other than .txt/.md/.pdf (the message names those), a PDF that is damaged,
/// encrypted or holds no text (a scan).
Result<Document> read_document(const std::string& path);

/// The first Markdown heading ("# Title" or "## Title"), outside front matter and code fences;
/// "" when there is none.
std::string first_heading(const std::string& markdown);

}  // namespace loom::cli
