// The engine's side of the connection snapshot encoding; see conn_encode.h.
#include "userstack/engine/conn_encode.h"

#include <algorithm>
#include <cstring>

namespace xdptcp::engine {

std::uint8_t linux_state(tcp::TcpState s) {
  namespace L = linux_tcp_state;
  switch (s) {
    case tcp::TcpState::kClosed:
      return L::kClose;
    case tcp::TcpState::kListen:
      return L::kListen;
    case tcp::TcpState::kSynSent:
      return L::kSynSent;
    case tcp::TcpState::kSynReceived:
      return L::kSynRecv;
    case tcp::TcpState::kEstablished:
      return L::kEstablished;
    case tcp::TcpState::kFinWait1:
      return L::kFinWait1;
    case tcp::TcpState::kFinWait2:
      return L::kFinWait2;
    case tcp::TcpState::kCloseWait:
      return L::kCloseWait;
    case tcp::TcpState::kClosing:
      return L::kClosing;
    case tcp::TcpState::kLastAck:
      return L::kLastAck;
    case tcp::TcpState::kTimeWait:
      return L::kTimeWait;
  }
  return L::kClose;
}

ConnEntry encode_conn(const tcp::SocketView& v) {
  ConnEntry e;
  const tcp::TcpInfoSnapshot& i = v.info;
  e.family = static_cast<std::uint8_t>(v.family);
  e.state = linux_state(v.state);
  e.flags = static_cast<std::uint8_t>((v.id >= 0 ? kConnAppSocket : 0) | (v.orphan ? kConnOrphan : 0));
  e.ca_state = static_cast<std::uint8_t>(i.ca_state);
  e.retransmits = i.retransmits;
  e.probes = i.probes;
  e.backoff = i.backoff;
  e.options = i.options;
  e.snd_wscale = i.snd_wscale;
  e.rcv_wscale = i.rcv_wscale;
  e.local_port = v.tuple.local.port;
  e.remote_port = v.tuple.remote.port;
  e.socket = v.id;
  e.recv_q = v.recv_q;
  e.send_q = v.send_q;
  // A listener's remote is unset (an IPv4 zero even for an IPv6 listener): all zero either way.
  e.local_addr = v.tuple.local.ip.bytes;
  e.remote_addr = v.tuple.remote.ip.bytes;
  const std::string_view cc = tcp::cc_algorithm_name(v.cc);
  std::memcpy(e.cc.data(), cc.data(), std::min(cc.size(), e.cc.size() - 1));
  e.rto_us = i.rto_us;
  e.ato_us = i.ato_us;
  e.snd_mss = i.snd_mss;
  e.rcv_mss = i.rcv_mss;
  e.advmss = i.advmss;
  e.pmtu = i.pmtu;
  e.unacked = i.unacked;
  e.sacked = i.sacked;
  e.lost = i.lost;
  e.last_data_sent_ms = i.last_data_sent_ms;
  e.last_data_recv_ms = i.last_data_recv_ms;
  e.last_ack_recv_ms = i.last_ack_recv_ms;
  e.rtt_us = i.rtt_us;
  e.rttvar_us = i.rttvar_us;
  e.min_rtt_us = i.min_rtt_us;
  e.snd_ssthresh = i.snd_ssthresh;
  e.snd_cwnd = i.snd_cwnd;
  e.reordering = i.reordering;
  e.reord_seen = i.reord_seen;
  e.rcv_space = i.rcv_space;
  e.rcv_wnd = i.rcv_wnd;
  e.snd_wnd = i.snd_wnd;
  e.notsent_bytes = i.notsent_bytes;
  e.total_retrans = i.total_retrans;
  e.segs_out = i.segs_out;
  e.segs_in = i.segs_in;
  e.data_segs_out = i.data_segs_out;
  e.data_segs_in = i.data_segs_in;
  e.delivered = i.delivered;
  e.bytes_sent = i.bytes_sent;
  e.bytes_retrans = i.bytes_retrans;
  e.bytes_acked = i.bytes_acked;
  e.bytes_received = i.bytes_received;
  return e;
}

}  // namespace xdptcp::engine
