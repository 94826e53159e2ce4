#include "http.hpp"

#include <curl/curl.h>

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <vector>

namespace loom::cli {
namespace {

// One request as libcurl performs it.
struct TransferSpec {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> header_lines;  // "name: value"
  std::string body;
  std::int64_t connect_timeout_ms = 10000;
  std::int64_t read_timeout_ms = 0;   // the longest silence; 0: none
  std::int64_t total_timeout_ms = 0;  // 0: none
  std::size_t max_bytes = 10 * 1024 * 1024;
  bool follow_redirects = true;
  std::string secret;  // scrubbed from everything that comes back
  const std::function<void(std::string_view)>* on_chunk = nullptr;  // streams a 2xx body
};

struct Transfer {
  const TransferSpec* spec = nullptr;
  CURL* curl = nullptr;
  std::string body;
  Json headers = Json::object();
  bool too_large = false;
  const std::atomic<bool>* cancel = nullptr;
  std::string carry;  // the tail of the last streamed piece, held back in case a secret spans pieces
  std::chrono::steady_clock::time_point last_bytes = std::chrono::steady_clock::now();
  bool went_silent = false;  // no byte for longer than the read timeout
};

// Keys shorter than this are not scrubbed: they are placeholders for local servers ("ollama"),
// and replacing a short string would corrupt ordinary text.
constexpr std::size_t kMinScrubbedSecret = 8;

std::string scrub(std::string text, const std::string& secret) {
  if (secret.size() < kMinScrubbedSecret) return text;
  for (std::size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at)) {
    text.replace(at, secret.size(), "[redacted]");
  }
  return text;
}

std::size_t on_body(char* data, std::size_t size, std::size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::size_t len = size * n;
  t->last_bytes = std::chrono::steady_clock::now();
  if (t->spec->on_chunk) {
    long status = 0;
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300) {
      // Hold back the last secret-length - 1 bytes: a secret split over two pieces is still found.
      std::string piece = t->carry + std::string(data, len);
      std::size_t keep = t->spec->secret.size() < kMinScrubbedSecret ? 0 : std::min(piece.size(), t->spec->secret.size() - 1);
      t->carry = piece.substr(piece.size() - keep);
      piece.resize(piece.size() - keep);
      piece = scrub(std::move(piece), t->spec->secret);
      if (!piece.empty()) (*t->spec->on_chunk)(piece);
      return len;
    }
  }
  if (t->body.size() + len > t->spec->max_bytes) {
    t->too_large = true;
    return 0;  // aborts the transfer
  }
  t->body.append(data, len);
  return len;
}

std::size_t on_header(char* data, std::size_t size, std::size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  t->last_bytes = std::chrono::steady_clock::now();
  std::string line(data, size * n);
  auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string key = line.substr(0, colon);
    for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ')) value.erase(0, 1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) value.pop_back();
    t->headers[key] = scrub(value, t->spec->secret);
  } else if (line.rfind("HTTP/", 0) == 0) {
    t->headers = Json::object();  // a redirect's new response starts
  }
  return size * n;
}

// Called by libcurl at least once a second, and whenever data moves.
int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  if (t->cancel && t->cancel->load()) return 1;
  if (t->spec->read_timeout_ms > 0) {
    auto silent = std::chrono::steady_clock::now() - t->last_bytes;
    if (silent > std::chrono::milliseconds(t->spec->read_timeout_ms)) {
      t->went_silent = true;
      return 1;
    }
  }
  return 0;
}

struct TransferResult {
  CURLcode code = CURLE_OK;
  long status = 0;
  std::string effective_url;
  Transfer t;
};

TransferResult perform(const TransferSpec& spec, const std::atomic<bool>& cancel) {
  TransferResult r;
  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) {
    r.code = CURLE_FAILED_INIT;
    return r;
  }
  r.t.spec = &spec;
  r.t.curl = curl.get();
  r.t.cancel = &cancel;
  curl_slist* headers = nullptr;
  for (const auto& line : spec.header_lines) headers = curl_slist_append(headers, line.c_str());
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> header_guard(headers, curl_slist_free_all);
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, spec.url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, spec.follow_redirects ? 1L : 0L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, spec.method.c_str());
  if (!spec.body.empty()) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, spec.body.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(spec.body.size()));
  }
  if (headers) curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "loom/0.1");
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(spec.connect_timeout_ms > 0 ? spec.connect_timeout_ms : 10000));
  if (spec.total_timeout_ms > 0) curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(spec.total_timeout_ms));
  // The read timeout is kept by on_progress: libcurl's own low-speed check averages over a window
  // that includes the request sent, and reacts seconds late.
  r.t.last_bytes = std::chrono::steady_clock::now();
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.t);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &r.t);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &r.t);
  r.code = curl_easy_perform(c);
  if (spec.on_chunk && !r.t.carry.empty()) {
    std::string rest = scrub(std::move(r.t.carry), spec.secret);
    r.t.carry.clear();
    if (!rest.empty()) (*spec.on_chunk)(rest);
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  char* effective = nullptr;
  curl_easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &effective);
  r.effective_url = effective ? std::string(effective) : spec.url;
  r.t.body = scrub(std::move(r.t.body), spec.secret);
  return r;
}

