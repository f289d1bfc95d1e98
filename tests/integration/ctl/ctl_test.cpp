// xdptcp-ctl end to end on veth pairs of its own (ctlit0/ctlit1): attach, status, attach again (exit 4),
// steer add/list/del, rules and queues of several owning processes, a draining rule and its counter,
// stats --json, detach leaving nothing
// attached or pinned, stale pins, unknown interfaces (exit 3), missing native XDP (exit 3 / fallback), and
// another XDP program on the same hook. Needs root; skips otherwise. See docs/xdptcp-ctl.md for the exit
// codes checked here.
#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "bpf/test_frames.h"
#include "support/netns/netns_util.h"
#include "userstack/kernel/steer_rules.h"
#include "userstack/kernel/xdp_attach.h"
#include "xdptcp/steer_abi.h"

namespace xdptcp::test {
namespace {

using nlohmann::json;

constexpr const char* kIf = "ctlit0";
constexpr const char* kPeer = "ctlit1";
constexpr const char* kPinRoot = "/sys/fs/bpf/xdptcp";

std::string ctl() {
  return std::string(XDPTCP_BIN_DIR) + "/xdptcp-ctl";
}

CommandResult ctl(const std::string& args) {
  return run(ctl() + " " + args + " 2>&1");
}

bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// Whether `ip link` shows an XDP program on `iface`.
bool has_xdp(const std::string& iface) {
  CommandResult r = run("ip link show dev " + iface);
  return r.ok() && r.output.find("prog/xdp") != std::string::npos;
}

json parse_json(const CommandResult& r) {
  json j = json::parse(r.output, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(j.is_discarded()) << "not JSON: " << r.output;
  return j;
}

class CtlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!is_root()) GTEST_SKIP() << "needs root: creates veth pairs and attaches XDP programs";
    if (!exists(ctl())) GTEST_SKIP() << "xdptcp-ctl not built at " << ctl();
    cleanup();
    CommandResult r =
        run(std::string("ip link add ") + kIf + " numrxqueues 2 numtxqueues 2 type veth peer name " + kPeer +
            " numrxqueues 2 numtxqueues 2 && ip link set " + kIf + " up && ip link set " + kPeer + " up");
    ASSERT_TRUE(r.ok()) << r.output;
  }
  void TearDown() override {
    if (is_root()) cleanup();
  }
  static void cleanup() {
    for (const char* i : {kIf, "ctlitb0"}) {
      (void)run(ctl() + " detach --iface " + i + " >/dev/null 2>&1");
      (void)run(std::string("ip link del ") + i + " >/dev/null 2>&1");
      (void)run(std::string("rm -rf ") + kPinRoot + "/" + i);
    }
  }
  static std::string pin_dir() { return std::string(kPinRoot) + "/" + kIf; }
};

