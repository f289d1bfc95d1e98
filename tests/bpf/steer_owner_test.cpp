// Several processes on one interface (steer_abi.h, "Owners"): each owns some RX queues and installs
// rules of its own, and the steering program redirects a frame arriving on queue q only when a rule
// that matches it is permanent or belongs to q's owner; a frame that only other processes' rules
// match is passed to the kernel and counted PASS_OTHER_OWNER.
//
// Frames are presented on queue 0 or 1 of a veth with two RX queues in a private network namespace
// (xsk_socket.h), where real AF_XDP sockets bound to those queues are registered; or, where no
// second queue is needed, on queue 0 of BPF_PROG_TEST_RUN's default device with only an owner
// record (a rule that applies then finds no socket: PASS_NO_SOCKET).
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "bpf/owner_fixture.h"
#include "bpf/steer_fixture.h"
#include "bpf/test_frames.h"
#include "bpf/xsk_socket.h"

namespace xdptcp::test {
namespace {

FrameSpec v4(std::uint16_t dport) {
  FrameSpec s;
  s.dport = dport;
  return s;
}

class SteerOwners : public TwoOwnersFixture {};

TEST_F(SteerOwners, EachOwnersRule_RedirectsOnlyOnItsOwnersQueue) {
  add(owned(any_v4(81, 81), kPidA));
  add(owned(any_v4(82, 82), kPidB));
  with_two_owners([&](int ifindex) {
    EXPECT_EQ(run_on(build_frame(v4(81)), ifindex, 0), kRedirected);
    EXPECT_EQ(run_on(build_frame(v4(81)), ifindex, 1), kOtherOwner) << "A's rule on B's queue";
    EXPECT_EQ(run_on(build_frame(v4(82)), ifindex, 1), kRedirected);
    EXPECT_EQ(run_on(build_frame(v4(82)), ifindex, 0), kOtherOwner) << "B's rule on A's queue";
    EXPECT_EQ(run_on(build_frame(v4(83)), ifindex, 0), kNotOurs);
    EXPECT_EQ(run_on(build_frame(v4(83)), ifindex, 1), kNotOurs);
  });
  const kernel::SteerCounters c = counters();
  EXPECT_EQ(c.pass_other_owner, 2u);
  EXPECT_EQ(c.redirected, 2u);
}

// Two stacks each steer the same traffic (say, one ephemeral range) to themselves: both rules
// coexist, and the one scan finds the queue owner's rule whichever slot holds it.
TEST_F(SteerOwners, SameMatchOfTwoOwners_EachQueueRedirectsToItsOwner) {
  add(owned(any_v4(80, 80), kPidA));  // slot 0: B's frames pass A's rule on the way to B's
  add(owned(any_v4(80, 80), kPidB));
  with_two_owners([&](int ifindex) {
    EXPECT_EQ(run_on(build_frame(v4(80)), ifindex, 0), kRedirected);
    EXPECT_EQ(run_on(build_frame(v4(80)), ifindex, 1), kRedirected);
  });
  EXPECT_EQ(counters().pass_other_owner, 0u);
}

TEST_F(SteerOwners, PermanentRule_RedirectsOnEveryOwnersQueue) {
  add(owned(any_v4(90, 90), kPidB));  // B's own, then the operator's for everyone beside it
  add(any_v4(90, 90));
  with_two_owners([&](int ifindex) {
    EXPECT_EQ(run_on(build_frame(v4(90)), ifindex, 0), kRedirected);
    EXPECT_EQ(run_on(build_frame(v4(90)), ifindex, 1), kRedirected);
  });
}

// A queue that no process owns (no record, as after unregister_socket) takes permanent rules only.
TEST_F(SteerOwners, UnownedQueue_ProcessRuleOtherOwner_PermanentRuleNoSocket) {
  add(owned(any_v4(81, 81), kPidA));
  add(any_v4(90, 90));
  with_two_owners([&](int ifindex) {
    ASSERT_TRUE(kernel::unregister_socket(maps_, 1).ok());
    EXPECT_EQ(run_on(build_frame(v4(81)), ifindex, 1), kOtherOwner);
    EXPECT_EQ(run_on(build_frame(v4(90)), ifindex, 1), kNoSocket);
    EXPECT_EQ(run_on(build_frame(v4(81)), ifindex, 0), kRedirected) << "queue 0 still A's";
  });
}

// A process that dies leaves its queue's record (its socket goes); the next process to register
// there owns the queue at once: the dead one's rules stop applying there, even before they are pruned.
TEST_F(SteerOwners, QueueTakenOverByAnotherProcess_PreviousOwnersRulesStopApplying) {
  add(owned(any_v4(81, 81), kPidA));
  add(owned(any_v4(82, 82), kPidB));
  const std::string error = in_two_queue_veth([&](int ifindex) {
    {
      BoundXsk a(kTwoQueueVeth, 0);
      ASSERT_GE(a.fd(), 0) << a.error();
      ASSERT_TRUE(kernel::register_socket(maps_, 0, a.fd(), kPidA).ok());
      EXPECT_EQ(run_on(build_frame(v4(81)), ifindex, 0), kRedirected);
    }
    EXPECT_EQ(run_on(build_frame(v4(81)), ifindex, 0), kNoSocket) << "A's socket closed, its record stays";
    const std::unique_ptr<BoundXsk> b = bind_when_free(kTwoQueueVeth, 0);
    ASSERT_GE(b->fd(), 0) << b->error();
    ASSERT_TRUE(kernel::register_socket(maps_, 0, b->fd(), kPidB).ok());
    EXPECT_EQ(run_on(build_frame(v4(81)), ifindex, 0), kOtherOwner);
    EXPECT_EQ(run_on(build_frame(v4(82)), ifindex, 0), kRedirected);
  });
  ASSERT_TRUE(error.empty()) << error;
}

// Queue 0 of BPF_PROG_TEST_RUN's default device, owned through its record alone.
TEST_F(SteerOwners, OwnerRecordOnly_OwnersRuleAppliesAndFindsNoSocket) {
  add(owned(any_v6(443, 443), kPidA));
  FrameSpec s;
  s.family = 6;
  s.dport = 443;
  EXPECT_EQ(run(build_frame(s)), kOtherOwner) << "queue 0 has no owner yet";
  set_queue_owner(0, kPidA);
  EXPECT_EQ(run(build_frame(s)), kNoSocket);
  set_queue_owner(0, kPidB);
  EXPECT_EQ(run(build_frame(s)), kOtherOwner);
}

// The owner check comes before the steering exceptions: a segment that another process's rule
// matches is passed whatever the exception map says, and counted as the other owner's.
TEST_F(SteerOwners, OtherOwnersFlowWithException_CountedOtherOwner) {
  add(owned(any_v4(81, 81), kPidA));
  set_queue_owner(0, kPidB);
  const FrameSpec s = v4(81);
  ASSERT_TRUE(kernel::add_kernel_flow(maps_, flow_of(s)).ok());
  EXPECT_EQ(run(build_frame(s)), kOtherOwner);
  set_queue_owner(0, kPidA);
  EXPECT_EQ(run(build_frame(s)), kKernelFlow);
}

// A queue index beyond xdptcp_sockets (and xdptcp_xsks) has no owner: permanent rules apply there
// and find no socket. Needs a device with more queues than the map has entries.
TEST_F(SteerOwners, QueueBeyondTheMaps_TreatedAsUnowned) {
  add(owned(any_v4(81, 81), kPidA));
  add(any_v4(90, 90));
  const std::string error = in_private_netns([&] {
    const std::string q = std::to_string(XDPTCP_MAX_QUEUES + 1);
    const std::string cmd = "ip link add xqbig numrxqueues " + q + " numtxqueues " + q +
                            " type veth peer name xqbig1 numrxqueues " + q + " numtxqueues " + q;
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    const int ifindex = static_cast<int>(::if_nametoindex("xqbig"));
    ASSERT_NE(ifindex, 0);
    EXPECT_EQ(run_on(build_frame(v4(81)), ifindex, XDPTCP_MAX_QUEUES), kOtherOwner);
    EXPECT_EQ(run_on(build_frame(v4(90)), ifindex, XDPTCP_MAX_QUEUES), kNoSocket);
  });
  ASSERT_TRUE(error.empty()) << error;
}

}  // namespace
}  // namespace xdptcp::test
