// voice_fixtures.hpp — shared by the voice tests: the real background (build/voice/background.loomvb,
// made by tools/build --wasm, loaded once per process), a small synthetic background of seeded
// made-up voices for build and snapshot tests, and hand-written prose in two distinct voices.
#pragma once

#include <catch2/catch.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fakes/fake_host.hpp"
#include "loom/voice.hpp"

namespace loom::voice::test_fixtures {

// ---------------------------------------------------------------- the real background

/// The shipped background, or null with `why` saying what went wrong (loaded once per process).
inline std::shared_ptr<const Background> real_background_or_null(std::string* why = nullptr) {
  static std::string error;
  static const std::shared_ptr<const Background> bg = []() -> std::shared_ptr<const Background> {
    const std::string bytes = loom::test::read_source_file("build/voice/background.loomvb");
    if (bytes.empty()) {
      error = "build/voice/background.loomvb is missing or empty";
      return nullptr;
    }
    auto loaded = Background::load(bytes);
    if (!loaded) {
      error = "build/voice/background.loomvb does not load: " + loaded.error().message;
      return nullptr;
    }
    return std::make_shared<const Background>(std::move(*loaded));
  }();
  if (why) *why = error;
  return bg;
}

/// The shipped background; FAILs the test (not a skip: npm test builds it first) when it is missing.
inline std::shared_ptr<const Background> real_background_ptr() {
  std::string why;
  auto bg = real_background_or_null(&why);
  if (!bg) FAIL(why << " (" LOOM_SOURCE_DIR "/build/voice/background.loomvb): run tools/build --wasm to make it");
  return bg;
}
inline const Background& real_background() { return *real_background_ptr(); }

// ---------------------------------------------------------------- synthetic voices

/// splitmix64: the same numbers natively and in wasm (std:: distributions are not portable).
struct Rng {
  std::uint64_t state;
  explicit Rng(std::uint64_t seed) : state(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }
};

/// Made-up words of two or three syllables, all different.
inline std::vector<std::string> made_up_words(std::size_t n, std::uint64_t seed) {
  static const char* const kOnsets[] = {"b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z",
                                        "br", "st", "tr", "gl", "sh", "th", "ch", "pl", "kr", "dr"};
  static const char* const kVowels[] = {"a", "e", "i", "o", "u", "ai", "ou", "ee", "oa", "y"};
  static const char* const kCodas[] = {"", "", "n", "r", "s", "l", "m", "k", "nd", "st"};
  Rng rng(seed);
  std::vector<std::string> out;
  while (out.size() < n) {
    std::string w;
    const std::size_t syllables = 2 + rng.below(2);
    for (std::size_t s = 0; s < syllables; ++s) {
      w += kOnsets[rng.below(sizeof kOnsets / sizeof *kOnsets)];
      w += kVowels[rng.below(sizeof kVowels / sizeof *kVowels)];
      if (s + 1 == syllables) w += kCodas[rng.below(sizeof kCodas / sizeof *kCodas)];
    }
    bool seen = false;
    for (const auto& o : out) seen = seen || o == w;
    if (!seen) out.push_back(std::move(w));
  }
  return out;
}

/// One made-up voice's passage of `words` words: its own slice of the vocabulary (with common
/// English function words), its own sentence length, comma and question habits.
inline std::string synthetic_passage(std::size_t voice, std::size_t passage, std::size_t words) {
  static const std::vector<std::string> vocabulary = made_up_words(1200, 0x5EED);
  static const char* const kFunction[] = {"the", "a", "and", "of", "to", "in", "was", "he", "she", "it", "that", "with"};
  Rng rng(0xC0FFEE + voice * 1000003 + passage * 7919);
  const std::size_t slice = 40;  // 30 voices' slices do not overlap
  const std::size_t slice_begin = (voice * slice) % vocabulary.size();
  const std::size_t sentence_words = 4 + (voice * 7) % 23;  // 4..26 words, each voice its own
  const std::size_t function_every = 2 + voice % 4;
  std::string text;
  std::size_t in_sentence = 0;
  for (std::size_t i = 0; i < words; ++i) {
    std::string w = (i % function_every == 0) ? kFunction[(rng.below(12) + voice) % 12]
                                              : vocabulary[(slice_begin + rng.below(slice)) % vocabulary.size()];
    if (in_sentence == 0) w[0] = static_cast<char>(w[0] - 'a' + 'A');
    if (!text.empty()) text += ' ';
    text += w;
    ++in_sentence;
    const std::size_t length = sentence_words / 2 + rng.below(sentence_words + 1);
    if (in_sentence >= length || i + 1 == words) {
      text += (voice % 5 == 0 && rng.below(3) == 0) ? "?" : ".";
      in_sentence = 0;
    } else if (voice % 3 == 0 && rng.below(6) == 0) {
      text += ',';
    }
  }
  return text;
}

/// `voices` voices of `passages` passages of `words` words each.
inline std::vector<std::vector<std::string>> synthetic_voices(std::size_t voices = 30, std::size_t passages = 6,
                                                              std::size_t words = 250) {
  std::vector<std::vector<std::string>> out(voices);
  for (std::size_t v = 0; v < voices; ++v) {
    for (std::size_t p = 0; p < passages; ++p) out[v].push_back(synthetic_passage(v, p, words));
  }
  return out;
}

/// The background of synthetic_voices() (30 x 6 x 250), built once per process.
inline const Background& synthetic_background() {
  static const std::shared_ptr<const Background> bg = []() -> std::shared_ptr<const Background> {
    auto built = Background::build(synthetic_voices());
    if (!built) return nullptr;
    return std::make_shared<const Background>(std::move(*built));
  }();
  if (!bg) FAIL("Background::build of the synthetic voices failed");
  return *bg;
}

// ---------------------------------------------------------------- two voices, written for these tests

/// Hask: a terse old sailor — short sentences, contractions, "you", exclamations, no semicolons.
inline const std::vector<std::string>& sailor_references() {
  static const std::vector<std::string> refs = {
      "Wind's backing east. I don't like it. You can smell it on the water, can't you? Get the jib down. Now, "
      "lad! Don't stand there gawping. She's heeling hard and the lee rail's under. I've seen this before. Off "
      "Fastnet, it was. We lost a man. Good man, too. Hauled him out with a boathook but he'd gone. Sea doesn't "
      "care. Never has. You reef early or you don't reef at all. That's the rule. My old skipper said it and he's "
      "right. He's dead now. Drowned? No. Fell off a barstool in Cork. Funny, that. Grab the sheet. Hard in. "
      "Harder! There. Feel her settle? That's the boat talking. You listen to her, she'll tell you what's wrong. "
      "Don't listen, she'll kill you. Simple. Coffee's in the thermos. It's cold. Drink it anyway. We've got four "
      "hours to the headland and the tide's turning against us. I'll take the helm. You watch the compass. Call "
      "out if she wanders past two-seven-oh. Can't see the light yet. We will. Give it an hour. Keep your harness "
      "clipped on. I mean it. I'm not fishing you out of the Channel at night.",
      "Don't touch that. It's the bilge pump switch and it's fine. Leave it. What's that noise? Halyard slapping. "
      "Tie it off. No, the other one. Blue one. That's it. You're learning. Slow, but you're learning. Weather's "
      "coming round by morning, they say. They're wrong half the time. I'd trust my knees before the radio. Knees "
      "ache, rain's coming. Simple as that. We'll anchor in the cove tonight. Good holding, sand and weed. Drop "
      "the hook where I point. Not before. Let out five times the depth. Five! Not three. Chain's cheap. Boats "
      "aren't. Once we're set, I'll cook. Beans and bacon. You'll eat it and like it. Bottle of rum under the "
      "chart table. Don't tell the owner. He's a lawyer. Thinks a boat's a floating office. Brought a printer "
      "aboard last summer. A printer! Salt got in it by Tuesday. Threw it over the side myself. He didn't notice "
      "for a week. Hand me that line. Make a bowline. Faster. Again. Rabbit out the hole, round the tree, back "
      "down the hole. There. Now do it in the dark. You'll need to, one night. Everyone does.",
      "Fog's thick as porridge. Can't see the bow from here. Sound the horn every two minutes. One long blast. "
      "You hear an engine, you shout. Don't wait for me. I'm listening too. There's a trawler out there "
      "somewhere. Heard her an hour back. Big diesel. They don't watch their radar half the time, those boys. "
      "Asleep in the wheelhouse, most of them. Can't blame them. Hard life. Harder than this. Keep your eyes on "
      "the water, not on me. What's the depth? Twelve? Good. Call it again in a minute. We're creeping. Three "
      "knots, no more. If it drops under six, tell me straight off. Rocks along here. Old wreck too, the Margaret "
      "Ann. Went down in fifty-two with coal. You can see her boiler at low springs. Rusty old thing. Gulls sit "
      "on it. Depth? Ten. Fine. Easy now. I'll bring her round a touch. Hear that? Bell buoy. That's the channel "
      "mark. We're right where I said we'd be. Told you. Never doubt the dead reckoning. Pencil, chart, watch. "
      "That's all you need. Machines lie. The sea doesn't. Put the kettle on, would you? I'm frozen."};
  return refs;
}

/// A passage of Hask's that is not in the references.
inline const std::string kSailorHeldOut =
    "Right. Listen. We're leaving at four, before the tide turns. Don't be late. I won't wait. Bring your "
    "oilskins, both pairs of gloves, and that knife I gave you. Sharp? Good. Keep it that way. You'll want it if a "
    "line fouls the prop. Happened to me off Lundy. Took an hour to cut free. Hands like raw meat after. Wind's "
    "meant to be a four, gusting six. That's fine. She likes a six. Anything more and we'll tuck in a reef before "
    "we leave the harbour. Don't argue. I've heard all the arguments. Clever lads with books. They're still clever "
    "when they're wet and sick and crying for their mothers. I'm not clever. I'm alive. There's a difference. "
    "Check the fuel. Check the water. Check the flares. Dates on them, mind. Old flares won't light. Found that "
    "out the hard way, didn't I? Spent a night on a sandbank waving a torch at a ferry. Ferry didn't stop. "
    "Lifeboat came at dawn. Kind lads. Bought them a barrel. What else? Food. Sandwiches. None of that fancy "
    "stuff. Cheese and pickle. Lots of tea. You get cold out there, you don't notice till you're shaking. Then "
    "it's too late to be clever. Eat before you're hungry. Drink before you're thirsty. Reef before you're "
    "frightened. That's it. That's the whole of seamanship. Rest is just rope. One more thing. If I shout, you "
    "move. Don't ask why. Don't look round. Just move. Ask me after, in the pub, and I'll tell you the whole story "
    "twice. Last lad who asked questions in a squall got the boom across his ear. Didn't hear right for a month. "
    "He's a banker now. Says it's quieter. I'd not know. Never been in a bank that didn't want something off me. "
    "Go on, then. Bed. Alarm's at three. "
    "I'll knock if you sleep through it. Won't knock twice.";

/// The narrator: long formal sentences, semicolons, commas, no contractions.
inline const std::vector<std::string>& narrator_references() {
  static const std::vector<std::string> refs = {
      "It was, I believe, in the autumn of that year, when the leaves along the avenue had begun to assume those "
      "melancholy colours which the poets of my youth were so fond of describing, that I first became acquainted "
      "with the family whose fortunes I have undertaken to relate; and I confess that, had I known then how "
      "intimately my own affairs would become entangled with theirs, I should perhaps have declined the "
      "invitation which occasioned our meeting. The house itself was a large and somewhat irregular edifice, "
      "constructed at various periods by successive owners, each of whom had evidently considered it his duty to "
      "improve upon the taste of his predecessor; the result was a curious assemblage of wings, galleries and "
      "towers, which, though it could hardly be called beautiful, possessed a certain dignity that was not "
      "without its charm. Mrs. Ashcombe received me with a civility that was entirely proper, though it did not, "
      "I think, extend so far as warmth; her husband, who was considerably older than herself, was occupied with "
      "his correspondence, and did not appear until the evening, when he greeted me with a courtesy so elaborate "
      "that I was at first uncertain whether he intended it seriously or in jest.",
      "The conversation at dinner turned, as conversations in such houses invariably do, upon the subject of the "
      "neighbouring families, their alliances and their misfortunes; and I was obliged to listen, with as much "
      "appearance of interest as I could command, to a lengthy account of a dispute concerning the boundary of a "
      "certain meadow, which had apparently divided two households for the better part of a generation. Mr. "
      "Ashcombe related the history of this quarrel with considerable animation, pausing frequently to correct "
      "some trifling detail, or to appeal to his wife for confirmation of a date; she, for her part, supplied the "
      "required information with a patience that seemed to me admirable, though I observed that her eyes "
      "wandered more than once towards the window, beyond which the last light of the evening was slowly fading "
      "from the lawn. It was not until the ladies had withdrawn that I ventured to inquire after the son of the "
      "house, of whom I had heard a good deal in town; and I immediately perceived, from the manner in which my "
      "host received the question, that I had touched upon a matter which he would much rather have left "
      "undisturbed.",
      "I shall not attempt to describe in detail the events of the following week, which were, for the most "
      "part, of that ordinary and domestic character which affords little material to the historian; it will be "
      "sufficient to observe that the weather remained uncommonly fine, that the gentlemen occupied themselves "
      "with shooting, and that the ladies devoted their mornings to the pursuit of those accomplishments which "
      "are considered indispensable to persons of their station. For my own part, I spent a considerable portion "
      "of each day in the library, a long and rather gloomy apartment whose shelves contained, so far as I was "
      "able to judge, every volume of sermons published in the kingdom during the preceding century, together "
      "with a smaller and more interesting collection of travels and memoirs. It was there, upon the fourth or "
      "fifth morning of my visit, that I encountered Miss Ashcombe, the younger daughter of the family, who had "
      "come, as she somewhat hastily explained, in search of a particular book; and although our conversation on "
      "that occasion was neither long nor remarkable, I have since had reason to regard it as the true beginning "
      "of the history which I am now endeavouring to set down."};
  return refs;
}

/// A passage of the narrator's that is not in the references.
inline const std::string kNarratorHeldOut =
    "It would be tedious, and perhaps also improper, to repeat at length the various reflections which occupied "
    "my mind during the journey home; it is enough to say that I considered the matter from every side, and that "
    "I arrived, after much deliberation, at no conclusion whatever. The road, which in summer is agreeable enough, "
    "had been rendered almost impassable by the recent rains; and the coachman, a taciturn and elderly person who "
    "had served the family for many years, was obliged more than once to descend from his seat in order to lead "
    "the horses through some particularly treacherous stretch of mire. I observed these proceedings with that "
    "detached and somewhat languid interest which a traveller commonly bestows upon the difficulties of others, "
    "until it occurred to me that our progress, already slow, was likely to become slower still, and that we "
    "should in all probability be compelled to pass the night at the inn at Wexcombe, an establishment of which I "
    "had heard nothing but ill. This prospect, I confess, did not improve my temper; and when at length we "
    "arrived, some hours after dark, at the low and irregular building which bore that name, I was prepared to "
    "find fault with everything it contained. The landlord, however, proved to be a civil and obliging man, whose "
    "anxiety to please was so evident, and so entirely unaffected, that I could not long persist in my "
    "resentment; and the supper which he presently set before me, though plain, was excellent.";

/// The first `n` words of `text` (split at spaces), with a full stop at the end.
inline std::string first_words(const std::string& text, std::size_t n) {
  std::size_t pos = 0;
  for (std::size_t i = 0; i < n && pos != std::string::npos; ++i) {
    pos = text.find(' ', pos + (i ? 1 : 0));
  }
  std::string out = pos == std::string::npos ? text : text.substr(0, pos);
  while (!out.empty() && (out.back() == ',' || out.back() == ';')) out.pop_back();
  if (!out.empty() && out.back() != '.' && out.back() != '?' && out.back() != '!') out += '.';
  return out;
}

}  // namespace loom::voice::test_fixtures
