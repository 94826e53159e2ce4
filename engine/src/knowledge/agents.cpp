// agents.cpp — the knowledge.query agent: a workflow step's arguments to the router and back.

#include <memory>
#include <string>
#include <utility>

#include "loom/agent.hpp"
#include "loom/knowledge.hpp"

namespace loom::knowledge {
namespace {

constexpr const char* kAgent = "knowledge.query";
constexpr const char* kVersion = "1";

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
    auto request = query_request_from_json(args);
    if (!request) return request.error();
    return query_result_to_json(*kb, query(*kb, *request));
  };
  return registry.set(std::move(spec));
}

}  // namespace loom::knowledge
