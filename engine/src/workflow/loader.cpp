// Loading a workflow: YAML -> Workflow, then validation. yaml-cpp throws; this file is the one
// adapter that catches its exceptions and turns them into Errors with line and column.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <set>
#include <string>
#include <unordered_set>
#include <vector>

#include "loom/agent.hpp"
#include "loom/template.hpp"
#include "loom/workflow.hpp"
#include "workflow/hash.hpp"
#include "workflow/yaml_reader.hpp"

namespace loom {
namespace {

using detail::pos_of;
using detail::scalar_to_json;
using detail::to_json;

const std::vector<std::string> kTopKeys = {"name", "description", "inputs", "steps", "outputs",
                                           "concurrency", "budget"};
const std::vector<std::string> kBudgetKeys = {"max_cost_usd", "max_tokens"};
const std::vector<std::string> kStepKeys = {"id",      "agent",   "with",     "needs",
                                            "when",    "foreach", "retry",    "timeout",
                                            "on_error", "pool",   "cache",    "description",
                                            "loop"};
const std::vector<std::string> kInputKeys = {"type", "required", "default", "description"};
const std::vector<std::string> kRetryKeys = {"max_attempts", "backoff", "initial_delay",
                                             "max_delay"};
const std::vector<std::string> kLoopKeys = {"steps", "until", "max_iterations"};
const std::vector<std::string> kConcurrencyKeys = {"max", "pools"};
const std::vector<std::string> kRoots = {"inputs", "steps", "item", "index", "loop"};

bool is_identifier(const std::string& s) {
  if (s.empty()) return false;
  if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_')) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) {
      return false;
    }
  }
  return true;
}

bool is_workflow_name(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

std::string json_pointer_escape(const std::string& key) {
  std::string out;
  for (char c : key) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out += c;
  }
  return out;
}

// Where a reference check happens: which steps a template may read.
struct RefContext {
  const std::vector<StepDef>* steps = nullptr;
  const std::map<std::string, int, std::less<>>* index = nullptr;
  int self = -1;             // the step whose template it is; -1: all steps are upstream (outputs)
  bool all_upstream = false;  // `until` and `outputs` may read every step of their scope
  const RefContext* outer = nullptr;  // the enclosing scope, for loop bodies
  bool allow_item = false;
  bool allow_loop = false;
};

class Loader : public detail::YamlReader {
 public:
  Loader(std::string_view file, const AgentRegistry& agents, const WorkflowLibrary* library)
      : YamlReader(file), agents_(agents), library_(library) {}

  LoadResult load(std::string_view text) {
    LoadResult result;
    auto wf = std::make_shared<Workflow>();
    wf->file = file_;
    wf->source = std::string(text);
    YAML::Node root;
    if (!parse(wf->source, &root)) {
      result.errors = std::move(errors_);
      return result;
    }
    // The workflow's own name, for call-cycle checks before the full parse.
    if (root.IsMap() && root["name"] && root["name"].IsScalar()) current_name_ = root["name"].Scalar();
    try {
      parse_workflow(root, *wf);
      if (errors_.empty() || !fatal_) validate(*wf);
    } catch (const YAML::Exception& e) {
      add(ErrorCode::kYamlSyntax, {e.mark.line + 1, e.mark.column + 1}, "invalid YAML: " + e.msg,
          "check indentation, colons and quotes around this point");
    }
    std::stable_sort(errors_.begin(), errors_.end(), [](const Error& a, const Error& b) {
      return a.line != b.line ? a.line < b.line : a.column < b.column;
    });
    result.errors = std::move(errors_);
    if (result.errors.empty()) result.workflow = std::move(wf);
    return result;
  }

 private:
  // Parses a template string found at node n; errors point inside the string.
  std::shared_ptr<const Template> parse_template(const YAML::Node& n, const std::string& text) {
    auto t = Template::parse(text);
    if (!t) {
      SourcePos p = pos_of(n);
      int quote = n.Tag() == "!" ? 1 : 0;
      bool single_line = text.find('\n') == std::string::npos;
      if (single_line) p.column += quote + t.error().column - 1;
      add(ErrorCode::kTemplateSyntax, p, "template: " + t.error().message, t.error().hint);
      return nullptr;
    }
    template_pos_[t->get()] = pos_of(n);
    return *t;
  }

  std::shared_ptr<const Template> parse_expression_key(const YAML::Node& n, const std::string& what) {
    if (!n.IsScalar()) {
      add(ErrorCode::kInvalidValue, pos_of(n), what + " must be a template string like \"{{ ... }}\"",
          "write the condition as a string, e.g. \"{{ inputs.n > 0 }}\"");
      return nullptr;
    }
    std::string text = n.Scalar();
    if (!has_template(text)) text = "{{ " + text + " }}";  // bare expressions are accepted
    return parse_template(n, text);
  }

