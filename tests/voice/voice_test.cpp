// voice_test.cpp — the background (build, snapshot, load and its refusals), profiles (build,
// readings, JSON round trip and its refusals), scores (ordering, range, confidence, uncertainty,
// evidence), ranking with ties, and determinism; with a synthetic background of made-up voices
// and with the real one that tools/build --wasm makes.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "core/binary_io.hpp"
#include "loom/text.hpp"
#include "loom/voice.hpp"
#include "voice/voice_fixtures.hpp"

using namespace loom;
using namespace loom::voice;
using namespace loom::voice::test_fixtures;
using Json = loom::Json;

namespace {

std::uint64_t bits(double v) {
  std::uint64_t b = 0;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

// Bit-identical scores: the number, confidence, uncertainty and the evidence.
void require_same_score(const Score& a, const Score& b) {
  CHECK(bits(a.score) == bits(b.score));
  CHECK(bits(a.confidence) == bits(b.confidence));
  CHECK(bits(a.uncertainty) == bits(b.uncertainty));
  CHECK(a.words == b.words);
  REQUIRE(a.evidence.size() == b.evidence.size());
  for (std::size_t i = 0; i < a.evidence.size(); ++i) {
    CHECK(a.evidence[i].feature == b.evidence[i].feature);
    CHECK(a.evidence[i].text == b.evidence[i].text);
    CHECK(bits(a.evidence[i].z) == bits(b.evidence[i].z));
  }
}

bool is_hex16(const std::string& s) {
  return s.size() == 16 && std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool contains(const std::string& haystack, const std::string& needle) { return haystack.find(needle) != std::string::npos; }

std::string join(const std::vector<std::string>& parts, const std::string& sep = "\n\n") {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : sep) + p;
  return out;
}

// The snapshot `body` sealed as Background::snapshot() does: magic, version, body, XXH3-64.
std::string seal(const std::string& body, std::uint8_t version = 1) {
  std::string out = "LOOMVB";
  out.push_back(static_cast<char>(version));
  out += body;
  const std::uint64_t sum = XXH3_64bits(out.data(), out.size());
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((sum >> (8 * i)) & 0xFF));
  return out;
}

// The body of a sealed snapshot.
std::string body_of(const std::string& snapshot) { return snapshot.substr(7, snapshot.size() - 7 - 8); }

// A hand-made body in the documented layout; each knob spoils one part.
struct Body {
  std::uint64_t features = 17;
  double mean = 1.0;  // of the first feature; the others' are 1
  double sd = 1.0;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> grams = {{'a', 3}, {('a' << 8) | 'b', 2}};  // (gap, count)
  std::vector<std::pair<std::uint64_t, std::uint64_t>> words = {{12345, 4}};
  double unrelated_mean = 0.0, unrelated_sd = 1.0, same_mean = 3.0;
  bool calibration = true;
  std::string trailing;

  std::string bytes() const {
    loom::detail::Writer w;
    w.varint(40);
    w.varint(20000);
    w.varint(features);
    for (std::uint64_t k = 0; k < features; ++k) {
      w.f64(k == 0 ? mean : 1.0);
      w.f64(sd);
    }
    w.varint(grams.size());
    for (const auto& [gap, count] : grams) {
      w.varint(gap);
      w.varint(count);
    }
    w.varint(words.size());
    for (const auto& [gap, count] : words) {
      w.varint(gap);
      w.varint(count);
    }
    if (calibration) {
      w.f64(unrelated_mean);
      w.f64(unrelated_sd);
      w.f64(same_mean);
    }
    return w.out() + trailing;
  }
};

void require_refused(const Result<Background>& r, const std::string& what = "") {
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::kBadArgument);
  CHECK(contains(r.error().message, "not a voice background, or a damaged one"));
  if (!what.empty()) CHECK(contains(r.error().message, what));
  CHECK_FALSE(r.error().hint.empty());
}

const Profile& sailor() {
  static const Profile p = [] {
    auto built = Profile::build("Hask", sailor_references(), real_background());
    REQUIRE(built.ok());
    return *built;
  }();
  return p;
}

const Profile& narrator() {
  static const Profile p = [] {
    auto built = Profile::build("Penhallow", narrator_references(), real_background());
    REQUIRE(built.ok());
    return *built;
  }();
  return p;
}

// Evidence is 3-5 items sorted by |z| descending, each naming the profile.
void check_evidence(const Score& s, const std::string& name) {
  CHECK(s.evidence.size() >= 3);
  CHECK(s.evidence.size() <= 5);
  for (std::size_t i = 0; i < s.evidence.size(); ++i) {
    INFO(s.evidence[i].text);
    CHECK_FALSE(s.evidence[i].feature.empty());
    CHECK(contains(s.evidence[i].text, name));
    CHECK(std::isfinite(s.evidence[i].z));
    if (i > 0) CHECK(std::abs(s.evidence[i - 1].z) >= std::abs(s.evidence[i].z));
  }
}

const Evidence* evidence_on(const Score& s, const std::string& feature) {
  for (const auto& e : s.evidence) {
    if (e.feature == feature) return &e;
  }
  return nullptr;
}

}  // namespace

// ---------------------------------------------------------------- the background: build

