// Draining rules (steer_abi.h, "Draining"): a process that closed its listener keeps its rule flagged
// XDPTCP_RULE_DRAINING, and the steering program then redirects only the flows that the process still
// has (xdptcp_stack_flows, with its pid); every other segment the rule selects, the SYN of a new
// connection first of all, goes to the kernel and is counted PASS_DRAINING. Also the user-space side
// in userstack/kernel/steer_rules: set_rule_draining, the stack-flow functions, and dead-owner cleanup.
//
// Frames are presented on the queues of two owning processes with real AF_XDP sockets (owner_fixture.h),
// or, where the socket does not matter, on queue 0 of BPF_PROG_TEST_RUN's default device with only an
// owner record (a rule that steers then finds no socket: PASS_NO_SOCKET).
#include <bpf/bpf.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "bpf/owner_fixture.h"
#include "bpf/steer_fixture.h"
#include "bpf/test_frames.h"

namespace xdptcp::test {
namespace {

using kernel::SteerRule;

class SteerDraining : public TwoOwnersFixture {
 protected:
  void drain(const SteerRule& r, bool on = true) {
    auto res = kernel::set_rule_draining(maps_, r, on);
    ASSERT_TRUE(res.ok()) << res.error().describe();
  }
  void list_flow(const FrameSpec& s, std::uint32_t pid) {
    auto res = kernel::add_stack_flow(maps_, flow_of(s), pid);
    ASSERT_TRUE(res.ok()) << res.error().describe();
  }
  // The raw rule table and port bitmap, to check what an update touched.
  std::vector<xdptcp_rule> raw_rules() {
    std::vector<xdptcp_rule> out(XDPTCP_MAX_RULES);
    for (std::uint32_t i = 0; i < XDPTCP_MAX_RULES; ++i)
      EXPECT_EQ(bpf_map_lookup_elem(maps_.rules, &i, &out[i]), 0);
    return out;
  }
  std::vector<std::uint64_t> bitmap() {
    xdptcp_port_bitmap bm{};
    std::uint32_t zero = 0;
    EXPECT_EQ(bpf_map_lookup_elem(maps_.ports, &zero, &bm), 0);
    return {std::begin(bm.words), std::end(bm.words)};
  }
  std::size_t stack_flow_entries() {
    xdptcp_flow_key key{};
    xdptcp_flow_key next{};
    std::size_t n = 0;
    const void* prev = nullptr;
    while (bpf_map_get_next_key(maps_.stack_flows, prev, &next) == 0) {
      key = next;
      prev = &key;
      ++n;
    }
    return n;
  }
};

// A segment of the connection from source port `sport` to `dport`: an ACK unless told otherwise (a
// segment of an established connection), or the SYN that opens a new one.
FrameSpec v4(std::uint16_t dport, std::uint16_t sport, std::uint8_t flags = kTcpAck) {
  FrameSpec s;
  s.dport = dport;
  s.sport = sport;
  s.tcp_flags = flags;
  return s;
}
FrameSpec v6(std::uint16_t dport, std::uint16_t sport, std::uint8_t flags = kTcpAck) {
  FrameSpec s = v4(dport, sport, flags);
  s.family = 6;
  return s;
}

// The nginx reload case: A (queue 0) closed its listener on port 80 and still has one connection.
TEST_F(SteerDraining, ListedFlowOfOwnerRedirected_UnlistedFlowAndNewSynPassedToTheKernel) {
  const SteerRule rule = owned(any_v4(80, 80), kPidA);
  add(rule);
  const FrameSpec kept = v4(80, 40001);
  list_flow(kept, kPidA);
  drain(rule);
  with_two_owners([&](int ifindex) {
    EXPECT_EQ(run_on(build_frame(kept), ifindex, 0), kRedirected) << "a connection A still has";
    EXPECT_EQ(run_on(build_frame(v4(80, 40002)), ifindex, 0), kDraining) << "a connection A does not have";
    EXPECT_EQ(run_on(build_frame(v4(80, 40003, kTcpSyn)), ifindex, 0), kDraining) << "a new connection";
    EXPECT_EQ(run_on(build_frame(kept), ifindex, 1), kOtherOwner) << "A's flow on B's queue, as before";
    EXPECT_EQ(run_on(build_frame(v4(81, 40001)), ifindex, 0), kNotOurs);
  });
  const kernel::SteerCounters c = counters();
  EXPECT_EQ(c.pass_draining, 2u);
  EXPECT_EQ(c.redirected, 1u);
}

TEST_F(SteerDraining, FlagCleared_EverythingSteeredAgain) {
  const SteerRule rule = owned(any_v4(80, 80), kPidA);
  add(rule);
  list_flow(v4(80, 40001), kPidA);
  drain(rule);
  with_two_owners([&](int ifindex) {
    EXPECT_EQ(run_on(build_frame(v4(80, 40003, kTcpSyn)), ifindex, 0), kDraining);
    drain(rule, false);
    EXPECT_EQ(run_on(build_frame(v4(80, 40003, kTcpSyn)), ifindex, 0), kRedirected);
    EXPECT_EQ(run_on(build_frame(v4(80, 40002)), ifindex, 0), kRedirected);
    EXPECT_EQ(run_on(build_frame(v4(80, 40001)), ifindex, 0), kRedirected);
  });
  auto rules = kernel::list_rules(maps_);
  ASSERT_TRUE(rules.ok());
  ASSERT_EQ(rules->size(), 1u);
  EXPECT_FALSE(rules.value()[0].draining);
}

// The pid in xdptcp_stack_flows must be the draining rule's owner: a flow another process lists is
// that process's to steer with its own rule, not A's.
TEST_F(SteerDraining, FlowListedForAnotherPid_Passed) {
  const SteerRule rule = owned(any_v4(80, 80), kPidA);
  add(rule);
  add(owned(any_v4(80, 80), kPidB));  // B serves port 80 too, and does not drain
  const FrameSpec flow = v4(80, 40001);
  list_flow(flow, kPidB);
  drain(rule);
  with_two_owners([&](int ifindex) {
    EXPECT_EQ(run_on(build_frame(flow), ifindex, 0), kDraining);
    EXPECT_EQ(run_on(build_frame(flow), ifindex, 1), kRedirected) << "B's rule has no flag";
    list_flow(flow, kPidA);  // listed again, now as A's
    EXPECT_EQ(run_on(build_frame(flow), ifindex, 0), kRedirected);
  });
}

// A rule without the flag that applies too steers as usual, whichever slot holds it: a permanent
// rule (for every process), or another rule of the same owner.
TEST_F(SteerDraining, RuleWithoutFlagThatAlsoApplies_Steers) {
  const SteerRule draining = owned(any_v4(80, 80), kPidA);
  add(draining);
  drain(draining);
  set_queue_owner(0, kPidA);
  EXPECT_EQ(run(build_frame(v4(80, 40002))), kDraining);

  const SteerRule wider = owned(any_v4(80, 81), kPidA);  // a later slot
  add(wider);
  EXPECT_EQ(run(build_frame(v4(80, 40002))), kNoSocket) << "A's rule without the flag applies";
  ASSERT_TRUE(kernel::del_rule(maps_, wider).ok());
  EXPECT_EQ(run(build_frame(v4(80, 40002))), kDraining);

  add(host_v4(kDst4, 80, 80));  // permanent, another match
  EXPECT_EQ(run(build_frame(v4(80, 40002))), kNoSocket) << "the permanent rule applies";
}

// The owner check comes first (another process's draining rule is that process's), then the
// steering exceptions (a kernel connection is passed as such), then draining.
TEST_F(SteerDraining, OrderOfChecks_OtherOwnerThenKernelFlowThenDraining) {
  const SteerRule rule = owned(any_v4(80, 80), kPidA);
  add(rule);
  drain(rule);
  const FrameSpec kernel_conn = v4(80, 40005);
  ASSERT_TRUE(kernel::add_kernel_flow(maps_, flow_of(kernel_conn)).ok());
  set_queue_owner(0, kPidB);
  EXPECT_EQ(run(build_frame(kernel_conn)), kOtherOwner);
  EXPECT_EQ(run(build_frame(v4(80, 40002))), kOtherOwner);
  set_queue_owner(0, kPidA);
  EXPECT_EQ(run(build_frame(kernel_conn)), kKernelFlow);
  EXPECT_EQ(run(build_frame(v4(80, 40002))), kDraining);
}

TEST_F(SteerDraining, Ipv6_ListedFlowSteered_OthersPassed) {
  const SteerRule rule = owned(host_v6(kDst6, 443, 443), kPidA);
  add(rule);
  const FrameSpec kept = v6(443, 50001);
  list_flow(kept, kPidA);
  drain(rule);
  set_queue_owner(0, kPidA);
  EXPECT_EQ(run(build_frame(kept)), kNoSocket) << "steered (no socket on the test device's queue)";
  EXPECT_EQ(run(build_frame(v6(443, 50002, kTcpSyn))), kDraining);
  FrameSpec other_host = kept;  // same ports, another peer
  other_host.src6[15] = 9;
  EXPECT_EQ(run(build_frame(other_host)), kDraining);
}

// Rules without the flag never consult xdptcp_stack_flows: a flow listed for another process changes
// nothing.
TEST_F(SteerDraining, RuleWithoutFlag_StackFlowsIgnored) {
  add(owned(any_v4(80, 80), kPidA));
  list_flow(v4(80, 40001), kPidB);
  set_queue_owner(0, kPidA);
  EXPECT_EQ(run(build_frame(v4(80, 40001))), kNoSocket);
  EXPECT_EQ(run(build_frame(v4(80, 40002, kTcpSyn))), kNoSocket);
  EXPECT_EQ(counters().pass_draining, 0u);
}

// One update of the rule's slot, in which only the flag changes; the other slots and the port
// bitmap stay as they were.
TEST_F(SteerDraining, SetRuleDraining_InPlace_OnlyTheFlagChanges) {
  add(owned(any_v4(80, 80), kPidA));
  const SteerRule rule = owned(host_v4(kDst4, 8000, 8010), kPidA);
  add(rule);
  add(owned(host_v4(kDst4, 8000, 8010), kPidB));  // same match, another owner
  const std::vector<xdptcp_rule> before = raw_rules();
  const std::vector<std::uint64_t> bits = bitmap();

  drain(rule);
  std::vector<xdptcp_rule> after = raw_rules();
  EXPECT_EQ(bitmap(), bits);
  for (std::uint32_t i = 0; i < XDPTCP_MAX_RULES; ++i) {
    xdptcp_rule expected = before[i];
    if (i == 1) expected.flags |= XDPTCP_RULE_DRAINING;
    EXPECT_EQ(std::memcmp(&after[i], &expected, sizeof expected), 0) << "slot " << i;
  }
  auto rules = kernel::list_rules(maps_);
  ASSERT_TRUE(rules.ok());
  ASSERT_EQ(rules->size(), 3u);
  EXPECT_FALSE(rules.value()[0].draining);
  EXPECT_TRUE(rules.value()[1].draining);
  EXPECT_FALSE(rules.value()[2].draining) << "B's rule of the same match is B's";

  drain(rule);  // again: no change, no error
  drain(rule, false);
  after = raw_rules();
  for (std::uint32_t i = 0; i < XDPTCP_MAX_RULES; ++i)
    EXPECT_EQ(std::memcmp(&after[i], &before[i], sizeof before[i]), 0) << "slot " << i;
  EXPECT_EQ(bitmap(), bits);
}

TEST_F(SteerDraining, SetRuleDraining_NoSuchRule_Enoent) {
  auto res = kernel::set_rule_draining(maps_, owned(any_v4(80, 80), kPidA), true);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, ENOENT) << res.error().describe();
  add(owned(any_v4(80, 90), kPidA));
  for (const SteerRule& r : {owned(any_v4(80, 80), kPidA),          // a sub-range is not the rule
                             owned(any_v4(80, 90), kPidB),          // another owner's
                             owned(host_v4(kDst4, 80, 90), kPidA),  // another address
                             owned(any_v6(80, 90), kPidA)}) {       // another family
    for (bool on : {true, false}) {
      res = kernel::set_rule_draining(maps_, r, on);
      ASSERT_FALSE(res.ok());
      EXPECT_EQ(res.error().code, ENOENT) << res.error().describe();
    }
  }
  EXPECT_FALSE(kernel::list_rules(maps_)->at(0).draining);
}

// A permanent rule belongs to no process, so it has no flows to keep.
TEST_F(SteerDraining, PermanentRule_CannotDrain_Einval) {
  add(any_v4(80, 80));
  auto res = kernel::set_rule_draining(maps_, any_v4(80, 80), true);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, EINVAL) << res.error().describe();
  EXPECT_TRUE(kernel::set_rule_draining(maps_, any_v4(80, 80), false).ok()) << "clearing is a no-op";
  SteerRule r = any_v4(81, 81);
  r.draining = true;
  res = kernel::add_rule(maps_, r);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, EINVAL) << res.error().describe();
  EXPECT_EQ(kernel::list_rules(maps_)->size(), 1u);
}

