// Tests of the IPv4 (RFC 791, RFC 1122 §3.2.1) and IPv6 (RFC 8200) parsers and emitters.
#include <gtest/gtest.h>

#include "unit/wire/wire_test_util.h"
#include "userstack/base/byteorder.h"
#include "userstack/wire/checksum.h"
#include "userstack/wire/ip.h"

namespace xdptcp::wire {
namespace {

using test::Bytes;
using test::from_hex;

// 20-byte IPv4 header, 198.18.0.1 -> 198.18.0.2, TCP, DF, total length 24, then 4 payload bytes.
Bytes v4_packet() {
  IpHeaderSpec s;
  s.src = IpAddr::v4(198, 18, 0, 1);
  s.dst = IpAddr::v4(198, 18, 0, 2);
  s.payload_len = 4;
  s.tos = 0x02;
  s.ttl = 63;
  Bytes b(24);
  emit_ip(s, b);
  b[20] = 0xde;
  b[21] = 0xad;
  b[22] = 0xbe;
  b[23] = 0xef;
  return b;
}

void refresh_v4_checksum(Bytes& b) {
  const std::size_t hl = (b[0] & 0x0fu) * 4u;
  store_be16(b.data() + 10, 0);
  store_be16(b.data() + 10, csum_fold(csum_partial(std::span<const std::uint8_t>(b).first(hl))));
}

ParseError error_of(const Bytes& b) {
  auto p = parse_ip(b);
  EXPECT_FALSE(p);
  return p ? ParseError::kUnsupported : p.error();
}

TEST(Ipv4Emit, KnownHeader_ByteExactWithChecksum) {
  // The classic example header whose checksum is b861 (RFC 791 §3.1 layout).
  IpHeaderSpec s;
  s.src = IpAddr::v4(192, 168, 0, 1);
  s.dst = IpAddr::v4(192, 168, 0, 199);
  s.protocol = kIpProtoUdp;
  s.payload_len = 0x73 - 20;
  s.ttl = 64;
  Bytes out(20);
  ASSERT_EQ(emit_ip(s, out), 20u);
  EXPECT_EQ(out, from_hex("4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7"));
}

TEST(Ipv4Emit, BufferTooSmall_ReturnsZero) {
  IpHeaderSpec s;
  Bytes out(19);
  EXPECT_EQ(emit_ip(s, out), 0u);
  s.src = *IpAddr::parse("fd00::1");
  s.dst = *IpAddr::parse("fd00::2");
  Bytes out6(39);
  EXPECT_EQ(emit_ip(s, out6), 0u);
}

TEST(Ipv4Parse, EmittedHeader_FieldsDecoded) {
  const Bytes b = v4_packet();
  auto p = parse_ip(b);
  ASSERT_TRUE(p) << to_string(p.error());
  EXPECT_EQ(p->src, IpAddr::v4(198, 18, 0, 1));
  EXPECT_EQ(p->dst, IpAddr::v4(198, 18, 0, 2));
  EXPECT_EQ(p->protocol, kIpProtoTcp);
  EXPECT_EQ(p->ttl, 63);
  EXPECT_EQ(p->tos, 0x02);
  EXPECT_EQ(p->header_len, 20u);
  ASSERT_EQ(p->payload.size(), 4u);
  EXPECT_EQ(p->payload[0], 0xde);
}

TEST(Ipv4Parse, EthernetPadding_TrimmedToTotalLength) {
  // RFC 791 §3.1: total length bounds the datagram; Ethernet's minimum-frame padding follows.
  Bytes b = v4_packet();
  b.resize(46, 0);
  auto p = parse_ip(b);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->payload.size(), 4u);
}

TEST(Ipv4Parse, HeaderWithOptions_Skipped) {
  // IHL 6: one 4-byte option word (NOP NOP NOP EOL) is skipped.
  Bytes b = v4_packet();
  b.insert(b.begin() + 20, {0x01, 0x01, 0x01, 0x00});
  b[0] = 0x46;
  store_be16(b.data() + 2, 28);
  refresh_v4_checksum(b);
  auto p = parse_ip(b);
  ASSERT_TRUE(p) << to_string(p.error());
  EXPECT_EQ(p->header_len, 24u);
  ASSERT_EQ(p->payload.size(), 4u);
  EXPECT_EQ(p->payload[0], 0xde);
}

TEST(Ipv4Parse, IhlBelowFive_BadHeaderLength) {
  for (std::uint8_t ihl = 0; ihl < 5; ++ihl) {
    Bytes b = v4_packet();
    b[0] = static_cast<std::uint8_t>(0x40 | ihl);
    EXPECT_EQ(error_of(b), ParseError::kBadHeaderLength) << int{ihl};
  }
}

TEST(Ipv4Parse, IhlBeyondBuffer_BadHeaderLength) {
  Bytes b = v4_packet();
  b[0] = 0x47;  // 28-byte header in a 24-byte packet
  EXPECT_EQ(error_of(b), ParseError::kBadHeaderLength);
}

TEST(Ipv4Parse, TotalLengthDisagrees_BadTotalLength) {
  Bytes b = v4_packet();
  store_be16(b.data() + 2, 25);  // one more than present
  refresh_v4_checksum(b);
  EXPECT_EQ(error_of(b), ParseError::kBadTotalLength);
  store_be16(b.data() + 2, 19);  // shorter than the header
  refresh_v4_checksum(b);
  EXPECT_EQ(error_of(b), ParseError::kBadTotalLength);
}

TEST(Ipv4Parse, CorruptHeader_BadChecksum) {
  // RFC 1122 §3.2.1.2: a bad header checksum means silent discard.
  for (std::size_t i = 12; i < 20; ++i) {
    Bytes b = v4_packet();
    b[i] ^= 0x04;
    EXPECT_EQ(error_of(b), ParseError::kBadChecksum) << "byte " << i;
  }
}

TEST(Ipv4Parse, MoreFragmentsOrOffset_Fragment) {
  for (std::uint16_t frag : {0x2000, 0x0001, 0x1fff, 0x6000, 0x4001}) {
    Bytes b = v4_packet();
    store_be16(b.data() + 6, frag);
    refresh_v4_checksum(b);
    EXPECT_EQ(error_of(b), ParseError::kFragment) << std::hex << frag;
  }
  Bytes df = v4_packet();  // DF alone is not a fragment
  EXPECT_TRUE(parse_ip(df));
}

TEST(IpParse, BadVersionOrEmpty_Rejected) {
  Bytes b = v4_packet();
  b[0] = 0x55;
  EXPECT_EQ(error_of(b), ParseError::kBadVersion);
  EXPECT_EQ(error_of(Bytes{}), ParseError::kTruncated);
  EXPECT_EQ(error_of(Bytes{0x45, 0x00}), ParseError::kTruncated);
  EXPECT_EQ(error_of(Bytes{0x60}), ParseError::kTruncated);
}

// IPv6 header fd00::1 -> fd00::2 followed by `ext` (extension headers) and 4 TCP-ish bytes.
Bytes v6_packet(std::uint8_t first_next, const Bytes& ext) {
  IpHeaderSpec s;
  s.src = *IpAddr::parse("fd00::1");
  s.dst = *IpAddr::parse("fd00::2");
  s.protocol = first_next;
  s.tos = 0xb8;  // DSCP EF
  s.ttl = 7;
  s.payload_len = static_cast<std::uint16_t>(ext.size() + 4);
  Bytes b(40);
  emit_ip(s, b);
  b.insert(b.end(), ext.begin(), ext.end());
  for (std::uint8_t x : {0xca, 0xfe, 0xba, 0xbe}) b.push_back(x);
  return b;
}

TEST(Ipv6Emit, Header_ByteExact) {
  const Bytes b = v6_packet(kIpProtoTcp, {});
  EXPECT_EQ(
      Bytes(b.begin(), b.begin() + 40),
      from_hex("6b80 0000 0004 0607 fd000000000000000000000000000001 fd000000000000000000000000000002"));
}

TEST(Ipv6Parse, PlainTcp_FieldsDecoded) {
  Bytes b = v6_packet(kIpProtoTcp, {});
  b.push_back(0);  // link padding is trimmed (RFC 8200 §3 payload length)
  auto p = parse_ip(b);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->src.to_string(), "fd00::1");
  EXPECT_EQ(p->dst.to_string(), "fd00::2");
  EXPECT_EQ(p->protocol, kIpProtoTcp);
  EXPECT_EQ(p->tos, 0xb8);
  EXPECT_EQ(p->ttl, 7);
  EXPECT_EQ(p->header_len, 40u);
  ASSERT_EQ(p->payload.size(), 4u);
  EXPECT_EQ(p->payload[0], 0xca);
}

