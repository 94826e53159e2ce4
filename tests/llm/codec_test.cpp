// codec_test.cpp — the provider codecs (loom/llm.hpp) against fixtures that reproduce each
// provider's documented wire format (tests/llm/fixtures/, sources in SOURCES.md).
//
// The expectations come from the providers' API references, not from the implementation: a
// failure here means the codec and the provider disagree.

#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "fakes/fake_host.hpp"
#include "loom/llm.hpp"

using loom::ErrorCode;
using loom::Json;
using namespace loom::llm;
using Catch::Matchers::Contains;
using Catch::Matchers::EndsWith;
using Catch::Matchers::StartsWith;

namespace {

constexpr std::int64_t kAnyCount = -2;  // a token count the table does not check

// ---------------------------------------------------------------- fixtures and splitting

std::string fixture(const std::string& name) {
  std::string text = loom::test::read_source_file("tests/llm/fixtures/" + name);
  INFO("fixture " << name);
  REQUIRE_FALSE(text.empty());
  return text;
}

std::string crlf(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

std::vector<std::string> whole(const std::string& s) { return {s}; }

std::vector<std::string> bytes(const std::string& s) {
  std::vector<std::string> out;
  for (char c : s) out.emplace_back(1, c);
  return out;
}

// Random-sized pieces (1..23 bytes) from a fixed seed: xorshift32, the same natively and in wasm.
std::vector<std::string> random_pieces(const std::string& s, std::uint32_t seed) {
  std::vector<std::string> out;
  std::uint32_t x = seed;
  std::size_t i = 0;
  while (i < s.size()) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    std::size_t n = 1 + x % 23;
    out.push_back(s.substr(i, n));
    i += n;
  }
  return out;
}

// The events of an SSE text ("\n\n"-separated), and the text rebuilt from some of them.
std::vector<std::string> sse_events(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find("\n\n", start);
    if (end == std::string::npos) end = text.size();
    if (end > start) out.push_back(text.substr(start, end - start));
    start = end + 2;
  }
  return out;
}

std::string join_events(const std::vector<std::string>& events, std::size_t count) {
  std::string out;
  for (std::size_t i = 0; i < count && i < events.size(); ++i) out += events[i] + "\n\n";
  return out;
}

bool is_valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto lead = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    if (lead < 0x80) {
      n = 1;
    } else if (lead >= 0xC2 && lead <= 0xDF) {
      n = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      n = 3;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      n = 4;
    } else {
      return false;
    }
    if (i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

std::string lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

// ---------------------------------------------------------------- decoding

struct Decoded {
  std::string deltas;  // every feed's text, concatenated
  bool deltas_valid_utf8 = true;
  ResponseDecoder::Outcome out;
};

Decoded decode(Provider provider, bool stream, const std::vector<std::string>& pieces,
               int status = 200, const Json& headers = Json::object(), bool early_status = false,
               const std::string& credential_name = {}) {
  ResponseDecoder decoder(provider, stream, credential_name);
  if (early_status) decoder.set_status(status);
  Decoded d;
  for (const auto& piece : pieces) {
    std::string delta = decoder.feed(piece);
    if (!is_valid_utf8(delta)) d.deltas_valid_utf8 = false;
    d.deltas += delta;
  }
  d.out = decoder.finish(status, headers);
  return d;
}

std::string describe(const ResponseDecoder::Outcome& o) {
  if (o.ok) {
    return "ok: text=[" + o.completion.text +
           "] finish=" + std::string(finish_reason_name(o.completion.finish_reason)) +
           " provider_finish=" + o.completion.provider_finish_reason;
  }
  return "failure: " + o.failure.error.format();
}

std::string code_name(ErrorCode c) { return std::string(loom::error_code_name(c)); }
std::string reason_name(FinishReason r) { return std::string(finish_reason_name(r)); }

struct Want {
  std::string text;
  FinishReason reason = FinishReason::kStop;
  std::string provider_reason;
  bool truncated = false;
  std::int64_t input_tokens = -1;
  std::int64_t output_tokens = -1;
  std::string model;
};

void check_completion(const ResponseDecoder::Outcome& o, const Want& w) {
  INFO(describe(o));
  REQUIRE(o.ok);
  const Completion& c = o.completion;
  CHECK(c.text == w.text);
  CHECK(reason_name(c.finish_reason) == reason_name(w.reason));
  CHECK(c.provider_finish_reason == w.provider_reason);
  CHECK(c.truncated == w.truncated);
  CHECK(c.usage.input_tokens == w.input_tokens);
  if (w.output_tokens != kAnyCount) CHECK(c.usage.output_tokens == w.output_tokens);
  CHECK(c.model == w.model);
}

void check_failure(const ResponseDecoder::Outcome& o, ErrorCode code) {
  INFO(describe(o));
  REQUIRE_FALSE(o.ok);
  CHECK(code_name(o.failure.error.code) == code_name(code));
  CHECK_FALSE(o.failure.error.message.empty());
}

// A response the provider cut short with a safety reason but with some text: llm.hpp has both a
// FinishReason::kContentFilter Completion and a kContentFiltered Failure and does not say which
// one partial text gets, so either is accepted, each with everything the provider reported.
void check_filtered_partial(const ResponseDecoder::Outcome& o, const std::string& text,
                            const std::string& provider_reason, std::int64_t input_tokens,
                            std::int64_t output_tokens) {
  INFO(describe(o));
  if (o.ok) {
    CHECK(reason_name(o.completion.finish_reason) == reason_name(FinishReason::kContentFilter));
    CHECK(o.completion.provider_finish_reason == provider_reason);
    CHECK(o.completion.text == text);
    CHECK_FALSE(o.completion.truncated);
    CHECK(o.completion.usage.input_tokens == input_tokens);
    CHECK(o.completion.usage.output_tokens == output_tokens);
  } else {
    CHECK(code_name(o.failure.error.code) == code_name(ErrorCode::kContentFiltered));
    CHECK_FALSE(loom::is_retryable(o.failure.error.code));
    // Billed anyway (Anthropic: "Usage metrics are still provided ... for billing purposes").
    CHECK(o.failure.usage.input_tokens == input_tokens);
    CHECK(o.failure.usage.output_tokens == output_tokens);
  }
}

// ---------------------------------------------------------------- requests

ModelSpec spec(Provider provider, std::string base_url, std::string model_id, Credential cred) {
  ModelSpec m;
  m.name = "draft";
  m.provider = provider;
  m.base_url = std::move(base_url);
  m.model_id = std::move(model_id);
  m.credential = std::move(cred);
  m.connect_timeout_ms = 7000;
  m.read_timeout_ms = 90000;
  return m;
}

ModelSpec openai_spec() {
  return spec(Provider::kOpenAI, "https://api.openai.com/v1", "gpt-4o-mini",
              {"OPENAI_API_KEY", "Authorization", "Bearer "});
}
ModelSpec anthropic_spec() {
  return spec(Provider::kAnthropic, "https://api.anthropic.com/v1", "claude-sonnet-4-5",
              {"ANTHROPIC_API_KEY", "x-api-key", ""});
}
ModelSpec gemini_spec() {
  return spec(Provider::kGemini, "https://generativelanguage.googleapis.com/v1beta",
              "gemini-2.5-flash", {"GEMINI_API_KEY", "x-goog-api-key", ""});
}

const char* const kSystem = "You are a careful fiction editor.";

Call full_call(bool stream) {
  Call c;
  c.system = kSystem;
  c.messages = {{"user", "Tighten this paragraph: “The sea was grey.”"},
                {"assistant", "Which paragraph?"},
                {"user", "The first one — the café scene."}};
  c.temperature = 0.8;
  c.top_p = 0.9;
  c.max_tokens = 512;
  c.stop = {"\n\nTHE END"};
  c.stream = stream;
  return c;
}

Call bare_call(bool stream) {
  Call c;
  c.messages = {{"user", "Name the lighthouse."}};
  c.stream = stream;
  return c;
}

std::optional<std::string> header(const HttpRequest& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (lower(k) == lower(name)) return v;
  }
  return std::nullopt;
}

Json body_of(const HttpRequest& r) {
  Json body = Json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  INFO("body: " << r.body);
  REQUIRE(body.is_object());
  return body;
}

// Message content as text: a string, or an array of {type: text, text} parts (both documented).
std::string content_text(const Json& content) {
  if (content.is_string()) return content.get<std::string>();
  std::string out;
  if (content.is_array()) {
    for (const auto& part : content) {
      if (part.is_object() && part.contains("text") && part["text"].is_string()) {
        out += part["text"].get<std::string>();
      }
    }
  }
  return out;
}