TEST_CASE("Background::build from synthetic voices, and its snapshot loads back the same", "[voice]") {
  const Background& bg = synthetic_background();
  CHECK(bg.passages() == 180);
  CHECK(bg.words() == 30 * 6 * 250);
  CHECK(is_hex16(bg.fingerprint()));

  const std::string bytes = bg.snapshot();
  CHECK(bytes.rfind("LOOMVB\x01", 0) == 0);
  auto loaded = Background::load(bytes);
  REQUIRE(loaded.ok());
  CHECK(loaded->fingerprint() == bg.fingerprint());
  CHECK(loaded->passages() == bg.passages());
  CHECK(loaded->words() == bg.words());
  CHECK(loaded->snapshot() == bytes);  // the same background, the same bytes

  // The same references and candidates score bit-identically against either copy.
  const auto voices = synthetic_voices();
  const std::vector<std::string> refs = {voices[3][0], voices[3][1], voices[3][2]};
  auto p_built = Profile::build("Three", refs, bg);
  auto p_loaded = Profile::build("Three", refs, *loaded);
  REQUIRE(p_built.ok());
  REQUIRE(p_loaded.ok());
  CHECK(p_built->to_json() == p_loaded->to_json());
  for (const std::string& candidate : {voices[3][5], voices[4][5], voices[17][2], std::string("Short.")}) {
    require_same_score(score(*p_built, candidate), score(*p_loaded, candidate));
  }
}

TEST_CASE("Background::build is deterministic and tells the synthetic voices apart", "[voice]") {
  const Background& bg = synthetic_background();
  auto again = Background::build(synthetic_voices());
  REQUIRE(again.ok());
  CHECK(again->snapshot() == bg.snapshot());
  CHECK(again->fingerprint() == bg.fingerprint());

  // A voice's own unseen passage scores above other voices' passages.
  const auto voices = synthetic_voices();
  for (std::size_t v : {0u, 11u, 29u}) {
    auto p = Profile::build("v" + std::to_string(v), {voices[v][0], voices[v][1], voices[v][2], voices[v][3]}, bg);
    REQUIRE(p.ok());
    const double own = score(*p, voices[v][5]).score;
    for (std::size_t other : {(v + 1) % 30, (v + 7) % 30, (v + 15) % 30}) {
      INFO("voice " << v << " against " << other);
      CHECK(own > score(*p, voices[other][5]).score);
    }
    CHECK(own > 50);
  }
}

TEST_CASE("Background::build at the minimum: 20 passages and 20,000 words", "[voice]") {
  // 4 voices of 5 passages of 1,000 words.
  std::vector<std::vector<std::string>> voices(4);
  for (std::size_t v = 0; v < 4; ++v) {
    for (std::size_t p = 0; p < 5; ++p) voices[v].push_back(synthetic_passage(v * 5, p, 1000));
  }
  auto bg = Background::build(voices);
  REQUIRE(bg.ok());
  CHECK(bg->passages() == 20);
  CHECK(bg->words() == 20000);
}

TEST_CASE("Background::build refuses too few passages or words, and voices not told apart", "[voice]") {
  SECTION("no voices at all") {
    auto bg = Background::build({});
    REQUIRE_FALSE(bg.ok());
    CHECK(bg.error().code == ErrorCode::kInvalidValue);
    CHECK(contains(bg.error().message, "got 0 passages and 0 words"));
  }
  SECTION("19 passages, though of plenty of words") {
    std::vector<std::vector<std::string>> voices(4);
    for (std::size_t v = 0; v < 4; ++v) {
      for (std::size_t p = 0; p < (v == 3 ? 4u : 5u); ++p) voices[v].push_back(synthetic_passage(v * 5, p, 1500));
    }
    auto bg = Background::build(voices);
    REQUIRE_FALSE(bg.ok());
    CHECK(bg.error().code == ErrorCode::kInvalidValue);
    CHECK(contains(bg.error().message, "at least 20 passages and 20000 words"));
    CHECK(contains(bg.error().message, "got 19 passages and 28500 words"));
    CHECK_FALSE(bg.error().hint.empty());
  }
  SECTION("180 passages of 110 words: 19,800 words") {
    auto bg = Background::build(synthetic_voices(30, 6, 110));
    REQUIRE_FALSE(bg.ok());
    CHECK(bg.error().code == ErrorCode::kInvalidValue);
    CHECK(contains(bg.error().message, "got 180 passages and 19800 words"));
  }
  SECTION("empty passages count as passages but not as words") {
    std::vector<std::vector<std::string>> voices(30, std::vector<std::string>(6, ""));
    auto bg = Background::build(voices);
    REQUIRE_FALSE(bg.ok());
    CHECK(bg.error().code == ErrorCode::kInvalidValue);
    CHECK(contains(bg.error().message, "got 180 passages and 0 words"));
  }
  SECTION("each voice's held-out fifth passage is written by the voice before it") {
    // The calibration scores voice i's first three passages against its own fifth passage and
    // the fifth passages of the next three voices; here the (i+1)th's fifth passage is voice i's,
    // so every voice looks closer to another than to itself.
    auto voices = synthetic_voices();
    for (std::size_t v = 0; v < voices.size(); ++v) voices[v][4] = synthetic_passage((v + 29) % 30, 100 + v, 250);
    auto bg = Background::build(voices);
    REQUIRE_FALSE(bg.ok());
    CHECK(bg.error().code == ErrorCode::kInvalidValue);
    CHECK(contains(bg.error().message, "not told apart"));
  }
}