TEST_F(SteerDraining, AddRule_Draining_ListedAndApplied) {
  SteerRule r = owned(any_v4(80, 80), kPidA);
  r.draining = true;
  add(r);
  auto rules = kernel::list_rules(maps_);
  ASSERT_TRUE(rules.ok());
  ASSERT_EQ(rules->size(), 1u);
  EXPECT_EQ(rules.value()[0], r);
  SteerRule plain = r;
  plain.draining = false;
  auto res = kernel::add_rule(maps_, plain);  // one rule per (match, owner), flag or not
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, EEXIST);
  set_queue_owner(0, kPidA);
  EXPECT_EQ(run(build_frame(v4(80, 40002, kTcpSyn))), kDraining);
  ASSERT_TRUE(kernel::del_rule(maps_, plain).ok()) << "the flag does not take part in the match";
  EXPECT_TRUE(kernel::list_rules(maps_)->empty());
}

// A set pinned by an xdptcp older than ABI 4 has no xdptcp_stack_flows (open_pinned leaves it at -1),
// and its program would ignore the flag: setting it, or listing flows, says to re-attach.
TEST_F(SteerDraining, OlderPinnedSet_WithoutStackFlows_Ebadf) {
  const SteerRule rule = owned(any_v4(80, 80), kPidA);
  add(rule);
  kernel::SteerMapFds old = maps_;
  old.stack_flows = -1;
  auto res = kernel::set_rule_draining(old, rule, true);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, EBADF);
  EXPECT_NE(res.error().message.find("re-attach"), std::string::npos) << res.error().message;
  EXPECT_FALSE(kernel::list_rules(maps_)->at(0).draining);
  EXPECT_TRUE(kernel::set_rule_draining(old, rule, false).ok());
  SteerRule r = owned(any_v4(81, 81), kPidA);
  r.draining = true;
  EXPECT_EQ(kernel::add_rule(old, r).error().code, EBADF);

  const wire::FourTuple flow = flow_of(v4(80, 40001));
  EXPECT_EQ(kernel::add_stack_flow(old, flow, kPidA).error().code, EBADF);
  EXPECT_EQ(kernel::del_stack_flow(old, flow).error().code, EBADF);
  EXPECT_EQ(kernel::has_stack_flow(old, flow).error().code, EBADF);
  kernel::SteerMapFds none;
  EXPECT_EQ(kernel::add_stack_flow(none, flow, kPidA).error().code, EBADF);
  EXPECT_EQ(kernel::set_rule_draining(none, rule, true).error().code, EBADF);

  // Dead-owner cleanup works on such a set as before.
  EXPECT_TRUE(kernel::remove_rules_of_dead_owners(old).ok());
}