bool absent_or_null(const Json& obj, const char* key) {
  return !obj.contains(key) || obj[key].is_null();
}

void check_no_key_anywhere(const HttpRequest& r) {
  CHECK_THAT(lower(r.url), !Contains("key="));
  for (const auto& [k, v] : r.headers) {
    INFO("header " << k);
    CHECK(lower(k) != "authorization");
    CHECK(lower(k) != "x-api-key");
    CHECK(lower(k) != "x-goog-api-key");
  }
  CHECK_THAT(lower(r.body), !Contains("api_key") && !Contains("apikey"));
}

void check_common(const HttpRequest& r, const ModelSpec& m, bool stream) {
  CHECK(r.method == "POST");
  auto ct = header(r, "content-type");
  REQUIRE(ct.has_value());
  CHECK_THAT(*ct, StartsWith("application/json"));
  CHECK(r.credential.name == m.credential.name);
  CHECK(r.credential.header == m.credential.header);
  CHECK(r.credential.prefix == m.credential.prefix);
  CHECK(r.stream == stream);
  CHECK(r.connect_timeout_ms == m.connect_timeout_ms);
  CHECK(r.read_timeout_ms == m.read_timeout_ms);
  check_no_key_anywhere(r);
}

// ---------------------------------------------------------------- models files

int line_of(const std::string& text, const std::string& needle) {
  std::size_t at = text.find(needle);
  REQUIRE(at != std::string::npos);
  int line = 1;
  for (std::size_t i = 0; i < at; ++i) {
    if (text[i] == '\n') ++line;
  }
  return line;
}

ModelPoolLoad load(const std::string& yaml, const VariableLookup& vars = {}) {
  return load_model_pool(yaml, "models.yaml", vars);
}

loom::Error one_error(const ModelPoolLoad& r) {
  for (const auto& e : r.errors) UNSCOPED_INFO(e.format());
  REQUIRE(r.errors.size() == 1);
  CHECK(r.pool == nullptr);
  CHECK(r.errors[0].file == "models.yaml");
  CHECK(r.errors[0].column > 0);
  CHECK_FALSE(r.errors[0].hint.empty());  // llm.hpp: every problem comes with a hint
  return r.errors[0];
}

std::string one_model(const std::string& extra_line) {
  return "models:\n"
         "  draft:\n"
         "    provider: openai\n"
         "    model: gpt-4o-mini\n" +
         extra_line + "\n";
}

}  // namespace

// ================================================================ names

TEST_CASE("provider and finish-reason names", "[llm]") {
  CHECK(std::string(provider_name(Provider::kOpenAI)) == "openai");
  CHECK(std::string(provider_name(Provider::kAnthropic)) == "anthropic");
  CHECK(std::string(provider_name(Provider::kGemini)) == "gemini");
  CHECK(reason_name(FinishReason::kStop) == "stop");
  CHECK(reason_name(FinishReason::kLength) == "length");
  CHECK(reason_name(FinishReason::kContentFilter) == "content_filter");
  CHECK(reason_name(FinishReason::kToolCalls) == "tool_calls");
  CHECK(reason_name(FinishReason::kOther) == "other");
  CHECK(static_cast<int>(ErrorCode::kContentFiltered) == 31);
  CHECK(code_name(ErrorCode::kContentFiltered) == "content_filtered");
  CHECK_FALSE(loom::is_retryable(ErrorCode::kContentFiltered));
}

// ================================================================ encode_request

TEST_CASE("OpenAI: the request is a chat completion with the system message first", "[llm]") {
  const ModelSpec m = openai_spec();
  for (bool stream : {false, true}) {
    CAPTURE(stream);
    HttpRequest r = encode_request(m, full_call(stream));
    check_common(r, m, stream);
    CHECK(r.url == "https://api.openai.com/v1/chat/completions");
    Json b = body_of(r);
    CHECK(b["model"] == "gpt-4o-mini");
    REQUIRE(b["messages"].is_array());
    REQUIRE(b["messages"].size() == 4);
    CHECK(b["messages"][0]["role"] == "system");
    CHECK(content_text(b["messages"][0]["content"]) == kSystem);
    CHECK(b["messages"][1]["role"] == "user");
    CHECK(content_text(b["messages"][1]["content"]) ==
          "Tighten this paragraph: “The sea was grey.”");
    CHECK(b["messages"][2]["role"] == "assistant");
    CHECK(content_text(b["messages"][2]["content"]) == "Which paragraph?");
    CHECK(b["messages"][3]["role"] == "user");
    CHECK(content_text(b["messages"][3]["content"]) == "The first one — the café scene.");
    CHECK(b["temperature"].get<double>() == Approx(0.8));
    CHECK(b["top_p"].get<double>() == Approx(0.9));
    CHECK(b["max_tokens"] == 512);
    CHECK(b["stop"] == Json::array({"\n\nTHE END"}));
    if (stream) {
      CHECK(b["stream"] == true);
      // Without it the stream carries no usage (stream_options.include_usage in the reference).
      CHECK(b["stream_options"]["include_usage"] == true);
    } else {
      CHECK((absent_or_null(b, "stream") || b["stream"] == false));
      CHECK(absent_or_null(b, "stream_options"));
    }
  }
}

TEST_CASE("OpenAI: a bare call sends no system message and no unset options", "[llm]") {
  const ModelSpec m = openai_spec();
  HttpRequest r = encode_request(m, bare_call(false));
  Json b = body_of(r);
  REQUIRE(b["messages"].size() == 1);
  CHECK(b["messages"][0]["role"] == "user");
  CHECK(absent_or_null(b, "temperature"));
  CHECK(absent_or_null(b, "top_p"));
  CHECK((absent_or_null(b, "stop") || b["stop"].empty()));
}

TEST_CASE("OpenAI protocol: local servers' base URLs, with or without a trailing slash", "[llm]") {
  // Ollama's docs configure the OpenAI clients with base_url 'http://localhost:11434/v1/'.
  ModelSpec m = spec(Provider::kOpenAI, "http://localhost:11434/v1/", "llama3.2", {});
  HttpRequest r = encode_request(m, bare_call(true));
  CHECK(r.url == "http://localhost:11434/v1/chat/completions");
  CHECK(r.credential.name.empty());
  m.base_url = "http://localhost:11434/v1";
  CHECK(encode_request(m, bare_call(true)).url == "http://localhost:11434/v1/chat/completions");
}

TEST_CASE("Anthropic: system is top-level, max_tokens is always sent", "[llm]") {
  const ModelSpec m = anthropic_spec();
  for (bool stream : {false, true}) {
    CAPTURE(stream);
    HttpRequest r = encode_request(m, full_call(stream));
    check_common(r, m, stream);
    CHECK(r.url == "https://api.anthropic.com/v1/messages");
    CHECK(header(r, "anthropic-version") == std::optional<std::string>("2023-06-01"));
    Json b = body_of(r);
    CHECK(b["model"] == "claude-sonnet-4-5");
    CHECK(content_text(b["system"]) == kSystem);
    REQUIRE(b["messages"].size() == 3);  // "there is no "system" role for input messages"
    CHECK(b["messages"][0]["role"] == "user");
    CHECK(content_text(b["messages"][0]["content"]) ==
          "Tighten this paragraph: “The sea was grey.”");
    CHECK(b["messages"][1]["role"] == "assistant");
    CHECK(b["messages"][2]["role"] == "user");
    for (const auto& msg : b["messages"]) CHECK(msg["role"] != "system");
    CHECK(b["max_tokens"] == 512);
    CHECK(b["temperature"].get<double>() == Approx(0.8));
    CHECK(b["top_p"].get<double>() == Approx(0.9));
    CHECK(b["stop_sequences"] == Json::array({"\n\nTHE END"}));
    if (stream) {
      CHECK(b["stream"] == true);
    } else {
      CHECK((absent_or_null(b, "stream") || b["stream"] == false));
    }
  }
}

TEST_CASE("Anthropic: a call without max_tokens still sends one (it is required)", "[llm]") {
  HttpRequest r = encode_request(anthropic_spec(), bare_call(false));
  Json b = body_of(r);
  REQUIRE(b.contains("max_tokens"));
  REQUIRE(b["max_tokens"].is_number_integer());
  CHECK(b["max_tokens"].get<std::int64_t>() > 0);
  CHECK((absent_or_null(b, "system") || content_text(b["system"]).empty()));
  CHECK(absent_or_null(b, "temperature"));
}

