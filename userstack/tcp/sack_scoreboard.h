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

namespace xdptcp::tcp {

struct SackBlock {
  SeqNum left;   // first sequence number of the block
  SeqNum right;  // one past the last
};

class SackScoreboard {
 public:
  static constexpr std::size_t kMaxRanges = 16;
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

 private:
  std::uint32_t insert(SeqNum left, SeqNum right);

  std::array<SackBlock, kMaxRanges> ranges_{};  // sorted by left, disjoint, non-adjacent
  std::size_t count_ = 0;
  std::optional<SeqNum> high_sacked_;
};

}  // namespace xdptcp::tcp
