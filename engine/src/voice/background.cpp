// background.cpp — building the background from passages, and its binary snapshot.
//
//   "LOOMVB" version:u8  body  checksum:u64le (XXH3-64 of everything before it)
//   body:  passages:varint  words:varint
//          style: features:varint { mean sd:f64 }          (feature_table() order)
//          grams: count:varint { key-gap count:varint }     (sorted keys, first gap from 0)
//          words: count:varint { key-gap count:varint }
//          calibration: unrelated_mean unrelated_sd same_mean:f64
// The contexts' totals are recomputed from the n-grams on load; the reader checks every count
// against the bytes left, so any input gives a background or kBadArgument.

#include <algorithm>
#include <cmath>
#include <string>
#include <string_view>
#include <vector>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "core/binary_io.hpp"
#include "voice/voice_internal.hpp"

namespace loom::voice {
namespace {

constexpr std::string_view kMagic = "LOOMVB";
constexpr std::uint8_t kVersion = 1;
constexpr std::size_t kMinPassages = 20;
constexpr std::int64_t kMinWords = 20000;

Error corrupt(std::string_view what) {
  return make_error(ErrorCode::kBadArgument, "not a voice background, or a damaged one: " + std::string(what),
                    "rebuild it (tools/voice-background.mjs, run by tools/build --wasm)");
}

std::string hex16(std::uint64_t v) {
  static const char* digits = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) s[static_cast<std::size_t>(i)] = digits[v & 0xF];
  return s;
}

// The contexts' totals and distinct continuations from the n-gram counts.
void derive_contexts(detail::CharCounts& c) {
  c.grams.for_each([&c](std::uint64_t key, std::uint32_t count) {
    int order = 0;
    for (std::uint64_t k = key; k; k >>= 8) ++order;
    const std::uint64_t ctx = detail::context_of(key, order);
    c.followers.add(ctx, count);
    c.distinct.add(ctx, 1);
  });

}

void write_table(loom::detail::Writer& w, const detail::CountTable& t) {
  const auto entries = t.sorted();
  w.varint(entries.size());
  std::uint64_t previous = 0;
  for (const auto& [key, count] : entries) {
    w.varint(key - previous);
    w.varint(count);
    previous = key;
  }
}

// A table as write_table wrote it: keys strictly increasing, none above `max_key`, counts 1..2^32-1;
// adds the counts up into `total`.
bool read_table(loom::detail::Reader& r, detail::CountTable& t, std::uint64_t max_key, std::uint64_t& total) {
  const std::uint64_t n = r.count();
  t.reserve(static_cast<std::size_t>(n));
  std::uint64_t key = 0;
  for (std::uint64_t i = 0; i < n && r.ok(); ++i) {
    const std::uint64_t gap = r.varint();
    const std::uint64_t count = r.varint();
    if (!r.ok() || gap == 0 || key + gap < key || key + gap > max_key || count == 0 || count > 0xFFFFFFFFu) return false;
    key += gap;
    t.add(key, static_cast<std::uint32_t>(count));
    total += count;
  }
  return r.ok();
}

// Calibration: for up to kCalibrationVoices voices with enough passages, a profile of the first
// three passages scored against the voice's own fifth passage and the fifth passages of the next
// voices. The combined measurement's mean and spread over the unrelated pairs, and its mean over
// the same-voice pairs.
// False when fewer than two voices have enough passages to calibrate with.
bool calibrate(const std::shared_ptr<Background::Impl>& im, const std::vector<std::vector<std::string>>& voices) {
  std::vector<const std::vector<std::string>*> chosen;
  for (const auto& v : voices) {
    if (v.size() >= detail::kCalibrationPassages) chosen.push_back(&v);
  }
  if (chosen.size() > detail::kCalibrationVoices) {
    std::vector<const std::vector<std::string>*> spread;
    for (std::size_t i = 0; i < detail::kCalibrationVoices; ++i) spread.push_back(chosen[i * chosen.size() / detail::kCalibrationVoices]);
    chosen = std::move(spread);
  }
  std::vector<detail::Prepared> held_out;
  for (const auto* v : chosen) held_out.push_back(im->prepare((*v)[4]));
  std::vector<double> same, unrelated;
  for (std::size_t i = 0; i < chosen.size(); ++i) {
    const auto& v = *chosen[i];
    auto profile = detail::count_profile("calibration", {v[0], v[1], v[2]}, im);
    same.push_back(profile->measure(held_out[i]).combined());
    for (std::size_t k = 1; k <= detail::kUnrelatedPerVoice && k < chosen.size(); ++k) {
      unrelated.push_back(profile->measure(held_out[(i + k) % chosen.size()]).combined());
    }
  }
  auto mean = [](const std::vector<double>& xs) {
    double s = 0;
    for (double x : xs) s += x;
    return xs.empty() ? 0.0 : s / static_cast<double>(xs.size());
  };
  im->unrelated_mean = mean(unrelated);
  double var = 0;
  for (double x : unrelated) var += (x - im->unrelated_mean) * (x - im->unrelated_mean);
  im->unrelated_sd = unrelated.size() > 1 ? std::max(std::sqrt(var / static_cast<double>(unrelated.size() - 1)), 1e-6) : 1.0;
  im->same_mean = mean(same);
  return !same.empty() && unrelated.size() > 1;
}

}  // namespace

