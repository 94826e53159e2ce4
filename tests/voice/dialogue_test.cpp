// dialogue_test.cpp — a character's lines from manuscript text (voice/dialogue.cpp): quotation
// marks, attribution, beats, alternating turns, multi-paragraph speech, scripts, bad input.
#include <algorithm>
#include <catch2/catch.hpp>
#include <random>
#include <string>
#include <vector>

#include "loom/voice.hpp"

using loom::voice::extract_dialogue;
using loom::voice::Line;
using Strings = std::vector<std::string>;

namespace {

const Strings kCast = {"Mara", "Ives", "Captain Ives", "Sol"};

// "Speaker: text" for each line ("" speaker as ": text"), checking that the lines come in
// document order inside the input and, for single-part lines, that [begin, end) is the text.
Strings said(const std::string& text, const Strings& names = kCast, bool single_part = true) {
  Strings out;
  std::size_t last = 0;
  for (const Line& l : extract_dialogue(text, names)) {
    REQUIRE(l.begin <= l.end);
    REQUIRE(l.end <= text.size());
    CHECK(l.begin >= last);
    last = l.begin;
    if (single_part) CHECK(l.text == text.substr(l.begin, l.end - l.begin));
    out.push_back(l.speaker + ": " + l.text);
  }
  return out;
}

// Strict UTF-8 (no overlong forms, surrogates or values past U+10FFFF), as JSON requires.
bool valid_utf8(const std::string& s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    std::size_t len = b < 0x80                 ? 1
                      : b >= 0xC2 && b <= 0xDF ? 2
                      : b >= 0xE0 && b <= 0xEF ? 3
                      : b >= 0xF0 && b <= 0xF4 ? 4
                                               : 0;
    if (len == 0 || i + len > s.size()) return false;
    char32_t c = len == 1 ? b : b & (0x7F >> len);
    for (std::size_t k = 1; k < len; ++k) {
      const auto n = static_cast<unsigned char>(s[i + k]);
      if ((n & 0xC0) != 0x80) return false;
      c = (c << 6) | (n & 0x3F);
    }
    const char32_t min = len == 2 ? 0x80 : len == 3 ? 0x800 : len == 4 ? 0x10000 : 0;
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

}  // namespace

// ---------------------------------------------------------------- quotation marks

TEST_CASE("straight and curly double quotes give the spoken words", "[voice][dialogue]") {
  CHECK(said("\"We go tonight,\" said Mara.") == Strings{"Mara: We go tonight,"});
  CHECK(said("“We go tonight,” said Mara.") == Strings{"Mara: We go tonight,"});
  CHECK(said("„We go tonight“, said Mara.") == Strings{"Mara: We go tonight"});
  CHECK(said("The ferry was late. Nobody spoke.").empty());
}

TEST_CASE("apostrophes inside words are not quotation marks", "[voice][dialogue]") {
  const std::string text =
      "Mara’s hands shook. “Don’t tell Ives what we’re doing,” she said. “He’d never forgive "
      "us.”\n\nIt wasn't Sol's boat, and it wasn’t the twins’ either.";
  CHECK(said(text) ==
        Strings{"Mara: Don’t tell Ives what we’re doing,", "Mara: He’d never forgive us."});
}

TEST_CASE("a stray closing mark or an inch mark opens nothing", "[voice][dialogue]") {
  CHECK(said("The mast stood 30\" above the rail. “Too short,” Ives said.") ==
        Strings{"Ives: Too short,"});
  CHECK(said("He wrote the word” twice. “Again,” said Sol.") == Strings{"Sol: Again,"});
}

TEST_CASE("British single quotes are found per text, apostrophes and all", "[voice][dialogue]") {
  const std::string text =
      "‘I’m goin’ home,’ said Mara.\n\n"
      "‘Not without the twins’ oars,’ Ives replied. ‘They’re in the boat.’\n\n"
      "Mara laughed. ‘The ’tis and the ’em of it.’";
  CHECK(said(text) == Strings{"Mara: I’m goin’ home,", "Ives: Not without the twins’ oars,",
                              "Ives: They’re in the boat.", "Mara: The ’tis and the ’em of it."});
}

TEST_CASE("single quotes ending after a letter close when nothing surer follows",
          "[voice][dialogue]") {
  CHECK(said("‘Mara,’ Ives said. ‘Mara’\n\nShe did not turn.") ==
        Strings{"Ives: Mara,", "Ives: Mara"});
}

TEST_CASE("double quotes nested in British single quotes are text", "[voice][dialogue]") {
  const std::string text =
      "‘He said “tonight”, and he meant it,’ said Mara.\n\n‘Did he?’ asked Ives.";
  CHECK(said(text) == Strings{"Mara: He said “tonight”, and he meant it,", "Ives: Did he?"});
}

TEST_CASE("single quotes nested in double quotes are text", "[voice][dialogue]") {
  const std::string text = "“She called it ‘the long way’,” said Ives.\n\n“It is,” Mara said.";
  CHECK(said(text) == Strings{"Ives: She called it ‘the long way’,", "Mara: It is,"});
}

// ---------------------------------------------------------------- attribution

TEST_CASE("said X, X said, X asked, and the present tense", "[voice][dialogue]") {
  const std::string text =
      "“Is it far?” Ives asked.\n\n"
      "“Far enough,” Mara says.\n\n"
      "“Then we leave at dawn,” replied Sol.\n\n"
      "“Fine,” whispers Ives.";
  CHECK(said(text) == Strings{"Ives: Is it far?", "Mara: Far enough,",
                              "Sol: Then we leave at dawn,", "Ives: Fine,"});
}

TEST_CASE("attribution before the quote, with a comma, a colon or nothing", "[voice][dialogue]") {
  const std::string text =
      "Mara said, “We go tonight.”\n\n"
      "Ives muttered: “Of course we do.”\n\n"
      "Then Sol answered “Not me.”";
  CHECK(said(text) == Strings{"Mara: We go tonight.", "Ives: Of course we do.", "Sol: Not me."});
}

TEST_CASE("names are whole words, in capitals or not, longest first", "[voice][dialogue]") {
  CHECK(said("“Hold the line,” Captain Ives said.") == Strings{"Captain Ives: Hold the line,"});
  CHECK(said("“Hold the line,” said Captain Ives.") == Strings{"Captain Ives: Hold the line,"});
  CHECK(said("“Hold the line,” IVES said.") == Strings{"Ives: Hold the line,"});
  // A name given with a capital needs one: "will" is not Will, nor "new" New.
  CHECK(said("“Hold the line,” mara said.") == Strings{": Hold the line,"});
  CHECK(said("“Hold the line,” mara said.", {"mara"}) == Strings{"mara: Hold the line,"});
  CHECK(said("She will go. “Hold the line.”", {"Will"}) == Strings{": Hold the line."});
  CHECK(said("Will went. “Hold the line.”", {"Will"}) == Strings{"Will: Hold the line."});
  CHECK(said("“Hold the line,” captain Ives said.") == Strings{"Ives: Hold the line,"});
  CHECK(said("“Hold the line,” Maradona said.") == Strings{": Hold the line,"});
  CHECK(said("“Hold,” Anne Marie said.", {"Anne-Marie"}) == Strings{"Anne-Marie: Hold,"});
  CHECK(said("“Hold,” ZOË said.", {"Zoë"}) == Strings{"Zoë: Hold,"});
  CHECK(said("“Hold,” said Mr. Ives.", {"Mr. Ives"}) == Strings{"Mr. Ives: Hold,"});
}

TEST_CASE("adverbs between the name and the verb", "[voice][dialogue]") {
  CHECK(said("“Not yet,” Mara quietly said.") == Strings{"Mara: Not yet,"});
  CHECK(said("“Not yet,” Mara said softly, turning to Ives.") == Strings{"Mara: Not yet,"});
  CHECK(said("Ives finally asked, “Why not?”") == Strings{"Ives: Why not?"});
}

TEST_CASE("the subject of 'X turned and said'", "[voice][dialogue]") {
  CHECK(said("Mara turned to Ives and said, “We go tonight.”") == Strings{"Mara: We go tonight."});
  CHECK(said("Mara, pale in the lamplight, said: “We go tonight.”") ==
        Strings{"Mara: We go tonight."});
  CHECK(said("When Sol came in, Ives looked up and asked, “Where is she?”") ==
        Strings{"Ives: Where is she?"});
}

TEST_CASE("a speech verb used as a noun attributes nothing", "[voice][dialogue]") {
  CHECK(said("Mara set down the cup. “Go.” Her whispers filled the room.") == Strings{"Mara: Go."});
  CHECK(said("“Go.” Mara's shouts rang across the water.") == Strings{"Mara: Go."});
}

TEST_CASE("a word or title quoted mid-sentence is no one's line", "[voice][dialogue]") {
  CHECK(said("Mara wrote the word “tonight” on the chart.") == Strings{": tonight"});
  CHECK(said("Ives had the two “Rogers” before he saw the boat.") == Strings{": Rogers"});
  CHECK(said("On shore “the freed slaves of the harbour”—the town—watched Mara.") ==
        Strings{": the freed slaves of the harbour"});
  CHECK(said("Mara said “Go” and left.") == Strings{"Mara: Go"});
  // It is narration: the exchange ends there.
  CHECK(said("“You’re late,” Mara said.\n\n“The ferry was,” said Ives.\n\n"
             "The sign on the ferry read “Closed”.\n\n“Was it?”") ==
        Strings{"Mara: You’re late,", "Ives: The ferry was,", ": Closed", ": Was it?"});
}

TEST_CASE("whom an unresolved pronoun speaks to is not the paragraph's speaker",
          "[voice][dialogue]") {
  // Ives is whom he speaks to, and "he" has no antecedent.
  CHECK(said("He hung up. “Coroner,” he said to Ives. “He just called.”") ==
        Strings{": Coroner,", ": He just called."});
}

TEST_CASE("someone else: a possessive, a noun, 'we'", "[voice][dialogue]") {
  CHECK(said("“Leave her be,” said Mara’s brother.") == Strings{": Leave her be,"});
  CHECK(said("“Leave her be,” Mara's brother said.") == Strings{": Leave her be,"});
  CHECK(said("“Leave her be,” the captain said to Ives.") == Strings{": Leave her be,"});
  CHECK(said("“Leave her be,” we said.") == Strings{": Leave her be,"});
}

TEST_CASE("a pronoun stands for the name that begins its sentence or the one before",
          "[voice][dialogue]") {
  CHECK(said("Mara set down the cup. “We go tonight,” she said.") ==
        Strings{"Mara: We go tonight,"});
  CHECK(said("Mara's hands were steady. “We go tonight,” she said.") ==
        Strings{"Mara: We go tonight,"});
  // Ives is who she speaks to, not who speaks.
  CHECK(said("Mara set down the cup. “We go tonight,” she told Ives.") ==
        Strings{"Mara: We go tonight,"});
  CHECK(said("Mara looked at Ives. “We go tonight,” she said.") == Strings{"Mara: We go tonight,"});
  CHECK(said("Mara looked at Ives. She said, “We go tonight.”") == Strings{"Mara: We go tonight."});
  CHECK(said("Mara turned from the window, and she said, “We go tonight.”") ==
        Strings{"Mara: We go tonight."});
  // Someone else between: the sentence before begins with no name.
  CHECK(said("Ives waited. The boy licked his dry lips. He asked, “Could we have a drink?”") ==
        Strings{": Could we have a drink?"});
  CHECK(said("“We go tonight,” she said.") == Strings{": We go tonight,"});
}

// The name's gender: a sentence that begins with it, the next with "he" or "she" (a vote; the
// majority wins, a tie says nothing).
TEST_CASE("a pronoun never stands for a name of the other gender", "[voice][dialogue]") {
  const std::string text =
      "Ives came in out of the rain. He was soaked to the skin. Ives shook out his coat. He "
      "laughed.\n\n"
      "Ives lifted the girl's head and held the cup to her mouth. She drank, and murmured, "
      "“Thank you.”\n\n"
      "Ives set the cup down. “Sleep now,” he said.";
  CHECK(said(text) == Strings{": Thank you.", "Ives: Sleep now,"});
}

TEST_CASE("interrupted speech is one line spanning both parts", "[voice][dialogue]") {
  const std::string text = "“I know,” said Mara, “but not yet.”";
  const auto lines = extract_dialogue(text, kCast);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].speaker == "Mara");
  CHECK(lines[0].text == "I know, but not yet.");
  CHECK(text.substr(lines[0].begin, lines[0].end - lines[0].begin) ==
        "I know,” said Mara, “but not yet.");
  CHECK(said("“Well,” Ives began, “I suppose—” he stopped.", kCast, false) ==
        Strings{"Ives: Well, I suppose—"});
  CHECK(said("“If the tide turns—” Mara said—“we lose the boat.”", kCast, false) ==
        Strings{"Mara: If the tide turns— we lose the boat."});
}

