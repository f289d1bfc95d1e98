// `xdptcp-bench server`: the benchmark server on the kernel's stack (epoll, SO_REUSEPORT, one
// pinned thread per core) or on xdptcp (one engine per queue), with the logic of server_loop.h.
// Prints "ready" on stdout once every thread/engine listens (compare waits for it) and runs until
// SIGINT/SIGTERM.
#pragma once

#include <string>

#include "bench/xdptcp_bench/workload.h"

namespace xdptcp::bench {

struct ServerOptions {
  std::string stack = "kernel";  // kernel | xdptcp
  Workload workload = Workload::kShort;
  int port = 9000;
  unsigned threads = 0;  // kernel threads or xdptcp engines; 0: one per core / RX queue
  std::string iface;     // xdptcp: the interface to serve on
  std::string ip;        // address to listen on (kernel: default any; xdptcp: default every address)
  bool pin = true;
  bool busy_poll = false;   // both stacks: spin instead of sleeping (a dedicated core)
  unsigned first_core = 0;  // with pinning: thread/engine i on core (first_core + i) % ncpu
  unsigned rx_batch = 64;
  int spin_us = -1;  // xdptcp: adaptive-polling window (-1: the stack's default)
};

// Returns the process exit status.
int run_server(const ServerOptions& o);

}  // namespace xdptcp::bench
