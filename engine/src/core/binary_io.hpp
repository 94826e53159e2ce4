// binary_io.hpp — private: the little-endian, varint-framed writer and the defensive reader that
// the engine's binary snapshots (knowledge bases, voice backgrounds) are made of.
//
//   varint: unsigned LEB128; str: length:varint bytes; u64/f64: 8 bytes little-endian.
// The reader never reads past its input: a short or malformed input turns ok() false and every
// later read returns zero values, so a parser checks ok() once per record.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace loom::detail {

class Writer {
 public:
  void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void varint(std::uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>((v & 0x7F) | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  void f64(double v) {
    std::uint64_t bits = 0;
    std::memcpy(&bits, &v, 8);
    u64(bits);
  }
  void u64(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  }
  void str(std::string_view s) {
    varint(s.size());
    out_.append(s.data(), s.size());
  }
  void bytes(std::string_view s) { out_.append(s.data(), s.size()); }
  std::string& out() { return out_; }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool ok() const { return ok_; }
  bool done() const { return pos_ == in_.size(); }
  std::size_t left() const { return in_.size() - pos_; }
  void fail() { ok_ = false; }

  std::uint8_t u8() {
    if (!ok_ || pos_ >= in_.size()) return fail(), 0;
    return static_cast<std::uint8_t>(in_[pos_++]);
  }
  std::uint64_t varint() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      const std::uint8_t b = u8();
      if (!ok_) return 0;
      const std::uint64_t bits = b & 0x7F;
      if (shift == 63 && bits > 1) return fail(), 0;  // past 64 bits
      v |= bits << shift;
      if (!(b & 0x80)) return v;
    }
    return fail(), 0;
  }
  // A count of items that each take at least one byte: never more than the bytes left.
  std::uint64_t count() {
    const std::uint64_t n = varint();
    if (n > left()) return fail(), 0;
    return n;
  }
  std::uint64_t u64() {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(u8()) << (8 * i);
    return v;
  }
  double f64() {
    const std::uint64_t bits = u64();
    double v = 0;
    std::memcpy(&v, &bits, 8);
    return v;
  }
  std::string_view str() {
    const std::uint64_t n = varint();
    if (!ok_ || n > left()) return fail(), std::string_view();
    std::string_view s = in_.substr(pos_, static_cast<std::size_t>(n));
    pos_ += static_cast<std::size_t>(n);
    return s;
  }

 private:
  std::string_view in_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace loom::detail