TEST_CASE("Background::build refuses voices none of which can calibrate the score", "[voice]") {
  // ENGINE BUG (reported): 30 voices of one 800-word passage each pass the size checks (30
  // passages, 24,000 words), but no voice has the five passages calibration needs, so calibrate()
  // keeps its defaults (unrelated mean 0, spread 1, same-voice mean 3: raw numbers in no unit of
  // the measurements) and build() succeeds. Its scores are then on an arbitrary scale (a voice's
  // own passage 68 where a calibrated background gives 86). The header promises kInvalidValue
  // "when no voice is closer to itself than to the others", and the error's hint says each voice
  // needs five passages; with no voice compared at all, nothing was shown closer.
  std::vector<std::vector<std::string>> voices;
  for (std::size_t v = 0; v < 30; ++v) voices.push_back({synthetic_passage(v, 0, 800)});
  auto bg = Background::build(voices);
  REQUIRE_FALSE(bg.ok());
  CHECK(bg.error().code == ErrorCode::kInvalidValue);
}

// ---------------------------------------------------------------- the background: load

TEST_CASE("Background::load refuses what is not a snapshot, never crashing", "[voice]") {
  const std::string good = synthetic_background().snapshot();
  REQUIRE(Background::load(good).ok());

  SECTION("empty bytes") { require_refused(Background::load(""), "no LOOMVB header"); }
  SECTION("wrong magic") {
    std::string bad = good;
    bad[0] = 'X';
    require_refused(Background::load(bad), "no LOOMVB header");
    require_refused(Background::load("LOOMKB" + good.substr(6)), "no LOOMVB header");
  }
  SECTION("a knowledge-base-like or text input") {
    require_refused(Background::load("hello, world: this is not a background at all"));
    require_refused(Background::load(std::string(64, '\0')));
  }
  SECTION("wrong version byte") {
    std::string bad = good;
    bad[6] = 2;
    require_refused(Background::load(bad), "format version 2, this engine reads 1");
    bad[6] = 0;
    require_refused(Background::load(bad), "format version 0");
    // Even correctly sealed, another version is refused.
    require_refused(Background::load(seal(body_of(good), 9)), "format version 9");
  }
  SECTION("one flipped byte in the middle: the checksum") {
    std::string bad = good;
    bad[bad.size() / 2] = static_cast<char>(bad[bad.size() / 2] ^ 0x01);
    require_refused(Background::load(bad), "checksum mismatch");
    std::string bad_sum = good;
    bad_sum.back() = static_cast<char>(bad_sum.back() ^ 0x80);
    require_refused(Background::load(bad_sum), "checksum mismatch");
  }
  SECTION("truncated anywhere") {
    for (std::size_t n : {std::size_t{1}, std::size_t{6}, std::size_t{7}, std::size_t{14}, std::size_t{15}, std::size_t{100},
                          good.size() / 2, good.size() - 9, good.size() - 8, good.size() - 1}) {
      INFO("first " << n << " bytes");
      require_refused(Background::load(good.substr(0, n)));
    }
  }
  SECTION("an appended byte") { require_refused(Background::load(good + "x")); }
}

TEST_CASE("Background::load checks the body of a correctly sealed snapshot", "[voice]") {
  SECTION("a minimal hand-made body loads, and a profile on it scores in range") {
    auto bg = Background::load(seal(Body{}.bytes()));
    REQUIRE(bg.ok());
    CHECK(bg->passages() == 40);
    CHECK(bg->words() == 20000);
    CHECK(is_hex16(bg->fingerprint()));
    CHECK(Background::load(bg->snapshot()).ok());
    auto p = Profile::build("Hask", sailor_references(), *bg);
    REQUIRE(p.ok());
    const Score s = score(*p, kSailorHeldOut);
    CHECK(s.score >= 0);
    CHECK(s.score <= 100);
  }
  SECTION("the features do not match this engine's") {
    Body b;
    b.features = 16;
    require_refused(Background::load(seal(b.bytes())), "style features");
  }
  SECTION("a spread that is zero, negative or not a number") {
    for (double sd : {0.0, -1.0, std::nan(""), HUGE_VAL}) {
      INFO(sd);
      Body b;
      b.sd = sd;
      require_refused(Background::load(seal(b.bytes())), "style spread");
    }
  }
  SECTION("an n-gram longer than the model's order") {
    Body b;
    b.grams = {{0x616263646566ULL, 1}};  // six bytes
    require_refused(Background::load(seal(b.bytes())), "longer than the model's order");
  }
  SECTION("a repeated key (a zero gap) or a zero count") {
    Body repeated;
    repeated.grams = {{'a', 1}, {0, 1}};
    require_refused(Background::load(seal(repeated.bytes())), "character n-grams");
    Body zero;
    zero.words = {{7, 0}};
    require_refused(Background::load(seal(zero.bytes())), "words");
    Body wrap;
    wrap.words = {{~0ULL, 1}, {5, 1}};  // the key would wrap around
    require_refused(Background::load(seal(wrap.bytes())), "words");
    Body huge;
    huge.words = {{1, 0x100000000ULL}};  // more than a 32-bit count
    require_refused(Background::load(seal(huge.bytes())), "words");
  }
  SECTION("calibration out of range") {
    Body flat;
    flat.same_mean = flat.unrelated_mean;  // a voice no closer to itself than to others
    require_refused(Background::load(seal(flat.bytes())), "calibration");
    Body no_sd;
    no_sd.unrelated_sd = 0;
    require_refused(Background::load(seal(no_sd.bytes())), "calibration");
    Body nan;
    nan.unrelated_mean = std::nan("");
    require_refused(Background::load(seal(nan.bytes())), "calibration");
  }
  SECTION("missing calibration, trailing bytes") {
    Body missing;
    missing.calibration = false;
    require_refused(Background::load(seal(missing.bytes())), "truncated or trailing bytes");
    Body trailing;
    trailing.trailing = "x";
    require_refused(Background::load(seal(trailing.bytes())), "truncated or trailing bytes");
  }
  SECTION("a table count larger than the bytes left") {
    loom::detail::Writer w;
    w.varint(1);
    w.varint(1);
    w.varint(1000000);  // features
    require_refused(Background::load(seal(w.out())));
  }
  SECTION("a real snapshot's body cut short, resealed") {
    const std::string body = body_of(synthetic_background().snapshot());
    for (std::size_t n : {std::size_t{0}, std::size_t{3}, body.size() / 3, body.size() / 2, body.size() - 1}) {
      INFO("body cut to " << n << " bytes");
      require_refused(Background::load(seal(body.substr(0, n))));
    }
  }
}

