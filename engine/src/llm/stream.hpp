// Incremental parsers for streamed response bodies: server-sent events and a streamed JSON
// array (Gemini's default stream format). Both accept bytes split anywhere.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace loom::llm::detail {

/// One dispatched server-sent event.
struct SseEvent {
  std::string event;  ///< the `event:` field, "" when absent
  std::string data;   ///< the `data:` lines joined by "\n"
};

/// The event-stream format of the HTML standard: lines ending in CRLF, LF or CR; `field: value`
/// (one optional space after the colon); lines starting with ':' are comments; a blank line
/// dispatches the event when it has data.
class SseParser {
 public:
  /// Parses the next bytes; returns the events they complete.
  std::vector<SseEvent> feed(std::string_view bytes);
  /// The body ended: an event not yet closed by a blank line is dispatched (servers that end
  /// without the final blank line lose nothing), and an unfinished line is taken as a line.
  std::vector<SseEvent> finish();

 private:
  void scan(std::string_view bytes, std::vector<SseEvent>* out);
  void line(std::string_view l, std::vector<SseEvent>* out);
  void dispatch(std::vector<SseEvent>* out);
  std::string head_;  // bytes held until a byte order mark is ruled out
  std::string buf_;
  bool after_cr_ = false;  // the last byte was CR: a following LF belongs to the same line end
  bool bom_checked_ = false;
  SseEvent current_;
  bool has_data_ = false;
};

/// Splits `[ {...} , {...} ]` into its elements' texts as they complete, without parsing them.
class JsonArraySplitter {
 public:
  /// Returns the elements the bytes complete. Sets malformed() on text outside the grammar.
  std::vector<std::string> feed(std::string_view bytes);
  bool closed() const { return state_ == kClosed; }
  bool malformed() const { return malformed_; }

 private:
  enum State { kBeforeArray, kBetween, kInElement, kClosed };
  State state_ = kBeforeArray;
  int depth_ = 0;
  bool in_string_ = false;
  bool escaped_ = false;
  bool malformed_ = false;
  std::string element_;
};

}  // namespace loom::llm::detail
