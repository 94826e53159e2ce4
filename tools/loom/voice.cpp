#include "voice.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "files.hpp"
#include "report.hpp"

namespace loom::cli {
namespace fs = std::filesystem;

namespace {

Error missing_background(const std::string& tried) {
  return make_error(ErrorCode::kBadArgument, "no voice background found (looked at " + tried + ")",
                    "run tools/build --wasm (it makes build/voice/background.loomvb), or pass --voice-background FILE");
}

std::string executable_dir() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : exe.parent_path().string();
}

Result<voice::Background> load_background_file(const std::string& path) {
  auto bytes = read_file(path);
  if (!bytes) return make_error(ErrorCode::kBadArgument, "cannot read the voice background " + path);
  auto bg = voice::Background::load(*bytes);
  if (!bg) {
    Error e = bg.error();
    e.message = path + ": " + e.message;
    return e;
  }
  return bg;
}

// Reads every file, or says which one could not be read.
Result<std::vector<std::string>> read_all(const std::vector<std::string>& files) {
  std::vector<std::string> out;
  for (const auto& f : files) {
    auto text = read_file(f);
    if (!text) return make_error(ErrorCode::kBadArgument, "cannot read " + f, "check the path");
    out.push_back(std::move(*text));
  }
  return out;
}

std::string bar(double z) {
  const int n = static_cast<int>(std::lround(std::min(std::abs(z), 4.0) * 3));
  std::string left(12, ' '), right(12, ' ');
  for (int i = 0; i < n; ++i) (z < 0 ? left[11 - i] : right[i]) = '#';
  return left + "|" + right;
}

std::string confidence_word(double c) { return c >= 0.7 ? "high" : c >= 0.4 ? "medium" : "low"; }

void print_score(const std::string& label, const Json& s) {
  std::printf("%s: %.0f / 100  (confidence %s %.2f, +/- %.0f, %lld words)\n", label.c_str(), s["score"].get<double>(),
              confidence_word(s["confidence"].get<double>()).c_str(), s["confidence"].get<double>(),
              s["uncertainty"].get<double>(), static_cast<long long>(s["words"].get<std::int64_t>()));
  for (const auto& e : s["evidence"]) std::printf("  - %s\n", e["text"].get<std::string>().c_str());
}

Result<Json> read_profile(const std::string& path) {
  auto text = read_file(path);
  if (!text) return make_error(ErrorCode::kBadArgument, "cannot read the profile " + path, "`loom voice profile` writes one");
  Json j = Json::parse(*text, nullptr, false);
  if (j.is_discarded()) return make_error(ErrorCode::kBadArgument, path + " is not JSON", "`loom voice profile` writes one");
  return j;
}

// The --cast profiles as a JSON list.
Result<Json> read_cast(const std::vector<std::string>& files) {
  Json cast = Json::array();
  for (const auto& f : files) {
    auto p = read_profile(f);
    if (!p) return p.error();
    cast.push_back(std::move(*p));
  }
  return cast;
}

}  // namespace

Result<voice::Background> open_voice_background(const std::string& explicit_path) {
  if (!explicit_path.empty()) return load_background_file(explicit_path);
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("LOOM_VOICE_BACKGROUND"); env && *env) return load_background_file(env);
  if (std::string dir = executable_dir(); !dir.empty()) candidates.push_back(dir + "/../voice/background.loomvb");
  candidates.push_back("build/voice/background.loomvb");
  std::string tried;
  for (const auto& c : candidates) {
    std::error_code ec;
    if (fs::exists(c, ec)) return load_background_file(fs::path(c).lexically_normal().string());
    tried += (tried.empty() ? "" : ", ") + fs::path(c).lexically_normal().string();
  }
  return missing_background(tried);
}

int use_voice_background(AgentRegistry& agents, const std::string& explicit_path) {
  auto bg = open_voice_background(explicit_path);
  if (!bg) return explicit_path.empty() ? 0 : fail(2, bg.error());
  voice::register_voice_agents(agents, std::make_shared<const voice::Background>(std::move(*bg)));
  return 0;
}

