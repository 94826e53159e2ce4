// dialogue.cpp — a character's lines from manuscript text (voice::extract_dialogue): quoted speech
// with its attribution, and script lines ("MARA: We go tonight.").
//
// A hand-written scanner, linear in the text: lines, then paragraphs, then the quotation marks of
// each paragraph, then the words of the narration around the quotes. No regex, no recursion.
//
// The rules, in the order they apply:
// - Paragraphs: a blank line ends one. Inside a block of lines, an indented line (not the block's
//   first) begins a new paragraph (first-line indents); without indents, a block holding a line
//   longer than 100 code points, or any block of a text with no blank line at all, is one
//   paragraph per line (word processors' exports); otherwise the block is one hard-wrapped
//   paragraph.
// - Script lines: a line that begins (after any indent) with a name of `names` and a colon
//   ("MARA: ...", "Captain Ives (softly): ...") is a line of that character; the speech goes on
//   over the following lines until a blank line, the next speaker line or a stage direction
//   (a line wholly in (...) or [...], or one that begins with Enter, Exit or Exeunt). In a
//   script (at least two speaker lines naming characters of `names`), a name with a period
//   ("Mara. We go tonight.") and an unambiguous prefix of a name's first word ("Ham." for
//   Hamlet) are speaker lines too, and so are speakers not in `names` (one to three capitalized
//   words and a colon, or all-caps words and a period): their lines come back with speaker "",
//   and they end the previous speaker's speech. A leading "(aside)" or "[Aside]" is left out.
// - Quotation marks, chosen per text: double (" “ ” „) unless more paragraphs open with a single
//   mark (‘ or ') than with a double one, then single (British), where double marks are text.
//   An apostrophe between letters (don’t, Mara’s) is never a mark; in single mode a ’ after a
//   letter ("goin’", "the twins’") closes the quote only when no ’ after punctuation (",’ .’")
//   closes it later in the paragraph, and ' before tis, twas, em, cause, til, bout, round, n
//   opens nothing. A mark opens when it is not open yet; straight marks close by position
//   (a mark after a non-space, before a space or punctuation); a mark that looks like an opener
//   while a quote is open ends that quote there and opens a new one (a missing closing mark).
// - An unclosed quote ends at the end of its paragraph, unless the next paragraph begins with an
//   opening mark: then it goes on (a speech over several paragraphs is one utterance).
// - Attribution ("explicit"): a speech verb (said, asked, replied, ... and says, asks, ...; not
//   after a determiner or a possessive: "her whispers") among the first six words of the first
//   sentence after the quote, else the last such verb in the last sentence before it. Its subject
//   is the name (or he/she/they) right before it, skipping adverbs ("Mara said", "Captain Ives
//   quietly asked"), or the name right after a verb that opens its clause ("said Mara"); after
//   "and"/"but" or a clause break, the first name or pronoun of the nearest clause that has one
//   ("Mara turned to Ives and said"). A possessive
//   ("Mara's brother said") or any other noun ("the captain said") is someone else; "I said"
//   is the narrator (speaker "" but one voice in an exchange). A sentence after a quote that
//   ends with a comma or colon and leads into the next quote ("Ives said, “No.”") belongs to
//   that next quote.
// - Interrupted speech: "I know," said Mara, "but not yet." is ONE line: the first part ends
//   with a comma, dash or ellipsis (or the comma stands right after its closing mark, British
//   ‘I know’, said Mara, ‘...’), the narration between is one sentence that attributes it and
//   ends with a comma or dash. Its text is the parts joined by a space; begin/end span both.
// - A pronoun (he, she, they) stands for the name that begins its own sentence ("Mara turned,
//   and she said") or else the sentence before it ("Mara set down the cup. “Go,” she said."),
//   unless the name's gender says otherwise; else the line stays "". The gender is voted over
//   the whole text: a sentence that begins with the name followed by one that begins with "he"
//   or "she" ("Ives came in. He was soaked."); the majority wins, a tie says nothing.
// - A quote without attribution takes, in order: the name (or "I": the narrator) that begins
//   the sentence right before it, or else right after it, when that sentence has no speech verb
//   (an action beat: "Ives handed Mara the cup. “Drink.”"); the speaker of the quote before or
//   after it in the paragraph when only attribution sentences stand between them ("“Go,” said
//   Mara. “Now.”"); when no quote of the paragraph has a speaker, the only character who begins
//   a sentence of its narration (or follows a leading "Then", "And" ...) outside attribution
//   sentences ("Mara set down the cup. “Ives, we go tonight.”"); a name that is only mentioned
//   ("Ives handed Mara the cup") does not count, so a speaker missing from `names` is not
//   mistaken for the one listed.
// - Characters the caller did not list: a word written with a capital inside a sentence
//   anywhere in the narration ("Mara and Rachel drove home") is a name. A beat that begins with
//   one ("Rachel came closer. “...”") makes the quote someone else's (speaker "", and the
//   exchange stops alternating), and a paragraph where one is a subject gets no only-name
//   speaker.
// - Alternating turns: in a run of consecutive paragraphs with quotes (one turn each), a turn
//   with no attribution at all takes the speaker of the turn two before it when the turn just
//   before it was someone else (or "he"/"she"), and failing that of the turn two after it; never
//   a voice the turn's own beats contradict (sentences that begin with "he" or "she", checked
//   against the gender; any of them rules out the narrator). A "he said" / "she said" turn
//   takes its place in the alternation too, but only for a voice known to be a he (a she). The run
//   ends at a paragraph without quotes; alternation stops for the rest of the run when a third
//   speaker, an unnamed speaker ("the captain said") or a paragraph with two speakers appears.
// - A word or title quoted mid-sentence (no punctuation at its end, a word right before the
//   opening mark, at most three words or a lowercase start, no attribution: the word “tonight”,
//   the two “Rogers”) is returned with speaker "" and is narration for the exchange.
// - Names: each string of `names` as given (aliases are extra names), matched as whole words,
//   case-insensitively (ASCII, Latin-1, Latin Extended-A, Greek, Cyrillic) except that a word
//   given with a capital must be written with one ("MARA" and "Mara" are Mara, "will" is not
//   Will), longest first; its words may be written with any spaces or a hyphen between them.
//   A possessive ("Mara's") is a mention for the beat rules, never the speaker of "Mara's
//   brother said".

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "loom/voice.hpp"

namespace loom::voice {

namespace {

// ---------------------------------------------------------------- UTF-8 and character classes

constexpr char32_t kBad = 0xFFFFFFFF;  // a byte that is not part of valid UTF-8
constexpr std::size_t kNpos = std::string_view::npos;

struct Cp {
  char32_t c = kBad;
  std::size_t len = 1;
};

// The code point at s[i] (strict: no overlong forms, surrogates or values past U+10FFFF); an
// invalid byte is kBad of length 1, so a scanner always moves on.
Cp decode(std::string_view s, std::size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return {b0, 1};
  std::size_t len = 0;
  char32_t c = 0, min = 0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2, c = b0 & 0x1F, min = 0x80;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3, c = b0 & 0x0F, min = 0x800;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4, c = b0 & 0x07, min = 0x10000;
  } else {
    return {};
  }
  if (i + len > s.size()) return {};
  for (std::size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return {};
    c = (c << 6) | (b & 0x3F);
  }
  if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return {};
  return {c, len};
}

// The code point that ends at s[i] (i > lo), not looking before lo.
Cp decode_before(std::string_view s, std::size_t i, std::size_t lo) {
  std::size_t j = i - 1;
  for (int steps = 0; j > lo && steps < 3 && (static_cast<unsigned char>(s[j]) & 0xC0) == 0x80;
       ++steps) {
    --j;
  }
  const Cp cp = decode(s, j);
  if (cp.c != kBad && j + cp.len == i) return cp;
  return {};
}

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

// `s` with every invalid byte replaced by U+FFFD: a Line's text can always go into JSON.
void append_valid(std::string& out, std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const Cp cp = decode(s, i);
    if (cp.c == kBad) {
      out += "\xEF\xBF\xBD";
    } else {
      out.append(s.substr(i, cp.len));
    }
    i += cp.len;
  }
}

bool is_space(char32_t c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' || c == 0xA0 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000 || c == 0xFEFF;
}

// Letters, digits and marks of any script: everything but spaces, ASCII and Latin-1
// punctuation, the general punctuation and symbol blocks, CJK punctuation and emoji.
bool is_word(char32_t c) {
  if (c < 0x80) return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
  if (c == kBad) return false;
  if (c <= 0xBF) return c == 0xAA || c == 0xB5 || c == 0xBA;
  if (c == 0xD7 || c == 0xF7) return false;
  if (c >= 0x2000 && c <= 0x2BFF) return false;
  if (c >= 0x3000 && c <= 0x303F) return false;
  if (c >= 0xFE30 && c <= 0xFE6F) return false;
  if ((c >= 0xFF01 && c <= 0xFF0F) || (c >= 0xFF1A && c <= 0xFF20) ||
      (c >= 0xFF3B && c <= 0xFF40) || (c >= 0xFF5B && c <= 0xFF65)) {
    return false;
  }
  if (c >= 0xFFF0 && c <= 0xFFFF) return false;
  if (c >= 0x1F000 && c <= 0x1FAFF) return false;
  return !is_space(c);
}

bool is_apostrophe(char32_t c) { return c == '\'' || c == 0x2019 || c == 0x02BC; }

