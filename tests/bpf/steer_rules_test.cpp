// userstack/kernel/steer_rules against a freshly loaded steering program: the rule table's
// bounds and errors, rules of several owners (which coexist, and which each owner removes alone),
// the port bitmap kept equal to the union of the rules, dead-owner cleanup, queue owners, and
// socket registration limits.
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include "bpf/steer_fixture.h"
#include "bpf/test_frames.h"

namespace xdptcp::test {
namespace {

using kernel::SteerRule;

class SteerRules : public SteerFixture {};

FrameSpec v4(std::uint16_t dport) {
  FrameSpec s;
  s.dport = dport;
  return s;
}

TEST_F(SteerRules, AddThenList_RoundTripsEveryField) {
  SteerRule a = host_v4(kDst4, 80, 81);
  a.owner_pid = 1234;
  SteerRule b = host_v6(kDst6, 443, 443);
  SteerRule c = any_v6(1000, 1999);
  c.owner_pid = 7;
  add(a);
  add(b);
  add(c);
  auto rules = kernel::list_rules(maps_);
  ASSERT_TRUE(rules.ok()) << rules.error().describe();
  ASSERT_EQ(rules->size(), 3u);
  EXPECT_EQ(rules.value()[0], a);
  EXPECT_EQ(rules.value()[1], b);
  EXPECT_EQ(rules.value()[2].owner_pid, 7u);
  EXPECT_TRUE(rules.value()[2].same_match(c));
}

// Several processes share an interface, each steering to its own queues: two owners' rules of the
// same match coexist (the program picks the queue owner's; steer_owner_test.cpp).
TEST_F(SteerRules, SameMatch_TwoOwnersCoexist_SameOwnerTwiceEexist) {
  add(owned(any_v4(80, 80), 1));
  add(owned(any_v4(80, 80), 2));
  auto res = kernel::add_rule(maps_, owned(any_v4(80, 80), 2));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, EEXIST) << res.error().describe();
  // Overlapping but different rules are fine.
  add(owned(any_v4(80, 81), 1));
  add(owned(host_v4(kDst4, 80, 80), 1));
  auto rules = kernel::list_rules(maps_);
  ASSERT_EQ(rules->size(), 4u);
  EXPECT_EQ(rules.value()[0].owner_pid, 1u);
  EXPECT_EQ(rules.value()[1].owner_pid, 2u);
}

// A permanent rule (xdptcp-ctl's) steers its match on every queue, so a process's rule of the same
// match adds nothing: EEXIST, which the stack reads as "an operator's permanent rule covers it".
TEST_F(SteerRules, PermanentRule_ProcessRuleOfSameMatchEexist_PermanentTwiceEexist) {
  add(any_v4(80, 80));
  auto res = kernel::add_rule(maps_, owned(any_v4(80, 80), 7));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, EEXIST) << res.error().describe();
  EXPECT_NE(res.error().message.find("permanent"), std::string::npos) << res.error().message;
  res = kernel::add_rule(maps_, any_v4(80, 80));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, EEXIST) << res.error().describe();
  EXPECT_EQ(kernel::list_rules(maps_)->size(), 1u);
  add(owned(any_v4(80, 81), 7));  // another match of the same owner is no conflict
}

// The operator may add a permanent rule while processes have theirs: those go when their processes
// exit, the permanent one stays.
TEST_F(SteerRules, PermanentRule_JoinsProcessRulesOfSameMatch) {
  add(owned(any_v4(80, 80), 1));
  add(owned(any_v4(80, 80), 2));
  add(any_v4(80, 80));
  EXPECT_EQ(kernel::list_rules(maps_)->size(), 3u);
}

TEST_F(SteerRules, WildcardAddressIgnored_DuplicateDetected) {
  SteerRule a = any_v4(80, 80);
  SteerRule b = a;
  b.addr = wire::IpAddr::v4(1, 2, 3, 4);  // meaningless for a wildcard rule
  add(a);
  auto res = kernel::add_rule(maps_, b);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, EEXIST);
}

TEST_F(SteerRules, FullTable_Enospc_ThenRoomAfterDelete) {
  for (int i = 0; i < XDPTCP_MAX_RULES; ++i) add(any_v4(static_cast<std::uint16_t>(2000 + i), 2000 + i));
  auto res = kernel::add_rule(maps_, any_v4(80, 80));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, ENOSPC) << res.error().describe();
  EXPECT_EQ(run(build_frame(v4(80))), kNotOurs);  // the refused rule left no trace in the bitmap

  ASSERT_TRUE(kernel::del_rule(maps_, any_v4(2010, 2010)).ok());
  add(any_v4(80, 80));
  EXPECT_EQ(run(build_frame(v4(80))), kNoSocket);
  EXPECT_EQ(run(build_frame(v4(2010))), kNotOurs);
  EXPECT_EQ(kernel::list_rules(maps_)->size(), static_cast<std::size_t>(XDPTCP_MAX_RULES));
}

