// RST processing and generation (RFC 9293 §3.10.7), with RFC 5961's defences: challenge ACKs
// for in-window RSTs (§3.2) and SYNs (§4), and ACK validation (§5).
#include "unit/tcp/tcp_dialogue.h"

namespace xdptcp::tcp::test {
namespace {

TEST(TcpRst, Established_RstAtRcvNxt_ConnectionReset) {  // RFC 5961 §3.2
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  d.inject(kRst, {}, d.peer_seq);
  EXPECT_EQ(d.stack.state(s), TcpState::kClosed);
  EXPECT_NE(d.stack.poll_events(s) & (events::kErr | events::kHup), 0u);
  std::vector<std::uint8_t> out(10);
  EXPECT_EQ(d.stack.recv(s, out, d.now), -ECONNRESET);
  d.expect_none();
  EXPECT_EQ(d.stack.stats().conns_reset, 1u);
}

TEST(TcpRst, Established_RstInWindowNotExact_ChallengeAck) {  // RFC 5961 §3.2
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  d.inject(kRst, {}, d.peer_seq + 100);
  EXPECT_EQ(d.stack.state(s), TcpState::kEstablished);
  Seg a = d.take_one();
  EXPECT_TRUE(a.has(kAck) && !a.has(kRst));
  EXPECT_EQ(a.h.ack, d.peer_seq);
  EXPECT_EQ(d.stack.stats().challenge_acks, 1u);
}

TEST(TcpRst, Established_RstOutOfWindow_DroppedSilently) {  // RFC 5961 §3.2
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  d.inject(kRst, {}, d.peer_seq + 1'000'000);
  EXPECT_EQ(d.stack.state(s), TcpState::kEstablished);
  d.expect_none();
}

TEST(TcpRst, Established_Syn_ChallengeAck) {  // RFC 5961 §4
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  d.inject(kSyn, {}, d.peer_seq + 5, {}, d.syn_options({}));
  EXPECT_EQ(d.stack.state(s), TcpState::kEstablished);
  Seg a = d.take_one();
  EXPECT_TRUE(a.has(kAck) && !a.has(kSyn));
  EXPECT_EQ(a.h.ack, d.peer_seq);
  EXPECT_EQ(d.stack.stats().drop(DropReason::kSynChallenged), 1u);
}

TEST(TcpRst, Established_AckOfUnsentData_AckedAndDropped) {  // RFC 9293 fifth, RFC 5961 §5.2
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  d.inject(kAck, bytes(10), d.peer_seq, d.peer_ack + 5000);
  Seg a = d.take_one();
  EXPECT_EQ(a.h.ack, d.peer_seq);  // data not accepted
  std::vector<std::uint8_t> out(10);
  EXPECT_EQ(d.stack.recv(s, out, d.now), -EAGAIN);
  EXPECT_EQ(d.stack.stats().drop(DropReason::kBadAck), 1u);
}

TEST(TcpRst, Established_AckTooOld_ChallengedAndDropped) {  // RFC 5961 §5.2
  Dialogue d;
  PeerOptions p;
  p.wscale = 0;  // MAX.SND.WND = 65535
  SocketId s = d.open_passive(d.listen_on(), p);
  d.inject(kAck, bytes(10), d.peer_seq, d.peer_ack - 200000);
  EXPECT_EQ(d.take_one().h.ack, d.peer_seq);
  std::vector<std::uint8_t> out(10);
  EXPECT_EQ(d.stack.recv(s, out, d.now), -EAGAIN);
}

TEST(TcpRst, Established_NoAckFlag_Dropped) {  // RFC 9293 §3.10.7.4 fifth
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  d.inject(0, bytes(10), d.peer_seq);
  std::vector<std::uint8_t> out(10);
  EXPECT_EQ(d.stack.recv(s, out, d.now), -EAGAIN);
  EXPECT_EQ(d.stack.stats().drop(DropReason::kNoAck), 1u);
}

TEST(TcpRst, ChallengeAcks_OverLimit_RateLimited) {  // RFC 5961 §7, Linux tcp_send_challenge_ack()
  Dialogue d;
  d.open_passive(d.listen_on());
  // One connection gets one challenge ACK per 500 ms (tcp_invalid_ratelimit), whatever the flood.
  for (int i = 0; i < 1005; ++i) d.inject(kRst, {}, d.peer_seq + 10);
  EXPECT_EQ(d.stack.stats().challenge_acks, 1u);
  EXPECT_EQ(d.stack.stats().challenge_acks_limited, 1004u);
  EXPECT_EQ(d.stack.stats().challenge_acks_socket_limited, 1004u);
}

TEST(TcpRst, NoSocket_SegmentWithAck_RstSeqIsSegAck) {  // RFC 9293 §3.10.7.1
  Dialogue d;
  d.inject(kAck, bytes(5), 100, 5555);
  Seg r = d.take_one();
  EXPECT_TRUE(r.has(kRst) && !r.has(kAck));
  EXPECT_EQ(r.h.seq, 5555u);
  EXPECT_EQ(d.stack.stats().drop(DropReason::kNoSocket), 1u);
}

TEST(TcpRst, NoSocket_SynWithoutAck_RstAckCoversSegment) {  // RFC 9293 §3.10.7.1
  Dialogue d;
  d.inject(kSyn, {}, 100, {}, d.syn_options({}));
  Seg r = d.take_one();
  EXPECT_TRUE(r.has(kRst) && r.has(kAck));
  EXPECT_EQ(r.h.seq, 0u);
  EXPECT_EQ(r.h.ack, 101u);
}

TEST(TcpRst, NoSocket_Rst_NotAnswered) {  // RFC 9293 §3.10.7.1: never RST a RST
  Dialogue d;
  d.inject(kRst | kAck, {}, 100, 200);
  d.expect_none();
  EXPECT_EQ(d.stack.stats().drop(DropReason::kRstNoSocket), 1u);
}

TEST(TcpRst, Input_BadChecksum_Dropped) {
  Dialogue d;
  d.listen_on();
  wire::TcpRepr h;
  h.src_port = d.peer.port;
  h.dst_port = 80;
  h.flags = kSyn;
  auto pkt = build_packet(d.peer, d.local, h, {});
  pkt.back() ^= 0x55;
  d.stack.input(pkt, d.now);
  d.expect_none();
  EXPECT_EQ(d.stack.stats().drop(DropReason::kBadChecksum), 1u);
}

TEST(TcpRst, Input_NotOurAddress_Dropped) {
  Dialogue d;
  d.listen_on();
  d.local.ip = wire::IpAddr::v4(198, 18, 0, 99);
  d.inject(kSyn, {}, 1, {}, d.syn_options({}));
  d.expect_none();
  EXPECT_EQ(d.stack.stats().drop(DropReason::kNotOurs), 1u);
}

TEST(TcpRst, SynReceived_Rst_ChildDroppedListenerStays) {  // RFC 9293 §3.10.7.4 second
  Dialogue d;
  SocketId l = d.listen_on();
  d.inject(kSyn, {}, d.peer_seq, {}, d.syn_options({}));
  d.take_one();
  d.inject(kRst, {}, d.peer_seq + 1);
  EXPECT_EQ(d.stack.connection_count(), 0u);
  EXPECT_EQ(d.stack.state(l), TcpState::kListen);
}

}  // namespace
}  // namespace xdptcp::tcp::test
