// An in-memory Ethernet link: two PacketIo ports wired back to back, for tests and benchmarks
// that run whole engines (API included) in one thread without a kernel. Each direction is a
// bounded queue of preallocated frames; a frame sent when the peer's queue is full is dropped
// and counted (as a NIC drops when its ring is full). Delivery is immediate: the next rx_burst()
// on the other port sees it. An optional filter lets a test drop or corrupt chosen frames.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "userstack/io/packet_io.h"

namespace xdptcp::io {

class MemLink;

class MemPort final : public PacketIo {
 public:
  std::size_t rx_burst(std::span<RxFrame> out) override;
  void rx_release(std::span<const RxFrame> frames) override;
  std::span<std::uint8_t> tx_acquire() override;
  void tx_commit(std::size_t len) override;
  void tx_flush() override { unflushed_ = 0; }
  // The frames delivered since the last tx_flush(), in the peer's queue (delivery is immediate).
  std::size_t tx_queued(std::size_t skip, std::span<std::span<const std::uint8_t>> out) const override;
  void wait(Duration /*timeout*/) override {}
  std::size_t frame_capacity() const override { return frame_size_; }
  IoStats stats() const override { return stats_; }
  std::uint64_t dropped_full() const { return dropped_full_; }
  std::size_t queued() const { return count_; }

 private:
  friend class MemLink;
  MemPort(std::size_t frames, std::size_t frame_size);
  bool deliver(std::span<const std::uint8_t> frame);

  std::size_t frame_size_;
  std::size_t capacity_;
  std::vector<std::uint8_t> storage_;  // capacity_ frames for the receive queue
  std::vector<std::uint32_t> lengths_;
  std::size_t head_ = 0;
  std::size_t count_ = 0;
  std::size_t lent_ = 0;              // frames returned by rx_burst and not yet released
  std::vector<std::uint8_t> tx_buf_;  // one transmit buffer, lent by tx_acquire
  MemPort* peer_ = nullptr;
  MemLink* link_ = nullptr;
  IoStats stats_{};
  std::uint64_t dropped_full_ = 0;
  std::size_t unflushed_ = 0;  // frames delivered to the peer since the last tx_flush()
};

class MemLink {
 public:
  // A filter sees each frame in flight and returns false to drop it; it may modify the bytes.
  using Filter = std::function<bool(std::span<std::uint8_t> frame, bool a_to_b)>;

  explicit MemLink(std::size_t frames_per_direction = 1024, std::size_t frame_size = 2048);
  MemPort& a() { return *a_; }
  MemPort& b() { return *b_; }
  void set_filter(Filter f) { filter_ = std::move(f); }

 private:
  friend class MemPort;
  std::unique_ptr<MemPort> a_;
  std::unique_ptr<MemPort> b_;
  Filter filter_;
};

}  // namespace xdptcp::io
