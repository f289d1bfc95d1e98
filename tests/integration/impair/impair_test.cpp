// xdptcp-impair end to end (docs/IMPAIRMENT.md), in three namespaces of our own (impair_topology.h):
// kernel TCP between a client and a server through a router that loses, duplicates, corrupts, delays,
// jitters and reorders frames. Every byte must arrive intact (RFC 9293 §3.1: the checksum catches the
// corruption, §3.10.7.4 reassembly absorbs loss, duplication and reordering), and the tools' counters
// must show that each impairment actually happened. Needs root; skips otherwise.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <string>

#include "integration/impair/impair_topology.h"
#include "support/netns/netns_util.h"

namespace xdptcp::test {
namespace {

using namespace std::chrono_literals;
using Topo = ImpairTopology;

std::string impair_bin() {
  return bin_path("xdptcp-impair");
}

// A temporary directory for the transferred files, removed at the end.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/xdptcp-impair-test-XXXXXX";
    if (::mkdtemp(tmpl) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    if (!path_.empty()) (void)run("rm -rf " + shell_quote(path_));
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string sha256(const std::string& file) {
  return run("sha256sum " + shell_quote(file) + " | cut -d' ' -f1").output;
}

class Impair : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!is_root()) GTEST_SKIP() << "needs root: creates network namespaces, veths and tc filters";
    topo_ = std::make_unique<Topo>();
    ASSERT_TRUE(topo_->ok()) << topo_->setup_result().output;
  }
  void TearDown() override { topo_.reset(); }

  // `xdptcp-impair tc` on both router interfaces.
  void impair_both(const std::string& hook, const std::string& args) {
    for (const char* dev : {Topo::kRouterClientSide, Topo::kRouterServerSide}) {
      const CommandResult r =
          topo_->in_router(impair_bin() + " tc --iface " + dev + " --hook " + hook + " " + args);
      ASSERT_TRUE(r.ok()) << r.output;
    }
  }
  // Counters of both router interfaces, summed.
  std::map<std::string, long long> tc_counters(const std::string& hook) {
    std::map<std::string, long long> sum;
    for (const char* dev : {Topo::kRouterClientSide, Topo::kRouterServerSide}) {
      const CommandResult r = topo_->in_router(impair_bin() + " stats --iface " + dev + " --hook " + hook);
      EXPECT_TRUE(r.ok()) << r.output;
      for (const auto& [k, v] : parse_counters(r.output)) sum[k] += v;
    }
    return sum;
  }
  std::unique_ptr<BackgroundCommand> start_forwarder(const std::string& args) {
    auto fwd = std::make_unique<BackgroundCommand>(
        "exec ip netns exec " + std::string(Topo::kRouterNs) + " " + impair_bin() + " delay --in " +
        Topo::kRouterClientSide + " --out " + Topo::kRouterServerSide + " " + args);
    EXPECT_TRUE(fwd->wait_for_output("ready", 5s)) << fwd->output();
    return fwd;
  }
  // Sends `bytes` random bytes from the client to the server with socat over `server_addr`; the
  // SHA-256 of what arrived must equal that of what was sent.
  void transfer_and_compare(const std::string& server_addr, int port, int megabytes) {
    TempDir dir;
    ASSERT_FALSE(dir.path().empty());
    const std::string src = dir.path() + "/sent.bin", dst = dir.path() + "/received.bin";
    ASSERT_TRUE(run("head -c " + std::to_string(megabytes) + "M /dev/urandom > " + src).ok());
    const std::string listen_addr =
        server_addr.find(':') != std::string::npos ? "TCP6-LISTEN" : "TCP4-LISTEN";
    BackgroundCommand server("exec ip netns exec " + std::string(Topo::kServerNs) + " socat -u " +
                             listen_addr + ":" + std::to_string(port) + ",reuseaddr OPEN:" + dst +
                             ",creat,trunc");
    ASSERT_TRUE(wait_until(
        [&] {
          return topo_->in_server("ss -Hltn sport = :" + std::to_string(port) + " | grep -q LISTEN").ok();
        },
        3s))
        << server.output();
    const std::string connect =
        server_addr.find(':') != std::string::npos ? "TCP6:[" + server_addr + "]" : "TCP4:" + server_addr;
    const auto t0 = std::chrono::steady_clock::now();
    const CommandResult client =
        topo_->in_client("timeout 40 socat -u OPEN:" + src + " " + connect + ":" + std::to_string(port));
    ASSERT_TRUE(client.ok()) << client.output;
    ASSERT_EQ(server.wait(20s), 0) << server.output();
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const std::string sent = sha256(src), received = sha256(dst);
    ASSERT_EQ(sent.size(), 65u);  // 64 hex digits and a newline
    EXPECT_EQ(sent, received) << "bytes changed on the way (" << megabytes << " MB over " << server_addr
                              << ")";
    std::printf("transfer %d MB to %s: %.1f s\n", megabytes, server_addr.c_str(), secs);
  }

