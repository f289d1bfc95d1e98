// The production L2Resolver: routes and next-hop MACs from the kernel over netlink
// (userstack/kernel/next_hop.h). Used on connect() only; answers are cached by the engine.
#pragma once

#include <memory>

#include "userstack/engine/engine.h"
#include "userstack/kernel/next_hop.h"

namespace xdptcp::detail {

class KernelResolver final : public engine::L2Resolver {
 public:
  explicit KernelResolver(int ifindex);
  std::optional<wire::MacAddr> resolve(const wire::IpAddr& dst) override;

 private:
  int ifindex_;
  std::unique_ptr<kernel::NetlinkRoutes> nl_;
};

}  // namespace xdptcp::detail
