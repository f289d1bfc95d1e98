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
// Draining: a process that closes its listener while connections it accepted are still open lists
// those connections (add_stack_flow) and then flags its rule draining (set_rule_draining): the rule
// then steers only those flows, and new connections go to the kernel's listener. See "Draining" in
// steer_abi.h.
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
  // Steers only the owner's flows listed in xdptcp_stack_flows; the rest goes to the kernel. A
  // permanent rule cannot drain.
  bool draining = false;

  // Same traffic selected (owner_pid and draining not compared).
  bool same_match(const SteerRule& o) const;
  bool operator==(const SteerRule&) const = default;
};

// The program's maps; -1 = not open.
struct SteerMapFds {
  int ports = -1, rules = -1, xsks = -1, sockets = -1, counters = -1;
  int kernel_flows = -1, config = -1;
  int stack_flows = -1;  // -1 also in a set pinned by an xdptcp older than steering ABI 4
};

// Installs a rule in a free slot and recomputes the port bitmap. Rules of different owners with
// the same match coexist (each steers to its owner's queues), and a permanent rule may join process
// rules of its match.
// Errors: EINVAL (port_lo > port_hi, address of the wrong family), EEXIST (a rule with the same
// match and the same owner exists, or the rule is a process's and a permanent rule with the same
// match exists: that one covers it), ENOSPC (all XDPTCP_MAX_RULES slots used). A draining rule is
// refused as set_rule_draining refuses to flag one (EINVAL, EBADF).
Result<void> add_rule(const SteerMapFds& maps, const SteerRule& rule);

// Sets (or clears) the draining flag of the rule with the same match and the same owner_pid as
// `rule` (its own `draining` is ignored), in place: one update of that slot, in which only the flag
// changes, so the program sees the rule either with or without it; the port bitmap is unchanged.
// List the owner's flows (add_stack_flow) before setting the flag: a flow not yet listed is passed to
// the kernel, which resets it. Setting a flag already set (or clearing a clear one) succeeds.
// Errors: ENOENT (no such rule), EINVAL (setting it on a permanent rule: it belongs to no process,
// so it has no flows of its own), EBADF (setting it while xdptcp_stack_flows is not open, as with a
// program attached by an xdptcp older than steering ABI 4, which would ignore the flag: re-attach).
Result<void> set_rule_draining(const SteerMapFds& maps, const SteerRule& rule, bool draining);

// Removes the rule with the same match and the same owner_pid (another owner's stays) and
// recomputes the port bitmap. Errors: ENOENT when there is none.
Result<void> del_rule(const SteerMapFds& maps, const SteerRule& rule);

// The used slots, in slot order.
Result<std::vector<SteerRule>> list_rules(const SteerMapFds& maps);

// Removes every rule whose owner_pid != 0 names a process that no longer exists (/proc/<pid>
// absent), clears the socket registrations of such processes, removes the entries of
// xdptcp_stack_flows whose pid is such a process's (when that map is open; one pass over it, at most
// XDPTCP_MAX_STACK_FLOWS entries), and returns how many rules went.
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

// The flows a process's stack has (xdptcp_stack_flows), which a draining rule of that process keeps
// steering to it. `flow` is given as for add_kernel_flow (local = where the segments arrive), `pid`
// is the owner of the rule that steers it. The map is an LRU hash of XDPTCP_MAX_STACK_FLOWS entries:
// past that, the oldest entries go, and their connections are passed to the kernel if their owner
// drains. Adding a listed flow again replaces its pid.
// Errors: EINVAL (the two addresses of different families, or pid 0), EBADF (maps not open, or a set
// pinned by an xdptcp older than steering ABI 4, without the map: re-attach).
Result<void> add_stack_flow(const SteerMapFds& maps, const wire::FourTuple& flow, std::uint32_t pid);

// Removes the flow (no error if it was not listed).
Result<void> del_stack_flow(const SteerMapFds& maps, const wire::FourTuple& flow);

// Whether the flow is listed, for any process; if so and `pid` is not null, *pid is its process.
Result<bool> has_stack_flow(const SteerMapFds& maps, const wire::FourTuple& flow,
                            std::uint32_t* pid = nullptr);

struct SteerCounters {
  std::uint64_t seen = 0, redirected = 0, pass_not_ours = 0, pass_no_socket = 0, malformed = 0;
  std::uint64_t pass_kernel_flow = 0;
  std::uint64_t pass_other_owner = 0;  // a rule of another process than the queue's owner matched
  std::uint64_t pass_draining = 0;     // a draining rule matched a flow its owner does not have
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