TEST_F(SteerDraining, StackFlows_AddHasDel) {
  for (const FrameSpec& s : {v4(80, 40001), v6(80, 40001)}) {
    SCOPED_TRACE(s.family);
    const wire::FourTuple flow = flow_of(s);
    auto has = kernel::has_stack_flow(maps_, flow);
    ASSERT_TRUE(has.ok()) << has.error().describe();
    EXPECT_FALSE(has.value());
    ASSERT_TRUE(kernel::add_stack_flow(maps_, flow, kPidA).ok());
    std::uint32_t pid = 0;
    has = kernel::has_stack_flow(maps_, flow, &pid);
    ASSERT_TRUE(has.ok());
    EXPECT_TRUE(has.value());
    EXPECT_EQ(pid, kPidA);
    ASSERT_TRUE(kernel::add_stack_flow(maps_, flow, kPidB).ok()) << "adding again replaces the pid";
    ASSERT_TRUE(kernel::has_stack_flow(maps_, flow, &pid).value());
    EXPECT_EQ(pid, kPidB);
    FrameSpec reversed = s;  // the ports swapped: another flow
    std::swap(reversed.sport, reversed.dport);
    EXPECT_FALSE(kernel::has_stack_flow(maps_, flow_of(reversed)).value());
    ASSERT_TRUE(kernel::del_stack_flow(maps_, flow).ok());
    EXPECT_FALSE(kernel::has_stack_flow(maps_, flow).value());
    EXPECT_TRUE(kernel::del_stack_flow(maps_, flow).ok()) << "removing twice is no error";
  }

  wire::FourTuple mixed = flow_of(v4(80, 40001));
  mixed.remote.ip = wire::IpAddr::v6_bytes(kSrc6.data());
  EXPECT_EQ(kernel::add_stack_flow(maps_, mixed, kPidA).error().code, EINVAL);
  EXPECT_EQ(kernel::add_stack_flow(maps_, flow_of(v4(80, 40001)), 0).error().code, EINVAL);
  EXPECT_EQ(stack_flow_entries(), 0u);
}

