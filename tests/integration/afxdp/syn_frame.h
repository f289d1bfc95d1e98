// Hand-built Ethernet + IPv4 + TCP segments for the AF_XDP tests, and a reader for what comes back,
// both through userstack/wire (so the checksums are the stack's own).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "userstack/wire/ethernet.h"
#include "userstack/wire/ip_addr.h"

namespace xdptcp::test {

struct SegmentSpec {
  wire::MacAddr dst_mac;
  wire::MacAddr src_mac;
  wire::IpAddr src_ip;  // IPv4
  wire::IpAddr dst_ip;
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  std::uint32_t seq = 0;
  std::uint32_t ack = 0;
  std::uint8_t flags = 0;  // wire::tcp_flags
  std::uint16_t mss = 1460;
};

// Writes the frame (IPv4 and TCP checksums filled, MSS option) into `out`; its length, or 0 when
// `out` is too small.
std::size_t build_ipv4_tcp(const SegmentSpec& spec, std::span<std::uint8_t> out);

// The TCP facts of a received frame; nullopt unless it is Ethernet/IPv4/TCP with a good checksum.
struct SeenSegment {
  wire::IpAddr src_ip;
  wire::IpAddr dst_ip;
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  std::uint32_t seq = 0;
  std::uint32_t ack = 0;
  std::uint8_t flags = 0;
};
std::optional<SeenSegment> read_ipv4_tcp(std::span<const std::uint8_t> frame);

}  // namespace xdptcp::test
