// bench-smoke: `xdptcp-bench compare --duration 2 --rounds 3 --json` for every workload completes
// and reports sane numbers (throughput > 0, ratio > 0, JSON parses) and the link each leg had (the
// kernel's legs with its offloads, the xdptcp legs with the sandbox's, read back with ethtool -k);
// bulk measures both directions and leaves the sandbox as sandbox.sh set it; `xdptcp-bench app` runs
// nginx, redis-server and memcached on the kernel and under xdptcp-run and reports both stacks'
// figures. No performance thresholds: those are benchmarks (docs/PERFORMANCE.md), not tests.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace {

std::string run(const std::string& cmd, int* status) {
  std::FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  if (p == nullptr) return out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  *status = pclose(p);
  return out;
}

// Every round of both stacks: the server's CPU was measured on its cores, and the link as each
// stack's legs must have it. The xdptcp legs run with the sandbox's setting: every offload off on
// both ends, the xdptcp server's steering program on the stack end. The kernel legs: with a kernel
// client every offload on on both ends and no XDP program anywhere; with an xdptcp client (whose
// program is on the peer end) rx checksum, GSO and GRO on the stack end, tx checksum and TSO off.
void expect_legs(const nlohmann::json& side_k, const nlohmann::json& side_x, const std::string& client) {
  for (const auto& r : side_k.at("rounds")) {
    const auto& st = r.at("link").at("stack_end");
    const auto& pe = r.at("link").at("peer_end");
    EXPECT_TRUE(st.at("read").get<bool>() && pe.at("read").get<bool>()) << r.dump();
    EXPECT_EQ(st.at("xdp").get<std::string>(), "") << "kernel leg: an XDP program on the stack end";
    for (const char* f : {"rx", "gso", "gro"})
      EXPECT_TRUE(st.at(f).get<bool>()) << "kernel leg, stack end " << f;
    if (client == "kernel") {
      for (const char* f : {"rx", "tx", "tso", "gso", "gro"}) {
        EXPECT_TRUE(st.at(f).get<bool>()) << "kernel leg, stack end " << f;
        EXPECT_TRUE(pe.at(f).get<bool>()) << "kernel leg, peer end " << f;
      }
      EXPECT_EQ(pe.at("xdp").get<std::string>(), "") << "kernel leg: an XDP program on the peer end";
    } else {
      EXPECT_FALSE(st.at("tx").get<bool>()) << "the xdptcp client would see unfilled checksums";
      EXPECT_FALSE(st.at("tso").get<bool>());
      EXPECT_NE(pe.at("xdp").get<std::string>(), "") << "the xdptcp client's program";
    }
    EXPECT_NE(r.at("server_cores").get<std::string>(), "");
  }
  for (const auto& r : side_x.at("rounds")) {
    const auto& st = r.at("link").at("stack_end");
    const auto& pe = r.at("link").at("peer_end");
    for (const char* f : {"rx", "tx", "tso", "gso", "gro"}) {
      EXPECT_FALSE(st.at(f).get<bool>()) << "xdptcp leg, stack end " << f;
      EXPECT_FALSE(pe.at(f).get<bool>()) << "xdptcp leg, peer end " << f;
    }
    EXPECT_NE(st.at("xdp").get<std::string>(), "") << "xdptcp leg without the steering program";
    EXPECT_NE(r.at("server_cores").get<std::string>(), "");
  }
}

class BenchSmoke : public ::testing::TestWithParam<const char*> {};

TEST_P(BenchSmoke, Compare_ShortRun_ReportsSaneNumbers) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: compare builds a veth sandbox and attaches XDP";
  const std::string w = GetParam();
  int st = -1;
  // Warm-up 0.5 s and 2 s measured, 3 rounds of each server: about 25 s per workload.
  const std::string out = run(std::string(XDPTCP_BENCH_BIN) + " compare --workload " + w +
                                  " --duration 2 --warmup 0.5 --rounds 3 --json --sandbox-name bsmoke",
                              &st);
  ASSERT_EQ(st, 0) << "compare failed; stdout:\n" << out;
  nlohmann::json j;
  ASSERT_NO_THROW(j = nlohmann::json::parse(out)) << out;
  EXPECT_EQ(j.at("workload").get<std::string>(), w);
  EXPECT_GT(j.at("ratio").get<double>(), 0);
  EXPECT_EQ(j.at("client").get<std::string>(), "xdptcp");
  for (const char* s : {"kernel", "xdptcp"}) {
    EXPECT_GT(j.at(s).at("throughput").get<double>(), 0) << s;
    EXPECT_EQ(j.at(s).at("rounds").size(), 3u) << s;
    EXPECT_GT(j.at(s).at("p99_us").get<double>(), 0) << s;
  }
  expect_legs(j.at("kernel"), j.at("xdptcp"), "xdptcp");
}

