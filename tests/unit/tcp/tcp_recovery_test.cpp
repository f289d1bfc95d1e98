// Loss recovery: fast retransmit and NewReno partial ACKs (RFC 5681 §3.2, RFC 6582) and
// SACK-based recovery (RFC 6675), congestion control chosen per socket.
#include "unit/tcp/tcp_dialogue.h"

namespace xdptcp::tcp::test {
namespace {

// Opens a connection and puts `n` full segments in flight; returns them.
std::vector<Seg> fill(Dialogue& d, SocketId s, int n) {
  d.stack.send(s, bytes(static_cast<std::size_t>(n) * 1448), d.now);
  auto v = d.take();
  EXPECT_EQ(v.size(), static_cast<std::size_t>(n));
  return v;
}

TEST(TcpRecovery, Established_ThreeDupAcks_FastRetransmit) {  // RFC 5681 §3.2
  Dialogue d;
  PeerOptions p;
  p.sack = false;
  SocketId s = d.open_passive(d.listen_on(), p);
  auto segs = fill(d, s, 6);
  const std::uint32_t una = segs[0].h.seq;
  d.ack(una + 1448);  // first segment arrives, the second is lost
  d.take();
  for (int i = 0; i < 2; ++i) d.ack(una + 1448);
  d.expect_none();
  d.ack(una + 1448);
  auto r = d.take();
  ASSERT_GE(r.size(), 1u);
  EXPECT_EQ(r[0].h.seq, una + 1448);
  EXPECT_EQ(r[0].data.size(), 1448u);
  EXPECT_EQ(d.stack.stats().fast_retransmits, 1u);
  EXPECT_TRUE(d.tcb(s).in_recovery);
  // Partial ACK: the next hole is retransmitted at once (RFC 6582 §3.2 step 5).
  d.ack(una + 3 * 1448);
  auto r2 = d.take();
  ASSERT_GE(r2.size(), 1u);
  EXPECT_EQ(r2[0].h.seq, una + 3 * 1448);
  EXPECT_TRUE(d.tcb(s).in_recovery);
  d.ack(una + 6 * 1448);  // full ACK
  EXPECT_FALSE(d.tcb(s).in_recovery);
  EXPECT_EQ(d.tcb(s).cc->algorithm(), CcAlgorithm::kNewReno);
}

TEST(TcpRecovery, Established_SackedAboveHole_HoleRetransmitted) {  // RFC 6675 §5
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  ASSERT_TRUE(d.tcb(s).sack_ok);
  auto segs = fill(d, s, 8);
  const std::uint32_t una = segs[0].h.seq;
  // Segment 0 lost; 1..4 arrive and are SACKed.
  for (int i = 2; i <= 5; ++i) {
    wire::TcpOptions o;
    o.timestamps = wire::TcpTimestamps{d.peer_ts, d.our_tsval};
    o.sack_count = 1;
    o.sack[0] = {una + 1448, una + static_cast<std::uint32_t>(i) * 1448};
    d.inject(kAck, {}, d.peer_seq, una, o);
  }
  auto r = d.take();
  ASSERT_GE(r.size(), 1u);
  EXPECT_EQ(r[0].h.seq, una);
  EXPECT_EQ(d.stack.stats().sack_recoveries, 1u);
  for (std::size_t i = 1; i < r.size(); ++i) EXPECT_NE(r[i].h.seq, una + 1448);  // SACKed: not resent
  d.ack(una + 8 * 1448);
  EXPECT_FALSE(d.tcb(s).in_recovery);
}

// RFC 6675 §5: "If the incoming ACK is a duplicate acknowledgment per the definition in Section 2
// (regardless of its status as a cumulative acknowledgment)" DupAcks grows and IsLost(HighACK + 1)
// is checked. Here the one ACK that reveals the loss also advances SND.UNA (the receiver's
// earlier ACKs were lost, or it coalesced them): three segments SACKed above the hole start
// recovery at once, as in Linux, instead of waiting for the RTO.
TEST(TcpRecovery, Established_CumulativeAckSacksThreeAboveHole_FastRetransmitAtOnce) {  // RFC 6675 §5
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  auto segs = fill(d, s, 8);
  const std::uint32_t una = segs[0].h.seq;
  // Segment 0 arrives, 1 is lost, 2..4 arrive.
  wire::TcpOptions o;
  o.timestamps = wire::TcpTimestamps{d.peer_ts, d.our_tsval};
  o.sack_count = 1;
  o.sack[0] = {una + 2 * 1448, una + 5 * 1448};
  d.inject(kAck, {}, d.peer_seq, una + 1448, o);
  auto r = d.take();
  ASSERT_GE(r.size(), 1u) << Dialogue::describe(r);
  EXPECT_EQ(r[0].h.seq, una + 1448);
  EXPECT_EQ(r[0].data.size(), 1448u);
  EXPECT_EQ(d.stack.stats().sack_recoveries, 1u);
  EXPECT_EQ(d.stack.stats().rtos, 0u);
  EXPECT_TRUE(d.tcb(s).in_recovery);
  for (std::size_t i = 1; i < r.size(); ++i) {
    EXPECT_FALSE(r[i].h.seq >= una + 2 * 1448 && r[i].h.seq < una + 5 * 1448) << r[i].str();  // SACKed
  }
  d.ack(una + 8 * 1448);
  EXPECT_FALSE(d.tcb(s).in_recovery);
}

// Below DupThresh (RFC 6675 §5 steps (1)-(2)): an advancing ACK that SACKs one segment is one
// duplicate, not a loss.
TEST(TcpRecovery, Established_CumulativeAckSacksOneAboveHole_NoRecoveryYet) {  // RFC 6675 §5
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  auto segs = fill(d, s, 8);
  const std::uint32_t una = segs[0].h.seq;
  wire::TcpOptions o;
  o.timestamps = wire::TcpTimestamps{d.peer_ts, d.our_tsval};
  o.sack_count = 1;
  o.sack[0] = {una + 2 * 1448, una + 3 * 1448};
  d.inject(kAck, {}, d.peer_seq, una + 1448, o);
  d.take();
  EXPECT_EQ(d.stack.stats().sack_recoveries, 0u);
  EXPECT_FALSE(d.tcb(s).in_recovery);
}

TEST(TcpRecovery, Established_Rto_CwndToOneSegmentGoBack) {  // RFC 5681 §3.1, RFC 6298 (5.4)
  auto cfg = Dialogue::default_config();
  cfg.rack = false;  // the RTO itself is tested: no tail loss probe in its place (RFC 8985 §7)
  Dialogue d(cfg);
  SocketId s = d.open_passive(d.listen_on());
  auto segs = fill(d, s, 4);
  d.advance(d.tcb(s).rtt.rto());
  auto r = d.take();
  ASSERT_EQ(r.size(), 1u);  // cwnd is one segment
  EXPECT_EQ(r[0].h.seq, segs[0].h.seq);
  // The ACK answers the retransmission (it echoes its TSval; an older echo would make the
  // timeout spurious, RFC 3522, and undo it).
  d.note(r[0]);
  d.ack(segs[0].h.seq + 1448);
  auto r2 = d.take();
  ASSERT_EQ(r2.size(), 2u);  // slow start: 2 segments
  EXPECT_EQ(r2[0].h.seq, segs[1].h.seq);
}

TEST(TcpRecovery, Socket_CongestionOption_ChoosesAlgorithm_AlsoOnAConnection) {
  Dialogue d;
  SocketId l = d.listen_on();
  ASSERT_EQ(d.stack.setsockopt(l, SockOpt::kCongestion, static_cast<int>(CcAlgorithm::kCubic)), 0);
  SocketId s = d.open_passive(l);
  EXPECT_EQ(d.tcb(s).cc->algorithm(), CcAlgorithm::kCubic);
  EXPECT_EQ(d.tcb(s).cc->cwnd(), 10u * 1448);  // RFC 6928 IW10
  // On a connection, as Linux (tcp_reinit_congestion_control): the same algorithm is a no-op, another
  // one takes over from the window reached so far.
  EXPECT_EQ(d.stack.setsockopt(s, SockOpt::kCongestion, static_cast<int>(CcAlgorithm::kCubic)), 0);
  EXPECT_EQ(d.stack.setsockopt(s, SockOpt::kCongestion, static_cast<int>(CcAlgorithm::kNewReno)), 0);
  EXPECT_EQ(d.tcb(s).cc->algorithm(), CcAlgorithm::kNewReno);
  EXPECT_EQ(d.tcb(s).cc->cwnd(), 10u * 1448);
  int v = -1;
  EXPECT_EQ(d.stack.getsockopt(s, SockOpt::kCongestion, &v), 0);
  EXPECT_EQ(v, static_cast<int>(CcAlgorithm::kNewReno));
}

}  // namespace
}  // namespace xdptcp::tcp::test
