// Modern loss recovery (issue 13 item 4): RACK-TLP (RFC 8985), PRR (RFC 6937), D-SACK
// generation (RFC 2883), spurious-retransmission undo (RFC 2883 §5, RFC 3522, RFC 4015) and the
// RFC 6675 rescue retransmission, as dialogues with a fake peer on a manual clock.
#include <algorithm>
#include <initializer_list>
#include <utility>

#include "unit/tcp/tcp_dialogue.h"

namespace xdptcp::tcp::test {
namespace {

constexpr std::uint32_t kSeg = 1448;  // 1460 less timestamps
constexpr Duration kRtt = Duration::millis(20);

// Active open whose SYN/SYN-ACK exchange takes `rtt`: SRTT = rtt, min_RTT = rtt (RFC 6298 (2.2)).
SocketId open_with_rtt(Dialogue& d, Duration rtt, PeerOptions p = {}) {
  SocketId s = d.stack.socket(wire::IpFamily::kV4);
  EXPECT_EQ(d.stack.connect(s, d.peer, d.now), -EINPROGRESS);
  Seg syn = d.take_one();
  d.local.port = syn.h.src_port;
  d.note(syn);
  d.advance(rtt);
  d.peer_ts_on = p.timestamps;
  wire::TcpOptions o = d.syn_options(p);
  if (o.timestamps) o.timestamps->tsecr = d.our_tsval;
  d.inject(kSyn | kAck, {}, d.peer_seq, syn.h.seq + 1, o);
  d.peer_seq += 1;
  d.peer_ack = syn.h.seq + 1;
  d.note(d.take_one());
  return s;
}

// An ACK of `ack` with SACK blocks (and the timestamp the peer would echo).
void sack(Dialogue& d, std::uint32_t ack,
          std::initializer_list<std::pair<std::uint32_t, std::uint32_t>> blocks) {
  wire::TcpOptions o;
  if (d.peer_ts_on) o.timestamps = wire::TcpTimestamps{d.peer_ts, d.our_tsval};
  for (const auto& [l, r] : blocks) o.sack[o.sack_count++] = {l, r};
  d.peer_ack = ack;
  d.inject(kAck, {}, d.peer_seq, ack, o);
}

std::vector<Seg> send_segments(Dialogue& d, SocketId s, std::uint32_t n, std::uint32_t seg = kSeg) {
  EXPECT_EQ(d.stack.send(s, bytes(static_cast<std::size_t>(n) * seg), d.now),
            static_cast<std::int64_t>(n * seg));
  auto v = d.take();
  EXPECT_EQ(v.size(), n) << Dialogue::describe(v);
  if (!v.empty()) d.note(v.front());
  return v;
}

// ---- TLP (RFC 8985 §7) ----

// The last two segments of a flight are lost: no ACK will ever reveal it. The probe timeout,
// 2 * SRTT after the last ACK, sends the last segment again; its SACK lets RACK find the other
// hole, and all is repaired in about 4 RTTs, where the RTO (200 ms at least) would have waited
// and collapsed cwnd to one segment.
TEST(TcpRack, TailLoss_ProbeAfterTwoSrtt_RepairedWithoutRto) {  // RFC 8985 §7.2-7.3
  Dialogue d;
  SocketId s = open_with_rtt(d, kRtt);
  ASSERT_EQ(d.tcb(s).rtt.srtt(), kRtt);
  ASSERT_GE(d.tcb(s).rtt.rto(), Duration::millis(200));
  auto segs = send_segments(d, s, 4);
  const std::uint32_t una = segs[0].h.seq;
  d.advance(kRtt);
  d.ack(una + 2 * kSeg);  // segments 2 and 3 lost
  d.expect_none();
  d.advance(kRtt * 2 - Duration::millis(1));
  d.expect_none();
  d.advance(Duration::millis(1));  // PTO = 2 * SRTT (FlightSize is two segments)
  Seg probe = d.take_one();
  EXPECT_EQ(probe.h.seq, una + 3 * kSeg) << probe.str();  // no new data: the last segment again
  EXPECT_EQ(probe.data.size(), kSeg);
  EXPECT_EQ(d.stack.stats().tlp_probes, 1u);
  EXPECT_TRUE(d.tcb(s).tlp_out);
  d.note(probe);
  d.advance(kRtt);
  sack(d, una + 2 * kSeg, {{una + 3 * kSeg, una + 4 * kSeg}});
  auto r = d.take();
  ASSERT_EQ(r.size(), 1u) << Dialogue::describe(r);
  EXPECT_EQ(r[0].h.seq, una + 2 * kSeg);  // RACK: sent before the delivered probe, RTT ago
  d.note(r[0]);
  d.advance(kRtt);
  d.ack(una + 4 * kSeg);
  EXPECT_EQ(d.stack.stats().rtos, 0u);
  EXPECT_FALSE(d.tcb(s).in_recovery);
  d.advance(Duration::seconds(2));
  d.expect_none();  // nothing outstanding: no probe, no RTO
}

// At most one probe is outstanding (RFC 8985 §7.3): without an answer the RTO follows.
TEST(TcpRack, ProbeUnanswered_NextIsTheRto) {  // RFC 8985 §7.3
  Dialogue d;
  SocketId s = open_with_rtt(d, kRtt);
  auto segs = send_segments(d, s, 3);
  d.advance(kRtt * 2);
  EXPECT_EQ(d.take_one().h.seq, segs[2].h.seq);
  const Duration rto = d.tcb(s).rtt.rto();
  d.advance(rto - Duration::millis(1));
  d.expect_none();
  d.advance(Duration::millis(1));
  EXPECT_EQ(d.take_one().h.seq, segs[0].h.seq);
  EXPECT_EQ(d.stack.stats().tlp_probes, 1u);
  EXPECT_EQ(d.stack.stats().rtos, 1u);
}

TEST(TcpRack, RackOff_NoProbeBeforeTheRto) {  // StackConfig::rack = false: RFC 6675 and RTO only
  auto cfg = Dialogue::default_config();
  cfg.rack = false;
  Dialogue d(cfg);
  SocketId s = open_with_rtt(d, kRtt);
  send_segments(d, s, 3);
  d.advance(d.tcb(s).rtt.rto() - Duration::millis(1));
  d.expect_none();
  EXPECT_EQ(d.stack.stats().tlp_probes, 0u);
}

// ---- RACK (RFC 8985 §6) ----

// One segment SACKed above a hole is one duplicate ACK: DupThresh would wait for the RTO. RACK
// deems the hole lost once it has waited RACK.rtt + reo_wnd since it was sent (reo_wnd =
// min_RTT / 4 while fewer than DupThresh segments are SACKed), counted by the reordering timer.
TEST(TcpRack, OneSegmentSackedAboveHole_RetransmittedAfterReorderingWindow) {  // RFC 8985 §6.2-6.3
  Dialogue d;
  SocketId s = open_with_rtt(d, kRtt);
  auto segs = send_segments(d, s, 2);
  const std::uint32_t una = segs[0].h.seq;
  d.advance(kRtt);
  sack(d, una, {{una + kSeg, una + 2 * kSeg}});
  d.expect_none();
  d.advance(kRtt / 4 - Duration::millis(1));
  d.expect_none();
  d.advance(Duration::millis(1));
  auto r = d.take();
  ASSERT_EQ(r.size(), 1u) << Dialogue::describe(r);
  EXPECT_EQ(r[0].h.seq, una);
  EXPECT_EQ(d.stack.stats().rack_reo_timeouts, 1u);
  EXPECT_EQ(d.stack.stats().fast_retransmits, 1u);
  EXPECT_EQ(d.stack.stats().rtos, 0u);
}

// Once the path has reordered (a segment delivered below one delivered before it, §6.2 step 3),
// even DupThresh segments SACKed above a hole do not make it lost before reo_wnd: a late segment
// arriving within it is not retransmitted and cwnd is not reduced.
TEST(TcpRack, ReorderingBelowReorderingWindow_NotRetransmitted) {  // RFC 8985 §6.2 step 4
  Dialogue d;
  SocketId s = open_with_rtt(d, kRtt);
  auto segs = send_segments(d, s, 2);
  std::uint32_t una = segs[0].h.seq;
  d.advance(kRtt);
  sack(d, una, {{una + kSeg, una + 2 * kSeg}});
  d.advance(Duration::millis(1));
  d.ack(una + 2 * kSeg);  // segment 0 arrived after segment 1
  EXPECT_TRUE(d.tcb(s).reordering_seen);
  EXPECT_EQ(d.stack.stats().retransmits, 0u);
  const std::uint32_t cwnd = d.tcb(s).cc->cwnd();

  segs = send_segments(d, s, 6);
  una = segs[0].h.seq;
  d.advance(kRtt);
  sack(d, una, {{una + kSeg, una + 5 * kSeg}});  // four segments above the hole
  d.expect_none();
  d.advance(Duration::millis(3));  // within reo_wnd = min_RTT / 4 = 5 ms
  d.ack(una + 6 * kSeg);
  d.advance(Duration::millis(10));
  d.expect_none();
  EXPECT_EQ(d.stack.stats().retransmits, 0u);
  EXPECT_EQ(d.stack.stats().fast_retransmits, 0u);
  EXPECT_GE(d.tcb(s).cc->cwnd(), cwnd);
}

// A retransmission lost again: RFC 6675 has no rule for it (HighRxt is past it) and waits for
// the RTO. RACK sees segments sent after the retransmission delivered, one RTT later, and sends
// it again.
TEST(TcpRack, LostRetransmission_DetectedByRackWithoutRto) {  // RFC 8985 §2.2, §6.2
  Dialogue d;
  SocketId s = open_with_rtt(d, kRtt);
  ASSERT_EQ(d.stack.send(s, bytes(std::size_t{20} * kSeg), d.now), static_cast<std::int64_t>(20 * kSeg));
  auto segs = d.take();
  ASSERT_EQ(segs.size(), 10u);  // IW10
  d.note(segs[0]);
  const std::uint32_t una = segs[0].h.seq;
  d.advance(kRtt);
  std::vector<Seg> sent;
  for (std::uint32_t k = 1; k <= 9; ++k) {
    sack(d, una, {{una + kSeg, una + (k + 1) * kSeg}});
    for (auto& x : d.take()) sent.push_back(x);
  }
  ASSERT_FALSE(sent.empty());
  std::uint32_t high = 0;
  std::size_t rtx = 0;
  for (const Seg& x : sent) {
    if (x.h.seq == una) ++rtx;
    high = std::max<std::uint32_t>(high, x.h.seq - una + static_cast<std::uint32_t>(x.data.size()));
  }
  EXPECT_EQ(rtx, 1u);
  ASSERT_GT(high, 10 * kSeg) << "new data went out after the retransmission";
  d.advance(kRtt);
  // What was sent after the retransmission arrives; the retransmission does not.
  sack(d, una, {{una + kSeg, una + high}});
  auto again = d.take();
  ASSERT_FALSE(again.empty());
  EXPECT_EQ(again[0].h.seq, una) << Dialogue::describe(again);
  EXPECT_EQ(d.stack.stats().rtos, 0u);
  EXPECT_EQ(d.stack.stats().fast_retransmits, 1u);  // the same recovery
}

// D-SACKs widen the reordering window, once per round trip (RFC 8985 §6.2 step 4).
TEST(TcpRack, Dsack_WidensReorderingWindowOncePerRoundTrip) {  // RFC 8985 §6.2 step 4
  Dialogue d;
  SocketId s = open_with_rtt(d, kRtt);
  auto segs = send_segments(d, s, 2);
  const std::uint32_t una = segs[0].h.seq;
  d.advance(kRtt);
  d.ack(una + 2 * kSeg);
  EXPECT_EQ(d.tcb(s).reo_wnd_mult, 1u);
  sack(d, una + 2 * kSeg, {{una, una + kSeg}});
  EXPECT_EQ(d.tcb(s).reo_wnd_mult, 2u);
  sack(d, una + 2 * kSeg, {{una + kSeg, una + 2 * kSeg}});
  EXPECT_EQ(d.tcb(s).reo_wnd_mult, 2u);  // the same round trip
  auto more = send_segments(d, s, 1);
  d.advance(kRtt);
  d.ack(more[0].h.seq + kSeg);  // a round trip later
  sack(d, more[0].h.seq + kSeg, {{more[0].h.seq, more[0].h.seq + kSeg}});
  EXPECT_EQ(d.tcb(s).reo_wnd_mult, 3u);
  EXPECT_EQ(d.stack.stats().dsacks_in, 3u);
}

// ---- PRR (RFC 6937) ----

// 20 segments in flight, the first lost, the others SACKed one ACK at a time. PRR spreads the
// reduction to ssthresh = 11 segments (NewReno: FlightSize / 2) over the recovery: about one
// segment per two delivered (ssthresh / RecoverFS), starting at once; RFC 6675 alone would send
// nothing until pipe fell below ssthresh and then one per ACK.
TEST(TcpPrr, Recovery_SendsInProportionToDelivered) {  // RFC 6937 §3
  auto cfg = Dialogue::default_config();
  cfg.initial_window_segments = 20;
  Dialogue d(cfg);
  SocketId s = open_with_rtt(d, kRtt);
  ASSERT_EQ(d.stack.send(s, bytes(std::size_t{40} * kSeg), d.now), static_cast<std::int64_t>(40 * kSeg));
  auto segs = d.take();
  ASSERT_EQ(segs.size(), 20u);
  d.note(segs[0]);
  const std::uint32_t una = segs[0].h.seq;
  d.advance(kRtt);
  std::vector<std::vector<Seg>> sent;
  for (std::uint32_t k = 1; k <= 19; ++k) {
    sack(d, una, {{una + kSeg, una + (k + 1) * kSeg}});
    sent.push_back(d.take());
  }
  // ACKs 1-2: limited transmit (RFC 3042), one new segment each.
  EXPECT_EQ(sent[0].size(), 1u);
  EXPECT_EQ(sent[1].size(), 1u);
  // ACK 3: three segments SACKed: recovery, the lost segment first.
  ASSERT_EQ(sent[2].size(), 1u);
  EXPECT_EQ(sent[2][0].h.seq, una);
  EXPECT_TRUE(d.tcb(s).in_recovery);
  EXPECT_EQ(d.tcb(s).prr_recover_fs, 22 * kSeg);
  EXPECT_EQ(d.tcb(s).cc->ssthresh(), 11 * kSeg);
  // ACKs 4-19 deliver 16 more segments: ceil(17 * 11 / 22) = 9 sent in all, the retransmission
  // included, never more than one per ACK, and already in the first half.
  std::size_t total = 0;
  std::size_t first_half = 0;
  for (std::size_t k = 3; k < sent.size(); ++k) {
    EXPECT_LE(sent[k].size(), 1u) << "ACK " << k + 1;
    total += sent[k].size();
    if (k < 9) first_half += sent[k].size();
  }
  EXPECT_EQ(total + 1, 9u);
  EXPECT_GE(first_half, 2u);
}

// ---- D-SACK generation (RFC 2883) ----

TEST(TcpDsack, DuplicateBelowRcvNxt_ReportedInFirstBlockOnce) {  // RFC 2883 §4 (1)
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  (void)s;
  auto data = bytes(100);
  d.send_data(data);
  d.take();
  d.inject(kAck, data, d.peer_seq - 100);  // the same segment again
  Seg a = d.take_one();
  EXPECT_EQ(a.h.ack, d.peer_seq);
  ASSERT_EQ(a.h.options.sack_count, 1u) << a.str();
  EXPECT_EQ(a.h.options.sack[0].left, d.peer_seq - 100);
  EXPECT_EQ(a.h.options.sack[0].right, d.peer_seq);
  EXPECT_EQ(d.stack.stats().dsacks_out, 1u);
  d.send_data(bytes(10));
  for (const Seg& x : d.take()) EXPECT_EQ(x.h.options.sack_count, 0u) << x.str();  // reported once
}

TEST(TcpDsack, DuplicateOfOutOfOrderData_DsackThenTheBlockHoldingIt) {  // RFC 2883 §4 (2)
  Dialogue d;
  d.open_passive(d.listen_on());
  const std::uint32_t hole = d.peer_seq;
  d.inject(kAck, bytes(100), hole + 100);
  Seg a = d.take_one();
  ASSERT_EQ(a.h.options.sack_count, 1u);
  d.inject(kAck, bytes(50), hole + 150);  // half of it again
  Seg b = d.take_one();
  ASSERT_EQ(b.h.options.sack_count, 2u) << b.str();
  EXPECT_EQ(b.h.options.sack[0].left, hole + 150);
  EXPECT_EQ(b.h.options.sack[0].right, hole + 200);
  EXPECT_EQ(b.h.options.sack[1].left, hole + 100);
  EXPECT_EQ(b.h.options.sack[1].right, hole + 200);
  EXPECT_EQ(b.h.ack, hole);
}

TEST(TcpDsack, SackNotNegotiated_NoDsack) {  // RFC 2883 §4: only with SACK
  Dialogue d;
  PeerOptions p;
  p.sack = false;
  d.open_passive(d.listen_on(), p);
  auto data = bytes(100);
  d.send_data(data);
  d.take();
  d.inject(kAck, data, d.peer_seq - 100);
  Seg a = d.take_one();
  EXPECT_EQ(a.h.options.sack_count, 0u);
  EXPECT_EQ(d.stack.stats().dsacks_out, 0u);
}

// ---- Spurious retransmission undo ----

// Segment 0 was only delayed: three SACKs start recovery and it is retransmitted; then the
// original fills the hole and the retransmission arrives as a duplicate, which the receiver
// reports with a D-SACK: every retransmission of the episode was unnecessary, so the window
// from before it is restored (Linux tcp_try_undo_dsack()). No timestamps: D-SACK alone.
TEST(TcpUndo, SpuriousFastRetransmit_DsackRestoresCwnd) {  // RFC 2883 §5
  Dialogue d;
  PeerOptions p;
  p.timestamps = false;
  SocketId s = open_with_rtt(d, kRtt, p);
  auto segs = send_segments(d, s, 10, 1460);
  const std::uint32_t una = segs[0].h.seq;
  const std::uint32_t cwnd0 = d.tcb(s).cc->cwnd();
  const std::uint32_t ssthresh0 = d.tcb(s).cc->ssthresh();
  d.advance(kRtt);
  sack(d, una, {{una + 1460, una + 5 * 1460}});
  auto r = d.take();
  ASSERT_GE(r.size(), 1u);
  EXPECT_EQ(r[0].h.seq, una);
  EXPECT_LT(d.tcb(s).cc->cwnd(), cwnd0);
  d.ack(una + 10 * 1460);  // the original arrived
  EXPECT_FALSE(d.tcb(s).in_recovery);
  EXPECT_LT(d.tcb(s).cc->ssthresh(), ssthresh0);
  sack(d, una + 10 * 1460, {{una, una + 1460}});  // and the retransmission, a duplicate
  EXPECT_EQ(d.stack.stats().dsacks_in, 1u);
  EXPECT_EQ(d.stack.stats().spurious_undos, 1u);
  EXPECT_GE(d.tcb(s).cc->cwnd(), cwnd0);
  EXPECT_EQ(d.tcb(s).cc->ssthresh(), ssthresh0);
  EXPECT_TRUE(d.tcb(s).reordering_seen);  // RACK widens its window from now on
}

// Eifel detection (RFC 3522): the ACK that ends recovery echoes the TSval of the original
// transmission, older than the retransmission's: the original filled the hole, the reduction
// is undone at once.
TEST(TcpUndo, SpuriousFastRetransmit_EifelEchoRestoresCwnd) {  // RFC 3522 §3.2, RFC 4015 §3.2
  Dialogue d;
  SocketId s = open_with_rtt(d, kRtt);
  auto segs = send_segments(d, s, 10);  // notes segment 0's TSval: the echo below
  const std::uint32_t una = segs[0].h.seq;
  const std::uint32_t cwnd0 = d.tcb(s).cc->cwnd();
  d.advance(kRtt);
  sack(d, una, {{una + kSeg, una + 5 * kSeg}});
  auto r = d.take();
  ASSERT_GE(r.size(), 1u);
  EXPECT_EQ(r[0].h.seq, una);
  EXPECT_TRUE(d.tcb(s).in_recovery);
  d.ack(una + 10 * kSeg);
  EXPECT_FALSE(d.tcb(s).in_recovery);
  EXPECT_EQ(d.stack.stats().spurious_undos, 1u);
  EXPECT_GE(d.tcb(s).cc->cwnd(), cwnd0);
}

// The same ACK answering the retransmission (its echo is the retransmission's TSval) is a real
// loss: no undo.
TEST(TcpUndo, RealLoss_EchoOfRetransmission_NoUndo) {  // RFC 3522 §3.2
  Dialogue d;
  SocketId s = open_with_rtt(d, kRtt);
  auto segs = send_segments(d, s, 10);
  const std::uint32_t una = segs[0].h.seq;
  const std::uint32_t cwnd0 = d.tcb(s).cc->cwnd();
  d.advance(kRtt);
  sack(d, una, {{una + kSeg, una + 5 * kSeg}});
  auto r = d.take();
  ASSERT_GE(r.size(), 1u);
  d.note(r[0]);
  d.ack(una + 10 * kSeg);
  EXPECT_EQ(d.stack.stats().spurious_undos, 0u);
  EXPECT_LT(d.tcb(s).cc->cwnd(), cwnd0);
}

// A timeout that was spurious (the ACKs were only delayed): the first ACK after the timeout's
// retransmission echoes the original's TSval; cwnd comes back and, RFC 4015, transmission
// resumes after SND.MAX instead of sending segments 2-3 again (go-back-N).
TEST(TcpUndo, SpuriousRto_EifelRestoresCwndWithoutGoBackN) {  // RFC 3522, RFC 4015
  Dialogue d;
  SocketId s = open_with_rtt(d, kRtt);
  auto segs = send_segments(d, s, 4);
  const std::uint32_t una = segs[0].h.seq;
  const std::uint32_t cwnd0 = d.tcb(s).cc->cwnd();
  d.advance(kRtt * 2);
  EXPECT_EQ(d.take_one().h.seq, una + 3 * kSeg);  // the tail loss probe
  d.advance(d.tcb(s).rtt.rto());
  EXPECT_EQ(d.take_one().h.seq, una);  // the RTO
  EXPECT_EQ(d.stack.stats().rtos, 1u);
  EXPECT_LT(d.tcb(s).cc->cwnd(), cwnd0);
  d.ack(una + 2 * kSeg);  // echoes segment 0's TSval
  EXPECT_EQ(d.stack.stats().spurious_undos, 1u);
  EXPECT_GE(d.tcb(s).cc->cwnd(), cwnd0);
  EXPECT_EQ(d.tcb(s).snd_nxt, d.tcb(s).snd_max);
  d.expect_none();  // segments 2 and 3 are not sent again
}

// ---- RFC 6675 rescue retransmission ----

// Segment 0 and the tail segment 9 are lost, all data is sent. Nothing is sent after segment 9,
// so neither RACK nor DupThresh can find it lost, and TLP does not probe during recovery: the
// rescue retransmission (NextSeg rule 4) sends it once when PRR allows, instead of the RTO.
TEST(TcpRecoveryRescue, TailLostInRecovery_RescueRetransmittedOnce) {  // RFC 6675 §4 NextSeg (4)
  Dialogue d;
  SocketId s = open_with_rtt(d, kRtt);
  auto segs = send_segments(d, s, 10);
  const std::uint32_t una = segs[0].h.seq;
  d.advance(kRtt);
  std::vector<Seg> out;
  for (std::uint32_t k = 1; k <= 8; ++k) {
    sack(d, una, {{una + kSeg, una + (k + 1) * kSeg}});
    for (auto& x : d.take()) out.push_back(x);
  }
  ASSERT_EQ(out.size(), 2u) << Dialogue::describe(out);
  EXPECT_EQ(out[0].h.seq, una);
  EXPECT_EQ(out[1].h.seq, una + 9 * kSeg);
  EXPECT_EQ(d.stack.stats().rescue_retransmits, 1u);
  d.note(out[1]);
  d.advance(kRtt);
  d.ack(una + 10 * kSeg);  // both retransmissions arrived
  EXPECT_FALSE(d.tcb(s).in_recovery);
  EXPECT_EQ(d.stack.stats().rtos, 0u);
  EXPECT_EQ(d.stack.stats().rescue_retransmits, 1u);
  d.advance(Duration::seconds(1));
  d.expect_none();
}

TEST(TcpRecoveryRescue, RackOff_Rfc6675RescueToo) {  // RFC 6675 §4 NextSeg (4)
  auto cfg = Dialogue::default_config();
  cfg.rack = false;
  Dialogue d(cfg);
  SocketId s = open_with_rtt(d, kRtt);
  auto segs = send_segments(d, s, 10);
  const std::uint32_t una = segs[0].h.seq;
  d.advance(kRtt);
  std::vector<Seg> out;
  for (std::uint32_t k = 1; k <= 8; ++k) {
    sack(d, una, {{una + kSeg, una + (k + 1) * kSeg}});
    for (auto& x : d.take()) out.push_back(x);
  }
  ASSERT_GE(out.size(), 2u) << Dialogue::describe(out);
  EXPECT_EQ(out[0].h.seq, una);
  EXPECT_EQ(out.back().h.seq, una + 9 * kSeg);
  EXPECT_EQ(d.stack.stats().rescue_retransmits, 1u);
}

}  // namespace
}  // namespace xdptcp::tcp::test