TEST_CASE("two sentences around one attribution are two lines of one speaker",
          "[voice][dialogue]") {
  CHECK(said("“Go,” said Mara. “Now.”") == Strings{"Mara: Go,", "Mara: Now."});
  CHECK(said("“Go.” Mara said. “Now, before the tide.”") ==
        Strings{"Mara: Go.", "Mara: Now, before the tide."});
  CHECK(said("“Ready?” “Yes,” said Mara.") == Strings{"Mara: Ready?", "Mara: Yes,"});
  // A sentence between them that attributes nothing may be someone else's beat.
  CHECK(said("“The pie is good, Sol.” He looked at his son. Sol murmured, “No, thanks.”") ==
        Strings{": The pie is good, Sol.", "Sol: No, thanks."});
}

TEST_CASE("a sentence that leads into the next quote belongs to it", "[voice][dialogue]") {
  CHECK(said("Mara said, “Go.” Ives said, “No.”") == Strings{"Mara: Go.", "Ives: No."});
}

// ---------------------------------------------------------------- action beats

TEST_CASE("an action beat naming the only character in the paragraph", "[voice][dialogue]") {
  CHECK(said("Mara set down the cup. “We go tonight.”") == Strings{"Mara: We go tonight."});
  CHECK(said("“We go tonight.” Mara set down the cup.") == Strings{"Mara: We go tonight."});
  CHECK(said("Mara's hands were steady now. “We go tonight.”") == Strings{"Mara: We go tonight."});
  // A name inside the quote is not a beat.
  CHECK(said("Mara set down the cup. “Ives, we go tonight.”") ==
        Strings{"Mara: Ives, we go tonight."});
  CHECK(said("The cup was cold. “Ives, we go tonight.”") == Strings{": Ives, we go tonight."});
}

