// The socket calls an LD_PRELOAD layer needs beyond send/recv: recv with MSG_PEEK, the ioctl
// queue sizes (FIONREAD/SIOCINQ, SIOCOUTQ, SIOCOUTQNSD), the TCP_INFO snapshot, TCP_MAXSEG and
// TCP_USER_TIMEOUT (RFC 5482).
#include <sys/socket.h>

#include "unit/tcp/tcp_dialogue.h"

namespace xdptcp::tcp::test {
namespace {

// Fires every timer due up to `t`, one expiry at a time, as an engine's loop would.
void run_until(Dialogue& d, Instant t) {
  for (int i = 0; i < 100000; ++i) {
    auto next = d.stack.next_timer();
    if (!next || *next > t) break;
    d.now = std::max(d.now, *next);
    d.stack.advance(d.now);
  }
  d.now = t;
  d.stack.advance(t);
}

bool any_rst(const std::vector<Seg>& v) {
  return std::any_of(v.begin(), v.end(), [](const Seg& s) { return s.has(kRst); });
}

// Dialogue::open_active with `rtt` between our SYN and the peer's SYN-ACK: the handshake's RTT
// sample (RFC 6298 §2, timed SYN: no timestamps yet) is exactly `rtt`.
SocketId open_active_with_rtt(Dialogue& d, Duration rtt, PeerOptions p = {}) {
  SocketId s = d.stack.socket(wire::IpFamily::kV4);
  EXPECT_EQ(d.stack.connect(s, d.peer, d.now), -EINPROGRESS);
  Seg syn = d.take_one();
  d.local.port = syn.h.src_port;
  d.note(syn);
  d.now += rtt;
  d.peer_ts_on = p.timestamps;
  wire::TcpOptions o = d.syn_options(p);
  if (o.timestamps) o.timestamps->tsecr = d.our_tsval;
  d.inject(kSyn | kAck, {}, d.peer_seq, syn.h.seq + 1, o);
  d.peer_seq += 1;
  d.peer_ack = syn.h.seq + 1;
  d.note(d.take_one());
  return s;
}

// ---- recv(MSG_PEEK) ----

TEST(TcpPeek, Established_Peek_ReturnsDataThenRecvReturnsTheSame) {
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  auto data = bytes(100, 4);
  d.send_data(data);
  std::vector<std::uint8_t> a(1000), b(1000), c(1000);
  ASSERT_EQ(d.stack.recv(s, a, d.now, {.peek = true}), 100);
  ASSERT_EQ(d.stack.recv(s, std::span(b).first(10), d.now, {.peek = true}), 10);  // a prefix
  EXPECT_EQ(d.stack.readable_bytes(s), 100u);                                     // nothing consumed
  ASSERT_EQ(d.stack.recv(s, c, d.now), 100);
  EXPECT_TRUE(std::equal(data.begin(), data.end(), a.begin()));
  EXPECT_TRUE(std::equal(data.begin(), data.begin() + 10, b.begin()));
  EXPECT_TRUE(std::equal(data.begin(), data.end(), c.begin()));
  EXPECT_EQ(d.stack.recv(s, a, d.now, {.peek = true}), -EAGAIN);
}

TEST(TcpPeek, ZeroWindow_Peek_SendsNoWindowUpdate) {  // RFC 9293 §3.8.6.2.2: nothing drained
  auto cfg = Dialogue::default_config();
  cfg.rcvbuf = 4096;
  Dialogue d(cfg);
  SocketId s = d.open_passive(d.listen_on());
  d.send_data(bytes(1448));
  d.send_data(bytes(1448));
  d.take_one();
  d.send_data(bytes(1200));
  d.advance(Duration::millis(40));
  ASSERT_EQ(d.take_one().h.window, 0);  // the buffer is full
  std::vector<std::uint8_t> out(8192);
  ASSERT_EQ(d.stack.recv(s, out, d.now, {.peek = true}), 4096);
  d.expect_none();  // peeking opened nothing
  ASSERT_EQ(d.stack.recv(s, out, d.now), 4096);
  EXPECT_EQ(d.take_one().h.window, 4096);  // reading does
}

TEST(TcpPeek, DataThenFin_PeekSeesDataThenEof) {
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  d.send_data(bytes(20), kFin);
  std::vector<std::uint8_t> out(100);
  EXPECT_EQ(d.stack.recv(s, out, d.now, {.peek = true}), 20);
  EXPECT_EQ(d.stack.recv(s, out, d.now), 20);
  EXPECT_EQ(d.stack.recv(s, out, d.now, {.peek = true}), 0);  // EOF, as recv
  EXPECT_EQ(d.stack.recv(s, out, d.now), 0);
}

TEST(TcpPeek, Reset_PeekReportsTheErrorOnce) {  // as recv (Linux sock_error() clears it)
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  d.inject(kRst | kAck);
  std::vector<std::uint8_t> out(100);
  EXPECT_EQ(d.stack.recv(s, out, d.now, {.peek = true}), -ECONNRESET);
  EXPECT_EQ(d.stack.recv(s, out, d.now, {.peek = true}), 0);
  EXPECT_EQ(d.stack.recv(12, out, d.now, {.peek = true}), -EBADF);
}

// ---- ioctl queue sizes ----

TEST(TcpQueueSizes, Receive_InOrderBytesOnly) {  // FIONREAD / SIOCINQ
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  EXPECT_EQ(d.stack.readable_bytes(s), 0u);
  d.send_data(bytes(100));
  d.send_data(bytes(50));
  EXPECT_EQ(d.stack.readable_bytes(s), 150u);
  d.inject(kAck, bytes(30), d.peer_seq + 10);  // out of order: not readable yet
  EXPECT_EQ(d.stack.readable_bytes(s), 150u);
  std::vector<std::uint8_t> out(40);
  ASSERT_EQ(d.stack.recv(s, out, d.now), 40);
  EXPECT_EQ(d.stack.readable_bytes(s), 110u);
  d.send_data(bytes(10));  // fills the hole: the 30 out-of-order bytes join
  EXPECT_EQ(d.stack.readable_bytes(s), 150u);
  EXPECT_EQ(d.stack.readable_bytes(12), 0u);  // unknown socket
}

TEST(TcpQueueSizes, Send_UnackedAndUnsent) {  // SIOCOUTQ, SIOCOUTQNSD
  auto cfg = Dialogue::default_config();
  cfg.rack = false;  // the RTO itself is tested: no tail loss probe in its place (RFC 8985 §7)
  Dialogue d(cfg);
  PeerOptions p;
  p.wscale = 0;
  SocketId s = d.open_active(p);
  d.peer_window = 3000;
  d.inject(kAck);
  ASSERT_EQ(d.stack.send(s, bytes(10000), d.now), 10000);
  EXPECT_EQ(d.stack.unsent_bytes(s), 10000u);  // nothing sent before the flush
  auto segs = d.take();
  ASSERT_EQ(segs.size(), 2u);  // 2 * 1448 fit the peer's window
  EXPECT_EQ(d.stack.unsent_or_unacked_bytes(s), 10000u);
  EXPECT_EQ(d.stack.unsent_bytes(s), 10000u - 2 * 1448u);
  // An RTO pulls SND.NXT back to SND.UNA: the bytes sent once are still not "unsent".
  d.advance(d.tcb(s).rtt.rto());
  ASSERT_EQ(d.take().size(), 1u);
  EXPECT_EQ(d.stack.unsent_bytes(s), 10000u - 2 * 1448u);
  d.ack(segs[0].h.seq + 1448);
  EXPECT_EQ(d.stack.unsent_or_unacked_bytes(s), 10000u - 1448u);
  EXPECT_EQ(d.stack.unsent_or_unacked_bytes(12), 0u);
  EXPECT_EQ(d.stack.unsent_bytes(12), 0u);
}

// ---- TCP_INFO ----

TEST(TcpInfo, ActiveOpen_StateRttMssOptionsCwnd) {
  Dialogue d;
  SocketId s = open_active_with_rtt(d, Duration::millis(30));
  TcpInfoSnapshot i;
  ASSERT_EQ(d.stack.tcp_info(s, &i, d.now), 0);
  EXPECT_EQ(i.state, TcpState::kEstablished);
  EXPECT_EQ(i.ca_state, CaState::kOpen);
  // RFC 6298 (2.2): SRTT = R, RTTVAR = R/2; RTO = max(SRTT + 4 RTTVAR, min 200 ms).
  EXPECT_EQ(i.rtt_us, 30'000u);
  EXPECT_EQ(i.rttvar_us, 15'000u);
  EXPECT_EQ(i.min_rtt_us, 30'000u);
  EXPECT_EQ(i.rto_us, 200'000u);
  EXPECT_EQ(i.ato_us, 40'000u);
  EXPECT_EQ(i.snd_mss, 1448u);  // the peer's 1460 less timestamps
  EXPECT_EQ(i.advmss, 1460u);
  EXPECT_EQ(i.rcv_mss, 1448u);
  EXPECT_EQ(i.pmtu, 1500u);
  EXPECT_EQ(i.options, tcpi_opt::kTimestamps | tcpi_opt::kSack | tcpi_opt::kWscale);
  EXPECT_EQ(i.snd_wscale, 7);
  EXPECT_EQ(i.rcv_wscale, d.tcb(s).rcv_wscale);
  EXPECT_EQ(i.snd_cwnd, 10u);  // RFC 6928 IW = min(10 MSS, max(2 MSS, 14600))
  EXPECT_EQ(i.snd_ssthresh, kInfiniteSsthresh);
  EXPECT_EQ(i.snd_wnd, 65535u);  // the SYN-ACK's window, never scaled (RFC 7323 §2.2)
  EXPECT_EQ(i.rcv_space, 65536u);
  EXPECT_EQ(i.rcv_wnd, 65536u);
  EXPECT_EQ(i.reordering, 3u);
  EXPECT_EQ(i.unacked, 0u);
  EXPECT_EQ(i.segs_out, 2u);  // SYN, ACK
  EXPECT_EQ(i.segs_in, 1u);   // SYN-ACK
  EXPECT_EQ(i.retransmits, 0);
  EXPECT_EQ(i.lost, 0u);  // not tracked
  EXPECT_EQ(i.delivered, 0u);
  ASSERT_EQ(d.stack.tcp_info(s, &i, d.now + Duration::millis(2500)), 0);
  EXPECT_EQ(i.last_data_sent_ms, 2500u);  // since ESTABLISHED: no data yet
  EXPECT_EQ(i.last_ack_recv_ms, 2500u);
}

TEST(TcpInfo, NoTimestamps_OptionsAndMss) {
  Dialogue d;
  PeerOptions p;
  p.timestamps = false;
  p.sack = false;
  p.wscale = std::nullopt;
  p.mss = 1200;
  SocketId s = open_active_with_rtt(d, Duration::millis(5), p);
  TcpInfoSnapshot i;
  ASSERT_EQ(d.stack.tcp_info(s, &i, d.now), 0);
  EXPECT_EQ(i.options, 0);
  EXPECT_EQ(i.snd_wscale, 0);
  EXPECT_EQ(i.rcv_wscale, 0);
  EXPECT_EQ(i.snd_mss, 1200u);
  EXPECT_EQ(i.rcv_mss, 1460u);
  EXPECT_EQ(i.rtt_us, 5'000u);
}

TEST(TcpInfo, DataLossAndRecovery_CountersTrackTheConnection) {
  auto cfg = Dialogue::default_config();
  cfg.rack = false;  // the RTO itself is tested: no tail loss probe in its place (RFC 8985 §7)
  Dialogue d(cfg);
  SocketId s = d.open_passive(d.listen_on());
  TcpInfoSnapshot i;
  ASSERT_EQ(d.stack.tcp_info(s, &i, d.now), 0);
  const std::uint32_t segs_out0 = i.segs_out;
  ASSERT_EQ(d.stack.send(s, bytes(3000), d.now), 3000);
  auto segs = d.take();
  ASSERT_EQ(segs.size(), 3u);
  ASSERT_EQ(d.stack.tcp_info(s, &i, d.now), 0);
  EXPECT_EQ(i.unacked, 3u);
  EXPECT_EQ(i.notsent_bytes, 0u);
  EXPECT_EQ(i.data_segs_out, 3u);
  EXPECT_EQ(i.segs_out, segs_out0 + 3);
  EXPECT_EQ(i.bytes_sent, 3000u);

  const std::uint32_t rto0 = i.rto_us;
  d.advance(d.tcb(s).rtt.rto());  // RTO: the first segment again
  ASSERT_EQ(d.take().size(), 1u);
  ASSERT_EQ(d.stack.tcp_info(s, &i, d.now), 0);
  EXPECT_EQ(i.ca_state, CaState::kLoss);
  EXPECT_EQ(i.retransmits, 1);
  EXPECT_EQ(i.backoff, 1);
  EXPECT_EQ(i.rto_us, 2 * rto0);
  EXPECT_EQ(i.total_retrans, 1u);
  EXPECT_EQ(i.bytes_retrans, 1448u);
  EXPECT_EQ(i.bytes_sent, 3000u + 1448u);

  d.ack(segs[2].h.seq + static_cast<std::uint32_t>(segs[2].data.size()));
  d.send_data(bytes(70));
  ASSERT_EQ(d.stack.tcp_info(s, &i, d.now + Duration::millis(7)), 0);
  EXPECT_EQ(i.ca_state, CaState::kOpen);
  EXPECT_EQ(i.retransmits, 0);
  EXPECT_EQ(i.backoff, 0);
  EXPECT_EQ(i.unacked, 0u);
  EXPECT_EQ(i.bytes_acked, 3000u);
  EXPECT_EQ(i.bytes_received, 70u);
  EXPECT_EQ(i.data_segs_in, 1u);
  EXPECT_EQ(i.total_retrans, 1u);  // over the connection's life
  EXPECT_EQ(i.last_data_recv_ms, 7u);
}

TEST(TcpInfo, SackedData_DisorderAndSackedSegments) {  // RFC 6675 §2 below DupThresh
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  ASSERT_EQ(d.stack.send(s, bytes(3 * 1448), d.now), 3 * 1448);
  auto segs = d.take();
  ASSERT_EQ(segs.size(), 3u);
  wire::TcpOptions o;
  o.sack[0] = {segs[1].h.seq, segs[1].h.seq + 1448};
  o.sack_count = 1;
  d.inject(kAck, {}, {}, segs[0].h.seq, o);  // segment 1 missing, segment 2 SACKed
  TcpInfoSnapshot i;
  ASSERT_EQ(d.stack.tcp_info(s, &i, d.now), 0);
  EXPECT_EQ(i.ca_state, CaState::kDisorder);
  EXPECT_EQ(i.sacked, 1u);
  EXPECT_EQ(i.unacked, 3u);
}

TEST(TcpInfo, UnknownOrUnconnected) {
  Dialogue d;
  TcpInfoSnapshot i;
  EXPECT_EQ(d.stack.tcp_info(3, &i, d.now), -EBADF);
  SocketId s = d.stack.socket(wire::IpFamily::kV4);
  EXPECT_EQ(d.stack.tcp_info(s, nullptr, d.now), -EFAULT);
  i.rtt_us = 77;  // overwritten
  ASSERT_EQ(d.stack.tcp_info(s, &i, d.now), 0);
  EXPECT_EQ(i.state, TcpState::kClosed);
  EXPECT_EQ(i.rtt_us, 0u);
  EXPECT_EQ(i.snd_cwnd, 0u);
  EXPECT_EQ(i.advmss, 1460u);
  EXPECT_EQ(i.last_data_sent_ms, 0u);
}

// ---- TCP_MAXSEG ----

TEST(TcpMaxSeg, Get_DefaultThenEffectiveSendMss) {
  Dialogue d;
  SocketId fresh = d.stack.socket(wire::IpFamily::kV4);
  int v = 0;
  ASSERT_EQ(d.stack.getsockopt(fresh, SockOpt::kMaxSeg, &v), 0);
  EXPECT_EQ(v, 536);  // Linux TCP_MSS_DEFAULT before any handshake
  SocketId s = d.open_active();
  ASSERT_EQ(d.stack.getsockopt(s, SockOpt::kMaxSeg, &v), 0);
  EXPECT_EQ(v, 1448);  // 1460 less the timestamps option
}

TEST(TcpMaxSeg, Set_OutsideLinuxBounds_Einval) {
  Dialogue d;
  SocketId s = d.stack.socket(wire::IpFamily::kV4);
  EXPECT_EQ(d.stack.setsockopt(s, SockOpt::kMaxSeg, 87), -EINVAL);
  EXPECT_EQ(d.stack.setsockopt(s, SockOpt::kMaxSeg, 32768), -EINVAL);
  EXPECT_EQ(d.stack.setsockopt(s, SockOpt::kMaxSeg, -1), -EINVAL);
  int v = 0;
  ASSERT_EQ(d.stack.setsockopt(s, SockOpt::kMaxSeg, 88), 0);
  ASSERT_EQ(d.stack.getsockopt(s, SockOpt::kMaxSeg, &v), 0);
  EXPECT_EQ(v, 88);
  ASSERT_EQ(d.stack.setsockopt(s, SockOpt::kMaxSeg, 32767), 0);
  ASSERT_EQ(d.stack.getsockopt(s, SockOpt::kMaxSeg, &v), 0);
  EXPECT_EQ(v, 32767);
  ASSERT_EQ(d.stack.setsockopt(s, SockOpt::kMaxSeg, 0), 0);  // clears
  ASSERT_EQ(d.stack.getsockopt(s, SockOpt::kMaxSeg, &v), 0);
  EXPECT_EQ(v, 536);
}

TEST(TcpMaxSeg, SetBeforeConnect_SynAdvertisesItAndSegmentsFollow) {  // RFC 9293 §3.7.1
  Dialogue d;
  SocketId s = d.stack.socket(wire::IpFamily::kV4);
  ASSERT_EQ(d.stack.setsockopt(s, SockOpt::kMaxSeg, 1000), 0);
  ASSERT_EQ(d.stack.connect(s, d.peer, d.now), -EINPROGRESS);
  Seg syn = d.take_one();
  EXPECT_EQ(syn.h.options.mss, std::optional<std::uint16_t>(1000));
  d.local.port = syn.h.src_port;
  d.note(syn);
  wire::TcpOptions o = d.syn_options({});  // the peer offers 1460
  o.timestamps->tsecr = d.our_tsval;
  d.inject(kSyn | kAck, {}, d.peer_seq, syn.h.seq + 1, o);
  d.peer_seq += 1;
  d.take_one();
  int v = 0;
  ASSERT_EQ(d.stack.getsockopt(s, SockOpt::kMaxSeg, &v), 0);
  EXPECT_EQ(v, 988);  // min(1460, 1000) less timestamps
  ASSERT_EQ(d.stack.send(s, bytes(3000), d.now), 3000);
  auto segs = d.take();
  ASSERT_EQ(segs.size(), 4u);
  EXPECT_EQ(segs[0].data.size(), 988u);
}

TEST(TcpMaxSeg, AboveTheMtuMss_MtuStillCaps) {
  Dialogue d;
  SocketId s = d.stack.socket(wire::IpFamily::kV4);
  ASSERT_EQ(d.stack.setsockopt(s, SockOpt::kMaxSeg, 9000), 0);
  ASSERT_EQ(d.stack.connect(s, d.peer, d.now), -EINPROGRESS);
  EXPECT_EQ(d.take_one().h.options.mss, std::optional<std::uint16_t>(1460));
}

TEST(TcpMaxSeg, OnListener_SynAckAndCookieSynAckAdvertiseIt) {
  auto cfg = Dialogue::default_config();
  cfg.syn_backlog = 1;
  Dialogue d(cfg);
  SocketId l = d.listen_on();
  ASSERT_EQ(d.stack.setsockopt(l, SockOpt::kMaxSeg, 1200), 0);
  d.inject(kSyn, {}, d.peer_seq, {}, d.syn_options({}));
  Seg synack = d.take_one();
  EXPECT_EQ(synack.h.options.mss, std::optional<std::uint16_t>(1200));
  d.peer.port = 40001;  // a second SYN: the backlog is full, a cookie answers it
  d.inject(kSyn, {}, d.peer_seq, {}, d.syn_options({}));
  Seg cookie = d.take_one();
  EXPECT_EQ(d.stack.stats().cookies_sent, 1u);
  EXPECT_EQ(cookie.h.options.mss, std::optional<std::uint16_t>(1200));
}

TEST(TcpMaxSeg, OnListener_ChildSendsAtMostIt) {
  Dialogue d;
  SocketId l = d.listen_on();
  ASSERT_EQ(d.stack.setsockopt(l, SockOpt::kMaxSeg, 600), 0);
  SocketId s = d.open_passive(l);
  int v = 0;
  ASSERT_EQ(d.stack.getsockopt(s, SockOpt::kMaxSeg, &v), 0);
  EXPECT_EQ(v, 588);
  ASSERT_EQ(d.stack.send(s, bytes(1000), d.now), 1000);
  EXPECT_EQ(d.take().front().data.size(), 588u);
}

// ---- TCP_USER_TIMEOUT (RFC 5482) ----

TEST(TcpUserTimeout, SetGet_NegativeEinval) {
  Dialogue d;
  SocketId s = d.stack.socket(wire::IpFamily::kV4);
  int v = -1;
  ASSERT_EQ(d.stack.getsockopt(s, SockOpt::kUserTimeout, &v), 0);
  EXPECT_EQ(v, 0);
  EXPECT_EQ(d.stack.setsockopt(s, SockOpt::kUserTimeout, -1), -EINVAL);
  ASSERT_EQ(d.stack.setsockopt(s, SockOpt::kUserTimeout, 2500), 0);
  ASSERT_EQ(d.stack.getsockopt(s, SockOpt::kUserTimeout, &v), 0);
  EXPECT_EQ(v, 2500);
}

// RTO 200 ms (the handshake's timestamp sample is 0): retransmissions at 0.2, 0.6 and 1.4 s; the
// next doubling would be at 3.0 s, but the timer is clamped to the 2 s user timeout.
TEST(TcpUserTimeout, DataNeverAcked_AbortedAtTheTimeoutWithoutRst) {
  auto cfg = Dialogue::default_config();
  cfg.rack = false;  // the RTO itself is tested: no tail loss probe in its place (RFC 8985 §7)
  Dialogue d(cfg);
  SocketId s = d.open_passive(d.listen_on());
  ASSERT_EQ(d.stack.setsockopt(s, SockOpt::kUserTimeout, 2000), 0);
  const Instant t0 = d.now;
  ASSERT_EQ(d.stack.send(s, bytes(100), d.now), 100);
  d.take_one();
  run_until(d, t0 + Duration::millis(1999));
  EXPECT_EQ(d.take().size(), 3u);  // the retransmissions
  EXPECT_EQ(d.stack.state(s), TcpState::kEstablished);
  run_until(d, t0 + Duration::millis(2000));
  EXPECT_EQ(d.stack.state(s), TcpState::kClosed);
  EXPECT_FALSE(any_rst(d.take()));  // Linux tcp_write_err(): no RST
  std::vector<std::uint8_t> out(10);
  EXPECT_EQ(d.stack.recv(s, out, d.now), -ETIMEDOUT);
  EXPECT_EQ(d.stack.stats().conns_timed_out, 1u);
}

TEST(TcpUserTimeout, Unset_SameLossSurvivesPastIt) {  // the default: max_retries decides
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  const Instant t0 = d.now;
  ASSERT_EQ(d.stack.send(s, bytes(100), d.now), 100);
  run_until(d, t0 + Duration::seconds(5));
  EXPECT_EQ(d.stack.state(s), TcpState::kEstablished);
}

TEST(TcpUserTimeout, AckProgress_RestartsTheWait) {  // RFC 5482: "remain unacknowledged"
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  ASSERT_EQ(d.stack.setsockopt(s, SockOpt::kUserTimeout, 2000), 0);
  const Instant t0 = d.now;
  ASSERT_EQ(d.stack.send(s, bytes(3000), d.now), 3000);
  auto segs = d.take();
  ASSERT_EQ(segs.size(), 3u);
  d.now = t0 + Duration::millis(150);
  d.ack(segs[0].h.seq + 1448);  // progress at 150 ms: the rest may wait until 2150 ms
  run_until(d, t0 + Duration::millis(2149));
  EXPECT_EQ(d.stack.state(s), TcpState::kEstablished);
  run_until(d, t0 + Duration::millis(2150));
  EXPECT_EQ(d.stack.state(s), TcpState::kClosed);
}

// Linux tcp_probe_timer() / tcp_clamp_probe0_to_user_timeout(): a window kept shut for longer
// than the user timeout aborts, the probe timer clamped to it (probes at 0.2 and 0.6 s).
TEST(TcpUserTimeout, ZeroWindowKeptShut_AbortedAtTheTimeout) {
  Dialogue d;
  PeerOptions p;
  p.wscale = 0;
  SocketId s = d.open_active(p);
  d.peer_window = 0;
  d.inject(kAck);
  ASSERT_EQ(d.stack.setsockopt(s, SockOpt::kUserTimeout, 1000), 0);
  const Instant t0 = d.now;
  ASSERT_EQ(d.stack.send(s, bytes(500), d.now), 500);
  d.expect_none();
  run_until(d, t0 + Duration::millis(999));
  EXPECT_EQ(d.stack.stats().persist_probes, 2u);
  EXPECT_EQ(d.stack.state(s), TcpState::kEstablished);
  run_until(d, t0 + Duration::millis(1000));
  EXPECT_EQ(d.stack.state(s), TcpState::kClosed);
  std::vector<std::uint8_t> out(10);
  EXPECT_EQ(d.stack.recv(s, out, d.now), -ETIMEDOUT);
}

// Linux tcp_keepalive_timer(): with a user timeout, a silent peer is given up once a probe is
// out and the timeout has passed since it was last heard from, not after keep_cnt probes.
TEST(TcpUserTimeout, Keepalive_TimeoutReplacesProbeCount) {
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  ASSERT_EQ(d.stack.setsockopt(s, SockOpt::kKeepAlive, 1), 0);
  ASSERT_EQ(d.stack.setsockopt(s, SockOpt::kKeepIdle, 10), 0);
  ASSERT_EQ(d.stack.setsockopt(s, SockOpt::kKeepIntvl, 1), 0);
  ASSERT_EQ(d.stack.setsockopt(s, SockOpt::kUserTimeout, 10500), 0);
  const Instant t0 = d.now;
  run_until(d, t0 + Duration::millis(10999));
  EXPECT_EQ(d.stack.stats().keepalive_probes, 1u);  // at 10 s
  EXPECT_EQ(d.stack.state(s), TcpState::kEstablished);
  d.take();
  run_until(d, t0 + Duration::seconds(11));  // 11 s of silence >= 10.5 s, a probe out
  EXPECT_EQ(d.stack.state(s), TcpState::kClosed);
  EXPECT_TRUE(any_rst(d.take()));  // as the keepalive abort without a user timeout
  int err = 0;
  d.stack.getsockopt(s, SockOpt::kError, &err);
  EXPECT_EQ(err, ETIMEDOUT);
}

TEST(TcpUserTimeout, OnListener_InheritedByChildren) {
  Dialogue d;
  SocketId l = d.listen_on();
  ASSERT_EQ(d.stack.setsockopt(l, SockOpt::kUserTimeout, 1234), 0);
  SocketId s = d.open_passive(l);
  int v = 0;
  ASSERT_EQ(d.stack.getsockopt(s, SockOpt::kUserTimeout, &v), 0);
  EXPECT_EQ(v, 1234);
}

// TCP_QUICKACK (Linux tcp(7), __tcp_sock_set_quickack()): 1 sends an owed ACK now and enters
// quick-ack mode; 0 leaves it (delayed ACKs, RFC 9293 §3.8.6.3).
TEST(TcpQuickAck, SetOne_DelayedAckGoesNowThenQuickAcks) {
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  ASSERT_EQ(d.stack.setsockopt(s, SockOpt::kQuickAck, 0), 0);
  int v = -1;
  ASSERT_EQ(d.stack.getsockopt(s, SockOpt::kQuickAck, &v), 0);
  EXPECT_EQ(v, 0);
  d.send_data(bytes(100));
  d.expect_none();  // delayed
  ASSERT_EQ(d.stack.setsockopt(s, SockOpt::kQuickAck, 1), 0);
  ASSERT_EQ(d.stack.getsockopt(s, SockOpt::kQuickAck, &v), 0);
  EXPECT_EQ(v, 1);
  EXPECT_EQ(d.take_one().h.ack, d.peer_seq);  // at once, not after 40 ms
  d.advance(Duration::millis(40));
  d.expect_none();  // nothing owed any more
  EXPECT_EQ(d.stack.stats().delayed_acks, 0u);
  d.send_data(bytes(100));
  EXPECT_EQ(d.take_one().h.ack, d.peer_seq);  // quick-ack mode
}

TEST(TcpQuickAck, SetOne_NothingOwed_NothingSent) {
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  ASSERT_EQ(d.stack.setsockopt(s, SockOpt::kQuickAck, 1), 0);
  d.expect_none();
  EXPECT_EQ(d.stack.setsockopt(99, SockOpt::kQuickAck, 1), -EBADF);
}

// TcpStack::abort: the network says the host cannot be reached (the engine's next hop never
// resolved): the connection ends with that error and no RST; connect() again reports it once, as
// Linux's __inet_stream_connect() does, then tries anew.
TEST(TcpAbort, SynSent_AbortHostUnreachable_NoRstErrorReportedByConnectOnce) {
  Dialogue d;
  SocketId s = d.stack.socket(wire::IpFamily::kV4);
  ASSERT_EQ(d.stack.connect(s, d.peer, d.now), -EINPROGRESS);
  ASSERT_TRUE(d.take_one().has(kSyn));
  ASSERT_EQ(d.stack.abort(s, EHOSTUNREACH, d.now), 0);
  d.expect_none();  // no RST: the peer never heard of us
  EXPECT_EQ(d.stack.state(s), TcpState::kClosed);
  EXPECT_NE(d.stack.poll_events(s) & events::kErr, 0u);
  EXPECT_EQ(d.stack.connect(s, d.peer, d.now), -EHOSTUNREACH);
  EXPECT_EQ(d.stack.connect(s, d.peer, d.now), -EINPROGRESS);  // the error was reported: a new try
  EXPECT_TRUE(d.take_one().has(kSyn));
}

TEST(TcpAbort, Listener_Einval_UnknownEbadf) {
  Dialogue d;
  SocketId l = d.listen_on();
  EXPECT_EQ(d.stack.abort(l, EHOSTUNREACH, d.now), -EINVAL);
  EXPECT_EQ(d.stack.abort(9999, EHOSTUNREACH, d.now), -EBADF);
}

// ---- SO_RCVBUF / SO_SNDBUF: Linux sock_setsockopt() semantics ----

TEST(TcpSoBuf, SetGet_DoubledBoundedAndFloored) {
  Dialogue d;
  SocketId s = d.stack.socket(wire::IpFamily::kV4);
  int v = 0;
  ASSERT_EQ(d.stack.getsockopt(s, SockOpt::kRcvBuf, &v), 0);
  EXPECT_EQ(v, 2 * static_cast<int>(Dialogue::default_config().rcvbuf));  // the default, reported doubled
  ASSERT_EQ(d.stack.setsockopt(s, SockOpt::kRcvBuf, 10000), 0);
  ASSERT_EQ(d.stack.getsockopt(s, SockOpt::kRcvBuf, &v), 0);
  EXPECT_EQ(v, 20000);
  ASSERT_EQ(d.stack.setsockopt(s, SockOpt::kSndBuf, 10000), 0);
  ASSERT_EQ(d.stack.getsockopt(s, SockOpt::kSndBuf, &v), 0);
  EXPECT_EQ(v, 20000);
  // Floors: SOCK_MIN_RCVBUF 2304, SOCK_MIN_SNDBUF 4608 (0 and 1 are no error, as Linux).
  ASSERT_EQ(d.stack.setsockopt(s, SockOpt::kRcvBuf, 1), 0);
  ASSERT_EQ(d.stack.getsockopt(s, SockOpt::kRcvBuf, &v), 0);
  EXPECT_EQ(v, 2304);
  ASSERT_EQ(d.stack.setsockopt(s, SockOpt::kSndBuf, 0), 0);
  ASSERT_EQ(d.stack.getsockopt(s, SockOpt::kSndBuf, &v), 0);
  EXPECT_EQ(v, 4608);
  // Ceiling: net.core.rmem_max / wmem_max (212992), doubled; a negative value is a huge u32.
  ASSERT_EQ(d.stack.setsockopt(s, SockOpt::kRcvBuf, 1 << 30), 0);
  ASSERT_EQ(d.stack.getsockopt(s, SockOpt::kRcvBuf, &v), 0);
  EXPECT_EQ(v, 2 * 212992);
  ASSERT_EQ(d.stack.setsockopt(s, SockOpt::kSndBuf, -1), 0);
  ASSERT_EQ(d.stack.getsockopt(s, SockOpt::kSndBuf, &v), 0);
  EXPECT_EQ(v, 2 * 212992);
}

TEST(TcpSoBuf, StackConfigRaisesTheCeiling) {
  auto cfg = Dialogue::default_config();
  cfg.rmem_max = 4u << 20;
  Dialogue d(cfg);
  SocketId s = d.stack.socket(wire::IpFamily::kV4);
  ASSERT_EQ(d.stack.setsockopt(s, SockOpt::kRcvBuf, 1 << 30), 0);
  int v = 0;
  ASSERT_EQ(d.stack.getsockopt(s, SockOpt::kRcvBuf, &v), 0);
  EXPECT_EQ(v, 8 << 20);
}

TEST(TcpSoBuf, BeforeConnect_SizesTheBufferAndTheWindowScale) {  // RFC 7323 §2.3
  Dialogue d;
  SocketId s = d.stack.socket(wire::IpFamily::kV4);
  ASSERT_EQ(d.stack.setsockopt(s, SockOpt::kRcvBuf, 200000), 0);
  ASSERT_EQ(d.stack.connect(s, d.peer, d.now), -EINPROGRESS);
  Seg syn = d.take_one();
  ASSERT_TRUE(syn.h.options.window_scale.has_value());
  EXPECT_EQ(*syn.h.options.window_scale, 2);  // 65535 << 2 covers 200000 bytes
  EXPECT_GE(d.tcb(s).rcv_buf->capacity(), 200000u);
}

TEST(TcpSoBuf, AfterConnect_AcceptedSendBufferResized) {  // Linux allows it at any time
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  ASSERT_EQ(d.stack.setsockopt(s, SockOpt::kCork, 1), 0);
  ASSERT_EQ(d.stack.send(s, bytes(100), d.now), 100);  // held: stays queued across the resize
  const std::uint8_t wscale = d.tcb(s).rcv_wscale;
  ASSERT_EQ(d.stack.setsockopt(s, SockOpt::kSndBuf, 200000), 0);
  int v = 0;
  ASSERT_EQ(d.stack.getsockopt(s, SockOpt::kSndBuf, &v), 0);
  EXPECT_EQ(v, 400000);
  EXPECT_GE(d.tcb(s).snd_buf->capacity(), 200000u);
  EXPECT_EQ(d.tcb(s).rcv_wscale, wscale);  // fixed at the SYN
  ASSERT_EQ(d.stack.setsockopt(s, SockOpt::kCork, 0), 0);
  Seg seg = d.take_one();
  EXPECT_EQ(seg.data, bytes(100));
  // Smaller than what is queued: accepted, reported, the ring keeps its size.
  ASSERT_EQ(d.stack.setsockopt(s, SockOpt::kCork, 1), 0);
  ASSERT_EQ(d.stack.send(s, bytes(5000), d.now), 5000);
  ASSERT_EQ(d.stack.setsockopt(s, SockOpt::kSndBuf, 1000), 0);
  ASSERT_EQ(d.stack.getsockopt(s, SockOpt::kSndBuf, &v), 0);
  EXPECT_EQ(v, 4608);
  EXPECT_EQ(d.stack.unsent_or_unacked_bytes(s), 5100u);
}

TEST(TcpSoBuf, AfterConnect_ReceiveBufferGrowsKeepingOutOfOrderData) {
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  const auto data = bytes(150);
  d.send_data(std::span(data).first(100));
  d.inject(kAck, std::span(data).subspan(110, 40), d.peer_seq + 10);  // out of order
  const std::size_t before = d.tcb(s).rcv_buf->capacity();
  ASSERT_EQ(d.stack.setsockopt(s, SockOpt::kRcvBuf, 200000), 0);
  EXPECT_GT(d.tcb(s).rcv_buf->capacity(), before);
  d.send_data(std::span(data).subspan(100, 10));  // fills the hole
  std::vector<std::uint8_t> out(200);
  ASSERT_EQ(d.stack.recv(s, out, d.now), 150);
  out.resize(150);
  EXPECT_EQ(out, data);
  // Smaller: accepted and reported, the ring (and the window offered) is not withdrawn.
  ASSERT_EQ(d.stack.setsockopt(s, SockOpt::kRcvBuf, 4000), 0);
  int v = 0;
  ASSERT_EQ(d.stack.getsockopt(s, SockOpt::kRcvBuf, &v), 0);
  EXPECT_EQ(v, 8000);
  EXPECT_GT(d.tcb(s).rcv_buf->capacity(), before);
}

// ---- MSG_MORE (Linux tcp_sendmsg(): as TCP_CORK for the call) ----

TEST(TcpMsgMore, SmallWriteHeldUntilASendWithoutIt) {
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  ASSERT_EQ(d.stack.send(s, bytes(100), d.now, SendFlags{.more = true}), 100);
  d.expect_none();  // Nagle alone would send it (nothing in flight)
  ASSERT_EQ(d.stack.send(s, bytes(50), d.now, SendFlags{}), 50);
  EXPECT_EQ(d.take_one().data.size(), 150u);
}

TEST(TcpMsgMore, FullSegmentsGo_TailWaits) {
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  ASSERT_EQ(d.stack.send(s, bytes(3000), d.now, SendFlags{.more = true}), 3000);
  auto segs = d.take();
  ASSERT_EQ(segs.size(), 2u);
  const std::size_t tail = 3000 - segs[0].data.size() - segs[1].data.size();
  ASSERT_EQ(d.stack.setsockopt(s, SockOpt::kNoDelay, 1), 0);  // Linux: pushes pending frames
  EXPECT_EQ(d.take_one().data.size(), tail);
}

TEST(TcpMsgMore, CloseSendsTheTailWithTheFin) {
  Dialogue d;
  SocketId s = d.open_passive(d.listen_on());
  ASSERT_EQ(d.stack.send(s, bytes(40), d.now, SendFlags{.more = true}), 40);
  d.expect_none();
  ASSERT_EQ(d.stack.shutdown(s, SHUT_WR, d.now), 0);
  Seg f = d.take_one();
  EXPECT_EQ(f.data.size(), 40u);
  EXPECT_TRUE(f.has(kFin));
}

// ---- StackOptions::profile -> StackConfig ----

TEST(TcpProfile, Linux_SetsEveryKnobToLinuxsValue) {
  StackConfig cfg;
  cfg.rto.min = Duration::millis(5);  // whatever was there is replaced
  cfg.syn_retries = 1;
  cfg.keepalive.probes = 2;
  cfg.cc = CcAlgorithm::kNewReno;
  cfg.time_wait = Duration::seconds(1);
  cfg.sndbuf = 1234;  // not a profile knob
  ASSERT_TRUE(apply_stack_profile(cfg, "linux"));
  EXPECT_EQ(cfg.initial_window_segments, 10u);
  EXPECT_EQ(cfg.rto.initial, Duration::seconds(1));
  EXPECT_EQ(cfg.rto.min, Duration::millis(200));
  EXPECT_EQ(cfg.rto.max, Duration::seconds(120));
  EXPECT_EQ(cfg.delayed_ack, Duration::millis(40));
  EXPECT_EQ(cfg.syn_retries, 6u);
  EXPECT_EQ(cfg.synack_retries, 5u);
  EXPECT_EQ(cfg.max_retries, 15u);
  EXPECT_EQ(cfg.keepalive.idle, Duration::seconds(7200));
  EXPECT_EQ(cfg.keepalive.interval, Duration::seconds(75));
  EXPECT_EQ(cfg.keepalive.probes, 9u);
  EXPECT_EQ(cfg.time_wait, Duration::seconds(60));
  EXPECT_TRUE(cfg.syn_cookies);
  EXPECT_EQ(cfg.cc, CcAlgorithm::kCubic);
  EXPECT_EQ(cfg.rmem_max, 212992u);
  EXPECT_EQ(cfg.wmem_max, 212992u);
  EXPECT_EQ(cfg.sndbuf, 1234u);
}

TEST(TcpProfile, DefaultKeepsTheConfig_UnknownRefused) {
  StackConfig cfg;
  cfg.syn_retries = 3;
  ASSERT_TRUE(apply_stack_profile(cfg, "default"));
  ASSERT_TRUE(apply_stack_profile(cfg, ""));
  EXPECT_EQ(cfg.syn_retries, 3u);
  EXPECT_EQ(cfg.initial_window_segments, 0u);
  EXPECT_FALSE(apply_stack_profile(cfg, "bsd"));
  EXPECT_EQ(cfg.syn_retries, 3u);
}

// The defaults already are Linux's where nothing argues otherwise (issue 13 item 7).
TEST(TcpProfile, Defaults_MatchLinux) {
  const StackConfig d;
  StackConfig l;
  ASSERT_TRUE(apply_stack_profile(l, "linux"));
  EXPECT_EQ(d.rto.initial, l.rto.initial);
  EXPECT_EQ(d.rto.min, l.rto.min);
  EXPECT_EQ(d.rto.max, l.rto.max);
  EXPECT_EQ(d.delayed_ack, l.delayed_ack);
  EXPECT_EQ(d.syn_retries, l.syn_retries);
  EXPECT_EQ(d.synack_retries, l.synack_retries);
  EXPECT_EQ(d.max_retries, l.max_retries);
  EXPECT_EQ(d.keepalive.idle, l.keepalive.idle);
  EXPECT_EQ(d.keepalive.interval, l.keepalive.interval);
  EXPECT_EQ(d.keepalive.probes, l.keepalive.probes);
  EXPECT_EQ(d.time_wait, l.time_wait);
  EXPECT_EQ(d.cc, l.cc);
}

// IW: RFC 6928's min(10*MSS, max(2*MSS, 14600)) bytes by default, Linux's 10 segments with the profile (MSS >
// 1460).
TEST(TcpProfile, InitialWindow_SegmentsForAJumboMss) {
  for (const bool linux_iw : {false, true}) {
    auto cfg = Dialogue::default_config();
    cfg.mtu = 9000;
    if (linux_iw) cfg.initial_window_segments = 10;
    Dialogue d(cfg);
    PeerOptions p;
    p.mss = 8960;
    SocketId s = d.open_passive(d.listen_on(), p);
    const std::uint32_t mss = d.tcb(s).snd_mss - 12u;  // less the timestamps option
    ASSERT_GT(mss, 1460u);
    const std::uint32_t rfc6928 = std::min(10 * mss, std::max(2 * mss, 14600u));  // 2 * MSS here
    EXPECT_EQ(d.tcb(s).cc->cwnd(), linux_iw ? 10 * mss : rfc6928) << linux_iw;
  }
}

}  // namespace
}  // namespace xdptcp::tcp::test
