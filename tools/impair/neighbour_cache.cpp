// NeighbourCache (see neighbour_cache.h).
#include "tools/impair/neighbour_cache.h"

namespace xdptcp::impair {

NeighbourCache::Answer NeighbourCache::lookup(const wire::IpAddr& dst, int out_ifindex,
                                              std::uint64_t now_ns) {
  Entry* slot = nullptr;
  for (Entry& e : entries_) {
    if (e.used && e.dst == dst) {
      if (now_ns < e.valid_until_ns) return e.answer;
      slot = &e;  // expired: ask again, in place
      break;
    }
  }
  if (slot == nullptr) {  // a free entry, else the oldest
    slot = &entries_[0];
    for (Entry& e : entries_) {
      if (!e.used) {
        slot = &e;
        break;
      }
      if (e.inserted_ns < slot->inserted_ns) slot = &e;
    }
  }
  const Answer a = ask_kernel(dst, out_ifindex);
  slot->used = true;
  slot->dst = dst;
  slot->answer = a;
  slot->inserted_ns = now_ns;
  slot->valid_until_ns = now_ns + (a.status == Status::kFound ? kTtlNs : kRetryNs);
  return a;
}

NeighbourCache::Answer NeighbourCache::ask_kernel(const wire::IpAddr& dst, int out_ifindex) {
  ++queries_;
  Answer a;
  // A fresh rtnetlink socket per question: NetlinkRoutes::route_to leaves the kernel's ACK of its
  // request unread (libnl adds NLM_F_ACK), so a second route_to on the same socket reads the first
  // one's ACK and fails, and later answers shift by one. Misses are rare, so the extra socket is cheap.
  Result<std::unique_ptr<kernel::NetlinkRoutes>> opened = kernel::NetlinkRoutes::open();
  if (!opened) {
    a.status = Status::kNoRoute;
    return a;
  }
  kernel::NetlinkRoutes& routes = *opened.value();
  Result<kernel::Route> route = routes.route_to(dst);
  if (!route.ok()) {
    a.status = Status::kNoRoute;
    return a;
  }
  if (route->ifindex != out_ifindex) {
    a.status = Status::kWrongInterface;
    return a;
  }
  Result<std::optional<wire::MacAddr>> mac = routes.neighbour(out_ifindex, route->next_hop);
  if (mac.ok() && mac.value().has_value()) {
    a.status = Status::kFound;
    a.mac = *mac.value();
    return a;
  }
  (void)routes.resolve(out_ifindex, route->next_hop);
  a.status = Status::kUnresolved;
  return a;
}

}  // namespace xdptcp::impair
