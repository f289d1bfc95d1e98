// The REDIRECTED path of the steering program with a real AF_XDP socket: a socket bound (copy
// mode) to queue 0 of the loopback device of a private network namespace is registered in
// xdptcp_xsks, and BPF_PROG_TEST_RUN, which presents frames as arriving on queue 0, then sees
// the redirect succeed. No traffic flows: BPF_PROG_TEST_RUN only reports the verdict, and no
// XDP program is attached to the namespace's loopback. End-to-end delivery through a veth is
// covered by the integration tests.
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xdp/xsk.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <thread>

#include "bpf/steer_fixture.h"
#include "bpf/test_frames.h"

namespace xdptcp::test {
namespace {

constexpr std::size_t kFrames = 64;
constexpr std::size_t kFrameSize = XSK_UMEM__DEFAULT_FRAME_SIZE;

// One UMEM and one AF_XDP socket on lo queue 0 of a fresh network namespace. The namespace is
// entered by a short-lived thread (network namespaces are per thread), so the rest of the test
// process stays where it was; the namespace lives as long as the socket does.
class LoopbackXsk {
 public:
  LoopbackXsk() {
    std::thread t([this] { create(); });
    t.join();
  }
  ~LoopbackXsk() {
    if (xsk_) xsk_socket__delete(xsk_);
    if (umem_) xsk_umem__delete(umem_);
    if (buf_ != MAP_FAILED) ::munmap(buf_, kFrames * kFrameSize);
  }
  LoopbackXsk(const LoopbackXsk&) = delete;
  LoopbackXsk& operator=(const LoopbackXsk&) = delete;

  int fd() const { return xsk_ ? xsk_socket__fd(xsk_) : -1; }
  const std::string& error() const { return error_; }

 private:
  void create() {
    if (::unshare(CLONE_NEWNET) != 0) {
      error_ = std::string("unshare(CLONE_NEWNET): ") + std::strerror(errno);
      return;
    }
    buf_ = ::mmap(nullptr, kFrames * kFrameSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf_ == MAP_FAILED) {
      error_ = std::string("mmap: ") + std::strerror(errno);
      return;
    }
    int err = xsk_umem__create(&umem_, buf_, kFrames * kFrameSize, &fill_, &comp_, nullptr);
    if (err != 0) {
      umem_ = nullptr;
      error_ = std::string("xsk_umem__create: ") + std::strerror(-err);
      return;
    }
    xsk_socket_config cfg{};
    cfg.rx_size = XSK_RING_CONS__DEFAULT_NUM_DESCS;
    cfg.tx_size = XSK_RING_PROD__DEFAULT_NUM_DESCS;
    cfg.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD;  // we test our own program
    cfg.bind_flags = XDP_COPY;
    err = xsk_socket__create(&xsk_, "lo", 0, umem_, &rx_, &tx_, &cfg);
    if (err != 0) {
      xsk_ = nullptr;
      error_ = std::string("xsk_socket__create on lo queue 0: ") + std::strerror(-err);
    }
  }

  void* buf_ = MAP_FAILED;
  xsk_umem* umem_ = nullptr;
  xsk_socket* xsk_ = nullptr;
  xsk_ring_prod fill_{}, tx_{};
  xsk_ring_cons comp_{}, rx_{};
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
