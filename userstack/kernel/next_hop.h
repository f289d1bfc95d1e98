// Routes and next-hop link addresses from the kernel, over rtnetlink (libnl-route-3).
// The kernel keeps routing and ARP/neighbour discovery (design brief §4): xdptcp asks it which
// interface and gateway reach a destination (RTM_GETROUTE, the same FIB lookup as
// `ip route get`, so policy routing is honoured) and what the next hop's MAC is (the neighbour
// table). When the neighbour is unknown it asks the kernel to resolve it (RTM_NEWNEIGH with
// NTF_USE, which starts ARP/ND as if the kernel had a packet for it) and the caller looks again
// later (neighbours(), one dump for many addresses); xdptcp never sends ARP itself.
//
// Every call is one request answered by the kernel within it: nothing here waits for the network
// or sleeps. Never per packet: the engine asks for a next hop it has no (unexpired) entry for, and
// polls the pending ones; it caches the answers per next hop (userstack/engine/neighbor_cache.h).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "userstack/base/result.h"
#include "userstack/wire/ethernet.h"
#include "userstack/wire/ip_addr.h"

struct nl_sock;

namespace xdptcp::kernel {

struct Route {
  int ifindex = 0;
  std::optional<wire::IpAddr> gateway;   // absent for an on-link destination
  std::optional<wire::IpAddr> pref_src;  // the source address the kernel would use
  // The address whose MAC is needed: the gateway, or the destination itself.
  wire::IpAddr next_hop;
};

// One route of the kernel's main table through an interface (NetlinkRoutes::routes()).
struct PrefixRoute {
  wire::IpAddr prefix;
  std::uint8_t prefix_len = 0;
  std::optional<wire::IpAddr> gateway;  // absent for an on-link prefix
};

// What the kernel's neighbour table says about one address (NetlinkRoutes::neighbours()).
enum class NeighbourState : std::uint8_t {
  kNone,        // no entry (or one without a link address yet, e.g. NUD_NONE)
  kIncomplete,  // resolution under way (NUD_INCOMPLETE)
  kUsable,      // REACHABLE, STALE, DELAY, PROBE, PERMANENT, NOARP with a MAC: `mac` is valid
  kFailed,      // the kernel gave up (NUD_FAILED: its probes went unanswered)
};

struct NeighbourQuery {
  wire::IpAddr addr;  // in
  NeighbourState state = NeighbourState::kNone;
  wire::MacAddr mac{};
};

class NetlinkRoutes {
 public:
  // Opens a NETLINK_ROUTE socket. Fails only when netlink itself is unavailable.
  static Result<std::unique_ptr<NetlinkRoutes>> open();
  ~NetlinkRoutes();
  NetlinkRoutes(const NetlinkRoutes&) = delete;
  NetlinkRoutes& operator=(const NetlinkRoutes&) = delete;

  // The kernel's route to `dst` (ENETUNREACH / EHOSTUNREACH when none).
  Result<Route> route_to(const wire::IpAddr& dst);
  // The neighbour's MAC when the kernel has a usable entry (REACHABLE, STALE, DELAY, PROBE,
  // PERMANENT), nullopt when it has none or it is still INCOMPLETE/FAILED.
  Result<std::optional<wire::MacAddr>> neighbour(int ifindex, const wire::IpAddr& addr);
  // The state of every address of `queries` on `ifindex`, from one dump of the neighbour table
  // (one request and its answer: the kernel produces the dump while we read it; nothing waits for
  // the network). An address with no entry is kNone.
  Result<void> neighbours(int ifindex, std::span<NeighbourQuery> queries);
  // The unicast routes of the main table whose output interface is `ifindex` (IPv4 and IPv6), in
  // the kernel's order: the engine's next-hop table (userstack/engine/route_table.h). Multipath
  // routes and other tables (policy routing) are not included.
  Result<std::vector<PrefixRoute>> routes(int ifindex);
  // The state of one address on `ifindex`: one RTM_GETNEIGH for it (Linux 5.0+), not a dump, so the
  // cost does not grow with the table (the engine asks this for every new next hop it sends to).
  // No entry is kNone.
  Result<void> neighbour_state(int ifindex, NeighbourQuery& q);
  // Asks the kernel to resolve `addr` on `ifindex` (starts ARP/ND); returns at once.
  Result<void> resolve(int ifindex, const wire::IpAddr& addr);

 private:
  NetlinkRoutes() = default;
  nl_sock* sock_ = nullptr;
};

}  // namespace xdptcp::kernel
