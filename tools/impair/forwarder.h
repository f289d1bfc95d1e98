// `xdptcp-impair delay`: a small user-space forwarder between two router interfaces that delays,
// jitters and reorders frames (netem's job, on kernels without netem).
//
// It receives every frame on both interfaces with AF_PACKET, keeps the transit IPv4/IPv6 unicast
// frames (frame_forward.h) and lets the kernel have the rest (ARP, neighbour discovery, traffic for the
// router itself). A transit frame gets the next hop's MAC (NeighbourCache, from the kernel's tables), its
// TTL / hop limit decremented, a release time from the DelayModel, and waits in the DelayQueue; when
// due it leaves by the other interface (AF_PACKET send, so the interface's qdisc and tc egress programs,
// tbf for --rate and the impairment program, still apply). The kernel's own IP forwarding is switched
// off in the namespace while it runs (net.ipv4.ip_forward, net.ipv6.conf.all.forwarding) and restored on
// exit; otherwise every frame would cross twice.
//
// The per-frame path (receive, classify, rewrite, queue, send) allocates nothing; the only system calls
// are the socket receive/send themselves, and rtnetlink queries (on a socket of their own) on a
// neighbour-cache miss.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

#include "tools/impair/delay_model.h"

namespace xdptcp::impair {

struct ForwarderOptions {
  std::string iface_in;   // one router interface (e.g. towards the clients)
  std::string iface_out;  // the other one (e.g. towards the server); frames go both ways
  DelayParams delay;
  std::uint64_t seed = 1;
  std::size_t queue_frames = 4096;  // DelayQueue capacity (both directions together)
  double rate_mbit = 0;             // > 0: tbf with this rate as the root qdisc of both interfaces
  double seconds = 0;               // > 0: stop after this long; else on SIGINT / SIGTERM
  bool keep_kernel_forwarding = false;
};

struct ForwarderCounters {
  std::uint64_t received = 0;   // frames for the router's MAC seen on either interface
  std::uint64_t to_kernel = 0;  // not transit (ARP, ND, local, multicast): left to the kernel
  std::uint64_t malformed = 0;
  std::uint64_t forwarded = 0;      // sent out of the other interface
  std::uint64_t delayed = 0;        // forwarded later than they arrived (> 0 ns in the queue)
  std::uint64_t reorder_picks = 0;  // given the extra reordering delay
  std::uint64_t reordered = 0;      // left after a frame that arrived later (DelayQueue)
  std::uint64_t queue_full = 0;
  std::uint64_t too_big = 0;  // longer than the outgoing MTU (no fragmentation, no ICMP)
  std::uint64_t ttl_expired = 0;
  std::uint64_t no_route = 0;         // the kernel has no route to the destination
  std::uint64_t wrong_interface = 0;  // the route leaves by the interface the frame came in on
  std::uint64_t no_neighbour = 0;     // next hop not resolved yet (the kernel was asked to)
  std::uint64_t send_dropped = 0;     // send refused: dropped by a tc egress program (the impairment
                                      // program's losses land here), a full tbf, or a full peer backlog
  std::uint64_t delay_sum_us = 0;     // time spent queued, summed over forwarded frames
  std::uint64_t delay_max_us = 0;
};

// "name=value" lines, one per counter (plus delay_avg_us), for people and tests.
void print_counters(const ForwarderCounters& c, std::ostream& out);

// Runs until stopped; prints "ready" once forwarding, and the counters at the end (and on SIGUSR1).
// Returns the process exit code.
int run_forwarder(const ForwarderOptions& options, std::ostream& out, std::ostream& err);

}  // namespace xdptcp::impair
