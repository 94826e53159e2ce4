// loom/knowledge.hpp — the writer's knowledge base: reference entries (characters, places, world
// rules, style notes, research files), chunked, indexed and ranked by BM25, and the router that
// assembles a prompt's context from it under a token budget.
//
// Pure and deterministic like the rest of the engine: the host reads files (PDF, web pages,
// e-mail) into text, stores the entries and the index snapshot, and hands them in; nothing here
// does I/O. The same code runs natively (`loom kb`) and in wasm (the studio).
//
//   KnowledgeBase kb;
//   kb.put({.id = "mara", .name = "Mara Quill", .aliases = {"Mara", "the Quill girl"},
//           .category = Category::kCharacter, .inclusion = Inclusion::kWhenMentioned,
//           .text = "Mara grew up on the ferry ..."});
//   auto hits = kb.search("ferry childhood", {.k = 5});
//   std::string bytes = kb.snapshot();            // the host stores it...
//   auto again = KnowledgeBase::load(bytes);      // ...and loads it on the next page load
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "loom/agent.hpp"
#include "loom/error.hpp"
#include "loom/json.hpp"

namespace loom::knowledge {

// ---------------------------------------------------------------- text

/// Search tokens of `text`: Unicode-aware (utf8proc): NFKC and case folding, letters and digits
/// of any script; an apostrophe inside a word stays with it and is normalized to ' (’ ʼ ′), a
/// possessive 's is dropped ("Mara's" -> "mara"); a hyphenated word gives its parts and the
/// joined word ("well-known" -> "well", "known", "wellknown"); marks are kept (é stays é). No
/// stemming, no stopword removal: see analyze().
std::vector<std::string> tokenize(std::string_view text);

/// The English Snowball ("Porter2") stem of a lowercase token (libstemmer). Tokens that are not
/// Latin-script words are returned unchanged.
std::string stem(std::string_view token);

/// True for English stopwords (Snowball's list).
bool is_stopword(std::string_view token);

/// The terms the index stores for `text`: tokenize(), stopwords dropped, stemmed.
std::vector<std::string> analyze(std::string_view text);

// ---------------------------------------------------------------- entries

enum class Category { kCharacter, kLocation, kItem, kLore, kStyle, kResearch, kOther };
std::string_view category_name(Category c);  ///< "character", "location", ...
std::optional<Category> category_from_name(std::string_view name);

/// When an entry goes into a prompt (NovelCrafter's codex modes, plus ranked retrieval).
enum class Inclusion {
  kAlways,         ///< in every context (the POV character, the style guide)
  kWhenMentioned,  ///< when the text being written names it or an alias
  kByRelevance,    ///< its chunks compete on BM25 score with everything else
  kNever,          ///< kept, searchable in the panel, never put into a prompt
};
std::string_view inclusion_name(Inclusion i);  ///< "always", "when_mentioned", "by_relevance", "never"
std::optional<Inclusion> inclusion_from_name(std::string_view name);

/// A place in the story: chapter, then scene (1-based; 0 means "from the very start").
struct StoryPosition {
  int chapter = 0;
  int scene = 0;
  friend bool operator<(const StoryPosition& a, const StoryPosition& b) {
    return a.chapter != b.chapter ? a.chapter < b.chapter : a.scene < b.scene;
  }
  friend bool operator==(const StoryPosition& a, const StoryPosition& b) {
    return a.chapter == b.chapter && a.scene == b.scene;
  }
};

/// One entry: a codex entry or a whole reference file (already turned into text by the host).
struct Entry {
  std::string id;                    ///< the host's stable id; put() of the same id replaces
  std::string name;                  ///< "Mara Quill"
  std::vector<std::string> aliases;  ///< "Mara", "the Quill girl"
  Category category = Category::kOther;
  Inclusion inclusion = Inclusion::kByRelevance;
  std::optional<StoryPosition> from; ///< true only from here on (a later reveal does not leak back)
  std::string text;                  ///< the body: plain text or Markdown
  std::string source;                ///< where it came from, for citations: "notes/mara.md", a URL
};

/// A piece of an entry's text: paragraph-aware, with overlap (text::chunk rules).
struct Chunk {
  std::uint32_t entry = 0;  ///< index into the base's entries (stable until the entry is removed)
  std::uint32_t ordinal = 0;  ///< 0, 1, 2 ... within the entry
  std::string text;
};

// ---------------------------------------------------------------- the base and its index

struct IndexOptions {
  double k1 = 1.2;              ///< BM25 term-frequency saturation
  double b = 0.75;              ///< BM25 length normalization
  double name_boost = 3.0;      ///< weight of a query term found in the entry's name
  double alias_boost = 2.0;     ///< ... in an alias
  std::size_t chunk_chars = 1200;  ///< chunk size in bytes (text::ChunkOptions::max_chars)
  std::size_t chunk_overlap = 150;
};

/// Which chunks a search may return.
struct SearchFilter {
  std::vector<Category> categories;         ///< empty: all
  std::optional<StoryPosition> position;    ///< drop entries whose `from` is after it
  bool include_never = false;               ///< kNever entries (the panel's search shows them)
};

struct SearchOptions {
  std::size_t k = 10;
  SearchFilter filter;
};

/// A ranked chunk. score is BM25 over the chunk's body terms plus the entry's name and alias
/// fields weighted by their boosts (BM25F-style: per-field tf scaled by boost, one saturation).
struct Hit {
  std::uint32_t entry = 0;
  std::uint32_t chunk = 0;  ///< index into chunks()
  double score = 0;
  std::vector<std::string> matched;  ///< the query terms (analyzed) this chunk matched
};

/// A name or alias of an entry found in a text, at byte offsets [begin, end).
struct Mention {
  std::uint32_t entry = 0;
  std::size_t begin = 0;
  std::size_t end = 0;
  std::string surface;  ///< the text as written there
};

/// Entries, their chunks and an inverted index over them. Incremental: put() and remove() update
/// the postings of one entry; the collection statistics (document count, average length) are
/// kept exact. Not thread-safe; copyable.
class KnowledgeBase {
 public:
  explicit KnowledgeBase(IndexOptions options = {});

