// bench-smoke: `xdptcp-bench compare --duration 2 --rounds 3 --json` for every workload completes
// and reports sane numbers (throughput > 0, ratio > 0, JSON parses). No performance thresholds:
// those are benchmarks (docs/PERFORMANCE.md), not tests.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <string>

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

INSTANTIATE_TEST_SUITE_P(Workloads, BenchSmoke, ::testing::Values("short", "rr", "bulk", "latency"),
                         [](const ::testing::TestParamInfo<const char*>& p) { return std::string(p.param); });

}  // namespace