TEST_CASE("only the character asked for: others are nobody, never that character",
          "[voice][dialogue]") {
  const Strings mara = {"Mara"};
  CHECK(said("Ives handed Mara the cup. “Drink.”", mara) == Strings{": Drink."});
  CHECK(said("Then Mara set down the cup. “We go tonight.”", mara) ==
        Strings{"Mara: We go tonight."});
  // Rachel is written with a capital inside a sentence: a name, though not the caller's.
  const std::string rachel = "Mara and Rachel drove home.\n\n";
  CHECK(said(rachel + "Mara shrugged. Rachel came close to the bed. “That doctor annoys me.”",
             mara) == Strings{": That doctor annoys me."});
  CHECK(said(rachel + "Rachel came close to the bed. “That doctor annoys me.”", mara) ==
        Strings{": That doctor annoys me."});
  CHECK(said(rachel + "Mara shrugged. The doctor had gone. “That doctor annoys me.”", mara) ==
        Strings{"Mara: That doctor annoys me."});
  CHECK(said("“You’re late,” Ives said.\n\n"
             "“The ferry was,” said Mara.\n\n"
             "“The ferry is never late.”\n\n"
             "“It was tonight.”",
             mara) == Strings{": You’re late,", "Mara: The ferry was,",
                              ": The ferry is never late.", ": It was tonight."});
}