// Simple case folding for the scripts most manuscripts use; other letters stay as they are.
char32_t fold(char32_t c) {
  if (c < 0x80) return (c >= 'A' && c <= 'Z') ? c + 32 : c;
  if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 32;
  if (c >= 0x100 && c <= 0x17F) {
    if (c == 0x130) return 'i';
    if (c == 0x178) return 0xFF;
    if ((c <= 0x137 || (c >= 0x14A && c <= 0x177)) && c % 2 == 0) return c + 1;
    if (((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) && c % 2 == 1) return c + 1;
    return c;
  }
  if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) return c + 32;
  if (c == 0x3C2) return 0x3C3;  // final sigma
  if (c >= 0x410 && c <= 0x42F) return c + 32;
  if (c >= 0x400 && c <= 0x40F) return c + 80;
  if (c == 0x2019 || c == 0x02BC) return '\'';
  return c;
}

bool is_upper(char32_t c) { return fold(c) != c && c != 0x2019 && c != 0x02BC; }

// A lowercase letter of the scripts fold() knows.
bool is_lower(char32_t c) {
  if (c < 0x80) return c >= 'a' && c <= 'z';
  if (c >= 0xDF && c <= 0xFF) return c != 0xF7;
  if (c >= 0x100 && c <= 0x17F) return !is_upper(c);
  if (c >= 0x3AC && c <= 0x3CE) return true;
  return c >= 0x430 && c <= 0x45F;
}

bool is_sentence_end(char32_t c) {
  return c == '.' || c == '!' || c == '?' || c == 0x2026 || c == 0x203D;
}

bool is_clause_mark(char32_t c) {
  return c == ',' || c == ';' || c == ':' || c == 0x2014 || c == 0x2013 || c == '(' || c == ')' ||
         c == '[' || c == ']';
}

bool is_dash(char32_t c) { return c == 0x2014 || c == 0x2013 || c == '-' || c == 0x2012; }

// ---------------------------------------------------------------- words

struct Word {
  std::size_t begin = 0;  // bytes of the word as written; a possessive 's is outside [begin, end)
  std::size_t end = 0;
  std::string key;  // case-folded, apostrophes as '
  bool possessive = false;
  bool lower = false;           // begins with a lowercase letter
  bool capital = false;         // ... with a capital
  bool sentence_start = false;  // the first word after . ! ? … (or of its stretch of narration)
  bool clause_start = false;    // ... or after , ; : — – ( ) [ ]
  int name = -1;                // a name whose words start here (index into `names`)
  int name_words = 0;
  int in_name = -1;  // the word where the name this word belongs to starts
  int segment = 0;   // which stretch of narration it is in
};

bool is_title(std::string_view key) {
  static constexpr std::string_view kTitles[] = {"mr",   "mrs", "ms", "dr",  "st",   "prof",
                                                 "capt", "sgt", "lt", "col", "gen",  "rev",
                                                 "fr",   "sr",  "jr", "mme", "mlle", "messrs"};
  return std::find(std::begin(kTitles), std::end(kTitles), key) != std::end(kTitles);
}

// Appends the words of text[b, e) to `out`; the first one starts a sentence.
void tokenize(std::string_view text, std::size_t b, std::size_t e, int segment,
              std::vector<Word>& out) {
  const std::string_view v = text.substr(0, e);
  bool sentence = true, clause = true;
  const std::size_t first = out.size();
  for (std::size_t i = b; i < e;) {
    const Cp cp = decode(v, i);
    if (!is_word(cp.c)) {
      if (is_sentence_end(cp.c)) {
        // "Mr. Ives" does not end a sentence.
        const bool title = cp.c == '.' && out.size() > first && out.back().end == i &&
                           !out.back().possessive && is_title(out.back().key);
        if (!title) sentence = clause = true;
      } else if (is_clause_mark(cp.c)) {
        clause = true;
      }
      i += cp.len;
      continue;
    }
    Word w;
    w.begin = i;
    w.lower = is_lower(cp.c);
    w.capital = is_upper(cp.c);
    w.sentence_start = sentence;
    w.clause_start = clause;
    w.segment = segment;
    sentence = clause = false;
    std::size_t j = i, last_apostrophe = kNpos;
    while (j < e) {
      const Cp d = decode(v, j);
      if (is_word(d.c)) {
        append_utf8(w.key, fold(d.c));
        j += d.len;
        continue;
      }
      if (is_apostrophe(d.c) && j + d.len < e && is_word(decode(v, j + d.len).c)) {
        last_apostrophe = j;
        w.key += '\'';
        j += d.len;
        continue;
      }
      break;
    }
    w.end = j;
    if (last_apostrophe != kNpos && w.key.size() > 2 &&
        w.key.compare(w.key.size() - 2, 2, "'s") == 0 &&
        j == last_apostrophe + decode(v, last_apostrophe).len + 1) {
      w.key.resize(w.key.size() - 2);
      w.end = last_apostrophe;
      w.possessive = true;
    }
    out.push_back(std::move(w));
    i = j;
  }
}

// ---------------------------------------------------------------- names

struct Name {
  std::vector<std::string> keys;  // its words, folded
  std::vector<std::string> gaps;  // what separates them besides spaces ("" or "." ...)
  std::vector<bool> capital;      // whether each word was given with a capital
};

std::string_view trim_spaces(std::string_view s) {
  std::size_t b = 0, e = s.size();
  while (b < e) {
    const Cp cp = decode(s, b);
    if (!is_space(cp.c)) break;
    b += cp.len;
  }
  while (e > b) {
    const Cp cp = decode_before(s, e, b);
    if (!is_space(cp.c)) break;
    e -= cp.len;
  }
  return s.substr(b, e - b);
}

bool is_hyphen_gap(std::string_view g) {
  return g.empty() || g == "-" || g == "\xE2\x80\x90" || g == "\xE2\x80\x91";
}

class Names {
 public:
  explicit Names(const std::vector<std::string>& names) {
    names_.resize(names.size());
    std::vector<Word> words;
    for (std::size_t n = 0; n < names.size(); ++n) {
      words.clear();
      tokenize(names[n], 0, names[n].size(), 0, words);
      if (words.empty()) continue;
      Name& name = names_[n];
      for (std::size_t k = 0; k < words.size(); ++k) {
        name.keys.push_back(words[k].key);
        name.capital.push_back(!words[k].lower);
        if (k > 0) {
          std::string_view gap = trim_spaces(std::string_view(names[n]).substr(
              words[k - 1].end, words[k].begin - words[k - 1].end));
          name.gaps.emplace_back(is_hyphen_gap(gap) ? std::string_view() : gap);
        }
      }
      bool duplicate = false;
      auto& list = first_[name.keys.front()];
      for (int other : list) duplicate = duplicate || names_[other].keys == name.keys;
      if (!duplicate) list.push_back(static_cast<int>(n));
    }
    for (auto& [key, list] : first_) {
      std::stable_sort(list.begin(), list.end(),
                       [&](int a, int b) { return names_[a].keys.size() > names_[b].keys.size(); });
    }
  }

  bool empty() const { return first_.empty(); }

  // The name whose words start at words[i] (the longest), not reaching past words[end - 1]:
  // {name index, word count}, or {-1, 0}.
  std::pair<int, int> match(std::string_view text, const std::vector<Word>& words, std::size_t i,
                            std::size_t end) const {
    const auto it = first_.find(words[i].key);
    if (it == first_.end()) return {-1, 0};
    for (int n : it->second) {
      const Name& name = names_[n];
      const std::size_t len = name.keys.size();
      // "Will" is a name, "will" is not: a name given with a capital needs one (or all caps).
      if (i + len > end || (words[i].lower && name.capital[0])) continue;
      bool ok = true;
      for (std::size_t k = 1; k < len && ok; ++k) {
        const Word& a = words[i + k - 1];
        const Word& b = words[i + k];
        if (a.possessive || b.key != name.keys[k] || a.segment != b.segment ||
            (b.lower && name.capital[k])) {
          ok = false;
          break;
        }
        const std::string_view gap = trim_spaces(text.substr(a.end, b.begin - a.end));
        ok = name.gaps[k - 1].empty() ? is_hyphen_gap(gap) : gap == name.gaps[k - 1];
      }
      if (ok) return {n, static_cast<int>(len)};
    }
    return {-1, 0};
  }

  // The one name whose first word begins with `key` and is longer ("ham" -> Hamlet), or -1.
  int abbreviation(std::string_view key) const {
    if (key.size() < 2) return -1;
    int found = -1;
    for (std::size_t n = 0; n < names_.size(); ++n) {
      const auto& keys = names_[n].keys;
      if (keys.empty() || keys.front().size() <= key.size() ||
          keys.front().compare(0, key.size(), key) != 0) {
        continue;
      }
      if (found >= 0 && names_[found].keys != keys) return -1;
      if (found < 0) found = static_cast<int>(n);
    }
    return found;
  }

  // Whether `key` begins the first words of two different names ("mar": Mara, Marcellus).
  bool prefix_of_several(std::string_view key) const {
    const std::vector<std::string>* found = nullptr;
    for (const Name& name : names_) {
      if (name.keys.empty() || name.keys.front().compare(0, key.size(), key) != 0) continue;
      if (found && *found != name.keys) return true;
      found = &name.keys;
    }
    return false;
  }

