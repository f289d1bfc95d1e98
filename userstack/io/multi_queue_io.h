// One PacketIo over several: an engine that serves more than one NIC queue (StackOptions::engines
// below the queue count, and the preload library's single event-loop thread, which must receive
// on every RX queue of the interface; see docs/PRELOAD.md).
//
// Receive takes from each part in turn, starting one further every burst so that no queue starves
// another; transmit goes out through the first part (any queue's AF_XDP socket reaches the wire).
// wait() sleeps in one poll(2) over every part's descriptor and the wake fd. No allocation after
// construction; nothing per packet beyond what the parts do.
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <vector>

#include "userstack/io/packet_io.h"

namespace xdptcp::io {

class MultiQueueIo final : public PacketIo {
 public:
  static constexpr std::size_t kMaxParts = 64;

  // parts: at least one, at most kMaxParts, not owned (they outlive this). busy_poll: wait()
  // returns at once (the parts' own busy-poll setting, repeated here for the combined wait).
  MultiQueueIo(std::vector<PacketIo*> parts, bool busy_poll);

  // One more part (not owned), at most kMaxParts in all; false at the bound. Between bursts, on
  // the thread that drives this (a queue the process took later, Stack::claim_free_queues).
  bool add_part(PacketIo* part);

  std::size_t rx_burst(std::span<RxFrame> out) override;
  void rx_release(std::span<const RxFrame> frames) override;
  std::span<std::uint8_t> tx_acquire() override { return parts_[0]->tx_acquire(); }
  void tx_commit(std::size_t len) override { parts_[0]->tx_commit(len); }
  void tx_flush() override;
  std::size_t tx_queued(std::size_t skip, std::span<std::span<const std::uint8_t>> out) const override;
  void wait(Duration timeout) override;
  void set_wake_fd(int fd) override { wake_fd_ = fd; }
  int poll_fd() const override { return -1; }  // several: see poll_fds()
  void poll_fds(std::vector<int>& out) const override;
  std::size_t frame_capacity() const override;
  IoStats stats() const override;

 private:
  std::vector<PacketIo*> parts_;
  bool busy_poll_;
  int wake_fd_ = -1;
  std::size_t next_ = 0;                        // the part the next burst starts with
  std::array<std::size_t, kMaxParts> taken_{};  // frames each part gave in the last burst
  std::size_t first_ = 0;                       // the part the last burst started with
};

}  // namespace xdptcp::io