TEST_F(CtlTest, AttachStatusDetach_LeavesNothingBehind) {
  CommandResult a = ctl(std::string("attach --iface ") + kIf);
  ASSERT_EQ(a.exit_code, 0) << a.output;
  EXPECT_NE(a.output.find("attached xdptcp_steer to ctlit0"), std::string::npos) << a.output;
  EXPECT_TRUE(has_xdp(kIf));
  for (const char* map : {"xdptcp_ports", "xdptcp_rules", "xdptcp_xsks", "xdptcp_sockets", "xdptcp_counters",
                          "xdptcp_kernel_flows", "xdptcp_config", "xdptcp_stack_flows"}) {
    EXPECT_TRUE(exists(pin_dir() + "/" + map)) << map;
  }

  CommandResult s = ctl(std::string("status --json --iface ") + kIf);
  ASSERT_EQ(s.exit_code, 0) << s.output;
  json st = parse_json(s);
  EXPECT_EQ(st["iface"], kIf);
  EXPECT_EQ(st["attached"], true);
  EXPECT_EQ(st["pinned"], true);
  EXPECT_EQ(st["stale"], false);
  EXPECT_EQ(st["mode"], "native");  // veth has native XDP; auto takes it
  EXPECT_EQ(st["rx_queues"], 2);
  EXPECT_EQ(st["driver"], "veth");
  EXPECT_GT(st["prog_id"].get<int>(), 0);

  // Text status, and status of every attached interface.
  CommandResult text = ctl(std::string("status --iface ") + kIf);
  EXPECT_EQ(text.exit_code, 0);
  EXPECT_NE(text.output.find("ctlit0: attached, native mode"), std::string::npos) << text.output;
  CommandResult all = ctl("status --json");
  ASSERT_EQ(all.exit_code, 0) << all.output;
  json arr = parse_json(all);
  ASSERT_TRUE(arr.is_array());
  bool found = false;
  for (const auto& e : arr) found = found || e["iface"] == kIf;
  EXPECT_TRUE(found) << all.output;

  CommandResult again = ctl(std::string("attach --iface ") + kIf);
  EXPECT_EQ(again.exit_code, 4) << again.output;
  EXPECT_NE(again.output.find("already attached"), std::string::npos) << again.output;

  CommandResult d = ctl(std::string("detach --iface ") + kIf);
  ASSERT_EQ(d.exit_code, 0) << d.output;
  EXPECT_FALSE(has_xdp(kIf));
  EXPECT_FALSE(exists(pin_dir()));

  CommandResult d2 = ctl(std::string("detach --iface ") + kIf);
  EXPECT_EQ(d2.exit_code, 4) << d2.output;
  EXPECT_NE(d2.output.find("not attached"), std::string::npos) << d2.output;
  CommandResult s2 = ctl(std::string("status --json --iface ") + kIf);
  ASSERT_EQ(s2.exit_code, 0) << s2.output;
  EXPECT_EQ(parse_json(s2)["attached"], false);
}

TEST_F(CtlTest, GenericMode_Requested_Obtained) {
  CommandResult a = ctl(std::string("attach --mode generic --iface ") + kIf);
  ASSERT_EQ(a.exit_code, 0) << a.output;
  EXPECT_NE(run(std::string("ip link show dev ") + kIf).output.find("xdpgeneric"), std::string::npos);
  EXPECT_EQ(parse_json(ctl(std::string("status --json --iface ") + kIf))["mode"], "generic");
  EXPECT_EQ(ctl(std::string("detach --iface ") + kIf).exit_code, 0);
  EXPECT_FALSE(has_xdp(kIf));
}

