// SYN cookie arithmetic; see syn_cookie.h for the encoding.
#include "userstack/tcp/syn_cookie.h"

#include <array>

namespace xdptcp::tcp {
namespace {

constexpr std::array<std::uint16_t, 4> kMss4 = {536, 1300, 1440, 1460};  // Linux msstab
constexpr std::array<std::uint16_t, 3> kMss6 = {1220, 1280, 1440};       // Linux msstab6
constexpr std::uint32_t kCookieBits = 24;
constexpr std::uint32_t kCookieMask = (1u << kCookieBits) - 1;
constexpr std::uint32_t kTsBits = 6;
constexpr std::uint32_t kTsMask = (1u << kTsBits) - 1;

std::uint32_t h(const HashKey& key, const wire::FourTuple& t, std::uint32_t salt) {
  return static_cast<std::uint32_t>(hash_tuple(key, t, salt));
}
// Distinct salts for H1 and H2 (H2 also keyed by the count).
constexpr std::uint32_t kSaltH1 = 0xC00C1E01u;
std::uint32_t salt_h2(std::uint32_t count) {
  return 0xC00C1E02u ^ (count * 0x9E3779B9u);
}

}  // namespace

std::uint8_t cookie_mss_index(wire::IpFamily f, std::uint16_t peer_mss) {
  if (f == wire::IpFamily::kV4) {
    for (std::size_t i = kMss4.size(); i-- > 0;) {
      if (kMss4[i] <= peer_mss) return static_cast<std::uint8_t>(i);
    }
  } else {
    for (std::size_t i = kMss6.size(); i-- > 0;) {
      if (kMss6[i] <= peer_mss) return static_cast<std::uint8_t>(i);
    }
  }
  return 0;
}

std::uint16_t cookie_mss_value(wire::IpFamily f, std::uint8_t index) {
  return f == wire::IpFamily::kV4 ? kMss4[index] : kMss6[index];
}

std::uint32_t cookie_count(std::int64_t now_ns) {
  return static_cast<std::uint32_t>(now_ns / (kCookiePeriodSeconds * 1'000'000'000LL));
}

std::uint32_t cookie_make(const HashKey& key, const wire::FourTuple& t, std::uint32_t peer_isn,
                          std::uint32_t count, std::uint8_t mss_index) {
  return h(key, t, kSaltH1) + peer_isn + (count << kCookieBits) +
         ((h(key, t, salt_h2(count)) + mss_index) & kCookieMask);
}

std::optional<std::uint8_t> cookie_check(const HashKey& key, const wire::FourTuple& t, std::uint32_t peer_isn,
                                         std::uint32_t cookie, std::uint32_t count_now, wire::IpFamily f) {
  const std::uint32_t c = cookie - h(key, t, kSaltH1) - peer_isn;
  // The top 8 bits carry the count (mod 256); the age is how far it lags count_now.
  const std::uint32_t age = (count_now - (c >> kCookieBits)) & 0xff;
  if (age > kCookieMaxAge) return std::nullopt;
  const std::uint32_t count = count_now - age;
  const std::uint32_t idx = (c - h(key, t, salt_h2(count))) & kCookieMask;
  const std::size_t n = f == wire::IpFamily::kV4 ? kMss4.size() : kMss6.size();
  if (idx >= n) return std::nullopt;
  return static_cast<std::uint8_t>(idx);
}

std::uint32_t cookie_tsval(std::uint32_t ts_now, const CookieTsOptions& o) {
  std::uint32_t opts = o.wscale ? (*o.wscale & 0xfu) : 0xfu;
  if (o.sack_ok) opts |= 1u << 4;
  std::uint32_t ts = (ts_now & ~kTsMask) | opts;
  if (static_cast<std::int32_t>(ts - ts_now) > 0) ts = ((ts_now & ~kTsMask) - (1u << kTsBits)) | opts;
  return ts;
}

CookieTsOptions cookie_ts_decode(std::uint32_t tsecr) {
  CookieTsOptions o;
  const std::uint32_t ws = tsecr & 0xfu;
  if (ws != 0xfu && ws <= 14) o.wscale = static_cast<std::uint8_t>(ws);
  o.sack_ok = (tsecr & (1u << 4)) != 0;
  return o;
}

}  // namespace xdptcp::tcp
