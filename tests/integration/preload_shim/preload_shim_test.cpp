// The LD_PRELOAD shim (api/preload, libxdptcp-preload.so) for real: each test runs one scenario of
// preload_probe (an ordinary program, not linked with xdptcp) under
//   xdptcp-run --iface IF --log 2 -- preload_probe SCENARIO STACK_IP PEER_IP PORT [PORT2]
// on a sandbox veth, while kernel clients talk to it: the probe's own client mode (remote-controlled
// over its connection by the scenario, see preload_probe.cpp) in the peer namespace or in the root
// namespace over loopback, and socat echo servers for active opens. The probe checks what an
// application sees and exits non-zero at the first surprise; the test checks its exit status, the
// clients' (each saw an orderly end of stream), and what `--log 2` says the library decided.
//
// Needs root. All tests share one sandbox ("psh", a free subnet), brought up once and taken down at
// the end, and use ports of their own (29401..29436).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "support/netns/netns_util.h"

namespace xdptcp::test {
namespace {

using namespace std::chrono_literals;

constexpr int kPortFd = 29401;
constexpr int kPortEpoll = 29402;
constexpr int kPortPoll = 29403;
constexpr int kPortBlocking = 29404;
constexpr int kPortFork = 29405;
constexpr int kPortLoopback = 29406;
constexpr int kPortLoopback2 = 29416;
constexpr int kPortConnect = 29407;
constexpr int kPortConnect2 = 29417;
constexpr int kPortCloseOrder = 29408;  // and 29418
constexpr int kPortReference = 29421;   // ..29426, and 29431..29436

class PreloadShim : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!is_root()) return;
    sb_ = new Sandbox(Sandbox::Options{"psh", 2, false, -1});
    up_ = new CommandResult(sb_->up());
  }
  static void TearDownTestSuite() {
    delete sb_;  // takes the sandbox down
    sb_ = nullptr;
    delete up_;
    up_ = nullptr;
  }

  void SetUp() override {
    if (!is_root()) GTEST_SKIP() << "needs root: network namespaces, XDP and AF_XDP";
    for (const char* exe : {"xdptcp-run", "preload_probe", "xdptcp-ctl"}) {
      if (!std::filesystem::exists(bin_path(exe))) GTEST_SKIP() << bin_path(exe) << " is not built";
    }
    for (const char* tool : {"socat", "timeout", "ss"}) {
      if (!run(std::string("command -v ") + tool).ok()) GTEST_SKIP() << tool << " is not installed";
    }
    ASSERT_NE(up_, nullptr);
    ASSERT_TRUE(up_->ok()) << up_->output;
    ASSERT_FALSE(sb_->iface().empty()) << "the sandbox did not come up";
  }

  static const Sandbox& sb() { return *sb_; }

  // Every command run in the background has a hard time limit, so that the test ends even if it
  // hangs; `timeout --foreground` stays in the command's process group, which BackgroundCommand
  // stops at the end of a test (plain `timeout` makes a group of its own and would outlive it).
  //
  // The probe under xdptcp-run, or with `reference` on the kernel alone (PRELOAD_PROBE_REFERENCE=1).
  static std::unique_ptr<BackgroundCommand> start_probe(const std::string& scenario, int port, int port2 = 0,
                                                        bool reference = false) {
    std::string cmd = reference ? "exec env PRELOAD_PROBE_REFERENCE=1 timeout --foreground 90 "
                                : "exec timeout --foreground 90 " + bin_path("xdptcp-run") + " --iface " +
                                      sb().iface() + " --log 2 -- ";
    cmd += bin_path("preload_probe") + " " + scenario + " " + sb().stack_ip4() + " " + sb().peer_ip4() + " " +
           std::to_string(port);
    if (port2 != 0) cmd += " " + std::to_string(port2);
    return std::make_unique<BackgroundCommand>(cmd);
  }

  // The remote-controlled client in the peer namespace, connecting to the stack's address.
  static std::unique_ptr<BackgroundCommand> peer_client(int port, int delay_ms = 0) {
    return std::make_unique<BackgroundCommand>(in_netns(
        sb().peer_ns(), "exec timeout --foreground 60 " + bin_path("preload_probe") + " client " +
                            sb().stack_ip4() + " " + std::to_string(port) + " " + std::to_string(delay_ms)));
  }

  // The remote-controlled client in the root namespace, over loopback (the kernel's, no preload).
  static std::unique_ptr<BackgroundCommand> loopback_client(int port) {
    return std::make_unique<BackgroundCommand>("exec timeout --foreground 60 " + bin_path("preload_probe") +
                                               " client 127.0.0.1 " + std::to_string(port));
  }

  // Waits for `word` on its own line from the probe (fatal failure otherwise).
  static void await(BackgroundCommand& probe, const std::string& word) {
    ASSERT_TRUE(probe.wait_for_output(word + "\n", 30s)) << "no " << word << " from the probe:\n"
                                                         << probe.output();
  }

  // The probe passed (exit 0 and its PASS line), and every client ended cleanly.
  static void expect_passed(BackgroundCommand& probe, const std::string& scenario,
                            const std::vector<BackgroundCommand*>& clients) {
    const int rc = probe.wait(90s);
    std::string client_out;
    for (std::size_t i = 0; i < clients.size(); ++i) {
      client_out += "--- client " + std::to_string(i) + ":\n" + clients[i]->output();
    }
    EXPECT_EQ(rc, 0) << "--- probe:\n" << probe.output() << client_out;
    EXPECT_NE(probe.output().find("PASS " + scenario), std::string::npos) << probe.output();
    for (std::size_t i = 0; i < clients.size(); ++i) {
      EXPECT_EQ(clients[i]->wait(20s), 0) << "client " << i << ":\n"
                                          << clients[i]->output() << "\n--- probe:\n"
                                          << probe.output();
    }
  }

  static std::string at(const std::string& ip, int port) { return ip + ":" + std::to_string(port); }

  // The scenarios served to clients from the peer namespace: each client connects to the stack's
  // address at READY (or NEXT), and must end cleanly. Returns the probe's output.
  struct Plan {
    int at_ready = 1;      // clients started at READY
    int delay_ms = 0;      // how long they wait before connecting
    bool at_next = false;  // one more at NEXT
  };
  static Plan plan_of(const std::string& scenario) {
    if (scenario == "fd") return {2, 0, false};
    if (scenario == "poll" || scenario == "fork") return {1, 0, true};
    if (scenario == "blocking") return {1, 1000, false};  // late, so that accept has to wait
    return {};                                            // epoll, close_order
  }
  static std::string run_served(const std::string& scenario, int port, bool reference = false) {
    const Plan plan = plan_of(scenario);
    auto probe = start_probe(scenario, port, port + 10, reference);
    std::vector<std::unique_ptr<BackgroundCommand>> clients;
    [&] {
      ASSERT_NO_FATAL_FAILURE(await(*probe, "READY"));
      for (int i = 0; i < plan.at_ready; ++i) clients.push_back(peer_client(port, plan.delay_ms));
      if (plan.at_next) {
        ASSERT_NO_FATAL_FAILURE(await(*probe, "NEXT"));
        clients.push_back(peer_client(port));
      }
    }();
    std::vector<BackgroundCommand*> raw;
    for (const auto& c : clients) raw.push_back(c.get());
    expect_passed(*probe, scenario, raw);
    return probe->output();
  }

  static Sandbox* sb_;
  static CommandResult* up_;
};

