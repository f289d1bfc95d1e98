// Segment arrival (RFC 9293 §3.10.7): parse and verify the packet, find its connection, and run
// the state's processing. SYN-SENT has its own function (§3.10.7.3); the synchronized states run
// the ordered pipeline of §3.10.7.4: check sequence (with PAWS, RFC 7323 §5.3) -> RST (RFC 5961
// §3.2) -> SYN (RFC 5961 §4) -> ACK (tcp_ack.cpp) -> URG (ignored) -> text -> FIN.
// LISTEN, TIME-WAIT SYNs and segments for no connection are in tcp_listen.cpp.
#include <algorithm>
#include <cerrno>

#include "userstack/tcp/tcp_stack_core.h"
#include "userstack/wire/ip.h"

namespace xdptcp::tcp {

using namespace wire::tcp_flags;

namespace {
// Linux's TCP_PAWS_WINDOW: how far (in timestamp ticks) TSval may lag TS.Recent and still pass.
constexpr std::int32_t kPawsWindowTicks = 1;
}  // namespace

void StackCore::input(std::span<const std::uint8_t> packet) {
  accepted = false;
  ++stats.segments_in;
  auto ip = wire::parse_ip(packet);
  if (!ip) {
    ++stats.drops[static_cast<std::size_t>(DropReason::kMalformed)];
    return;
  }
  if (ip->protocol != wire::kIpProtoTcp || !is_local_addr(ip->dst)) {
    ++stats.drops[static_cast<std::size_t>(DropReason::kNotOurs)];
    return;
  }
  auto tcp = wire::parse_tcp(ip->payload);
  if (!tcp) {
    const auto r =
        tcp.error() == wire::ParseError::kBadOption ? DropReason::kBadOptions : DropReason::kMalformed;
    ++stats.drops[static_cast<std::size_t>(r)];
    return;
  }
  if (!wire::tcp_checksum_ok(ip->src, ip->dst, ip->payload)) {
    ++stats.drops[static_cast<std::size_t>(DropReason::kBadChecksum)];
    return;
  }
  Segment seg;
  seg.tuple.local = {ip->dst, tcp->repr.dst_port};
  seg.tuple.remote = {ip->src, tcp->repr.src_port};
  seg.h = tcp->repr;
  seg.payload = tcp->payload;
  seg.seq = SeqNum(seg.h.seq);
  seg.ack = SeqNum(seg.h.ack);

  seg.flow_hash = flows.hash(seg.tuple);  // hashed once: find here, insert when it opens a flow
  if (auto idx = find_flow(seg.tuple, seg.flow_hash)) {
    segment_arrives(pool_[*idx], seg);
    return;
  }
  // No connection here: another engine may own the flow (its packets moved queue). A SYN
  // without ACK opens a new flow at this engine's listener replica, so it is never handed off.
  // Nor is a flow no engine is known to own: a SYN cookie's ACK is checked here, by the secret all
  // engines share, and anything else is answered here (issue 11, item 1: one lookup, not one per
  // engine, for a blind ACK or RST flood).
  if (miss_handler != nullptr && !(seg.syn() && !seg.ack_flag())) {
    switch (miss_handler->on_flow_miss(seg.tuple)) {
      case FlowMissHandler::Miss::kHandedOff:
        --stats.segments_in;  // counted by the engine that takes it
        return;
      case FlowMissHandler::Miss::kHandoffDropped:
        ++stats.drops[static_cast<std::size_t>(DropReason::kHandoffRingFull)];
        return;
      case FlowMissHandler::Miss::kAnswerHere:
        break;
    }
  }
  if (TcpConnection* l = find_listener(seg.tuple.local)) {
    input_listen(*l, seg, std::nullopt);
    return;
  }
  send_rst_reply(seg);
}

void StackCore::segment_arrives(TcpConnection& c, const Segment& seg) {
  ++c.segs_in;  // TCP_INFO counters (Linux counts before its checks too)
  if (!seg.payload.empty()) ++c.data_segs_in;
  switch (c.state) {
    case TcpState::kSynSent:
      input_syn_sent(c, seg);
      return;
    case TcpState::kTimeWait:
      if (seg.syn() && !seg.ack_flag() && !seg.rst()) {
        input_time_wait_syn(c, seg);
        return;
      }
      input_synchronized(c, seg);
      return;
    case TcpState::kClosed:
    case TcpState::kListen:
      send_rst_reply(seg);
      return;
    default:
      input_synchronized(c, seg);
      return;
  }
}

// RFC 9293 §3.10.7.3.
void StackCore::input_syn_sent(TcpConnection& c, const Segment& seg) {
  // First, check the ACK bit: it must acknowledge our SYN (ISS < SEG.ACK =< SND.NXT).
  const bool ack_ok = seg.ack_flag() && c.iss < seg.ack && seg.ack <= c.snd_max;
  if (seg.ack_flag() && !ack_ok) {
    if (!seg.rst()) send_rst_reply(seg);
    ++stats.drops[static_cast<std::size_t>(DropReason::kBadAck)];
    return;
  }
  // Second, the RST bit: acceptable only with an acceptable ACK (RFC 5961 §3.2 applies the
  // same rule: the ACK ties the RST to our SYN).
  if (seg.rst()) {
    if (ack_ok) {
      ++stats.conns_refused;
      abort(c, ECONNREFUSED, false);
    } else {
      ++stats.drops[static_cast<std::size_t>(DropReason::kRstOutOfWindow)];
    }
    return;
  }
  // Fourth, the SYN bit.
  if (!seg.syn()) {
    ++stats.drops[static_cast<std::size_t>(DropReason::kStateDrop)];
    return;
  }
  // A SYN that acknowledges ours (ack_ok) proves it answers our SYN; a bare SYN (simultaneous
  // open) proves nothing yet and is not reported as accepted.
  accepted = ack_ok;
  c.irs = seg.seq;
  c.rcv_nxt = seg.seq + 1;
  c.rcv_adv = c.rcv_nxt;
  c.last_rcv = now;
  apply_syn_options(c, seg.h.options);
  // RFC 7323 §2.2: the window of a SYN segment is never scaled.
  c.snd_wnd = seg.h.window;
  c.max_snd_wnd = c.snd_wnd;
  c.snd_wl1 = seg.seq;
  c.snd_wl2 = seg.ack;
  if (ack_ok) {
    // Our SYN is acknowledged: ESTABLISHED, and ACK (with any queued data) at the next output.
    c.snd_una = seg.ack;
    if (c.snd_nxt < c.snd_una) c.snd_nxt = c.snd_una;
    c.snd_wl2 = seg.ack;
    wheel.cancel(c.rtx_timer);
    const bool syn_timed_out = c.rtx_count > 0;
    c.rtx_count = 0;
    if (c.rtt_timing) {
      c.rtt.sample(now - c.rtt_start);
      c.rtt_timing = false;
    } else if (c.ts_ok && seg.h.options.timestamps && seg.h.options.timestamps->tsecr != 0) {
      // The SYN was retransmitted (Karn's rule leaves no timed sample), but the SYN-ACK's echo of
      // the SYN's TSval is unambiguous (RFC 7323 §4.1), as tcp_ack.cpp uses it for a SYN-ACK that
      // timed out and Linux does (tcp_ack_update_rtt()); without it the data RTO would be 3 s.
      const auto ms = static_cast<std::int32_t>(ts_now(c) - seg.h.options.timestamps->tsecr);
      if (ms > 0) c.rtt.sample(Duration::millis(ms));
    }
    // RFC 6298 (5.7): after the SYN timed out, data transmission starts with an RTO of 3 s
    // (unless measured), not with the backoff of the SYN's retransmissions.
    if (syn_timed_out) c.rtt.restore_after_syn_timeout();
    ++stats.conns_opened;
    on_established(c);
    if (c.fin_queued) set_state(c, TcpState::kFinWait1);
    hold_ack(c);  // the application's first data may ride on it
    return;
  }
  // Simultaneous open (RFC 9293 §3.5 Figure 8): SYN-RECEIVED, send SYN,ACK <SEQ=ISS><ACK=RCV.NXT>.
  set_state(c, TcpState::kSynReceived);
  c.snd_nxt = c.iss;
  queue_output(c);
}

// RFC 7323 §5.3 R1-R2: PAWS. True when the segment may go on.
bool StackCore::check_paws(TcpConnection& c, const Segment& seg) {
  if (!c.ts_ok || seg.rst() || !seg.h.options.timestamps) return true;
  const std::uint32_t tsval = seg.h.options.timestamps->tsval;
  const auto behind = static_cast<std::int32_t>(c.ts_recent - tsval);
  // Like Linux (TCP_PAWS_WINDOW), one tick of slack: segments sent in the same burst a
  // millisecond apart and reordered on the path are not old duplicates.
  if (behind <= kPawsWindowTicks) return true;
  // Linux tcp_disordered_ack(): a pure duplicate ACK (SEG.SEQ = RCV.NXT, SEG.ACK = SND.UNA, the
  // window unchanged) reordered behind a later one is no old duplicate either; dropping it
  // would lose its SACK blocks (RFC 6675) and answer it with an ACK. Bounded to an RTO's worth
  // of timestamp ticks (ms) so that PAWS keeps its meaning.
  if (seg.payload.empty() && !seg.syn() && !seg.fin() && seg.ack_flag() && seg.seq == c.rcv_nxt &&
      seg.ack == c.snd_una && (static_cast<std::uint32_t>(seg.h.window) << c.snd_wscale) == c.snd_wnd &&
      behind <= c.rtt.rto().ns / 1'000'000) {
    return true;
  }
  if (now - c.ts_recent_age > kPawsIdle) {
    // RFC 7323 §5.5: TS.Recent too old to be trusted; take the new value.
    c.ts_recent = tsval;
    c.ts_recent_age = now;
    return true;
  }
  ++stats.drops[static_cast<std::size_t>(DropReason::kPawsReject)];
  c.ack_now = true;  // R1: "send an acknowledgment in reply"
  queue_output(c);
  return false;
}

// First check (§3.10.7.4): the acceptability test of Table 6. True when acceptable.
bool StackCore::check_sequence(TcpConnection& c, const Segment& seg) {
  const std::uint32_t wnd = c.rcv_adv > c.rcv_nxt ? static_cast<std::uint32_t>(c.rcv_adv - c.rcv_nxt) : 0;
  const std::uint32_t len = seg.len();
  bool ok;
  if (len == 0) {
    ok = wnd == 0 ? seg.seq == c.rcv_nxt : seq_in_range(seg.seq, c.rcv_nxt, c.rcv_nxt + wnd);
  } else if (wnd == 0) {
    // "special allowance should be made to accept valid ACKs, URGs, and RSTs": a segment at
    // RCV.NXT is processed for its ACK (its text will not fit).
    ok = seg.seq == c.rcv_nxt;
  } else {
    ok = seq_in_range(seg.seq, c.rcv_nxt, c.rcv_nxt + wnd) ||
         seq_in_range(seg.seq + (len - 1), c.rcv_nxt, c.rcv_nxt + wnd);
  }
  if (ok) return true;
  ++stats.drops[static_cast<std::size_t>(DropReason::kOutOfWindow)];
  if (c.state == TcpState::kTimeWait && seg.fin() && !seg.rst()) {
    // "The only thing that can arrive in this state is a retransmission of the remote FIN.
    // Acknowledge it, and restart the 2 MSL timeout."
    wheel.arm(c.aux_timer, now + cfg.time_wait);
  }
  if (!seg.rst()) {
    // An old duplicate (all of it below RCV.NXT): reported as a D-SACK (RFC 2883 §4 (1)).
    if (!seg.payload.empty() && seg.seq + static_cast<std::uint32_t>(seg.payload.size()) <= c.rcv_nxt) {
      note_dsack(c, seg.seq, seg.seq + static_cast<std::uint32_t>(seg.payload.size()));
    }
    c.ack_now = true;  // "send an acknowledgment: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>"
    queue_output(c);
  }
  return false;
}

void StackCore::note_dsack(TcpConnection& c, SeqNum left, SeqNum right) {
  // RFC 2883 (D-SACK), when SACK was negotiated: the next ACK's first block reports the
  // duplicate, so the sender learns its retransmission was not needed (RFC 2883 §5, RFC 8985
  // §6.2 step 4). The latest duplicate replaces one not yet reported.
  if (!c.sack_ok || !(left < right)) return;
  c.dsack_pending = true;
  c.dsack_left = left;
  c.dsack_right = right;
}

// Second check: the RST bit, RFC 5961 §3.2. True when the segment goes on (no RST).
bool StackCore::check_rst(TcpConnection& c, const Segment& seg) {
  if (!seg.rst()) return true;
  if (seg.seq != c.rcv_nxt) {
    // In the window but not exact: a challenge ACK, so a blind attacker must guess exactly.
    ++stats.drops[static_cast<std::size_t>(DropReason::kRstChallenged)];
    send_challenge_ack(c);
    return false;
  }
  ++stats.rsts_in;
  switch (c.state) {
    case TcpState::kSynReceived:
      if (c.parent != kNoIndex) {
        // Passive open: "return this connection to LISTEN" (the listener still is).
        abort(c, 0, false);
      } else {
        ++stats.conns_refused;
        abort(c, ECONNREFUSED, false);
      }
      return false;
    case TcpState::kCloseWait:
      ++stats.conns_reset;
      abort(c, EPIPE, false);  // Linux tcp_reset(): EPIPE in CLOSE-WAIT
      return false;
    case TcpState::kClosing:
    case TcpState::kLastAck:
    case TcpState::kTimeWait:
      abort(c, 0, false);
      return false;
    default:
      ++stats.conns_reset;
      abort(c, ECONNRESET, false);
      return false;
  }
}

// Fourth check: the SYN bit in a synchronized state. RFC 5961 §4 (RFC 9293 §3.10.7.4 fourth):
// a challenge ACK, whatever the sequence number. True when the segment goes on.
bool StackCore::check_syn(TcpConnection& c, const Segment& seg) {
  if (!seg.syn()) return true;
  ++stats.drops[static_cast<std::size_t>(DropReason::kSynChallenged)];
  send_challenge_ack(c);
  return false;
}

void StackCore::input_synchronized(TcpConnection& c, const Segment& seg) {
  // A retransmitted SYN in SYN-RECEIVED means our SYN-ACK was lost: send it again (Linux
  // tcp_check_req(); RFC 9293's acceptability test would only send an ACK).
  if (c.state == TcpState::kSynReceived && seg.syn() && !seg.ack_flag() && !seg.rst() && seg.seq == c.irs) {
    c.snd_nxt = c.iss;
    queue_output(c);
    return;
  }
  if (!check_paws(c, seg)) return;
  // Simultaneous open with crossing SYN-ACKs (RFC 9293 §3.5 Figure 8): the peer's SYN-ACK repeats
  // the SYN we answered and acknowledges ours, which completes the handshake. The acceptability
  // test would drop it (its SYN lies below RCV.NXT) and the open would stall until our SYN-ACK is
  // retransmitted; Linux lets exactly this segment through (tcp_validate_incoming()).
  const bool crossing_synack = c.state == TcpState::kSynReceived && c.parent == kNoIndex && seg.syn() &&
                               seg.ack_flag() && !seg.rst() && seg.seq == c.irs && seg.ack == c.snd_nxt;
  if (!crossing_synack) {
    if (!check_sequence(c, seg)) return;
    if (!check_rst(c, seg)) return;
    if (!check_syn(c, seg)) return;
  }

  // RFC 7323 §4.3 (2): remember the timestamp of a segment that covers Last.ACK.sent.
  if (c.ts_ok && seg.h.options.timestamps && seg.seq <= c.last_ack_sent &&
      static_cast<std::int32_t>(seg.h.options.timestamps->tsval - c.ts_recent) >= 0) {
    c.ts_recent = seg.h.options.timestamps->tsval;
    c.ts_recent_age = now;
  }
  c.last_rcv = now;
  c.keepalive_probes_out = 0;

  // Fifth: the ACK field.
  if (!seg.ack_flag()) {
    ++stats.drops[static_cast<std::size_t>(DropReason::kNoAck)];
    return;
  }
  if (!process_ack(c, seg)) return;
  // Past every check of §3.10.7.4 up to the ACK: the segment belongs to this connection.
  accepted = true;
  if (c.state == TcpState::kClosed || !c.allocated) return;

  // Sixth: URG is not supported (RFC 6093 discourages it); the urgent pointer is ignored.

  // Seventh: the segment text, trimmed to what lies at or after RCV.NXT.
  SeqNum seq = seg.seq + (seg.syn() ? 1 : 0);
  std::span<const std::uint8_t> data = seg.payload;
  if (seq < c.rcv_nxt) {
    const std::uint32_t skip = std::min<std::uint32_t>(static_cast<std::uint32_t>(c.rcv_nxt - seq),
                                                       static_cast<std::uint32_t>(data.size()));
    // Its start duplicates what was received: a D-SACK (RFC 2883 §4 (1)), acknowledged at once.
    if (skip > 0) {
      note_dsack(c, seq, seq + skip);
      c.ack_now = true;
      queue_output(c);
    }
    data = data.subspan(skip);
    seq = seq + skip;
  }
  const SeqNum fin_at = seg.seq + (seg.syn() ? 1u : 0u) + static_cast<std::uint32_t>(seg.payload.size());
  if (!data.empty()) {
    if (in(c.state, {TcpState::kEstablished, TcpState::kFinWait1, TcpState::kFinWait2})) {
      if (c.orphan) {
        // Data for a socket nobody will read: Linux resets (tcp_rcv_state_process, RFC 2525
        // §2.17), so the peer learns at once that its data was not consumed.
        if (seq + static_cast<std::uint32_t>(data.size()) > c.rcv_nxt) {
          ++stats.conns_reset;
          abort(c, 0, true);
          return;
        }
      } else {
        process_text(c, seg, seq, data);
      }
    } else {
      ++stats.drops[static_cast<std::size_t>(DropReason::kStateDrop)];
    }
  }

  // Eighth: the FIN bit (only once every byte before it has arrived).
  if (seg.fin() && !c.fin_received) {
    if (fin_at == c.rcv_nxt) {
      process_fin(c);
    } else if (fin_at > c.rcv_nxt &&
               in(c.state, {TcpState::kEstablished, TcpState::kFinWait1, TcpState::kFinWait2})) {
      c.rcv_fin_seq = fin_at;  // out of order: processed when reassembly reaches it
    }
  } else if (seg.fin() && c.state == TcpState::kTimeWait && fin_at + 1 == c.rcv_nxt) {
    // TIME-WAIT: a retransmitted FIN. Acknowledge it and restart the 2 MSL timeout.
    c.ack_now = true;
    queue_output(c);
    wheel.arm(c.aux_timer, now + cfg.time_wait);
  }
}

void StackCore::process_text(TcpConnection& c, const Segment& seg, SeqNum seq,
                             std::span<const std::uint8_t> data) {
  (void)seg;
  // Linux tcp_event_data_recv(): data after a silence longer than the RTO finds a sender whose
  // congestion window restarts (RFC 5681 §4.1): ACK its segments at once again.
  if (now - c.last_data_recv > c.rtt.rto()) enter_quickack(c);
  c.last_data_recv = now;
  // No receive ring: TIME-WAIT gave it back. RFC 9293 §3.10.7.4 seventh: after a FIN the text
  // "should not occur"; ignore it.
  if (!c.rcv_buf) return;
  ByteRing& rb = *c.rcv_buf;
  const auto off = static_cast<std::uint32_t>(seq - c.rcv_nxt);
  const std::size_t room = rb.capacity() - rb.size();
  if (off >= room) {
    ++stats.drops[static_cast<std::size_t>(DropReason::kOutOfWindow)];
    c.ack_now = true;
    queue_output(c);
    return;
  }
  data = data.first(std::min<std::size_t>(data.size(), room - off));
  const std::size_t stored = rb.write_at(rb.size() + off, data);
  if (stored == 0 && !data.empty()) {
    // No buffer memory (the stack's budget is handed out): the window promised room that the
    // stack cannot back now. Drop as if outside the window and ACK (RFC 9293 §3.10.7.4), so
    // the peer retransmits later; nothing is recorded, so no state changes. Part of a segment
    // stored is acknowledged as far as it goes, the same way.
    ++stats.drops[static_cast<std::size_t>(DropReason::kMemFull)];
    c.ack_now = true;
    queue_output(c);
    return;
  }
  const SeqNum before = c.rcv_nxt;
  if (off == 0 && c.reasm.empty()) {
    rb.commit(stored);
    c.rcv_nxt += static_cast<std::uint32_t>(stored);
  } else {
    // A duplicate of out-of-order data already held: the first overlap is the D-SACK block
    // (RFC 2883 §4 (2)); the block holding it follows (sack_recent below).
    for (const ByteRange& r : c.reasm.ranges()) {
      const std::uint32_t lo = std::max<std::uint32_t>(r.offset, off);
      const std::uint32_t hi = std::min<std::uint32_t>(r.end(), off + static_cast<std::uint32_t>(stored));
      if (lo < hi) {
        note_dsack(c, c.rcv_nxt + lo, c.rcv_nxt + hi);
        break;
      }
    }
    if (!c.reasm.add(off, static_cast<std::uint32_t>(stored))) {
      if (off != 0) {
        ++stats.drops[static_cast<std::size_t>(DropReason::kReassemblyFull)];
        c.ack_now = true;
        queue_output(c);
        return;
      }
      // In-order data that cannot be recorded: forget the out-of-order ranges (reneging, which
      // RFC 2018 §8 permits; Linux prunes its out-of-order queue the same way) so that the
      // connection always progresses.
      ++stats.drops[static_cast<std::size_t>(DropReason::kReassemblyFull)];
      c.reasm.clear();
      c.sack_recent_count = 0;
      c.reasm.add(0, static_cast<std::uint32_t>(stored));
    }
    if (off != 0) {
      // RFC 2018 §4: the block holding the most recent segment goes first.
      auto& r = c.sack_recent;
      std::size_t n = std::min<std::size_t>(c.sack_recent_count, r.size() - 1);
      for (std::size_t i = n; i > 0; --i) r[i] = r[i - 1];
      r[0] = seq;
      c.sack_recent_count = static_cast<std::uint8_t>(n + 1);
    }
    const std::uint32_t ready = c.reasm.pop_front();
    rb.commit(ready);
    c.rcv_nxt += ready;
    // RFC 5681 §4.2: ACK at once an out-of-order segment, and one that fills a gap.
    c.ack_now = true;
  }
  const auto delivered = static_cast<std::uint32_t>(c.rcv_nxt - before);
  stats.data_bytes_in += delivered;
  c.bytes_received += delivered;
  if (c.rcv_fin_seq && *c.rcv_fin_seq == c.rcv_nxt) process_fin(c);
  if (delivered > 0) {
    schedule_ack(c);
    notify(c);
  } else {
    queue_output(c);
  }
}

void StackCore::enter_quickack(TcpConnection& c) {
  const std::uint32_t buf = c.rcv_buf ? static_cast<std::uint32_t>(c.rcv_buf->capacity()) : c.rcvbuf;
  std::uint32_t n = buf / (2u * std::max<std::uint32_t>(c.rcv_mss, 1));
  if (n == 0) n = 2;
  n = std::min<std::uint32_t>(n, kMaxQuickAcks);
  if (n > c.quickack) c.quickack = static_cast<std::uint8_t>(n);
}

// RFC 9293 §3.8.6.3 / RFC 1122 §4.2.3.2: delay the ACK, but ACK at least every second
// full-sized segment. Like Linux (__tcp_ack_snd_check), ACK at once when more than one
// full-sized segment is unacknowledged, and in quick-ack mode.
void StackCore::schedule_ack(TcpConnection& c) {
  const std::uint32_t full = c.rcv_mss - (c.ts_ok ? kTsOptionLen : 0);
  if (c.ack_now || static_cast<std::uint32_t>(c.rcv_nxt - c.last_ack_sent) > full) {
    if (c.quickack > 0) --c.quickack;  // an ACK sent at once (Linux tcp_dec_quickack_mode())
    c.ack_now = true;
    queue_output(c);
    return;
  }
  if (c.quickack > 0 && !c.in_accept_queue) {
    // Quick-ack mode: no delayed-ACK wait. The ACK still waits for the application's turn when
    // the stack holds ACKs for it (StackConfig::hold_acks_for_app), so that a reply written in
    // that turn carries it: at most one loop of the driver, not the delayed-ACK timeout. Not
    // when data or a FIN is already waiting to go: it carries the ACK now. A child not yet
    // accepted keeps the delayed ACK (and its budget): its application needs a turn to accept
    // it and another to read, and its reply then carries the ACK of a request that came with
    // the handshake's last ACK.
    --c.quickack;
    wheel.cancel(c.delack_timer);
    const bool unsent =
        c.snd_buf_seq + c.snd_buf_size() > c.snd_max || (c.fin_queued && c.snd_max <= c.fin_seq());
    if (unsent) {
      c.ack_now = true;
      queue_output(c);
    } else {
      hold_ack(c);
    }
    return;
  }
  if (!c.delack_timer.armed()) wheel.arm(c.delack_timer, now + cfg.delayed_ack);
  queue_output(c);  // a reply from the application at flush() carries the ACK
}

// Eighth check (§3.10.7.4): the FIN, in order.
void StackCore::process_fin(TcpConnection& c) {
  c.rcv_nxt += 1;
  c.fin_received = true;
  c.rcv_fin_seq.reset();
  // A FIN is acknowledged at the next output. In ESTABLISHED the application usually answers an
  // end of stream with close(), and its FIN carries the ACK.
  if (c.state == TcpState::kSynReceived || c.state == TcpState::kEstablished) {
    hold_ack(c);
  } else {
    c.ack_now = true;
    queue_output(c);
  }
  switch (c.state) {
    case TcpState::kSynReceived:
    case TcpState::kEstablished:
      set_state(c, TcpState::kCloseWait);
      break;
    case TcpState::kFinWait1:
      // Our FIN is not yet acknowledged (else we would be in FIN-WAIT-2): simultaneous close.
      set_state(c, TcpState::kClosing);
      break;
    case TcpState::kFinWait2:
      enter_time_wait(c);
      break;
    default:
      break;
  }
  notify(c);
}

}  // namespace xdptcp::tcp
