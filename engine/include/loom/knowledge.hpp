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
//
// Refinements of the first draft of this contract (issue 5), each documented where it applies:
// - tokenize(): invalid UTF-8 bytes are skipped as separators; ideographs and hiragana are one
//   token each; tokens longer than 128 bytes are dropped; the soft hyphen and zero-width joiners
//   vanish inside a word.
// - Chunk holds byte offsets into its entry's text instead of a copy (chunk_text() gives the
//   text): a base of 20 MB of references would otherwise keep every byte twice.
// - The ranking formula is spelled out (BM25F over chunks, Lucene's idf, (k1 + 1) numerator);
//   distinct query terms count once.
// - search() and mentions() use scratch space kept in the base: even const calls must not run
//   concurrently on one base.
// - put() also refuses a negative `from` (kInvalidValue), and stores invalid UTF-8 with U+FFFD
//   in its place (every string the base gives back can go into JSON); out-of-range IndexOptions
//   are clamped.
// - Included carries the text it placed in the context.
// - Snapshots end with an XXH3-64 checksum, so a flipped byte is kBadArgument, not a quietly
//   wrong index.
// - The router's token estimate is llm::estimate_tokens (4 code points a token), the very one
//   the model-call budget uses; an always-included entry that does not fit is dropped whole;
//   kWhenMentioned entries come in whole only when mentioned, but their chunks may still rank.
// - query_result_to_json adds `chunk` (the chunk's ordinal in its entry, null for a whole
//   entry) and rounds scores to 4 decimals (event logs stay stable across platforms).
// - AgentRegistry::set (loom/agent.hpp) is how register_knowledge_agents replaces the agent.
// - JSON shapes (entry_from_json, search_options_from_json, hits_to_json, ...) for the bindings
//   and `loom kb`, so that the wasm bindings stay declarations.
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

/// Search tokens of `text`: Unicode-aware (utf8proc): NFKC and case folding (so "ß" -> "ss",
/// "ﬁ" -> "fi", fullwidth "ＡＢ" -> "ab"), letters, marks and digits of any script; an apostrophe
/// inside a word stays with it and is normalized to ' (’ ʼ ′ ＇), a possessive 's is dropped
/// ("Mara's" -> "mara"); a hyphenated word gives its parts and the joined word ("well-known" ->
/// "well", "known", "wellknown"); marks are kept (é stays é). Ideographs (CJK) and hiragana are
/// one token each, as in Lucene's StandardTokenizer. Punctuation, symbols and emoji separate
/// tokens and are dropped; so is every byte of invalid UTF-8 (skipped, never replaced), so the
/// tokens are always valid UTF-8 and never split a sequence. Soft hyphens and zero-width
/// (non-)joiners inside a word vanish; a token longer than 128 bytes (a hash, base64) is dropped.
/// No stemming, no stopword removal: see analyze(). Never fails.
std::vector<std::string> tokenize(std::string_view text);

/// The English Snowball ("Porter2") stem of a lowercase token (libstemmer): "running" -> "run",
/// "generously" -> "generous". Tokens that are not Latin-script words (any digit, another
/// script) are returned unchanged. Never fails.
std::string stem(std::string_view token);

/// True for English stopwords (Snowball's list, as tokenize() spells them: lowercase, ').
bool is_stopword(std::string_view token);

/// The terms the index stores for `text`: tokenize(), stopwords dropped, stemmed
/// ("Mara's running" -> "mara", "run").
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

/// A place in the story: chapter, then scene (1-based; 0 means "from the very start" of the book
/// or of the chapter). Negative values are refused by put() and the agent.
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
  std::optional<StoryPosition> from; ///< true only from here on (a later reveal does not leak back):
                                     ///< in scope at a position p when from <= p
  std::string text;                  ///< the body: plain text or Markdown
  std::string source;                ///< where it came from, for citations: "notes/mara.md", a URL
};

/// A piece of an entry's text: paragraph-aware, with overlap (text::chunk rules, the same code).
/// It holds offsets, not a copy: KnowledgeBase::chunk_text() gives its text.
struct Chunk {
  std::uint32_t entry = 0;    ///< index into the base's entries (valid until the next put/remove)
  std::uint32_t ordinal = 0;  ///< 0, 1, 2 ... within the entry
  std::size_t begin = 0;      ///< byte offsets into the entry's text: [begin, end)
  std::size_t end = 0;
};

// ---------------------------------------------------------------- the base and its index

/// The index's parameters; part of the fingerprint and the snapshot. Out-of-range values are
/// clamped by the constructor (k1 < 0 -> 0, b into 0..1, a NaN -> the default, chunk_chars 0 -> 1).
struct IndexOptions {
  double k1 = 1.2;              ///< BM25 term-frequency saturation (>= 0)
  double b = 0.75;              ///< BM25 length normalization (0..1), the same for every field
  double name_boost = 3.0;      ///< weight of a query term found in the entry's name
  double alias_boost = 2.0;     ///< ... in an alias
  std::size_t chunk_chars = 1200;  ///< chunk size in bytes (text::ChunkOptions::max_chars)
  std::size_t chunk_overlap = 150;
};

