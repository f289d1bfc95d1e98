// xsk-probe: a minimal AF_XDP receiver for the integration tests and the quickstart. It proves that
// the steering program redirects a flow into AF_XDP sockets, independently of the stack's own I/O code
// (userstack/io), so that a failure points at the steering program, not at the engine.
//
//   xsk-probe --iface IF [--port P] [--seconds S] [--count N] [--queues Q]
//
// It creates one UMEM shared by one AF_XDP socket per RX queue (libxdp's xsk API, copy mode,
// need_wakeup, XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD: the program is xdptcp-ctl's, never libxdp's
// default one), registers each socket in the pinned XSKMAP /sys/fs/bpf/xdptcp/<IF>/xdptcp_xsks and
// its owner in xdptcp_sockets (kernel::register_socket), prints a "ready" line, counts the
// frames received on every queue and hands them straight back to the FILL ring. It never answers.
// It stops after S seconds, after N frames in total, or on SIGINT/SIGTERM, and prints
//   queue Q: N frames (TCP SYN to port P: M)
// per queue, then a total line. Closing the sockets removes them from the XSKMAP (the kernel does
// that), so the flows fall back to the kernel when the probe exits, even when it is killed.
#include <bpf/bpf.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <xdp/xsk.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "userstack/kernel/steer_rules.h"
#include "xdptcp/steer_abi.h"

namespace {

constexpr std::uint32_t kFrameSize = XSK_UMEM__DEFAULT_FRAME_SIZE;  // 4096
constexpr std::uint32_t kFramesPerQueue = 2048;
constexpr std::uint32_t kRingSize = 1024;  // RX ring; the FILL ring holds every frame of the queue
constexpr std::uint32_t kBatch = 64;

volatile sig_atomic_t g_stop = 0;
void on_signal(int) {
  g_stop = 1;
}

struct Queue {
  std::uint32_t id = 0;
  xsk_socket* xsk = nullptr;
  xsk_ring_cons rx{};
  xsk_ring_prod fill{};
  xsk_ring_cons comp{};
  std::uint64_t frames = 0;
  std::uint64_t syns = 0;
  bool registered = false;
};

std::uint16_t load_be16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>(p[0] << 8 | p[1]);
}

// True when the frame is a TCP SYN (without ACK) to `port` (any port when port == 0). Only the plain
// Ethernet [+ one VLAN tag] / IPv4 or IPv6 (no extension headers) / TCP layout is recognised: the
// probe counts what the tests send, it is not a parser (userstack/wire is).
bool is_syn_to(const std::uint8_t* f, std::uint32_t len, std::uint16_t port) {
  std::uint32_t off = 14;
  if (len < off) return false;
  std::uint16_t type = load_be16(f + 12);
  if (type == 0x8100) {
    if (len < off + 4) return false;
    type = load_be16(f + 16);
    off += 4;
  }
  std::uint32_t tcp = 0;
  if (type == 0x0800) {
    if (len < off + 20 || f[off + 9] != 6) return false;
    if ((load_be16(f + off + 6) & 0x3fff) != 0) return false;  // a fragment
    tcp = off + (f[off] & 0x0fu) * 4;
  } else if (type == 0x86dd) {
    if (len < off + 40 || f[off + 6] != 6) return false;
    tcp = off + 40;
  } else {
    return false;
  }
  if (len < tcp + 20) return false;
  const std::uint8_t flags = f[tcp + 13];
  const bool syn = (flags & 0x02) != 0 && (flags & 0x10) == 0;
  return syn && (port == 0 || load_be16(f + tcp + 2) == port);
}

std::uint32_t rx_queue_count(const std::string& ifname) {
  std::uint32_t n = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/sys/class/net/" + ifname + "/queues", ec)) {
    if (e.path().filename().string().rfind("rx-", 0) == 0) ++n;
  }
  return n;
}

// Hands `n` frames back to the FILL ring. It always has room: it is as large as the queue's share of
// the UMEM, so it can hold every frame of the queue at once; a full ring means frames were duplicated.
void refill(Queue& q, const std::uint64_t* addrs, std::uint32_t n) {
  std::uint32_t idx = 0;
  if (xsk_ring_prod__reserve(&q.fill, n, &idx) != n) {
    std::fprintf(stderr, "xsk-probe: FILL ring of queue %u full: frame accounting is broken\n", q.id);
    std::abort();
  }
  for (std::uint32_t i = 0; i < n; ++i) *xsk_ring_prod__fill_addr(&q.fill, idx + i) = addrs[i];
  xsk_ring_prod__submit(&q.fill, n);
}

