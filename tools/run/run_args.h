// xdptcp-run's command line: options (each also an XDPTCP_* variable) and the command to run.
// Parsing is separate from running so that tests/unit/run can test it without root.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace xdptcp::run {

struct RunOptions {
  std::string iface;
  std::vector<std::string> addresses;
  unsigned engines = 1;
  bool busy_poll = false;
  std::string bind_mode = "auto";
  std::string queues = "auto";  // XDPTCP_QUEUES (StackOptions::queues; auto is the library's)
  unsigned max_sockets = 16384;
  unsigned mem_budget_mib = 1024;   // XDPTCP_MEM_BUDGET_MB: buffer memory per engine
  unsigned exit_linger_ms = 10000;  // XDPTCP_EXIT_LINGER_MS: how long exit() waits for closed connections
  int log_level = 1;
  std::vector<std::string> command;  // CMD ARGS...
};

struct RunParse {
  std::optional<RunOptions> options;  // set when the command should run
  int exit_code = 0;                  // otherwise: 0 after --help, 64 (EX_USAGE) on a bad argument
  std::string out;                    // what to print on stdout (help)
  std::string err;                    // what to print on stderr (the argument at fault)
};

// argv as main() has it; `env` looks a variable up (getenv in production).
RunParse parse_run_args(int argc, const char* const* argv, const char* (*env)(const char*));

// The environment the command gets: XDPTCP_* from the options, LD_PRELOAD with the library first.
std::vector<std::pair<std::string, std::string>> preload_environment(const RunOptions& o,
                                                                     const std::string& library,
                                                                     const char* existing_ld_preload);

}  // namespace xdptcp::run
