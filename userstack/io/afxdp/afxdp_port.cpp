// AF_XDP socket + UMEM for one queue; see afxdp_port.h for the frame accounting.
#include "userstack/io/afxdp/afxdp_port.h"

#include <fcntl.h>

#include <linux/if_xdp.h>
#include <net/if.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace xdptcp::io {

namespace {

#ifndef SO_PREFER_BUSY_POLL
constexpr int SO_PREFER_BUSY_POLL = 69;
#endif
#ifndef SO_BUSY_POLL_BUDGET
constexpr int SO_BUSY_POLL_BUDGET = 70;
#endif

constexpr bool is_pow2(std::uint32_t v) {
  return v != 0 && (v & (v - 1)) == 0;
}

}  // namespace

AfXdpPort::AfXdpPort(AfXdpConfig cfg) : cfg_(std::move(cfg)) {}

AfXdpPort::~AfXdpPort() {
  teardown();
}

Result<std::unique_ptr<AfXdpPort>> AfXdpPort::open(const AfXdpConfig& cfg) {
  if (cfg.ifname.empty() || if_nametoindex(cfg.ifname.c_str()) == 0) {
    return Error{ENODEV, "AF_XDP: no interface named '" + cfg.ifname + "'"};
  }
  if (!is_pow2(cfg.frame_count) || !is_pow2(cfg.ring_size) || !is_pow2(cfg.fill_size) ||
      !is_pow2(cfg.frame_size) || cfg.frame_size < 2048 || cfg.frame_size > 4096) {
    return Error{
        EINVAL,
        "AF_XDP: frame_count, ring_size and fill_size must be powers of two and frame_size 2048 or 4096"};
  }
  if (cfg.fill_size + cfg.ring_size > cfg.frame_count) {
    return Error{EINVAL, "AF_XDP: frame_count must cover the FILL ring plus the TX ring"};
  }
  std::unique_ptr<AfXdpPort> port(new AfXdpPort(cfg));
  const auto bind_once = [&]() -> Result<void> {
    switch (cfg.bind) {
      case BindMode::kZeroCopy:
        return port->setup(true);
      case BindMode::kCopy:
        return port->setup(false);
      case BindMode::kAuto:
        break;
    }
    // Zero-copy needs driver support (not veth); ask for it and fall back to copy when refused.
    Result<void> zc = port->setup(true);
    if (zc) return zc;
    port->teardown();
    return port->setup(false);
  };
  // The kernel frees a closed socket's queue only in deferred work that takes the RTNL lock, so a
  // queue closed a moment ago refuses a new bind with EBUSY for some tens of milliseconds (seen:
  // ~40 ms on veth). Retry for a bounded time, so that a restarted engine can take its queue back.
  const int kBusyRetries = cfg.retry_busy ? 200 : 0;  // x 10 ms
  Result<void> r = bind_once();
  for (int i = 0; !r && r.error().code == EBUSY && i < kBusyRetries; ++i) {
    port->teardown();
    usleep(10'000);
    r = bind_once();
  }
  if (!r) return r.error();
  return port;
}

Result<void> AfXdpPort::setup(bool zero_copy) {
  const std::string where = "AF_XDP on " + cfg_.ifname + " queue " + std::to_string(cfg_.queue);
  area_len_ = static_cast<std::size_t>(cfg_.frame_count) * cfg_.frame_size;
  area_ = mmap(nullptr, area_len_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (area_ == MAP_FAILED) {
    area_ = nullptr;
    return errno_error(where + ": cannot map the UMEM area");
  }
  xsk_umem_config ucfg{};
  ucfg.fill_size = cfg_.fill_size;
  ucfg.comp_size = cfg_.fill_size;
  ucfg.frame_size = cfg_.frame_size;
  ucfg.frame_headroom = 0;
  ucfg.flags = 0;
  int err = xsk_umem__create(&umem_, area_, area_len_, &fill_, &comp_, &ucfg);
  if (err != 0) {
    umem_ = nullptr;
    return Error{-err, where + ": cannot create the UMEM (needs root or CAP_NET_RAW, and locked memory)"};
  }
  xsk_socket_config scfg{};
  scfg.rx_size = cfg_.ring_size;
  scfg.tx_size = cfg_.ring_size;
  // Our own steering program is attached by xdptcp-ctl or the engine: libxdp must not load its own.
  scfg.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD;
  scfg.xdp_flags = 0;
  scfg.bind_flags = static_cast<__u16>(XDP_USE_NEED_WAKEUP | (zero_copy ? XDP_ZEROCOPY : XDP_COPY));
  err = xsk_socket__create(&xsk_, cfg_.ifname.c_str(), cfg_.queue, umem_, &rx_, &tx_, &scfg);
  if (err != 0) {
    xsk_ = nullptr;
    if (err == -EBUSY)
      return Error{EBUSY, where + ": the queue is taken by another AF_XDP socket (retried for 2 s)"};
    return Error{-err, where + (zero_copy ? ": zero-copy bind refused (driver support needed; try copy mode)"
                                          : ": cannot bind the socket")};
  }
  zero_copy_ = zero_copy;
  // libxdp opens the socket without SOCK_CLOEXEC. A program this process execs (system(), an
  // upgrade) must not hold it: a socket outliving its reader stays in the XSKMAP and swallows the
  // port's frames that the kernel would otherwise get back (design brief §4).
  if (const int fl = fcntl(fd(), F_GETFD); fl >= 0) (void)fcntl(fd(), F_SETFD, fl | FD_CLOEXEC);

  // Half the frames (fill_size) go to the FILL ring, the rest form the transmit pool.
  pool_.clear();
  pool_.reserve(cfg_.frame_count);
  for (std::uint32_t i = 0; i < cfg_.frame_count; ++i) {
    pool_.push_back(static_cast<std::uint64_t>(cfg_.frame_count - 1 - i) * cfg_.frame_size);
  }
  std::uint32_t idx = 0;
  const std::uint32_t n = xsk_ring_prod__reserve(&fill_, cfg_.fill_size, &idx);
  for (std::uint32_t i = 0; i < n; ++i) {
    *xsk_ring_prod__fill_addr(&fill_, idx + i) = pool_.back();
    pool_.pop_back();
  }
  xsk_ring_prod__submit(&fill_, n);
  fill_outstanding_ = n;

  if (cfg_.busy_poll) {
    int one = 1;
    int usecs = 20;
    int budget = static_cast<int>(cfg_.ring_size);
    if (setsockopt(fd(), SOL_SOCKET, SO_PREFER_BUSY_POLL, &one, sizeof one) != 0 ||
        setsockopt(fd(), SOL_SOCKET, SO_BUSY_POLL, &usecs, sizeof usecs) != 0 ||
        setsockopt(fd(), SOL_SOCKET, SO_BUSY_POLL_BUDGET, &budget, sizeof budget) != 0) {
      return errno_error(where + ": busy polling refused (needs kernel 5.11+ and CAP_NET_ADMIN)");
    }
  }
  if (cfg_.xskmap_fd >= 0) {
    err = xsk_socket__update_xskmap(xsk_, cfg_.xskmap_fd);
    if (err != 0) return Error{-err, where + ": cannot register the socket in the XSKMAP"};
  }
  return {};
}

void AfXdpPort::teardown() {
  if (xsk_ != nullptr) xsk_socket__delete(xsk_);
  if (umem_ != nullptr) xsk_umem__delete(umem_);
  if (area_ != nullptr) munmap(area_, area_len_);
  xsk_ = nullptr;
  umem_ = nullptr;
  area_ = nullptr;
  fill_ = {};
  comp_ = {};
  rx_ = {};
  tx_ = {};
  tx_queued_ = tx_outstanding_ = rx_outstanding_ = fill_outstanding_ = 0;
  tx_acquired_ = false;
}

int AfXdpPort::fd() const {
  return xsk_socket__fd(xsk_);
}

std::size_t AfXdpPort::rx_burst(std::span<RxFrame> out) {
  std::uint32_t idx = 0;
  const auto want = static_cast<std::uint32_t>(out.size());
  const std::uint32_t n = xsk_ring_cons__peek(&rx_, want, &idx);
  if (n == 0) {
    // With need_wakeup, the kernel may be waiting for us to say the FILL ring has entries.
    if (xsk_ring_prod__needs_wakeup(&fill_)) {
      ++stats_.fill_wakeups;
      recvfrom(fd(), nullptr, 0, MSG_DONTWAIT, nullptr, nullptr);
    }
    return 0;
  }
  auto* base = static_cast<std::uint8_t*>(area_);
  for (std::uint32_t i = 0; i < n; ++i) {
    const xdp_desc* d = xsk_ring_cons__rx_desc(&rx_, idx + i);
    out[i].handle = d->addr;
    out[i].data = {base + d->addr, d->len};
  }
  // The descriptors are copied out; the frames stay ours until rx_release().
  xsk_ring_cons__release(&rx_, n);
  fill_outstanding_ -= n;
  rx_outstanding_ += n;
  stats_.rx_frames += n;
  return n;
}

void AfXdpPort::rx_release(std::span<const RxFrame> frames) {
  const auto n = static_cast<std::uint32_t>(frames.size());
  if (n == 0) return;
  std::uint32_t idx = 0;
  const std::uint32_t got = xsk_ring_prod__reserve(&fill_, n, &idx);
  for (std::uint32_t i = 0; i < got; ++i) {
    // Aligned mode: the frame's base is the address rounded down to the frame size.
    *xsk_ring_prod__fill_addr(&fill_, idx + i) =
        frames[i].handle & ~static_cast<std::uint64_t>(cfg_.frame_size - 1);
  }
  xsk_ring_prod__submit(&fill_, got);
  fill_outstanding_ += got;
  // The FILL ring holds at least as many slots as frames we took from it, so `got == n`; anything
  // else goes to the pool rather than leak.
  for (std::uint32_t i = got; i < n; ++i) {
    pool_.push_back(frames[i].handle & ~static_cast<std::uint64_t>(cfg_.frame_size - 1));
  }
  rx_outstanding_ -= n;
}

void AfXdpPort::reap_completions() {
  std::uint32_t idx = 0;
  const std::uint32_t n = xsk_ring_cons__peek(&comp_, cfg_.fill_size, &idx);
  for (std::uint32_t i = 0; i < n; ++i) pool_.push_back(*xsk_ring_cons__comp_addr(&comp_, idx + i));
  if (n > 0) xsk_ring_cons__release(&comp_, n);
  tx_outstanding_ -= n;
}

std::span<std::uint8_t> AfXdpPort::tx_acquire() {
  if (tx_acquired_) {
    // The previous buffer was not committed: lend it again.
    return {static_cast<std::uint8_t*>(area_) + tx_pending_addr_, cfg_.frame_size};
  }
  if (pool_.empty()) reap_completions();
  if (pool_.empty() || xsk_prod_nb_free(&tx_, 1) < 1) {
    ++stats_.tx_no_buffer;
    return {};
  }
  tx_pending_addr_ = pool_.back();
  pool_.pop_back();
  tx_acquired_ = true;
  return {static_cast<std::uint8_t*>(area_) + tx_pending_addr_, cfg_.frame_size};
}

void AfXdpPort::tx_commit(std::size_t len) {
  if (!tx_acquired_) return;
  std::uint32_t idx = 0;
  // tx_acquire() checked that a slot is free, so this reservation succeeds.
  xsk_ring_prod__reserve(&tx_, 1, &idx);
  xdp_desc* d = xsk_ring_prod__tx_desc(&tx_, idx);
  d->addr = tx_pending_addr_;
  d->len = static_cast<std::uint32_t>(std::min<std::size_t>(len, cfg_.frame_size));
  d->options = 0;
  tx_acquired_ = false;
  ++tx_queued_;
}

std::size_t AfXdpPort::tx_queued(std::size_t skip, std::span<std::span<const std::uint8_t>> out) const {
  // The descriptors reserved since the last submit: the tx_queued_ before the cached producer.
  auto& ring = const_cast<xsk_ring_prod&>(tx_);
  const std::uint32_t first = ring.cached_prod - tx_queued_;
  const auto* base = static_cast<const std::uint8_t*>(area_);
  std::size_t n = 0;
  for (std::size_t i = skip; i < tx_queued_ && n < out.size(); ++i) {
    const xdp_desc* d = xsk_ring_prod__tx_desc(&ring, first + static_cast<std::uint32_t>(i));
    out[n++] = {base + d->addr, d->len};
  }
  return n;
}

void AfXdpPort::tx_flush() {
  if (tx_queued_ > 0) {
    xsk_ring_prod__submit(&tx_, tx_queued_);
    tx_outstanding_ += tx_queued_;
    stats_.tx_frames += tx_queued_;
    tx_queued_ = 0;
  }
  // Copy mode transmits only inside sendto(), and at most 32 frames per call (the kernel's
  // TX_BATCH_SIZE): kick until the kernel has taken everything we submitted, so nothing waits in
  // the ring while the engine sleeps. The ring says when the kernel wants a kick at all
  // (need_wakeup); zero-copy drivers usually do not. Bounded: a ring's worth of batches. Only
  // descriptors the kernel has not taken call for a kick: frames taken but not yet completed (their
  // skb still on its way through the device) come back on the COMPLETION ring by themselves, and a
  // kick for them would be an empty system call (one per sleep, measured on the latency workload).
  const std::uint32_t max_kicks = cfg_.ring_size / 32 + 2;
  for (std::uint32_t k = 0;
       k < max_kicks && __atomic_load_n(tx_.consumer, __ATOMIC_ACQUIRE) != *tx_.producer &&
       xsk_ring_prod__needs_wakeup(&tx_);
       ++k) {
    ++stats_.kicks;
    // EAGAIN/EBUSY/ENOBUFS: the kernel cannot take more now; the next iteration kicks again.
    if (sendto(fd(), nullptr, 0, MSG_DONTWAIT, nullptr, 0) < 0) break;
  }
  reap_completions();
}

void AfXdpPort::wait(Duration timeout) {
  if (cfg_.busy_poll || xsk_cons_nb_avail(&rx_, 1) > 0) return;
  pollfd p[2] = {{fd(), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
  const auto ms = static_cast<int>(std::max<std::int64_t>(0, (timeout.ns + 999'999) / 1'000'000));
  poll(p, wake_fd_ >= 0 ? 2 : 1, ms);
}

IoStats AfXdpPort::stats() const {
  IoStats s = stats_;
  xdp_statistics xs{};
  socklen_t len = sizeof xs;
  if (xsk_ != nullptr && getsockopt(fd(), SOL_XDP, XDP_STATISTICS, &xs, &len) == 0) {
    s.rx_dropped = xs.rx_dropped;
    s.rx_invalid = xs.rx_invalid_descs;
    s.tx_invalid = xs.tx_invalid_descs;
    if (len >= sizeof xs) {  // the extended statistics (Linux >= 5.9)
      s.rx_fill_empty = xs.rx_fill_ring_empty_descs;
      s.rx_ring_full = xs.rx_ring_full;
    }
  }
  return s;
}

bool AfXdpPort::frames_accounted() const {
  return pool_.size() + (tx_acquired_ ? 1 : 0) + tx_queued_ + tx_outstanding_ + rx_outstanding_ +
             fill_outstanding_ ==
         cfg_.frame_count;
}

}  // namespace xdptcp::io
