// Carrying out xdptcp-ctl's commands with userstack/kernel (attach, detach, status, steer, stats) and
// printing the results as text or JSON.
#pragma once

#include <ostream>

#include "tools/ctl/args.h"

namespace xdptcp::ctl {

// Runs `cmd`, printing results on `out` and errors on `err`; returns the exit code (args.h).
int run(const Command& cmd, std::ostream& out, std::ostream& err);

}  // namespace xdptcp::ctl