  // Builds a TemplatedValue from a YAML value, parsing every templated string leaf.
  void parse_templated(const YAML::Node& n, const std::string& pointer, TemplatedValue* out, Json* json) {
    switch (n.Type()) {
      case YAML::NodeType::Scalar: {
        *json = scalar_to_json(n);
        if (json->is_string() && has_template(json->get_ref<const std::string&>())) {
          auto t = parse_template(n, json->get<std::string>());
          if (t) out->templates.emplace_back(pointer, std::move(t));
        }
        break;
      }
      case YAML::NodeType::Sequence: {
        *json = Json::array();
        std::size_t i = 0;
        for (const auto& x : n) {
          json->push_back(Json());
          parse_templated(x, pointer + "/" + std::to_string(i), out, &json->back());
          ++i;
        }
        break;
      }
      case YAML::NodeType::Map: {
        *json = Json::object();
        for (const auto& kv : n) {
          std::string k = kv.first.Scalar();
          parse_templated(kv.second, pointer + "/" + json_pointer_escape(k), out, &(*json)[k]);
        }
        break;
      }
      default:
        *json = nullptr;
    }
  }

  void parse_workflow(const YAML::Node& root, Workflow& wf) {
    if (!root.IsMap()) {
      add(ErrorCode::kInvalidValue, pos_of(root), "a workflow must be a mapping with name and steps",
          "start with 'name: my_workflow' and a 'steps:' list");
      fatal_ = true;
      return;
    }
    check_map(root, "the workflow", kTopKeys);
    if (auto n = root["name"]) {
      if (get_string(n, "name", &wf.name) && !is_workflow_name(wf.name)) {
        add(ErrorCode::kInvalidValue, pos_of(n), "name '" + wf.name + "' is not [a-z0-9_]+",
            "use lowercase letters, digits and underscores, e.g. scene_generation");
      }
    } else {
      add(ErrorCode::kMissingKey, pos_of(root), "the workflow has no 'name'", "add 'name: my_workflow'");
    }
    if (auto n = root["description"]) get_string(n, "description", &wf.description);
    if (auto n = root["inputs"]) parse_inputs(n, wf);
    if (auto n = root["steps"]) {
      parse_step_list(n, &wf.steps, "the workflow");
    } else {
      add(ErrorCode::kMissingKey, pos_of(root), "the workflow has no 'steps'", "add a 'steps:' list");
    }
    if (auto n = root["outputs"]) {
      if (check_keys(n, "outputs", nullptr)) {  // any names, each once
        for (const auto& kv : n) {
          std::string k = kv.first.Scalar();
          if (!is_identifier(k)) {
            add(ErrorCode::kInvalidValue, pos_of(kv.first), "output name '" + k + "' is not an identifier",
                "use letters, digits and underscores");
          }
          std::shared_ptr<const Template> t;
          if (kv.second.IsScalar()) {
            t = parse_template(kv.second, kv.second.Scalar());  // plain text is a template too
          } else {
            add(ErrorCode::kInvalidValue, pos_of(kv.second), "output '" + k + "' must be a string template",
                "e.g. " + k + ": \"{{ steps.some_step.output }}\"");
          }
          if (t) wf.outputs.emplace_back(k, t);
        }
      }
    }
    if (auto n = root["budget"]) {
      if (check_map(n, "budget", kBudgetKeys)) {
        if (auto c = n["max_cost_usd"]) get_number(c, "budget.max_cost_usd", 0.000001, 1e9, &wf.budget_cost_usd);
        if (auto t = n["max_tokens"]) {
          int v = 0;
          if (get_int(t, "budget.max_tokens", 1, &v)) wf.budget_tokens = v;
        }
      }
    }
    if (auto n = root["concurrency"]) {
      if (check_map(n, "concurrency", kConcurrencyKeys)) {
        if (auto m = n["max"]) get_int(m, "concurrency.max", 1, &wf.max_concurrency);
        if (auto p = n["pools"]) {
          if (!p.IsMap()) {
            add(ErrorCode::kInvalidValue, pos_of(p), "concurrency.pools must map pool names to limits",
                "e.g. pools: {llm: 2, http: 4}");
          } else {
            for (const auto& kv : p) {
              int limit = 0;
              if (get_int(kv.second, "pool limit", 1, &limit)) wf.pool_limits[kv.first.Scalar()] = limit;
            }
          }
        }
      }
    }
  }

