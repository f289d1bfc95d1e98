// How `xdptcp-ctl stats` prints (tools/ctl/stats_output.h), over stats regions made in a temporary
// directory (no root): the JSON fields, the text table (non-zero drops only, stale processes), the
// Prometheus exposition format (grammar, names, escaping, stale processes left out) and --watch's
// rates.
#include "tools/ctl/stats_output.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>

#include "support/ctl/prometheus_check.h"
#include "tools/ctl/args.h"
#include "userstack/engine/engine_counters.h"

namespace xdptcp::ctl {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::size_t index_of(const std::string& name) {
  const auto names = engine::counters::names();
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i] == name) return i;
  }
  ADD_FAILURE() << "no counter " << name;
  return 0;
}

class StatsOutputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/xdptcp-ctl-stats-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  engine::StatsRegion::Options options(std::uint32_t engines) const {
    return {.iface = "obq0",
            .engines = engines,
            .queues = {0, 1},
            .names = engine::counters::names(),
            .run_dir = dir_};
  }
  // Engine k's counters: segments_in = 100 * (k + 1), conns_accepted = k + 3, bad_checksum = k (so
  // engine 0 has none), everything else 0.
  static std::vector<std::uint64_t> values(std::uint32_t k, std::uint64_t scale = 1) {
    std::vector<std::uint64_t> v(engine::counters::kCount, 0);
    v[index_of("tcp.segments_in")] = 100 * (k + 1) * scale;
    v[index_of("tcp.conns_accepted")] = (k + 3) * scale;
    v[index_of("drop.bad_checksum")] = k * scale;
    return v;
  }
  StatsSample sample() const {
    StatsSample s;
    s.iface = "obq0";
    kernel::SteerCounters c;
    c.seen = 10;
    c.redirected = 7;
    c.pass_not_ours = 3;
    s.xdp = c;
    s.regions = engine::list_stats_regions("obq0", dir_);
    s.monotonic_ns = 5'000'000'000;
    return s;
  }

  std::string dir_;
};

