// Kernel cooperation against the real kernel (root, network namespaces): routes and next-hop MACs
// over netlink (userstack/kernel/next_hop.h), directly on-link and through a router namespace, and
// port reservation (userstack/kernel/port_reservation.h).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include <gtest/gtest.h>

#include "support/netns/netns_util.h"
#include "support/netns/socket_util.h"
#include "userstack/kernel/iface_info.h"
#include "userstack/kernel/next_hop.h"
#include "userstack/kernel/port_reservation.h"

namespace xdptcp {
namespace {

using test::Sandbox;

std::string peer_mac(const Sandbox& sb, const std::string& ns, const std::string& ifname) {
  auto r = test::run(test::in_netns(ns, "cat /sys/class/net/" + ifname + "/address"));
  std::string s = r.output;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  (void)sb;
  return s;
}

// Resolves with retries, as the engine's resolver does (IPv6 ND may take a second on a new link).
std::optional<wire::MacAddr> resolve(kernel::NetlinkRoutes& nl, int ifindex, const wire::IpAddr& a) {
  for (int i = 0; i < 300; ++i) {
    auto m = nl.neighbour(ifindex, a);
    EXPECT_TRUE(m.ok());
    if (m.ok() && m.value()) return m.value();
    if (i % 50 == 0) {
      EXPECT_TRUE(nl.resolve(ifindex, a).ok());
    }
    usleep(10'000);
  }
  return std::nullopt;
}

class KernelCoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!test::is_root()) GTEST_SKIP() << "needs root: creates network namespaces and veth pairs";
  }
};

TEST_F(KernelCoopTest, RouteAndNeighbour_OnLink_IPv4AndIPv6) {
  Sandbox sb({.name = "kco", .queues = 1, .router = false, .subnet = 60});
  ASSERT_TRUE(sb.up().ok());
  auto idx = kernel::interface_index(sb.iface());
  ASSERT_TRUE(idx.ok());
  auto nl = kernel::NetlinkRoutes::open();
  ASSERT_TRUE(nl.ok()) << nl.error().describe();
  const std::string want = peer_mac(sb, sb.peer_ns(), sb.var("PEER_IFACE"));
  for (const std::string& peer : {sb.peer_ip4(), sb.peer_ip6()}) {
    const auto dst = *wire::IpAddr::parse(peer);
    // Twice: the second answer must be the route too (no reply left over from the first).
    for (int round = 0; round < 2; ++round) {
      auto r = nl.value()->route_to(dst);
      ASSERT_TRUE(r.ok()) << r.error().describe();
      EXPECT_EQ(r->ifindex, idx.value());
      EXPECT_FALSE(r->gateway.has_value()) << peer;
      EXPECT_EQ(r->next_hop, dst);
    }
    auto mac = resolve(*nl.value(), idx.value(), dst);
    ASSERT_TRUE(mac.has_value()) << "the kernel did not resolve " << peer;
    EXPECT_EQ(mac->to_string(), want);
  }
}

TEST_F(KernelCoopTest, RouteThroughRouter_NextHopIsTheGateway) {
  Sandbox sb({.name = "kcr", .queues = 1, .router = true, .subnet = 62});
  ASSERT_TRUE(sb.up().ok());
  auto idx = kernel::interface_index(sb.iface());
  ASSERT_TRUE(idx.ok());
  auto nl = kernel::NetlinkRoutes::open();
  ASSERT_TRUE(nl.ok());
  const auto dst = *wire::IpAddr::parse(sb.peer_ip4());
  auto r = nl.value()->route_to(dst);
  ASSERT_TRUE(r.ok()) << r.error().describe();
  ASSERT_TRUE(r->gateway.has_value());
  EXPECT_EQ(r->gateway->to_string(), sb.var("GATEWAY_IP4"));
  EXPECT_EQ(r->next_hop, *r->gateway);
  auto mac = resolve(*nl.value(), idx.value(), r->next_hop);
  ASSERT_TRUE(mac.has_value());
  // The router's end of the stack-side link, not the peer's.
  EXPECT_NE(mac->to_string(), peer_mac(sb, sb.peer_ns(), sb.var("PEER_IFACE")));
}