TEST_F(CtlTest, Steer_AddListDelAndStats) {
  ASSERT_EQ(ctl(std::string("attach --iface ") + kIf).exit_code, 0);
  const std::string on = std::string(" --iface ") + kIf;

  CommandResult add = ctl("steer add --port 80" + on);
  ASSERT_EQ(add.exit_code, 0) << add.output;
  json rules = parse_json(ctl("steer list --json" + on))["rules"];
  ASSERT_EQ(rules.size(), 2u) << rules.dump();  // no --ip: any IPv4 and any IPv6 address
  EXPECT_EQ(rules[0]["family"], "ipv4");
  EXPECT_EQ(rules[1]["family"], "ipv6");
  for (const auto& r : rules) {
    EXPECT_EQ(r["addr"], "any");
    EXPECT_EQ(r["port_lo"], 80);
    EXPECT_EQ(r["port_hi"], 80);
    EXPECT_EQ(r["owner_pid"], 0);
    EXPECT_EQ(r["owner_state"], "permanent");
    EXPECT_EQ(r["owner_comm"], "");
    EXPECT_EQ(r["draining"], false);
  }

  CommandResult dup = ctl("steer add --port 80" + on);
  EXPECT_EQ(dup.exit_code, 4) << dup.output;
  EXPECT_EQ(parse_json(ctl("steer list --json" + on))["rules"].size(), 2u) << "a failed add changed nothing";

  ASSERT_EQ(ctl("steer add --port 8000-8010 --ip 198.18.0.1" + on).exit_code, 0);
  ASSERT_EQ(ctl("steer add --port 443 --ip fd00::1" + on).exit_code, 0);
  rules = parse_json(ctl("steer list --json" + on))["rules"];
  ASSERT_EQ(rules.size(), 4u) << rules.dump();
  CommandResult text = ctl("steer list" + on);
  EXPECT_NE(text.output.find("ipv4 198.18.0.1 port 8000-8010 (permanent)"), std::string::npos) << text.output;
  EXPECT_NE(text.output.find("ipv6 fd00::1 port 443"), std::string::npos) << text.output;

  CommandResult bad = ctl("steer add --port 70000" + on);
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.output.find("--port: '70000' is not a port (1-65535)"), std::string::npos) << bad.output;
  CommandResult bad_ip = ctl("steer add --port 80 --ip 198.18.0.300" + on);
  EXPECT_EQ(bad_ip.exit_code, 1);
  EXPECT_NE(bad_ip.output.find("--ip: '198.18.0.300'"), std::string::npos) << bad_ip.output;

  ASSERT_EQ(ctl("steer del --port 80" + on).exit_code, 0);
  EXPECT_EQ(ctl("steer del --port 80" + on).exit_code, 4);
  EXPECT_EQ(ctl("steer del --port 8000-8010 --ip 198.18.0.2" + on).exit_code, 4);
  ASSERT_EQ(ctl("steer del --port 8000-8010 --ip 198.18.0.1" + on).exit_code, 0);
  rules = parse_json(ctl("steer list --json" + on))["rules"];
  ASSERT_EQ(rules.size(), 1u) << rules.dump();
  EXPECT_EQ(rules[0]["addr"], "fd00::1");

  // Traffic through the program shows in the counters: frames sent by the peer arrive on ctlit0.
  ASSERT_TRUE(run(std::string("ip addr add 198.18.250.1/30 dev ") + kPeer).ok());
  (void)run("ping -c 1 -W 1 198.18.250.2 >/dev/null 2>&1");  // ARP request for .2 goes out of ctlit1
  CommandResult stats = ctl("stats --json" + on);
  ASSERT_EQ(stats.exit_code, 0) << stats.output;
  json c = parse_json(stats)["counters"];
  for (const char* k : {"seen", "redirected", "pass_not_ours", "pass_no_socket", "malformed",
                        "pass_kernel_flow", "pass_other_owner", "pass_draining"}) {
    EXPECT_TRUE(c.contains(k)) << k;
  }
  EXPECT_GT(c["seen"].get<long>(), 0) << "the peer's ARP request should have been seen";
  EXPECT_EQ(c["redirected"], 0);
  CommandResult stats_text = ctl("stats" + on);
  EXPECT_NE(stats_text.output.find("pass_not_ours"), std::string::npos);
  EXPECT_NE(stats_text.output.find("pass_other_owner"), std::string::npos) << stats_text.output;
  EXPECT_NE(stats_text.output.find("pass_draining"), std::string::npos) << stats_text.output;

  EXPECT_EQ(ctl(std::string("detach --iface ") + kIf).exit_code, 0);
}

// This process's command name as /proc shows it (truncated to 15 characters by the kernel).
std::string own_comm() {
  std::ifstream in("/proc/self/comm");
  std::string comm;
  std::getline(in, comm);
  return comm;
}

// A pid that named a process a moment ago and names none now (a reaped child).
std::uint32_t dead_pid() {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return static_cast<std::uint32_t>(pid);
}

