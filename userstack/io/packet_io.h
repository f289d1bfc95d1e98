// PacketIo: burst receive and burst transmit of Ethernet frames, the engine's only view of the
// wire. Implementations: AF_XDP (userstack/io/afxdp) and, for tests and benchmarks, an in-memory
// link. Shaped after libxdp's xsk.h and mTCP's io_module_func: peek a batch, process, release the
// batch; acquire, fill and commit transmit buffers, then flush once per loop iteration.
//
// Nothing here allocates or makes a system call per packet; tx_flush() makes at most one (the
// kick, only when the kernel asks for it) and wait() one poll().
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "userstack/time/clock.h"

namespace xdptcp::io {

struct RxFrame {
  std::span<const std::uint8_t> data;  // valid until rx_release()
  std::uint64_t handle = 0;            // implementation's frame id (UMEM address)
};

struct IoStats {
  std::uint64_t rx_frames = 0;
  std::uint64_t tx_frames = 0;
  std::uint64_t tx_no_buffer = 0;   // tx_acquire() found no free frame or ring slot
  std::uint64_t kicks = 0;          // sendto() wake-ups of the kernel's TX path
  std::uint64_t fill_wakeups = 0;   // recvfrom()/poll wake-ups for the FILL ring
  std::uint64_t rx_dropped = 0;     // kernel: dropped for lack of space (XDP_STATISTICS)
  std::uint64_t rx_invalid = 0;     // kernel: invalid descriptors
  std::uint64_t rx_fill_empty = 0;  // kernel: FILL ring was empty when a frame arrived
  std::uint64_t rx_ring_full = 0;   // kernel: RX ring full, frame dropped (Linux >= 5.9)
  std::uint64_t tx_invalid = 0;
};

class PacketIo {
 public:
  virtual ~PacketIo() = default;

  // Up to out.size() received frames; returns how many. Their data stays valid until
  // rx_release(), which must be called (with exactly those frames) before the next rx_burst().
  virtual std::size_t rx_burst(std::span<RxFrame> out) = 0;
  virtual void rx_release(std::span<const RxFrame> frames) = 0;

  // A transmit buffer of frame_capacity() bytes, or an empty span when no frame or TX ring slot is
  // free now (counted in tx_no_buffer; the caller keeps its data and retries after tx_flush()).
  virtual std::span<std::uint8_t> tx_acquire() = 0;
  // Queues the first len bytes of the buffer last returned by tx_acquire().
  virtual void tx_commit(std::size_t len) = 0;
  // Hands the queued frames to the device (one ring submit; one kick when it needs a wake-up)
  // and reclaims completed ones.
  virtual void tx_flush() = 0;
  // The frames committed since the last tx_flush(), from the skip-th on, up to out.size() of them:
  // how many were written. Valid until tx_flush(). For packet capture (xdptcp-ctl capture), which
  // copies a batch's frames once before its flush instead of testing a flag per frame. An
  // implementation that cannot list them returns 0 (its frames are not captured).
  virtual std::size_t tx_queued(std::size_t skip, std::span<std::span<const std::uint8_t>> out) const {
    (void)skip;
    (void)out;
    return 0;
  }

  // Sleeps until a frame may be ready or `timeout` passes (poll() on the socket). Returns at
  // once when busy-polling is configured or frames are already waiting.
  virtual void wait(Duration timeout) = 0;
  // An extra file descriptor whose readability also ends wait() (the engine's hand-off doorbell,
  // an eventfd); -1 for none. Implementations without a real wait ignore it.
  virtual void set_wake_fd(int fd) { (void)fd; }
  // The descriptor that is readable when frames are waiting (for an application that sleeps in
  // its own poll/epoll set instead of wait()); -1 when there is none (the in-memory link).
  virtual int poll_fd() const { return -1; }
  // Every such descriptor (one per queue when the PacketIo serves several), appended to out.
  virtual void poll_fds(std::vector<int>& out) const {
    if (poll_fd() >= 0) out.push_back(poll_fd());
  }

  virtual std::size_t frame_capacity() const = 0;
  virtual IoStats stats() const = 0;
};

}  // namespace xdptcp::io
