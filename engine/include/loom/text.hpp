// loom/text.hpp — offline text processing behind the built-in text.* agents.
//
// Pure, deterministic functions on UTF-8 text: no I/O, no clock, no randomness. They never split
// a UTF-8 sequence. The agents in engine/src/text/agents.cpp adapt them to workflow steps.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace loom::text {

/// Options for chunk().
struct ChunkOptions {
  std::size_t max_chars = 2000;  ///< upper bound on a chunk's length in bytes (> 0)
  std::size_t overlap = 200;     ///< bytes of the previous chunk's tail repeated at the start of
                                 ///< the next (cut at a sentence or word boundary; < max_chars)
};

/// Splits text into chunks of at most max_chars bytes, keeping paragraphs (separated by blank
/// lines) whole when they fit, splitting a long paragraph at sentence boundaries, and a long
/// sentence at word boundaries (a single word longer than max_chars is cut at a UTF-8 character
/// boundary). Each chunk after the first begins with up to `overlap` bytes from the end of the
/// previous chunk. Chunks are trimmed slices of the original text (the separators inside a chunk
/// are kept as written); empty text gives no chunks.
std::vector<std::string> chunk(std::string_view text, const ChunkOptions& options = {});

/// Splits text into sentences at . ! ? … (and runs of them, with closing quotes/brackets), not
/// after titles and Latin abbreviations (Mr. Mrs. Dr. St. e.g. i.e.), initials ("J. R. R."),
/// decimal numbers or host names; "etc." and similar end a sentence only before a capital. A
/// blank line always ends a sentence; a single line break does unless the text goes on in
/// lowercase. Sentences are trimmed.
std::vector<std::string> split_sentences(std::string_view text);

/// Lowercased word tokens (letters, digits, inner apostrophes and hyphens; ASCII case folding,
/// other UTF-8 letters kept as they are; the typographic apostrophe ’ is returned as ').
std::vector<std::string> words(std::string_view text);

/// True for common English function words ("the", "and", "of", ...).
bool is_stopword(std::string_view lowercase_word);

/// Extractive summary by TextRank over sentences: at most `count` sentences, returned in their
/// original order. Deterministic: ties are broken by position. Texts with <= count sentences are
/// returned whole (as their sentences).
std::vector<std::string> summarize(std::string_view text, std::size_t count);

/// A keyword or key phrase with its score (higher is more important).
struct Keyword {
  std::string term;
  double score = 0;
};

/// Key phrases by RAKE (stopword- and punctuation-delimited candidate phrases scored by word
/// degree/frequency), best first, at most `count`, deduplicated. Deterministic.
std::vector<Keyword> keywords(std::string_view text, std::size_t count);

}  // namespace loom::text