TEST_CASE("a beat sentence that begins with a name, among several names", "[voice][dialogue]") {
  CHECK(said("Ives handed Mara the cup. “Drink.”") == Strings{"Ives: Drink."});
  CHECK(said("“Drink.” Ives handed Mara the cup.") == Strings{"Ives: Drink."});
  // Two names and no sentence that begins with one: nobody.
  CHECK(said("The cup went from Ives to Mara. “Drink.”") == Strings{": Drink."});
}

// ---------------------------------------------------------------- alternating turns

TEST_CASE("a two-person exchange alternates after two attributed turns", "[voice][dialogue]") {
  const std::string text =
      "“You’re late,” Mara said.\n\n"
      "“The ferry was,” said Ives.\n\n"
      "“The ferry is never late.”\n\n"
      "“It was tonight.”\n\n"
      "“Then we wait.”";
  CHECK(said(text) == Strings{"Mara: You’re late,", "Ives: The ferry was,",
                              "Mara: The ferry is never late.", "Ives: It was tonight.",
                              "Mara: Then we wait."});
}

TEST_CASE("alternation stops at a paragraph without a quote", "[voice][dialogue]") {
  const std::string text =
      "“You’re late,” Mara said.\n\n"
      "“The ferry was,” said Ives.\n\n"
      "The bell rang twice across the water.\n\n"
      "“Was it?”\n\n"
      "“It was.”";
  CHECK(said(text) ==
        Strings{"Mara: You’re late,", "Ives: The ferry was,", ": Was it?", ": It was."});
}

