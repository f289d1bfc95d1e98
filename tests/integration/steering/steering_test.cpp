// Steering end to end on the real kernel (design brief §2 and §4): xdptcp-ctl attaches the XDP program
// to the sandbox's veth and steers one TCP port; xsk-probe's AF_XDP sockets receive the SYNs of that
// port while, at the same time, ping and a kernel TCP service on another port keep working (everything
// that is not ours passes to the kernel). When the probe exits its sockets leave the XSKMAP and the
// port falls back to the kernel: RST ("connection refused") at once, or a kernel listener answers.
// The counters moved, and detach leaves no program on the interface and nothing pinned.
//
// Needs root and the built xdptcp-ctl and xsk-probe (<build>/bin). Sandbox "sbt" on the first free
// subnet (sandbox.sh --subnet auto).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>

#include "support/netns/kernel_tcp_server.h"
#include "support/netns/netns_util.h"

namespace xdptcp::test {
namespace {

using namespace std::chrono_literals;

constexpr int kSteeredPort = 7777;
constexpr int kKernelPort = 7778;

struct ProbeCounts {
  long frames = -1;
  long syns = -1;
};

// "total: N frames (TCP SYN to port P: M)" from xsk-probe's output.
ProbeCounts parse_probe_total(const std::string& out) {
  static const std::regex re(R"(total: (\d+) frames \(TCP SYN to port \d+: (\d+)\))");
  std::smatch m;
  ProbeCounts c;
  if (std::regex_search(out, m, re)) {
    c.frames = std::stol(m[1].str());
    c.syns = std::stol(m[2].str());
  }
  return c;
}

class Steering : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!is_root()) GTEST_SKIP() << "needs root: network namespaces, XDP and AF_XDP";
    for (const char* exe : {"xdptcp-ctl", "xsk-probe"}) {
      if (!std::filesystem::exists(bin_path(exe))) GTEST_SKIP() << bin_path(exe) << " is not built";
    }
    const CommandResult up = sb_.up();
    ASSERT_TRUE(up.ok()) << up.output;
    (void)ctl("detach --iface " + sb_.iface());  // leftovers of an interrupted run
  }
  void TearDown() override {
    if (!sb_.iface().empty()) (void)ctl("detach --iface " + sb_.iface());
  }

  static CommandResult ctl(const std::string& args) { return run(bin_path("xdptcp-ctl") + " " + args); }

  std::string probe_command() const {
    // --seconds bounds the probe's life should the test die before stopping it; exec, so that the
    // signal of stop() and the exit status are the probe's, not the shell's.
    return "exec " + bin_path("xsk-probe") + " --iface " + sb_.iface() + " --port " +
           std::to_string(kSteeredPort) + " --seconds 60";
  }

  // Attach and steer kSteeredPort (both families: no --ip).
  void attach_and_steer() {
    const CommandResult a = ctl("attach --iface " + sb_.iface());
    ASSERT_TRUE(a.ok()) << a.output;
    const CommandResult s =
        ctl("steer add --iface " + sb_.iface() + " --port " + std::to_string(kSteeredPort));
    ASSERT_TRUE(s.ok()) << s.output;
  }

  // While the probe holds the queues, a connect to the steered port gets no answer at all (its SYNs are
  // redirected, so the kernel never sees them to send a RST), while ping and the kernel's service on
  // another port answer. Returns the probe's counts after it has stopped.
  ProbeCounts steered_while_kernel_serves(const std::string& stack_ip, const std::string& ping_flags) {
    auto server = KernelTcpServer::start(stack_ip, kKernelPort, "kernel:");
    EXPECT_TRUE(server.ok()) << (server.ok() ? "" : server.error().describe());
    if (!server.ok()) return {};

    BackgroundCommand probe(probe_command());
    EXPECT_TRUE(probe.wait_for_output("ready", 10s)) << probe.output();

    // All at the same time: the steered connect runs in the background for 2 s while ping and the
    // kernel request run.
    const bool v6 = stack_ip.find(':') != std::string::npos;
    const std::string target = v6 ? "TCP6:[" + stack_ip + "]:" : "TCP4:" + stack_ip + ":";
    BackgroundCommand steered(
        in_netns(sb_.peer_ns(),
                 "echo hi | socat -T 2 - " + target + std::to_string(kSteeredPort) + ",connect-timeout=2"));
    const CommandResult ping = sb_.in_peer("ping " + ping_flags + " -c 3 -i 0.2 -W 2 " + stack_ip);
    EXPECT_TRUE(ping.ok()) << "ping must still reach the kernel while a port is steered:\n" << ping.output;
    const CommandResult kernel = tcp_request_from(sb_.peer_ns(), stack_ip, kKernelPort, "hello", 3.0);
    EXPECT_TRUE(kernel.ok()) << kernel.output;
    EXPECT_NE(kernel.output.find("kernel:hello"), std::string::npos)
        << "the kernel's own TCP service must keep working:\n"
        << kernel.output;
    EXPECT_GE(server.value()->served(), 1u);

    const int steered_rc = steered.wait(6s);
    EXPECT_NE(steered_rc, 0) << "the steered connect cannot succeed: nobody answers in the probe";
    EXPECT_EQ(steered.output().find("refused"), std::string::npos)
        << "the kernel must not have seen the steered SYN (it would have answered with RST):\n"
        << steered.output();

    EXPECT_EQ(probe.stop(SIGTERM, 5s), 0) << probe.output();
    const ProbeCounts c = parse_probe_total(probe.output());
    EXPECT_GT(c.syns, 0) << "the SYNs to the steered port must reach the AF_XDP sockets:\n" << probe.output();
    // Only the steered flow is redirected: ARP/ND, ICMP and the kernel's port all passed.
    EXPECT_EQ(c.frames, c.syns) << probe.output();
    return c;
  }

  // Without the probe the program has no socket for the queue and passes the flow: the kernel answers
  // the SYN with RST at once, and serves it when it has a listener of its own.
  void falls_back_to_kernel(const std::string& stack_ip) {
    const auto t0 = std::chrono::steady_clock::now();
    const CommandResult refused = tcp_request_from(sb_.peer_ns(), stack_ip, kSteeredPort, "hello", 3.0);
    const auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_FALSE(refused.ok()) << refused.output;
    EXPECT_NE(refused.output.find("refused"), std::string::npos) << refused.output;
    EXPECT_LT(took, 1500ms) << "the RST must come at once, not after SYN retransmissions";

    auto listener = KernelTcpServer::start(stack_ip, kSteeredPort, "fallback:");
    ASSERT_TRUE(listener.ok()) << listener.error().describe();
    const CommandResult served = tcp_request_from(sb_.peer_ns(), stack_ip, kSteeredPort, "again", 3.0);
    EXPECT_TRUE(served.ok()) << served.output;
    EXPECT_NE(served.output.find("fallback:again"), std::string::npos) << served.output;
  }

  nlohmann::json stats() {
    const CommandResult s = ctl("stats --iface " + sb_.iface() + " --json");
    EXPECT_TRUE(s.ok()) << s.output;
    return nlohmann::json::parse(s.output, nullptr, /*allow_exceptions=*/false);
  }

  // Detach leaves neither a program on the interface nor anything pinned.
  void detach_leaves_nothing() {
    const CommandResult d = ctl("detach --iface " + sb_.iface());
    EXPECT_TRUE(d.ok()) << d.output;
    const CommandResult link = run("ip -d link show dev " + sb_.iface());
    ASSERT_TRUE(link.ok()) << link.output;
    EXPECT_EQ(link.output.find("xdp"), std::string::npos) << link.output;
    EXPECT_FALSE(std::filesystem::exists(sb_.pin_dir())) << sb_.pin_dir() << " still exists";
  }

  Sandbox sb_{{.name = "sbt", .queues = 2, .router = false, .subnet = -1}};
};