// Several processes on one interface: rules and queues of this process (alive) and of a dead one,
// installed as a stack installs them, and a permanent rule of xdptcp-ctl. status and steer list name
// each owner (pid and command, "dead", or "permanent"); steer del removes only the permanent rule.
TEST_F(CtlTest, Owners_StatusAndSteerListNameEachProcess) {
  ASSERT_EQ(ctl(std::string("attach --iface ") + kIf).exit_code, 0);
  const std::string on = std::string(" --iface ") + kIf;
  const auto me = static_cast<std::uint32_t>(::getpid());
  const std::uint32_t dead = dead_pid();
  const std::string comm = own_comm();
  ASSERT_FALSE(comm.empty());
  {
    auto maps = kernel::open_pinned(kIf);
    ASSERT_TRUE(maps.ok()) << maps.error().describe();
    kernel::SteerRule rule;
    rule.family = wire::IpFamily::kV4;
    rule.any_addr = true;
    rule.addr.family = wire::IpFamily::kV4;
    rule.port_lo = 9000;
    rule.port_hi = 9009;
    for (std::uint32_t pid : {me, dead}) {  // one match, two owners
      rule.owner_pid = pid;
      auto r = kernel::add_rule(maps->fds(), rule);
      ASSERT_TRUE(r.ok()) << r.error().describe();
    }
    for (auto [queue, pid] : {std::pair{0u, me}, std::pair{1u, dead}}) {
      xdptcp_socket_info info{};
      info.owner_pid = pid;
      info.registered_ns = 1;
      ASSERT_EQ(bpf_map_update_elem(maps->fds().sockets, &queue, &info, BPF_ANY), 0);
    }
  }
  const std::string mine = "(pid " + std::to_string(me) + " " + comm + ")";
  const std::string deads = "(pid " + std::to_string(dead) + " dead)";

  json rules = parse_json(ctl("steer list --json" + on))["rules"];
  ASSERT_EQ(rules.size(), 2u) << rules.dump();
  EXPECT_EQ(rules[0]["owner_pid"], me);
  EXPECT_EQ(rules[0]["owner_state"], "alive");
  EXPECT_EQ(rules[0]["owner_comm"], comm);
  EXPECT_EQ(rules[1]["owner_pid"], dead);
  EXPECT_EQ(rules[1]["owner_state"], "dead");
  EXPECT_EQ(rules[1]["owner_comm"], "");
  const CommandResult list = ctl("steer list" + on);
  EXPECT_NE(list.output.find("ipv4 any port 9000-9009 " + mine), std::string::npos) << list.output;
  EXPECT_NE(list.output.find("ipv4 any port 9000-9009 " + deads), std::string::npos) << list.output;

  json st = parse_json(ctl("status --json" + on));
  EXPECT_EQ(st["rules"], rules);
  json sockets = st["sockets"];
  ASSERT_EQ(sockets.size(), 2u) << sockets.dump();
  EXPECT_EQ(sockets[0]["queue"], 0);
  EXPECT_EQ(sockets[0]["owner_pid"], me);
  EXPECT_EQ(sockets[0]["owner_state"], "alive");
  EXPECT_EQ(sockets[0]["owner_comm"], comm);
  EXPECT_EQ(sockets[0]["owner_alive"], true);
  EXPECT_EQ(sockets[1]["queue"], 1);
  EXPECT_EQ(sockets[1]["owner_state"], "dead");
  EXPECT_EQ(sockets[1]["owner_alive"], false);
  const CommandResult text = ctl("status" + on);
  EXPECT_NE(text.output.find("queue 0: pid " + std::to_string(me) + " " + comm + "\n"), std::string::npos)
      << text.output;
  EXPECT_NE(text.output.find("queue 1: pid " + std::to_string(dead) + " dead"), std::string::npos)
      << text.output;
  EXPECT_NE(text.output.find(mine), std::string::npos) << text.output;

  // steer del removes permanent rules only; with none, it names the processes whose rules match.
  CommandResult del = ctl("steer del --port 9000-9009 --ip 0.0.0.0" + on);
  EXPECT_EQ(del.exit_code, 4) << del.output;
  EXPECT_NE(del.output.find("pid " + std::to_string(me) + " " + comm), std::string::npos) << del.output;
  EXPECT_EQ(parse_json(ctl("steer list --json" + on))["rules"].size(), 2u);

  // A permanent rule joins the process's (steer add first prunes the dead process's rule), and
  // steer del then takes the permanent one only.
  CommandResult add = ctl("steer add --port 9000-9009 --ip 0.0.0.0" + on);
  ASSERT_EQ(add.exit_code, 0) << add.output;
  EXPECT_NE(add.output.find("removed 1 rule(s) of processes that no longer exist"), std::string::npos)
      << add.output;
  rules = parse_json(ctl("steer list --json" + on))["rules"];
  ASSERT_EQ(rules.size(), 2u) << rules.dump();
  EXPECT_EQ(rules[0]["owner_pid"], me);
  EXPECT_EQ(rules[1]["owner_state"], "permanent");
  ASSERT_EQ(ctl("steer del --port 9000-9009 --ip 0.0.0.0" + on).exit_code, 0);
  rules = parse_json(ctl("steer list --json" + on))["rules"];
  ASSERT_EQ(rules.size(), 1u) << rules.dump();
  EXPECT_EQ(rules[0]["owner_pid"], me);

  EXPECT_EQ(ctl(std::string("detach --iface ") + kIf).exit_code, 0);
}

