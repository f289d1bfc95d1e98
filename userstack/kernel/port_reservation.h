// Reserving the stack's TCP ports with the kernel so that no kernel socket takes them
// (design brief §4). Two mechanisms, one per kind of port:
//
// - A listening port: a kernel TCP socket bound to (address, port) and never listened on. While
//   it exists, no kernel socket can bind the same port (EADDRINUSE), and the kernel never
//   chooses it as an ephemeral port. It closes with the process, so a crash releases it. When
//   only TIME-WAIT sockets hold the port (a kernel server used it a moment ago), the socket is
//   bound with SO_REUSEADDR instead, as a restarting kernel server would do.
// - The ephemeral range used by active opens: chosen above the kernel's own ephemeral range
//   (net.ipv4.ip_local_port_range), so the kernel does not pick those ports for its connect()s,
//   and also added to net.ipv4.ip_local_reserved_ports (it covers IPv6 too), so that it stays so
//   if the administrator widens the kernel's range. The reservation is idempotent and is left in
//   place when the stack stops: several stacks may share the range, and a process cannot know
//   that it is the last one. It only stops the kernel from choosing those ports automatically
//   (explicit binds still work); remove it by hand with sysctl if xdptcp is uninstalled.
#pragma once

#include <cstdint>
#include <string>

#include "userstack/base/result.h"
#include "userstack/wire/ip_addr.h"

namespace xdptcp::kernel {

class PortReservation {
 public:
  // Binds a kernel socket to `addr`:`port` (unspecified address: all addresses of the family).
  // EADDRINUSE with a message naming the port when a kernel socket holds it already.
  static Result<PortReservation> reserve(const wire::IpAddr& addr, std::uint16_t port);

  PortReservation() = default;
  ~PortReservation();
  PortReservation(PortReservation&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  PortReservation& operator=(PortReservation&& o) noexcept;
  PortReservation(const PortReservation&) = delete;
  PortReservation& operator=(const PortReservation&) = delete;

  bool held() const { return fd_ >= 0; }

 private:
  explicit PortReservation(int fd) : fd_(fd) {}
  static Result<PortReservation> bind_reservation(const wire::IpAddr& addr, std::uint16_t port,
                                                  bool reuse_addr);
  int fd_ = -1;
};

// The kernel's ephemeral port range (net.ipv4.ip_local_port_range).
struct PortRange {
  std::uint16_t lo = 0;
  std::uint16_t hi = 0;
};
Result<PortRange> kernel_ephemeral_range();

// Makes sure every port of [lo, hi] is in net.ipv4.ip_local_reserved_ports (adding the range
// when some port is missing). Returns whether it had to change the sysctl.
Result<bool> reserve_range(PortRange range);

// Whether `port` is in a reserved-ports list as the kernel prints it ("1000-1010,2000").
bool port_listed(const std::string& list, std::uint16_t port);

}  // namespace xdptcp::kernel
