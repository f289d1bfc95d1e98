// The transmit-time log RACK reads (RFC 8985 §6.1), its bound, and the RACK scan of the SACK
// scoreboard (RFC 8985 §6.2 step 5) over it.
#include "userstack/tcp/xmit_log.h"

#include <gtest/gtest.h>

#include "userstack/tcp/sack_scoreboard.h"

namespace xdptcp::tcp {
namespace {

constexpr std::uint32_t kMss = 1000;
const SeqNum kBase(0xFFFFF000u);  // across the 2^32 wrap

Instant ms(std::int64_t m) {
  return Instant{1'000'000'000 + m * 1'000'000};
}
SeqNum at(std::uint32_t off) {
  return kBase + off;
}

TEST(XmitLog, BurstAtOneInstant_OneRecord) {
  XmitLog log;
  for (std::uint32_t i = 0; i < 10; ++i) log.record(at(i * kMss), at((i + 1) * kMss), ms(0), false);
  ASSERT_EQ(log.records().size(), 1u);
  EXPECT_EQ(log.records()[0].left, at(0));
  EXPECT_EQ(log.records()[0].right, at(10 * kMss));
  EXPECT_EQ(log.records()[0].ts(), ms(0));
  EXPECT_FALSE(log.records()[0].retransmitted());
}

TEST(XmitLog, Retransmission_SplitsAndMarks) {
  XmitLog log;
  log.record(at(0), at(3 * kMss), ms(0), false);
  log.record(at(kMss), at(2 * kMss), ms(5), true);
  auto r = log.records();
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[1].left, at(kMss));
  EXPECT_EQ(r[1].right, at(2 * kMss));
  EXPECT_EQ(r[1].ts(), ms(5));
  EXPECT_TRUE(r[1].retransmitted());
  EXPECT_EQ(r[0].ts(), ms(0));
  EXPECT_EQ(r[2].ts(), ms(0));
  log.advance(at(kMss + 500));
  ASSERT_EQ(log.records().size(), 2u);
  EXPECT_EQ(log.records()[0].left, at(kMss + 500));
}

// The bound: more distinct instants than records merge the closest neighbours into one with the
// later time; the log still covers everything sent, in order.
TEST(XmitLog, MoreInstantsThanRecords_MergedConservatively) {
  XmitLog log;
  const std::uint32_t n = XmitLog::kMaxRecords * 3;
  for (std::uint32_t i = 0; i < n; ++i) log.record(at(i * kMss), at((i + 1) * kMss), ms(i), false);
  auto r = log.records();
  ASSERT_EQ(r.size(), XmitLog::kMaxRecords);
  EXPECT_EQ(r.front().left, at(0));
  EXPECT_EQ(r.back().right, at(n * kMss));
  for (std::size_t i = 0; i + 1 < r.size(); ++i) EXPECT_EQ(r[i].right, r[i + 1].left);
  // Every byte's recorded time is at or after its real one (never earlier: never lost sooner).
  for (const auto& rec : r) {
    const std::uint32_t last_seg = static_cast<std::uint32_t>(rec.right - kBase) / kMss - 1;
    EXPECT_EQ(rec.ts(), ms(last_seg));
  }
}

TEST(RackScan, SentBeforeDeliveredAndOlderThanRttPlusReoWnd_Lost) {
  SackScoreboard sb;
  sb.xmit().record(at(0), at(2 * kMss), ms(0), false);
  sb.xmit().record(at(2 * kMss), at(4 * kMss), ms(10), false);
  // Segment 1 (sent at 0) SACKed; segment 0 is a hole; 2..3 were sent later.
  const SackBlock b{at(kMss), at(2 * kMss)};
  sb.update(at(0), at(4 * kMss), {&b, 1});
  RackView v;
  v.xmit_ts = ms(0);
  v.end_seq = at(2 * kMss);
  v.rtt = Duration::millis(20);
  v.reo_wnd = Duration::millis(5);
  v.now = ms(24);
  RackScan s = sb.rack_scan(at(0), at(4 * kMss), v);
  EXPECT_FALSE(s.lost);
  EXPECT_TRUE(s.waiting);
  EXPECT_EQ(s.wait, Duration::millis(1));
  EXPECT_EQ(s.pipe, 3 * kMss);
  v.now = ms(25);
  s = sb.rack_scan(at(0), at(4 * kMss), v);
  ASSERT_TRUE(s.lost);
  EXPECT_EQ(s.lost_left, at(0));
  EXPECT_EQ(s.lost_right, at(kMss));
  EXPECT_EQ(s.pipe, 2 * kMss);  // the lost segment is not in flight
  EXPECT_FALSE(s.waiting);      // segments 2..3 were sent after the delivered one
}

TEST(RackScan, HighestHole_TailAboveSackedData) {
  SackScoreboard sb;
  const SackBlock b{at(kMss), at(3 * kMss)};
  sb.update(at(0), at(5 * kMss), {&b, 1});
  auto h = sb.highest_hole(at(0), at(5 * kMss));
  ASSERT_TRUE(h);
  EXPECT_EQ(h->left, at(3 * kMss));
  EXPECT_EQ(h->right, at(5 * kMss));
  const SackBlock all{at(kMss), at(5 * kMss)};
  sb.update(at(0), at(5 * kMss), {&all, 1});
  h = sb.highest_hole(at(0), at(5 * kMss));
  ASSERT_TRUE(h);
  EXPECT_EQ(h->left, at(0));
  EXPECT_EQ(h->right, at(kMss));
}

}  // namespace
}  // namespace xdptcp::tcp
