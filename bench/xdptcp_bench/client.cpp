// The benchmark client on either stack (see client.h).
#include "bench/xdptcp_bench/client.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#include "bench/xdptcp_bench/client_loop.h"
#include "bench/xdptcp_bench/core_pinning.h"
#include "bench/xdptcp_bench/cpu_stat.h"
#include "bench/xdptcp_bench/engine_report.h"
#include "bench/xdptcp_bench/fd_limit.h"
#include "bench/xdptcp_bench/net_kernel.h"
#include "bench/xdptcp_bench/net_xdptcp.h"
#include "bench/xdptcp_bench/signals.h"
#include "bench/xdptcp_bench/sockaddr_parse.h"
#include "xdptcp/xdptcp.hpp"

namespace xdptcp::bench {
namespace {

// The request bytes every connection sends (contents do not matter; the server echoes them).
const char* payload() {
  static const std::vector<char> p(kMaxMessage, 'x');
  return p.data();
}

// Connections of worker i when `total` are split over `n` workers.
int share(int total, unsigned n, unsigned i) {
  return total / static_cast<int>(n) + (static_cast<int>(i) < total % static_cast<int>(n) ? 1 : 0);
}

void summarize(const std::vector<ClientCounters>& per, ClientResult& r) {
  LatencyHistogram h;
  for (const auto& c : per) {
    r.txns += c.txns;
    r.bytes += c.bytes;
    r.errors += c.errors;
    h.merge(c.hist);
  }
  r.txn_per_s = r.duration_s > 0 ? static_cast<double>(r.txns) / r.duration_s : 0;
  r.bytes_per_s = r.duration_s > 0 ? static_cast<double>(r.bytes) / r.duration_s : 0;
  r.p50_us = static_cast<double>(h.percentile(0.50)) / 1e3;
  r.p99_us = static_cast<double>(h.percentile(0.99)) / 1e3;
  r.p999_us = static_cast<double>(h.percentile(0.999)) / 1e3;
}

}  // namespace

int default_connections(Workload w) {
  switch (w) {
    case Workload::kShort:
    case Workload::kRr:
      return 64;
    case Workload::kBulk:
    case Workload::kBulkReverse:
    case Workload::kLatency:
      return 1;
  }
  return 1;
}

bool run_client(const ClientOptions& o, ClientResult& r, std::string* error) {
  ClientPlan plan;
  plan.workload = o.workload;
  if (!parse_target(o.target, plan.target, plan.target_len)) {
    *error = "--target '" + o.target + "' is not IP:PORT (IPv6 as [addr]:port)";
    return false;
  }
  plan.connections = o.connections > 0 ? o.connections : default_connections(o.workload);
  plan.size = o.size > 0 ? std::min(o.size, kMaxMessage) : default_size(o.workload);
  const std::uint64_t start = now_ns();
  plan.measure_start_ns = start + static_cast<std::uint64_t>(o.warmup_s * 1e9);
  plan.end_ns = plan.measure_start_ns + static_cast<std::uint64_t>(o.duration_s * 1e9);
  r.stack = o.stack;
  r.workload = o.workload;
  r.connections = plan.connections;
  r.size = plan.size;
  r.duration_s = o.duration_s;
  const char* data = payload();
  CpuSample cpu0;
  double server0 = 0;
  std::vector<unsigned> server_cores;
  std::atomic<bool> cpu_taken{false};
  auto on_measure = [&] {
    if (cpu_taken.exchange(true)) return;
    // The server's threads are pinned by now (it printed "ready" before the client started).
    if (o.server_pid > 0) server_cores = process_cores(o.server_pid);
    cpu0 = read_cpu();
    if (o.server_pid > 0) server0 = read_process_cpu(o.server_pid);
  };

  std::vector<ClientCounters> per;
  if (o.stack == "xdptcp") {
    if (o.iface.empty()) {
      *error = "--stack xdptcp needs --iface";
      return false;
    }
    StackOptions so;
    so.iface = o.iface;
    so.engines = o.threads;
    so.busy_poll = o.busy_poll;
    so.pin_cores = true;
    so.first_core = o.first_core;
    so.rx_batch = o.rx_batch;
    so.time_wait_ms = o.time_wait_ms;
    if (o.spin_us >= 0) so.spin_us = static_cast<std::uint32_t>(o.spin_us);
    auto stack = Stack::create(so, error);
    if (!stack) return false;
    install_stop_handlers(stack.get());
    const unsigned n = stack->engines();
    r.threads = n;
    per.resize(n);
    std::vector<ContextStats> stats(n);
    stack->run([&](Context& ctx) {
      ClientPlan mine = plan;
      mine.connections = share(plan.connections, n, ctx.engine_id());
      XdptcpNet net(ctx);
      auto loop = std::make_unique<ClientLoop<XdptcpNet>>(net, mine, data, so.max_sockets);
      loop->run(per[ctx.engine_id()], on_measure);
      stats[ctx.engine_id()] = ctx.stats();
    });
    print_engine_report("client", stats);
  } else {
    install_stop_handlers(nullptr);
    const unsigned n =
        o.threads != 0
            ? o.threads
            : std::max(1u, std::min<unsigned>(core_count(), static_cast<unsigned>(plan.connections)));
    r.threads = n;
    per.resize(n);
    const std::size_t max_fd = raise_fd_limit();
    std::vector<std::thread> threads;
    for (unsigned i = 0; i < n; ++i) {
      threads.emplace_back([&, i] {
        if (o.pin) pin_to(core_of(o.first_core, i));
        ClientPlan mine = plan;
        mine.connections = share(plan.connections, n, i);
        KernelNet net(stop_flag(), o.busy_poll);
        auto loop = std::make_unique<ClientLoop<KernelNet>>(net, mine, data, max_fd);
        loop->run(per[i], on_measure);
      });
    }
    for (auto& t : threads) t.join();
  }
  const CpuSample cpu1 = read_cpu();
  if (o.server_pid > 0) {
    r.server_cpu_s = read_process_cpu(o.server_pid) - server0;
    r.server_softirq_s = cpu1.softirq_on(server_cores) - cpu0.softirq_on(server_cores);
    r.server_cores = cores_text(server_cores);
  }
  r.cpu_busy_s = cpu1.busy_s - cpu0.busy_s;
  r.cpu_total_s = cpu1.total_s - cpu0.total_s;
  r.cpu_steal_s = cpu1.steal_s - cpu0.steal_s;
  r.cpu_softirq_s = cpu1.softirq_s - cpu0.softirq_s;
  summarize(per, r);
  return true;
}

nlohmann::json to_json(const ClientResult& r) {
  return nlohmann::json{{"stack", r.stack},
                        {"workload", workload_name(r.workload)},
                        {"connections", r.connections},
                        {"threads", r.threads},
                        {"size", r.size},
                        {"duration_s", r.duration_s},
                        {"txns", r.txns},
                        {"bytes", r.bytes},
                        {"errors", r.errors},
                        {"txn_per_s", r.txn_per_s},
                        {"bytes_per_s", r.bytes_per_s},
                        {"p50_us", r.p50_us},
                        {"p99_us", r.p99_us},
                        {"p999_us", r.p999_us},
                        {"cpu_busy_s", r.cpu_busy_s},
                        {"cpu_total_s", r.cpu_total_s},
                        {"cpu_steal_s", r.cpu_steal_s},
                        {"cpu_softirq_s", r.cpu_softirq_s},
                        {"server_cpu_s", r.server_cpu_s},
                        {"server_softirq_s", r.server_softirq_s},
                        {"server_cores", r.server_cores}};
}

ClientResult client_result_from_json(const nlohmann::json& j) {
  ClientResult r;
  r.stack = j.at("stack").get<std::string>();
  r.workload = parse_workload(j.at("workload").get<std::string>()).value_or(Workload::kShort);
  r.connections = j.at("connections").get<int>();
  r.threads = j.at("threads").get<unsigned>();
  r.size = j.at("size").get<std::size_t>();
  r.duration_s = j.at("duration_s").get<double>();
  r.txns = j.at("txns").get<std::uint64_t>();
  r.bytes = j.at("bytes").get<std::uint64_t>();
  r.errors = j.at("errors").get<std::uint64_t>();
  r.txn_per_s = j.at("txn_per_s").get<double>();
  r.bytes_per_s = j.at("bytes_per_s").get<double>();
  r.p50_us = j.at("p50_us").get<double>();
  r.p99_us = j.at("p99_us").get<double>();
  r.p999_us = j.at("p999_us").get<double>();
  r.cpu_busy_s = j.at("cpu_busy_s").get<double>();
  r.cpu_total_s = j.at("cpu_total_s").get<double>();
  r.cpu_steal_s = j.value("cpu_steal_s", 0.0);
  r.cpu_softirq_s = j.value("cpu_softirq_s", 0.0);
  r.server_cpu_s = j.value("server_cpu_s", 0.0);
  r.server_softirq_s = j.value("server_softirq_s", 0.0);
  r.server_cores = j.value("server_cores", std::string());
  return r;
}

void print_text(const ClientResult& r) {
  std::printf("client (%s stack), workload %s: %d connections on %u threads, %zu-byte messages, %.1f s\n",
              r.stack.c_str(), workload_name(r.workload), r.connections, r.threads, r.size, r.duration_s);
  if (is_bulk(r.workload)) {
    std::printf("  throughput  %.1f MB/s (%.2f Gbit/s)\n", r.bytes_per_s / 1e6, r.bytes_per_s * 8 / 1e9);
  } else {
    std::printf("  throughput  %.0f transactions/s (%llu in total)\n", r.txn_per_s,
                static_cast<unsigned long long>(r.txns));
    std::printf("  latency     p50 %.1f us, p99 %.1f us, p99.9 %.1f us\n", r.p50_us, r.p99_us, r.p999_us);
  }
  const double per = r.txns > 0 ? r.cpu_busy_s / static_cast<double>(r.txns) * 1e6 : 0;
  std::printf("  cpu         %.2f s busy of %.2f s (all cores; %.2f s softirq; steal %.2f s not counted)%s",
              r.cpu_busy_s, r.cpu_total_s, r.cpu_softirq_s, r.cpu_steal_s, is_bulk(r.workload) ? "\n" : "");
  if (!is_bulk(r.workload)) std::printf(", %.2f us per transaction\n", per);
  if (!r.server_cores.empty())
    std::printf("  server      %.2f s user+system, %.2f s softirq on its cores (%s)\n", r.server_cpu_s,
                r.server_softirq_s, r.server_cores.c_str());
  std::printf("  errors      %llu\n", static_cast<unsigned long long>(r.errors));
}

}  // namespace xdptcp::bench
