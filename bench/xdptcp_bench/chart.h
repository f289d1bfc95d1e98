// compare's chart: the workload's main figure per round for each stack, as a PNG drawn by gnuplot.
#pragma once

#include <string>

#include "bench/xdptcp_bench/compare_table.h"

namespace xdptcp::bench {

// False with *error when gnuplot is missing or fails.
bool write_chart(const std::string& png, Workload w, const StackRounds& kernel, const StackRounds& xdptcp,
                 std::string* error);

}  // namespace xdptcp::bench
