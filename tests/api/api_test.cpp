// The public API (xdptcp::Context: BSD-like sockets and epoll) end to end over two engines on an
// in-memory link with a manual clock: what an application sees, deterministically.
#include <arpa/inet.h>
#include <netinet/tcp.h>

#include <cerrno>
#include <cstring>
#include <string>

#include <gtest/gtest.h>

#include "tests/api/api_harness.h"

namespace xdptcp::testing {
namespace {

class ApiTest : public ::testing::Test {
 protected:
  ApiPair p;
  Context& srv() { return *p.server.ctx; }
  Context& cli() { return *p.client.ctx; }

  // Steps until pred() holds or `max` steps pass.
  template <typename Pred>
  bool run_until(Pred pred, int max = 5000) {
    for (int i = 0; i < max; ++i) {
      if (pred()) return true;
      p.step();
    }
    return pred();
  }

  int listen_v4(std::uint16_t port) {
    const int l = srv().socket(AF_INET);
    EXPECT_GE(l, 0);
    auto a = v4("198.18.0.1", port);
    EXPECT_EQ(srv().bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(srv().listen(l, 16), 0);
    return l;
  }

  // A connected pair (client fd, server fd) over IPv4.
  std::pair<int, int> connect_pair(int l, std::uint16_t port) {
    const int c = cli().socket(AF_INET);
    auto a = v4("198.18.0.1", port);
    EXPECT_EQ(cli().connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a), -1);
    EXPECT_EQ(errno, EINPROGRESS);
    int s = -1;
    EXPECT_TRUE(run_until([&] {
      s = srv().accept(l, nullptr, nullptr);
      return s >= 0;
    }));
    return {c, s};
  }

  std::string read_all(Context& ctx, int fd, std::size_t want) {
    std::string out;
    run_until([&] {
      char buf[4096];
      for (;;) {
        const ssize_t r = ctx.read(fd, buf, sizeof buf);
        if (r <= 0) break;
        out.append(buf, static_cast<std::size_t>(r));
      }
      return out.size() >= want;
    });
    return out;
  }
};

TEST_F(ApiTest, EchoOverEpoll_IPv4) {
  const int l = listen_v4(7);
  const int ep = srv().epoll_create();
  ASSERT_GE(ep, 0);
  epoll_event ev{EPOLLIN, {}};
  ev.data.fd = l;
  ASSERT_EQ(srv().epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev), 0);

  const int c = cli().socket(AF_INET);
  auto a = v4("198.18.0.1", 7);
  ASSERT_EQ(cli().connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a), -1);
  ASSERT_EQ(errno, EINPROGRESS);
  const int cep = cli().epoll_create();
  epoll_event cev{EPOLLOUT, {}};
  cev.data.fd = c;
  ASSERT_EQ(cli().epoll_ctl(cep, EPOLL_CTL_ADD, c, &cev), 0);

  // Connection completes: the client's socket turns writable, the server's listener readable.
  epoll_event out[8];
  bool writable = false;
  int accepted = -1;
  ASSERT_TRUE(run_until([&] {
    if (cli().epoll_wait(cep, out, 8, 0) > 0 && (out[0].events & EPOLLOUT) != 0) writable = true;
    if (srv().epoll_wait(ep, out, 8, 0) > 0 && out[0].data.fd == l)
      accepted = srv().accept(l, nullptr, nullptr);
    return writable && accepted >= 0;
  }));
  int err = -1;
  socklen_t elen = sizeof err;
  ASSERT_EQ(cli().getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &elen), 0);
  EXPECT_EQ(err, 0);

  ASSERT_EQ(cli().write(c, "hello, xdptcp", 13), 13);
  const std::string got = read_all(srv(), accepted, 13);
  EXPECT_EQ(got, "hello, xdptcp");
  ASSERT_EQ(srv().write(accepted, got.data(), got.size()), 13);
  EXPECT_EQ(read_all(cli(), c, 13), "hello, xdptcp");

  sockaddr_in peer{};
  socklen_t plen = sizeof peer;
  ASSERT_EQ(srv().getpeername(accepted, reinterpret_cast<sockaddr*>(&peer), &plen), 0);
  char text[INET_ADDRSTRLEN];
  EXPECT_STREQ(inet_ntop(AF_INET, &peer.sin_addr, text, sizeof text), "198.18.0.2");
  sockaddr_in local{};
  socklen_t llen = sizeof local;
  ASSERT_EQ(cli().getsockname(c, reinterpret_cast<sockaddr*>(&local), &llen), 0);
  EXPECT_EQ(ntohs(local.sin_port), ntohs(peer.sin_port));
}

