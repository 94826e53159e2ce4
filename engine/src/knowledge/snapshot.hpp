// snapshot.hpp — private: the framing of a knowledge base snapshot, for the fuzz target (which
// seals arbitrary bodies so that the parser behind the checksum is exercised).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace loom::knowledge::detail {

/// The snapshot format version this engine writes and reads.
inline constexpr std::uint8_t kSnapshotVersion = 1;

/// "LOOMKB", the version byte, `body`, and the XXH3-64 checksum of all that: a snapshot whose
/// body is `body`.
std::string seal_snapshot(std::string_view body);

}  // namespace loom::knowledge::detail