TEST(Ipv6Parse, PayloadLengthBeyondBuffer_BadTotalLength) {
  Bytes b = v6_packet(kIpProtoTcp, {});
  b.pop_back();
  EXPECT_EQ(error_of(b), ParseError::kBadTotalLength);
  EXPECT_EQ(error_of(Bytes(b.begin(), b.begin() + 39)), ParseError::kTruncated);
}

TEST(Ipv6Parse, HopByHopRoutingDestOpts_Skipped) {
  // RFC 8200 §4.1 order: hop-by-hop (8 bytes, PadN), routing (type 4, segments left 0,
  // 24 bytes), destination options (8 bytes), then TCP.
  const Bytes ext = from_hex(
      "2b00 0104 00000000"                                      // HBH: next 43, len 0, PadN(4)
      "3c02 0400 00000000 00000000 00000000 00000000 00000000"  // routing: next 60, len 2
      "0600 0104 00000000");                                    // dest opts: next 6
  const Bytes b = v6_packet(0, ext);
  auto p = parse_ip(b);
  ASSERT_TRUE(p) << to_string(p.error());
  EXPECT_EQ(p->protocol, kIpProtoTcp);
  EXPECT_EQ(p->header_len, 40u + 40u);
  ASSERT_EQ(p->payload.size(), 4u);
  EXPECT_EQ(p->payload[0], 0xca);
}

