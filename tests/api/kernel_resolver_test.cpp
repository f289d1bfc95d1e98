// The production L2Resolver (api/src/kernel_resolver.h) against the real kernel (root, network
// namespaces): lookup() answers at once, even for an address nobody answers ARP for, and poll()
// later reports what the kernel found: the peer's MAC, or FAILED once its probes went unanswered
// (issue 11 item 2: the engine never waits for the neighbour).
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "api/src/kernel_resolver.h"
#include "support/netns/netns_util.h"
#include "userstack/kernel/iface_info.h"

namespace xdptcp {
namespace {

using Clock = std::chrono::steady_clock;

// Polls as the engine does (every 10 ms) until the query is no longer pending or `limit` passes.
engine::L2State poll_until_settled(detail::KernelResolver& r, engine::L2Query& q,
                                   std::chrono::seconds limit) {
  const auto end = Clock::now() + limit;
  while (q.state == engine::L2State::kPending && Clock::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    r.poll(std::span(&q, 1));
  }
  return q.state;
}

TEST(KernelResolverTest, LookupNeverWaits_PeerResolves_NobodyFails) {
  if (!test::is_root()) GTEST_SKIP() << "needs root: creates network namespaces and veth pairs";
  test::Sandbox sb({.name = "l2a", .queues = 1});
  ASSERT_TRUE(sb.up().ok());
  auto idx = kernel::interface_index(sb.iface());
  ASSERT_TRUE(idx.ok());
  detail::KernelResolver r(idx.value());

  // The peer: answered at once (pending, or known when the kernel already has it), then resolved.
  engine::L2Query peer;
  peer.dst = *wire::IpAddr::parse(sb.peer_ip4());
  auto t0 = Clock::now();
  r.lookup(peer);
  EXPECT_LT(Clock::now() - t0, std::chrono::milliseconds(50));
  ASSERT_NE(peer.state, engine::L2State::kFailed);
  EXPECT_EQ(poll_until_settled(r, peer, std::chrono::seconds(3)), engine::L2State::kKnown);
  // Now in the kernel's table: a second lookup answers from one RTM_GETNEIGH, known at once, with
  // the same MAC; NetlinkRoutes::neighbour_state says the same, and kNone for an unknown address.
  engine::L2Query again;
  again.dst = peer.dst;
  r.lookup(again);
  EXPECT_EQ(again.state, engine::L2State::kKnown);
  EXPECT_EQ(again.mac, peer.mac);
  auto nl = kernel::NetlinkRoutes::open();
  ASSERT_TRUE(nl.ok());
  kernel::NeighbourQuery n{peer.dst};
  ASSERT_TRUE(nl.value()->neighbour_state(static_cast<int>(idx.value()), n).ok());
  EXPECT_EQ(n.state, kernel::NeighbourState::kUsable);
  EXPECT_EQ(n.mac, peer.mac);
  std::string unknown = sb.stack_ip4();
  unknown = unknown.substr(0, unknown.rfind('.')) + ".214";
  kernel::NeighbourQuery none{*wire::IpAddr::parse(unknown)};
  ASSERT_TRUE(nl.value()->neighbour_state(static_cast<int>(idx.value()), none).ok());
  EXPECT_EQ(none.state, kernel::NeighbourState::kNone);
  // The interface's routes: its on-link subnet, no gateway.
  auto routes = nl.value()->routes(static_cast<int>(idx.value()));
  ASSERT_TRUE(routes.ok());
  bool on_link = false;
  for (const auto& rt : routes.value()) {
    if (rt.prefix.is_v4() && rt.prefix_len == 24 && !rt.gateway) on_link = true;
  }
  EXPECT_TRUE(on_link) << routes.value().size() << " routes";

  // An address of the sandbox's subnet with no host behind it: pending at once, failed when the
  // kernel gives up (3 ARP probes 1 s apart by default), never known.
  std::string nobody = sb.stack_ip4();
  nobody = nobody.substr(0, nobody.rfind('.')) + ".213";
  engine::L2Query q;
  q.dst = *wire::IpAddr::parse(nobody);
  t0 = Clock::now();
  r.lookup(q);
  EXPECT_LT(Clock::now() - t0, std::chrono::milliseconds(50)) << "lookup() waited for the neighbour";
  EXPECT_EQ(q.state, engine::L2State::kPending);
  const auto failed = poll_until_settled(r, q, std::chrono::seconds(8));
  const auto took = Clock::now() - t0;
  EXPECT_EQ(failed, engine::L2State::kFailed);
  EXPECT_GT(took, std::chrono::milliseconds(500));
  EXPECT_LT(took, std::chrono::seconds(8));

  // An address routed elsewhere (not through the stack's interface): failed at once.
  engine::L2Query away;
  away.dst = *wire::IpAddr::parse("127.0.0.1");
  r.lookup(away);
  EXPECT_EQ(away.state, engine::L2State::kFailed);
}

}  // namespace
}  // namespace xdptcp
