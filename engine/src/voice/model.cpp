// model.cpp — counting, the background's smoothed probabilities, preparing a text, and comparing a
// prepared text with a profile (the three raw measurements).

#include <algorithm>
#include <cmath>
#include <string>
#include <string_view>
#include <vector>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "knowledge/analysis.hpp"
#include "text/text_internal.hpp"
#include "voice/voice_internal.hpp"

namespace loom::voice {
namespace detail {

// ---------------------------------------------------------------- CountTable

void CountTable::reserve(std::size_t n) {
  std::size_t cap = 16;
  while (cap < n * 2) cap <<= 1;
  if (cap <= keys_.size()) return;
  std::vector<std::uint64_t> old_keys = std::move(keys_);
  std::vector<std::uint32_t> old_counts = std::move(counts_);
  keys_.assign(cap, 0);
  counts_.assign(cap, 0);
  mask_ = cap - 1;
  size_ = 0;
  for (std::size_t i = 0; i < old_keys.size(); ++i) {
    if (old_keys[i] != 0) add(old_keys[i], old_counts[i]);
  }
}

void CountTable::grow() { reserve(keys_.empty() ? 8 : keys_.size()); }

void CountTable::add(std::uint64_t key, std::uint32_t n) {
  if ((size_ + 1) * 2 > keys_.size()) grow();
  std::size_t i = slot(key);
  while (true) {
    if (keys_[i] == key) {
      counts_[i] += n;
      return;
    }
    if (keys_[i] == 0) {
      keys_[i] = key;
      counts_[i] = n;
      ++size_;
      return;
    }
    i = (i + 1) & mask_;
  }
}

std::vector<std::pair<std::uint64_t, std::uint32_t>> CountTable::sorted() const {
  std::vector<std::pair<std::uint64_t, std::uint32_t>> out;
  out.reserve(size_);
  for (std::size_t i = 0; i < keys_.size(); ++i) {
    if (keys_[i] != 0) out.emplace_back(keys_[i], counts_[i]);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// ---------------------------------------------------------------- text

namespace {
bool starts_with(std::string_view s, std::size_t i, std::string_view what) {
  return s.size() >= i + what.size() && s.compare(i, what.size(), what) == 0;
}
constexpr char kDash = 0x1E;
}  // namespace

std::string normalize_chars(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 1);
  out.push_back(' ');
  auto put = [&](char c) {
    if (c == ' ' && out.back() == ' ') return;
    out.push_back(c);
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      if (text::detail::is_space(static_cast<char>(c))) put(' ');
      else if (c == '-' && i + 1 < text.size() && text[i + 1] == '-') {
        while (i + 1 < text.size() && text[i + 1] == '-') ++i;
        put(kDash);
      } else if (c >= 0x20 && c != 0x7F) put(text::detail::to_ascii_lower(static_cast<char>(c)));
      continue;
    }
    if (starts_with(text, i, "\xE2\x80\x98") || starts_with(text, i, "\xE2\x80\x99")) put('\''), i += 2;       // ‘ ’
    else if (starts_with(text, i, "\xE2\x80\x9C") || starts_with(text, i, "\xE2\x80\x9D")) put('"'), i += 2;  // “ ”
    else if (starts_with(text, i, "\xE2\x80\x94") || starts_with(text, i, "\xE2\x80\x93")) put(kDash), i += 2;  // — –
    else if (starts_with(text, i, "\xE2\x80\xA6")) out.append("..."), i += 2;                                  // …
    else if (starts_with(text, i, "\xC2\xA0")) put(' '), i += 1;                                               // nbsp
    else out.push_back(static_cast<char>(c));  // other UTF-8 bytes as they are (never 0)
  }
  return out;
}

std::uint64_t word_key(std::string_view token) {
  const std::uint64_t k = XXH3_64bits(token.data(), token.size());
  return k == 0 ? 1 : k;
}

std::vector<std::string> word_tokens(std::string_view text) {
  knowledge::detail::TokenBuffer buffer;
  knowledge::detail::tokenize_into(text, buffer);
  std::vector<std::string> out;
  out.reserve(buffer.tokens.size());
  for (const auto& t : buffer.tokens) {
    if (!t.joined) out.emplace_back(buffer.term(t));
  }
  return out;
}

void CharCounts::add_text(const std::string& s) {
  bytes += s.size();
  for (std::size_t i = 0; i < s.size(); ++i) {
    for (int order = 1; order <= kMaxOrder; ++order) {
      const std::uint64_t key = pack(s, i, order);
      if (key == 0) break;
      grams.add(key);
    }
  }
}

}  // namespace detail

// ---------------------------------------------------------------- the background's model

double Background::Impl::log_char(const std::string& s, std::size_t i, int order) const {
  // Witten-Bell, interpolated: P_k(c|h) = (C(hc) + T(h) P_{k-1}(c|h')) / (F(h) + T(h)), with
  // P_1(c) = (C(c) + 1) / (N + 256).
  const double n1 = static_cast<double>(chars.followers.get(detail::kEmptyContext));
  double p = (static_cast<double>(chars.grams.get(detail::pack(s, i, 1))) + 1.0) / (n1 + 256.0);
  for (int k = 2; k <= order; ++k) {
    const std::uint64_t key = detail::pack(s, i, k);
    if (key == 0) break;
    const std::uint64_t ctx = detail::context_of(key, k);
    const double f = chars.followers.get(ctx);
    if (f == 0) continue;
    const double t = chars.distinct.get(ctx);
    p = (static_cast<double>(chars.grams.get(key)) + t * p) / (f + t);
  }
  return std::log(p);
}

double Background::Impl::log_word(std::uint64_t key) const {
  // Add-half smoothing over the background's vocabulary plus one unseen slot.
  const double v = static_cast<double>(vocabulary) + 1.0;
  return std::log((static_cast<double>(words.get(key)) + 0.5) / (static_cast<double>(word_total) + 0.5 * v));
}

detail::Prepared Background::Impl::prepare(std::string_view text) const {
  detail::Prepared p;
  p.bytes = text.size();
  p.features = measure(text);
  p.words = p.features.words;
  const std::string s = detail::normalize_chars(text);
  p.chars.reserve(s.size());
  for (std::size_t i = 1; i < s.size(); ++i) {
    detail::Prepared::CharPos pos;
    for (std::size_t j = 0; j < detail::kCharOrders.size(); ++j) {
      const int order = detail::kCharOrders[j];
      pos.gram[j] = detail::pack(s, i, order);
      pos.log_bg[j] = pos.gram[j] ? static_cast<float>(log_char(s, i, order)) : 0.0f;
    }
    p.chars.push_back(pos);
  }
  for (const std::string& w : detail::word_tokens(text)) {
    const std::uint64_t key = detail::word_key(w);
    p.word_keys.push_back(key);
    p.word_log_bg.push_back(static_cast<float>(log_word(key)));
  }
  return p;
}

// ---------------------------------------------------------------- a profile's measurements

detail::Measurements Profile::Impl::measure(const detail::Prepared& p) const {
  detail::Measurements m;
  // Characters: log((C_p(hc) + beta P_bg(c|h)) / ((C_p(h) + beta) P_bg(c|h))), 0 where the
  // profile never saw the context.
  double sum = 0;
  std::size_t n = 0;
  for (const auto& pos : p.chars) {
    for (std::size_t j = 0; j < detail::kCharOrders.size(); ++j) {
      const std::uint64_t gram = pos.gram[j];
      if (gram == 0) continue;
      ++n;
      const double h = contexts.get(detail::context_of(gram, detail::kCharOrders[j]));
      if (h == 0) continue;
      const double p_bg = std::exp(static_cast<double>(pos.log_bg[j]));
      const double c = grams.get(gram);
      sum += std::log((c + detail::kCharPrior * p_bg) / ((h + detail::kCharPrior) * p_bg));
    }
  }
  m.chars = n ? sum / static_cast<double>(n) : 0;

  // Words: log((C_p(w) + mu P_bg(w)) / ((N_p + mu) P_bg(w))).
  sum = 0;
  const double total = static_cast<double>(word_total) + detail::kWordPrior;
  for (std::size_t i = 0; i < p.word_keys.size(); ++i) {
    const double p_bg = std::exp(static_cast<double>(p.word_log_bg[i]));
    const double c = word_counts.get(p.word_keys[i]);
    sum += std::log((c + detail::kWordPrior * p_bg) / (total * p_bg));
  }
  m.words = p.word_keys.empty() ? 0 : sum / static_cast<double>(p.word_keys.size());

  return m;
}

}  // namespace loom::voice
