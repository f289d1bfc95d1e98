// Unit tests of MonotonicClock (userstack/time/monotonic_clock.h) and the Duration/Instant values.
#include "userstack/time/monotonic_clock.h"

#include <gtest/gtest.h>

namespace xdptcp {
namespace {

TEST(MonotonicClock, Now_NeverGoesBackwards) {
  MonotonicClock clock;
  const Clock& as_clock = clock;
  Instant prev = as_clock.now();
  EXPECT_GT(prev.ns, 0);
  for (int i = 0; i < 1000; ++i) {
    const Instant next = as_clock.now();
    ASSERT_GE(next, prev);
    prev = next;
  }
}

TEST(Duration, Units_ConvertBothWays) {
  EXPECT_EQ(Duration::millis(3).ns, 3'000'000);
  EXPECT_EQ(Duration::seconds(2).as_millis(), 2'000);
  EXPECT_EQ(Duration::micros(1500).as_millis(), 1);
  EXPECT_EQ((Instant{100} + Duration::nanos(5)) - Instant{100}, Duration::nanos(5));
}

}  // namespace
}  // namespace xdptcp