TEST_F(ApiTest, EchoOverIPv6) {
  const int l = srv().socket(AF_INET6);
  auto a = v6("fd00:198:18::1", 80);
  ASSERT_EQ(srv().bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(srv().listen(l, 8), 0);
  const int c = cli().socket(AF_INET6);
  ASSERT_EQ(cli().connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a), -1);
  int s = -1;
  ASSERT_TRUE(run_until([&] { return (s = srv().accept(l, nullptr, nullptr)) >= 0; }));
  ASSERT_TRUE(run_until([&] { return cli().write(c, "v6", 2) == 2; }));
  EXPECT_EQ(read_all(srv(), s, 2), "v6");
}

TEST_F(ApiTest, ConnectToClosedPort_EConnRefused) {
  const int c = cli().socket(AF_INET);
  auto a = v4("198.18.0.1", 9999);
  ASSERT_EQ(cli().connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a), -1);
  const int ep = cli().epoll_create();
  epoll_event ev{EPOLLOUT, {}};
  ev.data.fd = c;
  ASSERT_EQ(cli().epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev), 0);
  epoll_event out[4];
  ASSERT_TRUE(run_until([&] { return cli().epoll_wait(ep, out, 4, 0) > 0; }));
  EXPECT_NE(out[0].events & EPOLLERR, 0u);
  int err = 0;
  socklen_t len = sizeof err;
  ASSERT_EQ(cli().getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &len), 0);
  EXPECT_EQ(err, ECONNREFUSED);
}

TEST_F(ApiTest, Errors_MatchTheKernels) {
  char buf[4];
  EXPECT_EQ(cli().read(12345, buf, 4), -1);
  EXPECT_EQ(errno, EBADF);
  const int s = cli().socket(AF_INET);
  EXPECT_EQ(cli().write(s, "x", 1), -1);
  EXPECT_TRUE(errno == ENOTCONN || errno == EPIPE) << std::strerror(errno);
  EXPECT_EQ(cli().socket(AF_UNIX), -1);
  EXPECT_EQ(errno, EAFNOSUPPORT);
  EXPECT_EQ(cli().socket(AF_INET, SOCK_DGRAM), -1);
  EXPECT_EQ(errno, EPROTONOSUPPORT);
  const int one = 1;
  EXPECT_EQ(cli().setsockopt(s, SOL_SOCKET, SO_BROADCAST, &one, sizeof one), -1);
  EXPECT_EQ(errno, ENOPROTOOPT);
  EXPECT_EQ(cli().setsockopt(s, IPPROTO_TCP, TCP_CONGESTION, "bbr", 3), -1);
  EXPECT_EQ(errno, ENOENT);

  // Two listeners on one port: the second bind fails like the kernel's.
  listen_v4(8080);
  const int l2 = srv().socket(AF_INET);
  auto a = v4("198.18.0.1", 8080);
  EXPECT_EQ(srv().bind(l2, reinterpret_cast<sockaddr*>(&a), sizeof a), -1);
  EXPECT_EQ(errno, EADDRINUSE);
  EXPECT_EQ(srv().epoll_ctl(999999, EPOLL_CTL_ADD, l2, nullptr), -1);
  EXPECT_EQ(errno, EBADF);
}

TEST_F(ApiTest, SocketBound_EMFILE) {
  int n = 0;
  while (cli().socket(AF_INET) >= 0) ++n;
  EXPECT_EQ(errno, EMFILE);
  EXPECT_EQ(n, 256);
}

