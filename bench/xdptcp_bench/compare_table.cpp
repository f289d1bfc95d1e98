// compare's summary table and JSON (see compare_table.h).
#include "bench/xdptcp_bench/compare_table.h"
#include "bench/xdptcp_bench/round_stats.h"

#include <algorithm>
#include <cstdio>

namespace xdptcp::bench {
namespace {

bool bulk(Workload w) {
  return is_bulk(w);
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
  std::vector<double> tp, cpu, scpu, ssi, steal, p50, p99, p999;
  for (const auto& r : s.rounds) {
    tp.push_back(bulk(r.workload) ? r.bytes_per_s : r.txn_per_s);
    const double u = units(r);
    cpu.push_back(u > 0 ? r.cpu_busy_s / u * 1e6 : 0);
    scpu.push_back(u > 0 ? (r.server_cpu_s + r.server_softirq_s) / u * 1e6 : 0);
    ssi.push_back(u > 0 ? r.server_softirq_s / u * 1e6 : 0);
    steal.push_back(r.cpu_total_s > 0 ? r.cpu_steal_s / r.cpu_total_s * 100 : 0);
    p50.push_back(r.p50_us);
    p99.push_back(r.p99_us);
    p999.push_back(r.p999_us);
    out.errors += static_cast<double>(r.errors);
  }
  out.throughput = median(tp);
  out.spread_pct = spread_pct(tp, out.throughput);
  out.cpu_us = median(cpu);
  out.server_cpu_us = median(scpu);
  out.server_softirq_us = median(ssi);
  out.steal_pct = median(steal);
  out.p50_us = median(p50);
  out.p99_us = median(p99);
  out.p999_us = median(p999);
  return out;
}

double main_ratio(Workload w, const Summary& k, const Summary& x) {
  return w == Workload::kLatency ? ratio(x.p99_us, k.p99_us) : ratio(x.throughput, k.throughput);
}

namespace {

// One line per stack: what its legs had on the link, from the first round (and whether later
// rounds differed).
void print_links(const StackRounds& s) {
  if (s.links.empty()) return;
  const LinkState& l = s.links.front();
  bool same = true;
  for (const auto& o : s.links) {
    same = same && describe(o.stack_end) == describe(l.stack_end) &&
           describe(o.peer_end) == describe(l.peer_end);
  }
  std::printf("%s legs: stack end %s | peer end %s%s\n", s.stack.c_str(), describe(l.stack_end).c_str(),
              describe(l.peer_end).c_str(), same ? "" : " (first round; later rounds differed: see --json)");
}

}  // namespace

void print_table(Workload w, const StackRounds& kernel, const StackRounds& xdptcp, const std::string& title) {
  const Summary k = summarize(kernel), x = summarize(xdptcp);
  const bool b = bulk(w);
  const char* tpu = b ? "MB/s" : "txn/s";
  const char* cu = b ? "us/MB" : "us/txn";
  const double scale = b ? 1e-6 : 1;
  if (!title.empty()) std::printf("%s\n", title.c_str());
  std::printf(
      "workload %s, %zu rounds each (medians; spread = (max-min)/median of throughput; server = its\n"
      "process + softirq of its cores, of which softirq in 'si'; steal is not counted as busy)\n",
      workload_name(w), std::max(kernel.rounds.size(), xdptcp.rounds.size()));
  std::printf("%-8s %14s %8s %12s %12s %10s %10s %10s %10s %8s %7s\n", "stack", tpu, "spread", cu, "server",
              "si", "p50 us", "p99 us", "p99.9 us", "errors", "steal");
  auto row = [&](const char* name, const Summary& s) {
    std::printf("%-8s %14.1f %7.1f%% %12.2f %12.2f %10.2f %10.1f %10.1f %10.1f %8.0f %6.1f%%\n", name,
                s.throughput * scale, s.spread_pct, s.cpu_us, s.server_cpu_us, s.server_softirq_us, s.p50_us,
                s.p99_us, s.p999_us, s.errors, s.steal_pct);
  };
  row("kernel", k);
  row("xdptcp", x);
  std::printf("%-8s %13.2fx %8s %11.2fx %11.2fx %9.2fx %9.2fx %9.2fx %9.2fx\n", "ratio",
              ratio(x.throughput, k.throughput), "", ratio(x.cpu_us, k.cpu_us),
              ratio(x.server_cpu_us, k.server_cpu_us), ratio(x.server_softirq_us, k.server_softirq_us),
              ratio(x.p50_us, k.p50_us), ratio(x.p99_us, k.p99_us), ratio(x.p999_us, k.p999_us));
  print_links(kernel);
  print_links(xdptcp);
  std::printf("main figure (%s) xdptcp/kernel: %.2fx\n",
              w == Workload::kLatency ? "p99 latency" : "throughput", main_ratio(w, k, x));
}

nlohmann::json table_json(Workload w, const StackRounds& kernel, const StackRounds& xdptcp) {
  const Summary k = summarize(kernel), x = summarize(xdptcp);
  auto side = [&](const StackRounds& s, const Summary& m) {
    nlohmann::json rounds = nlohmann::json::array();
    for (std::size_t i = 0; i < s.rounds.size(); ++i) {
      nlohmann::json r = to_json(s.rounds[i]);
      if (i < s.links.size()) r["link"] = to_json(s.links[i]);
      rounds.push_back(r);
    }
    return nlohmann::json{{"throughput", m.throughput},
                          {"throughput_unit", bulk(w) ? "bytes/s" : "txn/s"},
                          {"spread_pct", m.spread_pct},
                          {"cpu_us_per_unit", m.cpu_us},
                          {"server_cpu_us_per_unit", m.server_cpu_us},
                          {"server_softirq_us_per_unit", m.server_softirq_us},
                          {"steal_pct", m.steal_pct},
                          {"cpu_unit", bulk(w) ? "MB" : "txn"},
                          {"p50_us", m.p50_us},
                          {"p99_us", m.p99_us},
                          {"p999_us", m.p999_us},
                          {"errors", m.errors},
                          {"rounds", rounds}};
  };
  nlohmann::json j{{"workload", workload_name(w)},
                   {"ratio", main_ratio(w, k, x)},
                   {"main_figure", w == Workload::kLatency ? "p99_us" : "throughput"},
                   {"ratios",
                    {{"throughput", ratio(x.throughput, k.throughput)},
                     {"cpu_per_unit", ratio(x.cpu_us, k.cpu_us)},
                     {"server_cpu_per_unit", ratio(x.server_cpu_us, k.server_cpu_us)},
                     {"server_softirq_per_unit", ratio(x.server_softirq_us, k.server_softirq_us)},
                     {"p50", ratio(x.p50_us, k.p50_us)},
                     {"p99", ratio(x.p99_us, k.p99_us)},
                     {"p999", ratio(x.p999_us, k.p999_us)}}},
                   {"kernel", side(kernel, k)},
                   {"xdptcp", side(xdptcp, x)}};
  if (bulk(w)) j["direction"] = w == Workload::kBulk ? "server receives" : "server sends";
  return j;
}

}  // namespace xdptcp::bench
