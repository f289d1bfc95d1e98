// Hostile input, tried as an attacker would (issue 11 item 5): illegal flag combinations at a
// listener (Linux tcp_rcv_state_process()), challenge-ACK rate limits (RFC 5961 §7, Linux >= 4.7
// tcp_send_challenge_ack()), MTU/MSS bounds from configuration and from the peer, and an RTO
// whose retransmission finds the TX ring full.
#include <sys/socket.h>

#include <set>

#include "unit/tcp/tcp_dialogue.h"

namespace xdptcp::tcp::test {
namespace {

// ---- flags at a listener (RFC 9293 §3.10.7.2, Linux tcp_rcv_state_process() TCP_LISTEN) ----

TEST(TcpHostile, Listen_SynFin_DroppedNoSynAckNoState) {  // Linux: "if (th->fin) goto discard"
  Dialogue d;
  d.listen_on();
  d.inject(kSyn | kFin, {}, d.peer_seq, {}, d.syn_options({}));
  d.expect_none();
  EXPECT_EQ(d.stack.connection_count(), 0u);
  EXPECT_EQ(d.stack.stats().drop(DropReason::kBadFlags), 1u);
}

TEST(TcpHostile, Listen_SynRst_IgnoredNoState) {  // RFC 9293 §3.10.7.2 first: a RST is ignored
  Dialogue d;
  d.listen_on();
  d.inject(kSyn | kRst, {}, d.peer_seq, {}, d.syn_options({}));
  d.inject(kSyn | kFin | kRst, {}, d.peer_seq, {}, d.syn_options({}));
  d.expect_none();
  EXPECT_EQ(d.stack.connection_count(), 0u);
  EXPECT_EQ(d.stack.stats().drop(DropReason::kRstNoSocket), 2u);
}

TEST(TcpHostile, Listen_NoSynNoAck_DroppedAsBadFlags) {  // Linux: SKB_DROP_REASON_TCP_FLAGS
  Dialogue d;
  d.listen_on();
  d.inject(0, bytes(10));            // no flag at all ("null scan")
  d.inject(kFin);                    // FIN alone
  d.inject(kFin | kPsh | kUrg, {});  // "Xmas" scan
  d.inject(kPsh, bytes(10));
  d.expect_none();
  EXPECT_EQ(d.stack.connection_count(), 0u);
  EXPECT_EQ(d.stack.stats().drop(DropReason::kBadFlags), 4u);
  EXPECT_EQ(d.stack.stats().drop(DropReason::kStateDrop), 0u);
}

TEST(TcpHostile, Listen_SynFinAck_Reset) {  // RFC 9293 §3.10.7.2 second: an ACK gets a RST
  Dialogue d;
  d.listen_on();
  d.inject(kSyn | kFin | kAck, {}, d.peer_seq, 777, d.syn_options({}));
  Seg r = d.take_one();
  EXPECT_TRUE(r.has(kRst) && !r.has(kAck));
  EXPECT_EQ(r.h.seq, 777u);
  EXPECT_EQ(d.stack.connection_count(), 0u);
}

// Several processes serve one port from different RX queues (StackConfig::siblings): a segment of
// no connection here may be a sibling's moved by an RSS rehash; answering it with RST would reset
// the sibling's connection. Dropped and counted instead; SYNs are still served.
TEST(TcpHostile, Siblings_SegmentOfNoConnection_DroppedNotReset) {
  StackConfig cfg = Dialogue::default_config();
  cfg.siblings = true;
  Dialogue d(cfg);
  d.listen_on();
  d.inject(kAck, bytes(10), d.peer_seq, 777);  // mid-flow data of a connection we never had
  d.inject(kFin | kAck, {}, d.peer_seq, 777);
  d.expect_none();
  EXPECT_EQ(d.stack.stats().drop(DropReason::kSiblingFlow), 2u);
  EXPECT_EQ(d.stack.stats().drop(DropReason::kNoSocket), 0u);
  d.stack.set_siblings(false);  // the process now holds every queue: RFC 9293 §3.10.7.1 again
  d.inject(kAck, bytes(10), d.peer_seq, 777);
  EXPECT_TRUE(d.take_one().has(kRst));
  d.stack.set_siblings(true);
  d.inject(kSyn, {}, d.peer_seq, {}, d.syn_options({}));
  EXPECT_TRUE(d.take_one().has(kSyn | kAck));
}

TEST(TcpHostile, Listen_SynUrg_AnsweredAsLinuxDoes) {  // Linux conn_request() ignores URG/PSH
  Dialogue d;
  d.listen_on();
  d.inject(kSyn | kUrg | kPsh, {}, d.peer_seq, {}, d.syn_options({}));
  Seg sa = d.take_one();
  EXPECT_TRUE(sa.has(kSyn) && sa.has(kAck) && !sa.has(kUrg));
  EXPECT_EQ(sa.h.ack, d.peer_seq + 1);
}

// A flood of illegal segments creates nothing, so the next valid SYN is served at once (no
// SYN-RECEIVED embryos to time out, no SYN cookies).
TEST(TcpHostile, Listen_SynFinFlood_ServesAtOnceAfterwards) {
  Dialogue d;
  SocketId l = d.listen_on();
  for (int i = 0; i < 200; ++i) {
    d.peer.port = static_cast<std::uint16_t>(20000 + i);
    d.inject(kSyn | kFin, {}, d.peer_seq + static_cast<std::uint32_t>(i) * 1000, {}, d.syn_options({}));
    d.inject(static_cast<std::uint8_t>(i % 2 ? 0 : kFin | kPsh | kUrg), {});
  }
  d.expect_none();
  EXPECT_EQ(d.stack.connection_count(), 0u);
  EXPECT_EQ(d.stack.stats().cookies_sent, 0u);
  EXPECT_EQ(d.stack.stats().drop(DropReason::kBadFlags), 400u);
  d.peer.port = 40000;
  SocketId s = d.open_passive(l);  // SYN-ACK at once, then ESTABLISHED
  EXPECT_EQ(d.stack.state(s), TcpState::kEstablished);
  EXPECT_EQ(d.stack.stats().cookies_sent, 0u);
}

// A SYN|FIN for a connection in TIME-WAIT neither ends the TIME-WAIT nor opens a connection.
TEST(TcpHostile, TimeWait_SynFin_DroppedTimeWaitKept) {
  Dialogue d;
  SocketId l = d.listen_on();
  SocketId s = d.open_passive(l);
  ASSERT_EQ(d.stack.shutdown(s, SHUT_WR, d.now), 0);
  Seg fin = d.take_one();
  d.ack(fin.h.seq + 1);
  d.send_data({}, kFin);
  d.take_one();
  ASSERT_EQ(d.stack.state(s), TcpState::kTimeWait);
  ASSERT_EQ(d.stack.close(s, d.now), 0);
  d.peer_ts += 1000;  // newer than TS.Recent: a plain SYN would reuse the TIME-WAIT (RFC 6191)
  d.inject(kSyn | kFin, {}, d.peer_seq + 100000, {}, d.syn_options({}));
  d.expect_none();
  EXPECT_EQ(d.stack.connection_count(), 1u);  // still the TIME-WAIT
  EXPECT_EQ(d.stack.stats().time_wait_reused, 0u);
  EXPECT_EQ(d.stack.stats().drop(DropReason::kBadFlags), 1u);
}

// ---- challenge ACKs (RFC 5961 §7 as Linux >= 4.7 tcp_send_challenge_ack()) ----

TEST(TcpHostile, ChallengeAck_PerConnection_OnePer500ms) {  // Linux __tcp_oow_rate_limited()
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  d.inject(kRst, {}, d.peer_seq + 10);  // in the window, not exact: challenged (§3.2)
  EXPECT_EQ(d.take_one().h.ack, d.peer_seq);
  d.advance(Duration::millis(100));
  d.inject(kRst, {}, d.peer_seq + 20);
  d.inject(kSyn, {}, d.peer_seq + 5, {}, d.syn_options({}));  // §4: the same limit
  d.expect_none();
  EXPECT_EQ(d.stack.stats().challenge_acks, 1u);
  EXPECT_EQ(d.stack.stats().challenge_acks_socket_limited, 2u);
  d.advance(Duration::millis(400));  // 500 ms after the first
  d.inject(kRst, {}, d.peer_seq + 30);
  EXPECT_EQ(d.take_one().h.ack, d.peer_seq);
  EXPECT_EQ(d.stack.stats().challenge_acks, 2u);
  EXPECT_EQ(d.stack.state(s), TcpState::kEstablished);
}

// The stack's budget per second is drawn at random in [500, 1500) (Linux: half + random below
// tcp_challenge_ack_limit), not a fixed 1000 that an off-path attacker could count down
// (CVE-2016-5696). 1100 connections, each allowed one challenge ACK a second by its own limit:
// in each second the stack sends min(budget, 1100), which must vary from second to second.
TEST(TcpHostile, ChallengeAck_GlobalBudget_RandomisedPerSecond) {
  StackConfig cfg = Dialogue::default_config();
  cfg.max_sockets = 1200;
  cfg.secret = 42;  // a seeded draw: the test is deterministic
  Dialogue d(cfg);
  SocketId l = d.listen_on(80, 1024);
  struct Peer {
    std::uint16_t port;
    std::uint32_t rcv_nxt;
  };
  std::vector<Peer> peers;
  for (int i = 0; i < 1100; ++i) {
    d.peer.port = static_cast<std::uint16_t>(10000 + i);
    d.peer_seq += 100000;
    ASSERT_GE(d.open_passive(l), 0);
    peers.push_back({d.peer.port, d.peer_seq});
  }
  std::set<std::uint64_t> per_second;
  std::uint64_t min = ~0ULL, max = 0;
  for (int round = 0; round < 6; ++round) {
    d.advance(Duration::seconds(1));
    const std::uint64_t before = d.stack.stats().challenge_acks;
    for (const Peer& p : peers) {
      d.peer.port = p.port;
      d.inject(kRst, {}, p.rcv_nxt + 10);
    }
    d.take();
    const std::uint64_t n = d.stack.stats().challenge_acks - before;
    per_second.insert(n);
    min = std::min(min, n);
    max = std::max(max, n);
  }
  EXPECT_GT(per_second.size(), 1u) << "the same number of challenge ACKs every second";
  EXPECT_GE(min, 500u);
  EXPECT_LE(max, 1100u);
  EXPECT_EQ(d.stack.stats().challenge_acks_socket_limited, 0u);
}

// ---- MSS and MTU bounds: checks in every build, not asserts ----

// Linux tcp_parse_options(): an MSS option of 0 is ignored, so the default MSS applies
// (RFC 9293 §3.7.1); before, it became the floor of 64 bytes.
TEST(TcpHostile, Mss_PeerOptionZero_DefaultMss) {
  Dialogue d;
  PeerOptions p;
  p.mss = 0;
  SocketId s = d.open_passive(d.listen_on(), p);
  EXPECT_EQ(d.tcb(s).snd_mss, 536u);
}

// An MSS of 1 is floored (CVE-2019-11479; Linux tcp_min_snd_mss): data goes in segments of
// 64 - 12 (timestamps) bytes, not one byte each.
TEST(TcpHostile, Mss_PeerOptionOne_Floored) {
  Dialogue d;
  PeerOptions p;
  p.mss = 1;
  SocketId s = d.open_passive(d.listen_on(), p);
  EXPECT_EQ(d.tcb(s).snd_mss, 64u);
  ASSERT_EQ(d.stack.send(s, bytes(520), d.now), 520);
  auto segs = d.take();
  ASSERT_FALSE(segs.empty());
  for (const Seg& g : segs) EXPECT_LE(g.data.size(), 52u) << g.str();
}

// A configured MTU below what TCP can work with (0, 1, 100) is raised to 576 (kMinMtu): the
// MSS advertised is 536 and no segment exceeds the MTU. Before, an MTU of 100 advertised an MSS
// of 60 and then sent 64-byte segments (the floor of the peer's MSS) in 116-byte packets, which
// only an assert noticed.
TEST(TcpHostile, Mtu_ConfigTooSmall_RaisedToMinimum) {
  for (std::uint16_t mtu : {std::uint16_t{0}, std::uint16_t{1}, std::uint16_t{100}}) {
    SCOPED_TRACE(mtu);
    StackConfig cfg = Dialogue::default_config();
    cfg.mtu = mtu;
    Dialogue d(cfg);
    SocketId l = d.listen_on();
    d.inject(kSyn, {}, d.peer_seq, {}, d.syn_options({}));
    Seg synack = d.take_one();
    ASSERT_TRUE(synack.h.options.mss.has_value());
    EXPECT_EQ(*synack.h.options.mss, 536u);
    d.note(synack);
    d.peer_seq += 1;
    d.peer_ack = synack.h.seq + 1;
    d.inject(kAck);
    SocketId s = d.stack.accept(l, nullptr);
    ASSERT_GE(s, 0);
    ASSERT_EQ(d.stack.send(s, bytes(3000), d.now), 3000);
    for (const auto& pkt : (d.stack.flush(d.now), d.sink.packets)) EXPECT_LE(pkt.size(), 576u);
    EXPECT_EQ(d.stack.stats().tx_oversize, 0u);
    TcpInfoSnapshot info;
    ASSERT_EQ(d.stack.tcp_info(s, &info, d.now), 0);
    EXPECT_EQ(info.pmtu, 576u);
  }
}

// A sink whose buffers hold less than the configured MTU (here 9000 bytes against an MTU of
// 65535 and a peer MSS of 65000): the oversize segment is not written past the buffer (before,
// only an assert stood in the way), it is dropped and counted as a link would drop it, and the
// other connections' output is not held up.
TEST(TcpHostile, Mtu_LargerThanSinkBuffer_SegmentDroppedAndCounted) {
  StackConfig cfg = Dialogue::default_config();
  cfg.mtu = 65535;
  Dialogue d(cfg);
  SocketId l = d.listen_on();
  PeerOptions big;
  big.mss = 65000;
  SocketId s1 = d.open_passive(l, big);
  d.peer.port += 1;
  d.peer_seq += 100000;
  SocketId s2 = d.open_passive(l);  // MSS 1460
  ASSERT_EQ(d.stack.send(s1, bytes(20000), d.now), 20000);
  ASSERT_EQ(d.stack.send(s2, bytes(1000), d.now), 1000);
  auto segs = d.take();
  EXPECT_GE(d.stack.stats().tx_oversize, 1u);
  ASSERT_EQ(segs.size(), 1u) << Dialogue::describe(segs);  // s2's data
  EXPECT_EQ(segs[0].data.size(), 1000u);
  EXPECT_EQ(d.stack.state(s1), TcpState::kEstablished);
}

// ---- a retransmission that finds the TX ring full ----

// RFC 6298 (5.4)-(5.6): the RTO fires while the sink has no buffer. The retransmission goes at
// the next flush that finds one (before, it waited for the next expiry, a doubled RTO later), and
// the timer backs off once per expiry, not once per attempt to send.
TEST(TcpHostile, Rto_TxRingFull_RetransmittedAtNextFlush) {
  auto cfg = Dialogue::default_config();
  cfg.rack = false;  // the RTO itself is tested: no tail loss probe in its place (RFC 8985 §7)
  Dialogue d(cfg);
  SocketId s = d.open_passive(d.listen_on());
  ASSERT_EQ(d.stack.send(s, bytes(1000), d.now), 1000);
  Seg first = d.take_one();
  ASSERT_EQ(first.data.size(), 1000u);
  const Duration rto0 = d.tcb(s).rtt.rto();
  d.sink.full = true;
  d.advance(rto0);  // the RTO fires; nothing can be sent
  EXPECT_EQ(d.stack.stats().rtos, 1u);
  EXPECT_GE(d.stack.stats().tx_buffer_unavailable, 1u);
  EXPECT_EQ(d.tcb(s).rtt.rto(), rto0 * 2);  // (5.5) backed off once
  const Instant fired = d.now;
  d.advance(Duration::millis(100));
  EXPECT_TRUE(d.sink.packets.empty());
  d.sink.full = false;
  Seg rtx = d.take_one();  // the next flush: at once
  EXPECT_EQ(rtx.h.seq, first.h.seq);
  EXPECT_EQ(rtx.data.size(), 1000u);
  EXPECT_EQ(d.stack.stats().retransmits, 1u);
  EXPECT_EQ(d.stack.stats().rtos, 1u);
  EXPECT_EQ(d.tcb(s).rtt.rto(), rto0 * 2);  // no second backoff for the late send
  // (5.6): the timer runs from the expiry, 2 * RTO: the next expiry is not pushed further out.
  d.advance(fired + rto0 * 2 - d.now - Duration::millis(1));
  d.expect_none();
  d.advance(Duration::millis(1));
  Seg rtx2 = d.take_one();
  EXPECT_EQ(rtx2.h.seq, first.h.seq);
  EXPECT_EQ(d.stack.stats().rtos, 2u);
  EXPECT_EQ(d.tcb(s).rtt.rto(), rto0 * 4);
}

}  // namespace
}  // namespace xdptcp::tcp::test
