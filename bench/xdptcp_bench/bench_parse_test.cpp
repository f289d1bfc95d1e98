// bench-smoke (no root needed): the parsing behind xdptcp-bench's accounting and link report, on
// canned input: /proc/stat with steal, guest and per-core softirq (machine busy time leaves out steal
// and guest; a server's softirq is that of its cores), CPU lists, `ethtool -k` and `ip -d link show`.
#include <gtest/gtest.h>

#include "bench/xdptcp_bench/cpu_stat.h"
#include "bench/xdptcp_bench/link_state.h"

namespace xdptcp::bench {
namespace {

// Two cores; fields: user nice system idle iowait irq softirq steal guest guest_nice.
constexpr const char* kStat =
    "cpu  1000 50 400 5000 20 10 300 700 200 30\n"
    "cpu0 600 30 200 2000 10 5 250 400 150 20\n"
    "cpu1 400 20 200 3000 10 5 50 300 50 10\n"
    "intr 12345 0 0\n"
    "ctxt 999\n"
    "softirq 1 2 3\n";

TEST(BenchCpuStat, ProcStat_BusyExcludesStealAndGuest) {
  ProcStat s;
  ASSERT_TRUE(parse_proc_stat(kStat, s));
  // busy = (user - guest) + (nice - guest_nice) + system + irq + softirq
  EXPECT_EQ(s.all.busy(), (1000u - 200u) + (50u - 30u) + 400u + 10u + 300u);
  // total counts every tick once: guest is inside user, steal is elapsed time too.
  EXPECT_EQ(s.all.total(), 1000u + 50u + 400u + 5000u + 20u + 10u + 300u + 700u);
  ASSERT_EQ(s.cores.size(), 2u);
  EXPECT_EQ(s.cores[0].softirq, 250u);
  EXPECT_EQ(s.cores[1].softirq, 50u);
  EXPECT_EQ(s.cores[1].steal, 300u);
}

TEST(BenchCpuStat, Sample_SoftirqOfTheServersCoresOnly) {
  ProcStat s;
  ASSERT_TRUE(parse_proc_stat(kStat, s));
  const CpuSample c = sample_from(s, 100);
  EXPECT_DOUBLE_EQ(c.busy_s, 15.3);
  EXPECT_DOUBLE_EQ(c.steal_s, 7.0);
  EXPECT_DOUBLE_EQ(c.softirq_s, 3.0);
  EXPECT_DOUBLE_EQ(c.softirq_on({1}), 0.5);
  EXPECT_DOUBLE_EQ(c.softirq_on({0, 1}), 3.0);
  EXPECT_DOUBLE_EQ(c.softirq_on({7}), 0.0);  // a core out of range counts nothing
  EXPECT_DOUBLE_EQ(c.softirq_on({}), 0.0);
}

TEST(BenchCpuStat, ProcStat_OldKernelWithoutStealOrGuest) {
  ProcStat s;
  ASSERT_TRUE(parse_proc_stat("cpu 10 0 5 100 1 0 2\ncpu0 10 0 5 100 1 0 2\n", s));
  EXPECT_EQ(s.all.steal, 0u);
  EXPECT_EQ(s.all.busy(), 17u);
  EXPECT_EQ(s.all.total(), 118u);
}

TEST(BenchCpuStat, ProcStat_RejectsTextWithoutACpuLine) {
  ProcStat s;
  EXPECT_FALSE(parse_proc_stat("", s));
  EXPECT_FALSE(parse_proc_stat("intr 1 2\n", s));
  EXPECT_FALSE(parse_proc_stat("cpu 1 2 x 4 5 6 7\n", s));
  EXPECT_FALSE(parse_proc_stat("cpu 1 2 3\n", s));
}

TEST(BenchCpuStat, CpuList_ParsesRangesAndRejectsGarbage) {
  std::vector<unsigned> c;
  ASSERT_TRUE(parse_cpu_list("0-2,5,7-8\n", c));
  EXPECT_EQ(c, (std::vector<unsigned>{0, 1, 2, 5, 7, 8}));
  EXPECT_EQ(cores_text(c), "0-2,5,7-8");
  ASSERT_TRUE(parse_cpu_list("1", c));
  EXPECT_EQ(cores_text(c), "1");
  EXPECT_FALSE(parse_cpu_list("", c));
  EXPECT_FALSE(parse_cpu_list("3-1", c));
  EXPECT_FALSE(parse_cpu_list("a", c));
}

TEST(BenchLinkState, EthtoolK_ReadsTheFiveFeatures) {
  const char* text =
      "Features for bench0:\n"
      "rx-checksumming: on\n"
      "tx-checksumming: off\n"
      "\ttx-checksum-ipv4: off [requested on]\n"
      "scatter-gather: on\n"
      "tcp-segmentation-offload: off\n"
      "\ttx-tcp-segmentation: off [requested on]\n"
      "generic-segmentation-offload: on\n"
      "generic-receive-offload: on\n"
      "large-receive-offload: off [fixed]\n";
  EndState e;
  ASSERT_TRUE(parse_ethtool_k(text, e));
  EXPECT_TRUE(e.rx);
  EXPECT_FALSE(e.tx);
  EXPECT_FALSE(e.tso);
  EXPECT_TRUE(e.gso);
  EXPECT_TRUE(e.gro);
  EXPECT_FALSE(e.all_on());
  EXPECT_FALSE(e.all_off());
  EXPECT_EQ(describe(e), "rx on, tx off, tso off, gso on, gro on; no XDP program");
  EndState missing;
  EXPECT_FALSE(parse_ethtool_k("rx-checksumming: on\n", missing));
  EXPECT_FALSE(missing.read);
}

TEST(BenchLinkState, IpLink_NamesTheXdpProgram) {
  EXPECT_EQ(parse_xdp_prog_name("3: bench1@if4: <BROADCAST> mtu 1500 xdp qdisc noqueue\n"
                                "    prog/xdp id 40931 name xdp_pass tag 614b jited\n"),
            "xdp_pass");
  EXPECT_EQ(parse_xdp_prog_name("3: bench1@if4: <BROADCAST> mtu 1500 qdisc noqueue\n"), "");
}

}  // namespace
}  // namespace xdptcp::bench
