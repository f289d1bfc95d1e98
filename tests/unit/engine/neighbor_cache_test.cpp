// NeighborCache (userstack/engine/neighbor_cache.h): learn/lookup through the last-used front
// entry and the table behind it, link-address changes, tags, sizing and the bound (LRU eviction
// within a probe window, counted); RouteTable (route_table.h): the next-hop key, by longest prefix.
#include <gtest/gtest.h>

#include "userstack/engine/neighbor_cache.h"
#include "userstack/engine/route_table.h"

namespace xdptcp::engine {
namespace {

Neighbor mac(std::uint8_t last, std::optional<std::uint16_t> tag = std::nullopt) {
  return Neighbor{wire::MacAddr{{0x02, 0, 0, 0, 0, last}}, tag};
}
wire::IpAddr ip(std::uint32_t n) {
  return wire::IpAddr::v4(198, 18, static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n));
}
wire::IpAddr addr(const char* text) {
  return *wire::IpAddr::parse(text);
}

TEST(NeighborCache, Learn_LookupReturnsMac_UnknownIsNullopt) {
  NeighborCache c;
  EXPECT_FALSE(c.lookup(ip(1)).has_value());  // the empty front entry matches nothing
  EXPECT_FALSE(c.learn(ip(1), mac(1)));
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

TEST(NeighborCache, TagIsPartOfTheEntry_ATagChangeIsSeen) {
  NeighborCache c;
  c.learn(ip(1), mac(1));
  c.learn(ip(1), mac(1, 0x0064));  // same MAC, now tagged (VLAN 100): not the unchanged fast path
  ASSERT_TRUE(c.lookup(ip(1)).has_value());
  EXPECT_EQ(c.lookup(ip(1))->vlan_tci, std::optional<std::uint16_t>(0x0064));
  EXPECT_EQ(c.size(), 1u);
}

TEST(NeighborCache, Forget_RemovesTheEntry) {
  NeighborCache c;
  c.learn(ip(1), mac(1));
  c.learn(ip(2), mac(2));
  EXPECT_TRUE(c.forget(ip(1)));
  EXPECT_FALSE(c.lookup(ip(1)).has_value());  // the front entry too: it compares the slot's content
  EXPECT_FALSE(c.forget(ip(1)));
  EXPECT_EQ(*c.lookup(ip(2)), mac(2));
  EXPECT_EQ(c.size(), 1u);
}

TEST(NeighborCache, ExpiredEntry_IsAMiss_UntilLearnedAgain) {
  NeighborCache c;
  const Instant t0{1'000'000'000};
  c.learn(ip(1), mac(1), t0 + Duration::seconds(30));
  c.learn(ip(2), mac(2), t0 + Duration::seconds(30));  // ip(1) behind the front entry
  EXPECT_TRUE(c.lookup(ip(1), t0 + Duration::seconds(30)).has_value());
  EXPECT_FALSE(c.lookup(ip(1), t0 + Duration::seconds(31)).has_value());
  EXPECT_FALSE(c.lookup(ip(1), t0 + Duration::seconds(31)).has_value());  // now in front: still a miss
  c.learn(ip(1), mac(3), t0 + Duration::seconds(61));                     // asked again: a new MAC
  EXPECT_EQ(c.lookup(ip(1), t0 + Duration::seconds(31)), mac(3));
  EXPECT_EQ(c.size(), 2u);  // renewed in place
  // The same value learned again renews it (the front entry's fast path too).
  c.learn(ip(1), mac(3), t0 + Duration::seconds(91));
  EXPECT_TRUE(c.lookup(ip(1), t0 + Duration::seconds(90)).has_value());
}

TEST(NeighborCache, ManyPeers_AlternatingLookups_AllFound) {
  NeighborCache c(NeighborCache::slots_for(4096));
  for (std::uint32_t n = 0; n < 1000; ++n) c.learn(ip(n), mac(static_cast<std::uint8_t>(n)));
  for (std::uint32_t n = 0; n < 1000; n += 7) {
    ASSERT_TRUE(c.lookup(ip(n)).has_value()) << n;
    EXPECT_EQ(*c.lookup(ip(n)), mac(static_cast<std::uint8_t>(n)));
    EXPECT_EQ(*c.lookup(ip(999 - n)), mac(static_cast<std::uint8_t>(999 - n)));
  }
  EXPECT_EQ(c.evictions(), 0u);
}

TEST(NeighborCache, SizedByMaxSockets_PowerOfTwoWithinBounds) {
  EXPECT_EQ(NeighborCache::slots_for(1), NeighborCache::kMinSlots);
  EXPECT_EQ(NeighborCache::slots_for(16384), 16384u);  // the default max_sockets: one slot each
  EXPECT_EQ(NeighborCache::slots_for(10000), 16384u);
  EXPECT_EQ(NeighborCache::slots_for(1u << 20), NeighborCache::kMaxSlots);
  EXPECT_EQ(NeighborCache(NeighborCache::slots_for(16384)).capacity(), 16384u);
  EXPECT_EQ(NeighborCache(3).capacity(), NeighborCache::kMinSlots);
}

TEST(NeighborCache, PastTheBound_SizeStaysBounded_EvictionsCounted_HotEntrySurvives) {
  NeighborCache c;  // kMinSlots
  c.learn(ip(0), mac(1));
  // Far more next hops than slots; the hot one is used between every insertion, through the
  // front entry, so it is never the least recently used of its probe window.
  std::uint64_t evicted = 0;
  const std::uint32_t total = 4 * static_cast<std::uint32_t>(c.capacity());
  for (std::uint32_t n = 1; n < total; ++n) {
    evicted += c.learn(wire::IpAddr::v4(10, static_cast<std::uint8_t>(n >> 16),
                                        static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)),
                       mac(2))
                   ? 1
                   : 0;
    ASSERT_TRUE(c.lookup(ip(0)).has_value()) << "after " << n;
  }
  EXPECT_LE(c.size(), c.capacity());
  EXPECT_EQ(c.evictions(), evicted);
  // Every insertion either filled a free slot or evicted one: nothing vanished uncounted.
  EXPECT_EQ(c.size() + c.evictions(), static_cast<std::size_t>(total));
}

TEST(RouteTable, Empty_EveryDestinationIsItsOwnNextHop) {
  RouteTable t;
  EXPECT_EQ(t.next_hop(addr("198.18.0.2")), addr("198.18.0.2"));
  EXPECT_EQ(t.next_hop(addr("fd00::2")), addr("fd00::2"));
}

TEST(RouteTable, LongestPrefixWins_PeersBehindAGatewayShareItsKey) {
  RouteTable t;
  ASSERT_TRUE(t.add({addr("0.0.0.0"), 0, addr("198.18.0.254")}));      // default via the gateway
  ASSERT_TRUE(t.add({addr("198.18.0.0"), 24, std::nullopt}));          // on-link subnet
  ASSERT_TRUE(t.add({addr("198.19.7.0"), 24, addr("198.18.0.253")}));  // a more specific router
  EXPECT_EQ(t.next_hop(addr("198.18.0.2")), addr("198.18.0.2"));
  EXPECT_EQ(t.next_hop(addr("198.19.0.9")), addr("198.18.0.254"));
  EXPECT_EQ(t.next_hop(addr("198.19.1.9")), addr("198.18.0.254"));  // same key: one cache entry
  EXPECT_EQ(t.next_hop(addr("198.19.7.9")), addr("198.18.0.253"));
  // The memo in front answers the same question again, and a different one is looked up.
  EXPECT_EQ(t.next_hop(addr("198.19.7.9")), addr("198.18.0.253"));
  EXPECT_EQ(t.next_hop(addr("198.18.0.77")), addr("198.18.0.77"));
}

TEST(RouteTable, NoMatchingRoute_NoNextHop_OtherFamilyDoesNotMatch) {
  RouteTable t;
  ASSERT_TRUE(t.add({addr("198.18.0.0"), 15, std::nullopt}));
  EXPECT_FALSE(t.next_hop(addr("10.0.0.1")).has_value());
  EXPECT_FALSE(t.next_hop(addr("fd00::1")).has_value());
  EXPECT_EQ(t.next_hop(addr("198.19.255.1")), addr("198.19.255.1"));  // /15: odd bit of byte 1
}

TEST(RouteTable, Bounded_AddRefusesPastKMaxRoutes_AndMalformedPrefixes) {
  RouteTable t;
  EXPECT_FALSE(t.add({addr("10.0.0.0"), 33, std::nullopt}));
  for (std::size_t i = 0; i < RouteTable::kMaxRoutes; ++i)
    ASSERT_TRUE(t.add({wire::IpAddr::v4(10, static_cast<std::uint8_t>(i), 0, 0), 16, std::nullopt}));
  EXPECT_FALSE(t.add({addr("11.0.0.0"), 8, std::nullopt}));
  EXPECT_EQ(t.size(), RouteTable::kMaxRoutes);
}

}  // namespace
}  // namespace xdptcp::engine
