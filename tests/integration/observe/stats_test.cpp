// Seeing inside a running stack from another process (issue 12): the stats region each stack
// publishes (/run/xdptcp/<iface>/stats.<pid>, userstack/engine/stats_region.h) read by
// `xdptcp-ctl stats` from the test process, on a sandbox veth (tools/sandbox.sh) with kernel clients
// in the peer namespace:
//   - xdptcp-echo (Stack::run, two engine threads): the counters of N connections (segments_in > N,
//     conns_accepted == N), one frame with a bad TCP checksum raising exactly drop bad_checksum by 1,
//     --prometheus parsing and carrying the same values, --watch rates, status; after kill -9 the
//     region is reported stale and --clean removes it.
//   - redis-server through xdptcp-run (Stack::drive, the preload library: one engine on the
//     application's thread): its region names it, and N connections show as conns_accepted.
// Needs root; skips without scapy (the bad checksum) or redis-server.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>

#include "support/ctl/prometheus_check.h"
#include "support/netns/netns_util.h"

namespace xdptcp::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;

// Ports of their own (the stack reserves listening ports in the root namespace, shared with every
// other test there).
constexpr int kEchoPort = 29310;
constexpr int kRedisPort = 29311;
constexpr int kConnections = 8;

std::string ctl(const std::string& args) {
  return bin_path("xdptcp-ctl") + " " + args;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::string s;
  std::getline(in, s);
  return s;
}

// A frame with a bad TCP checksum (a SYN to the stack's port), sent from the peer with scapy.
constexpr const char* kBadChecksumScript = R"(import sys
from scapy.all import Ether, IP, TCP, sendp, conf
conf.verb = 0
iface, dst_mac, src, dst, dport = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
pkt = IP(src=src, dst=dst) / TCP(sport=40001, dport=dport, flags="S", seq=1000)
good = IP(bytes(pkt))[TCP].chksum
pkt[TCP].chksum = good ^ 0x5555
sendp(Ether(dst=dst_mac) / pkt, iface=iface)
)";

class StatsRegionIntegration : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!is_root()) GTEST_SKIP() << "needs root: network namespaces, XDP and AF_XDP";
    for (const char* exe : {"xdptcp-ctl", "xdptcp-echo"}) {
      if (!fs::exists(bin_path(exe))) GTEST_SKIP() << bin_path(exe) << " is not built";
    }
    if (!run("command -v socat").ok()) GTEST_SKIP() << "socat is not installed";
  }
  void TearDown() override {
    server_.reset();
    if (sb_) {
      (void)run(ctl("detach --iface " + sb_->iface()));
      sb_.reset();
    }
  }

  Sandbox& sandbox(const std::string& name) {
    sb_ = std::make_unique<Sandbox>(Sandbox::Options{.name = name});
    const CommandResult up = sb_->up();
    EXPECT_TRUE(up.ok()) << up.output;
    const CommandResult at = run(ctl("attach --iface " + sb_->iface()));
    EXPECT_TRUE(at.ok()) << at.output;
    return *sb_;
  }

  json stats_json() {
    const CommandResult r = run(ctl("stats --iface " + sb_->iface() + " --json"));
    EXPECT_TRUE(r.ok()) << r.output;
    try {
      return json::parse(r.output);
    } catch (const json::exception& e) {
      ADD_FAILURE() << e.what() << "\n" << r.output;
      return json::object();
    }
  }
  // The process `pid` in `stats --json`, or null.
  static json process_of(const json& stats, pid_t pid) {
    for (const auto& p : stats.value("processes", json::array())) {
      if (p["pid"] == pid) return p;
    }
    return nullptr;
  }
  // A counter of `pid`'s engines summed ("tcp", "conns_accepted"), -1 when it has no region.
  long long total(pid_t pid, const std::string& group, const std::string& name) {
    const json p = process_of(stats_json(), pid);
    if (p.is_null()) return -1;
    return p["total"][group][name].get<long long>();
  }
  // Polls (the engines publish about every 100 ms) until the counter is `want`.
  bool wait_total(pid_t pid, const std::string& group, const std::string& name, long long want,
                  std::chrono::milliseconds timeout = 1500ms) {
    return wait_until([&] { return total(pid, group, name) == want; }, timeout, 50ms);
  }

  std::unique_ptr<Sandbox> sb_;
  std::unique_ptr<BackgroundCommand> server_;
};

