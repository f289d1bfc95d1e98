// SimLink: one direction of a simulated network path, carrying IP packets from one transmitter
// to tagged receivers with seeded impairments, timed by a virtual clock.
//
// The path a packet takes, in order (each draw from the link's own std::mt19937_64):
//   1. loss: dropped with probability `loss`;
//   2. bottleneck: with a bandwidth limit, the packet waits in a FIFO of at most `queue_limit`
//      packets (tail drop beyond it) and is serialised at `bandwidth_bps`;
//   3. propagation: `delay` plus uniform [0, jitter]. Jitter alone never reorders (a packet is
//      never delivered before one committed earlier), so reordering is only what `reorder` asks,
//      unless `jitter_reorders` (each packet's jitter independent, like netem's);
//   4. reorder: with probability `reorder` the packet is held back by `reorder_delay`, so later
//      packets overtake it;
//   5. duplication: with probability `duplicate` a second copy is delivered just after the first;
//   6. corruption: with probability `corrupt` (per copy) `corrupt_bytes` random bytes are XORed with
//      a random non-zero value. One byte changes the 16-bit one's-complement sum by at most
//      0xff00, so the receiver's IPv4 or TCP checksum always detects it (RFC 1071); with more
//      bytes the flips may cancel, with probability about 2^-16 per packet.
//
// Memory: `slots` packet buffers of `max_packet` bytes are allocated once; a packet lives in one
// slot from tx_acquire() until it is delivered or dropped. With every slot busy tx_acquire()
// returns an empty span (like a full TX ring; counted in tx_busy) and a duplicate is not made.
// Nothing is allocated per packet.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <vector>

#include "userstack/time/clock.h"

namespace xdptcp::sim {

struct LinkConfig {
  std::uint64_t seed = 1;
  Duration delay{};                 // one-way propagation delay
  Duration jitter{};                // extra delay, uniform in [0, jitter]
  bool jitter_reorders = false;     // jitter drawn per packet independently, as netem and
                                    // xdptcp-impair do: jitter above the packet spacing reorders
  std::uint64_t bandwidth_bps = 0;  // 0: unlimited (no serialisation delay, no queue)
  std::size_t queue_limit = 128;    // packets in the bottleneck queue; tail drop beyond
  double loss = 0;                  // probability a packet is lost
  double duplicate = 0;             // probability a packet is delivered twice
  double reorder = 0;               // probability a packet is held back by reorder_delay
  Duration reorder_delay = Duration::millis(3);
  double corrupt = 0;             // probability a (copy of a) packet is corrupted
  unsigned corrupt_bytes = 1;     // bytes flipped in a corrupted packet
  std::size_t slots = 1024;       // packets the link holds at once
  std::size_t max_packet = 2048;  // bytes per slot; longer packets are refused
};

struct LinkStats {
  std::uint64_t sent = 0;       // packets committed
  std::uint64_t delivered = 0;  // packets handed to a receiver (duplicates included)
  std::uint64_t bytes_delivered = 0;
  std::uint64_t lost = 0;         // random loss
  std::uint64_t queue_drops = 0;  // tail drops at the bottleneck queue
  std::uint64_t tx_busy = 0;      // tx_acquire() found no free slot
  std::uint64_t oversize = 0;     // send() of a packet longer than max_packet
  std::uint64_t duplicated = 0;
  std::uint64_t reordered = 0;
  std::uint64_t corrupted = 0;
};

class SimLink {
 public:
  SimLink(const LinkConfig& cfg, const Clock& clock);
  SimLink(const SimLink&) = delete;
  SimLink& operator=(const SimLink&) = delete;

  // A buffer of max_packet bytes for the next packet, or an empty span when every slot is busy.
  // Until tx_commit(), calling it again returns the same buffer.
  std::span<std::uint8_t> tx_acquire();
  // Sends the first `len` bytes of the buffer from tx_acquire() towards receiver `dst` (an opaque
  // tag handed back at delivery). Without a pending buffer it does nothing.
  void tx_commit(std::size_t len, std::uint32_t dst);
  // Copies `packet` into a slot and commits it; false when no slot is free or it is too long.
  bool send(std::span<const std::uint8_t> packet, std::uint32_t dst);

  // The delivery time of the next packet, or nullopt when the link is empty.
  std::optional<Instant> next_delivery() const;
  // Hands every packet due at clock.now() to f(dst, bytes, deliver_at), in delivery order (time,
  // then commit order); the bytes are valid only during the call. f may send on this link again;
  // a packet so sent that is due at once is delivered in the same call. Returns the count.
  template <typename F>
  std::size_t deliver_due(F&& f);

  std::size_t in_flight() const { return heap_.size(); }  // committed, not yet delivered
  std::size_t free_slots() const { return free_.size(); }
  const LinkStats& stats() const { return stats_; }
  const LinkConfig& config() const { return cfg_; }

 private:
  static constexpr std::uint32_t kNone = ~std::uint32_t{0};
  struct Slot {
    Instant deliver_at{};
    std::uint64_t order = 0;  // commit order, breaks ties in deliver_at
    std::uint32_t len = 0;
    std::uint32_t dst = 0;
  };

  double unit();                         // uniform [0, 1)
  std::uint64_t below(std::uint64_t n);  // uniform [0, n), n > 0
  void corrupt_slot(std::uint32_t s);
  void schedule(std::uint32_t s, Instant at);
  std::uint32_t pop_due(Instant now);  // kNone when nothing is due
  std::uint8_t* data(std::uint32_t s) { return storage_.data() + std::size_t{s} * cfg_.max_packet; }
  bool earlier(std::uint32_t a, std::uint32_t b) const;

  LinkConfig cfg_;
  const Clock& clock_;
  std::mt19937_64 rng_;
  std::vector<std::uint8_t> storage_;
  std::vector<Slot> slots_;
  std::vector<std::uint32_t> free_;  // stack of free slot indices
  std::vector<std::uint32_t> heap_;  // min-heap on (deliver_at, order)
  std::uint32_t pending_ = kNone;    // slot lent by tx_acquire()
  std::uint64_t next_order_ = 0;

  // The bottleneck queue: serialisation end times of queued packets, a ring of queue_limit.
  std::vector<Instant> queue_ends_;
  std::size_t queue_head_ = 0;
  std::size_t queue_len_ = 0;
  Instant link_free_at_{};   // when the transmitter finishes the last queued packet
  Instant last_in_order_{};  // latest delivery time of a packet not held back
  LinkStats stats_{};
};

template <typename F>
std::size_t SimLink::deliver_due(F&& f) {
  std::size_t n = 0;
  const Instant now = clock_.now();
  for (std::uint32_t s = pop_due(now); s != kNone; s = pop_due(now)) {
    const Slot& slot = slots_[s];
    ++stats_.delivered;
    stats_.bytes_delivered += slot.len;
    f(slot.dst, std::span<const std::uint8_t>(data(s), slot.len), slot.deliver_at);
    free_.push_back(s);
    ++n;
  }
  return n;
}

}  // namespace xdptcp::sim
