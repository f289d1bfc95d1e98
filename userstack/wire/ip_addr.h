// An IPv4 or IPv6 address as a value type (network byte order bytes).
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace xdptcp::wire {

enum class IpFamily : std::uint8_t { kV4 = 4, kV6 = 6 };

struct IpAddr {
  IpFamily family = IpFamily::kV4;
  std::array<std::uint8_t, 16> bytes{};  // IPv4 in the first 4 bytes, the rest zero

  static IpAddr v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
    IpAddr r;
    r.bytes[0] = a;
    r.bytes[1] = b;
    r.bytes[2] = c;
    r.bytes[3] = d;
    return r;
  }
  static IpAddr v4_bytes(const std::uint8_t* p) {
    IpAddr r;
    std::memcpy(r.bytes.data(), p, 4);
    return r;
  }
  static IpAddr v6_bytes(const std::uint8_t* p) {
    IpAddr r;
    r.family = IpFamily::kV6;
    std::memcpy(r.bytes.data(), p, 16);
    return r;
  }
  // Parses dotted-quad IPv4 or RFC 4291 text IPv6; nullopt when malformed.
  static std::optional<IpAddr> parse(std::string_view text);
  std::string to_string() const;

  bool is_v4() const { return family == IpFamily::kV4; }
  std::size_t size() const { return is_v4() ? 4 : 16; }
  bool is_unspecified() const;  // 0.0.0.0 or ::
  // Two 64-bit compares (the flow table compares tuples on every lookup; the defaulted form
  // compiles to a memcmp call). IPv4 keeps bytes 4..15 zero, so all 16 bytes may be compared.
  bool operator==(const IpAddr& o) const {
    std::uint64_t a[2];
    std::uint64_t b[2];
    std::memcpy(a, bytes.data(), 16);
    std::memcpy(b, o.bytes.data(), 16);
    return family == o.family && ((a[0] ^ b[0]) | (a[1] ^ b[1])) == 0;
  }
};

// An address and a TCP port (host byte order).
struct SockAddr {
  IpAddr ip;
  std::uint16_t port = 0;
  bool operator==(const SockAddr& o) const { return port == o.port && ip == o.ip; }
  std::string to_string() const;  // "198.18.0.1:80" or "[fd00::1]:80"
};

// A connection's identity.
struct FourTuple {
  SockAddr local;
  SockAddr remote;
  // Ports first: distinct flows between the same hosts differ there.
  bool operator==(const FourTuple& o) const {
    return local.port == o.local.port && remote.port == o.remote.port && local.ip == o.local.ip &&
           remote.ip == o.remote.ip;
  }
};

// A 64-bit hash of the tuple for flow tables (not cryptographic; fast: three 64x64->128
// multiplies). The keyed form lets a table choose a random key at start-up so that a peer cannot
// pick addresses and ports that all land in one bucket (hash flooding); the unkeyed form uses a
// fixed key. Equal tuples hash equally; the family is part of the hash.
std::uint64_t hash_four_tuple(const FourTuple& t);
std::uint64_t hash_four_tuple(const FourTuple& t, std::uint64_t key);

}  // namespace xdptcp::wire