TEST_CASE("Gemini: contents with user/model roles, systemInstruction, generationConfig", "[llm]") {
  const ModelSpec m = gemini_spec();
  for (bool stream : {false, true}) {
    CAPTURE(stream);
    HttpRequest r = encode_request(m, full_call(stream));
    check_common(r, m, stream);
    if (stream) {
      CHECK(r.url ==
            "https://generativelanguage.googleapis.com/v1beta/models/"
            "gemini-2.5-flash:streamGenerateContent?alt=sse");
    } else {
      CHECK(r.url ==
            "https://generativelanguage.googleapis.com/v1beta/models/"
            "gemini-2.5-flash:generateContent");
    }
    Json b = body_of(r);
    REQUIRE(b["contents"].is_array());
    REQUIRE(b["contents"].size() == 3);
    CHECK(b["contents"][0]["role"] == "user");
    CHECK(b["contents"][0]["parts"][0]["text"] == "Tighten this paragraph: “The sea was grey.”");
    CHECK(b["contents"][1]["role"] == "model");
    CHECK(b["contents"][1]["parts"][0]["text"] == "Which paragraph?");
    CHECK(b["contents"][2]["role"] == "user");
    CHECK(b["systemInstruction"]["parts"][0]["text"] == kSystem);
    Json g = b["generationConfig"];
    CHECK(g["temperature"].get<double>() == Approx(0.8));
    CHECK(g["topP"].get<double>() == Approx(0.9));
    CHECK(g["maxOutputTokens"] == 512);
    CHECK(g["stopSequences"] == Json::array({"\n\nTHE END"}));
    CHECK(absent_or_null(b, "model"));  // the model is in the URL
  }
}

TEST_CASE("Gemini: a bare call has no systemInstruction", "[llm]") {
  Json b = body_of(encode_request(gemini_spec(), bare_call(true)));
  CHECK(absent_or_null(b, "systemInstruction"));
  REQUIRE(b["contents"].size() == 1);
  CHECK(b["contents"][0]["role"] == "user");
}

TEST_CASE("http_request_to_json: the http effect's arguments", "[llm]") {
  HttpRequest r = encode_request(anthropic_spec(), full_call(true));
  Json j = http_request_to_json(r);
  CHECK(j["method"] == "POST");
  CHECK(j["url"] == "https://api.anthropic.com/v1/messages");
  REQUIRE(j["headers"].is_object());
  bool version = false;
  for (const auto& [k, v] : j["headers"].items()) {
    if (lower(k) == "anthropic-version") version = (v == "2023-06-01");
  }
  CHECK(version);
  CHECK(j["body"] == r.body);
  CHECK(j["credential"]["name"] == "ANTHROPIC_API_KEY");
  CHECK(j["credential"]["header"] == "x-api-key");
  CHECK(j["credential"]["prefix"] == "");
  CHECK(j["stream"] == true);
  CHECK(j["connect_timeout_ms"] == 7000);
  CHECK(j["read_timeout_ms"] == 90000);

  // A local server: no credential to add.
  HttpRequest local = encode_request(
      spec(Provider::kOpenAI, "http://localhost:1234/v1", "qwen", {}), bare_call(false));
  Json lj = http_request_to_json(local);
  CHECK(absent_or_null(lj, "credential"));
  CHECK(lj["stream"] == false);
}

// ================================================================ call_from_args

TEST_CASE("call_from_args: prompt or messages over the model's defaults", "[llm]") {
  ModelSpec m = openai_spec();
  m.temperature = 0.7;
  m.max_tokens = 2048;
  m.system = kSystem;
  m.stream = true;

  SECTION("a prompt becomes one user message; the model's defaults apply") {
    auto c = call_from_args(m, Json{{"prompt", "Write the opening line."}});
    REQUIRE(c.ok());
    REQUIRE(c->messages.size() == 1);
    CHECK(c->messages[0].role == "user");
    CHECK(c->messages[0].content == "Write the opening line.");
    CHECK(c->system == kSystem);
    REQUIRE(c->temperature.has_value());
    CHECK(*c->temperature == Approx(0.7));
    CHECK(c->max_tokens == std::optional<std::int64_t>(2048));
    CHECK(c->stream);
    CHECK_FALSE(c->top_p.has_value());
    CHECK(c->stop.empty());
  }
  SECTION("arguments override the model") {
    auto c = call_from_args(m, Json{{"prompt", "p"},
                                    {"system", "You write villanelles."},
                                    {"temperature", 0.2},
                                    {"top_p", 0.5},
                                    {"max_tokens", 100},
                                    {"stop", Json::array({"END", "FIN"})},
                                    {"stream", false}});
    REQUIRE(c.ok());
    CHECK(c->system == "You write villanelles.");
    CHECK(*c->temperature == Approx(0.2));
    REQUIRE(c->top_p.has_value());
    CHECK(*c->top_p == Approx(0.5));
    CHECK(c->max_tokens == std::optional<std::int64_t>(100));
    CHECK(c->stop == std::vector<std::string>{"END", "FIN"});
    CHECK_FALSE(c->stream);
  }
  SECTION("messages, with a system message folded into system") {
    Json args = {{"messages", Json::array({{{"role", "system"}, {"content", "Answer in verse."}},
                                           {{"role", "user"}, {"content", "Who rang the bell?"}},
                                           {{"role", "assistant"}, {"content", "The drowned."}},
                                           {{"role", "user"}, {"content", "Why?"}}})}};
    auto c = call_from_args(m, args);
    REQUIRE(c.ok());
    CHECK_THAT(c->system, Contains("Answer in verse."));  // folded into system
    // A system given in the arguments, as `system` or as a system message, replaces the model's
    // default system prompt (the same as the `system` argument above) rather than adding to it.
    CHECK(c->system == "Answer in verse.");
    REQUIRE(c->messages.size() == 3);
    CHECK(c->messages[0].role == "user");
    CHECK(c->messages[0].content == "Who rang the bell?");
    CHECK(c->messages[1].role == "assistant");
    CHECK(c->messages[1].content == "The drowned.");
    CHECK(c->messages[2].role == "user");
    for (const auto& msg : c->messages) CHECK(msg.role != "system");
  }
  SECTION("a model without defaults leaves them unset") {
    ModelSpec bare = openai_spec();
    auto c = call_from_args(bare, Json{{"prompt", "p"}});
    REQUIRE(c.ok());
    CHECK_FALSE(c->temperature.has_value());
    CHECK_FALSE(c->max_tokens.has_value());
    CHECK(c->system.empty());
  }
}

TEST_CASE("call_from_args: malformed arguments are kBadArgument", "[llm]") {
  const ModelSpec m = openai_spec();
  const std::vector<std::pair<const char*, Json>> cases = {
      {"no prompt and no messages", Json::object()},
      {"not an object", Json::array({"prompt"})},
      {"empty messages", Json{{"messages", Json::array()}}},
      {"messages not a list", Json{{"messages", "hello"}}},
      {"a message without content", Json{{"messages", Json::array({{{"role", "user"}}})}}},
      {"a message without role", Json{{"messages", Json::array({{{"content", "hi"}}})}}},
      {"a message that is not an object", Json{{"messages", Json::array({"hi"})}}},
      {"a prompt that is not text", Json{{"prompt", 42}}},
  };
  for (const auto& [what, args] : cases) {
    INFO(what << ": " << args.dump());
    auto c = call_from_args(m, args);
    REQUIRE_FALSE(c.ok());
    CHECK(code_name(c.error().code) == code_name(ErrorCode::kBadArgument));
    CHECK_FALSE(c.error().message.empty());
  }
}

// ================================================================ ResponseDecoder: streams

