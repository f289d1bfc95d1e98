// `xdptcp-bench compare`: brings up a sandbox, then for each round runs the kernel server and the
// xdptcp server (alternating which goes first) on the stack side of the veth, and the same kernel
// client against each from the peer namespace; prints the table of compare_table.h (or JSON),
// optionally a chart. Tears everything down on every path, SIGINT included.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

#include "bench/xdptcp_bench/workload.h"

namespace xdptcp::bench {

struct CompareOptions {
  Workload workload = Workload::kShort;
  double duration_s = 5;
  double warmup_s = 1;
  int rounds = 3;
  unsigned engines = 2;         // xdptcp engines and kernel server threads
  unsigned queues = 0;          // sandbox veth queues; 0: as many as engines
  int connections = 0;          // 0: the workload's default
  std::size_t size = 0;         // 0: the workload's default
  unsigned client_threads = 0;  // 0: the client's default
  bool busy_poll = false;       // xdptcp server
  unsigned rx_batch = 64;       // xdptcp server
  bool json = false;
  std::string chart;  // PNG path, empty: none
  std::string sandbox_name = "bench";
  std::string sandbox_script = XDPTCP_SOURCE_DIR "/tools/sandbox.sh";
};

void add_compare_options(CLI::App& app, CompareOptions& o);
int run_compare(const CompareOptions& o);

}  // namespace xdptcp::bench
