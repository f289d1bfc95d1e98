// The Toeplitz hash against Microsoft's "Verifying the RSS Hash Calculation" vectors (the same
// table is in the Intel 82599 datasheet §7.1.2.8.3, "RSS Verification Suite"), and the queue
// choice through an indirection table.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <vector>

#include "userstack/engine/toeplitz.h"

namespace xdptcp::engine {
namespace {

// The key of the verification suite.
constexpr std::array<std::uint8_t, 40> kMsKey = {0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67,
                                                 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb,
                                                 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30,
                                                 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa};

struct Vector {
  const char* src;  // the sender of the segment the NIC hashes (our remote peer)
  std::uint16_t sport;
  const char* dst;  // the receiver (us)
  std::uint16_t dport;
  std::uint32_t ip_only;   // hash over the addresses alone (NDIS_HASH_IPV4 / NDIS_HASH_IPV6)
  std::uint32_t with_tcp;  // hash over addresses and ports (NDIS_HASH_TCP_IPV4 / _IPV6)
};

constexpr Vector kIpv4[] = {
    {"66.9.149.187", 2794, "161.142.100.80", 1766, 0x323e8fc2, 0x51ccc178},
    {"199.92.111.2", 14230, "65.69.140.83", 4739, 0xd718262a, 0xc626b0ea},
    {"24.19.198.95", 12898, "12.22.207.184", 38024, 0xd2d0a5de, 0x5c2b394a},
    {"38.27.205.30", 48228, "209.142.163.6", 2217, 0x82989176, 0xafc7327f},
    {"153.39.163.191", 44251, "202.188.127.2", 1303, 0x5d1809c5, 0x10e828a2},
};

constexpr Vector kIpv6[] = {
    {"3ffe:2501:200:1fff::7", 2794, "3ffe:2501:200:3::1", 1766, 0x2cc18cd5, 0x40207d3d},
    {"3ffe:501:8::260:97ff:fe40:efab", 14230, "ff02::1", 4739, 0x0f0c461c, 0xdde51bbf},
    {"3ffe:1900:4545:3:200:f8ff:fe21:67cf", 44251, "fe80::200:f8ff:fe21:67cf", 38024, 0x4b61e985, 0x02d1feef},
};

// The tuple as our stack sees a flow whose segments arrive from `v.src`: local = destination.
wire::FourTuple rx_tuple(const Vector& v) {
  wire::FourTuple t;
  t.remote = {*wire::IpAddr::parse(v.src), v.sport};
  t.local = {*wire::IpAddr::parse(v.dst), v.dport};
  return t;
}

std::uint32_t ip_only_hash(const wire::FourTuple& t) {
  std::vector<std::uint8_t> in(t.remote.ip.bytes.begin(), t.remote.ip.bytes.begin() + t.remote.ip.size());
  in.insert(in.end(), t.local.ip.bytes.begin(), t.local.ip.bytes.begin() + t.local.ip.size());
  return toeplitz_hash(kMsKey, in);
}

TEST(Toeplitz, Ipv4WithTcp_MatchesVerificationSuite) {
  for (const Vector& v : kIpv4) {
    const wire::FourTuple t = rx_tuple(v);
    EXPECT_EQ(rss_hash_rx(kMsKey, t), v.with_tcp) << v.src << " -> " << v.dst;
    EXPECT_EQ(ip_only_hash(t), v.ip_only) << v.src << " -> " << v.dst;
  }
}

TEST(Toeplitz, Ipv6WithTcp_MatchesVerificationSuite) {
  for (const Vector& v : kIpv6) {
    const wire::FourTuple t = rx_tuple(v);
    EXPECT_EQ(rss_hash_rx(kMsKey, t), v.with_tcp) << v.src << " -> " << v.dst;
    EXPECT_EQ(ip_only_hash(t), v.ip_only) << v.src << " -> " << v.dst;
  }
}

// The hash is of the RECEIVED direction: swapping source and destination (hashing the segments
// we send) gives another value with this asymmetric key, so the direction matters.
TEST(Toeplitz, Direction_TransmitTupleHashesDifferently) {
  wire::FourTuple t = rx_tuple(kIpv4[0]);
  wire::FourTuple swapped{t.remote, t.local};
  EXPECT_NE(rss_hash_rx(kMsKey, t), rss_hash_rx(kMsKey, swapped));
}

TEST(Toeplitz, EmptyInput_IsZero) {
  EXPECT_EQ(toeplitz_hash(kMsKey, {}), 0u);
}

// Bits past the key's end count as zero: a 16-byte prefix of the key gives the IPv4 TCP hash
// unchanged (it covers the 96 input bits plus the 32-bit window), and a shorter key changes it.
TEST(Toeplitz, ShortKey_BitsPastTheEndAreZero) {
  const wire::FourTuple t = rx_tuple(kIpv4[0]);
  EXPECT_EQ(rss_hash_rx(std::span<const std::uint8_t>(kMsKey.data(), 16), t), kIpv4[0].with_tcp);
  EXPECT_NE(rss_hash_rx(std::span<const std::uint8_t>(kMsKey.data(), 12), t), kIpv4[0].with_tcp);
}

TEST(RssQueue, IndirectionTable_IndexedByHashModuloSize) {
  const std::vector<std::uint32_t> table = {0, 1, 2, 3, 3, 2, 1, 0};
  EXPECT_EQ(rss_queue(table, 0x51ccc178), table[0x51ccc178 % 8]);  // low bits 000 -> entry 0
  EXPECT_EQ(rss_queue(table, 0x51ccc178), 0u);
  EXPECT_EQ(rss_queue(table, 0xc626b0ea), 2u);  // low bits 010 -> entry 2
  EXPECT_EQ(rss_queue(table, 0x5c2b394a), 2u);  // low bits 010 -> entry 2
  EXPECT_EQ(rss_queue(table, 0xafc7327f), 0u);  // low bits 111 -> entry 7
  EXPECT_EQ(rss_queue(table, 0x10e828a2), 2u);  // low bits 010
  EXPECT_EQ(rss_queue(table, 0x00000004), 3u);  // entry 4
  EXPECT_EQ(rss_queue({}, 0x51ccc178), std::nullopt);
}

TEST(RssConfig, RxQueue_FollowsHashAndTable) {
  RssConfig rss;
  EXPECT_FALSE(rss.usable());
  EXPECT_EQ(rss.rx_queue(rx_tuple(kIpv4[0])), std::nullopt);  // veth: nothing to predict
  rss.key.assign(kMsKey.begin(), kMsKey.end());
  rss.indirection = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  ASSERT_TRUE(rss.usable());
  for (const Vector& v : kIpv4) EXPECT_EQ(rss.rx_queue(rx_tuple(v)), v.with_tcp % 16) << v.src;
  for (const Vector& v : kIpv6) EXPECT_EQ(rss.rx_queue(rx_tuple(v)), v.with_tcp % 16) << v.src;
  EXPECT_TRUE(rss.reaches(15));
  EXPECT_FALSE(rss.reaches(16));
}

// A key long enough for IPv4 (16 bytes) but not for IPv6 (40): IPv6 queues are not predicted.
TEST(RssConfig, ShortKey_Ipv6NotPredicted) {
  RssConfig rss;
  rss.key.assign(kMsKey.begin(), kMsKey.begin() + 16);
  rss.indirection = {0, 1};
  EXPECT_TRUE(rss.rx_queue(rx_tuple(kIpv4[0])).has_value());
  EXPECT_EQ(rss.rx_queue(rx_tuple(kIpv6[0])), std::nullopt);
}

}  // namespace
}  // namespace xdptcp::engine
