// TcpStack::input's answer: true only for a segment accepted for a connection the stack already has
// (RFC 9293 §3.10.7.4 through the ACK check, or the SYN-ACK answering our SYN, §3.10.7.3). The
// engine learns a peer's link address from such segments only (the neighbour model), so anything a
// blind attacker can forge must answer false.
#include "tests/unit/tcp/tcp_dialogue.h"

namespace xdptcp::tcp::test {
namespace {

TEST(TcpAccepted, PassiveOpen_SynIsNot_FinalAckAndInWindowDataAre) {
  Dialogue d;
  const SocketId l = d.listen_on();
  d.inject(kSyn, {}, d.peer_seq, {}, d.syn_options({}));
  EXPECT_FALSE(d.accepted) << "a SYN proves nothing about its source";
  const Seg synack = d.take_one();
  d.note(synack);
  d.peer_seq += 1;
  d.peer_ack = synack.h.seq + 1;
  d.inject(kAck, {}, {}, synack.h.seq + 7);  // acknowledges what we never sent
  EXPECT_FALSE(d.accepted);
  d.take();
  d.inject(kAck);
  EXPECT_TRUE(d.accepted) << "the handshake's ACK acknowledges our SYN-ACK";
  ASSERT_GE(d.stack.accept(l, nullptr), 0);
  const std::vector<std::uint8_t> data(100, 'x');
  d.send_data(data);
  EXPECT_TRUE(d.accepted);
}

TEST(TcpAccepted, Established_ForgeriesAreNot) {
  Dialogue d;
  const SocketId l = d.listen_on();
  d.open_passive(l);
  d.take();
  const std::vector<std::uint8_t> data(10, 'x');
  d.inject(kAck, data, d.peer_seq + 1'000'000);  // out of window
  EXPECT_FALSE(d.accepted);
  d.take();
  d.inject(kRst, {}, d.peer_seq + 10);  // in window, not exact: a challenge ACK (RFC 5961 §3.2)
  EXPECT_FALSE(d.accepted);
  d.take();
  d.inject(kSyn, {}, d.peer_seq + 5);  // SYN on an established connection: challenge ACK (RFC 5961 §4)
  EXPECT_FALSE(d.accepted);
  d.take();
  d.inject(kAck, {}, {}, d.peer_ack + 50'000);  // acknowledges data never sent
  EXPECT_FALSE(d.accepted);
  d.take();
  d.peer.port = 40001;  // no such connection: answered with a RST
  d.inject(kAck);
  EXPECT_FALSE(d.accepted);
  d.take();
  d.peer.port = 40000;
  d.inject(kAck);  // the genuine peer, in window
  EXPECT_TRUE(d.accepted);
}

TEST(TcpAccepted, ActiveOpen_SynAckForOurSynIs_WrongAckIsNot) {
  Dialogue d;
  const SocketId s = d.stack.socket(wire::IpFamily::kV4);
  ASSERT_EQ(d.stack.connect(s, d.peer, d.now), -EINPROGRESS);
  const Seg syn = d.take_one();
  d.local.port = syn.h.src_port;
  d.inject(kSyn | kAck, {}, d.peer_seq, syn.h.seq + 2, d.syn_options({}));
  EXPECT_FALSE(d.accepted);
  d.take();
  d.inject(kSyn | kAck, {}, d.peer_seq, syn.h.seq + 1, d.syn_options({}));
  EXPECT_TRUE(d.accepted);
}

TEST(TcpAccepted, SynCookie_ValidAckIs_GuessedOneIsNot) {  // RFC 4987 §3.6
  auto cfg = Dialogue::default_config();
  cfg.syn_backlog = 1;
  Dialogue d(cfg);
  const SocketId l = d.listen_on();
  d.inject(kSyn, {}, d.peer_seq, {}, d.syn_options({}));  // takes the only SYN-RECEIVED slot
  d.take_one();
  d.peer.port = 40001;
  d.peer_seq = 777777;
  d.inject(kSyn, {}, d.peer_seq, {}, d.syn_options({}));
  const Seg sa = d.take_one();
  ASSERT_EQ(d.stack.stats().cookies_sent, 1u);
  d.note(sa);
  d.peer_seq += 1;
  d.inject(kAck, {}, {}, sa.h.seq + 1000);  // a guessed cookie
  EXPECT_FALSE(d.accepted);
  d.take();
  d.peer_ack = sa.h.seq + 1;
  d.inject(kAck);
  EXPECT_TRUE(d.accepted);
  EXPECT_EQ(d.stack.stats().cookies_accepted, 1u);
  EXPECT_GE(d.stack.accept(l, nullptr), 0);
}

}  // namespace
}  // namespace xdptcp::tcp::test
