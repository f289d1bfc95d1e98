// DelayQueue (tools/impair/delay_queue.h): release order, the bound, and the reordering count.
#include "tools/impair/delay_queue.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace xdptcp::impair {
namespace {

struct Out {
  std::uint8_t tag;
  std::size_t port;
  std::uint64_t arrival;
};

std::vector<std::uint8_t> frame(std::uint8_t tag, std::size_t len = 60) {
  return std::vector<std::uint8_t>(len, tag);
}

std::vector<Out> release(DelayQueue& q, std::uint64_t now, std::size_t max = SIZE_MAX) {
  std::vector<Out> out;
  q.release_due(
      now,
      [&](std::span<std::uint8_t> f, std::size_t port, std::uint64_t arrival) {
        out.push_back({f[0], port, arrival});
      },
      max);
  return out;
}

TEST(DelayQueue, Empty_NothingDue_NoNextRelease) {
  DelayQueue q(4, 128);
  EXPECT_FALSE(q.next_release().has_value());
  EXPECT_TRUE(release(q, 1'000'000).empty());
}

TEST(DelayQueue, FramesLeaveInReleaseTimeOrder_NotBeforeTheirTime) {
  DelayQueue q(8, 128);
  ASSERT_EQ(q.push(frame(1), 300, 0, 10), DelayQueue::PushResult::kQueued);
  ASSERT_EQ(q.push(frame(2), 100, 0, 20), DelayQueue::PushResult::kQueued);
  ASSERT_EQ(q.push(frame(3), 200, 1, 30), DelayQueue::PushResult::kQueued);
  EXPECT_EQ(q.next_release(), 100u);
  EXPECT_TRUE(release(q, 99).empty());
  auto first = release(q, 200);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].tag, 2);
  EXPECT_EQ(first[0].arrival, 20u);
  EXPECT_EQ(first[1].tag, 3);
  EXPECT_EQ(first[1].port, 1u);
  EXPECT_EQ(q.next_release(), 300u);
  auto rest = release(q, 1000);
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].tag, 1);
  EXPECT_EQ(q.size(), 0u);
  EXPECT_EQ(q.counters().released, 3u);
}

TEST(DelayQueue, EqualReleaseTimes_KeepArrivalOrder_NoReordering) {
  DelayQueue q(64, 64);
  for (std::uint8_t i = 0; i < 50; ++i) ASSERT_EQ(q.push(frame(i), 500, 0), DelayQueue::PushResult::kQueued);
  auto out = release(q, 500);
  ASSERT_EQ(out.size(), 50u);
  for (std::uint8_t i = 0; i < 50; ++i) EXPECT_EQ(out[i].tag, i);
  EXPECT_EQ(q.counters().reordered, 0u);
}

TEST(DelayQueue, FrameOvertaken_CountsAsReordered_OnlyWithinItsPort) {
  DelayQueue q(8, 64);
  ASSERT_EQ(q.push(frame(1), 900, 0), DelayQueue::PushResult::kQueued);  // held back
  ASSERT_EQ(q.push(frame(2), 100, 0), DelayQueue::PushResult::kQueued);  // overtakes 1
  ASSERT_EQ(q.push(frame(3), 200, 0), DelayQueue::PushResult::kQueued);  // overtakes 1
  ASSERT_EQ(q.push(frame(4), 50, 1), DelayQueue::PushResult::kQueued);   // other port: no effect on port 0
  auto out = release(q, 1000);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].tag, 4);
  EXPECT_EQ(out[3].tag, 1);
  // Only frame 1 left after a later arrival of its own port.
  EXPECT_EQ(q.counters().reordered, 1u);
}

TEST(DelayQueue, Full_RefusesAndCounts_ThenAcceptsOnceReleased) {
  DelayQueue q(2, 64);
  EXPECT_EQ(q.push(frame(1), 10, 0), DelayQueue::PushResult::kQueued);
  EXPECT_EQ(q.push(frame(2), 20, 0), DelayQueue::PushResult::kQueued);
  EXPECT_EQ(q.push(frame(3), 5, 0), DelayQueue::PushResult::kFull);  // tail drop, even if due earlier
  EXPECT_EQ(q.counters().full, 1u);
  EXPECT_EQ(q.size(), 2u);
  auto out = release(q, 10);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].tag, 1);
  EXPECT_EQ(q.push(frame(4), 30, 0), DelayQueue::PushResult::kQueued);
  EXPECT_EQ(q.counters().queued, 3u);
}

TEST(DelayQueue, FrameLongerThanSlot_RefusedAsTooBig_ExactFitAccepted) {
  DelayQueue q(2, 100);
  EXPECT_EQ(q.push(frame(1, 101), 0, 0), DelayQueue::PushResult::kTooBig);
  EXPECT_EQ(q.counters().too_big, 1u);
  EXPECT_EQ(q.push(frame(2, 100), 0, 0), DelayQueue::PushResult::kQueued);
  std::size_t len = 0;
  q.release_due(0, [&](std::span<std::uint8_t> f, std::size_t, std::uint64_t) { len = f.size(); });
  EXPECT_EQ(len, 100u);
}

TEST(DelayQueue, PortOutOfRange_Refused) {
  DelayQueue q(2, 64);
  EXPECT_EQ(q.push(frame(1), 0, DelayQueue::kMaxPorts), DelayQueue::PushResult::kBadPort);
  EXPECT_EQ(q.size(), 0u);
}

TEST(DelayQueue, ReleaseDue_HonoursMaxFrames) {
  DelayQueue q(8, 64);
  for (std::uint8_t i = 0; i < 5; ++i) ASSERT_EQ(q.push(frame(i), i, 0), DelayQueue::PushResult::kQueued);
  EXPECT_EQ(release(q, 100, 2).size(), 2u);
  EXPECT_EQ(q.size(), 3u);
  EXPECT_EQ(release(q, 100).size(), 3u);
}

TEST(DelayQueue, SlotsAreReused_BytesIntact) {
  // Fill and drain many times over: every frame comes back byte for byte from a recycled slot.
  DelayQueue q(3, 32);
  std::uint64_t t = 0;
  for (int round = 0; round < 100; ++round) {
    for (std::uint8_t i = 0; i < 3; ++i) {
      std::vector<std::uint8_t> f(static_cast<std::size_t>(1 + (round + i) % 32));
      for (std::size_t k = 0; k < f.size(); ++k) f[k] = static_cast<std::uint8_t>(round * 7 + i + k);
      ASSERT_EQ(q.push(f, t + 3 - i, 0), DelayQueue::PushResult::kQueued);
    }
    int seen = 0;
    q.release_due(t + 3, [&](std::span<std::uint8_t> f, std::size_t, std::uint64_t) {
      const std::uint8_t i = static_cast<std::uint8_t>(2 - seen);  // released latest-pushed first
      ASSERT_EQ(f.size(), static_cast<std::size_t>(1 + (round + i) % 32));
      for (std::size_t k = 0; k < f.size(); ++k)
        ASSERT_EQ(f[k], static_cast<std::uint8_t>(round * 7 + i + k));
      ++seen;
    });
    ASSERT_EQ(seen, 3);
    t += 10;
  }
  EXPECT_EQ(q.counters().full, 0u);
}

}  // namespace
}  // namespace xdptcp::impair
