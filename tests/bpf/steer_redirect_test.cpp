// The REDIRECTED path of the steering program with a real AF_XDP socket: a socket bound (copy
// mode) to queue 0 of the loopback device of a private network namespace is registered in
// xdptcp_xsks, and BPF_PROG_TEST_RUN, which presents frames as arriving on queue 0, then sees
// the redirect succeed. No traffic flows: BPF_PROG_TEST_RUN only reports the verdict, and no
// XDP program is attached to the namespace's loopback. End-to-end delivery through a veth is
// covered by the integration tests.
#include <unistd.h>

#include <memory>
#include <string>

#include "bpf/steer_fixture.h"
#include "bpf/test_frames.h"
#include "bpf/xsk_socket.h"

namespace xdptcp::test {
namespace {

// An AF_XDP socket on lo queue 0 of a fresh network namespace (see xsk_socket.h); the namespace
// lives as long as the socket does.
class LoopbackXsk {
 public:
  LoopbackXsk() {
    error_ = in_private_netns([this] { xsk_ = std::make_unique<BoundXsk>("lo", 0); });
    if (error_.empty()) error_ = xsk_->error();
  }
  int fd() const { return xsk_ ? xsk_->fd() : -1; }
  const std::string& error() const { return error_; }

 private:
  std::unique_ptr<BoundXsk> xsk_;
  std::string error_;
};

class SteerRedirect : public SteerFixture {};

TEST_F(SteerRedirect, SocketOnQueue_MatchingFrameRedirected_OthersPassed) {
  LoopbackXsk xsk;
  ASSERT_GE(xsk.fd(), 0) << xsk.error();
  auto reg = kernel::register_socket(maps_, 0, xsk.fd(), static_cast<std::uint32_t>(::getpid()));
  ASSERT_TRUE(reg.ok()) << reg.error().describe();
  add(any_v4(80, 80));

  FrameSpec s;
  s.dport = 80;
  EXPECT_EQ(run(build_frame(s)), kRedirected);
  s.dport = 81;
  EXPECT_EQ(run(build_frame(s)), kNotOurs);
  EXPECT_EQ(run(build_arp_frame()), kNotOurs);

  // The record says who registered the socket.
  std::uint32_t q = 0;
  xdptcp_socket_info info{};
  ASSERT_EQ(bpf_map_lookup_elem(maps_.sockets, &q, &info), 0);
  EXPECT_EQ(info.owner_pid, static_cast<std::uint32_t>(::getpid()));
  EXPECT_NE(info.registered_ns, 0u);

  // Unregistered: the same frame falls back to the kernel.
  ASSERT_TRUE(kernel::unregister_socket(maps_, 0).ok());
  s.dport = 80;
  EXPECT_EQ(run(build_frame(s)), kNoSocket);
  ASSERT_EQ(bpf_map_lookup_elem(maps_.sockets, &q, &info), 0);
  EXPECT_EQ(info.owner_pid, 0u);
}

// Design brief §4: an XSKMAP entry vanishes with its socket, so a crashed engine's traffic goes
// back to the kernel without anyone cleaning up.
TEST_F(SteerRedirect, SocketClosed_EntryGone_PassedNoSocket) {
  add(any_v4(80, 80));
  {
    LoopbackXsk xsk;
    ASSERT_GE(xsk.fd(), 0) << xsk.error();
    ASSERT_TRUE(kernel::register_socket(maps_, 0, xsk.fd(), 1).ok());
    FrameSpec s;
    EXPECT_EQ(run(build_frame(s)), kRedirected);
  }
  FrameSpec s;
  EXPECT_EQ(run(build_frame(s)), kNoSocket);
}

}  // namespace
}  // namespace xdptcp::test