TEST_CASE("Background::load refuses a style mean that is not a number", "[voice]") {
  // ENGINE BUG (reported): load() checks that every style spread is positive and finite but not
  // the means. A sealed snapshot whose first mean is NaN (or infinite) loads, and every profile
  // built on it then reads {"background_mean": null, "z": null} for sentence length in its JSON
  // (nlohmann writes NaN as null), which the studio's chart and voice.profile's callers do not
  // expect. snapshot() never writes such a value, so the header's "kBadArgument for bytes that
  // are not one" applies.
  for (double mean : {std::nan(""), HUGE_VAL, -HUGE_VAL}) {
    INFO(mean);
    Body b;
    b.mean = mean;
    require_refused(Background::load(seal(b.bytes())));
  }
}

TEST_CASE("Background::load: damaged bodies resealed with a good checksum load or are refused, never crash", "[voice]") {
  const std::string body = body_of(synthetic_background().snapshot());
  Rng rng(0xBAD5EED);
  int refused = 0, loaded = 0;
  for (int i = 0; i < 120; ++i) {
    std::string damaged = body;
    const std::size_t flips = 1 + rng.below(4);
    for (std::size_t f = 0; f < flips; ++f) {
      // Mostly the front (counts, style, calibration-sensitive varints), sometimes anywhere.
      const std::size_t at = rng.below(3) == 0 ? rng.below(damaged.size()) : rng.below(std::min<std::size_t>(damaged.size(), 400));
      damaged[at] = static_cast<char>(rng.next() & 0xFF);
    }
    auto r = Background::load(seal(damaged));
    if (r.ok()) {
      ++loaded;
      // Whatever loads is usable: a profile builds and scores in range.
      auto p = Profile::build("Hask", sailor_references(), *r);
      REQUIRE(p.ok());
      const Score s = score(*p, kSailorHeldOut);
      CHECK(s.score >= 0);
      CHECK(s.score <= 100);
    } else {
      ++refused;
      CHECK(r.error().code == ErrorCode::kBadArgument);
    }
  }
  CHECK(refused + loaded == 120);
  CHECK(refused > 0);
}

TEST_CASE("the real background loads, and its snapshot is the file's bytes", "[voice]") {
  const Background& bg = real_background();
  const std::string file = loom::test::read_source_file("build/voice/background.loomvb");
  CHECK(bg.snapshot() == file);
  // The fingerprint is the checksum: the file's last 8 bytes, little-endian, in hex.
  std::uint64_t sum = 0;
  for (int i = 0; i < 8; ++i) sum |= static_cast<std::uint64_t>(static_cast<unsigned char>(file[file.size() - 8 + i])) << (8 * i);
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(sum));
  CHECK(bg.fingerprint() == hex);
  // The Brown corpus: 500 samples of about 2,000 words, several passages each.
  CHECK(bg.passages() >= 1000);
  CHECK(bg.words() >= 900000);

  std::string damaged = file;
  damaged[damaged.size() / 2] = static_cast<char>(damaged[damaged.size() / 2] ^ 0x40);
  require_refused(Background::load(damaged), "checksum mismatch");
  require_refused(Background::load(std::string_view(file).substr(0, file.size() / 2)));
}

// ---------------------------------------------------------------- profiles

TEST_CASE("Profile::build needs 100 words and a name", "[voice]") {
  const Background& bg = real_background();
  const std::string ninety_nine = first_words(kSailorHeldOut, 99);
  REQUIRE(measure(ninety_nine).words == 99);

  auto short_profile = Profile::build("Hask", {ninety_nine}, bg);
  REQUIRE_FALSE(short_profile.ok());
  CHECK(short_profile.error().code == ErrorCode::kInvalidValue);
  CHECK(contains(short_profile.error().message, "\"Hask\" hold 99 words"));
  CHECK(contains(short_profile.error().message, "at least 100"));
  CHECK_FALSE(short_profile.error().hint.empty());

  // Words are counted over all the references together.
  auto split = Profile::build("Hask", {first_words(kSailorHeldOut, 60), first_words(kNarratorHeldOut, 40)}, bg);
  REQUIRE(split.ok());
  CHECK(split->words() == 100);

  auto none = Profile::build("Hask", {}, bg);
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().code == ErrorCode::kInvalidValue);
  CHECK(contains(none.error().message, "hold 0 words"));

  auto empty_texts = Profile::build("Hask", {"", "   ", "?!"}, bg);
  REQUIRE_FALSE(empty_texts.ok());
  CHECK(empty_texts.error().code == ErrorCode::kInvalidValue);

  auto nameless = Profile::build("", sailor_references(), bg);
  REQUIRE_FALSE(nameless.ok());
  CHECK(nameless.error().code == ErrorCode::kInvalidValue);
  CHECK(contains(nameless.error().message, "needs a name"));
}