Sandbox* PreloadShim::sb_ = nullptr;
CommandResult* PreloadShim::up_ = nullptr;

// 1. Accepted stack connections are small kernel descriptor numbers (the lowest free one, as the
// kernel's accept gives), sockets to fstat, with the right names; O_NONBLOCK and FD_CLOEXEC as
// set by accept4, fcntl and ioctl(FIONBIO); dup/dup2/F_DUPFD_CLOEXEC read the same stream and a
// connection lives until its last descriptor closes.
TEST_F(PreloadShim, FdBookkeeping_SmallNumbersFlagsNamesAndDups) {
  const std::string out = run_served("fd", kPortFd);
  EXPECT_NE(out.find("accepted a stack connection"), std::string::npos) << out;
}

// 2. One epoll set with a stack listener, a stack connection, a pipe, an eventfd and a socketpair:
// each reported with its own data and events; EPOLLET once per arrival; EPOLLONESHOT; EPOLLRDHUP;
// an idle timed wait costs no CPU; a signal interrupts the wait with EINTR.
TEST_F(PreloadShim, Epoll_MixedSet_EventsDataTimeoutsAndSignals) {
  run_served("epoll", kPortEpoll);
}

// 3. poll() and select() with a stack connection (and listener) and a pipe together.
TEST_F(PreloadShim, PollAndSelect_StackConnectionAndPipe) {
  run_served("poll", kPortPoll);
}

// 4. Blocking accept and read wait (and a signal interrupts them); SO_RCVTIMEO; MSG_PEEK,
// MSG_WAITALL, FIONREAD; TCP_INFO; TCP_NODELAY; options the stack lacks say ENOPROTOOPT.
TEST_F(PreloadShim, Blocking_CallsFlagsAndOptions) {
  run_served("blocking", kPortBlocking);
}

// 5. fork: a child closes the inherited listener and connection and exits through exit(); another
// gets EBADF from the inherited connection; the parent's connection and listener keep working.
TEST_F(PreloadShim, Fork_ChildrenLeaveTheParentsSocketsAlone) {
  const std::string out = run_served("fork", kPortFork);
  EXPECT_NE(out.find("atexit ran"), std::string::npos) << out;
}

