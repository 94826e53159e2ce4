#include "llm/stream.hpp"

namespace loom::llm::detail {

std::vector<SseEvent> SseParser::feed(std::string_view bytes) {
  std::vector<SseEvent> out;
  if (!bom_checked_) {
    // A byte order mark may open the stream; it may also arrive split over feeds.
    static constexpr std::string_view kBom = "\xEF\xBB\xBF";
    head_.append(bytes);
    if (head_.size() < kBom.size() && kBom.substr(0, head_.size()) == head_) return out;
    bom_checked_ = true;
    std::string head;
    head.swap(head_);
    std::string_view rest = head;
    if (rest.substr(0, kBom.size()) == kBom) rest.remove_prefix(kBom.size());
    scan(rest, &out);
    return out;
  }
  scan(bytes, &out);
  return out;
}

void SseParser::scan(std::string_view bytes, std::vector<SseEvent>* out) {
  for (char c : bytes) {
    if (after_cr_ && c == '\n') {
      after_cr_ = false;
      continue;
    }
    after_cr_ = false;
    if (c == '\r' || c == '\n') {
      after_cr_ = c == '\r';
      line(buf_, out);
      buf_.clear();
    } else {
      buf_ += c;
    }
  }
}

std::vector<SseEvent> SseParser::finish() {
  std::vector<SseEvent> out;
  if (!bom_checked_) scan(head_, &out);
  if (!buf_.empty()) {
    line(buf_, &out);
    buf_.clear();
  }
  dispatch(&out);
  return out;
}

void SseParser::line(std::string_view l, std::vector<SseEvent>* out) {
  if (l.empty()) {
    dispatch(out);
    return;
  }
  if (l[0] == ':') return;  // a comment (keep-alive)
  std::string_view field = l;
  std::string_view value;
  auto colon = l.find(':');
  if (colon != std::string_view::npos) {
    field = l.substr(0, colon);
    value = l.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (has_data_) current_.data += '\n';
    current_.data.append(value);
    has_data_ = true;
  } else if (field == "event") {
    current_.event = std::string(value);
  }
  // id and retry concern reconnection, which a model call never does.
}

void SseParser::dispatch(std::vector<SseEvent>* out) {
  if (has_data_) out->push_back(std::move(current_));
  current_ = SseEvent{};
  has_data_ = false;
}

std::vector<std::string> JsonArraySplitter::feed(std::string_view bytes) {
  std::vector<std::string> out;
  for (char c : bytes) {
    if (malformed_) break;
    switch (state_) {
      case kBeforeArray:
        if (c == '[') state_ = kBetween;
        else if (!(c == ' ' || c == '\n' || c == '\r' || c == '\t')) malformed_ = true;
        break;
      case kBetween:
        if (c == '{') {
          state_ = kInElement;
          depth_ = 1;
          element_ = "{";
        } else if (c == ']') {
          state_ = kClosed;
        } else if (!(c == ',' || c == ' ' || c == '\n' || c == '\r' || c == '\t')) {
          malformed_ = true;
        }
        break;
      case kInElement:
        element_ += c;
        if (in_string_) {
          if (escaped_) escaped_ = false;
          else if (c == '\\') escaped_ = true;
          else if (c == '"') in_string_ = false;
        } else if (c == '"') {
          in_string_ = true;
        } else if (c == '{' || c == '[') {
          ++depth_;
        } else if (c == '}' || c == ']') {
          if (--depth_ == 0) {
            out.push_back(std::move(element_));
            element_.clear();
            state_ = kBetween;
          }
        }
        break;
      case kClosed:
        if (!(c == ' ' || c == '\n' || c == '\r' || c == '\t')) malformed_ = true;
        break;
    }
  }
  return out;
}

}  // namespace loom::llm::detail
