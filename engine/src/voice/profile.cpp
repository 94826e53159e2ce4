// profile.cpp — a voice from its references: its n-gram and word counts and style features.

#include <algorithm>
#include <cmath>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "text/text_internal.hpp"
#include "voice/voice_internal.hpp"

namespace loom::voice {
namespace {

constexpr std::int64_t kMinWords = 100;
constexpr const char* kFormat = "loom.voice.profile/1";

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += "\n\n";
    out += p;
  }
  return out;
}

}  // namespace

std::shared_ptr<Profile::Impl> detail::count_profile(std::string name, std::vector<std::string> references,
                                                     std::shared_ptr<const Background::Impl> background) {
  auto im = std::make_shared<Profile::Impl>();
  im->name = std::move(name);
  im->background = std::move(background);
  std::unordered_map<std::string, std::uint32_t> words;
  for (const std::string& text : references) {
    const std::string s = detail::normalize_chars(text);
    for (std::size_t i = 1; i < s.size(); ++i) {
      for (int order : detail::kCharOrders) {
        const std::uint64_t key = detail::pack(s, i, order);
        if (key == 0) continue;
        im->grams.add(key);
        im->contexts.add(detail::context_of(key, order));
      }
    }
    for (std::string& w : detail::word_tokens(text)) {
      im->word_counts.add(detail::word_key(w));
      ++im->word_total;
      ++words[std::move(w)];
    }
  }
  im->word_list.assign(words.begin(), words.end());
  std::sort(im->word_list.begin(), im->word_list.end());
  im->features = measure(join(references));
  im->words = im->features.words;
  im->references = std::move(references);
  return im;
}

namespace {

Error bad_profile(const std::string& what) {
  return make_error(ErrorCode::kBadArgument, "not a voice profile: " + what,
                    "pass the output of a voice.profile step, or {name, references: [text, ...]}");
}

}  // namespace

Result<Profile> Profile::build(std::string name, std::vector<std::string> references, const Background& background) {
  if (name.empty()) {
    return make_error(ErrorCode::kInvalidValue, "a voice profile needs a name", "name the character or author");
  }
  auto im = detail::count_profile(std::move(name), std::move(references), background.impl_);
  if (im->words < kMinWords) {
    return make_error(ErrorCode::kInvalidValue,
                      "the references of \"" + im->name + "\" hold " + std::to_string(im->words) +
                          " words; a voice needs at least " + std::to_string(kMinWords),
                      "add more of the voice's lines or pages (a few hundred words or more give steadier scores)");
  }
  return Profile(im);
}

const std::string& Profile::name() const { return impl_->name; }
const std::vector<std::string>& Profile::references() const { return impl_->references; }
std::int64_t Profile::words() const { return impl_->words; }
const Features& Profile::features() const { return impl_->features; }

std::vector<FeatureReading> Profile::readings() const {
  std::vector<FeatureReading> out;
  const auto& table = feature_table();
  const auto& bg = *impl_->background;
  for (std::size_t k = 0; k < table.size(); ++k) {
    FeatureReading r;
    r.id = table[k].id;
    r.label = table[k].label;
    r.unit = table[k].unit;
    r.value = impl_->features.*(table[k].field);
    r.background_mean = bg.style_mean[k];
    r.z = (r.value - r.background_mean) / bg.style_sd[k];
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<std::pair<std::string, double>> Profile::signature_words(std::size_t k) const {
  const auto& bg = *impl_->background;
  std::vector<std::pair<std::string, double>> out;
  const double total = static_cast<double>(std::max<std::uint64_t>(impl_->word_total, 1));
  for (const auto& [word, c] : impl_->word_list) {
    if (c < 3) continue;
    // How many times more often than the background, smoothed so one rare word is not everything.
    const double ratio = (static_cast<double>(c) / total) / std::exp(bg.log_word(detail::word_key(word)));
    const double weight = std::log(ratio) * std::sqrt(static_cast<double>(c));
    if (ratio > 2) out.emplace_back(word, weight);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  if (out.size() > k) out.resize(k);
  for (auto& entry : out) entry.second = std::round(entry.second * 1000) / 1000;
  return out;
}

Json Profile::to_json() const {
  Json readings = Json::array();
  for (const auto& r : this->readings()) {
    readings.push_back({{"id", r.id}, {"label", r.label}, {"unit", r.unit},
                        {"value", std::round(r.value * 1000) / 1000},
                        {"background_mean", std::round(r.background_mean * 1000) / 1000},
                        {"z", std::round(r.z * 100) / 100}});
  }
  Json words = Json::array();
  for (const auto& [w, weight] : signature_words()) words.push_back({{"word", w}, {"weight", weight}});
  return {{"format", kFormat},
          {"name", impl_->name},
          {"words", impl_->words},
          {"references", impl_->references},
          {"features", readings},
          {"signature_words", words},
          {"background", impl_->background->fingerprint}};
}

Result<Profile> Profile::from_json(const Json& j, const Background& background) {
  if (!j.is_object()) return bad_profile("expected an object");
  if (j.contains("format") && j["format"] != kFormat) {
    return bad_profile("format " + j["format"].dump() + " (this engine reads " + kFormat + ")");
  }
  if (!j.contains("name") || !j["name"].is_string()) return bad_profile("`name` must be a string");
  if (!j.contains("references") || !j["references"].is_array()) return bad_profile("`references` must be a list of texts");
  std::vector<std::string> references;
  for (const auto& r : j["references"]) {
    if (!r.is_string()) return bad_profile("`references` must hold only texts");
    references.push_back(r.get<std::string>());
  }
  return build(j["name"].get<std::string>(), std::move(references), background);
}

}  // namespace loom::voice
