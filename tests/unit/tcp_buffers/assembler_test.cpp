// Unit tests of Assembler (userstack/tcp/assembler.h): merging (adjacent, overlapping, contained,
// bridging several), the bound on disjoint ranges (RFC 9293 §3.10.7.4 "queue for later
// processing" needs a memory bound), pop_front, and a random comparison against a bitmap.
#include "userstack/tcp/assembler.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace xdptcp::tcp {
namespace {

std::vector<ByteRange> ranges_of(const Assembler& a) {
  return {a.ranges().begin(), a.ranges().end()};
}
using R = std::vector<ByteRange>;

TEST(Assembler, Add_Disjoint_KeptSorted) {
  Assembler a;
  EXPECT_TRUE(a.add(100, 10));
  EXPECT_TRUE(a.add(10, 5));
  EXPECT_TRUE(a.add(50, 1));
  EXPECT_EQ(ranges_of(a), (R{{10, 5}, {50, 1}, {100, 10}}));
  EXPECT_EQ(a.range_count(), 3u);
  EXPECT_FALSE(a.empty());
}

TEST(Assembler, Add_AdjacentOnEitherSide_Merges) {
  Assembler a;
  a.add(10, 10);
  EXPECT_TRUE(a.add(20, 5));  // touches the end
  EXPECT_EQ(ranges_of(a), (R{{10, 15}}));
  EXPECT_TRUE(a.add(5, 5));  // touches the start
  EXPECT_EQ(ranges_of(a), (R{{5, 20}}));
}

TEST(Assembler, Add_Overlapping_Merges) {
  Assembler a;
  a.add(10, 10);
  a.add(15, 10);
  EXPECT_EQ(ranges_of(a), (R{{10, 15}}));
  a.add(5, 7);
  EXPECT_EQ(ranges_of(a), (R{{5, 20}}));
}

TEST(Assembler, Add_ContainedOrContaining_Merges) {
  Assembler a;
  a.add(10, 10);
  a.add(12, 3);  // inside: nothing changes
  EXPECT_EQ(ranges_of(a), (R{{10, 10}}));
  a.add(10, 10);  // duplicate
  EXPECT_EQ(ranges_of(a), (R{{10, 10}}));
  a.add(0, 40);  // swallows it
  EXPECT_EQ(ranges_of(a), (R{{0, 40}}));
}

TEST(Assembler, Add_BridgingSeveral_MergesIntoOne) {
  Assembler a;
  a.add(10, 5);
  a.add(20, 5);
  a.add(30, 5);
  a.add(40, 5);
  a.add(60, 5);
  EXPECT_TRUE(a.add(12, 28));  // [12, 40): touches 40, bridges 10..45
  EXPECT_EQ(ranges_of(a), (R{{10, 35}, {60, 5}}));
}

TEST(Assembler, Add_ZeroLength_ChangesNothing) {
  Assembler a(1);
  a.add(10, 5);
  EXPECT_TRUE(a.add(100, 0));
  EXPECT_EQ(ranges_of(a), (R{{10, 5}}));
}

TEST(Assembler, Add_AtBound_NewRangeRefusedAndNothingChanges) {
  Assembler a(3);
  EXPECT_TRUE(a.add(10, 1));
  EXPECT_TRUE(a.add(20, 1));
  EXPECT_TRUE(a.add(30, 1));
  const R before = ranges_of(a);
  EXPECT_FALSE(a.add(40, 1));
  EXPECT_FALSE(a.add(0, 5));
  EXPECT_FALSE(a.add(25, 2));
  EXPECT_EQ(ranges_of(a), before);
  // At the bound, what merges with an existing range is still accepted.
  EXPECT_TRUE(a.add(11, 4));
  EXPECT_TRUE(a.add(15, 5));  // bridges [10, 16) and [20, 21): one fewer range
  EXPECT_EQ(ranges_of(a), (R{{10, 11}, {30, 1}}));
  EXPECT_TRUE(a.add(40, 1));
  EXPECT_EQ(a.range_count(), 3u);
}

TEST(Assembler, Construct_MaxRangesAboveLimit_ClampedToKMaxRanges) {
  Assembler a(1000);
  for (std::uint32_t i = 0; i < Assembler::kMaxRanges; ++i) ASSERT_TRUE(a.add(i * 10, 1));
  EXPECT_FALSE(a.add(Assembler::kMaxRanges * 10 + 5, 1));
  EXPECT_EQ(a.range_count(), Assembler::kMaxRanges);
}

TEST(Assembler, PopFront_RangeAtZero_RemovedAndOthersShifted) {
  Assembler a;
  a.add(5, 5);
  a.add(20, 3);
  EXPECT_EQ(a.pop_front(), 0u);  // a hole at [0, 5)
  EXPECT_EQ(ranges_of(a), (R{{5, 5}, {20, 3}}));
  a.add(0, 5);  // fills the hole: merges into [0, 10)
  EXPECT_EQ(a.pop_front(), 10u);
  EXPECT_EQ(ranges_of(a), (R{{10, 3}}));
  EXPECT_EQ(a.pop_front(), 0u);
  a.clear();
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(a.pop_front(), 0u);
}

TEST(Assembler, Add_NearOffsetLimit_ClippedNotWrapped) {
  Assembler a;
  EXPECT_TRUE(a.add(0xFFFFFFF0u, 0x100));
  ASSERT_EQ(a.range_count(), 1u);
  EXPECT_EQ(a.ranges()[0].offset, 0xFFFFFFF0u);
  EXPECT_EQ(a.ranges()[0].end(), 0xFFFFFFFFu);
}

// Random adds and pops against a bitmap of received bytes: the ranges must be exactly the
// maximal runs of set bits, sorted, and a refused add must be exactly one that needs a new run
// beyond the bound.
TEST(Assembler, Property_MatchesBitmapModel_RandomOps) {
  constexpr std::size_t kBits = 512;
  for (std::uint64_t seed = 1; seed <= 8; ++seed) {
    SCOPED_TRACE(testing::Message() << "seed " << seed);
    std::mt19937_64 rng(seed);
    const std::size_t bound = 1 + seed;  // 2..9: small enough to be reached often
    Assembler a(bound);
    std::vector<bool> bits(kBits, false);
    auto runs = [&](const std::vector<bool>& b) {
      R out;
      for (std::size_t i = 0; i < kBits;) {
        if (!b[i]) {
          ++i;
          continue;
        }
        std::size_t j = i;
        while (j < kBits && b[j]) ++j;
        out.push_back({static_cast<std::uint32_t>(i), static_cast<std::uint32_t>(j - i)});
        i = j;
      }
      return out;
    };
    std::size_t refused = 0;
    for (int op = 0; op < 3000; ++op) {
      if (rng() % 10 == 0) {
        const R before = runs(bits);
        const std::uint32_t popped = a.pop_front();
        const std::uint32_t expect = !before.empty() && before[0].offset == 0 ? before[0].length : 0;
        ASSERT_EQ(popped, expect);
        std::vector<bool> shifted(kBits, false);
        for (std::size_t i = popped; i < kBits; ++i) shifted[i - popped] = bits[i];
        bits = shifted;
      } else {
        const std::uint32_t length = static_cast<std::uint32_t>(rng() % 24);
        const std::uint32_t offset = static_cast<std::uint32_t>(rng() % (kBits - length));
        std::vector<bool> next = bits;
        for (std::uint32_t i = offset; i < offset + length; ++i) next[i] = true;
        const bool fits = runs(next).size() <= bound;
        ASSERT_EQ(a.add(offset, length), fits) << "add(" << offset << ", " << length << ")";
        if (fits) {
          bits = next;
        } else {
          ++refused;
        }
      }
      ASSERT_EQ(ranges_of(a), runs(bits));
    }
    EXPECT_GT(refused, 0u);  // the bound was exercised
  }
}

}  // namespace
}  // namespace xdptcp::tcp
