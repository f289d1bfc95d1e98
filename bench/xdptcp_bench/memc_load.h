// `xdptcp-bench memc-load`: a memcached load generator (text protocol) on the kernel's TCP, for
// `xdptcp-bench app --app memcached`, which runs it in the sandbox's peer namespace as it runs wrk
// and redis-benchmark for the other apps. One thread, non-blocking connections in one epoll set
// (as redis-benchmark and wrk -t1 do); each connection keeps --pipeline requests in flight (1:
// request/response) on keys drawn at random from --keys. `--op get` first stores every key once
// (unmeasured), so that every get is a hit. Every reply is checked: a set must be STORED, a get must
// return the key's value byte for byte; anything else (a miss, an error line, a wrong value, a
// closed connection, an answer later than 1 s or none by then) is an error, counted and described.
// Prints one JSON object: requests, rate, latency percentiles, errors. `--probe` sends one `version`
// and prints the answer (app's check that the server serves).
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>

namespace xdptcp::bench {

struct MemcLoadOptions {
  std::string target;      // IP:PORT
  std::string op = "get";  // get | set
  int connections = 50;
  double duration_s = 5;
  int keys = 10000;
  std::size_t value_size = 32;
  int pipeline = 1;
  bool probe = false;
};

struct MemcLoadResult {
  double duration_s = 0;
  std::uint64_t requests = 0;
  std::uint64_t errors = 0;
  std::string error_detail;  // the first few errors
  double rps = 0;
  double p50_us = 0, p99_us = 0;
};

void add_memc_load_options(CLI::App& app, MemcLoadOptions& o);
// Runs the load (or the probe) and prints the result; the process's exit status.
int run_memc_load(const MemcLoadOptions& o);

}  // namespace xdptcp::bench
