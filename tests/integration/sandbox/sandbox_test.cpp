// Tests of tools/sandbox.sh: `up` is idempotent and builds what the header of the script promises
// (multi-queue veth, addresses, checksum offloads off, an XDP program on the peer end), `status --env`
// describes it, `down` removes everything and succeeds when nothing is up, and --router gives a routed
// path in both address families. Needs root; uses the sandbox names "sbs" and "sbq", on the first free
// subnet (--subnet auto), and checks the addresses against the subnet the script reports.
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "support/netns/netns_util.h"

namespace xdptcp::test {
namespace {

using namespace std::chrono_literals;

// The prefixes of subnet K, as the header of tools/sandbox.sh defines them.
struct Prefixes {
  std::string l4, r4, l6, r6;  // "198.18.X", "fd00:198:Y"
};
Prefixes prefixes_of(const std::string& k_text) {
  const int k = std::stoi(k_text);
  std::ostringstream l6, r6;
  l6 << "fd00:198:" << std::hex << 0x18 + 2 * k;
  r6 << "fd00:198:" << std::hex << 0x19 + 2 * k;
  return {"198.18." + std::to_string(2 * k), "198.18." + std::to_string(2 * k + 1), l6.str(), r6.str()};
}

class SandboxScript : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!is_root()) GTEST_SKIP() << "needs root: creates network namespaces and veth pairs";
    (void)run(sandbox_script() + " down --name sbs");  // leftovers of an interrupted run
  }
  void TearDown() override {
    if (is_root()) (void)run(sandbox_script() + " down --name sbs");
  }
  static bool netns_exists(const std::string& ns) {
    return run("ip netns list | awk '{print $1}' | grep -qx " + ns).ok();
  }
  static bool link_exists(const std::string& dev) { return run("ip link show dev " + dev).ok(); }
};

TEST_F(SandboxScript, UpTwice_IsIdempotent_AndDownRemovesEverything) {
  Sandbox sb({.name = "sbs", .queues = 2, .router = false, .subnet = -1});
  const CommandResult first = sb.up();
  ASSERT_TRUE(first.ok()) << first.output;
  const CommandResult second = sb.up();
  ASSERT_TRUE(second.ok()) << second.output;
  EXPECT_EQ(second.output.find("rebuilding"), std::string::npos) << "a second identical up must not rebuild";

  EXPECT_EQ(sb.var("SANDBOX_UP"), "1");
  EXPECT_EQ(sb.iface(), "sbs0");
  EXPECT_EQ(sb.peer_ns(), "sbs-peer");
  EXPECT_EQ(sb.var("QUEUES"), "2");
  ASSERT_FALSE(sb.var("SANDBOX_SUBNET").empty());
  const Prefixes p = prefixes_of(sb.var("SANDBOX_SUBNET"));
  EXPECT_EQ(sb.stack_ip4(), p.l4 + ".1");
  EXPECT_EQ(sb.peer_ip4(), p.l4 + ".2");
  EXPECT_EQ(sb.stack_ip6(), p.l6 + "::1");
  EXPECT_EQ(sb.peer_ip6(), p.l6 + "::2");
  EXPECT_EQ(sb.pin_dir(), "/sys/fs/bpf/xdptcp/sbs0");

  // One address of each family on each end, exactly once (replace, not add, on the second up).
  const CommandResult addrs = run("ip -o addr show dev sbs0");
  EXPECT_NE(addrs.output.find("inet " + p.l4 + ".1/24"), std::string::npos) << addrs.output;
  EXPECT_NE(addrs.output.find("inet6 " + p.l6 + "::1/64"), std::string::npos) << addrs.output;
  EXPECT_EQ(run("ip -o -4 addr show dev sbs0 | wc -l").output, "1\n");
  // Both ends have two queues in each direction.
  EXPECT_EQ(run("ls -d /sys/class/net/sbs0/queues/rx-* | wc -l").output, "2\n");
  EXPECT_EQ(sb.in_peer("ls -d /sys/class/net/sbs1/queues/tx-* | wc -l").output, "2\n");

  // Checksum offloads off on both ends (see offloads_off in the script for why).
  for (const std::string& cmd : {std::string("ethtool -k sbs0"), in_netns("sbs-peer", "ethtool -k sbs1")}) {
    const CommandResult k = run(cmd);
    EXPECT_NE(k.output.find("rx-checksumming: off"), std::string::npos) << cmd << "\n" << k.output;
    EXPECT_NE(k.output.find("tx-checksumming: off"), std::string::npos) << cmd << "\n" << k.output;
  }
  // The peer end runs in NAPI mode (XDP program, or GRO as the fallback) so that XDP_TX works.
  const CommandResult peer_link =
      sb.in_peer("ip -d link show dev sbs1; ethtool -k sbs1 | grep generic-receive");
  EXPECT_TRUE(peer_link.output.find("prog/xdp") != std::string::npos ||
              peer_link.output.find("generic-receive-offload: on") != std::string::npos)
      << peer_link.output;

  // The link works both ways, in both families, from the first packet (no DAD delay).
  EXPECT_TRUE(sb.in_peer("ping -c 1 -W 2 " + sb.stack_ip4()).ok());
  EXPECT_TRUE(sb.in_peer("ping -6 -c 1 -W 2 " + sb.stack_ip6()).ok());
  EXPECT_TRUE(run("ping -c 1 -W 2 " + sb.peer_ip4()).ok());

  const CommandResult st = sb.status();
  ASSERT_TRUE(st.ok()) << st.output;
  EXPECT_NE(st.output.find("sbs0"), std::string::npos) << st.output;
  EXPECT_NE(st.output.find("netns sbs-peer"), std::string::npos) << st.output;

  const CommandResult down = sb.down();
  ASSERT_TRUE(down.ok()) << down.output;
  EXPECT_FALSE(link_exists("sbs0"));
  EXPECT_FALSE(netns_exists("sbs-peer"));
  const CommandResult env = sb.status_env();
  ASSERT_TRUE(env.ok()) << env.output;
  EXPECT_EQ(sb.var("SANDBOX_UP"), "0");

  const CommandResult again = sb.down();
  EXPECT_TRUE(again.ok()) << "down with nothing up must succeed: " << again.output;
}

