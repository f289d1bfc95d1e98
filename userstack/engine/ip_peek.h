// The source and destination addresses of an IPv4 or IPv6 packet, read without a full parse: the
// engine's layer 2 needs them per frame (the neighbour model); TcpStack parses and validates.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "userstack/wire/ip.h"
#include "userstack/wire/ip_addr.h"

namespace xdptcp::engine {

inline std::optional<wire::IpAddr> ip_source(std::span<const std::uint8_t> ip) {
  if (ip.empty()) return std::nullopt;
  const unsigned version = ip[0] >> 4;
  if (version == 4 && ip.size() >= wire::kIpv4MinHeader) return wire::IpAddr::v4_bytes(ip.data() + 12);
  if (version == 6 && ip.size() >= wire::kIpv6Header) return wire::IpAddr::v6_bytes(ip.data() + 8);
  return std::nullopt;
}

inline std::optional<wire::IpAddr> ip_destination(std::span<const std::uint8_t> ip) {
  if (ip.empty()) return std::nullopt;
  const unsigned version = ip[0] >> 4;
  if (version == 4 && ip.size() >= wire::kIpv4MinHeader) return wire::IpAddr::v4_bytes(ip.data() + 16);
  if (version == 6 && ip.size() >= wire::kIpv6Header) return wire::IpAddr::v6_bytes(ip.data() + 24);
  return std::nullopt;
}

}  // namespace xdptcp::engine
