// DelayModel and percent_to_ppm (tools/impair/delay_model.h).
#include "tools/impair/delay_model.h"

#include <gtest/gtest.h>

namespace xdptcp::impair {
namespace {

TEST(PercentToPpm, ConvertsRoundsAndClamps) {
  EXPECT_EQ(percent_to_ppm(0), 0u);
  EXPECT_EQ(percent_to_ppm(2), 20000u);
  EXPECT_EQ(percent_to_ppm(0.5), 5000u);
  EXPECT_EQ(percent_to_ppm(0.00005), 1u);  // rounded
  EXPECT_EQ(percent_to_ppm(100), kPpmOne);
  EXPECT_EQ(percent_to_ppm(250), kPpmOne);
  EXPECT_EQ(percent_to_ppm(-1), 0u);
}

TEST(DelayModel, ConstantDelay_ReleaseIsArrivalPlusDelay) {
  DelayModel m({.delay_ns = 10'000'000}, 1);
  for (std::uint64_t t = 0; t < 100; ++t) {
    const auto d = m.decide(t * 1000);
    EXPECT_EQ(d.release_ns, t * 1000 + 10'000'000);
    EXPECT_FALSE(d.reorder_pick);
  }
}

TEST(DelayModel, Jitter_StaysWithinBounds_AndVaries) {
  DelayModel m({.delay_ns = 5'000'000, .jitter_ns = 2'000'000}, 7);
  std::uint64_t lo = UINT64_MAX, hi = 0;
  for (int i = 0; i < 10000; ++i) {
    const std::uint64_t extra = m.decide(0).release_ns - 5'000'000;
    lo = std::min(lo, extra);
    hi = std::max(hi, extra);
    ASSERT_LE(extra, 2'000'000u);
  }
  EXPECT_LT(lo, 100'000u);  // uniform over [0, 2 ms]: 10000 draws reach both ends
  EXPECT_GT(hi, 1'900'000u);
}

TEST(DelayModel, SameSeed_SameDecisions_OtherSeedDiffers) {
  const DelayParams p{
      .delay_ns = 1000, .jitter_ns = 1'000'000, .reorder_ppm = 100'000, .reorder_extra_ns = 5000};
  DelayModel a(p, 42), b(p, 42), c(p, 43);
  int differ = 0;
  for (int i = 0; i < 1000; ++i) {
    const auto da = a.decide(0), db = b.decide(0), dc = c.decide(0);
    ASSERT_EQ(da.release_ns, db.release_ns);
    ASSERT_EQ(da.reorder_pick, db.reorder_pick);
    differ += da.release_ns != dc.release_ns;
  }
  EXPECT_GT(differ, 900);
}

TEST(DelayModel, ReorderPicks_NearTheirProbability_AndGetTheExtraDelay) {
  DelayModel m({.delay_ns = 1'000'000, .reorder_ppm = 50'000, .reorder_extra_ns = 3'000'000}, 3);
  int picks = 0;
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    const auto d = m.decide(0);
    if (d.reorder_pick) {
      ++picks;
      ASSERT_EQ(d.release_ns, 4'000'000u);
    } else {
      ASSERT_EQ(d.release_ns, 1'000'000u);
    }
  }
  EXPECT_NEAR(picks, n / 20, n / 200);  // 5% +- 0.5% (about 7 standard deviations)
}

TEST(Rng, ChancePpm_ZeroNeverOneMillionAlways) {
  Rng r(9);
  for (int i = 0; i < 1000; ++i) {
    ASSERT_FALSE(r.chance_ppm(0));
    ASSERT_TRUE(r.chance_ppm(kPpmOne));
  }
  EXPECT_EQ(r.below(0), 0u);
}

}  // namespace
}  // namespace xdptcp::impair
