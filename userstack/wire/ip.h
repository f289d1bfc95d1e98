// IPv4 (RFC 791) and IPv6 (RFC 8200) headers: one parse entry point that dispatches on the
// version nibble, and emitters for the headers the stack sends (no options, no extension
// headers).
//
// IPv4: IHL checked, options skipped, header checksum verified, total length checked against
// the buffer (trailing Ethernet padding is trimmed), fragments rejected (kFragment; the engine
// counts and drops them: xdptcp advertises an MSS that avoids fragmentation).
// IPv6: hop-by-hop, routing and destination-options extension headers are skipped (at most
// kMaxIpv6ExtHeaders); a fragment header ends parsing with kFragment, any other extension header
// (ESP, AH, Mobility, HIP, Shim6, experimental) with kUnsupported. Any other next header is the
// upper-layer protocol and is returned in IpPacket::protocol (the caller checks for TCP).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "userstack/wire/ip_addr.h"
#include "userstack/wire/parse_error.h"

namespace xdptcp::wire {

inline constexpr std::uint8_t kIpProtoTcp = 6;
inline constexpr std::uint8_t kIpProtoUdp = 17;
inline constexpr std::uint8_t kIpProtoIcmp = 1;
inline constexpr std::uint8_t kIpProtoIcmpv6 = 58;
inline constexpr std::size_t kIpv4MinHeader = 20;
inline constexpr std::size_t kIpv6Header = 40;
inline constexpr int kMaxIpv6ExtHeaders = 8;

struct IpPacket {
  IpAddr src;
  IpAddr dst;
  std::uint8_t protocol = 0;              // upper-layer protocol (after IPv6 extension headers)
  std::uint8_t ttl = 0;                   // TTL or hop limit
  std::uint8_t tos = 0;                   // IPv4 TOS / IPv6 traffic class (DSCP+ECN)
  std::size_t header_len = 0;             // bytes before the upper-layer payload (incl. options/ext headers)
  std::span<const std::uint8_t> payload;  // upper-layer bytes, trimmed to the IP length
};

ParseResult<IpPacket> parse_ip(std::span<const std::uint8_t> packet);

inline constexpr std::size_t ip_header_len(IpFamily f) {
  return f == IpFamily::kV4 ? kIpv4MinHeader : kIpv6Header;
}

struct IpHeaderSpec {
  IpAddr src;
  IpAddr dst;  // same family as src
  std::uint8_t protocol = kIpProtoTcp;
  std::uint16_t payload_len = 0;
  std::uint8_t ttl = 64;
  std::uint8_t tos = 0;
  std::uint16_t ident = 0;  // IPv4 identification (DF is always set)
};

// Writes a 20-byte IPv4 header (with checksum) or a 40-byte IPv6 header into out; returns its
// length, or 0 (nothing written) when out is shorter than ip_header_len(spec.src.family).
// The family is src's. For IPv4 the caller keeps payload_len <= 65515.
std::size_t emit_ip(const IpHeaderSpec& spec, std::span<std::uint8_t> out);

}  // namespace xdptcp::wire