  // Marks the names in words[b, e), longest first, left to right.
  void mark(std::string_view text, std::vector<Word>& words, std::size_t b, std::size_t e) const {
    if (first_.empty()) return;
    for (std::size_t i = b; i < e;) {
      const auto [n, len] = match(text, words, i, e);
      if (n < 0) {
        ++i;
        continue;
      }
      words[i].name = n;
      words[i].name_words = len;
      for (int k = 0; k < len; ++k) words[i + k].in_name = static_cast<int>(i);
      i += static_cast<std::size_t>(len);
    }
  }

 private:
  std::vector<Name> names_;  // parallel to the caller's names; a name without words has no keys
  std::unordered_map<std::string, std::vector<int>> first_;  // first word -> names, longest first
};

// ---------------------------------------------------------------- vocabulary

// Verbs that tag speech, past and present tense ("said", "says"), sorted once for lookups.
bool is_speech_verb(std::string_view w) {
  static const std::vector<std::string_view> kVerbs = [] {
    std::vector<std::string_view> v = {
        "accused",    "accuses",     "acknowledged", "acknowledges", "add",        "added",
        "adds",       "admits",      "admitted",     "advised",      "advises",    "agreed",
        "agrees",     "announced",   "announces",    "answer",       "answered",   "answers",
        "argued",     "argues",      "ask",          "asked",        "asks",       "assured",
        "assures",    "babbled",     "babbles",      "barked",       "barks",      "began",
        "begged",     "begins",      "begs",         "bellowed",     "bellows",    "blurted",
        "blurts",     "boomed",      "booms",        "breathed",     "breathes",   "call",
        "called",     "calls",       "cautioned",    "cautions",     "chirped",    "chirps",
        "chuckled",   "chuckles",    "coaxed",       "coaxes",       "commented",  "comments",
        "complained", "complains",   "conceded",     "concedes",     "concluded",  "concludes",
        "confessed",  "confesses",   "confirmed",    "confirms",     "continued",  "continues",
        "corrected",  "corrects",    "countered",    "cried",        "cries",      "croaked",
        "croaks",     "declared",    "declares",     "demanded",     "demands",    "drawled",
        "drawls",     "echoed",      "echoes",       "enquired",     "enquires",   "exclaimed",
        "exclaims",   "explained",   "explains",     "gasped",       "gasps",      "giggled",
        "giggles",    "groaned",     "groans",       "growled",      "growls",     "grumbled",
        "grumbles",   "grunted",     "grunts",       "hissed",       "hisses",     "inquired",
        "inquires",   "insisted",    "insists",      "instructed",   "instructs",  "interjected",
        "interjects", "interrupted", "interrupts",   "intoned",      "intones",    "joked",
        "jokes",      "laughed",     "laughs",       "moaned",       "moans",      "mumbled",
        "mumbles",    "murmured",    "murmurs",      "mused",        "muses",      "muttered",
        "mutters",    "noted",       "objected",     "observed",     "observes",   "offered",
        "offers",     "ordered",     "panted",       "persisted",    "persists",   "pleaded",
        "pleads",     "pressed",     "proclaimed",   "proclaims",    "promised",   "prompted",
        "protested",  "protests",    "purred",       "purrs",        "queried",    "quipped",
        "quips",      "rasped",      "rasps",        "reasoned",     "reassured",  "reassures",
        "recalled",   "recalls",     "remarked",     "reminded",     "reminds",    "repeated",
        "repeats",    "replied",     "replies",      "reply",        "responded",  "responds",
        "retorted",   "retorts",     "roared",       "roars",        "said",       "say",
        "says",       "scoffed",     "scoffs",       "scolded",      "scolds",     "screamed",
        "screams",    "shouted",     "shouts",       "shrieked",     "shrieks",    "sighed",
        "sighs",      "snapped",     "snaps",        "snarled",      "snarls",     "sneered",
        "sneers",     "sobbed",      "sobs",         "speaks",       "spoke",      "sputtered",
        "sputters",   "stammered",   "stammers",     "stated",       "stuttered",  "stutters",
        "suggested",  "suggests",    "taunted",      "taunts",       "teased",     "teases",
        "tell",       "tells",       "thundered",    "thunders",     "told",       "urged",
        "urges",      "ventured",    "ventures",     "volunteered",  "volunteers", "vowed",
        "vows",       "wailed",      "wails",        "warned",       "warns",      "wheezed",
        "wheezes",    "whimpered",   "whimpers",     "whined",       "whines",     "whispered",
        "whispers",   "wondered",    "wonders",      "yelled",       "yells",
    };
    std::sort(v.begin(), v.end());
    return v;
  }();
  return std::binary_search(kVerbs.begin(), kVerbs.end(), w);
}

// Words that may stand between a speaker and the verb: "Mara quietly said", "Ives then asked".
bool is_skippable(std::string_view w) {
  static constexpr std::string_view kWords[] = {"then",  "just", "also", "again", "still",  "now",
                                                "had",   "has",  "have", "would", "could",  "will",
                                                "never", "not",  "only", "even",  "finally"};
  if (std::find(std::begin(kWords), std::end(kWords), w) != std::end(kWords)) return true;
  return w.size() >= 4 && w.compare(w.size() - 2, 2, "ly") == 0;
}

bool is_determiner(std::string_view w) {
  static constexpr std::string_view kWords[] = {"the",   "a",     "an",   "his", "her",   "their",
                                                "my",    "your",  "our",  "its", "this",  "that",
                                                "these", "those", "some", "no",  "every", "whose"};
  return std::find(std::begin(kWords), std::end(kWords), w) != std::end(kWords);
}

bool is_conjunction(std::string_view w) {
  return w == "and" || w == "but" || w == "or" || w == "yet" || w == "so";
}

enum class Pronoun { kNone, kThird, kFirst, kOther };

Pronoun pronoun(std::string_view w) {
  if (w == "he" || w == "she" || w == "they") return Pronoun::kThird;
  if (w == "i") return Pronoun::kFirst;
  if (w == "we" || w == "you" || w == "it") return Pronoun::kOther;
  return Pronoun::kNone;
}

// ---------------------------------------------------------------- attribution

constexpr int kNoSpeaker = -1;
constexpr int kNarrator = -2;  // "I said": one voice in an exchange, returned as ""
constexpr int kSomeone = -3;   // a character the caller did not name

enum class Kind {
  kNone,      // nothing says who speaks
  kSpeaker,   // a name of `names`, or the narrator
  kPronoun,   // he, she, they: someone, not resolved
  kOther,     // "the captain said", "Mara's brother said", "we said"
  kConflict,  // (a turn only) two speakers in one paragraph
  kTerm,      // a quoted word or title inside a sentence: the “Rogers”, the word “go”
};

struct Attribution {
  Kind kind = Kind::kNone;
  int speaker = kNoSpeaker;
  std::size_t sentence_begin = 0;  // the words of the sentence that says it
  std::size_t sentence_end = 0;
  std::size_t pronoun = 0;  // the pronoun's word, for kPronoun
};

// What the narration tells about the characters, over the whole text: whether a name is "he" or
// "she" (a sentence that begins with the name and the next one with the pronoun, "Ives came in.
// He was soaked.", is a vote), and which capitalized words are names the caller did not list
// (a word written with a capital inside a sentence: "Rachel" in "Rachel and Scotty drove").
class Cast {
 public:
  explicit Cast(std::size_t names) : he_(names, 0), she_(names, 0) {}

  void observe(const std::vector<Word>& words) {
    for (std::size_t t = 0; t < words.size(); ++t) {
      const Word& w = words[t];
      if (!w.sentence_start && w.capital && w.in_name < 0 && w.key != "i") others_.insert(w.key);
      if (!w.sentence_start || w.name < 0) continue;
      std::size_t next = t + 1;
      while (next < words.size() && !words[next].sentence_start) ++next;
      if (next == words.size() || words[next].segment != w.segment) continue;
      if (words[next].key == "he") ++he_[static_cast<std::size_t>(w.name)];
      if (words[next].key == "she") ++she_[static_cast<std::size_t>(w.name)];
    }
  }

  // Whether the pronoun may stand for the name: false only against the name's known gender.
  bool agrees(int name, std::string_view pronoun) const {
    const int he = he_[static_cast<std::size_t>(name)], she = she_[static_cast<std::size_t>(name)];
    if (pronoun == "he") return he >= she;
    if (pronoun == "she") return she >= he;
    return true;
  }
  // Whether the name is known to be what the pronoun says (more votes for it than against).
  bool is(int name, std::string_view pronoun) const {
    const int he = he_[static_cast<std::size_t>(name)], she = she_[static_cast<std::size_t>(name)];
    return pronoun == "he" ? he > she : pronoun == "she" && she > he;
  }
  // Whether the word is a name, but none of the caller's.
  bool unlisted(const Word& w) const {
    return w.name < 0 && w.capital && others_.count(w.key) != 0;
  }

 private:
  std::vector<int> he_, she_;
  std::unordered_set<std::string> others_;
};

// ---------------------------------------------------------------- quotes

enum class Mark {
  kNone,
  kLeftDouble,
  kRightDouble,
  kStraightDouble,
  kLeftSingle,
  kRightSingle,
  kStraightSingle
};

