// loom/llm.hpp — language-model providers as pure codecs, and the model pool.
//
// Nothing here performs I/O. A call to a model is three pure moves:
//
//   const loom::llm::ModelSpec& m = *pool.find("draft");
//   loom::llm::HttpRequest req = loom::llm::encode_request(m, call);   // what to send
//   // ... the host sends it, adding the credential's header, and hands back the bytes:
//   loom::llm::ResponseDecoder dec(m.provider, /*streamed=*/req.stream);
//   for (chunk : body) for (auto& delta : dec.feed(chunk)) show(delta);  // live text
//   loom::Result<loom::llm::Completion> done = dec.finish(status, headers); // or a classified Error
//
// Three wire protocols cover the providers: OpenAI Chat Completions (OpenAI, Ollama's /v1,
// LM Studio, llama.cpp server, OpenRouter, vLLM: a base URL away), Anthropic Messages, and
// Google Gemini generateContent / streamGenerateContent. Each streams: server-sent events, and
// Gemini also as a streamed JSON array.
//
// Secrets never pass through here: a request names its credential (an environment variable
// natively, a stored key in the browser) and says which header carries it; the host adds it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "loom/error.hpp"
#include "loom/json.hpp"

namespace loom::llm {

/// The wire protocols.
enum class Provider { kOpenAI, kAnthropic, kGemini };

/// "openai", "anthropic", "gemini".
std::string_view provider_name(Provider p);

/// Where the host finds the key and how it sends it. An empty `name` means no key is sent
/// (a local server).
struct Credential {
  std::string name;    ///< "OPENAI_API_KEY": an environment variable natively, a stored key's name in the browser
  std::string header;  ///< "Authorization", "x-api-key", "x-goog-api-key"
  std::string prefix;  ///< "Bearer " or ""
};

/// One named entry of the model pool (a models file's `models.<name>`).
struct ModelSpec {
  std::string name;        ///< the name workflows use: "draft", "fast", "local"
  Provider provider = Provider::kOpenAI;
  std::string base_url;    ///< "https://api.openai.com/v1", "http://localhost:11434/v1", ...
  std::string model_id;    ///< the provider's model id: "gpt-4o-mini", "claude-sonnet-4-5", ...
  Credential credential;
  // Defaults a call may override.
  std::optional<double> temperature;
  std::optional<std::int64_t> max_tokens;
  std::string system;
  bool stream = true;
  // Money: US dollars per million tokens (0: free or unknown).
  double price_input_per_mtok = 0;
  double price_output_per_mtok = 0;
  // Limits, enforced by the engine per run (0: none).
  int concurrency = 0;
  double requests_per_minute = 0;
  double tokens_per_minute = 0;
  // Timeouts the host applies to the HTTP transfer.
  std::int64_t connect_timeout_ms = 10000;
  std::int64_t read_timeout_ms = 120000;  ///< the longest silence while waiting for bytes
  std::int64_t context_tokens = 0;        ///< the model's context window, when known (0: unknown)
  std::vector<std::string> fallback;      ///< model names to try, in order, when this one fails
  int line = 0;                           ///< where it is defined in the models file
};

/// The writer's models file: named models and the default.
class ModelPool {
 public:
  /// The model named `name`, or null.
  const ModelSpec* find(std::string_view name) const;
  /// The model used when a call names none ("" when the file names no default).
  const std::string& default_model() const { return default_; }
  std::vector<std::string> names() const;
  /// The file it was loaded from, for error messages.
  const std::string& file() const { return file_; }

  /// Adds or replaces a model (tests, and hosts that build a pool from settings).
  void add(ModelSpec spec);
  void set_default(std::string name) { default_ = std::move(name); }
  void set_file(std::string file) { file_ = std::move(file); }