TEST_F(StatsOutputTest, JsonHasEveryCounterByGroupAndTotals) {
  auto r = engine::StatsRegion::create(options(2));
  ASSERT_TRUE(r.ok()) << r.error().describe();
  r.value()->publish(0, values(0), 4'900'000'000);
  r.value()->publish(1, values(1), 4'990'000'000);
  const json j = stats_json(sample());
  EXPECT_EQ(j["iface"], "obq0");
  EXPECT_EQ(j["counters"]["redirected"], 7);
  ASSERT_EQ(j["processes"].size(), 1u);
  const json& p = j["processes"][0];
  EXPECT_EQ(p["pid"], ::getpid());
  EXPECT_EQ(p["state"], "live");
  EXPECT_EQ(p["stale_reason"], "");
  EXPECT_EQ(p["removed"], false);
  EXPECT_EQ(p["queues"], json::array({0, 1}));
  EXPECT_EQ(p["engine_count"], 2);
  EXPECT_EQ(p["layout_version"], 3);
  ASSERT_EQ(p["engines"].size(), 2u);
  const json& e1 = p["engines"][1];
  EXPECT_EQ(e1["id"], 1);
  EXPECT_EQ(e1["tcp"]["segments_in"], 200);
  EXPECT_EQ(e1["tcp"]["conns_accepted"], 4);
  EXPECT_EQ(e1["drops"]["bad_checksum"], 1);
  EXPECT_EQ(e1["publishes"], 1);
  EXPECT_DOUBLE_EQ(e1["age_ms"].get<double>(), 10.0);
  EXPECT_EQ(e1["consistent"], true);
  // Every counter, zeros included: each group has all of its names.
  EXPECT_EQ(e1["engine"].size(), engine::counters::kEngine.size());
  EXPECT_EQ(e1["io"].size(), engine::counters::kIo.size());
  EXPECT_EQ(e1["tcp"].size(), engine::counters::kTcp.size());
  EXPECT_EQ(e1["drops"].size(), engine::counters::kDrops);
  EXPECT_EQ(p["total"]["tcp"]["segments_in"], 300);
  EXPECT_EQ(p["total"]["drops"]["bad_checksum"], 1);
}

TEST_F(StatsOutputTest, TextShowsSummaryRowsAndOnlyNonZeroDrops) {
  auto r = engine::StatsRegion::create(options(2));
  ASSERT_TRUE(r.ok());
  r.value()->publish(0, values(0), 1);
  r.value()->publish(1, values(1), 1);
  std::ostringstream out;
  print_stats_text(out, sample());
  const std::string t = out.str();
  for (const char* row : {"redirected", "engine 0", "engine 1", "total", "segments_in", "conns_accepted",
                          "kernel_rx_drops", "polls", "sleeps", "kicks", "drop bad_checksum"}) {
    EXPECT_NE(t.find(row), std::string::npos) << row << " missing:\n" << t;
  }
  EXPECT_EQ(t.find("drop no_socket"), std::string::npos) << t;
  EXPECT_NE(t.find("live, 2 engines, queues 0,1"), std::string::npos) << t;
}

TEST_F(StatsOutputTest, PrometheusParsesAndCarriesTheValues) {
  auto r = engine::StatsRegion::create(options(2));
  ASSERT_TRUE(r.ok());
  r.value()->publish(0, values(0), 1);
  r.value()->publish(1, values(1), 1);
  std::ostringstream out;
  print_prometheus(out, sample());
  const auto p = test::parse_prometheus(out.str());
  EXPECT_TRUE(p.errors.empty()) << ::testing::PrintToString(p.errors) << "\n" << out.str();
  const std::string pid = std::to_string(::getpid());
  const std::string e1 = "{iface=\"obq0\",pid=\"" + pid + "\",engine=\"1\"";
  EXPECT_EQ(p.samples.at("xdptcp_engine_segments_in_total" + e1 + "}"), 200);
  EXPECT_EQ(p.samples.at("xdptcp_engine_conns_accepted_total" + e1 + "}"), 4);
  EXPECT_EQ(p.samples.at("xdptcp_tcp_drops_total" + e1 + ",reason=\"bad_checksum\"}"), 1);
  EXPECT_EQ(p.samples.at("xdptcp_engine_io_kicks_total" + e1 + "}"), 0);
  EXPECT_EQ(p.samples.at("xdptcp_xdp_packets_total{iface=\"obq0\",verdict=\"redirected\"}"), 7);
  EXPECT_EQ(p.samples.at("xdptcp_xdp_seen_total{iface=\"obq0\"}"), 10);
  EXPECT_EQ(p.samples.at("xdptcp_stats_regions{iface=\"obq0\",state=\"live\"}"), 1);
  EXPECT_EQ(p.types.at("xdptcp_tcp_drops_total"), "counter");
  EXPECT_EQ(p.types.at("xdptcp_process_info"), "gauge");
  // Every counter of every engine, every drop reason of every engine.
  std::size_t drops = 0;
  for (const auto& [series, v] : p.samples) drops += series.starts_with("xdptcp_tcp_drops_total{") ? 1 : 0;
  EXPECT_EQ(drops, 2 * engine::counters::kDrops);
}

TEST_F(StatsOutputTest, PrometheusEscapesLabelsAndLeavesStaleProcessesOut) {
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto r = engine::StatsRegion::create(options(1));
    ::_exit(r.ok() ? 0 : 1);  // no destructor: the region stays, stale
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  auto live = engine::StatsRegion::create(options(1));
  ASSERT_TRUE(live.ok());
  StatsSample s = sample();
  ASSERT_EQ(s.regions.regions.size(), 2u);
  // A command name with a quote and a backslash, as a process may give itself.
  for (auto& r : s.regions.regions) {
    if (!r.stale()) r.comm = "we\"ird\\name";
  }
  std::ostringstream out;
  print_prometheus(out, s);
  const auto p = test::parse_prometheus(out.str());
  EXPECT_TRUE(p.errors.empty()) << ::testing::PrintToString(p.errors) << "\n" << out.str();
  EXPECT_EQ(p.samples.at("xdptcp_stats_regions{iface=\"obq0\",state=\"stale\"}"), 1);
  EXPECT_NE(out.str().find("comm=\"we\\\"ird\\\\name\""), std::string::npos) << out.str();
  EXPECT_EQ(out.str().find("pid=\"" + std::to_string(child) + "\""), std::string::npos)
      << "a dead process's series stay out";

  const json j = stats_json(s);
  ASSERT_EQ(j["processes"].size(), 2u);
  int stale = 0;
  for (const auto& pj : j["processes"]) {
    if (pj["state"] == "stale") {
      ++stale;
      EXPECT_EQ(pj["stale_reason"], "dead");
      EXPECT_EQ(pj["pid"], child);
    }
  }
  EXPECT_EQ(stale, 1);
  std::ostringstream text;
  print_stats_text(text, s);
  EXPECT_NE(text.str().find("STALE (the process is gone)"), std::string::npos) << text.str();
  EXPECT_NE(text.str().find("--clean"), std::string::npos) << text.str();
  EXPECT_NE(regions_summary(s.regions, "obq0").find("1 stale"), std::string::npos);
}

TEST_F(StatsOutputTest, RatesArePerSecondDifferences) {
  auto r = engine::StatsRegion::create(options(1));
  ASSERT_TRUE(r.ok());
  r.value()->publish(0, values(0, 1), 1);
  const StatsSample a = sample();
  r.value()->publish(0, values(0, 3), 2);  // segments_in 100 -> 300
  StatsSample b = sample();
  b.xdp->redirected = 27;  // 7 -> 27
  const json j = rates_json(a, b, 2.0);
  EXPECT_DOUBLE_EQ(j["interval_s"].get<double>(), 2.0);
  EXPECT_DOUBLE_EQ(j["counters"]["redirected"].get<double>(), 10.0);
  ASSERT_EQ(j["processes"].size(), 1u);
  EXPECT_DOUBLE_EQ(j["processes"][0]["engines"][0]["tcp"]["segments_in"].get<double>(), 100.0);
  EXPECT_DOUBLE_EQ(j["processes"][0]["total"]["tcp"]["conns_accepted"].get<double>(), 3.0);
  std::ostringstream out;
  print_rates_text(out, a, b, 2.0);
  EXPECT_NE(out.str().find("per second over the last 2.0 s"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("100.0"), std::string::npos) << out.str();
}

ParseOutcome parse(std::initializer_list<const char*> args) {
  std::vector<const char*> argv{"xdptcp-ctl"};
  argv.insert(argv.end(), args.begin(), args.end());
  return parse_command_line(static_cast<int>(argv.size()), argv.data());
}

TEST(StatsCommandLine, WatchCountPrometheusAndClean) {
  auto p = parse({"stats", "--iface", "eth9", "--json", "--watch", "0.5", "--count", "3"});
  ASSERT_TRUE(p.command.has_value()) << p.err;
  EXPECT_EQ(p.command->verb, Verb::kStats);
  EXPECT_TRUE(p.command->json);
  EXPECT_DOUBLE_EQ(p.command->watch_s, 0.5);
  EXPECT_EQ(p.command->count, 3u);
  p = parse({"stats", "--iface", "eth9", "--prometheus", "--clean"});
  ASSERT_TRUE(p.command.has_value()) << p.err;
  EXPECT_TRUE(p.command->prometheus);
  EXPECT_TRUE(p.command->clean);
  EXPECT_DOUBLE_EQ(p.command->watch_s, 0);
  EXPECT_EQ(p.command->count, 0u);
}

TEST(StatsCommandLine, ConflictingOptions_ExitUsage) {
  for (auto args : {std::initializer_list<const char*>{"stats", "--iface", "e", "--json", "--prometheus"},
                    {"stats", "--iface", "e", "--watch", "1", "--prometheus"},
                    {"stats", "--iface", "e", "--watch", "1", "--clean"},
                    {"stats", "--iface", "e", "--count", "2"},
                    {"stats", "--iface", "e", "--watch", "0"},
                    {"stats", "--iface", "e", "--watch", "-1"},
                    {"stats", "--iface", "e", "--watch", "1", "--count", "0"}}) {
    auto p = parse(args);
    EXPECT_FALSE(p.command.has_value())
        << ::testing::PrintToString(std::vector<std::string>(args.begin(), args.end()));
    EXPECT_EQ(p.exit_code, kExitUsage);
  }
}

// The checker the Prometheus tests rely on refuses what it should.
TEST(PrometheusCheck, RefusesMalformedText) {
  EXPECT_TRUE(test::parse_prometheus("# TYPE a counter\na{x=\"1\"} 2\na 3\n").errors.empty());
  EXPECT_FALSE(test::parse_prometheus("a{x=1} 2\n").errors.empty());               // unquoted label value
  EXPECT_FALSE(test::parse_prometheus("a{x=\"1\"}\n").errors.empty());             // no value
  EXPECT_FALSE(test::parse_prometheus("a-b 1\n").errors.empty());                  // bad name
  EXPECT_FALSE(test::parse_prometheus("a 1\nb 1\na 2\n").errors.empty());          // a's samples apart
  EXPECT_FALSE(test::parse_prometheus("a 1\n# TYPE a counter\n").errors.empty());  // TYPE after samples
  EXPECT_FALSE(test::parse_prometheus("a 1\na 2\n").errors.empty());               // duplicate series
}

}  // namespace
}  // namespace xdptcp::ctl