VoiceCommand::VoiceCommand(CLI::App& app) {
  voice_ = app.add_subcommand("voice", "Voice profiles and scores: does this passage sound like Mara?");
  voice_->require_subcommand(1);
  auto with_background = [this](CLI::App* sub) {
    sub->add_option("--voice-background", background_,
                    "the background file (default: $LOOM_VOICE_BACKGROUND, build/voice/background.loomvb)");
  };
  profile_ = voice_->add_subcommand("profile", "Build a voice profile from reference files (or a character's lines)");
  profile_->add_option("files", files_, "reference passages, or manuscript files with --character")->required();
  profile_->add_option("--name", name_, "the voice's name (default: --character, or the first file's name)");
  profile_->add_option("--character", character_, "take only this character's dialogue lines from the files");
  profile_->add_option("--alias", aliases_, "another name the character is attributed by (repeatable)")->allow_extra_args(false);
  profile_->add_option("--other", others_, "another character of the text: helps tell the turns apart (repeatable)")->allow_extra_args(false);
  profile_->add_option("-o,--out", out_, "where to write the profile (default: NAME.voice.json)");
  profile_->add_flag("--json", json_, "print the profile as JSON");
  with_background(profile_);

  score_ = voice_->add_subcommand("score", "Score passages against a profile (0-100, confidence, evidence)");
  score_->add_option("--profile,-p", profile_file_, "the profile (from `loom voice profile`)")->required();
  score_->add_option("files", files_, "the passages to score")->required();
  score_->add_option("--cast", cast_files_, "another voice's profile: score relative to them (repeatable)")->allow_extra_args(false);
  score_->add_flag("--json", json_, "print the scores as JSON");
  with_background(score_);

  rank_ = voice_->add_subcommand("rank", "Rank passages (such as several models' drafts) by closeness to a profile");
  rank_->add_option("--profile,-p", profile_file_, "the profile (from `loom voice profile`)")->required();
  rank_->add_option("files", files_, "the candidates")->required();
  rank_->add_option("--cast", cast_files_, "another voice's profile: score relative to them (repeatable)")->allow_extra_args(false);
  rank_->add_flag("--json", json_, "print the ranking as JSON");
  with_background(rank_);

  lines_ = voice_->add_subcommand("lines", "List the dialogue lines attributed to a character in manuscript files");
  lines_->add_option("files", files_, "manuscript files")->required();
  lines_->add_option("--character", character_, "the character")->required();
  lines_->add_option("--alias", aliases_, "another name the character goes by (repeatable)")->allow_extra_args(false);
  lines_->add_option("--other", others_, "another character of the text (repeatable)")->allow_extra_args(false);
  lines_->add_flag("--json", json_, "print the lines as JSON");
}

int VoiceCommand::run() {
  if (*lines_) return lines();
  auto bg = open_voice_background(background_);
  if (!bg) return fail(2, bg.error());
  if (*profile_) return profile(*bg);
  if (*score_) return score(*bg);
  if (*rank_) return rank(*bg);
  return 2;
}

int VoiceCommand::profile(const voice::Background& bg) {
  auto texts = read_all(files_);
  if (!texts) return fail(2, texts.error());
  std::string name = !name_.empty() ? name_ : !character_.empty() ? character_ : fs::path(files_[0]).stem().string();
  Json request = {{"name", name}};
  if (character_.empty()) {
    request["references"] = *texts;
  } else {
    std::string manuscript;
    for (const auto& t : *texts) manuscript += t + "\n\n";
    request["text"] = manuscript;
    request["character"] = character_;
    request["aliases"] = aliases_;
    request["others"] = others_;
  }
  auto profile = voice::profile_request(request, bg);
  if (!profile) return fail(1, profile.error());
  const std::string out = !out_.empty() ? out_ : name + ".voice.json";
  const std::string tmp = out + ".tmp" + std::to_string(::getpid());
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f << profile->dump(2) << "\n";
    if (!f.flush()) return fail(2, "cannot write " + out);
  }
  std::error_code ec;
  fs::rename(tmp, out, ec);
  if (ec) return fail(2, "cannot write " + out + ": " + ec.message());
  if (json_) {
    std::printf("%s\n", profile->dump(2).c_str());
    return 0;
  }
  std::printf("%s: %lld words", name.c_str(), static_cast<long long>((*profile)["words"].get<std::int64_t>()));
  if (profile->contains("lines")) std::printf(" in %zu dialogue lines", (*profile)["lines"].get<std::size_t>());
  std::printf(" -> %s\n\n  against the background (standard deviations; # = 1/3)\n", out.c_str());
  for (const auto& r : (*profile)["features"]) {
    std::printf("  %-20s %s %8.2f %s\n", r["label"].get<std::string>().c_str(), bar(r["z"].get<double>()).c_str(),
                r["value"].get<double>(), r["unit"].get<std::string>().c_str());
  }
  std::string words;
  for (const auto& w : (*profile)["signature_words"]) words += (words.empty() ? "" : ", ") + w["word"].get<std::string>();
  if (!words.empty()) std::printf("\n  signature words: %s\n", words.c_str());
  return 0;
}