  void parse_inputs(const YAML::Node& n, Workflow& wf) {
    if (!n.IsMap()) {
      add(ErrorCode::kInvalidValue, pos_of(n), "inputs must map input names to their declarations",
          "e.g. document: {type: string, required: true}");
      return;
    }
    for (const auto& kv : n) {
      InputSpec spec;
      spec.name = kv.first.Scalar();
      spec.pos = pos_of(kv.first);
      if (!is_identifier(spec.name)) {
        add(ErrorCode::kInvalidValue, spec.pos, "input name '" + spec.name + "' is not an identifier",
            "use letters, digits and underscores");
      }
      if (wf.input_index(spec.name) >= 0) {
        add(ErrorCode::kInvalidValue, spec.pos, "input '" + spec.name + "' is declared twice",
            "keep one declaration");
        continue;
      }
      const YAML::Node& d = kv.second;
      if (d.IsScalar() && !d.Scalar().empty()) {  // shorthand: "document: string"
        parse_type(d, &spec.type);
      } else if (check_map(d, "input '" + spec.name + "'", kInputKeys)) {
        if (auto t = d["type"]) parse_type(t, &spec.type);
        if (auto r = d["required"]) get_bool(r, "required", &spec.required);
        if (auto desc = d["description"]) get_string(desc, "description", &spec.description);
        if (auto def = d["default"]) {
          Json v = to_json(def);
          if (!matches_type(v, spec.type)) {
            add(ErrorCode::kInvalidValue, pos_of(def),
                "the default of '" + spec.name + "' is not a " + std::string(input_type_name(spec.type)),
                "give a default of that type, or change the type");
          }
          spec.default_value = v;
          if (spec.required) {
            add(ErrorCode::kInvalidValue, pos_of(def), "input '" + spec.name + "' is required and has a default",
                "keep one: a required input has no default");
          }
        }
      }
      wf.inputs.push_back(std::move(spec));
    }
  }

  void parse_type(const YAML::Node& n, InputType* type) {
    static const std::vector<std::string> kTypes = {"string", "number", "boolean", "list", "object", "any"};
    std::string s = n.IsScalar() ? n.Scalar() : "";
    for (std::size_t i = 0; i < kTypes.size(); ++i) {
      if (s == kTypes[i]) {
        *type = static_cast<InputType>(i);
        return;
      }
    }
    std::string near = nearest(s, kTypes);
    add(ErrorCode::kInvalidValue, pos_of(n), "unknown type '" + s + "'",
        near.empty() ? "types: string, number, boolean, list, object, any" : "did you mean '" + near + "'?");
  }

  void parse_step_list(const YAML::Node& n, std::vector<StepDef>* steps, const std::string& where) {
    if (!n.IsSequence()) {
      add(ErrorCode::kInvalidValue, pos_of(n), "steps of " + where + " must be a list",
          "write each step as '- id: ...' on its own line");
      return;
    }
    if (n.size() == 0) {
      add(ErrorCode::kInvalidValue, pos_of(n), where + " has no steps", "add at least one step");
    }
    for (const auto& s : n) steps->push_back(parse_step(s));
  }

