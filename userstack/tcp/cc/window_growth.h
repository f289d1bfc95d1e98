// Window arithmetic shared by NewReno and CUBIC: slow start with Appropriate Byte Counting
// (RFC 5681 §3.1, RFC 3465 §2.2), the cwnd-limited test (RFC 7661, RFC 9438 §5.8) and the
// bounds every algorithm respects. Read congestion_control.h first.
#pragma once

#include <algorithm>
#include <cstdint>

namespace xdptcp::tcp::cc {

// RFC 5681 §3.1: "The initial value of ssthresh SHOULD be set arbitrarily high (e.g., to the
// size of the largest possible advertised window)": 65535 << 14 (RFC 7323 §2.3). cwnd never
// grows past it either, which also keeps the byte arithmetic far from uint32 overflow.
inline constexpr std::uint32_t kMaxWindow = 65535u << 14;

// RFC 3465 §2.2: L = 2 SMSS, the limit on the increase per ACK in slow start.
inline constexpr std::uint32_t kAbcLimitSegments = 2;

// Slow start (cwnd < ssthresh): RFC 3465 §2.2 "cwnd += min(N, L*SMSS)" with L = 2, instead of
// RFC 5681 eq. (2)'s min(N, SMSS), so that a delayed ACK covering two segments still doubles
// cwnd per RTT. cwnd stops at ssthresh; the bytes acked beyond that point are returned for
// congestion avoidance (Linux's tcp_slow_start does the same).
inline std::uint32_t slow_start(std::uint32_t& cwnd, std::uint32_t ssthresh, std::uint32_t bytes_acked,
                                std::uint32_t smss) {
  const std::uint32_t inc = std::min(bytes_acked, kAbcLimitSegments * smss);
  const std::uint32_t cap = std::min(ssthresh, kMaxWindow);
  if (cwnd >= cap) return bytes_acked;
  const std::uint32_t room = cap - cwnd;
  if (inc < room) {
    cwnd += inc;
    return 0;
  }
  cwnd = cap;
  return bytes_acked - room;
}

// Whether the sender used its window, so that growing it is justified. RFC 9438 §5.8: "CUBIC
// does not increase its congestion window if a flow is application limited"; RFC 7661 says the
// same for Reno. In slow start a window half used suffices (the ACKs of a flight arrive while
// the doubled flight is being sent), as in Linux's tcp_is_cwnd_limited.
inline bool is_cwnd_limited(std::uint32_t cwnd, std::uint32_t bytes_in_flight, std::uint32_t smss,
                            bool in_slow_start) {
  if (in_slow_start) return 2ull * bytes_in_flight > cwnd;
  return static_cast<std::uint64_t>(bytes_in_flight) + smss > cwnd;
}

}  // namespace xdptcp::tcp::cc