TEST_F(SteerRules, DeleteAbsent_Enoent) {
  auto res = kernel::del_rule(maps_, any_v4(80, 80));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, ENOENT) << res.error().describe();
  add(any_v4(80, 90));
  res = kernel::del_rule(maps_, any_v4(80, 80));  // a sub-range is not the rule
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, ENOENT);
}

// The bug this fixes: two stacks each installed the same ephemeral-range rule (then one rule, shared),
// and the first to exit removed the other's. Now each removes its own only.
TEST_F(SteerRules, Delete_OnlyTheSameOwnersRule) {
  add(owned(any_v4(80, 80), 1));
  add(owned(any_v4(80, 80), 2));
  auto res = kernel::del_rule(maps_, owned(any_v4(80, 80), 3));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, ENOENT) << res.error().describe();
  res = kernel::del_rule(maps_, any_v4(80, 80));  // permanent: there is none
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, ENOENT);

  ASSERT_TRUE(kernel::del_rule(maps_, owned(any_v4(80, 80), 1)).ok());
  auto rules = kernel::list_rules(maps_);
  ASSERT_EQ(rules->size(), 1u);
  EXPECT_EQ(rules.value()[0], owned(any_v4(80, 80), 2));
  set_queue_owner(0, 2);
  EXPECT_EQ(run(build_frame(v4(80))), kNoSocket) << "the port stays in the bitmap for owner 2";

  ASSERT_TRUE(kernel::del_rule(maps_, owned(any_v4(80, 80), 2)).ok());
  EXPECT_TRUE(kernel::list_rules(maps_)->empty());
  EXPECT_EQ(run(build_frame(v4(80))), kNotOurs);
}

TEST_F(SteerRules, Delete_PermanentLeavesProcessRulesOfSameMatch) {
  add(owned(any_v4(80, 80), 1));
  add(any_v4(80, 80));
  ASSERT_TRUE(kernel::del_rule(maps_, any_v4(80, 80)).ok());
  auto rules = kernel::list_rules(maps_);
  ASSERT_EQ(rules->size(), 1u);
  EXPECT_EQ(rules.value()[0].owner_pid, 1u);
}

TEST_F(SteerRules, Delete_BitmapRecomputed_PortNoLongerCoveredIsNotOurs) {
  add(any_v4(80, 80));
  add(any_v4(81, 81));
  ASSERT_TRUE(kernel::del_rule(maps_, any_v4(81, 81)).ok());
  EXPECT_EQ(run(build_frame(v4(81))), kNotOurs);
  EXPECT_EQ(run(build_frame(v4(80))), kNoSocket);
}

TEST_F(SteerRules, Delete_OverlappingRuleKeepsSharedPorts) {
  add(any_v4(80, 90));
  add(host_v4(kDst4, 85, 85));
  ASSERT_TRUE(kernel::del_rule(maps_, any_v4(80, 90)).ok());
  EXPECT_EQ(run(build_frame(v4(85))), kNoSocket);  // still covered by the specific rule
  EXPECT_EQ(run(build_frame(v4(86))), kNotOurs);
  EXPECT_EQ(run(build_frame(v4(80))), kNotOurs);
}

TEST_F(SteerRules, Invalid_Einval) {
  auto res = kernel::add_rule(maps_, any_v4(90, 80));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, EINVAL);
  SteerRule r = host_v4(kDst4, 80, 80);
  r.family = wire::IpFamily::kV6;  // IPv4 address in an IPv6 rule
  res = kernel::add_rule(maps_, r);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, EINVAL);
  EXPECT_TRUE(kernel::list_rules(maps_)->empty());
}

TEST_F(SteerRules, MapNotOpen_Ebadf) {
  kernel::SteerMapFds none;
  auto res = kernel::add_rule(none, any_v4(80, 80));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, EBADF);
  EXPECT_EQ(kernel::read_counters(none).error().code, EBADF);
  EXPECT_EQ(kernel::list_rules(none).error().code, EBADF);
}

TEST_F(SteerRules, RemoveRulesOfDeadOwners_OnlyDeadOnesGo) {
  const std::uint32_t dead = dead_pid();
  SteerRule permanent = any_v4(80, 80);  // owner 0: xdptcp-ctl's, never removed
  SteerRule mine = any_v4(81, 81);
  mine.owner_pid = static_cast<std::uint32_t>(::getpid());
  SteerRule stale = any_v4(82, 83);
  stale.owner_pid = dead;
  SteerRule stale6 = any_v6(84, 84);
  stale6.owner_pid = dead;
  add(permanent);
  add(mine);
  add(stale);
  add(stale6);

  auto removed = kernel::remove_rules_of_dead_owners(maps_);
  ASSERT_TRUE(removed.ok()) << removed.error().describe();
  EXPECT_EQ(removed.value(), 2u);
  auto rules = kernel::list_rules(maps_);
  ASSERT_EQ(rules->size(), 2u);
  EXPECT_EQ(rules.value()[0], permanent);
  EXPECT_EQ(rules.value()[1], mine);
  EXPECT_EQ(run(build_frame(v4(83))), kNotOurs);  // bitmap recomputed
  // Still steered, to this process's queues only; queue 0 (the test run's) has no owner.
  EXPECT_EQ(run(build_frame(v4(81))), kOtherOwner);

  removed = kernel::remove_rules_of_dead_owners(maps_);
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(removed.value(), 0u);
}