  StepDef parse_step(const YAML::Node& n) {
    StepDef step;
    step.pos = pos_of(n);
    if (!check_map(n, "a step", kStepKeys)) return step;
    // One pass over the step's keys: yaml-cpp's key("key") costs a temporary node and a
    // stringstream per probe, which dominated loading large workflows.
    std::map<std::string, YAML::Node> keys;
    for (const auto& kv : n) {
      step.key_pos[kv.first.Scalar()] = pos_of(kv.first);
      keys.emplace(kv.first.Scalar(), kv.second);
    }
    auto key = [&keys](const std::string& k) -> YAML::Node {
      static const YAML::Node kAbsent(YAML::NodeType::Undefined);
      auto it = keys.find(k);
      return it == keys.end() ? kAbsent : it->second;
    };
    if (auto id = key("id")) {
      if (get_string(id, "id", &step.id) && !is_identifier(step.id)) {
        add(ErrorCode::kInvalidValue, pos_of(id), "step id '" + step.id + "' is not an identifier",
            "use letters, digits and underscores (templates read it as steps." + step.id + ")");
      }
    } else {
      add(ErrorCode::kMissingKey, step.pos, "a step has no 'id'", "add 'id: a_name' to the step");
    }
    bool is_loop = static_cast<bool>(key("loop"));
    if (auto a = key("agent")) {
      get_string(a, "agent", &step.agent);
      if (is_loop) {
        add(ErrorCode::kInvalidValue, pos_of(a), "step '" + step.id + "' has both 'agent' and 'loop'",
            "a loop step runs its own steps; remove 'agent'");
      }
    } else if (!is_loop) {
      add(ErrorCode::kMissingKey, step.pos, "step '" + step.id + "' has no 'agent'",
          "add 'agent: NAME' (see `loom agents`), or 'loop:'");
    }
    if (auto w = key("with")) {
      parse_templated(w, "", &step.with, &step.with.raw);
      if (!step.with.raw.is_object()) {
        add(ErrorCode::kInvalidValue, pos_of(w), "'with' must be a mapping of argument names to values",
            "e.g. with: {text: \"{{ inputs.document }}\"}");
      }
    } else {
      step.with.raw = Json::object();
    }
    if (auto nd = key("needs")) {
      if (nd.IsScalar()) {
        step.needs.push_back(nd.Scalar());
      } else if (nd.IsSequence()) {
        for (const auto& x : nd) {
          if (x.IsScalar()) step.needs.push_back(x.Scalar());
          else add(ErrorCode::kInvalidValue, pos_of(x), "each of 'needs' must be a step id",
                                        "list ids, e.g. needs: [draft, notes]");
        }
      } else {
        add(ErrorCode::kInvalidValue, pos_of(nd), "'needs' must be a list of step ids",
            "e.g. needs: [draft, notes]");
      }
    }
    if (auto w = key("when")) step.when = parse_expression_key(w, "when");
    if (auto f = key("foreach")) step.foreach = parse_expression_key(f, "foreach");
    if (auto r = key("retry")) {
      if (check_map(r, "retry", kRetryKeys)) {
        if (auto m = r["max_attempts"]) get_int(m, "retry.max_attempts", 1, &step.retry.max_attempts);
        if (auto b = r["backoff"]) {
          std::string s = b.IsScalar() ? b.Scalar() : "";
          if (s == "exponential") step.retry.backoff = RetryPolicy::Backoff::kExponential;
          else if (s == "fixed") step.retry.backoff = RetryPolicy::Backoff::kFixed;
          else add(ErrorCode::kInvalidValue, pos_of(b), "backoff must be exponential or fixed",
                             "exponential doubles each delay; fixed keeps it");
        }
        if (auto d = r["initial_delay"]) get_duration(d, "retry.initial_delay", &step.retry.initial_delay_ms);
        if (auto d = r["max_delay"]) get_duration(d, "retry.max_delay", &step.retry.max_delay_ms);
      }
    }
    if (auto t = key("timeout")) get_duration(t, "timeout", &step.timeout_ms);
    if (auto e = key("on_error")) {
      std::string s = e.IsScalar() ? e.Scalar() : "";
      if (s == "fail") step.on_error = OnError::kFail;
      else if (s == "continue") step.on_error = OnError::kContinue;
      else add(ErrorCode::kInvalidValue, pos_of(e), "on_error must be fail or continue",
                           "fail stops the run; continue records the failure and goes on");
    }
    if (auto p = key("pool")) get_string(p, "pool", &step.pool);
    if (auto c = key("cache")) get_bool(c, "cache", &step.cache);
    if (auto d = key("description")) get_string(d, "description", &step.description);
    if (is_loop) {
      const YAML::Node l = key("loop");
      auto loop = std::make_shared<LoopDef>();
      loop->pos = pos_of(l);
      if (check_map(l, "loop", kLoopKeys)) {
        if (auto s = l["steps"]) parse_step_list(s, &loop->steps, "loop '" + step.id + "'");
        else add(ErrorCode::kMissingKey, pos_of(l), "loop '" + step.id + "' has no 'steps'",
                 "add the steps to repeat under loop: steps:");
        if (auto u = l["until"]) loop->until = parse_expression_key(u, "until");
        if (auto m = l["max_iterations"]) get_int(m, "max_iterations", 1, &loop->max_iterations);
        else add(ErrorCode::kMissingKey, pos_of(l), "loop '" + step.id + "' has no 'max_iterations'",
                 "bound the loop, e.g. max_iterations: 5");
      }
      step.loop = loop;
      for (const char* k : {"retry", "timeout", "foreach"}) {
        if (key(k)) {
          add(ErrorCode::kInvalidValue, step.key_pos[k], std::string("'") + k + "' does not apply to a loop step",
              "put it on the steps inside the loop");
        }
      }
    }
    return step;
  }

  // ---------------- validation ----------------

  void validate(Workflow& wf) {
    RefContext ctx;
    validate_scope(wf, &wf.steps, &wf.step_index, nullptr);
    // Outputs may read any top-level step.
    ctx.steps = &wf.steps;
    ctx.index = &wf.step_index;
    ctx.all_upstream = true;
    for (const auto& [name, t] : wf.outputs) check_refs(*t, wf, ctx, "output '" + name + "'");
  }