Mark mark_of(char32_t c) {
  switch (c) {
    case 0x201C:
    case 0x201E:
    case 0x201F:
      return Mark::kLeftDouble;  // “ „ ‟
    case 0x201D:
      return Mark::kRightDouble;  // ”
    case '"':
      return Mark::kStraightDouble;
    case 0x2018:
    case 0x201A:
    case 0x201B:
      return Mark::kLeftSingle;  // ‘ ‚ ‛
    case 0x2019:
      return Mark::kRightSingle;  // ’
    case '\'':
      return Mark::kStraightSingle;
    default:
      return Mark::kNone;
  }
}

bool is_double(Mark m) {
  return m == Mark::kLeftDouble || m == Mark::kRightDouble || m == Mark::kStraightDouble;
}

bool is_single(Mark m) {
  return m == Mark::kLeftSingle || m == Mark::kRightSingle || m == Mark::kStraightSingle;
}

bool is_open_punct(char32_t c) {
  return c == '(' || c == '[' || c == '{' || c == '*' || c == '_' || c == '/' || is_dash(c) ||
         mark_of(c) != Mark::kNone;
}

// A mark in its paragraph: what stands on either side.
struct Flank {
  char32_t prev = kBad;  // kBad also when at the paragraph's edge
  char32_t next = kBad;
  bool has_prev = false, has_next = false;
  bool opener() const {
    return has_next && !is_space(next) && (!has_prev || is_space(prev) || is_open_punct(prev));
  }
  bool closer() const {
    return has_prev && !is_space(prev) && (!has_next || is_space(next) || !is_word(next));
  }
  bool inside_word() const { return has_prev && has_next && is_word(prev) && is_word(next); }
};

Flank flank(std::string_view text, std::size_t i, std::size_t len, std::size_t lo, std::size_t hi) {
  Flank f;
  if (i > lo) f.has_prev = true, f.prev = decode_before(text, i, lo).c;
  if (i + len < hi) f.has_next = true, f.next = decode(text.substr(0, hi), i + len).c;
  return f;
}

// ' before these is an elision ('tis, 'em, rock 'n' roll), not an opening mark.
bool elision_follows(std::string_view text, std::size_t i, std::size_t hi) {
  static constexpr std::string_view kElided[] = {"tis", "twas", "twere", "twill", "em", "cause",
                                                 "cos", "til",  "bout",  "round", "n",  "ere"};
  std::string w;
  std::size_t j = i;
  while (j < hi && w.size() <= 6) {
    const char c = text[j];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) break;
    w += static_cast<char>(c | 0x20);
    ++j;
  }
  if (j < hi && is_word(decode(text.substr(0, hi), j).c)) return false;
  return std::find(std::begin(kElided), std::end(kElided), w) != std::end(kElided);
}

struct Piece {
  std::size_t begin = 0, end = 0;
  const char* sep = "";  // what joins it to the piece before in the line's text
};

// One quoted stretch: from its opening mark to its closing one, possibly over paragraphs.
struct Quote {
  std::size_t mark_begin = 0;  // the opening mark
  std::size_t mark_end = 0;    // just after the closing mark (or where the quote stopped)
  std::vector<Piece> pieces;   // its text, one piece per paragraph, trimmed
  bool closed = false;
};

// Paragraphs linked by a speech that goes on from one to the next; usually one paragraph.
struct Unit {
  std::size_t begin = 0, end = 0;
  std::size_t first_para = 0, last_para = 0;
  bool after_break = false;  // a script passage stands between it and the paragraph before
  std::vector<Quote> quotes;
  // Filled by attribution:
  struct Utterance {
    std::size_t first = 0, last = 0;  // quotes[first..last]
    Attribution att;
  };
  std::vector<Utterance> utterances;
  Kind turn = Kind::kNone;
  int turn_speaker = kNoSpeaker;
  std::string_view beat_pronoun;  // the narration's sentences begin with "he", "she" or "both"
  std::string_view turn_pronoun;  // "he" or "she" when the turn is kPronoun
  bool dialogue = true;           // some quote is speech, not only quoted words
};

struct Para {
  std::size_t begin = 0, end = 0;
  bool after_break = false;
};

void add_piece(std::string_view text, Quote& q, std::size_t b, std::size_t e, const char* sep) {
  const std::string_view t = trim_spaces(text.substr(b, e - b));
  if (t.empty()) return;
  const std::size_t begin = static_cast<std::size_t>(t.data() - text.data());
  q.pieces.push_back({begin, begin + t.size(), q.pieces.empty() ? "" : sep});
}

class QuoteScanner {
 public:
  QuoteScanner(std::string_view text, bool single) : text_(text), single_(single) {}

  // The units of the paragraphs that hold quotes.
  std::vector<Unit> scan(const std::vector<Para>& paras) {
    std::vector<Unit> units;
    Unit unit;
    bool continuing = false;
    for (std::size_t p = 0; p < paras.size(); ++p) {
      const Para& para = paras[p];
      if (!continuing) {
        unit = Unit();
        unit.begin = para.begin;
        unit.first_para = p;
        unit.after_break = para.after_break;
      }
      lo_ = para.begin;
      hi_ = para.end;
      ahead_from_ = ahead_stop_ = kNpos;
      std::size_t i = para.begin;
      if (continuing) {
        i = skip_spaces(i);
        i += decode(text_, i).len;  // the repeated opening mark
        piece_begin_ = i;
      }
      while (i < hi_) {
        const Cp cp = decode(text_.substr(0, hi_), i);
        const Mark m = mark_of(cp.c);
        if ((single_ ? is_single(m) : is_double(m))) {
          if (single_) {
            single_mark(unit, m, i, cp.len);
          } else {
            double_mark(unit, m, i, cp.len);
          }
        }
        i += cp.len;
      }
      continuing = false;
      if (open_) {
        add_piece(text_, current_, piece_begin_, hi_, "\n");
        if (p + 1 < paras.size() && !paras[p + 1].after_break && opens_with_mark(paras[p + 1])) {
          continuing = true;
        } else {
          finish(unit, hi_, false);
        }
      }
      if (!continuing) {
        unit.end = para.end;
        unit.last_para = p;
        if (!unit.quotes.empty()) units.push_back(std::move(unit));
      }
    }
    return units;
  }

  // Whether the paragraph's first mark (if any) is single (+1) or double (-1) for the vote.
  static int vote(std::string_view text, const Para& para) {
    for (std::size_t i = para.begin; i < para.end;) {
      const Cp cp = decode(text.substr(0, para.end), i);
      const Mark m = mark_of(cp.c);
      if (m != Mark::kNone) {
        const Flank f = flank(text, i, cp.len, para.begin, para.end);
        switch (m) {
          case Mark::kLeftDouble:
            return -1;
          case Mark::kStraightDouble:
          case Mark::kRightDouble:
            if (f.opener()) return -1;
            break;
          case Mark::kLeftSingle:
            if (f.has_next && !is_space(f.next) && !f.inside_word()) return 1;
            break;
          case Mark::kStraightSingle:
            if (f.opener() && !f.inside_word() && !(f.next >= '0' && f.next <= '9') &&
                !elision_follows(text, i + 1, para.end)) {
              return 1;
            }
            break;
          default:
            break;
        }
      }
      i += cp.len;
    }
    return 0;
  }

 private:
  std::size_t skip_spaces(std::size_t i) const {
    while (i < hi_) {
      const Cp cp = decode(text_.substr(0, hi_), i);
      if (!is_space(cp.c)) break;
      i += cp.len;
    }
    return i;
  }

  bool opens_with_mark(const Para& para) const {
    std::size_t i = para.begin;
    while (i < para.end) {
      const Cp cp = decode(text_.substr(0, para.end), i);
      if (!is_space(cp.c)) {
        const Mark m = mark_of(cp.c);
        return single_ ? (m == Mark::kLeftSingle || m == Mark::kStraightSingle) : is_double(m);
      }
      i += cp.len;
    }
    return false;
  }

  void open(std::size_t i, std::size_t len) {
    current_ = Quote();
    current_.mark_begin = i;
    piece_begin_ = i + len;
    open_ = true;
  }

  // Ends the open quote at `at` (its closing mark ends at `mark_end`).
  void finish(Unit& unit, std::size_t mark_end, bool closed) {
    current_.mark_end = mark_end;
    current_.closed = closed;
    if (!current_.pieces.empty()) unit.quotes.push_back(std::move(current_));
    current_ = Quote();
    open_ = false;
  }

  void close(Unit& unit, std::size_t i, std::size_t len) {
    add_piece(text_, current_, piece_begin_, i, "\n");
    finish(unit, i + len, true);
  }

  // A missing closing mark: the open quote ends before this opening mark, which opens another.
  void restart(Unit& unit, std::size_t i, std::size_t len) {
    add_piece(text_, current_, piece_begin_, i, "\n");
    finish(unit, i, false);
    open(i, len);
  }

  void double_mark(Unit& unit, Mark m, std::size_t i, std::size_t len) {
    const Flank f = flank(text_, i, len, lo_, hi_);
    if (open_) {
      if (m == Mark::kRightDouble) {
        close(unit, i, len);
      } else if (m == Mark::kLeftDouble) {
        if (f.closer() && !f.opener()) {
          close(unit, i, len);
        } else {
          restart(unit, i, len);
        }
      } else if (f.closer()) {
        close(unit, i, len);
      } else if (f.opener()) {
        restart(unit, i, len);
      } else {
        close(unit, i, len);
      }
      return;
    }
    if (m == Mark::kLeftDouble) {
      open(i, len);
    } else if (m == Mark::kRightDouble) {
      if (f.opener() && !f.closer()) open(i, len);  // ” used for both marks
    } else if (!(f.closer() && !f.opener())) {
      open(i, len);
    }
  }

