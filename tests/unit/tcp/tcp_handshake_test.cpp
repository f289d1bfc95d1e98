// Connection establishment (RFC 9293 §3.5) and option negotiation (RFC 7323, RFC 2018), both
// sides, simultaneous open, and the bounds of listen/accept/socket.
#include "unit/tcp/tcp_dialogue.h"

namespace xdptcp::tcp::test {
namespace {

TEST(TcpHandshake, Listen_Syn_SendsSynAckThenAckEstablishes) {  // RFC 9293 §3.5 Figure 6
  Dialogue d;
  SocketId l = d.listen_on();
  d.inject(kSyn, {}, d.peer_seq, {}, d.syn_options({}));
  Seg sa = d.take_one();
  ASSERT_TRUE(sa.has(kSyn) && sa.has(kAck));
  EXPECT_EQ(sa.h.ack, d.peer_seq + 1);
  EXPECT_EQ(sa.h.options.mss, 1460);
  EXPECT_TRUE(sa.h.options.window_scale.has_value());
  EXPECT_TRUE(sa.h.options.sack_permitted);
  ASSERT_TRUE(sa.h.options.timestamps.has_value());
  EXPECT_EQ(sa.h.options.timestamps->tsecr, d.peer_ts);  // RFC 7323 §3.2 echo
  EXPECT_EQ(d.stack.accept(l, nullptr), -EAGAIN);
  d.note(sa);
  d.peer_seq += 1;
  d.peer_ack = sa.h.seq + 1;
  d.inject(kAck);
  EXPECT_EQ(d.stack.poll_events(l) & events::kIn, events::kIn);
  wire::SockAddr peer;
  SocketId s = d.stack.accept(l, &peer);
  ASSERT_GE(s, 0);
  EXPECT_EQ(peer, d.peer);
  EXPECT_EQ(d.stack.state(s), TcpState::kEstablished);
  EXPECT_EQ(d.stack.stats().conns_accepted, 1u);
  EXPECT_TRUE(d.tcb(s).ts_ok && d.tcb(s).sack_ok && d.tcb(s).ws_ok);
  EXPECT_EQ(d.tcb(s).snd_wscale, 7);
}

TEST(TcpHandshake, Closed_Connect_SynSentThenSynAckEstablishes) {  // RFC 9293 §3.10.7.3
  Dialogue d;
  Seg syn;
  SocketId s = d.open_active({}, &syn);
  EXPECT_EQ(syn.h.options.mss, 1460);
  EXPECT_TRUE(syn.h.options.sack_permitted);
  EXPECT_TRUE(syn.h.options.timestamps.has_value());
  EXPECT_EQ(syn.h.options.window_scale, 1);  // 64 KiB rcvbuf needs shift 1 (65535 < 65536)
  EXPECT_GE(syn.h.src_port, 32768);
  EXPECT_EQ(d.stack.state(s), TcpState::kEstablished);
  EXPECT_NE(d.stack.poll_events(s) & events::kOut, 0u);
  EXPECT_EQ(d.stack.stats().conns_opened, 1u);
}

TEST(TcpHandshake, SynSent_SynWithoutAck_SimultaneousOpenReachesEstablished) {  // RFC 9293 §3.5 Fig 8
  Dialogue d;
  SocketId s = d.stack.socket(wire::IpFamily::kV4);
  ASSERT_EQ(d.stack.connect(s, d.peer, d.now), -EINPROGRESS);
  Seg syn = d.take_one();
  d.local.port = syn.h.src_port;
  d.inject(kSyn, {}, d.peer_seq, {}, d.syn_options({}));
  EXPECT_EQ(d.stack.state(s), TcpState::kSynReceived);
  Seg synack = d.take_one();
  EXPECT_TRUE(synack.has(kSyn) && synack.has(kAck));
  EXPECT_EQ(synack.h.seq, syn.h.seq);
  EXPECT_EQ(synack.h.ack, d.peer_seq + 1);
  d.note(synack);
  d.peer_seq += 1;
  d.inject(kSyn | kAck, {}, d.peer_seq - 1, syn.h.seq + 1, d.syn_options({}));  // peer's SYN-ACK
  // The SYN-ACK's sequence number is now below RCV.NXT: it still acknowledges our SYN? A
  // retransmitted SYN in SYN-RECEIVED is challenged; the plain ACK completes the handshake.
  d.take();
  d.peer_ack = syn.h.seq + 1;
  d.inject(kAck);
  EXPECT_EQ(d.stack.state(s), TcpState::kEstablished);
}

TEST(TcpHandshake, SynSent_RstWithAcceptableAck_ConnectionRefused) {  // RFC 9293 §3.10.7.3
  Dialogue d;
  SocketId s = d.stack.socket(wire::IpFamily::kV4);
  d.stack.connect(s, d.peer, d.now);
  Seg syn = d.take_one();
  d.local.port = syn.h.src_port;
  d.inject(kRst | kAck, {}, 0, syn.h.seq + 1);
  EXPECT_EQ(d.stack.state(s), TcpState::kClosed);
  int err = 0;
  EXPECT_EQ(d.stack.getsockopt(s, SockOpt::kError, &err), 0);
  EXPECT_EQ(err, ECONNREFUSED);
}

TEST(TcpHandshake, SynSent_RstWithBadAck_Ignored) {  // RFC 9293 §3.10.7.3, RFC 5961 §3.2
  Dialogue d;
  SocketId s = d.stack.socket(wire::IpFamily::kV4);
  d.stack.connect(s, d.peer, d.now);
  Seg syn = d.take_one();
  d.local.port = syn.h.src_port;
  d.inject(kRst | kAck, {}, 0, syn.h.seq + 100);
  EXPECT_EQ(d.stack.state(s), TcpState::kSynSent);
  d.expect_none();  // never answer a RST
}

TEST(TcpHandshake, SynSent_SynAckWithBadAck_SendsRst) {  // RFC 9293 §3.10.7.3 first
  Dialogue d;
  SocketId s = d.stack.socket(wire::IpFamily::kV4);
  d.stack.connect(s, d.peer, d.now);
  Seg syn = d.take_one();
  d.local.port = syn.h.src_port;
  d.inject(kSyn | kAck, {}, 7, syn.h.seq + 5, d.syn_options({}));
  Seg rst = d.take_one();
  EXPECT_TRUE(rst.has(kRst));
  EXPECT_EQ(rst.h.seq, syn.h.seq + 5);  // <SEQ=SEG.ACK><CTL=RST>
  EXPECT_EQ(d.stack.state(s), TcpState::kSynSent);
}

TEST(TcpHandshake, Listen_SynWithoutOptions_DefaultsApply) {  // RFC 9293 §3.7.1, RFC 7323 §2.2
  Dialogue d;
  SocketId l = d.listen_on();
  PeerOptions p;
  p.mss.reset();
  p.wscale.reset();
  p.sack = false;
  p.timestamps = false;
  d.inject(kSyn, {}, d.peer_seq, {}, d.syn_options(p));
  Seg sa = d.take_one();
  EXPECT_FALSE(sa.h.options.window_scale.has_value());  // only what the peer offered
  EXPECT_FALSE(sa.h.options.sack_permitted);
  EXPECT_FALSE(sa.h.options.timestamps.has_value());
  d.peer_ts_on = false;
  d.peer_seq += 1;
  d.peer_ack = sa.h.seq + 1;
  d.inject(kAck);
  SocketId s = d.stack.accept(l, nullptr);
  ASSERT_GE(s, 0);
  EXPECT_EQ(d.tcb(s).snd_mss, 536);
  EXPECT_FALSE(d.tcb(s).ws_ok);
  EXPECT_EQ(d.tcb(s).rcv_wscale, 0);
}

TEST(TcpHandshake, SynReceived_RetransmittedSyn_ResendsSynAck) {  // Linux tcp_check_req()
  Dialogue d;
  d.listen_on();
  d.inject(kSyn, {}, d.peer_seq, {}, d.syn_options({}));
  Seg a = d.take_one();
  d.inject(kSyn, {}, d.peer_seq, {}, d.syn_options({}));
  Seg b = d.take_one();
  EXPECT_TRUE(b.has(kSyn) && b.has(kAck));
  EXPECT_EQ(a.h.seq, b.h.seq);
}

TEST(TcpHandshake, SynReceived_SynAckLost_RetransmittedThenDropped) {  // Linux tcp_synack_retries
  auto cfg = Dialogue::default_config();
  cfg.synack_retries = 2;
  Dialogue d(cfg);
  d.listen_on();
  d.inject(kSyn, {}, d.peer_seq, {}, d.syn_options({}));
  d.take_one();
  EXPECT_EQ(d.stack.connection_count(), 1u);
  d.advance(Duration::seconds(1));
  EXPECT_TRUE(d.take_one().has(kSyn));
  d.advance(Duration::seconds(2));
  EXPECT_TRUE(d.take_one().has(kSyn));
  d.advance(Duration::seconds(4));
  d.expect_none();
  EXPECT_EQ(d.stack.connection_count(), 0u);
}

TEST(TcpHandshake, Socket_BeyondMaxSockets_Emfile) {
  auto cfg = Dialogue::default_config();
  cfg.max_sockets = 3;
  Dialogue d(cfg);
  for (int i = 0; i < 3; ++i) EXPECT_GE(d.stack.socket(wire::IpFamily::kV4), 0);
  EXPECT_EQ(d.stack.socket(wire::IpFamily::kV4), -EMFILE);
  EXPECT_EQ(d.stack.socket_count(), 3u);
  EXPECT_EQ(d.stack.close(0, d.now), 0);
  EXPECT_GE(d.stack.socket(wire::IpFamily::kV4), 0);
}

TEST(TcpHandshake, Listen_AcceptQueueFull_SynDropped) {  // backlog bound (Linux drops the SYN)
  Dialogue d;
  SocketId l = d.listen_on(80, 1);
  d.open_passive(l);  // accepted: queue empty again
  d.peer.port = 40001;
  d.peer_seq = 5000;
  d.inject(kSyn, {}, d.peer_seq, {}, d.syn_options({}));
  Seg sa = d.take_one();
  d.peer_seq += 1;
  d.peer_ack = sa.h.seq + 1;
  d.inject(kAck);  // queued, not accepted
  d.peer.port = 40002;
  d.inject(kSyn, {}, d.peer_seq, {}, d.syn_options({}));
  d.expect_none();
  EXPECT_EQ(d.stack.stats().drop(DropReason::kBacklogFull), 1u);
  EXPECT_GE(d.stack.accept(l, nullptr), 0);
  EXPECT_EQ(d.stack.accept(l, nullptr), -EAGAIN);
}

TEST(TcpHandshake, Accept_AtMaxSockets_EmfileChildStaysQueued) {
  auto cfg = Dialogue::default_config();
  cfg.max_sockets = 1;
  Dialogue d(cfg);
  SocketId l = d.listen_on();
  d.inject(kSyn, {}, d.peer_seq, {}, d.syn_options({}));
  Seg sa = d.take_one();
  d.peer_seq += 1;
  d.peer_ack = sa.h.seq + 1;
  d.inject(kAck);
  EXPECT_EQ(d.stack.accept(l, nullptr), -EMFILE);
  EXPECT_NE(d.stack.poll_events(l) & events::kIn, 0u);
}

TEST(TcpHandshake, Listen_SynBacklogFull_SynCookieCompletesHandshake) {  // RFC 4987 §3.6
  auto cfg = Dialogue::default_config();
  cfg.syn_backlog = 1;
  Dialogue d(cfg);
  SocketId l = d.listen_on();
  d.inject(kSyn, {}, d.peer_seq, {}, d.syn_options({}));  // takes the only SYN-RECEIVED slot
  d.take_one();
  d.peer.port = 40001;
  d.peer_seq = 777777;
  d.inject(kSyn, {}, d.peer_seq, {}, d.syn_options({}));
  Seg sa = d.take_one();
  ASSERT_TRUE(sa.has(kSyn) && sa.has(kAck));
  EXPECT_EQ(d.stack.stats().cookies_sent, 1u);
  EXPECT_EQ(d.stack.connection_count(), 1u);  // no state for the cookie
  ASSERT_TRUE(sa.h.options.timestamps.has_value());
  EXPECT_EQ(sa.h.options.mss, 1460);
  d.note(sa);
  d.peer_seq += 1;
  d.peer_ack = sa.h.seq + 1;
  auto req = bytes(100);
  d.send_data(req);
  EXPECT_EQ(d.stack.stats().cookies_accepted, 1u);
  SocketId s = d.stack.accept(l, nullptr);
  ASSERT_GE(s, 0);
  EXPECT_EQ(d.stack.state(s), TcpState::kEstablished);
  EXPECT_EQ(d.tcb(s).snd_mss, 1460);
  EXPECT_TRUE(d.tcb(s).sack_ok);  // carried in the TSval (Linux encoding)
  EXPECT_EQ(d.tcb(s).snd_wscale, 7);
  std::vector<std::uint8_t> got(200);
  EXPECT_EQ(d.stack.recv(s, got, d.now), 100);
}

TEST(TcpHandshake, Listen_AckWithBadCookie_Rst) {  // RFC 4987 §3.6, RFC 9293 §3.10.7.2
  Dialogue d;
  d.listen_on();
  d.inject(kAck, {}, 1234, 99999);
  Seg r = d.take_one();
  EXPECT_TRUE(r.has(kRst));
  EXPECT_EQ(r.h.seq, 99999u);
  EXPECT_EQ(d.stack.stats().drop(DropReason::kBadCookie), 1u);
}

TEST(TcpHandshake, Listen_SynBacklogFullNoCookies_SynDropped) {
  auto cfg = Dialogue::default_config();
  cfg.syn_backlog = 1;
  cfg.syn_cookies = false;
  Dialogue d(cfg);
  d.listen_on();
  d.inject(kSyn, {}, d.peer_seq, {}, d.syn_options({}));
  d.take_one();
  d.peer.port = 40001;
  d.inject(kSyn, {}, d.peer_seq, {}, d.syn_options({}));
  d.expect_none();
  EXPECT_EQ(d.stack.stats().drop(DropReason::kSynBacklogFull), 1u);
}

// RFC 7323 §2.3: the peer's shift (0..14; larger values are treated as 14) scales every
// window it sends after the SYN.
class TcpPeerWindowScale : public ::testing::TestWithParam<int> {};

TEST_P(TcpPeerWindowScale, Established_PeerShift_SendWindowScaled) {
  const int shift = GetParam();
  Dialogue d;
  PeerOptions p;
  p.wscale = static_cast<std::uint8_t>(shift);
  SocketId s = d.open_active(p);
  const int eff = std::min(shift, 14);
  EXPECT_EQ(d.tcb(s).snd_wscale, eff);
  d.peer_window = 3;
  d.inject(kAck);
  EXPECT_EQ(d.tcb(s).snd_wnd, 3u << eff);
}
INSTANTIATE_TEST_SUITE_P(Shifts, TcpPeerWindowScale, ::testing::Range(0, 16));

// Our shift is the smallest that covers SO_RCVBUF, and each ACK's window is free space >> shift.
class TcpOurWindowScale : public ::testing::TestWithParam<int> {};

TEST_P(TcpOurWindowScale, Established_RcvBuf_ShiftCoversBufferAndWindowScaled) {
  const int shift = GetParam();
  auto cfg = Dialogue::default_config();
  cfg.rcvbuf = shift == 0 ? 32768u : (65535u << (shift - 1)) + 1;
  cfg.sndbuf = 4096;
  Dialogue d(cfg);
  Seg syn;
  SocketId s = d.open_active({}, &syn);
  ASSERT_TRUE(syn.h.options.window_scale.has_value());
  EXPECT_EQ(*syn.h.options.window_scale, shift);
  EXPECT_EQ(syn.h.window, std::min<std::uint32_t>(d.tcb(s).rcv_buf->capacity(), 65535));  // SYN unscaled
  auto data = bytes(1400);
  d.send_data(data);
  d.send_data(data);
  Seg a = d.take_one();
  const std::uint64_t free = d.tcb(s).rcv_buf->free_space();
  const std::uint64_t expect = std::min<std::uint64_t>(free >> shift, 65535);
  EXPECT_LE(a.h.window, expect + 1);
  EXPECT_GE(a.h.window + 1, expect);
}
INSTANTIATE_TEST_SUITE_P(Shifts, TcpOurWindowScale, ::testing::Range(0, 9));

}  // namespace
}  // namespace xdptcp::tcp::test
