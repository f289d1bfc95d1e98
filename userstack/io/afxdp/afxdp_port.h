// One AF_XDP socket on one NIC queue, with its own UMEM: the PacketIo of one engine.
// Read first: userstack/io/packet_io.h (the interface), design brief §7 (AF_XDP facts).
//
// Frames: the UMEM holds frame_count frames of frame_size bytes. At start, fill_size of them go
// to the FILL ring and the rest form the transmit pool. Received frames go back to the FILL
// ring in one batch at rx_release() (so the FILL ring stays as full as the kernel left it);
// transmitted frames come back to the pool through the COMPLETION ring. Frames are never lost:
// every frame is, at any time, in exactly one of FILL, RX (kernel), the caller's hands, the pool,
// TX or COMPLETION, and frames_accounted() checks it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <xdp/xsk.h>

#include "userstack/base/result.h"
#include "userstack/io/packet_io.h"

namespace xdptcp::io {

enum class BindMode : std::uint8_t { kAuto, kZeroCopy, kCopy };

struct AfXdpConfig {
  std::string ifname;
  std::uint32_t queue = 0;
  std::uint32_t frame_count = 4096;  // UMEM frames (power of two)
  std::uint32_t frame_size = 2048;   // XSK_UMEM__DEFAULT_FRAME_SIZE is 4096; 2 KiB fits a 1500 MTU
  std::uint32_t ring_size = 1024;    // RX and TX ring entries
  std::uint32_t fill_size = 2048;    // FILL and COMPLETION ring entries (> RX + driver ring)
  BindMode bind = BindMode::kAuto;
  bool busy_poll = false;  // SO_PREFER_BUSY_POLL + SO_BUSY_POLL; wait() then never sleeps
  int xskmap_fd = -1;      // register the socket there at open (pinned xdptcp_xsks), or -1
  // A queue closed a moment ago refuses a bind with EBUSY for tens of ms: retry up to 2 s (a
  // restarted process taking its queue back). False: fail at once (a running engine taking a queue
  // that it will try again later must not stall its connections).
  bool retry_busy = true;
};

class AfXdpPort final : public PacketIo {
 public:
  static Result<std::unique_ptr<AfXdpPort>> open(const AfXdpConfig& cfg);
  ~AfXdpPort() override;
  AfXdpPort(const AfXdpPort&) = delete;
  AfXdpPort& operator=(const AfXdpPort&) = delete;

  std::size_t rx_burst(std::span<RxFrame> out) override;
  void rx_release(std::span<const RxFrame> frames) override;
  std::span<std::uint8_t> tx_acquire() override;
  void tx_commit(std::size_t len) override;
  void tx_flush() override;
  std::size_t tx_queued(std::size_t skip, std::span<std::span<const std::uint8_t>> out) const override;
  void wait(Duration timeout) override;
  void set_wake_fd(int fd) override { wake_fd_ = fd; }
  int poll_fd() const override { return fd(); }
  std::size_t frame_capacity() const override { return cfg_.frame_size; }
  IoStats stats() const override;

  int fd() const;
  bool zero_copy() const { return zero_copy_; }
  // Frames in the pool plus those handed to the kernel or the caller equal frame_count.
  bool frames_accounted() const;
  std::uint32_t pool_size() const { return static_cast<std::uint32_t>(pool_.size()); }

 private:
  explicit AfXdpPort(AfXdpConfig cfg);
  Result<void> setup(bool zero_copy);
  void teardown();
  void reap_completions();

  AfXdpConfig cfg_;
  void* area_ = nullptr;
  std::size_t area_len_ = 0;
  xsk_umem* umem_ = nullptr;
  xsk_socket* xsk_ = nullptr;
  xsk_ring_prod fill_{};
  xsk_ring_cons comp_{};
  xsk_ring_cons rx_{};
  xsk_ring_prod tx_{};
  bool zero_copy_ = false;
  int wake_fd_ = -1;

  std::vector<std::uint64_t> pool_;  // free frame addresses (capacity frame_count, never grows)
  std::uint64_t tx_pending_addr_ = 0;
  bool tx_acquired_ = false;
  std::uint32_t tx_queued_ = 0;       // reserved-and-filled TX descriptors not yet submitted
  std::uint32_t tx_outstanding_ = 0;  // submitted, not yet completed
  std::uint32_t rx_outstanding_ = 0;  // peeked, not yet released
  std::uint32_t fill_outstanding_ = 0;
  IoStats stats_{};
};

}  // namespace xdptcp::io
