// loom/template.hpp — the "{{ expression }}" templates of the workflow language.
//
// A string holding "{{ ... }}" is a template. When the whole string is exactly one expression,
// its value keeps its type ("{{ steps.chunks.output.chunks }}" is a list); otherwise each
// expression is rendered into the text. Expressions have dotted paths and [index] access,
// string/number/boolean/null literals, + - * / %, comparisons, and/or/not, parentheses, and the
// filters join, default, length, upper, lower, truncate and json:
//
//   "{{ inputs.max_sentences > 0 and not inputs.dry_run }}"
//   "{{ steps.summary.output | join('\n') | truncate(500) }}"
//   "Chapter {{ index + 1 }}: {{ item.title | upper }}"
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "loom/error.hpp"
#include "loom/json.hpp"

namespace loom {

namespace detail {
struct TemplateNode;
}

/// What a template's expressions read: the host of an evaluation implements this.
class TemplateScope {
 public:
  virtual ~TemplateScope() = default;
  /// The value of a root name: "inputs", "item", "index", "loop". Null pointer: not in scope.
  virtual const Json* root(std::string_view name) const = 0;
  /// The view of step `id` ({"status": ..., "output": ...}). Null pointer: unknown step.
  virtual const Json* step(std::string_view id) const = 0;
};

/// A name a template reads, found by static analysis (for validation before a run).
struct TemplateReference {
  std::string root;  ///< "inputs", "steps", "item", "index", "loop" or any other identifier
  std::string name;  ///< the first key after the root ("chunks" in steps.chunks.output), or ""
  int offset = 0;    ///< byte offset of the reference in the template string
};

/// A parsed template string. Immutable and shareable.
class Template {
 public:
  /// Parses `text`. On a syntax error returns kTemplateSyntax with `column` set to the 1-based
  /// byte position in `text` (line 0: the caller knows where the string sits in its file).
  static Result<std::shared_ptr<const Template>> parse(std::string_view text);

  /// Evaluates against a scope. A single-expression template returns the value with its type;
  /// otherwise the rendered string. Reading a missing key or indexing past a list gives null;
  /// kTemplateEval for type errors (".x" of a number, "length" of a number, ...).
  Result<Json> evaluate(const TemplateScope& scope) const;

  /// Every name the template reads, for validation.
  const std::vector<TemplateReference>& references() const { return references_; }
  /// True when the string is exactly one "{{ expression }}".
  bool is_single_expression() const { return single_; }
  const std::string& source() const { return source_; }

  ~Template();
  Template(const Template&) = delete;
  Template& operator=(const Template&) = delete;

 private:
  Template() = default;
  struct Part;
  std::string source_;
  bool single_ = false;
  std::vector<Part> parts_;
  std::vector<TemplateReference> references_;
};

/// True when `text` contains "{{" (and so is parsed as a template).
bool has_template(std::string_view text);

/// Truthiness used by `when`, `until`, and/or/not: false, null, 0, "", [] and {} are false.
bool is_truthy(const Json& value);

/// How a value is rendered inside a string: strings as they are, integers without ".0",
/// null as "", anything else as compact JSON.
std::string render_value(const Json& value);

}  // namespace loom
