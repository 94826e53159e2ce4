// Adapters from workflow steps to the loom::text functions.
#include "text/agents.hpp"

#include <cmath>

#include "loom/agent.hpp"
#include "loom/text.hpp"

namespace loom::text {
namespace {

// A whole-number argument within [lo, hi], or its default when absent.
Result<std::size_t> count_arg(const Json& args, const char* name, std::size_t fallback,
                              std::size_t lo, std::size_t hi) {
  auto it = args.find(name);
  if (it == args.end() || it->is_null()) return fallback;
  double v = it->get<double>();
  if (v != std::floor(v) || v < static_cast<double>(lo) || v > static_cast<double>(hi)) {
    return make_error(ErrorCode::kBadArgument,
                      std::string("'") + name + "' must be a whole number from " + std::to_string(lo) +
                          " to " + std::to_string(hi));
  }
  return static_cast<std::size_t>(v);
}

Result<Json> run_template(const Json& args) {
  // The engine has already rendered every {{ }} in the step's arguments.
  return args.at("template");
}

Result<Json> run_chunk(const Json& args) {
  auto max_chars = count_arg(args, "max_chars", 2000, 50, 10000000);
  if (!max_chars) return max_chars.error();
  auto overlap = count_arg(args, "overlap", std::min<std::size_t>(200, *max_chars / 4), 0, *max_chars - 1);
  if (!overlap) return overlap.error();
  ChunkOptions opts;
  opts.max_chars = *max_chars;
  opts.overlap = *overlap;
  std::vector<std::string> chunks = chunk(args.at("text").get_ref<const std::string&>(), opts);
  Json out = Json::object();
  out["count"] = chunks.size();
  out["chunks"] = std::move(chunks);
  return out;
}

Result<Json> run_summarize(const Json& args) {
  auto n = count_arg(args, "sentences", 5, 1, 1000);
  if (!n) return n.error();
  std::vector<std::string> picked = summarize(args.at("text").get_ref<const std::string&>(), *n);
  std::string out;
  for (const auto& s : picked) out += (out.empty() ? "" : " ") + s;
  return Json(out);
}

Result<Json> run_keywords(const Json& args) {
  auto n = count_arg(args, "count", 10, 1, 1000);
  if (!n) return n.error();
  Json terms = Json::array(), scored = Json::array();
  for (const auto& k : keywords(args.at("text").get_ref<const std::string&>(), *n)) {
    terms.push_back(k.term);
    // Two decimals keep event logs stable and readable.
    scored.push_back({{"term", k.term}, {"score", std::round(k.score * 100) / 100}});
  }
  return Json{{"keywords", terms}, {"scored", scored}};
}

}  // namespace

void register_text_agents(AgentRegistry& r) {
  AgentSpec t;
  t.name = "text.template";
  t.version = "1";
  t.description = "Renders its `template` (the engine fills in every {{ }}). Output: the text.";
  // A template that is one expression keeps its type, so text.template also computes values.
  t.params = {AgentParam{"template", InputType::kAny, true, "text with {{ }} templates, or one expression"}};
  t.run = run_template;
  r.add(t);

  AgentSpec c;
  c.name = "text.chunk";
  c.version = "1";
  c.description = "Splits text into paragraph-aware chunks with overlap. Output: {chunks, count}.";
  c.params = {AgentParam{"text", InputType::kString, true, "the text"},
              AgentParam{"max_chars", InputType::kNumber, false, "largest chunk in bytes (default 2000)"},
              AgentParam{"overlap", InputType::kNumber, false, "bytes repeated from the previous chunk (default 200)"}};
  c.run = run_chunk;
  r.add(c);

  AgentSpec s;
  s.name = "text.summarize";
  s.version = "1";
  s.description = "Extractive summary (TextRank over sentences), offline. Output: the summary text.";
  s.params = {AgentParam{"text", InputType::kString, true, "the text"},
              AgentParam{"sentences", InputType::kNumber, false, "how many sentences to keep (default 5)"}};
  s.run = run_summarize;
  r.add(s);

  AgentSpec k;
  k.name = "text.keywords";
  k.version = "1";
  k.description = "Key phrases (RAKE). Output: {keywords: [..], scored: [{term, score}]}.";
  k.params = {AgentParam{"text", InputType::kString, true, "the text"},
              AgentParam{"count", InputType::kNumber, false, "how many phrases (default 10)"}};
  k.run = run_keywords;
  r.add(k);
}

}  // namespace loom::text
