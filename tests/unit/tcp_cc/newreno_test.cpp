// NewReno (RFC 5681, RFC 3465, RFC 6582): window growth and reductions, driven ACK by ACK.
#include "userstack/tcp/cc/newreno.h"

#include <gtest/gtest.h>

namespace xdptcp::tcp {
namespace {

constexpr std::uint32_t kMss = 1000;
constexpr std::uint32_t kIw = 10 * kMss;

// One round trip of ACKs for a full window: `per_ack` bytes each, the sender keeping the window
// full (bytes_in_flight == cwnd before each ACK).
void ack_one_window(CongestionControl& cc, std::uint32_t per_ack, Instant& now) {
  const std::uint32_t window = cc.cwnd();
  for (std::uint32_t acked = 0; acked < window; acked += per_ack) {
    now += Duration::millis(1);
    cc.on_ack({.bytes_acked = per_ack, .bytes_in_flight = cc.cwnd(), .now = now});
  }
}

NewReno fresh(Instant now = {}) {
  NewReno r;
  r.init(kMss, kIw, now);
  return r;
}

TEST(NewReno, Init_InitialWindowAndHighSsthresh) {
  NewReno r = fresh();
  EXPECT_EQ(r.algorithm(), CcAlgorithm::kNewReno);
  EXPECT_EQ(r.cwnd(), kIw);
  // RFC 5681 §3.1: initial ssthresh "arbitrarily high".
  EXPECT_EQ(r.ssthresh(), cc::kMaxWindow);
}

TEST(NewReno, SlowStart_AckPerSegment_DoublesPerRtt) {
  // RFC 5681 §3.1: cwnd += SMSS per ACK of a full segment, so one window of ACKs doubles it.
  NewReno r = fresh();
  Instant now{};
  ack_one_window(r, kMss, now);
  EXPECT_EQ(r.cwnd(), 2 * kIw);
  ack_one_window(r, kMss, now);
  EXPECT_EQ(r.cwnd(), 4 * kIw);
}

TEST(NewReno, SlowStart_DelayedAcks_StillDoublesPerRtt) {
  // RFC 3465 §2.2 with L = 2: an ACK of two segments grows cwnd by 2 SMSS.
  NewReno r = fresh();
  Instant now{};
  ack_one_window(r, 2 * kMss, now);
  EXPECT_EQ(r.cwnd(), 2 * kIw);
  ack_one_window(r, 2 * kMss, now);
  EXPECT_EQ(r.cwnd(), 4 * kIw);
}

TEST(NewReno, SlowStart_StretchAck_LimitedToTwoSmss) {
  // RFC 3465 §2.2: cwnd += min(N, L*SMSS), L = 2.
  NewReno r = fresh();
  r.on_ack({.bytes_acked = 6 * kMss, .bytes_in_flight = kIw});
  EXPECT_EQ(r.cwnd(), kIw + 2 * kMss);
}

TEST(NewReno, SlowStart_AppLimited_DoesNotGrow) {
  // RFC 7661: an application-limited sender does not validate a larger window.
  NewReno r = fresh();
  r.on_ack({.bytes_acked = kMss, .bytes_in_flight = 2 * kMss});
  EXPECT_EQ(r.cwnd(), kIw);
}

TEST(NewReno, SlowStart_ReachesSsthresh_StopsThereAndCountsRestForAvoidance) {
  NewReno r = fresh();
  r.on_congestion_event(30 * kMss, {});  // ssthresh = 15 MSS
  r.set_cwnd(14 * kMss + kMss / 2);      // still in slow start (cwnd < ssthresh)
  // RFC 5681 §3.1: slow start while cwnd < ssthresh; this ACK would add 2 MSS but cwnd stops at
  // ssthresh and the remaining 1.5 MSS count towards congestion avoidance (RFC 3465 §2.1).
  r.on_ack({.bytes_acked = 2 * kMss, .bytes_in_flight = 15 * kMss});
  EXPECT_EQ(r.cwnd(), 15 * kMss);
  // 13.5 MSS more complete one window (15 MSS) of bytes_acked: cwnd += SMSS.
  for (int i = 0; i < 13; ++i) r.on_ack({.bytes_acked = kMss, .bytes_in_flight = 15 * kMss});
  EXPECT_EQ(r.cwnd(), 15 * kMss);
  r.on_ack({.bytes_acked = kMss / 2, .bytes_in_flight = 15 * kMss});
  EXPECT_EQ(r.cwnd(), 16 * kMss);
}

TEST(NewReno, CongestionAvoidance_GrowsOneMssPerRtt) {
  // RFC 5681 §3.1 / RFC 3465 §2.1: one SMSS per window of acknowledged bytes.
  NewReno r = fresh();
  r.set_cwnd(40 * kMss);
  r.on_congestion_event(40 * kMss, {});
  r.on_recovery_exit({});
  ASSERT_EQ(r.cwnd(), 20 * kMss);
  ASSERT_EQ(r.ssthresh(), 20 * kMss);
  Instant now{};
  ack_one_window(r, kMss, now);
  EXPECT_EQ(r.cwnd(), 21 * kMss);
  ack_one_window(r, kMss, now);
  EXPECT_EQ(r.cwnd(), 22 * kMss);
  ack_one_window(r, 2 * kMss, now);  // delayed ACKs: still one SMSS per RTT
  EXPECT_EQ(r.cwnd(), 23 * kMss);
}

TEST(NewReno, CongestionAvoidance_PartialWindow_NoGrowthYet) {
  NewReno r = fresh();
  r.set_cwnd(40 * kMss);
  r.on_congestion_event(40 * kMss, {});
  r.on_recovery_exit({});
  for (int i = 0; i < 19; ++i) r.on_ack({.bytes_acked = kMss, .bytes_in_flight = 20 * kMss});
  EXPECT_EQ(r.cwnd(), 20 * kMss);
  r.on_ack({.bytes_acked = kMss, .bytes_in_flight = 20 * kMss});
  EXPECT_EQ(r.cwnd(), 21 * kMss);
}

TEST(NewReno, CongestionEvent_HalvesFlightSize) {
  // RFC 5681 eq. (4): ssthresh = max(FlightSize / 2, 2*SMSS).
  NewReno r = fresh();
  r.set_cwnd(32 * kMss);
  r.on_congestion_event(30 * kMss, {});
  EXPECT_EQ(r.ssthresh(), 15 * kMss);
  EXPECT_EQ(r.cwnd(), 15 * kMss);
}

TEST(NewReno, CongestionEvent_SmallFlight_FloorOfTwoSmss) {
  NewReno r = fresh();
  r.on_congestion_event(3 * kMss, {});
  EXPECT_EQ(r.ssthresh(), 2 * kMss);
  EXPECT_EQ(r.cwnd(), 2 * kMss);
}

TEST(NewReno, RecoveryExit_DeflatesInflatedWindowToSsthresh) {
  // RFC 6582 §3.2 step 6 option (2).
  NewReno r = fresh();
  r.on_congestion_event(20 * kMss, {});
  r.set_cwnd(r.ssthresh() + 3 * kMss);  // the connection's step-3 inflation
  r.on_recovery_exit({});
  EXPECT_EQ(r.cwnd(), 10 * kMss);
}

TEST(NewReno, Rto_LossWindowOneSmssAndHalvedSsthresh) {
  // RFC 5681 §3.1: ssthresh per eq. (4), cwnd = LW = 1 SMSS.
  NewReno r = fresh();
  r.set_cwnd(24 * kMss);
  r.on_rto(24 * kMss, {});
  EXPECT_EQ(r.cwnd(), kMss);
  EXPECT_EQ(r.ssthresh(), 12 * kMss);
}

TEST(NewReno, RepeatedRto_SameSegment_KeepsSsthresh) {
  // RFC 5681 §3.1: only a segment "not yet ... resent by way of the retransmission timer"
  // lowers ssthresh.
  NewReno r = fresh();
  r.on_rto(24 * kMss, {});
  r.on_rto(kMss, {});
  EXPECT_EQ(r.ssthresh(), 12 * kMss);
  EXPECT_EQ(r.cwnd(), kMss);
  // New data acknowledged, then another timeout: a new loss, ssthresh recomputed.
  r.on_ack({.bytes_acked = kMss, .bytes_in_flight = 4 * kMss});
  r.on_rto(6 * kMss, {});
  EXPECT_EQ(r.ssthresh(), 3 * kMss);
}

TEST(NewReno, Rto_ThenSlowStartUpToSsthresh) {
  NewReno r = fresh();
  r.on_rto(16 * kMss, {});
  Instant now{};
  for (int i = 0; i < 3; ++i) ack_one_window(r, kMss, now);  // 1 -> 2 -> 4 -> 8 MSS
  EXPECT_EQ(r.cwnd(), 8 * kMss);
  EXPECT_EQ(r.ssthresh(), 8 * kMss);
  ack_one_window(r, kMss, now);  // cwnd == ssthresh: congestion avoidance, +1 SMSS per RTT
  EXPECT_EQ(r.cwnd(), 9 * kMss);
}

TEST(NewReno, IdleRestart_LargeWindow_ReducedToInitialWindow) {
  // RFC 5681 §4.1: cwnd = RW = min(IW, cwnd).
  NewReno r = fresh();
  r.set_cwnd(40 * kMss);
  r.on_idle_restart({});
  EXPECT_EQ(r.cwnd(), kIw);
  EXPECT_EQ(r.ssthresh(), cc::kMaxWindow);  // max(ssthresh, 3/4 cwnd) keeps the high value
}

TEST(NewReno, IdleRestart_RemembersThreeQuartersOfWindowInSsthresh) {
  NewReno r = fresh();
  r.on_congestion_event(16 * kMss, {});  // ssthresh 8 MSS
  r.set_cwnd(40 * kMss);
  r.on_idle_restart({});
  EXPECT_EQ(r.cwnd(), kIw);
  EXPECT_EQ(r.ssthresh(), 30 * kMss);
}

TEST(NewReno, IdleRestart_SmallWindow_Unchanged) {
  NewReno r = fresh();
  r.on_congestion_event(8 * kMss, {});  // cwnd 4 MSS < IW
  r.on_idle_restart({});
  EXPECT_EQ(r.cwnd(), 4 * kMss);
}

}  // namespace
}  // namespace xdptcp::tcp