TEST_F(ApiTest, SockoptsRoundTrip) {
  const int s = cli().socket(AF_INET);
  ASSERT_EQ(cli().setsockopt(s, IPPROTO_TCP, TCP_CONGESTION, "reno", 4), 0);
  char name[16] = {};
  socklen_t len = sizeof name;
  ASSERT_EQ(cli().getsockopt(s, IPPROTO_TCP, TCP_CONGESTION, name, &len), 0);
  EXPECT_STREQ(name, "reno");
  const int one = 1;
  ASSERT_EQ(cli().setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one), 0);
  int v = 0;
  len = sizeof v;
  ASSERT_EQ(cli().getsockopt(s, IPPROTO_TCP, TCP_NODELAY, &v, &len), 0);
  EXPECT_NE(v, 0);
  linger lg{1, 0};
  ASSERT_EQ(cli().setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
  linger got{};
  len = sizeof got;
  ASSERT_EQ(cli().getsockopt(s, SOL_SOCKET, SO_LINGER, &got, &len), 0);
  EXPECT_EQ(got.l_onoff, 1);
  EXPECT_EQ(got.l_linger, 0);
}

TEST_F(ApiTest, ShutdownWrite_PeerSeesEofAndRdHup) {
  const int l = listen_v4(81);
  const auto cs = connect_pair(l, 81);
  const int c = cs.first;
  const int s = cs.second;
  const int ep = srv().epoll_create();
  epoll_event ev{EPOLLIN | EPOLLRDHUP, {}};
  ev.data.fd = s;
  ASSERT_EQ(srv().epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev), 0);
  ASSERT_EQ(cli().shutdown(c, SHUT_WR), 0);
  epoll_event out[4];
  ASSERT_TRUE(
      run_until([&] { return srv().epoll_wait(ep, out, 4, 0) > 0 && (out[0].events & EPOLLRDHUP) != 0; }));
  char buf[8];
  EXPECT_EQ(srv().read(s, buf, sizeof buf), 0);
  // Half-close: the server can still send, and the client still reads.
  ASSERT_EQ(srv().write(s, "late", 4), 4);
  EXPECT_EQ(read_all(cli(), c, 4), "late");
}

TEST_F(ApiTest, EdgeTriggered_ReportsOncePerChange_LevelRepeats) {
  const int l = listen_v4(82);
  const auto cs = connect_pair(l, 82);
  const int c = cs.first;
  const int s = cs.second;
  const int lt = srv().epoll_create();
  const int et = srv().epoll_create();
  epoll_event ev{EPOLLIN, {}};
  ev.data.fd = s;
  ASSERT_EQ(srv().epoll_ctl(lt, EPOLL_CTL_ADD, s, &ev), 0);
  ev.events = EPOLLIN | EPOLLET;
  ASSERT_EQ(srv().epoll_ctl(et, EPOLL_CTL_ADD, s, &ev), 0);
  ASSERT_EQ(cli().write(c, "abc", 3), 3);
  epoll_event out[4];
  ASSERT_TRUE(run_until([&] { return srv().epoll_wait(et, out, 4, 0) == 1; }));
  // Edge: nothing new, no second report. Level: reported while data is unread.
  p.step();
  EXPECT_EQ(srv().epoll_wait(et, out, 4, 0), 0);
  EXPECT_EQ(srv().epoll_wait(lt, out, 4, 0), 1);
  EXPECT_EQ(srv().epoll_wait(lt, out, 4, 0), 1);
  char buf[8];
  ASSERT_EQ(srv().read(s, buf, sizeof buf), 3);
  EXPECT_EQ(srv().epoll_wait(lt, out, 4, 0), 0);
  // New data: the edge fires again.
  ASSERT_EQ(cli().write(c, "d", 1), 1);
  ASSERT_TRUE(run_until([&] { return srv().epoll_wait(et, out, 4, 0) == 1; }));
}