Result<Background> Background::build(const std::vector<std::vector<std::string>>& voices) {
  auto im = std::make_shared<Impl>();
  std::vector<std::string_view> passages;
  for (const auto& v : voices) passages.insert(passages.end(), v.begin(), v.end());
  const auto& table = feature_table();
  std::vector<double> sum(table.size(), 0), sum_sq(table.size(), 0);
  std::size_t measured = 0;
  for (std::string_view passage : passages) {
    im->chars.add_text(detail::normalize_chars(passage));
    for (const std::string& w : detail::word_tokens(passage)) {
      im->words.add(detail::word_key(w));
      ++im->word_total;
    }
    const Features f = measure(passage);
    im->total_words += f.words;
    if (f.words == 0) continue;
    ++measured;
    for (std::size_t k = 0; k < table.size(); ++k) {
      const double v = f.*(table[k].field);
      sum[k] += v;
      sum_sq[k] += v * v;
    }
  }
  im->passages = passages.size();
  if (passages.size() < kMinPassages || im->total_words < kMinWords) {
    return make_error(ErrorCode::kInvalidValue,
                      "a voice background needs at least " + std::to_string(kMinPassages) + " passages and " +
                          std::to_string(kMinWords) + " words; got " + std::to_string(passages.size()) +
                          " passages and " + std::to_string(im->total_words) + " words",
                      "build it from a corpus of many voices, such as the Brown corpus cut into 250-word passages");
  }
  im->vocabulary = im->words.size();
  for (std::size_t k = 0; k < table.size(); ++k) {
    const double mean = sum[k] / static_cast<double>(measured);
    const double var = std::max(0.0, sum_sq[k] / static_cast<double>(measured) - mean * mean);
    im->style_mean.push_back(mean);
    // A floor keeps a feature the background hardly varies on from dominating.
    im->style_sd.push_back(std::max(std::sqrt(var), 0.05 * std::abs(mean) + 1e-3));
  }
  derive_contexts(im->chars);
  if (!calibrate(im, voices)) {
    return make_error(ErrorCode::kInvalidValue,
                      "a voice background needs at least two voices of " + std::to_string(detail::kCalibrationPassages) +
                          " passages or more to calibrate the score against",
                      "give the passages of each writer as one list (the Brown corpus has 500 writers of 8 passages)");
  }
  if (!(im->same_mean > im->unrelated_mean)) {
    return make_error(ErrorCode::kInvalidValue,
                      "the background's voices are not told apart by their own passages (each voice needs five "
                      "passages of one writer)",
                      "give the passages of each writer as one list, at least five passages long");
  }
  Background bg(im);
  // The fingerprint is the snapshot's checksum, so that a loaded copy has the same one.
  const std::string bytes = bg.snapshot();
  std::uint64_t checksum = 0;
  for (int i = 0; i < 8; ++i) {
    checksum |= static_cast<std::uint64_t>(static_cast<unsigned char>(bytes[bytes.size() - 8 + i])) << (8 * i);
  }
  im->fingerprint = hex16(checksum);
  return bg;
}