  std::unique_ptr<Topo> topo_;
};

// The brief's scenario with the kernel forwarding: the program on the router's ingress.
TEST_F(Impair, IngressLossDupCorrupt_KernelForwarding_BytesIntact_CountersAndChecksumsAgree) {
  impair_both("ingress", "--loss 2 --dup 1 --corrupt 0.5 --seed 7");
  const long long csum_errors_before = nstat_counter(Topo::kServerNs, "TcpInCsumErrors");
  transfer_and_compare(Topo::kServer4, 5001, 8);

  const auto c = tc_counters("ingress");
  EXPECT_GT(c.at("seen"), 5000);  // 8 MB is about 5800 full-size segments, plus the ACKs
  EXPECT_GT(c.at("dropped"), 0);
  EXPECT_GT(c.at("duplicated"), 0);
  EXPECT_GT(c.at("corrupted"), 0);
  EXPECT_EQ(c.at("dup_failed"), 0);
  // Loss near 2% of what was seen (binomial: far more than 5 standard deviations of slack).
  EXPECT_NEAR(static_cast<double>(c.at("dropped")) / static_cast<double>(c.at("seen")), 0.02, 0.01);
  // Every corrupted segment was caught by a receiver's checksum: the server's for data, the client's
  // for ACKs (RFC 9293 §3.1).
  const long long server_errors = nstat_counter(Topo::kServerNs, "TcpInCsumErrors") - csum_errors_before;
  const long long client_errors = nstat_counter(Topo::kClientNs, "TcpInCsumErrors");
  EXPECT_EQ(server_errors + client_errors, c.at("corrupted"));
  // Duplicates reached the server: it reported them with D-SACK (RFC 2883).
  EXPECT_GT(nstat_counter(Topo::kServerNs, "TcpExtTCPDSACKOldSent") +
                nstat_counter(Topo::kServerNs, "TcpExtTCPDSACKOfoSent"),
            0);

  // ICMP passes untouched (only TCP is impaired), ARP / ND keep working.
  EXPECT_TRUE(topo_->in_client("ping -c 20 -i 0.01 -W 1 198.19.201.2").ok());
  EXPECT_TRUE(topo_->in_client("ping -6 -c 20 -i 0.01 -W 1 fd00:696d:2::2").ok());
  EXPECT_GT(tc_counters("ingress").at("passed_other"), c.at("passed_other"));
}

// All impairments at once: the program on the router's egress, the forwarder for delay, jitter and
// reordering (the configuration docs/IMPAIRMENT.md gives users).
TEST_F(Impair, AllImpairments_ForwarderAndEgressProgram_BytesIntact_EveryImpairmentHappened) {
  impair_both("egress", "--loss 2 --dup 1 --corrupt 0.5 --seed 11");
  auto fwd = start_forwarder("--delay 10 --jitter 2 --reorder 2 --seed 5");
  EXPECT_EQ(topo_->in_router("sysctl -n net.ipv4.ip_forward").output, "0\n") << "the forwarder replaces it";

  // ping through the router works in both families (loss applies to TCP only).
  const CommandResult ping4 = topo_->in_client("ping -c 5 -i 0.05 -W 2 198.19.201.2");
  EXPECT_TRUE(ping4.ok()) << ping4.output;
  EXPECT_TRUE(topo_->in_client("ping -6 -c 5 -i 0.05 -W 2 fd00:696d:2::2").ok());

  transfer_and_compare(Topo::kServer4, 5002, 5);
  transfer_and_compare(Topo::kServer6, 5003, 1);

  const auto c = tc_counters("egress");
  EXPECT_GT(c.at("dropped"), 0);
  EXPECT_GT(c.at("duplicated"), 0);
  EXPECT_GT(c.at("corrupted"), 0);

  ASSERT_EQ(fwd->stop(), 0) << fwd->output();
  const auto f = parse_counters(fwd->output());
  std::printf(
      "tc: seen %lld dropped %lld duplicated %lld corrupted %lld; forwarder: forwarded %lld reordered %lld "
      "delay_avg_us %lld\n",
      c.at("seen"), c.at("dropped"), c.at("duplicated"), c.at("corrupted"), f.at("forwarded"),
      f.at("reordered"), f.at("delay_avg_us"));
  EXPECT_GT(f.at("forwarded"), 3000);
  EXPECT_EQ(f.at("delayed"), f.at("forwarded"));
  EXPECT_GE(f.at("delay_avg_us"), 10000);  // 10 ms plus up to 2 ms jitter plus the reorder picks
  EXPECT_GT(f.at("reorder_picks"), 0);
  EXPECT_GT(f.at("reordered"), 0);
  EXPECT_EQ(f.at("queue_full"), 0);
  EXPECT_EQ(f.at("malformed"), 0);
  // The egress program's drops of the forwarder's frames are refused sends.
  EXPECT_GT(f.at("send_dropped"), 0);
  EXPECT_EQ(topo_->in_router("sysctl -n net.ipv4.ip_forward").output, "1\n") << "restored on exit";
}

