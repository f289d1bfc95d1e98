// Tests of the Internet checksum (RFC 1071), its incremental update (RFC 1624) and the TCP
// pseudo-headers (RFC 9293 §3.1, RFC 8200 §8.1).
#include <gtest/gtest.h>

#include <random>

#include "unit/wire/wire_test_util.h"
#include "userstack/base/byteorder.h"
#include "userstack/wire/checksum.h"

namespace xdptcp::wire {
namespace {

using test::Bytes;
using test::from_hex;

// The Linux-style SYN of tcp_header_test.cpp with its checksum field zero.
const Bytes kSynZeroCsum = from_hex(
    "a2b4 0050 12345678 00000000 a002 faf0 0000 0000"
    "020405b4 0402080a 0001e240 00000000 01030307");

TEST(Checksum, Rfc1071Example_SumsToDdf2) {
  // RFC 1071 §3 numerical example: words 0001 f203 f4f5 f6f7 sum to ddf2 (checksum 220d).
  const Bytes b = from_hex("00 01 f2 03 f4 f5 f6 f7");
  EXPECT_EQ(csum_fold(csum_partial(b)), 0x220d);
  EXPECT_EQ(static_cast<std::uint16_t>(~csum_fold(csum_partial(b))), 0xddf2);
}

TEST(Checksum, KnownIpv4Header_ChecksumIsB861) {
  // A widely used IPv4 header example: 192.168.0.1 -> 192.168.0.199, UDP, total length 0x73.
  const Bytes h = from_hex("4500 0073 0000 4000 4011 0000 c0a8 0001 c0a8 00c7");
  EXPECT_EQ(csum_fold(csum_partial(h)), 0xb861);
}

TEST(Checksum, EveryLengthAndAlignment_MatchesReference) {
  // The 8-bytes-per-step sum against the word-by-word RFC 1071 §4.1 reference, for every
  // length 0..300 (odd tails: RFC 1071 §4.1 pads with a zero byte) and 8 buffer alignments.
  std::mt19937 rng(1071);
  Bytes buf(320 + 8);
  for (auto& b : buf) b = static_cast<std::uint8_t>(rng());
  for (std::size_t align = 0; align < 8; ++align) {
    for (std::size_t len = 0; len <= 300; ++len) {
      const std::span<const std::uint8_t> s(buf.data() + align, len);
      ASSERT_EQ(csum_fold(csum_partial(s)), static_cast<std::uint16_t>(~test::reference_sum(s.data(), len)))
          << "len " << len << " align " << align;
    }
  }
}

TEST(Checksum, AllOnesData_NoCarryLost) {
  // 0xff bytes make every add carry; a lost carry would show here.
  const Bytes b(4096 + 3, 0xff);
  EXPECT_EQ(csum_fold(csum_partial(b)), static_cast<std::uint16_t>(~test::reference_sum(b.data(), b.size())));
  EXPECT_EQ(csum_fold(csum_partial(b, 0xffffffffu)),
            static_cast<std::uint16_t>(~test::reference_sum(b.data(), b.size(), 0xffff)));
}

TEST(Checksum, ChainedEvenPrefix_EqualsWholeSum) {
  std::mt19937 rng(7);
  Bytes b(101);
  for (auto& x : b) x = static_cast<std::uint8_t>(rng());
  for (std::size_t cut = 0; cut <= b.size(); cut += 2) {
    const std::span<const std::uint8_t> all(b);
    const std::uint32_t chained = csum_partial(all.subspan(cut), csum_partial(all.first(cut)));
    ASSERT_EQ(csum_fold(chained), csum_fold(csum_partial(all))) << "cut " << cut;
  }
}

TEST(Checksum, TcpSegmentOverIpv4PseudoHeader_IsD2f4) {
  // RFC 9293 §3.1 pseudo-header: 198.18.0.1 -> 198.18.0.2, protocol 6, length 40. The value
  // was computed independently (word-by-word over pseudo-header || segment).
  const auto src = IpAddr::v4(198, 18, 0, 1);
  const auto dst = IpAddr::v4(198, 18, 0, 2);
  const std::uint32_t ph = pseudo_header_sum(src, dst, 6, static_cast<std::uint32_t>(kSynZeroCsum.size()));
  EXPECT_EQ(csum_fold(csum_partial(kSynZeroCsum, ph)), 0xd2f4);
  Bytes seg = kSynZeroCsum;
  store_be16(seg.data() + 16, 0xd2f4);
  EXPECT_TRUE(tcp_checksum_ok(src, dst, seg));
}

TEST(Checksum, TcpSegmentOverIpv6PseudoHeader_Is6518) {
  // RFC 8200 §8.1 pseudo-header: fd00::1 -> fd00::2, 32-bit length 40, next header 6.
  const auto src = *IpAddr::parse("fd00::1");
  const auto dst = *IpAddr::parse("fd00::2");
  const std::uint32_t ph = pseudo_header_sum(src, dst, 6, static_cast<std::uint32_t>(kSynZeroCsum.size()));
  EXPECT_EQ(csum_fold(csum_partial(kSynZeroCsum, ph)), 0x6518);
  Bytes seg = kSynZeroCsum;
  tcp_fill_checksum(src, dst, seg);
  EXPECT_EQ(load_be16(seg.data() + 16), 0x6518);
  EXPECT_TRUE(tcp_checksum_ok(src, dst, seg));
  seg[30] ^= 0x01;
  EXPECT_FALSE(tcp_checksum_ok(src, dst, seg));
}

TEST(Checksum, Ipv6PseudoHeaderLongerThan64k_CountsHighHalf) {
  // RFC 8200 §8.1: the upper-layer length is 32 bits (jumbograms); both halves are summed.
  const auto src = *IpAddr::parse("fd00::1");
  const auto dst = *IpAddr::parse("fd00::2");
  Bytes ph = from_hex("fd000000000000000000000000000001 fd000000000000000000000000000002 00012345 00000006");
  EXPECT_EQ(csum_fold(pseudo_header_sum(src, dst, 6, 0x12345)), test::reference_checksum(ph));
}

TEST(Checksum, Rfc1624Example_Eqn3GivesZeroNotMinusZero) {
  // RFC 1624 §4: HC = 0xdd2f, m = 0x5555 -> m' = 0x3285. Eqn. 3 gives 0x0000, the value a
  // full recomputation gives; eqn. 2 would give 0xffff.
  EXPECT_EQ(csum_update16(0xdd2f, 0x5555, 0x3285), 0x0000);
}

TEST(Checksum, IncrementalUpdateOverRandomChanges_EqualsRecomputation) {
  // RFC 1624 eqn. 3 applied to random 16- and 32-bit field changes in a random TCP segment,
  // checked against summing the changed segment from scratch.
  std::mt19937 rng(1624);
  const auto src = IpAddr::v4(198, 18, 0, 1);
  const auto dst = IpAddr::v4(198, 18, 0, 2);
  for (int iter = 0; iter < 2000; ++iter) {
    Bytes seg(20 + rng() % 100);
    for (auto& b : seg) b = static_cast<std::uint8_t>(rng());
    tcp_fill_checksum(src, dst, seg);
    std::uint16_t csum = load_be16(seg.data() + 16);
    // A 16-bit word at an even offset other than the checksum field itself.
    std::size_t off16;
    do {
      off16 = 2 * (rng() % (seg.size() / 2));
    } while (off16 == 16);
    const std::uint16_t old16 = load_be16(seg.data() + off16);
    const std::uint16_t new16 = (iter % 7 == 0) ? 0 : static_cast<std::uint16_t>(rng());
    store_be16(seg.data() + off16, new16);
    csum = csum_update16(csum, old16, new16);
    // A 32-bit field (sequence or acknowledgment number).
    const std::size_t off32 = (iter % 2 == 0) ? 4 : 8;
    const std::uint32_t old32 = load_be32(seg.data() + off32);
    const std::uint32_t new32 = static_cast<std::uint32_t>(rng());
    store_be32(seg.data() + off32, new32);
    csum = csum_update32(csum, old32, new32);

    Bytes fresh = seg;
    tcp_fill_checksum(src, dst, fresh);
    ASSERT_EQ(csum, load_be16(fresh.data() + 16)) << "iteration " << iter;
    store_be16(seg.data() + 16, csum);
    ASSERT_TRUE(tcp_checksum_ok(src, dst, seg));
  }
}

}  // namespace
}  // namespace xdptcp::wire
