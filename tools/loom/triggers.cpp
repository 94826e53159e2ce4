#include "triggers.hpp"

#include <algorithm>
#include <cctype>

#include "mail.hpp"
#include "workflow/yaml_reader.hpp"  // the engine's YAML reading: positions, key checks, typed scalars

namespace loom::cli {
namespace {

const std::vector<std::string> kFields = {"from", "to", "cc", "subject"};

class EmailScope : public TemplateScope {
 public:
  explicit EmailScope(const Json& email) : email_(email) {}
  const Json* root(std::string_view name) const override {
    return name == "email" ? &email_ : nullptr;
  }
  const Json* step(std::string_view) const override { return nullptr; }

 private:
  const Json& email_;
};

class TriggerReader : public detail::YamlReader {
 public:
  TriggerReader(std::string_view file, const WorkflowLibrary& library)
      : YamlReader(file), library_(library) {}

  std::vector<Error> read(const std::string& text, std::vector<TriggerRule>* rules) {
    YAML::Node root;
    if (!parse(text, &root)) return errors_;
    if (!root.IsMap()) {
      add(ErrorCode::kInvalidValue, detail::pos_of(root),
          "a triggers file is a mapping with a 'rules' list",
          "start it with `rules:` and list the rules under it");
      return errors_;
    }
    check_map(root, "the triggers file", {"rules"});
    const YAML::Node list = root["rules"];
    if (!list || !list.IsSequence()) {
      add(ErrorCode::kMissingKey, detail::pos_of(list ? list : root),
          "'rules' must be a list of rules",
          "write `rules:` and under it one `- workflow: NAME` entry per rule");
      return errors_;
    }
    int n = 0;
    for (const auto& node : list) {
      TriggerRule rule;
      if (read_rule(node, ++n, &rule)) rules->push_back(std::move(rule));
    }
    return errors_;
  }

 private:
  bool read_rule(const YAML::Node& node, int n, TriggerRule* rule) {
    if (!check_map(node, "a rule", {"name", "match", "workflow", "inputs"})) return false;
    rule->line = detail::pos_of(node).line;
    rule->name = "rule " + std::to_string(n);
    if (node["name"]) get_string(node["name"], "a rule's name", &rule->name);
    if (const YAML::Node m = node["match"]) {
      if (check_map(m, "'match'", kFields)) {
        for (const auto& kv : m) read_match(kv.first.Scalar(), kv.second, rule);
      }
    }
    const YAML::Node wf = node["workflow"];
    if (!wf) {
      add(ErrorCode::kMissingKey, detail::pos_of(node), rule->name + " names no workflow",
          "add `workflow: NAME`, one of: " + join(library_.names()));
      return false;
    }
    if (!get_string(wf, "'workflow'", &rule->workflow)) return false;
    auto workflow = library_.find(rule->workflow);
    if (!workflow) {
      std::string near = nearest(rule->workflow, library_.names());
      add(ErrorCode::kUnknownWorkflow, detail::pos_of(wf),
          "unknown workflow '" + rule->workflow + "'",
          near.empty() ? "the workflows loaded are: " + join(library_.names())
                       : "did you mean '" + near + "'?");
      return false;
    }
    const YAML::Node inputs = node["inputs"];
    if (inputs && check_keys(inputs, "'inputs'", nullptr)) {
      std::vector<std::string> declared;
      for (const auto& in : workflow->inputs) declared.push_back(in.name);
      for (const auto& kv : inputs) {
        std::string name = kv.first.Scalar();
        if (workflow->input_index(name) < 0) {
          std::string near = nearest(name, declared);
          add(ErrorCode::kInputUnknown, detail::pos_of(kv.first),
              "'" + rule->workflow + "' has no input '" + name + "'",
              near.empty() ? "its inputs are: " + join(declared) : "did you mean '" + near + "'?");
        }
        collect_templates(kv.second, Json::json_pointer("/" + escape(name)), rule);
      }
      rule->inputs = detail::to_json(inputs);
    }
    for (const auto& in : workflow->inputs) {
      if (in.required && !in.default_value && !rule->inputs.contains(in.name)) {
        add(ErrorCode::kInputMissing, detail::pos_of(inputs ? inputs : node),
            rule->name + " does not give '" + rule->workflow + "' its required input '" + in.name +
                "'",
            "add it under inputs, e.g. " + in.name + ": \"{{ email.text }}\"");
      }
    }
    return true;
  }

