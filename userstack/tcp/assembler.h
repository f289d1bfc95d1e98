// Out-of-order reassembly bookkeeping: which byte ranges beyond the contiguous point (rcv_nxt)
// have arrived. The bytes themselves live in the receive ByteRing (written with write_at); this
// only tracks ranges, with a fixed bound on how many disjoint ranges it holds (the memory bound
// of RFC 9293 §3.10.7.4's "queue for later processing").
//
// Offsets are relative to the contiguous point. Ranges are kept sorted and merged. The TCP layer
// derives SACK blocks (RFC 2018 §4) from ranges().
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace xdptcp::tcp {

struct ByteRange {
  std::uint32_t offset = 0;
  std::uint32_t length = 0;
  std::uint32_t end() const { return offset + length; }
  bool operator==(const ByteRange&) const = default;
};

class Assembler {
 public:
  // Holes in one window: a bottleneck that drops a few percent of a multi-megabyte window in one round
  // trip (a full tbf or router queue) leaves a hundred or more. With 32 ranges the segments beyond the
  // 32nd hole were dropped (drop.reassembly_full) and the sender retransmitted them: on a 20 ms,
  // 200 Mbit/s link a kernel sender reached about half the rate it reaches to a kernel receiver. 256
  // ranges (2 KiB per connection) cover a 4 MiB window with 1 segment in 12 lost.
  static constexpr std::size_t kMaxRanges = 256;

  // `max_ranges` <= kMaxRanges bounds the number of disjoint ranges kept.
  explicit Assembler(std::size_t max_ranges = kMaxRanges);

  // Records [offset, offset + length) as received, merging with neighbours. Returns false and
  // changes nothing when that would need more than max_ranges disjoint ranges (the caller drops
  // the segment and counts it; the peer retransmits).
  bool add(std::uint32_t offset, std::uint32_t length);

  // If a range starts at offset 0, removes it and returns its length (now contiguous), shifting
  // every other range down by that amount; otherwise returns 0.
  std::uint32_t pop_front();

  bool empty() const { return count_ == 0; }
  std::size_t range_count() const { return count_; }
  std::span<const ByteRange> ranges() const { return {ranges_.data(), count_}; }
  void clear() { count_ = 0; }

 private:
  std::array<ByteRange, kMaxRanges> ranges_{};
  std::size_t count_ = 0;
  std::size_t max_ranges_;
};

}  // namespace xdptcp::tcp