TEST_F(SandboxScript, Router_RoutesBothFamiliesThroughTheRouterNamespace) {
  Sandbox sb({.name = "sbs", .queues = 2, .router = true, .subnet = -1});
  const CommandResult up = sb.up();
  ASSERT_TRUE(up.ok()) << up.output;
  EXPECT_EQ(sb.var("SANDBOX_ROUTER"), "1");
  EXPECT_EQ(sb.var("ROUTER_NS"), "sbs-rtr");
  const Prefixes p = prefixes_of(sb.var("SANDBOX_SUBNET"));
  EXPECT_EQ(sb.stack_ip4(), p.l4 + ".1");
  EXPECT_EQ(sb.peer_ip4(), p.r4 + ".2");
  EXPECT_EQ(sb.var("GATEWAY_IP4"), p.l4 + ".254");
  EXPECT_EQ(sb.peer_ip6(), p.r6 + "::2");
  EXPECT_EQ(sb.var("GATEWAY_IP6"), p.l6 + "::fe");

  // TTL 63: one router hop.
  const CommandResult p4 = run("ping -c 2 -W 2 " + sb.peer_ip4());
  EXPECT_TRUE(p4.ok()) << p4.output;
  EXPECT_NE(p4.output.find("ttl=63"), std::string::npos) << p4.output;
  const CommandResult p6 = run("ping -6 -c 2 -W 2 " + sb.peer_ip6());
  EXPECT_TRUE(p6.ok()) << p6.output;
  EXPECT_NE(p6.output.find("ttl=63"), std::string::npos) << p6.output;
  EXPECT_TRUE(sb.in_peer("ping -c 1 -W 2 " + sb.stack_ip4()).ok());

  // Switching back to the direct topology rebuilds: the router namespace goes away.
  Sandbox direct({.name = "sbs", .queues = 2, .router = false, .subnet = -1});
  const CommandResult d = direct.up();
  ASSERT_TRUE(d.ok()) << d.output;
  EXPECT_NE(d.output.find("rebuilding"), std::string::npos) << d.output;
  EXPECT_FALSE(netns_exists("sbs-rtr"));
  EXPECT_TRUE(direct.in_peer("ping -c 1 -W 2 " + direct.stack_ip4()).ok());
  ASSERT_TRUE(direct.down().ok());
  EXPECT_FALSE(netns_exists("sbs-peer"));
}

TEST_F(SandboxScript, SecondSandboxOnTheSamePrefix_IsRefusedAndCreatesNothing) {
  Sandbox sb({.name = "sbs", .queues = 2, .router = false, .subnet = -1});
  ASSERT_TRUE(sb.up().ok());
  const CommandResult clash = run(sandbox_script() + " up --name sbq --subnet " + sb.var("SANDBOX_SUBNET"));
  EXPECT_FALSE(clash.ok()) << clash.output;
  EXPECT_NE(clash.output.find("choose another --subnet"), std::string::npos) << clash.output;
  EXPECT_FALSE(link_exists("sbq0"));
  EXPECT_FALSE(netns_exists("sbq-peer"));
  (void)run(sandbox_script() + " down --name sbq");
}

// As nobody, from a readable copy of the script: the checkout itself may be private (a clone under
// `mktemp -d`), and what is tested is the script's own refusal, not the checkout's permissions.
TEST_F(SandboxScript, NotRoot_UpFailsWithAClearMessage) {
  const ReadableCopy script(sandbox_script());
  ASSERT_TRUE(script.ok()) << script.error();
  const CommandResult r = run(as_nobody(script.path() + " up --name sbq"));
  EXPECT_FALSE(r.ok()) << r.output;
  EXPECT_NE(r.output.find("needs root"), std::string::npos) << r.output;
  EXPECT_FALSE(link_exists("sbq0"));
}

}  // namespace
}  // namespace xdptcp::test
