// --stats-on-exit for the example programs: every engine's counters (Context::stats()), one line
// per engine and a total, in a "key=value" form that scripts and tests parse:
//   stats engine 0: conns_accepted=12 conns_opened=0 ... handoffs=0
//   stats total: conns_accepted=25 ...
#pragma once

#include <cinttypes>
#include <cstdio>
#include <vector>

#include "xdptcp/xdptcp.hpp"

namespace xdptcp::examples {

inline void print_stats_line(std::FILE* out, const char* label, const ContextStats& s) {
  std::fprintf(out,
               "stats %s: conns_accepted=%" PRIu64 " conns_opened=%" PRIu64 " conns_reset=%" PRIu64
               " conns_timed_out=%" PRIu64 " conns_refused=%" PRIu64 " segments_in=%" PRIu64
               " segments_out=%" PRIu64 " retransmits=%" PRIu64 " drops=%" PRIu64 " rx_frames=%" PRIu64
               " tx_frames=%" PRIu64 " handoffs=%" PRIu64 " handoffs_in=%" PRIu64 "\n",
               label, s.conns_accepted, s.conns_opened, s.conns_reset, s.conns_timed_out, s.conns_refused,
               s.segments_in, s.segments_out, s.retransmits, s.drops, s.rx_frames, s.tx_frames, s.handoffs,
               s.handoffs_in);
}

// Per-engine lines, then the sum.
inline void print_stats(std::FILE* out, const std::vector<ContextStats>& per_engine) {
  ContextStats t;
  for (const ContextStats& s : per_engine) {
    char label[32];
    std::snprintf(label, sizeof label, "engine %u", s.engine_id);
    print_stats_line(out, label, s);
    t.conns_accepted += s.conns_accepted;
    t.conns_opened += s.conns_opened;
    t.conns_reset += s.conns_reset;
    t.conns_timed_out += s.conns_timed_out;
    t.conns_refused += s.conns_refused;
    t.segments_in += s.segments_in;
    t.segments_out += s.segments_out;
    t.retransmits += s.retransmits;
    t.drops += s.drops;
    t.rx_frames += s.rx_frames;
    t.tx_frames += s.tx_frames;
    t.handoffs += s.handoffs;
    t.handoffs_in += s.handoffs_in;
  }
  print_stats_line(out, "total", t);
  std::fflush(out);
}

}  // namespace xdptcp::examples
