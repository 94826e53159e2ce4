// report.hpp — how every loom subcommand refuses: "loom: <message>" and "  hint: <hint>" on
// stderr, then the exit code it returns (1: the work failed, 2: the command or its input is wrong).
#pragma once

#include <cstdio>
#include <string>

#include "loom/error.hpp"

namespace loom::cli {

inline int fail(int code, const std::string& message, const std::string& hint = {}) {
  std::fprintf(stderr, "loom: %s\n", message.c_str());
  if (!hint.empty()) std::fprintf(stderr, "  hint: %s\n", hint.c_str());
  return code;
}

inline int fail(int code, const Error& e) { return fail(code, e.message, e.hint); }

}  // namespace loom::cli