TEST_F(StatsRegionIntegration, EchoServer_CountersDropsPrometheusWatchAndStaleAfterKill9) {
  if (!run("/usr/bin/python3 -c 'import scapy.all' 2>/dev/null").ok()) {
    GTEST_SKIP() << "python3-scapy is not installed: the bad-checksum frame cannot be sent";
  }
  Sandbox& sb = sandbox("obst");
  const std::string iface = sb.iface();
  server_ = std::make_unique<BackgroundCommand>("exec " + bin_path("xdptcp-echo") + " --iface " + iface +
                                                " --port " + std::to_string(kEchoPort));
  ASSERT_TRUE(server_->wait_for_output("listening", 15s)) << server_->output();
  const pid_t pid = server_->pid();
  const std::string region = "/run/xdptcp/" + iface + "/stats." + std::to_string(pid);
  ASSERT_TRUE(fs::exists(region)) << region;
  EXPECT_EQ(fs::status(region).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read);

  // The region describes the process before any traffic.
  json p = process_of(stats_json(), pid);
  ASSERT_FALSE(p.is_null()) << stats_json().dump(2);
  EXPECT_EQ(p["state"], "live");
  EXPECT_EQ(p["comm"], "xdptcp-echo");
  EXPECT_EQ(p["queues"], json::array({0, 1}));
  EXPECT_EQ(p["engine_count"], 2);
  ASSERT_EQ(p["engines"].size(), 2u);
  EXPECT_EQ(p["total"]["tcp"]["conns_accepted"], 0);

  // N connections from the kernel of the peer, each echoing its request.
  for (int i = 0; i < kConnections; ++i) {
    const std::string req = "request-" + std::to_string(i);
    const CommandResult r = tcp_request_from(sb.peer_ns(), sb.stack_ip4(), kEchoPort, req);
    ASSERT_NE(r.output.find(req), std::string::npos) << r.output;
  }
  EXPECT_TRUE(wait_total(pid, "tcp", "conns_accepted", kConnections))
      << "conns_accepted " << total(pid, "tcp", "conns_accepted");
  json s = stats_json();
  p = process_of(s, pid);
  ASSERT_FALSE(p.is_null());
  const json& t = p["total"];
  EXPECT_GT(t["tcp"]["segments_in"].get<long long>(), kConnections) << t.dump(2);
  EXPECT_GT(t["tcp"]["segments_out"].get<long long>(), kConnections) << t.dump(2);
  EXPECT_GE(t["engine"]["rx_frames"].get<long long>(), t["tcp"]["segments_in"].get<long long>());
  EXPECT_GE(t["engine"]["tx_frames"].get<long long>(), t["tcp"]["segments_out"].get<long long>());
  EXPECT_EQ(t["tcp"]["data_bytes_in"], t["tcp"]["data_bytes_out"]) << "an echo sends back what it got";
  EXPECT_EQ(t["tcp"]["conns_reset"], 0);
  EXPECT_EQ(t["tcp"]["conns_opened"], 0);
  EXPECT_GT(t["engine"]["iterations"].get<long long>(), 0);
  EXPECT_GE(s["counters"]["redirected"].get<long long>(), t["engine"]["rx_frames"].get<long long>());
  for (const auto& e : p["engines"]) {
    EXPECT_TRUE(e["consistent"].get<bool>());
    EXPECT_LT(e["age_ms"].get<double>(), 1000) << "a live engine publishes about every 100 ms";
  }

  // One frame with a bad TCP checksum: exactly drop bad_checksum rises, by 1.
  const json drops_before = t["drops"];
  ASSERT_EQ(drops_before["bad_checksum"], 0) << drops_before.dump();
  char tmpl[] = "/tmp/xdptcp-obst-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string script = std::string(tmpl) + "/badsum.py";
  std::ofstream(script) << kBadChecksumScript;
  const std::string mac = read_text("/sys/class/net/" + iface + "/address");
  const CommandResult sent =
      sb.in_peer("/usr/bin/python3 " + script + " " + sb.var("PEER_IFACE") + " " + mac + " " + sb.peer_ip4() +
                 " " + sb.stack_ip4() + " " + std::to_string(kEchoPort));
  fs::remove_all(tmpl);
  ASSERT_TRUE(sent.ok()) << sent.output;
  EXPECT_TRUE(wait_total(pid, "drops", "bad_checksum", 1))
      << "bad_checksum " << total(pid, "drops", "bad_checksum");
  std::this_thread::sleep_for(250ms);  // two more publishes: nothing else moves
  p = process_of(stats_json(), pid);
  ASSERT_FALSE(p.is_null());
  for (const auto& [reason, n] : p["total"]["drops"].items()) {
    const long long want = drops_before[reason].get<long long>() + (reason == "bad_checksum" ? 1 : 0);
    EXPECT_EQ(n.get<long long>(), want) << "drop " << reason;
  }

  // The text form names it; the Prometheus form parses and carries the same values.
  const CommandResult text = run(ctl("stats --iface " + iface));
  EXPECT_NE(text.output.find("drop bad_checksum"), std::string::npos) << text.output;
  EXPECT_NE(text.output.find("xdptcp-echo: live, 2 engines, queues 0,1"), std::string::npos) << text.output;
  const CommandResult prom = run(ctl("stats --iface " + iface + " --prometheus"));
  ASSERT_TRUE(prom.ok()) << prom.output;
  const PrometheusParse pp = parse_prometheus(prom.output);
  EXPECT_TRUE(pp.errors.empty()) << ::testing::PrintToString(pp.errors) << "\n" << prom.output;
  double bad = 0;
  double accepted = 0;
  for (const char* engine : {"0", "1"}) {
    const std::string labels =
        "{iface=\"" + iface + "\",pid=\"" + std::to_string(pid) + "\",engine=\"" + engine + "\"";
    const auto b = pp.samples.find("xdptcp_tcp_drops_total" + labels + ",reason=\"bad_checksum\"}");
    const auto a = pp.samples.find("xdptcp_engine_conns_accepted_total" + labels + "}");
    ASSERT_NE(b, pp.samples.end()) << labels << "\n" << prom.output;
    ASSERT_NE(a, pp.samples.end()) << labels << "\n" << prom.output;
    bad += b->second;
    accepted += a->second;
  }
  EXPECT_EQ(bad, 1);
  EXPECT_EQ(accepted, kConnections);
  EXPECT_TRUE(
      pp.samples.contains("xdptcp_xdp_packets_total{iface=\"" + iface + "\",verdict=\"redirected\"}"));

  // --watch: one JSON document per interval, with rates while connections come in.
  BackgroundCommand load("for i in $(seq 30); do " +
                         in_netns(sb.peer_ns(), "printf 'x\\n' | timeout 5 socat -T 2 - TCP4:" +
                                                    sb.stack_ip4() + ":" + std::to_string(kEchoPort)) +
                         " >/dev/null; done");
  const CommandResult watch = run(ctl("stats --iface " + iface + " --json --watch 0.5 --count 2"));
  ASSERT_TRUE(watch.ok()) << watch.output;
  std::istringstream lines(watch.output);
  std::string line;
  int intervals = 0;
  double accepted_rate = 0;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    const json w = json::parse(line);
    ++intervals;
    EXPECT_NEAR(w["interval_s"].get<double>(), 0.5, 0.25);
    const json wp = process_of(w, pid);
    ASSERT_FALSE(wp.is_null()) << line;
    accepted_rate += wp["total"]["tcp"]["conns_accepted"].get<double>();
  }
  EXPECT_EQ(intervals, 2) << watch.output;
  EXPECT_GT(accepted_rate, 0) << watch.output;
  (void)load.wait(20s);

  const CommandResult status = run(ctl("status --iface " + iface));
  EXPECT_NE(status.output.find("stats regions: 1 live (pid " + std::to_string(pid) + " xdptcp-echo)"),
            std::string::npos)
      << status.output;

  // kill -9: the region stays behind, stale; --clean removes it.
  EXPECT_EQ(server_->stop(9, 2s), 128 + 9);
  ASSERT_TRUE(fs::exists(region));
  p = process_of(stats_json(), pid);
  ASSERT_FALSE(p.is_null());
  EXPECT_EQ(p["state"], "stale");
  EXPECT_EQ(p["stale_reason"], "dead");
  EXPECT_GE(p["total"]["tcp"]["conns_accepted"].get<long long>(), kConnections) << "its last counters";
  const CommandResult stale_text = run(ctl("stats --iface " + iface));
  EXPECT_NE(stale_text.output.find("STALE (the process is gone)"), std::string::npos) << stale_text.output;
  const CommandResult stale_status = run(ctl("status --iface " + iface));
  EXPECT_NE(stale_status.output.find("1 stale (pid " + std::to_string(pid) + " xdptcp-echo)"),
            std::string::npos)
      << stale_status.output;
  const CommandResult clean = run(ctl("stats --iface " + iface + " --clean"));
  EXPECT_TRUE(clean.ok()) << clean.output;
  EXPECT_NE(clean.output.find("removed " + region), std::string::npos) << clean.output;
  EXPECT_FALSE(fs::exists(region));
  EXPECT_FALSE(fs::exists("/run/xdptcp/" + iface)) << "the directory goes with its last region";
  const json after = stats_json();
  EXPECT_TRUE(process_of(after, pid).is_null()) << after.dump(2);
}

