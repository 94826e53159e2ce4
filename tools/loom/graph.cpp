#include "graph.hpp"

#include <algorithm>
#include <vector>

#include "loom/template.hpp"

namespace loom::cli {
namespace {

// Longest-path layer of each step (steps with no needs are layer 0).
std::vector<int> layers(const std::vector<StepDef>& steps) {
  std::vector<int> layer(steps.size(), -1);
  // Validation guarantees no cycle; iterate to a fixed point in topological fashion.
  bool changed = true;
  for (auto& l : layer) l = 0;
  for (std::size_t round = 0; changed && round <= steps.size(); ++round) {
    changed = false;
    for (std::size_t i = 0; i < steps.size(); ++i) {
      for (int n : steps[i].need_index) {
        if (layer[i] < layer[static_cast<std::size_t>(n)] + 1) {
          layer[i] = layer[static_cast<std::size_t>(n)] + 1;
          changed = true;
        }
      }
    }
  }
  return layer;
}

std::string label(const StepDef& s) {
  std::string l = s.id + "\\n" + (s.loop ? "loop ≤" + std::to_string(s.loop->max_iterations) : s.agent);
  if (s.foreach) l += " (foreach)";
  if (s.agent == "workflow" && s.with.raw.contains("workflow")) {
    l += ": " + s.with.raw["workflow"].get<std::string>();
  }
  return l;
}

std::string escape_quotes(std::string s) {
  std::string out;
  for (char c : s) {
    if (c == '"') out += "#quot;";
    else out += c;
  }
  return out;
}

void mermaid_steps(const std::vector<StepDef>& steps, const std::string& prefix, std::string& out,
                   const std::string& indent) {
  for (const auto& s : steps) {
    std::string id = prefix + s.id;
    if (s.loop) {
      out += indent + "subgraph " + id + "[\"" + escape_quotes(label(s)) + "\"]\n";
      mermaid_steps(s.loop->steps, id + "__", out, indent + "  ");
      out += indent + "end\n";
    } else {
      std::string l = label(s);
      std::size_t p;
      while ((p = l.find("\\n")) != std::string::npos) l.replace(p, 2, "<br/>");
      out += indent + id + "[\"" + escape_quotes(l) + "\"]\n";
    }
  }
  for (const auto& s : steps) {
    for (int n : s.need_index) {
      out += indent + prefix + steps[static_cast<std::size_t>(n)].id + (s.when ? " -.->|when| " : " --> ") + prefix + s.id + "\n";
    }
  }
}

void dot_steps(const std::vector<StepDef>& steps, const std::string& prefix, std::string& out, const std::string& indent) {
  for (const auto& s : steps) {
    std::string id = prefix + s.id;
    if (s.loop) {
      out += indent + "subgraph cluster_" + id + " {\n" + indent + "  label=\"" + label(s) + "\";\n";
      out += indent + "  " + id + " [shape=point];\n";
      dot_steps(s.loop->steps, id + "__", out, indent + "  ");
      out += indent + "}\n";
    } else {
      out += indent + id + " [label=\"" + label(s) + "\"" + (s.agent == "workflow" ? ", shape=component" : "") + "];\n";
    }
  }
  for (const auto& s : steps) {
    for (int n : s.need_index) {
      out += indent + prefix + steps[static_cast<std::size_t>(n)].id + " -> " + prefix + s.id +
             (s.when ? " [style=dashed, label=\"when\"]" : "") + ";\n";
    }
  }
}

void ascii_steps(const std::vector<StepDef>& steps, std::string& out, const std::string& indent) {
  std::vector<int> layer = layers(steps);
  int max_layer = steps.empty() ? -1 : *std::max_element(layer.begin(), layer.end());
  std::size_t width = 0;
  for (const auto& s : steps) width = std::max(width, s.id.size());
  for (int l = 0; l <= max_layer; ++l) {
    if (l > 0) out += indent + "  │\n" + indent + "  ▼\n";
    for (std::size_t i = 0; i < steps.size(); ++i) {
      if (layer[i] != l) continue;
      const StepDef& s = steps[i];
      std::string line = indent + "[" + s.id + "]" + std::string(width - s.id.size() + 1, ' ');
      line += s.loop ? "loop (at most " + std::to_string(s.loop->max_iterations) + ")" : s.agent;
      if (s.agent == "workflow" && s.with.raw.contains("workflow")) line += " → " + s.with.raw["workflow"].get<std::string>();
      std::vector<std::string> tags;
      if (s.foreach) tags.push_back("foreach");
      if (s.when) tags.push_back("when");
      if (s.retry.max_attempts > 1) tags.push_back("retry ×" + std::to_string(s.retry.max_attempts));
      if (s.on_error == OnError::kContinue) tags.push_back("on_error: continue");
      if (!tags.empty()) {
        line += "  {";
        for (std::size_t t = 0; t < tags.size(); ++t) line += (t ? ", " : "") + tags[t];
        line += "}";
      }
      if (!s.needs.empty()) {
        line += "  ← ";
        for (std::size_t n = 0; n < s.needs.size(); ++n) line += (n ? ", " : "") + s.needs[n];
      }
      out += line + "\n";
      if (s.loop) {
        ascii_steps(s.loop->steps, out, indent + "    ┊ ");
        if (s.loop->until) out += indent + "    ┊ until " + s.loop->until->source() + "\n";
      }
    }
  }
}

}  // namespace

std::string graph_mermaid(const Workflow& wf) {
  std::string out = "flowchart TD\n";
  mermaid_steps(wf.steps, "", out, "  ");
  return out;
}

std::string graph_dot(const Workflow& wf) {
  std::string out = "digraph " + wf.name + " {\n  rankdir=TB;\n  node [shape=box, style=rounded];\n";
  dot_steps(wf.steps, "", out, "  ");
  return out + "}\n";
}

std::string graph_ascii(const Workflow& wf) {
  std::string out = wf.name + (wf.description.empty() ? "" : " — " + wf.description) + "\n\n";
  ascii_steps(wf.steps, out, "  ");
  if (!wf.outputs.empty()) {
    out += "\n  outputs:";
    for (const auto& [name, t] : wf.outputs) out += " " + name;
    out += "\n";
  }
  return out;
}

}  // namespace loom::cli
