// The native host's HTTP client for http.fetch (libcurl).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "loom/run.hpp"

namespace loom::cli {

/// Performs an http.fetch effect: GET (or `method`) `url` with `headers` and `body`, at most
/// `max_bytes` of response. Fails with kRateLimited (429, honouring Retry-After), kUnavailable
/// (5xx), kAuth (401/403), kBadRequest (other 4xx), kTimeout, kCancelled, kHostError (network).
EffectResult http_fetch(const Json& args, std::int64_t timeout_ms, const std::atomic<bool>& cancel);

/// Must be called once before any thread uses http_fetch.
void http_global_init();

}  // namespace loom::cli
