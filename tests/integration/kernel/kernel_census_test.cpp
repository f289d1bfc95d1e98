// The stack never steers the kernel's own connections away (issue 11, item 6): the census of the
// kernel's TCP sockets (userstack/kernel/socket_census.h) against the real kernel, and the two
// places that consult it before a steering rule goes in, a listening port's claim and the
// ephemeral range's rules (api/src/stack.cpp), with kernel connections established over a sandbox's
// veth before the stack starts. Root only: namespaces, veth pairs, the steering program.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "support/netns/netns_util.h"
#include "support/netns/socket_util.h"
#include "userstack/kernel/port_reservation.h"
#include "userstack/kernel/socket_census.h"
#include "userstack/kernel/steer_rules.h"
#include "userstack/kernel/xdp_attach.h"
#include "xdptcp/xdptcp.hpp"

namespace xdptcp {
namespace {

using namespace std::chrono_literals;
using test::BackgroundCommand;
using test::Fd;
using test::Sandbox;

sockaddr_storage sockaddr_of(const std::string& addr, std::uint16_t port, socklen_t* len) {
  sockaddr_storage ss{};
  if (addr.find(':') == std::string::npos) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    inet_pton(AF_INET, addr.c_str(), &a->sin_addr);
    *len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    inet_pton(AF_INET6, addr.c_str(), &a->sin6_addr);
    *len = sizeof *a;
  }
  return ss;
}

int family_of(const std::string& addr) {
  return addr.find(':') == std::string::npos ? AF_INET : AF_INET6;
}

std::string socat_addr(const std::string& addr, std::uint16_t port) {
  return family_of(addr) == AF_INET ? "TCP4:" + addr + ":" + std::to_string(port)
                                    : "TCP6:[" + addr + "]:" + std::to_string(port);
}

// A port no kernel socket of the root namespace holds now (the kernel's choice for port 0).
std::uint16_t free_port(const std::string& addr) {
  Fd fd(socket(family_of(addr), SOCK_STREAM, 0));
  socklen_t len = 0;
  auto ss = sockaddr_of(addr, 0, &len);
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0 ||
      getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    ADD_FAILURE() << "no free port: " << std::strerror(errno);
    return 0;
  }
  return ntohs(ss.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&ss)->sin_port
                                       : reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
}

// Sends `msg` on a kernel connection whose far end echoes (socat ... PIPE) and reads it back.
bool echoes(int fd, const std::string& msg) {
  if (write(fd, msg.data(), msg.size()) != static_cast<ssize_t>(msg.size())) return false;
  std::string got;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (got.size() < msg.size() && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    char buf[256];
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) return false;  // reset or closed: the connection is gone
    got.append(buf, static_cast<std::size_t>(n));
  }
  return got == msg;
}

// A kernel connection over the sandbox's veth: a kernel listener in the root namespace on
// stack_addr:port (SO_REUSEADDR, as servers set it), and an echoing client (socat) in the peer
// namespace. The listener is closed once it has accepted when `keep_listener` is false: then only
// the accepted connection holds the port, which is the case the port reservation cannot see.
struct KernelConnection {
  Fd listener;
  Fd conn;
  std::unique_ptr<BackgroundCommand> client;
};

std::unique_ptr<KernelConnection> connect_from_peer(const Sandbox& sb, const std::string& stack_addr,
                                                    std::uint16_t port, bool keep_listener) {
  auto kc = std::make_unique<KernelConnection>();
  kc->listener = Fd(socket(family_of(stack_addr), SOCK_STREAM, 0));
  int one = 1;
  setsockopt(kc->listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  socklen_t len = 0;
  auto ss = sockaddr_of(stack_addr, port, &len);
  if (bind(kc->listener.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0 ||
      listen(kc->listener.get(), 4) != 0) {
    ADD_FAILURE() << "kernel listener on " << stack_addr << ":" << port << ": " << std::strerror(errno);
    return nullptr;
  }
  kc->client = std::make_unique<BackgroundCommand>(
      test::in_netns(sb.peer_ns(), "exec socat " + socat_addr(stack_addr, port) + " PIPE"));
  pollfd p{kc->listener.get(), POLLIN, 0};
  if (poll(&p, 1, 5000) != 1) {
    ADD_FAILURE() << "no connection from the peer: " << kc->client->output();
    return nullptr;
  }
  kc->conn = Fd(accept(kc->listener.get(), nullptr, nullptr));
  if (kc->conn.get() < 0) return nullptr;
  if (!keep_listener) kc->listener.reset();
  return kc;
}

StackOptions stack_options(const Sandbox& sb) {
  StackOptions o;
  o.iface = sb.iface();
  o.engines = 1;
  o.pin_cores = false;
  return o;
}

class KernelCensusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!test::is_root())
      GTEST_SKIP() << "needs root: creates network namespaces, veth pairs and XDP programs";
  }
};

