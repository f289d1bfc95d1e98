// The sender's SACK scoreboard, RFC 6675 (with RFC 2018 blocks and RFC 2883 D-SACKs): see
// sack_scoreboard.h. Ranges are kept sorted by sequence, disjoint and non-adjacent, all within
// [snd_una, snd_nxt), which is less than 2^31 wide, so SeqNum comparisons among them are sound
// across the 2^32 wrap.
#include "userstack/tcp/sack_scoreboard.h"

#include <algorithm>

namespace xdptcp::tcp {

namespace {

// Length of [a, b) when a <= b, else 0.
std::uint32_t span_len(SeqNum a, SeqNum b) {
  return b > a ? static_cast<std::uint32_t>(b - a) : 0;
}

std::uint32_t overlap(SeqNum a_left, SeqNum a_right, SeqNum b_left, SeqNum b_right) {
  return span_len(seq_max(a_left, b_left), seq_min(a_right, b_right));
}

std::uint32_t ceil_div(std::uint32_t n, std::uint32_t d) {
  return n / d + (n % d != 0 ? 1 : 0);
}

// IsLost's two tests (RFC 6675 §4) on what is SACKed above a sequence number: "DupThresh
// discontiguous SACKed sequences" counted as segments (each range holds at least
// ceil(bytes / SMSS) of them), or "more than (DupThresh - 1) * SMSS bytes".
bool lost_given(std::uint64_t bytes_above, std::uint32_t segments_above, std::uint32_t smss) {
  return segments_above >= SackScoreboard::kDupThresh ||
         bytes_above > static_cast<std::uint64_t>(SackScoreboard::kDupThresh - 1) * smss;
}

}  // namespace

void SackScoreboard::advance(SeqNum snd_una) {
  std::size_t out = 0;
  for (std::size_t i = 0; i < count_; ++i) {
    SackBlock r = ranges_[i];
    if (r.right <= snd_una) continue;  // now cumulatively acknowledged
    if (r.left < snd_una) r.left = snd_una;
    ranges_[out++] = r;
  }
  count_ = out;
  if (high_sacked_ && *high_sacked_ <= snd_una) high_sacked_.reset();
}

std::uint32_t SackScoreboard::update(SeqNum snd_una, SeqNum snd_nxt, std::span<const SackBlock> blocks) {
  advance(snd_una);
  const std::int32_t window = snd_nxt - snd_una;
  if (window <= 0) return 0;
  std::uint32_t newly = 0;
  for (const SackBlock& b : blocks) {
    // RFC 2018 §3: a block is [left, right); an empty or reversed one carries nothing.
    if (b.right - b.left <= 0) continue;
    const std::int32_t right = b.right - snd_una;
    // RFC 2883 §4 / RFC 6675 §5: a D-SACK at or below snd_una reports a duplicate of acked data;
    // it says nothing about what is outstanding.
    if (right <= 0) continue;
    // A block reaching beyond snd_nxt covers data never sent: bogus or an attack, ignored whole
    // (Linux's tcp_is_sackblock_valid does the same).
    if (right > window) continue;
    // A block straddling snd_una (an ACK reordered behind a later one) still truthfully reports
    // its part above snd_una.
    const SeqNum left = (b.left - snd_una) < 0 ? snd_una : b.left;
    newly += insert(left, b.right);
  }
  return newly;
}

std::uint32_t SackScoreboard::insert(SeqNum left, SeqNum right) {
  std::uint32_t added = span_len(left, right);
  // Ranges [i, j) overlap or touch [left, right) and merge with it.
  std::size_t i = 0;
  while (i < count_ && ranges_[i].right < left) ++i;
  std::size_t j = i;
  SeqNum merged_left = left;
  SeqNum merged_right = right;
  while (j < count_ && ranges_[j].left <= right) {
    added -= overlap(ranges_[j].left, ranges_[j].right, left, right);
    merged_left = seq_min(merged_left, ranges_[j].left);
    merged_right = seq_max(merged_right, ranges_[j].right);
    ++j;
  }
  if (j > i) {
    ranges_[i] = {merged_left, merged_right};
    std::copy(ranges_.begin() + static_cast<std::ptrdiff_t>(j),
              ranges_.begin() + static_cast<std::ptrdiff_t>(count_),
              ranges_.begin() + static_cast<std::ptrdiff_t>(i + 1));
    count_ -= j - i - 1;
  } else {
    if (count_ == kMaxRanges) {
      // The bound (see the header): the lowest range goes, or the new block if it is lowest.
      if (i == 0) return 0;
      std::copy(ranges_.begin() + 1, ranges_.begin() + static_cast<std::ptrdiff_t>(count_), ranges_.begin());
      --count_;
      --i;
    }
    std::copy_backward(ranges_.begin() + static_cast<std::ptrdiff_t>(i),
                       ranges_.begin() + static_cast<std::ptrdiff_t>(count_),
                       ranges_.begin() + static_cast<std::ptrdiff_t>(count_ + 1));
    ranges_[i] = {merged_left, merged_right};
    ++count_;
  }
  high_sacked_ = high_sacked_ ? seq_max(*high_sacked_, merged_right) : merged_right;
  return added;
}

bool SackScoreboard::is_sacked(SeqNum seq) const {
  for (std::size_t i = 0; i < count_; ++i) {
    if (seq_in_range(seq, ranges_[i].left, ranges_[i].right)) return true;
  }
  return false;
}

std::uint32_t SackScoreboard::sacked_bytes() const {
  std::uint32_t n = 0;
  for (std::size_t i = 0; i < count_; ++i) n += span_len(ranges_[i].left, ranges_[i].right);
  return n;
}

bool SackScoreboard::is_lost(SeqNum seq, std::uint32_t smss) const {
  smss = std::max<std::uint32_t>(smss, 1);
  // RFC 6675 §4 IsLost(SeqNum): "This routine returns whether the given sequence number is
  // considered to be lost. The routine returns true when either DupThresh discontiguous SACKed
  // sequences have arrived above 'SeqNum' or more than (DupThresh - 1) * SMSS bytes with
  // sequence numbers greater than 'SeqNum' have been SACKed."
  std::uint64_t bytes = 0;
  std::uint32_t segments = 0;
  for (std::size_t i = 0; i < count_; ++i) {
    const std::uint32_t n = span_len(seq_max(ranges_[i].left, seq + 1), ranges_[i].right);
    bytes += n;
    segments += ceil_div(n, smss);
  }
  return lost_given(bytes, segments, smss);
}

std::uint32_t SackScoreboard::pipe(SeqNum snd_una, SeqNum snd_nxt, SeqNum high_rxt,
                                   std::uint32_t smss) const {
  smss = std::max<std::uint32_t>(smss, 1);
  if (snd_nxt <= snd_una) return 0;
  // RFC 6675 §4 SetPipe: "Set Pipe to 0. For each octet S1 from HighACK to HighData that has not
  // been SACKed:
  //   (a) If IsLost (S1) returns false: Pipe is incremented by 1 octet.
  //   (b) If S1 <= HighRxt: Pipe is incremented by 1 octet."
  // Per octet is too slow; per hole is exact, because everything SACKed above an octet of a
  // hole lies above the whole hole, so IsLost is the same for all of its octets. The holes are
  // walked from the top, accumulating what is SACKed above.
  std::array<SackBlock, kMaxRanges> clipped{};
  std::size_t n = 0;
  for (std::size_t i = 0; i < count_; ++i) {
    const SeqNum l = seq_max(ranges_[i].left, snd_una);
    const SeqNum r = seq_min(ranges_[i].right, snd_nxt);
    if (l < r) clipped[n++] = {l, r};
  }
  const SeqNum rxt_end = seq_max(snd_una, seq_min(high_rxt, snd_nxt));
  std::uint64_t pipe = 0;
  std::uint64_t bytes_above = 0;
  std::uint32_t segments_above = 0;
  for (std::size_t k = n + 1; k-- > 0;) {
    const SeqNum hole_left = k == 0 ? snd_una : clipped[k - 1].right;
    const SeqNum hole_right = k == n ? snd_nxt : clipped[k].left;
    if (!lost_given(bytes_above, segments_above, smss)) pipe += span_len(hole_left, hole_right);  // (a)
    pipe += overlap(hole_left, hole_right, snd_una, rxt_end);                                     // (b)
    if (k > 0) {
      const std::uint32_t len = span_len(clipped[k - 1].left, clipped[k - 1].right);
      bytes_above += len;
      segments_above += ceil_div(len, smss);
    }
  }
  return static_cast<std::uint32_t>(std::min<std::uint64_t>(pipe, UINT32_MAX));
}

std::optional<SeqNum> SackScoreboard::next_lost(SeqNum from, SeqNum snd_nxt, std::uint32_t smss) const {
  // RFC 6675 §4 NextSeg (1): "If there exists a smallest unSACKed sequence number 'S2' that meets
  // the following three criteria for determining loss, the sequence range of one segment of up
  // to SMSS octets starting with S2 MUST be returned.
  //   (1.a) S2 is greater than HighRxt.                              [caller: from = HighRxt]
  //   (1.b) S2 is less than the highest octet covered by any received SACK.
  //   (1.c) IsLost (S2) returns true."
  if (!high_sacked_) return std::nullopt;
  SeqNum s = from;
  for (std::size_t i = 0; i < count_; ++i) {
    if (ranges_[i].right <= s) continue;
    if (ranges_[i].left <= s) {
      s = ranges_[i].right;  // skip the SACKed range covering s; the next one starts above it
      continue;
    }
    break;
  }
  if (!(s < snd_nxt) || !(s < *high_sacked_)) return std::nullopt;
  // IsLost only weakens as S2 grows, so if the smallest candidate is not lost, none is.
  if (!is_lost(s, smss)) return std::nullopt;
  return s;
}

SeqNum SackScoreboard::hole_end(SeqNum seq, SeqNum snd_nxt) const {
  for (std::size_t i = 0; i < count_; ++i) {
    if (seq_in_range(seq, ranges_[i].left, ranges_[i].right)) return seq;
    if (ranges_[i].left > seq) return seq_min(ranges_[i].left, snd_nxt);
  }
  return snd_nxt;
}

std::uint32_t SackScoreboard::sacked_segments(std::uint32_t smss) const {
  smss = std::max<std::uint32_t>(smss, 1);
  std::uint32_t n = 0;
  for (std::size_t i = 0; i < count_; ++i) n += ceil_div(span_len(ranges_[i].left, ranges_[i].right), smss);
  return n;
}

std::optional<SackBlock> SackScoreboard::highest_hole(SeqNum snd_una, SeqNum snd_max) const {
  SeqNum right = snd_max;
  for (std::size_t k = count_; k-- > 0;) {
    const SackBlock& r = ranges_[k];
    if (r.left >= right) continue;
    if (r.right < right) return SackBlock{seq_max(r.right, snd_una), right};
    right = r.left;  // the top is SACKed: the hole is below this range
  }
  if (snd_una < right) return SackBlock{snd_una, right};
  return std::nullopt;
}

namespace {

// Calls f(left, right, record) for each unSACKed piece of each transmit record within
// [from, to); both lists are sorted and disjoint.
template <typename F>
void for_each_unsacked(std::span<const XmitRecord> recs, std::span<const SackBlock> sacked, SeqNum from,
                       SeqNum to, F&& f) {
  std::size_t j = 0;
  for (const XmitRecord& r : recs) {
    SeqNum s = seq_max(r.left, from);
    const SeqNum e = seq_min(r.right, to);
    if (!(s < e)) continue;
    while (j < sacked.size() && sacked[j].right <= s) ++j;
    std::size_t k = j;
    while (s < e) {
      if (k < sacked.size() && sacked[k].left < e) {
        if (sacked[k].left > s) f(s, sacked[k].left, r);
        s = seq_max(s, sacked[k].right);
        ++k;
      } else {
        f(s, e, r);
        s = e;
      }
    }
  }
}

}  // namespace

void SackScoreboard::rack_delivered(SeqNum left, SeqNum right, RackDelivered& d) const {
  for_each_unsacked(xmit_.records(), ranges(), left, right, [&](SeqNum, SeqNum r, const XmitRecord& rec) {
    const Instant ts = rec.ts();
    if (!d.any || r > d.highest_end) d.highest_end = r;
    if (!d.any || ts > d.xmit_ts || (ts == d.xmit_ts && r > d.end_seq)) {
      d.any = true;
      d.xmit_ts = ts;
      d.end_seq = r;
      d.retransmitted = rec.retransmitted();
    }
    if (!rec.retransmitted() && (!d.any_original || r < d.lowest_original_end)) {
      d.any_original = true;
      d.lowest_original_end = r;
    }
  });
}

RackScan SackScoreboard::rack_scan(SeqNum snd_una, SeqNum snd_max, const RackView& v) const {
  // RFC 8985 §6.2 step 5: "For each segment not acknowledged or SACKed: if it was sent before
  // the most recently delivered one (RACK_sent_after(RACK.xmit_ts, RACK.end_seq, Segment.xmit_ts,
  // Segment.end_seq)), remaining = Segment.xmit_ts + RACK.rtt + RACK.reo_wnd - Now(); if
  // remaining <= 0 it is lost, else the reordering timer must cover it."
  RackScan out;
  for_each_unsacked(xmit_.records(), ranges(), snd_una, snd_max,
                    [&](SeqNum l, SeqNum r, const XmitRecord& rec) {
                      const Instant ts = rec.ts();
                      const bool sent_before = ts < v.xmit_ts || (ts == v.xmit_ts && r <= v.end_seq);
                      if (sent_before) {
                        const Duration remaining = (ts + v.rtt + v.reo_wnd) - v.now;
                        if (remaining.ns <= 0) {
                          if (!out.lost) {
                            out.lost = true;
                            out.lost_left = l;
                            out.lost_right = r;
                          }
                          return;
                        }
                        if (!out.waiting || remaining < out.wait) out.wait = remaining;
                        out.waiting = true;
                      }
                      out.pipe += span_len(l, r);
                    });
  return out;
}

}  // namespace xdptcp::tcp