// Sends `frame` out of `iface`, so that it arrives on the other end of the veth pair.
bool send_frame(const char* iface, const std::vector<std::uint8_t>& frame) {
  const int fd = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_ll to{};
  to.sll_family = AF_PACKET;
  to.sll_ifindex = static_cast<int>(::if_nametoindex(iface));
  to.sll_halen = ETH_ALEN;
  std::copy(frame.begin(), frame.begin() + ETH_ALEN, to.sll_addr);
  const ssize_t n =
      ::sendto(fd, frame.data(), frame.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to);
  ::close(fd);
  return n == static_cast<ssize_t>(frame.size());
}

// A process that closed its listener drains (steer_abi.h, "Draining"): status and steer list say so,
// and the program attached by xdptcp-ctl passes a new connection's SYN to the kernel, counted
// pass_draining, while the connection the process still has is steered.
TEST_F(CtlTest, DrainingRule_ShownAndNewConnectionsCounted) {
  ASSERT_EQ(ctl(std::string("attach --iface ") + kIf).exit_code, 0);
  const std::string on = std::string(" --iface ") + kIf;
  const auto me = static_cast<std::uint32_t>(::getpid());
  const std::string comm = own_comm();
  FrameSpec syn;  // 198.18.0.2:40000 -> 198.18.0.1:9100
  syn.dport = 9100;
  FrameSpec kept = syn;
  kept.sport = 40001;
  kept.tcp_flags = kTcpAck;
  {
    auto maps = kernel::open_pinned(kIf);
    ASSERT_TRUE(maps.ok()) << maps.error().describe();
    ASSERT_GE(maps->fds().stack_flows, 0);
    kernel::SteerRule rule;
    rule.family = wire::IpFamily::kV4;
    rule.any_addr = true;
    rule.addr.family = wire::IpFamily::kV4;
    rule.port_lo = rule.port_hi = 9100;
    rule.owner_pid = me;
    ASSERT_TRUE(kernel::add_rule(maps->fds(), rule).ok());
    wire::FourTuple flow;
    flow.local.ip = wire::IpAddr::v4(kept.dst4[0], kept.dst4[1], kept.dst4[2], kept.dst4[3]);
    flow.remote.ip = wire::IpAddr::v4(kept.src4[0], kept.src4[1], kept.src4[2], kept.src4[3]);
    flow.local.port = kept.dport;
    flow.remote.port = kept.sport;
    ASSERT_TRUE(kernel::add_stack_flow(maps->fds(), flow, me).ok());
    auto r = kernel::set_rule_draining(maps->fds(), rule, true);
    ASSERT_TRUE(r.ok()) << r.error().describe();
    // This process owns both queues (a record without a socket: whichever queue the veth picks, the
    // draining rule applies there; the kept flow then finds no socket).
    for (std::uint32_t queue : {0u, 1u}) {
      xdptcp_socket_info info{};
      info.owner_pid = me;
      info.registered_ns = 1;
      ASSERT_EQ(bpf_map_update_elem(maps->fds().sockets, &queue, &info, BPF_ANY), 0);
    }
  }
  const std::string shown = "ipv4 any port 9100 (pid " + std::to_string(me) + " " + comm + ", draining)";
  EXPECT_NE(ctl("steer list" + on).output.find(shown), std::string::npos) << ctl("steer list" + on).output;
  json rules = parse_json(ctl("steer list --json" + on))["rules"];
  ASSERT_EQ(rules.size(), 1u) << rules.dump();
  EXPECT_EQ(rules[0]["draining"], true);
  EXPECT_EQ(rules[0]["owner_pid"], me);
  const CommandResult text = ctl("status" + on);
  EXPECT_NE(text.output.find(shown), std::string::npos) << text.output;
  EXPECT_NE(text.output.find("pass_draining"), std::string::npos) << text.output;
  EXPECT_EQ(parse_json(ctl("status --json" + on))["rules"], rules);

  ASSERT_TRUE(send_frame(kPeer, build_frame(syn)));
  ASSERT_TRUE(send_frame(kPeer, build_frame(kept)));
  json c;
  EXPECT_TRUE(wait_until(
      [&] {
        c = parse_json(ctl("stats --json" + on))["counters"];
        return c["pass_draining"] == 1 && c["pass_no_socket"] == 1;
      },
      std::chrono::seconds(5)))
      << c.dump();
  const CommandResult stats = ctl("stats" + on);
  EXPECT_NE(stats.output.find("pass_draining    1"), std::string::npos) << stats.output;

  EXPECT_EQ(ctl(std::string("detach --iface ") + kIf).exit_code, 0);
}

