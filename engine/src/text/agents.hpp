// The built-in offline text agents: text.template, text.chunk, text.summarize, text.keywords.
#pragma once

namespace loom {
class AgentRegistry;
namespace text {

/// Registers the text.* agents into `registry`.
void register_text_agents(AgentRegistry& registry);

}  // namespace text
}  // namespace loom