// (a) The census lists a kernel connection over the veth, IPv4 and IPv6, with its ports and state,
// and only the root namespace's sockets (the client's end lives in the peer namespace).
TEST_F(KernelCensusTest, SeesKernelConnection_WithPortsAndState) {
  Sandbox sb({.name = "kcen", .queues = 1});
  ASSERT_TRUE(sb.up().ok());
  for (const std::string& stack_ip : {sb.stack_ip4(), sb.stack_ip6()}) {
    SCOPED_TRACE(stack_ip);
    const std::uint16_t port = free_port(stack_ip);
    auto kc = connect_from_peer(sb, stack_ip, port, true);
    ASSERT_TRUE(kc);
    auto all = kernel::kernel_tcp_sockets();
    ASSERT_TRUE(all.ok()) << all.error().describe();
    const auto me = *wire::IpAddr::parse(stack_ip);
    const auto peer = *wire::IpAddr::parse(stack_ip == sb.stack_ip4() ? sb.peer_ip4() : sb.peer_ip6());
    int established = 0;
    int listening = 0;
    for (const auto& s : all.value()) {
      if (s.local.ip == me && s.local.port == port && s.state == kernel::KernelTcpState::kEstablished) {
        ++established;
        EXPECT_EQ(s.remote.ip, peer) << s.to_string();
        EXPECT_NE(s.remote.port, 0) << s.to_string();
      }
      if (s.local.ip == me && s.local.port == port && s.state == kernel::KernelTcpState::kListen) ++listening;
      EXPECT_FALSE(s.local.ip == peer) << "a socket of the peer namespace: " << s.to_string();
    }
    EXPECT_EQ(established, 1);
    EXPECT_EQ(listening, 1);

    // What a rule would steer: the rule's own address, or a wildcard over the served addresses;
    // not a rule for another address, nor a wildcard whose served addresses exclude it.
    kernel::SteerRule rule;
    rule.family = me.family;
    rule.addr = me;
    rule.port_lo = rule.port_hi = port;
    EXPECT_EQ(kernel::steered_by(all.value(), rule, {me}, false).size(), 1u);
    EXPECT_EQ(kernel::steered_by(all.value(), rule, {me}, true).size(), 2u);
    rule.addr = peer;
    EXPECT_TRUE(kernel::steered_by(all.value(), rule, {me}, true).empty());
    rule.any_addr = true;
    EXPECT_EQ(kernel::steered_by(all.value(), rule, {me}, false).size(), 1u);
    EXPECT_TRUE(kernel::steered_by(all.value(), rule, {peer}, false).empty());
  }
}

