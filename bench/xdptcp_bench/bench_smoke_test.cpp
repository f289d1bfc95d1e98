// bench-smoke: `xdptcp-bench compare --duration 2 --rounds 3 --json` for every workload completes
// and reports sane numbers (throughput > 0, ratio > 0, JSON parses); `xdptcp-bench app` runs nginx,
// redis-server and memcached on the kernel and under xdptcp-run and reports both stacks' figures. No
// performance thresholds: those are benchmarks (docs/PERFORMANCE.md), not tests.
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
  for (const char* s : {"kernel", "xdptcp"}) {
    EXPECT_GT(j.at(s).at("throughput").get<double>(), 0) << s;
    EXPECT_EQ(j.at(s).at("rounds").size(), 3u) << s;
    if (w != "bulk") {
      EXPECT_GT(j.at(s).at("p99_us").get<double>(), 0) << s;
    }
  }
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

INSTANTIATE_TEST_SUITE_P(Workloads, BenchSmoke, ::testing::Values("short", "rr", "bulk", "latency"),
                         [](const ::testing::TestParamInfo<const char*>& p) { return std::string(p.param); });

}  // namespace
