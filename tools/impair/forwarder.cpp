// The delaying forwarder (see forwarder.h): setup (sockets, sysctls, tbf), then the loop.
#include "tools/impair/forwarder.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
#include <vector>

#include "tools/impair/delay_queue.h"
#include "tools/impair/frame_forward.h"
#include "tools/impair/neighbour_cache.h"
#include "userstack/kernel/iface_info.h"

namespace xdptcp::impair {
namespace {

volatile std::sig_atomic_t g_stop = 0;
volatile std::sig_atomic_t g_dump = 0;

void on_signal(int sig) {
  if (sig == SIGUSR1) {
    g_dump = 1;
  } else {
    g_stop = 1;
  }
}

std::uint64_t mono_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

// Runs a shell command, its output folded into the error.
Result<void> shell(const std::string& cmd) {
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return errno_error("cannot run '" + cmd + "'");
  std::string output;
  char buf[256];
  while (std::fgets(buf, sizeof buf, p) != nullptr) output += buf;
  const int status = ::pclose(p);
  if (status != 0) return Error{EIO, "'" + cmd + "' failed: " + output};
  return {};
}

// Sets a sysctl for the lifetime of the object, restoring the old value afterwards.
class SysctlGuard {
 public:
  SysctlGuard() = default;
  SysctlGuard(const SysctlGuard&) = delete;
  SysctlGuard& operator=(const SysctlGuard&) = delete;
  ~SysctlGuard() {
    // Newest first, so a path set twice ends at its original value.
    while (!saved_.empty()) {
      write(saved_.back().first, saved_.back().second);
      saved_.pop_back();
    }
  }
  Result<void> set(const std::string& path, const std::string& value) {
    std::ifstream in(path);
    std::string old;
    if (!(in >> old)) return errno_error("cannot read " + path);
    if (!write(path, value)) return errno_error("cannot write " + path + " (run as root)");
    saved_.emplace_back(path, old);
    return {};
  }

 private:
  static bool write(const std::string& path, const std::string& value) {
    std::ofstream out(path);
    out << value << "\n";
    out.flush();
    return static_cast<bool>(out);
  }
  std::vector<std::pair<std::string, std::string>> saved_;
};

// tbf as the root qdisc of some interfaces while it lives.
class TbfGuard {
 public:
  TbfGuard() = default;
  TbfGuard(const TbfGuard&) = delete;
  TbfGuard& operator=(const TbfGuard&) = delete;
  ~TbfGuard() {
    for (const std::string& dev : devs_) (void)shell("tc qdisc del dev " + dev + " root");
  }
  Result<void> add(const std::string& dev, double rate_mbit) {
    // The bucket holds 4 ms at the rate, and at least ten full-size frames (tbf refuses a burst smaller
    // than one frame); a frame waits at most 100 ms in tbf before it is dropped.
    const double bytes_per_s = rate_mbit * 1e6 / 8;
    const long burst = std::max(15140L, std::lround(bytes_per_s * 0.004));
    char cmd[256];
    std::snprintf(cmd, sizeof cmd, "tc qdisc replace dev %s root tbf rate %.3fmbit burst %ld latency 100ms",
                  dev.c_str(), rate_mbit, burst);
    if (auto r = shell(cmd); !r) return r;
    devs_.push_back(dev);
    return {};
  }

 private:
  std::vector<std::string> devs_;
};

struct Port {
  kernel::InterfaceInfo info;
  wire::MacAddr mac;
  int fd = -1;
};

Result<int> open_packet_socket(int ifindex) {
  const int fd = ::socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));
  if (fd < 0) return errno_error("cannot open an AF_PACKET socket (run as root)");
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = ifindex;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sll), sizeof sll) != 0) {
    Error e = errno_error("cannot bind the AF_PACKET socket to ifindex " + std::to_string(ifindex));
    ::close(fd);
    return e;
  }
  // Our own transmissions must not come back to us as received frames (kernel 4.20+).
  const int one = 1;
  (void)::setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);
  // A delay of D at rate R keeps D*R bytes in flight in our queue, not in the socket; but bursts
  // arrive faster than one loop iteration, so give the socket room.
  const int rcvbuf = 8 << 20;
  (void)::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf);
  return fd;
}

// Every address of this namespace: frames to them are the kernel's, not transit.
std::vector<wire::IpAddr> local_addresses() {
  std::vector<wire::IpAddr> out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return out;
  for (ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
    if (a->ifa_addr == nullptr) continue;
    if (a->ifa_addr->sa_family == AF_INET) {
      const auto* sin = reinterpret_cast<const sockaddr_in*>(a->ifa_addr);
      out.push_back(wire::IpAddr::v4_bytes(reinterpret_cast<const std::uint8_t*>(&sin->sin_addr)));
    } else if (a->ifa_addr->sa_family == AF_INET6) {
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(a->ifa_addr);
      out.push_back(wire::IpAddr::v6_bytes(sin6->sin6_addr.s6_addr));
    }
  }
  ::freeifaddrs(list);
  return out;
}