TEST_F(KernelCoopTest, NoRoute_ReportsEnetunreach) {
  auto nl = kernel::NetlinkRoutes::open();
  ASSERT_TRUE(nl.ok());
  // 198.19.255.255 is in the benchmarking range and routed nowhere on this machine, unless a
  // default route exists: then the kernel answers with that route, which is also correct.
  auto r = nl.value()->route_to(*wire::IpAddr::parse("fd00:dead::1"));
  if (r.ok()) {
    EXPECT_GT(r->ifindex, 0);
  } else {
    EXPECT_TRUE(r.error().code == ENETUNREACH || r.error().code == EHOSTUNREACH) << r.error().describe();
  }
}

// A TCP port that no kernel socket holds right now: the port reservation tests work in the root
// namespace, whose ports the whole machine shares.
std::uint16_t free_port() {
  const std::uint16_t p = test::free_port();
  if (p == 0) ADD_FAILURE() << "cannot find a free port: " << std::strerror(errno);
  return p;
}

bool kernel_can_bind(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

TEST(PortReservationTest, ReservedPort_KernelSocketsCannotTakeIt) {
  const int port = free_port();
  ASSERT_TRUE(kernel_can_bind(port));
  {
    auto r = kernel::PortReservation::reserve(*wire::IpAddr::parse("0.0.0.0"), port);
    ASSERT_TRUE(r.ok()) << r.error().describe();
    EXPECT_FALSE(kernel_can_bind(port));
    auto again = kernel::PortReservation::reserve(*wire::IpAddr::parse("0.0.0.0"), port);
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(again.error().code, EADDRINUSE);
    EXPECT_NE(again.error().message.find(std::to_string(port)), std::string::npos) << again.error().message;
  }
  EXPECT_TRUE(kernel_can_bind(port));
}

// A kernel server that closed first leaves TIME-WAIT on its port; the stack must still be able to
// take the port (as a restarting kernel server with SO_REUSEADDR could), but not from a listener.
TEST(PortReservationTest, TimeWaitOnPort_StillReserved_ListenerRefuses) {
  const std::uint16_t port = free_port();
  const int l = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(l, 4), 0);
  {
    auto refused = kernel::PortReservation::reserve(*wire::IpAddr::parse("0.0.0.0"), port);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().code, EADDRINUSE);
  }
  const int c = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_EQ(connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  const int s = accept(l, nullptr, nullptr);
  ASSERT_GE(s, 0);
  close(s);  // the server closes first: its side of the connection goes to TIME-WAIT
  char b;
  ASSERT_EQ(read(c, &b, 1), 0);
  close(c);
  close(l);
  usleep(50'000);
  auto r = kernel::PortReservation::reserve(*wire::IpAddr::parse("0.0.0.0"), port);
  ASSERT_TRUE(r.ok()) << r.error().describe();
}

TEST(PortListTest, ParsesTheKernelsFormat) {
  EXPECT_TRUE(kernel::port_listed("1000-1010,2000", 1000));
  EXPECT_TRUE(kernel::port_listed("1000-1010,2000", 1010));
  EXPECT_TRUE(kernel::port_listed("1000-1010,2000", 2000));
  EXPECT_FALSE(kernel::port_listed("1000-1010,2000", 1011));
  EXPECT_FALSE(kernel::port_listed("", 1));
}

TEST_F(KernelCoopTest, ReserveRange_KernelListsEveryPortAndIsIdempotent) {
  auto read = [] {
    std::ifstream in("/proc/sys/net/ipv4/ip_local_reserved_ports");
    std::string s;
    std::getline(in, s);
    return s;
  };
  const std::string before = read();
  // Leave the machine as we found it, also when an assertion below ends the test early.
  struct Restore {
    std::string value;
    ~Restore() { std::ofstream("/proc/sys/net/ipv4/ip_local_reserved_ports") << value << "\n"; }
  } restore{before};
  auto r = kernel::reserve_range({64000, 64010});
  ASSERT_TRUE(r.ok()) << r.error().describe();
  for (unsigned p = 64000; p <= 64010; ++p)
    EXPECT_TRUE(kernel::port_listed(read(), static_cast<std::uint16_t>(p)));
  auto again = kernel::reserve_range({64000, 64010});
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again.value()) << "a covered range must not be added twice";
  auto k = kernel::kernel_ephemeral_range();
  ASSERT_TRUE(k.ok());
  EXPECT_LT(k->lo, k->hi);
}

}  // namespace
}  // namespace xdptcp