// A 10 ms delay shows in the RTT (10 ms each way: at least 20 ms), and no impairment means no loss.
TEST_F(Impair, TenMsDelay_RttAtLeastTenMs_ZeroImpairment_NoLoss) {
  impair_both("egress", "--loss 0 --dup 0 --corrupt 0");
  {
    auto fwd = start_forwarder("--delay 10");
    const CommandResult ping = topo_->in_client("ping -c 10 -i 0.05 -W 2 198.19.201.2");
    ASSERT_TRUE(ping.ok()) << ping.output;
    EXPECT_GE(ping_min_rtt_ms(ping.output), 10.0) << ping.output;
    EXPECT_GE(ping_min_rtt_ms(ping.output), 20.0) << "the delay applies in each direction\n" << ping.output;
    EXPECT_LT(ping_min_rtt_ms(ping.output), 40.0) << ping.output;
  }
  {
    auto fwd = start_forwarder("--delay 0");
    const CommandResult ping = topo_->in_client("ping -c 200 -i 0.005 -W 1 198.19.201.2");
    EXPECT_EQ(ping_loss_percent(ping.output), 0.0) << ping.output;
    const long long retrans_before = nstat_counter(Topo::kClientNs, "TcpRetransSegs");
    transfer_and_compare(Topo::kServer4, 5004, 2);
    // Nothing was lost. A few retransmissions may still come from tail loss probes (RFC 8985 §7) when
    // the forwarder is descheduled on a busy machine, so allow a handful, not a loss rate.
    EXPECT_LE(nstat_counter(Topo::kClientNs, "TcpRetransSegs") - retrans_before, 5);
    ASSERT_EQ(fwd->stop(), 0);
    const auto f = parse_counters(fwd->output());
    EXPECT_EQ(f.at("send_dropped"), 0) << fwd->output();
    EXPECT_EQ(f.at("queue_full"), 0);
    EXPECT_EQ(f.at("reordered"), 0) << "a constant delay never reorders";
  }
  const auto c = tc_counters("egress");
  EXPECT_GT(c.at("seen"), 1000);
  EXPECT_EQ(c.at("dropped"), 0);
  EXPECT_EQ(c.at("duplicated"), 0);
  EXPECT_EQ(c.at("corrupted"), 0);
}

// Reconfiguring keeps the filter (and its counters); --clear removes filter and qdisc.
TEST_F(Impair, TcReconfigureThenClear_LeavesNothingBehind) {
  const std::string dev = Topo::kRouterClientSide;
  CommandResult r = topo_->in_router(impair_bin() + " tc --iface " + dev + " --loss 1");
  ASSERT_TRUE(r.ok()) << r.output;
  EXPECT_NE(r.output.find("attached"), std::string::npos) << r.output;
  r = topo_->in_router(impair_bin() + " tc --iface " + dev + " --loss 3");
  ASSERT_TRUE(r.ok()) << r.output;
  EXPECT_NE(r.output.find("reconfigured"), std::string::npos) << r.output;
  EXPECT_EQ(topo_->in_router("tc filter show dev " + dev + " egress | grep -c impair_egress").output, "1\n");
  r = topo_->in_router(impair_bin() + " tc --iface " + dev + " --clear");
  ASSERT_TRUE(r.ok()) << r.output;
  EXPECT_EQ(topo_->in_router("tc qdisc show dev " + dev + " | grep -c clsact").output, "0\n");
  r = topo_->in_router(impair_bin() + " stats --iface " + dev);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.output.find("no impairment program"), std::string::npos) << r.output;
  r = topo_->in_router(impair_bin() + " tc --iface nosuchdev0 --loss 1");
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.output.find("no interface named 'nosuchdev0'"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace xdptcp::test
