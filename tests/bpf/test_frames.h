// Frame builders for the XDP steering tests: Ethernet (optionally 802.1Q), IPv4/IPv6, and TCP,
// UDP or ICMP, with knobs to break each header. Deliberately independent of userstack/wire so
// that the program's tests do not share a parser bug with the stack. Checksums are left zero:
// the steering program does not look at them.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace xdptcp::test {

inline constexpr std::uint8_t kProtoTcp = 6;
inline constexpr std::uint8_t kProtoUdp = 17;
inline constexpr std::uint8_t kProtoIcmp = 1;
inline constexpr std::uint8_t kProtoIcmpV6 = 58;
inline constexpr std::uint8_t kProtoHopByHop = 0;

// TCP flags (RFC 9293 §3.1), as in byte 13 of the header.
inline constexpr std::uint8_t kTcpSyn = 0x02;
inline constexpr std::uint8_t kTcpAck = 0x10;

using Addr4 = std::array<std::uint8_t, 4>;
using Addr6 = std::array<std::uint8_t, 16>;

inline constexpr Addr4 kSrc4{198, 18, 0, 2};
inline constexpr Addr4 kDst4{198, 18, 0, 1};
inline constexpr Addr6 kSrc6{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
inline constexpr Addr6 kDst6{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

struct FrameSpec {
  int family = 4;                     // 4 or 6
  std::optional<std::uint16_t> vlan;  // 802.1Q VLAN id
  bool double_vlan = false;           // QinQ-style second 802.1Q tag
  std::uint8_t proto = kProtoTcp;     // IPv4 protocol / IPv6 next header
  Addr4 src4 = kSrc4, dst4 = kDst4;
  Addr6 src6 = kSrc6, dst6 = kDst6;
  std::uint8_t ip_version = 0;          // 0: the family's own version
  std::uint8_t ihl = 5;                 // IPv4 header words; options (NOP) fill beyond 5
  std::uint16_t frag_off = 0;           // IPv4 flags + fragment offset, host order
  std::optional<std::uint16_t> ip_len;  // IPv4 total length / IPv6 payload length override
  std::uint16_t sport = 40000, dport = 80;
  std::uint8_t doff = 5;  // TCP header words; options (NOP) fill beyond 5
  std::uint8_t tcp_flags = kTcpSyn;
  std::size_t payload = 0;
  std::size_t trailer = 0;  // bytes after the IP packet (Ethernet padding)
};

inline void put16(std::vector<std::uint8_t>& f, std::size_t at, std::uint16_t v) {
  f[at] = static_cast<std::uint8_t>(v >> 8);
  f[at + 1] = static_cast<std::uint8_t>(v & 0xff);
}

inline std::vector<std::uint8_t> build_frame(const FrameSpec& s) {
  // Ethernet: dst 02:00:00:00:00:01, src 02:00:00:00:00:02 (locally administered).
  std::vector<std::uint8_t> f{0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02};
  f.reserve(2048);
  auto ethertype = [&](std::uint16_t t) {
    f.push_back(static_cast<std::uint8_t>(t >> 8));
    f.push_back(static_cast<std::uint8_t>(t & 0xff));
  };
  if (s.vlan) {
    ethertype(0x8100);
    ethertype(*s.vlan & 0x0fff);
    if (s.double_vlan) {
      ethertype(0x8100);
      ethertype(*s.vlan & 0x0fff);
    }
  }
  ethertype(s.family == 4 ? 0x0800 : 0x86dd);

  std::size_t l4_len;
  switch (s.proto) {
    case kProtoTcp:
      l4_len = 20 + (s.doff > 5 ? (s.doff - 5) * 4u : 0u);
      break;
    default:
      l4_len = 8;
      break;  // UDP, ICMP, ICMPv6, or an extension header's first 8 bytes
  }
  l4_len += s.payload;

  const std::size_t ip_at = f.size();
  if (s.family == 4) {
    const std::size_t hdr = 20 + (s.ihl > 5 ? (s.ihl - 5) * 4u : 0u);
    f.resize(ip_at + hdr, 0x01);  // NOP options beyond 20 bytes
    const std::uint8_t version = s.ip_version ? s.ip_version : 4;
    f[ip_at] = static_cast<std::uint8_t>(version << 4 | (s.ihl & 0x0f));
    f[ip_at + 1] = 0;
    put16(f, ip_at + 2, s.ip_len ? *s.ip_len : static_cast<std::uint16_t>(hdr + l4_len));
    put16(f, ip_at + 4, 0x1234);
    put16(f, ip_at + 6, s.frag_off);
    f[ip_at + 8] = 64;
    f[ip_at + 9] = s.proto;
    put16(f, ip_at + 10, 0);
    std::copy(s.src4.begin(), s.src4.end(), f.begin() + static_cast<std::ptrdiff_t>(ip_at + 12));
    std::copy(s.dst4.begin(), s.dst4.end(), f.begin() + static_cast<std::ptrdiff_t>(ip_at + 16));
  } else {
    f.resize(ip_at + 40, 0);
    const std::uint8_t version = s.ip_version ? s.ip_version : 6;
    f[ip_at] = static_cast<std::uint8_t>(version << 4);
    put16(f, ip_at + 4, s.ip_len ? *s.ip_len : static_cast<std::uint16_t>(l4_len));
    f[ip_at + 6] = s.proto;
    f[ip_at + 7] = 64;
    std::copy(s.src6.begin(), s.src6.end(), f.begin() + static_cast<std::ptrdiff_t>(ip_at + 8));
    std::copy(s.dst6.begin(), s.dst6.end(), f.begin() + static_cast<std::ptrdiff_t>(ip_at + 24));
  }

  const std::size_t l4_at = f.size();
  f.resize(l4_at + l4_len, 0);
  if (s.proto == kProtoTcp) {
    put16(f, l4_at, s.sport);
    put16(f, l4_at + 2, s.dport);
    put16(f, l4_at + 4, 0x0102);  // sequence number
    f[l4_at + 12] = static_cast<std::uint8_t>(s.doff << 4);
    f[l4_at + 13] = s.tcp_flags;
    put16(f, l4_at + 14, 65535);
    for (std::size_t i = 20; i < l4_len - s.payload; ++i) f[l4_at + i] = 0x01;  // NOP options
  } else if (s.proto == kProtoUdp) {
    put16(f, l4_at, s.sport);
    put16(f, l4_at + 2, s.dport);
    put16(f, l4_at + 4, static_cast<std::uint16_t>(l4_len));
  } else if (s.proto == kProtoHopByHop) {
    f[l4_at] = kProtoTcp;  // next header after the (empty, padded) hop-by-hop header
    f[l4_at + 2] = 1;      // PadN covering the rest
    f[l4_at + 3] = 4;
  } else {
    f[l4_at] = 8;  // ICMP echo request / (ICMPv6 code point ignored by the program)
  }
  f.resize(f.size() + s.trailer, 0);
  return f;
}

// An ARP request for 198.18.0.1 (RFC 826), not ours whatever it asks.
inline std::vector<std::uint8_t> build_arp_frame() {
  std::vector<std::uint8_t> f{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 0x02, 0x08, 0x06};
  // htype 1, ptype IPv4, hlen 6, plen 4, request, sender MAC, sender IP, target MAC 0, target IP
  for (std::uint8_t b : {0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01, 0x02, 0, 0, 0, 0, 0x02}) f.push_back(b);
  for (std::uint8_t b : kSrc4) f.push_back(b);
  for (int i = 0; i < 6; ++i) f.push_back(0);
  for (std::uint8_t b : kDst4) f.push_back(b);
  return f;
}

}  // namespace xdptcp::test
