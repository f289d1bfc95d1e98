// rtnetlink queries for routes and neighbours; see next_hop.h.
#include "userstack/kernel/next_hop.h"

#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/neighbour.h>
#include <sys/socket.h>

#include <cstring>

namespace xdptcp::kernel {

namespace {

int family_of(const wire::IpAddr& a) {
  return a.is_v4() ? AF_INET : AF_INET6;
}

Error nl_error(int nlerr, const std::string& what) {
  // libnl returns its own negative codes; nl_syserr2nlerr is one-way, so report both texts.
  return Error{EIO, what + ": " + nl_geterror(nlerr)};
}

// One RTM_GETROUTE answer, parsed from its raw attributes.
struct RouteReply {
  bool got = false;
  int error = 0;
  Route route;
  wire::IpFamily family = wire::IpFamily::kV4;
};

std::optional<wire::IpAddr> addr_attr(nlattr* a, wire::IpFamily f) {
  if (a == nullptr) return std::nullopt;
  const auto len = static_cast<std::size_t>(nla_len(a));
  const auto* p = static_cast<const std::uint8_t*>(nla_data(a));
  if (f == wire::IpFamily::kV4 && len == 4) return wire::IpAddr::v4_bytes(p);
  if (f == wire::IpFamily::kV6 && len == 16) return wire::IpAddr::v6_bytes(p);
  return std::nullopt;
}

int on_route(nl_msg* msg, void* arg) {
  auto* out = static_cast<RouteReply*>(arg);
  nlmsghdr* nlh = nlmsg_hdr(msg);
  if (nlh->nlmsg_type != RTM_NEWROUTE) return NL_SKIP;
  nlattr* tb[RTA_MAX + 1] = {};
  if (nlmsg_parse(nlh, sizeof(rtmsg), tb, RTA_MAX, nullptr) < 0) return NL_SKIP;
  if (tb[RTA_OIF] == nullptr) return NL_SKIP;
  out->route.ifindex = static_cast<int>(nla_get_u32(tb[RTA_OIF]));
  out->route.gateway = addr_attr(tb[RTA_GATEWAY], out->family);
  out->route.pref_src = addr_attr(tb[RTA_PREFSRC], out->family);
  out->got = true;
  return NL_OK;
}

int on_error(sockaddr_nl* /*nla*/, nlmsgerr* err, void* arg) {
  static_cast<RouteReply*>(arg)->error = -err->error;
  return NL_STOP;
}

}  // namespace

Result<std::unique_ptr<NetlinkRoutes>> NetlinkRoutes::open() {
  std::unique_ptr<NetlinkRoutes> r(new NetlinkRoutes());
  r->sock_ = nl_socket_alloc();
  if (r->sock_ == nullptr) return Error{ENOMEM, "netlink: cannot allocate a socket"};
  const int err = nl_connect(r->sock_, NETLINK_ROUTE);
  if (err < 0) return nl_error(err, "netlink: cannot connect to NETLINK_ROUTE");
  // A route request is answered by the route itself; an ACK on top would be left unread and
  // taken for the answer to the next request.
  nl_socket_disable_auto_ack(r->sock_);
  return r;
}

NetlinkRoutes::~NetlinkRoutes() {
  if (sock_ != nullptr) nl_socket_free(sock_);
}

Result<Route> NetlinkRoutes::route_to(const wire::IpAddr& dst) {
  nl_msg* msg = nlmsg_alloc_simple(RTM_GETROUTE, NLM_F_REQUEST);
  if (msg == nullptr) return Error{ENOMEM, "netlink: cannot allocate a route request"};
  rtmsg rtm{};
  rtm.rtm_family = static_cast<unsigned char>(family_of(dst));
  rtm.rtm_dst_len = static_cast<unsigned char>(dst.size() * 8);
  RouteReply reply;
  reply.family = dst.family;
  int err = nlmsg_append(msg, &rtm, sizeof rtm, NLMSG_ALIGNTO);
  if (err == 0) err = nla_put(msg, RTA_DST, static_cast<int>(dst.size()), dst.bytes.data());
  if (err == 0) err = nl_send_auto(sock_, msg);
  nlmsg_free(msg);
  if (err < 0) return nl_error(err, "netlink: cannot send a route request for " + dst.to_string());

  nl_cb* cb = nl_cb_alloc(NL_CB_DEFAULT);
  nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, on_route, &reply);
  nl_cb_err(cb, NL_CB_CUSTOM, on_error, &reply);
  err = nl_recvmsgs(sock_, cb);
  nl_cb_put(cb);
  if (reply.error != 0) {
    return Error{reply.error, "no route to " + dst.to_string() + " in the kernel's routing table"};
  }
  if (err < 0 && !reply.got) return nl_error(err, "netlink: route request for " + dst.to_string());
  if (!reply.got) return Error{ENETUNREACH, "no route to " + dst.to_string()};
  reply.route.next_hop = reply.route.gateway ? *reply.route.gateway : dst;
  return reply.route;
}

