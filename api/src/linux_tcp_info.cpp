// Linux's struct tcp_info from the stack's snapshot; see linux_tcp_info.h.
#include "api/src/linux_tcp_info.h"

#include <linux/tcp.h>

#include <algorithm>
#include <cstring>

namespace xdptcp::detail {

namespace {

// Linux's TCP_ESTABLISHED.. values (include/net/tcp_states.h).
std::uint8_t linux_state(tcp::TcpState s) {
  switch (s) {
    case tcp::TcpState::kEstablished:
      return 1;
    case tcp::TcpState::kSynSent:
      return 2;
    case tcp::TcpState::kSynReceived:
      return 3;
    case tcp::TcpState::kFinWait1:
      return 4;
    case tcp::TcpState::kFinWait2:
      return 5;
    case tcp::TcpState::kTimeWait:
      return 6;
    case tcp::TcpState::kClosed:
      return 7;
    case tcp::TcpState::kCloseWait:
      return 8;
    case tcp::TcpState::kLastAck:
      return 9;
    case tcp::TcpState::kListen:
      return 10;
    case tcp::TcpState::kClosing:
      return 11;
  }
  return 7;
}

}  // namespace

void linux_tcp_info(const tcp::TcpInfoSnapshot& s, void* out, socklen_t* len) {
  tcp_info t{};
  t.tcpi_state = linux_state(s.state);
  t.tcpi_ca_state = static_cast<std::uint8_t>(s.ca_state);
  t.tcpi_retransmits = s.retransmits;
  t.tcpi_probes = s.probes;
  t.tcpi_backoff = s.backoff;
  t.tcpi_options = s.options;
  t.tcpi_snd_wscale = s.snd_wscale & 0xf;
  t.tcpi_rcv_wscale = s.rcv_wscale & 0xf;
  t.tcpi_rto = s.rto_us;
  t.tcpi_ato = s.ato_us;
  t.tcpi_snd_mss = s.snd_mss;
  t.tcpi_rcv_mss = s.rcv_mss;
  t.tcpi_unacked = s.unacked;
  t.tcpi_sacked = s.sacked;
  t.tcpi_lost = s.lost;
  t.tcpi_last_data_sent = s.last_data_sent_ms;
  t.tcpi_last_data_recv = s.last_data_recv_ms;
  t.tcpi_last_ack_recv = s.last_ack_recv_ms;
  t.tcpi_pmtu = s.pmtu;
  t.tcpi_rtt = s.rtt_us;
  t.tcpi_rttvar = s.rttvar_us;
  t.tcpi_snd_ssthresh = s.snd_ssthresh;
  t.tcpi_snd_cwnd = s.snd_cwnd;
  t.tcpi_advmss = s.advmss;
  t.tcpi_reordering = s.reordering;
  t.tcpi_rcv_space = s.rcv_space;
  t.tcpi_total_retrans = s.total_retrans;
  t.tcpi_bytes_acked = s.bytes_acked;
  t.tcpi_bytes_received = s.bytes_received;
  t.tcpi_segs_out = s.segs_out;
  t.tcpi_segs_in = s.segs_in;
  t.tcpi_notsent_bytes = s.notsent_bytes;
  t.tcpi_min_rtt = s.min_rtt_us;
  t.tcpi_data_segs_in = s.data_segs_in;
  t.tcpi_data_segs_out = s.data_segs_out;
  t.tcpi_delivered = s.delivered;
  t.tcpi_bytes_sent = s.bytes_sent;
  t.tcpi_bytes_retrans = s.bytes_retrans;
  t.tcpi_reord_seen = s.reord_seen;
  t.tcpi_snd_wnd = s.snd_wnd;
  const socklen_t n = std::min<socklen_t>(*len, sizeof t);
  std::memcpy(out, &t, n);
  *len = n;
}

}  // namespace xdptcp::detail