TEST_CASE("alternation stops when a third speaker or an unnamed one appears", "[voice][dialogue]") {
  CHECK(said("“You’re late,” Mara said.\n\n"
             "“The ferry was,” said Ives.\n\n"
             "“Both of you, quiet,” Sol said.\n\n"
             "“Why?”\n\n"
             "“Because.”") == Strings{"Mara: You’re late,", "Ives: The ferry was,",
                                      "Sol: Both of you, quiet,", ": Why?", ": Because."});
  CHECK(said("“You’re late,” Mara said.\n\n"
             "“The ferry was,” said Ives.\n\n"
             "“Quiet,” the captain said.\n\n"
             "“Why?”") ==
        Strings{"Mara: You’re late,", "Ives: The ferry was,", ": Quiet,", ": Why?"});
  // A beat of a character the caller did not list (Rachel: capitalized inside a sentence).
  CHECK(said("Mara and Rachel drove home.\n\n"
             "“You’re late,” Mara said.\n\n"
             "“The ferry was,” said Ives.\n\n"
             "Rachel shrugged. “Was it?”\n\n"
             "“It was.”") ==
        Strings{"Mara: You’re late,", "Ives: The ferry was,", ": Was it?", ": It was."});
}

TEST_CASE("a pronoun turn counts as the other speaker of the exchange", "[voice][dialogue]") {
  const std::string text =
      "“Go,” Mara said.\n\n"
      "“Why?” he asked.\n\n"
      "“Because I said so.”";
  CHECK(said(text) == Strings{"Mara: Go,", ": Why?", "Mara: Because I said so."});
}

TEST_CASE("'he said' takes its turn of the exchange when the voice is known to be a he",
          "[voice][dialogue]") {
  const std::string exchange =
      "“You’re late,” Mara said.\n\n"
      "“The ferry was,” said Ives.\n\n"
      "“The ferry is never late,” she said.\n\n"
      "“It was tonight,” he said.\n\n"
      "“Then we wait.”";
  // Nothing says who is a he or a she: the pronouns stay unresolved.
  CHECK(said(exchange) == Strings{"Mara: You’re late,", "Ives: The ferry was,",
                                  ": The ferry is never late,", ": It was tonight,",
                                  ": Then we wait."});
  const std::string genders =
      "Ives came in out of the rain. He was soaked. Ives shook out his coat. He laughed.\n\n"
      "Mara looked up from the chart. She frowned. Mara put down her pen. She waited.\n\n";
  CHECK(said(genders + exchange) == Strings{"Mara: You’re late,", "Ives: The ferry was,",
                                            "Mara: The ferry is never late,",
                                            "Ives: It was tonight,", "Mara: Then we wait."});
}

TEST_CASE("alternation also runs backwards from later attributed turns", "[voice][dialogue]") {
  const std::string text =
      "“Ready?”\n\n"
      "“Yes,” Mara said.\n\n"
      "“Then go,” said Ives.";
  CHECK(said(text) == Strings{"Ives: Ready?", "Mara: Yes,", "Ives: Then go,"});
}

TEST_CASE("a first-person narrator is one voice of the exchange", "[voice][dialogue]") {
  const std::string text =
      "“Go,” I said.\n\n"
      "“Why?” Mara asked.\n\n"
      "“Because the tide is turning.”\n\n"
      "“Fine.”";
  CHECK(said(text) ==
        Strings{": Go,", "Mara: Why?", ": Because the tide is turning.", "Mara: Fine."});
}

TEST_CASE("a narrator's beat makes the narrator's turn", "[voice][dialogue]") {
  const std::string text =
      "“Go,” Mara said.\n\n"
      "I smiled. “Why?”\n\n"
      "“Because the tide is turning.”";
  CHECK(said(text) == Strings{"Mara: Go,", ": Why?", "Mara: Because the tide is turning."});
}

