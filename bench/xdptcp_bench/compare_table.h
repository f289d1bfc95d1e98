// compare's summary: per stack the median and spread over rounds of throughput, CPU time per
// transaction (whole machine without steal; the server process plus the softirq time of its cores)
// and latency percentiles, and the xdptcp/kernel ratio of each, and what each stack's leg had on the
// link (offloads, XDP programs); as a text table or JSON with a top-level "ratio" for the workload's
// main figure (throughput for short, rr and bulk; p99 latency for latency). bulk has two tables, one
// per direction (the server receives; the server sends).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/xdptcp_bench/client.h"
#include "bench/xdptcp_bench/link_state.h"

namespace xdptcp::bench {

struct StackRounds {
  std::string stack;
  std::vector<ClientResult> rounds;
  std::vector<LinkState> links;  // per round, read back during it (empty: not recorded)
};

struct Summary {
  double throughput = 0;  // median: transactions/s, or bytes/s for bulk
  double spread_pct = 0;  // (max - min) / median over rounds
  double cpu_us = 0;      // median machine CPU us per transaction (per MB for bulk)
  // median server CPU us per transaction (per MB for bulk): its process's user+system time plus the
  // softirq time of the cores it is pinned to (cpu_stat.h), and of that the softirq part
  double server_cpu_us = 0;
  double server_softirq_us = 0;
  double steal_pct = 0;  // median share of the window's elapsed CPU time that was stolen (not counted)
  double p50_us = 0, p99_us = 0, p999_us = 0;  // medians over rounds
  double errors = 0;                           // total
};

Summary summarize(const StackRounds& s);
// The workload's main figure's ratio xdptcp/kernel.
double main_ratio(Workload w, const Summary& kernel, const Summary& xdptcp);
// title: a line printed above the table ("" for none).
void print_table(Workload w, const StackRounds& kernel, const StackRounds& xdptcp,
                 const std::string& title = "");
nlohmann::json table_json(Workload w, const StackRounds& kernel, const StackRounds& xdptcp);

}  // namespace xdptcp::bench
