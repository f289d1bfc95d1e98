// DelayQueue: the bounded, time-ordered queue at the heart of `xdptcp-impair delay`. Frames are copied
// in with the time at which they may leave and the port (interface) they leave by; release_due() hands
// back, in release-time order, every frame whose time has come. Equal release times leave in arrival
// order, so a constant delay never reorders; reordering comes only from frames given different delays.
//
// Storage is allocated once (capacity slots of slot_size bytes): push and release never allocate.
// At the bound: a push into a full queue is refused (kFull, tail drop, as a router's full buffer
// would), and a frame longer than slot_size is refused (kTooBig). Both are counted.
//
// Time is an input (nanoseconds on any monotonic clock), so the tests drive it by hand.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace xdptcp::impair {

class DelayQueue {
 public:
  static constexpr std::size_t kMaxPorts = 4;

  enum class PushResult { kQueued, kFull, kTooBig, kBadPort };

  struct Counters {
    std::uint64_t queued = 0;     // frames accepted
    std::uint64_t released = 0;   // frames handed out by release_due
    std::uint64_t reordered = 0;  // released after a frame that arrived later for the same port
    std::uint64_t full = 0;       // refused: queue full
    std::uint64_t too_big = 0;    // refused: longer than a slot
  };

  DelayQueue(std::size_t capacity, std::size_t slot_size);

  // Copies `frame` in, to leave by `port` (< kMaxPorts) at `release_ns`. `arrival_ns` is only handed back
  // at release (to measure the delay the frame actually got).
  PushResult push(std::span<const std::uint8_t> frame, std::uint64_t release_ns, std::size_t port,
                  std::uint64_t arrival_ns = 0);

  // Calls send(std::span<std::uint8_t> frame, std::size_t port, std::uint64_t arrival_ns) for every frame
  // with release_ns <= now_ns, earliest first, at most `max_frames` of them; the span is valid during the
  // call only (the callee may modify the bytes). Returns how many were released.
  template <typename Send>
  std::size_t release_due(std::uint64_t now_ns, Send&& send, std::size_t max_frames = SIZE_MAX) {
    std::size_t n = 0;
    while (n < max_frames && !heap_.empty() && heap_.front().release_ns <= now_ns) {
      const Entry e = pop_front();
      send(std::span<std::uint8_t>(slot(e.slot), e.len), static_cast<std::size_t>(e.port), e.arrival_ns);
      free_.push_back(e.slot);  // capacity reserved up front: never reallocates
      ++n;
    }
    return n;
  }

  // The earliest release time, nullopt when empty.
  std::optional<std::uint64_t> next_release() const;

  std::size_t size() const { return heap_.size(); }
  std::size_t capacity() const { return capacity_; }
  std::size_t slot_size() const { return slot_size_; }
  const Counters& counters() const { return counters_; }

 private:
  struct Entry {
    std::uint64_t release_ns;
    std::uint64_t seq;  // arrival order, the tie-breaker and the measure of reordering
    std::uint64_t arrival_ns;
    std::uint32_t slot;
    std::uint16_t len;
    std::uint8_t port;
  };
  // std::push_heap builds a max-heap: "a later than b" puts the earliest entry at the front.
  static bool later(const Entry& a, const Entry& b) {
    return a.release_ns != b.release_ns ? a.release_ns > b.release_ns : a.seq > b.seq;
  }
  Entry pop_front();
  std::uint8_t* slot(std::uint32_t i) { return storage_.data() + static_cast<std::size_t>(i) * slot_size_; }

  std::size_t capacity_;
  std::size_t slot_size_;
  std::vector<std::uint8_t> storage_;
  std::vector<Entry> heap_;
  std::vector<std::uint32_t> free_;
  std::uint64_t next_seq_ = 0;
  // Per port: the highest arrival sequence released so far (+1; 0 = none yet).
  std::uint64_t released_high_[kMaxPorts] = {};
  Counters counters_;
};

}  // namespace xdptcp::impair