std::string Background::snapshot() const {
  const Impl& im = *impl_;
  loom::detail::Writer w;
  w.varint(im.passages);
  w.varint(static_cast<std::uint64_t>(im.total_words));
  w.varint(im.style_mean.size());
  for (std::size_t k = 0; k < im.style_mean.size(); ++k) {
    w.f64(im.style_mean[k]);
    w.f64(im.style_sd[k]);
  }
  write_table(w, im.chars.grams);
  write_table(w, im.words);
  w.f64(im.unrelated_mean);
  w.f64(im.unrelated_sd);
  w.f64(im.same_mean);
  std::string out(kMagic);
  out.push_back(static_cast<char>(kVersion));
  out += w.out();
  const std::uint64_t sum = XXH3_64bits(out.data(), out.size());
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((sum >> (8 * i)) & 0xFF));
  return out;
}

Result<Background> Background::load(std::string_view bytes) {
  if (bytes.size() < kMagic.size() + 1 + 8 || bytes.substr(0, kMagic.size()) != kMagic) return corrupt("no LOOMVB header");
  if (static_cast<std::uint8_t>(bytes[kMagic.size()]) != kVersion) {
    return corrupt("format version " + std::to_string(static_cast<int>(static_cast<std::uint8_t>(bytes[kMagic.size()]))) +
                   ", this engine reads " + std::to_string(kVersion));
  }
  const std::string_view sealed = bytes.substr(0, bytes.size() - 8);
  std::uint64_t stored = 0;
  for (int i = 0; i < 8; ++i) stored |= static_cast<std::uint64_t>(static_cast<unsigned char>(bytes[sealed.size() + i])) << (8 * i);
  const std::uint64_t sum = XXH3_64bits(sealed.data(), sealed.size());
  if (stored != sum) return corrupt("checksum mismatch");

  auto im = std::make_shared<Impl>();
  loom::detail::Reader r(sealed.substr(kMagic.size() + 1));
  im->passages = static_cast<std::size_t>(r.varint());
  im->total_words = static_cast<std::int64_t>(r.varint());
  const std::uint64_t features = r.count();
  if (!r.ok() || features != feature_table().size()) return corrupt("style features do not match this engine's");
  for (std::uint64_t k = 0; k < features; ++k) {
    const double mean = r.f64();
    if (!std::isfinite(mean)) return corrupt("a style mean is not a number");
    im->style_mean.push_back(mean);
    const double sd = r.f64();
    if (!(sd > 0) || !std::isfinite(sd)) return corrupt("a style spread is not positive");
    im->style_sd.push_back(sd);
  }
  // An n-gram packs at most kMaxOrder bytes; a word key is any 64-bit value.
  std::uint64_t grams_total = 0;
  if (!read_table(r, im->chars.grams, (1ULL << (8 * detail::kMaxOrder)) - 1, grams_total)) {
    return corrupt("character n-grams (or one longer than the model's order)");
  }
  if (!read_table(r, im->words, ~0ULL, im->word_total)) return corrupt("words");
  im->unrelated_mean = r.f64();
  im->unrelated_sd = r.f64();
  im->same_mean = r.f64();
  if (!r.ok() || !r.done()) return corrupt("truncated or trailing bytes");
  if (!std::isfinite(im->unrelated_mean) || !(im->unrelated_sd > 0) || !std::isfinite(im->unrelated_sd) ||
      !(im->same_mean > im->unrelated_mean) || !std::isfinite(im->same_mean)) {
    return corrupt("calibration values out of range");
  }
  im->vocabulary = im->words.size();
  derive_contexts(im->chars);
  im->fingerprint = hex16(sum);
  return Background(im);
}

std::string Background::fingerprint() const { return impl_->fingerprint; }
std::size_t Background::passages() const { return impl_->passages; }
std::int64_t Background::words() const { return impl_->total_words; }

}  // namespace loom::voice