TEST_CASE("alternation never gives a turn to a voice its beats contradict", "[voice][dialogue]") {
  const std::string ives =
      "Ives came in out of the rain. He was soaked. Ives shook out his coat. He laughed.\n\n"
      "“You’re late,” Ives said.\n\n"
      "“The ferry was,” said Mara.\n\n";
  CHECK(said(ives + "She was frowning. “Was it?”") ==
        Strings{"Ives: You’re late,", "Mara: The ferry was,", ": Was it?"});
  CHECK(said(ives + "He was frowning. “Was it?”") ==
        Strings{"Ives: You’re late,", "Mara: The ferry was,", "Ives: Was it?"});
  CHECK(said(ives + "I looked at them both. “Was it?”") ==
        Strings{"Ives: You’re late,", "Mara: The ferry was,", ": Was it?"});
}

TEST_CASE("one paragraph per line: a text with no blank lines", "[voice][dialogue]") {
  const std::string text =
      "“You’re late,” Mara said.\n"
      "“The ferry was,” said Ives.\n"
      "“The ferry is never late.”\n";
  CHECK(said(text) ==
        Strings{"Mara: You’re late,", "Ives: The ferry was,", "Mara: The ferry is never late."});
}

TEST_CASE("hard-wrapped paragraphs and first-line indents", "[voice][dialogue]") {
  // A quote over a line break of a hard-wrapped paragraph: one line with the break in it.
  const std::string wrapped =
      "Mara set the cup down on the table and looked out at the harbour. “We go\n"
      "tonight, whatever the tide does.”\n\n"
      "“And if it turns?” said Ives.";
  CHECK(said(wrapped) ==
        Strings{"Mara: We go\ntonight, whatever the tide does.", "Ives: And if it turns?"});
  // First-line indents, no blank lines: each indented line begins a paragraph.
  const std::string indented =
      "    “You’re late,” Mara said, and she did not look up from the chart that lay\n"
      "open across the table.\n"
      "    “The ferry was,” said Ives.\n"
      "    “The ferry is never late.”\n";
  CHECK(said(indented) ==
        Strings{"Mara: You’re late,", "Ives: The ferry was,", "Mara: The ferry is never late."});
}

TEST_CASE("Windows line endings", "[voice][dialogue]") {
  CHECK(said("“You’re late,” Mara said.\r\n\r\n“The ferry was,” said Ives.\r\n") ==
        Strings{"Mara: You’re late,", "Ives: The ferry was,"});
}

TEST_CASE("a Markdown heading ends the exchange", "[voice][dialogue]") {
  const std::string text =
      "“You’re late,” Mara said.\n\n"
      "“The ferry was,” said Ives.\n\n"
      "## Chapter 2\n\n"
      "“Morning.”";
  CHECK(said(text) == Strings{"Mara: You’re late,", "Ives: The ferry was,", ": Morning."});
}

// ---------------------------------------------------------------- several paragraphs

TEST_CASE("a speech over several paragraphs is one utterance", "[voice][dialogue]") {
  const std::string text =
      "Mara said, “When I was a girl the ferry ran twice a day.\n\n"
      "“Then the war came, and it ran once.\n\n"
      "“Now it does not run at all.”\n\n"
      "Ives said nothing.";
  const auto lines = extract_dialogue(text, kCast);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].speaker == "Mara");
  CHECK(lines[0].text ==
        "When I was a girl the ferry ran twice a day.\nThen the war came, and it ran once.\n"
        "Now it does not run at all.");
  CHECK(text.substr(lines[0].begin, 4) == "When");
  CHECK(text.substr(lines[0].end - 4, 4) == "all.");
}

TEST_CASE("straight quotes over several paragraphs, attributed at the end", "[voice][dialogue]") {
  const std::string text =
      "\"The ferry ran twice a day.\n\n"
      "\"Now it does not run at all,\" Mara said.";
  CHECK(said(text, kCast, false) ==
        Strings{"Mara: The ferry ran twice a day.\nNow it does not run at all,"});
}

// ---------------------------------------------------------------- scripts

