// base.cpp — the knowledge base: entries, chunks, the inverted index, BM25F search, fingerprint.

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "knowledge/analysis.hpp"
#include "knowledge/base_internal.hpp"
#include "loom/knowledge.hpp"
#include "loom/text.hpp"
#include "text/text_internal.hpp"

namespace loom::knowledge {

// ---------------------------------------------------------------- names

std::string_view category_name(Category c) {
  switch (c) {
    case Category::kCharacter: return "character";
    case Category::kLocation: return "location";
    case Category::kItem: return "item";
    case Category::kLore: return "lore";
    case Category::kStyle: return "style";
    case Category::kResearch: return "research";
    case Category::kOther: return "other";
  }
  return "other";
}

std::optional<Category> category_from_name(std::string_view name) {
  for (Category c : {Category::kCharacter, Category::kLocation, Category::kItem, Category::kLore,
                     Category::kStyle, Category::kResearch, Category::kOther}) {
    if (category_name(c) == name) return c;
  }
  return std::nullopt;
}

std::string_view inclusion_name(Inclusion i) {
  switch (i) {
    case Inclusion::kAlways: return "always";
    case Inclusion::kWhenMentioned: return "when_mentioned";
    case Inclusion::kByRelevance: return "by_relevance";
    case Inclusion::kNever: return "never";
  }
  return "by_relevance";
}

std::optional<Inclusion> inclusion_from_name(std::string_view name) {
  for (Inclusion i : {Inclusion::kAlways, Inclusion::kWhenMentioned, Inclusion::kByRelevance, Inclusion::kNever}) {
    if (inclusion_name(i) == name) return i;
  }
  return std::nullopt;
}

// ---------------------------------------------------------------- StringTable

namespace detail {

namespace {
// Keys are mostly short words: a plain loop beats a call to memcmp.
inline bool same_bytes(const char* stored, std::string_view key) {
  for (std::size_t i = 0; i < key.size(); ++i) {
    if (stored[i] != key[i]) return false;
  }
  return true;
}

// Keys up to 16 bytes (nearly every word) hash with two multiplications; longer ones by XXH3.
__attribute__((noinline)) std::uint32_t hash_long(std::string_view key) {
  const XXH64_hash_t h = XXH3_64bits(key.data(), key.size());
  return static_cast<std::uint32_t>(h ^ (h >> 32));
}

inline std::uint32_t hash32(std::string_view key) {
  const std::size_t n = key.size();
  if (n > 16) return hash_long(key);
  std::uint64_t a = 0, b = 0;
  std::memcpy(&a, key.data(), n < 8 ? n : 8);
  if (n > 8) std::memcpy(&b, key.data() + 8, n - 8);
  std::uint64_t h = (a ^ 0x9E3779B97F4A7C15ull) * 0xBF58476D1CE4E5B9ull;
  h ^= (b + n) * 0x94D049BB133111EBull;
  h ^= h >> 31;
  h *= 0xD6E8FEB86659FD93ull;
  return static_cast<std::uint32_t>(h >> 32);
}
}  // namespace

std::uint32_t StringTable::hash(std::string_view key) { return hash32(key); }
bool same(const char* stored, std::string_view key) { return same_bytes(stored, key); }

std::uint32_t StringTable::find(std::string_view key, std::uint32_t h) const {
  if (slots_.empty()) return kNoValue;
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t i = h & mask;; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (s.length == kNoValue) return kNoValue;
    if (s.hash == h && s.length == key.size() && same_bytes(arena_.data() + s.offset, key)) return s.value;
  }
}

KeyRef StringTable::insert(std::string_view key, std::uint32_t value) {
  if ((count_ + 1) * 2 > slots_.size()) grow();
  const std::uint32_t h = hash32(key);
  const std::size_t mask = slots_.size() - 1;
  std::size_t i = h & mask;
  while (slots_[i].length != kNoValue) i = (i + 1) & mask;
  KeyRef ref{static_cast<std::uint32_t>(arena_.size()), static_cast<std::uint32_t>(key.size())};
  arena_.append(key.data(), key.size());
  slots_[i] = Slot{h, ref.offset, ref.length, value};
  ++count_;
  return ref;
}

void StringTable::grow() {
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(old.empty() ? 64 : old.size() * 2, Slot{});
  const std::size_t mask = slots_.size() - 1;
  for (const Slot& s : old) {
    if (s.length == kNoValue) continue;
    std::size_t i = s.hash & mask;
    while (slots_[i].length != kNoValue) i = (i + 1) & mask;
    slots_[i] = s;
  }
}

}  // namespace detail

