// voice_internal.hpp — private: the statistics behind loom/voice.hpp, shared by its sources.
//
// A text is "prepared" once (its bytes normalized, every n-gram's and word's probability under
// the background looked up, its style features measured); a prepared text is then compared with
// any number of profiles, which is what ranking and the background's calibration do.
#pragma once

#include <array>
#include <memory>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "loom/voice.hpp"

namespace loom::voice::detail {

// ---------------------------------------------------------------- tuning (bench/voice measured these)

/// The character model's longest n-gram (bytes of normalized text, context = order - 1).
inline constexpr int kMaxOrder = 5;
/// The orders whose log-likelihood ratios are averaged for the character measurement.
inline constexpr std::array<int, 3> kCharOrders = {3, 4, 5};
/// Dirichlet prior mass of the profile's character model toward the background's.
inline constexpr double kCharPrior = 4.0;
/// Dirichlet prior mass (in words) of the profile's word model toward the background's.
inline constexpr double kWordPrior = 400.0;
/// The word measurement's weight next to the character measurement's.
inline constexpr double kWordWeight = 0.3;
/// Passage length (words) of the background's spreads and calibration candidates.
inline constexpr double kPassageWords = 250.0;
/// Calibration: voices of the background (with at least kCalibrationPassages passages each) whose
/// first three passages make a profile, scored against their own fifth passage and the fifth
/// passages of the next kUnrelatedPerVoice voices.
inline constexpr std::size_t kCalibrationVoices = 120;
inline constexpr std::size_t kCalibrationPassages = 5;
inline constexpr std::size_t kUnrelatedPerVoice = 3;

// ---------------------------------------------------------------- counting

/// uint64 key -> uint32 count, open addressing (linear probing), never shrinks. Key 0 is the
/// empty slot, so keys must be non-zero (packed n-grams of non-zero bytes always are).
class CountTable {
 public:
  void add(std::uint64_t key, std::uint32_t n = 1);
  std::uint32_t get(std::uint64_t key) const {
    if (keys_.empty()) return 0;
    std::size_t i = slot(key);
    while (true) {
      const std::uint64_t k = keys_[i];
      if (k == key) return counts_[i];
      if (k == 0) return 0;
      i = (i + 1) & mask_;
    }
  }
  std::size_t size() const { return size_; }
  /// fn(key, count) for every entry, in no particular order (sums, derived tables).
  template <typename Fn>
  void for_each(Fn&& fn) const {
    for (std::size_t i = 0; i < keys_.size(); ++i) {
      if (keys_[i] != 0) fn(keys_[i], counts_[i]);
    }
  }
  /// (key, count) pairs sorted by key: a stable order for snapshots.
  std::vector<std::pair<std::uint64_t, std::uint32_t>> sorted() const;
  void reserve(std::size_t n);

 private:
  std::size_t slot(std::uint64_t key) const {
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdULL;
    key ^= key >> 33;
    return static_cast<std::size_t>(key) & mask_;
  }
  void grow();
  std::vector<std::uint64_t> keys_;
  std::vector<std::uint32_t> counts_;
  std::size_t size_ = 0;
  std::size_t mask_ = 0;
};

/// Text as the character model reads it: ASCII lowercased, curly quotes straight, dashes (— – --)
/// one byte 0x1E, … as "...", every run of whitespace one space, control bytes dropped, with one
/// leading space. No byte is 0.
std::string normalize_chars(std::string_view text);

/// The n-gram ending at s[i] of `order` bytes packed into a key (first byte highest); 0 when
/// fewer than `order` bytes end there.
inline std::uint64_t pack(const std::string& s, std::size_t i, int order) {
  if (i + 1 < static_cast<std::size_t>(order)) return 0;
  std::uint64_t k = 0;
  for (std::size_t j = i + 1 - static_cast<std::size_t>(order); j <= i; ++j) {
    k = (k << 8) | static_cast<unsigned char>(s[j]);
  }
  return k;
}

/// Word keys: XXH3-64 of the normalized token (never 0: 0 maps to 1).
std::uint64_t word_key(std::string_view token);
/// The normalized word tokens of `text` (knowledge::tokenize's rules).
std::vector<std::string> word_tokens(std::string_view text);

/// N-gram counts of orders 1..kMaxOrder and, per context (orders 0..kMaxOrder-1), the number of
/// n-grams that continue it and how many distinct ones (Witten-Bell smoothing needs both).
struct CharCounts {
  CountTable grams;      ///< every n-gram of orders 1..kMaxOrder
  CountTable followers;  ///< context key -> total continuations (context of order 0: key 1<<63)
  CountTable distinct;   ///< context key -> distinct continuations
  std::uint64_t bytes = 0;
  void add_text(const std::string& normalized);
};

/// The context key of the n-gram `key` of `order` (its first order-1 bytes); the empty context is
/// kEmptyContext.
inline constexpr std::uint64_t kEmptyContext = 1ULL << 63;
inline std::uint64_t context_of(std::uint64_t key, int order) { return order == 1 ? kEmptyContext : key >> 8; }

// ---------------------------------------------------------------- prepared texts

struct Prepared {
  std::int64_t words = 0;
  std::size_t bytes = 0;
  Features features;
  /// Per scored position and order (kCharOrders): the n-gram key, its context key, and
  /// log P_background(byte | context).
  struct CharPos {
    std::array<std::uint64_t, kCharOrders.size()> gram{};
    std::array<float, kCharOrders.size()> log_bg{};
  };
  std::vector<CharPos> chars;
  std::vector<std::uint64_t> word_keys;
  std::vector<float> word_log_bg;
};

/// One comparison of a prepared text with a profile: the two log-likelihood ratios (the
/// candidate under the profile's models against under the background's), per byte and per word.
struct Measurements {
  double chars = 0;
  double words = 0;
  double combined() const { return chars + kWordWeight * words; }
};

}  // namespace loom::voice::detail

namespace loom::voice {

struct Background::Impl {
  detail::CharCounts chars;
  detail::CountTable words;       ///< word key -> count
  std::uint64_t word_total = 0;
  std::uint64_t vocabulary = 0;   ///< distinct words
  std::vector<double> style_mean, style_sd;  ///< per feature_table() entry, over passages
  /// Calibration (Measurements::combined at kPassageWords): unrelated voices' mean and spread,
  /// and a voice's mean against its own references.
  double unrelated_mean = 0, unrelated_sd = 1, same_mean = 1;
  std::size_t passages = 0;
  std::int64_t total_words = 0;
  std::string fingerprint;
  double log_char(const std::string& s, std::size_t i, int order) const;  ///< Witten-Bell
  double log_word(std::uint64_t key) const;
  detail::Prepared prepare(std::string_view text) const;
};

struct Profile::Impl {
  std::string name;
  std::vector<std::string> references;
  std::shared_ptr<const Background::Impl> background;
  std::int64_t words = 0;
  Features features;
  detail::CountTable grams;      ///< n-grams of kCharOrders
  detail::CountTable contexts;   ///< their contexts' totals
  detail::CountTable word_counts;
  std::uint64_t word_total = 0;
  std::vector<std::pair<std::string, std::uint32_t>> word_list;  ///< for signature words

  detail::Measurements measure(const detail::Prepared& p) const;
};

namespace detail {
/// A profile's statistics (no checks): Profile::build and the background's calibration.
std::shared_ptr<Profile::Impl> count_profile(std::string name, std::vector<std::string> references,
                                             std::shared_ptr<const Background::Impl> background);
}  // namespace detail

}  // namespace loom::voice