/// Which chunks a search may return.
struct SearchFilter {
  std::vector<Category> categories;         ///< empty: all
  std::optional<StoryPosition> position;    ///< drop entries whose `from` is after it (none: keep all)
  bool include_never = false;               ///< kNever entries (the panel's search shows them)
};

struct SearchOptions {
  std::size_t k = 10;
  SearchFilter filter;
};

/// A ranked chunk. The score is BM25F (Robertson & Zaragoza's simple BM25F) where each chunk is a
/// document with three fields: its body, its entry's name and its entry's aliases (all of them
/// as one field). For a query with distinct analyzed terms t (repeats count once):
///
///   score(c) = sum over t of  idf(t) * (k1 + 1) * w / (k1 + w)
///   w        = tf_body / B_body(c) + name_boost * tf_name / B_name(c) + alias_boost * tf_alias / B_alias(c)
///   B_f(c)   = 1 - b + b * len_f(c) / avglen_f        (a field with tf 0 adds nothing)
///   idf(t)   = ln(1 + (N - n(t) + 0.5) / (n(t) + 0.5))   (Lucene's: never negative)
///
/// N is the number of chunks, n(t) the chunks with t in any field, len_f the field's analyzed
/// terms and avglen_f its mean over all chunks. With no name or alias match this is classic BM25
/// with Robertson's (k1 + 1) numerator, which ranks as Lucene's BM25 does.
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

  /// Adds or replaces (same id; it keeps its place in entries()) an entry: chunks it and indexes
  /// its chunks, name and aliases. An entry with empty text has no chunks: it can be mentioned
  /// and included whole, never ranked. Invalid UTF-8 in any of its strings is stored as U+FFFD.
  /// kInvalidValue for an empty id or name or a negative `from` (the base is unchanged).
  Status put(Entry entry);
  /// Removes an entry and its chunks; false when there was none with that id.
  bool remove(std::string_view id);

  /// The entries in the order they were first put; remove() closes the gap (later indices shift,
  /// so Hit/Mention/Chunk entry indices are valid until the next put/remove).
  const std::vector<Entry>& entries() const;
  const Entry* find(std::string_view id) const;
  /// Every chunk, grouped by entry in the order of entries(), each entry's in ordinal order.
  const std::vector<Chunk>& chunks() const;
  /// The text of chunks()[chunk]; empty for an index out of range.
  std::string_view chunk_text(std::uint32_t chunk) const;
  std::size_t size() const;  ///< entries

  /// BM25F-ranked chunks for a free-text query (analyze()d), at most options.k, best first (ties:
  /// entry, then chunk order); only chunks with a score above 0 (matching some term). Empty for
  /// an empty base or a query of stopwords only. Never fails.
  std::vector<Hit> search(std::string_view query, const SearchOptions& options = {}) const;

  /// Which entries `text` mentions by name or alias: whole-token matches after tokenize()
  /// (so "Mara's" and "MARA" mention Mara; "Maradona" does not), longest match first ("Mara
  /// Quill" is one mention, not also "Mara"), in order of appearance. The tokens of a name match
  /// across spaces or one hyphen only, not across punctuation. The surface is
  /// text.substr(begin, end - begin), without a possessive 's. A name or alias shared by several
  /// entries gives one mention for each (same offsets, in entry order). kNever entries are
  /// included; the router decides. Never fails.
  std::vector<Mention> mentions(std::string_view text) const;

  /// A compact binary form of the whole base (entries, chunks, postings; little-endian, varint
  /// and delta coded, versioned), for the host to store so the index is not rebuilt on load:
  /// "LOOMKB" and a version byte (1), the body, then the XXH3-64 of everything before it.
  /// Deterministic: equal bases give equal bytes. Never fails.
  std::string snapshot() const;
  /// Loads a snapshot. kBadArgument for bytes that are not a snapshot or are truncated/corrupt
  /// (any changed byte fails the checksum; a body that does not hold together fails its checks),
  /// kInvalidValue for a snapshot of a newer format version.
  static Result<KnowledgeBase> load(std::string_view bytes);

  /// A hash of the content (entries in order and options; 32 hex digits): part of the knowledge
  /// agents' versions, so a step cache keyed on them does not answer from an older base.
  std::string fingerprint() const;

  const IndexOptions& options() const;

  KnowledgeBase(const KnowledgeBase&);
  KnowledgeBase& operator=(const KnowledgeBase&);
  KnowledgeBase(KnowledgeBase&&) noexcept;
  KnowledgeBase& operator=(KnowledgeBase&&) noexcept;
  ~KnowledgeBase();

  struct Impl;  ///< opaque: defined and used only inside engine/src/knowledge

 private:
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
  double score = 0;         ///< ranked only (the best over the queries that found it)
  std::int64_t tokens = 0;  ///< llm::estimate_tokens of the bytes it adds to the context (its
                            ///< block and the blank line before it), as the model-call budget counts
  int citation = 0;         ///< its [n] marker in the context; 0 when dropped
  std::string text;         ///< the text placed in the context (a ranked chunk without the part
                            ///< an included neighbour already holds)
};