// ---------------------------------------------------------------- Impl helpers

std::uint32_t KnowledgeBase::Impl::intern(std::string_view term) {
  std::uint32_t id = vocabulary.find(term);
  if (id != detail::kNoValue) return id;
  id = static_cast<std::uint32_t>(terms.size());
  terms.push_back(vocabulary.insert(term, id));
  postings.emplace_back();
  stamp.push_back(0);
  count.push_back(0);
  return id;
}

std::uint32_t KnowledgeBase::Impl::term_of_token(std::string_view token, bool create) {
  const std::uint32_t h = detail::StringTable::hash(token);
  HotToken* hot = nullptr;
  if (token.size() <= sizeof(HotToken::key)) {
    if (hot_tokens.empty()) hot_tokens.resize(kHotTokens);
    hot = &hot_tokens[h & (kHotTokens - 1)];
    if (hot->length == token.size() && hot->hash == h && detail::same(hot->key, token)) {
      return hot->value;
    }
  }
  std::uint32_t id = token_terms.find(token, h);
  if (id == detail::kNoValue) id = term_of_new_token(token, create);
  if (hot && id != detail::kNoValue) {
    hot->hash = h;
    hot->value = id;
    hot->length = static_cast<std::uint8_t>(token.size());
    std::memcpy(hot->key, token.data(), token.size());
  }
  return id;
}

std::uint32_t KnowledgeBase::Impl::term_of_new_token(std::string_view token, bool create) {
  std::uint32_t id = detail::kNoValue;
  if (is_stopword(token)) {
    if (create) token_terms.insert(token, detail::kStopword);
    return detail::kStopword;
  }
  detail::stem_into(token, stem_buffer);
  if (!create) return vocabulary.find(stem_buffer);
  id = intern(stem_buffer);
  token_terms.insert(token, id);
  return id;
}

void KnowledgeBase::Impl::reindex_ids(std::size_t from) {
  for (std::size_t i = from; i < entries.size(); ++i) by_id[entries[i].id] = static_cast<std::uint32_t>(i);
}

