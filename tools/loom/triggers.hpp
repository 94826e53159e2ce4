// The triggers file of `loom serve`: ordered rules that route an inbound e-mail to a workflow.
//
//   rules:
//     - name: digest                       # optional; "rule N" by default
//       match:                             # optional; every condition must hold; none: any mail
//         to: digest@example.org           # a plain string: equal, ignoring case
//         subject: {contains: "[digest]"}  # or {equals: ...}, or {regex: ...} (ECMAScript)
//         from: {regex: "@example\\.org$"}
//       workflow: ingestion_digest         # a workflow `loom serve` loaded
//       inputs:                            # its inputs; templates read the e-mail as `email`
//         document: "{{ email.text }}"
//         max_sentences: 3
//
// The fields a rule matches: from, to, cc (any address of the list) and subject. The first rule
// whose conditions all hold wins.
#pragma once

#include <memory>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include "loom/loom.hpp"

namespace loom::cli {

/// One condition on one field of the e-mail.
struct TriggerMatch {
  enum class Kind { kEquals, kContains, kRegex };
  std::string field;  ///< from, to, cc or subject
  Kind kind = Kind::kEquals;
  std::string text;  ///< lower-cased for equals and contains
  std::regex regex;
};

struct TriggerRule {
  std::string name;
  int line = 0;
  std::vector<TriggerMatch> match;
  std::string workflow;
  Json inputs = Json::object();  ///< as written; the strings in `templates` are replaced
  std::vector<std::pair<Json::json_pointer, std::shared_ptr<const Template>>> templates;
};

class Triggers {
 public:
  /// Reads the triggers file `path` (its text is `text`), checking each rule against the
  /// workflows of `library`: unknown workflows (kUnknownWorkflow), undeclared inputs
  /// (kInputUnknown), required inputs left out (kInputMissing), bad templates (kTemplateSyntax,
  /// kTemplateUnknownName: only `email` is in scope), bad regexes and unknown keys. Every error
  /// has the file, line and column; none means `*out` holds the rules.
  static std::vector<Error> load(const std::string& path, const std::string& text,
                                 const WorkflowLibrary& library, Triggers* out);

  /// The first rule the e-mail (mail.hpp's shape) matches, or null.
  const TriggerRule* route(const Json& email) const;

  /// The rule's inputs with its templates evaluated against the e-mail; kTemplateEval when one
  /// fails.
  static Result<Json> inputs_for(const TriggerRule& rule, const Json& email);

  std::size_t size() const { return rules_.size(); }

 private:
  std::vector<TriggerRule> rules_;
};

}  // namespace loom::cli