namespace {

struct StreamCase {
  const char* file;
  Provider provider;
  Want want;
  bool sse = true;  // false: Gemini's JSON-array framing
};

std::vector<StreamCase> stream_cases() {
  return {
      {"openai/stream.sse",
       Provider::kOpenAI,
       {"The keeper’s lamp swept the bay — once, twice — and the café lights went out. 🌊",
        FinishReason::kStop, "stop", false, 24, 21, "gpt-4o-mini-2024-07-18"}},
      {"openai/stream_no_usage.sse",
       Provider::kOpenAI,
       {"The keeper’s lamp swept the bay — once, twice — and the café lights went out. 🌊",
        FinishReason::kStop, "stop", false, -1, -1, "gpt-4o-mini-2024-07-18"}},
      {"openai/ollama_stream.sse",
       Provider::kOpenAI,
       {"“Not tonight,” she said, <quietly> & shut the door.", FinishReason::kStop, "stop", false,
        31, 18, "qwen3:8b"}},
      {"anthropic/stream.sse",
       Provider::kAnthropic,
       {"Once upon a tide, the keeper’s daughter rowed out alone — 🌊", FinishReason::kStop,
        "end_turn", false, 25, 15, "claude-sonnet-4-5-20250929"}},
      {"anthropic/stream_with_thinking.sse",
       Provider::kAnthropic,
       {"27 * 453 = 12,231", FinishReason::kStop, "end_turn", false, 44, 312,
        "claude-sonnet-4-5-20250929"}},
      {"gemini/stream.sse",
       Provider::kGemini,
       {"The capital of the drowned county is **Saltmarsh** — café-lined, fog-bound. 🌫️\n",
        FinishReason::kStop, "STOP", false, 7, 21, "gemini-2.5-flash-lite"}},
      {"gemini/stream_array.json",
       Provider::kGemini,
       {"The capital of the drowned county is **Saltmarsh** — café-lined, fog-bound. 🌫️\n",
        FinishReason::kStop, "STOP", false, 7, 21, "gemini-2.5-flash-lite"},
       false},
      {"gemini/stream_with_thought.sse",
       Provider::kGemini,
       {"The lamp turned once more over the empty sea, and then, for the first time in forty "
        "years, went dark.",
        FinishReason::kStop, "STOP", false, 10, kAnyCount, "gemini-2.5-flash"}},
  };
}

void check_stream(const StreamCase& sc, const std::string& body, const std::string& how,
                  const std::vector<std::string>& pieces, bool early_status = false) {
  INFO(sc.file << " fed " << how << " (" << pieces.size() << " pieces)");
  Decoded d = decode(sc.provider, /*stream=*/true, pieces, 200, Json::object(), early_status);
  CHECK(d.deltas_valid_utf8);
  CHECK(d.deltas == sc.want.text);  // the live text adds up to the answer
  check_completion(d.out, sc.want);
}

}  // namespace

TEST_CASE("streams decode the same whole, byte by byte and in random pieces", "[llm]") {
  for (const auto& sc : stream_cases()) {
    const std::string body = fixture(sc.file);
    check_stream(sc, body, "whole", whole(body));
    check_stream(sc, body, "whole, status told early", whole(body), true);
    check_stream(sc, body, "byte by byte", bytes(body));
    for (std::uint32_t seed : {1u, 42u, 2024u}) {
      check_stream(sc, body, "in random pieces, seed " + std::to_string(seed),
                   random_pieces(body, seed));
    }
    if (sc.sse) {  // the same events with CRLF line endings (Gemini sends "\r\n\r\n")
      const std::string body_crlf = crlf(body);
      check_stream(sc, body_crlf, "CRLF, whole", whole(body_crlf));
      check_stream(sc, body_crlf, "CRLF, byte by byte", bytes(body_crlf));
      check_stream(sc, body_crlf, "CRLF, in random pieces", random_pieces(body_crlf, 7u));
    }
  }
}

TEST_CASE(
    "thinking is not text: Anthropic thinking/signature deltas, Gemini thought parts, "
    "Ollama reasoning",
    "[llm]") {
  {
    Decoded d =
        decode(Provider::kAnthropic, true, whole(fixture("anthropic/stream_with_thinking.sse")));
    CHECK_THAT(d.deltas, !Contains("step by step") && !Contains("EqQBCgIYAhIM"));
    REQUIRE(d.out.ok);
    CHECK_THAT(d.out.completion.text, !Contains("453 = 400") && !Contains("EqQBCgIYAhIM"));
  }
  {
    Decoded d = decode(Provider::kGemini, true, bytes(fixture("gemini/stream_with_thought.sse")));
    CHECK_THAT(d.deltas, !Contains("Exploring the Scene") && !Contains("Settling on Silence"));
    REQUIRE(d.out.ok);
    CHECK_THAT(d.out.completion.text, !Contains("**"));
  }
  {
    Decoded d = decode(Provider::kOpenAI, true, whole(fixture("openai/ollama_stream.sse")));
    CHECK_THAT(d.deltas, !Contains("Keep it terse"));
  }
  {
    ResponseDecoder::Outcome o =
        decode(Provider::kAnthropic, false, whole(fixture("anthropic/message_with_thinking.json")))
            .out;
    check_completion(o, {"And the sea, as ever, kept its counsel.", FinishReason::kStop, "end_turn",
                         false, 64, 71, "claude-sonnet-4-5-20250929"});
  }
}

TEST_CASE("Gemini: thinking tokens count as output tokens (they are billed as output)", "[llm]") {
  // usageMetadata: promptTokenCount 10, candidatesTokenCount 24, thoughtsTokenCount 318,
  // totalTokenCount 352 = 10 + 24 + 318; Gemini's pricing: "Output price (including thinking
  // tokens)". OpenAI's completion_tokens and Anthropic's output_tokens already include them.
  Decoded d = decode(Provider::kGemini, true, whole(fixture("gemini/stream_with_thought.sse")));
  INFO(describe(d.out));
  REQUIRE(d.out.ok);
  CHECK(d.out.completion.usage.input_tokens == 10);
  CHECK(d.out.completion.usage.output_tokens == 24 + 318);
}

TEST_CASE("SSE details the providers document: comments, pings, unknown events", "[llm]") {
  SECTION("OpenRouter's ': OPENROUTER PROCESSING' comments are ignored") {
    std::string body = ": OPENROUTER PROCESSING\n\n" + fixture("openai/stream.sse");
    body.insert(body.find("data: ", 40), ": OPENROUTER PROCESSING\n\n");
    for (const auto& pieces : {whole(body), bytes(body)}) {
      Decoded d = decode(Provider::kOpenAI, true, pieces);
      check_completion(d.out, stream_cases()[0].want);
    }
  }
  SECTION(
      "Anthropic: an unknown event type is skipped (\"handle unknown event types gracefully\")") {
    std::string body = fixture("anthropic/stream.sse");
    const std::string ping = "event: ping\ndata: {\"type\": \"ping\"}\n\n";
    body.insert(
        body.find(ping) + ping.size(),
        "event: future_event\ndata: {\"type\": \"future_event\", \"detail\": {\"n\": 1}}\n\n");
    Decoded d = decode(Provider::kAnthropic, true, bytes(body));
    check_completion(d.out, stream_cases()[3].want);
  }
}

TEST_CASE("a stream cut before its end is kBadResponse", "[llm]") {
  SECTION("OpenAI: no finish chunk, no usage, no [DONE]") {
    auto events = sse_events(fixture("openai/stream.sse"));
    REQUIRE(events.size() > 3);
    std::string cut = join_events(events, events.size() - 3);
    for (const auto& pieces : {whole(cut), bytes(cut)}) {
      check_failure(decode(Provider::kOpenAI, true, pieces).out, ErrorCode::kBadResponse);
    }
  }
  SECTION("OpenAI: cut inside an event") {
    std::string body = fixture("openai/stream.sse");
    std::string cut = body.substr(0, body.find("\"content\":\"café\"") + 14);
    check_failure(decode(Provider::kOpenAI, true, whole(cut)).out, ErrorCode::kBadResponse);
  }
  SECTION("Anthropic: no message_delta, no message_stop") {
    auto events = sse_events(fixture("anthropic/stream.sse"));
    std::string cut = join_events(events, events.size() - 2);
    for (const auto& pieces : {whole(cut), bytes(cut)}) {
      check_failure(decode(Provider::kAnthropic, true, pieces).out, ErrorCode::kBadResponse);
    }
  }
  SECTION("Gemini SSE: the last event (with finishReason) never came") {
    auto events = sse_events(fixture("gemini/stream.sse"));
    std::string cut = join_events(events, events.size() - 1);
    check_failure(decode(Provider::kGemini, true, whole(cut)).out, ErrorCode::kBadResponse);
  }
  SECTION("Gemini JSON array: the array is never closed") {
    std::string body = fixture("gemini/stream_array.json");
    std::string cut = body.substr(0, body.rfind("\n,\r\n"));
    for (const auto& pieces : {whole(cut), bytes(cut)}) {
      check_failure(decode(Provider::kGemini, true, pieces).out, ErrorCode::kBadResponse);
    }
  }
  SECTION("an empty body") {
    check_failure(decode(Provider::kOpenAI, true, {}).out, ErrorCode::kBadResponse);
    check_failure(decode(Provider::kAnthropic, false, {}).out, ErrorCode::kBadResponse);
    check_failure(decode(Provider::kGemini, false, whole("")).out, ErrorCode::kBadResponse);
  }
}

