// `loom voice`: voice profiles and scores on files (loom/voice.hpp), and the background that
// `loom run` binds the voice.* agents to.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>
#include <vector>

#include "loom/agent.hpp"
#include "loom/voice.hpp"

namespace loom::cli {

/// The voice background: `explicit_path` when given, else $LOOM_VOICE_BACKGROUND, else
/// ../voice/background.loomvb next to the executable (build/voice/ for build/native-release/loom),
/// else build/voice/background.loomvb under the current folder. Errors say how to make one
/// (tools/build --wasm); exit code 2.
Result<voice::Background> open_voice_background(const std::string& explicit_path);

/// Binds voice.profile/score/rank to the background when one is found (an explicit path that
/// does not load is an error: returns its exit code); without one they keep failing with the
/// engine's message. Returns 0 on success.
int use_voice_background(AgentRegistry& agents, const std::string& explicit_path);

/// The `voice` subcommand: profile, score, rank, lines.
class VoiceCommand {
 public:
  explicit VoiceCommand(CLI::App& app);
  bool parsed() const { return voice_->parsed(); }
  int run();

 private:
  int profile(const voice::Background& bg);
  int score(const voice::Background& bg);
  int rank(const voice::Background& bg);
  int lines();

  CLI::App* voice_ = nullptr;
  CLI::App* profile_ = nullptr;
  CLI::App* score_ = nullptr;
  CLI::App* rank_ = nullptr;
  CLI::App* lines_ = nullptr;
  std::string background_;
  std::vector<std::string> files_;
  std::string name_;
  std::string character_;
  std::vector<std::string> aliases_;
  std::vector<std::string> others_;
  std::string out_;
  std::string profile_file_;
  std::vector<std::string> cast_files_;
  bool json_ = false;
};

}  // namespace loom::cli