int VoiceCommand::score(const voice::Background& bg) {
  auto profile = read_profile(profile_file_);
  if (!profile) return fail(2, profile.error());
  auto texts = read_all(files_);
  if (!texts) return fail(2, texts.error());
  auto cast = read_cast(cast_files_);
  if (!cast) return fail(2, cast.error());
  Json all = Json::array();
  for (std::size_t i = 0; i < texts->size(); ++i) {
    auto s = voice::score_request({{"profile", *profile}, {"text", (*texts)[i]}, {"cast", *cast}}, bg);
    if (!s) return fail(2, s.error());
    (*s)["file"] = files_[i];
    if (json_) all.push_back(*s);
    else print_score(files_[i], *s);
  }
  if (json_) std::printf("%s\n", all.dump(2).c_str());
  return 0;
}

int VoiceCommand::rank(const voice::Background& bg) {
  auto profile = read_profile(profile_file_);
  if (!profile) return fail(2, profile.error());
  auto texts = read_all(files_);
  if (!texts) return fail(2, texts.error());
  Json candidates = Json::array();
  for (std::size_t i = 0; i < texts->size(); ++i) candidates.push_back({{"label", files_[i]}, {"text", (*texts)[i]}});
  auto cast = read_cast(cast_files_);
  if (!cast) return fail(2, cast.error());
  auto r = voice::rank_request({{"profile", *profile}, {"candidates", candidates}, {"cast", *cast}}, bg);
  if (!r) return fail(2, r.error());
  if (json_) {
    std::printf("%s\n", r->dump(2).c_str());
    return 0;
  }
  for (const auto& c : (*r)["ranking"]) {
    std::printf("%d%s ", c["rank"].get<int>(), c["tie"].get<bool>() ? "=" : " ");
    print_score(c["label"].get<std::string>(), c);
  }
  if ((*r)["best"].is_null()) std::printf("\nno single best: the top candidates are within their uncertainty (a tie)\n");
  return 0;
}

int VoiceCommand::lines() {
  auto texts = read_all(files_);
  if (!texts) return fail(2, texts.error());
  std::vector<std::string> names = {character_};
  names.insert(names.end(), aliases_.begin(), aliases_.end());
  const std::size_t own = names.size();
  names.insert(names.end(), others_.begin(), others_.end());
  Json all = Json::array();
  std::size_t count = 0, words = 0;
  for (std::size_t i = 0; i < texts->size(); ++i) {
    for (const auto& line : voice::extract_dialogue((*texts)[i], names)) {
      if (std::find(names.begin(), names.begin() + static_cast<std::ptrdiff_t>(own), line.speaker) ==
          names.begin() + static_cast<std::ptrdiff_t>(own)) {
        continue;
      }
      ++count;
      words += static_cast<std::size_t>(voice::measure(line.text).words);
      if (json_) all.push_back({{"file", files_[i]}, {"speaker", line.speaker}, {"text", line.text}, {"byte_begin", line.begin}});
      else std::printf("%s: %s\n", line.speaker.c_str(), line.text.c_str());
    }
  }
  if (json_) std::printf("%s\n", all.dump(2).c_str());
  else std::fprintf(stderr, "%zu lines, %zu words\n", count, words);
  return 0;
}

}  // namespace loom::cli
