// Retransmission (RFC 6298 with Karn and backoff, ETIMEDOUT), SYN retries, and keepalive
// (RFC 1122 §4.2.3.6).
#include "unit/tcp/tcp_dialogue.h"

namespace xdptcp::tcp::test {
namespace {

TEST(TcpTimers, Established_DataUnacked_RetransmittedWithBackoff) {  // RFC 6298 (5.4)-(5.6)
  auto cfg = Dialogue::default_config();
  cfg.rack = false;  // the RTO itself is tested: no tail loss probe in its place (RFC 8985 §7)
  Dialogue d(cfg);
  SocketId s = d.open_passive(d.listen_on());
  // The handshake gave an RTT sample of 0 via timestamps: RTO = max(min 200 ms, ...).
  d.stack.send(s, bytes(100), d.now);
  Seg orig = d.take_one();
  const Duration rto = d.tcb(s).rtt.rto();
  EXPECT_GE(rto, Duration::millis(200));
  d.advance(rto - Duration::millis(1));
  d.expect_none();
  d.advance(Duration::millis(1));
  Seg r1 = d.take_one();
  EXPECT_EQ(r1.h.seq, orig.h.seq);
  EXPECT_EQ(r1.data, orig.data);
  EXPECT_EQ(d.stack.stats().rtos, 1u);
  d.advance(rto * 2 - Duration::millis(1));
  d.expect_none();  // doubled (5.5)
  d.advance(Duration::millis(1));
  EXPECT_EQ(d.take_one().h.seq, orig.h.seq);
  d.ack(orig.h.seq + 100);
  EXPECT_EQ(d.tcb(s).rtx_count, 0);
  d.advance(Duration::seconds(10));
  d.expect_none();  // (5.2) timer off when all data acknowledged
}

TEST(TcpTimers, Established_NoAckEver_EtimedoutReported) {  // RFC 9293 §3.8.3, tcp_retries2
  auto cfg = Dialogue::default_config();
  cfg.rack = false;  // the RTO itself is tested: no tail loss probe in its place (RFC 8985 §7)
  cfg.max_retries = 3;
  Dialogue d(cfg);
  SocketId s = d.open_passive(d.listen_on());
  d.stack.send(s, bytes(100), d.now);
  d.take_one();
  for (int i = 0; i < 3; ++i) {
    d.advance(d.tcb(s).rtt.rto());
    EXPECT_EQ(d.take().size(), 1u);
  }
  d.advance(d.tcb(s).rtt.rto());
  EXPECT_EQ(d.stack.state(s), TcpState::kClosed);
  EXPECT_NE(d.stack.poll_events(s) & events::kErr, 0u);
  int err = 0;
  d.stack.getsockopt(s, SockOpt::kError, &err);
  EXPECT_EQ(err, ETIMEDOUT);
  EXPECT_EQ(d.stack.stats().conns_timed_out, 1u);
}

TEST(TcpTimers, SynSent_NoAnswer_SynRetriedThenEtimedout) {  // RFC 6298 (5.7), tcp_syn_retries
  auto cfg = Dialogue::default_config();
  cfg.syn_retries = 2;
  Dialogue d(cfg);
  SocketId s = d.stack.socket(wire::IpFamily::kV4);
  d.stack.connect(s, d.peer, d.now);
  Seg syn = d.take_one();
  d.advance(Duration::seconds(1));  // RFC 6298 (2.1) initial RTO 1 s
  EXPECT_EQ(d.take_one().h.seq, syn.h.seq);
  d.advance(Duration::seconds(2));
  EXPECT_EQ(d.take_one().h.seq, syn.h.seq);
  d.advance(Duration::seconds(4));
  EXPECT_EQ(d.stack.state(s), TcpState::kClosed);
  int err = 0;
  d.stack.getsockopt(s, SockOpt::kError, &err);
  EXPECT_EQ(err, ETIMEDOUT);
}

// RFC 6298 (5.7): after SYN retransmissions "the RTO MUST be re-initialized to 3 seconds when
// data transmission begins": neither the 4 s backed off by two SYN timeouts nor 1 s.
TEST(TcpTimers, SynSent_SynRetransmittedTwice_FirstDataRtoIsThreeSeconds) {  // RFC 6298 (5.7)
  auto cfg = Dialogue::default_config();
  cfg.rack = false;  // the RTO itself is tested: no tail loss probe in its place (RFC 8985 §7)
  Dialogue d(cfg);
  SocketId s = d.stack.socket(wire::IpFamily::kV4);
  d.stack.connect(s, d.peer, d.now);
  Seg syn = d.take_one();
  d.advance(Duration::seconds(1));
  EXPECT_EQ(d.take_one().h.seq, syn.h.seq);
  d.advance(Duration::seconds(2));
  Seg syn3 = d.take_one();
  EXPECT_EQ(syn3.h.seq, syn.h.seq);
  d.local.port = syn.h.src_port;
  d.note(syn3);
  wire::TcpOptions o = d.syn_options({});
  o.timestamps->tsecr = d.our_tsval;
  d.inject(kSyn | kAck, {}, d.peer_seq, syn.h.seq + 1, o);
  d.peer_seq += 1;
  d.peer_ack = syn.h.seq + 1;
  ASSERT_EQ(d.stack.state(s), TcpState::kEstablished);
  d.take();
  EXPECT_EQ(d.tcb(s).rtt.rto(), Duration::seconds(3));
  d.stack.send(s, bytes(100), d.now);
  Seg data = d.take_one();
  d.advance(Duration::seconds(3) - Duration::millis(1));
  d.expect_none();
  d.advance(Duration::millis(1));
  EXPECT_EQ(d.take_one().h.seq, data.h.seq);
}

TEST(TcpTimers, SynReceived_SynAckRetransmittedTwice_FirstDataRtoIsThreeSeconds) {  // RFC 6298 (5.7)
  auto cfg = Dialogue::default_config();
  cfg.rack = false;  // the RTO itself is tested: no tail loss probe in its place (RFC 8985 §7)
  Dialogue d(cfg);
  SocketId l = d.listen_on();
  PeerOptions p;
  p.timestamps = false;  // no sample from the handshake (Karn's rule, RFC 6298 §3)
  d.peer_ts_on = false;
  d.inject(kSyn, {}, d.peer_seq, {}, d.syn_options(p));
  Seg synack = d.take_one();
  d.advance(Duration::seconds(1));
  EXPECT_EQ(d.take_one().h.seq, synack.h.seq);
  d.advance(Duration::seconds(2));
  EXPECT_EQ(d.take_one().h.seq, synack.h.seq);
  d.peer_seq += 1;
  d.peer_ack = synack.h.seq + 1;
  d.inject(kAck);
  SocketId s = d.stack.accept(l, nullptr);
  ASSERT_GE(s, 0);
  EXPECT_FALSE(d.tcb(s).rtt.has_sample());
  EXPECT_EQ(d.tcb(s).rtt.rto(), Duration::seconds(3));
  d.stack.send(s, bytes(100), d.now);
  Seg data = d.take_one();
  d.advance(Duration::seconds(3) - Duration::millis(1));
  d.expect_none();
  d.advance(Duration::millis(1));
  EXPECT_EQ(d.take_one().h.seq, data.h.seq);
}

TEST(TcpTimers, Established_KarnRule_NoSampleFromRetransmission) {  // RFC 6298 §3
  Dialogue d;
  PeerOptions p;
  p.timestamps = false;
  SocketId s = d.open_passive(d.listen_on(), p);
  const Duration srtt = d.tcb(s).rtt.srtt();
  d.stack.send(s, bytes(100), d.now);
  Seg orig = d.take_one();
  d.advance(d.tcb(s).rtt.rto());
  d.take_one();
  d.advance(Duration::millis(5));
  d.ack(orig.h.seq + 100);
  EXPECT_EQ(d.tcb(s).rtt.srtt(), srtt);  // the ambiguous ACK gave no sample
}

TEST(TcpTimers, Established_RttFromTimestamps_Sampled) {  // RFC 7323 §4.1
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  d.stack.send(s, bytes(100), d.now);
  Seg o = d.take_one();
  d.note(o);
  d.now += Duration::millis(50);
  d.ack(o.h.seq + 100);
  EXPECT_EQ(d.tcb(s).rtt.min_rtt(), Duration::millis(0));  // handshake sample
  EXPECT_GT(d.tcb(s).rtt.srtt(), Duration::millis(0));
}

TEST(TcpTimers, Established_KeepaliveIdle_ProbesThenEtimedout) {  // RFC 1122 §4.2.3.6
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  d.stack.setsockopt(s, SockOpt::kKeepIdle, 10);
  d.stack.setsockopt(s, SockOpt::kKeepIntvl, 2);
  d.stack.setsockopt(s, SockOpt::kKeepCnt, 2);
  d.stack.setsockopt(s, SockOpt::kKeepAlive, 1);
  d.advance(Duration::seconds(10));
  Seg p1 = d.take_one();
  EXPECT_EQ(p1.h.seq, d.peer_ack - 1);
  EXPECT_TRUE(p1.data.empty());
  d.ack(d.peer_ack);  // the peer answers: idle again
  d.advance(Duration::seconds(2));
  d.expect_none();
  d.advance(Duration::seconds(8));
  d.take_one();
  d.advance(Duration::seconds(2));
  d.take_one();
  d.advance(Duration::seconds(2));
  Seg rst = d.take_one();
  EXPECT_TRUE(rst.has(kRst));
  int err = 0;
  d.stack.getsockopt(s, SockOpt::kError, &err);
  EXPECT_EQ(err, ETIMEDOUT);
  EXPECT_EQ(d.stack.stats().keepalive_probes, 3u);
}

TEST(TcpTimers, Idle_NextTimer_ReportsEarliestExpiry) {
  Dialogue d;
  EXPECT_FALSE(d.stack.next_timer().has_value());
  SocketId s = d.stack.socket(wire::IpFamily::kV4);
  d.stack.connect(s, d.peer, d.now);
  d.take_one();
  ASSERT_TRUE(d.stack.next_timer().has_value());
  EXPECT_LE(*d.stack.next_timer(), d.now + Duration::seconds(1));
}

}  // namespace
}  // namespace xdptcp::tcp::test
