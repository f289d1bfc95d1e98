// Data transfer in ESTABLISHED: receiving (acceptability, reassembly, SACK generation, delayed
// ACK, PAWS) and sending (MSS, Nagle, windows, zero window and persist).
#include "unit/tcp/tcp_dialogue.h"

namespace xdptcp::tcp::test {
namespace {

TEST(TcpData, Established_InOrderData_DeliveredAndAckDelayed) {  // RFC 9293 §3.8.6.3
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  ASSERT_EQ(d.stack.setsockopt(s, SockOpt::kQuickAck, 0), 0);  // past the quick-ack start
  auto data = bytes(100);
  d.send_data(data);
  d.expect_none();  // one small segment: the ACK is delayed
  EXPECT_NE(d.stack.poll_events(s) & events::kIn, 0u);
  std::vector<std::uint8_t> out(1000);
  ASSERT_EQ(d.stack.recv(s, out, d.now), 100);
  EXPECT_TRUE(std::equal(data.begin(), data.end(), out.begin()));
  EXPECT_EQ(d.stack.recv(s, out, d.now), -EAGAIN);
  d.advance(Duration::millis(40));
  Seg a = d.take_one();
  EXPECT_TRUE(a.has(kAck));
  EXPECT_EQ(a.h.ack, d.peer_seq);
  EXPECT_EQ(d.stack.stats().delayed_acks, 1u);
}

TEST(TcpData, Established_TwoFullSegments_AckedAtOnce) {  // RFC 1122 §4.2.3.2 every 2nd segment
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  ASSERT_EQ(d.stack.setsockopt(s, SockOpt::kQuickAck, 0), 0);  // past the quick-ack start
  auto data = bytes(1448);                                     // full-sized with timestamps
  d.send_data(data);
  d.expect_none();
  d.send_data(data);
  Seg a = d.take_one();
  EXPECT_EQ(a.h.ack, d.peer_seq);
}

// Quick-ack mode (Linux tcp_event_data_recv(), TCP_MAX_QUICKACKS): the first data segments of a
// connection are acknowledged at once, so that the peer's slow start (RFC 5681 §3.1) is not
// held back by the delayed-ACK timeout; then delayed ACKs (RFC 9293 §3.8.6.3).
TEST(TcpData, Established_FirstSegments_QuickAckedThenDelayed) {  // RFC 5681 §4.2, RFC 9293 §3.8.6.3
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  int v = 0;
  ASSERT_EQ(d.stack.getsockopt(s, SockOpt::kQuickAck, &v), 0);
  EXPECT_EQ(v, 1);
  for (int i = 0; i < 16; ++i) {  // 64 KiB receive buffer: min(65536 / (2 * 1460), 16)
    d.send_data(bytes(100));
    Seg a = d.take_one();  // no delayed-ACK wait
    EXPECT_EQ(a.h.ack, d.peer_seq) << i;
  }
  ASSERT_EQ(d.stack.getsockopt(s, SockOpt::kQuickAck, &v), 0);
  EXPECT_EQ(v, 0);
  d.send_data(bytes(100));
  d.expect_none();  // the budget is spent: delayed
  d.advance(Duration::millis(40));
  EXPECT_EQ(d.take_one().h.ack, d.peer_seq);
  EXPECT_EQ(d.stack.stats().delayed_acks, 1u);
}

TEST(TcpData, Established_DataAfterIdleLongerThanRto_QuickAckedAgain) {  // Linux tcp_event_data_recv()
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  ASSERT_EQ(d.stack.setsockopt(s, SockOpt::kQuickAck, 0), 0);
  d.send_data(bytes(100));
  d.expect_none();  // delayed
  d.advance(Duration::millis(40));
  d.take_one();
  d.advance(d.tcb(s).rtt.rto() / 2);
  d.send_data(bytes(100));
  d.expect_none();  // silence shorter than the RTO: still delayed
  d.advance(Duration::millis(40));
  d.take_one();
  d.advance(d.tcb(s).rtt.rto() + Duration::millis(1));
  d.send_data(bytes(100));
  EXPECT_EQ(d.take_one().h.ack, d.peer_seq);  // the sender restarts from idle: ACK at once
}

// A small receive buffer allows fewer quick ACKs (Linux: rcv_wnd / (2 * rcv_mss), at least 2).
TEST(TcpData, Established_SmallReceiveBuffer_FewerQuickAcks) {
  auto cfg = Dialogue::default_config();
  cfg.rcvbuf = 8192;
  Dialogue d(cfg);
  SocketId s = d.open_passive(d.listen_on());
  (void)s;
  for (int i = 0; i < 2; ++i) {  // 8192 / 2920
    d.send_data(bytes(100));
    EXPECT_EQ(d.take_one().h.ack, d.peer_seq);
  }
  d.send_data(bytes(100));
  d.expect_none();
}

TEST(TcpData, Established_ReplyData_CarriesAck) {  // piggybacking: no separate ACK
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  d.send_data(bytes(10));
  auto resp = bytes(20, 3);
  ASSERT_EQ(d.stack.send(s, resp, d.now), 20);
  Seg r = d.take_one();
  EXPECT_EQ(r.data, resp);
  EXPECT_EQ(r.h.ack, d.peer_seq);
  EXPECT_TRUE(r.has(kPsh));
}

TEST(TcpData, Established_OutOfOrder_ImmediateDupAckWithSack) {  // RFC 5681 §4.2, RFC 2018 §4
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  const std::uint32_t base = d.peer_seq;
  auto a = bytes(100, 1), b = bytes(100, 2), c = bytes(100, 3);
  d.inject(kAck, b, base + 100);
  Seg x = d.take_one();
  EXPECT_EQ(x.h.ack, base);
  ASSERT_EQ(x.h.options.sack_count, 1);
  EXPECT_EQ(x.h.options.sack[0], (wire::TcpSackBlock{base + 100, base + 200}));
  d.inject(kAck, c, base + 300);
  d.peer_ts++;
  Seg y = d.take_one();
  ASSERT_EQ(y.h.options.sack_count, 2);
  EXPECT_EQ(y.h.options.sack[0], (wire::TcpSackBlock{base + 300, base + 400}));  // most recent first
  EXPECT_EQ(y.h.options.sack[1], (wire::TcpSackBlock{base + 100, base + 200}));
  d.inject(kAck, a, base);  // fills the first hole
  Seg z = d.take_one();
  EXPECT_EQ(z.h.ack, base + 200);
  ASSERT_EQ(z.h.options.sack_count, 1);
  std::vector<std::uint8_t> out(1000);
  ASSERT_EQ(d.stack.recv(s, out, d.now), 200);
  EXPECT_TRUE(std::equal(a.begin(), a.end(), out.begin()));
  EXPECT_TRUE(std::equal(b.begin(), b.end(), out.begin() + 100));
}

TEST(TcpData, Established_SegmentBeforeWindow_AckedAndDropped) {  // RFC 9293 §3.10.7.4 first
  Dialogue d;
  d.open_passive(d.listen_on());
  d.inject(kAck, bytes(10), d.peer_seq - 50);
  Seg a = d.take_one();
  EXPECT_EQ(a.h.ack, d.peer_seq);
  EXPECT_EQ(d.stack.stats().drop(DropReason::kOutOfWindow), 1u);
}

TEST(TcpData, Established_OverlappingRetransmission_TrimmedAndDelivered) {  // §3.10.7.4 seventh
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  auto data = bytes(200);
  d.send_data(std::span(data).first(100));
  d.inject(kAck, data, d.peer_seq - 100);  // overlaps the first 100 bytes
  std::vector<std::uint8_t> out(1000);
  ASSERT_EQ(d.stack.recv(s, out, d.now), 200);
  EXPECT_TRUE(std::equal(data.begin(), data.end(), out.begin()));
}

TEST(TcpData, Established_OldTimestamp_PawsDropsWithAck) {  // RFC 7323 §5.3 R1
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  d.peer_ts += 10;
  d.send_data(bytes(10));
  d.peer_ts -= 5;
  d.inject(kAck, bytes(10), d.peer_seq);
  Seg a = d.take_one();
  EXPECT_EQ(a.h.ack, d.peer_seq);
  EXPECT_EQ(d.stack.stats().drop(DropReason::kPawsReject), 1u);
  std::vector<std::uint8_t> out(100);
  EXPECT_EQ(d.stack.recv(s, out, d.now), 10);
  EXPECT_EQ(d.tcb(s).ts_recent, d.peer_ts + 5);
}

TEST(TcpData, Established_Send_SegmentsOfMssWithTimestamps) {  // RFC 9293 §3.7.1
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  auto data = bytes(4000);
  ASSERT_EQ(d.stack.send(s, data, d.now), 4000);
  auto segs = d.take();
  ASSERT_EQ(segs.size(), 3u);
  EXPECT_EQ(segs[0].data.size(), 1448u);  // 1460 - 12 bytes of timestamps
  EXPECT_EQ(segs[1].data.size(), 1448u);
  EXPECT_EQ(segs[2].data.size(), 4000u - 2 * 1448u);
  EXPECT_EQ(segs[1].h.seq, segs[0].h.seq + 1448);
  EXPECT_TRUE(segs[0].h.options.timestamps.has_value());
}

TEST(TcpData, Established_SmallWritesWithDataInFlight_NagleHolds) {  // RFC 9293 §3.7.4
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  d.stack.send(s, bytes(10), d.now);
  Seg first = d.take_one();
  d.stack.send(s, bytes(10), d.now);
  d.expect_none();  // held: unacknowledged data in flight
  d.ack(first.h.seq + 10);
  Seg second = d.take_one();
  EXPECT_EQ(second.data.size(), 10u);
}

TEST(TcpData, Established_NoDelay_SmallWritesGoAtOnce) {  // TCP_NODELAY
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  ASSERT_EQ(d.stack.setsockopt(s, SockOpt::kNoDelay, 1), 0);
  d.stack.send(s, bytes(10), d.now);
  d.take_one();
  d.stack.send(s, bytes(10), d.now);
  EXPECT_EQ(d.take_one().data.size(), 10u);
}

TEST(TcpData, Established_PeerWindowLimits_SendsOnlyWindow) {  // RFC 9293 §3.8.6
  Dialogue d;
  PeerOptions p;
  p.wscale = 0;
  SocketId s = d.open_active(p);
  d.peer_window = 3000;
  d.inject(kAck);
  d.stack.send(s, bytes(10000), d.now);
  auto segs = d.take();
  std::size_t total = 0;
  for (auto& x : segs) total += x.data.size();
  // The 104 bytes left would be a window-limited runt while data is in flight: sender SWS
  // avoidance holds them (Linux: tcp_snd_wnd_test() fails, no split).
  EXPECT_EQ(total, 2896u);
}

TEST(TcpData, Established_ZeroWindow_PersistProbesUntilOpen) {  // RFC 9293 §3.8.6.1
  Dialogue d;
  PeerOptions p;
  p.wscale = 0;
  SocketId s = d.open_active(p);
  d.peer_window = 0;
  d.inject(kAck);
  d.stack.send(s, bytes(500), d.now);
  d.expect_none();
  const Duration rto = d.tcb(s).rtt.rto();
  d.advance(rto);
  Seg probe = d.take_one();
  EXPECT_EQ(probe.h.seq, d.peer_ack - 1);  // SND.UNA - 1, no data (Linux's probe)
  EXPECT_TRUE(probe.data.empty());
  EXPECT_EQ(d.stack.stats().persist_probes, 1u);
  d.advance(rto * 2 - Duration::millis(1));
  d.expect_none();  // backed off to 2 RTO
  d.advance(Duration::millis(1));
  EXPECT_EQ(d.take_one().h.seq, d.peer_ack - 1);
  d.peer_window = 1000;
  d.inject(kAck);
  Seg data = d.take_one();
  EXPECT_EQ(data.data.size(), 500u);
}

// Sender SWS avoidance (RFC 9293 §3.8.6.2.1, MUST-38): a 10-byte window with nothing in flight
// is no reason to send a 10-byte segment; the override timeout (here the persist timer, as
// Linux's tcp_probe_timer() -> tcp_write_wakeup()) sends what the window allows, and once the
// window opens the rest flows.
TEST(TcpData, Established_TinyWindowNothingInFlight_WaitsForOverrideTimeout) {  // RFC 9293 §3.8.6.2.1
  Dialogue d;
  PeerOptions p;
  p.wscale = std::nullopt;  // unscaled, so the peer can offer exactly 10 bytes
  SocketId s = d.open_active(p);
  d.stack.send(s, bytes(1000), d.now);
  Seg first = d.take_one();
  d.note(first);
  d.peer_window = 10;
  d.ack(first.h.seq + 1000);  // all acknowledged; the peer's application is slow
  d.expect_none();
  d.stack.send(s, bytes(1000), d.now);
  d.expect_none();  // 10 < min(MSS, max window / 2): a silly-window segment
  EXPECT_EQ(d.stack.unsent_bytes(s), 1000u);
  const Duration rto = d.tcb(s).rtt.rto();
  d.advance(rto - Duration::millis(1));
  d.expect_none();
  d.advance(Duration::millis(1));
  Seg o = d.take_one();  // the override timeout: what the window allows goes
  EXPECT_EQ(o.h.seq, first.h.seq + 1000);
  EXPECT_EQ(o.data.size(), 10u);
  d.note(o);
  d.peer_window = 65535;
  d.ack(o.h.seq + 10);
  auto rest = d.take();
  std::size_t total = 0;
  for (auto& x : rest) total += x.data.size();
  EXPECT_EQ(total, 990u);
}

// The window stays tiny: the override timer keeps the data moving, a window's worth at a time.
TEST(TcpData, Established_TinyWindowStaysTiny_DataStillFlows) {  // RFC 9293 §3.8.6.2.1
  Dialogue d;
  PeerOptions p;
  p.wscale = std::nullopt;
  SocketId s = d.open_active(p);
  d.peer_window = 10;
  d.inject(kAck);
  d.stack.send(s, bytes(30), d.now);
  std::size_t total = 0;
  for (int i = 0; i < 3 && total < 30; ++i) {
    auto v = d.take();
    if (v.empty()) {
      d.advance(d.tcb(s).rtt.rto() * 8);
      v = d.take();
    }
    ASSERT_EQ(v.size(), 1u) << Dialogue::describe(v);
    EXPECT_EQ(v[0].data.size(), 10u);
    total += v[0].data.size();
    d.note(v[0]);
    d.ack(v[0].h.seq + 10);
  }
  EXPECT_EQ(total, 30u);
  EXPECT_EQ(d.stack.unsent_or_unacked_bytes(s), 0u);
}

TEST(TcpData, Established_ReceiveBufferFull_AdvertisesZeroThenUpdates) {  // §3.8.6.2.2
  auto cfg = Dialogue::default_config();
  cfg.rcvbuf = 4096;
  Dialogue d(cfg);
  SocketId s = d.open_passive(d.listen_on());
  d.send_data(bytes(1448));
  d.send_data(bytes(1448));
  Seg a = d.take_one();
  EXPECT_EQ(a.h.window, 4096 - 2 * 1448);
  d.send_data(bytes(1200));
  d.advance(Duration::millis(40));
  Seg z = d.take_one();
  EXPECT_EQ(z.h.window, 0);
  // Data beyond the window is dropped with an ACK.
  d.inject(kAck, bytes(10), d.peer_seq);
  Seg w = d.take_one();
  EXPECT_EQ(w.h.ack, d.peer_seq);
  std::vector<std::uint8_t> out(8192);
  ASSERT_EQ(d.stack.recv(s, out, d.now), 4096);
  Seg upd = d.take_one();  // window update once reading opened it
  EXPECT_EQ(upd.h.window, 4096);
}

TEST(TcpData, Established_TxRingFull_DataKeptAndSentLater) {
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  d.sink.full = true;
  d.stack.send(s, bytes(100), d.now);
  d.expect_none();
  EXPECT_GE(d.stack.stats().tx_buffer_unavailable, 1u);
  d.sink.full = false;
  EXPECT_EQ(d.take_one().data.size(), 100u);
}

// TCP_CORK (Linux tcp(7)): less-than-MSS segments wait until uncorked; full segments go.
TEST(TcpData, Corked_SmallWriteWithNothingInFlight_HeldUntilUncorked) {
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  ASSERT_EQ(d.stack.setsockopt(s, SockOpt::kCork, 1), 0);
  int v = 0;
  ASSERT_EQ(d.stack.getsockopt(s, SockOpt::kCork, &v), 0);
  EXPECT_EQ(v, 1);
  d.stack.send(s, bytes(100), d.now);
  d.expect_none();  // Nagle alone would send it (nothing in flight)
  ASSERT_EQ(d.stack.setsockopt(s, SockOpt::kCork, 0), 0);
  EXPECT_EQ(d.take_one().data.size(), 100u);
}

TEST(TcpData, Corked_WithNoDelay_StillHeld) {  // Linux: TCP_CORK wins over TCP_NODELAY
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  ASSERT_EQ(d.stack.setsockopt(s, SockOpt::kNoDelay, 1), 0);
  ASSERT_EQ(d.stack.setsockopt(s, SockOpt::kCork, 1), 0);
  d.stack.send(s, bytes(10), d.now);
  d.expect_none();
}

TEST(TcpData, Corked_FullSegmentsGo_TailWaits) {  // nginx: header, then sendfile, then uncork
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  ASSERT_EQ(d.stack.setsockopt(s, SockOpt::kCork, 1), 0);
  d.stack.send(s, bytes(3000), d.now);
  auto segs = d.take();
  ASSERT_EQ(segs.size(), 2u);
  EXPECT_EQ(segs[0].data.size() + segs[1].data.size(), 2u * segs[0].data.size());
  const std::size_t tail = 3000 - 2 * segs[0].data.size();
  ASSERT_EQ(d.stack.setsockopt(s, SockOpt::kCork, 0), 0);
  EXPECT_EQ(d.take_one().data.size(), tail);
}

TEST(TcpData, Corked_CloseSendsTheTailWithTheFin) {
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  ASSERT_EQ(d.stack.setsockopt(s, SockOpt::kCork, 1), 0);
  d.stack.send(s, bytes(50), d.now);
  d.expect_none();
  ASSERT_EQ(d.stack.close(s, d.now), 0);
  Seg last = d.take_one();
  EXPECT_EQ(last.data.size(), 50u);
  EXPECT_TRUE(last.has(kFin));
}

}  // namespace
}  // namespace xdptcp::tcp::test