  void single_mark(Unit& unit, Mark m, std::size_t i, std::size_t len) {
    const Flank f = flank(text_, i, len, lo_, hi_);
    if (f.inside_word()) return;  // don’t, Mara’s
    if (!open_) {
      if (m == Mark::kLeftSingle) {
        if (f.has_next && !is_space(f.next)) open(i, len);
      } else if (m == Mark::kStraightSingle) {
        if (f.opener() && !(f.next >= '0' && f.next <= '9') &&
            !elision_follows(text_, i + len, hi_)) {
          open(i, len);
        }
      }
      return;  // a ’ outside a quote: goin’, the twins’, ’tis
    }
    if (m == Mark::kLeftSingle) {
      if (f.opener()) restart(unit, i, len);
      return;
    }
    if (!f.has_prev || is_space(f.prev)) {
      if (m == Mark::kStraightSingle && f.opener() && !elision_follows(text_, i + len, hi_)) {
        restart(unit, i, len);
      }
      return;
    }
    if (!is_word(f.prev)) {  // after punctuation: ,’ .’ ?’
      close(unit, i, len);
      return;
    }
    // After a letter: a closing mark, or an apostrophe (goin’) when a surer close comes later.
    if (!strong_close_ahead(i + len)) close(unit, i, len);
  }

  // Whether a ’ after punctuation comes later in the paragraph before any opening mark. Answers
  // are kept for the stretch scanned, so a paragraph is scanned once however many ’ it holds.
  bool strong_close_ahead(std::size_t from) {
    if (ahead_from_ != kNpos && from >= ahead_from_ && from < ahead_stop_) return ahead_result_;
    ahead_from_ = from;
    const std::string_view v = text_.substr(0, hi_);
    for (std::size_t j = from; j < hi_;) {
      const Cp cp = decode(v, j);
      const Mark m = mark_of(cp.c);
      if (is_single(m)) {
        const Flank f = flank(text_, j, cp.len, lo_, hi_);
        if (!f.inside_word()) {
          if (m == Mark::kLeftSingle ||
              (m == Mark::kStraightSingle && f.opener() && (!f.has_prev || is_space(f.prev)))) {
            ahead_stop_ = j, ahead_result_ = false;
            return false;
          }
          if (f.has_prev && !is_space(f.prev) && !is_word(f.prev)) {
            ahead_stop_ = j, ahead_result_ = true;
            return true;
          }
        }
      }
      j += cp.len;
    }
    ahead_stop_ = hi_, ahead_result_ = false;
    return false;
  }

  std::string_view text_;
  bool single_ = false;
  std::size_t lo_ = 0, hi_ = 0;  // the paragraph being scanned
  bool open_ = false;
  Quote current_;
  std::size_t piece_begin_ = 0;
  std::size_t ahead_from_ = kNpos, ahead_stop_ = kNpos;
  bool ahead_result_ = false;
};

// ---------------------------------------------------------------- attributing a unit

// The words of a unit's narration with their names, segment by segment: segment k is what
// stands before quote k, the last one what follows the last quote; segment k's words are
// words[seg[k], seg[k + 1]).
void narration_words(std::string_view text, const Unit& unit, const Names& names,
                     std::vector<Word>& words, std::vector<std::size_t>& seg) {
  const std::size_t n = unit.quotes.size();
  words.clear();
  seg.assign(n + 2, 0);
  for (std::size_t k = 0; k <= n; ++k) {
    const std::size_t b = k == 0 ? unit.begin : unit.quotes[k - 1].mark_end;
    const std::size_t e = k == n ? unit.end : unit.quotes[k].mark_begin;
    seg[k] = words.size();
    if (b < e) tokenize(text, b, e, static_cast<int>(k), words);
  }
  seg[n + 1] = words.size();
  names.mark(text, words, 0, words.size());
}

class Attributor {
 public:
  Attributor(std::string_view text, const Names& names, const Cast& cast, std::size_t name_count)
      : text_(text), names_(names), cast_(cast), seen_(name_count, false) {}

  void run(Unit& unit) {
    unit_ = &unit;
    const std::size_t n = unit.quotes.size();
    narration_words(text_, unit, names_, words_, seg_);
    count_unit_names();

    // Explicit attributions: after each quote, then before it.
    std::vector<Attribution> after(n), before(n);
    for (std::size_t k = 0; k < n; ++k) {
      after[k] = attribution_after(k);
      before[k] = attribution_before(k);
    }

    // Utterances: a quote, or the parts of an interrupted one.
    unit.utterances.clear();
    for (std::size_t k = 0; k < n; ++k) {
      if (!unit.utterances.empty()) {
        Unit::Utterance& last = unit.utterances.back();
        if (last.last + 1 == k && interrupted(k - 1, after[k - 1])) {
          if (last.first == last.last) last.att = after[k - 1];
          last.last = k;
          continue;
        }
      }
      Unit::Utterance u;
      u.first = u.last = k;
      unit.utterances.push_back(u);
    }
    for (auto& u : unit.utterances) {
      if (u.first != u.last) continue;  // attributed by the narration between its parts
      u.att = after[u.last].kind != Kind::kNone ? after[u.last] : before[u.first];
      if (u.att.kind == Kind::kNone && term(u.first)) u.att.kind = Kind::kTerm;
    }

    // Pronouns: the name that begins their sentence or the sentence before.
    for (auto& u : unit.utterances) {
      if (u.att.kind != Kind::kPronoun) continue;
      const int name = antecedent(u.att);
      if (name >= 0) u.att.kind = Kind::kSpeaker, u.att.speaker = name;
    }
    // Action beats right before or after the quote.
    for (auto& u : unit.utterances) {
      if (u.att.kind != Kind::kNone) continue;
      int beat = beat_before(u.first);
      if (beat == kNoSpeaker) beat = beat_after(u.last);
      if (beat == kSomeone) {
        u.att.kind = Kind::kOther;
      } else if (beat != kNoSpeaker) {
        u.att.kind = Kind::kSpeaker, u.att.speaker = beat;
      }
    }
    // The speaker of the quote before or after, when nothing but attributions stands between
    // them ("“Go,” said Mara. “Now.”"): a sentence of anything else may be someone else's beat.
    auto& utts = unit.utterances;
    for (std::size_t i = 1; i < utts.size(); ++i) {
      if (utts[i].att.kind == Kind::kNone && utts[i - 1].att.kind == Kind::kSpeaker &&
          only_attributions(utts[i - 1].last + 1, utts[i].first)) {
        utts[i].att = utts[i - 1].att;
      }
    }
    for (std::size_t i = utts.size(); i-- > 1;) {
      if (utts[i - 1].att.kind == Kind::kNone && utts[i].att.kind == Kind::kSpeaker &&
          only_attributions(utts[i - 1].last + 1, utts[i].first)) {
        utts[i - 1].att = utts[i].att;
      }
    }
    // The only name that is a subject in the narration, when no quote of the paragraph has a
    // speaker.
    bool attributed = false;
    for (const auto& u : utts) attributed = attributed || u.att.kind == Kind::kSpeaker;
    if (!attributed && distinct_.size() == 1 && !someone_) {
      for (auto& u : utts) {
        if (u.att.kind == Kind::kNone) u.att.kind = Kind::kSpeaker, u.att.speaker = distinct_[0];
      }
    }

    // Who acts in the narration, for the alternation: "She was frowning." is no line of his.
    unit.beat_pronoun = {};
    for (const Word& w : words_) {
      if (!w.sentence_start || (w.key != "he" && w.key != "she")) continue;
      const std::string_view p = w.key == "he" ? "he" : "she";
      unit.beat_pronoun = unit.beat_pronoun.empty() || unit.beat_pronoun == p ? p : "both";
    }

    // The paragraph as a turn of an exchange (unless it only quotes words).
    unit.turn = Kind::kNone;
    unit.turn_speaker = kNoSpeaker;
    unit.turn_pronoun = {};
    unit.dialogue = false;
    bool pronoun_turn = false, other_turn = false;
    for (const auto& u : unit.utterances) {
      unit.dialogue = unit.dialogue || u.att.kind != Kind::kTerm;
      if (u.att.kind == Kind::kSpeaker) {
        if (unit.turn_speaker != kNoSpeaker && unit.turn_speaker != u.att.speaker) {
          unit.turn = Kind::kConflict;
        } else if (unit.turn != Kind::kConflict) {
          unit.turn = Kind::kSpeaker;
          unit.turn_speaker = u.att.speaker;
        }
      }
      if (u.att.kind == Kind::kPronoun && !pronoun_turn) {
        const std::string& key = words_[u.att.pronoun].key;
        unit.turn_pronoun = key == "he" ? "he" : key == "she" ? "she" : "";
      }
      pronoun_turn = pronoun_turn || u.att.kind == Kind::kPronoun;
      other_turn = other_turn || u.att.kind == Kind::kOther;
    }
    if (unit.turn == Kind::kNone) {
      unit.turn = other_turn ? Kind::kOther : pronoun_turn ? Kind::kPronoun : Kind::kNone;
    }
    reset_counts();
  }

