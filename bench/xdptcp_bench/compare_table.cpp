// compare's summary table and JSON (see compare_table.h).
#include "bench/xdptcp_bench/compare_table.h"
#include "bench/xdptcp_bench/round_stats.h"

#include <algorithm>
#include <cstdio>

namespace xdptcp::bench {
namespace {

bool bulk(Workload w) {
  return w == Workload::kBulk;
}

// Units of work for CPU cost: transactions, or megabytes for bulk.
double units(const ClientResult& r) {
  return bulk(r.workload) ? static_cast<double>(r.bytes) / 1e6 : static_cast<double>(r.txns);
}

double ratio(double x, double k) {
  return k > 0 ? x / k : 0;
}

}  // namespace

Summary summarize(const StackRounds& s) {
  Summary out;
  std::vector<double> tp, cpu, scpu, p50, p99, p999;
  for (const auto& r : s.rounds) {
    tp.push_back(bulk(r.workload) ? r.bytes_per_s : r.txn_per_s);
    const double u = units(r);
    cpu.push_back(u > 0 ? r.cpu_busy_s / u * 1e6 : 0);
    scpu.push_back(u > 0 ? r.server_cpu_s / u * 1e6 : 0);
    p50.push_back(r.p50_us);
    p99.push_back(r.p99_us);
    p999.push_back(r.p999_us);
    out.errors += static_cast<double>(r.errors);
  }
  out.throughput = median(tp);
  out.spread_pct = spread_pct(tp, out.throughput);
  out.cpu_us = median(cpu);
  out.server_cpu_us = median(scpu);
  out.p50_us = median(p50);
  out.p99_us = median(p99);
  out.p999_us = median(p999);
  return out;
}

double main_ratio(Workload w, const Summary& k, const Summary& x) {
  return w == Workload::kLatency ? ratio(x.p99_us, k.p99_us) : ratio(x.throughput, k.throughput);
}

void print_table(Workload w, const StackRounds& kernel, const StackRounds& xdptcp) {
  const Summary k = summarize(kernel), x = summarize(xdptcp);
  const bool b = bulk(w);
  const char* tpu = b ? "MB/s" : "txn/s";
  const char* cu = b ? "us/MB" : "us/txn";
  const double scale = b ? 1e-6 : 1;
  std::printf("workload %s, %zu rounds each (medians; spread = (max-min)/median of throughput)\n",
              workload_name(w), std::max(kernel.rounds.size(), xdptcp.rounds.size()));
  std::printf("%-8s %14s %8s %12s %12s %10s %10s %10s %8s\n", "stack", tpu, "spread", cu, "server", "p50 us",
              "p99 us", "p99.9 us", "errors");
  auto row = [&](const char* name, const Summary& s) {
    std::printf("%-8s %14.1f %7.1f%% %12.2f %12.2f %10.1f %10.1f %10.1f %8.0f\n", name, s.throughput * scale,
                s.spread_pct, s.cpu_us, s.server_cpu_us, s.p50_us, s.p99_us, s.p999_us, s.errors);
  };
  row("kernel", k);
  row("xdptcp", x);
  std::printf("%-8s %13.2fx %8s %11.2fx %11.2fx %9.2fx %9.2fx %9.2fx\n", "ratio",
              ratio(x.throughput, k.throughput), "", ratio(x.cpu_us, k.cpu_us),
              ratio(x.server_cpu_us, k.server_cpu_us), ratio(x.p50_us, k.p50_us), ratio(x.p99_us, k.p99_us),
              ratio(x.p999_us, k.p999_us));
  std::printf("main figure (%s) xdptcp/kernel: %.2fx\n",
              w == Workload::kLatency ? "p99 latency" : "throughput", main_ratio(w, k, x));
}

nlohmann::json table_json(Workload w, const StackRounds& kernel, const StackRounds& xdptcp) {
  const Summary k = summarize(kernel), x = summarize(xdptcp);
  auto side = [&](const StackRounds& s, const Summary& m) {
    nlohmann::json rounds = nlohmann::json::array();
    for (const auto& r : s.rounds) rounds.push_back(to_json(r));
    return nlohmann::json{{"throughput", m.throughput},
                          {"throughput_unit", bulk(w) ? "bytes/s" : "txn/s"},
                          {"spread_pct", m.spread_pct},
                          {"cpu_us_per_unit", m.cpu_us},
                          {"server_cpu_us_per_unit", m.server_cpu_us},
                          {"cpu_unit", bulk(w) ? "MB" : "txn"},
                          {"p50_us", m.p50_us},
                          {"p99_us", m.p99_us},
                          {"p999_us", m.p999_us},
                          {"errors", m.errors},
                          {"rounds", rounds}};
  };
  return nlohmann::json{{"workload", workload_name(w)},
                        {"ratio", main_ratio(w, k, x)},
                        {"main_figure", w == Workload::kLatency ? "p99_us" : "throughput"},
                        {"ratios",
                         {{"throughput", ratio(x.throughput, k.throughput)},
                          {"cpu_per_unit", ratio(x.cpu_us, k.cpu_us)},
                          {"server_cpu_per_unit", ratio(x.server_cpu_us, k.server_cpu_us)},
                          {"p50", ratio(x.p50_us, k.p50_us)},
                          {"p99", ratio(x.p99_us, k.p99_us)},
                          {"p999", ratio(x.p999_us, k.p999_us)}}},
                        {"kernel", side(kernel, k)},
                        {"xdptcp", side(xdptcp, x)}};
}

}  // namespace xdptcp::bench
