// Connection release (RFC 9293 §3.6): active, passive and simultaneous close, half-close,
// TIME-WAIT and its reuse (RFC 6191), orphans, and the RST on close of RFC 9293 §3.10.4.
#include <sys/socket.h>

#include "unit/tcp/tcp_dialogue.h"

namespace xdptcp::tcp::test {
namespace {

TEST(TcpClose, Established_Close_FinWait1ThenFinWait2ThenTimeWait) {  // RFC 9293 §3.6 Figure 12
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  ASSERT_EQ(d.stack.close(s, d.now), 0);
  Seg fin = d.take_one();
  EXPECT_TRUE(fin.has(kFin) && fin.has(kAck));
  EXPECT_EQ(d.stack.connection_count(), 1u);  // an orphan now
  d.ack(fin.h.seq + 1);
  d.expect_none();
  d.send_data({}, kFin);
  Seg a = d.take_one();
  EXPECT_EQ(a.h.ack, d.peer_seq);
  EXPECT_EQ(d.stack.connection_count(), 1u);  // TIME-WAIT
  d.advance(Duration::seconds(59));
  EXPECT_EQ(d.stack.connection_count(), 1u);
  d.advance(Duration::seconds(1));
  EXPECT_EQ(d.stack.connection_count(), 0u);  // 2*MSL elapsed
}

TEST(TcpClose, Established_ShutdownWr_HalfCloseKeepsReading) {  // RFC 9293 §3.6, RFC 1122 4.2.2.13
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  ASSERT_EQ(d.stack.shutdown(s, SHUT_WR, d.now), 0);
  Seg fin = d.take_one();
  EXPECT_TRUE(fin.has(kFin));
  EXPECT_EQ(d.stack.state(s), TcpState::kFinWait1);
  EXPECT_EQ(d.stack.send(s, bytes(5), d.now), -EPIPE);
  d.ack(fin.h.seq + 1);
  EXPECT_EQ(d.stack.state(s), TcpState::kFinWait2);
  d.send_data(bytes(300));
  std::vector<std::uint8_t> out(1000);
  EXPECT_EQ(d.stack.recv(s, out, d.now), 300);
  d.send_data({}, kFin);
  EXPECT_EQ(d.stack.state(s), TcpState::kTimeWait);
  EXPECT_EQ(d.stack.recv(s, out, d.now), 0);  // EOF
  EXPECT_NE(d.stack.poll_events(s) & events::kRdHup, 0u);
}

// TIME-WAIT keeps no buffers (StackCore::release_buffers): the rings go back to the stack's spare
// list for the next connection, and the TIME-WAIT still answers a retransmitted FIN (RFC 9293
// §3.10.7.4) with the window it advertised before (never shrunk, RFC 9293 §3.8.6.2.1).
TEST(TcpClose, TimeWait_RingsGivenBack_RetransmittedFinAckedWithSameWindow) {
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  ASSERT_EQ(d.stack.shutdown(s, SHUT_WR, d.now), 0);
  Seg fin = d.take_one();
  d.ack(fin.h.seq + 1);
  d.send_data({}, kFin);
  Seg a1 = d.take_one();
  ASSERT_EQ(d.stack.state(s), TcpState::kTimeWait);
  EXPECT_FALSE(d.tcb(s).snd_buf.has_value());
  EXPECT_FALSE(d.tcb(s).rcv_buf.has_value());
  std::vector<std::uint8_t> out(16);
  EXPECT_EQ(d.stack.recv(s, out, d.now), 0);            // EOF
  EXPECT_EQ(d.stack.send(s, bytes(5), d.now), -EPIPE);  // no ring needed to refuse
  d.inject(kFin | kAck, {}, d.peer_seq - 1);            // the peer's FIN again
  Seg a2 = d.take_one();
  EXPECT_EQ(a2.h.ack, d.peer_seq);
  EXPECT_EQ(a2.h.window, a1.h.window);
  d.inject(kAck, bytes(10), d.peer_seq);  // text after the FIN: ignored
  EXPECT_EQ(d.stack.recv(s, out, d.now), 0);
  // The next connection gets rings (from the spare list) and works.
  ASSERT_EQ(d.stack.close(s, d.now), 0);
  d.peer.port += 1;
  d.local.port = 81;
  d.peer_seq += 100000;
  SocketId s2 = d.open_passive(d.listen_on(81));
  ASSERT_TRUE(d.tcb(s2).snd_buf.has_value() && d.tcb(s2).rcv_buf.has_value());
  d.send_data(bytes(10));
  EXPECT_EQ(d.stack.recv(s2, out, d.now), 10);
}

TEST(TcpClose, TimeWait_UnreadData_ReceiveRingKeptUntilRead) {  // RFC 9293 §3.6 half-close
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  ASSERT_EQ(d.stack.shutdown(s, SHUT_WR, d.now), 0);
  Seg fin = d.take_one();
  d.ack(fin.h.seq + 1);
  d.send_data(bytes(10), kFin);
  ASSERT_EQ(d.stack.state(s), TcpState::kTimeWait);
  EXPECT_FALSE(d.tcb(s).snd_buf.has_value());
  ASSERT_TRUE(d.tcb(s).rcv_buf.has_value());  // the application has not read its 10 bytes
  std::vector<std::uint8_t> out(16);
  EXPECT_EQ(d.stack.recv(s, out, d.now), 10);
  EXPECT_EQ(d.stack.recv(s, out, d.now), 0);
}

TEST(TcpClose, Established_PeerFin_CloseWaitThenLastAckThenClosed) {  // RFC 9293 §3.6 Figure 12
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  d.send_data(bytes(10), kFin);
  Seg a = d.take_one();
  EXPECT_EQ(a.h.ack, d.peer_seq);  // FIN acknowledged at once
  EXPECT_EQ(d.stack.state(s), TcpState::kCloseWait);
  std::vector<std::uint8_t> out(100);
  EXPECT_EQ(d.stack.recv(s, out, d.now), 10);
  EXPECT_EQ(d.stack.recv(s, out, d.now), 0);
  EXPECT_EQ(d.stack.send(s, bytes(5), d.now), 5);  // still allowed in CLOSE-WAIT
  d.take_one();
  EXPECT_EQ(d.stack.shutdown(s, SHUT_WR, d.now), 0);
  EXPECT_EQ(d.stack.state(s), TcpState::kLastAck);
  Seg fin = d.take_one();
  EXPECT_TRUE(fin.has(kFin));
  d.ack(fin.h.seq + 1);
  EXPECT_EQ(d.stack.state(s), TcpState::kClosed);
  EXPECT_EQ(d.stack.close(s, d.now), 0);
  EXPECT_EQ(d.stack.connection_count(), 0u);
  EXPECT_EQ(d.stack.socket_count(), 1u);  // the listener
}

TEST(TcpClose, FinWait1_PeerFinBeforeAck_ClosingThenTimeWait) {  // RFC 9293 §3.6 Figure 13
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  d.stack.shutdown(s, SHUT_WR, d.now);
  Seg fin = d.take_one();
  d.send_data({}, kFin);  // the peer's FIN does not acknowledge ours
  EXPECT_EQ(d.stack.state(s), TcpState::kClosing);
  Seg a = d.take_one();
  EXPECT_EQ(a.h.ack, d.peer_seq);
  d.ack(fin.h.seq + 1);
  EXPECT_EQ(d.stack.state(s), TcpState::kTimeWait);
}

TEST(TcpClose, TimeWait_RetransmittedFin_AckedAndTimerRestarted) {  // RFC 9293 §3.10.7.4 eighth
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  d.stack.close(s, d.now);
  Seg fin = d.take_one();
  d.ack(fin.h.seq + 1);
  d.send_data({}, kFin);
  d.take_one();
  d.advance(Duration::seconds(30));
  d.inject(kAck | kFin, {}, d.peer_seq - 1);
  Seg a = d.take_one();
  EXPECT_EQ(a.h.ack, d.peer_seq);
  d.advance(Duration::seconds(59));
  EXPECT_EQ(d.stack.connection_count(), 1u);
  d.advance(Duration::seconds(1));
  EXPECT_EQ(d.stack.connection_count(), 0u);
}

TEST(TcpClose, TimeWait_NewSynWithNewerTimestamp_Reused) {  // RFC 6191 §2
  Dialogue d;
  SocketId l = d.listen_on();
  SocketId s = d.open_passive(l);
  d.stack.close(s, d.now);
  Seg fin = d.take_one();
  d.ack(fin.h.seq + 1);
  d.send_data({}, kFin);
  d.take_one();
  d.peer_ts += 100;
  d.peer_seq += 5;
  d.inject(kSyn, {}, d.peer_seq, {}, d.syn_options({}));
  Seg sa = d.take_one();
  ASSERT_TRUE(sa.has(kSyn) && sa.has(kAck));
  EXPECT_GT(static_cast<std::int32_t>(sa.h.seq - fin.h.seq), 65535);  // ISN beyond the old one
  EXPECT_EQ(d.stack.stats().time_wait_reused, 1u);
}

TEST(TcpClose, TimeWait_SynWithOldTimestamp_ChallengeAck) {  // RFC 6191, RFC 5961 §4
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  d.stack.close(s, d.now);
  Seg fin = d.take_one();
  d.ack(fin.h.seq + 1);
  d.send_data({}, kFin);
  d.take_one();
  auto o = d.syn_options({});
  o.timestamps->tsval = d.peer_ts - 10;
  d.inject(kSyn, {}, d.peer_seq + 10, {}, o);
  Seg a = d.take_one();
  EXPECT_FALSE(a.has(kSyn));
  EXPECT_TRUE(a.has(kAck));
  EXPECT_EQ(d.stack.stats().time_wait_reused, 0u);
}

TEST(TcpClose, TimeWait_NoTimestampsSynAboveRcvNxt_Reused) {  // RFC 1122 §4.2.2.13
  Dialogue d;
  PeerOptions p;
  p.timestamps = false;
  SocketId s = d.open_passive(d.listen_on(), p);
  d.stack.close(s, d.now);
  Seg fin = d.take_one();
  d.ack(fin.h.seq + 1);
  d.send_data({}, kFin);
  d.take_one();
  d.inject(kSyn, {}, d.peer_seq + 100000, {}, d.syn_options(p));
  EXPECT_TRUE(d.take_one().has(kSyn));
  EXPECT_EQ(d.stack.stats().time_wait_reused, 1u);
}

TEST(TcpClose, Established_CloseWithUnreadData_SendsRst) {  // RFC 9293 §3.10.4, RFC 2525 §2.17
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  d.send_data(bytes(10));
  d.stack.close(s, d.now);
  Seg r = d.take_one();
  EXPECT_TRUE(r.has(kRst));
  EXPECT_EQ(d.stack.connection_count(), 0u);
}

TEST(TcpClose, Established_LingerZero_CloseSendsRst) {  // SO_LINGER {1, 0}
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  d.stack.setsockopt(s, SockOpt::kLinger, 0);
  d.stack.close(s, d.now);
  Seg r = d.take_one();
  EXPECT_TRUE(r.has(kRst));
  EXPECT_EQ(r.h.seq, d.peer_ack);
  EXPECT_EQ(d.stack.connection_count(), 0u);
}

TEST(TcpClose, FinWait2Orphan_DataArrives_Reset) {  // Linux tcp_rcv_state_process(), RFC 2525
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  d.stack.close(s, d.now);
  Seg fin = d.take_one();
  d.ack(fin.h.seq + 1);
  d.send_data(bytes(10));
  EXPECT_TRUE(d.take_one().has(kRst));
  EXPECT_EQ(d.stack.connection_count(), 0u);
}

TEST(TcpClose, FinWait2Orphan_NoPeerFin_ClosedAfterFinTimeout) {  // Linux tcp_fin_timeout
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  d.stack.close(s, d.now);
  Seg fin = d.take_one();
  d.ack(fin.h.seq + 1);
  d.advance(Duration::seconds(61));
  EXPECT_EQ(d.stack.connection_count(), 0u);
}

TEST(TcpClose, Listener_Close_QueuedChildrenReset) {  // Linux inet_csk_listen_stop()
  Dialogue d;
  SocketId l = d.listen_on();
  d.inject(kSyn, {}, d.peer_seq, {}, d.syn_options({}));
  Seg sa = d.take_one();
  d.peer_seq += 1;
  d.peer_ack = sa.h.seq + 1;
  d.inject(kAck);
  d.stack.close(l, d.now);
  EXPECT_TRUE(d.take_one().has(kRst));
  EXPECT_EQ(d.stack.connection_count(), 0u);
  EXPECT_EQ(d.stack.socket_count(), 0u);
}

// Linux inet_csk_listen_stop(): closing a listener resets only the connections still in its accept
// queue. One the application accepted and has closed itself, still sending its data and FIN, is
// not the listener's any more (nginx closes its listeners on reload while such connections drain).
TEST(TcpClose, AcceptedClosedConnection_ListenerClosed_NotReset) {
  Dialogue d;
  SocketId l = d.listen_on();
  SocketId s = d.open_passive(l);
  d.stack.send(s, bytes(100), d.now);
  ASSERT_EQ(d.stack.close(s, d.now), 0);
  auto out = d.take();  // the data and the FIN
  ASSERT_FALSE(out.empty());
  EXPECT_TRUE(out.back().has(kFin));
  ASSERT_EQ(d.stack.close(l, d.now), 0);
  for (const Seg& seg : d.take()) EXPECT_FALSE(seg.has(kRst));
  EXPECT_EQ(d.stack.state(s), TcpState::kClosed);  // the descriptor is closed...
  // ...but the connection is not: it is in FIN-WAIT-1 and finishes its close.
  d.ack(out.back().h.seq + static_cast<std::uint32_t>(out.back().data.size()) + 1);
  d.inject(kFin | kAck, {}, d.peer_seq,
           out.back().h.seq + static_cast<std::uint32_t>(out.back().data.size()) + 1);
  auto last = d.take();
  ASSERT_FALSE(last.empty());
  EXPECT_FALSE(last.back().has(kRst));
  EXPECT_TRUE(last.back().has(kAck));
}

}  // namespace
}  // namespace xdptcp::tcp::test
