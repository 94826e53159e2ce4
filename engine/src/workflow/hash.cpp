#include "workflow/hash.hpp"

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace loom::detail {

std::string hash_hex(std::string_view data) {
  XXH128_hash_t h = XXH3_128bits(data.data(), data.size());
  static const char* const kHex = "0123456789abcdef";
  std::string out(32, '0');
  for (int i = 0; i < 16; ++i) {
    unsigned long long word = i < 8 ? h.high64 : h.low64;
    int shift = (7 - (i % 8)) * 8;
    unsigned byte = static_cast<unsigned>((word >> shift) & 0xff);
    out[2 * i] = kHex[byte >> 4];
    out[2 * i + 1] = kHex[byte & 0xf];
  }
  return out;
}

}  // namespace loom::detail