// add_stack_flow keys a flow as add_kernel_flow does (the key the program builds from a segment).
TEST_F(SteerDraining, StackFlowKey_SameAsKernelFlowKey) {
  const wire::FourTuple flow = flow_of(v6(443, 50001));
  ASSERT_TRUE(kernel::add_stack_flow(maps_, flow, kPidA).ok());
  ASSERT_TRUE(kernel::add_kernel_flow(maps_, flow).ok());
  xdptcp_flow_key stack_key{};
  xdptcp_flow_key kernel_key{};
  ASSERT_EQ(bpf_map_get_next_key(maps_.stack_flows, nullptr, &stack_key), 0);
  ASSERT_EQ(bpf_map_get_next_key(maps_.kernel_flows, nullptr, &kernel_key), 0);
  EXPECT_EQ(std::memcmp(&stack_key, &kernel_key, sizeof stack_key), 0);
}

TEST_F(SteerDraining, StackFlowMap_LruHashOfMaxStackFlows) {
  bpf_map_info info{};
  __u32 len = sizeof info;
  ASSERT_EQ(bpf_obj_get_info_by_fd(maps_.stack_flows, &info, &len), 0);
  EXPECT_EQ(info.type, BPF_MAP_TYPE_LRU_HASH);
  EXPECT_EQ(info.max_entries, static_cast<__u32>(XDPTCP_MAX_STACK_FLOWS));
  EXPECT_EQ(info.key_size, sizeof(xdptcp_flow_key));
  EXPECT_EQ(info.value_size, sizeof(__u32));
  EXPECT_STREQ(info.name, "xdptcp_stack_fl");  // the kernel keeps 15 characters of the name
}

