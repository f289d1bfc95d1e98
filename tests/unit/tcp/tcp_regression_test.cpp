// Regression tests for TCP core bugs found by the simulated-network property test
// (tests/sim/tcp_property_test.cpp): each names the RFC clause the fixed behaviour follows.
#include <sys/socket.h>

#include "unit/tcp/tcp_dialogue.h"

namespace xdptcp::tcp::test {
namespace {

constexpr std::uint32_t kSeg = 1448;  // MSS 1460 less the timestamps option

// RFC 9293 §3.10.7.4: the peer drops a segment whose SEQ lies below its RCV.NXT (a zero-length
// segment needs RCV.NXT =< SEG.SEQ). After an RTO pulls snd_nxt back, a pure ACK must carry
// SND.MAX, as FreeBSD's tcp_output does, or both ends trade unacceptable ACKs forever.
TEST(TcpRegression, AfterRto_PureAck_CarriesSndMax) {
  auto cfg = Dialogue::default_config();
  cfg.rack = false;  // the RTO itself is tested: no tail loss probe in its place (RFC 8985 §7)
  Dialogue d(cfg);
  SocketId s = d.open_passive(d.listen_on());
  d.stack.send(s, bytes(4 * kSeg), d.now);
  auto segs = d.take();
  ASSERT_EQ(segs.size(), 4u);
  const std::uint32_t una = segs[0].h.seq;
  d.advance(d.tcb(s).rtt.rto());
  auto r = d.take();
  ASSERT_EQ(r.size(), 1u);  // the head again; snd_nxt is now una + kSeg
  EXPECT_EQ(r[0].h.seq, una);
  // The peer has all four segments but its ACKs are lost; it sends data. Our ACK of it must
  // carry SND.MAX, which the peer's RCV.NXT has reached.
  d.send_data(bytes(100));
  d.advance(Duration::millis(40));  // the delayed ACK (RFC 9293 §3.8.6.3)
  auto a = d.take();
  ASSERT_EQ(a.size(), 1u) << Dialogue::describe(a);
  EXPECT_TRUE(a[0].data.empty());
  EXPECT_EQ(a[0].h.seq, una + 4 * kSeg) << a[0].str();
  EXPECT_EQ(a[0].h.ack, d.peer_seq);
}

// RFC 9293 §3.7.1: the options of the segment sent (here SACK blocks, RFC 2018 §3) come out of
// the MSS. A full segment shortened for its SACK blocks must not advance SND.NXT by the full
// MSS, which skipped bytes and dropped the FIN, so the peer waited in FIN-WAIT-2 forever.
TEST(TcpRegression, SackBlocksInDataSegment_NoBytesSkippedAndFinSent) {
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  ASSERT_TRUE(d.tcb(s).sack_ok);
  // Out-of-order data from the peer: every segment we send now carries a SACK block.
  d.inject(kAck, bytes(100), d.peer_seq + 500);
  d.take();
  const std::size_t total = 3 * kSeg + 10;
  ASSERT_EQ(d.stack.send(s, bytes(total), d.now), static_cast<ssize_t>(total));
  ASSERT_EQ(d.stack.shutdown(s, SHUT_WR, d.now), 0);
  auto v = d.take();
  ASSERT_FALSE(v.empty());
  std::uint32_t next = v[0].h.seq;
  std::size_t carried = 0;
  for (const Seg& g : v) {
    EXPECT_EQ(g.h.seq, next) << Dialogue::describe(v);
    EXPECT_EQ(g.h.options.sack_count, 1u);
    EXPECT_LE(20 + g.h.header_len() + g.data.size(), 1500u) << g.str();  // fits the MTU
    next = g.h.seq + static_cast<std::uint32_t>(g.data.size()) + (g.has(kFin) ? 1 : 0);
    carried += g.data.size();
  }
  EXPECT_EQ(carried, total);
  EXPECT_TRUE(v.back().has(kFin)) << Dialogue::describe(v);
  EXPECT_EQ(d.tcb(s).state, TcpState::kFinWait1);
  // The peer acknowledges everything, FIN included: FIN-WAIT-2.
  d.ack(next);
  EXPECT_EQ(d.tcb(s).state, TcpState::kFinWait2);
}

// RFC 6675 §5 (4.2): on entering SACK recovery, ssthresh = cwnd = FlightSize / 2, not pipe / 2
// (pipe already leaves out the SACKed and lost segments).
TEST(TcpRegression, SackRecoveryEntry_SsthreshIsHalfFlightSize) {
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  ASSERT_TRUE(d.tcb(s).sack_ok);
  d.stack.send(s, bytes(8 * kSeg), d.now);
  auto segs = d.take();
  ASSERT_EQ(segs.size(), 8u);
  const std::uint32_t una = segs[0].h.seq;
  for (int i = 2; i <= 5; ++i) {  // segment 0 lost; 1..4 SACKed
    wire::TcpOptions o;
    o.timestamps = wire::TcpTimestamps{d.peer_ts, d.our_tsval};
    o.sack_count = 1;
    o.sack[0] = {una + kSeg, una + static_cast<std::uint32_t>(i) * kSeg};
    d.inject(kAck, {}, d.peer_seq, una, o);
  }
  ASSERT_TRUE(d.tcb(s).in_recovery);
  EXPECT_EQ(d.tcb(s).cc->ssthresh(), 4 * kSeg);  // FlightSize 8 segments
}

// RFC 7323 §4.1 / RFC 6298 §2: a TSecr newer than our clock gives no valid RTT; it is not a
// sample of zero (which drags SRTT and so the RTO down).
TEST(TcpRegression, TimestampEchoFromFuture_NoRttSample) {
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  d.stack.send(s, bytes(100), d.now);
  d.note(d.take_one());
  d.advance(Duration::millis(40));
  d.ack(d.tcb(s).snd_max.raw());  // echoes our TSval: a 40 ms sample
  const Duration srtt = d.tcb(s).rtt.srtt();
  ASSERT_GT(srtt.ns, 0);
  d.stack.send(s, bytes(100), d.now);
  d.note(d.take_one());
  d.advance(Duration::millis(10));
  wire::TcpOptions o;
  o.timestamps = wire::TcpTimestamps{d.peer_ts, d.our_tsval + 100000};  // from the future
  d.inject(kAck, {}, d.peer_seq, d.tcb(s).snd_max.raw(), o);
  EXPECT_EQ(d.tcb(s).snd_una, d.tcb(s).snd_max);  // the ACK itself is processed
  // The one sample is the timed segment's own clock (10 ms, RFC 6298 (2.3)); the echo gave none
  // (a zero sample would have pulled SRTT below this).
  EXPECT_EQ(d.tcb(s).rtt.srtt().ns, srtt.ns - srtt.ns / 8 + Duration::millis(10).ns / 8);
}

// RFC 7323 §2.3 / RFC 9293 §3.8.6.2.2: without window scaling no window above 65535 can be
// advertised, however large SO_RCVBUF is. The window-update test after a read compared the
// free buffer with the advertised window uncapped, so every recv() sent an ACK that changed
// nothing, and three of them are a duplicate-ACK signal to the sender (RFC 5681 §2).
TEST(TcpRegression, NoWindowScaling_LargeRcvbuf_ReadSendsNoDuplicateAck) {
  auto cfg = Dialogue::default_config();
  cfg.rcvbuf = 256 * 1024;
  Dialogue d(cfg);
  PeerOptions p;
  p.wscale = std::nullopt;
  SocketId s = d.open_passive(d.listen_on(), p);
  std::vector<std::uint8_t> out(8192);
  for (int i = 0; i < 3; ++i) {
    d.send_data(bytes(kSeg));
    d.send_data(bytes(kSeg));
    Seg a = d.take_one();  // every second full segment (RFC 1122 §4.2.3.2)
    EXPECT_EQ(a.h.ack, d.peer_seq);
    EXPECT_EQ(a.h.window, 65535);
    ASSERT_EQ(d.stack.recv(s, out, d.now), static_cast<ssize_t>(2 * kSeg));
    d.expect_none();  // the window is 65535 before and after: no update to send
  }
}

// With window scaling the same read still sends the update when the window grows (two
// segments, Linux tcp_cleanup_rbuf()).
TEST(TcpRegression, WindowScaling_LargeRcvbuf_ReadAfterFillSendsUpdate) {
  auto cfg = Dialogue::default_config();
  cfg.rcvbuf = 8192;
  Dialogue d(cfg);
  SocketId s = d.open_passive(d.listen_on());
  d.send_data(bytes(kSeg));
  d.send_data(bytes(kSeg));
  d.send_data(bytes(kSeg));
  d.send_data(bytes(kSeg));
  d.take();
  std::vector<std::uint8_t> out(8192);
  ASSERT_EQ(d.stack.recv(s, out, d.now), static_cast<ssize_t>(4 * kSeg));
  Seg upd = d.take_one();
  EXPECT_EQ(upd.h.ack, d.peer_seq);
}

// A sub-millisecond path with timestamps: the echo reads 0 ms, the timed segment's clock gives the
// RTT (as Linux's per-segment clock does); before, every sample was the echo's 0 and TCP_INFO
// showed an RTT of 0.
TEST(TcpRegression, SubMillisecondPathWithTimestamps_RttFromTheClock) {
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  d.stack.send(s, bytes(100), d.now);
  d.note(d.take_one());
  d.advance(Duration::micros(300));
  d.ack(d.tcb(s).snd_max.raw());  // echoes a TSval of this millisecond
  TcpInfoSnapshot info;
  ASSERT_EQ(d.stack.tcp_info(s, &info, d.now), 0);
  EXPECT_GT(info.rtt_us, 0u);
  EXPECT_LT(info.rtt_us, 1000u);
}

}  // namespace
}  // namespace xdptcp::tcp::test
