// Segment output: deciding what a connection may send (send window, cwnd, Nagle RFC 9293
// §3.7.4, sender SWS avoidance §3.8.6.2.1, FIN after the data, persist when the window is shut)
// and building segments straight into the PacketSink's buffer: IP header (wire::emit_ip), TCP
// header with options (wire::emit_tcp: MSS, window scale, SACK-permitted, timestamps RFC 7323
// §3, SACK blocks RFC 2018 §4), payload from the send ring, checksum. The advertised window
// follows receiver SWS avoidance (§3.8.6.2.2) and never shrinks (§3.8.6, RFC 7323 §2.4).
#include <algorithm>
#include <array>
#include <cstring>

#include "userstack/tcp/tcp_stack_core.h"
#include "userstack/wire/ip.h"

namespace xdptcp::tcp {

using namespace wire::tcp_flags;

void StackCore::queue_output(TcpConnection& c) {
  if (c.in_output_queue) return;
  c.in_output_queue = true;
  out_queue.push_back(c.index);  // each TCB at most once: within the reserved capacity
}

void StackCore::flush_queue() {
  std::swap(out_queue, out_spare);
  for (std::size_t i = 0; i < out_spare.size(); ++i) {
    TcpConnection& c = pool_[out_spare[i]];
    c.in_output_queue = false;
    if (!c.allocated) continue;
    if (c.ack_held) {
      queue_output(c);  // waits for release_held_acks(): the application's reply may carry it
      continue;
    }
    if (!output(c)) {
      // The sink is out of buffers: keep this and the rest queued for the next flush.
      for (std::size_t j = i; j < out_spare.size(); ++j) {
        TcpConnection& r = pool_[out_spare[j]];
        if (j > i) r.in_output_queue = false;
        if (r.allocated) queue_output(r);
      }
      break;
    }
  }
  out_spare.clear();
}

void StackCore::release_held_acks() {
  // Held connections are in the output queue (flush_queue keeps them there).
  for (const std::uint32_t i : out_queue) pool_[i].ack_held = false;
}

void StackCore::hold_ack(TcpConnection& c) {
  c.ack_now = true;
  c.ack_held = cfg.hold_acks_for_app && c.id >= 0;  // only an application can add to it
  queue_output(c);
}

std::uint32_t StackCore::effective_mss(const TcpConnection& c) const {
  // RFC 9293 §3.7.1: the MSS counts no TCP options; the timestamps option takes its room.
  const std::uint32_t opt = c.ts_ok ? kTsOptionLen : 0;
  return c.snd_mss > opt + 1 ? c.snd_mss - opt : 1;
}

std::uint32_t StackCore::send_room(const TcpConnection& c) const {
  const std::uint32_t mss = effective_mss(c);
  if (!c.sack_ok || (c.reasm.empty() && !c.dsack_pending)) return mss;
  // The same options send_segment() writes into a data segment, measured.
  wire::TcpRepr h;
  if (c.ts_ok) h.options.timestamps = wire::TcpTimestamps{};
  add_sack_blocks(c, h.options);
  const std::uint32_t sack =
      static_cast<std::uint32_t>(h.header_len()) - wire::kTcpMinHeader - (c.ts_ok ? kTsOptionLen : 0);
  return mss > sack + 1 ? mss - sack : 1;
}

std::uint16_t StackCore::window_field(TcpConnection& c, bool syn) {
  // Without a receive ring (TIME-WAIT gave it back) the window stays where it was advertised.
  const auto free = c.rcv_buf ? static_cast<std::uint32_t>(c.rcv_buf->free_space()) : 0u;
  if (syn) {
    // RFC 7323 §2.2: the window in a SYN is never scaled.
    const std::uint32_t w = std::min<std::uint32_t>(free, 65535);
    if (c.rcv_nxt + w > c.rcv_adv) c.rcv_adv = c.rcv_nxt + w;
    return static_cast<std::uint16_t>(w);
  }
  const std::uint32_t cur = c.rcv_adv > c.rcv_nxt ? static_cast<std::uint32_t>(c.rcv_adv - c.rcv_nxt) : 0;
  std::uint32_t wnd = free;
  // Receiver SWS avoidance (RFC 9293 §3.8.6.2.2, RFC 1122 §4.2.3.3): move the right edge only
  // by at least min(buffer/2, MSS).
  const std::uint32_t step = std::min<std::uint32_t>(
      c.rcv_buf ? static_cast<std::uint32_t>(c.rcv_buf->capacity() / 2) : 0u, c.rcv_mss);
  if (wnd > cur && wnd - cur < step) wnd = cur;
  if (wnd < cur) wnd = cur;  // never shrink the window
  const std::uint8_t s = c.rcv_wscale;
  wnd = std::min<std::uint32_t>(wnd, std::uint32_t{65535} << s);
  std::uint32_t field = wnd >> s;
  if ((field << s) < cur) field = std::min<std::uint32_t>((cur + (1u << s) - 1) >> s, 65535);
  const SeqNum edge = c.rcv_nxt + (field << s);
  if (edge > c.rcv_adv) c.rcv_adv = edge;
  return static_cast<std::uint16_t>(field);
}

void StackCore::add_sack_blocks(const TcpConnection& c, wire::TcpOptions& o) const {
  // RFC 2018 §4: the first block holds the most recently received segment, then the most
  // recently reported others; as many as fit (3 beside timestamps, else 4).
  const std::size_t max = c.ts_ok ? 3 : 4;
  // RFC 2883 §4: a duplicate goes first, reported once (send_segment clears it); the block
  // holding it, when out of order, follows as the most recent one (sack_recent).
  if (c.dsack_pending) o.sack[o.sack_count++] = {c.dsack_left.raw(), c.dsack_right.raw()};
  auto ranges = c.reasm.ranges();
  std::array<bool, Assembler::kMaxRanges> used{};
  auto push = [&](std::size_t ri) {
    if (used[ri] || o.sack_count >= max) return;
    used[ri] = true;
    o.sack[o.sack_count++] = {(c.rcv_nxt + ranges[ri].offset).raw(), (c.rcv_nxt + ranges[ri].end()).raw()};
  };
  for (std::size_t k = 0; k < c.sack_recent_count; ++k) {
    const SeqNum s = c.sack_recent[k];
    if (s < c.rcv_nxt) continue;
    const auto off = static_cast<std::uint32_t>(s - c.rcv_nxt);
    for (std::size_t ri = 0; ri < ranges.size(); ++ri) {
      if (ranges[ri].offset <= off && off < ranges[ri].end()) push(ri);
    }
  }
  for (std::size_t ri = ranges.size(); ri-- > 0;) push(ri);
}

bool StackCore::emit(const wire::FourTuple& t, const wire::TcpRepr& h, std::span<const std::uint8_t> p1,
                     std::span<const std::uint8_t> p2) {
  std::span<std::uint8_t> buf = sink.tx_acquire();
  if (buf.empty()) {
    ++stats.tx_buffer_unavailable;
    return false;
  }
  const std::size_t ihl = wire::ip_header_len(t.local.ip.family);
  const std::size_t thl = h.header_len();
  const std::size_t tcp_len = thl + p1.size() + p2.size();
  if (ihl + tcp_len > buf.size()) {
    // The sink lends buffers smaller than the MTU (a configuration error: StackConfig::mtu). The
    // segment is dropped, as a link drops a packet beyond its MTU, and counted; the buffer stays
    // uncommitted (lent again). Reporting it sent keeps one connection from holding up the
    // output queue (flush_queue() stops at a connection whose output fails).
    ++stats.tx_oversize;
    return true;
  }
  wire::IpHeaderSpec spec;
  spec.src = t.local.ip;
  spec.dst = t.remote.ip;
  spec.payload_len = static_cast<std::uint16_t>(tcp_len);
  spec.ident = ip_ident++;
  wire::emit_ip(spec, buf);
  wire::emit_tcp(h, buf.subspan(ihl, thl));
  if (!p1.empty()) std::memcpy(buf.data() + ihl + thl, p1.data(), p1.size());
  if (!p2.empty()) std::memcpy(buf.data() + ihl + thl + p1.size(), p2.data(), p2.size());
  wire::tcp_fill_checksum(t.local.ip, t.remote.ip, buf.subspan(ihl, tcp_len));
  sink.tx_commit(ihl + tcp_len);
  ++stats.segments_out;
  return true;
}

bool StackCore::send_segment(TcpConnection& c, SeqNum seq, std::uint32_t len, std::uint8_t flags) {
  wire::TcpRepr h;
  h.src_port = c.tuple.local.port;
  h.dst_port = c.tuple.remote.port;
  h.seq = seq.raw();
  h.flags = flags;
  const bool syn = (flags & kSyn) != 0;
  if ((flags & kAck) != 0) h.ack = c.rcv_nxt.raw();
  auto& o = h.options;
  if (syn) {
    o.mss = c.rcv_mss;
    if (c.state == TcpState::kSynSent) {
      // Active open: offer everything (RFC 7323 §2.2/§3.2, RFC 2018 §2).
      o.window_scale = c.rcv_wscale;
      o.sack_permitted = true;
      o.timestamps = wire::TcpTimestamps{ts_now(c), 0};
    } else {
      // SYN-ACK: only what the peer offered.
      if (c.ws_ok) o.window_scale = c.rcv_wscale;
      o.sack_permitted = c.sack_ok;
      if (c.ts_ok) o.timestamps = wire::TcpTimestamps{ts_now(c), c.ts_recent};
    }
  } else {
    if (c.ts_ok) o.timestamps = wire::TcpTimestamps{ts_now(c), c.ts_recent};
    if (c.sack_ok && (flags & kAck) != 0 && (!c.reasm.empty() || c.dsack_pending) && (flags & kRst) == 0) {
      add_sack_blocks(c, o);
      if (c.dsack_pending) {
        c.dsack_pending = false;
        ++stats.dsacks_out;
      }
    }
  }
  h.window = (flags & kRst) != 0 && (flags & kAck) == 0 ? 0 : window_field(c, syn);
  // Callers size data with send_room() (from snd_mss <= rcv_mss <= the MTU's MSS), so the
  // segment fits the MTU with its options. Checked in every build: one that does not is dropped
  // as a link would drop it and counted, and accounted as sent (the RTO covers it as any loss).
  if (wire::ip_header_len(c.family) + h.header_len() + len > cfg.mtu) {
    ++stats.tx_oversize;
  } else {
    std::pair<std::span<const std::uint8_t>, std::span<const std::uint8_t>> data;
    if (len > 0) data = c.snd_buf->readable(static_cast<std::size_t>(seq - c.snd_buf_seq), len);
    if (!emit(c.tuple, h, data.first, data.second)) return false;
  }
  ++c.segs_out;
  if (len > 0) {
    ++c.data_segs_out;
    c.bytes_sent += len;
    c.last_data_sent = now;
  }

  const bool fin = (flags & kFin) != 0;
  const std::uint32_t seq_len = len + (syn ? 1 : 0) + (fin ? 1 : 0);
  const SeqNum end = seq + seq_len;
  if (seq_len > 0) {
    // Nothing was outstanding: the wait for an acknowledgment that TCP_USER_TIMEOUT bounds
    // (RFC 5482 §3) starts with this segment.
    if (c.snd_una == c.snd_max) c.stall_since = now;
    // RACK's per-segment transmit times (RFC 8985 §6.1), the PRR count (RFC 6937 prr_out).
    if (rack_on(c) && !syn) c.scoreboard.xmit().record(seq, end, now, seq < c.snd_max);
    if (c.in_recovery) c.prr_out += len;
    if (seq < c.snd_max) {
      undo_note_send(c, seq, end);
      ++stats.retransmits;
      ++c.total_retrans;
      c.bytes_retrans += len;
      if (c.rtt_timing && seq < c.rtt_seq) c.rtt_timing = false;  // Karn's rule
    } else if (!c.rtt_timing) {
      c.rtt_timing = true;
      c.rtt_seq = end;
      c.rtt_start = now;
    }
    if (end > c.snd_max) c.snd_max = end;
    if (len > 0 && len < send_room(c)) c.snd_sml = seq + len;
    if (!c.rtx_timer.armed() || c.persist_mode) arm_rto(c);
  }
  if ((flags & kAck) != 0) {
    c.last_ack_sent = c.rcv_nxt;
    c.ack_now = false;
    wheel.cancel(c.delack_timer);
  }
  stats.data_bytes_out += len;
  c.last_send = now;
  return true;
}

void StackCore::send_challenge_ack(TcpConnection& c) {
  // RFC 5961 §7 as Linux since 4.7 (tcp_send_challenge_ack()). First the connection's own limit
  // (__tcp_oow_rate_limited()): one per kChallengeAckInterval, so a flood at one connection cannot
  // spend the stack's budget alone, and the ACKs of one connection cannot be counted in bulk.
  if (c.challenge_acked && now - c.last_challenge_ack < kChallengeAckInterval &&
      now >= c.last_challenge_ack) {
    ++stats.challenge_acks_limited;
    ++stats.challenge_acks_socket_limited;
    return;
  }
  c.challenge_acked = true;
  c.last_challenge_ack = now;  // as Linux: taken even when the global budget then refuses
  // Then the stack's budget for this second, drawn at random in [L/2, L + L/2) (Linux
  // get_random_u32_inclusive(half, ack_limit + half - 1)): an off-path attacker who counts the
  // challenge ACKs it gets in a second learns nothing from how many the budget had left
  // (CVE-2016-5696). The draw is keyed with the stack's secret: unpredictable without it,
  // reproducible with StackConfig::secret set.
  const std::int64_t second = now.ns / Duration::seconds(1).ns;
  if (second != challenge_second) {
    challenge_second = second;
    std::array<std::uint8_t, 12> in{};
    const auto s64 = static_cast<std::uint64_t>(second);
    for (std::size_t i = 0; i < 8; ++i) in[i] = static_cast<std::uint8_t>(s64 >> (8 * i));
    in[8] = 'c';  // a label: no other use of the key hashes these 12 bytes
    in[9] = 'a';
    in[10] = 'c';
    in[11] = 'k';
    constexpr std::uint32_t kHalf = (kChallengeAckLimit + 1) / 2;
    challenge_budget = kHalf + static_cast<std::uint32_t>(siphash24(key, in) % kChallengeAckLimit);
  }
  if (challenge_budget == 0) {
    ++stats.challenge_acks_limited;
    return;
  }
  --challenge_budget;
  ++stats.challenge_acks;
  c.ack_now = true;
  queue_output(c);
}

bool StackCore::send_rst(TcpConnection& c) {
  // Linux tcp_send_active_reset(): <SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK>.
  const bool ok = send_segment(c, c.snd_max, 0, kRst | kAck);
  if (ok) ++stats.rsts_out;
  return ok;
}

bool StackCore::retransmit_head(TcpConnection& c) {
  const SeqNum data_end = c.snd_buf_seq + c.snd_buf_size();
  const std::uint32_t data = data_end > c.snd_una ? static_cast<std::uint32_t>(data_end - c.snd_una) : 0;
  const std::uint32_t len = std::min(data, send_room(c));
  const bool fin = c.fin_queued && c.snd_max == c.fin_seq() + 1 && c.snd_una + len == c.fin_seq();
  if (len == 0 && !fin) return true;
  return send_segment(c, c.snd_una, len, static_cast<std::uint8_t>(kAck | (fin ? kFin : 0)));
}

bool StackCore::sack_recovery_output(TcpConnection& c) {
  // RFC 6675 §5 (C): while cwnd - pipe >= 1 SMSS (cwnd as PRR sets it, RFC 6937), send
  // NextSeg(): a lost hole (rule 1; with RACK, what RACK deems lost, RFC 8985 §6.2), else new
  // data (rule 2), else once per recovery the rescue retransmission (rule 4). Rule 3 (unSACKed,
  // not yet lost) is not used: more conservative; the reordering timer, the rescue and the RTO
  // cover it.
  const std::uint32_t mss = effective_mss(c);
  const std::uint32_t room = send_room(c);
  const bool rack = rack_on(c);
  if (c.high_rxt < c.snd_una) c.high_rxt = c.snd_una;
  for (int guard = 0; guard < 256; ++guard) {
    RackScan scan;
    std::uint32_t pipe;
    if (rack) {
      scan = c.scoreboard.rack_scan(c.snd_una, c.snd_max, rack_view(c));
      pipe = scan.pipe;
    } else {
      pipe = c.scoreboard.pipe(c.snd_una, c.snd_max, c.high_rxt, mss);
    }
    if (pipe + mss > c.cc->cwnd()) break;
    const SeqNum data_end = c.snd_buf_seq + c.snd_buf_size();
    std::optional<SeqNum> lost;
    SeqNum lost_end;
    if (rack) {
      if (scan.lost) {
        lost = scan.lost_left;
        lost_end = scan.lost_right;
      }
    } else if ((lost = c.scoreboard.next_lost(c.high_rxt, c.snd_max, mss))) {
      lost_end = c.scoreboard.hole_end(*lost, c.snd_max);
    }
    if (lost) {
      const SeqNum hole_end = seq_min(lost_end, data_end);
      const std::uint32_t len =
          std::min<std::uint32_t>(room, hole_end > *lost ? static_cast<std::uint32_t>(hole_end - *lost) : 0);
      if (len == 0) break;
      if (!send_segment(c, *lost, len, kAck)) return false;
      c.high_rxt = seq_max(c.high_rxt, *lost + len);
      continue;
    }
    const std::uint32_t avail = data_end > c.snd_nxt ? static_cast<std::uint32_t>(data_end - c.snd_nxt) : 0;
    const SeqNum wnd_end = c.snd_una + c.snd_wnd;
    const std::uint32_t wnd = wnd_end > c.snd_nxt ? static_cast<std::uint32_t>(wnd_end - c.snd_nxt) : 0;
    const std::uint32_t len = std::min({avail, wnd, room});
    if (len > 0) {
      if (!send_segment(c, c.snd_nxt, len, kAck)) return false;
      c.snd_nxt += len;
      continue;
    }
    // RFC 6675 §4 NextSeg rule (4), the rescue retransmission: "If HighACK > RescueRxt (or
    // RescueRxt is undefined), then one segment of upto SMSS octets that MUST include the
    // highest outstanding unSACKed sequence number SHOULD be returned, and RescueRxt set to
    // RecoveryPoint. HighRxt MUST NOT be updated." Kept with RACK too: a tail lost during
    // recovery has nothing sent after it to reveal the loss, and TLP probes only outside
    // recovery (RFC 8985 §7.2), so without the rescue only the RTO would repair it (Linux,
    // which has no rescue, waits for that RTO).
    // What this recovery retransmitted already (below HighRxt) is not rescued again.
    if (!c.rescue_set || c.snd_una > c.rescue_rxt) {
      if (auto hole = c.scoreboard.highest_hole(c.snd_una, c.snd_max)) {
        const SeqNum right = seq_min(hole->right, data_end);
        const SeqNum floor = seq_max(hole->left, c.high_rxt);
        const SeqNum left = right - std::min<std::uint32_t>(
                                        room, right > floor ? static_cast<std::uint32_t>(right - floor) : 0);
        if (left < right) {
          if (!send_segment(c, left, static_cast<std::uint32_t>(right - left), kAck)) return false;
          c.rescue_set = true;
          c.rescue_rxt = c.recover;
          ++stats.rescue_retransmits;
        }
      }
    }
    break;
  }
  return true;
}

bool StackCore::output(TcpConnection& c) {
  switch (c.state) {
    case TcpState::kClosed:
    case TcpState::kListen:
      return true;
    case TcpState::kSynSent:
    case TcpState::kSynReceived:
      if (c.snd_nxt == c.iss) {
        const std::uint8_t flags = c.state == TcpState::kSynSent ? kSyn : (kSyn | kAck);
        if (!send_segment(c, c.iss, 0, flags)) return false;
        c.snd_nxt = c.iss + 1;
      }
      c.ack_now = false;
      return true;
    case TcpState::kTimeWait:
      if (c.ack_now) return send_ack(c);
      return true;
    default:
      break;
  }

  const SeqNum sent_before = c.snd_max;
  if (c.in_recovery && c.sack_ok) {
    if (!sack_recovery_output(c)) return false;
  } else {
    // Segments are sized by send_room(): the MSS less this segment's SACK blocks.
    const std::uint32_t mss = send_room(c);
    for (;;) {
      const SeqNum data_end = c.snd_buf_seq + c.snd_buf_size();
      const std::uint32_t avail = data_end > c.snd_nxt ? static_cast<std::uint32_t>(data_end - c.snd_nxt) : 0;
      const std::uint32_t flight = static_cast<std::uint32_t>(c.snd_nxt - c.snd_una);
      if (flight == 0 && avail > 0 && now - c.last_send > c.rtt.rto()) {
        c.cc->on_idle_restart(now);  // RFC 5681 §4.1
      }
      // RFC 3042 limited transmit: on each of the first two duplicate ACKs, one more segment of
      // new data than cwnd allows (FlightSize <= cwnd + 2 * SMSS), within the peer's window.
      std::uint32_t cwnd = c.cc->cwnd();
      if (!c.in_recovery && c.dupacks > 0 && c.dupacks < SackScoreboard::kDupThresh &&
          c.snd_nxt >= c.snd_max) {
        cwnd += c.dupacks * effective_mss(c);
      }
      const std::uint32_t wnd = std::min(c.snd_wnd, cwnd);
      const std::uint32_t usable = wnd > flight ? wnd - flight : 0;
      const std::uint32_t len = std::min({avail, usable, mss});
      const bool fin = c.fin_queued && c.snd_nxt + len == c.fin_seq();
      if (len == 0 && !fin) break;
      if (!fin && len < mss && c.snd_nxt >= c.snd_max) {
        bool ok;
        if (len == avail) {
          // Nagle (RFC 9293 §3.7.4, RFC 896) with Minshall's refinement, as Linux does
          // (tcp_minshall_check()): hold a small segment only while an earlier small segment
          // is unacknowledged, so the tail of a write never waits behind full segments.
          // TCP_CORK holds it whatever Nagle says, until uncorked (or the FIN, handled above);
          // so does MSG_MORE until a send() without it (Linux tcp_sendmsg(): TCP_NAGLE_CORK).
          ok = !c.cork && !c.msg_more && (c.nodelay || flight == 0 || !(c.snd_sml > c.snd_una));
        } else {
          // Sender SWS avoidance (RFC 9293 §3.8.6.2.1, MUST-38): a window-limited segment
          // smaller than the MSS goes only when it is at least Fs = 1/2 of the largest window
          // offered, (3) of the RFC's rule; else it waits for the window to open or for the
          // override timeout (4), even with nothing in flight. The persist timer armed below
          // serves as that timer and sends what the window allows (on_rtx_timer), as Linux's
          // does: tcp_snd_wnd_test() fails, tcp_probe_timer() -> tcp_write_wakeup().
          ok = len >= c.max_snd_wnd / 2;
        }
        if (!ok) break;
      }
      std::uint8_t flags = kAck;
      if (fin) flags |= kFin;
      if (len > 0 && c.snd_nxt + len == data_end) flags |= kPsh;
      if (!send_segment(c, c.snd_nxt, len, flags)) return false;
      c.snd_nxt += len + (fin ? 1 : 0);
      if (fin) break;
    }
    // A zero window (or one too small to use, see SWS avoidance above) with data waiting and
    // nothing in flight: the persist timer probes it (RFC 9293 §3.8.6.1) or, when some of the
    // window can be used, is the override timeout (§3.8.6.2.1).
    const SeqNum data_end = c.snd_buf_seq + c.snd_buf_size();
    if (c.snd_nxt == c.snd_una && c.snd_una == c.snd_max && data_end > c.snd_nxt && !c.rtx_timer.armed()) {
      arm_persist(c);
    }
    // RFC 8985 §7.2: new data went out: the probe timeout, measured from this transmission,
    // replaces the RTO.
    if (c.snd_max != sent_before) schedule_loss_probe(c);
  }
  if (c.ack_now) return send_ack(c);
  return true;
}

}  // namespace xdptcp::tcp