TEST_CASE("malformed JSON is kBadResponse", "[llm]") {
  SECTION("non-streamed bodies") {
    check_failure(decode(Provider::kOpenAI, false,
                         whole("{\"id\": \"chatcmpl-1\", \"object\": \"chat.completion\", "
                               "\"choices\": [{\"index\": 0, \"message\": {\"content\": \"Hel"))
                      .out,
                  ErrorCode::kBadResponse);
    check_failure(decode(Provider::kAnthropic, false, whole("not json at all")).out,
                  ErrorCode::kBadResponse);
    check_failure(decode(Provider::kGemini, false,
                         whole("<!DOCTYPE html><html><body>Bad Gateway</body></html>"))
                      .out,
                  ErrorCode::kBadResponse);
  }
  SECTION("JSON of the wrong shape") {
    check_failure(decode(Provider::kOpenAI, false, whole("{}")).out, ErrorCode::kBadResponse);
    check_failure(decode(Provider::kAnthropic, false, whole("[1, 2, 3]")).out,
                  ErrorCode::kBadResponse);
    check_failure(decode(Provider::kGemini, false, whole("{}")).out, ErrorCode::kBadResponse);
  }
  SECTION("a broken event inside a stream") {
    std::string body = fixture("openai/stream.sse");
    body.insert(body.find("data: "),
                "data: {\"id\":\"chatcmpl-AyPk2\",\"choices\":[{\"delta\":\n\n");
    check_failure(decode(Provider::kOpenAI, true, whole(body)).out, ErrorCode::kBadResponse);

    std::string a = fixture("anthropic/stream.sse");
    const std::string good = "\"text\": \" upon a tide\"}}";
    a.replace(a.find(good), good.size(), "\"text\": \" upon a tide\"");
    check_failure(decode(Provider::kAnthropic, true, whole(a)).out, ErrorCode::kBadResponse);

    std::string g = fixture("gemini/stream.sse");
    g.replace(g.find("{\"candidates\""), 1, "[");
    check_failure(decode(Provider::kGemini, true, whole(g)).out, ErrorCode::kBadResponse);
  }
}

TEST_CASE("an error event inside a stream is classified: Anthropic overloaded_error", "[llm]") {
  // Streaming docs: "during periods of high usage, you may receive an overloaded_error, which
  // would normally correspond to an HTTP 529 in a non-streaming context" — after a 200.
  const std::string body = fixture("anthropic/stream_error.sse");
  for (const auto& pieces : {whole(body), bytes(body), random_pieces(body, 5u)}) {
    Decoded d = decode(Provider::kAnthropic, true, pieces);
    CHECK(d.deltas == "The bell rang twice beneath");  // the text before the error was live
    check_failure(d.out, ErrorCode::kUnavailable);
    CHECK_THAT(d.out.failure.error.message, Contains("Overloaded"));
    CHECK(loom::is_retryable(d.out.failure.error.code));
  }
}

TEST_CASE("an error event inside an OpenAI-protocol stream: OpenRouter's mid-stream error",
          "[llm]") {
  // OpenRouter: after a 200, "any error occurred while the LLM is producing the output will be
  // emitted ... as an SSE data event" with an `error` field and finish_reason "error".
  const std::string body = fixture("openai/openrouter_stream_error.sse");
  for (const auto& pieces : {whole(body), bytes(body)}) {
    Decoded d = decode(Provider::kOpenAI, true, pieces);
    CHECK(d.deltas == "The ferryman did not answer.");
    check_failure(d.out, ErrorCode::kUnavailable);  // server_error: the 5xx of a stream
    CHECK_THAT(d.out.failure.error.message, Contains("Provider disconnected unexpectedly"));
  }
}

// ================================================================ ResponseDecoder: whole bodies

TEST_CASE("non-streamed answers", "[llm]") {
  struct Case {
    const char* file;
    Provider provider;
    Want want;
  };
  const std::vector<Case> cases = {
      {"openai/chat_completion.json",
       Provider::kOpenAI,
       {"“Still burning,” Mara said — and the lamp swept the bay once more.", FinishReason::kStop,
        "stop", false, 19, 17, "gpt-4o-mini-2024-07-18"}},
      {"openai/chat_completion_length.json",
       Provider::kOpenAI,
       {"The storm came in from the west, heavy with salt, and the keeper climbed the ninety-one "
        "steps as he had every night for thirty",
        FinishReason::kLength, "length", true, 42, 32, "gpt-4o-mini-2024-07-18"}},
      {"anthropic/message.json",
       Provider::kAnthropic,
       {"The tide had already taken the rowboat by the time Ilse reached the jetty — she watched "
        "it drift, oars still shipped, toward the lighthouse.",
        FinishReason::kStop, "end_turn", false, 2095, 503, "claude-sonnet-4-5-20250929"}},
      {"anthropic/message_max_tokens.json",
       Provider::kAnthropic,
       {"Chapter Two\n\nNobody in Harrow’s End spoke of the drowned bell, least of all the "
        "ferryman, who had",
        FinishReason::kLength, "max_tokens", true, 412, 32, "claude-sonnet-4-5-20250929"}},
      {"gemini/generate_content.json",
       Provider::kGemini,
       {"The ferry left without her. Nell stood on the quay with her suitcase and watched the wake "
        "fold itself back into the grey water.",
        FinishReason::kStop, "STOP", false, 12, 27, "gemini-2.0-flash"}},
      {"gemini/generate_content_max_tokens.json",
       Provider::kGemini,
       {"Nell counted the lamps along the harbour wall: seven lit, one dark, and beside the dark "
        "one a figure she",
        FinishReason::kLength, "MAX_TOKENS", true, 15, 24, "gemini-2.0-flash"}},
  };
  for (const auto& c : cases) {
    const std::string body = fixture(c.file);
    for (const auto& [how, pieces] : std::vector<std::pair<std::string, std::vector<std::string>>>{
             {"whole", whole(body)},
             {"byte by byte", bytes(body)},
             {"random", random_pieces(body, 3u)}}) {
      INFO(c.file << " fed " << how);
      check_completion(decode(c.provider, false, pieces).out, c.want);
    }
  }
}

TEST_CASE("content filters", "[llm]") {
  SECTION("OpenAI finish_reason content_filter with the content omitted: kContentFiltered") {
    auto o =
        decode(Provider::kOpenAI, false, whole(fixture("openai/chat_completion_filtered.json")))
            .out;
    check_failure(o, ErrorCode::kContentFiltered);
    CHECK_FALSE(loom::is_retryable(o.failure.error.code));
  }
  SECTION("Gemini promptFeedback.blockReason SAFETY, no candidates: kContentFiltered") {
    auto o =
        decode(Provider::kGemini, false, whole(fixture("gemini/generate_content_blocked.json")))
            .out;
    check_failure(o, ErrorCode::kContentFiltered);
    CHECK_THAT(o.failure.error.message, Contains("SAFETY"));  // the provider's own reason
  }
  SECTION("Anthropic stop_reason refusal, with the partial text the docs show") {
    auto o =
        decode(Provider::kAnthropic, false, whole(fixture("anthropic/message_refusal.json"))).out;
    check_filtered_partial(o, "Hello..", "refusal", 38, 3);
  }
  SECTION("Gemini finishReason SAFETY with partial text") {
    auto o =
        decode(Provider::kGemini, false, whole(fixture("gemini/generate_content_safety.json"))).out;
    check_filtered_partial(o, "The knife caught the lamplight as", "SAFETY", 7, 20);
  }
}

// ================================================================ errors

