// classify_frame and rewrite_for_next_hop (tools/impair/frame_forward.h): what the forwarder carries,
// and the TTL / hop-limit decrement with the IPv4 header checksum kept valid (RFC 1624, RFC 1812 §5.3.1).
#include "tools/impair/frame_forward.h"

#include <gtest/gtest.h>

#include <vector>

#include "userstack/base/byteorder.h"
#include "userstack/wire/checksum.h"

namespace xdptcp::impair {
namespace {

const wire::MacAddr kRouterMac{{0x02, 0, 0, 0, 0, 0x01}};
const wire::MacAddr kNextHopMac{{0x02, 0, 0, 0, 0, 0x02}};

std::vector<std::uint8_t> ipv4_frame(const std::uint8_t dst[4], std::uint8_t ttl, std::size_t payload = 20) {
  std::vector<std::uint8_t> f(14 + 20 + payload, 0);
  store_be16(f.data() + 12, 0x0800);
  std::uint8_t* ip = f.data() + 14;
  ip[0] = 0x45;
  store_be16(ip + 2, static_cast<std::uint16_t>(20 + payload));
  ip[8] = ttl;
  ip[9] = 6;
  ip[12] = 198, ip[13] = 19, ip[14] = 200, ip[15] = 2;
  std::memcpy(ip + 16, dst, 4);
  store_be16(ip + 10, wire::csum_fold(wire::csum_partial({ip, 20})));
  return f;
}

std::vector<std::uint8_t> ipv6_frame(std::uint8_t first_byte_of_dst, std::uint8_t hop_limit) {
  std::vector<std::uint8_t> f(14 + 40 + 20, 0);
  store_be16(f.data() + 12, 0x86dd);
  std::uint8_t* ip = f.data() + 14;
  ip[0] = 0x60;
  store_be16(ip + 4, 20);
  ip[6] = 6;
  ip[7] = hop_limit;
  ip[24] = first_byte_of_dst;
  ip[39] = 2;
  return f;
}

const std::uint8_t kServer[4] = {198, 19, 201, 2};

TEST(ClassifyFrame, UnicastToAnotherHost_IsTransit) {
  const auto f = ipv4_frame(kServer, 64);
  const FrameFacts facts = classify_frame(f, {});
  EXPECT_EQ(facts.kind, FrameKind::kTransit);
  EXPECT_EQ(facts.dst, wire::IpAddr::v4(198, 19, 201, 2));
  EXPECT_EQ(classify_frame(ipv6_frame(0xfd, 64), {}).kind, FrameKind::kTransit);
}

TEST(ClassifyFrame, ToTheRoutersOwnAddress_IsLocal) {
  const auto f = ipv4_frame(kServer, 64);
  const std::vector<wire::IpAddr> locals{wire::IpAddr::v4(198, 19, 201, 2)};
  EXPECT_EQ(classify_frame(f, locals).kind, FrameKind::kLocal);
}

TEST(ClassifyFrame, ArpAndOtherEtherTypes_AreNotIp) {
  std::vector<std::uint8_t> arp(42, 0);
  store_be16(arp.data() + 12, 0x0806);
  EXPECT_EQ(classify_frame(arp, {}).kind, FrameKind::kNotIp);
  std::vector<std::uint8_t> vlan(64, 0);
  store_be16(vlan.data() + 12, 0x8100);
  EXPECT_EQ(classify_frame(vlan, {}).kind, FrameKind::kNotIp);
}

TEST(ClassifyFrame, MulticastBroadcastLinkLocal_AreNeverForwarded) {
  const std::uint8_t mcast[4] = {224, 0, 0, 1}, bcast[4] = {255, 255, 255, 255}, ll[4] = {169, 254, 1, 1};
  EXPECT_EQ(classify_frame(ipv4_frame(mcast, 64), {}).kind, FrameKind::kNotUnicast);
  EXPECT_EQ(classify_frame(ipv4_frame(bcast, 64), {}).kind, FrameKind::kNotUnicast);
  EXPECT_EQ(classify_frame(ipv4_frame(ll, 64), {}).kind, FrameKind::kNotUnicast);
  EXPECT_EQ(classify_frame(ipv6_frame(0xff, 64), {}).kind, FrameKind::kNotUnicast);  // ND solicitations
  EXPECT_EQ(classify_frame(ipv6_frame(0xfe, 64), {}).kind, FrameKind::kTransit);  // fe00:: is not fe80::/10
  auto link_local = ipv6_frame(0xfe, 64);
  link_local[14 + 25] = 0x80;
  EXPECT_EQ(classify_frame(link_local, {}).kind, FrameKind::kNotUnicast);
}

TEST(ClassifyFrame, TruncatedOrInconsistent_IsMalformed) {
  auto f = ipv4_frame(kServer, 64);
  EXPECT_EQ(classify_frame(std::span<const std::uint8_t>(f.data(), 30), {}).kind, FrameKind::kMalformed);
  store_be16(f.data() + 14 + 2, 2000);  // total length beyond the frame
  EXPECT_EQ(classify_frame(f, {}).kind, FrameKind::kMalformed);
  auto g = ipv4_frame(kServer, 64);
  g[14] = 0x44;  // IHL 4
  EXPECT_EQ(classify_frame(g, {}).kind, FrameKind::kMalformed);
  auto h = ipv6_frame(0xfd, 64);
  store_be16(h.data() + 14 + 4, 100);  // payload beyond the frame
  EXPECT_EQ(classify_frame(h, {}).kind, FrameKind::kMalformed);
}

TEST(RewriteForNextHop, Ipv4_DecrementsTtl_KeepsHeaderChecksumValid_SetsMacs) {
  for (std::uint8_t ttl : {2, 64, 255}) {
    auto f = ipv4_frame(kServer, ttl);
    ASSERT_EQ(rewrite_for_next_hop(f, kRouterMac, kNextHopMac), RewriteResult::kOk);
    const std::uint8_t* ip = f.data() + 14;
    EXPECT_EQ(ip[8], ttl - 1);
    // A valid header sums to zero (RFC 1071), exactly as if recomputed from scratch.
    EXPECT_EQ(wire::csum_fold(wire::csum_partial({ip, 20})), 0) << "ttl " << int(ttl);
    EXPECT_TRUE(std::equal(f.begin(), f.begin() + 6, kNextHopMac.bytes.begin()));
    EXPECT_TRUE(std::equal(f.begin() + 6, f.begin() + 12, kRouterMac.bytes.begin()));
  }
}

TEST(RewriteForNextHop, TtlOneOrZero_Expires_FrameUntouched) {
  for (std::uint8_t ttl : {0, 1}) {
    auto f = ipv4_frame(kServer, ttl);
    const auto before = f;
    EXPECT_EQ(rewrite_for_next_hop(f, kRouterMac, kNextHopMac), RewriteResult::kTtlExpired);
    EXPECT_EQ(f, before);
  }
  auto g = ipv6_frame(0xfd, 1);
  EXPECT_EQ(rewrite_for_next_hop(g, kRouterMac, kNextHopMac), RewriteResult::kTtlExpired);
}

TEST(RewriteForNextHop, Ipv6_DecrementsHopLimit) {
  auto f = ipv6_frame(0xfd, 64);
  ASSERT_EQ(rewrite_for_next_hop(f, kRouterMac, kNextHopMac), RewriteResult::kOk);
  EXPECT_EQ(f[14 + 7], 63);
  EXPECT_TRUE(std::equal(f.begin(), f.begin() + 6, kNextHopMac.bytes.begin()));
}

}  // namespace
}  // namespace xdptcp::impair