TEST_F(CtlTest, NotAttached_RuleAndStatsCommandsExitState) {
  const std::string on = std::string(" --iface ") + kIf;
  for (const std::string& args : {"steer add --port 80" + on, "steer del --port 80" + on, "steer list" + on,
                                  "stats" + on, "detach" + on}) {
    CommandResult r = ctl(args);
    EXPECT_EQ(r.exit_code, 4) << args << ": " << r.output;
    EXPECT_NE(r.output.find("not attached"), std::string::npos) << args << ": " << r.output;
  }
}

TEST_F(CtlTest, UnknownInterface_ExitsThreeNamingIt) {
  for (const std::string& args :
       {std::string("attach --iface ctlnosuch0"), std::string("detach --iface ctlnosuch0"),
        std::string("status --iface ctlnosuch0")}) {
    CommandResult r = ctl(args);
    EXPECT_EQ(r.exit_code, 3) << args << ": " << r.output;
    EXPECT_NE(r.output.find("'ctlnosuch0'"), std::string::npos) << r.output;
  }
}

TEST_F(CtlTest, WithoutPrivileges_ExitsTwoSayingWhatToGrant) {
  if (!run("command -v setpriv >/dev/null").ok()) GTEST_SKIP() << "setpriv (util-linux) not installed";
  // A readable copy of the binary: the build tree may sit in a private directory (a clone under
  // `mktemp -d`) that nobody cannot enter.
  const ReadableCopy bin(ctl());
  ASSERT_TRUE(bin.ok()) << bin.error();
  const CommandResult help = run(as_nobody(bin.path() + " --help"));
  ASSERT_TRUE(help.ok()) << "the unprivileged user cannot run " << bin.path() << ": " << help.output;
  for (const std::string& args :
       {std::string("attach --iface ") + kIf, std::string("detach --iface ") + kIf, std::string("status")}) {
    CommandResult r = run(as_nobody(bin.path() + " " + args));
    EXPECT_EQ(r.exit_code, 2) << args << ": " << r.output;
    EXPECT_NE(r.output.find("run as root or grant CAP_NET_ADMIN,CAP_BPF"), std::string::npos) << r.output;
  }
  EXPECT_FALSE(has_xdp(kIf));
}

TEST_F(CtlTest, ProgramRemovedBehindOurBack_StaleReportedAndCleanedByAttach) {
  ASSERT_EQ(ctl(std::string("attach --iface ") + kIf).exit_code, 0);
  ASSERT_EQ(ctl(std::string("steer add --port 80 --iface ") + kIf).exit_code, 0);
  ASSERT_TRUE(run(std::string("ip link set dev ") + kIf + " xdp off").ok());

  json st = parse_json(ctl(std::string("status --json --iface ") + kIf));
  EXPECT_EQ(st["attached"], false);
  EXPECT_EQ(st["pinned"], true);
  EXPECT_EQ(st["stale"], true);
  EXPECT_NE(ctl(std::string("status --iface ") + kIf).output.find("STALE"), std::string::npos);

  CommandResult add = ctl(std::string("steer add --port 81 --iface ") + kIf);
  EXPECT_EQ(add.exit_code, 4) << add.output;
  EXPECT_NE(add.output.find("stale"), std::string::npos) << add.output;

  CommandResult a = ctl(std::string("attach --iface ") + kIf);
  ASSERT_EQ(a.exit_code, 0) << a.output;
  EXPECT_NE(a.output.find("removed stale pinned maps"), std::string::npos) << a.output;
  st = parse_json(ctl(std::string("status --json --iface ") + kIf));
  EXPECT_EQ(st["stale"], false);
  EXPECT_EQ(st["attached"], true);
  EXPECT_TRUE(st["rules"].empty()) << "fresh maps after re-attaching";

  // Removed again behind our back: detach cleans the pins and succeeds.
  ASSERT_TRUE(run(std::string("ip link set dev ") + kIf + " xdp off").ok());
  CommandResult d = ctl(std::string("detach --iface ") + kIf);
  EXPECT_EQ(d.exit_code, 0) << d.output;
  EXPECT_FALSE(exists(pin_dir()));
}

