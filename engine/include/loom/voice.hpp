// loom/voice.hpp — voice scoring: does this passage still sound like Mara, or like the author's own
// pages? A number from 0 to 100, how sure it is, and the reasons in plain words.
//
//   auto bg = voice::Background::load(bytes);                  // shipped beside the wasm
//   auto mara = voice::Profile::build("Mara", mara_lines, *bg); // from her dialogue
//   voice::Score s = voice::score(*mara, candidate);            // 0..100, confidence, evidence
//
// How a score is made (docs/voice.md says it for writers):
// - Two models of the voice, each against the background (the "everyone else" a voice is
//   measured against: the Brown corpus, 500 samples of American prose): a character n-gram model
//   (how the voice spells, punctuates and strings letters together: the references' byte 3-, 4-
//   and 5-grams smoothed toward the background's Witten-Bell model) and a word model (which words
//   it reaches for). Each gives the mean log-likelihood ratio of the candidate under the profile
//   against under the background; the score uses characters + 0.3 x words.
// - Calibration on the background's own voices (impostors), once, when the background is built:
//   120 of its writers get a profile from three passages and are measured against a fifth
//   passage of their own and of three other writers. 50 is the unrelated pairs' mean, 90 the
//   same-writer pairs' mean; above, the score approaches 100; below 50 it is 100 x the normal CDF
//   of the value standardized by the unrelated pairs' spread. One calibration for every profile
//   keeps scores of one candidate against different profiles comparable (bench/voice/README.md
//   has the per-profile variants that were tried and lost).
// - With a cast (other voices' profiles) the standardized value is relative to them: minus half
//   their mean and half their highest (see score()).
// - The style features (Features) do not enter the number: they are the evidence, the 3-5 on
//   which the candidate is farthest from the voice, and the profile's chart.
//
// Refinements of the first draft of this contract, where the implementation taught otherwise:
// - Background::build takes voices (passages grouped by writer), which the calibration needs.
// - Profiles hold their background and keep their references; to_json/from_json carry only the
//   references (the statistics are rebuilt, in about a millisecond).
// - score() and rank() take no background argument (the profile has it).

// Pure and deterministic like the rest of the engine: the same background, references and
// candidate give the same score on every run; natively and in wasm the raw values agree to about
// 1e-13 (the two C libraries' exp and log differ in the last bit) and the JSON outputs, rounded to
// 0.01, are the same. Errors are values (loom/error.hpp).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "loom/agent.hpp"
#include "loom/error.hpp"
#include "loom/json.hpp"