TEST_F(Steering, SteeredPortV4_ReachesProbe_WhileKernelServes_ThenFallsBack) {
  attach_and_steer();
  if (HasFatalFailure()) return;

  const ProbeCounts c = steered_while_kernel_serves(sb_.stack_ip4(), "");
  falls_back_to_kernel(sb_.stack_ip4());

  const nlohmann::json j = stats();
  ASSERT_TRUE(j.contains("counters")) << j.dump();
  const auto& ctr = j["counters"];
  EXPECT_GE(ctr.value("redirected", 0L), c.syns) << j.dump();
  EXPECT_GT(ctr.value("redirected", 0L), 0) << j.dump();
  EXPECT_GT(ctr.value("pass_no_socket", 0L), 0)
      << "the fallback SYNs matched the rule without a socket: " << j.dump();
  EXPECT_GT(ctr.value("pass_not_ours", 0L), 0) << "ping and the kernel's port passed: " << j.dump();

  detach_leaves_nothing();
}

TEST_F(Steering, SteeredPortV6_ReachesProbe_WhileKernelServes_ThenFallsBack) {
  attach_and_steer();
  if (HasFatalFailure()) return;

  steered_while_kernel_serves(sb_.stack_ip6(), "-6");
  falls_back_to_kernel(sb_.stack_ip6());
  const nlohmann::json j = stats();
  EXPECT_GT(j["counters"].value("redirected", 0L), 0) << j.dump();

  detach_leaves_nothing();
}

// A killed probe (no clean unregistration) must not blackhole the port: the kernel removes the socket
// from the XSKMAP when it closes (design brief §4, "release is safe even on a crash").
TEST_F(Steering, ProbeKilled_PortFallsBackToKernel) {
  attach_and_steer();
  if (HasFatalFailure()) return;
  {
    BackgroundCommand probe(probe_command());
    ASSERT_TRUE(probe.wait_for_output("ready", 10s)) << probe.output();
    probe.stop(SIGKILL);
  }
  const auto t0 = std::chrono::steady_clock::now();
  const CommandResult refused = tcp_request_from(sb_.peer_ns(), sb_.stack_ip4(), kSteeredPort, "hello", 3.0);
  EXPECT_NE(refused.output.find("refused"), std::string::npos) << refused.output;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1500ms);
  detach_leaves_nothing();
}

}  // namespace
}  // namespace xdptcp::test
