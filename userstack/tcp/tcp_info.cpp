// TCP_INFO (tcp_info.h) and the send-queue size SIOCOUTQNSD: read-only views of a TCB, on the
// control path (the application asks; nothing here runs per packet). The per-connection
// counters they report are kept by tcp_input.cpp, tcp_ack.cpp and tcp_output.cpp.
#include <algorithm>
#include <limits>

#include "userstack/tcp/cc/window_growth.h"
#include "userstack/tcp/tcp_stack_core.h"

namespace xdptcp::tcp {
namespace {

std::uint32_t micros(Duration d) {
  return static_cast<std::uint32_t>(
      std::clamp<std::int64_t>(d.as_micros(), 0, std::numeric_limits<std::uint32_t>::max()));
}

// Bytes as segments of `mss`, rounded up (the core keeps bytes; Linux counts segments).
std::uint32_t segments_up(std::uint64_t bytes, std::uint32_t mss) {
  return static_cast<std::uint32_t>((bytes + mss - 1) / mss);
}

}  // namespace

std::uint32_t StackCore::unsent_bytes(const TcpConnection& c) const {
  // Linux SIOCOUTQNSD is write_seq - snd_nxt, where Linux's snd_nxt never moves back; ours does
  // (an RTO pulls it to SND.UNA, RFC 6298 (5.4)), so SND.MAX marks the end of what was sent.
  const SeqNum data_end = c.snd_buf_seq + c.snd_buf_size();
  const SeqNum sent_end = seq_max(c.snd_max, c.snd_buf_seq);
  return data_end > sent_end ? static_cast<std::uint32_t>(data_end - sent_end) : 0u;
}

void StackCore::fill_tcp_info(const TcpConnection& c, TcpInfoSnapshot& out) const {
  const bool started = !in(c.state, {TcpState::kClosed, TcpState::kListen}) || c.ever_established;
  const std::uint32_t mss = effective_mss(c);

  out.state = c.state;
  if (c.in_recovery) {
    out.ca_state = CaState::kRecovery;
  } else if (c.rtx_count > 0) {
    out.ca_state = CaState::kLoss;  // an RTO, until an ACK makes progress (rtx_count = 0)
  } else if (c.dupacks > 0 || c.scoreboard.sacked_bytes() > 0) {
    out.ca_state = CaState::kDisorder;
  }
  out.retransmits = c.rtx_count;
  out.probes = c.persist_mode ? c.persist_backoff : c.keepalive_probes_out;
  out.backoff = static_cast<std::uint8_t>(std::min(c.rtt.backoff_count(), 255u));
  if (c.ts_ok) out.options |= tcpi_opt::kTimestamps;
  if (c.sack_ok) out.options |= tcpi_opt::kSack;
  if (c.ws_ok) {
    out.options |= tcpi_opt::kWscale;
    out.snd_wscale = c.snd_wscale;
    out.rcv_wscale = c.rcv_wscale;
  }

  out.rto_us = micros(c.rtt.rto());
  out.ato_us = micros(cfg.delayed_ack);
  out.snd_mss = mss;
  // Before any handshake the TCB's rcv_mss is a placeholder: report what a SYN would carry.
  out.advmss = started ? c.rcv_mss : advertised_mss(c.family, c.user_mss);
  out.rcv_mss = out.advmss > (c.ts_ok ? kTsOptionLen : 0) ? out.advmss - (c.ts_ok ? kTsOptionLen : 0) : 0;
  out.pmtu = cfg.mtu;

  if (started) {
    out.unacked = segments_up(flight_size(c), mss);
    out.sacked = segments_up(c.scoreboard.sacked_bytes(), mss);
  }
  // lost: 0 (tcp_info.h).

  if (c.rtt.has_sample()) {
    out.rtt_us = micros(c.rtt.srtt());
    out.rttvar_us = micros(c.rtt.rttvar());
    out.min_rtt_us = micros(c.rtt.min_rtt());
  }
  if (c.cc != nullptr) {
    const std::uint32_t ssthresh = c.cc->ssthresh();
    out.snd_ssthresh = ssthresh >= cc::kMaxWindow ? kInfiniteSsthresh : ssthresh / mss;
    out.snd_cwnd = std::max<std::uint32_t>(c.cc->cwnd() / mss, 1);
  }
  out.reordering = SackScoreboard::kDupThresh;
  out.reord_seen = c.reordering_seen ? 1 : 0;

  out.rcv_space = c.rcv_buf ? static_cast<std::uint32_t>(c.rcv_buf->capacity()) : c.rcvbuf;
  out.rcv_wnd = c.rcv_adv > c.rcv_nxt ? static_cast<std::uint32_t>(c.rcv_adv - c.rcv_nxt) : 0u;
  out.snd_wnd = c.snd_wnd;
  out.notsent_bytes = unsent_bytes(c);

  out.total_retrans = c.total_retrans;
  out.bytes_sent = c.bytes_sent;
  out.bytes_retrans = c.bytes_retrans;
  out.bytes_acked = c.bytes_acked;
  out.bytes_received = c.bytes_received;
  out.segs_out = c.segs_out;
  out.segs_in = c.segs_in;
  out.data_segs_out = c.data_segs_out;
  out.data_segs_in = c.data_segs_in;
  // delivered: 0 (tcp_info.h). The last_*_ms fields need the caller's clock: TcpStack::tcp_info.
}

}  // namespace xdptcp::tcp