class Forwarder {
 public:
  Forwarder(const ForwarderOptions& o, std::array<Port, 2>& ports, std::vector<wire::IpAddr> locals)
      : opt_(o),
        ports_(ports),
        locals_(std::move(locals)),
        queue_(o.queue_frames, std::max(ports[0].info.mtu, ports[1].info.mtu) + kL2Overhead),
        model_(o.delay, o.seed) {}

  void run(std::ostream& out) {
    const std::uint64_t start = mono_ns();
    const std::uint64_t deadline =
        opt_.seconds > 0 ? start + static_cast<std::uint64_t>(opt_.seconds * 1e9) : UINT64_MAX;
    pollfd pfds[2] = {{ports_[0].fd, POLLIN, 0}, {ports_[1].fd, POLLIN, 0}};
    std::uint64_t now = start;
    while (g_stop == 0 && now < deadline) {
      release(now);
      // Sleep until the next frame is due, a frame arrives, or 100 ms pass (to notice signals/deadline).
      std::uint64_t wait_ns = 100'000'000;
      if (auto next = queue_.next_release()) wait_ns = *next > now ? std::min(wait_ns, *next - now) : 0;
      const timespec ts{static_cast<time_t>(wait_ns / 1'000'000'000),
                        static_cast<long>(wait_ns % 1'000'000'000)};
      const int n = ::ppoll(pfds, 2, &ts, nullptr);
      now = mono_ns();
      if (n > 0) {
        for (std::size_t i = 0; i < 2; ++i) {
          if ((pfds[i].revents & POLLIN) != 0) receive(i, now);
        }
      }
      if (g_dump != 0) {
        g_dump = 0;
        print_counters(counters(), out);
        out.flush();
      }
    }
  }

  ForwarderCounters counters() const {
    ForwarderCounters c = c_;
    c.reordered = queue_.counters().reordered;
    c.queue_full = queue_.counters().full;
    c.too_big += queue_.counters().too_big;
    return c;
  }

 private:
  static constexpr std::uint32_t kL2Overhead = 18;  // Ethernet header and one VLAN tag: a slot per MTU
  static constexpr std::size_t kBatch = 256;        // frames per receive round, per socket

  void receive(std::size_t in, std::uint64_t now) {
    const std::size_t out = 1 - in;
    for (std::size_t k = 0; k < kBatch; ++k) {
      sockaddr_ll from{};
      socklen_t from_len = sizeof from;
      const ssize_t n = ::recvfrom(ports_[in].fd, buf_.data(), buf_.size(), MSG_DONTWAIT | MSG_TRUNC,
                                   reinterpret_cast<sockaddr*>(&from), &from_len);
      if (n < 0) return;  // EAGAIN: drained
      if (from.sll_ifindex != ports_[in].info.ifindex || from.sll_pkttype != PACKET_HOST) continue;
      ++c_.received;
      const auto len = static_cast<std::size_t>(n);
      if (len > buf_.size() || len > ports_[out].info.mtu + 14u) {
        ++c_.too_big;
        continue;
      }
      std::span<std::uint8_t> frame(buf_.data(), len);
      const FrameFacts facts = classify_frame(frame, locals_);
      if (facts.kind == FrameKind::kMalformed) {
        ++c_.malformed;
        continue;
      }
      if (facts.kind != FrameKind::kTransit) {
        ++c_.to_kernel;
        continue;
      }
      const NeighbourCache::Answer nh = neigh_.lookup(facts.dst, ports_[out].info.ifindex, now);
      if (nh.status == NeighbourCache::Status::kUnresolved) {
        ++c_.no_neighbour;
        continue;
      }
      if (nh.status == NeighbourCache::Status::kWrongInterface) {
        ++c_.wrong_interface;
        continue;
      }
      if (nh.status != NeighbourCache::Status::kFound) {
        ++c_.no_route;
        continue;
      }
      const RewriteResult rw = rewrite_for_next_hop(frame, ports_[out].mac, nh.mac);
      if (rw == RewriteResult::kTtlExpired) {
        ++c_.ttl_expired;
        continue;
      }
      if (rw != RewriteResult::kOk) {
        ++c_.malformed;
        continue;
      }
      const DelayModel::Decision d = model_.decide(now);
      if (d.reorder_pick) ++c_.reorder_picks;
      (void)queue_.push(frame, d.release_ns, out, now);  // refusals are counted by the queue
    }
  }

  void release(std::uint64_t now) {
    queue_.release_due(now, [&](std::span<std::uint8_t> frame, std::size_t port, std::uint64_t arrival) {
      const ssize_t n = ::send(ports_[port].fd, frame.data(), frame.size(), MSG_DONTWAIT);
      if (n != static_cast<ssize_t>(frame.size())) {
        ++c_.send_dropped;
        return;
      }
      ++c_.forwarded;
      const std::uint64_t sent = mono_ns();
      if (sent > arrival) {
        const std::uint64_t us = (sent - arrival) / 1000;
        if (us > 0) ++c_.delayed;
        c_.delay_sum_us += us;
        c_.delay_max_us = std::max(c_.delay_max_us, us);
      }
    });
  }

  const ForwarderOptions& opt_;
  std::array<Port, 2>& ports_;
  std::vector<wire::IpAddr> locals_;
  DelayQueue queue_;
  DelayModel model_;
  NeighbourCache neigh_;
  ForwarderCounters c_;
  std::array<std::uint8_t, 65536> buf_{};
};

}  // namespace

void print_counters(const ForwarderCounters& c, std::ostream& out) {
  out << "received=" << c.received << "\n"
      << "to_kernel=" << c.to_kernel << "\n"
      << "malformed=" << c.malformed << "\n"
      << "forwarded=" << c.forwarded << "\n"
      << "delayed=" << c.delayed << "\n"
      << "reorder_picks=" << c.reorder_picks << "\n"
      << "reordered=" << c.reordered << "\n"
      << "queue_full=" << c.queue_full << "\n"
      << "too_big=" << c.too_big << "\n"
      << "ttl_expired=" << c.ttl_expired << "\n"
      << "no_route=" << c.no_route << "\n"
      << "wrong_interface=" << c.wrong_interface << "\n"
      << "no_neighbour=" << c.no_neighbour << "\n"
      << "send_dropped=" << c.send_dropped << "\n"
      << "delay_avg_us=" << (c.forwarded != 0 ? c.delay_sum_us / c.forwarded : 0) << "\n"
      << "delay_max_us=" << c.delay_max_us << "\n";
}

int run_forwarder(const ForwarderOptions& o, std::ostream& out, std::ostream& err) {
  std::array<Port, 2> ports;
  const std::string names[2] = {o.iface_in, o.iface_out};
  if (names[0] == names[1]) {
    err << "xdptcp-impair delay: --in and --out must be two different interfaces\n";
    return 1;
  }
  for (std::size_t i = 0; i < 2; ++i) {
    Result<kernel::InterfaceInfo> info = kernel::interface_info(names[i]);
    if (!info) {
      err << "xdptcp-impair delay: " << info.error().describe() << "\n";
      return 3;
    }
    ports[i].info = info.value();
    ports[i].mac.bytes = ports[i].info.mac;
  }
  if (Result<std::unique_ptr<kernel::NetlinkRoutes>> nl = kernel::NetlinkRoutes::open(); !nl) {
    err << "xdptcp-impair delay: " << nl.error().describe() << "\n";
    return 5;
  }

  // Signals first, so that an early SIGTERM still runs the destructors that restore the namespace.
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGUSR1}) ::sigaction(sig, &sa, nullptr);

