// classify_frame and rewrite_for_next_hop (see frame_forward.h).
#include "tools/impair/frame_forward.h"

#include <algorithm>
#include <cstring>

#include "userstack/base/byteorder.h"
#include "userstack/wire/checksum.h"

namespace xdptcp::impair {
namespace {

constexpr std::size_t kEthLen = 14;
constexpr std::uint16_t kEtherIpv4 = 0x0800;
constexpr std::uint16_t kEtherIpv6 = 0x86dd;
constexpr std::size_t kIpv4MinLen = 20;
constexpr std::size_t kIpv6Len = 40;

bool v4_not_unicast(const std::uint8_t* a) {
  const bool multicast = (a[0] & 0xf0) == 0xe0;  // 224.0.0.0/4
  const bool limited_bcast = a[0] == 255 && a[1] == 255 && a[2] == 255 && a[3] == 255;
  const bool zero_net = a[0] == 0;                     // 0.0.0.0/8
  const bool link_local = a[0] == 169 && a[1] == 254;  // RFC 3927: never forwarded
  return multicast || limited_bcast || zero_net || link_local;
}

bool v6_not_unicast(const std::uint8_t* a) {
  static constexpr std::uint8_t kZero[16] = {};
  const bool multicast = a[0] == 0xff;
  const bool link_local = a[0] == 0xfe && (a[1] & 0xc0) == 0x80;  // fe80::/10, RFC 4291 §2.5.6
  return multicast || link_local || std::memcmp(a, kZero, 16) == 0;
}

}  // namespace

FrameFacts classify_frame(std::span<const std::uint8_t> frame, std::span<const wire::IpAddr> local_addrs) {
  FrameFacts f;
  if (frame.size() < kEthLen) return f;
  const std::uint16_t type = load_be16(frame.data() + 12);
  const std::uint8_t* ip = frame.data() + kEthLen;
  const std::size_t ip_room = frame.size() - kEthLen;
  if (type == kEtherIpv4) {
    if (ip_room < kIpv4MinLen || (ip[0] >> 4) != 4) return f;
    const std::size_t ihl = static_cast<std::size_t>(ip[0] & 0x0f) * 4;
    const std::size_t total = load_be16(ip + 2);
    if (ihl < kIpv4MinLen || total < ihl || total > ip_room) return f;
    if (v4_not_unicast(ip + 16)) {
      f.kind = FrameKind::kNotUnicast;
      return f;
    }
    f.dst = wire::IpAddr::v4_bytes(ip + 16);
  } else if (type == kEtherIpv6) {
    if (ip_room < kIpv6Len || (ip[0] >> 4) != 6) return f;
    if (kIpv6Len + load_be16(ip + 4) > ip_room) return f;
    if (v6_not_unicast(ip + 24)) {
      f.kind = FrameKind::kNotUnicast;
      return f;
    }
    f.dst = wire::IpAddr::v6_bytes(ip + 24);
  } else {
    f.kind = FrameKind::kNotIp;
    return f;
  }
  const bool local = std::find(local_addrs.begin(), local_addrs.end(), f.dst) != local_addrs.end();
  f.kind = local ? FrameKind::kLocal : FrameKind::kTransit;
  return f;
}

RewriteResult rewrite_for_next_hop(std::span<std::uint8_t> frame, const wire::MacAddr& src,
                                   const wire::MacAddr& dst) {
  if (frame.size() < kEthLen + kIpv4MinLen) return RewriteResult::kMalformed;
  std::uint8_t* ip = frame.data() + kEthLen;
  const std::uint16_t type = load_be16(frame.data() + 12);
  if (type == kEtherIpv4) {
    const std::uint8_t ttl = ip[8];
    if (ttl <= 1) return RewriteResult::kTtlExpired;
    // TTL and protocol share one 16-bit word of the header checksum (RFC 791 §3.1).
    const std::uint16_t old_word = load_be16(ip + 8);
    const auto new_word = static_cast<std::uint16_t>(old_word - 0x0100);
    store_be16(ip + 10, wire::csum_update16(load_be16(ip + 10), old_word, new_word));
    ip[8] = static_cast<std::uint8_t>(ttl - 1);
  } else if (type == kEtherIpv6) {
    if (frame.size() < kEthLen + kIpv6Len) return RewriteResult::kMalformed;
    if (ip[7] <= 1) return RewriteResult::kTtlExpired;
    ip[7] = static_cast<std::uint8_t>(ip[7] - 1);  // IPv6 has no header checksum (RFC 8200 §3)
  } else {
    return RewriteResult::kMalformed;
  }
  std::memcpy(frame.data(), dst.bytes.data(), 6);
  std::memcpy(frame.data() + 6, src.bytes.data(), 6);
  return RewriteResult::kOk;
}

}  // namespace xdptcp::impair
