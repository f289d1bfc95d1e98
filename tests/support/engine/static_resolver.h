// An L2Resolver over a fixed table (IP text -> MAC): the kernel's neighbour table as tests over the
// in-memory link see it. Header-only test support.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "userstack/engine/engine.h"

namespace xdptcp::testing {

class StaticResolver final : public engine::L2Resolver {
 public:
  std::map<std::string, wire::MacAddr> table;
  std::optional<wire::MacAddr> resolve(const wire::IpAddr& dst) override {
    auto it = table.find(dst.to_string());
    if (it == table.end()) return std::nullopt;
    return it->second;
  }
};

}  // namespace xdptcp::testing