TEST_CASE("script lines: NAME: speech, indented, in capitals, over several lines",
          "[voice][dialogue]") {
  const std::string text =
      "MARA: We go tonight.\n"
      "  IVES: In this weather?\n"
      "Mara: In any weather. The tide\n"
      "  will not wait for us.\n"
      "\n"
      "The lamp goes out.\n"
      "Sol (from the door): Nor will I.\n";
  CHECK(said(text, kCast, false) == Strings{"Mara: We go tonight.", "Ives: In this weather?",
                                            "Mara: In any weather. The tide\nwill not wait for us.",
                                            "Sol: Nor will I."});
  const auto lines = extract_dialogue(text, kCast);
  REQUIRE(lines.size() == 4);
  CHECK(text.substr(lines[0].begin, lines[0].end - lines[0].begin) == "We go tonight.");
  CHECK(text.substr(lines[2].begin, lines[2].end - lines[2].begin) ==
        "In any weather. The tide\n  will not wait for us.");
}

TEST_CASE("a play: NAME. speech, abbreviations, directions, unlisted speakers",
          "[voice][dialogue]") {
  const std::string text =
      "Enter HAMLET and HORATIO.\n\n"
      "Ham. The air bites shrewdly; it is very cold.\n"
      "Hor. It is a nipping and an eager air.\n"
      "Ham. What hour now?\n"
      "  [Aside] I think it lacks of twelve.\n"
      "MARCELLUS. No, it is struck.\n"
      "Hor. Indeed? I heard it not.\n"
      "[A flourish of trumpets.]\n"
      "Ham. The king doth wake tonight.\n";
  CHECK(said(text, {"Hamlet", "Horatio"}, false) ==
        Strings{"Hamlet: The air bites shrewdly; it is very cold.",
                "Horatio: It is a nipping and an eager air.",
                "Hamlet: What hour now?\nI think it lacks of twelve.", ": No, it is struck.",
                "Horatio: Indeed? I heard it not.", "Hamlet: The king doth wake tonight."});
}

TEST_CASE("a name and a period is a script line only in a script", "[voice][dialogue]") {
  CHECK(said("Mara. The name had followed her from the harbour.").empty());
  CHECK(said("Mara. We go tonight.\nIves. In this weather?") ==
        Strings{"Mara: We go tonight.", "Ives: In this weather?"});
  // An ambiguous abbreviation names nobody.
  CHECK(said("Mar. We go tonight.\nMara: Who said that?\nMara: Not me.", {"Mara", "Marcellus"}) ==
        Strings{": We go tonight.", "Mara: Who said that?", "Mara: Not me."});
}

TEST_CASE("script lines and prose in one text, in document order", "[voice][dialogue]") {
  const std::string text =
      "“Read it back,” Ives said.\n\n"
      "MARA: We go tonight.\n\n"
      "“Again,” said Ives.";
  CHECK(said(text) == Strings{"Ives: Read it back,", "Mara: We go tonight.", "Ives: Again,"});
  // A speaker line with no speech before another one.
  CHECK(said("“Read it,” Ives said.\n\nMARA:\nIVES: Tonight.\n\n“Again,” said Ives.") ==
        Strings{"Ives: Read it,", "Ives: Tonight.", "Ives: Again,"});
}

// ---------------------------------------------------------------- bad input

TEST_CASE("empty input, blank input, no names", "[voice][dialogue]") {
  CHECK(extract_dialogue("", kCast).empty());
  CHECK(extract_dialogue("\n\n  \n", kCast).empty());
  CHECK(extract_dialogue("“Go.”", {}).size() == 1);
  CHECK(said("“You’re late,” Mara said.\n\nMARA: We go tonight.", {}) == Strings{": You’re late,"});
  CHECK(said("“Go,” Mara said.", {"", "  ", "—"}) == Strings{": Go,"});
}

TEST_CASE("an unclosed quote ends at the end of its paragraph", "[voice][dialogue]") {
  const std::string text =
      "“We go tonight, Mara said.\n\n"
      "Ives looked at the sky.\n\n"
      "“Fine,” said Sol.";
  CHECK(said(text) == Strings{": We go tonight, Mara said.", "Sol: Fine,"});
  CHECK(said("“We go tonight") == Strings{": We go tonight"});
  CHECK(said("Mara said, “").empty());
  CHECK(said("“”").empty());
}

TEST_CASE("a missing closing mark before the next opening one", "[voice][dialogue]") {
  // Two quotes of one paragraph: one speaker.
  CHECK(said("“We go tonight. “Wait,” said Ives.") ==
        Strings{"Ives: We go tonight.", "Ives: Wait,"});
  CHECK(said("\"We go tonight. \"Wait,\" said Ives.") ==
        Strings{"Ives: We go tonight.", "Ives: Wait,"});
  CHECK(said("“We go tonight.\n\nThe bell rang. “Wait,” said Ives.") ==
        Strings{": We go tonight.", "Ives: Wait,"});
}

