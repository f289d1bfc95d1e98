// When each outstanding byte range was last sent: the per-segment transmit times RACK needs
// (RFC 8985 §6.1 "Segment.xmit_ts" and "retransmitted" flag), kept in a fixed number of
// records so that the per-connection memory is bounded (kMaxRecords * 16 bytes + 8).
//
// Records are sorted by sequence, disjoint, and cover what was sent in [snd_una, snd_max).
// Sending [left, right) again replaces what it covers. Neighbours sent at the same instant
// with the same flag are one record (a burst is one record). At the bound, the two
// sequence-adjacent records whose times are closest merge into one that carries the later
// time: bytes then look sent later than they were, so RACK declares them lost later, never
// earlier (the conservative side; the RTO still covers everything).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "userstack/tcp/seq.h"
#include "userstack/time/clock.h"

namespace xdptcp::tcp {

struct XmitRecord {
  SeqNum left;
  SeqNum right;
  // Nanoseconds of the instant of the last transmission; bit 0 is the "retransmitted" flag
  // (the clock's resolution is far coarser than a nanosecond), so a record is 16 bytes.
  std::int64_t stamp = 0;

  Instant ts() const { return Instant{stamp & ~std::int64_t{1}}; }
  bool retransmitted() const { return (stamp & 1) != 0; }
};

class XmitLog {
 public:
  static constexpr std::size_t kMaxRecords = 16;

  // [left, right) was sent at `ts`; `retransmitted` when any of it had been sent before.
  void record(SeqNum left, SeqNum right, Instant ts, bool retransmitted);
  // Forgets what lies below snd_una (cumulatively acknowledged).
  void advance(SeqNum snd_una);
  void clear() { count_ = 0; }

  std::span<const XmitRecord> records() const { return {records_.data(), count_}; }

 private:
  std::array<XmitRecord, kMaxRecords> records_{};
  std::uint32_t count_ = 0;
};

}  // namespace xdptcp::tcp