  void validate_scope(Workflow& wf, std::vector<StepDef>* steps,
                      std::map<std::string, int, std::less<>>* index, const RefContext* outer) {
    for (int i = 0; i < static_cast<int>(steps->size()); ++i) {
      StepDef& s = (*steps)[i];
      if (s.id.empty()) continue;
      if (!index->emplace(s.id, i).second) {
        add(ErrorCode::kDuplicateStep, s.key_pos.count("id") ? s.key_pos["id"] : s.pos,
            "step id '" + s.id + "' is used twice", "give each step its own id");
      }
    }
    std::vector<std::string> ids;
    ids.reserve(steps->size());
    for (const auto& s : *steps) ids.push_back(s.id);
    for (auto& s : *steps) {
      std::set<int> seen;
      for (const auto& need : s.needs) {
        auto it = index->find(need);
        SourcePos p = s.key_pos.count("needs") ? s.key_pos["needs"] : s.pos;
        if (it == index->end()) {
          std::string near = nearest(need, ids);
          add(ErrorCode::kUnknownNeed, p, "step '" + s.id + "' needs '" + need + "', which is not a step here",
              near.empty() ? "needs lists ids of steps in the same list" : "did you mean '" + near + "'?");
        } else if (it->second >= 0 && &(*steps)[it->second] == &s) {
          add(ErrorCode::kCycle, p, "step '" + s.id + "' needs itself", "remove it from its own needs");
        } else if (seen.insert(it->second).second) {
          s.need_index.push_back(it->second);
          (*steps)[it->second].dependent_index.push_back(static_cast<int>(&s - steps->data()));
        }
      }
    }
    bool cyclic = find_cycles(*steps);
    for (int i = 0; i < static_cast<int>(steps->size()); ++i) {
      StepDef& s = (*steps)[i];
      RefContext ctx;
      ctx.steps = steps;
      ctx.index = index;
      ctx.self = cyclic ? -1 : i;
      ctx.all_upstream = cyclic;  // with a cycle, upstream is meaningless; do not pile on errors
      ctx.outer = outer;
      ctx.allow_loop = outer != nullptr && outer_is_loop_;
      std::string where = "step '" + s.id + "'";
      if (s.when) check_refs(*s.when, wf, ctx, where + " when");
      if (s.foreach) check_refs(*s.foreach, wf, ctx, where + " foreach");
      ctx.allow_item = s.key_pos.count("foreach") > 0;  // even when foreach itself is broken
      for (const auto& [ptr, t] : s.with.templates) check_refs(*t, wf, ctx, where);
      if (s.loop) {
        auto* loop = const_cast<LoopDef*>(s.loop.get());
        RefContext body_outer = ctx;
        body_outer.allow_item = false;
        bool saved = outer_is_loop_;
        outer_is_loop_ = true;
        validate_scope(wf, &loop->steps, &loop->step_index, &body_outer);
        if (loop->until) {
          RefContext u;
          u.steps = &loop->steps;
          u.index = &loop->step_index;
          u.all_upstream = true;
          u.outer = &body_outer;
          u.allow_loop = true;
          check_refs(*loop->until, wf, u, where + " until");
        }
        outer_is_loop_ = saved;
      } else if (!s.agent.empty()) {
        check_agent(s);
      }
    }
  }

  // Iterative DFS over `needs`; reports each cycle with its path. Returns true if any.
  bool find_cycles(const std::vector<StepDef>& steps) {
    const int n = static_cast<int>(steps.size());
    std::vector<char> color(n, 0);  // 0 new, 1 on stack, 2 done
    std::vector<int> parent(n, -1);
    bool any = false;
    for (int start = 0; start < n; ++start) {
      if (color[start]) continue;
      std::vector<std::pair<int, std::size_t>> stack{{start, 0}};
      color[start] = 1;
      while (!stack.empty()) {
        auto& [v, next] = stack.back();
        if (next < steps[v].need_index.size()) {
          int w = steps[v].need_index[next++];
          if (color[w] == 0) {
            color[w] = 1;
            parent[w] = v;
            stack.push_back({w, 0});
          } else if (color[w] == 1) {
            any = true;
            // v needs w and w is on the stack: w -> ... -> v -> w in "needs" direction.
            std::vector<std::string> path{steps[w].id};
            std::vector<std::string> rev;
            for (int x = v; x != w && x >= 0; x = parent[x]) rev.push_back(steps[x].id);
            std::string text = steps[w].id;
            for (auto it = rev.rbegin(); it != rev.rend(); ++it) text += " -> " + *it;
            text += " -> " + steps[w].id;
            const StepDef& at = steps[v];
            SourcePos p = at.key_pos.count("needs") ? at.key_pos.at("needs") : at.pos;
            add(ErrorCode::kCycle, p, "dependency cycle: " + text + " (each needs the next)",
                "remove one of these needs to break the cycle");
          }
        } else {
          color[v] = 2;
          stack.pop_back();
        }
      }
    }
    return any;
  }