// Receives one batch; returns the number of frames.
std::uint32_t drain(Queue& q, std::uint8_t* umem, std::uint16_t port) {
  std::uint32_t idx = 0;
  const std::uint32_t n = xsk_ring_cons__peek(&q.rx, kBatch, &idx);
  if (n == 0) return 0;
  std::uint64_t addrs[kBatch];
  for (std::uint32_t i = 0; i < n; ++i) {
    const xdp_desc* d = xsk_ring_cons__rx_desc(&q.rx, idx + i);
    if (is_syn_to(static_cast<const std::uint8_t*>(xsk_umem__get_data(umem, d->addr)), d->len, port))
      ++q.syns;
    // Aligned mode: the descriptor may point past the frame start (headroom); the FILL ring wants
    // the frame itself.
    addrs[i] = xsk_umem__extract_addr(d->addr) & ~static_cast<std::uint64_t>(kFrameSize - 1);
  }
  xsk_ring_cons__release(&q.rx, n);
  q.frames += n;
  refill(q, addrs, n);
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"xsk-probe: count the frames the xdptcp steering program redirects into AF_XDP sockets"};
  std::string ifname;
  unsigned port = 0;
  double seconds = 0;
  std::uint64_t count = 0;
  std::uint32_t queues = 0;
  app.add_option("--iface", ifname, "interface with xdptcp's program attached (xdptcp-ctl attach)")
      ->required();
  app.add_option("--port", port, "count TCP SYNs to this destination port (0: any port)")
      ->check(CLI::Range(0, 65535));
  app.add_option("--seconds", seconds, "stop after this many seconds (0: no limit)");
  app.add_option("--count", count, "stop after this many frames in total (0: no limit)");
  app.add_option("--queues", queues, "number of RX queues to open (default: all of the interface's)");
  CLI11_PARSE(app, argc, argv);

  const std::string pin_dir = std::string(XDPTCP_PIN_ROOT) + "/" + ifname;
  if (queues == 0) queues = rx_queue_count(ifname);
  if (queues == 0) {
    std::fprintf(stderr, "xsk-probe: interface %s not found (no /sys/class/net/%s/queues/rx-*)\n",
                 ifname.c_str(), ifname.c_str());
    return 2;
  }
  if (queues > XDPTCP_MAX_QUEUES) queues = XDPTCP_MAX_QUEUES;

  xdptcp::kernel::SteerMapFds maps;
  for (auto [fd, name] :
       {std::pair<int*, const char*>{&maps.xsks, "xdptcp_xsks"}, {&maps.sockets, "xdptcp_sockets"}}) {
    const std::string path = pin_dir + "/" + name;
    *fd = bpf_obj_get(path.c_str());
    if (*fd < 0) {
      std::fprintf(stderr,
                   "xsk-probe: cannot open the pinned map %s: %s; run 'xdptcp-ctl attach --iface %s' first\n",
                   path.c_str(), std::strerror(errno), ifname.c_str());
      return 2;
    }
  }

  const std::size_t umem_size = static_cast<std::size_t>(queues) * kFramesPerQueue * kFrameSize;
  void* area = mmap(nullptr, umem_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (area == MAP_FAILED) {
    std::perror("xsk-probe: mmap of the UMEM");
    return 2;
  }
  auto* umem_area = static_cast<std::uint8_t*>(area);

  std::vector<Queue> qs(queues);
  xsk_umem_config ucfg{};
  ucfg.fill_size = kFramesPerQueue;
  ucfg.comp_size = kRingSize;
  ucfg.frame_size = kFrameSize;
  ucfg.frame_headroom = XSK_UMEM__DEFAULT_FRAME_HEADROOM;
  ucfg.flags = 0;
  xsk_umem* umem = nullptr;
  int rc = xsk_umem__create(&umem, area, umem_size, &qs[0].fill, &qs[0].comp, &ucfg);
  if (rc != 0) {
    std::fprintf(stderr, "xsk-probe: xsk_umem__create: %s\n", std::strerror(-rc));
    return 2;
  }

  int status = 0;
  for (std::uint32_t i = 0; i < queues && status == 0; ++i) {
    Queue& q = qs[i];
    q.id = i;
    xsk_socket_config cfg{};
    cfg.rx_size = kRingSize;
    cfg.tx_size = 0;
    cfg.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD;
    cfg.xdp_flags = 0;
    cfg.bind_flags = XDP_COPY | XDP_USE_NEED_WAKEUP;
    // Queue 0 uses the FILL/COMPLETION pair created with the UMEM; the others get their own.
    rc = xsk_socket__create_shared(&q.xsk, ifname.c_str(), i, umem, &q.rx, nullptr, &q.fill, &q.comp, &cfg);
    if (rc != 0) {
      std::fprintf(stderr, "xsk-probe: AF_XDP socket on %s queue %u: %s\n", ifname.c_str(), i,
                   std::strerror(-rc));
      status = 2;
      break;
    }
    // Every frame of this queue's share of the UMEM goes to its FILL ring.
    std::vector<std::uint64_t> addrs(kFramesPerQueue);
    for (std::uint32_t f = 0; f < kFramesPerQueue; ++f) {
      addrs[f] = (static_cast<std::uint64_t>(i) * kFramesPerQueue + f) * kFrameSize;
    }
    refill(q, addrs.data(), kFramesPerQueue);
    auto reg =
        xdptcp::kernel::register_socket(maps, i, xsk_socket__fd(q.xsk), static_cast<std::uint32_t>(getpid()));
    if (!reg) {
      std::fprintf(stderr, "xsk-probe: %s\n", reg.error().describe().c_str());
      status = 2;
      break;
    }
    q.registered = true;
  }

  if (status == 0) {
    struct sigaction sa {};
    sa.sa_handler = on_signal;  // no SA_RESTART: poll() returns EINTR
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    std::printf("xsk-probe: ready on %s, %u queue(s) registered in %s/xdptcp_xsks\n", ifname.c_str(), queues,
                pin_dir.c_str());
    std::fflush(stdout);

    std::vector<pollfd> pfds(queues);
    for (std::uint32_t i = 0; i < queues; ++i) pfds[i] = pollfd{xsk_socket__fd(qs[i].xsk), POLLIN, 0};
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    std::uint64_t total = 0;
    while (g_stop == 0 && (count == 0 || total < count)) {
      if (seconds > 0 && std::chrono::steady_clock::now() >= deadline) break;
      // poll() also serves as the need_wakeup kick for the FILL ring in copy mode.
      const int pr = poll(pfds.data(), pfds.size(), 100);
      if (pr < 0 && errno != EINTR) {
        std::perror("xsk-probe: poll");
        status = 2;
        break;
      }
      for (auto& q : qs) {
        while (std::uint32_t n = drain(q, umem_area, static_cast<std::uint16_t>(port))) total += n;
      }
    }
  }

  std::uint64_t total_frames = 0, total_syns = 0;
  const std::string port_text = port == 0 ? std::string("any port") : "port " + std::to_string(port);
  for (auto& q : qs) {
    if (q.xsk == nullptr) continue;
    xdp_statistics st{};
    socklen_t len = sizeof(st);
    const bool have_stats = getsockopt(xsk_socket__fd(q.xsk), SOL_XDP, XDP_STATISTICS, &st, &len) == 0;
    std::printf("queue %u: %llu frames (TCP SYN to %s: %llu)\n", q.id,
                static_cast<unsigned long long>(q.frames), port_text.c_str(),
                static_cast<unsigned long long>(q.syns));
    if (have_stats &&
        (st.rx_dropped | st.rx_invalid_descs | st.rx_ring_full | st.rx_fill_ring_empty_descs) != 0) {
      std::printf(
          "  queue %u drops: rx_dropped=%llu rx_invalid=%llu rx_ring_full=%llu fill_ring_empty=%llu\n", q.id,
          static_cast<unsigned long long>(st.rx_dropped),
          static_cast<unsigned long long>(st.rx_invalid_descs),
          static_cast<unsigned long long>(st.rx_ring_full),
          static_cast<unsigned long long>(st.rx_fill_ring_empty_descs));
    }
    total_frames += q.frames;
    total_syns += q.syns;
  }
  std::printf("total: %llu frames (TCP SYN to %s: %llu)\n", static_cast<unsigned long long>(total_frames),
              port_text.c_str(), static_cast<unsigned long long>(total_syns));
  std::fflush(stdout);

  // Unregister before closing, so that the program passes the flow to the kernel at once (closing
  // the socket would remove the entry too).
  for (auto& q : qs) {
    if (q.registered) (void)xdptcp::kernel::unregister_socket(maps, q.id);
    if (q.xsk != nullptr) xsk_socket__delete(q.xsk);
  }
  xsk_umem__delete(umem);
  munmap(area, umem_size);
  close(maps.sockets);
  close(maps.xsks);
  return status;
}
