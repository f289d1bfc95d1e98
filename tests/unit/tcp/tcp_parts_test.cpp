// The TCP core's small parts: the flow table, SYN cookie encoding, keyed hash.
#include <gtest/gtest.h>

#include <optional>
#include <vector>

#include "userstack/tcp/flow_table.h"
#include "userstack/tcp/syn_cookie.h"

namespace xdptcp::tcp {
namespace {

wire::FourTuple tuple(std::uint16_t port) {
  wire::FourTuple t;
  t.local = {wire::IpAddr::v4(198, 18, 0, 1), 80};
  t.remote = {wire::IpAddr::v4(198, 18, 0, 2), port};
  return t;
}

TEST(FlowTable, InsertFindErase_ManyEntries_Consistent) {
  FlowTable ft(500, HashKey{1, 2});
  // The table stores no tuples: the caller's key_of(value) gives them (the TCB's own tuple).
  std::vector<wire::FourTuple> keys(1000);
  const auto key_of = [&](std::uint32_t v) -> const wire::FourTuple& { return keys[v]; };
  const auto insert = [&](std::uint16_t port, std::uint32_t v) {
    keys[v] = tuple(port);
    return ft.insert(keys[v], v, ft.hash(keys[v]), key_of);
  };
  const auto find = [&](std::uint16_t port) { return ft.find(tuple(port), ft.hash(tuple(port)), key_of); };
  const auto erase = [&](std::uint16_t port) { return ft.erase(tuple(port), ft.hash(tuple(port)), key_of); };
  for (std::uint16_t p = 0; p < 500; ++p) EXPECT_TRUE(insert(p, p));
  EXPECT_FALSE(insert(600, 600));  // at the bound
  keys[700] = tuple(3);
  EXPECT_FALSE(ft.insert(keys[700], 700, ft.hash(keys[700]), key_of));  // duplicate
  for (std::uint16_t p = 0; p < 500; p += 2) EXPECT_TRUE(erase(p));
  for (std::uint16_t p = 0; p < 500; ++p) {
    auto v = find(p);
    if (p % 2 == 0) {
      EXPECT_FALSE(v.has_value());
    } else {
      ASSERT_TRUE(v.has_value());
      EXPECT_EQ(*v, p);
    }
  }
  EXPECT_EQ(ft.size(), 250u);
  EXPECT_FALSE(erase(0));
  // Colliding home slots (probe runs) survive backward-shift deletion in any order.
  for (std::uint16_t p = 1000; p < 1250; ++p) EXPECT_TRUE(insert(p, static_cast<std::uint32_t>(p - 500)));
  for (std::uint16_t p = 1; p < 500; p += 2) EXPECT_TRUE(erase(p));
  for (std::uint16_t p = 1000; p < 1250; ++p) ASSERT_EQ(find(p), std::optional<std::uint32_t>(p - 500u)) << p;
}

TEST(SynCookie, MakeCheck_WithinAge_Valid) {  // RFC 4987 §3.6
  HashKey k{7, 8};
  auto t = tuple(1234);
  const std::uint32_t c = cookie_make(k, t, 1000, 50, 3);
  EXPECT_EQ(cookie_check(k, t, 1000, c, 50, wire::IpFamily::kV4), 3);
  EXPECT_EQ(cookie_check(k, t, 1000, c, 52, wire::IpFamily::kV4), 3);
  EXPECT_FALSE(cookie_check(k, t, 1000, c, 53, wire::IpFamily::kV4).has_value());     // too old
  EXPECT_FALSE(cookie_check(k, t, 5001000, c, 50, wire::IpFamily::kV4).has_value());  // other ISN
  EXPECT_FALSE(cookie_check(k, tuple(1235), 1000, c, 50, wire::IpFamily::kV4).has_value());
  EXPECT_FALSE(cookie_check(HashKey{7, 9}, t, 1000, c, 50, wire::IpFamily::kV4).has_value());
}

TEST(SynCookie, Tsval_EncodesOptionsNeverAhead) {  // Linux cookie_init_timestamp()
  CookieTsOptions o;
  o.wscale = 9;
  o.sack_ok = true;
  for (std::uint32_t now : {0u, 5u, 63u, 64u, 1000000u}) {
    const std::uint32_t ts = cookie_tsval(now, o);
    EXPECT_LE(static_cast<std::int32_t>(ts - now), 0);
    auto d = cookie_ts_decode(ts);
    EXPECT_EQ(d.wscale, 9);
    EXPECT_TRUE(d.sack_ok);
  }
  EXPECT_FALSE(cookie_ts_decode(cookie_tsval(100, {})).wscale.has_value());
}

TEST(SynCookie, MssIndex_LargestNotAbovePeer) {
  EXPECT_EQ(cookie_mss_value(wire::IpFamily::kV4, cookie_mss_index(wire::IpFamily::kV4, 1460)), 1460);
  EXPECT_EQ(cookie_mss_value(wire::IpFamily::kV4, cookie_mss_index(wire::IpFamily::kV4, 1400)), 1300);
  EXPECT_EQ(cookie_mss_value(wire::IpFamily::kV4, cookie_mss_index(wire::IpFamily::kV4, 100)), 536);
}

}  // namespace
}  // namespace xdptcp::tcp