// (b) listen() on a port where a kernel connection is established on the served address is refused
// (EADDRINUSE, with a message naming the port and the connection), on the address and on the
// wildcard; no rule goes in; the kernel connection keeps carrying data. Another port is claimed as
// usual.
TEST_F(KernelCensusTest, ListenOverKernelConnection_RefusedAndKernelConnectionKeepsWorking) {
  Sandbox sb({.name = "kclm", .queues = 1});
  ASSERT_TRUE(sb.up().ok());
  const std::uint16_t port = free_port(sb.stack_ip4());
  auto kc = connect_from_peer(sb, sb.stack_ip4(), port, false);
  ASSERT_TRUE(kc);
  ASSERT_TRUE(echoes(kc->conn.get(), "before\n"));

  std::string error;
  auto stack = Stack::create(stack_options(sb), &error);
  ASSERT_TRUE(stack) << error;
  Context* ctx = stack->drive(&error);
  ASSERT_NE(ctx, nullptr) << error;
  for (const std::string& addr : {sb.stack_ip4(), std::string("0.0.0.0")}) {
    SCOPED_TRACE(addr);
    const int fd = ctx->socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    socklen_t len = 0;
    auto ss = sockaddr_of(addr, port, &len);
    ASSERT_EQ(ctx->bind(fd, reinterpret_cast<sockaddr*>(&ss), len), 0);
    ::testing::internal::CaptureStderr();
    const int rc = ctx->listen(fd, 16);
    const int err = errno;
    const std::string said = ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(rc, -1);
    EXPECT_EQ(err, EADDRINUSE);
    EXPECT_NE(said.find("port " + std::to_string(port)), std::string::npos) << said;
    EXPECT_NE(said.find("ESTABLISHED"), std::string::npos) << said;
    EXPECT_NE(said.find(sb.peer_ip4()), std::string::npos) << said;
    ctx->close(fd);
  }
  auto maps = kernel::open_pinned(sb.iface());
  ASSERT_TRUE(maps.ok()) << maps.error().describe();
  auto rules = kernel::list_rules(maps->fds());
  ASSERT_TRUE(rules.ok());
  for (const auto& r : rules.value()) {
    EXPECT_FALSE(r.port_lo <= port && port <= r.port_hi) << "a rule covers the kernel's port " << port;
  }
  EXPECT_TRUE(echoes(kc->conn.get(), "after the stack's attempt\n"));

  // A port without kernel connections is claimed (and steered) as before.
  const std::uint16_t other = free_port(sb.stack_ip4());
  const int fd = ctx->socket(AF_INET, SOCK_STREAM, 0);
  socklen_t len = 0;
  auto ss = sockaddr_of(sb.stack_ip4(), other, &len);
  ASSERT_EQ(ctx->bind(fd, reinterpret_cast<sockaddr*>(&ss), len), 0);
  EXPECT_EQ(ctx->listen(fd, 16), 0) << std::strerror(errno);
  ctx->close(fd);
}

// (b, as the preload library runs) The application's own kernel listener holds the port
// (reserve_listening_ports = false) and the kernel connections it accepted may exist. Those on
// loopback are not the rule's to steer and are not reported; one on the served address is named.
TEST_F(KernelCensusTest, ApplicationListener_LoopbackConnectionsIgnored_ServedOnesNamed) {
  Sandbox sb({.name = "kclp", .queues = 1});
  ASSERT_TRUE(sb.up().ok());
  const std::uint16_t port = free_port("0.0.0.0");
  Fd listener(socket(AF_INET, SOCK_STREAM, 0));
  int one = 1;
  setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  socklen_t len = 0;
  auto any = sockaddr_of("0.0.0.0", port, &len);
  ASSERT_EQ(bind(listener.get(), reinterpret_cast<sockaddr*>(&any), len), 0) << std::strerror(errno);
  ASSERT_EQ(listen(listener.get(), 8), 0);
  // A loopback connection, accepted by the kernel.
  Fd loop_client(socket(AF_INET, SOCK_STREAM, 0));
  auto lo = sockaddr_of("127.0.0.1", port, &len);
  ASSERT_EQ(connect(loop_client.get(), reinterpret_cast<sockaddr*>(&lo), len), 0) << std::strerror(errno);
  Fd loop_server(accept(listener.get(), nullptr, nullptr));
  ASSERT_GE(loop_server.get(), 0);

  StackOptions opts = stack_options(sb);
  opts.reserve_listening_ports = false;
  std::string error;
  auto stack = Stack::create(opts, &error);
  ASSERT_TRUE(stack) << error;
  Context* ctx = stack->drive(&error);
  ASSERT_NE(ctx, nullptr) << error;
  auto listen_any = [&] {
    const int fd = ctx->socket(AF_INET, SOCK_STREAM, 0);
    socklen_t l = 0;
    auto a = sockaddr_of("0.0.0.0", port, &l);
    EXPECT_EQ(ctx->bind(fd, reinterpret_cast<sockaddr*>(&a), l), 0);
    const int rc = ctx->listen(fd, 16) == 0 ? 0 : errno;
    ctx->close(fd);  // releases the claim and its rule
    return rc;
  };
  EXPECT_EQ(listen_any(), 0) << "a loopback kernel connection refused the claim";

  // Now a connection on the served address, accepted by the application's kernel listener.
  BackgroundCommand client(
      test::in_netns(sb.peer_ns(), "exec socat " + socat_addr(sb.stack_ip4(), port) + " PIPE"));
  pollfd p{listener.get(), POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 5000), 1) << client.output();
  Fd served(accept(listener.get(), nullptr, nullptr));
  ASSERT_GE(served.get(), 0);
  ASSERT_TRUE(echoes(served.get(), "before\n"));
  ::testing::internal::CaptureStderr();
  // The preload library's lazily started stack finds its own application's connections there:
  // it steers anyway and names them (refusing would leave the application to the kernel for good).
  EXPECT_EQ(listen_any(), 0);
  const std::string said = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(said.find(sb.stack_ip4() + ":" + std::to_string(port)), std::string::npos) << said;
  EXPECT_TRUE(echoes(served.get(), "after the stack's attempt\n"));
  ASSERT_EQ(write(loop_client.get(), "x", 1), 1);
  char c = 0;
  EXPECT_EQ(read(loop_server.get(), &c, 1), 1);
}

