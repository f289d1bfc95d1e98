// CUBIC (RFC 9438): the curve, its regions, multiplicative decrease, fast convergence, timeout,
// idle restart and application-limited periods. Expected values come from the RFC's equations,
// evaluated here independently of the implementation.
#include "userstack/tcp/cc/cubic.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

namespace xdptcp::tcp {
namespace {

constexpr std::uint32_t kMss = 1000;
constexpr std::uint32_t kIw = 10 * kMss;
constexpr double kC = 0.4;
constexpr double kBeta = 0.7;
constexpr double kAlpha = 3 * (1 - kBeta) / (1 + kBeta);  // §4.3
const Duration kRtt = Duration::millis(100);
const Instant kT0 = Instant{} + Duration::seconds(10);

// Eq. (1) and eq. (2) of RFC 9438, in segments and seconds.
double ref_w_cubic(double t, double k, double w_max) {
  return kC * std::pow(t - k, 3) + w_max;
}
double ref_k(double w_max, double cwnd_epoch) {
  return std::cbrt((w_max - cwnd_epoch) / kC);
}

double segments(const Cubic& c) {
  return static_cast<double>(c.cwnd()) / kMss;
}

AckSample ack(const Cubic& c, Instant now, std::uint32_t bytes = kMss, Duration srtt = kRtt) {
  return {.bytes_acked = bytes, .bytes_in_flight = c.cwnd(), .rtt = srtt, .srtt = srtt, .now = now};
}

// A connection that lost a packet with cwnd = `w` segments (all in flight) and finished recovery.
Cubic after_loss_at(std::uint32_t w) {
  Cubic c;
  c.init(kMss, kIw, {});
  c.set_cwnd(w * kMss);
  c.on_congestion_event(w * kMss, kT0);
  c.on_recovery_exit(kT0);
  return c;
}

TEST(Cubic, Constants_MatchRfc9438) {
  EXPECT_EQ(Cubic::kC, 0.4);                         // §4.1.1
  EXPECT_EQ(Cubic::kBeta, 0.7);                      // §4.1.1
  EXPECT_NEAR(Cubic::kAlphaReno, 0.9 / 1.7, 1e-12);  // §4.3: 3 * (1 - 0.7) / (1 + 0.7)
}

TEST(Cubic, Loss_ReducesByBeta07) {
  // §4.6: ssthresh = flight_size * beta_cubic; cwnd = max(ssthresh, 2).
  Cubic c = after_loss_at(100);
  EXPECT_EQ(c.ssthresh(), 70 * kMss);
  EXPECT_EQ(c.cwnd(), 70 * kMss);
  EXPECT_DOUBLE_EQ(c.w_max(), 100.0);
}

TEST(Cubic, Loss_TinyFlight_FloorOfTwoSegments) {
  Cubic c;
  c.init(kMss, kIw, {});
  c.on_congestion_event(2 * kMss, {});  // 1.4 segments -> 2
  EXPECT_EQ(c.ssthresh(), 2 * kMss);
  EXPECT_EQ(c.cwnd(), 2 * kMss);
}

TEST(Cubic, FirstAvoidanceAck_StartsEpoch_KFromEquation2) {
  Cubic c = after_loss_at(100);
  EXPECT_FALSE(c.in_epoch());
  c.on_ack(ack(c, kT0));
  ASSERT_TRUE(c.in_epoch());
  EXPECT_DOUBLE_EQ(c.cwnd_epoch(), 70.0);
  EXPECT_DOUBLE_EQ(c.w_max(), 100.0);
  // Eq. (2): K = cubic_root((W_max - cwnd_epoch) / C) = cbrt(75) = 4.2172 s.
  EXPECT_NEAR(c.k(), ref_k(100, 70), 1e-12);
  EXPECT_NEAR(c.k(), 4.2172, 1e-4);
}

TEST(Cubic, Curve_Equation1_AtSeveralTimes) {
  Cubic c = after_loss_at(100);
  c.on_ack(ack(c, kT0));
  const double k = ref_k(100, 70);
  EXPECT_NEAR(c.w_cubic(0), 70.0, 1e-9);    // starts at cwnd_epoch
  EXPECT_NEAR(c.w_cubic(k), 100.0, 1e-12);  // plateau at W_max after K seconds
  for (double t : {0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0}) {
    EXPECT_NEAR(c.w_cubic(t), ref_w_cubic(t, k, 100), 1e-9) << "t=" << t;
  }
  EXPECT_NEAR(c.w_cubic(k + 2), 100 + 0.4 * 8, 1e-9);
}

// One congestion-avoidance step at time t after the epoch, computed from the RFC: W_est per
// eq. (4), then the Reno-friendly rule (§4.3) or the (target - cwnd) / cwnd increment (§4.4,
// §4.5) with target = W_cubic(t + RTT) bounded to [cwnd, 1.5 cwnd] (§4.2).
struct RefState {
  double cwnd, w_est, w_max, k, cwnd_prior;
};
void ref_step(RefState& s, double t, double rtt, double segments_acked) {
  const double target = std::clamp(ref_w_cubic(t + rtt, s.k, s.w_max), s.cwnd, 1.5 * s.cwnd);
  s.w_est += (s.w_est >= s.cwnd_prior ? 1.0 : kAlpha) * segments_acked / s.cwnd;
  if (ref_w_cubic(t, s.k, s.w_max) < s.w_est) {
    s.cwnd = std::max(s.cwnd, s.w_est);
  } else {
    s.cwnd += (target - s.cwnd) / s.cwnd * segments_acked;
  }
}

TEST(Cubic, AvoidanceAck_AtSeveralTimes_MatchesRfcIncrement) {
  const double k = ref_k(100, 70);
  for (double t : {0.5, 1.0, 2.5, 4.0, k + 0.5, k + 1.0, k + 5.0}) {
    Cubic c = after_loss_at(100);
    RefState ref{70, 70, 100, k, 100};
    c.on_ack(ack(c, kT0));
    ref_step(ref, 0, 0.1, 1);
    ASSERT_NEAR(c.cwnd(), ref.cwnd * kMss, 1.0) << "t=0";
    const double before = segments(c);
    c.on_ack(ack(c, kT0 + Duration::nanos(static_cast<std::int64_t>(t * 1e9))));
    ref_step(ref, t, 0.1, 1);
    EXPECT_NEAR(c.cwnd(), ref.cwnd * kMss, 1.0) << "t=" << t;
    EXPECT_GT(segments(c), before) << "t=" << t;
  }
}

TEST(Cubic, ConcaveRegion_IncrementIsTargetMinusCwndOverCwnd) {
  // §4.4 at t = 1 s: cwnd 70 < W_max 100, W_cubic(1) = 86.7 above W_est (~70): concave.
  Cubic c = after_loss_at(100);
  c.on_ack(ack(c, kT0));
  const double c1 = c.cwnd() / double(kMss);
  c.on_ack(ack(c, kT0 + Duration::seconds(1)));
  const double target = ref_w_cubic(1.1, c.k(), 100);
  EXPECT_NEAR(target, 87.88, 0.01);
  EXPECT_NEAR(segments(c), c1 + (target - c1) / c1, 1.0 / kMss);
}

TEST(Cubic, ConvexRegion_CwndAboveWmax_GrowsTowardsCurve) {
  // §4.5 at t = K + 3: cwnd 110 >= W_max 100, target = W_cubic(K + 3.1) = 100 + 0.4 * 3.1^3.
  Cubic c = after_loss_at(100);
  c.on_ack(ack(c, kT0));
  c.set_cwnd(110 * kMss);
  c.on_ack(ack(c, kT0 + Duration::millis(static_cast<std::int64_t>((c.k() + 3) * 1000))));
  const double target = 100 + 0.4 * std::pow(3.1, 3);
  EXPECT_NEAR(segments(c), 110 + (target - 110) / 110, 1.0 / kMss + 1e-3);
}

TEST(Cubic, FarAheadCurve_TargetCappedAtOneAndAHalfCwnd) {
  // §4.2: target = 1.5 * cwnd when W_cubic(t + RTT) > 1.5 * cwnd (t = K + 5: W = 153 > 105).
  Cubic c = after_loss_at(100);
  c.on_ack(ack(c, kT0));
  const double c1 = c.cwnd() / double(kMss);
  c.on_ack(ack(c, kT0 + Duration::millis(static_cast<std::int64_t>((c.k() + 5) * 1000))));
  EXPECT_NEAR(segments(c), c1 + 0.5, 1.0 / kMss);  // (1.5 cwnd - cwnd) / cwnd = 0.5 per segment
}

TEST(Cubic, CurveBelowCwnd_TargetIsCwnd_NoGrowth) {
  // §4.2: target = cwnd when W_cubic(t + RTT) < cwnd; not Reno-friendly either (W_est ~70).
  Cubic c = after_loss_at(100);
  c.on_ack(ack(c, kT0));
  c.set_cwnd(95 * kMss);
  c.on_ack(ack(c, kT0 + Duration::seconds(1)));  // W_cubic(1.1) = 87.9 < 95
  EXPECT_EQ(c.cwnd(), 95 * kMss);
}

TEST(Cubic, AckClockedGrowth_FollowsCurve) {
  // A full window acknowledged per RTT, one ACK per segment. Because target looks one RTT ahead,
  // cwnd at time t stays within about one RTT's growth of W_cubic(t). The RTT is 200 ms so that
  // W_est (about 0.53 segment per RTT from 70) stays below the curve for the 8 s observed:
  // concave region, plateau at W_max = 100 around K = 4.2 s, convex region after.
  const Duration rtt = Duration::millis(200);
  Cubic c = after_loss_at(100);
  const double k = ref_k(100, 70);
  Instant now = kT0;
  c.on_ack(ack(c, now, kMss, rtt));
  for (int round = 0; round < 40; ++round) {
    const std::uint32_t n = c.cwnd() / kMss;
    for (std::uint32_t i = 0; i < n; ++i) {
      now += rtt / n;
      c.on_ack(ack(c, now, kMss, rtt));
    }
    const double t = static_cast<double>((now - kT0).ns) / 1e9;
    const double curve = ref_w_cubic(t, k, 100);
    const double slope = 3 * kC * (t - k) * (t - k);  // dW/dt in segments per second
    ASSERT_LT(c.w_est(), curve) << "t=" << t;         // still the cubic regions
    EXPECT_NEAR(segments(c), curve, slope * 0.2 + 0.5) << "t=" << t;
  }
  EXPECT_GT(segments(c), 110.0);  // W_cubic(8) = 111.5: well into the convex region
}

TEST(Cubic, RenoFriendly_ShortRtt_FollowsWest) {
  // §4.3: with a 1 ms RTT the cubic curve barely moves in 200 ms while Reno would add about a
  // segment per RTT: cwnd follows W_est, not W_cubic.
  Cubic c = after_loss_at(10);
  Instant now = kT0;
  const Duration rtt = Duration::millis(1);
  c.on_ack(ack(c, now, kMss, rtt));
  for (int round = 0; round < 200; ++round) {
    const std::uint32_t n = c.cwnd() / kMss;
    for (std::uint32_t i = 0; i < n; ++i) {
      now += rtt / n;
      c.on_ack(ack(c, now, kMss, rtt));
    }
  }
  const double t = static_cast<double>((now - kT0).ns) / 1e9;
  EXPECT_LT(c.w_cubic(t), 10.0);
  EXPECT_NEAR(segments(c), c.w_est(), 1.0 / kMss);
  // 3 segments at alpha = 0.53 (about 6 RTTs), then one per RTT: about 10 + 194.
  EXPECT_GT(segments(c), 195.0);
  EXPECT_LT(segments(c), 210.0);
}

TEST(Cubic, RenoFriendly_AlphaBecomesOneOnceWestReachesCwndPrior) {
  // §4.3: alpha_cubic = 0.53 until W_est >= cwnd_prior (the cwnd when ssthresh was set), then 1.
  // Time stands still so that W_cubic(t) = cwnd_epoch and the Reno-friendly rule applies.
  Cubic c = after_loss_at(10);
  c.on_ack(ack(c, kT0));
  auto one_window = [&] {
    const double before = c.w_est();
    const std::uint32_t n = c.cwnd() / kMss;
    for (std::uint32_t i = 0; i < n; ++i) c.on_ack(ack(c, kT0));
    return c.w_est() - before;
  };
  const double early = one_window();  // W_est about 7 -> 7.5
  EXPECT_GT(early, 0.49);
  EXPECT_LT(early, kAlpha + 0.001);
  while (c.w_est() < 10.0) one_window();
  const double late = one_window();
  EXPECT_GT(late, 0.9);
  EXPECT_LE(late, 1.0 + 1e-9);
}

TEST(Cubic, FastConvergence_LossBelowWmax_ReducesWmaxFurther) {
  // §4.7: cwnd < W_max at the congestion event: W_max = cwnd * (1 + beta_cubic) / 2.
  Cubic c = after_loss_at(100);
  c.set_cwnd(80 * kMss);
  c.on_congestion_event(80 * kMss, kT0);
  EXPECT_DOUBLE_EQ(c.w_max(), 80 * 0.85);
  EXPECT_EQ(c.ssthresh(), 56 * kMss);
}

TEST(Cubic, FastConvergenceOff_LossBelowWmax_RemembersCwnd) {
  Cubic c = after_loss_at(100);
  c.set_fast_convergence(false);
  c.set_cwnd(80 * kMss);
  c.on_congestion_event(80 * kMss, kT0);
  EXPECT_DOUBLE_EQ(c.w_max(), 80.0);
}

TEST(Cubic, LossAboveWmax_RemembersCwnd) {
  Cubic c = after_loss_at(100);
  c.set_cwnd(120 * kMss);
  c.on_congestion_event(120 * kMss, kT0);
  EXPECT_DOUBLE_EQ(c.w_max(), 120.0);
}

TEST(Cubic, Rto_LossWindowAndBetaSsthresh) {
  // §4.8: cwnd as Reno (1 SMSS, RFC 5681 §3.1), ssthresh with beta_cubic.
  Cubic c = after_loss_at(100);
  c.set_cwnd(50 * kMss);
  c.on_rto(50 * kMss, kT0);
  EXPECT_EQ(c.cwnd(), kMss);
  EXPECT_EQ(c.ssthresh(), 35 * kMss);
  c.on_rto(kMss, kT0 + Duration::seconds(1));  // the same segment again: ssthresh stays
  EXPECT_EQ(c.ssthresh(), 35 * kMss);
}

TEST(Cubic, Rto_NextAvoidanceEpoch_KZeroAndWmaxIsCwndEpoch) {
  // §4.8: "K is set to 0, and W_max is set to the congestion window size at the beginning of
  // the current congestion avoidance stage"; W_est starts there too.
  Cubic c = after_loss_at(100);  // W_max = 100
  c.set_cwnd(50 * kMss);
  c.on_rto(50 * kMss, kT0);
  Instant now = kT0;
  while (c.cwnd() < c.ssthresh()) {  // slow start back to 35 MSS
    now += Duration::millis(10);
    c.on_ack(ack(c, now));
  }
  EXPECT_FALSE(c.in_epoch());
  now += Duration::millis(10);
  c.on_ack(ack(c, now));
  ASSERT_TRUE(c.in_epoch());
  EXPECT_DOUBLE_EQ(c.k(), 0.0);
  EXPECT_DOUBLE_EQ(c.w_max(), 35.0);
  EXPECT_DOUBLE_EQ(c.cwnd_epoch(), 35.0);
  EXPECT_NEAR(c.w_est(), 35.0, 0.05);
}

TEST(Cubic, SlowStart_DoublesPerRttBelowSsthresh) {
  Cubic c;
  c.init(kMss, kIw, {});
  Instant now{};
  for (int i = 0; i < 10; ++i) c.on_ack(ack(c, now += Duration::millis(1)));
  EXPECT_EQ(c.cwnd(), 2 * kIw);
  EXPECT_FALSE(c.in_epoch());
}

TEST(Cubic, IdleRestart_RestartWindowAndEpochEnds) {
  Cubic c = after_loss_at(100);
  c.on_ack(ack(c, kT0));
  ASSERT_TRUE(c.in_epoch());
  c.on_idle_restart(kT0 + Duration::seconds(30));
  // RFC 5681 §4.1: cwnd = min(IW, cwnd); ssthresh = max(ssthresh, 3/4 cwnd) keeps 70 MSS.
  EXPECT_EQ(c.cwnd(), kIw);
  EXPECT_EQ(c.ssthresh(), 70 * kMss);
  EXPECT_FALSE(c.in_epoch());
  EXPECT_DOUBLE_EQ(c.w_max(), 100.0);
}

TEST(Cubic, AppLimited_NoGrowthAndTimeExcludedFromT) {
  // §5.8: no increase while application limited, and t excludes those periods. A connection
  // application limited for 5 s of its epoch then grows as one that never paused.
  Cubic paused = after_loss_at(100);
  Cubic steady = after_loss_at(100);
  paused.on_ack(ack(paused, kT0));
  steady.on_ack(ack(steady, kT0));
  const std::uint32_t before = paused.cwnd();
  for (int s = 1; s <= 5; ++s) {
    paused.on_ack(
        {.bytes_acked = kMss, .bytes_in_flight = 5 * kMss, .srtt = kRtt, .now = kT0 + Duration::seconds(s)});
  }
  EXPECT_EQ(paused.cwnd(), before);
  paused.on_ack(ack(paused, kT0 + Duration::millis(5500)));
  steady.on_ack(ack(steady, kT0 + Duration::millis(500)));
  EXPECT_EQ(paused.cwnd(), steady.cwnd());
}

}  // namespace
}  // namespace xdptcp::tcp
