// The xdptcp side's own counters, printed to stderr at the end of a server or client run (compare
// keeps them with --keep-logs): frames per connection on the wire, loop iterations, sleeps and
// TX kicks. What the copy-mode AF_XDP path charges per frame and per wake-up is most of a short
// transaction's cost, so these are the first figures to look at when tuning.
#pragma once

#include <cstdio>
#include <vector>

#include "xdptcp/xdptcp.hpp"

namespace xdptcp::bench {

inline void print_engine_report(const char* who, const std::vector<ContextStats>& stats) {
  ContextStats t;
  for (const auto& s : stats) {
    t.conns_accepted += s.conns_accepted;
    t.conns_opened += s.conns_opened;
    t.rx_frames += s.rx_frames;
    t.tx_frames += s.tx_frames;
    t.handoffs += s.handoffs;
    t.polls += s.polls;
    t.sleeps += s.sleeps;
    t.tx_kicks += s.tx_kicks;
    t.rx_kernel_drops += s.rx_kernel_drops;
  }
  const std::uint64_t n = t.conns_accepted + t.conns_opened;
  const double conns = n == 0 ? 1.0 : static_cast<double>(n);
  std::fprintf(stderr,
               "xdptcp-bench %s (xdptcp): %llu connections, frames rx %llu tx %llu; per connection: %.2f in, "
               "%.2f out, %.2f polls, %.2f sleeps, %.2f kicks; hand-offs %llu; kernel RX drops %llu\n",
               who, static_cast<unsigned long long>(n), static_cast<unsigned long long>(t.rx_frames),
               static_cast<unsigned long long>(t.tx_frames), static_cast<double>(t.rx_frames) / conns,
               static_cast<double>(t.tx_frames) / conns, static_cast<double>(t.polls) / conns,
               static_cast<double>(t.sleeps) / conns, static_cast<double>(t.tx_kicks) / conns,
               static_cast<unsigned long long>(t.handoffs),
               static_cast<unsigned long long>(t.rx_kernel_drops));
}

}  // namespace xdptcp::bench