namespace loom::voice {

// ---------------------------------------------------------------- style features

/// Measurements of one text that a writer can read; every rate is per 1,000 words so texts of
/// different lengths compare. Words and sentences are loom::text's (words(), split_sentences());
/// the models' word tokens are knowledge::tokenize()'s.
struct Features {
  std::int64_t words = 0;
  std::int64_t sentences = 0;
  double sentence_length = 0;     ///< mean words per sentence
  double sentence_spread = 0;     ///< standard deviation of words per sentence
  double word_length = 0;         ///< mean characters per word
  double contractions = 0;        ///< don't, I'm, she'd, o'er ... per 1,000 words
  double dialogue_share = 0;      ///< fraction of the words inside quotation marks (0..1)
  double vocabulary = 0;          ///< moving-average type-token ratio over 50-word windows (MATTR)
  double first_person = 0;        ///< I, me, my, we, us, our ... per 1,000 words
  double second_person = 0;       ///< you, your, thou, thee, thy, ye ... per 1,000 words
  double ly_adverbs = 0;          ///< words ending in -ly of four letters or more per 1,000 words
  double commas = 0;              ///< per 1,000 words, as the rest of the marks
  double semicolons = 0;
  double colons = 0;
  double dashes = 0;              ///< — – and -- (a hyphen inside a word is not a dash)
  double ellipses = 0;            ///< … and ...
  double exclamations = 0;
  double questions = 0;
  double parentheses = 0;
};

/// The features of `text`. Never fails; an empty text gives zeros.
Features measure(std::string_view text);

/// One feature of Features by name, for charts and evidence.
struct FeatureInfo {
  const char* id;     ///< "sentence_length"
  const char* label;  ///< "sentence length"
  const char* unit;   ///< "words per sentence"
  double Features::*field;
};
/// Every style feature, in the order charts show them.
const std::vector<FeatureInfo>& feature_table();

// ---------------------------------------------------------------- the background

/// The background: n-gram and word statistics of many voices, the spread of each style feature
/// over passages, and impostor passages for calibration. Immutable and cheap to copy (shared).
class Background {
 public:
  /// From many voices, each a list of passages of about 250 words by one writer (the Brown
  /// corpus: 500 samples of 2,000 words, 8 passages each). Voices with five passages or more
  /// calibrate the score. kInvalidValue with fewer than 20 passages or 20,000 words in all, or
  /// when no voice is closer to itself than to the others.
  static Result<Background> build(const std::vector<std::vector<std::string>>& voices);
  /// A snapshot from snapshot(): kBadArgument for bytes that are not one (or a damaged one).
  static Result<Background> load(std::string_view bytes);
  /// "LOOMVB", a version byte, the body, an XXH3-64 checksum: the same background, the same bytes.
  std::string snapshot() const;
  /// 16 hex digits identifying the statistics (the snapshot's checksum): part of agent versions.
  std::string fingerprint() const;
  std::size_t passages() const;  ///< how many passages it was built from
  std::int64_t words() const;

  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  explicit Background(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
  friend class Profile;
};

// ---------------------------------------------------------------- profiles

/// One style feature of a profile next to the background: for the studio's chart.
struct FeatureReading {
  std::string id, label, unit;
  double value = 0;            ///< the profile's
  double background_mean = 0;  ///< the background passages' mean
  double z = 0;                ///< (value - mean) / the background passages' standard deviation
};

/// A voice: the references (a character's lines, an author's pages), their statistics and their
/// calibration against the background's impostors.
class Profile {
 public:
  /// kInvalidValue when the references hold fewer than 100 words in all (too little to be a
  /// voice), or the name is empty.
  static Result<Profile> build(std::string name, std::vector<std::string> references, const Background& background);

  const std::string& name() const;
  const std::vector<std::string>& references() const;
  std::int64_t words() const;            ///< words in the references
  const Features& features() const;      ///< of the references taken together
  std::vector<FeatureReading> readings() const;
  /// The words the voice uses far more than the background does (at least 3 times in the
  /// references), most distinctive first: for the chart and evidence.
  std::vector<std::pair<std::string, double>> signature_words(std::size_t k = 12) const;

