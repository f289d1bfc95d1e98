// Reserving the stack's TCP ports with the kernel so that no kernel socket takes them
// (design brief §4). Two mechanisms, one per kind of port:
//
// - A listening port: a kernel TCP socket bound to (address, port) and never listened on. While
//   it exists, no kernel socket can bind the same port (EADDRINUSE), and the kernel never
//   chooses it as an ephemeral port. It closes with the process, so a crash releases it.
// - The ephemeral range used by active opens: added to net.ipv4.ip_local_reserved_ports (it also
//   covers IPv6), so that the kernel never picks those ports for its own connect()s or binds to
//   port 0. Restored on release; a crash leaves the range reserved, which only stops the kernel
//   from choosing those ports automatically (explicit binds still work) and is undone by the
//   next start (the reservation is idempotent) or by hand.
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
  int fd_ = -1;
};

// The kernel's ephemeral port range (net.ipv4.ip_local_port_range).
struct PortRange {
  std::uint16_t lo = 0;
  std::uint16_t hi = 0;
};
Result<PortRange> kernel_ephemeral_range();

// Adds [lo, hi] to net.ipv4.ip_local_reserved_ports while this object lives.
class ReservedRange {
 public:
  static Result<ReservedRange> reserve(PortRange range);
  ReservedRange() = default;
  ~ReservedRange();
  ReservedRange(ReservedRange&& o) noexcept : range_(o.range_), active_(o.active_), previous_(std::move(o.previous_)) {
    o.active_ = false;
  }
  ReservedRange& operator=(ReservedRange&&) = delete;
  ReservedRange(const ReservedRange&) = delete;

 private:
  PortRange range_{};
  bool active_ = false;
  std::string previous_;  // the sysctl's value before us, restored on release
};

}  // namespace xdptcp::kernel
