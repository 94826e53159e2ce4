// libFuzzer target: any bytes as a provider's response body, for each protocol, streamed or
// not, split at a point the input chooses; and any bytes as a models file. Nothing may crash,
// the text must be valid UTF-8, and every failure must carry one of the classified codes.
#include <cstdint>
#include <string>

#include "loom/llm.hpp"

namespace {
bool classified(loom::ErrorCode c) {
  using loom::ErrorCode;
  return c == ErrorCode::kRateLimited || c == ErrorCode::kUnavailable || c == ErrorCode::kTimeout ||
         c == ErrorCode::kAuth || c == ErrorCode::kBadRequest || c == ErrorCode::kContentFiltered ||
         c == ErrorCode::kBadResponse;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const auto provider = static_cast<loom::llm::Provider>(data[0] % 3);
  const bool stream = data[0] & 4;
  const int status = (data[0] & 8) ? 429 + (data[0] >> 4) * 10 : 200;
  std::string body(reinterpret_cast<const char*>(data + 2), size - 2);
  std::size_t split = body.empty() ? 0 : data[1] % (body.size() + 1);
  loom::llm::ResponseDecoder decoder(provider, stream, "KEY_NAME");
  std::string text = decoder.feed(std::string_view(body).substr(0, split));
  text += decoder.feed(std::string_view(body).substr(split));
  auto out = decoder.finish(status, loom::Json::object());
  if (loom::valid_utf8(text) != text) __builtin_trap();
  if (out.ok) {
    if (loom::valid_utf8(out.completion.text) != out.completion.text) __builtin_trap();
  } else if (!classified(out.failure.error.code)) {
    __builtin_trap();
  }
  auto pool = loom::llm::load_model_pool(body, "models.yaml");
  if (pool.errors.empty() == !pool.pool) __builtin_trap();
  return 0;
}
