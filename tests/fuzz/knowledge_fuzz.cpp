// libFuzzer target for the knowledge base. The first byte picks what the rest is:
//   0: text to tokenize, analyze, search for and scan for mentions;
//   1: a snapshot body, sealed with a valid checksum so that the parser behind it is reached;
//   2: raw bytes as a snapshot.
// It traps if a token is empty, too long, not valid UTF-8 or outside the text; if a load fails
// with another code than kBadArgument (kInvalidValue for a newer version); if a loaded base does
// not survive its own snapshot unchanged; or if the router leaves its budget. ASan and UBSan
// catch the rest.
#include <cstdint>
#include <string>
#include <string_view>

#include "knowledge/analysis.hpp"
#include "knowledge/snapshot.hpp"
#include "loom/knowledge.hpp"

namespace {

using namespace loom::knowledge;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

const KnowledgeBase& cast() {
  static const KnowledgeBase kb = [] {
    KnowledgeBase b;
    Entry e;
    e.id = "mara";
    e.name = "Mara Quill";
    e.aliases = {"Mara", "the Quill girl", "Anne-Marie"};
    e.text = "Mara grew up on the ferry.\n\nShe fears deep water.";
    b.put(e);
    e.id = "twin";
    e.name = "Ash";
    e.aliases = {"Mara"};
    e.text = "Ash is Mara's twin.";
    b.put(e);
    return b;
  }();
  return kb;
}

void exercise(KnowledgeBase& kb, std::string_view text) {
  const std::string bytes = kb.snapshot();
  auto again = KnowledgeBase::load(bytes);
  check(again.ok());
  check(again->snapshot() == bytes);
  check(again->fingerprint() == kb.fingerprint());
  for (std::uint32_t c = 0; c < kb.chunks().size(); ++c) check(detail::is_valid_utf8(kb.chunk_text(c)));
  QueryRequest q;
  q.queries = {std::string(text.substr(0, 64)), "ferry storm"};
  q.text = std::string(text.substr(0, 256));
  q.budget_tokens = static_cast<std::int64_t>(text.size() % 300);
  QueryResult r = query(kb, q);
  check(r.tokens <= q.budget_tokens);
  (void)query_result_to_json(kb, r).dump();  // throws (and aborts) on invalid UTF-8
  if (!kb.entries().empty()) {
    Entry e = kb.entries().front();
    e.text += " and more";
    check(kb.put(e).code == loom::ErrorCode::kOk);
    check(kb.remove(kb.entries().back().id));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 3) {
    case 0: {
      detail::TokenBuffer buffer;
      detail::tokenize_into(in, buffer);
      for (const auto& t : buffer.tokens) {
        const std::string_view term = buffer.term(t);
        check(!term.empty() && term.size() <= detail::kMaxTokenBytes && detail::is_valid_utf8(term));
        check(t.begin < t.end && t.end <= in.size());
      }
      check(tokenize(in).size() == buffer.tokens.size());
      for (const auto& term : analyze(in)) check(detail::is_valid_utf8(term));
      for (const auto& m : cast().mentions(in)) check(m.end <= in.size() && in.substr(m.begin, m.end - m.begin) == m.surface);
      (void)cast().search(in);
      break;
    }
    case 1: {
      auto kb = KnowledgeBase::load(detail::seal_snapshot(in));
      if (!kb.ok()) {
        check(kb.error().code == loom::ErrorCode::kBadArgument);
        break;
      }
      exercise(*kb, in);
      break;
    }
    default: {
      auto kb = KnowledgeBase::load(in);
      if (!kb.ok()) {
        check(kb.error().code == loom::ErrorCode::kBadArgument || kb.error().code == loom::ErrorCode::kInvalidValue);
        break;
      }
      exercise(*kb, in);
      break;
    }
  }
  return 0;
}