// A clean stop removes the region; the engines' last counters were there until then.
TEST_F(StatsRegionIntegration, EchoServer_RegionGoesWithTheStack) {
  Sandbox& sb = sandbox("obsg");
  server_ = std::make_unique<BackgroundCommand>("exec " + bin_path("xdptcp-echo") + " --iface " + sb.iface() +
                                                " --port " + std::to_string(kEchoPort + 2));
  ASSERT_TRUE(server_->wait_for_output("listening", 15s)) << server_->output();
  const std::string region = "/run/xdptcp/" + sb.iface() + "/stats." + std::to_string(server_->pid());
  ASSERT_TRUE(fs::exists(region));
  EXPECT_EQ(server_->stop(15, 5s), 0) << server_->output();
  EXPECT_FALSE(fs::exists(region));
  EXPECT_FALSE(fs::exists("/run/xdptcp/" + sb.iface()));
}

// The preload library: redis-server through xdptcp-run drives one engine on its own thread.
TEST_F(StatsRegionIntegration, PreloadedRedis_RegionOfTheDrivenEngine) {
  for (const char* tool : {"redis-server", "redis-cli"}) {
    if (!run(std::string("command -v ") + tool).ok()) GTEST_SKIP() << tool << " is not installed";
  }
  if (!fs::exists(bin_path("xdptcp-run"))) GTEST_SKIP() << bin_path("xdptcp-run") << " is not built";
  Sandbox& sb = sandbox("obpr");
  char tmpl[] = "/tmp/xdptcp-obpr-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  const std::string redis = run("command -v redis-server").output;
  server_ = std::make_unique<BackgroundCommand>(
      "exec " + bin_path("xdptcp-run") + " --iface " + sb.iface() + " -- " +
      redis.substr(0, redis.find('\n')) + " --port " + std::to_string(kRedisPort) + " --bind " +
      sb.stack_ip4() + " --protected-mode no --save '' --dir " + dir + " --daemonize no");
  const std::string ping = "redis-cli -h " + sb.stack_ip4() + " -p " + std::to_string(kRedisPort) + " PING";
  ASSERT_TRUE(
      wait_until([&] { return server_->running() && sb.in_peer(ping).output.find("PONG") == 0; }, 30s, 200ms))
      << server_->output();
  const pid_t pid = server_->pid();  // xdptcp-run execs redis-server
  json p;
  ASSERT_TRUE(wait_until(
      [&] {
        p = process_of(stats_json(), pid);
        return !p.is_null();
      },
      2s, 100ms))
      << "no region for redis-server (pid " << pid << ")\n"
      << server_->output();
  EXPECT_EQ(p["state"], "live");
  EXPECT_EQ(p["comm"], "redis-server");
  EXPECT_EQ(p["engine_count"], 1);
  EXPECT_EQ(p["queues"], json::array({0, 1}));
  // The PINGs that found the stack started; from here on every connection is the engine's.
  const long long before = p["total"]["tcp"]["conns_accepted"].get<long long>();
  for (int i = 0; i < kConnections; ++i) {
    const CommandResult r = sb.in_peer(ping);
    ASSERT_EQ(r.output.find("PONG"), 0u) << r.output;
  }
  EXPECT_TRUE(wait_total(pid, "tcp", "conns_accepted", before + kConnections))
      << "conns_accepted " << total(pid, "tcp", "conns_accepted") << ", " << before << " before";
  EXPECT_GT(total(pid, "tcp", "segments_in"), kConnections);
  EXPECT_EQ(server_->stop(15, 5s), 0) << server_->output();
  EXPECT_FALSE(fs::exists("/run/xdptcp/" + sb.iface() + "/stats." + std::to_string(pid)))
      << "the preload library's stack removes its region at exit";
  fs::remove_all(dir);
}

}  // namespace
}  // namespace xdptcp::test