TEST(Ipv6Parse, FragmentHeader_Fragment) {
  // RFC 8200 §4.5: fragment header (next header 44), even after a hop-by-hop header.
  EXPECT_EQ(error_of(v6_packet(44, from_hex("0600 0001 12345678"))), ParseError::kFragment);
  EXPECT_EQ(error_of(v6_packet(0, from_hex("2c00 0104 00000000 0600 0001 12345678"))), ParseError::kFragment);
}

TEST(Ipv6Parse, EspAhAndOtherExtensions_Unsupported) {
  for (std::uint8_t nh : {50, 51, 135, 139, 140, 253, 254}) {
    EXPECT_EQ(error_of(v6_packet(nh, from_hex("0600 0000 00000000"))), ParseError::kUnsupported) << int{nh};
  }
}

TEST(Ipv6Parse, HopByHopNotFirst_Unsupported) {
  // RFC 8200 §4.1: hop-by-hop options only immediately after the IPv6 header.
  EXPECT_EQ(error_of(v6_packet(60, from_hex("0000 0104 00000000 0600 0104 00000000"))),
            ParseError::kUnsupported);
}

TEST(Ipv6Parse, MoreThanMaxExtensionHeaders_Unsupported) {
  Bytes chain;
  for (int i = 0; i < kMaxIpv6ExtHeaders + 1; ++i) {
    const Bytes h = from_hex("3c00 0104 00000000");  // destination options -> destination options
    chain.insert(chain.end(), h.begin(), h.end());
  }
  chain[chain.size() - 8] = kIpProtoTcp;
  EXPECT_EQ(error_of(v6_packet(60, chain)), ParseError::kUnsupported);
  // Exactly the maximum is accepted.
  Bytes ok(chain.begin() + 8, chain.end());
  EXPECT_TRUE(parse_ip(v6_packet(60, ok)));
}

TEST(Ipv6Parse, ExtensionHeaderPastPayload_Truncated) {
  // A destination-options header claiming 16 bytes where 8 + 4 remain.
  EXPECT_EQ(error_of(v6_packet(60, from_hex("0601 0104 00000000"))), ParseError::kTruncated);
}

TEST(Ipv6Parse, UpperLayerOtherThanTcp_Returned) {
  const Bytes b = v6_packet(kIpProtoUdp, {});
  auto p = parse_ip(b);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->protocol, kIpProtoUdp);
}

}  // namespace
}  // namespace xdptcp::wire