namespace {

struct RouteDump {
  int ifindex = 0;
  std::vector<PrefixRoute> out;
};

int on_dumped_route(nl_msg* msg, void* arg) {
  auto* d = static_cast<RouteDump*>(arg);
  nlmsghdr* nlh = nlmsg_hdr(msg);
  if (nlh->nlmsg_type != RTM_NEWROUTE) return NL_SKIP;
  const auto* rtm = static_cast<const rtmsg*>(nlmsg_data(nlh));
  nlattr* tb[RTA_MAX + 1] = {};
  if (nlmsg_parse(nlh, sizeof(rtmsg), tb, RTA_MAX, nullptr) < 0) return NL_SKIP;
  const std::uint32_t table = tb[RTA_TABLE] != nullptr ? nla_get_u32(tb[RTA_TABLE]) : rtm->rtm_table;
  if (table != RT_TABLE_MAIN || rtm->rtm_type != RTN_UNICAST) return NL_SKIP;
  if (tb[RTA_OIF] == nullptr || static_cast<int>(nla_get_u32(tb[RTA_OIF])) != d->ifindex) return NL_SKIP;
  const wire::IpFamily f = rtm->rtm_family == AF_INET ? wire::IpFamily::kV4 : wire::IpFamily::kV6;
  if (rtm->rtm_family != AF_INET && rtm->rtm_family != AF_INET6) return NL_SKIP;
  PrefixRoute r;
  r.prefix.family = f;  // the default route has no RTA_DST: the all-zero prefix
  if (auto dst = addr_attr(tb[RTA_DST], f)) r.prefix = *dst;
  r.prefix_len = rtm->rtm_dst_len;
  r.gateway = addr_attr(tb[RTA_GATEWAY], f);
  d->out.push_back(r);
  return NL_OK;
}

}  // namespace

Result<std::vector<PrefixRoute>> NetlinkRoutes::routes(int ifindex) {
  // A dump on its own socket, as neighbours() does: nothing else is read with it.
  nl_sock* s = nl_socket_alloc();
  if (s == nullptr) return Error{ENOMEM, "netlink: cannot allocate a socket"};
  RouteDump d;
  d.ifindex = ifindex;
  int err = nl_connect(s, NETLINK_ROUTE);
  if (err == 0) {
    rtmsg rtm{};
    rtm.rtm_family = AF_UNSPEC;
    err = nl_send_simple(s, RTM_GETROUTE, NLM_F_DUMP, &rtm, sizeof rtm);
  }
  if (err >= 0) {
    nl_cb* cb = nl_cb_alloc(NL_CB_DEFAULT);
    nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, on_dumped_route, &d);
    err = nl_recvmsgs(s, cb);
    nl_cb_put(cb);
  }
  nl_socket_free(s);
  if (err < 0) return nl_error(err, "netlink: cannot read the routing table");
  return d.out;
}

