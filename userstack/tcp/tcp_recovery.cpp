// Loss recovery as modern stacks do it (issue 13 item 4), beside tcp_ack.cpp's RFC 5681/6675
// machinery:
//   RACK (RFC 8985 §6): time-based loss detection from per-segment transmit times
//     (SackScoreboard::xmit()) with a reordering window that D-SACKs widen (§6.2 step 4);
//   TLP (RFC 8985 §7): a tail loss probe 2*SRTT after the last transmission, so a lost tail is
//     repaired by fast recovery instead of an RTO;
//   PRR (RFC 6937 §3, PRR-SSRB as Linux's tcp_cwnd_reduction()): how much may be sent on each
//     ACK during SACK recovery, so cwnd comes down to ssthresh smoothly;
//   spurious retransmission undo: D-SACK based (RFC 2883 §5; Linux tcp_try_undo_dsack(): all
//     retransmissions of the episode reported duplicate) and Eifel detection with timestamps
//     (RFC 3522) with the RFC 4015 response, for fast retransmit and RTO.
// RACK-TLP needs SACK (as on Linux); without SACK, NewReno (RFC 6582) is unchanged.
#include <algorithm>

#include "userstack/tcp/tcp_stack_core.h"

namespace xdptcp::tcp {

using namespace wire::tcp_flags;

namespace {

// RFC 8985 §7.2 WCDelAckT: the worst-case delayed-ACK timer a receiver may run (200 ms, as
// Linux's TCP_RTO_MIN that tcp_schedule_loss_probe() adds for a single outstanding segment).
constexpr Duration kWcDelAckT = Duration::millis(200);
// RFC 8985 §6.2 step 4: RACK.reo_wnd_persist = 16 recoveries after a D-SACK.
constexpr std::uint8_t kReoWndPersist = 16;
// RACK.reo_wnd_mult grows by one per round trip with D-SACKs; reo_wnd is bounded by SRTT anyway.
constexpr std::uint8_t kMaxReoWndMult = 64;

bool data_state(TcpState s) {
  return in(s, {TcpState::kEstablished, TcpState::kCloseWait, TcpState::kFinWait1, TcpState::kClosing,
                TcpState::kLastAck});
}

}  // namespace

Duration StackCore::rack_reo_wnd(const TcpConnection& c) const {
  // RFC 8985 §6.2 step 4 RACK_update_reo_wnd(): "If RACK.reordering_seen is FALSE: if in loss
  // recovery, return 0; else if RACK.segs_sacked >= DupThresh, return 0" (the DupThresh rule
  // survives as a special case), else min(RACK.reo_wnd_mult * RACK.min_RTT / 4, SRTT).
  if (!c.reordering_seen) {
    if (c.in_recovery) return Duration{};
    if (c.scoreboard.sacked_segments(effective_mss(c)) >= SackScoreboard::kDupThresh) return Duration{};
  }
  Duration w = c.rtt.min_rtt() / 4 * c.reo_wnd_mult;
  if (c.rtt.has_sample() && c.rtt.srtt() < w) w = c.rtt.srtt();
  // At least the timestamp clock's tick (1 ms): a path without measurable RTT still gets a
  // window for reordering within one burst.
  return std::max(w, Duration::millis(1));
}

RackView StackCore::rack_view(const TcpConnection& c) const {
  RackView v;
  v.xmit_ts = c.rack_xmit_ts;
  v.end_seq = c.rack_end_seq;
  v.rtt = c.rack_rtt;
  v.reo_wnd = rack_reo_wnd(c);
  v.now = now;
  return v;
}

void StackCore::rack_update(TcpConnection& c, const RackDelivered& d) {
  if (!d.any) return;
  // Step 3, reordering: a never-retransmitted segment delivered below what was delivered before
  // (RACK.fack) arrived out of order.
  if (c.rack_valid && d.any_original && d.lowest_original_end < c.rack_fack) c.reordering_seen = true;
  if (!c.rack_valid || d.highest_end > c.rack_fack) c.rack_fack = d.highest_end;
  // Step 2: a retransmitted segment acknowledged sooner than min_RTT after the retransmission
  // was most likely delivered by its original transmission: no RTT from it.
  const Duration rtt = now - d.xmit_ts;
  if (d.retransmitted && rtt < c.rtt.min_rtt()) return;
  // Step 1: RACK.rtt and the most recently sent delivered segment.
  c.rack_rtt = rtt;
  if (!c.rack_valid || d.xmit_ts > c.rack_xmit_ts ||
      (d.xmit_ts == c.rack_xmit_ts && d.end_seq > c.rack_end_seq)) {
    c.rack_xmit_ts = d.xmit_ts;
    c.rack_end_seq = d.end_seq;
  }
  c.rack_valid = true;
}

void StackCore::rack_detect(TcpConnection& c, bool from_timer) {
  // While an RTO's go-back-N retransmission runs (snd_nxt below snd_max), that resends
  // everything anyway (Linux stays in its Loss state).
  if (!c.rack_valid || c.snd_una == c.snd_max || c.snd_nxt != c.snd_max || !data_state(c.state)) {
    if (c.reo_timer) arm_rto(c);
    return;
  }
  const RackScan scan = c.scoreboard.rack_scan(c.snd_una, c.snd_max, rack_view(c));
  if (scan.lost) {
    if (!c.in_recovery) {
      enter_recovery(c);
      // Linux tcp_rack_reo_timeout(): recovery entered from the timer gets PRR's first
      // segment as if one were delivered (no ACK carries the reduction).
      if (from_timer) prr_on_ack(c, 1);
    } else {
      queue_output(c);
    }
  }
  if (scan.waiting) {
    // RFC 8985 §6.3: the reordering timer fires when the earliest such segment would be lost.
    c.reo_timer = true;
    c.persist_mode = false;
    c.pto_timer = false;
    wheel.arm(c.rtx_timer, now + std::max(scan.wait, wheel.tick()));
  } else if (c.reo_timer) {
    arm_rto(c);
  }
}

void StackCore::on_dsack(TcpConnection& c, const SackBlock& b) {
  ++stats.dsacks_in;
  // RFC 8985 §6.2 step 4: at most one reo_wnd increase per round trip of D-SACKs. The round
  // ends when data sent after the D-SACK is acknowledged (SND.UNA beyond the SND.NXT of then;
  // RFC 8985 says ">=", which with nothing outstanding would end it at once; Linux counts
  // deliveries to the same effect).
  if (c.dsack_round_set && c.snd_una > c.dsack_round) c.dsack_round_set = false;
  if (!c.dsack_round_set) {
    c.dsack_round_set = true;
    c.dsack_round = c.snd_max;
    if (c.reo_wnd_mult < kMaxReoWndMult) ++c.reo_wnd_mult;
    c.reo_wnd_persist = kReoWndPersist;
  }
  // Undo (RFC 2883 §5, Linux tcp_check_dsack()/tcp_try_undo_dsack()): each duplicate reported
  // of data the episode retransmitted means one retransmission was not needed; when none is
  // left, the episode was spurious. Only D-SACKs within what it retransmitted count (a path
  // that duplicates frames makes D-SACKs for other data too).
  if (c.undo_armed && c.undo_retrans > 0 && b.right > c.undo_marker && b.left < c.undo_high) {
    const std::uint32_t mss = std::max<std::uint32_t>(effective_mss(c), 1);
    const auto len = static_cast<std::uint32_t>(b.right - b.left);
    c.undo_retrans -= static_cast<std::int32_t>((len + mss - 1) / mss);
    if (c.undo_retrans <= 0) undo(c);
  }
}

bool StackCore::eifel_spurious(const TcpConnection& c, const Segment& seg) const {
  // RFC 3522 §3.2: "if the value of the Timestamp Echo Reply field of the acceptable ACK's
  // Timestamps option is smaller than the value of RetransmitTS, then proceed to step (DONE)":
  // the ACK was sent for the original transmission, the retransmission was spurious.
  if (!c.undo_armed || !c.retrans_stamp_set || !c.ts_ok || !seg.h.options.timestamps) return false;
  const std::uint32_t tsecr = seg.h.options.timestamps->tsecr;
  return tsecr != 0 && static_cast<std::int32_t>(tsecr - c.retrans_stamp) < 0;
}

void StackCore::undo_begin(TcpConnection& c, bool rto) {
  // An RTO within a recovery or after an earlier RTO continues the episode: its window from
  // before the first reduction is what an undo restores (Linux tcp_enter_loss()).
  if (c.undo_armed && (c.in_recovery || (rto && c.rtx_count > 1))) {
    if (rto) c.undo_rto = true;
    return;
  }
  c.undo_armed = true;
  c.undo_rto = rto;
  c.retrans_stamp_set = false;
  c.undo_retrans = 0;
  c.undo_marker = c.snd_una;
  c.undo_high = c.snd_una;
  c.undo_cwnd = c.cc->cwnd();
  c.undo_ssthresh = c.cc->ssthresh();
}

void StackCore::undo_note_send(TcpConnection& c, SeqNum seq, SeqNum end) {
  // Only data sent before the episode began (below the recovery point) is retransmitted by it.
  if (!c.undo_armed || !(seq < c.recover) || !(end > c.undo_marker)) return;
  ++c.undo_retrans;
  c.undo_high = seq_max(c.undo_high, end);
  if (!c.retrans_stamp_set && c.ts_ok) {
    c.retrans_stamp_set = true;   // RFC 3522 §3.2 (1): RetransmitTS, the TSval of the first
    c.retrans_stamp = ts_now(c);  // retransmission
  }
}

void StackCore::undo(TcpConnection& c) {
  ++stats.spurious_undos;
  c.cc->undo(c.undo_cwnd, c.undo_ssthresh);
  c.undo_armed = false;
  // The loss was reordering (or a delay): RACK widens its window from now on (Linux
  // tcp_undo_cwnd_reduction() raises tp->reordering likewise).
  c.reordering_seen = true;
  if (c.in_recovery) {
    c.in_recovery = false;  // back to the open state (Linux tcp_try_undo_recovery())
    c.dupacks = 0;
  }
  // RFC 4015 §3.2 (Eifel response) after a spurious timeout: resume with the next unsent
  // segment rather than sending again what the receiver already has.
  if (c.undo_rto && c.snd_nxt < c.snd_max) c.snd_nxt = c.snd_max;
  c.undo_rto = false;
}

std::uint32_t StackCore::recovery_pipe(const TcpConnection& c) const {
  const std::uint32_t mss = effective_mss(c);
  if (rack_on(c)) return c.scoreboard.rack_scan(c.snd_una, c.snd_max, rack_view(c)).pipe;
  return c.scoreboard.pipe(c.snd_una, c.snd_max, c.high_rxt, mss);
}

void StackCore::prr_on_ack(TcpConnection& c, std::uint32_t delivered) {
  // RFC 6937 §3.1, per ACK during recovery:
  //   prr_delivered += DeliveredData
  //   if (pipe > ssthresh)   // proportional rate reduction
  //     sndcnt = CEIL(prr_delivered * ssthresh / RecoverFS) - prr_out
  //   else                   // slow start reduction bound (PRR-SSRB, as Linux)
  //     sndcnt = MIN(ssthresh - pipe, MAX(prr_delivered - prr_out, DeliveredData) + MSS)
  // and, as Linux, at least one segment until the first retransmission went out. cwnd becomes
  // pipe + sndcnt, which sack_recovery_output() fills.
  if (delivered == 0) return;
  c.prr_delivered += delivered;
  const std::uint32_t mss = effective_mss(c);
  const std::uint32_t pipe = recovery_pipe(c);
  const std::uint64_t ssthresh = c.cc->ssthresh();
  std::int64_t sndcnt;
  if (pipe > ssthresh) {
    const std::uint64_t fs = std::max<std::uint32_t>(c.prr_recover_fs, 1);
    const std::uint64_t target = (static_cast<std::uint64_t>(c.prr_delivered) * ssthresh + fs - 1) / fs;
    sndcnt = static_cast<std::int64_t>(target) - c.prr_out;
  } else {
    const std::int64_t limit =
        std::max<std::int64_t>(static_cast<std::int64_t>(c.prr_delivered) - c.prr_out, delivered) + mss;
    sndcnt = std::min<std::int64_t>(static_cast<std::int64_t>(ssthresh) - pipe, limit);
  }
  if (c.prr_out == 0) sndcnt = std::max<std::int64_t>(sndcnt, mss);
  sndcnt = std::max<std::int64_t>(sndcnt, 0);
  c.cc->set_cwnd(static_cast<std::uint32_t>(std::min<std::int64_t>(pipe + sndcnt, UINT32_MAX)));
}

void StackCore::schedule_loss_probe(TcpConnection& c) {
  // RFC 8985 §7.2: arm the PTO after new data was sent or acknowledged, in the open state (no
  // recovery, no RTO episode), with SACK, when no probe is outstanding (§7.3 "at most one").
  if (!rack_on(c) || c.in_recovery || c.tlp_out || c.rtx_count > 0 || c.persist_mode || c.reo_timer) return;
  if (c.snd_una == c.snd_max || c.snd_nxt != c.snd_max || !data_state(c.state)) return;
  // "If SRTT is available, PTO = 2*SRTT; if FlightSize is one segment, add WCDelAckT (the
  // probe's ACK may be delayed); else PTO = 1 s. Not later than the RTO would fire."
  Duration pto = c.rtt.has_sample() ? c.rtt.srtt() * 2 : Duration::seconds(1);
  if (flight_size(c) <= effective_mss(c)) pto = pto + kWcDelAckT;
  pto = std::min(pto, c.rtt.rto());
  pto = std::max(pto, wheel.tick());
  c.pto_timer = true;
  wheel.arm(c.rtx_timer, now + pto);
}

bool StackCore::retransmit_tail(TcpConnection& c, SeqNum& left) {
  // The last segment sent (with the FIN when the FIN was sent).
  const bool fin = c.fin_queued && c.snd_max == c.fin_seq() + 1;
  const SeqNum data_sent_end = fin ? c.fin_seq() : c.snd_max;
  const std::uint32_t span =
      data_sent_end > c.snd_una ? static_cast<std::uint32_t>(data_sent_end - c.snd_una) : 0;
  const std::uint32_t len = std::min(span, send_room(c));
  if (len == 0 && !fin) return false;
  left = data_sent_end - len;
  // PSH as the segment carried it when first sent (tcp_output.cpp: set on the segment that ends the
  // data written so far; Linux keeps an skb's flags when it retransmits it).
  const bool psh = len > 0 && left + len == c.snd_buf_seq + c.snd_buf_size();
  return send_segment(c, left, len, static_cast<std::uint8_t>(kAck | (psh ? kPsh : 0) | (fin ? kFin : 0)));
}

void StackCore::on_pto(TcpConnection& c) {
  // RFC 8985 §7.3 TLP_send_probe(): new data if the receive window allows, else the last
  // segment again; then the RTO.
  c.pto_timer = false;
  if (c.snd_una == c.snd_max || c.in_recovery || !data_state(c.state)) {
    if (c.snd_una != c.snd_max) arm_rto(c);
    return;
  }
  const SeqNum data_end = c.snd_buf_seq + c.snd_buf_size();
  const std::uint32_t avail = data_end > c.snd_nxt ? static_cast<std::uint32_t>(data_end - c.snd_nxt) : 0;
  const SeqNum wnd_end = c.snd_una + c.snd_wnd;
  const std::uint32_t wnd = wnd_end > c.snd_nxt ? static_cast<std::uint32_t>(wnd_end - c.snd_nxt) : 0;
  const std::uint32_t len = std::min({avail, wnd, send_room(c)});
  bool sent = false;
  SeqNum left = c.snd_nxt;
  if (len > 0) {
    const bool fin = c.fin_queued && c.snd_nxt + len == c.fin_seq();
    const auto flags = static_cast<std::uint8_t>(kAck | kPsh | (fin ? kFin : 0));
    sent = send_segment(c, c.snd_nxt, len, flags);
    if (sent) c.snd_nxt += len + (fin ? 1 : 0);
    c.tlp_is_retrans = false;
  } else {
    sent = retransmit_tail(c, left);
    c.tlp_is_retrans = true;
  }
  if (sent) {
    ++stats.tlp_probes;
    c.tlp_out = true;
    c.tlp_left = left;
    c.tlp_end_seq = c.snd_max;
  }
  arm_rto(c);
}

void StackCore::tlp_on_ack(TcpConnection& c, SeqNum ack, bool advanced, bool not_dup,
                           const std::optional<SackBlock>& dsack) {
  // RFC 8985 §7.4.2 as Linux's tcp_process_tlp_ack(): once the ACK reaches the probe, either
  // the probe was new data (nothing to learn), or a D-SACK says the original had arrived (no
  // loss), or the ACK goes beyond the probe with no such D-SACK: the probe repaired a loss, and
  // congestion control must react as to any loss (cwnd reduction, at once complete).
  if (!c.tlp_out || ack < c.tlp_end_seq) return;
  const bool no_loss =
      !c.tlp_is_retrans || (dsack && dsack->right > c.tlp_left && dsack->left < c.tlp_end_seq);
  const bool loss = !no_loss && ack > c.tlp_end_seq;
  if (loss && !c.in_recovery) {
    ++stats.tlp_recoveries;
    c.cc->on_congestion_event(c.cc->cwnd(), now);
    c.cc->on_recovery_exit(now);
  }
  // A pure duplicate ACK at the probe: original and probe both arrived. An ACK that reaches the
  // probe exactly and advances may still be followed by the D-SACK: wait (Linux does too).
  const bool both_arrived = ack == c.tlp_end_seq && !advanced && !not_dup;
  if (no_loss || loss || both_arrived) c.tlp_out = false;
}

}  // namespace xdptcp::tcp