/// The router's answer: what went in, why, and the context text with [n] citation markers.
struct QueryResult {
  std::vector<Included> included;
  std::vector<Included> dropped;  ///< what the budget left out, so the studio can show it
  std::string context;
  std::int64_t tokens = 0;
};

/// Assembles context: kAlways entries first (in entries() order), then the kWhenMentioned
/// entries the text mentions (in order of first mention), then ranked chunks (best first, over
/// every query: each query's top k, a chunk found twice keeps its best score). Every part passes
/// the categories and the position (an entry whose `from` is after it is out); kNever entries
/// never come in. Deduplicated: no chunk of an entry already included whole; a chunk overlapping
/// an included chunk of the same entry brings only its new part, or nothing. Each part goes in
/// while the budget allows, else into `dropped` (a later, smaller part may still fit). The
/// context is the blocks "[n] Name (category)\n<text>" joined by blank lines; n counts
/// `included` from 1 and tokens (<= budget_tokens) is llm::estimate_tokens(context). An empty
/// base, or nothing found, gives an empty context. Never fails.
QueryResult query(const KnowledgeBase& kb, const QueryRequest& request);

/// The result as the agent's output JSON: {context, tokens, included: [{id, name, category,
/// source, reason, score, tokens, citation, chunk, text}], dropped: [...]}; chunk is the
/// chunk's ordinal within its entry (null for a whole entry); score is rounded to 4 decimals.
Json query_result_to_json(const KnowledgeBase& kb, const QueryResult& result);

// ---------------------------------------------------------------- JSON shapes
// For hosts and bindings (the studio's panel, `loom kb`) and the agent, so that none of them
// re-implements a category name or a position check. Every *_from_json returns kBadArgument
// naming the first wrong field; an unknown key is an error too.

/// {id, name, aliases?: [string], category?: name ("other"), inclusion?: name ("by_relevance"),
/// from?: {chapter, scene?}, text?, source?}. An unknown category or inclusion names the valid ones.
Result<Entry> entry_from_json(const Json& j);
/// The entry in the shape entry_from_json reads (`from` only when set).
Json entry_to_json(const Entry& e);

/// {k1?, b?, name_boost?, alias_boost?, chunk_chars? (50..10^7), chunk_overlap? (< chunk_chars)};
/// null gives the defaults. Out-of-range values are errors here, not clamped.
Result<IndexOptions> index_options_from_json(const Json& j);
Json index_options_to_json(const IndexOptions& o);

/// {k? (0..100000), categories?: [name], position?: {chapter, scene?}, include_never?: bool}; null
/// gives the defaults.
Result<SearchOptions> search_options_from_json(const Json& j);
/// [{id, name, category, source, chunk (ordinal in its entry), score (4 decimals), matched, text}].
/// Without `with_text` the chunks' texts are left out (a caller that only ranks, such as a
/// benchmark or a list of ids, need not copy kilobytes per hit across the wasm boundary).
Json hits_to_json(const KnowledgeBase& kb, const std::vector<Hit>& hits, bool with_text = true);
/// [{id, name, begin, end, byte_begin, byte_end, surface}] for mentions of `text`: begin/end count
/// UTF-16 code units (JavaScript string indices), byte_begin/byte_end UTF-8 bytes.
Json mentions_to_json(const KnowledgeBase& kb, std::string_view text, const std::vector<Mention>& mentions);

/// The request in a `knowledge.query` step's arguments (described at register_knowledge_agents).
Result<QueryRequest> query_request_from_json(const Json& args);

/// Registers `knowledge.query` (pure) bound to `kb` into `registry` (replacing an earlier one,
/// with AgentRegistry::set). Its version is "1+" and kb->fingerprint(), so anything keyed on the
/// agent's version never outlives a change of the base (the run caches effects, not pure steps:
/// there the context, part of a later step's arguments, changes that step's cache key). With a null `kb` (as AgentRegistry::with_builtins()
/// does) the agent fails with kBadArgument: "no knowledge base is loaded: add references in the
/// studio's Knowledge panel or pass --kb".
///
/// The agent's `with`: queries (list of strings), text (string: where mentions are looked for),
/// categories (list of category names), position ({chapter, scene}), budget_tokens (whole
/// number >= 0, default 1500), k (whole number 1..1000, default 8); all optional. A wrong type
/// or value is kBadArgument naming the parameter; an unknown category names the valid ones.
/// Output: query_result_to_json. Returns the status of registering (kInvalidValue never happens
/// for this fixed name).
Status register_knowledge_agents(AgentRegistry& registry, std::shared_ptr<const KnowledgeBase> kb);

}  // namespace loom::knowledge
