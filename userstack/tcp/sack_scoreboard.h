// The sender's SACK scoreboard and the RFC 6675 conservative loss-recovery queries.
// Sequence space covered: [snd_una, snd_nxt). A fixed number of SACKed ranges is kept (a peer
// sends at most 4 blocks per ACK, RFC 2018 §3; ranges merge as holes fill); when full, the
// oldest-sequence range beyond the bound is dropped, which only makes the sender more
// conservative (it may retransmit a SACKed segment). Precisely: a block that merges with no
// range when kMaxRanges are held evicts the lowest range, or is itself dropped when it would be
// the lowest; highest_sacked() is kept regardless.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "userstack/tcp/seq.h"
#include "userstack/tcp/xmit_log.h"
#include "userstack/time/clock.h"

namespace xdptcp::tcp {

struct SackBlock {
  SeqNum left;   // first sequence number of the block
  SeqNum right;  // one past the last
};

// What RACK learns from the bytes an ACK newly delivers (RFC 8985 §6.2 steps 1-3).
struct RackDelivered {
  bool any = false;
  Instant xmit_ts{};           // the most recently sent of them (ties: the highest end)
  SeqNum end_seq;              // ... its end
  bool retransmitted = false;  // ... whether it had been retransmitted
  bool any_original = false;   // some never-retransmitted byte was delivered
  SeqNum lowest_original_end;  // the lowest end of such a never-retransmitted piece
  SeqNum highest_end;          // the highest end of anything delivered
};

// The RACK state a loss scan needs (RFC 8985 §6.2 step 5).
struct RackView {
  Instant xmit_ts{};  // RACK.xmit_ts
  SeqNum end_seq;     // RACK.end_seq
  Duration rtt{};     // RACK.rtt
  Duration reo_wnd{};
  Instant now{};
};

// The result of a scan of the unSACKed bytes of [snd_una, snd_max).
struct RackScan {
  bool lost = false;
  SeqNum lost_left;  // the lowest lost piece (sent before RACK.xmit_ts, waited long enough)
  SeqNum lost_right;
  std::uint32_t pipe = 0;  // unSACKed bytes not deemed lost: in flight (RFC 8985 §6: with
                           // RACK, "lost" replaces IsLost in RFC 6675's pipe)
  bool waiting = false;    // some piece sent before RACK.xmit_ts is not lost yet ...
  Duration wait{};         // ... and will be after this long (the RACK reordering timer)
};

class SackScoreboard {
 public:
  // As many holes as the receiver may report in a window (Assembler::kMaxRanges is the receiving
  // side's): 64 ranges (512 bytes per connection) keep recovery exact with dozens of losses per round
  // trip, where 16 made the sender resend SACKed segments.
  static constexpr std::size_t kMaxRanges = 64;
  static constexpr unsigned kDupThresh = 3;  // RFC 6675 §2 DupThresh

  // RFC 6675 §5 (on every ACK): merges the peer's blocks (ignoring any outside
  // [snd_una, snd_nxt) and D-SACKs below snd_una), then drops what is below the new snd_una.
  // Returns the number of newly SACKed bytes.
  std::uint32_t update(SeqNum snd_una, SeqNum snd_nxt, std::span<const SackBlock> blocks);
  // Cumulative ACK advanced: forget ranges below snd_una.
  void advance(SeqNum snd_una);
  void clear() {
    count_ = 0;
    high_sacked_.reset();
  }

  bool is_sacked(SeqNum seq) const;
  std::uint32_t sacked_bytes() const;
  // One past the highest octet ever SACKed (above snd_una); empty when snd_una has passed it.
  std::optional<SeqNum> highest_sacked() const { return high_sacked_; }

  // RFC 6675 §4 IsLost(seq): DupThresh discontiguous SACKed segments, or more than
  // (DupThresh - 1) * SMSS bytes SACKed, above seq.
  bool is_lost(SeqNum seq, std::uint32_t smss) const;
  // RFC 6675 §4 SetPipe: octets in flight given HighRxt. high_rxt is one past the highest octet
  // retransmitted in this recovery (snd_una when none): octets below it count twice if not lost.
  std::uint32_t pipe(SeqNum snd_una, SeqNum snd_nxt, SeqNum high_rxt, std::uint32_t smss) const;
  // RFC 6675 §4 NextSeg rule (1): the first sequence number >= from (and < snd_nxt) that is
  // neither SACKed nor beyond the highest SACKed, and is lost. Rule (2)/(3) (new data,
  // rescue retransmission) are the caller's.
  std::optional<SeqNum> next_lost(SeqNum from, SeqNum snd_nxt, std::uint32_t smss) const;
  // End of the unSACKed hole starting at `seq` (start of the next SACKed range, or snd_nxt);
  // `seq` itself when it is SACKed.
  SeqNum hole_end(SeqNum seq, SeqNum snd_nxt) const;

  std::span<const SackBlock> ranges() const { return {ranges_.data(), count_}; }

  // Transmit times of the outstanding bytes (RACK, RFC 8985 §6.1), kept here with the rest of
  // the per-sequence sender state; not forgotten by clear() (an RTO forgets SACKs, not sends).
  XmitLog& xmit() { return xmit_; }
  const XmitLog& xmit() const { return xmit_; }
  // Adds to `d` the newest transmission among the bytes of [left, right) not yet SACKed: call
  // before update() with the cumulatively acknowledged range and each SACK block.
  void rack_delivered(SeqNum left, SeqNum right, RackDelivered& d) const;
  // RFC 8985 §6.2 step 5 (RACK_detect_loss) over the unSACKed bytes of [snd_una, snd_max).
  RackScan rack_scan(SeqNum snd_una, SeqNum snd_max, const RackView& v) const;
  // SACKed segments (each range counts ceil(bytes / smss)): RFC 8985's RACK.segs_sacked.
  std::uint32_t sacked_segments(std::uint32_t smss) const;
  // One past the highest unSACKed byte below snd_max, with the start of its hole: the target
  // of RFC 6675 §4 NextSeg rule (4), the rescue retransmission. Empty when all is SACKed.
  std::optional<SackBlock> highest_hole(SeqNum snd_una, SeqNum snd_max) const;

 private:
  std::uint32_t insert(SeqNum left, SeqNum right);

  std::array<SackBlock, kMaxRanges> ranges_{};  // sorted by left, disjoint, non-adjacent
  std::size_t count_ = 0;
  std::optional<SeqNum> high_sacked_;
  XmitLog xmit_;
};

}  // namespace xdptcp::tcp