 private:
  // The words of segment k (the narration before quote k; segment n follows the last quote).
  std::size_t seg_begin(std::size_t k) const { return seg_[k]; }
  std::size_t seg_end(std::size_t k) const { return seg_[k + 1]; }

  // Whether words_[v] is a speech verb here: not part of a name, not a noun after a determiner
  // or a possessive ("her sighs", "Mara's whispers").
  bool verb_at(std::size_t v) const {
    if (words_[v].in_name >= 0 || !is_speech_verb(words_[v].key)) return false;
    if (v == 0 || words_[v].sentence_start) return true;
    const Word& before = words_[v - 1];
    return !before.possessive && !is_determiner(before.key);
  }

  bool name_ends_at(std::size_t j) const {
    const int start = words_[j].in_name;
    return start >= 0 && static_cast<std::size_t>(start + words_[start].name_words - 1) == j;
  }

  // Who says it: the subject of the speech verb words_[v] in the sentence words_[s, e).
  Attribution resolve(std::size_t s, std::size_t e, std::size_t v) const {
    Attribution a;
    a.sentence_begin = s;
    a.sentence_end = e;
    std::size_t j = v;
    bool clause_break = words_[v].clause_start;
    while (j > s && words_[j - 1].in_name < 0 && is_skippable(words_[j - 1].key)) {
      --j;
      clause_break = clause_break || words_[j].clause_start;
    }
    // Right before the verb: "Mara said", "Captain Ives quietly asked", "she said".
    if (j > s && !clause_break) {
      const Word& w = words_[j - 1];
      if (name_ends_at(j - 1)) {
        if (w.possessive) return with(a, Kind::kOther, kNoSpeaker);
        return with(a, Kind::kSpeaker, words_[w.in_name].name);
      }
      const Attribution p = from_pronoun(a, j - 1);
      if (p.kind != Kind::kNone) return p;
      if (!is_conjunction(w.key)) return with(a, Kind::kOther, kNoSpeaker);  // "the captain said"
    }
    // Right after a verb that opens its clause: "said Mara", "said she".
    if (j == s || clause_break) {
      if (v + 1 < e && words_[v + 1].name >= 0) {
        const std::size_t last = v + static_cast<std::size_t>(words_[v + 1].name_words);
        if (words_[last].possessive) return with(a, Kind::kOther, kNoSpeaker);
        return with(a, Kind::kSpeaker, words_[v + 1].name);
      }
      if (v + 1 < e) {
        const Attribution p = from_pronoun(a, v + 1);
        if (p.kind != Kind::kNone) return p;
      }
      if (j == s) return with(a, Kind::kOther, kNoSpeaker);  // "said the captain"
    }
    // "Mara turned to Ives and said": the first name or pronoun of the nearest clause with one.
    std::size_t end = j;
    while (end > s) {
      std::size_t c = end - 1;
      while (c > s && !words_[c].clause_start) --c;
      for (std::size_t t = c; t < end; ++t) {
        if (words_[t].name >= 0 && !words_[t + words_[t].name_words - 1].possessive) {
          return with(a, Kind::kSpeaker, words_[t].name);
        }
        const Attribution p = from_pronoun(a, t);
        if (p.kind != Kind::kNone) return p;
      }
      end = c;
    }
    return with(a, Kind::kOther, kNoSpeaker);
  }

  static Attribution with(Attribution a, Kind kind, int speaker) {
    a.kind = kind;
    a.speaker = speaker;
    return a;
  }

  Attribution from_pronoun(Attribution a, std::size_t word) const {
    switch (pronoun(words_[word].key)) {
      case Pronoun::kThird:
        a.pronoun = word;
        return with(a, Kind::kPronoun, kNoSpeaker);
      case Pronoun::kFirst:
        return with(a, Kind::kSpeaker, kNarrator);
      case Pronoun::kOther:
        return with(a, Kind::kOther, kNoSpeaker);
      default:
        return with(a, Kind::kNone, kNoSpeaker);
    }
  }

  // The end of the sentence that starts at words_[s], within [s, e).
  std::size_t sentence_end(std::size_t s, std::size_t e) const {
    std::size_t t = s + 1;
    while (t < e && !words_[t].sentence_start) ++t;
    return t;
  }
  // The start of the last sentence of [b, e) (e > b).
  std::size_t last_sentence(std::size_t b, std::size_t e) const {
    std::size_t s = e - 1;
    while (s > b && !words_[s].sentence_start) --s;
    return s;
  }

  // The last non-space code point of text_[b, e), or kBad.
  char32_t last_char(std::size_t b, std::size_t e) const {
    const std::string_view t = trim_spaces(text_.substr(b, e - b));
    if (t.empty()) return kBad;
    const std::size_t end = static_cast<std::size_t>(t.data() - text_.data()) + t.size();
    return decode_before(text_, end, b).c;
  }
  // Whether quote k's words stop mid-sentence: "I know," "I know—" "I know…", or ‘I know’,
  // with the comma after the closing mark (British).
  bool quote_continues(std::size_t k) const {
    const Quote& q = unit_->quotes[k];
    const Piece& p = q.pieces.back();
    const char32_t c = last_char(p.begin, p.end);
    if (c == ',' || is_dash(c) || c == 0x2026) return true;
    if (c == '.') return p.end - p.begin >= 3 && text_.substr(p.end - 3, 3) == "...";
    if (c == '!' || c == '?' || !q.closed || q.mark_end >= text_.size()) return false;
    const char32_t after = decode(text_, q.mark_end).c;
    return after == ',' || is_dash(after);
  }

  Attribution attribution_after(std::size_t k) const {
    const std::size_t b = seg_begin(k + 1), e = seg_end(k + 1);
    if (b == e) return {};
    const std::size_t end = sentence_end(b, e);
    for (std::size_t v = b; v < end && v < b + 6; ++v) {
      if (!verb_at(v)) continue;
      // "“Go.” Ives said, “No.”": a sentence leading into the next quote is that quote's.
      const bool next_quote = k + 1 < unit_->quotes.size();
      if (next_quote && end == e && !quote_continues(k)) {
        const char32_t c = last_char(unit_->quotes[k].mark_end, unit_->quotes[k + 1].mark_begin);
        if (c == ',' || c == ':' || is_dash(c)) return {};
      }
      return resolve(b, end, v);
    }
    return {};
  }

  Attribution attribution_before(std::size_t k) const {
    const std::size_t b = seg_begin(k), e = seg_end(k);
    if (b == e) return {};
    const std::size_t s = last_sentence(b, e);
    for (std::size_t v = e; v > s; --v) {
      if (verb_at(v - 1)) return resolve(s, e, v - 1);
    }
    return {};
  }

  // "I know," said Mara, "but not yet.": quote k stops mid-sentence, and the narration after it
  // is one sentence that attributes it and ends with a comma or a dash.
  bool interrupted(std::size_t k, const Attribution& att) const {
    if (k + 1 >= unit_->quotes.size() || att.kind == Kind::kNone || !quote_continues(k))
      return false;
    if (att.sentence_end != seg_end(k + 1)) return false;
    const char32_t c = last_char(unit_->quotes[k].mark_end, unit_->quotes[k + 1].mark_begin);
    return c == ',' || is_dash(c);
  }

  // Whether quote k is a word or a title quoted mid-sentence (the word “go”, the two “Rogers”,
  // on shore “the freed slaves”): no punctuation at its end, a word right before its opening
  // mark, and at most three words or a lowercase start.
  bool term(std::size_t k) const {
    const Quote& q = unit_->quotes[k];
    if (q.pieces.size() != 1 || q.mark_begin == 0) return false;
    const Piece& p = q.pieces.front();
    const char32_t last = last_char(p.begin, p.end);
    if (!is_word(last) && last != ')' && last != '\'') return false;
    int words = 1;
    for (std::size_t i = p.begin; i < p.end; ++i) words += text_[i] == ' ' ? 1 : 0;
    if (words > 3 && !is_lower(decode(text_, p.begin).c)) return false;
    return is_word(decode_before(text_, q.mark_begin, 0).c) ||
           (q.mark_begin >= 2 && text_[q.mark_begin - 1] == ' ' &&
            is_word(decode_before(text_, q.mark_begin - 1, 0).c));
  }

  // Whether every sentence of segments [from, to] holds a speech verb.
  bool only_attributions(std::size_t from, std::size_t to) const {
    for (std::size_t t = seg_[from]; t < seg_[to + 1];) {
      const std::size_t e = sentence_end(t, seg_[words_[t].segment + 1]);
      bool verb = false;
      for (std::size_t v = t; v < e && !verb; ++v) {
        verb = verb_at(v);
      }
      if (!verb) return false;
      t = e;
    }
    return true;
  }

  // The name that begins the sentence [s, e) when the sentence has no speech verb (kNarrator
  // for "I shrugged."), or kNoSpeaker;
  // kSomeone when it begins with a name the caller did not list ("Rachel came closer.").
  int beat(std::size_t s, std::size_t e) const {
    const Word& w = words_[subject(s, e)];
    const bool narrator = w.key == "i", someone = cast_.unlisted(w);
    if (w.name < 0 && !narrator && !someone) return kNoSpeaker;
    for (std::size_t t = s; t < e; ++t) {
      if (verb_at(t)) return kNoSpeaker;
    }
    return narrator ? kNarrator : someone ? kSomeone : w.name;
  }
  int beat_before(std::size_t k) const {
    const std::size_t b = seg_begin(k), e = seg_end(k);
    return b == e ? kNoSpeaker : beat(last_sentence(b, e), e);
  }
  int beat_after(std::size_t k) const {
    const std::size_t b = seg_begin(k + 1), e = seg_end(k + 1);
    return b == e ? kNoSpeaker : beat(b, sentence_end(b, e));
  }

