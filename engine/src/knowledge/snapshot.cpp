// snapshot.cpp — the knowledge base's binary snapshot: written compactly, read defensively.
//
//   "LOOMKB" version:u8  body  checksum:u64le (XXH3-64 of everything before it)
//   body:    k1 b name_boost alias_boost:f64le  chunk_chars chunk_overlap:varint
//            entries:varint { id name:str  aliases:varint {str}  category inclusion:u8
//                             has_from:u8 [chapter scene:varint]  text source:str
//                             chunks:varint { begin-previous_begin end-begin:varint } }
//            terms:varint { shared-prefix:varint suffix:str   (sorted, front coded)
//                           body:varint { chunk-gap tf:varint }   (first gap from 0)
//                           fields:varint { entry-gap name_tf alias_tf:varint } }
//   str:     length:varint bytes;  varint: unsigned LEB128
//
// Derived data (chunk lengths, field lengths, extra df, totals) is recomputed on load, so the
// file holds nothing that could disagree with the rest. The reader checks every count against
// the bytes left, every id against its range and every list for order: any input gives a base or
// kBadArgument, never a crash.

#include "knowledge/snapshot.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "core/binary_io.hpp"
#include "knowledge/base_internal.hpp"
#include "loom/knowledge.hpp"

namespace loom::knowledge {
namespace {

using loom::detail::Reader;
using loom::detail::Writer;

constexpr std::string_view kMagic = "LOOMKB";
constexpr std::size_t kChecksumBytes = 8;

// Whether text[i] is inside a UTF-8 sequence (a chunk may not start or end there).
bool continuation(std::string_view text, std::uint64_t i) {
  return i < text.size() && (static_cast<unsigned char>(text[static_cast<std::size_t>(i)]) & 0xC0) == 0x80;
}

std::uint64_t checksum(std::string_view bytes) { return XXH3_64bits(bytes.data(), bytes.size()); }

Error corrupt(std::string_view what) {
  return make_error(ErrorCode::kBadArgument, "not a knowledge base snapshot, or a damaged one: " + std::string(what),
                    "rebuild the knowledge base from its entries");
}

}  // namespace

namespace detail {
std::string seal_snapshot(std::string_view body) {
  std::string out;
  out.reserve(kMagic.size() + 1 + body.size() + kChecksumBytes);
  out.append(kMagic.data(), kMagic.size());
  out.push_back(static_cast<char>(kSnapshotVersion));
  out.append(body.data(), body.size());
  const std::uint64_t sum = checksum(out);
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((sum >> (8 * i)) & 0xFF));
  return out;
}
}  // namespace detail

std::string KnowledgeBase::snapshot() const {
  const Impl& im = *impl_;
  Writer w;
  const IndexOptions& o = im.options;
  w.f64(o.k1);
  w.f64(o.b);
  w.f64(o.name_boost);
  w.f64(o.alias_boost);
  w.varint(o.chunk_chars);
  w.varint(o.chunk_overlap);
  w.varint(im.entries.size());
  for (std::size_t e = 0; e < im.entries.size(); ++e) {
    const Entry& entry = im.entries[e];
    w.str(entry.id);
    w.str(entry.name);
    w.varint(entry.aliases.size());
    for (const auto& a : entry.aliases) w.str(a);
    w.u8(static_cast<std::uint8_t>(entry.category));
    w.u8(static_cast<std::uint8_t>(entry.inclusion));
    w.u8(entry.from ? 1 : 0);
    if (entry.from) {
      w.varint(static_cast<std::uint64_t>(entry.from->chapter));
      w.varint(static_cast<std::uint64_t>(entry.from->scene));
    }
    w.str(entry.text);
    w.str(entry.source);
    const detail::EntryMeta& m = im.meta[e];
    w.varint(m.chunk_count);
    std::size_t previous = 0;
    for (std::uint32_t c = m.first_chunk; c < m.first_chunk + m.chunk_count; ++c) {
      w.varint(im.chunks[c].begin - previous);
      w.varint(im.chunks[c].end - im.chunks[c].begin);
      previous = im.chunks[c].begin;
    }
  }
  // Terms that still index something, sorted, so that equal bases give equal bytes.
  std::vector<std::pair<std::string_view, std::uint32_t>> terms;
  for (std::uint32_t id = 0; id < im.terms.size(); ++id) {
    if (!im.postings[id].empty() || im.fields.count(id)) terms.emplace_back(im.vocabulary.view(im.terms[id]), id);
  }
  std::sort(terms.begin(), terms.end());
  w.varint(terms.size());
  std::string_view previous;
  for (const auto& [term, id] : terms) {
    std::size_t shared = 0;
    while (shared < previous.size() && shared < term.size() && previous[shared] == term[shared]) ++shared;
    w.varint(shared);
    w.str(term.substr(shared));
    previous = term;
    const auto& list = im.postings[id];
    w.varint(list.size());
    std::uint32_t last = 0;
    for (const auto& p : list) {
      w.varint(p.chunk - last);
      w.varint(p.tf);
      last = p.chunk;
    }
    auto f = im.fields.find(id);
    if (f == im.fields.end()) {
      w.varint(0);
      continue;
    }
    w.varint(f->second.size());
    std::uint32_t last_entry = 0;
    for (const auto& fp : f->second) {
      w.varint(fp.entry - last_entry);
      w.varint(fp.name_tf);
      w.varint(fp.alias_tf);
      last_entry = fp.entry;
    }
  }
  return detail::seal_snapshot(w.out());
}