// A transport failure as an EffectResult (nullopt when the transfer completed).
std::optional<EffectResult> transport_failure(const TransferResult& r, const std::string& what) {
  if (r.code == CURLE_OK) return std::nullopt;
  if (r.t.too_large) {
    return EffectResult::failure(ErrorCode::kBadRequest, "the response of " + what + " is larger than max_bytes (" +
                                                             std::to_string(r.t.spec->max_bytes) + ")");
  }
  if (r.code == CURLE_ABORTED_BY_CALLBACK && r.t.went_silent) {
    return EffectResult::failure(ErrorCode::kTimeout, what + " sent nothing for longer than the read timeout (" +
                                                          std::to_string(r.t.spec->read_timeout_ms) + " ms)");
  }
  if (r.code == CURLE_ABORTED_BY_CALLBACK) return EffectResult::failure(ErrorCode::kCancelled, "cancelled");
  if (r.code == CURLE_OPERATION_TIMEDOUT) return EffectResult::failure(ErrorCode::kTimeout, what + " timed out");
  if (r.code == CURLE_FAILED_INIT) return EffectResult::failure(ErrorCode::kHostError, "libcurl could not start a transfer");
  if (r.code == CURLE_PARTIAL_FILE || r.code == CURLE_RECV_ERROR || r.code == CURLE_GOT_NOTHING) {
    // The server closed the connection before the answer was complete: retryable, like a 5xx.
    return EffectResult::failure(ErrorCode::kUnavailable,
                                 what + ": the connection was cut before the answer was complete (" +
                                     curl_easy_strerror(r.code) + ")");
  }
  return EffectResult::failure(ErrorCode::kHostError, what + ": " + curl_easy_strerror(r.code));
}

bool http_url(const std::string& url) { return url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0; }

}  // namespace

void http_global_init() { curl_global_init(CURL_GLOBAL_DEFAULT); }

EffectResult http_fetch(const Json& args, std::int64_t timeout_ms, const std::atomic<bool>& cancel) {
  std::string url = args.value("url", "");
  if (!http_url(url)) {
    return EffectResult::failure(ErrorCode::kBadRequest, "http.fetch needs an http:// or https:// URL, got '" + url + "'");
  }
  TransferSpec spec;
  spec.url = url;
  spec.method = args.value("method", "GET");
  spec.body = args.value("body", "");
  spec.total_timeout_ms = timeout_ms;
  if (args.contains("max_bytes") && args["max_bytes"].is_number()) {
    spec.max_bytes = static_cast<std::size_t>(args["max_bytes"].get<double>());
  }
  if (args.contains("headers") && args["headers"].is_object()) {
    for (auto it = args["headers"].begin(); it != args["headers"].end(); ++it) {
      spec.header_lines.push_back(it.key() + ": " + (it->is_string() ? it->get<std::string>() : it->dump()));
    }
  }
  TransferResult r = perform(spec, cancel);
  if (auto failed = transport_failure(r, "fetching " + url)) return *failed;
  if (r.status >= 400) {
    std::string message = "HTTP " + std::to_string(r.status) + " from " + url;
    if (r.status == 429) {
      std::int64_t after = -1;
      if (r.t.headers.contains("retry-after")) {
        after = std::atoll(r.t.headers["retry-after"].get<std::string>().c_str()) * 1000;
      }
      return EffectResult::failure(ErrorCode::kRateLimited, message, after);
    }
    if (r.status >= 500) return EffectResult::failure(ErrorCode::kUnavailable, message);
    if (r.status == 401 || r.status == 403) return EffectResult::failure(ErrorCode::kAuth, message);
    return EffectResult::failure(ErrorCode::kBadRequest, message);
  }
  Json out = {{"status", r.status}, {"headers", r.t.headers}, {"body", valid_utf8(r.t.body)}, {"url", r.effective_url}};
  return EffectResult::success(std::move(out));
}

EffectResult http_request(const Json& args, std::int64_t deadline_ms, const std::atomic<bool>& cancel,
                          const SecretLookup& secrets, const std::function<void(std::string_view)>& on_chunk) {
  std::string url = args.value("url", "");
  if (!http_url(url)) {
    return EffectResult::failure(ErrorCode::kBadRequest, "the request needs an http:// or https:// URL, got '" + url + "'",
                                 -1);
  }
  TransferSpec spec;
  spec.url = url;
  spec.method = args.value("method", "POST");
  spec.body = args.value("body", "");
  spec.follow_redirects = false;  // a redirect would resend the key somewhere else
  spec.max_bytes = 32u * 1024u * 1024u;
  spec.connect_timeout_ms = args.value("connect_timeout_ms", static_cast<std::int64_t>(10000));
  spec.read_timeout_ms = args.value("read_timeout_ms", static_cast<std::int64_t>(0));
  spec.total_timeout_ms = deadline_ms;
  if (args.contains("headers") && args["headers"].is_object()) {
    for (auto it = args["headers"].begin(); it != args["headers"].end(); ++it) {
      if (it->is_string()) spec.header_lines.push_back(it.key() + ": " + it->get<std::string>());
    }
  }
  if (args.contains("credential") && args["credential"].is_object()) {
    const Json& c = args["credential"];
    std::string name = c.value("name", "");
    std::optional<std::string> secret = secrets ? secrets(name) : std::nullopt;
    if (!secret || secret->empty()) {
      Error e = make_error(ErrorCode::kAuth, "no key for " + name + ": the environment variable " + name + " is not set",
                           "export " + name + "=... before loom run, or give the model credential: none for a local server");
      EffectResult r;
      r.ok = false;
      r.error = e;
      return r;
    }
    spec.secret = *secret;
    spec.header_lines.push_back(c.value("header", "Authorization") + ": " + c.value("prefix", "") + *secret);
  }
  bool stream = args.value("stream", false);
  if (stream) spec.on_chunk = &on_chunk;
  TransferResult r = perform(spec, cancel);
  std::string host = url.substr(0, url.find('/', url.find("//") + 2));
  if (auto failed = transport_failure(r, "the request to " + host)) return *failed;
  Json out = {{"status", r.status}, {"headers", r.t.headers}, {"body", r.t.body}};
  return EffectResult::success(std::move(out));
}

}  // namespace loom::cli
