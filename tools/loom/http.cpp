#include "http.hpp"

#include <curl/curl.h>

#include <cctype>
#include <cstdlib>
#include <memory>

namespace loom::cli {
namespace {

struct Transfer {
  std::string body;
  Json headers = Json::object();
  std::size_t max_bytes = 10 * 1024 * 1024;
  bool too_large = false;
  const std::atomic<bool>* cancel = nullptr;
};

std::size_t on_body(char* data, std::size_t size, std::size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::size_t len = size * n;
  if (t->body.size() + len > t->max_bytes) {
    t->too_large = true;
    return 0;  // aborts the transfer
  }
  t->body.append(data, len);
  return len;
}

std::size_t on_header(char* data, std::size_t size, std::size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string line(data, size * n);
  auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string key = line.substr(0, colon);
    for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ')) value.erase(0, 1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) value.pop_back();
    t->headers[key] = value;
  } else if (line.rfind("HTTP/", 0) == 0) {
    t->headers = Json::object();  // a redirect's new response starts
  }
  return size * n;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  return t->cancel && t->cancel->load() ? 1 : 0;
}

}  // namespace

void http_global_init() { curl_global_init(CURL_GLOBAL_DEFAULT); }

EffectResult http_fetch(const Json& args, std::int64_t timeout_ms, const std::atomic<bool>& cancel) {
  std::string url = args.value("url", "");
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
    return EffectResult::failure(ErrorCode::kBadRequest, "http.fetch needs an http:// or https:// URL, got '" + url + "'");
  }
  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return EffectResult::failure(ErrorCode::kHostError, "libcurl could not start a transfer");
  Transfer t;
  t.cancel = &cancel;
  if (args.contains("max_bytes") && args["max_bytes"].is_number()) {
    t.max_bytes = static_cast<std::size_t>(args["max_bytes"].get<double>());
  }
  std::string method = args.value("method", "GET");
  std::string body = args.value("body", "");
  curl_slist* headers = nullptr;
  if (args.contains("headers") && args["headers"].is_object()) {
    for (auto it = args["headers"].begin(); it != args["headers"].end(); ++it) {
      std::string line = it.key() + ": " + (it->is_string() ? it->get<std::string>() : it->dump());
      headers = curl_slist_append(headers, line.c_str());
    }
  }
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> header_guard(headers, curl_slist_free_all);
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (!body.empty()) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  if (headers) curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "loom/0.1");
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
  if (timeout_ms > 0) curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_ms));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
  CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    if (t.too_large) {
      return EffectResult::failure(ErrorCode::kBadRequest, "the response of " + url + " is larger than max_bytes (" +
                                                               std::to_string(t.max_bytes) + ")");
    }
    if (rc == CURLE_ABORTED_BY_CALLBACK) return EffectResult::failure(ErrorCode::kCancelled, "cancelled");
    if (rc == CURLE_OPERATION_TIMEDOUT) return EffectResult::failure(ErrorCode::kTimeout, "fetching " + url + " timed out");
    return EffectResult::failure(ErrorCode::kHostError, "fetching " + url + ": " + curl_easy_strerror(rc));
  }
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  char* effective = nullptr;
  curl_easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &effective);
  if (status >= 400) {
    std::string message = "HTTP " + std::to_string(status) + " from " + url;
    if (status == 429) {
      std::int64_t after = -1;
      if (t.headers.contains("retry-after")) {
        after = std::atoll(t.headers["retry-after"].get<std::string>().c_str()) * 1000;
      }
      return EffectResult::failure(ErrorCode::kRateLimited, message, after);
    }
    if (status >= 500) return EffectResult::failure(ErrorCode::kUnavailable, message);
    if (status == 401 || status == 403) return EffectResult::failure(ErrorCode::kAuth, message);
    return EffectResult::failure(ErrorCode::kBadRequest, message);
  }
  Json out = {{"status", status},
              {"headers", t.headers},
              {"body", valid_utf8(t.body)},
              {"url", effective ? std::string(effective) : url}};
  return EffectResult::success(std::move(out));
}

}  // namespace loom::cli