  // The names that are the subjects of the narration's sentences: the sentence's first word (or
  // the one after "Then", "And" ...), in sentences that hold no speech verb ("he said to Madden"
  // names whom he speaks to). A name the sentence only mentions ("Ives handed Mara the cup")
  // may be anyone's listener, and the speaker may be a character the caller did not name.
  void count_unit_names() {
    for (std::size_t s = 0; s < words_.size();) {
      const std::size_t e = sentence_end(s, seg_[static_cast<std::size_t>(words_[s].segment) + 1]);
      bool verb = false;
      for (std::size_t t = s; t < e && !verb; ++t) {
        verb = verb_at(t);
      }
      const Word& w = words_[subject(s, e)];
      if (!verb && w.name >= 0 && !seen_[static_cast<std::size_t>(w.name)]) {
        seen_[static_cast<std::size_t>(w.name)] = true;
        distinct_.push_back(w.name);
      }
      someone_ = someone_ || (!verb && cast_.unlisted(w));
      s = e;
    }
  }
  void reset_counts() {
    for (int n : distinct_) seen_[static_cast<std::size_t>(n)] = false;
    distinct_.clear();
    someone_ = false;
  }

  // The word that is the subject of the sentence [s, e): its first, or the one after a leading
  // "Then", "And" ...
  std::size_t subject(std::size_t s, std::size_t e) const {
    const Word& w = words_[s];
    if (s + 1 < e && w.name < 0 && (is_skippable(w.key) || is_conjunction(w.key))) return s + 1;
    return s;
  }

  // Whom a pronoun stands for: the name that begins its sentence ("Mara turned, and she
  // said"), else the one that begins the sentence before, in this narration or in the one before
  // the quote ("Mara set down the cup. “Go,” she said."); never against the name's gender.
  int antecedent(const Attribution& a) const {
    const std::size_t s = a.sentence_begin;
    int name = -1;
    if (a.pronoun > subject(s, a.sentence_end)) {
      name = words_[subject(s, a.sentence_end)].name;
    } else {
      const int seg = words_[s].segment;
      const std::size_t b = seg_[static_cast<std::size_t>(seg)];
      if (s > b) {
        name = words_[subject(last_sentence(b, s), s)].name;
      } else if (seg > 0 && seg_[static_cast<std::size_t>(seg) - 1] < b) {
        const std::size_t pb = seg_[static_cast<std::size_t>(seg) - 1];
        name = words_[subject(last_sentence(pb, b), b)].name;
      }
    }
    if (name >= 0 && !cast_.agrees(name, words_[a.pronoun].key)) return -1;
    return name;
  }

  std::string_view text_;
  const Names& names_;
  Unit* unit_ = nullptr;
  std::vector<Word> words_;
  std::vector<std::size_t> seg_;
  const Cast& cast_;
  std::vector<bool> seen_;     // per name: named in the unit's narration
  std::vector<int> distinct_;  // those names
  bool someone_ = false;       // a character the caller did not list is a subject there
};

// Fills the unattributed turns of the run units[r0, r1) from the turns two before or after.
void alternate(std::vector<Unit>& units, std::size_t r0, std::size_t r1, const Cast& cast) {
  std::size_t limit = r1;
  int a = kNoSpeaker, b = kNoSpeaker;
  for (std::size_t i = r0; i < r1 && limit == r1; ++i) {
    const Unit& u = units[i];
    if (u.turn == Kind::kOther || u.turn == Kind::kConflict) {
      limit = i;
    } else if (u.turn == Kind::kSpeaker && u.turn_speaker != a && u.turn_speaker != b) {
      if (a == kNoSpeaker) {
        a = u.turn_speaker;
      } else if (b == kNoSpeaker) {
        b = u.turn_speaker;
      } else {
        limit = i;  // a third speaker
      }
    }
  }
  const std::size_t n = limit - r0;
  std::vector<int> speaker(n, kNoSpeaker);
  std::vector<bool> pronoun(n, false), fill(n, false);
  for (std::size_t i = 0; i < n; ++i) {
    const Unit& u = units[r0 + i];
    if (u.turn == Kind::kSpeaker) speaker[i] = u.turn_speaker;
    pronoun[i] = u.turn == Kind::kPronoun;
    fill[i] = u.turn == Kind::kNone || (pronoun[i] && !u.turn_pronoun.empty());
  }
  // Two turns apart is the same voice when the turn between is someone else.
  auto other = [&](std::size_t between, int s) {
    return speaker[between] != kNoSpeaker ? speaker[between] != s : pronoun[between];
  };
  // ... when the turn's own beats ("She was frowning.") may be that voice's, and for "he said",
  // when the voice is known to be a he.
  auto fits = [&](std::size_t i, int s) {
    const Unit& u = units[r0 + i];
    if (pronoun[i] && (s == kNarrator || !cast.is(s, u.turn_pronoun))) return false;
    const std::string_view beat = u.beat_pronoun;
    if (beat.empty()) return true;
    return s != kNarrator && beat != "both" && cast.agrees(s, beat);
  };
  for (std::size_t i = 2; i < n; ++i) {
    const int s = speaker[i - 2];
    if (fill[i] && s != kNoSpeaker && other(i - 1, s) && fits(i, s)) speaker[i] = s;
  }
  for (std::size_t i = n; i-- > 0;) {
    if (!fill[i] || speaker[i] != kNoSpeaker || i + 2 >= n) continue;
    const int s = speaker[i + 2];
    if (s != kNoSpeaker && other(i + 1, s) && fits(i, s)) speaker[i] = s;
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (!fill[i] || speaker[i] == kNoSpeaker) continue;
    for (auto& utt : units[r0 + i].utterances) {
      if (utt.att.kind != Kind::kNone && utt.att.kind != Kind::kPronoun) continue;
      utt.att.kind = Kind::kSpeaker;
      utt.att.speaker = speaker[i];
    }
  }
}

// ---------------------------------------------------------------- lines, scripts, paragraphs

struct TextLine {
  std::size_t begin = 0, end = 0;  // without the line break (and a \r before it)
  std::size_t content = 0;         // after the indent
  bool blank = false;
  bool script = false;  // part of a script speech
  std::size_t code_points = 0;
};

std::vector<TextLine> split_lines(std::string_view text) {
  std::vector<TextLine> lines;
  for (std::size_t b = 0;;) {
    std::size_t nl = text.find('\n', b);
    if (nl == kNpos) nl = text.size();
    TextLine l;
    l.begin = b;
    l.end = nl;
    if (l.end > l.begin && text[l.end - 1] == '\r') --l.end;
    l.content = l.begin;
    while (l.content < l.end && (text[l.content] == ' ' || text[l.content] == '\t')) ++l.content;
    l.blank = trim_spaces(text.substr(l.begin, l.end - l.begin)).empty();
    for (std::size_t i = l.begin; i < l.end; ++i) {
      l.code_points += (static_cast<unsigned char>(text[i]) & 0xC0) != 0x80 ? 1 : 0;
    }
    lines.push_back(l);
    if (nl == text.size()) break;
    b = nl + 1;
  }
  return lines;
}

struct Cue {
  bool found = false;
  bool listed = false;  // a name of `names` (or a prefix of one)
  int speaker = kNoSpeaker;
  std::size_t speech = 0;  // where the speech starts on the cue line
};

// Whether text[b, e) is one to three words, each starting with a capital (all capitals when
// `all_caps`), with only spaces, hyphens, apostrophes and periods between them.
bool generic_speaker(std::string_view text, std::size_t b, std::size_t e, bool all_caps) {
  int words = 0;
  bool in_word = false;
  std::size_t letters = 0;
  const std::string_view v = text.substr(0, e);
  for (std::size_t i = b; i < e;) {
    const Cp cp = decode(v, i);
    if (is_word(cp.c)) {
      const bool lower = !is_upper(cp.c) && fold(cp.c) == cp.c && !(cp.c >= '0' && cp.c <= '9');
      if ((!in_word || all_caps) && lower) return false;
      if (!in_word) ++words;
      in_word = true;
      ++letters;
    } else if (cp.c == ' ' || cp.c == '-' || cp.c == '.' || is_apostrophe(cp.c)) {
      in_word = false;
    } else {
      return false;
    }
    i += cp.len;
  }
  return words >= 1 && words <= 3 && letters >= 2;
}

// Where the speech starts in text[s, e): after spaces and a leading "(aside)" or "[Aside]".
std::size_t skip_direction(std::string_view text, std::size_t s, std::size_t e) {
  while (s < e && (text[s] == ' ' || text[s] == '\t')) ++s;
  if (s < e && (text[s] == '(' || text[s] == '[')) {
    const std::size_t close = text.find(text[s] == '(' ? ')' : ']', s);
    if (close != kNpos && close < e) {
      s = close + 1;
      while (s < e && (text[s] == ' ' || text[s] == '\t')) ++s;
    }
  }
  return s;
}

