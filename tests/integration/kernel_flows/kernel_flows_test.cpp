// Steering exceptions (issue 11; bpf/include/xdptcp/steer_abi.h, xdptcp_kernel_flows): the
// preload library's hybrid listener keeps the application's kernel listener, and the stack, started
// lazily, steers the port to itself. Kernel connections accepted before that stay with the kernel
// (one exception each, added before the rule), and new connections go to the stack. The control at
// the end removes the exception and shows what happened before it existed: the connection is cut.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>

#include <gtest/gtest.h>

#include "support/netns/netns_util.h"
#include "support/netns/socket_util.h"
#include "userstack/kernel/steer_rules.h"
#include "userstack/kernel/xdp_attach.h"
#include "xdptcp/xdptcp.hpp"

namespace xdptcp {
namespace {

using namespace std::chrono_literals;
using test::BackgroundCommand;
using test::Fd;
using test::free_port;
using test::Sandbox;

sockaddr_in sockaddr4(const std::string& addr, std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, addr.c_str(), &a.sin_addr);
  return a;
}

// Sends `msg` on a kernel connection whose far end echoes and reads it back, driving the stack
// meanwhile (so that a segment redirected to it is answered, as the preload library's event loop
// would). False when the connection is reset or closed, or the echo does not come.
bool echoes(int fd, const std::string& msg, Context* ctx) {
  if (write(fd, msg.data(), msg.size()) != static_cast<ssize_t>(msg.size())) return false;
  std::string got;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (got.size() < msg.size() && std::chrono::steady_clock::now() < deadline) {
    ctx->poll_once();
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 5) <= 0) continue;
    char buf[256];
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) return false;
    got.append(buf, static_cast<std::size_t>(n));
  }
  return got == msg;
}

class KernelFlowsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!test::is_root())
      GTEST_SKIP() << "needs root: creates network namespaces, veth pairs and XDP programs";
  }
};

TEST_F(KernelFlowsTest, HybridListener_EarlierKernelConnectionKept_NewConnectionToStack) {
  Sandbox sb({.name = "kflw", .queues = 1});
  ASSERT_TRUE(sb.up().ok());
  const std::uint16_t port = free_port();
  ASSERT_NE(port, 0);

  // The application's kernel listener (every address), and a connection from the peer that it
  // accepts before the stack exists; the peer echoes.
  Fd listener(socket(AF_INET, SOCK_STREAM, 0));
  int one = 1;
  setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in any = sockaddr4("0.0.0.0", port);
  ASSERT_EQ(bind(listener.get(), reinterpret_cast<sockaddr*>(&any), sizeof any), 0) << std::strerror(errno);
  ASSERT_EQ(listen(listener.get(), 8), 0);
  const std::string target = "TCP4:" + sb.stack_ip4() + ":" + std::to_string(port);
  BackgroundCommand old_client(test::in_netns(sb.peer_ns(), "exec socat " + target + " PIPE"));
  pollfd p{listener.get(), POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 5000), 1) << old_client.output();
  sockaddr_in peer{};
  socklen_t plen = sizeof peer;
  Fd served(accept(listener.get(), reinterpret_cast<sockaddr*>(&peer), &plen));
  ASSERT_GE(served.get(), 0);

  // The stack, as the preload library builds it: no reservation, driven on this thread.
  StackOptions opts;
  opts.iface = sb.iface();
  opts.engines = 1;
  opts.pin_cores = false;
  opts.reserve_listening_ports = false;
  std::string error;
  auto stack = Stack::create(opts, &error);
  ASSERT_TRUE(stack) << error;
  Context* ctx = stack->drive(&error);
  ASSERT_NE(ctx, nullptr) << error;
  ASSERT_TRUE(echoes(served.get(), "before the stack listens\n", ctx));

  const int lfd = ctx->socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(lfd, 0);
  ASSERT_EQ(ctx->bind(lfd, reinterpret_cast<const sockaddr*>(&any), sizeof any), 0);
  ::testing::internal::CaptureStderr();
  ASSERT_EQ(ctx->listen(lfd, 16), 0) << std::strerror(errno);
  const std::string said = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(said.find(sb.stack_ip4() + ":" + std::to_string(port)), std::string::npos) << said;
  EXPECT_NE(said.find("steering exception"), std::string::npos) << said;

  auto maps = kernel::open_pinned(sb.iface());
  ASSERT_TRUE(maps.ok()) << maps.error().describe();
  wire::FourTuple flow;
  flow.local.ip = *wire::IpAddr::parse(sb.stack_ip4());
  flow.local.port = port;
  flow.remote.ip = *wire::IpAddr::parse(sb.peer_ip4());
  flow.remote.port = ntohs(peer.sin_port);
  auto has = kernel::has_kernel_flow(maps->fds(), flow);
  ASSERT_TRUE(has.ok()) << has.error().describe();
  EXPECT_TRUE(has.value()) << "no steering exception for " << flow.local.to_string() << " <-> "
                           << flow.remote.to_string();

  // The kernel connection keeps echoing, through the exception.
  const auto before = kernel::read_counters(maps->fds());
  ASSERT_TRUE(before.ok());
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(echoes(served.get(), "kept with the kernel " + std::to_string(i) + "\n", ctx)) << i;
  const auto after = kernel::read_counters(maps->fds());
  ASSERT_TRUE(after.ok());
  EXPECT_GT(after->pass_kernel_flow, before->pass_kernel_flow);

  // A new connection from the peer goes to the stack.
  BackgroundCommand new_client(test::in_netns(sb.peer_ns(), "exec socat " + target + " PIPE"));
  int conn = -1;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (conn < 0 && std::chrono::steady_clock::now() < deadline) {
    ctx->poll_once();
    conn = ctx->accept(lfd, nullptr, nullptr);
    if (conn < 0) usleep(1000);
  }
  ASSERT_GE(conn, 0) << "the stack accepted no connection: " << new_client.output();
  const std::string hello = "served by the stack\n";
  ASSERT_EQ(ctx->write(conn, hello.data(), hello.size()), static_cast<ssize_t>(hello.size()));
  std::string got;
  const auto rdl = std::chrono::steady_clock::now() + 5s;
  while (got.size() < hello.size() && std::chrono::steady_clock::now() < rdl) {
    ctx->poll_once();
    char buf[256];
    const ssize_t n = ctx->read(conn, buf, sizeof buf);
    if (n > 0) {
      got.append(buf, static_cast<std::size_t>(n));
    } else {
      usleep(1000);
    }
  }
  EXPECT_EQ(got, hello);
  pollfd none{listener.get(), POLLIN, 0};
  EXPECT_EQ(poll(&none, 1, 0), 0) << "the new connection reached the kernel listener";
  EXPECT_TRUE(echoes(served.get(), "still kept\n", ctx));

  // Control: without its exception (as before exceptions existed) the kernel connection's next
  // segment is steered to the stack, which knows nothing of it and resets it.
  ASSERT_TRUE(kernel::del_kernel_flow(maps->fds(), flow).ok());
  EXPECT_FALSE(echoes(served.get(), "cut without the exception\n", ctx));

  ctx->close(conn);
  ctx->close(lfd);
}

}  // namespace
}  // namespace xdptcp