namespace {

using detail::Analyzed;
using detail::EntryMeta;
using detail::FieldPosting;
using detail::Posting;

IndexOptions sanitized(IndexOptions o) {
  const IndexOptions d;
  auto finite_or = [](double v, double fallback) { return std::isfinite(v) ? v : fallback; };
  o.k1 = std::max(0.0, finite_or(o.k1, d.k1));
  o.b = std::clamp(finite_or(o.b, d.b), 0.0, 1.0);
  o.name_boost = std::max(0.0, finite_or(o.name_boost, d.name_boost));
  o.alias_boost = std::max(0.0, finite_or(o.alias_boost, d.alias_boost));
  o.chunk_chars = std::max<std::size_t>(o.chunk_chars, 1);
  return o;
}

// Counts the analyzed terms of `text` into counts (term id -> tf), returns how many there were.
std::uint32_t count_terms(KnowledgeBase::Impl& im, std::string_view text,
                          std::vector<std::pair<std::uint32_t, std::uint32_t>>& counts) {
  detail::tokenize_into(text, im.tokens);
  std::uint32_t n = 0;
  for (const auto& t : im.tokens.tokens) {
    const std::uint32_t id = im.term_of_token(im.tokens.term(t), true);
    if (id == detail::kStopword) continue;
    ++n;
    auto it = std::find_if(counts.begin(), counts.end(), [&](const auto& p) { return p.first == id; });
    if (it == counts.end()) {
      counts.emplace_back(id, 1);
    } else {
      ++it->second;
    }
  }
  return n;
}

// Analyzes `e` into im.analyzed.
void analyze_entry(KnowledgeBase::Impl& im, const Entry& e) {
  Analyzed& a = im.analyzed;
  a.lens.clear();
  a.postings.clear();
  a.fields.clear();
  a.name_len = a.alias_len = 0;
  a.spans = text::detail::chunk_spans(e.text, {im.options.chunk_chars, im.options.chunk_overlap});
  for (std::uint32_t k = 0; k < a.spans.size(); ++k) {
    const auto& span = a.spans[k];
    detail::tokenize_into(std::string_view(e.text).substr(span.begin, span.end - span.begin), im.tokens);
    // Distinct terms of the chunk with their counts, by stamping term ids with a fresh clock.
    if (++im.clock == 0) {
      std::fill(im.stamp.begin(), im.stamp.end(), 0);
      im.clock = 1;
    }
    const std::size_t first = a.postings.size();
    std::uint32_t len = 0;
    for (const auto& t : im.tokens.tokens) {
      const std::uint32_t id = im.term_of_token(im.tokens.term(t), true);
      if (id == detail::kStopword) continue;
      ++len;
      if (im.stamp[id] != im.clock) {
        im.stamp[id] = im.clock;
        im.count[id] = static_cast<std::uint32_t>(a.postings.size() - first);  // where its posting is
        a.postings.push_back({id, Posting{k, 0}});
      }
      ++a.postings[first + im.count[id]].second.tf;
    }
    a.lens.push_back(len);
  }
  std::vector<std::pair<std::uint32_t, std::uint32_t>> name_counts, alias_counts;
  a.name_len = count_terms(im, e.name, name_counts);
  for (const auto& alias : e.aliases) a.alias_len += count_terms(im, alias, alias_counts);
  for (const auto& [id, tf] : name_counts) a.fields.push_back(FieldPosting{id, tf, 0, 0});
  for (const auto& alias : alias_counts) {
    const std::uint32_t id = alias.first;
    auto it = std::find_if(a.fields.begin(), a.fields.end(), [&](const FieldPosting& f) { return f.entry == id; });
    if (it == a.fields.end()) {
      a.fields.push_back(FieldPosting{id, 0, alias.second, 0});
    } else {
      it->alias_tf = alias.second;
    }
  }
  // extra df: the chunks whose body lacks the term (a chunk counts once in n(t)).
  for (auto& f : a.fields) {
    std::uint32_t with_body = 0;
    for (const auto& p : a.postings) with_body += p.first == f.entry ? 1 : 0;
    f.extra_df = static_cast<std::uint32_t>(a.spans.size()) - with_body;
  }
}

bool entry_passes(const EntryMeta& m, const SearchFilter& f) {
  if (m.inclusion == Inclusion::kNever && !f.include_never) return false;
  if (!f.categories.empty() && std::find(f.categories.begin(), f.categories.end(), m.category) == f.categories.end()) {
    return false;
  }
  if (f.position && m.has_from && *f.position < m.from) return false;
  return true;
}

}  // namespace

// ---------------------------------------------------------------- KnowledgeBase

KnowledgeBase::KnowledgeBase(IndexOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = sanitized(options);
}

KnowledgeBase::KnowledgeBase(const KnowledgeBase& other) : impl_(std::make_unique<Impl>(*other.impl_)) {}
KnowledgeBase& KnowledgeBase::operator=(const KnowledgeBase& other) {
  if (this != &other) impl_ = std::make_unique<Impl>(*other.impl_);
  return *this;
}
KnowledgeBase::KnowledgeBase(KnowledgeBase&&) noexcept = default;
KnowledgeBase& KnowledgeBase::operator=(KnowledgeBase&&) noexcept = default;
KnowledgeBase::~KnowledgeBase() = default;

const IndexOptions& KnowledgeBase::options() const { return impl_->options; }
const std::vector<Entry>& KnowledgeBase::entries() const { return impl_->entries; }
const std::vector<Chunk>& KnowledgeBase::chunks() const { return impl_->chunks; }
std::size_t KnowledgeBase::size() const { return impl_->entries.size(); }

