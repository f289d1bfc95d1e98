// Tests of the Ethernet II / IEEE 802.1Q parser and emitter, MAC text, and ARP (RFC 826).
#include <gtest/gtest.h>

#include "unit/wire/wire_test_util.h"
#include "userstack/wire/ethernet.h"

namespace xdptcp::wire {
namespace {

using test::Bytes;
using test::from_hex;

const MacAddr kDst{{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}};
const MacAddr kSrc{{0x02, 0x00, 0x00, 0xab, 0xcd, 0xef}};

TEST(EthernetEmitParse, Untagged_RoundTrips) {
  Bytes f(20, 0x77);
  ASSERT_EQ(emit_ethernet(kDst, kSrc, kEtherTypeIpv4, std::nullopt, f), 14u);
  EXPECT_EQ(Bytes(f.begin(), f.begin() + 14), from_hex("020000000002 020000abcdef 0800"));
  auto e = parse_ethernet(f);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->dst, kDst);
  EXPECT_EQ(e->src, kSrc);
  EXPECT_FALSE(e->vlan_tci);
  EXPECT_EQ(e->ether_type, kEtherTypeIpv4);
  EXPECT_EQ(e->header_len, 14u);
  EXPECT_EQ(e->payload.size(), 6u);
}

TEST(EthernetEmitParse, VlanTagged_TciAndInnerType) {
  // IEEE 802.1Q: TPID 0x8100, TCI (PCP 5, VID 100), inner EtherType.
  Bytes f(18);
  ASSERT_EQ(emit_ethernet(kDst, kSrc, kEtherTypeIpv6, std::uint16_t{0xa064}, f), 18u);
  EXPECT_EQ(f, from_hex("020000000002 020000abcdef 8100 a064 86dd"));
  auto e = parse_ethernet(f);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->vlan_tci, 0xa064);
  EXPECT_EQ(e->ether_type, kEtherTypeIpv6);
  EXPECT_EQ(e->header_len, 18u);
  EXPECT_TRUE(e->payload.empty());
}

TEST(EthernetParse, StackedVlanTags_Unsupported) {
  EXPECT_EQ(parse_ethernet(from_hex("020000000002 020000abcdef 8100 0064 8100 0065 0800")).error(),
            ParseError::kUnsupported);
  EXPECT_EQ(parse_ethernet(from_hex("020000000002 020000abcdef 88a8 0064 8100 0065 0800")).error(),
            ParseError::kUnsupported);
}

TEST(EthernetParse, Truncated_Rejected) {
  const Bytes f = from_hex("020000000002 020000abcdef 8100 a064 86dd");
  for (std::size_t n = 0; n < f.size(); ++n) {
    auto e = parse_ethernet(Bytes(f.begin(), f.begin() + static_cast<std::ptrdiff_t>(n)));
    ASSERT_FALSE(e) << n;
    EXPECT_EQ(e.error(), ParseError::kTruncated);
  }
}

TEST(EthernetEmit, BufferTooSmall_ReturnsZero) {
  Bytes f(17);
  EXPECT_EQ(emit_ethernet(kDst, kSrc, kEtherTypeIpv4, std::uint16_t{1}, f), 0u);
  Bytes g(13);
  EXPECT_EQ(emit_ethernet(kDst, kSrc, kEtherTypeIpv4, std::nullopt, g), 0u);
}

TEST(MacAddr, TextRoundTrip) {
  auto m = MacAddr::parse("02:00:00:AB:cd:eF");
  ASSERT_TRUE(m);
  EXPECT_EQ(*m, kSrc);
  EXPECT_EQ(m->to_string(), "02:00:00:ab:cd:ef");
}

TEST(MacAddr, BadText_Nullopt) {
  for (const char* s : {"", "02:00:00:ab:cd", "02:00:00:ab:cd:ef:", "02-00-00-ab-cd-ef", "02:00:00:ab:cd:eg",
                        "2:00:00:ab:cd:eff", " 02:00:00:ab:cd:e"}) {
    EXPECT_FALSE(MacAddr::parse(s)) << s;
  }
}

TEST(ArpParse, EthernetIpv4Request_Decoded) {
  // RFC 826: who has 198.18.0.2? tell 198.18.0.1.
  const Bytes a = from_hex("0001 0800 06 04 0001 020000abcdef c6120001 000000000000 c6120002");
  auto p = parse_arp(a);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->op, 1);
  EXPECT_EQ(p->sender_mac, kSrc);
  EXPECT_EQ(p->sender_ip, IpAddr::v4(198, 18, 0, 1));
  EXPECT_EQ(p->target_mac, MacAddr{});
  EXPECT_EQ(p->target_ip, IpAddr::v4(198, 18, 0, 2));
  for (std::size_t n = 0; n < a.size(); ++n) {
    auto t = parse_arp(Bytes(a.begin(), a.begin() + static_cast<std::ptrdiff_t>(n)));
    ASSERT_FALSE(t) << n;
    EXPECT_EQ(t.error(), ParseError::kTruncated);
  }
}

TEST(ArpParse, OtherHardwareOrProtocol_Unsupported) {
  const Bytes token_ring = from_hex("0006 0800 06 04 0001 020000abcdef c6120001 000000000000 c6120002");
  EXPECT_EQ(parse_arp(token_ring).error(), ParseError::kUnsupported);
  const Bytes plen16 = from_hex("0001 86dd 06 10 0001");
  EXPECT_EQ(parse_arp(plen16).error(), ParseError::kUnsupported);
}

}  // namespace
}  // namespace xdptcp::wire
