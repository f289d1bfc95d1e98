// NeighbourCache: next-hop MACs for `xdptcp-impair delay`, learned from the kernel (design brief §4:
// the kernel keeps ARP and neighbour discovery). A miss asks the kernel for the route and the
// neighbour over rtnetlink; when the kernel has no usable entry yet it is asked to resolve one and the
// frame is dropped (TCP retransmits it), and the destination is not asked about again for
// kRetryNs. Hits are answered from a fixed table of kCapacity entries, each trusted for kTtlNs;
// when the table is full the oldest entry is replaced.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>

#include "userstack/kernel/next_hop.h"
#include "userstack/wire/ethernet.h"
#include "userstack/wire/ip_addr.h"

namespace xdptcp::impair {

class NeighbourCache {
 public:
  static constexpr std::size_t kCapacity = 64;
  static constexpr std::uint64_t kTtlNs = 5'000'000'000;  // re-read the kernel's entry every 5 s
  static constexpr std::uint64_t kRetryNs = 100'000'000;  // after a miss, ask again in 100 ms

  enum class Status { kFound, kNoRoute, kWrongInterface, kUnresolved };
  struct Answer {
    Status status = Status::kUnresolved;
    wire::MacAddr mac;
  };

  NeighbourCache() = default;

  // The MAC of the next hop towards `dst`, which must be reached through `out_ifindex`.
  Answer lookup(const wire::IpAddr& dst, int out_ifindex, std::uint64_t now_ns);

  std::uint64_t netlink_queries() const { return queries_; }

 private:
  struct Entry {
    bool used = false;
    wire::IpAddr dst;
    Answer answer;
    std::uint64_t valid_until_ns = 0;
    std::uint64_t inserted_ns = 0;
  };
  Answer ask_kernel(const wire::IpAddr& dst, int out_ifindex);

  std::array<Entry, kCapacity> entries_{};
  std::uint64_t queries_ = 0;
};

}  // namespace xdptcp::impair