namespace {

// The neighbour-table states, as NeighbourState (kUsable when a 6-byte link address comes with it).
NeighbourState state_of(int nud, bool has_mac) {
  constexpr int kUsable = NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT | NUD_NOARP;
  if ((nud & kUsable) != 0 && has_mac) return NeighbourState::kUsable;
  if ((nud & NUD_FAILED) != 0) return NeighbourState::kFailed;
  if ((nud & NUD_INCOMPLETE) != 0) return NeighbourState::kIncomplete;
  return NeighbourState::kNone;
}

struct NeighReply {
  NeighbourQuery* q = nullptr;
  int error = 0;
};

int on_neigh(nl_msg* msg, void* arg) {
  auto* r = static_cast<NeighReply*>(arg);
  nlmsghdr* nlh = nlmsg_hdr(msg);
  if (nlh->nlmsg_type != RTM_NEWNEIGH) return NL_SKIP;
  const auto* ndm = static_cast<const ndmsg*>(nlmsg_data(nlh));
  nlattr* tb[NDA_MAX + 1] = {};
  if (nlmsg_parse(nlh, sizeof(ndmsg), tb, NDA_MAX, nullptr) < 0) return NL_SKIP;
  const bool has_mac = tb[NDA_LLADDR] != nullptr && nla_len(tb[NDA_LLADDR]) == 6;
  if (has_mac) std::memcpy(r->q->mac.bytes.data(), nla_data(tb[NDA_LLADDR]), 6);
  r->q->state = state_of(ndm->ndm_state, has_mac);
  return NL_OK;
}

int on_neigh_error(sockaddr_nl* /*nla*/, nlmsgerr* err, void* arg) {
  static_cast<NeighReply*>(arg)->error = -err->error;
  return NL_STOP;
}

}  // namespace

Result<void> NetlinkRoutes::neighbour_state(int ifindex, NeighbourQuery& q) {
  q.state = NeighbourState::kNone;
  nl_msg* msg = nlmsg_alloc_simple(RTM_GETNEIGH, NLM_F_REQUEST);
  if (msg == nullptr) return Error{ENOMEM, "netlink: cannot allocate a neighbour request"};
  ndmsg ndm{};
  ndm.ndm_family = static_cast<std::uint8_t>(family_of(q.addr));
  ndm.ndm_ifindex = ifindex;
  int err = nlmsg_append(msg, &ndm, sizeof ndm, NLMSG_ALIGNTO);
  if (err == 0) err = nla_put(msg, NDA_DST, static_cast<int>(q.addr.size()), q.addr.bytes.data());
  if (err == 0) err = nl_send_auto(sock_, msg);
  nlmsg_free(msg);
  if (err < 0) return nl_error(err, "netlink: cannot ask for the neighbour " + q.addr.to_string());
  NeighReply reply{&q};
  nl_cb* cb = nl_cb_alloc(NL_CB_DEFAULT);
  nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, on_neigh, &reply);
  nl_cb_err(cb, NL_CB_CUSTOM, on_neigh_error, &reply);
  err = nl_recvmsgs(sock_, cb);
  nl_cb_put(cb);
  if (reply.error == ENOENT) return {};  // no entry: kNone
  if (reply.error != 0) return Error{reply.error, "netlink: neighbour " + q.addr.to_string()};
  if (err < 0) return nl_error(err, "netlink: neighbour request for " + q.addr.to_string());
  return {};
}

Result<std::optional<wire::MacAddr>> NetlinkRoutes::neighbour(int ifindex, const wire::IpAddr& addr) {
  NeighbourQuery q{addr};
  if (auto r = neighbours(ifindex, std::span(&q, 1)); !r) return r.error();
  if (q.state != NeighbourState::kUsable) return std::optional<wire::MacAddr>{};
  return std::optional<wire::MacAddr>{q.mac};
}