  void read_match(const std::string& field, const YAML::Node& v, TriggerRule* rule) {
    TriggerMatch m;
    m.field = field;
    std::string what = "match." + field;
    if (v.IsMap()) {
      if (!check_map(v, "'" + what + "'", {"equals", "contains", "regex"})) return;
      if (v.size() != 1) {
        add(ErrorCode::kInvalidValue, detail::pos_of(v),
            what + " takes one of equals, contains or regex", "write e.g. {contains: \"invoice\"}");
        return;
      }
      auto kv = *v.begin();
      std::string kind = kv.first.Scalar();
      if (!get_string(kv.second, what + "." + kind, &m.text)) return;
      m.kind = kind == "regex"      ? TriggerMatch::Kind::kRegex
               : kind == "contains" ? TriggerMatch::Kind::kContains
                                    : TriggerMatch::Kind::kEquals;
      if (m.kind == TriggerMatch::Kind::kRegex) {
        try {
          m.regex = std::regex(m.text, std::regex::ECMAScript | std::regex::icase);
        } catch (const std::regex_error& e) {
          add(ErrorCode::kInvalidValue, detail::pos_of(kv.second),
              what + ": not a valid regex: " + e.what(),
              "regexes are ECMAScript's (as in JavaScript); escape a dot as \\\\.");
          return;
        }
      }
    } else if (!get_string(v, what, &m.text)) {
      return;
    }
    if (m.kind != TriggerMatch::Kind::kRegex) m.text = ascii_lower(m.text);
    rule->match.push_back(std::move(m));
  }

  void collect_templates(const YAML::Node& n, const Json::json_pointer& at, TriggerRule* rule) {
    if (n.IsMap()) {
      for (const auto& kv : n) collect_templates(kv.second, at / kv.first.Scalar(), rule);
    } else if (n.IsSequence()) {
      std::size_t i = 0;
      for (const auto& x : n) collect_templates(x, at / i++, rule);
    } else if (n.IsScalar() && has_template(n.Scalar())) {
      auto t = Template::parse(n.Scalar());
      if (!t) {
        SourcePos p = detail::pos_of(n);
        add(ErrorCode::kTemplateSyntax, {p.line, p.column + std::max(0, t.error().column - 1)},
            t.error().message, t.error().hint);
        return;
      }
      for (const auto& ref : (*t)->references()) {
        if (ref.root != "email") {
          add(ErrorCode::kTemplateUnknownName, detail::pos_of(n),
              "'" + ref.root + "' is not known to a trigger",
              "a trigger's templates read the e-mail only: email.from, email.to, email.subject, "
              "email.text, ...");
          return;
        }
      }
      rule->templates.emplace_back(at, *t);
    }
  }

  static std::string escape(std::string s) {  // a JSON pointer token
    for (std::size_t i = 0; (i = s.find_first_of("~/", i)) != std::string::npos; i += 2) {
      s.replace(i, 1, s[i] == '~' ? "~0" : "~1");
    }
    return s;
  }

  static std::string join(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
    return out.empty() ? "(none)" : out;
  }

  const WorkflowLibrary& library_;
};

bool holds(const TriggerMatch& m, const std::string& value) {
  switch (m.kind) {
    case TriggerMatch::Kind::kEquals:
      return ascii_lower(value) == m.text;
    case TriggerMatch::Kind::kContains:
      return ascii_lower(value).find(m.text) != std::string::npos;
    case TriggerMatch::Kind::kRegex:
      return std::regex_search(value, m.regex);
  }
  return false;
}

bool holds(const TriggerMatch& m, const Json& email) {
  const Json& v = email.contains(m.field) ? email[m.field] : Json();
  if (v.is_array()) {
    return std::any_of(v.begin(), v.end(), [&](const Json& x) {
      return x.is_string() && holds(m, x.get<std::string>());
    });
  }
  return holds(m, v.is_string() ? v.get<std::string>() : std::string());
}

}  // namespace

std::vector<Error> Triggers::load(const std::string& path, const std::string& text,
                                  const WorkflowLibrary& library, Triggers* out) {
  TriggerReader reader(path, library);
  std::vector<TriggerRule> rules;
  std::vector<Error> errors = reader.read(text, &rules);
  if (errors.empty()) out->rules_ = std::move(rules);
  return errors;
}

const TriggerRule* Triggers::route(const Json& email) const {
  for (const auto& rule : rules_) {
    if (std::all_of(rule.match.begin(), rule.match.end(),
                    [&](const TriggerMatch& m) { return holds(m, email); })) {
      return &rule;
    }
  }
  return nullptr;
}

Result<Json> Triggers::inputs_for(const TriggerRule& rule, const Json& email) {
  Json inputs = rule.inputs;
  EmailScope scope(email);
  for (const auto& [at, t] : rule.templates) {
    auto v = t->evaluate(scope);
    if (!v) return v.error();
    inputs[at] = std::move(*v);
  }
  return inputs;
}

}  // namespace loom::cli