TEST_F(CtlTest, InterfaceDeleted_StaleThenDetachRemovesPins) {
  ASSERT_EQ(ctl(std::string("attach --iface ") + kIf).exit_code, 0);
  ASSERT_TRUE(run(std::string("ip link del ") + kIf).ok());
  CommandResult s = ctl(std::string("status --json --iface ") + kIf);
  ASSERT_EQ(s.exit_code, 0) << s.output;
  EXPECT_EQ(parse_json(s)["stale"], true);
  CommandResult d = ctl(std::string("detach --iface ") + kIf);
  EXPECT_EQ(d.exit_code, 0) << d.output;
  EXPECT_FALSE(exists(pin_dir()));
}

TEST_F(CtlTest, NoNativeXdp_NativeExitsThreeAutoFallsBackToGeneric) {
  if (!run("ip link add ctlitb0 type ifb && ip link set ctlitb0 up").ok()) {
    GTEST_SKIP() << "cannot create an ifb device (no ifb module): no interface without native XDP to test on";
  }
  CommandResult n = ctl("attach --mode native --iface ctlitb0");
  EXPECT_EQ(n.exit_code, 3) << n.output;
  EXPECT_NE(n.output.find("native mode not supported by ifb, try --mode generic"), std::string::npos)
      << n.output;
  EXPECT_FALSE(has_xdp("ctlitb0"));

  CommandResult a = ctl("attach --iface ctlitb0");
  ASSERT_EQ(a.exit_code, 0) << a.output;
  EXPECT_NE(a.output.find("fell back to generic"), std::string::npos) << a.output;
  EXPECT_EQ(parse_json(ctl("status --json --iface ctlitb0"))["mode"], "generic");
  EXPECT_EQ(ctl("detach --iface ctlitb0").exit_code, 0);
  EXPECT_FALSE(has_xdp("ctlitb0"));
}

// Another XDP program on the same interface. With libxdp's dispatcher both run and detaching ours
// leaves the other; where the kernel refuses the dispatcher's extension programs (libxdp then attaches
// single programs, as on this project's CI machine) attaching must fail with exit 4, name the other
// program, and leave it in place.
TEST_F(CtlTest, OtherXdpProgram_CoexistsOrConflictIsReported) {
  const char* other = "/usr/lib/x86_64-linux-gnu/bpf/xdpfilt_alw_all.o";
  if (!exists(other) || !run("command -v xdp-loader >/dev/null").ok()) {
    GTEST_SKIP() << "xdp-tools (xdp-loader, " << other << ") not installed";
  }
  CommandResult l = run(std::string("xdp-loader load ") + kIf + " " + other + " 2>&1");
  ASSERT_TRUE(l.ok()) << l.output;
  const bool dispatcher =
      run(std::string("xdp-loader status ") + kIf + " 2>&1").output.find("xdp_dispatcher") !=
      std::string::npos;

  CommandResult a = ctl(std::string("attach --iface ") + kIf);
  if (dispatcher) {
    ASSERT_EQ(a.exit_code, 0) << a.output;
    json st = parse_json(ctl(std::string("status --json --iface ") + kIf));
    EXPECT_EQ(st["multiprog"], true);
    ASSERT_EQ(st["programs"].size(), 2u) << st.dump();
    ASSERT_EQ(ctl(std::string("detach --iface ") + kIf).exit_code, 0);
    EXPECT_NE(run(std::string("xdp-loader status ") + kIf + " 2>&1").output.find("xdpfilt_alw_all"),
              std::string::npos)
        << "detaching xdptcp removed the other program";
  } else {
    EXPECT_EQ(a.exit_code, 4) << a.output;
    EXPECT_NE(a.output.find("xdpfilt_alw_all"), std::string::npos) << a.output;
    EXPECT_FALSE(exists(pin_dir()));
    CommandResult ip = run(std::string("ip link show dev ") + kIf);
    EXPECT_NE(ip.output.find("xdpfilt_alw_all"), std::string::npos) << ip.output;
  }
  (void)run(std::string("xdp-loader unload --all ") + kIf + " 2>&1");
}

}  // namespace
}  // namespace xdptcp::test
