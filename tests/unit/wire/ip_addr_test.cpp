// Tests of IpAddr text conversion (RFC 4291 §2.2 input, RFC 5952 output), SockAddr text and
// the flow hash.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "userstack/wire/ip_addr.h"

namespace xdptcp::wire {
namespace {

TEST(IpAddrParse, DottedQuad_V4) {
  auto a = IpAddr::parse("198.18.0.1");
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->is_v4());
  EXPECT_EQ(*a, IpAddr::v4(198, 18, 0, 1));
  EXPECT_EQ(a->to_string(), "198.18.0.1");
  EXPECT_EQ(a->size(), 4u);
}

TEST(IpAddrParse, Rfc4291Forms_V6CanonicalText) {
  // RFC 4291 §2.2 accepts full, compressed and embedded-IPv4 forms; to_string prints the
  // RFC 5952 §4 canonical form (lower case, longest zero run compressed).
  struct Case {
    const char* in;
    const char* out;
  } cases[] = {
      {"fd00::1", "fd00::1"},
      {"FD00:0:0:0:0:0:0:1", "fd00::1"},
      {"fd00:0000:0000:0000:0000:0000:0000:0001", "fd00::1"},
      {"::", "::"},
      {"::ffff:198.18.0.1", "::ffff:198.18.0.1"},
      {"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},
  };
  for (const auto& c : cases) {
    auto a = IpAddr::parse(c.in);
    ASSERT_TRUE(a) << c.in;
    EXPECT_EQ(a->family, IpFamily::kV6);
    EXPECT_EQ(a->size(), 16u);
    EXPECT_EQ(a->to_string(), c.out);
  }
}

TEST(IpAddrParse, BadText_Nullopt) {
  for (const char* s : {"", "1.2.3", "256.1.1.1", "1.2.3.4.5", "1.2.3.4 ", " 1.2.3.4", "01.2.3.4",
                        "0x1.2.3.4", "1..3.4", "::ffff:1.2.3", ":::", "fd00::1::2", "g::1", "fd00::1%eth0",
                        "[fd00::1]", "1:2:3:4:5:6:7:8:9", "localhost"}) {
    EXPECT_FALSE(IpAddr::parse(s)) << s;
  }
  EXPECT_FALSE(IpAddr::parse(std::string_view("1.2.3.4\0", 8)));
  EXPECT_FALSE(IpAddr::parse(std::string(100, '1')));
}

TEST(IpAddr, Unspecified) {
  EXPECT_TRUE(IpAddr{}.is_unspecified());
  EXPECT_TRUE(IpAddr::parse("::")->is_unspecified());
  EXPECT_FALSE(IpAddr::parse("::1")->is_unspecified());
  EXPECT_FALSE(IpAddr::v4(0, 0, 0, 1).is_unspecified());
}

TEST(SockAddr, Text_BracketsForV6) {
  EXPECT_EQ((SockAddr{IpAddr::v4(198, 18, 0, 1), 80}).to_string(), "198.18.0.1:80");
  EXPECT_EQ((SockAddr{*IpAddr::parse("fd00::1"), 443}).to_string(), "[fd00::1]:443");
}

FourTuple tuple(std::uint16_t lport, std::uint16_t rport) {
  return FourTuple{{IpAddr::v4(198, 18, 0, 1), lport}, {IpAddr::v4(198, 18, 0, 2), rport}};
}

TEST(HashFourTuple, EqualTuplesEqual_DifferentFieldsDiffer) {
  EXPECT_EQ(hash_four_tuple(tuple(80, 40000)), hash_four_tuple(tuple(80, 40000)));
  EXPECT_NE(hash_four_tuple(tuple(80, 40000)), hash_four_tuple(tuple(80, 40001)));
  EXPECT_NE(hash_four_tuple(tuple(80, 40000)), hash_four_tuple(tuple(40000, 80)));
  EXPECT_NE(hash_four_tuple(tuple(80, 40000), 1), hash_four_tuple(tuple(80, 40000), 2));
  FourTuple v6 = tuple(80, 40000);
  v6.local.ip.family = IpFamily::kV6;  // same bytes, other family
  EXPECT_NE(hash_four_tuple(v6), hash_four_tuple(tuple(80, 40000)));
}

TEST(HashFourTuple, SequentialPorts_SpreadEvenlyOverBuckets) {
  // 65536 tuples differing only in the remote port into 1024 buckets (64 each on average):
  // a poor mix would pile sequential ports into few buckets. Also check the high bits.
  for (std::uint64_t key : {0ull, 0x0123456789abcdefull}) {
    std::vector<int> low(1024), high(1024);
    for (std::uint32_t p = 0; p < 65536; ++p) {
      const std::uint64_t h = hash_four_tuple(tuple(80, static_cast<std::uint16_t>(p)), key);
      ++low[h & 1023];
      ++high[h >> 54];
    }
    EXPECT_LT(*std::max_element(low.begin(), low.end()), 110);
    EXPECT_GT(*std::min_element(low.begin(), low.end()), 25);
    EXPECT_LT(*std::max_element(high.begin(), high.end()), 110);
    EXPECT_GT(*std::min_element(high.begin(), high.end()), 25);
  }
}

}  // namespace
}  // namespace xdptcp::wire
