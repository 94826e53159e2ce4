// Small helpers that more than one part of `loom serve` uses (serve.cpp, serve_runs.cpp,
// serve_http.cpp). Each is a pure function and safe to call from any thread.
#pragma once

#include <cctype>
#include <cstddef>
#include <random>
#include <string>

#include "loom/loom.hpp"

namespace loom::cli {

/// `j` as one line of JSON; invalid UTF-8 in its strings is replaced, never thrown on.
inline std::string dump(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

/// `bytes` random bytes from std::random_device (/dev/urandom on Linux), as lower-case hex.
inline std::string random_hex(std::size_t bytes) {
  std::string out;
  static const char* kHex = "0123456789abcdef";
  std::random_device rd;
  for (std::size_t i = 0; i < bytes; ++i) {
    unsigned v = rd() & 0xff;
    out += kHex[v >> 4];
    out += kHex[v & 15];
  }
  return out;
}

/// `s` without the white space at either end.
inline std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

}  // namespace loom::cli
