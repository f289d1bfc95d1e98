// A TCP_INFO snapshot of one connection (TcpStack::tcp_info): what the core's TCB tracks, in the
// units of Linux's struct tcp_info (microseconds, segments, bytes) so that the api layer can copy
// fields across. It is NOT struct tcp_info and has none of its layout: the api layer maps it and
// owns that ABI.
//
// Only what the TCB knows is filled; a field the core does not track stays zero and says so:
// lost and delivered (no per-segment retransmission queue; see bytes_acked), and nothing exists
// here for Linux's pacing/delivery rates, receiver RTT (rcv_rtt), busy/limited times, DSACK,
// ECN or Fast Open fields. Segment counts the core derives from byte counts (unacked, sacked,
// snd_cwnd, snd_ssthresh) are in units of the effective send MSS, rounded up.
#pragma once

#include <cstdint>

#include "userstack/tcp/tcp_state.h"

namespace xdptcp::tcp {

// Bits of TcpInfoSnapshot::options, with the values of Linux's TCPI_OPT_* (<linux/tcp.h>).
// TCPI_OPT_ECN (8), TCPI_OPT_ECN_SEEN (16), TCPI_OPT_SYN_DATA (32) are never set: the core has
// no ECN and no TCP Fast Open.
namespace tcpi_opt {
inline constexpr std::uint8_t kTimestamps = 1;  // RFC 7323 §3: timestamps negotiated
inline constexpr std::uint8_t kSack = 2;        // RFC 2018 §2: SACK-permitted both ways
inline constexpr std::uint8_t kWscale = 4;      // RFC 7323 §2: window scaling both ways
}  // namespace tcpi_opt

// The congestion-control state, with the values of Linux's enum tcp_ca_state (tcpi_ca_state).
// The core never enters CWR (no ECN).
enum class CaState : std::uint8_t { kOpen = 0, kDisorder = 1, kCwr = 2, kRecovery = 3, kLoss = 4 };

// snd_ssthresh before the first congestion event (Linux's TCP_INFINITE_SSTHRESH).
inline constexpr std::uint32_t kInfiniteSsthresh = 0x7fffffff;

struct TcpInfoSnapshot {
  TcpState state = TcpState::kClosed;
  // kRecovery in fast recovery (RFC 5681 §3.2 / RFC 6675 §5), kLoss after an RTO until an ACK
  // makes progress, kDisorder with duplicate ACKs or SACKed data outstanding, else kOpen.
  CaState ca_state = CaState::kOpen;
  std::uint8_t retransmits = 0;  // consecutive RTO expirations without progress (SYN retries too)
  std::uint8_t probes = 0;       // zero-window probes of this persist episode, or keepalive probes
  std::uint8_t backoff = 0;      // RTO doublings in force (RFC 6298 (5.5))
  std::uint8_t options = 0;      // tcpi_opt:: bits
  std::uint8_t snd_wscale = 0;   // the peer's shift, applied to windows it sends (RFC 7323 §2.3)
  std::uint8_t rcv_wscale = 0;   // our shift, applied to windows we send

  std::uint32_t rto_us = 0;   // current RTO, backoff included (RFC 6298)
  std::uint32_t ato_us = 0;   // delayed-ACK timeout (StackConfig::delayed_ack; fixed, not adaptive)
  std::uint32_t snd_mss = 0;  // effective send MSS: the peer's MSS option less the timestamps option
  // The largest payload the peer may send us: our MSS option less the timestamps option (Linux
  // estimates it from the segments seen instead).
  std::uint32_t rcv_mss = 0;
  std::uint32_t advmss = 0;  // the MSS option we send (MTU-based, capped by TCP_MAXSEG)
  std::uint32_t pmtu = 0;    // the link MTU (StackConfig::mtu; no path MTU discovery)

  std::uint32_t unacked = 0;  // segments in flight: (SND.MAX - SND.UNA) / snd_mss, rounded up
  std::uint32_t sacked = 0;   // segments SACKed above SND.UNA: SACKed bytes / snd_mss, rounded up
  std::uint32_t lost = 0;     // always 0: not tracked (the scoreboard marks holes lost lazily)

  // Milliseconds since the last data segment sent / received and the last acceptable segment
  // received (which always carries an ACK once synchronized); 0 before the handshake completes.
  std::uint32_t last_data_sent_ms = 0;
  std::uint32_t last_data_recv_ms = 0;
  std::uint32_t last_ack_recv_ms = 0;

  std::uint32_t rtt_us = 0;        // RFC 6298 SRTT; 0 before the first sample
  std::uint32_t rttvar_us = 0;     // RFC 6298 RTTVAR; 0 before the first sample
  std::uint32_t min_rtt_us = 0;    // smallest sample; 0 before the first
  std::uint32_t snd_ssthresh = 0;  // segments; kInfiniteSsthresh before a congestion event
  std::uint32_t snd_cwnd = 0;      // segments (cwnd bytes / snd_mss, at least 1 once connected)
  // DupThresh (RFC 6675 §2, fixed at 3, Linux's default tcp_reordering); reordering beyond it is
  // absorbed by the RFC 8985 §6.2 reordering window once reord_seen.
  std::uint32_t reordering = 0;
  std::uint32_t reord_seen = 0;  // 1 once the peer has shown reordering (a flag, not Linux's count)

  std::uint32_t rcv_space = 0;      // receive buffer capacity (no receive-buffer autotuning)
  std::uint32_t rcv_wnd = 0;        // window the peer may still fill: RCV.ADV - RCV.NXT
  std::uint32_t snd_wnd = 0;        // the peer's window, scaled (SND.WND)
  std::uint32_t notsent_bytes = 0;  // in the send buffer, never sent (Linux SIOCOUTQNSD)

  std::uint32_t total_retrans = 0;  // segments sent again, over the connection's life
  std::uint64_t bytes_sent = 0;     // payload bytes sent, retransmissions included
  std::uint64_t bytes_retrans = 0;  // payload bytes retransmitted
  // Payload bytes cumulatively acknowledged by the peer (Linux also counts the SYN and FIN).
  std::uint64_t bytes_acked = 0;
  std::uint64_t bytes_received = 0;  // payload bytes received in order (RCV.NXT advances)
  std::uint32_t segs_out = 0;        // segments sent by this connection (RSTs and ACKs included)
  std::uint32_t segs_in = 0;         // segments that reached this connection, acceptable or not
  std::uint32_t data_segs_out = 0;   // ... of which with payload
  std::uint32_t data_segs_in = 0;
  std::uint32_t delivered = 0;  // always 0: not tracked (segment-based in Linux; see bytes_acked)
};

}  // namespace xdptcp::tcp
