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
