// Helpers for the wire tests: a reference checksum written straight from RFC 1071 §4.1 (one
// 16-bit word at a time, so it shares no code with the 8-bytes-per-step csum_partial), hex
// literals, and a frame builder over the emitters.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "userstack/wire/checksum.h"
#include "userstack/wire/ethernet.h"
#include "userstack/wire/ip.h"
#include "userstack/wire/ip_addr.h"
#include "userstack/wire/tcp_header.h"

namespace xdptcp::wire::test {

using Bytes = std::vector<std::uint8_t>;

// RFC 1071 §4.1 "C" reference, extended with a starting sum. Returns the unfolded-then-folded
// sum (not complemented).
inline std::uint16_t reference_sum(const std::uint8_t* p, std::size_t n, std::uint32_t start = 0) {
  std::uint64_t sum = start;
  while (n > 1) {
    sum += static_cast<std::uint32_t>((p[0] << 8) | p[1]);
    p += 2;
    n -= 2;
  }
  if (n > 0) sum += static_cast<std::uint32_t>(p[0] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(sum);
}
inline std::uint16_t reference_checksum(const Bytes& b, std::uint32_t start = 0) {
  return static_cast<std::uint16_t>(~reference_sum(b.data(), b.size(), start));
}

// "0a 0b0c" -> {0x0a, 0x0b, 0x0c}; spaces ignored.
inline Bytes from_hex(std::string_view hex) {
  Bytes out;
  int hi = -1;
  for (char c : hex) {
    int v;
    if (c >= '0' && c <= '9')
      v = c - '0';
    else if (c >= 'a' && c <= 'f')
      v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      v = c - 'A' + 10;
    else
      continue;
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(static_cast<std::uint8_t>((hi << 4) | v));
      hi = -1;
    }
  }
  return out;
}

struct FrameSpec {
  MacAddr dst{{0x02, 0, 0, 0, 0, 0x02}};
  MacAddr src{{0x02, 0, 0, 0, 0, 0x01}};
  std::optional<std::uint16_t> vlan_tci;
  IpAddr src_ip = IpAddr::v4(198, 18, 0, 1);
  IpAddr dst_ip = IpAddr::v4(198, 18, 0, 2);
  TcpRepr tcp;
  Bytes payload;
};

// Ethernet [+ 802.1Q] + IPv4/IPv6 + TCP + payload, with both checksums filled in.
inline Bytes build_frame(const FrameSpec& s) {
  const std::size_t eth = s.vlan_tci ? kEthHeader + kVlanTag : kEthHeader;
  const std::size_t ip = ip_header_len(s.src_ip.family);
  const std::size_t tcp = s.tcp.header_len();
  Bytes f(eth + ip + tcp + s.payload.size());
  const std::uint16_t type = s.src_ip.is_v4() ? kEtherTypeIpv4 : kEtherTypeIpv6;
  emit_ethernet(s.dst, s.src, type, s.vlan_tci, f);
  IpHeaderSpec h;
  h.src = s.src_ip;
  h.dst = s.dst_ip;
  h.payload_len = static_cast<std::uint16_t>(tcp + s.payload.size());
  h.ident = 0x1234;
  emit_ip(h, std::span<std::uint8_t>(f).subspan(eth));
  emit_tcp(s.tcp, std::span<std::uint8_t>(f).subspan(eth + ip));
  std::copy(s.payload.begin(), s.payload.end(), f.begin() + static_cast<std::ptrdiff_t>(eth + ip + tcp));
  tcp_fill_checksum(s.src_ip, s.dst_ip, std::span<std::uint8_t>(f).subspan(eth + ip));
  return f;
}

// The engine's receive chain: Ethernet -> IP -> TCP -> checksum. nullopt when all pass.
inline std::optional<ParseError> parse_chain(std::span<const std::uint8_t> frame) {
  auto eth = parse_ethernet(frame);
  if (!eth) return eth.error();
  auto ip = parse_ip(eth->payload);
  if (!ip) return ip.error();
  if (ip->protocol != kIpProtoTcp) return ParseError::kNotTcp;
  auto tcp = parse_tcp(ip->payload);
  if (!tcp) return tcp.error();
  if (!tcp_checksum_ok(ip->src, ip->dst, ip->payload)) return ParseError::kBadChecksum;
  return std::nullopt;
}

// A TcpRepr with every option xdptcp emits on a SYN.
inline TcpRepr full_syn() {
  TcpRepr r;
  r.src_port = 41652;
  r.dst_port = 80;
  r.seq = 0x12345678;
  r.flags = tcp_flags::kSyn;
  r.window = 64240;
  r.options.mss = 1460;
  r.options.sack_permitted = true;
  r.options.timestamps = TcpTimestamps{123456, 0};
  r.options.window_scale = 7;
  return r;
}

}  // namespace xdptcp::wire::test
