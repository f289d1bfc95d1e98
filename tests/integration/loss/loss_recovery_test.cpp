// Loss recovery against a Linux kernel peer (issue 13 item 4). A kernel sender in the sandbox's peer
// namespace sends through xdptcp-echo while xdptcp-impair duplicates a share of its frames on the way
// to the stack. The stack must report every duplicate it receives with a D-SACK (RFC 2883 §4), and
// Linux counts the D-SACKs it receives (TcpExtTCPDSACKRecv): a stack without D-SACK generation leaves
// that counter at zero. The bytes come back intact. A few seconds; needs root.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "support/netns/netns_util.h"

namespace xdptcp::test {
namespace {

using namespace std::chrono_literals;

constexpr int kPort = 26913;  // the stack reserves it in the root namespace: ours alone

// A kernel TCP counter of namespace `ns` from nstat (absolute), -1 when absent.
long long nstat(const std::string& ns, const std::string& name) {
  const CommandResult r = run(in_netns(ns, "nstat -az " + name));
  if (!r.ok()) return -1;
  const auto at = r.output.find(name);
  if (at == std::string::npos) return -1;
  return std::atoll(r.output.c_str() + at + name.size());
}

TEST(LossRecoveryKernel, DuplicatedFrames_StackSendsDsack_KernelSenderCountsThem) {  // RFC 2883 §4
  if (!is_root()) GTEST_SKIP() << "needs root: network namespaces, XDP, AF_XDP and tc filters";
  for (const char* exe : {"xdptcp-echo", "xdptcp-impair"}) {
    if (!std::filesystem::exists(bin_path(exe))) GTEST_SKIP() << bin_path(exe) << " is not built";
  }
  for (const char* tool : {"socat", "nstat", "sha256sum"}) {
    if (!run(std::string("command -v ") + tool).ok()) GTEST_SKIP() << tool << " is not installed";
  }
  // The router topology: the kernel forwards between the peer and the stack, and the impairment program
  // on the router's ingress duplicates frames there (as tests/integration/impair does).
  Sandbox sb(Sandbox::Options{"ls1", 1, true, -1});
  const CommandResult up = sb.up();
  ASSERT_TRUE(up.ok()) << up.output;
  const std::string rtr = sb.var("ROUTER_NS");
  ASSERT_FALSE(rtr.empty()) << sb.status().output;
  const std::string impair = bin_path("xdptcp-impair");
  // 10 % of the TCP frames each way go twice.
  for (const char* dev : {"r0", "r1"}) {
    const CommandResult t =
        run(in_netns(rtr, impair + " tc --iface " + dev + " --hook ingress --dup 10 --seed 3"));
    ASSERT_TRUE(t.ok()) << t.output;
  }

  BackgroundCommand echo("exec " + bin_path("xdptcp-echo") + " --iface " + sb.iface() + " --port " +
                         std::to_string(kPort) + " --stats-on-exit");
  ASSERT_TRUE(echo.wait_for_output("listening", 15s)) << echo.output();
  ASSERT_TRUE(wait_until(
      [&] {
        return sb
            .in_peer("socat -u /dev/null TCP4:" + sb.stack_ip4() + ":" + std::to_string(kPort) +
                     ",connect-timeout=1")
            .ok();
      },
      10s))
      << echo.output();

  char tmpl[] = "/tmp/xdptcp-loss-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  const std::string in = dir + "/in", out = dir + "/out";
  ASSERT_TRUE(run("head -c 2M /dev/urandom > " + in).ok());

  const long long before = nstat(sb.peer_ns(), "TcpExtTCPDSACKRecv");
  ASSERT_GE(before, 0) << "nstat has no TcpExtTCPDSACKRecv";
  const CommandResult r = sb.in_peer("timeout 30 socat -t 30 -b 65536 - TCP4:" + sb.stack_ip4() + ":" +
                                     std::to_string(kPort) + ",shut-down < " + in + " > " + out);
  EXPECT_TRUE(r.ok()) << r.output;
  EXPECT_EQ(run("cmp -s " + in + " " + out).exit_code, 0) << "the echo differs from what was sent";
  const long long dsacks = nstat(sb.peer_ns(), "TcpExtTCPDSACKRecv") - before;
  std::string counters;
  for (const char* dev : {"r0", "r1"})
    counters += run(in_netns(rtr, impair + " stats --iface " + dev + " --hook ingress")).output;
  EXPECT_GT(dsacks, 0) << "Linux received no D-SACK for the duplicates\n" << counters;
  std::printf("D-SACKs Linux received: %lld; impairment counters:\n%s", dsacks, counters.c_str());

  EXPECT_EQ(echo.stop(), 0) << echo.output();
  (void)run("rm -rf " + shell_quote(dir));
}

}  // namespace
}  // namespace xdptcp::test
