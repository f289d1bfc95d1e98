// Ethernet II with at most one 802.1Q tag, and ARP (parse only: the kernel answers ARP; the
// stack only needs to recognise it).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "userstack/wire/ip_addr.h"
#include "userstack/wire/parse_error.h"

namespace xdptcp::wire {

inline constexpr std::uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr std::uint16_t kEtherTypeArp = 0x0806;
inline constexpr std::uint16_t kEtherTypeVlan = 0x8100;
inline constexpr std::uint16_t kEtherTypeIpv6 = 0x86DD;
inline constexpr std::size_t kEthHeader = 14;
inline constexpr std::size_t kVlanTag = 4;

struct MacAddr {
  std::array<std::uint8_t, 6> bytes{};
  bool operator==(const MacAddr&) const = default;
  std::string to_string() const;
  static std::optional<MacAddr> parse(std::string_view text);  // "aa:bb:cc:dd:ee:ff"
};

struct EthFrame {
  MacAddr dst;
  MacAddr src;
  std::optional<std::uint16_t> vlan_tci;  // present when 802.1Q tagged
  std::uint16_t ether_type = 0;           // inner type
  std::size_t header_len = 0;             // 14 or 18
  std::span<const std::uint8_t> payload;
};

ParseResult<EthFrame> parse_ethernet(std::span<const std::uint8_t> frame);

// Writes an Ethernet header (18 bytes when vlan_tci is set); returns its length.
std::size_t emit_ethernet(const MacAddr& dst, const MacAddr& src, std::uint16_t ether_type,
                          std::optional<std::uint16_t> vlan_tci, std::span<std::uint8_t> out);

struct ArpPacket {
  std::uint16_t op = 0;  // 1 request, 2 reply
  MacAddr sender_mac;
  IpAddr sender_ip;
  MacAddr target_mac;
  IpAddr target_ip;
};

// Ethernet/IPv4 ARP only (htype 1, ptype 0x0800, hlen 6, plen 4); else kUnsupported.
ParseResult<ArpPacket> parse_arp(std::span<const std::uint8_t> payload);

}  // namespace xdptcp::wire
