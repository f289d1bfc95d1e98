// The preload library's settings, from XDPTCP_* environment variables (xdptcp-run sets them from
// its options; docs/PRELOAD.md lists them). Parsed once when the library loads.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace xdptcp::preload {

struct PreloadConfig {
  bool enabled = false;                // XDPTCP_IFACE set and every variable valid
  std::string iface;                   // XDPTCP_IFACE
  std::vector<std::string> addresses;  // XDPTCP_ADDRESSES, comma-separated; empty: the interface's
  unsigned engines = 1;                // XDPTCP_ENGINES (one event-loop thread drives one engine)
  bool busy_poll = false;              // XDPTCP_BUSY_POLL=1: spin instead of sleeping
  std::string bind_mode = "auto";      // XDPTCP_BIND_MODE: auto | zerocopy | copy
  // XDPTCP_QUEUES: which RX queues this process takes (StackOptions::queues). auto: "one" in a
  // process forked after its listeners were made (a prefork worker: each worker its own queue),
  // "free" otherwise; auto alone takes queues that stay free later (docs/PRELOAD.md). Or a list:
  // "0,2".
  std::string queues = "auto";
  std::size_t max_sockets = 16384;  // XDPTCP_MAX_SOCKETS
  std::size_t mem_budget_mib = 0;   // XDPTCP_MEM_BUDGET_MB (0: the stack's default, 1024)
  // XDPTCP_EXIT_LINGER_MS: at exit(), how long the process goes on driving its stack while
  // connections it closed still have data or a FIN unacknowledged (the kernel would send them after
  // the process ended; a user-level stack ends with its process). 0: do not wait.
  unsigned exit_linger_ms = 10000;
  int log_level = 1;  // XDPTCP_LOG: 0 errors only, 1 start-up, 2 every decision
  std::string error;  // why enabled is false although XDPTCP_IFACE is set
};

// Reads the variables from `getenv`. A bad value leaves enabled false and names the variable.
PreloadConfig read_config();

}  // namespace xdptcp::preload