TEST_CASE("a profile keeps its name, references, words, features and readings", "[voice]") {
  const Profile& p = sailor();
  CHECK(p.name() == "Hask");
  CHECK(p.references() == sailor_references());
  const Features joined = measure(join(sailor_references()));
  CHECK(p.words() == joined.words);
  CHECK(p.words() >= 550);
  CHECK(p.features().sentence_length == joined.sentence_length);
  CHECK(p.features().contractions == joined.contractions);

  const auto readings = p.readings();
  const auto& table = feature_table();
  REQUIRE(readings.size() == table.size());
  for (std::size_t k = 0; k < table.size(); ++k) {
    INFO(table[k].id);
    CHECK(readings[k].id == table[k].id);
    CHECK(readings[k].label == table[k].label);
    CHECK(readings[k].unit == table[k].unit);
    CHECK(readings[k].value == p.features().*(table[k].field));
    CHECK(std::isfinite(readings[k].background_mean));
    CHECK(std::isfinite(readings[k].z));
  }
  // The sailor's habits stand out against the Brown corpus.
  auto reading = [&](const std::string& id) {
    for (const auto& r : readings) {
      if (r.id == id) return r;
    }
    FAIL("no reading " << id);
    return FeatureReading{};
  };
  CHECK(reading("contractions").z > 2);
  CHECK(reading("sentence_length").z < -1);
  CHECK(reading("second_person").z > 1);
  CHECK(reading("sentence_length").value < reading("sentence_length").background_mean);
}

TEST_CASE("signature words: used at least three times, far more than the background, strongest first", "[voice]") {
  const Profile& p = sailor();
  const auto words = p.signature_words();
  CHECK(words.size() <= 12);
  CHECK_FALSE(words.empty());
  const std::string refs = join(sailor_references(), " ");
  for (std::size_t i = 0; i < words.size(); ++i) {
    INFO(words[i].first);
    CHECK(words[i].second > 0);
    if (i > 0) CHECK(words[i - 1].second >= words[i].second);
    // At least three times in the references (counted over the tokenizer's words).
    int count = 0;
    for (const auto& w : loom::text::words(refs)) count += w == words[i].first ? 1 : 0;
    CHECK(count >= 3);
  }
  const auto three = p.signature_words(3);
  REQUIRE(three.size() == std::min<std::size_t>(3, words.size()));
  for (std::size_t i = 0; i < three.size(); ++i) CHECK(three[i] == words[i]);
  CHECK(p.signature_words(0).empty());
}

TEST_CASE("Profile::to_json: the format, references, 17 readings and signature words", "[voice]") {
  const Profile& p = sailor();
  const Json j = p.to_json();
  CHECK(j["format"] == "loom.voice.profile/1");
  CHECK(j["name"] == "Hask");
  CHECK(j["words"] == p.words());
  CHECK(j["references"] == Json(sailor_references()));
  CHECK(j["background"] == real_background().fingerprint());
  REQUIRE(j["features"].is_array());
  REQUIRE(j["features"].size() == 17);
  for (std::size_t k = 0; k < 17; ++k) {
    const Json& r = j["features"][k];
    INFO(r.dump());
    CHECK(r["id"] == feature_table()[k].id);
    CHECK(r["label"] == feature_table()[k].label);
    CHECK(r["unit"] == feature_table()[k].unit);
    for (const char* key : {"value", "background_mean", "z"}) CHECK(r[key].is_number());
    CHECK(r.size() == 6);
    CHECK(r["value"].get<double>() == Approx(p.readings()[k].value).margin(0.0005));
    CHECK(r["z"].get<double>() == Approx(p.readings()[k].z).margin(0.005));
  }
  REQUIRE(j["signature_words"].is_array());
  const auto sig = p.signature_words();
  REQUIRE(j["signature_words"].size() == sig.size());
  for (std::size_t i = 0; i < sig.size(); ++i) {
    CHECK(j["signature_words"][i]["word"] == sig[i].first);
    CHECK(j["signature_words"][i]["weight"].get<double>() == sig[i].second);
  }
}

TEST_CASE("Profile::from_json rebuilds from the references and scores identically", "[voice]") {
  const Background& bg = real_background();
  const Profile& p = sailor();
  auto back = Profile::from_json(p.to_json(), bg);
  REQUIRE(back.ok());
  CHECK(back->name() == p.name());
  CHECK(back->references() == p.references());
  CHECK(back->to_json() == p.to_json());
  for (const std::string& c : {kSailorHeldOut, kNarratorHeldOut, first_words(kSailorHeldOut, 40)}) {
    require_same_score(score(*back, c), score(p, c));
  }
  // Through text, as a workflow passes it.
  auto reparsed = Profile::from_json(Json::parse(p.to_json().dump()), bg);
  REQUIRE(reparsed.ok());
  require_same_score(score(*reparsed, kSailorHeldOut), score(p, kSailorHeldOut));

  // Only name and references are read: the format may be absent, the statistics are not trusted.
  Json minimal = {{"name", "Hask"}, {"references", sailor_references()}};
  auto from_minimal = Profile::from_json(minimal, bg);
  REQUIRE(from_minimal.ok());
  require_same_score(score(*from_minimal, kSailorHeldOut), score(p, kSailorHeldOut));
  Json tampered = p.to_json();
  tampered["words"] = 5;
  tampered["features"] = Json::array();
  tampered["background"] = "0000000000000000";
  auto from_tampered = Profile::from_json(tampered, bg);
  REQUIRE(from_tampered.ok());
  CHECK(from_tampered->to_json() == p.to_json());

  // A profile follows a change of the background: read against another, it is rebuilt there.
  auto elsewhere = Profile::from_json(p.to_json(), synthetic_background());
  REQUIRE(elsewhere.ok());
  CHECK(elsewhere->to_json()["background"] == synthetic_background().fingerprint());
}

