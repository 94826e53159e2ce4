// json.cpp — the knowledge base's JSON shapes, shared by the agent, the bindings and `loom kb`,
// so that no host re-implements a category name or a position check.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <utility>

#include "knowledge/analysis.hpp"
#include "loom/knowledge.hpp"

namespace loom::knowledge {
namespace {

Error bad(std::string message) { return make_error(ErrorCode::kBadArgument, std::move(message)); }

std::string quoted(const Json& v) { return v.dump(-1, ' ', false, Json::error_handler_t::replace).substr(0, 40); }

// A whole number field in [lo, hi] (absent or null: fallback).
Result<std::int64_t> whole(const Json& obj, const char* name, std::int64_t fallback, std::int64_t lo, std::int64_t hi) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return fallback;
  const double v = it->is_number() ? it->get<double>() : std::nan("");
  if (!std::isfinite(v) || v != std::floor(v) || v < static_cast<double>(lo) || v > static_cast<double>(hi)) {
    return bad(std::string("'") + name + "' must be a whole number from " + std::to_string(lo) + " to " +
               std::to_string(hi) + ", got " + quoted(*it));
  }
  return static_cast<std::int64_t>(v);
}

Result<double> number(const Json& obj, const char* name, double fallback) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return fallback;
  if (!it->is_number()) return bad(std::string("'") + name + "' must be a number, got " + quoted(*it));
  return it->get<double>();
}

// A string field (absent or null: empty); nullopt after setting *error for another type.
std::optional<std::string> string_field(const Json& obj, const char* name, Error* error) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return std::string();
  if (!it->is_string()) {
    *error = bad(std::string("'") + name + "' must be a string, got " + quoted(*it));
    return std::nullopt;
  }
  return it->get<std::string>();
}

template <typename Enum>
std::string names_of(std::initializer_list<Enum> all, std::string_view (*name)(Enum)) {
  std::string out;
  for (Enum e : all) out += (out.empty() ? "" : ", ") + std::string(name(e));
  return out;
}

std::string category_list() {
  return names_of({Category::kCharacter, Category::kLocation, Category::kItem, Category::kLore, Category::kStyle,
                   Category::kResearch, Category::kOther},
                  category_name);
}

std::string inclusion_list() {
  return names_of({Inclusion::kAlways, Inclusion::kWhenMentioned, Inclusion::kByRelevance, Inclusion::kNever},
                  inclusion_name);
}

Result<std::vector<Category>> categories_field(const Json& obj) {
  std::vector<Category> out;
  auto it = obj.find("categories");
  if (it == obj.end() || it->is_null()) return out;
  if (!it->is_array()) return bad("'categories' must be a list of category names (" + category_list() + ")");
  for (const auto& c : *it) {
    std::optional<Category> cat = c.is_string() ? category_from_name(c.get<std::string>()) : std::nullopt;
    if (!cat) return bad("unknown category " + quoted(c) + " in 'categories': the categories are " + category_list());
    out.push_back(*cat);
  }
  return out;
}

// {chapter, scene?} under `name`; nullopt when absent.
Result<std::optional<StoryPosition>> position_field(const Json& obj, const char* name) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return std::optional<StoryPosition>();
  const std::string what = std::string("'") + name + "'";
  if (!it->is_object()) return bad(what + " must be {chapter, scene}");
  for (auto k = it->begin(); k != it->end(); ++k) {
    if (k.key() != "chapter" && k.key() != "scene") return bad(what + " has no '" + k.key() + "' (it is {chapter, scene})");
  }
  if (!it->contains("chapter")) return bad(what + " needs a chapter");
  auto chapter = whole(*it, "chapter", 0, 0, 1000000000);
  if (!chapter) return chapter.error();
  auto scene = whole(*it, "scene", 0, 0, 1000000000);
  if (!scene) return scene.error();
  return std::optional<StoryPosition>(StoryPosition{static_cast<int>(*chapter), static_cast<int>(*scene)});
}

Json position_json(const StoryPosition& p) { return Json{{"chapter", p.chapter}, {"scene", p.scene}}; }

// JSON strings must be valid UTF-8; the base only holds such, but a caller's text may not.
std::string json_safe(std::string_view s) { return detail::is_valid_utf8(s) ? std::string(s) : detail::strict_utf8(s); }

double rounded(double score) { return std::round(score * 10000) / 10000; }

}  // namespace

