// SYN cookies (RFC 4987 §3.6) in Linux's encoding (net/ipv4/syncookies.c), so a listener under a
// SYN flood keeps no state for SYNs it cannot hold in its SYN-RECEIVED table.
//
// ISN = H1(tuple) + peer_isn + (count << 24) + ((H2(tuple, count) + mss_index) mod 2^24)
// where count advances every kCookiePeriod. A cookie is valid for kCookieMaxAge periods.
// The options that do not fit (window scale, SACK-permitted) travel in the low 6 bits of our
// TSval when the SYN carried timestamps (Linux cookie_init_timestamp()); without timestamps a
// cookie connection has neither (RFC 4987 §3.6 notes that limitation).
#pragma once

#include <cstdint>
#include <optional>

#include "userstack/tcp/keyed_hash.h"
#include "userstack/wire/ip_addr.h"

namespace xdptcp::tcp {

inline constexpr std::int64_t kCookiePeriodSeconds = 64;
inline constexpr std::uint32_t kCookieMaxAge = 2;  // periods (Linux MAX_SYNCOOKIE_AGE)

// Linux's MSS tables (msstab / msstab6): the largest entry <= the peer's MSS is encoded.
std::uint8_t cookie_mss_index(wire::IpFamily f, std::uint16_t peer_mss);
std::uint16_t cookie_mss_value(wire::IpFamily f, std::uint8_t index);

// The cookie counter for an instant (seconds since the stack's epoch / period).
std::uint32_t cookie_count(std::int64_t now_ns);

std::uint32_t cookie_make(const HashKey& key, const wire::FourTuple& t, std::uint32_t peer_isn,
                          std::uint32_t count, std::uint8_t mss_index);
// Given the cookie (our ISN = SEG.ACK - 1) and the peer's ISN (SEG.SEQ - 1), the MSS index
// when valid now, else nullopt.
std::optional<std::uint8_t> cookie_check(const HashKey& key, const wire::FourTuple& t, std::uint32_t peer_isn,
                                         std::uint32_t cookie, std::uint32_t count_now, wire::IpFamily f);

struct CookieTsOptions {
  std::optional<std::uint8_t> wscale;  // peer's shift; nullopt = window scaling off
  bool sack_ok = false;
};
// Our TSval for a cookie SYN-ACK: ts_now with the low 6 bits replaced by the options, and never
// later than ts_now (Linux cookie_init_timestamp()).
std::uint32_t cookie_tsval(std::uint32_t ts_now, const CookieTsOptions& o);
CookieTsOptions cookie_ts_decode(std::uint32_t tsecr);

}  // namespace xdptcp::tcp