TEST_CASE("Profile::from_json refuses what is not a profile, naming the field", "[voice]") {
  const Background& bg = real_background();
  const Json good = sailor().to_json();
  struct Row {
    const char* what;
    Json j;
    const char* mentions;
  };
  Json wrong_format = good;
  wrong_format["format"] = "loom.voice.profile/2";
  Json numeric_format = good;
  numeric_format["format"] = 1;
  Json no_name = good;
  no_name.erase("name");
  Json number_name = good;
  number_name["name"] = 7;
  Json no_refs = good;
  no_refs.erase("references");
  Json refs_text = good;
  refs_text["references"] = "a single text";
  Json refs_object = good;
  refs_object["references"] = Json{{"a", "b"}};
  Json refs_number = good;
  refs_number["references"].push_back(3);
  Json refs_null = good;
  refs_null["references"].push_back(nullptr);
  const std::vector<Row> rows = {
      {"an array", Json::array({good}), "expected an object"},
      {"a string", Json("Hask"), "expected an object"},
      {"null", Json(nullptr), "expected an object"},
      {"wrong format", wrong_format, "loom.voice.profile/2"},
      {"a numeric format", numeric_format, "format"},
      {"no name", no_name, "`name`"},
      {"a number for a name", number_name, "`name`"},
      {"no references", no_refs, "`references`"},
      {"references a text", refs_text, "`references`"},
      {"references an object", refs_object, "`references`"},
      {"a number among the references", refs_number, "only texts"},
      {"a null among the references", refs_null, "only texts"},
  };
  for (const Row& row : rows) {
    INFO(row.what);
    auto r = Profile::from_json(row.j, bg);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::kBadArgument);
    CHECK(contains(r.error().message, "not a voice profile"));
    CHECK(contains(r.error().message, row.mentions));
  }
  // Well-formed but too little to be a voice, or nameless: Profile::build's kInvalidValue.
  auto thin = Profile::from_json(Json{{"name", "Hask"}, {"references", {"Too short."}}}, bg);
  REQUIRE_FALSE(thin.ok());
  CHECK(thin.error().code == ErrorCode::kInvalidValue);
  auto nameless = Profile::from_json(Json{{"name", ""}, {"references", sailor_references()}}, bg);
  REQUIRE_FALSE(nameless.ok());
  CHECK(nameless.error().code == ErrorCode::kInvalidValue);
}

// ---------------------------------------------------------------- scores

TEST_CASE("score: a held-out passage of the same voice scores higher than another voice's", "[voice]") {
  const Score sailor_own = score(sailor(), kSailorHeldOut);
  const Score sailor_other = score(sailor(), kNarratorHeldOut);
  const Score narrator_own = score(narrator(), kNarratorHeldOut);
  const Score narrator_other = score(narrator(), kSailorHeldOut);
  INFO("Hask: own " << sailor_own.score << ", narrator's " << sailor_other.score);
  INFO("Penhallow: own " << narrator_own.score << ", sailor's " << narrator_other.score);
  CHECK(sailor_own.score > sailor_other.score);
  CHECK(narrator_own.score > narrator_other.score);
  CHECK(sailor_own.score > 50);
  CHECK(narrator_own.score > 50);
  // The other voice is clearly apart: more than the two passages' uncertainties.
  CHECK(sailor_own.score - sailor_other.score > sailor_own.uncertainty + sailor_other.uncertainty);
  CHECK(narrator_own.score - narrator_other.score > narrator_own.uncertainty + narrator_other.uncertainty);
  // A reference passage itself is as close as it gets.
  CHECK(score(sailor(), sailor_references()[0]).score > sailor_own.score - sailor_own.uncertainty);
}

TEST_CASE("score with a cast: relative to the other voices, 50 between them", "[voice]") {
  const std::vector<Profile> cast_of_sailor = {narrator()};
  const Score own = score(sailor(), kSailorHeldOut, cast_of_sailor);
  const Score other = score(sailor(), kNarratorHeldOut, cast_of_sailor);
  INFO("own " << own.score << ", the narrator's " << other.score);
  CHECK(own.cast == 1);
  CHECK(other.cast == 1);
  CHECK(own.score > 50);
  // The narrator's passage is far closer to the narrator than to Hask: well under 50 with the cast.
  CHECK(other.score < 50);
  CHECK(other.score < score(sailor(), kNarratorHeldOut).score);
  // Without a cast nothing changes; the voice itself in its cast cancels out to 50.
  CHECK(score(sailor(), kSailorHeldOut).cast == 0);
  CHECK(score(sailor(), kSailorHeldOut, {sailor()}).score == Approx(50).margin(1e-9));
  // The evidence does not depend on the cast.
  REQUIRE(own.evidence.size() == score(sailor(), kSailorHeldOut).evidence.size());
  CHECK(own.evidence[0].text == score(sailor(), kSailorHeldOut).evidence[0].text);
}

