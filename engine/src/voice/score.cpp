// score.cpp — a candidate against a profile: the 0..100 score, its confidence and uncertainty,
// the evidence in plain words, and ranking with ties.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <string>
#include <vector>

#include "voice/voice_internal.hpp"

namespace loom::voice {
namespace {


// 90 at the anchor: 50 + 50 (1 - e^-k) = 90.
const double kAnchorRate = std::log(5.0);

double normal_cdf(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

double to_score(double z, double anchor) {
  if (z < 0) return 100.0 * normal_cdf(z);
  return 50.0 + 50.0 * (1.0 - std::exp(-kAnchorRate * z / anchor));
}

std::string fmt(double v, int decimals = 0) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// "one every 30 words" for a rate per 1,000 words.
std::string every(double per_k) {
  const double words = 1000.0 / per_k;
  if (words < 1.5) return fmt(per_k / 1000.0, 1) + " a word";
  return "one every " + fmt(words) + " words";
}

std::string possessive(const std::string& name) {
  if (!name.empty() && (name.back() == 's' || name.back() == 'S')) return name + "'";
  return name + "'s";
}

// "twice as many commas as Mara", "40% more commas than Mara", "half as many commas as Mara".
std::string compare_counts(double candidate, double reference, const std::string& what, const std::string& name) {
  const double r = candidate / reference;
  if (r >= 1.95) return fmt(r, r < 10 ? 1 : 0) + " times as many " + what + " as " + name;
  if (r > 1) return fmt((r - 1) * 100) + "% more " + what + " than " + name;
  if (r < 0.05) return "almost no " + what + " (" + name + " uses them)";
  if (r <= 0.26) return "a quarter as many " + what + " as " + name;
  if (r <= 0.36) return "a third as many " + what + " as " + name;
  if (r <= 0.55) return "half as many " + what + " as " + name;
  return fmt((1 - r) * 100) + "% fewer " + what + " than " + name;
}

// The plain-words sentence for feature `info`, candidate value c and profile value p.
std::string describe(const FeatureInfo& info, double c, double p, const std::string& name) {
  const std::string id = info.id;
  const std::string whose = possessive(name);
  if (id == "sentence_length" || id == "word_length" || id == "sentence_spread" || id == "vocabulary") {
    const std::string what = id == "sentence_length" ? "sentences"
                             : id == "word_length"   ? "words"
                             : id == "sentence_spread" ? "sentence lengths vary"
                                                       : "vocabulary";
    const std::string more = id == "sentence_length" || id == "word_length" ? "longer"
                             : id == "sentence_spread" ? "more" : "richer";
    const std::string less = id == "sentence_length" || id == "word_length" ? "shorter"
                             : id == "sentence_spread" ? "less" : "plainer";
    const double pct = p > 0 ? (c / p - 1) * 100 : 0;
    const int dec = id == "word_length" || id == "vocabulary" ? 1 : 0;
    const std::string unit = id == "vocabulary" ? " distinct words per 50" : id == "word_length" ? " letters" : " words";
    const double cv = id == "vocabulary" ? c * 50 : c, pv = id == "vocabulary" ? p * 50 : p;
    const std::string values = " (" + fmt(cv, dec) + unit + " against " + fmt(pv, dec) + ")";
    if (pct >= 95 && (id == "sentence_length" || id == "word_length")) {
      return what + " " + fmt(c / p, c / p < 10 ? 1 : 0) + " times as long as " + whose + values;
    }
    return what + " " + fmt(std::abs(pct)) + "% " + (pct >= 0 ? more : less) + " than " + whose + values;
  }
  if (id == "dialogue_share") {
    return fmt(c * 100) + "% of the words in dialogue; " + whose + " references have " + fmt(p * 100) + "%";
  }
  // Rates per 1,000 words.
  const std::string label = info.label;
  if (c == 0) return "no " + label + "; " + name + " uses " + every(p);
  if (p == 0) return label + " (" + every(c) + "); " + name + " uses none";
  return compare_counts(c, p, label, name) + " (" + every(c) + " against " + every(p) + ")";
}

std::vector<Evidence> evidence_for(const Profile::Impl& im, const detail::Prepared& p) {
  const auto& table = feature_table();
  const auto& bg = *im.background;
  const double n_c = std::max<double>(static_cast<double>(p.words), 1.0);
  const double n_p = std::max<double>(static_cast<double>(im.words), 1.0);
  const double spread = std::sqrt(detail::kPassageWords / n_c + detail::kPassageWords / n_p);
  std::vector<Evidence> all;
  for (std::size_t k = 0; k < table.size(); ++k) {
    const double c = p.features.*(table[k].field), ref = im.features.*(table[k].field);
    if (c == ref) continue;
    Evidence e;
    e.feature = table[k].id;
    e.z = (c - ref) / (bg.style_sd[k] * spread);
    e.text = describe(table[k], c, ref, im.name);
    all.push_back(std::move(e));
  }
  std::stable_sort(all.begin(), all.end(), [](const Evidence& a, const Evidence& b) { return std::abs(a.z) > std::abs(b.z); });
  // The 3-5 largest: all past 1.5 standard deviations, at least three of any size.
  std::size_t keep = 0;
  while (keep < all.size() && keep < 5 && (keep < 3 || std::abs(all[keep].z) >= 1.5)) ++keep;
  all.resize(keep);
  for (auto& e : all) e.z = std::round(e.z * 100) / 100;
  return all;
}

// z of a prepared text against a profile: standardized against unrelated voices of the background
// (0 = as close as an unrelated voice).
double standardized(const Profile::Impl& im, const detail::Prepared& p) {
  const auto& bg = *im.background;
  return (im.measure(p).combined() - bg.unrelated_mean) / bg.unrelated_sd;
}

Score score_prepared(const Profile::Impl& im, const detail::Prepared& p, const std::vector<Profile>& cast) {
  Score s;
  s.words = p.words;
  if (p.words == 0) {
    s.evidence.push_back({"words", "the text has no words to compare", 0});
    return s;
  }
  const auto& bg = *im.background;
  double z = standardized(im, p);
  // With a cast: how much closer to this voice than to the cast's on average (a candidate as close
  // to them as to it is "an unrelated voice": 50).
  double cast_max = -1e300, cast_sum = 0;
  std::size_t members = 0;
  for (const Profile& other : cast) {
    if (other.impl().background != im.background) continue;
    const double zk = standardized(other.impl(), p);
    cast_max = std::max(cast_max, zk);
    cast_sum += zk;
    ++members;
  }
  if (members > 0) {
    z -= 0.5 * cast_max + 0.5 * cast_sum / static_cast<double>(members);
    s.cast = members;
  }
  // The background's same-voice mean is the anchor.
  const double anchor = (bg.same_mean - bg.unrelated_mean) / bg.unrelated_sd;
  s.score = to_score(z, anchor);
  // One standard deviation of z at this length (the calibration's is 1 at passage length).
  const double sd_z = std::sqrt(detail::kPassageWords / static_cast<double>(p.words));
  s.uncertainty = (to_score(z + sd_z, anchor) - to_score(z - sd_z, anchor)) / 2;
  // Confidence falls for short candidates and for thin profiles.
  const double length = 1.0 - std::exp(-static_cast<double>(p.words) / 150.0);
  const double profile = 1.0 - std::exp(-static_cast<double>(im.words) / 600.0);
  s.confidence = length * profile;
  s.evidence = evidence_for(im, p);
  return s;
}

double round_to(double v, double unit) { return std::round(v / unit) * unit; }

}  // namespace

Score score(const Profile& profile, std::string_view candidate, const std::vector<Profile>& cast) {
  const auto& im = profile.impl();
  return score_prepared(im, im.background->prepare(candidate), cast);
}

std::vector<Ranked> rank(const Profile& profile, const std::vector<std::string>& candidates,
                         const std::vector<Profile>& cast) {
  std::vector<Ranked> out;
  for (std::size_t i = 0; i < candidates.size(); ++i) out.push_back({i, 1, false, score(profile, candidates[i], cast)});
  std::stable_sort(out.begin(), out.end(), [](const Ranked& a, const Ranked& b) { return a.score.score > b.score.score; });
  std::size_t leader = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const Score& best = out[leader].score;
    const Score& s = out[i].score;
    const double margin = std::sqrt(best.uncertainty * best.uncertainty + s.uncertainty * s.uncertainty) / 2;
    if (i > 0 && best.score - s.score <= margin) {
      out[i].rank = out[leader].rank;
      out[i].tie = out[leader].tie = true;
    } else {
      leader = i;
      out[i].rank = static_cast<int>(i) + 1;
    }
  }
  return out;
}

Json score_to_json(const Score& s) {
  Json evidence = Json::array();
  for (const auto& e : s.evidence) evidence.push_back({{"feature", e.feature}, {"text", e.text}, {"z", e.z}});
  return {{"score", round_to(s.score, 0.01)},
          {"confidence", round_to(s.confidence, 0.001)},
          {"uncertainty", round_to(s.uncertainty, 0.01)},
          {"words", s.words},
          {"cast", s.cast},
          {"evidence", evidence}};
}

Json ranked_to_json(const std::vector<Ranked>& ranked) {
  Json out = Json::array();
  for (const auto& r : ranked) {
    Json j = score_to_json(r.score);
    j["candidate"] = r.candidate;
    j["rank"] = r.rank;
    j["tie"] = r.tie;
    out.push_back(std::move(j));
  }
  return out;
}

}  // namespace loom::voice
