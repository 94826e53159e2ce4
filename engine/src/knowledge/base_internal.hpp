// base_internal.hpp — private: the knowledge base's data (KnowledgeBase::Impl), shared by
// base.cpp (put/remove/search/mentions) and snapshot.cpp.
//
// Layout, chosen for a small footprint and fast queries over tens of thousands of chunks:
// - chunks are grouped by entry in entry order, so an entry's chunks are one id range and every
//   posting list sorted by chunk id is also sorted by entry;
// - body postings: term id -> [(chunk, tf)] sorted by chunk; term ids come from a hash table of
//   the stemmed terms (the vocabulary), and a second table caches token -> term id so that each
//   distinct token is stemmed once;
// - name and alias postings are per entry (few terms): term id -> [(entry, name tf, alias tf,
//   extra df)], where extra df counts the entry's chunks that hold the term in no body, so that
//   n(t) = body postings + sum of extra df exactly;
// - the collection statistics are integer sums, so that a base built incrementally and one built
//   from scratch compute bit-identical scores.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "knowledge/analysis.hpp"
#include "loom/knowledge.hpp"
#include "text/text_internal.hpp"

namespace loom::knowledge::detail {

inline constexpr std::uint32_t kNoValue = 0xFFFFFFFFu;
inline constexpr std::uint32_t kStopword = 0xFFFFFFFEu;  // a token cache value

/// Whether the key.size() bytes at `stored` are `key`.
bool same(const char* stored, std::string_view key);

/// Where a key lives in a StringTable's arena.
struct KeyRef {
  std::uint32_t offset = 0;
  std::uint32_t length = 0;
};

/// An open-addressing hash table (linear probing) from strings to uint32 values. Keys are copied
/// once into one arena; no node allocations, 16 bytes a slot.
class StringTable {
 public:
  /// The hash find() and insert() use.
  static std::uint32_t hash(std::string_view key);
  /// The value of `key`, or kNoValue.
  std::uint32_t find(std::string_view key) const { return find(key, hash(key)); }
  std::uint32_t find(std::string_view key, std::uint32_t hash) const;
  /// Adds `key` (which must be absent) with `value`; returns where the key is stored.
  KeyRef insert(std::string_view key, std::uint32_t value);
  std::string_view view(KeyRef ref) const { return std::string_view(arena_).substr(ref.offset, ref.length); }
  std::size_t size() const { return count_; }
  std::size_t memory_bytes() const { return slots_.capacity() * sizeof(Slot) + arena_.capacity(); }

 private:
  struct Slot {
    std::uint32_t hash = 0;
    std::uint32_t offset = 0;
    std::uint32_t length = kNoValue;  // kNoValue: empty
    std::uint32_t value = 0;
  };
  void grow();
  std::vector<Slot> slots_;
  std::string arena_;
  std::size_t count_ = 0;
};

struct Posting {
  std::uint32_t chunk = 0;
  std::uint32_t tf = 0;
};

struct FieldPosting {
  std::uint32_t entry = 0;
  std::uint32_t name_tf = 0;
  std::uint32_t alias_tf = 0;
  std::uint32_t extra_df = 0;  // the entry's chunks whose body lacks the term
};

/// An entry analyzed by put(), before it goes into the index (kept in Impl and reused, so that
/// puts do not allocate their working lists anew).
struct Analyzed {
  std::vector<text::detail::Span> spans;
  std::vector<std::uint32_t> lens;                          // per chunk
  std::vector<std::pair<std::uint32_t, Posting>> postings;  // (term, posting with chunk = ordinal)
  std::vector<FieldPosting> fields;                         // .entry holds the term id here
  std::uint32_t name_len = 0;
  std::uint32_t alias_len = 0;
};

/// What a search needs of an entry, kept compact (the Entry itself is large and cold).
struct EntryMeta {
  std::uint32_t first_chunk = 0;
  std::uint32_t chunk_count = 0;
  std::uint32_t name_len = 0;   // analyzed terms of the name
  std::uint32_t alias_len = 0;  // ... of all aliases together
  Category category = Category::kOther;
  Inclusion inclusion = Inclusion::kByRelevance;
  bool has_from = false;
  StoryPosition from;
};

/// Names and aliases as token sequences, for mentions().
struct MentionIndex {
  struct Pattern {
    std::vector<std::string> tokens;
    std::vector<std::uint32_t> entries;  // ascending
  };
  std::vector<Pattern> patterns;
  StringTable first;                                 // first token -> index into candidates
  std::vector<std::vector<std::uint32_t>> candidates;  // pattern indices, longest first
};

}  // namespace loom::knowledge::detail

namespace loom::knowledge {

struct KnowledgeBase::Impl {
  IndexOptions options;

  // Content.
  std::vector<Entry> entries;
  std::vector<detail::EntryMeta> meta;  // parallel to entries
  std::unordered_map<std::string, std::uint32_t> by_id;
  std::vector<Chunk> chunks;
  std::vector<std::uint32_t> chunk_len;  // analyzed body terms, parallel to chunks

  // The index.
  detail::StringTable vocabulary;          // stemmed term -> term id
  std::vector<detail::KeyRef> terms;       // term id -> its text in the vocabulary
  std::vector<std::vector<detail::Posting>> postings;  // term id -> body postings
  std::unordered_map<std::uint32_t, std::vector<detail::FieldPosting>> fields;  // term id -> ...
  std::uint64_t total_body = 0;   // sum of chunk_len
  std::uint64_t total_name = 0;   // sum over chunks of their entry's name_len
  std::uint64_t total_alias = 0;  // ... alias_len

  // Speed caches, not content: normalized token -> term id or kStopword, and in front of it a
  // small direct-mapped table of recent short tokens, which stays in the CPU cache where the big
  // one does not (most tokens of a text are a few hundred frequent words).
  detail::StringTable token_terms;
  struct HotToken {
    std::uint32_t hash = 0;
    std::uint32_t value = 0;
    std::uint8_t length = 0xFF;  // 0xFF: empty
    char key[15] = {};
  };
  static constexpr std::size_t kHotTokens = 4096;
  std::vector<HotToken> hot_tokens;  // kHotTokens once a token is looked up (96 KB)

  // Scratch of put(), by term id.
  std::vector<std::uint32_t> stamp;
  std::vector<std::uint32_t> count;
  std::uint32_t clock = 0;
  detail::TokenBuffer tokens;
  std::string stem_buffer;
  detail::Analyzed analyzed;

  // Computed on demand by const methods (hence "scratch": not safe to share between threads);
  // put() and remove() reset them through changed().
  bool norms_ready = false;
  std::vector<double> body_norm;  // B_body(c)
  std::vector<double> k1_norm;    // k1 * B_body(c)
  std::vector<double> acc;        // search accumulators, all zero between searches
  std::vector<std::uint32_t> touched;
  std::shared_ptr<const detail::MentionIndex> mention_index;
  std::string fingerprint;

  void changed() {
    norms_ready = false;
    mention_index.reset();
    fingerprint.clear();
  }

  /// The term id of a stemmed term, made if new.
  std::uint32_t intern(std::string_view term);
  /// The term id of a normalized token: kStopword, kNoValue (unknown, when !create), or an id.
  std::uint32_t term_of_token(std::string_view token, bool create);
  std::uint32_t term_of_new_token(std::string_view token, bool create);  // not in token_terms
  /// Rebuilds by_id from entries.
  void reindex_ids(std::size_t from);
};

}  // namespace loom::knowledge