Cue parse_cue(std::string_view text, const TextLine& line, const Names& names, bool script) {
  Cue cue;
  const std::size_t b = line.content, e = line.end;
  if (b >= e) return cue;
  std::vector<Word> words;
  // The terminator: the first ':' or '.' within the first 64 bytes, before any quotation mark.
  std::size_t colon = kNpos, period = kNpos;
  const std::string_view v = text.substr(0, e);
  for (std::size_t i = b; i < e && i < b + 64;) {
    const Cp cp = decode(v, i);
    if (mark_of(cp.c) != Mark::kNone && !is_apostrophe(cp.c)) break;
    if (cp.c == ':' && colon == kNpos) {
      colon = i;
      break;
    }
    if (cp.c == '.' && period == kNpos &&
        (i + 1 == e || text[i + 1] == ' ' || text[i + 1] == '\t')) {
      period = i;
    }
    i += cp.len;
  }
  auto exact = [&](std::size_t hb, std::size_t he) {
    words.clear();
    tokenize(text, hb, he, 0, words);
    if (words.empty()) return -1;
    const auto [n, len] = names.match(text, words, 0, words.size());
    if (n < 0 || static_cast<std::size_t>(len) != words.size() || words.back().possessive)
      return -1;
    // Nothing but the name (and spaces) before the terminator.
    if (!trim_spaces(text.substr(words.back().end, he - words.back().end)).empty()) return -1;
    if (!trim_spaces(text.substr(hb, words.front().begin - hb)).empty()) return -1;
    return n;
  };
  std::size_t at = kNpos;
  if (colon != kNpos) {
    std::size_t he = colon;
    // "MARA (softly):" — a parenthetical before the colon.
    const std::string_view head = trim_spaces(text.substr(b, colon - b));
    const std::size_t head_end = static_cast<std::size_t>(head.data() - text.data()) + head.size();
    if (!head.empty() && head.back() == ')') {
      const std::size_t paren = text.rfind('(', head_end);
      if (paren != kNpos && paren > b) he = paren;
    }
    const int n = exact(b, he);
    if (n >= 0) {
      cue.found = cue.listed = true, cue.speaker = n;
    } else if (script && generic_speaker(text, b, he, false)) {
      cue.found = true;
    }
    at = colon;
  }
  if (!cue.found && script && period != kNpos) {
    int n = exact(b, period);
    const bool one_word = words.size() == 1 && words[0].end == period;
    if (n < 0 && one_word && !words[0].lower) n = names.abbreviation(words[0].key);
    if (n >= 0) {
      cue.found = cue.listed = true, cue.speaker = n;
    } else if (generic_speaker(text, b, period, true) ||
               (one_word && names.prefix_of_several(words[0].key) &&
                generic_speaker(text, b, period, false))) {
      cue.found = true;  // "MARCELLUS." or an ambiguous "Mar."
    }
    at = period;
  }
  if (!cue.found) return cue;
  cue.speech = skip_direction(text, at + 1, e);
  return cue;
}

bool stage_direction(std::string_view text, const TextLine& line) {
  const std::string_view t = trim_spaces(text.substr(line.content, line.end - line.content));
  if (t.empty()) return false;
  if ((t.front() == '(' && t.back() == ')') || (t.front() == '[' && t.back() == ']')) return true;
  std::vector<Word> words;
  tokenize(t, 0, std::min<std::size_t>(t.size(), 16), 0, words);
  if (words.empty()) return false;
  const std::string& k = words.front().key;
  return k == "enter" || k == "exit" || k == "exeunt" || k == "re";
}

struct ScriptLine {
  int speaker = kNoSpeaker;
  std::vector<Piece> parts;
};

// Marks the script lines and returns their speeches.
std::vector<ScriptLine> scripts(std::string_view text, std::vector<TextLine>& lines,
                                const Names& names) {
  std::vector<ScriptLine> out;
  if (names.empty()) return out;
  int listed = 0;
  for (const TextLine& l : lines) {
    if (!l.blank && parse_cue(text, l, names, true).listed && ++listed >= 2) break;
  }
  const bool script = listed >= 2;
  bool speaking = false;
  auto add = [&](std::size_t b, std::size_t e) {
    const std::string_view t = trim_spaces(text.substr(b, e - b));
    if (t.empty()) return;
    const std::size_t begin = static_cast<std::size_t>(t.data() - text.data());
    out.back().parts.push_back({begin, begin + t.size(), out.back().parts.empty() ? "" : "\n"});
  };
  for (TextLine& l : lines) {
    if (l.blank) {
      speaking = false;
      continue;
    }
    const Cue cue = parse_cue(text, l, names, script);
    if (cue.found) {
      l.script = true;
      out.push_back({cue.speaker, {}});
      add(cue.speech, l.end);
      speaking = true;
      continue;
    }
    if (speaking && !stage_direction(text, l)) {
      l.script = true;
      add(skip_direction(text, l.content, l.end), l.end);
      continue;
    }
    speaking = false;
  }
  return out;
}

std::vector<Para> paragraphs(const std::vector<TextLine>& lines) {
  // Whether a blank line stands between two lines of text anywhere.
  std::size_t first = 0, last = lines.size();
  while (first < lines.size() && lines[first].blank) ++first;
  while (last > first && lines[last - 1].blank) --last;
  bool has_blank = false;
  for (std::size_t i = first; i < last && !has_blank; ++i) has_blank = lines[i].blank;
  std::vector<Para> out;
  bool after_break = false;
  for (std::size_t i = 0; i < lines.size();) {
    if (lines[i].blank) {
      ++i;
      continue;
    }
    if (lines[i].script) {
      after_break = true;
      ++i;
      continue;
    }
    std::size_t j = i;
    bool long_line = false, indented = false;
    while (j < lines.size() && !lines[j].blank && !lines[j].script) {
      long_line = long_line || lines[j].code_points > 100;
      indented = indented || (j > i && lines[j].content > lines[j].begin);
      ++j;
    }
    for (std::size_t k = i; k < j; ++k) {
      const bool starts =
          k == i || (indented ? lines[k].content > lines[k].begin : (!has_blank || long_line));
      if (starts) {
        out.push_back({lines[k].begin, lines[k].end, after_break});
        after_break = false;
      } else {
        out.back().end = lines[k].end;
      }
    }
    i = j;
  }
  return out;
}

}  // namespace

std::vector<Line> extract_dialogue(std::string_view text, const std::vector<std::string>& names) {
  std::vector<Line> out;
  if (text.empty()) return out;
  const Names table(names);
  std::vector<TextLine> lines = split_lines(text);
  const std::vector<ScriptLine> script = scripts(text, lines, table);
  const std::vector<Para> paras = paragraphs(lines);

  int vote = 0;
  for (const Para& p : paras) vote += QuoteScanner::vote(text, p);
  QuoteScanner scanner(text, vote > 0);
  std::vector<Unit> units = scanner.scan(paras);

  // What the narration of every paragraph tells about the characters, first.
  Cast cast(names.size());
  if (!table.empty()) {
    std::vector<Word> words;
    std::vector<std::size_t> seg;
    std::size_t u = 0;
    for (std::size_t p = 0; p < paras.size(); ++p) {
      if (u < units.size() && units[u].first_para == p) {
        narration_words(text, units[u], table, words, seg);
        p = units[u++].last_para;
      } else {
        words.clear();
        tokenize(text, paras[p].begin, paras[p].end, 0, words);
        table.mark(text, words, 0, words.size());
      }
      cast.observe(words);
    }
  }

  Attributor attributor(text, table, cast, names.size());
  for (Unit& u : units) attributor.run(u);
  // Runs of consecutive paragraphs of dialogue.
  for (std::size_t r0 = 0; r0 < units.size();) {
    if (!units[r0].dialogue) {
      ++r0;
      continue;
    }
    std::size_t r1 = r0 + 1;
    while (r1 < units.size() && units[r1].dialogue && !units[r1].after_break &&
           units[r1].first_para == units[r1 - 1].last_para + 1) {
      ++r1;
    }
    alternate(units, r0, r1, cast);
    r0 = r1;
  }

  auto emit = [&](int speaker, const std::vector<Piece>& pieces) {
    if (pieces.empty()) return;
    Line line;
    if (speaker >= 0) line.speaker = names[static_cast<std::size_t>(speaker)];
    for (const Piece& p : pieces) {
      line.text += p.sep;
      append_valid(line.text, text.substr(p.begin, p.end - p.begin));
    }
    line.begin = pieces.front().begin;
    line.end = pieces.back().end;
    out.push_back(std::move(line));
  };
  // Both lists are in document order; merge them.
  std::size_t s = 0;
  std::vector<Piece> pieces;
  for (const Unit& u : units) {
    for (const auto& utt : u.utterances) {
      pieces.clear();
      for (std::size_t q = utt.first; q <= utt.last; ++q) {
        for (const Piece& p : u.quotes[q].pieces) {
          pieces.push_back(p);
          if (pieces.size() > 1 && &p == &u.quotes[q].pieces.front()) pieces.back().sep = " ";
        }
      }
      while (s < script.size() &&
             (script[s].parts.empty() || script[s].parts.front().begin < pieces.front().begin)) {
        emit(script[s].speaker, script[s].parts);  // nothing for a cue without speech
        ++s;
      }
      emit(utt.att.kind == Kind::kSpeaker ? utt.att.speaker : kNoSpeaker, pieces);
    }
  }
  for (; s < script.size(); ++s) emit(script[s].speaker, script[s].parts);
  return out;
}

}  // namespace loom::voice
