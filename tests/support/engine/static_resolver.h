// An L2Resolver over a fixed table (IP text -> MAC): the kernel's neighbour table as tests over the
// in-memory link see it. An address in `pending` answers "pending" (resolution under way) until the
// test moves it to `table` (it resolves) or to `failed` (the kernel gives up); any other address
// has no route (lookup fails). Header-only test support.
#pragma once

#include <map>
#include <set>
#include <string>

#include "userstack/engine/engine.h"

namespace xdptcp::testing {

class StaticResolver final : public engine::L2Resolver {
 public:
  std::map<std::string, wire::MacAddr> table;
  std::set<std::string> pending;
  std::set<std::string> failed;
  int lookups = 0;
  int polls = 0;

  void lookup(engine::L2Query& q) override {
    ++lookups;
    q.state = answer(q);
    if (q.state == engine::L2State::kPending && !pending.contains(q.dst.to_string())) {
      q.state = engine::L2State::kFailed;
    }
  }
  void poll(std::span<engine::L2Query> qs) override {
    ++polls;
    for (auto& q : qs) q.state = answer(q);
  }

 private:
  engine::L2State answer(engine::L2Query& q) const {
    const std::string k = q.dst.to_string();
    if (auto it = table.find(k); it != table.end()) {
      q.mac = it->second;
      return engine::L2State::kKnown;
    }
    return failed.contains(k) ? engine::L2State::kFailed : engine::L2State::kPending;
  }
};

}  // namespace xdptcp::testing
