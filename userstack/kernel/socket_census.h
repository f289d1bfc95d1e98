// The kernel's own TCP sockets, so that the stack never steers traffic the kernel is carrying
// (issue 11, item 6). A steering rule takes every segment to its (address, port range) away from
// the kernel: installed over a port on which a kernel connection is established, it cuts that
// connection (its segments reach an engine that knows nothing of it and answers RST). The port
// reservations (port_reservation.h) do not prevent that on their own: the ephemeral range is
// reserved only against the kernel's automatic choices (an explicit bind still takes a port in
// it), and a listening port is not reserved at all when the application's own kernel listener
// holds it (the preload library), whose accepted connections share the port.
//
// So before a rule is installed, the stack lists the kernel's TCP sockets (sock_diag/inet_diag
// over netlink, IPv4 and IPv6, every state) and looks for those the rule would steer. The census
// sees the network namespace of the calling thread, which is the one the stack serves.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "userstack/base/result.h"
#include "userstack/kernel/port_reservation.h"
#include "userstack/kernel/steer_rules.h"
#include "userstack/wire/ip_addr.h"

namespace xdptcp::kernel {

// The kernel's TCP states (include/net/tcp_states.h), as inet_diag reports them.
enum class KernelTcpState : std::uint8_t {
  kEstablished = 1,
  kSynSent,
  kSynRecv,
  kFinWait1,
  kFinWait2,
  kTimeWait,
  kClose,
  kCloseWait,
  kLastAck,
  kListen,
  kClosing,
  kNewSynRecv,
};
const char* to_string(KernelTcpState s);  // "ESTABLISHED", as ss(8) names it

// A state in which the socket carries a connection's segments (neither LISTEN, nor TIME-WAIT,
// whose late segments the kernel would only answer, nor CLOSE).
bool is_connected(KernelTcpState s);

struct KernelSocket {
  // An IPv6 socket's v4-mapped addresses (a dual-stack listener's IPv4 connections) are given as
  // IPv4: that is the family of the segments the steering program sees.
  wire::SockAddr local;
  wire::SockAddr remote;
  KernelTcpState state = KernelTcpState::kClose;
  bool v6only = false;  // IPv6 sockets: IPV6_V6ONLY (an unspecified IPv6 address then excludes IPv4)
  std::uint32_t inode = 0;
  std::uint32_t uid = 0;
  std::string to_string() const;  // "198.18.0.1:8080 <-> 198.18.0.2:40000 ESTABLISHED"
};

// Every TCP socket of the current network namespace in a state other than bound-only (a socket
// bound and never listened on or connected carries no traffic: the stack's own port reservations
// are such sockets).
Result<std::vector<KernelSocket>> kernel_tcp_sockets();

// The sockets in `sockets` whose segments `rule` would steer away from the kernel: local port in
// the rule's range, and local address the rule's (or, for a wildcard rule, one of `served`, the
// stack's addresses, since the program only sees what arrives on the stack's interface), or an
// unspecified local address (a kernel listener on every address). Only connected states count,
// plus LISTEN when `listeners` is true.
std::vector<KernelSocket> steered_by(const std::vector<KernelSocket>& sockets, const SteerRule& rule,
                                     const std::vector<wire::IpAddr>& served, bool listeners);

// Before a listening port's rule: EADDRINUSE, with a message naming the port and the kernel
// connections, when `rule` would steer a connected kernel socket. Kernel listeners do not count
// (the application's own, in the preload library; otherwise the reservation refuses the port).
// A census that fails is not an error: the result says nothing then, and `warning` (if not null)
// says why.
Result<void> check_no_kernel_connections(const SteerRule& rule, const std::vector<wire::IpAddr>& served,
                                         std::string* warning);

// Before the ephemeral range's rules: `range` (whose upper end is 65535, the engines' slices run to
// it) narrowed from below so that it covers no port of a connected or listening kernel socket on
// one of `served` (or on an unspecified address). `note` (if not null) says what was narrowed and
// why, or why the census could not be taken; empty when nothing happened. ENOSPC, with a message,
// when fewer than `min_ports` ports remain.
Result<PortRange> ephemeral_range_clear_of_kernel(PortRange range, const std::vector<wire::IpAddr>& served,
                                                  unsigned min_ports, std::string* note);

}  // namespace xdptcp::kernel