TEST_CASE("rank with a cast puts the voice's own passage first", "[voice]") {
  const auto ranked = rank(narrator(), {kSailorHeldOut, kNarratorHeldOut}, {sailor()});
  REQUIRE(ranked.size() == 2);
  CHECK(ranked[0].candidate == 1);
  CHECK(ranked[0].score.cast == 1);
  CHECK(ranked[0].rank == 1);
  CHECK(ranked[1].rank == 2);
}

TEST_CASE("score: in [0, 100], confidence in [0, 1], for every kind of candidate", "[voice]") {
  std::string repeated;
  for (int i = 0; i < 100; ++i) repeated += "sea ";
  const std::vector<std::string> candidates = {
      kSailorHeldOut, kNarratorHeldOut, first_words(kSailorHeldOut, 5), "Yes.", "!!!", repeated,
      "\xE6\x9D\xB1\xE4\xBA\xAC\xE3\x81\xAF\xE9\x9B\xA8\xE3\x81\xA7\xE3\x81\x99\xE3\x80\x82", std::string("\xFF\xFE\xE2\x80", 4),
      join(synthetic_voices()[2])};
  for (const Profile* p : {&sailor(), &narrator()}) {
    for (const auto& c : candidates) {
      INFO(p->name() << " / " << c.substr(0, 40));
      const Score s = score(*p, c);
      CHECK(s.score >= 0);
      CHECK(s.score <= 100);
      CHECK(s.confidence >= 0);
      CHECK(s.confidence <= 1);
      CHECK(s.uncertainty >= 0);
      CHECK(std::isfinite(s.uncertainty));
      CHECK(s.evidence.size() <= 5);
    }
  }
}

TEST_CASE("score: a short candidate gets less confidence and more uncertainty", "[voice]") {
  const std::string long_text = kSailorHeldOut;
  const std::string short_text = first_words(kSailorHeldOut, 40);
  const Score l = score(sailor(), long_text);
  const Score s = score(sailor(), short_text);
  CHECK(l.words >= 300);
  CHECK(s.words == 40);
  CHECK(s.confidence < l.confidence);
  CHECK(s.uncertainty > l.uncertainty);
  CHECK(l.confidence > 0.5);
  CHECK(s.confidence > 0);
  // A thin profile (just over 100 words) lowers confidence too.
  auto thin = Profile::build("Hask", {first_words(sailor_references()[0], 110)}, real_background());
  REQUIRE(thin.ok());
  CHECK(score(*thin, long_text).confidence < l.confidence);
}

TEST_CASE("score: an empty candidate scores 0 with confidence 0 and says so", "[voice]") {
  for (const std::string& empty : {std::string(), std::string("   \n\t"), std::string("?! ... --")}) {
    INFO("[" << empty << "]");
    const Score s = score(sailor(), empty);
    CHECK(s.score == 0);
    CHECK(s.confidence == 0);
    CHECK(s.uncertainty == 0);
    CHECK(s.words == 0);
    REQUIRE(s.evidence.size() == 1);
    CHECK(s.evidence[0].feature == "words");
    CHECK(s.evidence[0].text == "the text has no words to compare");
    CHECK(s.evidence[0].z == 0);
  }
}

TEST_CASE("score: evidence is 3-5 reasons, largest first, naming the voice", "[voice]") {
  for (const std::string& c : {kSailorHeldOut, kNarratorHeldOut, first_words(kNarratorHeldOut, 120)}) {
    check_evidence(score(sailor(), c), "Hask");
    check_evidence(score(narrator(), c), "Penhallow");
  }
  // A voice far from the profile: the reasons pass 1.5 standard deviations and there are 5.
  const Score far = score(sailor(), kNarratorHeldOut);
  CHECK(far.evidence.size() == 5);
  for (const auto& e : far.evidence) CHECK(std::abs(e.z) >= 1.5);
  // The narrator's long sentences are said in words.
  const Evidence* sentences = evidence_on(far, "sentence_length");
  REQUIRE(sentences != nullptr);
  CHECK(sentences->z > 0);
  CHECK(sentences->text.rfind("sentences ", 0) == 0);
  // 50 words against 4: "sentences 12.5 times as long as Hask's (50 words against 4)".
  CHECK(contains(sentences->text, " times as long as Hask's ("));
}

TEST_CASE("score: the contraction evidence says 'no contractions' when the voice uses them", "[voice]") {
  const Score s = score(sailor(), kNarratorHeldOut);
  const Evidence* e = evidence_on(s, "contractions");
  REQUIRE(e != nullptr);
  INFO(e->text);
  CHECK(e->z < 0);
  CHECK(e->text.rfind("no contractions; Hask uses one every ", 0) == 0);
  CHECK(contains(e->text, " words"));

  // And the other way round: contractions where the voice has none.
  const Score n = score(narrator(), kSailorHeldOut);
  const Evidence* other = evidence_on(n, "contractions");
  REQUIRE(other != nullptr);
  INFO(other->text);
  CHECK(other->z > 0);
  CHECK(other->text.rfind("contractions (one every ", 0) == 0);
  CHECK(contains(other->text, "Penhallow uses none"));

  // A possessive name ending in s takes a bare apostrophe.
  auto james = Profile::build("James", sailor_references(), real_background());
  REQUIRE(james.ok());
  const Score j = score(*james, kNarratorHeldOut);
  for (const auto& ev : j.evidence) CHECK_FALSE(contains(ev.text, "James's"));
  const Evidence* js = evidence_on(j, "sentence_length");
  REQUIRE(js != nullptr);
  CHECK(contains(js->text, "as James' ("));
}

