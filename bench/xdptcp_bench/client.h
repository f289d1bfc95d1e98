// `xdptcp-bench client`: the benchmark client on the kernel's stack (epoll, threads with many
// non-blocking connections each) or on xdptcp (one engine per queue), with the logic of
// client_loop.h. Reports throughput, latency percentiles, errors and the machine's CPU time
// (/proc/stat, all cores, steal excluded) over the measured window, and with --server-pid the
// server's own CPU time plus the softirq time of its cores, as text or one JSON object.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "bench/xdptcp_bench/workload.h"

namespace xdptcp::bench {

struct ClientOptions {
  std::string stack = "kernel";  // kernel | xdptcp
  Workload workload = Workload::kShort;
  std::string target;   // IP:PORT
  int connections = 0;  // 0: the workload's default
  double duration_s = 5;
  double warmup_s = 1;
  std::size_t size = 0;     // 0: the workload's default
  unsigned threads = 0;     // kernel threads or xdptcp engines; 0: default
  std::string iface;        // xdptcp: the interface to run on
  bool busy_poll = false;   // both stacks: spin instead of sleeping (a dedicated core)
  unsigned first_core = 0;  // with pinning: thread/engine i on core (first_core + i) % ncpu
  bool pin = false;
  int server_pid = 0;      // when set, that process's CPU time is measured too
  unsigned rx_batch = 64;  // xdptcp: frames per receive burst
  int spin_us = -1;        // xdptcp: adaptive-polling window (-1: the stack's default)
  // xdptcp: TIME-WAIT length. The client closes first and so holds the TIME-WAITs; the kernel
  // client reuses them after 1 s (tcp_tw_reuse=1 in compare's peer namespace), and this is the
  // xdptcp client's equivalent (without it, `short` runs out of ports and TCBs within seconds).
  // The client's ports (10000-65535 in compare's peer namespace) are each held for a TIME-WAIT:
  // at 1 s that caps a client near 55k connections/s, which the xdptcp server exceeds (and the
  // client then fails connects). 250 ms lifts the cap to ~220k/s; both servers meet the same client.
  unsigned time_wait_ms = 250;
};

struct ClientResult {
  std::string stack;
  Workload workload = Workload::kShort;
  int connections = 0;
  unsigned threads = 0;
  std::size_t size = 0;
  double duration_s = 0;
  std::uint64_t txns = 0;
  std::uint64_t bytes = 0;
  std::uint64_t errors = 0;
  double txn_per_s = 0;
  double bytes_per_s = 0;
  double p50_us = 0, p99_us = 0, p999_us = 0;
  double cpu_busy_s = 0;     // all cores, over the measured window, without steal and guest (cpu_stat.h)
  double cpu_total_s = 0;    // all cores' elapsed time (busy + idle + steal) over the window
  double cpu_steal_s = 0;    // all cores' steal time over the window (not in cpu_busy_s)
  double cpu_softirq_s = 0;  // all cores' softirq time over the window (in cpu_busy_s)
  double server_cpu_s = 0;   // the --server-pid process's user+system time over the window
  // Softirq time over the window of the cores the --server-pid process's threads may run on
  // (server_cores): the kernel's receive work there, which server_cpu_s leaves out (cpu_stat.h).
  double server_softirq_s = 0;
  std::string server_cores;  // e.g. "1" or "0-1"
};

int default_connections(Workload w);
// Runs the client; false (with *error) when it could not start.
bool run_client(const ClientOptions& o, ClientResult& r, std::string* error);
nlohmann::json to_json(const ClientResult& r);
ClientResult client_result_from_json(const nlohmann::json& j);
void print_text(const ClientResult& r);

}  // namespace xdptcp::bench
