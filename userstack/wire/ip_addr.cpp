// IpAddr text conversion (inet_pton/inet_ntop) and the flow hash over a FourTuple.
#include "userstack/wire/ip_addr.h"

#include <arpa/inet.h>

namespace xdptcp::wire {

std::optional<IpAddr> IpAddr::parse(std::string_view text) {
  // inet_pton needs a NUL-terminated string; the longest IPv6 text form
  // ("ffff:...:255.255.255.255") is INET6_ADDRSTRLEN - 1 characters.
  char buf[INET6_ADDRSTRLEN];
  if (text.empty() || text.size() >= sizeof buf) return std::nullopt;
  if (text.find('\0') != std::string_view::npos) return std::nullopt;  // inet_pton would stop there
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  IpAddr r;
  if (text.find(':') != std::string_view::npos) {
    r.family = IpFamily::kV6;
    if (inet_pton(AF_INET6, buf, r.bytes.data()) != 1) return std::nullopt;
  } else {
    // glibc's inet_pton(AF_INET) accepts only the four-part dotted decimal form (no "1.2",
    // no hex, no leading zeros), which is what we want for configuration.
    if (inet_pton(AF_INET, buf, r.bytes.data()) != 1) return std::nullopt;
  }
  return r;
}

std::string IpAddr::to_string() const {
  char buf[INET6_ADDRSTRLEN];
  const char* s = inet_ntop(is_v4() ? AF_INET : AF_INET6, bytes.data(), buf, sizeof buf);
  return s != nullptr ? std::string(s) : std::string("?");
}

bool IpAddr::is_unspecified() const {
  for (std::size_t i = 0; i < size(); ++i) {
    if (bytes[i] != 0) return false;
  }
  return true;
}

std::string SockAddr::to_string() const {
  if (ip.is_v4()) return ip.to_string() + ":" + std::to_string(port);
  return "[" + ip.to_string() + "]:" + std::to_string(port);
}

namespace {

// The "mum" primitive of wyhash: a full 64x64->128 multiply folded by xor. Each call mixes
// every input bit into every output bit.
inline std::uint64_t mum(std::uint64_t a, std::uint64_t b) {
  const unsigned __int128 r = static_cast<unsigned __int128>(a) * b;
  return static_cast<std::uint64_t>(r) ^ static_cast<std::uint64_t>(r >> 64);
}

inline std::uint64_t load64(const std::uint8_t* p) {
  std::uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// wyhash's constants (odd, with balanced bits).
constexpr std::uint64_t kP0 = 0xa0761d6478bd642fULL;
constexpr std::uint64_t kP1 = 0xe7037ed1a0b428dbULL;
constexpr std::uint64_t kP2 = 0x8ebc6af09c88c6e3ULL;
constexpr std::uint64_t kP3 = 0x589965cc75374cc3ULL;
constexpr std::uint64_t kDefaultKey = 0x2d358dccaa6c78a5ULL;

}  // namespace

std::uint64_t hash_four_tuple(const FourTuple& t, std::uint64_t key) {
  // IPv4 addresses keep zeros in bytes 4..15 (IpAddr's invariant), so one code path serves
  // both families; the family goes in with the ports so that 0.0.0.1 and ::1-like byte
  // patterns of different families do not collide by construction.
  const std::uint64_t l0 = load64(t.local.ip.bytes.data());
  const std::uint64_t l1 = load64(t.local.ip.bytes.data() + 8);
  const std::uint64_t r0 = load64(t.remote.ip.bytes.data());
  const std::uint64_t r1 = load64(t.remote.ip.bytes.data() + 8);
  const std::uint64_t ports = (std::uint64_t{t.local.port} << 32) | (std::uint64_t{t.remote.port} << 16) |
                              (std::uint64_t{static_cast<std::uint8_t>(t.local.ip.family)} << 8) |
                              static_cast<std::uint8_t>(t.remote.ip.family);
  std::uint64_t h = mum(l0 ^ key ^ kP0, r0 ^ kP1);
  h ^= mum(l1 ^ key ^ kP2, r1 ^ kP3);
  h = mum(h ^ ports ^ kP1, key ^ kP0);
  return mum(h ^ kP2, h ^ kP3 ^ key);
}

std::uint64_t hash_four_tuple(const FourTuple& t) {
  return hash_four_tuple(t, kDefaultKey);
}

}  // namespace xdptcp::wire
