// RTT estimation and RTO, RFC 6298 §2 and §5. The expected values are worked by hand from the
// RFC's formulas (alpha = 1/8, beta = 1/4, K = 4) and are exact in nanoseconds.
#include "userstack/tcp/rtt_estimator.h"

#include <gtest/gtest.h>

namespace xdptcp::tcp {
namespace {

Duration us(std::int64_t v) {
  return Duration::micros(v);
}
Duration ms(std::int64_t v) {
  return Duration::millis(v);
}

TEST(RttEstimator, NoSample_InitialRtoOneSecond) {
  // (2.1): RTO <- 1 second until a measurement.
  RttEstimator e;
  EXPECT_FALSE(e.has_sample());
  EXPECT_EQ(e.rto(), Duration::seconds(1));
}

TEST(RttEstimator, FirstSample_Rule22) {
  // (2.2): SRTT <- R, RTTVAR <- R/2, RTO <- SRTT + max(G, K*RTTVAR) = 100 + 4*50 = 300 ms.
  RttEstimator e;
  e.sample(ms(100));
  EXPECT_TRUE(e.has_sample());
  EXPECT_EQ(e.srtt(), ms(100));
  EXPECT_EQ(e.rttvar(), ms(50));
  EXPECT_EQ(e.rto(), ms(300));
  EXPECT_EQ(e.min_rtt(), ms(100));
}

TEST(RttEstimator, LaterSamples_Rule23_RttvarUsesOldSrtt) {
  RttEstimator e;
  e.sample(ms(100));
  // (2.3) with R' = 200 ms: RTTVAR = 3/4 * 50 + 1/4 * |100 - 200| = 62.5 ms;
  // SRTT = 7/8 * 100 + 1/8 * 200 = 112.5 ms; RTO = 112.5 + 4 * 62.5 = 362.5 ms.
  e.sample(ms(200));
  EXPECT_EQ(e.rttvar(), us(62'500));
  EXPECT_EQ(e.srtt(), us(112'500));
  EXPECT_EQ(e.rto(), us(362'500));
  // R' = 50 ms: RTTVAR = 3/4 * 62.5 + 1/4 * |112.5 - 50| = 62.5 ms (with the new SRTT it would
  // be 60.546875); SRTT = 7/8 * 112.5 + 1/8 * 50 = 104.6875 ms; RTO = 104.6875 + 250.
  e.sample(ms(50));
  EXPECT_EQ(e.rttvar(), us(62'500));
  EXPECT_EQ(e.srtt(), Duration::nanos(104'687'500));
  EXPECT_EQ(e.rto(), Duration::nanos(354'687'500));
  EXPECT_EQ(e.min_rtt(), ms(50));
}

TEST(RttEstimator, SmallRto_ClampedToMinimum) {
  // (2.4) rounds up to the minimum: 1 ms + 4 * 0.5 ms = 3 ms -> 200 ms (Linux's floor).
  RttEstimator e;
  e.sample(ms(1));
  EXPECT_EQ(e.rto(), ms(200));
  // With the RFC's own 1 s minimum.
  RttEstimator rfc(RtoConfig{.min = Duration::seconds(1)});
  rfc.sample(ms(1));
  EXPECT_EQ(rfc.rto(), Duration::seconds(1));
}

TEST(RttEstimator, LargeRto_ClampedToMaximum) {
  // (2.5): 100 s + 4 * 50 s = 300 s, capped at 120 s.
  RttEstimator e;
  e.sample(Duration::seconds(100));
  EXPECT_EQ(e.rto(), Duration::seconds(120));
}

TEST(RttEstimator, SteadyRtt_VarianceBelowGranularity_RtoIsSrttPlusG) {
  // RTO = SRTT + max(G, K*RTTVAR): RTTVAR decays by 3/4 per identical sample until 4*RTTVAR < G.
  RttEstimator e(RtoConfig{.min = Duration{}, .granularity = ms(10)});
  for (int i = 0; i < 40; ++i) e.sample(ms(100));
  EXPECT_EQ(e.srtt(), ms(100));
  EXPECT_LT(e.rttvar() * 4, ms(10));
  EXPECT_EQ(e.rto(), ms(110));
}

TEST(RttEstimator, Backoff_DoublesUpToMaximum) {
  // (5.5): RTO <- RTO * 2, bounded by the (2.5) maximum.
  RttEstimator e(RtoConfig{.max = Duration::seconds(2)});
  e.sample(ms(100));  // 300 ms
  e.backoff();
  EXPECT_EQ(e.rto(), ms(600));
  e.backoff();
  EXPECT_EQ(e.rto(), ms(1200));
  e.backoff();
  EXPECT_EQ(e.rto(), Duration::seconds(2));
  for (int i = 0; i < 100; ++i) e.backoff();  // no overflow however often
  EXPECT_EQ(e.rto(), Duration::seconds(2));
  EXPECT_EQ(e.backoff_count(), 103u);
}

TEST(RttEstimator, BackoffBeforeSample_DoublesInitialRto) {
  // SYN retransmissions: 1 s, 2 s, 4 s.
  RttEstimator e;
  e.backoff();
  EXPECT_EQ(e.rto(), Duration::seconds(2));
  e.backoff();
  EXPECT_EQ(e.rto(), Duration::seconds(4));
}

TEST(RttEstimator, ResetBackoff_RestoresComputedRto) {
  RttEstimator e;
  e.sample(ms(100));
  e.backoff();
  e.backoff();
  e.reset_backoff();
  EXPECT_EQ(e.backoff_count(), 0u);
  EXPECT_EQ(e.rto(), ms(300));
}

TEST(RttEstimator, SampleAfterBackoff_RecomputesAndClearsBackoff) {
  RttEstimator e;
  e.sample(ms(100));
  e.backoff();
  e.sample(ms(100));  // RTTVAR = 37.5 ms, SRTT = 100 ms: RTO = 250 ms
  EXPECT_EQ(e.backoff_count(), 0u);
  EXPECT_EQ(e.rto(), ms(250));
}

TEST(RttEstimator, SynTimeout_NoSample_RtoThreeSeconds) {
  // (5.7): after a SYN timeout, RTO is re-initialised to 3 s when data transmission begins.
  RttEstimator e;
  e.backoff();
  e.restore_after_syn_timeout();
  EXPECT_EQ(e.backoff_count(), 0u);
  EXPECT_EQ(e.rto(), Duration::seconds(3));
  e.sample(ms(100));  // the first measurement replaces the fallback
  EXPECT_EQ(e.rto(), ms(300));
}

TEST(RttEstimator, SynTimeout_WithTimestampSample_KeepsMeasuredRto) {
  RttEstimator e;
  e.sample(ms(100));
  e.restore_after_syn_timeout();
  EXPECT_EQ(e.rto(), ms(300));
}

TEST(RttEstimator, ClearEstimates_NextSampleIsFirst) {
  // §5 note: after clearing, "they should be initialized with the next RTT sample taken per
  // (2.2) rather than using (2.3)".
  RttEstimator e;
  e.sample(ms(100));
  e.backoff();
  e.clear_estimates();
  EXPECT_FALSE(e.has_sample());
  EXPECT_EQ(e.rto(), ms(600));  // the backed-off timer stays until a measurement
  e.sample(ms(400));
  EXPECT_EQ(e.srtt(), ms(400));
  EXPECT_EQ(e.rttvar(), ms(200));
  EXPECT_EQ(e.min_rtt(), ms(100));  // the path's minimum is remembered
}

TEST(RttEstimator, MinRtt_TracksSmallestAndIgnoresNegative) {
  RttEstimator e;
  e.sample(ms(30));
  e.sample(ms(10));
  e.sample(ms(20));
  EXPECT_EQ(e.min_rtt(), ms(10));
  const Duration srtt = e.srtt();
  e.sample(ms(-5));
  EXPECT_EQ(e.min_rtt(), ms(10));
  EXPECT_EQ(e.srtt(), srtt);
}

}  // namespace
}  // namespace xdptcp::tcp