  // Is step `target` upstream of step `self` (reachable through needs)?
  static bool is_upstream(const std::vector<StepDef>& steps, int self, int target) {
    for (int d : steps[self].need_index) {
      if (d == target) return true;
    }
    std::vector<char> seen(steps.size(), 0);
    std::vector<int> todo(steps[self].need_index.begin(), steps[self].need_index.end());
    while (!todo.empty()) {
      int v = todo.back();
      todo.pop_back();
      if (v == target) return true;
      if (seen[v]) continue;
      seen[v] = 1;
      for (int d : steps[v].need_index) todo.push_back(d);
    }
    return false;
  }

  // Where the template sits, for errors: the template's own string position plus the reference.
  SourcePos ref_pos(const Template& t, const TemplateReference& r) {
    SourcePos p = template_pos_.count(&t) ? template_pos_[&t] : SourcePos{};
    if (t.source().find('\n') == std::string::npos && p.line > 0) p.column += r.offset;
    return p;
  }

  void check_refs(const Template& t, const Workflow& wf, const RefContext& ctx, const std::string& where) {
    for (const auto& r : t.references()) {
      SourcePos p = ref_pos(t, r);
      if (r.root == "inputs") {
        if (!r.name.empty() && wf.input_index(r.name) < 0) {
          std::vector<std::string> names;
          for (const auto& in : wf.inputs) names.push_back(in.name);
          std::string near = nearest(r.name, names);
          add(ErrorCode::kTemplateUnknownName, p, where + " reads inputs." + r.name + ", which is not declared",
              near.empty() ? "declare it under 'inputs:'" : "did you mean inputs." + near + "?");
        }
      } else if (r.root == "steps") {
        if (!r.name.empty()) check_step_ref(r.name, ctx, p, where);
      } else if (r.root == "item" || r.root == "index") {
        if (!ctx.allow_item) {
          add(ErrorCode::kTemplateUnknownName, p, where + " reads '" + r.root + "', which only exists in a foreach step's 'with'",
              "add 'foreach:' to the step, or read the value another way");
        }
      } else if (r.root == "loop") {
        if (!ctx.allow_loop) {
          add(ErrorCode::kTemplateUnknownName, p, where + " reads 'loop', which only exists inside a loop",
              "move the step into a loop's steps");
        }
      } else {
        std::string near = nearest(r.root, kRoots);
        add(ErrorCode::kTemplateUnknownName, p, where + " reads '" + r.root + "', which is not defined",
            near.empty() ? "templates read inputs.*, steps.*, item, index and loop" : "did you mean '" + near + "'?");
      }
    }
  }

  void check_step_ref(const std::string& name, const RefContext& ctx, SourcePos p, const std::string& where) {
    // Search this scope, then enclosing loop scopes (where only the loop's upstream counts).
    for (const RefContext* c = &ctx; c; c = c->outer) {
      auto it = c->index->find(name);
      if (it == c->index->end()) continue;
      if (c->all_upstream) return;
      if (it->second == c->self) {
        add(ErrorCode::kTemplateNotUpstream, p, where + " reads its own output (steps." + name + ")",
            "a step can read only the steps it needs");
        return;
      }
      if (!is_upstream(*c->steps, c->self, it->second)) {
        const std::string& self_id = (*c->steps)[c->self].id;
        add(ErrorCode::kTemplateNotUpstream, p,
            where + " reads steps." + name + ", which is not upstream of '" + self_id + "'",
            "add '" + name + "' to the needs of '" + self_id + "'");
      }
      return;
    }
    std::vector<std::string> ids;
    for (const RefContext* c = &ctx; c; c = c->outer) {
      for (const auto& kv : *c->index) ids.push_back(kv.first);
    }
    std::string near = nearest(name, ids);
    add(ErrorCode::kTemplateUnknownName, p, where + " reads steps." + name + ", but there is no such step",
        near.empty() ? "check the step id" : "did you mean steps." + near + "?");
  }