namespace {

struct ErrorCase {
  const char* what;
  Provider provider;
  int status;
  Json headers;
  std::string body;
  ErrorCode code;
  std::int64_t retry_after_ms;  // kAnyCount: not checked
  std::string message_has;      // the provider's own words
  std::string credential;       // named in the hint for auth failures
};

std::vector<ErrorCase> error_cases() {
  const Json none = Json::object();
  return {
      {"OpenAI 429 rate_limit_exceeded, retry-after seconds", Provider::kOpenAI, 429,
       Json{{"retry-after", "20"}}, fixture("openai/error_429.json"), ErrorCode::kRateLimited,
       20000, "Rate limit reached for gpt-4o-mini", "OPENAI_API_KEY"},
      {"OpenAI 429, retry-after-ms preferred to retry-after", Provider::kOpenAI, 429,
       Json{{"retry-after-ms", "1250"}, {"retry-after", "2"}}, fixture("openai/error_429.json"),
       ErrorCode::kRateLimited, 1250, "Rate limit reached", "OPENAI_API_KEY"},
      {"OpenAI 401 invalid_api_key", Provider::kOpenAI, 401, none, fixture("openai/error_401.json"),
       ErrorCode::kAuth, kAnyCount, "Incorrect API key provided", "OPENAI_API_KEY"},
      {"OpenAI 400 context_length_exceeded", Provider::kOpenAI, 400, none,
       fixture("openai/error_context_length.json"), ErrorCode::kBadRequest, kAnyCount,
       "This model's maximum context length is 128000 tokens", "OPENAI_API_KEY"},
      {"OpenAI 429 insufficient_quota: billing, not a rate", Provider::kOpenAI, 429, none,
       fixture("openai/error_insufficient_quota.json"), ErrorCode::kAuth, kAnyCount,
       "You exceeded your current quota", "OPENAI_API_KEY"},
      {"OpenAI 500 server_error", Provider::kOpenAI, 500, none, fixture("openai/error_500.json"),
       ErrorCode::kUnavailable, kAnyCount, "The server had an error", "OPENAI_API_KEY"},
      {"OpenAI-protocol 503 with an HTML body (a proxy)", Provider::kOpenAI, 503, none,
       "<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>",
       ErrorCode::kUnavailable, kAnyCount, "", "OPENROUTER_API_KEY"},
      {"Anthropic 429 rate_limit_error, retry-after seconds", Provider::kAnthropic, 429,
       Json{{"retry-after", "17"}, {"anthropic-ratelimit-input-tokens-remaining", "0"}},
       fixture("anthropic/error_429.json"), ErrorCode::kRateLimited, 17000,
       "This request would exceed the rate limit for your organization", "ANTHROPIC_API_KEY"},
      {"Anthropic 529 overloaded_error", Provider::kAnthropic, 529, none,
       fixture("anthropic/error_529_overloaded.json"), ErrorCode::kUnavailable, kAnyCount,
       "Overloaded", "ANTHROPIC_API_KEY"},
      {"Anthropic 500 api_error", Provider::kAnthropic, 500, none,
       R"({"type": "error", "error": {"type": "api_error", "message": "Internal server error"}, "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy"})",
       ErrorCode::kUnavailable, kAnyCount, "Internal server error", "ANTHROPIC_API_KEY"},
      {"Anthropic 401 authentication_error", Provider::kAnthropic, 401, none,
       fixture("anthropic/error_401.json"), ErrorCode::kAuth, kAnyCount, "invalid x-api-key",
       "ANTHROPIC_API_KEY"},
      {"Anthropic 403 permission_error", Provider::kAnthropic, 403, none,
       R"({"type": "error", "error": {"type": "permission_error", "message": "Your API key does not have permission to use the specified resource."}, "request_id": "req_018EeWyXxfu5pfWkrYcMdjWG"})",
       ErrorCode::kAuth, kAnyCount, "does not have permission", "WORK_ANTHROPIC_KEY"},
      {"Anthropic 400 prompt is too long", Provider::kAnthropic, 400, none,
       fixture("anthropic/error_400_prompt_too_long.json"), ErrorCode::kBadRequest, kAnyCount,
       "prompt is too long: 203284 tokens > 200000 maximum", "ANTHROPIC_API_KEY"},
      {"Gemini 429 RESOURCE_EXHAUSTED", Provider::kGemini, 429, none,
       fixture("gemini/error_429.json"), ErrorCode::kRateLimited, kAnyCount,
       "You exceeded your current quota", "GEMINI_API_KEY"},
      {"Gemini 400 API_KEY_INVALID: an auth failure", Provider::kGemini, 400, none,
       fixture("gemini/error_400_api_key.json"), ErrorCode::kAuth, kAnyCount, "API key not valid",
       "GEMINI_API_KEY"},
      {"Gemini 403 PERMISSION_DENIED", Provider::kGemini, 403, none,
       R"({"error": {"code": 403, "message": "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.", "status": "PERMISSION_DENIED"}})",
       ErrorCode::kAuth, kAnyCount, "unregistered callers", "GEMINI_API_KEY"},
      {"Gemini 503 UNAVAILABLE", Provider::kGemini, 503, none, fixture("gemini/error_503.json"),
       ErrorCode::kUnavailable, kAnyCount, "The model is overloaded", "GEMINI_API_KEY"},
      {"Gemini 500 INTERNAL", Provider::kGemini, 500, none,
       R"({"error": {"code": 500, "message": "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting", "status": "INTERNAL"}})",
       ErrorCode::kUnavailable, kAnyCount, "An internal error has occurred", "GEMINI_API_KEY"},
      {"Gemini 400 INVALID_ARGUMENT (input too long)", Provider::kGemini, 400, none,
       fixture("gemini/error_400_invalid_argument.json"), ErrorCode::kBadRequest, kAnyCount,
       "The input token count (1200293) exceeds the maximum number of tokens allowed (1048576).",
       "GEMINI_API_KEY"},
  };
}

void check_error(const Failure& f, const ErrorCase& c) {
  INFO(c.what << " -> " << f.error.format() << " retry_after_ms=" << f.retry_after_ms);
  CHECK(code_name(f.error.code) == code_name(c.code));
  CHECK_FALSE(f.error.message.empty());
  if (!c.message_has.empty()) CHECK_THAT(f.error.message, Contains(c.message_has));
  if (c.retry_after_ms != kAnyCount) CHECK(f.retry_after_ms == c.retry_after_ms);
  if (c.code == ErrorCode::kAuth) CHECK_THAT(f.error.hint, Contains(c.credential));
}

}  // namespace

TEST_CASE("classify_error: codes, the provider's message, Retry-After, the credential", "[llm]") {
  for (const auto& c : error_cases()) {
    check_error(classify_error(c.provider, c.status, c.headers, c.body, c.credential), c);
  }
  SECTION("retryable: rate limits and overloads; not: auth, bad requests") {
    CHECK(loom::is_retryable(ErrorCode::kRateLimited));
    CHECK(loom::is_retryable(ErrorCode::kUnavailable));
    CHECK_FALSE(loom::is_retryable(ErrorCode::kAuth));
    CHECK_FALSE(loom::is_retryable(ErrorCode::kBadRequest));
  }
}

TEST_CASE("Gemini 429: the delay comes from RetryInfo.retryDelay in the body", "[llm]") {
  // google.rpc.RetryInfo {"retryDelay": "39s"}: the delay Gemini asks for (it sends no
  // Retry-After header); Failure::retry_after_ms is "the delay it asked for".
  Failure f = classify_error(Provider::kGemini, 429, Json::object(),
                             fixture("gemini/error_429.json"), "GEMINI_API_KEY");
  CHECK(code_name(f.error.code) == code_name(ErrorCode::kRateLimited));
  CHECK(f.retry_after_ms == 39000);
}

TEST_CASE("ResponseDecoder classifies error statuses like classify_error", "[llm]") {
  for (const auto& c : error_cases()) {
    for (bool stream : {false, true}) {
      for (bool early : {true, false}) {
        INFO(c.what << (stream ? " (streamed request)" : "")
                    << (early ? ", status told early" : ""));
        Decoded d = decode(c.provider, stream, random_pieces(c.body, 11u), c.status, c.headers,
                           early, c.credential);
        CHECK(d.deltas.empty());  // an error body is never text
        INFO(describe(d.out));
        REQUIRE_FALSE(d.out.ok);
        check_error(d.out.failure, c);
      }
    }
  }
}

// ================================================================ cost and estimates

TEST_CASE("cost_usd: price per million tokens, unknown counts as zero", "[llm]") {
  ModelSpec m = openai_spec();
  m.price_input_per_mtok = 0.15;
  m.price_output_per_mtok = 0.60;
  CHECK(cost_usd(m, Usage{1000000, 500000}) == Approx(0.45));
  CHECK(cost_usd(m, Usage{2000, 1000}) == Approx(0.0009));
  CHECK(cost_usd(m, Usage{-1, 1000}) == Approx(0.0006));
  CHECK(cost_usd(m, Usage{}) == 0.0);
  ModelSpec free = m;
  free.price_input_per_mtok = 0;
  free.price_output_per_mtok = 0;
  CHECK(cost_usd(free, Usage{123456, 654321}) == 0.0);
  CHECK_FALSE(Usage{}.known());
  CHECK(Usage{0, -1}.known());
}