 private:
  std::map<std::string, ModelSpec, std::less<>> models_;
  std::string default_;
  std::string file_;
};

/// Looks up a host variable for `${NAME}` / `${NAME:-fallback}` in base URLs (OLLAMA_HOST).
using VariableLookup = std::function<std::optional<std::string>(std::string_view name)>;

struct ModelPoolLoad {
  std::shared_ptr<const ModelPool> pool;  ///< null when errors is not empty
  std::vector<Error> errors;              ///< every problem, each with file:line:column and a hint
};

/// Parses a models file (YAML; docs/models.md). `vars` expands `${...}` in base_url; without it
/// the fallbacks are used. Unknown keys, wrong types, unknown providers, fallbacks naming no
/// model and fallback cycles are errors.
ModelPoolLoad load_model_pool(std::string_view text, std::string_view file, const VariableLookup& vars = {});

/// The pool as JSON, for hosts that show or check it (the studio's settings, its connection
/// policy): {default, models: [{name, provider, base_url, model, credential: {name, header,
/// prefix}, temperature?, max_tokens?, stream, price: {input_per_mtok, output_per_mtok}, limits:
/// {concurrency, requests_per_minute, tokens_per_minute}, timeouts: {connect_ms, read_ms},
/// context_tokens, fallback, line}]}, models sorted by name. Never holds a key (the pool has none).
Json model_pool_to_json(const ModelPool& pool);

// ---------------------------------------------------------------- a call

struct Message {
  std::string role;  ///< "user" or "assistant" ("system" messages are folded into `system`)
  std::string content;
};

/// What `llm.generate` asks for, after the model's defaults are applied.
struct Call {
  std::string system;
  std::vector<Message> messages;
  std::optional<double> temperature;
  std::optional<double> top_p;
  std::optional<std::int64_t> max_tokens;
  std::vector<std::string> stop;
  bool stream = true;
};

/// Builds a Call from llm.generate's arguments (`prompt` or `messages`, `system`, `temperature`,
/// `top_p`, `max_tokens`, `stop`, `stream`) over the model's defaults. kBadArgument when the
/// arguments are malformed (no prompt and no messages, a message without role or content).
Result<Call> call_from_args(const ModelSpec& model, const Json& args);

/// An HTTP request to perform. The host adds `credential`'s header (when named) and nothing
/// else; the engine never sees the key.
struct HttpRequest {
  std::string method = "POST";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  Credential credential;
  bool stream = false;  ///< the body arrives as a stream: feed it as it comes
  std::int64_t connect_timeout_ms = 10000;
  std::int64_t read_timeout_ms = 120000;
};

/// The request as JSON, the `args` of an http effect:
/// {method, url, headers: {k: v}, body, credential?: {name, header, prefix}, stream,
///  connect_timeout_ms, read_timeout_ms}.
Json http_request_to_json(const HttpRequest& request);

/// Encodes a call for the model's provider.
HttpRequest encode_request(const ModelSpec& model, const Call& call);

/// A rough count of tokens in `text` (4 characters a token, by UTF-8 code points): the
/// engine's estimate for budgets and rate limits before the provider reports exact usage.
std::int64_t estimate_tokens(std::string_view text);
/// estimate_tokens over the system prompt and every message.
std::int64_t estimate_tokens(const Call& call);

// ---------------------------------------------------------------- the answer

/// Why the model stopped, across providers.
enum class FinishReason { kStop, kLength, kContentFilter, kToolCalls, kOther };
/// "stop", "length", "content_filter", "tool_calls", "other".
std::string_view finish_reason_name(FinishReason r);

struct Usage {
  std::int64_t input_tokens = -1;   ///< -1: the provider did not say
  std::int64_t output_tokens = -1;
  bool known() const { return input_tokens >= 0 || output_tokens >= 0; }
};

/// A finished generation.
struct Completion {
  std::string text;
  FinishReason finish_reason = FinishReason::kStop;
  std::string provider_finish_reason;  ///< as the provider said it: "end_turn", "MAX_TOKENS", ...
  bool truncated = false;              ///< stopped by the max_tokens limit
  Usage usage;
  std::string model;  ///< the model the provider says answered, when it says
};

/// A classified failure: the Error (kRateLimited, kUnavailable, kTimeout, kAuth, kBadRequest,
/// kContentFiltered, kBadResponse) with the provider's own message, and the delay it asked for.
struct Failure {
  Error error;
  std::int64_t retry_after_ms = -1;
  Usage usage;  ///< tokens the provider billed anyway, when it says
};

/// Decodes one response, streamed or not. Feed the body as it arrives (any split, including
/// inside a UTF-8 character or an SSE line); each feed returns the new text. finish() takes the
/// HTTP status and the response headers (lower-case names) and gives the Completion or Failure.
class ResponseDecoder {
 public:
  ResponseDecoder(Provider provider, bool stream, std::string credential_name = {});
  ~ResponseDecoder();
  ResponseDecoder(ResponseDecoder&&) noexcept;
  ResponseDecoder& operator=(ResponseDecoder&&) noexcept;

  /// Takes the next bytes of the body; returns the text they complete ("" when none).
  /// After an error status, bytes are only collected for the error message.
  std::string feed(std::string_view bytes);
  /// Tells the decoder the status early (hosts know it before the body), so an error body is
  /// not parsed as a stream.
  void set_status(int status);
  /// The body has ended (the host resolved the transfer).
  struct Outcome {
    bool ok = false;
    Completion completion;  ///< when ok
    Failure failure;        ///< when !ok
  };
  Outcome finish(int status, const Json& headers);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Classifies an error response (status >= 400) of `provider`: the code, the provider's own
/// message, a hint (naming `credential_name` for auth failures), and Retry-After in ms.
Failure classify_error(Provider provider, int status, const Json& headers, std::string_view body,
                       std::string_view credential_name);

/// The cost in US dollars of `usage` on `model` (unknown counts as 0).
double cost_usd(const ModelSpec& model, const Usage& usage);

}  // namespace loom::llm