std::string sh(const std::string& cmd) {
  int st = -1;
  return run(cmd + " 2>&1", &st);
}

// bulk: both directions (the server receiving and the server sending) for both stacks, against the
// kernel's client; the offloads switch per leg, and the sandbox is left as sandbox.sh set it.
TEST(BenchSmokeBulk, Compare_BothDirections_OffloadsPerLeg_SandboxRestored) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: compare builds a veth sandbox and attaches XDP";
  const std::string name = "bsmokebulk";
  const std::string script = XDPTCP_SOURCE_DIR "/tools/sandbox.sh";
  int st = -1;
  // 2 rounds (each order of the stacks) x 2 directions x 2 stacks x (0.5 s warm-up + 1.5 s): ~30 s.
  const std::string out = run(std::string(XDPTCP_BENCH_BIN) +
                                  " compare --workload bulk --duration 1.5 --warmup 0.5 --rounds 2 --json "
                                  "--keep-sandbox --sandbox-name " +
                                  name,
                              &st);
  // The sandbox stays up (--keep-sandbox): read it back, then bring it down whatever happened.
  const std::string env = sh(script + " status --name " + name + " --env");
  auto var = [&](const std::string& k) {
    const auto p = env.find(k + "=");
    return p == std::string::npos ? std::string()
                                  : env.substr(p + k.size() + 1, env.find('\n', p) - p - k.size() - 1);
  };
  const std::string iface = var("IFACE"), peer_ns = var("PEER_NS"), peer_iface = var("PEER_IFACE");
  const std::string stack_k = sh("ethtool -k " + iface),
                    peer_k = sh("ip netns exec " + peer_ns + " ethtool -k " + peer_iface);
  const std::string stack_l = sh("ip -d link show dev " + iface),
                    peer_l = sh("ip netns exec " + peer_ns + " ip -d link show dev " + peer_iface);
  sh(script + " down --name " + name);

  ASSERT_EQ(st, 0) << "compare failed; stdout:\n" << out;
  nlohmann::json j;
  ASSERT_NO_THROW(j = nlohmann::json::parse(out)) << out;
  EXPECT_EQ(j.at("client").get<std::string>(), "kernel");
  EXPECT_EQ(j.at("direction").get<std::string>(), "server receives");
  const auto& rev = j.at("server_sends");
  EXPECT_EQ(rev.at("direction").get<std::string>(), "server sends");
  EXPECT_EQ(rev.at("workload").get<std::string>(), "bulk-reverse");
  for (const nlohmann::json* d : {static_cast<const nlohmann::json*>(&j), &rev}) {
    for (const char* s : {"kernel", "xdptcp"}) {
      EXPECT_GT(d->at(s).at("throughput").get<double>(), 0) << d->at("direction") << " " << s;
      EXPECT_GT(d->at(s).at("server_cpu_us_per_unit").get<double>(), 0) << d->at("direction") << " " << s;
      EXPECT_EQ(d->at(s).at("rounds").size(), 2u) << s;
      EXPECT_EQ(d->at(s).at("errors").get<double>(), 0) << d->at("direction") << " " << s;
    }
    expect_legs(d->at("kernel"), d->at("xdptcp"), "kernel");
  }
  // Afterwards: as sandbox.sh left it (offloads off on both ends, its XDP_PASS program on the peer end,
  // nothing on the stack end).
  for (const std::string f : {"rx-checksumming", "tx-checksumming", "tcp-segmentation-offload",
                              "generic-segmentation-offload", "generic-receive-offload"}) {
    EXPECT_NE(stack_k.find(f + ": off"), std::string::npos) << f << " on " << iface << ":\n" << stack_k;
    EXPECT_NE(peer_k.find(f + ": off"), std::string::npos) << f << " on " << peer_iface << ":\n" << peer_k;
  }
  EXPECT_EQ(stack_l.find("prog/xdp"), std::string::npos) << stack_l;
  EXPECT_NE(peer_l.find("name xdp_pass"), std::string::npos) << peer_l;
}

