// Passive open: segments for a LISTEN socket (RFC 9293 §3.10.7.2), the SYN-RECEIVED table
// bounded by syn_backlog with SYN cookies beyond it (RFC 4987 §3.6), accept queues bounded by
// the listen() backlog, TIME-WAIT reuse by a new SYN (RFC 6191, RFC 1122 §4.2.2.13), and the
// RST that answers a segment for no connection (§3.10.7.1).
#include <algorithm>

#include "userstack/tcp/syn_cookie.h"
#include "userstack/tcp/tcp_stack_core.h"

namespace xdptcp::tcp {

// A passive open's child takes the listener's socket options (what accept() hands back behaves
// as the listening socket was configured), both for a SYN queued in the backlog and for a
// connection rebuilt from a SYN cookie.
void StackCore::inherit_from_listener(TcpConnection& c, const TcpConnection& l,
                                      const wire::FourTuple& tuple) {
  c.family = l.family;
  c.tuple = tuple;
  c.bound = false;  // shares the listener's port; the flow table holds its identity
  c.parent = l.index;
  c.sndbuf = l.sndbuf;
  c.rcvbuf = l.rcvbuf;
  c.rcvbuf_locked = l.rcvbuf_locked;  // before init_send_side(): the window scale depends on it
  c.sndbuf_locked = l.sndbuf_locked;
  c.nodelay = l.nodelay;
  c.keepalive = l.keepalive;
  c.keep_idle = l.keep_idle;
  c.keep_intvl = l.keep_intvl;
  c.keep_cnt = l.keep_cnt;
  c.linger = l.linger;
  c.cc_algo = l.cc_algo;
  c.user_mss = l.user_mss;  // before init_send_side(), which derives rcv_mss from it
  c.user_timeout = l.user_timeout;
}

using namespace wire::tcp_flags;

TcpConnection* StackCore::find_listener(const wire::SockAddr& local) const {
  TcpConnection* wildcard = nullptr;
  for (std::uint32_t i : listeners) {
    TcpConnection& l = pool_[i];
    if (l.tuple.local.port != local.port || l.family != local.ip.family) continue;
    if (l.tuple.local.ip == local.ip) return &l;  // an exact address wins over the wildcard
    if (l.tuple.local.ip.is_unspecified()) wildcard = &l;
  }
  return wildcard;
}

void StackCore::send_rst_reply(const Segment& seg) {
  // Never answer a RST with a RST.
  if (seg.rst()) {
    ++stats.drops[static_cast<std::size_t>(DropReason::kRstNoSocket)];
    return;
  }
  if (cfg.siblings) {
    ++stats.drops[static_cast<std::size_t>(DropReason::kSiblingFlow)];
    return;
  }
  ++stats.drops[static_cast<std::size_t>(DropReason::kNoSocket)];
  wire::TcpRepr h;
  h.src_port = seg.tuple.local.port;
  h.dst_port = seg.tuple.remote.port;
  if (seg.ack_flag()) {
    // <SEQ=SEG.ACK><CTL=RST>
    h.seq = seg.ack.raw();
    h.flags = kRst;
  } else {
    // <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
    h.seq = 0;
    h.ack = (seg.seq + seg.len()).raw();
    h.flags = kRst | kAck;
  }
  if (emit(seg.tuple, h)) ++stats.rsts_out;
}

void StackCore::enqueue_accept(TcpConnection& l, TcpConnection& child) {
  child.accept_next = kNoIndex;
  if (l.accept_tail == kNoIndex) {
    l.accept_head = child.index;
  } else {
    pool_[l.accept_tail].accept_next = child.index;
  }
  l.accept_tail = child.index;
  ++l.accept_count;
  child.in_accept_queue = true;
  notify(l);
}

// RFC 9293 §3.10.7.2, with the flag checks of Linux's tcp_rcv_state_process() (TCP_LISTEN):
//   RST (any other flags)      ignored, never answered (Linux: SKB_DROP_REASON_TCP_RESET); so a
//                              SYN|RST creates nothing
//   ACK (no RST)               a SYN cookie, else <SEQ=SEG.ACK><CTL=RST> (Linux returns to
//                              tcp_v4_do_rcv(), which resets); SYN|ACK and SYN|FIN|ACK included
//   SYN|FIN (no ACK)           dropped: kBadFlags (Linux "if (th->fin) goto discard", TCP_FLAGS;
//                              the BSDs' drop_synfin). RFC 9293 would answer it and queue the FIN
//                              for later: a scanner's probe and a way to make embryos cheaply.
//   none of SYN, ACK, RST      dropped: kBadFlags (FIN, PSH, URG alone or no flag at all; Linux
//                              TCP_FLAGS; RFC 9293's "fourth, other text or control": it must
//                              have had an ACK)
//   SYN with PSH, URG, ECE,    answered with a SYN-ACK, as Linux does (conn_request() looks at no
//   CWR (no ACK, RST, FIN)     other flag; the urgent pointer and ECN are not implemented here)
// Nothing dropped here allocates a TCB or sends anything, so a flood of such segments leaves the
// listener serving the next valid SYN at once.
void StackCore::input_listen(TcpConnection& l, const Segment& seg, std::optional<SeqNum> iss) {
  // First, check for a RST: ignore it.
  if (seg.rst()) {
    ++stats.drops[static_cast<std::size_t>(DropReason::kRstNoSocket)];
    return;
  }
  // Second, check for an ACK: a SYN cookie, or "<SEQ=SEG.ACK><CTL=RST>".
  if (seg.ack_flag()) {
    if (!seg.syn() && cfg.syn_cookies && accept_cookie(l, seg)) {
      accepted = true;  // the cookie proves the peer saw our SYN-ACK
      return;
    }
    if (!seg.syn() && cfg.syn_cookies) ++stats.drops[static_cast<std::size_t>(DropReason::kBadCookie)];
    send_rst_reply(seg);
    return;
  }
  // Third, check for a SYN; without one (and without ACK or RST) the segment is no valid
  // segment for a listener (Linux: SKB_DROP_REASON_TCP_FLAGS).
  if (!seg.syn() || seg.fin()) {
    ++stats.drops[static_cast<std::size_t>(DropReason::kBadFlags)];
    return;
  }
  // Linux drops a SYN while the accept queue is full (the client retries).
  if (l.accept_count >= l.backlog) {
    ++stats.drops[static_cast<std::size_t>(DropReason::kBacklogFull)];
    return;
  }
  // Buffer memory above its high mark: refuse, counted (Linux drops the SYN under tcp_mem
  // pressure). No cookie either: its connection would need the memory that is not there.
  if (mem_refuse()) {
    ++stats.drops[static_cast<std::size_t>(DropReason::kMemRefused)];
    return;
  }
  TcpConnection* child = syn_received < cfg.syn_backlog ? alloc_tcb() : nullptr;
  if (child == nullptr) {
    if (cfg.syn_cookies) {
      send_cookie_synack(l, seg);
    } else {
      const auto r = syn_received >= cfg.syn_backlog ? DropReason::kSynBacklogFull : DropReason::kNoTcb;
      ++stats.drops[static_cast<std::size_t>(r)];
    }
    return;
  }
  TcpConnection& c = *child;
  inherit_from_listener(c, l, seg.tuple);
  init_send_side(c, iss ? *iss : make_isn(c.tuple));
  // "Set RCV.NXT to SEG.SEQ+1, IRS is set to SEG.SEQ"; the options of the SYN.
  c.irs = seg.seq;
  c.rcv_nxt = seg.seq + 1;
  c.rcv_adv = c.rcv_nxt;
  c.last_ack_sent = c.rcv_nxt;
  apply_syn_options(c, seg.h.options);
  c.snd_wnd = seg.h.window;  // RFC 7323 §2.2: never scaled in a SYN
  c.max_snd_wnd = c.snd_wnd;
  c.snd_wl1 = seg.seq;
  c.snd_wl2 = c.iss;
  c.last_rcv = now;
  add_flow(c, seg.flow_hash);  // c.tuple == seg.tuple
  c.syn_backlog_counted = true;
  ++syn_received;
  set_state(c, TcpState::kSynReceived);
  queue_output(c);  // the SYN-ACK goes out at the next flush
}

void StackCore::send_cookie_synack(TcpConnection& l, const Segment& seg) {
  const wire::IpFamily fam = seg.tuple.local.ip.family;
  // An MSS option of 0 is ignored (apply_syn_options()); 536 also stands for IPv6 here: the
  // cookie's MSS table rounds down anyway.
  const std::uint16_t peer_mss = seg.h.options.mss && *seg.h.options.mss != 0 ? *seg.h.options.mss : 536;
  const std::uint16_t adv_mss = advertised_mss(fam, l.user_mss);
  const std::uint8_t idx = cookie_mss_index(fam, std::min(peer_mss, adv_mss));
  const std::uint32_t isn = cookie_make(key, seg.tuple, seg.seq.raw(), cookie_count(now.ns - epoch.ns), idx);
  wire::TcpRepr h;
  h.src_port = seg.tuple.local.port;
  h.dst_port = seg.tuple.remote.port;
  h.seq = isn;
  h.ack = (seg.seq + 1).raw();
  h.flags = kSyn | kAck;
  h.window = static_cast<std::uint16_t>(std::min<std::uint32_t>(l.rcvbuf, 65535));
  h.options.mss = adv_mss;
  // Without timestamps there is nowhere to keep window scale and SACK-permitted: a cookie
  // connection then has neither (Linux clears them the same way).
  if (seg.h.options.timestamps) {
    CookieTsOptions o;
    if (seg.h.options.window_scale)
      o.wscale = std::min<std::uint8_t>(*seg.h.options.window_scale, kMaxWindowShift);
    o.sack_ok = seg.h.options.sack_permitted;
    const std::uint32_t ts = static_cast<std::uint32_t>((now - epoch).as_millis()) + ts_offset_for(seg.tuple);
    h.options.timestamps = wire::TcpTimestamps{cookie_tsval(ts, o), seg.h.options.timestamps->tsval};
    if (o.wscale) h.options.window_scale = choose_wscale(wscale_space(l));  // as the child's
    h.options.sack_permitted = o.sack_ok;
  }
  if (emit(seg.tuple, h)) ++stats.cookies_sent;
}

bool StackCore::accept_cookie(TcpConnection& l, const Segment& seg) {
  const wire::IpFamily fam = seg.tuple.local.ip.family;
  const SeqNum cookie = seg.ack - 1;
  const SeqNum peer_isn = seg.seq - 1;
  auto idx = cookie_check(key, seg.tuple, peer_isn.raw(), cookie.raw(), cookie_count(now.ns - epoch.ns), fam);
  if (!idx) return false;
  if (l.accept_count >= l.backlog) {
    ++stats.drops[static_cast<std::size_t>(DropReason::kBacklogFull)];
    return true;  // dropped; the peer retransmits
  }
  if (mem_refuse()) {
    ++stats.drops[static_cast<std::size_t>(DropReason::kMemRefused)];
    return true;  // dropped; the peer retransmits, and may find memory then
  }
  TcpConnection* child = alloc_tcb();
  if (child == nullptr) {
    ++stats.drops[static_cast<std::size_t>(DropReason::kNoTcb)];
    return true;
  }
  TcpConnection& c = *child;
  inherit_from_listener(c, l, seg.tuple);
  init_send_side(c, cookie);
  c.snd_una = c.snd_nxt = c.snd_max = cookie + 1;
  c.irs = peer_isn;
  c.rcv_nxt = seg.seq;
  c.rcv_adv = c.rcv_nxt + std::min<std::uint32_t>(l.rcvbuf, 65535);
  c.last_ack_sent = c.rcv_nxt;
  c.snd_mss = std::min(cookie_mss_value(fam, *idx), c.rcv_mss);
  if (seg.h.options.timestamps && seg.h.options.timestamps->tsecr != 0) {
    const CookieTsOptions o = cookie_ts_decode(seg.h.options.timestamps->tsecr);
    c.ts_ok = true;
    c.ts_recent = seg.h.options.timestamps->tsval;
    c.ts_recent_age = now;
    c.ws_ok = o.wscale.has_value();
    c.snd_wscale = o.wscale.value_or(0);
    c.sack_ok = o.sack_ok;
  }
  if (!c.ws_ok) c.rcv_wscale = 0;
  c.snd_wnd = static_cast<std::uint32_t>(seg.h.window) << c.snd_wscale;
  c.max_snd_wnd = c.snd_wnd;
  c.snd_wl1 = seg.seq;
  c.snd_wl2 = seg.ack;
  add_flow(c, seg.flow_hash);  // c.tuple == seg.tuple
  ++stats.cookies_accepted;
  ++stats.conns_accepted;
  on_established(c);
  enqueue_accept(l, c);
  // The ACK may carry data (and even a FIN): process it as an ESTABLISHED segment.
  if (!seg.payload.empty() || seg.fin()) input_synchronized(c, seg);
  return true;
}

// A SYN for a connection in TIME-WAIT. RFC 6191 §2 with timestamps (the SYN's TSval must be
// newer than TS.Recent), else RFC 1122 §4.2.2.13 (its sequence number must be beyond RCV.NXT):
// then the TIME-WAIT connection is closed and the SYN handed to the listener with an ISN beyond
// the old connection's (Linux tcp_timewait_state_process(): snd_nxt + 65535 + 2). Otherwise
// the SYN gets a challenge ACK (RFC 5961 §4, RFC 9293 §3.10.7.4).
void StackCore::input_time_wait_syn(TcpConnection& c, const Segment& seg) {
  // A SYN|FIN opens no connection (input_listen()): dropped before it can end the TIME-WAIT.
  // Linux ends the TIME-WAIT first (TCP_TW_SYN) and then discards it at the listener; keeping
  // the TIME-WAIT is what 2*MSL is for.
  if (seg.fin()) {
    ++stats.drops[static_cast<std::size_t>(DropReason::kBadFlags)];
    return;
  }
  bool acceptable;
  if (c.ts_ok && seg.h.options.timestamps) {
    acceptable = static_cast<std::int32_t>(seg.h.options.timestamps->tsval - c.ts_recent) > 0;
  } else {
    acceptable = seg.seq > c.rcv_nxt;
  }
  TcpConnection* l = acceptable ? find_listener(seg.tuple.local) : nullptr;
  if (l == nullptr) {
    ++stats.drops[static_cast<std::size_t>(DropReason::kSynChallenged)];
    send_challenge_ack(c);
    return;
  }
  const SeqNum isn = c.snd_max + 65535 + 2;
  ++stats.time_wait_reused;
  finish(c);
  input_listen(*l, seg, isn);
}

}  // namespace xdptcp::tcp