  void check_agent(StepDef& s) {
    SourcePos apos = s.key_pos.count("agent") ? s.key_pos["agent"] : s.pos;
    const AgentSpec* agent = agents_.find(s.agent);
    if (!agent) {
      std::string near = nearest(s.agent, agents_.names());
      add(ErrorCode::kUnknownAgent, apos, "unknown agent '" + s.agent + "' in step '" + s.id + "'",
          near.empty() ? "run `loom agents` to list them" : "did you mean '" + near + "'?");
      return;
    }
    if (agent->kind != AgentKind::kEffect && (s.retry.max_attempts > 1 || s.timeout_ms > 0)) {
      add(ErrorCode::kInvalidValue, s.key_pos.count("retry") ? s.key_pos["retry"] : s.key_pos["timeout"],
          "retry and timeout apply to agents the host performs, not to '" + s.agent + "'",
          agent->kind == AgentKind::kPure ? "pure agents are deterministic; a retry would fail again"
                                          : "put them on the called workflow's steps");
    }
    const Json& with = s.with.raw;
    if (!with.is_object()) return;
    SourcePos wpos = s.key_pos.count("with") ? s.key_pos["with"] : s.pos;
    std::vector<std::string> names;
    for (const auto& p : agent->params) names.push_back(p.name);
    for (auto it = with.begin(); it != with.end(); ++it) {
      const AgentParam* param = nullptr;
      for (const auto& p : agent->params) {
        if (p.name == it.key()) param = &p;
      }
      if (!param) {
        if (!agent->open_params) {
          std::string near = nearest(it.key(), names);
          add(ErrorCode::kUnknownKey, wpos, "'" + s.agent + "' has no argument '" + it.key() + "'",
              near.empty() ? "its arguments: " + join(names) : "did you mean '" + near + "'?");
        }
        continue;
      }
      bool templated = it->is_string() && has_template(it->get_ref<const std::string&>());
      if (!templated && !matches_type(*it, param->type)) {
        add(ErrorCode::kInvalidValue, wpos,
            "argument '" + it.key() + "' of '" + s.agent + "' must be a " +
                std::string(input_type_name(param->type)),
            param->description.empty() ? "" : "'" + it.key() + "': " + param->description);
      }
    }
    for (const auto& p : agent->params) {
      if (p.required && !with.contains(p.name)) {
        add(ErrorCode::kMissingKey, wpos, "step '" + s.id + "' does not give '" + s.agent + "' its '" + p.name + "'",
            "add '" + p.name + ":' under 'with:'");
      }
    }
    if (agent->kind == AgentKind::kWorkflow) check_workflow_call(s, wpos);
  }

  static std::string input_names(const Workflow& wf) {
    std::vector<std::string> names;
    for (const auto& in : wf.inputs) names.push_back(in.name);
    return names.empty() ? "none" : join(names);
  }

  static std::string join(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& x : v) out += (out.empty() ? "" : ", ") + x;
    return out;
  }

  void check_workflow_call(const StepDef& s, SourcePos wpos) {
    const Json& w = s.with.raw;
    auto name_it = w.find("workflow");
    if (name_it == w.end() || !name_it->is_string()) return;
    const std::string& name = name_it->get_ref<const std::string&>();
    if (has_template(name)) {
      add(ErrorCode::kInvalidValue, wpos, "the called workflow's name must be written out, not a template",
          "write the workflow's name, e.g. workflow: ingestion_digest");
      return;
    }
    if (!library_) return;
    auto callee = library_->find(name);
    if (!callee) {
      std::string near = nearest(name, library_->names());
      add(ErrorCode::kUnknownWorkflow, wpos, "step '" + s.id + "' calls workflow '" + name + "', which is not in the library",
          near.empty() ? "put its file next to this one" : "did you mean '" + near + "'?");
      return;
    }
    // A call cycle: does the callee (transitively) call the workflow being loaded?
    std::vector<std::string> path;
    if (calls(*callee, current_name_, &path, 0)) {
      std::string text = current_name_ + " -> " + name;
      for (const auto& p : path) text += " -> " + p;
      add(ErrorCode::kCycle, wpos, "workflow call cycle: " + text, "a workflow may not call itself, directly or not");
    }
    auto in = w.find("inputs");
    if (in != w.end() && in->is_object()) {
      for (auto it = in->begin(); it != in->end(); ++it) {
        if (callee->input_index(it.key()) < 0) {
          add(ErrorCode::kInputUnknown, wpos, "workflow '" + name + "' has no input '" + it.key() + "'",
              "its inputs: " + input_names(*callee));
        }
      }
      for (const auto& spec : callee->inputs) {
        if (spec.required && !in->contains(spec.name)) {
          add(ErrorCode::kInputMissing, wpos, "the call to '" + name + "' does not give required input '" + spec.name + "'",
              "add it under inputs:");
        }
      }
    }
  }

  bool calls(const Workflow& wf, const std::string& target, std::vector<std::string>* path, int depth) {
    if (depth > 32) return false;
    if (wf.name == target) return true;
    std::vector<const std::vector<StepDef>*> lists{&wf.steps};
    while (!lists.empty()) {
      const auto* list = lists.back();
      lists.pop_back();
      for (const auto& s : *list) {
        if (s.loop) lists.push_back(&s.loop->steps);
        if (s.agent != "workflow") continue;
        auto it = s.with.raw.find("workflow");
        if (it == s.with.raw.end() || !it->is_string()) continue;
        std::string callee_name = it->get<std::string>();
        path->push_back(callee_name);
        if (callee_name == target) return true;
        if (auto callee = library_->find(callee_name)) {
          if (calls(*callee, target, path, depth + 1)) return true;
        }
        path->pop_back();
      }
    }
    return false;
  }

  std::string current_name_;  // the workflow being loaded, for call-cycle checks
  const AgentRegistry& agents_;
  const WorkflowLibrary* library_;
  bool fatal_ = false;
  bool outer_is_loop_ = false;
  std::map<const Template*, SourcePos> template_pos_;
};

}  // namespace