TEST_CASE("estimate_tokens: four characters a token, counted in code points", "[llm]") {
  CHECK(estimate_tokens(std::string_view("")) == 0);
  CHECK(estimate_tokens(std::string_view("abcd")) == 1);
  CHECK(estimate_tokens(std::string_view("abcdefgh")) == 2);
  CHECK(estimate_tokens(std::string_view("éééé")) == 1);      // 8 bytes, 4 code points
  CHECK(estimate_tokens(std::string_view("🌊🌊🌊🌊🌊🌊🌊🌊")) == 2);  // 32 bytes, 8 code points
  CHECK(estimate_tokens(std::string(4000, 'x')) == 1000);
  // Over the system prompt and every message: at least their text (llm.hpp allows per-message
  // framing on top), and each message adds at least its own estimate.
  Call c;
  c.system = "abcd";
  c.messages = {{"user", "abcdefgh"}, {"assistant", "éééééééé"}};
  const std::int64_t n = estimate_tokens(c);
  CHECK(n >= 1 + 2 + 2);
  Call longer = c;
  longer.messages.push_back({"user", std::string(400, 'y')});
  CHECK(estimate_tokens(longer) >= n + 100);
  CHECK(estimate_tokens(Call{}) == 0);
}

// ================================================================ load_model_pool

TEST_CASE("load_model_pool: a valid models file", "[llm]") {
  const std::string yaml = R"(default: draft
models:
  draft:
    provider: openai          # openai | anthropic | gemini | ollama | ...
    base_url: https://api.openai.com/v1
    model: gpt-4o-mini
    credential: OPENAI_API_KEY
    temperature: 0.8
    max_tokens: 2048
    system: "You are a careful fiction editor."
    stream: true
    price: {input: 0.15, output: 0.60}
    limits: {concurrency: 4, requests_per_minute: 500, tokens_per_minute: 200000}
    timeouts: {connect: 10s, read: 120s}
    context_tokens: 128000
    fallback: [local]
  claude:
    provider: anthropic
    model: claude-sonnet-4-5
  flash:
    provider: gemini
    model: gemini-2.5-flash
    stream: false
    timeouts: {connect: 2500ms, read: 1.5m}
  local:
    provider: ollama
    model: llama3.2
  router:
    provider: openrouter
    model: anthropic/claude-sonnet-4.5
  studio:
    provider: lmstudio
    model: qwen2.5-7b-instruct
  cpp:
    provider: llamacpp
    model: default
  vl:
    provider: vllm
    model: meta-llama/Llama-3.1-8B-Instruct
  keyless:
    provider: openai
    base_url: https://llm.internal.example/v1
    model: house-model
    credential: none
  custom:
    provider: anthropic
    model: claude-haiku-4-5
    credential: WORK_ANTHROPIC_KEY
)";
  ModelPoolLoad r = load(yaml);
  for (const auto& e : r.errors) UNSCOPED_INFO(e.format());
  REQUIRE(r.errors.empty());
  REQUIRE(r.pool != nullptr);
  const ModelPool& pool = *r.pool;
  CHECK(pool.default_model() == "draft");
  CHECK(pool.file() == "models.yaml");
  CHECK(pool.names().size() == 10);
  CHECK(pool.find("nope") == nullptr);

  const ModelSpec* d = pool.find("draft");
  REQUIRE(d != nullptr);
  CHECK(d->name == "draft");
  CHECK(d->provider == Provider::kOpenAI);
  CHECK(d->base_url == "https://api.openai.com/v1");
  CHECK(d->model_id == "gpt-4o-mini");
  CHECK(d->credential.name == "OPENAI_API_KEY");
  CHECK(d->credential.header == "Authorization");
  CHECK(d->credential.prefix == "Bearer ");
  REQUIRE(d->temperature.has_value());
  CHECK(*d->temperature == Approx(0.8));
  CHECK(d->max_tokens == std::optional<std::int64_t>(2048));
  CHECK(d->system == "You are a careful fiction editor.");
  CHECK(d->stream);
  CHECK(d->price_input_per_mtok == Approx(0.15));
  CHECK(d->price_output_per_mtok == Approx(0.60));
  CHECK(d->concurrency == 4);
  CHECK(d->requests_per_minute == Approx(500));
  CHECK(d->tokens_per_minute == Approx(200000));
  CHECK(d->connect_timeout_ms == 10000);
  CHECK(d->read_timeout_ms == 120000);
  CHECK(d->context_tokens == 128000);
  CHECK(d->fallback == std::vector<std::string>{"local"});
  CHECK(d->line == 3);

  const ModelSpec* claude = pool.find("claude");
  REQUIRE(claude != nullptr);
  CHECK(claude->provider == Provider::kAnthropic);
  CHECK(claude->base_url == "https://api.anthropic.com/v1");
  CHECK(claude->credential.name == "ANTHROPIC_API_KEY");
  CHECK(claude->credential.header == "x-api-key");
  CHECK(claude->credential.prefix == "");
  CHECK_FALSE(claude->temperature.has_value());
  CHECK_FALSE(claude->max_tokens.has_value());
  CHECK(claude->stream);  // the default
  CHECK(claude->line == line_of(yaml, "  claude:"));

  const ModelSpec* flash = pool.find("flash");
  REQUIRE(flash != nullptr);
  CHECK(flash->provider == Provider::kGemini);
  CHECK(flash->base_url == "https://generativelanguage.googleapis.com/v1beta");
  CHECK(flash->credential.name == "GEMINI_API_KEY");
  CHECK(flash->credential.header == "x-goog-api-key");
  CHECK(flash->credential.prefix == "");
  CHECK_FALSE(flash->stream);
  CHECK(flash->connect_timeout_ms == 2500);
  CHECK(flash->read_timeout_ms == 90000);

  const ModelSpec* local = pool.find("local");
  REQUIRE(local != nullptr);
  CHECK(local->provider == Provider::kOpenAI);  // Ollama speaks the OpenAI protocol at /v1
  CHECK(local->base_url == "http://localhost:11434/v1");
  CHECK(local->credential.name.empty());

  const ModelSpec* router = pool.find("router");
  REQUIRE(router != nullptr);
  CHECK(router->provider == Provider::kOpenAI);
  CHECK(router->base_url == "https://openrouter.ai/api/v1");
  CHECK(router->credential.name == "OPENROUTER_API_KEY");
  CHECK(router->credential.header == "Authorization");
  CHECK(router->credential.prefix == "Bearer ");

  // Local servers' documented default ports: LM Studio 1234, llama.cpp server 8080, vLLM 8000.
  for (const auto& [name, port] : std::vector<std::pair<std::string, std::string>>{
           {"studio", ":1234/v1"}, {"cpp", ":8080/v1"}, {"vl", ":8000/v1"}}) {
    INFO(name);
    const ModelSpec* s = pool.find(name);
    REQUIRE(s != nullptr);
    CHECK(s->provider == Provider::kOpenAI);
    CHECK_THAT(s->base_url, StartsWith("http://") && EndsWith(port));
    CHECK(s->credential.name.empty());
  }

  const ModelSpec* keyless = pool.find("keyless");
  REQUIRE(keyless != nullptr);
  CHECK(keyless->base_url == "https://llm.internal.example/v1");
  CHECK(keyless->credential.name.empty());  // `none` sends no key

  const ModelSpec* custom = pool.find("custom");
  REQUIRE(custom != nullptr);
  CHECK(custom->credential.name == "WORK_ANTHROPIC_KEY");
  CHECK(custom->credential.header == "x-api-key");
}

