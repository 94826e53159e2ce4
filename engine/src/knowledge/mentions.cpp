// mentions.cpp — which entries a text names: token sequences of names and aliases, matched
// longest first over the text's tokens.

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "knowledge/analysis.hpp"
#include "knowledge/base_internal.hpp"
#include "loom/knowledge.hpp"

namespace loom::knowledge {

namespace {

bool word_token(const detail::Token& t) { return !t.joined; }

std::vector<std::string> name_tokens(std::string_view name, detail::TokenBuffer& buffer) {
  detail::tokenize_into(name, buffer);
  std::vector<std::string> out;
  for (const auto& t : buffer.tokens) {
    if (word_token(t)) out.emplace_back(buffer.term(t));
  }
  return out;
}

std::shared_ptr<const detail::MentionIndex> build_mention_index(const KnowledgeBase::Impl& im) {
  auto index = std::make_shared<detail::MentionIndex>();
  std::map<std::vector<std::string>, std::uint32_t> known;
  detail::TokenBuffer buffer;
  for (std::uint32_t e = 0; e < im.entries.size(); ++e) {
    const Entry& entry = im.entries[e];
    auto add = [&](std::string_view name) {
      std::vector<std::string> tokens = name_tokens(name, buffer);
      if (tokens.empty()) return;
      auto [it, fresh] = known.emplace(tokens, static_cast<std::uint32_t>(index->patterns.size()));
      if (fresh) index->patterns.push_back({std::move(tokens), {}});
      auto& entries = index->patterns[it->second].entries;
      if (entries.empty() || entries.back() != e) entries.push_back(e);
    };
    add(entry.name);
    for (const auto& alias : entry.aliases) add(alias);
  }
  for (std::uint32_t p = 0; p < index->patterns.size(); ++p) {
    const std::string& first = index->patterns[p].tokens.front();
    std::uint32_t slot = index->first.find(first);
    if (slot == detail::kNoValue) {
      slot = static_cast<std::uint32_t>(index->candidates.size());
      index->first.insert(first, slot);
      index->candidates.emplace_back();
    }
    index->candidates[slot].push_back(p);
  }
  for (auto& list : index->candidates) {
    std::stable_sort(list.begin(), list.end(), [&](std::uint32_t a, std::uint32_t b) {
      return index->patterns[a].tokens.size() > index->patterns[b].tokens.size();
    });
  }
  return index;
}

// Whether the bytes between two tokens of a name keep them one name: spaces (also no-break
// spaces) or a single hyphen.
bool name_gap(std::string_view gap) {
  if (gap == "-" || gap == "\xE2\x80\x90" || gap == "\xE2\x80\x91") return true;
  for (std::size_t i = 0; i < gap.size(); ++i) {
    const char c = gap[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') continue;
    if (c == '\xC2' && i + 1 < gap.size() && gap[i + 1] == '\xA0') {
      ++i;
      continue;
    }
    return false;
  }
  return true;
}

}  // namespace

std::vector<Mention> KnowledgeBase::mentions(std::string_view text) const {
  Impl& im = *impl_;
  std::vector<Mention> out;
  if (im.entries.empty()) return out;
  if (!im.mention_index) im.mention_index = build_mention_index(im);
  const detail::MentionIndex& index = *im.mention_index;
  detail::TokenBuffer buffer;
  detail::tokenize_into(text, buffer);
  std::vector<detail::Token> words;
  words.reserve(buffer.tokens.size());
  for (const auto& t : buffer.tokens) {
    if (word_token(t)) words.push_back(t);
  }
  for (std::size_t i = 0; i < words.size();) {
    const std::uint32_t slot = index.first.find(buffer.term(words[i]));
    bool matched = false;
    if (slot != detail::kNoValue) {
      for (std::uint32_t p : index.candidates[slot]) {
        const auto& pattern = index.patterns[p];
        const std::size_t len = pattern.tokens.size();
        if (i + len > words.size()) continue;
        bool ok = true;
        for (std::size_t k = 1; k < len && ok; ++k) {
          ok = buffer.term(words[i + k]) == pattern.tokens[k] &&
               name_gap(text.substr(words[i + k - 1].end, words[i + k].begin - words[i + k - 1].end));
        }
        if (!ok) continue;
        const std::size_t begin = words[i].begin, end = words[i + len - 1].end;
        for (std::uint32_t e : pattern.entries) {
          out.push_back(Mention{e, begin, end, std::string(text.substr(begin, end - begin))});
        }
        i += len;
        matched = true;
        break;
      }
    }
    if (!matched) ++i;
  }
  return out;
}

}  // namespace loom::knowledge
