// compare's summary: per stack the median and spread over rounds of throughput, CPU time per
// transaction (whole machine and server process) and latency percentiles, and the xdptcp/kernel
// ratio of each; as a text table or JSON with a top-level "ratio" for the workload's main figure
// (throughput for short, rr and bulk; p99 latency for latency).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/xdptcp_bench/client.h"

namespace xdptcp::bench {

struct StackRounds {
  std::string stack;
  std::vector<ClientResult> rounds;
};

struct Summary {
  double throughput = 0;     // median: transactions/s, or bytes/s for bulk
  double spread_pct = 0;     // (max - min) / median over rounds
  double cpu_us = 0;         // median machine CPU us per transaction (per MB for bulk)
  double server_cpu_us = 0;  // median server-process CPU us per transaction (per MB for bulk)
  double p50_us = 0, p99_us = 0, p999_us = 0;  // medians over rounds
  double errors = 0;                           // total
};

Summary summarize(const StackRounds& s);
// The workload's main figure's ratio xdptcp/kernel.
double main_ratio(Workload w, const Summary& kernel, const Summary& xdptcp);
void print_table(Workload w, const StackRounds& kernel, const StackRounds& xdptcp);
nlohmann::json table_json(Workload w, const StackRounds& kernel, const StackRounds& xdptcp);

}  // namespace xdptcp::bench
