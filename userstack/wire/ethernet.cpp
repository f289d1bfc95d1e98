// Ethernet II / 802.1Q header parse and emit, MAC address text, and ARP recognition.
#include "userstack/wire/ethernet.h"

#include <cstring>

#include "userstack/base/byteorder.h"

namespace xdptcp::wire {

namespace {

constexpr std::uint16_t kEtherTypeQinQ = 0x88A8;  // IEEE 802.1ad service tag
constexpr std::size_t kArpEthIpv4Len = 28;

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

MacAddr load_mac(const std::uint8_t* p) {
  MacAddr m;
  std::memcpy(m.bytes.data(), p, m.bytes.size());
  return m;
}

}  // namespace

std::string MacAddr::to_string() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s(17, ':');
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    s[i * 3] = kHex[bytes[i] >> 4];
    s[i * 3 + 1] = kHex[bytes[i] & 0x0f];
  }
  return s;
}

std::optional<MacAddr> MacAddr::parse(std::string_view text) {
  // Exactly six two-digit hex groups separated by ':' (the form `ip link` prints).
  if (text.size() != 17) return std::nullopt;
  MacAddr m;
  for (std::size_t i = 0; i < 6; ++i) {
    const int hi = hex_value(text[i * 3]);
    const int lo = hex_value(text[i * 3 + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    if (i < 5 && text[i * 3 + 2] != ':') return std::nullopt;
    m.bytes[i] = static_cast<std::uint8_t>((hi << 4) | lo);
  }
  return m;
}

ParseResult<EthFrame> parse_ethernet(std::span<const std::uint8_t> frame) {
  if (frame.size() < kEthHeader) return ParseError::kTruncated;
  const std::uint8_t* b = frame.data();
  EthFrame f;
  f.dst = load_mac(b);
  f.src = load_mac(b + 6);
  f.ether_type = load_be16(b + 12);
  f.header_len = kEthHeader;
  if (f.ether_type == kEtherTypeVlan) {
    // IEEE 802.1Q: TPID 0x8100, 16-bit TCI (PCP, DEI, VID), then the inner EtherType.
    if (frame.size() < kEthHeader + kVlanTag) return ParseError::kTruncated;
    f.vlan_tci = load_be16(b + 14);
    f.ether_type = load_be16(b + 16);
    f.header_len = kEthHeader + kVlanTag;
    // A second tag (stacked VLANs) is not handled.
    if (f.ether_type == kEtherTypeVlan || f.ether_type == kEtherTypeQinQ) return ParseError::kUnsupported;
  } else if (f.ether_type == kEtherTypeQinQ) {
    return ParseError::kUnsupported;
  }
  f.payload = frame.subspan(f.header_len);
  return f;
}

std::size_t emit_ethernet(const MacAddr& dst, const MacAddr& src, std::uint16_t ether_type,
                          std::optional<std::uint16_t> vlan_tci, std::span<std::uint8_t> out) {
  const std::size_t hl = vlan_tci ? kEthHeader + kVlanTag : kEthHeader;
  if (out.size() < hl) return 0;
  std::uint8_t* b = out.data();
  std::memcpy(b, dst.bytes.data(), 6);
  std::memcpy(b + 6, src.bytes.data(), 6);
  if (vlan_tci) {
    store_be16(b + 12, kEtherTypeVlan);
    store_be16(b + 14, *vlan_tci);
    store_be16(b + 16, ether_type);
  } else {
    store_be16(b + 12, ether_type);
  }
  return hl;
}

ParseResult<ArpPacket> parse_arp(std::span<const std::uint8_t> payload) {
  // RFC 826 packet: htype, ptype, hlen, plen, op, then sender/target hardware and protocol
  // addresses; only Ethernet (htype 1) over IPv4 (ptype 0x0800) is recognised.
  if (payload.size() < 8) return ParseError::kTruncated;
  const std::uint8_t* b = payload.data();
  if (load_be16(b) != 1 || load_be16(b + 2) != kEtherTypeIpv4 || b[4] != 6 || b[5] != 4) {
    return ParseError::kUnsupported;
  }
  if (payload.size() < kArpEthIpv4Len) return ParseError::kTruncated;
  ArpPacket a;
  a.op = load_be16(b + 6);
  a.sender_mac = load_mac(b + 8);
  a.sender_ip = IpAddr::v4_bytes(b + 14);
  a.target_mac = load_mac(b + 18);
  a.target_ip = IpAddr::v4_bytes(b + 24);
  return a;
}

}  // namespace xdptcp::wire
