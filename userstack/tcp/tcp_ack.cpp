// The fifth check of RFC 9293 §3.10.7.4, the ACK field: RFC 5961 §5.2 ACK validation, the
// SYN-RECEIVED -> ESTABLISHED transition, acknowledged data, RTT samples (RFC 6298 with Karn's
// rule, or RFC 7323 §4 timestamps), the send window update, and loss recovery: fast retransmit
// with NewReno partial ACKs (RFC 5681 §3.2, RFC 6582) or, with SACK, RFC 6675's conservative
// recovery. Congestion windows are the CongestionControl's (tcp/cc).
#include <algorithm>
#include <array>
#include <optional>

#include "userstack/tcp/cc/fast_recovery.h"
#include "userstack/tcp/tcp_stack_core.h"

namespace xdptcp::tcp {

using namespace wire::tcp_flags;

namespace {

// RFC 8985 §6.2: RACK.reo_wnd = min(RACK.min_RTT / 4, SRTT) (the DSACK-driven multiplier is
// not kept), at least 1 ms, the timestamp clock's tick.
Duration reordering_window(const TcpConnection& c) {
  Duration w = c.rtt.min_rtt() / 4;
  if (c.rtt.has_sample() && c.rtt.srtt() < w) w = c.rtt.srtt();
  return std::max(w, Duration::millis(1));
}

}  // namespace

void StackCore::loss_detected(TcpConnection& c) {
  // RFC 8985 §6.2 step 4: with no reordering seen, the classic DupThresh rule stands and
  // recovery starts at once. Once the path has reordered (jitter does, when frames of a burst
  // are delayed independently), a hole may be a segment that is merely late: wait reo_wnd for
  // it, as RACK does, instead of halving cwnd for nothing (RFC 8985 §2.2; Linux's reordering
  // metric serves the same end).
  if (!c.reordering_seen) {
    enter_recovery(c);
    return;
  }
  if (c.reo_timer && c.reo_una == c.snd_una) {
    if (now >= c.reo_deadline) enter_recovery(c);
    return;
  }
  c.reo_timer = true;
  c.reo_una = c.snd_una;
  c.reo_deadline = now + reordering_window(c);
  c.persist_mode = false;
  wheel.arm(c.rtx_timer, c.reo_deadline);
}

std::uint32_t StackCore::flight_size(const TcpConnection& c) const {
  return static_cast<std::uint32_t>(c.snd_max - c.snd_una);
}

void StackCore::update_window(TcpConnection& c, const Segment& seg) {
  // "If SND.WL1 < SEG.SEQ or (SND.WL1 = SEG.SEQ and SND.WL2 =< SEG.ACK), set SND.WND <- SEG.WND".
  if (c.snd_wl1 < seg.seq || (c.snd_wl1 == seg.seq && c.snd_wl2 <= seg.ack)) {
    const std::uint32_t old = c.snd_wnd;
    c.snd_wnd = static_cast<std::uint32_t>(seg.h.window) << c.snd_wscale;
    c.snd_wl1 = seg.seq;
    c.snd_wl2 = seg.ack;
    c.max_snd_wnd = std::max(c.max_snd_wnd, c.snd_wnd);
    if (c.snd_wnd > old) {
      if (c.persist_mode && c.snd_wnd > 0) {
        wheel.cancel(c.rtx_timer);
        c.persist_mode = false;
        c.persist_backoff = 0;
      }
      queue_output(c);
    }
  }
}

bool StackCore::process_ack(TcpConnection& c, const Segment& seg) {
  const SeqNum ack = seg.ack;
  // RFC 9293: "If the ACK acks something not yet sent (SEG.ACK > SND.NXT) then send an ACK, drop
  // the segment". RFC 5961 §5.2: an ACK older than SND.UNA - MAX.SND.WND is also dropped with a
  // challenge ACK, so blind data injection must guess the ACK as well.
  const std::uint32_t max_wnd = std::max<std::uint32_t>(c.max_snd_wnd, 1);
  if (ack > c.snd_max || ack < c.snd_una - max_wnd) {
    ++stats.drops[static_cast<std::size_t>(DropReason::kBadAck)];
    if (c.state == TcpState::kSynReceived) {
      send_rst_reply(seg);  // §3.10.7.4: "<SEQ=SEG.ACK><CTL=RST>"
    } else {
      send_challenge_ack(c);
    }
    return false;
  }

  if (c.state == TcpState::kSynReceived) {
    // "If SND.UNA < SEG.ACK =< SND.NXT, then enter ESTABLISHED state".
    if (!(c.snd_una < ack)) {
      ++stats.drops[static_cast<std::size_t>(DropReason::kBadAck)];
      send_rst_reply(seg);
      return false;
    }
    if (c.parent != kNoIndex) {
      TcpConnection& l = pool_[c.parent];
      if (l.accept_count >= l.backlog) {
        // Linux (tcp_abort_on_overflow = 0): drop the ACK; the SYN-ACK retransmission retries.
        ++stats.drops[static_cast<std::size_t>(DropReason::kBacklogFull)];
        return false;
      }
    }
    c.snd_wnd = static_cast<std::uint32_t>(seg.h.window) << c.snd_wscale;
    c.max_snd_wnd = c.snd_wnd;
    c.snd_wl1 = seg.seq;
    c.snd_wl2 = ack;
    if (c.syn_backlog_counted) {
      c.syn_backlog_counted = false;
      --syn_received;
    }
    if (c.parent != kNoIndex) {
      ++stats.conns_accepted;
    } else {
      ++stats.conns_opened;  // simultaneous open
    }
    // RFC 6298 (5.7): the SYN-ACK (or, in a simultaneous open, the SYN) timed out: data
    // transmission starts with an RTO of 3 s, not with their backoff. An RTT sample taken from
    // this ACK below (a timestamp echo, RFC 7323 §4.1) replaces it.
    if (c.rtx_count > 0) c.rtt.restore_after_syn_timeout();
    on_established(c);
    if (c.parent != kNoIndex) enqueue_accept(pool_[c.parent], c);
    if (c.fin_queued) set_state(c, TcpState::kFinWait1);
  }

  // Bytes in flight before this ACK, for the CC's cwnd-limited test: what was sent since
  // SND.UNA (after an RTO, only what went out again since snd_nxt was pulled back).
  const std::uint32_t prior_flight = static_cast<std::uint32_t>(c.snd_nxt - c.snd_una);
  std::uint32_t newly_sacked = 0;

  // The SACK blocks, and whether the first reports a duplicate (RFC 2883 §4: below the
  // cumulative ACK, or within the second block).
  std::array<SackBlock, 4> blocks{};
  std::size_t nblocks = 0;
  std::optional<SackBlock> dsack;
  if (c.sack_ok) {
    nblocks = seg.h.options.sack_count;
    for (std::size_t i = 0; i < nblocks; ++i) {
      blocks[i] = {SeqNum(seg.h.options.sack[i].left), SeqNum(seg.h.options.sack[i].right)};
    }
    if (nblocks > 0 && blocks[0].right - blocks[0].left > 0 &&
        (blocks[0].left < ack ||
         (nblocks > 1 && blocks[0].left >= blocks[1].left && blocks[0].right <= blocks[1].right))) {
      dsack = blocks[0];
    }
  }
  // What this ACK newly delivers, for RACK (RFC 8985 §6.2): read from the transmit times before
  // the scoreboard forgets them. And for PRR (RFC 6937 DeliveredData), SACKed bytes before.
  const SeqNum prior_una = c.snd_una;
  const std::uint32_t prior_sacked = c.sack_ok ? c.scoreboard.sacked_bytes() : 0;
  const bool prior_rto = c.rtx_count > 0;
  RackDelivered delivered;
  if (rack_on(c) && ack >= c.snd_una) {
    if (ack > c.snd_una) c.scoreboard.rack_delivered(c.snd_una, ack, delivered);
    for (std::size_t i = dsack ? 1 : 0; i < nblocks; ++i) {
      const SeqNum l = seq_max(blocks[i].left, ack);
      if (l < blocks[i].right && blocks[i].right <= c.snd_max)
        c.scoreboard.rack_delivered(l, blocks[i].right, delivered);
    }
  }

  if (ack > c.snd_una) {
    // New data acknowledged. The SYN occupies iss; data starts at snd_buf_seq.
    const std::uint32_t acked = static_cast<std::uint32_t>(ack - c.snd_una);
    if (ack > c.snd_buf_seq) {
      const std::uint32_t bytes =
          std::min<std::uint32_t>(static_cast<std::uint32_t>(ack - c.snd_buf_seq), c.snd_buf_size());
      if (bytes > 0) c.snd_buf->consume(bytes);  // no ring (TIME-WAIT): nothing is unacknowledged
      c.snd_buf_seq += bytes;
      c.bytes_acked += bytes;
    }
    c.stall_since = now;  // progress: TCP_USER_TIMEOUT's wait (RFC 5482) starts again
    // RTT (RFC 6298 §2): the timed segment's clock sample first, as Linux prefers its own
    // per-segment clock (tcp_ack_update_rtt()): it has the clock's resolution, where a timestamp
    // echo has TSval's 1 ms. Karn's rule (RFC 6298 §3) leaves only segments never retransmitted
    // timed. Otherwise the echo (unambiguous, RFC 7323 §4.1) when it reads at least one tick: an
    // echo of this very millisecond says only "below 1 ms" (a sub-millisecond path, where the
    // timed samples carry the figure; feeding 0 would drag SRTT down, TCP_INFO would show none).
    Duration sample{};
    if (c.rtt_timing && ack >= c.rtt_seq) {
      sample = now - c.rtt_start;
      c.rtt.sample(sample);
      c.rtt_timing = false;
    } else if (c.ts_ok && seg.h.options.timestamps && seg.h.options.timestamps->tsecr != 0) {
      // A TSecr from the future (a corrupted or forged echo) gives no sample at all.
      const auto ms = static_cast<std::int32_t>(ts_now(c) - seg.h.options.timestamps->tsecr);
      if (ms > 0) {
        sample = Duration::millis(ms);
        c.rtt.sample(sample);
      }
    }
    c.rtt.reset_backoff();
    c.rtx_count = 0;
    // Reordering (RFC 8985 §6.2 RACK.reordering_seen): the cumulative ACK fills a hole below
    // SACKed data although the hole's first segment was never retransmitted (outside recovery,
    // past the recovery point and at or above HighRxt, nothing was sent twice).
    // (With RACK, step 3 of RFC 8985 §6.2 in rack_update() decides this.)
    if (c.sack_ok && !rack_on(c) && !c.in_recovery && c.snd_una >= c.recover && c.snd_una >= c.high_rxt &&
        c.scoreboard.highest_sacked()) {
      c.reordering_seen = true;
    }
    c.snd_una = ack;
    if (c.snd_nxt < c.snd_una) c.snd_nxt = c.snd_una;
    if (c.high_rxt < c.snd_una) c.high_rxt = c.snd_una;
    if (c.sack_ok) {
      if (nblocks > 0) {
        newly_sacked = c.scoreboard.update(c.snd_una, c.snd_max, {blocks.data(), nblocks});
      } else {
        c.scoreboard.advance(c.snd_una);
      }
      c.scoreboard.xmit().advance(c.snd_una);
    }
    // RFC 3522 Eifel detection on the first ACK after a timeout's retransmission: an echo older
    // than the retransmission means the original arrived; RFC 4015 restores the window.
    if (prior_rto && c.undo_armed && c.undo_rto && eifel_spurious(c, seg)) undo(c);

    if (c.in_recovery) {
      if (ack >= c.recover) {
        // Full acknowledgment: recovery ends (RFC 6582 §3.2 step 3, RFC 6675 §5), unless the
        // echo says the hole was filled by an original transmission (RFC 3522): then the
        // reduction is undone (Linux tcp_try_undo_recovery()).
        if (c.reo_wnd_persist > 0 && --c.reo_wnd_persist == 0) c.reo_wnd_mult = 1;  // RFC 8985 §6.2 step 4
        if (c.sack_ok && eifel_spurious(c, seg)) {
          undo(c);
        } else {
          c.in_recovery = false;
          c.dupacks = 0;
          c.cc->on_recovery_exit(now);
        }
        if (!c.sack_ok) {
          // RFC 6582 §3.2 step 6 option (1): no burst when little is outstanding.
          c.cc->set_cwnd(cc::recovery_full_ack_cwnd(c.cc->ssthresh(), flight_size(c), effective_mss(c)));
        }
      } else if (!c.sack_ok) {
        // NewReno partial ACK (RFC 6582 §3.2 step 4): retransmit the first unacknowledged
        // segment, deflate cwnd by the amount acked, add back one SMSS when that was >= SMSS.
        c.cc->set_cwnd(cc::recovery_partial_ack_cwnd(c.cc->cwnd(), acked, effective_mss(c)));
        retransmit_head(c);
      }
    } else {
      c.dupacks = 0;
      AckSample s;
      s.bytes_acked = acked;
      s.bytes_in_flight = prior_flight;
      s.rtt = sample;
      s.min_rtt = c.rtt.min_rtt();
      s.srtt = c.rtt.has_sample() ? c.rtt.srtt() : Duration{};  // CUBIC's RTT (RFC 9438 §4.2)
      s.now = now;
      c.cc->on_ack(s);
    }
    // RFC 6298 (5.2)/(5.3): stop the timer when everything is acknowledged, else restart it.
    if (c.snd_una == c.snd_max) {
      if (!c.persist_mode) wheel.cancel(c.rtx_timer);
    } else {
      arm_rto(c);
    }
    // RFC 6675 §5: "If the incoming ACK is a cumulative acknowledgment, the TCP MUST reset
    // DupAcks to zero. If the incoming ACK is a duplicate acknowledgment per the definition in
    // Section 2 (regardless of its status as a cumulative acknowledgment), then the TCP MUST
    // increase DupAcks by one" and go to (4), loss recovery, when DupAcks >= DupThresh (1) or
    // IsLost(HighACK + 1) (2). The ACK that reveals a loss may well advance SND.UNA too (the
    // receiver's earlier ACKs were lost or coalesced); SACKed bytes above the hole count then as
    // on a duplicate ACK, as Linux does, rather than leaving the hole to the RTO.
    if (c.sack_ok && !rack_on(c) && !c.in_recovery && newly_sacked > 0 && c.snd_max > c.snd_una) {
      c.dupacks = 1;
      // RFC 6675 §5.1: no new recovery until HighACK reaches the previous RecoveryPoint.
      if (c.snd_una >= c.recover && c.scoreboard.is_lost(c.snd_una, effective_mss(c))) loss_detected(c);
    }
    queue_output(c);
    notify(c);  // send buffer space
  } else if (ack == c.snd_una) {
    if (c.sack_ok && nblocks > 0)
      newly_sacked = c.scoreboard.update(c.snd_una, c.snd_max, {blocks.data(), nblocks});
    // A duplicate ACK: RFC 5681 §2 (no data, no SYN/FIN, same window, data outstanding); with
    // SACK, RFC 6675 §2: one "that contains a SACK block that newly SACKs data". Without that
    // rule, the ACKs a receiver sends for duplicated segments (D-SACKs, RFC 2883) would count
    // and three of them would start a spurious recovery.
    const bool outstanding = c.snd_max > c.snd_una;
    const bool classic = seg.payload.empty() && !seg.syn() && !seg.fin() &&
                         (static_cast<std::uint32_t>(seg.h.window) << c.snd_wscale) == c.snd_wnd;
    if (outstanding && (c.sack_ok ? newly_sacked > 0 : classic)) {
      if (c.dupacks < 255) ++c.dupacks;
      if (!c.sack_ok && c.in_recovery) {
        // RFC 5681 §3.2 step 4: inflate cwnd by one SMSS for each further duplicate ACK.
        c.cc->set_cwnd(cc::recovery_dupack_cwnd(c.cc->cwnd(), effective_mss(c)));
        queue_output(c);
      } else if (!rack_on(c) && !c.in_recovery) {
        const bool lost = c.dupacks >= SackScoreboard::kDupThresh ||
                          (c.sack_ok && c.scoreboard.is_lost(c.snd_una, effective_mss(c)));
        // RFC 6582 §3.2 step 2: without SACK, no new recovery until snd_una passes the previous
        // one's point (dupACKs for retransmitted data must not start another). With SACK,
        // RFC 6675 §5.1: "until HighACK is greater than or equal to" RecoveryPoint.
        const bool past = c.sack_ok ? c.snd_una >= c.recover : c.snd_una > c.recover;
        if (lost && past) {
          loss_detected(c);
        } else {
          // RFC 3042 limited transmit: each of the first two duplicate ACKs may release one new
          // segment (output() allows cwnd + dupacks * SMSS), keeping the ACK clock going so
          // that a small window still collects DupThresh duplicates.
          queue_output(c);
        }
      } else {
        // With RACK, loss is decided below (rack_detect), limited transmit (RFC 3042) meanwhile;
        // in SACK recovery, output sends what pipe and PRR allow.
        queue_output(c);
      }
    }
  }
  if (c.sack_ok && ack >= prior_una) {
    if (dsack) on_dsack(c, *dsack);
    if (rack_on(c)) {
      rack_update(c, delivered);
      tlp_on_ack(c, ack, ack > prior_una, !seg.payload.empty() || newly_sacked > 0, dsack);
      rack_detect(c, false);
    }
    if (c.in_recovery) {
      // RFC 6937 DeliveredData = (delta snd.una) + (delta SACKd).
      const std::int64_t d = static_cast<std::int64_t>(ack - prior_una) +
                             static_cast<std::int64_t>(c.scoreboard.sacked_bytes()) - prior_sacked;
      if (d > 0) prr_on_ack(c, static_cast<std::uint32_t>(d));
    }
    if (ack > prior_una) schedule_loss_probe(c);
  }
  // Window update for acceptable ACKs (SND.UNA =< SEG.ACK =< SND.NXT).
  if (ack >= c.snd_una && ack <= c.snd_max) update_window(c, seg);

  // Our FIN acknowledged?
  const bool fin_acked = c.fin_queued && c.snd_una == c.fin_seq() + 1;
  switch (c.state) {
    case TcpState::kFinWait1:
      if (fin_acked) {
        set_state(c, TcpState::kFinWait2);
        // Linux: an orphan does not wait forever for the peer's FIN (tcp_fin_timeout).
        if (c.orphan) wheel.arm(c.aux_timer, now + kFinWait2Timeout);
      }
      break;
    case TcpState::kClosing:
      if (fin_acked) enter_time_wait(c);
      break;
    case TcpState::kLastAck:
      if (fin_acked) {
        finish(c);
        return false;
      }
      break;
    default:
      break;
  }
  return true;
}

void StackCore::enter_recovery(TcpConnection& c) {
  ++stats.fast_retransmits;
  undo_begin(c, false);
  c.in_recovery = true;
  // RFC 6937 §3: prr_delivered = prr_out = 0, RecoverFS = snd.nxt - snd.una.
  c.prr_delivered = 0;
  c.prr_out = 0;
  c.prr_recover_fs = flight_size(c);
  if (c.reo_timer) {
    // rtx_timer counted the reordering window: it is the retransmission timer again.
    c.reo_timer = false;
    arm_rto(c);
  }
  c.recover = c.snd_max;  // RFC 6582 §3.2 step 2 / RFC 6675 §5 (4.1) RecoveryPoint = HighData
  const std::uint32_t mss = effective_mss(c);
  if (c.sack_ok) {
    ++stats.sack_recoveries;
    c.high_rxt = c.snd_una;
  }
  // RFC 6675 §5 (4.2) and RFC 5681 §3.2 step 2: ssthresh from FlightSize (not pipe, which
  // already leaves out the SACKed and lost bytes and would halve the window twice).
  c.cc->on_congestion_event(flight_size(c), now);
  if (rack_on(c)) {
    // RACK (RFC 8985 §6.2 step 5) marked what is lost; sack_recovery_output() sends it as PRR
    // allows (prr_on_ack() lets the first segment go at once).
    c.high_rxt = c.snd_una;
    queue_output(c);
    return;
  }
  // RFC 6675 (4.3) / RFC 5681 §3.2 step 2: retransmit the first unacknowledged segment now.
  retransmit_head(c);
  if (c.sack_ok) {
    c.high_rxt = c.snd_una + std::min<std::uint32_t>(mss, flight_size(c));
  } else {
    // RFC 5681 §3.2 step 3: cwnd = ssthresh + 3*SMSS (artificial inflation).
    c.cc->set_cwnd(cc::recovery_entry_cwnd(c.cc->ssthresh(), mss));
  }
  queue_output(c);
}

}  // namespace xdptcp::tcp
