// IPv4 (RFC 791) and IPv6 (RFC 8200) header parsing and emitting.
#include "userstack/wire/ip.h"

#include <cstring>

#include "userstack/base/byteorder.h"
#include "userstack/wire/checksum.h"

namespace xdptcp::wire {

namespace {

// IPv6 extension header types (RFC 8200 §4, IANA "IPv6 Extension Header Types").
constexpr std::uint8_t kIpv6HopByHop = 0;
constexpr std::uint8_t kIpv6Routing = 43;
constexpr std::uint8_t kIpv6Fragment = 44;
constexpr std::uint8_t kIpv6Esp = 50;
constexpr std::uint8_t kIpv6Ah = 51;
constexpr std::uint8_t kIpv6DestOpts = 60;
constexpr std::uint8_t kIpv6Mobility = 135;
constexpr std::uint8_t kIpv6Hip = 139;
constexpr std::uint8_t kIpv6Shim6 = 140;
constexpr std::uint8_t kIpv6Exp1 = 253;
constexpr std::uint8_t kIpv6Exp2 = 254;

constexpr std::uint16_t kIpv4FlagDf = 0x4000;
constexpr std::uint16_t kIpv4FlagMf = 0x2000;
constexpr std::uint16_t kIpv4OffsetMask = 0x1fff;

ParseResult<IpPacket> parse_ipv4(std::span<const std::uint8_t> pkt) {
  if (pkt.size() < kIpv4MinHeader) return ParseError::kTruncated;
  const std::uint8_t* b = pkt.data();
  const std::size_t hl = static_cast<std::size_t>(b[0] & 0x0fu) * 4;
  if (hl < kIpv4MinHeader || hl > pkt.size()) return ParseError::kBadHeaderLength;
  const std::size_t total = load_be16(b + 2);
  // RFC 791 §3.1 total length covers header and data. Bytes beyond it are link-layer padding
  // (Ethernet pads frames to 60 bytes) and are trimmed; a total beyond the frame is an error.
  if (total < hl || total > pkt.size()) return ParseError::kBadTotalLength;
  // RFC 1122 §3.2.1.2: a datagram whose header checksum is wrong MUST be silently discarded.
  if (csum_fold(csum_partial(pkt.first(hl))) != 0) return ParseError::kBadChecksum;
  // Fragments are not reassembled: the stack's MSS keeps its own traffic unfragmented, and
  // a fragment is counted and dropped by the engine.
  const std::uint16_t frag = load_be16(b + 6);
  if ((frag & (kIpv4FlagMf | kIpv4OffsetMask)) != 0) return ParseError::kFragment;

  IpPacket p;
  p.tos = b[1];
  p.ttl = b[8];
  p.protocol = b[9];
  p.src = IpAddr::v4_bytes(b + 12);
  p.dst = IpAddr::v4_bytes(b + 16);
  p.header_len = hl;  // options (RFC 791 §3.1) are skipped: the stack uses none of them
  p.payload = pkt.subspan(hl, total - hl);
  return p;
}

ParseResult<IpPacket> parse_ipv6(std::span<const std::uint8_t> pkt) {
  if (pkt.size() < kIpv6Header) return ParseError::kTruncated;
  const std::uint8_t* b = pkt.data();
  // RFC 8200 §3: payload length counts everything after the fixed header, extension headers
  // included; trailing bytes are link-layer padding. A zero payload length with a Jumbo
  // Payload option (RFC 2675) is not supported: such a packet parses as empty and the TCP
  // parser rejects it.
  const std::size_t end = kIpv6Header + load_be16(b + 4);
  if (end > pkt.size()) return ParseError::kBadTotalLength;

  std::uint8_t next = b[6];
  std::size_t off = kIpv6Header;
  for (int n = 0;; ++n) {
    switch (next) {
      case kIpv6HopByHop:
        // RFC 8200 §4.1: hop-by-hop options appear only immediately after the IPv6 header.
        if (n != 0) return ParseError::kUnsupported;
        [[fallthrough]];
      case kIpv6Routing:
      case kIpv6DestOpts: {
        // Skipped whatever they hold: a routing header with segments left would not have
        // been delivered to us, and the options we would act on are none (RFC 8200 §4.2
        // lets unrecognised options of type 00 be skipped; others are the router's business).
        if (n >= kMaxIpv6ExtHeaders) return ParseError::kUnsupported;
        if (off + 2 > end) return ParseError::kTruncated;
        const std::size_t len = (std::size_t{b[off + 1]} + 1) * 8;  // RFC 8200 §4.3: 8-octet units
        if (off + len > end) return ParseError::kTruncated;
        next = b[off];
        off += len;
        continue;
      }
      case kIpv6Fragment:
        return ParseError::kFragment;
      case kIpv6Esp:
      case kIpv6Ah:
      case kIpv6Mobility:
      case kIpv6Hip:
      case kIpv6Shim6:
      case kIpv6Exp1:
      case kIpv6Exp2:
        return ParseError::kUnsupported;
      default:
        break;  // an upper-layer protocol (TCP, UDP, ICMPv6, No Next Header, ...)
    }
    break;
  }

  IpPacket p;
  p.tos = static_cast<std::uint8_t>(((b[0] & 0x0fu) << 4) | (b[1] >> 4));
  p.ttl = b[7];
  p.protocol = next;
  p.src = IpAddr::v6_bytes(b + 8);
  p.dst = IpAddr::v6_bytes(b + 24);
  p.header_len = off;
  p.payload = pkt.subspan(off, end - off);
  return p;
}

}  // namespace

ParseResult<IpPacket> parse_ip(std::span<const std::uint8_t> packet) {
  if (packet.empty()) return ParseError::kTruncated;
  switch (packet[0] >> 4) {
    case 4:
      return parse_ipv4(packet);
    case 6:
      return parse_ipv6(packet);
    default:
      return ParseError::kBadVersion;
  }
}

std::size_t emit_ip(const IpHeaderSpec& spec, std::span<std::uint8_t> out) {
  std::uint8_t* b = out.data();
  if (spec.src.is_v4()) {
    if (out.size() < kIpv4MinHeader) return 0;
    b[0] = 0x45;  // version 4, IHL 5: no options
    b[1] = spec.tos;
    store_be16(b + 2, static_cast<std::uint16_t>(kIpv4MinHeader + spec.payload_len));
    store_be16(b + 4, spec.ident);
    // DF always: the stack does path MTU discovery by MSS (RFC 1191 §3), never fragments.
    store_be16(b + 6, kIpv4FlagDf);
    b[8] = spec.ttl;
    b[9] = spec.protocol;
    store_be16(b + 10, 0);
    std::memcpy(b + 12, spec.src.bytes.data(), 4);
    std::memcpy(b + 16, spec.dst.bytes.data(), 4);
    store_be16(b + 10, csum_fold(csum_partial(out.first(kIpv4MinHeader))));
    return kIpv4MinHeader;
  }
  if (out.size() < kIpv6Header) return 0;
  // Version 6, traffic class, flow label 0 (RFC 6437 allows 0 when no label is set).
  b[0] = static_cast<std::uint8_t>(0x60 | (spec.tos >> 4));
  b[1] = static_cast<std::uint8_t>(spec.tos << 4);
  b[2] = 0;
  b[3] = 0;
  store_be16(b + 4, spec.payload_len);
  b[6] = spec.protocol;
  b[7] = spec.ttl;
  std::memcpy(b + 8, spec.src.bytes.data(), 16);
  std::memcpy(b + 24, spec.dst.bytes.data(), 16);
  return kIpv6Header;
}

}  // namespace xdptcp::wire