  SysctlGuard sysctls;
  if (!o.keep_kernel_forwarding) {
    for (const char* path : {"/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/ipv6/conf/all/forwarding"}) {
      if (auto r = sysctls.set(path, "0"); !r) {
        err << "xdptcp-impair delay: " << r.error().describe() << "\n";
        return 2;
      }
    }
  }
  TbfGuard tbf;
  if (o.rate_mbit > 0) {
    for (const std::string& n : names) {
      if (auto r = tbf.add(n, o.rate_mbit); !r) {
        err << "xdptcp-impair delay: --rate: " << r.error().describe() << "\n";
        return 3;
      }
    }
  }
  std::vector<int> fds;
  for (Port& p : ports) {
    Result<int> fd = open_packet_socket(p.info.ifindex);
    if (!fd) {
      for (int f : fds) ::close(f);
      err << "xdptcp-impair delay: " << fd.error().describe() << "\n";
      return 2;
    }
    p.fd = fd.value();
    fds.push_back(p.fd);
  }

  auto fwd = std::make_unique<Forwarder>(o, ports, local_addresses());
  out << "xdptcp-impair delay: forwarding " << names[0] << " <-> " << names[1] << ", delay "
      << o.delay.delay_ns / 1000 << " us, jitter " << o.delay.jitter_ns / 1000 << " us, reorder "
      << o.delay.reorder_ppm / 10000.0 << "% (+" << o.delay.reorder_extra_ns / 1000 << " us), queue "
      << o.queue_frames << " frames";
  if (o.rate_mbit > 0) out << ", rate " << o.rate_mbit << " Mbit/s (tbf)";
  out << "\nready" << std::endl;
  fwd->run(out);
  print_counters(fwd->counters(), out);
  out.flush();
  for (int f : fds) ::close(f);
  return 0;
}

}  // namespace xdptcp::impair
