// Next-hop resolution through the kernel; see kernel_resolver.h.
#include "api/src/kernel_resolver.h"

#include <thread>

namespace xdptcp::detail {

KernelResolver::KernelResolver(int ifindex) : ifindex_(ifindex) {
  auto nl = kernel::NetlinkRoutes::open();
  if (nl) nl_ = std::move(nl.value());
}

std::optional<wire::MacAddr> KernelResolver::resolve(const wire::IpAddr& dst) {
  if (!nl_) return std::nullopt;
  auto route = nl_->route_to(dst);
  // A destination the kernel routes through another interface is not reachable from this stack.
  if (!route || route->ifindex != ifindex_) return std::nullopt;
  // ARP answers in microseconds on a LAN; IPv6 neighbour discovery can take a second on a fresh
  // link. Ask the kernel to resolve and poll its table for up to 3 s (connect() is control path).
  for (int attempt = 0; attempt < 300; ++attempt) {
    auto mac = nl_->neighbour(ifindex_, route->next_hop);
    if (!mac) return std::nullopt;
    if (mac.value()) return *mac.value();
    if (attempt % 50 == 0 && !nl_->resolve(ifindex_, route->next_hop)) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return std::nullopt;
}

}  // namespace xdptcp::detail