TEST_CASE("load_model_pool: ${OLLAMA_HOST:-...} in base URLs", "[llm]") {
  const std::string implicit = "models:\n  local:\n    provider: ollama\n    model: llama3.2\n";
  const std::string explicit_url =
      "models:\n  local:\n    provider: ollama\n"
      "    base_url: ${OLLAMA_HOST:-http://localhost:11434}/v1\n    model: llama3.2\n";
  for (const auto& yaml : {implicit, explicit_url}) {
    INFO(yaml);
    auto base_url = [&](const VariableLookup& vars) -> std::string {
      ModelPoolLoad r = load(yaml, vars);
      for (const auto& e : r.errors) UNSCOPED_INFO(e.format());
      REQUIRE(r.errors.empty());
      REQUIRE(r.pool != nullptr);
      const ModelSpec* m = r.pool->find("local");
      REQUIRE(m != nullptr);
      return m->base_url;
    };
    SECTION("without a lookup the fallback is used") {
      CHECK(base_url({}) == "http://localhost:11434/v1");
    }
    SECTION("a lookup that knows no OLLAMA_HOST: the fallback") {
      std::vector<std::string> asked;
      CHECK(base_url([&](std::string_view name) -> std::optional<std::string> {
              asked.emplace_back(name);
              return std::nullopt;
            }) == "http://localhost:11434/v1");
      CHECK(asked == std::vector<std::string>{"OLLAMA_HOST"});
    }
    SECTION("OLLAMA_HOST with a scheme") {
      CHECK(base_url([](std::string_view name) -> std::optional<std::string> {
              if (name == "OLLAMA_HOST") return std::string("http://gpu-box:11434");
              return std::nullopt;
            }) == "http://gpu-box:11434/v1");
    }
    SECTION("OLLAMA_HOST without a scheme (as Ollama's own docs set it) gets http://") {
      CHECK(base_url([](std::string_view name) -> std::optional<std::string> {
              if (name == "OLLAMA_HOST") return std::string("192.168.1.20:11434");
              return std::nullopt;
            }) == "http://192.168.1.20:11434/v1");
    }
  }
}

TEST_CASE("load_model_pool: each error with its code and line", "[llm]") {
  SECTION("YAML syntax") {
    const std::string yaml =
        "models:\n  draft:\n    provider: openai\n    price: {input: 0.15, output: '0.6'\n"
        "    model: gpt-4o-mini\n";
    ModelPoolLoad r = load(yaml);
    REQUIRE_FALSE(r.errors.empty());
    CHECK(r.pool == nullptr);
    CHECK(code_name(r.errors[0].code) == code_name(ErrorCode::kYamlSyntax));
    CHECK(r.errors[0].line == 5);
    CHECK(r.errors[0].file == "models.yaml");
  }
  SECTION("an unknown key, with the nearest name in the hint") {
    const std::string yaml = one_model("    temprature: 0.8");
    const loom::Error e = one_error(load(yaml));
    CHECK(code_name(e.code) == code_name(ErrorCode::kUnknownKey));
    CHECK(e.line == 5);
    CHECK(e.column == 5);
    CHECK_THAT(e.hint, Contains("temperature"));
  }
  SECTION("an unknown top-level key") {
    const std::string yaml = "defualt: draft\n" + one_model("    stream: true");
    const loom::Error e = one_error(load(yaml));
    CHECK(code_name(e.code) == code_name(ErrorCode::kUnknownKey));
    CHECK(e.line == 1);
    CHECK_THAT(e.hint, Contains("default"));
  }
  SECTION("an unknown key in price, limits or timeouts") {
    for (const std::string line : {"    price: {input: 0.15, ouptut: 0.6}",
                                   "    limits: {concurency: 4}", "    timeouts: {conect: 10s}"}) {
      INFO(line);
      const loom::Error e = one_error(load(one_model(line)));
      CHECK(code_name(e.code) == code_name(ErrorCode::kUnknownKey));
      CHECK(e.line == 5);
    }
  }
  SECTION("values of the wrong type") {
    for (const std::string line :
         {"    temperature: warm", "    max_tokens: lots", "    stream: sometimes",
          "    price: cheap", "    timeouts: {connect: soon, read: 120s}",
          "    limits: {concurrency: many}", "    context_tokens: huge", "    fallback: {a: b}",
          "    system: [a, b]"}) {
      INFO(line);
      const loom::Error e = one_error(load(one_model(line)));
      CHECK(code_name(e.code) == code_name(ErrorCode::kInvalidValue));
      CHECK(e.line == 5);
    }
  }
  SECTION("an unknown provider") {
    const std::string yaml =
        "models:\n  draft:\n    provider: azure-openai\n    model: gpt-4o-mini\n";
    const loom::Error e = one_error(load(yaml));
    CHECK(code_name(e.code) == code_name(ErrorCode::kInvalidValue));
    CHECK(e.line == 3);
  }
  SECTION("a model without its model id") {
    // Reported at the model's name, the line llm.hpp's ModelSpec::line calls "where it is defined
    // in the models file" (the valid-file test checks that line for `draft:`).
    const std::string yaml = "models:\n  draft:\n    provider: openai\n    temperature: 0.5\n";
    const loom::Error e = one_error(load(yaml));
    CHECK(code_name(e.code) == code_name(ErrorCode::kMissingKey));
    CHECK(e.line == 2);
  }
  SECTION("a fallback naming no model") {
    const std::string yaml =
        "models:\n  draft:\n    provider: openai\n    model: gpt-4o-mini\n    fallback: [lokal]\n"
        "  local:\n    provider: ollama\n    model: llama3.2\n";
    const loom::Error e = one_error(load(yaml));
    CHECK(code_name(e.code) == code_name(ErrorCode::kInvalidValue));
    CHECK(e.line == 5);
  }
  SECTION("a default naming no model") {
    const std::string yaml = "default: drafty\n" + one_model("    stream: true");
    const loom::Error e = one_error(load(yaml));
    CHECK(code_name(e.code) == code_name(ErrorCode::kInvalidValue));
    CHECK(e.line == 1);
  }
  SECTION("a fallback cycle") {
    const std::string yaml =
        "models:\n"
        "  a:\n    provider: openai\n    model: gpt-4o-mini\n    fallback: [b]\n"
        "  b:\n    provider: anthropic\n    model: claude-haiku-4-5\n    fallback: [a]\n";
    const loom::Error e = one_error(load(yaml));
    CHECK(code_name(e.code) == code_name(ErrorCode::kCycle));
    const std::set<int> lines = {line_of(yaml, "  a:"), line_of(yaml, "[b]"), line_of(yaml, "  b:"),
                                 line_of(yaml, "[a]")};
    CHECK(lines.count(e.line) == 1);
  }
}

TEST_CASE("model_pool_to_json: what the studio shows and builds its connection policy from", "[llm]") {
  const std::string yaml =
      "default: fast\n"
      "models:\n"
      "  fast:\n"
      "    provider: openai\n"
      "    model: gpt-4o-mini\n"
      "    price: {input: 0.15, output: 0.6}\n"
      "    fallback: [local]\n"
      "  local:\n"
      "    provider: ollama\n"
      "    model: llama3.2\n"
      "    temperature: 0.7\n";
  ModelPoolLoad r = load(yaml);
  for (const auto& e : r.errors) UNSCOPED_INFO(e.format());
  REQUIRE(r.errors.empty());
  Json j = model_pool_to_json(*r.pool);
  CHECK(j["default"] == "fast");
  REQUIRE(j["models"].size() == 2);
  const Json& fast = j["models"][0];
  CHECK(fast["name"] == "fast");
  CHECK(fast["provider"] == "openai");
  CHECK(fast["base_url"] == "https://api.openai.com/v1");
  CHECK(fast["model"] == "gpt-4o-mini");
  CHECK(fast["credential"]["name"] == "OPENAI_API_KEY");
  CHECK(fast["credential"]["header"] == "Authorization");
  CHECK(fast["price"]["input_per_mtok"] == Approx(0.15));
  CHECK(fast["price"]["output_per_mtok"] == Approx(0.6));
  CHECK(fast["fallback"] == Json::array({"local"}));
  CHECK(fast["line"] == line_of(yaml, "fast:"));
  CHECK_FALSE(fast.contains("temperature"));
  const Json& local = j["models"][1];
  CHECK(local["name"] == "local");
  CHECK(local["base_url"] == "http://localhost:11434/v1");
  CHECK(local["credential"]["name"] == "");
  CHECK(local["temperature"] == Approx(0.7));
}

TEST_CASE("ModelPool: add, find, names, default", "[llm]") {
  ModelPool pool;
  pool.add(openai_spec());
  ModelSpec other = anthropic_spec();
  other.name = "claude";
  pool.add(other);
  pool.set_default("draft");
  pool.set_file("settings");
  REQUIRE(pool.find("draft") != nullptr);
  CHECK(pool.find("draft")->model_id == "gpt-4o-mini");
  CHECK(pool.find("claude")->provider == Provider::kAnthropic);
  CHECK(pool.default_model() == "draft");
  CHECK(pool.file() == "settings");
  auto names = pool.names();
  CHECK(std::set<std::string>(names.begin(), names.end()) ==
        std::set<std::string>{"draft", "claude"});
  ModelSpec replaced = openai_spec();
  replaced.model_id = "gpt-4.1-mini";
  pool.add(replaced);
  CHECK(pool.names().size() == 2);
  CHECK(pool.find("draft")->model_id == "gpt-4.1-mini");
}
