// TCP sequence numbers: 32-bit values compared modulo 2^32 (RFC 9293 §3.4).
//
// The ordering is NOT transitive over the whole space (a < b < c does not imply a < c when the
// values span more than 2^31), so never use SeqNum as a key of a sorted container. It is only
// meaningful between values less than 2^31 apart, which the window rules guarantee.
#pragma once

#include <cstdint>

namespace xdptcp::tcp {

class SeqNum {
 public:
  constexpr SeqNum() = default;
  constexpr explicit SeqNum(std::uint32_t v) : v_(v) {}

  constexpr std::uint32_t raw() const { return v_; }

  constexpr SeqNum operator+(std::uint32_t n) const { return SeqNum(v_ + n); }
  constexpr SeqNum operator-(std::uint32_t n) const { return SeqNum(v_ - n); }
  constexpr SeqNum& operator+=(std::uint32_t n) {
    v_ += n;
    return *this;
  }
  // Distance from `o` to this, as a signed value: positive when this is after `o`.
  constexpr std::int32_t operator-(SeqNum o) const { return static_cast<std::int32_t>(v_ - o.v_); }

  constexpr bool operator==(const SeqNum&) const = default;
  friend constexpr bool operator<(SeqNum a, SeqNum b) { return (a - b) < 0; }
  friend constexpr bool operator<=(SeqNum a, SeqNum b) { return (a - b) <= 0; }
  friend constexpr bool operator>(SeqNum a, SeqNum b) { return (a - b) > 0; }
  friend constexpr bool operator>=(SeqNum a, SeqNum b) { return (a - b) >= 0; }

 private:
  std::uint32_t v_ = 0;
};

// lo <= s < hi, modulo 2^32.
constexpr bool seq_in_range(SeqNum s, SeqNum lo, SeqNum hi) {
  return lo <= s && s < hi;
}
constexpr SeqNum seq_max(SeqNum a, SeqNum b) {
  return a > b ? a : b;
}
constexpr SeqNum seq_min(SeqNum a, SeqNum b) {
  return a < b ? a : b;
}

}  // namespace xdptcp::tcp
