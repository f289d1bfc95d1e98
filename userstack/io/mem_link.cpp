// Back-to-back in-memory ports; see mem_link.h.
#include "userstack/io/mem_link.h"

#include <algorithm>
#include <cstring>

namespace xdptcp::io {

MemPort::MemPort(std::size_t frames, std::size_t frame_size)
    : frame_size_(frame_size),
      capacity_(frames),
      storage_(frames * frame_size),
      lengths_(frames),
      tx_buf_(frame_size) {}

std::size_t MemPort::rx_burst(std::span<RxFrame> out) {
  const std::size_t n = std::min(out.size(), count_);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t slot = (head_ + i) % capacity_;
    out[i].handle = slot;
    out[i].data = {storage_.data() + slot * frame_size_, lengths_[slot]};
  }
  lent_ = n;
  stats_.rx_frames += n;
  return n;
}

void MemPort::rx_release(std::span<const RxFrame> frames) {
  const std::size_t n = std::min(frames.size(), lent_);
  head_ = (head_ + n) % capacity_;
  count_ -= n;
  lent_ = 0;
}

std::span<std::uint8_t> MemPort::tx_acquire() {
  return tx_buf_;
}

void MemPort::tx_commit(std::size_t len) {
  len = std::min(len, frame_size_);
  ++stats_.tx_frames;
  std::span<std::uint8_t> frame(tx_buf_.data(), len);
  if (link_->filter_ && !link_->filter_(frame, this == link_->a_.get())) return;
  if (peer_->deliver(frame)) {
    ++unflushed_;
  } else {
    ++dropped_full_;
  }
}

std::size_t MemPort::tx_queued(std::size_t skip, std::span<std::span<const std::uint8_t>> out) const {
  // The last unflushed_ frames of the peer's queue (fewer when it has taken some meanwhile).
  const MemPort& p = *peer_;
  const std::size_t have = std::min(unflushed_, p.count_);
  std::size_t n = 0;
  for (std::size_t i = skip; i < have && n < out.size(); ++i) {
    const std::size_t slot = (p.head_ + p.count_ - have + i) % p.capacity_;
    out[n++] = {p.storage_.data() + slot * p.frame_size_, p.lengths_[slot]};
  }
  return n;
}

bool MemPort::deliver(std::span<const std::uint8_t> frame) {
  if (count_ == capacity_) return false;
  const std::size_t slot = (head_ + count_) % capacity_;
  std::memcpy(storage_.data() + slot * frame_size_, frame.data(), frame.size());
  lengths_[slot] = static_cast<std::uint32_t>(frame.size());
  ++count_;
  return true;
}

MemLink::MemLink(std::size_t frames_per_direction, std::size_t frame_size)
    : a_(new MemPort(frames_per_direction, frame_size)), b_(new MemPort(frames_per_direction, frame_size)) {
  a_->peer_ = b_.get();
  b_->peer_ = a_.get();
  a_->link_ = this;
  b_->link_ = this;
}

}  // namespace xdptcp::io
