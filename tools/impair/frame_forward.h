// What `xdptcp-impair delay` does to a frame it forwards, as pure functions over bytes:
// classify_frame() decides whether a frame received on a router interface is transit traffic the
// forwarder must carry (IPv4/IPv6 unicast to an address that is not the router's own), and
// rewrite_for_next_hop() turns it into the frame for the next hop: new Ethernet addresses and the
// TTL / hop limit decremented (RFC 791 §3.2 "Time to Live", RFC 8200 §3 "Hop Limit"), the IPv4 header
// checksum updated incrementally (RFC 1624 eqn. 3, as RFC 1812 §5.3.1 suggests for routers).
//
// Everything else (ARP, neighbour discovery, anything addressed to the router) stays with the kernel.
// Frames with an 802.1Q tag are not transit: the router interfaces of the test topology carry none.
#pragma once

#include <cstdint>
#include <span>

#include "userstack/wire/ethernet.h"
#include "userstack/wire/ip_addr.h"

namespace xdptcp::impair {

enum class FrameKind {
  kTransit,     // forward it
  kNotIp,       // ARP, VLAN-tagged, other EtherTypes: the kernel's
  kLocal,       // addressed to one of the router's own addresses: the kernel's
  kNotUnicast,  // multicast, broadcast, link-local, unspecified destination: never forwarded
  kMalformed,   // truncated or inconsistent IP header: dropped
};

struct FrameFacts {
  FrameKind kind = FrameKind::kMalformed;
  wire::IpAddr dst;  // valid for kTransit and kLocal
};

FrameFacts classify_frame(std::span<const std::uint8_t> frame, std::span<const wire::IpAddr> local_addrs);

enum class RewriteResult {
  kOk,
  kTtlExpired,  // TTL / hop limit would reach 0: dropped (the kernel would send ICMP Time Exceeded;
                // the forwarder does not)
  kMalformed,
};

// Only for frames that classify_frame() called kTransit.
RewriteResult rewrite_for_next_hop(std::span<std::uint8_t> frame, const wire::MacAddr& src,
                                   const wire::MacAddr& dst);

}  // namespace xdptcp::impair