Result<KnowledgeBase> KnowledgeBase::load(std::string_view bytes) {
  if (bytes.size() < kMagic.size() + 1 || bytes.substr(0, kMagic.size()) != kMagic) {
    return corrupt("it does not start with LOOMKB");
  }
  const auto version = static_cast<std::uint8_t>(bytes[kMagic.size()]);
  if (version > detail::kSnapshotVersion) {
    return make_error(ErrorCode::kInvalidValue,
                      "the knowledge base snapshot has format version " + std::to_string(version) +
                          ", newer than this engine reads (" + std::to_string(detail::kSnapshotVersion) + ")",
                      "update Loom, or rebuild the knowledge base from its entries");
  }
  if (version != detail::kSnapshotVersion) return corrupt("unknown format version " + std::to_string(version));
  if (bytes.size() < kMagic.size() + 1 + kChecksumBytes) return corrupt("it is cut short");
  const std::string_view sealed = bytes.substr(0, bytes.size() - kChecksumBytes);
  std::uint64_t stored = 0;
  for (std::size_t i = 0; i < kChecksumBytes; ++i) {
    stored |= static_cast<std::uint64_t>(static_cast<unsigned char>(bytes[sealed.size() + i])) << (8 * i);
  }
  if (stored != checksum(sealed)) return corrupt("its checksum does not match (cut short or changed)");

  Reader r(sealed.substr(kMagic.size() + 1));
  IndexOptions o;
  o.k1 = r.f64();
  o.b = r.f64();
  o.name_boost = r.f64();
  o.alias_boost = r.f64();
  const std::uint64_t chunk_chars = r.varint();
  const std::uint64_t chunk_overlap = r.varint();
  if (!r.ok()) return corrupt("the options are cut short");
  if (!std::isfinite(o.k1) || o.k1 < 0 || !std::isfinite(o.b) || o.b < 0 || o.b > 1 || !std::isfinite(o.name_boost) ||
      o.name_boost < 0 || !std::isfinite(o.alias_boost) || o.alias_boost < 0 || chunk_chars == 0 ||
      chunk_chars > std::numeric_limits<std::uint32_t>::max() || chunk_overlap > std::numeric_limits<std::uint32_t>::max()) {
    return corrupt("the index options are out of range");
  }
  o.chunk_chars = static_cast<std::size_t>(chunk_chars);
  o.chunk_overlap = static_cast<std::size_t>(chunk_overlap);

  KnowledgeBase kb(o);
  Impl& im = *kb.impl_;
  const std::uint64_t n_entries = r.count();
  if (!r.ok()) return corrupt("the entry count is wrong");
  im.entries.reserve(static_cast<std::size_t>(n_entries));
  im.meta.reserve(static_cast<std::size_t>(n_entries));
  for (std::uint64_t e = 0; e < n_entries; ++e) {
    Entry entry;
    entry.id = std::string(r.str());
    entry.name = std::string(r.str());
    const std::uint64_t n_aliases = r.count();
    for (std::uint64_t a = 0; a < n_aliases && r.ok(); ++a) entry.aliases.emplace_back(r.str());
    const std::uint8_t category = r.u8(), inclusion = r.u8(), has_from = r.u8();
    if (!r.ok() || entry.id.empty() || entry.name.empty() || category > static_cast<std::uint8_t>(Category::kOther) ||
        inclusion > static_cast<std::uint8_t>(Inclusion::kNever) || has_from > 1) {
      return corrupt("entry " + std::to_string(e) + " is malformed");
    }
    entry.category = static_cast<Category>(category);
    entry.inclusion = static_cast<Inclusion>(inclusion);
    if (has_from) {
      const std::uint64_t chapter = r.varint(), scene = r.varint();
      if (chapter > static_cast<std::uint64_t>(std::numeric_limits<int>::max()) ||
          scene > static_cast<std::uint64_t>(std::numeric_limits<int>::max())) {
        return corrupt("entry " + std::to_string(e) + " has a position out of range");
      }
      entry.from = StoryPosition{static_cast<int>(chapter), static_cast<int>(scene)};
    }
    entry.text = std::string(r.str());
    entry.source = std::string(r.str());
    bool utf8 = detail::is_valid_utf8(entry.id) && detail::is_valid_utf8(entry.name) &&
                detail::is_valid_utf8(entry.text) && detail::is_valid_utf8(entry.source);
    for (const auto& a : entry.aliases) utf8 = utf8 && detail::is_valid_utf8(a);
    if (!utf8) return corrupt("entry " + std::to_string(e) + " is not valid UTF-8");
    const std::uint64_t n_chunks = r.count();
    if (!r.ok()) return corrupt("entry " + std::to_string(e) + " is cut short");
    if (im.chunks.size() + n_chunks >= detail::kStopword) return corrupt("too many chunks");
    detail::EntryMeta m;
    m.first_chunk = static_cast<std::uint32_t>(im.chunks.size());
    m.chunk_count = static_cast<std::uint32_t>(n_chunks);
    m.category = entry.category;
    m.inclusion = entry.inclusion;
    m.has_from = entry.from.has_value();
    if (entry.from) m.from = *entry.from;
    std::uint64_t previous = 0;
    for (std::uint64_t k = 0; k < n_chunks; ++k) {
      const std::uint64_t gap = r.varint(), length = r.varint();
      const std::uint64_t begin = previous + gap;
      if (!r.ok() || (k > 0 && gap == 0) || length == 0 || begin < previous || begin > entry.text.size() ||
          length > entry.text.size() - begin || continuation(entry.text, begin) ||
          continuation(entry.text, begin + length)) {
        return corrupt("entry " + std::to_string(e) + " has a chunk outside its text");
      }
      im.chunks.push_back(Chunk{static_cast<std::uint32_t>(e), static_cast<std::uint32_t>(k),
                                static_cast<std::size_t>(begin), static_cast<std::size_t>(begin + length)});
      previous = begin;
    }
    if (!im.by_id.emplace(entry.id, static_cast<std::uint32_t>(e)).second) {
      return corrupt("two entries have the id '" + entry.id + "'");
    }
    im.entries.push_back(std::move(entry));
    im.meta.push_back(m);
  }
  const std::size_t n_chunks = im.chunks.size();
  std::vector<std::uint64_t> chunk_len(n_chunks, 0);
  std::vector<std::uint64_t> name_len(im.entries.size(), 0), alias_len(im.entries.size(), 0);

  const std::uint64_t n_terms = r.count();
  if (!r.ok()) return corrupt("the term count is wrong");
  std::string previous, term;
  for (std::uint64_t t = 0; t < n_terms; ++t) {
    const std::uint64_t shared = r.varint();
    const std::string_view suffix = r.str();
    if (!r.ok() || shared > previous.size()) return corrupt("term " + std::to_string(t) + " is malformed");
    term.assign(previous, 0, static_cast<std::size_t>(shared));
    term.append(suffix.data(), suffix.size());
    if (term.empty() || (t > 0 && term <= previous)) return corrupt("the terms are not sorted and distinct");
    const std::uint32_t id = im.intern(term);
    previous = term;
    auto& list = im.postings[id];
    const std::uint64_t n_body = r.count();
    list.reserve(static_cast<std::size_t>(n_body));
    std::uint64_t chunk = 0;
    for (std::uint64_t p = 0; p < n_body; ++p) {
      const std::uint64_t gap = r.varint(), tf = r.varint();
      chunk += gap;
      if (!r.ok() || (p > 0 && gap == 0) || chunk >= n_chunks || tf == 0 || tf > std::numeric_limits<std::uint32_t>::max()) {
        return corrupt("the postings of '" + term + "' are malformed");
      }
      list.push_back(detail::Posting{static_cast<std::uint32_t>(chunk), static_cast<std::uint32_t>(tf)});
      chunk_len[chunk] += tf;
    }
    const std::uint64_t n_fields = r.count();
    if (!r.ok() || n_body + n_fields == 0) return corrupt("the term '" + term + "' indexes nothing");
    std::vector<detail::FieldPosting> fields;
    std::uint64_t entry = 0;
    for (std::uint64_t f = 0; f < n_fields; ++f) {
      const std::uint64_t gap = r.varint(), name_tf = r.varint(), alias_tf = r.varint();
      entry += gap;
      if (!r.ok() || (f > 0 && gap == 0) || entry >= im.entries.size() || name_tf + alias_tf == 0 ||
          name_tf > std::numeric_limits<std::uint32_t>::max() || alias_tf > std::numeric_limits<std::uint32_t>::max()) {
        return corrupt("the name postings of '" + term + "' are malformed");
      }
      const detail::EntryMeta& m = im.meta[static_cast<std::size_t>(entry)];
      auto lo = std::lower_bound(list.begin(), list.end(), m.first_chunk,
                                 [](const detail::Posting& x, std::uint32_t c) { return x.chunk < c; });
      auto hi = std::lower_bound(lo, list.end(), m.first_chunk + m.chunk_count,
                                 [](const detail::Posting& x, std::uint32_t c) { return x.chunk < c; });
      const auto with_body = static_cast<std::uint32_t>(hi - lo);
      fields.push_back(detail::FieldPosting{static_cast<std::uint32_t>(entry), static_cast<std::uint32_t>(name_tf),
                                            static_cast<std::uint32_t>(alias_tf), m.chunk_count - with_body});
      name_len[static_cast<std::size_t>(entry)] += name_tf;
      alias_len[static_cast<std::size_t>(entry)] += alias_tf;
    }
    if (!fields.empty()) im.fields.emplace(id, std::move(fields));
  }
  if (!r.ok() || !r.done()) return corrupt("it has bytes past its end");

  constexpr std::uint64_t kMax = std::numeric_limits<std::uint32_t>::max();
  im.chunk_len.resize(n_chunks);
  for (std::size_t c = 0; c < n_chunks; ++c) {
    if (chunk_len[c] > kMax) return corrupt("a chunk is too long");
    im.chunk_len[c] = static_cast<std::uint32_t>(chunk_len[c]);
    im.total_body += chunk_len[c];
  }
  for (std::size_t e = 0; e < im.entries.size(); ++e) {
    detail::EntryMeta& m = im.meta[e];
    if (name_len[e] > kMax || alias_len[e] > kMax) return corrupt("a name is too long");
    m.name_len = static_cast<std::uint32_t>(name_len[e]);
    m.alias_len = static_cast<std::uint32_t>(alias_len[e]);
    im.total_name += static_cast<std::uint64_t>(m.chunk_count) * m.name_len;
    im.total_alias += static_cast<std::uint64_t>(m.chunk_count) * m.alias_len;
  }
  return Result<KnowledgeBase>(std::move(kb));
}

}  // namespace loom::knowledge