Result<void> NetlinkRoutes::neighbours(int ifindex, std::span<NeighbourQuery> queries) {
  for (auto& q : queries) q.state = NeighbourState::kNone;
  nl_cache* cache = nullptr;
  // A dump on its own socket: replies to earlier requests on sock_ (the kernel's ACK of an
  // NTF_USE update) must not be read as part of the dump.
  nl_sock* dump = nl_socket_alloc();
  if (dump == nullptr) return Error{ENOMEM, "netlink: cannot allocate a socket"};
  int err = nl_connect(dump, NETLINK_ROUTE);
  if (err == 0) err = rtnl_neigh_alloc_cache(dump, &cache);
  nl_socket_free(dump);
  if (err < 0) return nl_error(err, "netlink: cannot read the neighbour table");
  // Matched by hand: rtnl_neigh_get() compares whole nl_addr objects, prefix length included,
  // which differs between dumped entries and a freshly built address.
  struct Match {
    int ifindex;
    std::span<NeighbourQuery> queries;
  } match{ifindex, queries};
  nl_cache_foreach(
      cache,
      [](nl_object* obj, void* arg) {
        auto* m = static_cast<Match*>(arg);
        auto* n = reinterpret_cast<rtnl_neigh*>(obj);
        nl_addr* d = rtnl_neigh_get_dst(n);
        if (rtnl_neigh_get_ifindex(n) != m->ifindex || d == nullptr) return;
        for (NeighbourQuery& q : m->queries) {
          if (q.state == NeighbourState::kUsable || nl_addr_get_len(d) != q.addr.size() ||
              std::memcmp(nl_addr_get_binary_addr(d), q.addr.bytes.data(), q.addr.size()) != 0) {
            continue;
          }
          constexpr int kUsable =
              NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT | NUD_NOARP;
          const int state = rtnl_neigh_get_state(n);
          nl_addr* ll = rtnl_neigh_get_lladdr(n);
          if ((state & kUsable) != 0 && ll != nullptr && nl_addr_get_len(ll) == 6) {
            std::memcpy(q.mac.bytes.data(), nl_addr_get_binary_addr(ll), 6);
            q.state = NeighbourState::kUsable;
          } else if ((state & NUD_FAILED) != 0) {
            q.state = NeighbourState::kFailed;
          } else if ((state & NUD_INCOMPLETE) != 0) {
            q.state = NeighbourState::kIncomplete;
          }
        }
      },
      &match);
  nl_cache_free(cache);
  return {};
}

Result<void> NetlinkRoutes::resolve(int ifindex, const wire::IpAddr& addr) {
  rtnl_neigh* n = rtnl_neigh_alloc();
  nl_addr* dst = nl_addr_build(family_of(addr), addr.bytes.data(), addr.size());
  rtnl_neigh_set_ifindex(n, ifindex);
  rtnl_neigh_set_dst(n, dst);
  // NTF_USE: the kernel runs neigh_event_send() on the entry, exactly as when it has a packet to
  // send, which starts resolution without our sending anything. NUD_NONE leaves the state to it.
  rtnl_neigh_set_flags(n, NTF_USE);
  rtnl_neigh_set_state(n, NUD_NONE);
  // On a socket of its own, which waits for the kernel's ACK, so nothing is left for sock_.
  nl_sock* s = nl_socket_alloc();
  int err = s == nullptr ? -NLE_NOMEM : nl_connect(s, NETLINK_ROUTE);
  if (err == 0) err = rtnl_neigh_add(s, n, NLM_F_CREATE | NLM_F_REPLACE);
  if (s != nullptr) nl_socket_free(s);
  nl_addr_put(dst);
  rtnl_neigh_put(n);
  if (err < 0) return nl_error(err, "netlink: cannot ask the kernel to resolve " + addr.to_string());
  return {};
}

}  // namespace xdptcp::kernel
