// The production L2Resolver: routes and next-hop MACs from the kernel over netlink
// (userstack/kernel/next_hop.h), on the engine's thread, without ever waiting for the network.
//
// lookup() (a connect() or a send to a next hop the engine has no entry for, or whose entry
// expired): the route (RTM_GETROUTE), then the next hop's neighbour entry (one RTM_GETNEIGH, whose
// cost does not grow with the table); when it has no usable MAC, RTM_NEWNEIGH with NTF_USE makes the
// kernel start ARP/ND as if it had a packet for it, and the answer is "pending". poll() (every
// EngineConfig::l2_poll while some are pending): one dump of the neighbour table for all of them;
// a usable entry resolves, NUD_FAILED (the kernel's probes went unanswered) fails.
//
// Why on the engine thread rather than a helper thread: every call is one netlink request that
// the kernel answers synchronously, inside the sendmsg (rtnetlink has no asynchronous step), so
// the engine waits for the kernel's CPU time, never for the network, and only for a next hop it
// has no entry for (two small requests, tens of microseconds) and on a poll while one is pending
// (microseconds to a millisecond for a dump of a large table). No sleep, no retry loop: the engine's l2_poll
// interval and l2_timeout are the loop. (Before, resolve() slept in 10 ms steps up to 3 s here, freezing the
// whole engine.)
#pragma once

#include <memory>

#include "userstack/engine/engine.h"
#include "userstack/kernel/next_hop.h"

namespace xdptcp::detail {

class KernelResolver final : public engine::L2Resolver {
 public:
  explicit KernelResolver(int ifindex);
  void lookup(engine::L2Query& q) override;
  void poll(std::span<engine::L2Query> pending) override;

 private:
  int ifindex_;
  std::unique_ptr<kernel::NetlinkRoutes> nl_;
};

}  // namespace xdptcp::detail
