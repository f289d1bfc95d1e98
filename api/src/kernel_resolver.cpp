// Next-hop resolution through the kernel; see kernel_resolver.h.
#include "api/src/kernel_resolver.h"

#include <algorithm>
#include <array>

namespace xdptcp::detail {

KernelResolver::KernelResolver(int ifindex) : ifindex_(ifindex) {
  auto nl = kernel::NetlinkRoutes::open();
  if (nl) nl_ = std::move(nl.value());
}

void KernelResolver::lookup(engine::L2Query& q) {
  q.state = engine::L2State::kFailed;
  if (!nl_) return;
  auto route = nl_->route_to(q.dst);
  // A destination the kernel routes through another interface is not reachable from this stack.
  if (!route || route->ifindex != ifindex_) return;
  q.next_hop = route->next_hop;
  // One RTM_GETNEIGH for this address, not a dump of the table: the engine asks for every new next
  // hop it sends to (a SYN-ACK to a new on-link client), so the cost must not grow with the table.
  kernel::NeighbourQuery n{q.next_hop};
  if (!nl_->neighbour_state(ifindex_, n)) return;
  if (n.state == kernel::NeighbourState::kUsable) {
    q.mac = n.mac;
    q.state = engine::L2State::kKnown;
    return;
  }
  // None, INCOMPLETE, or FAILED from an earlier attempt (NTF_USE restarts that one too): ask the
  // kernel to resolve, which it starts before answering, and let poll() watch the entry.
  if (!nl_->resolve(ifindex_, q.next_hop)) return;
  q.state = engine::L2State::kPending;
}

void KernelResolver::poll(std::span<engine::L2Query> pending) {
  if (!nl_) {
    for (auto& q : pending) q.state = engine::L2State::kFailed;
    return;
  }
  // In chunks of a fixed array (the engine holds at most 64 pending): no allocation of ours.
  constexpr std::size_t kChunk = 64;
  std::array<kernel::NeighbourQuery, kChunk> n{};
  for (std::size_t at = 0; at < pending.size(); at += kChunk) {
    const std::size_t len = std::min(kChunk, pending.size() - at);
    for (std::size_t i = 0; i < len; ++i) n[i] = kernel::NeighbourQuery{pending[at + i].next_hop};
    // A failed dump (netlink error) is no news: the engine's l2_timeout still bounds the wait.
    if (!nl_->neighbours(ifindex_, std::span(n.data(), len))) continue;
    for (std::size_t i = 0; i < len; ++i) {
      engine::L2Query& q = pending[at + i];
      if (n[i].state == kernel::NeighbourState::kUsable) {
        q.mac = n[i].mac;
        q.state = engine::L2State::kKnown;
      } else if (n[i].state == kernel::NeighbourState::kFailed) {
        q.state = engine::L2State::kFailed;
      }
    }
  }
}

}  // namespace xdptcp::detail
