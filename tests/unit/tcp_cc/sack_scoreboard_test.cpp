// The SACK scoreboard, RFC 6675 (RFC 2018 blocks, RFC 2883 D-SACK). Most tests run at several
// positions of the sequence space, including across the 2^32 wrap, with the same expectations.
#include "userstack/tcp/sack_scoreboard.h"

#include <gtest/gtest.h>

#include <vector>

namespace xdptcp::tcp {
namespace {

constexpr std::uint32_t kMss = 1000;

class SackScoreboardTest : public ::testing::TestWithParam<std::uint32_t> {
 protected:
  // Sequence numbers relative to the base (snd_una at the start).
  SeqNum at(std::int64_t off) const { return SeqNum(GetParam()) + static_cast<std::uint32_t>(off); }
  SackBlock blk(std::int64_t l, std::int64_t r) const { return {at(l), at(r)}; }
  std::uint32_t update(std::vector<SackBlock> blocks, std::int64_t una = 0, std::int64_t nxt = 10 * kMss) {
    return sb.update(at(una), at(nxt), blocks);
  }
  // Ranges as offsets from the base, for readable comparisons.
  std::vector<std::pair<std::int64_t, std::int64_t>> ranges() const {
    std::vector<std::pair<std::int64_t, std::int64_t>> out;
    for (const SackBlock& b : sb.ranges()) out.emplace_back(b.left - at(0), b.right - at(0));
    return out;
  }
  using R = std::vector<std::pair<std::int64_t, std::int64_t>>;

