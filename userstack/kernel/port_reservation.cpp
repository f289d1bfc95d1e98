// Port reservation with the kernel; see port_reservation.h.
#include "userstack/kernel/port_reservation.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>

namespace xdptcp::kernel {

namespace {
constexpr const char* kReservedPorts = "/proc/sys/net/ipv4/ip_local_reserved_ports";
constexpr const char* kLocalPortRange = "/proc/sys/net/ipv4/ip_local_port_range";

Result<std::string> read_sysctl(const char* path) {
  std::ifstream in(path);
  if (!in) return errno_error(std::string("cannot read ") + path);
  std::string s;
  std::getline(in, s);
  return s;
}

Result<void> write_sysctl(const char* path, const std::string& value) {
  std::ofstream out(path);
  if (!out) return errno_error(std::string("cannot write ") + path + " (needs root)");
  out << value << '\n';
  out.flush();
  if (!out) return errno_error(std::string("cannot write ") + path);
  return {};
}
}  // namespace

namespace {

// Whether a kernel socket LISTENs on TCP `port` (any address, either family): /proc/net/tcp{,6},
// state 0A. Used only to tell a listener from TIME-WAIT leftovers when bind() says EADDRINUSE.
bool kernel_listens_on(std::uint16_t port) {
  for (const char* path : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream f(line);
      std::string sl, local, remote, st;
      if (!(f >> sl >> local >> remote >> st)) continue;
      const auto colon = local.rfind(':');
      if (colon == std::string::npos || st != "0A") continue;
      if (std::stoul(local.substr(colon + 1), nullptr, 16) == port) return true;
    }
  }
  return false;
}

}  // namespace

Result<PortReservation> PortReservation::reserve(const wire::IpAddr& addr, std::uint16_t port) {
  auto r = bind_reservation(addr, port, false);
  if (!r && r.error().code == EADDRINUSE && !kernel_listens_on(port)) {
    // Only TIME-WAIT (or other non-listening) sockets hold the port: bind with SO_REUSEADDR, as
    // a kernel server restarting on the port would. The reservation is then weaker (a kernel
    // socket that also sets SO_REUSEADDR could bind the port, though it would see no traffic
    // while the stack runs), which is better than refusing to start for up to 2*MSL.
    r = bind_reservation(addr, port, true);
  }
  return r;
}

Result<PortReservation> PortReservation::bind_reservation(const wire::IpAddr& addr, std::uint16_t port,
                                                          bool reuse_addr) {
  const int family = addr.is_v4() ? AF_INET : AF_INET6;
  const int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno_error("cannot create a kernel socket to reserve port " + std::to_string(port));
  if (family == AF_INET6) {
    // Reserve the IPv6 port only; an IPv4 reservation is separate (as the stack's rules are).
    int one = 1;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  }
  if (reuse_addr) {
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  }
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (family == AF_INET) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    std::memcpy(&sin->sin_addr, addr.bytes.data(), 4);
    len = sizeof *sin;
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    std::memcpy(&sin6->sin6_addr, addr.bytes.data(), 16);
    len = sizeof *sin6;
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    const int e = errno;
    close(fd);
    return Error{e, "cannot reserve TCP port " + std::to_string(port) + " on " + addr.to_string() +
                        (e == EADDRINUSE ? " with the kernel: a kernel socket holds it (see `ss -tlnp`)"
                                         : " with the kernel")};
  }
  return PortReservation(fd);
}

PortReservation::~PortReservation() {
  if (fd_ >= 0) close(fd_);
}

PortReservation& PortReservation::operator=(PortReservation&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) close(fd_);
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

Result<PortRange> kernel_ephemeral_range() {
  auto s = read_sysctl(kLocalPortRange);
  if (!s) return s.error();
  std::istringstream in(s.value());
  unsigned lo = 0;
  unsigned hi = 0;
  if (!(in >> lo >> hi) || lo > hi || hi > 65535) {
    return Error{EINVAL, std::string("cannot parse ") + kLocalPortRange + ": '" + s.value() + "'"};
  }
  return PortRange{static_cast<std::uint16_t>(lo), static_cast<std::uint16_t>(hi)};
}

bool port_listed(const std::string& list, std::uint16_t port) {
  std::istringstream in(list);
  std::string item;
  while (std::getline(in, item, ',')) {
    unsigned lo = 0;
    unsigned hi = 0;
    const auto dash = item.find('-');
    try {
      lo = static_cast<unsigned>(std::stoul(item.substr(0, dash)));
      hi = dash == std::string::npos ? lo : static_cast<unsigned>(std::stoul(item.substr(dash + 1)));
    } catch (...) {
      continue;
    }
    if (port >= lo && port <= hi) return true;
  }
  return false;
}

Result<bool> reserve_range(PortRange range) {
  auto prev = read_sysctl(kReservedPorts);
  if (!prev) return prev.error();
  bool covered = true;
  for (unsigned p = range.lo; p <= range.hi && covered; ++p) {
    covered = port_listed(prev.value(), static_cast<std::uint16_t>(p));
  }
  if (covered) return false;
  const std::string ours = std::to_string(range.lo) + "-" + std::to_string(range.hi);
  // The kernel merges and normalises the list; appending ours keeps whatever was reserved.
  auto w = write_sysctl(kReservedPorts, prev.value().empty() ? ours : prev.value() + "," + ours);
  if (!w) return w.error();
  return true;
}

}  // namespace xdptcp::kernel