// The flows of processes that died go with their rules; the living keep theirs.
TEST_F(SteerDraining, RemoveRulesOfDeadOwners_RemovesTheirStackFlows) {
  const std::uint32_t dead = dead_pid();
  const auto me = static_cast<std::uint32_t>(::getpid());
  SteerRule stale = owned(any_v4(80, 80), dead);
  stale.draining = true;
  add(stale);
  for (std::uint16_t port = 40001; port <= 40003; ++port) list_flow(v4(80, port), dead);
  list_flow(v4(80, 40010), me);
  list_flow(v6(80, 40011), me);
  ASSERT_EQ(stack_flow_entries(), 5u);

  auto removed = kernel::remove_rules_of_dead_owners(maps_);
  ASSERT_TRUE(removed.ok()) << removed.error().describe();
  EXPECT_EQ(removed.value(), 1u) << "counts rules";
  EXPECT_EQ(stack_flow_entries(), 2u);
  EXPECT_FALSE(kernel::has_stack_flow(maps_, flow_of(v4(80, 40001))).value());
  std::uint32_t pid = 0;
  EXPECT_TRUE(kernel::has_stack_flow(maps_, flow_of(v4(80, 40010)), &pid).value());
  EXPECT_EQ(pid, me);
  EXPECT_TRUE(kernel::has_stack_flow(maps_, flow_of(v6(80, 40011))).value());
  EXPECT_TRUE(kernel::list_rules(maps_)->empty());
}

}  // namespace
}  // namespace xdptcp::test
