// router.cpp — the knowledge router: what goes into a prompt's context, why, within a budget.

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "knowledge/analysis.hpp"
#include "loom/knowledge.hpp"
#include "loom/llm.hpp"

namespace loom::knowledge {
namespace {

bool in_scope(const Entry& e, const QueryRequest& r) {
  if (e.inclusion == Inclusion::kNever) return false;
  if (!r.categories.empty() && std::find(r.categories.begin(), r.categories.end(), e.category) == r.categories.end()) {
    return false;
  }
  if (r.position && e.from && *r.position < *e.from) return false;
  return true;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::pair<std::size_t, std::size_t> trimmed(std::string_view text, std::size_t begin, std::size_t end) {
  while (begin < end && is_space(text[begin])) ++begin;
  while (end > begin && is_space(text[end - 1])) --end;
  return {begin, end};
}

struct Candidate {
  std::uint32_t entry = 0;
  std::int64_t chunk = -1;
  const char* reason = "";
  double score = 0;
};

}  // namespace

QueryResult query(const KnowledgeBase& kb, const QueryRequest& request) {
  QueryResult out;
  const auto& entries = kb.entries();
  const auto& chunks = kb.chunks();
  if (entries.empty()) return out;

  std::vector<Candidate> candidates;
  std::vector<char> wanted_whole(entries.size(), 0);
  for (std::uint32_t e = 0; e < entries.size(); ++e) {
    if (entries[e].inclusion == Inclusion::kAlways && in_scope(entries[e], request)) {
      candidates.push_back({e, -1, "always", 0});
      wanted_whole[e] = 1;
    }
  }
  if (!request.text.empty()) {
    for (const Mention& m : kb.mentions(request.text)) {
      const Entry& entry = entries[m.entry];
      if (wanted_whole[m.entry] || entry.inclusion != Inclusion::kWhenMentioned || !in_scope(entry, request)) continue;
      candidates.push_back({m.entry, -1, "mentioned", 0});
      wanted_whole[m.entry] = 1;
    }
  }
  // Ranked chunks over every query, each chunk once with its best score.
  SearchOptions search;
  search.k = request.k;
  search.filter.categories = request.categories;
  search.filter.position = request.position;
  std::map<std::uint32_t, double> best;
  for (const auto& q : request.queries) {
    for (const Hit& h : kb.search(q, search)) {
      auto [it, fresh] = best.emplace(h.chunk, h.score);
      if (!fresh) it->second = std::max(it->second, h.score);
    }
  }
  std::vector<Candidate> ranked;
  for (const auto& [chunk, score] : best) ranked.push_back({chunks[chunk].entry, chunk, "ranked", score});
  std::stable_sort(ranked.begin(), ranked.end(), [](const Candidate& a, const Candidate& b) { return a.score > b.score; });
  candidates.insert(candidates.end(), ranked.begin(), ranked.end());

  // Assemble within the budget. `covered` holds, per entry, the byte ranges of its text already
  // in the context (a whole entry covers all of it).
  const std::int64_t budget = std::max<std::int64_t>(request.budget_tokens, 0);
  std::map<std::uint32_t, std::vector<std::pair<std::size_t, std::size_t>>> covered;
  std::vector<char> included_whole(entries.size(), 0);
  int citation = 0;
  for (const Candidate& c : candidates) {
    const Entry& entry = entries[c.entry];
    std::size_t begin = 0, end = entry.text.size();
    if (c.chunk >= 0) {
      if (included_whole[c.entry]) continue;
      const Chunk& ch = chunks[static_cast<std::size_t>(c.chunk)];
      begin = ch.begin;
      end = ch.end;
      // Cut what included neighbours already hold (chunks overlap at their ends).
      auto& ranges = covered[c.entry];
      for (bool moved = true; moved && begin < end;) {
        moved = false;
        for (const auto& [b, e] : ranges) {
          if (b <= begin && begin < e) {
            begin = e;
            moved = true;
          }
          if (b < end && end <= e) {
            end = b;
            moved = true;
          }
        }
      }
      if (begin >= end) continue;  // nothing new: a duplicate, not a drop
    }
    const auto [tb, te] = trimmed(entry.text, begin, end);
    if (c.chunk >= 0 && tb == te) continue;
    Included inc;
    inc.entry = c.entry;
    inc.chunk = c.chunk;
    inc.reason = c.reason;
    inc.score = c.score;
    inc.text = entry.text.substr(tb, te - tb);
    std::string block = out.context.empty() ? "" : "\n\n";
    block += "[" + std::to_string(citation + 1) + "] " + entry.name + " (" + std::string(category_name(entry.category)) + ")\n";
    block += inc.text;
    inc.tokens = llm::estimate_tokens(block);
    if (out.tokens + inc.tokens > budget) {
      out.dropped.push_back(std::move(inc));
      continue;
    }
    inc.citation = ++citation;
    out.tokens += inc.tokens;
    out.context += block;
    if (c.chunk < 0) {
      included_whole[c.entry] = 1;
    } else {
      covered[c.entry].emplace_back(begin, end);
    }
    out.included.push_back(std::move(inc));
  }
  // Per-block estimates round up each block, so the whole is at most their sum.
  out.tokens = llm::estimate_tokens(out.context);
  return out;
}

Json query_result_to_json(const KnowledgeBase& kb, const QueryResult& result) {
  const auto& entries = kb.entries();
  const auto& chunks = kb.chunks();
  auto item = [&](const Included& inc) {
    Json j = Json::object();
    if (inc.entry >= entries.size()) return j;
    const Entry& e = entries[inc.entry];
    j["id"] = e.id;
    j["name"] = e.name;
    j["category"] = std::string(category_name(e.category));
    j["source"] = e.source;
    j["reason"] = inc.reason;
    j["score"] = std::round(inc.score * 10000) / 10000;
    j["tokens"] = inc.tokens;
    j["citation"] = inc.citation;
    if (inc.chunk >= 0 && static_cast<std::size_t>(inc.chunk) < chunks.size()) {
      j["chunk"] = chunks[static_cast<std::size_t>(inc.chunk)].ordinal;
    } else {
      j["chunk"] = nullptr;
    }
    j["text"] = detail::is_valid_utf8(inc.text) ? inc.text : detail::strict_utf8(inc.text);
    return j;
  };
  Json included = Json::array(), dropped = Json::array();
  for (const auto& inc : result.included) included.push_back(item(inc));
  for (const auto& inc : result.dropped) dropped.push_back(item(inc));
  Json out = Json::object();
  out["context"] = detail::is_valid_utf8(result.context) ? result.context : detail::strict_utf8(result.context);
  out["tokens"] = result.tokens;
  out["included"] = std::move(included);
  out["dropped"] = std::move(dropped);
  return out;
}

}  // namespace loom::knowledge
