// Stable content hashes (xxHash's XXH3, 128 bits) for workflow versions and step-cache keys.
#pragma once

#include <string>
#include <string_view>

namespace loom::detail {

/// 32 lowercase hex digits of XXH3-128 of `data`. Stable across platforms and builds.
std::string hash_hex(std::string_view data);

}  // namespace loom::detail
