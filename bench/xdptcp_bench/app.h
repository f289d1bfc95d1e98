// `xdptcp-bench app --app nginx|redis|memcached`: an unmodified Debian server on the kernel's TCP
// against the same binary under `xdptcp-run` (libxdptcp-preload.so), with the same client (wrk,
// redis-benchmark, or memcached's: `xdptcp-bench memc-load`, memc_load.h) from the sandbox's peer
// namespace, in alternating rounds (which stack goes first alternates). The server is pinned to one
// core and the client to another (taskset), for both stacks.
// Each round starts the server afresh, waits until it serves (curl / redis-cli PING / memc-load
// --probe from the peer), runs every workload of the app (a warm-up, then the measured run), and
// stops it (by pid, waiting for its processes to exit and its port to be free). Prints a table like
// compare's, or JSON, per workload: throughput median and spread, machine busy CPU us per request
// (/proc/stat) and the server processes' CPU us per request (/proc/<pid>/stat of the nginx master and
// workers, or of redis-server / memcached with all its threads), and the xdptcp/kernel ratios. A run
// whose client saw errors (wrk's socket errors or non-2xx responses, redis-benchmark's error replies,
// memc-load's misses, error replies and wrong values) is reported as such and the exit status is 1.
// Tears the sandbox and every child down on every path, SIGINT included.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

namespace xdptcp::bench {

struct AppOptions {
  std::string app = "nginx";  // nginx | redis | memcached
  int duration_s = 5;         // wrk: seconds per run; redis: sizes --requests when it is 0
  int warmup_s = 1;           // an unmeasured client run of this length before each measured one
  int rounds = 3;
  long requests = 0;    // redis: requests per test; 0: about --duration s at the first warm-up's rate
  int connections = 0;  // 0: 64 for nginx (wrk -c64), 50 for redis (redis-benchmark -c 50) and memcached
  int port =
      0;  // the kernel's server port, xdptcp's is port + 1; 0: 19081 nginx, 19379 redis, 19211 memcached
  unsigned queues = 2;  // sandbox veth queues (xdptcp-run's one engine serves them all)
  // nginx: `open_file_cache` on (both stacks), which saves the open/fstat/close of the file per
  // request that Debian's default configuration makes (docs/PERFORMANCE.md).
  bool open_file_cache = false;
  // memcached: worker threads (-t; Debian's default is 4, 2 here: one per core of the machine the
  // figures were taken on), and the values memc-load sets and gets.
  int memcached_threads = 2;
  std::size_t value_size = 32;
  int keys = 10000;
  int pipeline = 1;         // memcached: requests in flight per connection (1: request/response)
  int nginx_workers = 1;    // nginx: worker_processes (several: one RX queue each under xdptcp-run)
  std::string server_cpus;  // taskset list for the server ("0,1"); empty: server_core
  unsigned server_core = 1;
  unsigned client_core = 0;
  bool json = false;
  bool keep_logs = false;  // keep the servers' and clients' logs and configurations, and say where
  std::string sandbox_name = "benchapp";
  std::string sandbox_script = XDPTCP_SOURCE_DIR "/tools/sandbox.sh";
  std::string xdptcp_run;  // empty: xdptcp-run beside this program
};

void add_app_options(CLI::App& app, AppOptions& o);
int run_app(const AppOptions& o);

}  // namespace xdptcp::bench