// (c) A kernel client bound to a port inside the stack's ephemeral range (an explicit bind takes a
// reserved port) with a connection established to the peer: the stack's ephemeral rules start above
// it, and the connection keeps carrying data.
TEST_F(KernelCensusTest, EphemeralRuleSkipsPortOfKernelConnection) {
  Sandbox sb({.name = "keph", .queues = 1});
  ASSERT_TRUE(sb.up().ok());
  auto krange = kernel::kernel_ephemeral_range();
  ASSERT_TRUE(krange.ok());
  const unsigned lo = std::max<unsigned>(krange->hi + 1u, 1024u);
  ASSERT_LE(lo + 2048, 65535u) << "the kernel's ephemeral range leaves the stack no room";
  const auto taken = static_cast<std::uint16_t>(lo + 100);

  constexpr std::uint16_t kServerPort = 7071;
  BackgroundCommand server(test::in_netns(
      sb.peer_ns(),
      "exec socat TCP4-LISTEN:" + std::to_string(kServerPort) + ",bind=" + sb.peer_ip4() + " PIPE"));
  Fd conn(socket(AF_INET, SOCK_STREAM, 0));
  socklen_t len = 0;
  auto local = sockaddr_of(sb.stack_ip4(), taken, &len);
  ASSERT_EQ(bind(conn.get(), reinterpret_cast<sockaddr*>(&local), len), 0)
      << "port " << taken << ": " << std::strerror(errno);
  auto remote = sockaddr_of(sb.peer_ip4(), kServerPort, &len);
  // The server may not listen yet: retry (a refused TCP socket may connect again, keeping its bind).
  const bool connected = test::wait_until(
      [&] { return connect(conn.get(), reinterpret_cast<sockaddr*>(&remote), len) == 0; }, 5000ms, 50ms);
  ASSERT_TRUE(connected) << server.output();
  ASSERT_TRUE(echoes(conn.get(), "before\n"));

  std::string error;
  ::testing::internal::CaptureStderr();
  auto stack = Stack::create(stack_options(sb), &error);
  const std::string said = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(stack) << error;
  EXPECT_NE(said.find(std::to_string(taken)), std::string::npos) << "no word of the narrowed range: " << said;

  auto maps = kernel::open_pinned(sb.iface());
  ASSERT_TRUE(maps.ok()) << maps.error().describe();
  auto rules = kernel::list_rules(maps->fds());
  ASSERT_TRUE(rules.ok());
  const auto me = *wire::IpAddr::parse(sb.stack_ip4());
  int ephemeral = 0;
  for (const auto& r : rules.value()) {
    EXPECT_FALSE((r.any_addr || r.addr == me) && r.port_lo <= taken && taken <= r.port_hi)
        << "a rule covers the kernel connection's port " << taken << ": " << r.port_lo << "-" << r.port_hi;
    if (r.owner_pid == static_cast<std::uint32_t>(getpid()) && r.addr == me && r.port_hi == 65535) {
      ++ephemeral;
      EXPECT_EQ(r.port_lo, taken + 1);
    }
  }
  EXPECT_EQ(ephemeral, 1);
  EXPECT_TRUE(echoes(conn.get(), "after the stack started\n"));
  stack.reset();
  EXPECT_TRUE(echoes(conn.get(), "after the stack stopped\n"));
}

}  // namespace
}  // namespace xdptcp
