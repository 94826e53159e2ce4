// The native host's HTTP client (libcurl): http.fetch effects, and the engine's http effects
// (model calls), streamed, with connect and read timeouts and cancel.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "loom/run.hpp"

namespace loom::cli {

/// Performs an http.fetch effect: GET (or `method`) `url` with `headers` and `body`, at most
/// `max_bytes` of response. Fails with kRateLimited (429, honouring Retry-After), kUnavailable
/// (5xx), kAuth (401/403), kBadRequest (other 4xx), kTimeout, kCancelled, kHostError (network).
EffectResult http_fetch(const Json& args, std::int64_t timeout_ms, const std::atomic<bool>& cancel);

/// Finds a credential's secret by its name (natively: the environment variable of that name).
using SecretLookup = std::function<std::optional<std::string>(const std::string& name)>;

/// Performs an engine http effect (args as llm::http_request_to_json writes them): adds the
/// named credential's header from `secrets`, sends the request, and when args.stream is true
/// hands each piece of a 2xx body to `on_chunk` as it arrives. Resolves {status, headers, body:
/// what was not streamed}; transport failures are kTimeout (connect or read timeout, or the
/// step's deadline), kCancelled, kHostError; a missing key is kAuth naming the credential. The
/// secret is scrubbed from everything returned.
EffectResult http_request(const Json& args, std::int64_t deadline_ms, const std::atomic<bool>& cancel,
                          const SecretLookup& secrets, const std::function<void(std::string_view)>& on_chunk);

/// Must be called once before any thread uses http_fetch or http_request.
void http_global_init();

}  // namespace loom::cli