bool installed(const std::string& program) {
  return std::system(("command -v " + program + " >/dev/null 2>&1").c_str()) == 0;
}

class BenchSmokeApp : public ::testing::TestWithParam<const char*> {};

TEST_P(BenchSmokeApp, App_ShortRun_ReportsBothStacks) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: app builds a veth sandbox and runs servers on AF_XDP";
  const std::string app = GetParam();
  const bool nginx = app == "nginx";
  const bool memcached = app == "memcached";
  const std::vector<std::string> programs =
      nginx       ? std::vector<std::string>{"nginx", "wrk", "curl"}
      : memcached ? std::vector<std::string>{"memcached"}
                  : std::vector<std::string>{"redis-server", "redis-benchmark", "redis-cli"};
  for (const auto& p : programs) {
    if (!installed(p))
      GTEST_SKIP() << p << " is not installed (apt-get install "
                   << (nginx       ? "nginx wrk curl"
                       : memcached ? "memcached"
                                   : "redis-server redis-tools")
                   << ")";
  }
  int st = -1;
  // One round of each stack: nginx and memcached 2 workloads x (1 s warm-up + 1 s), redis 2 tests x
  // 2,000 requests after a short warm-up; ports apart from app's defaults, so that a real run may go on.
  const std::string out = run(std::string(XDPTCP_BENCH_BIN) + " app --app " + app +
                                  " --duration 1 --rounds 1 --json --sandbox-name bsmokeapp" +
                                  (nginx       ? " --port 19181"
                                   : memcached ? " --port 19311"
                                               : " --port 19479 --requests 2000"),
                              &st);
  ASSERT_EQ(st, 0) << "app failed; stdout:\n" << out;
  nlohmann::json j;
  ASSERT_NO_THROW(j = nlohmann::json::parse(out)) << out;
  EXPECT_EQ(j.at("app").get<std::string>(), app);
  EXPECT_EQ(j.at("errors").get<double>(), 0);
  // The kernel's runs with its offloads on both ends (and no XDP program), the xdptcp runs with the
  // sandbox's (all off).
  for (const char* end : {"stack_end", "peer_end"}) {
    const auto& k = j.at("link").at("kernel").at(end);
    const auto& x = j.at("link").at("xdptcp").at(end);
    for (const char* f : {"rx", "tx", "tso", "gso", "gro"}) {
      EXPECT_TRUE(k.at(f).get<bool>()) << "kernel runs, " << end << " " << f;
      EXPECT_FALSE(x.at(f).get<bool>()) << "xdptcp runs, " << end << " " << f;
    }
    EXPECT_EQ(k.at("xdp").get<std::string>(), "") << end;
  }
  for (const char* w :
       nginx ? std::vector<const char*>{"keepalive", "close"} : std::vector<const char*>{"SET", "GET"}) {
    const auto& wj = j.at("workloads").at(w);
    EXPECT_GT(wj.at("ratio").get<double>(), 0) << w;
    for (const char* s : {"kernel", "xdptcp"}) {
      EXPECT_GT(wj.at(s).at("throughput").get<double>(), 0) << w << " " << s;
      EXPECT_GT(wj.at(s).at("cpu_us_per_req").get<double>(), 0) << w << " " << s;
      EXPECT_GE(wj.at(s).at("server_cpu_us_per_req").get<double>(), 0) << w << " " << s;
      EXPECT_EQ(wj.at(s).at("rounds").size(), 1u) << w << " " << s;
      EXPECT_EQ(wj.at(s).at("errors").get<double>(), 0) << w << " " << s;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Apps, BenchSmokeApp, ::testing::Values("nginx", "redis", "memcached"),
                         [](const ::testing::TestParamInfo<const char*>& p) { return std::string(p.param); });

INSTANTIATE_TEST_SUITE_P(Workloads, BenchSmoke, ::testing::Values("short", "rr", "latency"),
                         [](const ::testing::TestParamInfo<const char*>& p) { return std::string(p.param); });

}  // namespace
