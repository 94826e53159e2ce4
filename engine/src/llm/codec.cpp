// The provider codecs: a Call -> an HttpRequest; response bytes -> text deltas, then a
// Completion or a classified Failure. Shapes follow each provider's API reference; the fixtures
// in tests/llm/fixtures/ reproduce them (tests/llm/fixtures/SOURCES.md says from where).
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>

#include "llm/stream.hpp"
#include "loom/llm.hpp"

namespace loom::llm {
namespace {

constexpr std::size_t kMaxBody = 32u * 1024u * 1024u;  // more than any answer; a runaway body stops here
constexpr std::int64_t kAnthropicDefaultMaxTokens = 4096;  // the API requires max_tokens

std::string provider_title(Provider p) {
  switch (p) {
    case Provider::kOpenAI: return "the OpenAI-compatible server";
    case Provider::kAnthropic: return "Anthropic";
    case Provider::kGemini: return "Gemini";
  }
  return "the provider";
}

std::string clip(std::string_view s, std::size_t n) {
  std::string out = valid_utf8(s.substr(0, n));
  if (s.size() > n) out += "...";
  for (char& c : out) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return out;
}

std::string str_of(const Json& j, const char* key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

std::int64_t int_of(const Json& j, const char* key) {
  if (!j.is_object()) return -1;
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<std::int64_t>() : -1;
}

std::int64_t add_known(std::int64_t a, std::int64_t b) {
  if (a < 0) return b;
  if (b < 0) return a;
  return a + b;
}

// ---------------------------------------------------------------- errors

std::int64_t retry_after_ms(const Json& headers) {
  if (!headers.is_object()) return -1;
  std::string ms = str_of(headers, "retry-after-ms");
  if (!ms.empty()) {
    char* end = nullptr;
    double v = std::strtod(ms.c_str(), &end);
    if (end != ms.c_str() && std::isfinite(v) && v >= 0) return static_cast<std::int64_t>(v);
  }
  std::string s = str_of(headers, "retry-after");
  if (!s.empty()) {
    char* end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    // Seconds. An HTTP date needs a wall clock, which the engine does not read: the backoff decides.
    if (end != s.c_str() && *end == '\0' && std::isfinite(v) && v >= 0) return static_cast<std::int64_t>(v * 1000);
  }
  return -1;
}

// A status for an error named in a body (streams carry no status of their own).
int status_for_error_name(const std::string& name) {
  if (name == "rate_limit_error" || name == "RESOURCE_EXHAUSTED" || name == "rate_limit_exceeded") return 429;
  if (name == "overloaded_error") return 529;
  if (name == "authentication_error" || name == "UNAUTHENTICATED" || name == "invalid_api_key") return 401;
  if (name == "permission_error" || name == "PERMISSION_DENIED") return 403;
  if (name == "invalid_request_error" || name == "INVALID_ARGUMENT" || name == "FAILED_PRECONDITION") return 400;
  if (name == "not_found_error" || name == "NOT_FOUND") return 404;
  if (name == "request_too_large") return 413;
  if (name == "DEADLINE_EXCEEDED" || name == "timeout_error") return 504;
  if (name == "UNAVAILABLE") return 503;
  return 500;  // api_error, INTERNAL, server_error, and anything unknown
}

bool mentions(const std::string& haystack, std::initializer_list<const char*> needles) {
  std::string lower = haystack;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return std::any_of(needles.begin(), needles.end(),
                     [&](const char* n) { return lower.find(n) != std::string::npos; });
}

// The provider's {message, code/type/status, reasons} from an error body of any of the three shapes.
struct ProviderError {
  std::string message;
  std::string kind;     // OpenAI code or type, Anthropic error.type, Gemini status
  std::string reasons;  // Gemini details[].reason, joined
};

ProviderError read_error(const Json& body) {
  ProviderError pe;
  if (!body.is_object()) return pe;
  const Json* e = body.contains("error") ? &body["error"] : nullptr;
  if (e && e->is_string()) {  // {"error": "..."} (llama.cpp, older Ollama)
    pe.message = e->get<std::string>();
    return pe;
  }
  if (!e || !e->is_object()) return pe;
  pe.message = str_of(*e, "message");
  pe.kind = str_of(*e, "code");  // OpenAI's code is the most specific
  if (pe.kind.empty()) pe.kind = str_of(*e, "type");
  if (pe.kind.empty()) pe.kind = str_of(*e, "status");
  if (e->contains("details") && (*e)["details"].is_array()) {
    for (const auto& d : (*e)["details"]) {
      std::string r = str_of(d, "reason");
      if (!r.empty()) pe.reasons += (pe.reasons.empty() ? "" : ",") + r;
    }
  }
  return pe;
}

// google.rpc.RetryInfo in Gemini's error details: {"@type": ".../google.rpc.RetryInfo", "retryDelay": "39s"}.
std::int64_t retry_info_ms(const Json& body) {
  if (!body.is_object() || !body.contains("error") || !body["error"].is_object()) return -1;
  const Json& e = body["error"];
  if (!e.contains("details") || !e["details"].is_array()) return -1;
  for (const auto& d : e["details"]) {
    std::string type = str_of(d, "@type");
    std::string delay = str_of(d, "retryDelay");
    if (type.find("RetryInfo") == std::string::npos || delay.empty()) continue;
    char* end = nullptr;
    double secs = std::strtod(delay.c_str(), &end);
    if (end != delay.c_str() && std::isfinite(secs) && secs >= 0 && std::string(end) == "s") {
      return static_cast<std::int64_t>(secs * 1000);
    }
  }
  return -1;
}

Failure classify(Provider provider, int status, const Json& headers, const Json& body, std::string_view raw,
                 std::string_view credential_name) {
  ProviderError pe = read_error(body);
  if (status <= 0) status = status_for_error_name(pe.kind);
  std::string said = pe.message.empty() ? clip(raw, 300) : clip(pe.message, 500);
  std::string who = provider_title(provider);
  std::string head = who + " answered HTTP " + std::to_string(status);
  Failure f;
  f.retry_after_ms = retry_after_ms(headers);
  if (f.retry_after_ms < 0) f.retry_after_ms = retry_info_ms(body);
  std::string cred = credential_name.empty() ? std::string() : std::string(credential_name);
  auto set = [&](ErrorCode code, std::string hint) {
    f.error = make_error(code, head + (said.empty() ? "" : ": " + said), std::move(hint));
  };
  auto auth_hint = [&]() {
    if (cred.empty()) {
      return std::string("this model sends no key; name one with credential: in the models file");
    }
    return "check the key named " + cred + " (natively the environment variable " + cred +
           "; in the studio, Settings > Models)";
  };
  bool quota = pe.kind == "insufficient_quota";
  bool bad_key = pe.reasons.find("API_KEY_INVALID") != std::string::npos || mentions(pe.message, {"api key not valid"});
  bool context = pe.kind == "context_length_exceeded" ||
                 mentions(pe.message, {"prompt is too long", "context length", "context window", "maximum context",
                                       "exceeds the maximum number of tokens", "input token count"});
  bool policy = pe.kind == "content_policy_violation" || pe.kind == "content_filter";
  if (pe.kind == "overloaded_error") status = 529;
  if (status == 401 || status == 403 || bad_key) {
    set(ErrorCode::kAuth, auth_hint());
  } else if (quota) {
    set(ErrorCode::kAuth, "the account behind " + (cred.empty() ? std::string("this key") : cred) +
                              " is out of quota: check its plan and billing, or use another model");
  } else if (status == 429) {
    set(ErrorCode::kRateLimited, "Loom waits and retries; lower limits.requests_per_minute in the models file if it persists");
  } else if (status == 408) {
    set(ErrorCode::kTimeout, "the provider gave up waiting; Loom retries");
  } else if (policy) {
    set(ErrorCode::kContentFiltered, "the provider's safety filter refused the request; rephrase it or use another model");
  } else if (context) {
    set(ErrorCode::kBadRequest, "shorten the prompt or the knowledge context, or lower max_tokens");
  } else if (status == 404) {
    set(ErrorCode::kBadRequest, "check the model id and base_url in the models file");
  } else if (status >= 400 && status < 500) {
    set(ErrorCode::kBadRequest, "the provider rejected the request as written; its message says why");
  } else {
    set(ErrorCode::kUnavailable, "the provider is overloaded or failing; Loom retries");
  }
  return f;
}

// ---------------------------------------------------------------- reading answers

FinishReason normalize_finish(Provider p, const std::string& r) {
  switch (p) {
    case Provider::kOpenAI:
      if (r == "stop") return FinishReason::kStop;
      if (r == "length") return FinishReason::kLength;
      if (r == "content_filter") return FinishReason::kContentFilter;
      if (r == "tool_calls" || r == "function_call") return FinishReason::kToolCalls;
      break;
    case Provider::kAnthropic:
      if (r == "end_turn" || r == "stop_sequence") return FinishReason::kStop;
      if (r == "max_tokens" || r == "model_context_window_exceeded") return FinishReason::kLength;
      if (r == "refusal") return FinishReason::kContentFilter;
      if (r == "tool_use") return FinishReason::kToolCalls;
      break;
    case Provider::kGemini:
      if (r == "STOP") return FinishReason::kStop;
      if (r == "MAX_TOKENS") return FinishReason::kLength;
      if (r == "SAFETY" || r == "RECITATION" || r == "BLOCKLIST" || r == "PROHIBITED_CONTENT" || r == "SPII" ||
          r == "IMAGE_SAFETY") {
        return FinishReason::kContentFilter;
      }
      if (r == "MALFORMED_FUNCTION_CALL") return FinishReason::kToolCalls;
      break;
  }
  return FinishReason::kOther;
}

// Text of an OpenAI message/delta `content`: a string, or (some servers) an array of parts.
std::string openai_content(const Json& content) {
  if (content.is_string()) return content.get<std::string>();
  std::string out;
  if (content.is_array()) {
    for (const auto& part : content) {
      if (str_of(part, "type") == "text") out += str_of(part, "text");
    }
  }
  return out;
}

std::string gemini_text(const Json& candidate) {
  std::string out;
  if (!candidate.is_object() || !candidate.contains("content")) return out;
  const Json& content = candidate["content"];
  if (!content.is_object() || !content.contains("parts") || !content["parts"].is_array()) return out;
  for (const auto& part : content["parts"]) {
    if (part.is_object() && part.value("thought", false)) continue;  // the model's thinking, not its answer
    out += str_of(part, "text");
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------- public helpers

std::string_view finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::kStop: return "stop";
    case FinishReason::kLength: return "length";
    case FinishReason::kContentFilter: return "content_filter";
    case FinishReason::kToolCalls: return "tool_calls";
    case FinishReason::kOther: return "other";
  }
  return "other";
}

std::int64_t estimate_tokens(std::string_view text) {
  std::int64_t points = 0;
  for (unsigned char c : text) {
    if ((c & 0xC0) != 0x80) ++points;  // count UTF-8 lead bytes: code points
  }
  return (points + 3) / 4;
}

std::int64_t estimate_tokens(const Call& call) {
  std::int64_t n = estimate_tokens(call.system);
  for (const auto& m : call.messages) n += estimate_tokens(m.content) + 4;  // role and framing
  return n;
}

double cost_usd(const ModelSpec& model, const Usage& usage) {
  double in = usage.input_tokens > 0 ? static_cast<double>(usage.input_tokens) : 0;
  double out = usage.output_tokens > 0 ? static_cast<double>(usage.output_tokens) : 0;
  return (in * model.price_input_per_mtok + out * model.price_output_per_mtok) / 1e6;
}

Result<Call> call_from_args(const ModelSpec& model, const Json& args) {
  auto bad = [](std::string m, std::string hint = {}) { return make_error(ErrorCode::kBadArgument, std::move(m), std::move(hint)); };
  if (!args.is_object()) return bad("the arguments of llm.generate must be an object");
  Call c;
  c.system = model.system;
  c.temperature = model.temperature;
  c.max_tokens = model.max_tokens;
  c.stream = model.stream;
  // A system prompt in the arguments (`system`, or system messages) replaces the model's default.
  bool own_system = false;
  if (args.contains("system") && !args["system"].is_null()) {
    if (!args["system"].is_string()) return bad("system must be a string");
    c.system = args["system"].get<std::string>();
    own_system = true;
  }
  if (args.contains("messages") && !args["messages"].is_null()) {
    const Json& ms = args["messages"];
    if (!ms.is_array()) return bad("messages must be a list of {role, content}");
    for (std::size_t i = 0; i < ms.size(); ++i) {
      const Json& m = ms[i];
      std::string where = "messages[" + std::to_string(i) + "]";
      if (!m.is_object() || !m.contains("role") || !m["role"].is_string() || !m.contains("content") ||
          !m["content"].is_string()) {
        return bad(where + " must be {role: user|assistant|system, content: text}", "got " + clip(m.dump(), 80));
      }
      std::string role = m["role"].get<std::string>();
      std::string content = m["content"].get<std::string>();
      if (role == "system") {
        if (!own_system) c.system.clear();
        own_system = true;
        c.system += (c.system.empty() ? "" : "\n\n") + content;
      } else if (role == "user" || role == "assistant" || role == "model") {
        c.messages.push_back({role == "model" ? "assistant" : role, content});
      } else {
        return bad(where + " has role '" + role + "'", "use user, assistant or system");
      }
    }
  }
  if (args.contains("prompt") && !args["prompt"].is_null()) {
    if (!args["prompt"].is_string()) return bad("prompt must be a string");
    c.messages.push_back({"user", args["prompt"].get<std::string>()});
  }
  if (c.messages.empty()) {
    return bad("llm.generate needs a prompt or messages", "add prompt: \"...\" under the step's with:");
  }
  if (args.contains("temperature") && !args["temperature"].is_null()) {
    const Json& t = args["temperature"];
    if (!t.is_number() || t.get<double>() < 0 || t.get<double>() > 2) return bad("temperature must be a number from 0 to 2");
    c.temperature = t.get<double>();
  }
  if (args.contains("top_p") && !args["top_p"].is_null()) {
    const Json& t = args["top_p"];
    if (!t.is_number() || t.get<double>() < 0 || t.get<double>() > 1) return bad("top_p must be a number from 0 to 1");
    c.top_p = t.get<double>();
  }
  if (args.contains("max_tokens") && !args["max_tokens"].is_null()) {
    const Json& t = args["max_tokens"];
    double v = t.is_number() ? t.get<double>() : 0;
    if (!t.is_number() || v < 1 || v != std::floor(v) || v > 1e9) return bad("max_tokens must be a whole number >= 1");
    c.max_tokens = static_cast<std::int64_t>(v);
  }
  if (args.contains("stop") && !args["stop"].is_null()) {
    const Json& s = args["stop"];
    if (s.is_string()) {
      c.stop.push_back(s.get<std::string>());
    } else if (s.is_array() && std::all_of(s.begin(), s.end(), [](const Json& x) { return x.is_string(); })) {
      for (const auto& x : s) c.stop.push_back(x.get<std::string>());
    } else {
      return bad("stop must be a string or a list of strings");
    }
  }
  if (args.contains("stream") && !args["stream"].is_null()) {
    if (!args["stream"].is_boolean()) return bad("stream must be true or false");
    c.stream = args["stream"].get<bool>();
  }
  return c;
}

Json http_request_to_json(const HttpRequest& r) {
  Json headers = Json::object();
  for (const auto& [k, v] : r.headers) headers[k] = v;
  Json j = {{"method", r.method},
            {"url", r.url},
            {"headers", std::move(headers)},
            {"body", r.body},
            {"stream", r.stream},
            {"connect_timeout_ms", r.connect_timeout_ms},
            {"read_timeout_ms", r.read_timeout_ms}};
  if (!r.credential.name.empty()) {
    j["credential"] = {{"name", r.credential.name}, {"header", r.credential.header}, {"prefix", r.credential.prefix}};
  }
  return j;
}

HttpRequest encode_request(const ModelSpec& model, const Call& call) {
  HttpRequest r;
  std::string base = model.base_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  r.credential = model.credential;
  r.stream = call.stream;
  r.connect_timeout_ms = model.connect_timeout_ms;
  r.read_timeout_ms = model.read_timeout_ms;
  r.headers.push_back({"content-type", "application/json"});
  r.headers.push_back({"accept", call.stream ? "text/event-stream" : "application/json"});
  Json body = Json::object();
  switch (model.provider) {
    case Provider::kOpenAI: {
      r.url = base + "/chat/completions";
      body["model"] = model.model_id;
      Json messages = Json::array();
      if (!call.system.empty()) messages.push_back({{"role", "system"}, {"content", call.system}});
      for (const auto& m : call.messages) messages.push_back({{"role", m.role}, {"content", m.content}});
      body["messages"] = std::move(messages);
      if (call.temperature) body["temperature"] = *call.temperature;
      if (call.top_p) body["top_p"] = *call.top_p;
      if (call.max_tokens) body["max_tokens"] = *call.max_tokens;
      if (!call.stop.empty()) body["stop"] = call.stop;
      body["stream"] = call.stream;
      if (call.stream) body["stream_options"] = {{"include_usage", true}};
      break;
    }
    case Provider::kAnthropic: {
      r.url = base + "/messages";
      r.headers.push_back({"anthropic-version", "2023-06-01"});
      // Lets the studio call Anthropic from the page (CORS); the key is the writer's own.
      r.headers.push_back({"anthropic-dangerous-direct-browser-access", "true"});
      body["model"] = model.model_id;
      body["max_tokens"] = call.max_tokens ? *call.max_tokens : kAnthropicDefaultMaxTokens;
      if (!call.system.empty()) body["system"] = call.system;
      Json messages = Json::array();
      for (const auto& m : call.messages) messages.push_back({{"role", m.role}, {"content", m.content}});
      body["messages"] = std::move(messages);
      if (call.temperature) body["temperature"] = *call.temperature;
      if (call.top_p) body["top_p"] = *call.top_p;
      if (!call.stop.empty()) body["stop_sequences"] = call.stop;
      if (call.stream) body["stream"] = true;
      break;
    }
    case Provider::kGemini: {
      std::string id = model.model_id.rfind("models/", 0) == 0 ? model.model_id.substr(7) : model.model_id;
      r.url = base + "/models/" + id + (call.stream ? ":streamGenerateContent?alt=sse" : ":generateContent");
      Json contents = Json::array();
      for (const auto& m : call.messages) {
        contents.push_back({{"role", m.role == "assistant" ? "model" : "user"}, {"parts", Json::array({{{"text", m.content}}})}});
      }
      body["contents"] = std::move(contents);
      if (!call.system.empty()) body["systemInstruction"] = {{"parts", Json::array({{{"text", call.system}}})}};
      Json config = Json::object();
      if (call.temperature) config["temperature"] = *call.temperature;
      if (call.top_p) config["topP"] = *call.top_p;
      if (call.max_tokens) config["maxOutputTokens"] = *call.max_tokens;
      if (!call.stop.empty()) config["stopSequences"] = call.stop;
      if (!config.empty()) body["generationConfig"] = std::move(config);
      break;
    }
  }
  r.body = body.dump(-1, ' ', false, Json::error_handler_t::replace);
  return r;
}

Failure classify_error(Provider provider, int status, const Json& headers, std::string_view body,
                       std::string_view credential_name) {
  Json parsed = Json::parse(body.begin(), body.end(), nullptr, false);
  if (parsed.is_discarded()) parsed = Json();
  // Gemini's streamed error arrives as a one-element array.
  if (parsed.is_array() && !parsed.empty()) parsed = parsed[0];
  return classify(provider, status, headers, parsed, body, credential_name);
}

// ---------------------------------------------------------------- the decoder

struct ResponseDecoder::Impl {
  Provider provider;
  bool stream;
  std::string credential;
  int status = 0;
  std::string raw;  // the body as received (capped): error bodies and non-streamed answers
  bool too_large = false;
  // Streams.
  enum class Framing { kUnknown, kSse, kJsonArray } framing = Framing::kUnknown;
  detail::SseParser sse;
  detail::JsonArraySplitter array;
  std::string text;
  std::string finish;        // the provider's own finish reason
  bool done = false;         // the provider said the answer is complete
  bool blocked = false;      // Gemini blocked the prompt
  std::string block_reason;
  std::string model;
  Usage usage;
  bool malformed = false;
  std::string malformed_sample;
  bool stream_error = false;
  Json stream_error_body;

  bool error_status() const { return status >= 400 || (status > 0 && status < 200); }

  // Reads one parsed chunk of a stream; returns the text it adds.
  std::string chunk(const Json& j, const std::string& event) {
    if (!j.is_object()) {
      malformed = true;
      return "";
    }
    if (j.contains("error") || event == "error" || str_of(j, "type") == "error") {
      stream_error = true;
      stream_error_body = j;
      return "";
    }
    switch (provider) {
      case Provider::kOpenAI: return openai_chunk(j);
      case Provider::kAnthropic: return anthropic_event(j);
      case Provider::kGemini: return gemini_chunk(j);
    }
    return "";
  }

  std::string openai_chunk(const Json& j) {
    if (model.empty()) model = str_of(j, "model");
    if (j.contains("usage") && j["usage"].is_object()) {
      usage.input_tokens = int_of(j["usage"], "prompt_tokens");
      usage.output_tokens = int_of(j["usage"], "completion_tokens");
    }
    std::string out;
    if (j.contains("choices") && j["choices"].is_array()) {
      for (const auto& ch : j["choices"]) {
        if (int_of(ch, "index") > 0) continue;  // one answer is asked for
        if (ch.contains("delta") && ch["delta"].is_object() && ch["delta"].contains("content")) {
          out += openai_content(ch["delta"]["content"]);
        }
        std::string f = str_of(ch, "finish_reason");
        if (!f.empty()) {
          finish = f;
          done = true;
        }
      }
    }
    return out;
  }

  std::string anthropic_event(const Json& j) {
    std::string type = str_of(j, "type");
    if (type == "message_start" && j.contains("message")) {
      const Json& m = j["message"];
      model = str_of(m, "model");
      if (m.contains("usage")) read_anthropic_usage(m["usage"]);
    } else if (type == "content_block_delta" && j.contains("delta")) {
      const Json& d = j["delta"];
      if (str_of(d, "type") == "text_delta") return str_of(d, "text");
    } else if (type == "message_delta") {
      if (j.contains("delta")) {
        std::string f = str_of(j["delta"], "stop_reason");
        if (!f.empty()) finish = f;
      }
      if (j.contains("usage")) read_anthropic_usage(j["usage"]);
    } else if (type == "message_stop") {
      done = true;
    }
    return "";
  }

  void read_anthropic_usage(const Json& u) {
    std::int64_t in = int_of(u, "input_tokens");
    if (in >= 0) {
      in = add_known(in, int_of(u, "cache_creation_input_tokens"));
      in = add_known(in, int_of(u, "cache_read_input_tokens"));
      usage.input_tokens = in;
    }
    std::int64_t out = int_of(u, "output_tokens");
    if (out >= 0) usage.output_tokens = out;  // cumulative in message_delta
  }

  std::string gemini_chunk(const Json& j) {
    if (model.empty()) model = str_of(j, "modelVersion");
    if (j.contains("usageMetadata")) read_gemini_usage(j["usageMetadata"]);
    if (j.contains("promptFeedback") && j["promptFeedback"].is_object()) {
      std::string b = str_of(j["promptFeedback"], "blockReason");
      if (!b.empty()) {
        blocked = true;
        block_reason = b;
        done = true;
      }
    }
    std::string out;
    if (j.contains("candidates") && j["candidates"].is_array() && !j["candidates"].empty()) {
      const Json& c = j["candidates"][0];
      out = gemini_text(c);
      std::string f = str_of(c, "finishReason");
      if (!f.empty()) {
        finish = f;
        done = true;
      }
    }
    return out;
  }

  void read_gemini_usage(const Json& u) {
    if (!u.is_object()) return;
    if (int_of(u, "promptTokenCount") >= 0) usage.input_tokens = int_of(u, "promptTokenCount");
    std::int64_t out = add_known(int_of(u, "candidatesTokenCount"), int_of(u, "thoughtsTokenCount"));
    if (out >= 0) usage.output_tokens = out;
  }

  std::string take_sse(const std::vector<detail::SseEvent>& events) {
    std::string out;
    for (const auto& e : events) {
      if (e.data == "[DONE]") {  // OpenAI's end marker
        done = true;
        continue;
      }
      Json j = Json::parse(e.data, nullptr, false);
      if (j.is_discarded()) {
        malformed = true;
        if (malformed_sample.empty()) malformed_sample = clip(e.data, 120);
        continue;
      }
      out += chunk(j, e.event);
    }
    return out;
  }

  std::string take_array(const std::vector<std::string>& elements) {
    std::string out;
    for (const auto& e : elements) {
      Json j = Json::parse(e, nullptr, false);
      if (j.is_discarded()) {
        malformed = true;
        if (malformed_sample.empty()) malformed_sample = clip(e, 120);
        continue;
      }
      out += chunk(j, "");
    }
    return out;
  }

  // A whole, non-streamed answer.
  Outcome whole(const Json& headers) {
    Outcome o;
    Json j = Json::parse(raw, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      o.failure.error = make_error(ErrorCode::kBadResponse,
                                   provider_title(provider) + " sent an answer that is not valid JSON: " + clip(raw, 120),
                                   "a glitch at the provider or a proxy; Loom retries");
      return o;
    }
    if (j.contains("error")) {
      o.failure = classify(provider, 0, headers, j, raw, credential);
      return o;
    }
    switch (provider) {
      case Provider::kOpenAI: {
        model = str_of(j, "model");
        if (j.contains("usage")) {
          usage.input_tokens = int_of(j["usage"], "prompt_tokens");
          usage.output_tokens = int_of(j["usage"], "completion_tokens");
        }
        if (j.contains("choices") && j["choices"].is_array() && !j["choices"].empty()) {
          const Json& ch = j["choices"][0];
          if (ch.contains("message") && ch["message"].is_object() && ch["message"].contains("content")) {
            text = openai_content(ch["message"]["content"]);
          }
          finish = str_of(ch, "finish_reason");
          done = true;
        }
        break;
      }
      case Provider::kAnthropic: {
        model = str_of(j, "model");
        if (j.contains("usage")) read_anthropic_usage(j["usage"]);
        if (j.contains("content") && j["content"].is_array()) {
          for (const auto& block : j["content"]) {
            if (str_of(block, "type") == "text") text += str_of(block, "text");
          }
          finish = str_of(j, "stop_reason");
          done = true;
        }
        break;
      }
      case Provider::kGemini:
        text = gemini_chunk(j);
        if (!blocked && j.contains("candidates")) done = true;
        break;
    }
    if (!done) {
      o.failure.error = make_error(ErrorCode::kBadResponse,
                                   provider_title(provider) + " sent an answer without the expected fields: " + clip(raw, 120),
                                   "check that base_url points at a server speaking this provider's protocol");
      return o;
    }
    return complete();
  }

  Outcome complete() {
    Outcome o;
    FinishReason fr = normalize_finish(provider, finish);
    if (blocked || fr == FinishReason::kContentFilter) {
      std::string why = blocked ? "the prompt was blocked (" + block_reason + ")"
                                : "the answer was withheld (" + finish + ")";
      o.failure.error = make_error(ErrorCode::kContentFiltered, provider_title(provider) + ": " + why,
                                   "the provider's safety filter stopped it; rephrase the request or use another model");
      o.failure.usage = usage;
      return o;
    }
    o.ok = true;
    o.completion.text = valid_utf8(text);
    o.completion.finish_reason = fr;
    o.completion.provider_finish_reason = finish;
    o.completion.truncated = fr == FinishReason::kLength;
    o.completion.usage = usage;
    o.completion.model = model;
    return o;
  }
};

ResponseDecoder::ResponseDecoder(Provider provider, bool stream, std::string credential_name)
    : impl_(std::make_unique<Impl>()) {
  impl_->provider = provider;
  impl_->stream = stream;
  impl_->credential = std::move(credential_name);
}
ResponseDecoder::~ResponseDecoder() = default;
ResponseDecoder::ResponseDecoder(ResponseDecoder&&) noexcept = default;
ResponseDecoder& ResponseDecoder::operator=(ResponseDecoder&&) noexcept = default;

void ResponseDecoder::set_status(int status) { impl_->status = status; }

std::string ResponseDecoder::feed(std::string_view bytes) {
  Impl& d = *impl_;
  if (d.raw.size() + bytes.size() <= kMaxBody) {
    d.raw.append(bytes);
  } else {
    d.too_large = true;
  }
  if (!d.stream || d.error_status()) return "";
  if (d.framing == Impl::Framing::kUnknown) {
    auto first = bytes.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos) return "";
    d.framing = bytes[first] == '[' ? Impl::Framing::kJsonArray : Impl::Framing::kSse;
  }
  std::string delta = d.framing == Impl::Framing::kSse ? d.take_sse(d.sse.feed(bytes)) : d.take_array(d.array.feed(bytes));
  d.text += delta;
  return delta;
}

ResponseDecoder::Outcome ResponseDecoder::finish(int status, const Json& headers) {
  Impl& d = *impl_;
  d.status = status;
  Outcome o;
  if (status >= 400) {
    o.failure = classify_error(d.provider, status, headers, d.raw, d.credential);
    return o;
  }
  if (status < 200 || status >= 300) {
    o.failure.error = make_error(ErrorCode::kBadResponse,
                                 provider_title(d.provider) + " answered HTTP " + std::to_string(status) + ", not 200",
                                 "check base_url in the models file: a proxy or login page may be in the way");
    return o;
  }
  if (d.too_large) {
    o.failure.error = make_error(ErrorCode::kBadResponse, "the answer is larger than 32 MB; it was not read to the end");
    return o;
  }
  if (!d.stream) return d.whole(headers);
  if (d.framing == Impl::Framing::kSse) {
    d.text += d.take_sse(d.sse.finish());
  } else if (d.framing == Impl::Framing::kJsonArray && !d.array.closed() && !d.done) {
    d.malformed = d.malformed || d.array.malformed();
  }
  if (d.framing == Impl::Framing::kUnknown) {
    // Streamed request, but the whole body came as one JSON object (a server that ignores stream).
    Json j = Json::parse(d.raw, nullptr, false);
    if (!d.raw.empty() && !j.is_discarded() && j.is_object()) return d.whole(headers);
  }
  if (d.stream_error) {
    o.failure = classify(d.provider, 0, headers, d.stream_error_body, d.stream_error_body.dump(), d.credential);
    o.failure.error.message += " (in the middle of the stream)";
    o.failure.usage = d.usage;
    return o;
  }
  if (d.malformed) {
    o.failure.error = make_error(ErrorCode::kBadResponse,
                                 provider_title(d.provider) + " sent a stream event that is not valid JSON: " +
                                     d.malformed_sample,
                                 "a glitch at the provider or a proxy; Loom retries");
    o.failure.usage = d.usage;
    return o;
  }
  if (!d.done) {
    o.failure.error = make_error(ErrorCode::kBadResponse,
                                 "the stream from " + provider_title(d.provider) + " ended before the answer was complete (" +
                                     std::to_string(d.text.size()) + " bytes of text received)",
                                 "the connection was cut; Loom retries the call");
    o.failure.usage = d.usage;
    return o;
  }
  return d.complete();
}

}  // namespace loom::llm
