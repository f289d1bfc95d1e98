// One PacketIo over several; see multi_queue_io.h.
#include "userstack/io/multi_queue_io.h"

#include <poll.h>

#include <algorithm>
#include <array>
#include <cassert>

namespace xdptcp::io {

MultiQueueIo::MultiQueueIo(std::vector<PacketIo*> parts, bool busy_poll)
    : parts_(std::move(parts)), busy_poll_(busy_poll) {
  assert(!parts_.empty() && parts_.size() <= kMaxParts);
  if (parts_.size() > kMaxParts) parts_.resize(kMaxParts);
}

bool MultiQueueIo::add_part(PacketIo* part) {
  if (parts_.size() >= kMaxParts) return false;
  parts_.push_back(part);  // at most kMaxParts: a few growths over the process's life
  return true;
}

std::size_t MultiQueueIo::rx_burst(std::span<RxFrame> out) {
  const std::size_t n = parts_.size();
  first_ = next_;
  next_ = (next_ + 1) % n;
  std::size_t got = 0;
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t p = (first_ + k) % n;
    taken_[p] = got < out.size() ? parts_[p]->rx_burst(out.subspan(got)) : 0;
    got += taken_[p];
  }
  return got;
}

void MultiQueueIo::rx_release(std::span<const RxFrame> frames) {
  // The frames come back in the order rx_burst() gave them: part by part from first_.
  const std::size_t n = parts_.size();
  std::size_t at = 0;
  for (std::size_t k = 0; k < n && at < frames.size(); ++k) {
    const std::size_t p = (first_ + k) % n;
    const std::size_t c = std::min(taken_[p], frames.size() - at);
    if (c > 0) parts_[p]->rx_release(frames.subspan(at, c));
    at += c;
    taken_[p] = 0;
  }
}

void MultiQueueIo::tx_flush() {
  // Only the first part transmits; the others may still owe the kernel a FILL-ring wake-up,
  // which their own flush handles.
  for (PacketIo* p : parts_) p->tx_flush();
}

std::size_t MultiQueueIo::tx_queued(std::size_t skip, std::span<std::span<const std::uint8_t>> out) const {
  // The parts' lists one after the other (a part's length found by asking for one frame at a time).
  std::size_t n = 0;
  for (const PacketIo* p : parts_) {
    if (n == out.size()) break;
    std::array<std::span<const std::uint8_t>, 1> probe{};
    std::size_t count = 0;
    while (p->tx_queued(count, probe) == 1) ++count;
    if (skip >= count) {
      skip -= count;
      continue;
    }
    n += p->tx_queued(skip, out.subspan(n));
    skip = 0;
  }
  return n;
}

void MultiQueueIo::wait(Duration timeout) {
  if (busy_poll_) return;
  std::array<pollfd, kMaxParts + 1> fds{};
  std::size_t k = 0;
  for (PacketIo* p : parts_) {
    const int fd = p->poll_fd();
    if (fd < 0) {
      // A part without a descriptor (the in-memory link) cannot be slept on: do not sleep.
      return;
    }
    fds[k++] = {fd, POLLIN, 0};
  }
  if (wake_fd_ >= 0) fds[k++] = {wake_fd_, POLLIN, 0};
  const auto ms = static_cast<int>(std::max<std::int64_t>(0, (timeout.ns + 999'999) / 1'000'000));
  ::poll(fds.data(), k, ms);
}

void MultiQueueIo::poll_fds(std::vector<int>& out) const {
  for (PacketIo* p : parts_) p->poll_fds(out);
}

std::size_t MultiQueueIo::frame_capacity() const {
  std::size_t c = parts_[0]->frame_capacity();
  for (PacketIo* p : parts_) c = std::min(c, p->frame_capacity());
  return c;
}

IoStats MultiQueueIo::stats() const {
  IoStats s;
  for (PacketIo* p : parts_) {
    const IoStats t = p->stats();
    s.rx_frames += t.rx_frames;
    s.tx_frames += t.tx_frames;
    s.tx_no_buffer += t.tx_no_buffer;
    s.kicks += t.kicks;
    s.fill_wakeups += t.fill_wakeups;
    s.rx_dropped += t.rx_dropped;
    s.rx_invalid += t.rx_invalid;
    s.rx_fill_empty += t.rx_fill_empty;
    s.rx_ring_full += t.rx_ring_full;
    s.tx_invalid += t.tx_invalid;
  }
  return s;
}

}  // namespace xdptcp::io