  /// Adds or replaces (same id) an entry: chunks it and indexes its chunks, name and aliases.
  /// kInvalidValue for an empty id or name.
  Status put(Entry entry);
  /// Removes an entry and its chunks; false when there was none with that id.
  bool remove(std::string_view id);

  /// The entries in the order they were first put; remove() closes the gap (later indices shift,
  /// so Hit/Mention/Chunk entry indices are valid until the next put/remove).
  const std::vector<Entry>& entries() const;
  const Entry* find(std::string_view id) const;
  const std::vector<Chunk>& chunks() const;
  std::size_t size() const;  ///< entries

  /// BM25-ranked chunks for a free-text query, best first (ties: entry, then chunk order).
  std::vector<Hit> search(std::string_view query, const SearchOptions& options = {}) const;

  /// Which entries `text` mentions by name or alias: whole-token matches after tokenize()
  /// (so "Mara's" and "MARA" mention Mara; "Maradona" does not), longest match first, in order
  /// of appearance. kNever entries are included; the router decides.
  std::vector<Mention> mentions(std::string_view text) const;

  /// A compact binary form of the whole base (entries, chunks, postings; little-endian, varint
  /// and delta coded, versioned), for the host to store so the index is not rebuilt on load.
  std::string snapshot() const;
  /// Loads a snapshot. kBadArgument for bytes that are not a snapshot or are truncated/corrupt,
  /// kInvalidValue for a snapshot of a newer format version.
  static Result<KnowledgeBase> load(std::string_view bytes);

  /// A hash of the content (entries and options): part of the knowledge agents' cache keys, so
  /// the step cache does not answer from an older base.
  std::string fingerprint() const;

  const IndexOptions& options() const;

  KnowledgeBase(const KnowledgeBase&);
  KnowledgeBase& operator=(const KnowledgeBase&);
  KnowledgeBase(KnowledgeBase&&) noexcept;
  KnowledgeBase& operator=(KnowledgeBase&&) noexcept;
  ~KnowledgeBase();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// ---------------------------------------------------------------- the router

/// What a `knowledge.query` step asks for.
struct QueryRequest {
  std::vector<std::string> queries;      ///< free-text queries (each searched; results merged)
  std::string text;                      ///< a text to detect mentions in (the outline, the scene)
  std::vector<Category> categories;      ///< empty: all
  std::optional<StoryPosition> position; ///< where in the story the writing is
  std::int64_t budget_tokens = 1500;     ///< the assembled context stays within it
  std::size_t k = 8;                     ///< ranked passages considered per query
};

/// One piece of the assembled context and why it is there.
struct Included {
  std::uint32_t entry = 0;
  std::int64_t chunk = -1;  ///< -1: the whole entry (always / mentioned); else a chunk index
  std::string reason;       ///< "always", "mentioned", "ranked"
  double score = 0;         ///< ranked only
  std::int64_t tokens = 0;  ///< estimated (4 bytes a token, as the budget of model calls)
  int citation = 0;         ///< its [n] marker in the context
};

/// The router's answer: what went in, why, and the context text with [n] citation markers.
struct QueryResult {
  std::vector<Included> included;
  std::vector<Included> dropped;  ///< what the budget left out, so the studio can show it
  std::string context;
  std::int64_t tokens = 0;
};

/// Assembles context: always-included entries first (in scope at the position), then entries
/// the text mentions, then ranked chunks (deduplicated: a chunk of an entry already whole is not
/// repeated; near-identical overlapping chunks are merged), each while the budget allows.
QueryResult query(const KnowledgeBase& kb, const QueryRequest& request);

/// The result as the agent's output JSON: {context, tokens, included: [{id, name, category,
/// source, reason, score, tokens, citation, text}], dropped: [...]}.
Json query_result_to_json(const KnowledgeBase& kb, const QueryResult& result);

/// Registers `knowledge.query` (pure) bound to `kb` into `registry` (replacing an earlier one).
/// Its version includes kb->fingerprint(), so cached steps never outlive a change of the base.
/// Without a base, a registry has a `knowledge.query` that fails with kBadArgument saying that
/// no knowledge base is loaded.
Status register_knowledge_agents(AgentRegistry& registry, std::shared_ptr<const KnowledgeBase> kb);

}  // namespace loom::knowledge