TEST_F(SteerRules, RemoveRulesOfDeadOwners_ClearsDeadSocketRecords) {
  std::uint32_t q = 3;
  xdptcp_socket_info info{};
  info.owner_pid = dead_pid();
  ASSERT_EQ(bpf_map_update_elem(maps_.sockets, &q, &info, BPF_ANY), 0);
  std::uint32_t q_live = 4;
  xdptcp_socket_info live{};
  live.owner_pid = static_cast<std::uint32_t>(::getpid());
  ASSERT_EQ(bpf_map_update_elem(maps_.sockets, &q_live, &live, BPF_ANY), 0);

  ASSERT_TRUE(kernel::remove_rules_of_dead_owners(maps_).ok());
  ASSERT_EQ(bpf_map_lookup_elem(maps_.sockets, &q, &info), 0);
  EXPECT_EQ(info.owner_pid, 0u);
  ASSERT_EQ(bpf_map_lookup_elem(maps_.sockets, &q_live, &live), 0);
  EXPECT_EQ(live.owner_pid, static_cast<std::uint32_t>(::getpid()));
}

TEST_F(SteerRules, ListQueueOwners_OwnedQueuesOnlyInQueueOrder_DeadOnesGoWithPruning) {
  auto none = kernel::list_queue_owners(maps_);
  ASSERT_TRUE(none.ok()) << none.error().describe();
  EXPECT_TRUE(none->empty());

  const auto me = static_cast<std::uint32_t>(::getpid());
  const std::uint32_t dead = dead_pid();
  for (auto [q, pid, ns] :
       {std::tuple{7u, me, 700u}, std::tuple{2u, dead, 200u}, std::tuple{63u, me, 6300u}}) {
    xdptcp_socket_info info{};
    info.owner_pid = pid;
    info.registered_ns = ns;
    ASSERT_EQ(bpf_map_update_elem(maps_.sockets, &q, &info, BPF_ANY), 0);
  }
  auto owners = kernel::list_queue_owners(maps_);
  ASSERT_TRUE(owners.ok()) << owners.error().describe();
  ASSERT_EQ(owners->size(), 3u);
  EXPECT_EQ(owners.value()[0].queue, 2u);
  EXPECT_EQ(owners.value()[0].pid, dead);
  EXPECT_EQ(owners.value()[0].registered_ns, 200u);
  EXPECT_EQ(owners.value()[1].queue, 7u);
  EXPECT_EQ(owners.value()[1].pid, me);
  EXPECT_EQ(owners.value()[2].queue, 63u);
  EXPECT_EQ(owners.value()[2].registered_ns, 6300u);

  ASSERT_TRUE(kernel::remove_rules_of_dead_owners(maps_).ok());
  owners = kernel::list_queue_owners(maps_);
  ASSERT_EQ(owners->size(), 2u);
  EXPECT_EQ(owners.value()[0].queue, 7u);
  EXPECT_EQ(owners.value()[1].queue, 63u);

  kernel::SteerMapFds closed;
  EXPECT_EQ(kernel::list_queue_owners(closed).error().code, EBADF);
}

TEST_F(SteerRules, RegisterSocket_QueueBeyondMap_Einval) {
  auto res = kernel::register_socket(maps_, XDPTCP_MAX_QUEUES, 0, 1);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, EINVAL);
}

TEST_F(SteerRules, RegisterSocket_NotAnXdpSocket_RefusedAndNoRecord) {
  int efd = ::eventfd(0, EFD_CLOEXEC);
  ASSERT_GE(efd, 0);
  auto res = kernel::register_socket(maps_, 0, efd, 1);
  ::close(efd);
  ASSERT_FALSE(res.ok());
  std::uint32_t q = 0;
  xdptcp_socket_info info{};
  ASSERT_EQ(bpf_map_lookup_elem(maps_.sockets, &q, &info), 0);
  EXPECT_EQ(info.owner_pid, 0u);
}

// register_socket writes the owner before the socket; when the socket is refused the queue's
// previous owner is put back.
TEST_F(SteerRules, RegisterSocket_Refused_PreviousOwnerKept) {
  set_queue_owner(0, 77);
  int efd = ::eventfd(0, EFD_CLOEXEC);
  ASSERT_GE(efd, 0);
  auto res = kernel::register_socket(maps_, 0, efd, 1);
  ::close(efd);
  ASSERT_FALSE(res.ok());
  auto owners = kernel::list_queue_owners(maps_);
  ASSERT_TRUE(owners.ok());
  ASSERT_EQ(owners->size(), 1u);
  EXPECT_EQ(owners.value()[0].pid, 77u);
}

TEST_F(SteerRules, UnregisterSocket_EmptyQueue_Succeeds) {
  EXPECT_TRUE(kernel::unregister_socket(maps_, 5).ok());
  EXPECT_FALSE(kernel::unregister_socket(maps_, XDPTCP_MAX_QUEUES).ok());
}

}  // namespace
}  // namespace xdptcp::test
