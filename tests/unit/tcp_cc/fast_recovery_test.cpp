// NewReno fast-recovery window arithmetic, RFC 6582 §3.2 steps 3-6 (fast_recovery.h).
#include "userstack/tcp/cc/fast_recovery.h"

#include <gtest/gtest.h>

namespace xdptcp::tcp::cc {
namespace {

constexpr std::uint32_t kMss = 1000;

TEST(FastRecovery, Entry_InflatesByThreeSegments) {
  static_assert(recovery_entry_cwnd(10 * kMss, kMss) == 13 * kMss);  // step 3
  EXPECT_EQ(recovery_entry_cwnd(10 * kMss, kMss), 13 * kMss);
}

TEST(FastRecovery, AdditionalDupAck_InflatesOneSegment) {
  EXPECT_EQ(recovery_dupack_cwnd(13 * kMss, kMss), 14 * kMss);  // step 4
}

TEST(FastRecovery, PartialAck_DeflatesByAckedAndAddsBackOneSegment) {
  // Step 5: 3 segments acked: cwnd - 3 SMSS + SMSS.
  EXPECT_EQ(recovery_partial_ack_cwnd(14 * kMss, 3 * kMss, kMss), 12 * kMss);
  // Less than one SMSS acked: no add-back.
  EXPECT_EQ(recovery_partial_ack_cwnd(14 * kMss, 500, kMss), 14 * kMss - 500);
  // Never below one SMSS.
  EXPECT_EQ(recovery_partial_ack_cwnd(2 * kMss, 5 * kMss, kMss), kMss);
}

TEST(FastRecovery, FullAck_Option1_BoundedByFlightSize) {
  // Step 6 (1): min(ssthresh, max(FlightSize, SMSS) + SMSS).
  EXPECT_EQ(recovery_full_ack_cwnd(10 * kMss, 20 * kMss, kMss), 10 * kMss);
  EXPECT_EQ(recovery_full_ack_cwnd(10 * kMss, 3 * kMss, kMss), 4 * kMss);
  EXPECT_EQ(recovery_full_ack_cwnd(10 * kMss, 0, kMss), 2 * kMss);
}

}  // namespace
}  // namespace xdptcp::tcp::cc
