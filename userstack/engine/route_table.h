// Destination -> next hop, as the kernel's FIB would answer for our interface: the gateway for a
// routed peer, the peer itself on-link. The neighbour cache (neighbor_cache.h) is keyed by the
// answer, so many peers behind one gateway share one entry (issue 11 item 3).
//
// A copy of the interface's routes taken when the stack starts (api/src/stack.cpp reads them from
// the kernel, userstack/kernel/next_hop.h NetlinkRoutes::routes()), matched by longest prefix: a
// handful of entries, walked without a system call on the per-packet path, with the last answer
// memoised in front (an engine mostly sends to one destination after another of the same few).
// An empty table means "every destination is on-link" (the in-memory link of the tests, and a
// stack whose routes could not be read: the MAC is then that of the destination itself, as before).
// Bounded: kMaxRoutes; add() refuses more (the stack keeps the most specific, see Stack).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "userstack/wire/ip_addr.h"

namespace xdptcp::engine {

struct RouteEntry {
  wire::IpAddr prefix;  // network address (bits past prefix_len are ignored)
  std::uint8_t prefix_len = 0;
  std::optional<wire::IpAddr> gateway;  // absent: on-link
};

class RouteTable {
 public:
  static constexpr std::size_t kMaxRoutes = 32;

  // False when the table is full or the entry is malformed (prefix longer than the address).
  bool add(const RouteEntry& r) {
    if (size_ == kMaxRoutes || r.prefix_len > r.prefix.size() * 8) return false;
    routes_[size_++] = r;
    memo_valid_ = false;
    return true;
  }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // The address whose MAC a packet to `dst` needs; nullopt when no route of ours reaches it.
  std::optional<wire::IpAddr> next_hop(const wire::IpAddr& dst) {
    if (memo_valid_ && memo_dst_ == dst) return memo_nh_;
    std::optional<wire::IpAddr> nh = dst;
    if (size_ > 0) {
      const RouteEntry* best = nullptr;
      for (std::size_t i = 0; i < size_; ++i) {
        const RouteEntry& r = routes_[i];
        if (r.prefix.family != dst.family || !matches(r, dst)) continue;
        if (best == nullptr || r.prefix_len > best->prefix_len) best = &r;
      }
      if (best == nullptr) {
        nh = std::nullopt;
      } else if (best->gateway) {
        nh = *best->gateway;
      }
    }
    memo_dst_ = dst;
    memo_nh_ = nh;
    memo_valid_ = true;
    return nh;
  }

 private:
  static bool matches(const RouteEntry& r, const wire::IpAddr& a) {
    const std::size_t full = r.prefix_len / 8;
    for (std::size_t i = 0; i < full; ++i) {
      if (r.prefix.bytes[i] != a.bytes[i]) return false;
    }
    const unsigned rest = r.prefix_len % 8;
    if (rest == 0) return true;
    const auto mask = static_cast<std::uint8_t>(0xFF << (8 - rest));
    return (r.prefix.bytes[full] & mask) == (a.bytes[full] & mask);
  }

  std::array<RouteEntry, kMaxRoutes> routes_{};
  std::size_t size_ = 0;
  bool memo_valid_ = false;
  wire::IpAddr memo_dst_{};
  std::optional<wire::IpAddr> memo_nh_;
};

}  // namespace xdptcp::engine