Result<Entry> entry_from_json(const Json& j) {
  if (!j.is_object()) return bad("a knowledge entry must be an object {id, name, ...}");
  Entry e;
  Error error;
  auto id = string_field(j, "id", &error);
  auto name = string_field(j, "name", &error);
  auto text = string_field(j, "text", &error);
  auto source = string_field(j, "source", &error);
  if (!id || !name || !text || !source) return error;
  if (id->empty()) return bad("a knowledge entry needs an 'id'");
  if (name->empty()) return bad("knowledge entry '" + *id + "' needs a 'name'");
  e.id = std::move(*id);
  e.name = std::move(*name);
  e.text = std::move(*text);
  e.source = std::move(*source);
  if (auto it = j.find("aliases"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) return bad("'aliases' must be a list of strings");
    for (const auto& a : *it) {
      if (!a.is_string()) return bad("'aliases' must be a list of strings, got " + quoted(a));
      e.aliases.push_back(a.get<std::string>());
    }
  }
  if (auto it = j.find("category"); it != j.end() && !it->is_null()) {
    auto c = it->is_string() ? category_from_name(it->get<std::string>()) : std::nullopt;
    if (!c) return bad("unknown category " + quoted(*it) + ": the categories are " + category_list());
    e.category = *c;
  }
  if (auto it = j.find("inclusion"); it != j.end() && !it->is_null()) {
    auto i = it->is_string() ? inclusion_from_name(it->get<std::string>()) : std::nullopt;
    if (!i) return bad("unknown inclusion " + quoted(*it) + ": the inclusions are " + inclusion_list());
    e.inclusion = *i;
  }
  auto from = position_field(j, "from");
  if (!from) return from.error();
  e.from = *from;
  for (auto it = j.begin(); it != j.end(); ++it) {
    static const char* const kKeys[] = {"id", "name", "aliases", "category", "inclusion", "from", "text", "source"};
    bool known = false;
    for (const char* k : kKeys) known = known || it.key() == k;
    if (!known) return bad("a knowledge entry has no '" + it.key() + "' (it has id, name, aliases, category, inclusion, from, text, source)");
  }
  return e;
}

Json entry_to_json(const Entry& e) {
  Json j = Json::object();
  j["id"] = json_safe(e.id);
  j["name"] = json_safe(e.name);
  Json aliases = Json::array();
  for (const auto& a : e.aliases) aliases.push_back(json_safe(a));
  j["aliases"] = std::move(aliases);
  j["category"] = std::string(category_name(e.category));
  j["inclusion"] = std::string(inclusion_name(e.inclusion));
  if (e.from) j["from"] = position_json(*e.from);
  j["text"] = json_safe(e.text);
  j["source"] = json_safe(e.source);
  return j;
}

Result<IndexOptions> index_options_from_json(const Json& j) {
  IndexOptions o;
  if (j.is_null()) return o;
  if (!j.is_object()) return bad("the index options must be an object");
  for (auto it = j.begin(); it != j.end(); ++it) {
    static const char* const kKeys[] = {"k1", "b", "name_boost", "alias_boost", "chunk_chars", "chunk_overlap"};
    bool known = false;
    for (const char* k : kKeys) known = known || it.key() == k;
    if (!known) return bad("the index options have no '" + it.key() + "' (they are k1, b, name_boost, alias_boost, chunk_chars, chunk_overlap)");
  }
  auto k1 = number(j, "k1", o.k1);
  auto b = number(j, "b", o.b);
  auto name_boost = number(j, "name_boost", o.name_boost);
  auto alias_boost = number(j, "alias_boost", o.alias_boost);
  for (const auto* r : {&k1, &b, &name_boost, &alias_boost}) {
    if (!*r) return r->error();
  }
  if (*k1 < 0 || *b < 0 || *b > 1 || *name_boost < 0 || *alias_boost < 0) {
    return bad("the index options are out of range (k1 >= 0, 0 <= b <= 1, boosts >= 0)");
  }
  auto chunk_chars = whole(j, "chunk_chars", static_cast<std::int64_t>(o.chunk_chars), 50, 10000000);
  if (!chunk_chars) return chunk_chars.error();
  auto overlap = whole(j, "chunk_overlap", std::min<std::int64_t>(static_cast<std::int64_t>(o.chunk_overlap), *chunk_chars - 1),
                       0, *chunk_chars - 1);
  if (!overlap) return overlap.error();
  o.k1 = *k1;
  o.b = *b;
  o.name_boost = *name_boost;
  o.alias_boost = *alias_boost;
  o.chunk_chars = static_cast<std::size_t>(*chunk_chars);
  o.chunk_overlap = static_cast<std::size_t>(*overlap);
  return o;
}

