// Steering rules and AF_XDP socket registration: the user-space side of the maps of the XDP
// program bpf/steer.bpf.c, whose layout is the contract in bpf/include/xdptcp/steer_abi.h.
//
// The maps are passed as file descriptors (from the libbpf skeleton, or opened from the pins
// under /sys/fs/bpf/xdptcp/<ifname>/), so that the same code serves an application that
// attached the program itself and one that reuses xdptcp-ctl's pinned maps.
//
// Owners: several processes may share an interface, each owning some RX queues (register_socket
// records its pid) and installing rules of its own (owner_pid = its pid); a rule steers only what
// arrives on its owner's queues, and a permanent rule (owner_pid 0, xdptcp-ctl's) what arrives on any
// queue. See "Owners" in steer_abi.h.
//
// Concurrency: changes to the rule table are serialised between processes with an flock on
// kSteerLockPath (they read, modify and write several slots and the port bitmap). The XDP
// program reads the maps concurrently; the writes are ordered so that it never sees a rule
// that matches traffic it should not (see steer_rules.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "userstack/base/result.h"
#include "userstack/wire/ip_addr.h"

namespace xdptcp::kernel {

inline constexpr const char* kSteerLockPath = "/run/xdptcp-steer.lock";

// One rule: TCP segments of `family` to `addr` (or any address) with a destination port in
// [port_lo, port_hi] (host order, inclusive) go to xdptcp.
struct SteerRule {
  wire::IpFamily family = wire::IpFamily::kV4;
  bool any_addr = false;
  wire::IpAddr addr;  // ignored when any_addr
  std::uint16_t port_lo = 0;
  std::uint16_t port_hi = 0;
  std::uint32_t owner_pid = 0;  // process that installed it; 0 = permanent (xdptcp-ctl)

  // Same traffic selected (owner_pid not compared).
  bool same_match(const SteerRule& o) const;
  bool operator==(const SteerRule&) const = default;
};

// The program's maps; -1 = not open.
struct SteerMapFds {
  int ports = -1, rules = -1, xsks = -1, sockets = -1, counters = -1;
  int kernel_flows = -1, config = -1;
};

// Installs a rule in a free slot and recomputes the port bitmap. Rules of different owners with
// the same match coexist (each steers to its owner's queues), and a permanent rule may join process
// rules of its match.
// Errors: EINVAL (port_lo > port_hi, address of the wrong family), EEXIST (a rule with the same
// match and the same owner exists, or the rule is a process's and a permanent rule with the same
// match exists: that one covers it), ENOSPC (all XDPTCP_MAX_RULES slots used).
Result<void> add_rule(const SteerMapFds& maps, const SteerRule& rule);

// Removes the rule with the same match and the same owner_pid (another owner's stays) and
// recomputes the port bitmap. Errors: ENOENT when there is none.
Result<void> del_rule(const SteerMapFds& maps, const SteerRule& rule);

// The used slots, in slot order.
Result<std::vector<SteerRule>> list_rules(const SteerMapFds& maps);

// Removes every rule whose owner_pid != 0 names a process that no longer exists (/proc/<pid>
// absent), clears the socket registrations of such processes, and returns how many rules went.
// Note: pids are those of the installer's pid namespace; run it in the same namespace.
Result<std::size_t> remove_rules_of_dead_owners(const SteerMapFds& maps);

// Steering exceptions (xdptcp_kernel_flows): a kernel connection whose segments a rule would
// steer stays with the kernel. `flow` is the kernel socket's view (local = the address and port
// the segments arrive at, remote = the peer); an IPv4 connection of a dual-stack socket is given
// as IPv4. The map is an LRU hash of XDPTCP_MAX_KERNEL_FLOWS entries: past that, the oldest
// entries go (their flows are steered as the rules say, as without an exception).
// add_kernel_flow also sets the program's "exceptions exist" flag (xdptcp_config), which is never
// cleared. Errors: EINVAL (the two addresses of different families), EBADF (maps not open, or a
// set pinned by an older xdptcp without the map, which open_pinned accepts for the rest: re-attach).
Result<void> add_kernel_flow(const SteerMapFds& maps, const wire::FourTuple& flow);

// Removes the exception (no error if there was none).
Result<void> del_kernel_flow(const SteerMapFds& maps, const wire::FourTuple& flow);

// Whether the exception is present (for tests and tools).
Result<bool> has_kernel_flow(const SteerMapFds& maps, const wire::FourTuple& flow);

struct SteerCounters {
  std::uint64_t seen = 0, redirected = 0, pass_not_ours = 0, pass_no_socket = 0, malformed = 0;
  std::uint64_t pass_kernel_flow = 0;
  std::uint64_t pass_other_owner = 0;  // a rule of another process than the queue's owner matched
};

// The program's counters, summed over all possible CPUs. A counter that an older program (pinned by
// an older xdptcp) lacks reads 0.
Result<SteerCounters> read_counters(const SteerMapFds& maps);

// Records `pid` as the owner of `queue` (with the time) in xdptcp_sockets[queue], then puts
// `xsk_fd` (a bound AF_XDP socket) in xdptcp_xsks[queue]. In that order, so that the socket never
// receives what the queue's previous owner's rules select; on failure the previous record is put
// back. Errors: EINVAL when queue >= XDPTCP_MAX_QUEUES.
Result<void> register_socket(const SteerMapFds& maps, std::uint32_t queue, int xsk_fd, std::uint32_t pid);

// Removes the socket of `queue` (no error if there was none) and clears its record.
Result<void> unregister_socket(const SteerMapFds& maps, std::uint32_t queue);

// A queue's owner as xdptcp_sockets records it.
struct QueueOwner {
  std::uint32_t queue;
  std::uint32_t pid;
  std::uint64_t registered_ns;  // CLOCK_BOOTTIME at registration
};

// The queues that have an owner (a record with owner_pid != 0), in queue order. The owner may have
// died since (its socket is then gone; remove_rules_of_dead_owners clears the record).
Result<std::vector<QueueOwner>> list_queue_owners(const SteerMapFds& maps);

}  // namespace xdptcp::kernel