std::string_view input_type_name(InputType type) {
  switch (type) {
    case InputType::kString: return "string";
    case InputType::kNumber: return "number";
    case InputType::kBoolean: return "boolean";
    case InputType::kList: return "list";
    case InputType::kObject: return "object";
    case InputType::kAny: return "any";
  }
  return "any";
}

int Workflow::input_index(std::string_view name) const {
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

std::string Workflow::version() const { return detail::hash_hex(source); }

void WorkflowLibrary::add(std::shared_ptr<const Workflow> workflow) {
  std::string name = workflow->name;
  by_name_[name] = std::move(workflow);
}

std::shared_ptr<const Workflow> WorkflowLibrary::find(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

std::vector<std::string> WorkflowLibrary::names() const {
  std::vector<std::string> out;
  for (const auto& kv : by_name_) out.push_back(kv.first);
  return out;
}

LoadResult load_workflow(std::string_view text, std::string_view file, const AgentRegistry& agents,
                         const WorkflowLibrary* library) {
  Loader loader(file, agents, library);
  return loader.load(text);
}

Result<Json> bind_inputs(const Workflow& wf, const Json& given, std::vector<Error>* all) {
  std::vector<Error> errors;
  Json out = Json::object();
  if (!given.is_null() && !given.is_object()) {
    Error e = make_error(ErrorCode::kBadArgument, "run inputs must be an object of name -> value");
    if (all) all->push_back(e);
    return e;
  }
  for (const auto& spec : wf.inputs) {
    auto it = given.is_object() ? given.find(spec.name) : given.end();
    if (given.is_object() && it != given.end() && !it->is_null()) {
      if (!matches_type(*it, spec.type)) {
        errors.push_back(make_error(ErrorCode::kInputType,
                                    "input '" + spec.name + "' must be a " + std::string(input_type_name(spec.type)) +
                                        ", got " + it->dump().substr(0, 60),
                                    spec.type == InputType::kNumber ? "give a number, e.g. --input " + spec.name + "=5" : ""));
        continue;
      }
      out[spec.name] = *it;
    } else if (spec.default_value) {
      out[spec.name] = *spec.default_value;
    } else if (spec.required) {
      Error e = make_error(ErrorCode::kInputMissing, "required input '" + spec.name + "' was not given",
                           "give it, e.g. --input " + spec.name + "=... or --input-file " + spec.name + "=PATH");
      e.line = spec.pos.line;
      e.column = spec.pos.column;
      e.file = wf.file;
      errors.push_back(e);
    } else {
      out[spec.name] = nullptr;
    }
  }
  if (given.is_object()) {
    std::vector<std::string> names;
    for (const auto& s : wf.inputs) names.push_back(s.name);
    for (auto it = given.begin(); it != given.end(); ++it) {
      if (wf.input_index(it.key()) < 0) {
        std::string near = nearest(it.key(), names);
        errors.push_back(make_error(ErrorCode::kInputUnknown, "workflow '" + wf.name + "' has no input '" + it.key() + "'",
                                    near.empty() ? "" : "did you mean '" + near + "'?"));
      }
    }
  }
  if (!errors.empty()) {
    Error first = errors.front();
    if (all) all->insert(all->end(), errors.begin(), errors.end());
    return first;
  }
  return out;
}

}  // namespace loom
