// agents.cpp — voice.profile, voice.score and voice.rank: workflow steps' arguments to loom::voice
// and back, shared by the agents and the bindings (the *_request functions).

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "loom/agent.hpp"
#include "loom/voice.hpp"

namespace loom::voice {
namespace {

constexpr const char* kVersion = "1";

Error bad(const std::string& message, const std::string& hint = "") {
  return make_error(ErrorCode::kBadArgument, message, hint);
}

Result<std::vector<std::string>> strings(const Json& args, const char* key) {
  std::vector<std::string> out;
  auto it = args.find(key);
  if (it == args.end() || it->is_null()) return out;
  if (!it->is_array()) return bad(std::string("'") + key + "' must be a list of texts");
  for (std::size_t i = 0; i < it->size(); ++i) {
    if (!(*it)[i].is_string()) return bad(std::string("'") + key + "[" + std::to_string(i) + "]' must be a text");
    out.push_back((*it)[i].get<std::string>());
  }
  return out;
}

Result<std::string> text_arg(const Json& args, const char* key, bool required) {
  auto it = args.find(key);
  if (it == args.end() || it->is_null()) {
    if (required) return bad(std::string("'") + key + "' is required");
    return std::string();
  }
  if (!it->is_string()) return bad(std::string("'") + key + "' must be a text");
  return it->get<std::string>();
}

Result<Profile> profile_arg(const Json& args, const Background& background) {
  auto it = args.find("profile");
  if (it == args.end() || it->is_null()) {
    return bad("'profile' is required", "pass a voice.profile step's output: profile: \"{{ steps.mara.output }}\"");
  }
  return Profile::from_json(*it, background);
}

// The optional cast: a list of profiles' JSON (voice.profile outputs).
Result<std::vector<Profile>> cast_arg(const Json& args, const Background& background) {
  std::vector<Profile> cast;
  auto it = args.find("cast");
  if (it == args.end() || it->is_null()) return cast;
  if (!it->is_array()) return bad("'cast' must be a list of profiles (voice.profile outputs)");
  for (std::size_t i = 0; i < it->size(); ++i) {
    auto p = Profile::from_json((*it)[i], background);
    if (!p) {
      Error e = p.error();
      e.message = "'cast[" + std::to_string(i) + "]': " + e.message;
      return e;
    }
    cast.push_back(std::move(*p));
  }
  return cast;
}

// UTF-16 code units in text[0, byte) — JavaScript string offsets.
std::size_t utf16_units(std::string_view text, std::size_t byte) {
  std::size_t units = 0;
  for (std::size_t i = 0; i < byte && i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if ((c & 0xC0) == 0x80) continue;
    units += c >= 0xF0 ? 2 : 1;
  }
  return units;
}

}  // namespace

Json dialogue_to_json(std::string_view text, const std::vector<Line>& lines) {
  Json out = Json::array();
  for (const auto& l : lines) {
    out.push_back({{"speaker", l.speaker}, {"text", l.text}, {"begin", utf16_units(text, l.begin)},
                   {"end", utf16_units(text, l.end)}, {"byte_begin", l.begin}, {"byte_end", l.end}});
  }
  return out;
}

Result<Json> profile_request(const Json& args, const Background& background) {
  if (!args.is_object()) return bad("the request must be an object {name, references?, text?, character?}");
  auto name = text_arg(args, "name", true);
  if (!name) return name.error();
  auto references = strings(args, "references");
  if (!references) return references.error();
  auto text = text_arg(args, "text", false);
  if (!text) return text.error();
  auto character = text_arg(args, "character", false);
  if (!character) return character.error();
  auto aliases = strings(args, "aliases");
  if (!aliases) return aliases.error();
  auto others = strings(args, "others");
  if (!others) return others.error();
  std::size_t lines = 0;
  if (!text->empty()) {
    if (character->empty()) {
      return bad("'text' needs 'character': whose lines to take from it", "add character: Mara (and aliases if any)");
    }
    // Every name the text's speakers go by: the others' too, so that the turns of an exchange
    // are told apart; only the character's (and aliases') lines are kept.
    std::vector<std::string> names = {*character};
    names.insert(names.end(), aliases->begin(), aliases->end());
    const std::size_t own = names.size();
    names.insert(names.end(), others->begin(), others->end());
    for (auto& line : extract_dialogue(*text, names)) {
      if (std::find(names.begin(), names.begin() + static_cast<std::ptrdiff_t>(own), line.speaker) ==
              names.begin() + static_cast<std::ptrdiff_t>(own) || line.speaker.empty()) {
        continue;
      }
      references->push_back(std::move(line.text));
      ++lines;
    }
  }
  auto profile = Profile::build(*name, std::move(*references), background);
  if (!profile) return profile.error();
  Json out = profile->to_json();
  if (!text->empty()) out["lines"] = lines;
  return out;
}

Result<Json> score_request(const Json& args, const Background& background) {
  auto profile = profile_arg(args, background);
  if (!profile) return profile.error();
  auto text = text_arg(args, "text", true);
  if (!text) return text.error();
  auto cast = cast_arg(args, background);
  if (!cast) return cast.error();
  Json out = score_to_json(score(*profile, *text, *cast));
  out["profile"] = profile->name();
  return out;
}

Result<Json> rank_request(const Json& args, const Background& background) {
  auto profile = profile_arg(args, background);
  if (!profile) return profile.error();
  auto it = args.find("candidates");
  if (it == args.end() || !it->is_array() || it->empty()) {
    return bad("'candidates' must be a non-empty list of texts or {label, text} objects");
  }
  // A null candidate is left out (a model of a comparison that did not answer); the ranking
  // names candidates by their place in the list given, and `skipped` lists the null ones.
  std::vector<std::string> texts, labels;
  std::vector<std::size_t> place;  // texts[k] is candidates[place[k]]
  Json skipped = Json::array();
  for (std::size_t i = 0; i < it->size(); ++i) {
    const Json& c = (*it)[i];
    if (c.is_null()) {
      skipped.push_back(i);
      continue;
    }
    if (c.is_string()) {
      texts.push_back(c.get<std::string>());
      labels.push_back("candidate " + std::to_string(i + 1));
    } else if (c.is_object() && c.contains("text") && c["text"].is_string()) {
      texts.push_back(c["text"].get<std::string>());
      labels.push_back(c.contains("label") && c["label"].is_string() ? c["label"].get<std::string>()
                                                                      : "candidate " + std::to_string(i + 1));
    } else {
      return bad("'candidates[" + std::to_string(i) + "]' must be a text or {label, text}");
    }
    place.push_back(i);
  }
  if (texts.empty()) return bad("every candidate is null: there is nothing to rank");
  auto cast = cast_arg(args, background);
  if (!cast) return cast.error();
  const std::vector<Ranked> ranked = rank(*profile, texts, *cast);
  Json ranking = ranked_to_json(ranked);
  for (auto& r : ranking) {
    const std::size_t k = r["candidate"].get<std::size_t>();
    r["label"] = labels[k];
    r["candidate"] = place[k];
  }
  Json best = nullptr;
  if (!ranked.empty() && !(ranked.size() > 1 && ranked[1].rank == ranked[0].rank)) best = place[ranked[0].candidate];
  return Json{{"profile", profile->name()}, {"ranking", std::move(ranking)}, {"best", best},
              {"best_label", best.is_null() ? Json(nullptr) : Json(labels[ranked[0].candidate])},
              {"skipped", std::move(skipped)}};
}

Status register_voice_agents(AgentRegistry& registry, std::shared_ptr<const Background> background) {
  const std::string version = background ? std::string(kVersion) + "+" + background->fingerprint() : kVersion;
  auto bind = [background](Result<Json> (*fn)(const Json&, const Background&)) {
    return [background, fn](const Json& args) -> Result<Json> {
      if (!background) {
        return make_error(ErrorCode::kBadArgument, "no voice background is loaded",
                          "the studio loads it with the Voice panel; the loom command reads build/voice/background.loomvb "
                          "(tools/build --wasm makes it) or --voice-background FILE");
      }
      return fn(args, *background);
    };
  };
  AgentSpec profile;
  profile.name = "voice.profile";
  profile.version = version;
  profile.description =
      "A voice profile from reference passages, or from a character's dialogue in manuscript text. Output: the "
      "profile {name, words, references, features, signature_words} for voice.score and voice.rank.";
  profile.params = {
      AgentParam{"name", InputType::kString, true, "the voice's name (a character, an author)"},
      AgentParam{"references", InputType::kList, false, "passages in the voice (texts)"},
      AgentParam{"text", InputType::kString, false, "manuscript text to take the character's lines from"},
      AgentParam{"character", InputType::kString, false, "whose lines to take from text"},
      AgentParam{"aliases", InputType::kList, false, "other names the character is attributed by"},
      AgentParam{"others", InputType::kList, false, "the other characters' names (tells the turns of an exchange apart)"}};
  profile.run = bind(&profile_request);

  AgentSpec scorer;
  scorer.name = "voice.score";
  scorer.version = version;
  scorer.description =
      "How close a passage is to a voice: score 0-100 (50 = an unrelated voice, 90 = the voice itself), confidence, "
      "uncertainty and evidence in plain words.";
  scorer.params = {AgentParam{"profile", InputType::kObject, true, "a voice.profile output"},
                   AgentParam{"text", InputType::kString, true, "the passage to score"},
                   AgentParam{"cast", InputType::kList, false, "other voices' profiles: score relative to them"}};
  scorer.run = bind(&score_request);

  AgentSpec ranker;
  ranker.name = "voice.rank";
  ranker.version = version;
  ranker.description =
      "Ranks candidates (texts or {label, text}, such as several models' drafts; null ones are skipped) by closeness to a voice; "
      "candidates within their uncertainty share a rank (tie). Output: {ranking, best, best_label}.";
  ranker.params = {AgentParam{"profile", InputType::kObject, true, "a voice.profile output"},
                   AgentParam{"candidates", InputType::kList, true, "texts or {label, text}"},
                   AgentParam{"cast", InputType::kList, false, "other voices' profiles: score relative to them"}};
  ranker.run = bind(&rank_request);

  for (AgentSpec* spec : {&profile, &scorer, &ranker}) {
    if (Status s = registry.set(std::move(*spec)); s.code != ErrorCode::kOk) return s;
  }
  return {};
}

}  // namespace loom::voice
