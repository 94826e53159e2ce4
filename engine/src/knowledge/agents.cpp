// agents.cpp — the knowledge.query agent: a workflow step's arguments to the router and back.

#include <cmath>
#include <cstdint>
#include <optional>
#include <memory>
#include <string>
#include <utility>

#include "loom/agent.hpp"
#include "loom/knowledge.hpp"

namespace loom::knowledge {
namespace {

constexpr const char* kAgent = "knowledge.query";
constexpr const char* kVersion = "1";

Error bad(std::string message) { return make_error(ErrorCode::kBadArgument, std::move(message)); }

// A whole number argument in [lo, hi] (absent: fallback).
Result<std::int64_t> whole(const Json& args, const char* name, std::int64_t fallback, std::int64_t lo, std::int64_t hi) {
  auto it = args.find(name);
  if (it == args.end() || it->is_null()) return fallback;
  const double v = it->is_number() ? it->get<double>() : std::nan("");
  if (!std::isfinite(v) || v != std::floor(v) || v < static_cast<double>(lo) || v > static_cast<double>(hi)) {
    return bad(std::string("'") + name + "' of " + kAgent + " must be a whole number from " + std::to_string(lo) +
               " to " + std::to_string(hi) + ", got " + it->dump().substr(0, 40));
  }
  return static_cast<std::int64_t>(v);
}

std::string category_list() {
  std::string out;
  for (Category c : {Category::kCharacter, Category::kLocation, Category::kItem, Category::kLore, Category::kStyle,
                     Category::kResearch, Category::kOther}) {
    out += (out.empty() ? "" : ", ") + std::string(category_name(c));
  }
  return out;
}

Result<QueryRequest> request_from_args(const Json& args) {
  QueryRequest r;
  if (!args.is_object()) return bad(std::string("the arguments of ") + kAgent + " must be an object");
  if (auto it = args.find("queries"); it != args.end() && !it->is_null()) {
    if (!it->is_array()) return bad("'queries' must be a list of strings");
    for (const auto& q : *it) {
      if (!q.is_string()) return bad("'queries' must be a list of strings, got " + q.dump().substr(0, 40));
      r.queries.push_back(q.get<std::string>());
    }
  }
  if (auto it = args.find("text"); it != args.end() && !it->is_null()) {
    if (!it->is_string()) return bad("'text' must be a string");
    r.text = it->get<std::string>();
  }
  if (auto it = args.find("categories"); it != args.end() && !it->is_null()) {
    if (!it->is_array()) return bad("'categories' must be a list of category names (" + category_list() + ")");
    for (const auto& c : *it) {
      std::optional<Category> cat = c.is_string() ? category_from_name(c.get<std::string>()) : std::nullopt;
      if (!cat) {
        return bad("unknown category " + c.dump().substr(0, 40) + " in 'categories': the categories are " + category_list());
      }
      r.categories.push_back(*cat);
    }
  }
  if (auto it = args.find("position"); it != args.end() && !it->is_null()) {
    if (!it->is_object()) return bad("'position' must be {chapter, scene}");
    for (auto k = it->begin(); k != it->end(); ++k) {
      if (k.key() != "chapter" && k.key() != "scene") return bad("'position' has no '" + k.key() + "' (it is {chapter, scene})");
    }
    if (!it->contains("chapter")) return bad("'position' needs a chapter");
    auto chapter = whole(*it, "chapter", 0, 0, 1000000000);
    if (!chapter) return chapter.error();
    auto scene = whole(*it, "scene", 0, 0, 1000000000);
    if (!scene) return scene.error();
    r.position = StoryPosition{static_cast<int>(*chapter), static_cast<int>(*scene)};
  }
  auto budget = whole(args, "budget_tokens", r.budget_tokens, 0, 100000000);
  if (!budget) return budget.error();
  r.budget_tokens = *budget;
  auto k = whole(args, "k", static_cast<std::int64_t>(r.k), 1, 1000);
  if (!k) return k.error();
  r.k = static_cast<std::size_t>(*k);
  return r;
}

}  // namespace

Status register_knowledge_agents(AgentRegistry& registry, std::shared_ptr<const KnowledgeBase> kb) {
  AgentSpec spec;
  spec.name = kAgent;
  spec.version = kb ? std::string(kVersion) + "+" + kb->fingerprint() : kVersion;
  spec.description =
      "Assembles context from the knowledge base under a token budget: always-included entries, entries the text "
      "mentions, then BM25-ranked passages, with [n] citations. Output: {context, tokens, included, dropped}.";
  spec.params = {
      AgentParam{"queries", InputType::kList, false, "free-text queries (strings); each one's best passages compete"},
      AgentParam{"text", InputType::kString, false, "text whose mentions of names and aliases bring entries in"},
      AgentParam{"categories", InputType::kList, false, "only these categories (character, location, item, lore, style, research, other)"},
      AgentParam{"position", InputType::kObject, false, "{chapter, scene}: leaves out entries true only later"},
      AgentParam{"budget_tokens", InputType::kNumber, false, "the context's size limit in tokens (default 1500)"},
      AgentParam{"k", InputType::kNumber, false, "passages considered per query (default 8)"}};
  spec.run = [kb](const Json& args) -> Result<Json> {
    if (!kb) {
      return make_error(ErrorCode::kBadArgument,
                        "no knowledge base is loaded: add references in the studio's Knowledge panel or pass --kb");
    }
    auto request = request_from_args(args);
    if (!request) return request.error();
    return query_result_to_json(*kb, query(*kb, *request));
  };
  return registry.set(std::move(spec));
}

}  // namespace loom::knowledge
