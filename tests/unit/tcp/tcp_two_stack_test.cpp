// Two TcpStacks wired back to back by a trivial in-test link (a queue per direction, optional
// loss of chosen packets) with a manual clock: data both ways, close, loss recovery.
#include <deque>
#include <functional>

#include "unit/tcp/tcp_dialogue.h"

namespace xdptcp::tcp::test {
namespace {

class QueueSink : public PacketSink {
 public:
  std::span<std::uint8_t> tx_acquire() override { return {buf_.data(), buf_.size()}; }
  void tx_commit(std::size_t len) override { q.emplace_back(buf_.begin(), buf_.begin() + len); }
  std::deque<std::vector<std::uint8_t>> q;

 private:
  std::array<std::uint8_t, 2048> buf_{};
};

struct Link {
  Link()
      : a(cfg(wire::IpAddr::v4(198, 18, 0, 1), 1), sa, now),
        b(cfg(wire::IpAddr::v4(198, 18, 0, 2), 2), sb, now) {}
  static StackConfig cfg(wire::IpAddr ip, std::uint64_t secret) {
    StackConfig c;
    c.local_addrs = {ip};
    c.max_sockets = 8;
    c.syn_backlog = 4;
    c.secret = secret;
    return c;
  }
  // Moves packets until both directions are quiet; drop(n) decides on the n-th packet A->B.
  void pump(const std::function<bool(std::size_t)>& drop_ab = nullptr) {
    for (int round = 0; round < 1000; ++round) {
      a.flush(now);
      b.flush(now);
      if (sa.q.empty() && sb.q.empty()) return;
      while (!sa.q.empty()) {
        auto p = std::move(sa.q.front());
        sa.q.pop_front();
        if (drop_ab && drop_ab(sent_ab++)) continue;
        b.input(p, now);
      }
      while (!sb.q.empty()) {
        auto p = std::move(sb.q.front());
        sb.q.pop_front();
        a.input(p, now);
      }
    }
    FAIL() << "link never went quiet";
  }
  // Advances the clock to the next timer of either stack.
  void step() {
    auto ta = a.next_timer(), tb = b.next_timer();
    Instant t = now + Duration::seconds(1);
    if (ta) t = std::min(t, *ta);
    if (tb) t = std::min(t, *tb);
    now = std::max(t, now);
    a.advance(now);
    b.advance(now);
  }
  Instant now{Instant{1'000'000'000}};
  QueueSink sa, sb;
  TcpStack a, b;
  std::size_t sent_ab = 0;
};

std::vector<std::uint8_t> read_all(TcpStack& st, SocketId s, Instant now) {
  std::vector<std::uint8_t> out, buf(65536);
  for (;;) {
    ssize_t n = st.recv(s, buf, now);
    if (n <= 0) break;
    out.insert(out.end(), buf.begin(), buf.begin() + n);
  }
  return out;
}

TEST(TcpTwoStack, Connect_DataBothWaysAndClose_AllDelivered) {
  Link l;
  SocketId ls = l.b.socket(wire::IpFamily::kV4);
  ASSERT_EQ(l.b.bind(ls, {wire::IpAddr::v4(0, 0, 0, 0), 80}), 0);
  ASSERT_EQ(l.b.listen(ls, 4), 0);
  SocketId c = l.a.socket(wire::IpFamily::kV4);
  ASSERT_EQ(l.a.connect(c, {wire::IpAddr::v4(198, 18, 0, 2), 80}, l.now), -EINPROGRESS);
  l.pump();
  ASSERT_EQ(l.a.state(c), TcpState::kEstablished);
  SocketId s = l.b.accept(ls, nullptr);
  ASSERT_GE(s, 0);

  auto req = bytes(50000, 1);
  std::vector<std::uint8_t> got;
  std::size_t sent = 0;
  for (int i = 0; i < 200 && got.size() < req.size(); ++i) {
    if (sent < req.size()) {
      ssize_t n = l.a.send(c, std::span(req).subspan(sent), l.now);
      if (n > 0) sent += static_cast<std::size_t>(n);
    }
    l.pump();
    auto part = read_all(l.b, s, l.now);
    got.insert(got.end(), part.begin(), part.end());
    l.step();
  }
  EXPECT_EQ(got, req);

  auto resp = bytes(3000, 9);
  ASSERT_EQ(l.b.send(s, resp, l.now), 3000);
  l.pump();
  EXPECT_EQ(read_all(l.a, c, l.now), resp);

  ASSERT_EQ(l.a.close(c, l.now), 0);
  l.pump();
  std::vector<std::uint8_t> buf(10);
  EXPECT_EQ(l.b.recv(s, buf, l.now), 0);  // EOF
  EXPECT_EQ(l.b.state(s), TcpState::kCloseWait);
  ASSERT_EQ(l.b.close(s, l.now), 0);
  l.pump();
  EXPECT_EQ(l.b.connection_count(), 0u);
  EXPECT_EQ(l.a.connection_count(), 1u);  // TIME-WAIT on the active closer
  for (int i = 0; i < 100 && l.a.connection_count() > 0; ++i) l.step();
  EXPECT_EQ(l.a.connection_count(), 0u);
}

// tcp_stack.h: socket() fails with EMFILE at max_sockets, and ids stay below it (event queues and
// the API's descriptors are sized by it). The TCB pool is larger (orphans in TIME-WAIT, embryos),
// so an id must not be the TCB's index: with the active closer's low TCBs all in TIME-WAIT,
// new sockets used to get ids >= max_sockets (found by the xdptcp-bench client, issue 5).
TEST(TcpTwoStack, ManyActiveCloses_TimeWaitOrphans_SocketIdsStayBelowMaxSockets) {
  Link l;
  SocketId ls = l.b.socket(wire::IpFamily::kV4);
  ASSERT_EQ(l.b.bind(ls, {wire::IpAddr::v4(0, 0, 0, 0), 80}), 0);
  ASSERT_EQ(l.b.listen(ls, 4), 0);
  const std::size_t max_sockets = 8;  // Link::cfg
  for (int i = 0; i < 20; ++i) {
    SocketId c = l.a.socket(wire::IpFamily::kV4);
    ASSERT_GE(c, 0) << "connection " << i;
    EXPECT_LT(static_cast<std::size_t>(c), max_sockets) << "connection " << i;
    ASSERT_EQ(l.a.connect(c, {wire::IpAddr::v4(198, 18, 0, 2), 80}, l.now), -EINPROGRESS);
    l.pump();
    ASSERT_EQ(l.a.state(c), TcpState::kEstablished);
    SocketId s = l.b.accept(ls, nullptr);
    ASSERT_GE(s, 0);
    EXPECT_LT(static_cast<std::size_t>(s), max_sockets);
    ASSERT_EQ(l.a.close(c, l.now), 0);  // the client closes first: TIME-WAIT on a's side
    l.pump();
    ASSERT_EQ(l.b.close(s, l.now), 0);
    l.pump();
  }
  EXPECT_EQ(l.a.socket_count(), 0u);
  EXPECT_GT(l.a.connection_count(), max_sockets);  // the orphans in TIME-WAIT
}

// The server closes first, so every connection leaves a TIME-WAIT on the server. Past the TCB
// bound (2*max_sockets + syn_backlog = 20 here) the oldest TIME-WAIT is recycled and new
// connections keep being accepted (Linux: tcp_max_tw_buckets).
TEST(TcpTwoStack, ServerClosesFirst_PastTcbBound_OldestTimeWaitRecycled) {
  Link l;
  SocketId ls = l.b.socket(wire::IpFamily::kV4);
  ASSERT_EQ(l.b.bind(ls, {wire::IpAddr::v4(0, 0, 0, 0), 80}), 0);
  ASSERT_EQ(l.b.listen(ls, 4), 0);
  for (int i = 0; i < 60; ++i) {
    SocketId c = l.a.socket(wire::IpFamily::kV4);
    ASSERT_GE(c, 0) << "connection " << i;
    ASSERT_EQ(l.a.connect(c, {wire::IpAddr::v4(198, 18, 0, 2), 80}, l.now), -EINPROGRESS);
    l.pump();
    SocketId s = l.b.accept(ls, nullptr);
    ASSERT_GE(s, 0) << "connection " << i;
    ASSERT_EQ(l.b.close(s, l.now), 0);  // the server closes first: TIME-WAIT on b's side
    l.pump();
    ASSERT_EQ(l.a.close(c, l.now), 0);
    l.pump();
    ASSERT_EQ(l.a.state(c), TcpState::kClosed);
  }
  EXPECT_GT(l.b.stats().time_wait_recycled, 0u);
  EXPECT_EQ(l.b.stats().drops[static_cast<std::size_t>(DropReason::kNoTcb)], 0u);
  EXPECT_LE(l.b.connection_count(), 20u);
}

// The ioctl queue sizes and TCP_INFO of both ends agree with what crossed the link. The handshake
// is carried by hand with 10 ms each way: the client times its SYN (20 ms round trip), the server
// its SYN-ACK through the timestamp echo (10 ms: the ACK leaves as the SYN-ACK arrives).
TEST(TcpTwoStack, QueueSizesAndTcpInfo_MatchWhatWasSent) {
  Link l;
  SocketId ls = l.b.socket(wire::IpFamily::kV4);
  ASSERT_EQ(l.b.bind(ls, {wire::IpAddr::v4(0, 0, 0, 0), 80}), 0);
  ASSERT_EQ(l.b.listen(ls, 4), 0);
  SocketId c = l.a.socket(wire::IpFamily::kV4);
  ASSERT_EQ(l.a.connect(c, {wire::IpAddr::v4(198, 18, 0, 2), 80}, l.now), -EINPROGRESS);
  l.a.flush(l.now);
  ASSERT_EQ(l.sa.q.size(), 1u);  // SYN
  l.now += Duration::millis(10);
  l.b.input(l.sa.q.front(), l.now);
  l.sa.q.clear();
  l.b.flush(l.now);
  ASSERT_EQ(l.sb.q.size(), 1u);  // SYN-ACK
  l.now += Duration::millis(10);
  l.a.input(l.sb.q.front(), l.now);
  l.sb.q.clear();
  l.pump();  // the ACK
  ASSERT_EQ(l.a.state(c), TcpState::kEstablished);
  SocketId s = l.b.accept(ls, nullptr);
  ASSERT_GE(s, 0);
  TcpInfoSnapshot ia, ib;
  ASSERT_EQ(l.a.tcp_info(c, &ia, l.now), 0);
  ASSERT_EQ(l.b.tcp_info(s, &ib, l.now), 0);
  EXPECT_EQ(ia.state, TcpState::kEstablished);
  EXPECT_EQ(ib.state, TcpState::kEstablished);
  EXPECT_EQ(ia.rtt_us, 20'000u);
  EXPECT_EQ(ib.rtt_us, 10'000u);
  EXPECT_EQ(ia.snd_mss, 1448u);
  EXPECT_EQ(ib.rcv_mss, 1448u);

  auto req = bytes(5000, 3);
  ASSERT_EQ(l.a.send(c, req, l.now), 5000);
  l.pump();
  EXPECT_EQ(l.b.readable_bytes(s), 5000u);
  l.step();  // the server's delayed ACK for the tail
  l.pump();
  EXPECT_EQ(l.a.unsent_or_unacked_bytes(c), 0u);
  EXPECT_EQ(l.a.unsent_bytes(c), 0u);

  ASSERT_EQ(l.a.tcp_info(c, &ia, l.now), 0);
  ASSERT_EQ(l.b.tcp_info(s, &ib, l.now), 0);
  EXPECT_GT(ia.rtt_us, 0u);
  EXPECT_EQ(ia.min_rtt_us, 0u);  // the first data ACK came back over the zero-delay link
  EXPECT_EQ(ia.bytes_acked, 5000u);
  EXPECT_EQ(ib.bytes_received, 5000u);
  EXPECT_EQ(ia.data_segs_out, ib.data_segs_in);
  EXPECT_EQ(ia.segs_out, ib.segs_in + 1);  // the SYN reached the listener, not the connection
  EXPECT_EQ(ib.segs_out, ia.segs_in);
  EXPECT_EQ(ia.total_retrans, 0u);

  EXPECT_EQ(read_all(l.b, s, l.now), req);
  EXPECT_EQ(l.b.readable_bytes(s), 0u);
}

TEST(TcpTwoStack, Transfer_WithLoss_RecoveredInOrder) {
  Link l;
  SocketId ls = l.b.socket(wire::IpFamily::kV4);
  l.b.bind(ls, {wire::IpAddr::v4(0, 0, 0, 0), 80});
  l.b.listen(ls, 4);
  SocketId c = l.a.socket(wire::IpFamily::kV4);
  l.a.connect(c, {wire::IpAddr::v4(198, 18, 0, 2), 80}, l.now);
  l.pump();
  SocketId s = l.b.accept(ls, nullptr);
  ASSERT_GE(s, 0);
  auto req = bytes(40000, 5);
  ASSERT_EQ(l.a.send(c, req, l.now), 40000);
  std::vector<std::uint8_t> got;
  auto drop = [](std::size_t n) { return n == 2 || n == 7 || n == 8 || n == 20; };
  for (int i = 0; i < 200 && got.size() < req.size(); ++i) {
    l.pump(drop);
    auto part = read_all(l.b, s, l.now);
    got.insert(got.end(), part.begin(), part.end());
    l.step();
  }
  EXPECT_EQ(got, req);
  EXPECT_GE(l.a.stats().retransmits, 4u);
}

}  // namespace
}  // namespace xdptcp::tcp::test
