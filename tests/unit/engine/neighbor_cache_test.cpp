// NeighborCache (userstack/engine/neighbor_cache.h): learn/lookup through the last-used front
// entry and the table behind it, MAC changes, and the bound (LRU eviction within a probe window).
#include <gtest/gtest.h>

#include "userstack/engine/neighbor_cache.h"

namespace xdptcp::engine {
namespace {

wire::MacAddr mac(std::uint8_t last) {
  return wire::MacAddr{{0x02, 0, 0, 0, 0, last}};
}
wire::IpAddr ip(std::uint32_t n) {
  return wire::IpAddr::v4(198, 18, static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n));
}

TEST(NeighborCache, Learn_LookupReturnsMac_UnknownIsNullopt) {
  NeighborCache c;
  EXPECT_FALSE(c.lookup(ip(1)).has_value());  // the empty front entry matches nothing
  c.learn(ip(1), mac(1));
  ASSERT_TRUE(c.lookup(ip(1)).has_value());
  EXPECT_EQ(*c.lookup(ip(1)), mac(1));
  EXPECT_FALSE(c.lookup(ip(2)).has_value());
  EXPECT_EQ(c.size(), 1u);
}

TEST(NeighborCache, MacChanges_LookupSeesTheNewOne_OnFrontAndBehindIt) {
  NeighborCache c;
  c.learn(ip(1), mac(1));
  c.learn(ip(1), mac(9));  // front entry, new MAC
  EXPECT_EQ(*c.lookup(ip(1)), mac(9));
  c.learn(ip(2), mac(2));  // ip(1) no longer in front
  c.learn(ip(1), mac(7));
  EXPECT_EQ(*c.lookup(ip(1)), mac(7));
  EXPECT_EQ(*c.lookup(ip(2)), mac(2));
  EXPECT_EQ(c.size(), 2u);
}

TEST(NeighborCache, ManyPeers_AlternatingLookups_AllFound) {
  NeighborCache c;
  for (std::uint32_t n = 0; n < 1000; ++n) c.learn(ip(n), mac(static_cast<std::uint8_t>(n)));
  for (std::uint32_t n = 0; n < 1000; n += 7) {
    ASSERT_TRUE(c.lookup(ip(n)).has_value()) << n;
    EXPECT_EQ(*c.lookup(ip(n)), mac(static_cast<std::uint8_t>(n)));
    EXPECT_EQ(*c.lookup(ip(999 - n)), mac(static_cast<std::uint8_t>(999 - n)));
  }
}

TEST(NeighborCache, PastTheBound_SizeStaysBounded_HotEntrySurvives) {
  NeighborCache c;
  c.learn(ip(0), mac(1));
  // Far more addresses than slots; the hot one is used between every insertion, through the
  // front entry, so it is never the least recently used of its probe window.
  for (std::uint32_t n = 1; n < 4 * NeighborCache::kSlots; ++n) {
    c.learn(wire::IpAddr::v4(10, static_cast<std::uint8_t>(n >> 16), static_cast<std::uint8_t>(n >> 8),
                             static_cast<std::uint8_t>(n)),
            mac(2));
    ASSERT_TRUE(c.lookup(ip(0)).has_value()) << "after " << n;
  }
  EXPECT_LE(c.size(), NeighborCache::kSlots);
}

}  // namespace
}  // namespace xdptcp::engine