TEST_CASE("score_to_json: rounded numbers and the evidence", "[voice]") {
  const Score s = score(sailor(), kNarratorHeldOut);
  const Json j = score_to_json(s);
  CHECK(j.size() == 6);
  CHECK(j["score"].get<double>() == Approx(s.score).margin(0.005));
  CHECK(j["confidence"].get<double>() == Approx(s.confidence).margin(0.0005));
  CHECK(j["uncertainty"].get<double>() == Approx(s.uncertainty).margin(0.005));
  CHECK(j["words"] == s.words);
  REQUIRE(j["evidence"].size() == s.evidence.size());
  for (std::size_t i = 0; i < s.evidence.size(); ++i) {
    CHECK(j["evidence"][i]["feature"] == s.evidence[i].feature);
    CHECK(j["evidence"][i]["text"] == s.evidence[i].text);
    CHECK(j["evidence"][i]["z"].get<double>() == s.evidence[i].z);
  }
}

// ---------------------------------------------------------------- ranking

TEST_CASE("rank: best first; identical candidates tie; clearly different ones do not", "[voice]") {
  const std::vector<std::string> candidates = {kNarratorHeldOut, kSailorHeldOut, kSailorHeldOut};
  const auto ranked = rank(sailor(), candidates);
  REQUIRE(ranked.size() == 3);
  // The two identical sailor passages share rank 1 (competition ranking: the next is 3rd).
  CHECK(ranked[0].candidate == 1);  // a stable order among equals
  CHECK(ranked[1].candidate == 2);
  CHECK(ranked[2].candidate == 0);
  CHECK(ranked[0].rank == 1);
  CHECK(ranked[1].rank == 1);
  CHECK(ranked[0].tie);
  CHECK(ranked[1].tie);
  CHECK(ranked[2].rank == 3);
  CHECK_FALSE(ranked[2].tie);
  CHECK(bits(ranked[0].score.score) == bits(ranked[1].score.score));
  for (std::size_t i = 1; i < ranked.size(); ++i) CHECK(ranked[i - 1].score.score >= ranked[i].score.score);
  require_same_score(ranked[2].score, score(sailor(), kNarratorHeldOut));

  const auto apart = rank(sailor(), {kNarratorHeldOut, kSailorHeldOut});
  REQUIRE(apart.size() == 2);
  CHECK(apart[0].candidate == 1);
  CHECK(apart[0].rank == 1);
  CHECK(apart[1].rank == 2);
  CHECK_FALSE(apart[0].tie);
  CHECK_FALSE(apart[1].tie);

  const auto one = rank(sailor(), {kSailorHeldOut});
  REQUIRE(one.size() == 1);
  CHECK(one[0].rank == 1);
  CHECK_FALSE(one[0].tie);
  CHECK(rank(sailor(), {}).empty());
}

TEST_CASE("rank: the narrator's profile puts the narrator first", "[voice]") {
  const auto ranked = rank(narrator(), {kSailorHeldOut, first_words(kSailorHeldOut, 80), kNarratorHeldOut});
  REQUIRE(ranked.size() == 3);
  CHECK(ranked[0].candidate == 2);
  CHECK(ranked[0].rank == 1);
  CHECK_FALSE(ranked[0].tie);
}

TEST_CASE("ranked_to_json: each entry a score with candidate, rank and tie", "[voice]") {
  const auto ranked = rank(sailor(), {kNarratorHeldOut, kSailorHeldOut, kSailorHeldOut});
  const Json j = ranked_to_json(ranked);
  REQUIRE(j.is_array());
  REQUIRE(j.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) {
    INFO(j[i].dump());
    for (const char* key : {"score", "confidence", "uncertainty", "words", "evidence", "candidate", "rank", "tie"}) {
      CHECK(j[i].contains(key));
    }
    CHECK(j[i].size() == 9);
    CHECK(j[i]["candidate"] == ranked[i].candidate);
    CHECK(j[i]["rank"] == ranked[i].rank);
    CHECK(j[i]["tie"] == ranked[i].tie);
    CHECK(j[i]["evidence"].is_array());
  }
  CHECK(j[0]["tie"] == true);
  CHECK(j[2]["rank"] == 3);
  CHECK(ranked_to_json({}) == Json::array());
}

// ---------------------------------------------------------------- determinism

TEST_CASE("the same inputs give the same score bits twice", "[voice]") {
  const Background& bg = real_background();
  auto a = Profile::build("Hask", sailor_references(), bg);
  auto b = Profile::build("Hask", sailor_references(), bg);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  for (const std::string& c : {kSailorHeldOut, kNarratorHeldOut, first_words(kNarratorHeldOut, 33)}) {
    const Score first = score(*a, c);
    require_same_score(first, score(*a, c));
    require_same_score(first, score(*b, c));
    CHECK(score_to_json(first).dump() == score_to_json(score(*b, c)).dump());
  }
  CHECK(a->to_json().dump() == b->to_json().dump());
  const auto r1 = rank(*a, {kNarratorHeldOut, kSailorHeldOut});
  const auto r2 = rank(*b, {kNarratorHeldOut, kSailorHeldOut});
  CHECK(ranked_to_json(r1).dump() == ranked_to_json(r2).dump());
}