TEST_F(ApiTest, OneShot_DisabledUntilModRearms) {
  const int l = listen_v4(83);
  const auto cs = connect_pair(l, 83);
  const int c = cs.first;
  const int s = cs.second;
  const int ep = srv().epoll_create();
  epoll_event ev{EPOLLIN | EPOLLONESHOT, {}};
  ev.data.fd = s;
  ASSERT_EQ(srv().epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev), 0);
  ASSERT_EQ(cli().write(c, "1", 1), 1);
  epoll_event out[4];
  ASSERT_TRUE(run_until([&] { return srv().epoll_wait(ep, out, 4, 0) == 1; }));
  ASSERT_EQ(cli().write(c, "2", 1), 1);
  for (int i = 0; i < 50; ++i) {
    p.step();
    ASSERT_EQ(srv().epoll_wait(ep, out, 4, 0), 0);
  }
  ASSERT_EQ(srv().epoll_ctl(ep, EPOLL_CTL_MOD, s, &ev), 0);
  ASSERT_TRUE(run_until([&] { return srv().epoll_wait(ep, out, 4, 0) == 1; }));
  EXPECT_EQ(srv().epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev), -1);
  EXPECT_EQ(errno, EEXIST);
  ASSERT_EQ(srv().epoll_ctl(ep, EPOLL_CTL_DEL, s, nullptr), 0);
  EXPECT_EQ(srv().epoll_ctl(ep, EPOLL_CTL_DEL, s, nullptr), -1);
  EXPECT_EQ(errno, ENOENT);
}

TEST_F(ApiTest, ReadvWritev_GatherAndScatter) {
  const int l = listen_v4(84);
  const auto cs = connect_pair(l, 84);
  const int c = cs.first;
  const int s = cs.second;
  char a[] = "head-";
  char b[] = "tail";
  iovec out[2] = {{a, 5}, {b, 4}};
  ASSERT_EQ(cli().writev(c, out, 2), 9);
  char x[3];
  char y[16];
  iovec in[2] = {{x, sizeof x}, {y, sizeof y}};
  ssize_t got = 0;
  ASSERT_TRUE(run_until([&] {
    const ssize_t r = srv().readv(s, in, 2);
    if (r > 0) got = r;
    return got > 0;
  }));
  ASSERT_EQ(got, 9);
  EXPECT_EQ(std::string(x, 3) + std::string(y, 6), "head-tail");
}

TEST_F(ApiTest, CloseBothEnds_ConnectionsDrain) {
  const int l = listen_v4(85);
  const auto cs = connect_pair(l, 85);
  const int c = cs.first;
  const int s = cs.second;
  ASSERT_EQ(cli().close(c), 0);
  ASSERT_TRUE(run_until([&] {
    char buf[4];
    return srv().read(s, buf, sizeof buf) == 0;
  }));
  ASSERT_EQ(srv().close(s), 0);
  // The active closer holds TIME-WAIT (2*MSL); after it, nothing is left on either side.
  for (int i = 0; i < 130; ++i) p.step(Duration::seconds(1));
  EXPECT_EQ(p.server.eng->tcp().connection_count(), 0u);
  EXPECT_EQ(p.client.eng->tcp().connection_count(), 0u);
  EXPECT_EQ(cli().close(c), -1);
  EXPECT_EQ(errno, EBADF);
}

