// Connection timers, on the stack's TimerWheel (the core never reads a clock: `now` is the
// instant the engine passed to advance()).
//   rtx_timer:    RTO (RFC 6298 §5 with backoff, Karn in tcp_output.cpp), SYN and SYN-ACK
//                 retransmission, the persist timer (RFC 9293 §3.8.6.1), RACK's reordering
//                 timer or TLP's probe timeout (RFC 8985 §6.3, §7.2; tcp_recovery.cpp): one
//                 at a time, as Linux's icsk_pending.
//   delack_timer: delayed ACK (RFC 9293 §3.8.6.3).
//   aux_timer:    keepalive (RFC 1122 §4.2.3.6), orphaned FIN-WAIT-2 (Linux tcp_fin_timeout),
//                 TIME-WAIT 2*MSL (RFC 9293 §3.10.7.4).
// TCP_USER_TIMEOUT (RFC 5482) bounds the RTO and persist timers' patience and, with keepalive,
// replaces the probe count; as in Linux, only in the synchronized states.
#include <algorithm>
#include <cerrno>

#include "userstack/tcp/tcp_stack_core.h"

namespace xdptcp::tcp {

using namespace wire::tcp_flags;

void StackCore::arm_rto(TcpConnection& c) {
  c.persist_mode = false;
  c.reo_timer = false;
  c.pto_timer = false;
  wheel.arm(c.rtx_timer, now + c.rtt.rto());
}

void StackCore::arm_persist(TcpConnection& c) {
  if (!c.persist_mode) c.stall_since = now;  // probing starts: TCP_USER_TIMEOUT counts from here
  // The persist interval backs off like the RTO, bounded by its maximum (Linux tcp_probe0_when).
  Duration d = c.rtt.rto();
  for (unsigned i = 0; i < c.persist_backoff && d < cfg.rto.max; ++i) d = d * 2;
  d = std::min(d, cfg.rto.max);
  if (c.user_timeout.ns > 0) {
    // Linux tcp_clamp_probe0_to_user_timeout(): probe no later than when the user timeout runs
    // out (on_rtx_timer then aborts), at least one tick ahead.
    d = std::min(d, std::max(c.stall_since + c.user_timeout - now, wheel.tick()));
  }
  c.persist_mode = true;
  c.reo_timer = false;
  c.pto_timer = false;
  wheel.arm(c.rtx_timer, now + d);
}

void StackCore::cancel_rtx(TcpConnection& c) {
  wheel.cancel(c.rtx_timer);
  c.persist_mode = false;
  c.reo_timer = false;
  c.pto_timer = false;
}

void StackCore::arm_keepalive(TcpConnection& c) {
  if (c.keepalive &&
      in(c.state, {TcpState::kEstablished, TcpState::kCloseWait, TcpState::kFinWait1, TcpState::kFinWait2})) {
    wheel.arm(c.aux_timer, c.last_rcv + c.keep_idle);
  }
}

void StackCore::enter_time_wait(TcpConnection& c) {
  set_state(c, TcpState::kTimeWait);
  // Everything we sent is acknowledged (our FIN too) and nothing more arrives (the peer's FIN
  // did): the rings go back unless the application still has bytes to read.
  release_buffers(c, !c.user_open || !c.rcv_buf || c.rcv_buf->empty());
  cancel_rtx(c);
  wheel.cancel(c.delack_timer);
  wheel.arm(c.aux_timer, now + cfg.time_wait);  // 2*MSL
}

void StackCore::on_rtx_timer(TcpConnection& c) {
  if (c.pto_timer) {
    on_pto(c);  // RFC 8985 §7.3: a tail loss probe instead of the RTO
    return;
  }
  if (c.reo_timer && rack_on(c)) {
    // RFC 8985 §6.3 RACK_reo_timeout(): detect again; what has waited reo_wnd is lost.
    c.reo_timer = false;
    ++stats.rack_reo_timeouts;
    rack_detect(c, true);
    if (!c.rtx_timer.armed() && c.snd_una != c.snd_max) arm_rto(c);
    return;
  }
  if (c.reo_timer) {
    // The reordering window (RFC 8985 §6.2) ran out with the hole still open: it is lost.
    c.reo_timer = false;
    if (!c.in_recovery && c.snd_una == c.reo_una && c.snd_una < c.snd_max &&
        in(c.state, {TcpState::kEstablished, TcpState::kCloseWait, TcpState::kFinWait1, TcpState::kClosing,
                     TcpState::kLastAck})) {
      enter_recovery(c);
    }
    if (!c.rtx_timer.armed() && c.snd_una != c.snd_max) arm_rto(c);
    return;
  }
  if (c.persist_mode) {
    // Linux tcp_probe_timer(): a window kept shut for longer than TCP_USER_TIMEOUT aborts the
    // connection (ETIMEDOUT, no RST), even though the peer answers the probes; as for
    // retransmissions, not before one probe was sent.
    if (c.user_timeout.ns > 0 && c.persist_backoff > 0 && now - c.stall_since >= c.user_timeout) {
      ++stats.conns_timed_out;
      abort(c, ETIMEDOUT, false);
      return;
    }
    // The window is open but too small for sender SWS avoidance (RFC 9293 §3.8.6.2.1, see
    // output()): this is the override timeout, (4) of the rule, and what the window allows goes
    // now, as Linux's tcp_write_wakeup() sends it. Only when the window is what holds the data
    // (a corked tail with room to spare stays corked).
    const SeqNum data_end = c.snd_buf_seq + c.snd_buf_size();
    const SeqNum wnd_end = c.snd_una + c.snd_wnd;
    const std::uint32_t avail = data_end > c.snd_nxt ? static_cast<std::uint32_t>(data_end - c.snd_nxt) : 0;
    const std::uint32_t wnd = wnd_end > c.snd_nxt ? static_cast<std::uint32_t>(wnd_end - c.snd_nxt) : 0;
    if (c.snd_nxt == c.snd_max && wnd > 0 && wnd < std::min(avail, send_room(c))) {
      if (send_segment(c, c.snd_nxt, wnd, kAck)) {  // arms the RTO: persisting is over
        c.snd_nxt += wnd;
        c.persist_backoff = 0;
      } else {
        arm_persist(c);  // no TX buffer: try again at the next expiry
      }
      return;
    }
    // Zero-window probe: like Linux (tcp_xmit_probe_skb), an ACK carrying SND.UNA - 1, which the
    // receiver must answer with its current window (RFC 9293 §3.10.7.4 first check).
    ++stats.persist_probes;
    send_segment(c, c.snd_una - 1, 0, kAck);
    if (c.persist_backoff < 16) ++c.persist_backoff;
    arm_persist(c);
    return;
  }
  ++stats.rtos;
  switch (c.state) {
    case TcpState::kSynSent:
      if (c.rtx_count >= cfg.syn_retries) {
        ++stats.conns_timed_out;
        abort(c, ETIMEDOUT, false);
        return;
      }
      break;
    case TcpState::kSynReceived:
      if (c.rtx_count >= cfg.synack_retries) {
        // Linux drops an embryonic connection silently; a simultaneous open times out.
        if (c.parent == kNoIndex) ++stats.conns_timed_out;
        abort(c, c.parent == kNoIndex ? ETIMEDOUT : 0, false);
        return;
      }
      break;
    case TcpState::kClosed:
    case TcpState::kListen:
    case TcpState::kTimeWait:
      return;
    default:
      if (c.snd_una == c.snd_max) return;  // nothing outstanding (a stale arm)
      // RFC 5482 §3: with TCP_USER_TIMEOUT, data unacknowledged for that long aborts the
      // connection, whatever the number of retransmissions (Linux retransmits_timed_out(): the
      // timeout replaces tcp_retries2, and at least one retransmission is made first).
      if (c.user_timeout.ns > 0 ? c.rtx_count > 0 && now - c.stall_since >= c.user_timeout
                                : c.rtx_count >= cfg.max_retries) {
        // tcp_retries2 (or the user timeout) exhausted: ETIMEDOUT via SO_ERROR and EPOLLERR;
        // Linux sends no RST.
        ++stats.conns_timed_out;
        abort(c, ETIMEDOUT, false);
        return;
      }
      break;
  }
  ++c.rtx_count;
  // RFC 6298 (5.5): back off the timer; (5.4) retransmit the earliest unacknowledged segment.
  c.rtt.backoff();
  c.rtt_timing = false;  // Karn: no sample from what is retransmitted
  if (in(c.state, {TcpState::kSynSent, TcpState::kSynReceived})) {
    c.snd_nxt = c.iss;  // output() sends the SYN (or SYN-ACK) again
  } else {
    // RFC 5681 §3.1 (eq. 4): ssthresh from flight, cwnd = 1 SMSS; go back to SND.UNA. The SACK
    // scoreboard is forgotten (RFC 6675 §5.1 allows it; the receiver may have reneged), and
    // RFC 6582 §4 sets recover to the highest sequence number sent.
    undo_begin(c, true);  // before the window goes: an undo restores it (RFC 4015)
    c.cc->on_rto(flight_size(c), now);
    c.in_recovery = false;
    c.dupacks = 0;
    c.recover = c.snd_max;
    c.tlp_out = false;
    c.scoreboard.clear();
    c.snd_nxt = c.snd_una;
    c.high_rxt = c.snd_una;
  }
  arm_rto(c);
  if (c.user_timeout.ns > 0 && !in(c.state, {TcpState::kSynSent, TcpState::kSynReceived})) {
    // Linux tcp_clamp_rto_to_user_timeout(): the backed-off timer fires no later than the user
    // timeout, so the abort comes when RFC 5482 says rather than at the next doubling; at least
    // one tick ahead.
    const Instant limit = std::max(c.stall_since + c.user_timeout, now + wheel.tick());
    if (limit < now + c.rtt.rto()) wheel.arm(c.rtx_timer, limit);
  }
  // No TX buffer (ring full): the retransmission waits in the output queue for the next flush
  // that finds one, not for the next expiry a doubled RTO later. The timer stays as armed
  // above (RFC 6298 (5.5)-(5.6): one backoff per expiry, not per attempt to send).
  if (!output(c)) queue_output(c);
}

void StackCore::on_delack_timer(TcpConnection& c) {
  if (c.state == TcpState::kClosed) return;
  if (c.last_ack_sent == c.rcv_nxt && !c.ack_now) return;  // already acknowledged
  ++stats.delayed_acks;
  c.ack_now = true;
  if (!output(c)) queue_output(c);  // no TX buffer: the ACK goes at the next flush that has one
}

void StackCore::on_aux_timer(TcpConnection& c) {
  switch (c.state) {
    case TcpState::kTimeWait:
      finish(c);
      return;
    case TcpState::kFinWait2:
      if (c.orphan) {
        finish(c);
        return;
      }
      break;
    default:
      break;
  }
  if (!c.keepalive || !in(c.state, {TcpState::kEstablished, TcpState::kCloseWait, TcpState::kFinWait1,
                                    TcpState::kFinWait2})) {
    return;
  }
  // RFC 1122 §4.2.3.6. Like Linux, no probe while data is outstanding or queued (the RTO and
  // persist timers watch the peer then).
  const SeqNum data_end = c.snd_buf_seq + c.snd_buf_size();
  if (c.snd_max != c.snd_una || data_end != c.snd_nxt) {
    wheel.arm(c.aux_timer, now + c.keep_idle);
    return;
  }
  if (c.keepalive_probes_out == 0 && now - c.last_rcv < c.keep_idle) {
    wheel.arm(c.aux_timer, c.last_rcv + c.keep_idle);
    return;
  }
  // Linux tcp_keepalive_timer() (tcp(7): TCP_USER_TIMEOUT "will override keepalive"): with a
  // user timeout, the time since the peer was last heard from, once a probe is out, decides
  // instead of the probe count.
  if (c.user_timeout.ns > 0 ? c.keepalive_probes_out > 0 && now - c.last_rcv >= c.user_timeout
                            : c.keepalive_probes_out >= c.keep_cnt) {
    // Linux tcp_keepalive_timer(): reset the connection and report ETIMEDOUT.
    ++stats.conns_timed_out;
    abort(c, ETIMEDOUT, true);
    return;
  }
  // The probe carries SND.UNA - 1 (= SND.NXT - 1: nothing is outstanding) and no data, so that
  // the peer must answer with an ACK (RFC 1122 §4.2.3.6).
  ++stats.keepalive_probes;
  ++c.keepalive_probes_out;
  send_segment(c, c.snd_una - 1, 0, kAck);
  wheel.arm(c.aux_timer, now + c.keep_intvl);
}

}  // namespace xdptcp::tcp