Json index_options_to_json(const IndexOptions& o) {
  return Json{{"k1", o.k1},
              {"b", o.b},
              {"name_boost", o.name_boost},
              {"alias_boost", o.alias_boost},
              {"chunk_chars", o.chunk_chars},
              {"chunk_overlap", o.chunk_overlap}};
}

Result<SearchOptions> search_options_from_json(const Json& j) {
  SearchOptions o;
  if (j.is_null()) return o;
  if (!j.is_object()) return bad("the search options must be an object {k, categories, position, include_never}");
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() != "k" && it.key() != "categories" && it.key() != "position" && it.key() != "include_never") {
      return bad("the search options have no '" + it.key() + "' (they are k, categories, position, include_never)");
    }
  }
  auto k = whole(j, "k", static_cast<std::int64_t>(o.k), 0, 100000);
  if (!k) return k.error();
  o.k = static_cast<std::size_t>(*k);
  auto categories = categories_field(j);
  if (!categories) return categories.error();
  o.filter.categories = std::move(*categories);
  auto position = position_field(j, "position");
  if (!position) return position.error();
  o.filter.position = *position;
  if (auto it = j.find("include_never"); it != j.end() && !it->is_null()) {
    if (!it->is_boolean()) return bad("'include_never' must be true or false");
    o.filter.include_never = it->get<bool>();
  }
  return o;
}

Json hits_to_json(const KnowledgeBase& kb, const std::vector<Hit>& hits, bool with_text) {
  Json out = Json::array();
  for (const Hit& h : hits) {
    if (h.entry >= kb.entries().size() || h.chunk >= kb.chunks().size()) continue;
    const Entry& e = kb.entries()[h.entry];
    Json j{{"id", e.id},
           {"name", e.name},
           {"category", std::string(category_name(e.category))},
           {"source", e.source},
           {"chunk", kb.chunks()[h.chunk].ordinal},
           {"score", rounded(h.score)},
           {"matched", h.matched}};
    if (with_text) j["text"] = std::string(kb.chunk_text(h.chunk));
    out.push_back(std::move(j));
  }
  return out;
}

Json mentions_to_json(const KnowledgeBase& kb, std::string_view text, const std::vector<Mention>& mentions) {
  // JavaScript indexes strings in UTF-16 code units: count them up to each offset, in one pass
  // (mentions come in order of appearance). An invalid byte counts as one unit, as U+FFFD would.
  std::size_t byte = 0, units = 0;
  auto units_at = [&](std::size_t target) {
    if (target < byte) byte = units = 0;
    while (byte < target && byte < text.size()) {
      const auto c = static_cast<unsigned char>(text[byte]);
      const std::size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
      units += len == 4 ? 2 : 1;
      byte += len;
    }
    return units;
  };
  Json out = Json::array();
  for (const Mention& m : mentions) {
    if (m.entry >= kb.entries().size()) continue;
    const Entry& e = kb.entries()[m.entry];
    const std::size_t begin = units_at(m.begin), end = units_at(m.end);
    out.push_back(Json{{"id", e.id},
                       {"name", e.name},
                       {"begin", begin},
                       {"end", end},
                       {"byte_begin", m.begin},
                       {"byte_end", m.end},
                       {"surface", json_safe(m.surface)}});
  }
  return out;
}

Result<QueryRequest> query_request_from_json(const Json& args) {
  QueryRequest r;
  if (!args.is_object()) return bad("the arguments of knowledge.query must be an object");
  if (auto it = args.find("queries"); it != args.end() && !it->is_null()) {
    if (!it->is_array()) return bad("'queries' must be a list of strings");
    for (const auto& q : *it) {
      if (!q.is_string()) return bad("'queries' must be a list of strings, got " + quoted(q));
      r.queries.push_back(q.get<std::string>());
    }
  }
  Error error;
  auto text = string_field(args, "text", &error);
  if (!text) return error;
  r.text = std::move(*text);
  auto categories = categories_field(args);
  if (!categories) return categories.error();
  r.categories = std::move(*categories);
  auto position = position_field(args, "position");
  if (!position) return position.error();
  r.position = *position;
  auto budget = whole(args, "budget_tokens", r.budget_tokens, 0, 100000000);
  if (!budget) return budget.error();
  r.budget_tokens = *budget;
  auto k = whole(args, "k", static_cast<std::int64_t>(r.k), 1, 1000);
  if (!k) return k.error();
  r.k = static_cast<std::size_t>(*k);
  return r;
}

}  // namespace loom::knowledge