// A short transaction as an event-driven client and server run it (connect, request, response,
// client closes, server closes on EOF) takes 7 frames, not 9: the engine holds the ACK of the
// SYN-ACK for the request and the ACK of the client's FIN for the server's FIN
// (StackConfig::hold_acks_for_app; RFC 9293 §3.10.7.3, RFC 1122 §4.2.3.2).
TEST_F(ApiTest, ShortTransaction_AcksRideOnRequestAndFin_SevenFrames) {
  const int l = listen_v4(86);
  const int sep = srv().epoll_create();
  epoll_event ev{EPOLLIN, {}};
  ev.data.fd = l;
  ASSERT_EQ(srv().epoll_ctl(sep, EPOLL_CTL_ADD, l, &ev), 0);
  const int c = cli().socket(AF_INET);
  auto a = v4("198.18.0.1", 86);
  ASSERT_EQ(cli().connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a), -1);
  const int cep = cli().epoll_create();
  epoll_event cev{EPOLLOUT | EPOLLIN, {}};
  cev.data.fd = c;
  ASSERT_EQ(cli().epoll_ctl(cep, EPOLL_CTL_ADD, c, &cev), 0);

  bool sent = false, client_closed = false, server_closed = false;
  int s = -1;
  char buf[64];
  epoll_event out[8];
  // Only the applications' epoll_wait calls drive the engines here (no p.step()): as in a real
  // event loop, the application sees every poll's events before the next poll.
  const auto run_apps_until = [&](auto done) {
    for (int i = 0; i < 5000; ++i) {
      if (done()) return true;
      p.clock.advance(Duration::micros(100));
    }
    return false;
  };
  ASSERT_TRUE(run_apps_until([&] {
    // The client: request once writable, close after the response.
    for (int n = cli().epoll_wait(cep, out, 8, 0), i = 0; i < n && !client_closed; ++i) {
      if (!sent && (out[i].events & EPOLLOUT) != 0) {
        EXPECT_EQ(cli().write(c, "request", 7), 7);
        sent = true;
      } else if ((out[i].events & EPOLLIN) != 0 && cli().read(c, buf, sizeof buf) == 8) {
        EXPECT_EQ(cli().close(c), 0);
        client_closed = true;
      }
    }
    // The server: accept, answer the request, close at end of stream.
    for (int n = srv().epoll_wait(sep, out, 8, 0), i = 0; i < n; ++i) {
      if (out[i].data.fd == l) {
        s = srv().accept(l, nullptr, nullptr);
        epoll_event sev{EPOLLIN, {}};
        sev.data.fd = s;
        EXPECT_EQ(srv().epoll_ctl(sep, EPOLL_CTL_ADD, s, &sev), 0);
      } else if (!server_closed) {
        const ssize_t r = srv().read(s, buf, sizeof buf);
        if (r == 7) {
          EXPECT_EQ(srv().write(s, "response", 8), 8);
        }
        if (r == 0) {
          EXPECT_EQ(srv().close(s), 0);
          server_closed = true;
        }
      }
    }
    // Done when the server's side is CLOSED (LAST-ACK got the final ACK) and nothing is in flight.
    return server_closed && p.server.eng->tcp().connection_count() == 0 &&
           p.server.eng->stats().rx_frames == p.client.eng->stats().tx_frames &&
           p.client.eng->stats().rx_frames == p.server.eng->stats().tx_frames;
  }));
  // Client: SYN, ACK+request, FIN, last ACK. Server: SYN-ACK, response, FIN+ACK.
  EXPECT_EQ(p.client.eng->stats().tx_frames, 4u);
  EXPECT_EQ(p.server.eng->stats().tx_frames, 3u);
  EXPECT_EQ(p.client.eng->tcp().stats().retransmits + p.server.eng->tcp().stats().retransmits, 0u);
}

// SO_RCVBUF / SO_SNDBUF as Linux: the value set is doubled, and a connection may change it.
TEST_F(ApiTest, SoBuf_DoubledAndSettableAfterConnect) {
  const int l = listen_v4(8101);
  const int c0 = cli().socket(AF_INET);
  const int ten = 10000;
  ASSERT_EQ(cli().setsockopt(c0, SOL_SOCKET, SO_RCVBUF, &ten, sizeof ten), 0);
  int v = 0;
  socklen_t len = sizeof v;
  ASSERT_EQ(cli().getsockopt(c0, SOL_SOCKET, SO_RCVBUF, &v, &len), 0);
  EXPECT_EQ(v, 20000);
  auto [c, s] = connect_pair(l, 8101);
  const int big = 100000;
  ASSERT_EQ(srv().setsockopt(s, SOL_SOCKET, SO_SNDBUF, &big, sizeof big), 0);  // Linux: allowed
  len = sizeof v;
  ASSERT_EQ(srv().getsockopt(s, SOL_SOCKET, SO_SNDBUF, &v, &len), 0);
  EXPECT_EQ(v, 200000);
  ASSERT_EQ(srv().setsockopt(s, SOL_SOCKET, SO_RCVBUF, &big, sizeof big), 0);
}