// 6. A wildcard listener serves the peer over the stack and 127.0.0.1 over the kernel; a listener
// bound to 127.0.0.1 is the kernel's alone: the library does not take it (log), the stack has no
// steering rule for its port, and the peer's connection to that port on the served address is
// refused by the kernel.
TEST_F(PreloadShim, Loopback_StaysWithTheKernel) {
  auto probe = start_probe("loopback", kPortLoopback, kPortLoopback2);
  ASSERT_NO_FATAL_FAILURE(await(*probe, "READY"));
  const std::string steer_list = bin_path("xdptcp-ctl") + " steer list --iface " + sb().iface();
  const CommandResult rules = run(steer_list);  // the wildcard listener's port is steered
  EXPECT_TRUE(rules.ok()) << rules.output;
  EXPECT_NE(rules.output.find("port " + std::to_string(kPortLoopback) + " "), std::string::npos)
      << rules.output;
  auto from_peer = peer_client(kPortLoopback);
  auto from_lo = loopback_client(kPortLoopback);
  ASSERT_NO_FATAL_FAILURE(await(*probe, "NEXT"));
  const CommandResult rules2 = run(steer_list);  // the 127.0.0.1 listener's is not
  EXPECT_TRUE(rules2.ok()) << rules2.output;
  EXPECT_EQ(rules2.output.find(std::to_string(kPortLoopback2)), std::string::npos) << rules2.output;
  const CommandResult refused = tcp_request_from(sb().peer_ns(), sb().stack_ip4(), kPortLoopback2, "x", 3.0);
  EXPECT_FALSE(refused.ok()) << refused.output;
  EXPECT_NE(refused.output.find("refused"), std::string::npos) << refused.output;
  auto lo2 = loopback_client(kPortLoopback2);
  expect_passed(*probe, "loopback", {from_peer.get(), from_lo.get(), lo2.get()});
  const std::string out = probe->output();
  EXPECT_NE(out.find("listening on " + at("0.0.0.0", kPortLoopback) + " on the stack"), std::string::npos)
      << out;
  EXPECT_EQ(out.find(at("127.0.0.1", kPortLoopback2)), std::string::npos)
      << "the library took the 127.0.0.1 listener:\n"
      << out;
}

// 7. connect() to the peer goes over the stack (blocking and non-blocking) and echoes through a
// kernel socat server; connect() to 127.0.0.1 stays with the kernel.
TEST_F(PreloadShim, ActiveOpen_ThroughTheStackAndLoopbackThroughTheKernel) {
  BackgroundCommand peer_echo(in_netns(
      sb().peer_ns(), "exec timeout --foreground 60 socat TCP4-LISTEN:" + std::to_string(kPortConnect) +
                          ",bind=" + sb().peer_ip4() + ",reuseaddr,fork EXEC:cat"));
  BackgroundCommand local_echo("exec timeout --foreground 60 socat TCP4-LISTEN:" +
                               std::to_string(kPortConnect2) + ",bind=127.0.0.1,reuseaddr,fork EXEC:cat");
  auto listening = [](const std::string& prefix, int port) {
    return wait_until(
        [&] {
          return run(prefix + "ss -Hltn 'sport = :" + std::to_string(port) + "' | grep -q LISTEN").ok();
        },
        10s, 50ms);
  };
  ASSERT_TRUE(listening("ip netns exec " + sb().peer_ns() + " ", kPortConnect)) << peer_echo.output();
  ASSERT_TRUE(listening("", kPortConnect2)) << local_echo.output();
  auto probe = start_probe("connect", kPortConnect, kPortConnect2);
  expect_passed(*probe, "connect", {});
  const std::string out = probe->output();
  EXPECT_NE(out.find("connecting to " + at(sb().peer_ip4(), kPortConnect) + " on the stack"),
            std::string::npos)
      << out;
  EXPECT_EQ(out.find("connecting to 127.0.0.1"), std::string::npos) << out;
}

// 8. The application closes a connection, then the listener that accepted it, and runs on: the
// connection's last data and FIN reach the peer, which sees an orderly end of stream, not a reset.
TEST_F(PreloadShim, CloseOrder_ListenerClosedAfterItsConnection_PeerSeesOrderlyEnd) {
  run_served("close_order", kPortCloseOrder);
}

// The same scenarios on the kernel alone (no preload, the checks that only make sense on the stack
// skipped): what they expect is what Linux does, so a failure above is the library's, not the
// probe's idea of a socket.
TEST_F(PreloadShim, Reference_KernelAlone_ScenariosHold) {
  int port = kPortReference;
  for (const char* scenario : {"fd", "epoll", "poll", "blocking", "fork", "close_order"}) {
    SCOPED_TRACE(scenario);
    run_served(scenario, port++, true);
  }
}

}  // namespace
}  // namespace xdptcp::test