  /// {"format": "loom.voice.profile/1", name, references, words, features (readings),
  ///  signature_words, background (its fingerprint)} — what voice.profile outputs and voice.score
  /// reads back (from_json rebuilds from the references: the statistics are never trusted from
  /// outside, and a profile follows a change of the background).
  Json to_json() const;
  /// kBadArgument naming the field when `j` is not such an object.
  static Result<Profile> from_json(const Json& j, const Background& background);

  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  explicit Profile(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

// ---------------------------------------------------------------- scores

/// One plain-words reason: "sentences 40% longer than Mara's (24 words against 17)", "no
/// contractions; Mara uses one every 30 words". `z` is how far the candidate is on that feature,
/// in standard deviations expected between two passages of one voice at these lengths.
struct Evidence {
  std::string feature;  ///< a FeatureInfo id, or "words" / "characters" for the models
  std::string text;
  double z = 0;
};

struct Score {
  double score = 0;        ///< 0..100 (see the top of this file)
  double confidence = 0;   ///< 0..1: falls for short candidates and thin profiles
  double uncertainty = 0;  ///< one standard deviation of `score` at these lengths
  std::int64_t words = 0;  ///< in the candidate
  std::size_t cast = 0;    ///< how many cast profiles the score is relative to (0: none)
  /// 3-5, the largest deviations first; fewer only when fewer features differ at all (a
  /// candidate equal to the references on every feature has none).
  std::vector<Evidence> evidence;
};

/// How close `candidate` is to `profile`'s voice. Never fails: an empty candidate scores 0 with
/// confidence 0 and says it is empty.
///
/// With a `cast` (the other voices of the same manuscript, or the other candidates' authors), the
/// score is relative to them: the candidate's standardized closeness to the profile minus half its
/// mean and half its highest closeness to the cast's profiles, so 50 is "as close to this voice as to the others" and
/// a line of another cast member falls below 50 even when the whole cast shares a style.
/// "Does this sound like Mara rather than Ives?" Cast profiles built on another background are
/// ignored.
Score score(const Profile& profile, std::string_view candidate, const std::vector<Profile>& cast = {});

/// Candidates ranked by score, best first. Competition ranking: a candidate whose score is within
/// the combined uncertainty (sqrt(u1^2 + u2^2) / 2) of the best of its group shares that rank, and
/// `tie` is true for every member of a group of two or more.
struct Ranked {
  std::size_t candidate = 0;  ///< index into the candidates
  int rank = 1;
  bool tie = false;
  Score score;
};
std::vector<Ranked> rank(const Profile& profile, const std::vector<std::string>& candidates,
                         const std::vector<Profile>& cast = {});

Json score_to_json(const Score& s);
Json ranked_to_json(const std::vector<Ranked>& ranked);

// ---------------------------------------------------------------- dialogue

/// A character's lines from manuscript text: quoted speech attributed by "said X" / "X said" /
/// "X asked" and the like (also after the quote, and across paragraph turns when the
/// attribution alternates), and script lines that begin with the speaker's name ("MARA: ...").
struct Line {
  std::string speaker;  ///< as spelled in `names`, or "" when unattributed
  std::string text;     ///< the spoken words, without the quotation marks
  std::size_t begin = 0;  ///< byte offsets of the spoken text in the input
  std::size_t end = 0;
};
std::vector<Line> extract_dialogue(std::string_view text, const std::vector<std::string>& names);

/// Lines as JSON: [{speaker, text, begin, end (UTF-16 offsets: JavaScript string indices),
/// byte_begin, byte_end}].
Json dialogue_to_json(std::string_view text, const std::vector<Line>& lines);

// ---------------------------------------------------------------- requests and agents
// The agents' arguments, also what the bindings and `loom voice` pass: each returns the agent's
// output or kBadArgument naming the wrong field (kInvalidValue from Profile::build).

/// {name, references?: [text], text?, character?, aliases?: [name], others?: [name]}: `text` with
/// `character` adds the lines extract_dialogue attributes to the character or an alias to the
/// references; `others` (the rest of the cast) helps it tell an exchange's turns apart. `text`
/// without `character` is kBadArgument; `character` without `text` takes nothing.
/// Output: Profile::to_json(), plus `lines` (how many were taken) when `text` was given.
Result<Json> profile_request(const Json& args, const Background& background);
/// {profile: a profile's JSON, text, cast?: [profile JSON]} -> score_to_json() plus `profile`
/// (its name); a bad cast member is kBadArgument naming its index.
Result<Json> score_request(const Json& args, const Background& background);
/// {profile, candidates: [text | {label, text}], cast?} -> {profile, ranking: ranked_to_json() with
/// `label`s, best: the index of the best candidate or null when the top is a tie, best_label}.
Result<Json> rank_request(const Json& args, const Background& background);

/// Registers voice.profile, voice.score and voice.rank (pure) bound to `background` into
/// `registry`, replacing earlier ones; their versions carry the background's fingerprint. With a
/// null background (as AgentRegistry::with_builtins() does) they fail with kBadArgument saying how
/// to get one. Arguments and outputs: docs/voice.md and the agents' parameter lists.
Status register_voice_agents(AgentRegistry& registry, std::shared_ptr<const Background> background);

}  // namespace loom::voice