// Linux's errors: an unknown name ENOPROTOOPT, a length below an int EINVAL (checked first), a
// short getsockopt length truncates.
TEST_F(ApiTest, Sockopt_UnknownAndBadLength_LinuxErrors) {
  const int s = cli().socket(AF_INET);
  const int one = 1;
  EXPECT_EQ(cli().setsockopt(s, IPPROTO_TCP, TCP_FASTOPEN, &one, sizeof one), -1);
  EXPECT_EQ(errno, ENOPROTOOPT);
  EXPECT_EQ(cli().setsockopt(s, SOL_SOCKET, 12345, &one, sizeof one), -1);
  EXPECT_EQ(errno, ENOPROTOOPT);
  int v = 0;
  socklen_t len = sizeof v;
  EXPECT_EQ(cli().getsockopt(s, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &v, &len), -1);
  EXPECT_EQ(errno, ENOPROTOOPT);
  EXPECT_EQ(cli().setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, 2), -1);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(cli().setsockopt(s, IPPROTO_TCP, 12345, &one, 1), -1);  // length before name
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(cli().setsockopt(s, SOL_SOCKET, SO_RCVBUF, &one, 0), -1);
  EXPECT_EQ(errno, EINVAL);
  const int ten = 10000;
  ASSERT_EQ(cli().setsockopt(s, SOL_SOCKET, SO_SNDBUF, &ten, sizeof ten), 0);
  unsigned char b[4] = {};
  len = 1;
  ASSERT_EQ(cli().getsockopt(s, SOL_SOCKET, SO_SNDBUF, b, &len), 0);
  EXPECT_EQ(len, 1u);
  EXPECT_EQ(b[0], 20000 & 0xff);  // little-endian low byte, as Linux copies
  len = static_cast<socklen_t>(-1);
  EXPECT_EQ(cli().getsockopt(s, SOL_SOCKET, SO_SNDBUF, b, &len), -1);
  EXPECT_EQ(errno, EINVAL);
}

// MSG_MORE: the small write waits for the next send without it.
TEST_F(ApiTest, SendMsgMore_HeldUntilASendWithoutIt) {
  const int l = listen_v4(8102);
  auto [c, s] = connect_pair(l, 8102);
  ASSERT_EQ(cli().send(c, "abc", 3, MSG_MORE), 3);
  for (int i = 0; i < 50; ++i) p.step();
  EXPECT_EQ(srv().readable_bytes(s), 0);
  EXPECT_EQ(cli().queued_bytes(c, true), 3);  // SIOCOUTQNSD: never sent
  ASSERT_EQ(cli().send(c, "def", 3, 0), 3);
  EXPECT_EQ(read_all(srv(), s, 6), "abcdef");
  EXPECT_EQ(cli().send(c, "x", 1, MSG_OOB), -1);
  EXPECT_EQ(errno, EOPNOTSUPP);
}

// SIOCOUTQ / SIOCOUTQNSD.
TEST_F(ApiTest, QueuedBytes_UnackedAndUnsent) {
  const int l = listen_v4(8103);
  const auto [c, s] = connect_pair(l, 8103);
  const int fd = c;
  ASSERT_TRUE(run_until([&] { return (cli().poll_events(fd) & EPOLLOUT) != 0; }));
  EXPECT_EQ(cli().queued_bytes(c, false), 0);
  const std::string msg(1000, 'q');
  ASSERT_EQ(cli().write(c, msg.data(), msg.size()), 1000);
  EXPECT_EQ(cli().queued_bytes(c, false), 1000);
  EXPECT_EQ(cli().queued_bytes(c, true), 1000);
  EXPECT_EQ(read_all(srv(), s, 1000), msg);
  EXPECT_TRUE(run_until([&] { return cli().queued_bytes(fd, false) == 0; }));
  EXPECT_EQ(cli().queued_bytes(c, true), 0);
  EXPECT_EQ(srv().queued_bytes(l, false), -1);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(cli().queued_bytes(999, false), -1);
  EXPECT_EQ(errno, EBADF);
}

}  // namespace
}  // namespace xdptcp::testing