TEST_CASE("invalid UTF-8 is replaced in the text, never split", "[voice][dialogue]") {
  const std::string text = "“We go \xFF\xFEtonight,” Mara said. \xC3 “Now\xE2\x80,” said Ives.";
  const auto lines = extract_dialogue(text, kCast);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0].speaker == "Mara");
  CHECK(lines[0].text == "We go \xEF\xBF\xBD\xEF\xBF\xBDtonight,");
  CHECK(lines[1].speaker == "Ives");
  CHECK(lines[1].text == "Now\xEF\xBF\xBD\xEF\xBF\xBD,");
  CHECK(lines[1].end - lines[1].begin == 6);
}

TEST_CASE("huge and pathological inputs take linear time", "[voice][dialogue]") {
  std::string book;
  for (int i = 0; i < 20000; ++i) {
    book += "“You’re late,” Mara said.\n\n“The ferry was,” said Ives.\n\n“Never.”\n\n";
  }
  const auto lines = extract_dialogue(book, kCast);
  REQUIRE(lines.size() == 60000);
  CHECK(lines[59999].speaker == "Mara");

  CHECK(extract_dialogue(std::string(1 << 20, '"'), kCast).empty());
  CHECK(extract_dialogue(std::string(1 << 20, '\n'), kCast).empty());
  std::string marks;
  for (int i = 0; i < 100000; ++i) marks += "a’ ";
  CHECK(extract_dialogue("‘" + marks + "end", kCast).size() == 1);
  std::string names;
  for (int i = 0; i < 100000; ++i) names += "Mara Ives said ";
  CHECK(extract_dialogue("“Go.” " + names + "“Now.” " + names, kCast).size() == 2);
  std::string opens;
  for (int i = 0; i < 100000; ++i) opens += "“a ";
  CHECK(extract_dialogue(opens, kCast).size() == 100000);
  std::string colons;
  for (int i = 0; i < 100000; ++i) colons += "Mara: a\n";
  CHECK(extract_dialogue(colons, kCast).size() == 100000);
}

TEST_CASE("random soups of marks, names, line breaks and bad bytes keep every promise",
          "[voice][dialogue]") {
  const std::vector<std::string> pieces = {"\"",
                                           "“",
                                           "”",
                                           "„",
                                           "‘",
                                           "’",
                                           "'",
                                           " ",
                                           " ",
                                           " ",
                                           "\n",
                                           "\n\n",
                                           "\r\n",
                                           "  ",
                                           "\t",
                                           "Mara",
                                           "MARA",
                                           "Ives",
                                           "Captain Ives",
                                           "Mara's",
                                           "Sol",
                                           "said",
                                           "asked",
                                           "she",
                                           "he",
                                           "I",
                                           "and",
                                           "the captain",
                                           "go",
                                           "tonight",
                                           ",",
                                           ".",
                                           "?",
                                           "—",
                                           ":",
                                           "(",
                                           ")",
                                           "[Aside]",
                                           "Ham.",
                                           "Mar.",
                                           "\xFF",
                                           "\xE2\x80",
                                           "\xC3",
                                           "é",
                                           "Zoë",
                                           "don’t",
                                           "goin’",
                                           "'tis"};
  std::mt19937 rng(20240611);
  for (int round = 0; round < 400; ++round) {
    std::string text;
    const int n = static_cast<int>(rng() % 120);
    for (int i = 0; i < n; ++i) text += pieces[rng() % pieces.size()];
    INFO(text);
    std::size_t last = 0;
    for (const Line& l : extract_dialogue(text, kCast)) {
      REQUIRE(l.begin <= l.end);
      REQUIRE(l.end <= text.size());
      CHECK(l.begin >= last);
      last = l.begin;
      CHECK(!l.text.empty());
      CHECK(valid_utf8(l.text));
      // Offsets never split a UTF-8 sequence.
      CHECK((l.begin == text.size() || (static_cast<unsigned char>(text[l.begin]) & 0xC0) != 0x80));
      CHECK((l.end == text.size() || (static_cast<unsigned char>(text[l.end]) & 0xC0) != 0x80));
      CHECK((l.speaker.empty() || std::find(kCast.begin(), kCast.end(), l.speaker) != kCast.end()));
    }
  }
}