const Entry* KnowledgeBase::find(std::string_view id) const {
  auto it = impl_->by_id.find(std::string(id));
  return it == impl_->by_id.end() ? nullptr : &impl_->entries[it->second];
}

std::string_view KnowledgeBase::chunk_text(std::uint32_t chunk) const {
  if (chunk >= impl_->chunks.size()) return {};
  const Chunk& c = impl_->chunks[chunk];
  return std::string_view(impl_->entries[c.entry].text).substr(c.begin, c.end - c.begin);
}

namespace {

// Removes entry e and its chunks from the index; later chunk and entry ids shift down.
void remove_at(KnowledgeBase::Impl& im, std::uint32_t e) {
  const EntryMeta m = im.meta[e];
  const std::uint32_t c0 = m.first_chunk, c1 = m.first_chunk + m.chunk_count;
  for (auto& list : im.postings) {
    if (list.empty() || list.back().chunk < c0) continue;
    auto lo = std::lower_bound(list.begin(), list.end(), c0, [](const Posting& p, std::uint32_t c) { return p.chunk < c; });
    auto hi = std::lower_bound(lo, list.end(), c1, [](const Posting& p, std::uint32_t c) { return p.chunk < c; });
    lo = list.erase(lo, hi);
    for (; lo != list.end(); ++lo) lo->chunk -= m.chunk_count;
  }
  for (auto it = im.fields.begin(); it != im.fields.end();) {
    auto& list = it->second;
    list.erase(std::remove_if(list.begin(), list.end(), [&](const FieldPosting& f) { return f.entry == e; }), list.end());
    for (auto& f : list) f.entry -= f.entry > e ? 1 : 0;
    it = list.empty() ? im.fields.erase(it) : std::next(it);
  }
  for (std::uint32_t c = c0; c < c1; ++c) im.total_body -= im.chunk_len[c];
  im.total_name -= static_cast<std::uint64_t>(m.chunk_count) * m.name_len;
  im.total_alias -= static_cast<std::uint64_t>(m.chunk_count) * m.alias_len;
  im.chunks.erase(im.chunks.begin() + c0, im.chunks.begin() + c1);
  im.chunk_len.erase(im.chunk_len.begin() + c0, im.chunk_len.begin() + c1);
  for (std::size_t c = c0; c < im.chunks.size(); ++c) --im.chunks[c].entry;
  im.meta.erase(im.meta.begin() + e);
  for (std::size_t i = e; i < im.meta.size(); ++i) im.meta[i].first_chunk -= m.chunk_count;
  im.by_id.erase(im.entries[e].id);
  im.entries.erase(im.entries.begin() + e);
  im.reindex_ids(e);
}

// Inserts an analyzed entry at position e (e == size appends); later ids shift up.
void insert_at(KnowledgeBase::Impl& im, std::uint32_t e, Entry entry, Analyzed& a) {
  const bool append = e == im.entries.size();
  const auto c0 = static_cast<std::uint32_t>(append ? im.chunks.size() : im.meta[e].first_chunk);
  const auto m = static_cast<std::uint32_t>(a.spans.size());
  if (!append) {
    for (auto& list : im.postings) {
      if (list.empty() || list.back().chunk < c0) continue;
      auto lo = std::lower_bound(list.begin(), list.end(), c0, [](const Posting& p, std::uint32_t c) { return p.chunk < c; });
      for (; lo != list.end(); ++lo) lo->chunk += m;
    }
    for (auto& [term, list] : im.fields) {
      for (auto& f : list) f.entry += f.entry >= e ? 1 : 0;
    }
  }
  // Body postings: grouped by term (stable, so each group stays in chunk order).
  for (auto& p : a.postings) p.second.chunk += c0;
  if (append) {
    for (const auto& [term, posting] : a.postings) im.postings[term].push_back(posting);
  } else {
    std::stable_sort(a.postings.begin(), a.postings.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
    for (std::size_t i = 0; i < a.postings.size();) {
      std::size_t j = i;
      std::vector<Posting> block;
      while (j < a.postings.size() && a.postings[j].first == a.postings[i].first) block.push_back(a.postings[j++].second);
      auto& list = im.postings[a.postings[i].first];
      auto at = std::lower_bound(list.begin(), list.end(), c0, [](const Posting& p, std::uint32_t c) { return p.chunk < c; });
      list.insert(at, block.begin(), block.end());
      i = j;
    }
  }
  for (const auto& f : a.fields) {
    auto& list = im.fields[f.entry];
    FieldPosting fp = f;
    fp.entry = e;
    auto at = std::lower_bound(list.begin(), list.end(), e, [](const FieldPosting& x, std::uint32_t v) { return x.entry < v; });
    list.insert(at, fp);
  }
  // Chunks, lengths, statistics.
  im.chunks.insert(im.chunks.begin() + c0, m, Chunk{});
  for (std::uint32_t k = 0; k < m; ++k) im.chunks[c0 + k] = Chunk{e, k, a.spans[k].begin, a.spans[k].end};
  im.chunk_len.insert(im.chunk_len.begin() + c0, a.lens.begin(), a.lens.end());
  for (std::size_t c = c0 + m; c < im.chunks.size(); ++c) ++im.chunks[c].entry;
  for (std::uint32_t len : a.lens) im.total_body += len;
  im.total_name += static_cast<std::uint64_t>(m) * a.name_len;
  im.total_alias += static_cast<std::uint64_t>(m) * a.alias_len;
  EntryMeta meta;
  meta.first_chunk = c0;
  meta.chunk_count = m;
  meta.name_len = a.name_len;
  meta.alias_len = a.alias_len;
  meta.category = entry.category;
  meta.inclusion = entry.inclusion;
  meta.has_from = entry.from.has_value();
  if (entry.from) meta.from = *entry.from;
  im.meta.insert(im.meta.begin() + e, meta);
  for (std::size_t i = e + 1; i < im.meta.size(); ++i) im.meta[i].first_chunk += m;
  im.entries.insert(im.entries.begin() + e, std::move(entry));
  im.reindex_ids(e);
}

}  // namespace

Status KnowledgeBase::put(Entry entry) {
  if (entry.id.empty()) return make_error(ErrorCode::kInvalidValue, "a knowledge entry needs an id");
  if (entry.name.empty()) {
    return make_error(ErrorCode::kInvalidValue, "knowledge entry '" + entry.id + "' needs a name");
  }
  if (entry.from && (entry.from->chapter < 0 || entry.from->scene < 0)) {
    return make_error(ErrorCode::kInvalidValue,
                      "knowledge entry '" + entry.id + "': `from` must not be negative (chapter and scene count from 1)");
  }
  Impl& im = *impl_;
  if (im.entries.size() >= 0xFFFFFFF0u) return make_error(ErrorCode::kInvalidValue, "the knowledge base is full");
  // Everything the base gives back must be able to enter JSON.
  for (std::string* s : {&entry.id, &entry.name, &entry.text, &entry.source}) {
    if (!detail::is_valid_utf8(*s)) *s = detail::strict_utf8(*s);
  }
  for (auto& alias : entry.aliases) {
    if (!detail::is_valid_utf8(alias)) alias = detail::strict_utf8(alias);
  }
  analyze_entry(im, entry);
  auto it = im.by_id.find(entry.id);
  std::uint32_t at = static_cast<std::uint32_t>(im.entries.size());
  if (it != im.by_id.end()) {
    at = it->second;
    remove_at(im, at);
  }
  insert_at(im, at, std::move(entry), im.analyzed);
  im.changed();
  return {};
}

bool KnowledgeBase::remove(std::string_view id) {
  Impl& im = *impl_;
  auto it = im.by_id.find(std::string(id));
  if (it == im.by_id.end()) return false;
  remove_at(im, it->second);
  im.changed();
  return true;
}

// ---------------------------------------------------------------- search

namespace {

void ensure_norms(KnowledgeBase::Impl& im) {
  if (im.norms_ready) return;
  const std::size_t n = im.chunks.size();
  const double avg = n ? static_cast<double>(im.total_body) / static_cast<double>(n) : 0;
  const double b = im.options.b, k1 = im.options.k1;
  im.body_norm.resize(n);
  im.k1_norm.resize(n);
  for (std::size_t c = 0; c < n; ++c) {
    const double ratio = avg > 0 ? static_cast<double>(im.chunk_len[c]) / avg : 1.0;
    im.body_norm[c] = 1 - b + b * ratio;
    im.k1_norm[c] = k1 * im.body_norm[c];
  }
  im.acc.assign(n, 0.0);
  im.touched.clear();
  im.norms_ready = true;
}

double field_norm(const KnowledgeBase::Impl& im, std::uint64_t total, std::uint32_t len) {
  const std::size_t n = im.chunks.size();
  const double avg = n ? static_cast<double>(total) / static_cast<double>(n) : 0;
  const double ratio = avg > 0 ? static_cast<double>(len) / avg : 1.0;
  return 1 - im.options.b + im.options.b * ratio;
}

bool chunk_has_term(const KnowledgeBase::Impl& im, std::uint32_t term, std::uint32_t chunk) {
  const auto& list = im.postings[term];
  auto it = std::lower_bound(list.begin(), list.end(), chunk, [](const Posting& p, std::uint32_t c) { return p.chunk < c; });
  if (it != list.end() && it->chunk == chunk) return true;
  auto f = im.fields.find(term);
  if (f == im.fields.end()) return false;
  const std::uint32_t entry = im.chunks[chunk].entry;
  auto e = std::lower_bound(f->second.begin(), f->second.end(), entry,
                            [](const FieldPosting& x, std::uint32_t v) { return x.entry < v; });
  return e != f->second.end() && e->entry == entry;
}

}  // namespace

std::vector<Hit> KnowledgeBase::search(std::string_view query, const SearchOptions& options) const {
  Impl& im = *impl_;
  std::vector<Hit> hits;
  if (options.k == 0 || im.chunks.empty()) return hits;
  // The query's distinct known terms, in query order.
  std::vector<std::uint32_t> ids;
  detail::tokenize_into(query, im.tokens);
  for (const auto& t : im.tokens.tokens) {
    const std::uint32_t id = im.term_of_token(im.tokens.term(t), false);
    if (id == detail::kStopword || id == detail::kNoValue) continue;
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  }
  if (ids.empty()) return hits;
  ensure_norms(im);
  const double k1 = im.options.k1;
  const double n_chunks = static_cast<double>(im.chunks.size());
  std::vector<double>& acc = im.acc;
  std::vector<std::uint32_t>& touched = im.touched;
  auto add = [&](std::uint32_t c, double v) {
    if (acc[c] == 0) touched.push_back(c);
    acc[c] += v;
  };
  for (std::uint32_t id : ids) {
    const auto& list = im.postings[id];
    auto fit = im.fields.find(id);
    const std::vector<FieldPosting>* fl = fit == im.fields.end() ? nullptr : &fit->second;
    std::uint64_t df = list.size();
    if (fl) {
      for (const auto& f : *fl) df += f.extra_df;
    }
    if (df == 0) continue;
    const double dfd = static_cast<double>(df);
    const double idf = std::log(1 + (n_chunks - dfd + 0.5) / (dfd + 0.5));
    const double c = idf * (k1 + 1);
    std::size_t p = 0;
    auto body_until = [&](std::uint32_t end_chunk) {
      for (; p < list.size() && list[p].chunk < end_chunk; ++p) {
        const double tf = list[p].tf;
        add(list[p].chunk, c * tf / (tf + im.k1_norm[list[p].chunk]));
      }
    };
    if (fl) {
      for (const auto& f : *fl) {
        const EntryMeta& m = im.meta[f.entry];
        double fw = 0;
        if (f.name_tf) fw += im.options.name_boost * f.name_tf / field_norm(im, im.total_name, m.name_len);
        if (f.alias_tf) fw += im.options.alias_boost * f.alias_tf / field_norm(im, im.total_alias, m.alias_len);
        body_until(m.first_chunk);
        for (std::uint32_t ch = m.first_chunk; ch < m.first_chunk + m.chunk_count; ++ch) {
          double w = fw;
          if (p < list.size() && list[p].chunk == ch) {
            w += list[p].tf / im.body_norm[ch];
            ++p;
          }
          if (w > 0) add(ch, c * w / (k1 + w));
        }
      }
    }
    body_until(0xFFFFFFFFu);
  }
  // Top k by (score desc, chunk asc): a heap whose top is the worst kept.
  struct Cand {
    double score;
    std::uint32_t chunk;
  };
  auto better = [](const Cand& a, const Cand& b) { return a.score != b.score ? a.score > b.score : a.chunk < b.chunk; };
  std::vector<Cand> heap;
  heap.reserve(std::min<std::size_t>(options.k, touched.size()));
  for (std::uint32_t ch : touched) {
    const Cand cand{acc[ch], ch};
    acc[ch] = 0;
    if (!entry_passes(im.meta[im.chunks[ch].entry], options.filter)) continue;
    if (heap.size() < options.k) {
      heap.push_back(cand);
      std::push_heap(heap.begin(), heap.end(), better);
    } else if (better(cand, heap.front())) {
      std::pop_heap(heap.begin(), heap.end(), better);
      heap.back() = cand;
      std::push_heap(heap.begin(), heap.end(), better);
    }
  }
  touched.clear();
  std::sort(heap.begin(), heap.end(), better);
  hits.reserve(heap.size());
  for (const Cand& cand : heap) {
    Hit h;
    h.entry = im.chunks[cand.chunk].entry;
    h.chunk = cand.chunk;
    h.score = cand.score;
    for (std::uint32_t id : ids) {
      if (chunk_has_term(im, id, cand.chunk)) h.matched.emplace_back(im.vocabulary.view(im.terms[id]));
    }
    hits.push_back(std::move(h));
  }
  return hits;
}

// ---------------------------------------------------------------- fingerprint

std::string KnowledgeBase::fingerprint() const {
  Impl& im = *impl_;
  if (!im.fingerprint.empty()) return im.fingerprint;
  XXH3_state_t state;
  XXH3_128bits_reset(&state);
  auto add_u64 = [&](std::uint64_t v) {
    unsigned char b[8];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<unsigned char>(v >> (8 * i));
    XXH3_128bits_update(&state, b, 8);
  };
  auto add_f64 = [&](double v) {
    std::uint64_t bits = 0;
    std::memcpy(&bits, &v, 8);
    add_u64(bits);
  };
  auto add_str = [&](std::string_view s) {
    add_u64(s.size());
    XXH3_128bits_update(&state, s.data(), s.size());
  };
  const IndexOptions& o = im.options;
  add_f64(o.k1);
  add_f64(o.b);
  add_f64(o.name_boost);
  add_f64(o.alias_boost);
  add_u64(o.chunk_chars);
  add_u64(o.chunk_overlap);
  add_u64(im.entries.size());
  for (const Entry& e : im.entries) {
    add_str(e.id);
    add_str(e.name);
    add_u64(e.aliases.size());
    for (const auto& a : e.aliases) add_str(a);
    add_u64(static_cast<std::uint64_t>(e.category));
    add_u64(static_cast<std::uint64_t>(e.inclusion));
    add_u64(e.from ? 1 : 0);
    if (e.from) {
      add_u64(static_cast<std::uint64_t>(e.from->chapter));
      add_u64(static_cast<std::uint64_t>(e.from->scene));
    }
    add_str(e.text);
    add_str(e.source);
  }
  const XXH128_hash_t h = XXH3_128bits_digest(&state);
  static const char* const kHex = "0123456789abcdef";
  std::string out(32, '0');
  for (int i = 0; i < 16; ++i) {
    const unsigned long long word = i < 8 ? h.high64 : h.low64;
    const unsigned byte = static_cast<unsigned>((word >> ((7 - (i % 8)) * 8)) & 0xff);
    out[2 * i] = kHex[byte >> 4];
    out[2 * i + 1] = kHex[byte & 0xf];
  }
  im.fingerprint = out;
  return out;
}

}  // namespace loom::knowledge
