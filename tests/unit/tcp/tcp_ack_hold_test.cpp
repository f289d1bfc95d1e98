// ACKs held for the application's reply (StackConfig::hold_acks_for_app): the ACK of a SYN-ACK
// rides on the first request (RFC 9293 §3.10.7.3 lets queued data go with it) and the ACK of a
// FIN in ESTABLISHED rides on the application's FIN (a delayed ACK, RFC 1122 §4.2.3.2), so a
// short connection costs two segments fewer; without a reply they go once released.
#include "unit/tcp/tcp_dialogue.h"

namespace xdptcp::tcp::test {
namespace {

StackConfig holding_config() {
  StackConfig cfg = Dialogue::default_config();
  cfg.hold_acks_for_app = true;
  return cfg;
}

// Connect and answer the SYN with a SYN-ACK; the stack's ACK is left to the test.
SocketId connect_and_answer(Dialogue& d) {
  SocketId s = d.stack.socket(wire::IpFamily::kV4);
  EXPECT_EQ(d.stack.connect(s, d.peer, d.now), -EINPROGRESS);
  Seg syn = d.take_one();
  d.local.port = syn.h.src_port;
  d.note(syn);
  wire::TcpOptions o = d.syn_options({});
  o.timestamps->tsecr = d.our_tsval;
  d.inject(kSyn | kAck, {}, d.peer_seq, syn.h.seq + 1, o);
  d.peer_seq += 1;
  d.peer_ack = syn.h.seq + 1;
  return s;
}

TEST(TcpAckHold, SynSent_SynAck_AckRidesOnFirstRequest) {  // RFC 9293 §3.10.7.3
  Dialogue d(holding_config());
  SocketId s = connect_and_answer(d);
  EXPECT_EQ(d.stack.state(s), TcpState::kEstablished);
  d.expect_none();  // held for the application
  ASSERT_EQ(d.stack.send(s, bytes(64), d.now), 64);
  d.stack.release_held_acks();
  Seg req = d.take_one();
  EXPECT_TRUE(req.has(kAck) && !req.has(kSyn));
  EXPECT_EQ(req.h.ack, d.peer_seq);
  EXPECT_EQ(req.data.size(), 64u);
  EXPECT_EQ(req.h.seq, d.peer_ack);
}

TEST(TcpAckHold, SynSent_SynAckNoWrite_PureAckOnceReleased) {  // RFC 9293 §3.10.7.3
  Dialogue d(holding_config());
  connect_and_answer(d);
  d.expect_none();
  d.expect_none();  // flushes alone do not release it
  d.stack.release_held_acks();
  Seg a = d.take_one();
  EXPECT_TRUE(a.has(kAck) && a.data.empty());
  EXPECT_EQ(a.h.ack, d.peer_seq);
}

TEST(TcpAckHold, Established_PeerFin_AckRidesOnApplicationFin) {  // RFC 1122 §4.2.3.2, RFC 9293 §3.6
  Dialogue d(holding_config());
  SocketId s = d.open_passive(d.listen_on());
  d.send_data(bytes(10), kFin);
  EXPECT_EQ(d.stack.state(s), TcpState::kCloseWait);
  d.expect_none();
  std::vector<std::uint8_t> out(100);
  EXPECT_EQ(d.stack.recv(s, out, d.now), 10);
  EXPECT_EQ(d.stack.recv(s, out, d.now), 0);
  ASSERT_EQ(d.stack.close(s, d.now), 0);
  d.stack.release_held_acks();
  Seg fin = d.take_one();
  EXPECT_TRUE(fin.has(kFin) && fin.has(kAck));
  EXPECT_EQ(fin.h.ack, d.peer_seq);           // data and FIN acknowledged by the FIN itself
  EXPECT_EQ(d.stack.connection_count(), 1u);  // LAST-ACK, an orphan
}

TEST(TcpAckHold, Established_PeerFinNoClose_AckOnceReleased) {  // RFC 9293 §3.10.7.4 eighth
  Dialogue d(holding_config());
  SocketId s = d.open_passive(d.listen_on());
  d.send_data({}, kFin);
  d.expect_none();
  d.stack.release_held_acks();
  Seg a = d.take_one();
  EXPECT_TRUE(a.has(kAck) && !a.has(kFin));
  EXPECT_EQ(a.h.ack, d.peer_seq);
  EXPECT_EQ(d.stack.state(s), TcpState::kCloseWait);
}

TEST(TcpAckHold, FinWait2_PeerFin_AckedAtOnce) {  // RFC 9293 §3.10.7.4: nothing to wait for
  Dialogue d(holding_config());
  SocketId s = d.open_passive(d.listen_on());
  ASSERT_EQ(d.stack.close(s, d.now), 0);
  Seg fin = d.take_one();
  d.ack(fin.h.seq + 1);
  d.send_data({}, kFin);
  Seg a = d.take_one();  // no release: TIME-WAIT's ACK is not held
  EXPECT_EQ(a.h.ack, d.peer_seq);
}

// Quick-ack mode (the first data segments, Linux TCP_MAX_QUICKACKS): no delayed-ACK wait, but
// the ACK is still held for the application's turn, so that its reply carries it.
TEST(TcpAckHold, Established_QuickAck_RidesOnReply) {  // RFC 9293 §3.8.6.3 piggybacking
  Dialogue d(holding_config());
  SocketId s = d.open_passive(d.listen_on());
  d.send_data(bytes(10));
  d.expect_none();  // held for the application
  std::vector<std::uint8_t> out(100);
  EXPECT_EQ(d.stack.recv(s, out, d.now), 10);
  ASSERT_EQ(d.stack.send(s, bytes(20), d.now), 20);
  d.stack.release_held_acks();
  Seg r = d.take_one();
  EXPECT_EQ(r.data.size(), 20u);
  EXPECT_EQ(r.h.ack, d.peer_seq);
}

TEST(TcpAckHold, Established_QuickAckNoReply_PureAckOnceReleased) {  // no 40 ms wait
  Dialogue d(holding_config());
  d.open_passive(d.listen_on());
  d.send_data(bytes(10));
  d.expect_none();
  d.stack.release_held_acks();
  Seg a = d.take_one();
  EXPECT_TRUE(a.data.empty());
  EXPECT_EQ(a.h.ack, d.peer_seq);
  EXPECT_EQ(d.stack.stats().delayed_acks, 0u);
}

// A request that comes with the handshake's last ACK, before accept(): the application needs a
// turn to accept and another to read, so the ACK is delayed (not quick) and its reply carries it.
TEST(TcpAckHold, NotYetAccepted_RequestWithHandshakeAck_ReplyCarriesAck) {
  Dialogue d(holding_config());
  SocketId l = d.listen_on();
  d.inject(kSyn, {}, d.peer_seq, {}, d.syn_options({}));
  Seg synack = d.take_one();
  d.note(synack);
  d.peer_seq += 1;
  d.peer_ack = synack.h.seq + 1;
  d.send_data(bytes(10));
  d.stack.release_held_acks();
  d.expect_none();  // a turn to accept
  SocketId s = d.stack.accept(l, nullptr);
  ASSERT_GE(s, 0);
  d.stack.release_held_acks();
  d.expect_none();  // a turn to read
  std::vector<std::uint8_t> out(100);
  EXPECT_EQ(d.stack.recv(s, out, d.now), 10);
  ASSERT_EQ(d.stack.send(s, bytes(20), d.now), 20);
  d.stack.release_held_acks();
  Seg r = d.take_one();
  EXPECT_EQ(r.data.size(), 20u);
  EXPECT_EQ(r.h.ack, d.peer_seq);
}

TEST(TcpAckHold, HoldingOff_SynAckAndFin_AckedAtOnce) {  // the default: RFC 9293 as written
  Dialogue d;
  connect_and_answer(d);
  Seg a = d.take_one();
  EXPECT_TRUE(a.has(kAck) && a.data.empty());
  Dialogue p;
  SocketId s = p.open_passive(p.listen_on());
  p.send_data({}, kFin);
  EXPECT_EQ(p.take_one().h.ack, p.peer_seq);
  EXPECT_EQ(p.stack.state(s), TcpState::kCloseWait);
}

}  // namespace
}  // namespace xdptcp::tcp::test