  SackScoreboard sb;
};

INSTANTIATE_TEST_SUITE_P(SeqBases, SackScoreboardTest,
                         ::testing::Values(1000u, 0x7FFFF000u, 0xFFFFEC00u /* 5000 before the wrap */,
                                           0xFFFFFFFFu));

TEST_P(SackScoreboardTest, Update_NewBlock_CountsNewlySackedBytes) {
  EXPECT_EQ(update({blk(3000, 4000)}), 1000u);
  EXPECT_EQ(ranges(), (R{{3000, 4000}}));
  EXPECT_EQ(sb.sacked_bytes(), 1000u);
  EXPECT_EQ(sb.highest_sacked(), at(4000));
}

TEST_P(SackScoreboardTest, Update_AdjacentAndOverlapping_Merge) {
  update({blk(3000, 4000)});
  EXPECT_EQ(update({blk(4000, 5000)}), 1000u);  // adjacent
  EXPECT_EQ(ranges(), (R{{3000, 5000}}));
  EXPECT_EQ(update({blk(4500, 6000)}), 1000u);  // overlapping: only 5000..6000 is new
  EXPECT_EQ(ranges(), (R{{3000, 6000}}));
  EXPECT_EQ(update({blk(3000, 6000)}), 0u);  // repeated: nothing new
}

TEST_P(SackScoreboardTest, Update_BlockBridgingRanges_MergesAll) {
  update({blk(2000, 3000), blk(4000, 5000), blk(6000, 7000)});
  EXPECT_EQ(ranges(), (R{{2000, 3000}, {4000, 5000}, {6000, 7000}}));
  EXPECT_EQ(update({blk(2500, 6500)}), 2000u);  // fills 3000..4000 and 5000..6000
  EXPECT_EQ(ranges(), (R{{2000, 7000}}));
}

TEST_P(SackScoreboardTest, Update_OutOfOrderBlocks_KeptSorted) {
  update({blk(8000, 9000), blk(2000, 3000), blk(5000, 6000)});
  EXPECT_EQ(ranges(), (R{{2000, 3000}, {5000, 6000}, {8000, 9000}}));
  EXPECT_EQ(sb.highest_sacked(), at(9000));
}

TEST_P(SackScoreboardTest, Update_BlocksBeyondSndNxt_Ignored) {
  // RFC 6675 §5: only [snd_una, snd_nxt) is outstanding; a block past snd_nxt is bogus.
  EXPECT_EQ(update({blk(10000, 11000)}), 0u);
  EXPECT_EQ(update({blk(9500, 10500)}), 0u);
  EXPECT_EQ(update({blk(5000, 4000)}), 0u);  // reversed
  EXPECT_EQ(update({blk(5000, 5000)}), 0u);  // empty
  EXPECT_TRUE(sb.ranges().empty());
  EXPECT_FALSE(sb.highest_sacked());
}

TEST_P(SackScoreboardTest, Update_DsackBelowSndUna_Ignored) {
  // RFC 2883 §4: a first block at or below the cumulative ACK reports a duplicate.
  EXPECT_EQ(update({blk(-1000, 0), blk(3000, 4000)}), 1000u);
  EXPECT_EQ(ranges(), (R{{3000, 4000}}));
}

TEST_P(SackScoreboardTest, Update_DsackInsideSackedRange_NothingNew) {
  // RFC 2883 §4.1.3-style: the D-SACK block lies within the second block.
  update({blk(3000, 5000)});
  EXPECT_EQ(update({blk(3000, 3500), blk(3000, 5000)}), 0u);
  EXPECT_EQ(ranges(), (R{{3000, 5000}}));
}

TEST_P(SackScoreboardTest, Update_BlockStraddlingSndUna_ClippedToSndUna) {
  EXPECT_EQ(update({blk(-500, 1500)}), 1500u);
  EXPECT_EQ(ranges(), (R{{0, 1500}}));
}

TEST_P(SackScoreboardTest, UpdateAndAdvance_DropBelowNewSndUna) {
  update({blk(2000, 3000), blk(4000, 6000)});
  // The cumulative ACK moves to 5000: 2000..3000 is gone, 4000..6000 is trimmed.
  EXPECT_EQ(update({}, 5000), 0u);
  EXPECT_EQ(ranges(), (R{{5000, 6000}}));
  EXPECT_EQ(sb.highest_sacked(), at(6000));
  sb.advance(at(6000));
  EXPECT_TRUE(sb.ranges().empty());
  EXPECT_FALSE(sb.highest_sacked());  // nothing SACKed above snd_una any more
}

TEST_P(SackScoreboardTest, Bound_FullScoreboard_HigherBlockEvictsLowestRange) {
  constexpr auto kRanges = static_cast<std::int64_t>(SackScoreboard::kMaxRanges);
  const std::int64_t nxt = 2000 * (kRanges + 10);
  for (std::int64_t i = 0; i < kRanges; ++i) {
    update({blk(2000 * (i + 1), 2000 * (i + 1) + 100)}, 0, nxt);
  }
  ASSERT_EQ(sb.ranges().size(), SackScoreboard::kMaxRanges);
  const std::int64_t hi = 2000 * (kRanges + 2);
  EXPECT_EQ(update({blk(hi, hi + 100)}, 0, nxt), 100u);
  EXPECT_EQ(sb.ranges().size(), SackScoreboard::kMaxRanges);
  EXPECT_EQ(ranges().front(), (std::pair<std::int64_t, std::int64_t>{4000, 4100}));
  EXPECT_EQ(ranges().back(), (std::pair<std::int64_t, std::int64_t>{hi, hi + 100}));
  EXPECT_EQ(sb.highest_sacked(), at(hi + 100));
}

TEST_P(SackScoreboardTest, Bound_FullScoreboard_LowestNewBlockDropped) {
  const std::int64_t nxt = 2000 * (static_cast<std::int64_t>(SackScoreboard::kMaxRanges) + 10);
  for (std::int64_t i = 0; i < static_cast<std::int64_t>(SackScoreboard::kMaxRanges); ++i) {
    update({blk(2000 * (i + 1), 2000 * (i + 1) + 100)}, 0, nxt);
  }
  const R before = ranges();
  EXPECT_EQ(update({blk(500, 600)}, 0, nxt), 0u);
  EXPECT_EQ(ranges(), before);
  // A block that merges needs no room.
  EXPECT_EQ(update({blk(2100, 2200)}, 0, nxt), 100u);
  EXPECT_EQ(sb.ranges().size(), SackScoreboard::kMaxRanges);
  EXPECT_EQ(ranges().front(), (std::pair<std::int64_t, std::int64_t>{2000, 2200}));
}

TEST_P(SackScoreboardTest, IsLost_ThreeDiscontiguousSmallSegmentsAbove) {
  // RFC 6675 §4 IsLost: "DupThresh discontiguous SACKed sequences" above: 3 small segments,
  // though their 300 bytes are far below 2 * SMSS.
  update({blk(2000, 2100), blk(3000, 3100)});
  EXPECT_FALSE(sb.is_lost(at(0), kMss));
  update({blk(4000, 4100)});
  EXPECT_TRUE(sb.is_lost(at(0), kMss));
  EXPECT_TRUE(sb.is_lost(at(1999), kMss));
  EXPECT_FALSE(sb.is_lost(at(2100), kMss));  // only two above
}

TEST_P(SackScoreboardTest, IsLost_MoreThanTwoSmssBytesAbove) {
  // "... or more than (DupThresh - 1) * SMSS bytes with sequence numbers greater than 'SeqNum'
  // have been SACKed": exactly 2 * SMSS is not enough, one byte more is.
  update({blk(1000, 3000)});
  EXPECT_FALSE(sb.is_lost(at(0), kMss));
  update({blk(3000, 3001)});
  EXPECT_TRUE(sb.is_lost(at(0), kMss));
  EXPECT_FALSE(sb.is_lost(at(1000), kMss));  // 2000 bytes strictly above 1000
}

// The worked example: ten segments S0..S9 of 1000 bytes from snd_una; S2 and S4..S6 SACKed.
//   S0 S1 [S2] S3 [S4 S5 S6] S7 S8 S9
// Holes: S0-S1 (4 SACKed segments above: lost), S3 (3 above: lost), S7-S9 (none above).
class SackWorkedExample : public SackScoreboardTest {
 protected:
  void SetUp() override { update({blk(4000, 7000), blk(2000, 3000)}); }
};

INSTANTIATE_TEST_SUITE_P(SeqBases, SackWorkedExample,
                         ::testing::Values(1000u, 0x7FFFF000u, 0xFFFFEC00u, 0xFFFFFFFFu, 0xFFFFE000u));

TEST_P(SackWorkedExample, Pipe_NothingRetransmitted_OnlyUnlostHole) {
  // SetPipe (a): S0, S1, S3 are lost and not counted; S7-S9 are: pipe = 3000.
  EXPECT_EQ(sb.pipe(at(0), at(10000), at(0), kMss), 3000u);
}

TEST_P(SackWorkedExample, Pipe_RetransmissionsCountOnce) {
  // (b): octets below HighRxt count once more: S0 retransmitted -> 4000; S0, S1, S3 -> 6000.
  EXPECT_EQ(sb.pipe(at(0), at(10000), at(1000), kMss), 4000u);
  EXPECT_EQ(sb.pipe(at(0), at(10000), at(4000), kMss), 6000u);
}

TEST_P(SackWorkedExample, Pipe_RetransmittedButNotLost_CountsTwice) {
  // Only S9 SACKed: S0..S8 are not lost (one segment above), and S0, retransmitted, counts twice.
  sb.clear();
  update({blk(9000, 10000)});
  EXPECT_EQ(sb.pipe(at(0), at(10000), at(0), kMss), 9000u);
  EXPECT_EQ(sb.pipe(at(0), at(10000), at(1000), kMss), 10000u);
}

TEST_P(SackWorkedExample, NextLost_Rule1) {
  // NextSeg (1): smallest unSACKed S2 >= HighRxt, below the highest SACKed octet, IsLost.
  EXPECT_EQ(sb.next_lost(at(0), at(10000), kMss), at(0));
  EXPECT_EQ(sb.next_lost(at(1000), at(10000), kMss), at(1000));
  EXPECT_EQ(sb.next_lost(at(2000), at(10000), kMss), at(3000));  // S2 is SACKed: skip to S3
  EXPECT_EQ(sb.next_lost(at(2500), at(10000), kMss), at(3000));
  EXPECT_EQ(sb.next_lost(at(4000), at(10000), kMss), std::nullopt);  // S7 is above the highest SACK
  EXPECT_EQ(sb.next_lost(at(7000), at(10000), kMss), std::nullopt);
}

TEST_P(SackWorkedExample, NextLost_NotEnoughSackedAbove_None) {
  sb.clear();
  update({blk(9000, 10000)});  // one segment above every hole: nothing is lost yet
  EXPECT_EQ(sb.next_lost(at(0), at(10000), kMss), std::nullopt);
}

TEST_P(SackWorkedExample, HoleEnd_StopsAtNextSackedRange) {
  EXPECT_EQ(sb.hole_end(at(0), at(10000)), at(2000));
  EXPECT_EQ(sb.hole_end(at(3000), at(10000)), at(4000));
  EXPECT_EQ(sb.hole_end(at(7000), at(10000)), at(10000));
  EXPECT_EQ(sb.hole_end(at(2500), at(10000)), at(2500));  // SACKed
}

TEST_P(SackWorkedExample, IsSacked_Membership) {
  EXPECT_FALSE(sb.is_sacked(at(1999)));
  EXPECT_TRUE(sb.is_sacked(at(2000)));
  EXPECT_TRUE(sb.is_sacked(at(2999)));
  EXPECT_FALSE(sb.is_sacked(at(3000)));
  EXPECT_TRUE(sb.is_sacked(at(6999)));
  EXPECT_FALSE(sb.is_sacked(at(7000)));
  EXPECT_EQ(sb.sacked_bytes(), 4000u);
}

TEST_P(SackWorkedExample, Pipe_AfterCumulativeAck_OnlyAboveSndUna) {
  // snd_una moves to 3000 (S0-S2 acked): S3 still has 3 SACKed segments above it.
  sb.advance(at(3000));
  EXPECT_EQ(sb.pipe(at(3000), at(10000), at(3000), kMss), 3000u);
  EXPECT_EQ(sb.next_lost(at(3000), at(10000), kMss), at(3000));
}

}  // namespace
}  // namespace xdptcp::tcp
