// The kernel's TCP sockets over sock_diag; see socket_census.h.
//
// The request is written by hand rather than through libnl's idiag module (libnl-idiag-3): it is
// one fixed dump request and a flat reply, and libnl-idiag would be one more shared library that
// libxdptcp.so and the preload library (which load into arbitrary applications) pull in, for
// about as many lines as the request itself.
#include "userstack/kernel/socket_census.h"

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sstream>

namespace xdptcp::kernel {

namespace {

// Every state up to TCP_NEW_SYN_RECV (12); not TCP_BOUND_INACTIVE (13), the bound-only sockets
// newer kernels dump on request: they carry no traffic.
constexpr std::uint32_t kAllStates = (1u << 13) - 1;

wire::IpAddr addr_of(std::uint8_t family, const __be32* words) {
  const auto* b = reinterpret_cast<const std::uint8_t*>(words);
  if (family == AF_INET) return wire::IpAddr::v4_bytes(b);
  static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(b, kMapped, sizeof kMapped) == 0) return wire::IpAddr::v4_bytes(b + 12);
  return wire::IpAddr::v6_bytes(b);
}

class NetlinkFd {
 public:
  explicit NetlinkFd(int fd) : fd_(fd) {}
  ~NetlinkFd() {
    if (fd_ >= 0) close(fd_);
  }
  NetlinkFd(const NetlinkFd&) = delete;
  NetlinkFd& operator=(const NetlinkFd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// One dump of `family`'s TCP sockets, appended to `out`. EAGAIN when the kernel says the dump was
// interrupted (the tables changed under it): the caller starts again.
Result<void> dump(int family, std::vector<KernelSocket>& out) {
  NetlinkFd fd(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
  if (fd.get() < 0) return errno_error("cannot open a sock_diag netlink socket");
  struct {
    nlmsghdr nh;
    inet_diag_req_v2 req;
  } msg{};
  msg.nh.nlmsg_len = sizeof msg;
  msg.nh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  msg.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  msg.nh.nlmsg_seq = 1;
  msg.req.sdiag_family = static_cast<std::uint8_t>(family);
  msg.req.sdiag_protocol = IPPROTO_TCP;
  msg.req.idiag_states = kAllStates;
  sockaddr_nl kernel_addr{};
  kernel_addr.nl_family = AF_NETLINK;
  if (sendto(fd.get(), &msg, sizeof msg, 0, reinterpret_cast<sockaddr*>(&kernel_addr), sizeof kernel_addr) <
      0) {
    return errno_error("cannot send the sock_diag request");
  }
  alignas(nlmsghdr) static thread_local char buf[64 * 1024];
  bool interrupted = false;
  for (;;) {
    const ssize_t n = recv(fd.get(), buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error("cannot read the sock_diag reply");
    }
    if (n == 0) return Error{EPROTO, "sock_diag: the reply ended early"};
    auto left = static_cast<unsigned int>(n);  // NLMSG_OK compares it with the unsigned nlmsg_len
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
      if ((h->nlmsg_flags & NLM_F_DUMP_INTR) != 0) interrupted = true;
      if (h->nlmsg_type == NLMSG_DONE) {
        if (interrupted) return Error{EAGAIN, "sock_diag: dump interrupted"};
        return {};
      }
      if (h->nlmsg_type == NLMSG_ERROR) {
        const auto* e = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
        return Error{-e->error, "sock_diag: the kernel refused the TCP socket dump (is tcp_diag available?)"};
      }
      if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || h->nlmsg_len < NLMSG_LENGTH(sizeof(inet_diag_msg)))
        continue;
      const auto* m = static_cast<const inet_diag_msg*>(NLMSG_DATA(h));
      KernelSocket s;
      s.local = {addr_of(m->idiag_family, m->id.idiag_src), ntohs(m->id.idiag_sport)};
      s.remote = {addr_of(m->idiag_family, m->id.idiag_dst), ntohs(m->id.idiag_dport)};
      s.state = static_cast<KernelTcpState>(m->idiag_state);
      s.inode = m->idiag_inode;
      s.uid = m->idiag_uid;
      // Attributes: only INET_DIAG_SKV6ONLY, which the kernel adds to every IPv6 socket.
      int alen = static_cast<int>(h->nlmsg_len - NLMSG_LENGTH(sizeof(inet_diag_msg)));
      for (auto* a = reinterpret_cast<rtattr*>(const_cast<inet_diag_msg*>(m) + 1); RTA_OK(a, alen);
           a = RTA_NEXT(a, alen)) {
        if (a->rta_type == INET_DIAG_SKV6ONLY && RTA_PAYLOAD(a) >= 1) {
          s.v6only = *static_cast<const std::uint8_t*>(RTA_DATA(a)) != 0;
        }
      }
      out.push_back(s);
    }
  }
}

// Whether a socket bound to `local` (normalised family) receives segments to `addr`.
bool receives_for(const KernelSocket& s, const wire::IpAddr& addr) {
  if (s.local.ip == addr) return true;
  if (!s.local.ip.is_unspecified()) return false;
  if (s.local.ip.family == addr.family) return true;
  // An IPv6 socket on "::" without IPV6_V6ONLY also takes IPv4 (its unspecified address is not
  // v4-mapped, so it keeps the IPv6 family).
  return s.local.ip.family == wire::IpFamily::kV6 && addr.is_v4() && !s.v6only;
}

}  // namespace

const char* to_string(KernelTcpState s) {
  switch (s) {
    case KernelTcpState::kEstablished:
      return "ESTABLISHED";
    case KernelTcpState::kSynSent:
      return "SYN-SENT";
    case KernelTcpState::kSynRecv:
      return "SYN-RECV";
    case KernelTcpState::kFinWait1:
      return "FIN-WAIT-1";
    case KernelTcpState::kFinWait2:
      return "FIN-WAIT-2";
    case KernelTcpState::kTimeWait:
      return "TIME-WAIT";
    case KernelTcpState::kClose:
      return "CLOSE";
    case KernelTcpState::kCloseWait:
      return "CLOSE-WAIT";
    case KernelTcpState::kLastAck:
      return "LAST-ACK";
    case KernelTcpState::kListen:
      return "LISTEN";
    case KernelTcpState::kClosing:
      return "CLOSING";
    case KernelTcpState::kNewSynRecv:
      return "NEW-SYN-RECV";
  }
  return "UNKNOWN";
}

bool is_connected(KernelTcpState s) {
  switch (s) {
    case KernelTcpState::kEstablished:
    case KernelTcpState::kSynSent:
    case KernelTcpState::kSynRecv:
    case KernelTcpState::kFinWait1:
    case KernelTcpState::kFinWait2:
    case KernelTcpState::kCloseWait:
    case KernelTcpState::kLastAck:
    case KernelTcpState::kClosing:
    case KernelTcpState::kNewSynRecv:
      return true;
    default:
      return false;
  }
}

std::string KernelSocket::to_string() const {
  std::string s = local.to_string();
  if (state != KernelTcpState::kListen) s += " <-> " + remote.to_string();
  return s + " " + kernel::to_string(state);
}

Result<std::vector<KernelSocket>> kernel_tcp_sockets() {
  Error last;
  for (int attempt = 0; attempt < 5; ++attempt) {
    std::vector<KernelSocket> out;
    auto v4 = dump(AF_INET, out);
    auto v6 = v4 ? dump(AF_INET6, out) : v4;
    if (v6) return out;
    last = v6.error();
    if (last.code != EAGAIN) break;
  }
  return last;
}

std::vector<KernelSocket> steered_by(const std::vector<KernelSocket>& sockets, const SteerRule& rule,
                                     const std::vector<wire::IpAddr>& served, bool listeners) {
  std::vector<KernelSocket> out;
  for (const auto& s : sockets) {
    if (!is_connected(s.state) && !(listeners && s.state == KernelTcpState::kListen)) continue;
    if (s.local.port < rule.port_lo || s.local.port > rule.port_hi) continue;
    bool hit = false;
    if (rule.any_addr) {
      for (const auto& a : served) hit = hit || (a.family == rule.family && receives_for(s, a));
    } else {
      hit = receives_for(s, rule.addr);
    }
    if (hit) out.push_back(s);
  }
  return out;
}

Result<void> check_no_kernel_connections(const SteerRule& rule, const std::vector<wire::IpAddr>& served,
                                         std::string* warning) {
  auto all = kernel_tcp_sockets();
  if (!all) {
    if (warning != nullptr) {
      *warning = "cannot list the kernel's TCP sockets (" + all.error().describe() + "); port " +
                 std::to_string(rule.port_lo) + " steered without checking for kernel connections";
    }
    return {};
  }
  const auto hits = steered_by(all.value(), rule, served, false);
  if (hits.empty()) return {};
  std::ostringstream m;
  m << "TCP port " << rule.port_lo << " on "
    << (rule.any_addr ? std::string("every address") : rule.addr.to_string())
    << " carries kernel connection(s) that steering it to xdptcp would cut:";
  for (std::size_t i = 0; i < hits.size() && i < 4; ++i) m << ' ' << hits[i].to_string() << ';';
  if (hits.size() > 4) m << " and " << hits.size() - 4 << " more;";
  m << " close them (see `ss -tn sport = :" << rule.port_lo << "`) or listen on another port";
  return Error{EADDRINUSE, m.str()};
}

Result<PortRange> ephemeral_range_clear_of_kernel(PortRange range, const std::vector<wire::IpAddr>& served,
                                                  unsigned min_ports, std::string* note) {
  auto all = kernel_tcp_sockets();
  if (!all) {
    if (note != nullptr) {
      *note = "cannot list the kernel's TCP sockets (" + all.error().describe() + "); ephemeral ports " +
              std::to_string(range.lo) + "-" + std::to_string(range.hi) + " steered without checking";
    }
    return range;
  }
  // The engines' slices run up to range.hi, so the range can only shrink from below: above the
  // highest port in use.
  std::vector<KernelSocket> hits;
  for (const auto& a : served) {
    SteerRule r;
    r.family = a.family;
    r.addr = a;
    r.port_lo = range.lo;
    r.port_hi = range.hi;
    for (const auto& s : steered_by(all.value(), r, served, true)) hits.push_back(s);
  }
  if (hits.empty()) return range;
  const auto top = std::max_element(
      hits.begin(), hits.end(),
      [](const KernelSocket& a, const KernelSocket& b) { return a.local.port < b.local.port; });
  const unsigned lo = top->local.port + 1u;
  const unsigned left = lo > range.hi ? 0 : range.hi - lo + 1;
  std::ostringstream m;
  m << "kernel socket(s) use ports in xdptcp's ephemeral range " << range.lo << "-" << range.hi
    << " on the served addresses (highest: " << top->to_string() << ", " << hits.size() << " in all)";
  if (left < std::max(min_ports, 1u)) {
    m << "; fewer than " << std::max(min_ports, 1u) << " ports would remain above them for active opens; "
      << "close them or lower net.ipv4.ip_local_port_range's upper bound";
    return Error{ENOSPC, m.str()};
  }
  m << "; active opens use " << lo << "-" << range.hi << " instead, which they do not touch";
  if (note != nullptr) *note = m.str();
  return PortRange{static_cast<std::uint16_t>(lo), range.hi};
}

}  // namespace xdptcp::kernel
