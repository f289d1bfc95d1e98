// DelayQueue (see delay_queue.h).
#include "tools/impair/delay_queue.h"

#include <algorithm>
#include <cstring>

namespace xdptcp::impair {

DelayQueue::DelayQueue(std::size_t capacity, std::size_t slot_size)
    : capacity_(capacity), slot_size_(std::min<std::size_t>(slot_size, UINT16_MAX)) {
  storage_.resize(capacity_ * slot_size_);
  heap_.reserve(capacity_);
  free_.reserve(capacity_);
  for (std::size_t i = capacity_; i > 0; --i) free_.push_back(static_cast<std::uint32_t>(i - 1));
}

DelayQueue::PushResult DelayQueue::push(std::span<const std::uint8_t> frame, std::uint64_t release_ns,
                                        std::size_t port, std::uint64_t arrival_ns) {
  if (port >= kMaxPorts) return PushResult::kBadPort;
  if (frame.size() > slot_size_) {
    ++counters_.too_big;
    return PushResult::kTooBig;
  }
  if (free_.empty()) {
    ++counters_.full;
    return PushResult::kFull;
  }
  const std::uint32_t s = free_.back();
  free_.pop_back();
  if (!frame.empty()) std::memcpy(slot(s), frame.data(), frame.size());
  heap_.push_back(Entry{release_ns, next_seq_++, arrival_ns, s, static_cast<std::uint16_t>(frame.size()),
                        static_cast<std::uint8_t>(port)});
  std::push_heap(heap_.begin(), heap_.end(), later);
  ++counters_.queued;
  return PushResult::kQueued;
}

DelayQueue::Entry DelayQueue::pop_front() {
  std::pop_heap(heap_.begin(), heap_.end(), later);
  const Entry e = heap_.back();
  heap_.pop_back();
  std::uint64_t& high = released_high_[e.port];
  if (e.seq + 1 < high) {
    ++counters_.reordered;  // a frame that arrived after this one, for the same port, already left
  } else {
    high = e.seq + 1;
  }
  ++counters_.released;
  return e;
}

std::optional<std::uint64_t> DelayQueue::next_release() const {
  if (heap_.empty()) return std::nullopt;
  return heap_.front().release_ns;
}

}  // namespace xdptcp::impair
