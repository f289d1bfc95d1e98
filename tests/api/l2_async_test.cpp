// Asynchronous next-hop resolution (issue 11 item 2): connect() to a destination whose MAC is not
// known yet returns EINPROGRESS at once, the engine keeps serving its other connections while the
// resolution is pending, the SYN leaves as soon as the MAC is known, and the connection fails with
// EHOSTUNREACH when the resolution does (or times out). Over the in-memory link, virtual time,
// with the StaticResolver's `pending` / `failed` sets standing in for the kernel's neighbour table.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <string>

#include "tests/api/api_harness.h"

namespace xdptcp::testing {
namespace {

class L2AsyncTest : public ::testing::Test {
 protected:
  ApiPair p;
  Context& srv() { return *p.server.ctx; }
  Context& cli() { return *p.client.ctx; }
  engine::Engine& ceng() { return *p.client.eng; }

  template <typename Pred>
  int steps_until(Pred pred, int max = 5000) {
    for (int i = 0; i < max; ++i) {
      if (pred()) return i;
      p.step();
    }
    return pred() ? max : -1;
  }

  int listen_v4(std::uint16_t port) {
    const int l = srv().socket(AF_INET);
    auto a = v4("198.18.0.1", port);
    EXPECT_EQ(srv().bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(srv().listen(l, 16), 0);
    return l;
  }

  // connect() that must return EINPROGRESS without the engine running (nor time passing).
  int connect_in_progress(const sockaddr* a, socklen_t len, int family = AF_INET) {
    const int c = cli().socket(family);
    EXPECT_GE(c, 0);
    const Instant before = p.clock.now();
    EXPECT_EQ(cli().connect(c, a, len), -1);
    EXPECT_EQ(errno, EINPROGRESS);
    EXPECT_EQ(p.clock.now(), before);
    return c;
  }

  int so_error(int fd) {
    int e = -1;
    socklen_t len = sizeof e;
    EXPECT_EQ(cli().getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len), 0);
    return e;
  }

  // An established pair (client fd, server fd) to 198.18.0.1:port.
  std::pair<int, int> established(int l, std::uint16_t port) {
    auto a = v4("198.18.0.1", port);
    const int c = connect_in_progress(reinterpret_cast<sockaddr*>(&a), sizeof a);
    int s = -1;
    EXPECT_GE(steps_until([&] {
                s = srv().accept(l, nullptr, nullptr);
                return s >= 0 && (cli().poll_events(c) & EPOLLOUT) != 0;
              }),
              0);
    return {c, s};
  }

  // One request/response of `n` bytes each way; returns the steps it took (-1: it did not finish).
  int round_trip(int c, int s, std::size_t n) {
    const std::string msg(n, 'x');
    EXPECT_EQ(cli().write(c, msg.data(), n), static_cast<ssize_t>(n));
    std::size_t got = 0, back = 0;
    char buf[4096];
    return steps_until(
        [&] {
          for (ssize_t r; (r = srv().read(s, buf, sizeof buf)) > 0;) {
            got += static_cast<std::size_t>(r);
            EXPECT_EQ(srv().write(s, buf, static_cast<std::size_t>(r)), r);
          }
          for (ssize_t r; (r = cli().read(c, buf, sizeof buf)) > 0;) back += static_cast<std::size_t>(r);
          return got == n && back == n;
        },
        100);
  }
};

TEST_F(L2AsyncTest, PendingNextHop_LoadKeepsFlowing_ThenFailureIsEHostUnreach) {
  const int l = listen_v4(7);
  auto [c, s] = established(l, 7);

  p.client.resolver.pending.insert("198.18.0.77");
  auto dst = v4("198.18.0.77", 80);
  const int lookups = p.client.resolver.lookups;
  const int c2 = connect_in_progress(reinterpret_cast<sockaddr*>(&dst), sizeof dst);
  EXPECT_EQ(p.client.resolver.lookups, lookups + 1);
  EXPECT_EQ(ceng().l2_pending(), 1u);
  const int ep = cli().epoll_create();
  epoll_event ev{EPOLLOUT, {}};
  ev.data.fd = c2;
  ASSERT_EQ(cli().epoll_ctl(ep, EPOLL_CTL_ADD, c2, &ev), 0);

  // 500 request/response rounds (well over a second of virtual time) while it is pending: each
  // takes the few loop iterations it takes without any resolution going on.
  const int baseline = round_trip(c, s, 100);
  ASSERT_GT(baseline, 0);
  const Instant start = p.clock.now();
  int worst = 0;
  for (int i = 0; i < 500; ++i) {
    const int steps = round_trip(c, s, 100);
    ASSERT_GT(steps, 0) << "round " << i;
    worst = std::max(worst, steps);
    ASSERT_EQ(cli().poll_events(c2) & (EPOLLOUT | EPOLLERR), 0u);
  }
  EXPECT_LE(worst, baseline);
  EXPECT_GE(p.clock.now() - start, Duration::seconds(1));
  EXPECT_EQ(ceng().l2_pending(), 1u);
  EXPECT_GT(p.client.resolver.polls, 0);
  // Polled every l2_poll (10 ms), not per iteration.
  EXPECT_LE(p.client.resolver.polls,
            1 + static_cast<int>((p.clock.now() - start).ns / Duration::millis(10).ns) + 1);
  // The SYN (and its 1 s retransmission) was held, not sent nor dropped.
  EXPECT_GE(ceng().stats().l2_held, 2u);
  EXPECT_EQ(ceng().stats().tx_no_neighbor, 0u);
  EXPECT_EQ(ceng().stats().l2_held_sent, 0u);

  // The kernel gives up: within one poll interval the connect fails, as Linux reports it.
  p.client.resolver.pending.erase("198.18.0.77");
  p.client.resolver.failed.insert("198.18.0.77");
  const int to_fail = steps_until([&] { return (cli().poll_events(c2) & EPOLLERR) != 0; }, 20);
  EXPECT_GE(to_fail, 0);
  EXPECT_LE(to_fail, 11);
  epoll_event out[4];
  ASSERT_EQ(cli().epoll_wait(ep, out, 4, 0), 1);
  EXPECT_EQ(out[0].data.fd, c2);
  EXPECT_NE(out[0].events & EPOLLERR, 0u);
  EXPECT_EQ(so_error(c2), EHOSTUNREACH);
  EXPECT_EQ(so_error(c2), 0);  // reading clears it
  EXPECT_EQ(ceng().l2_pending(), 0u);
  EXPECT_EQ(ceng().stats().resolver_failures, 1u);
  EXPECT_EQ(cli().close(c2), 0);

  // The established connection never noticed.
  EXPECT_GT(round_trip(c, s, 1000), 0);
}

TEST_F(L2AsyncTest, PendingNextHop_TimesOutAfterThreeSeconds) {
  p.client.resolver.pending.insert("198.18.0.78");
  auto dst = v4("198.18.0.78", 80);
  const Instant start = p.clock.now();
  const int c = connect_in_progress(reinterpret_cast<sockaddr*>(&dst), sizeof dst);
  ASSERT_GE(steps_until([&] { return (cli().poll_events(c) & EPOLLERR) != 0; }, 4000), 0);
  const Duration took = p.clock.now() - start;
  EXPECT_GE(took, Duration::seconds(3));
  EXPECT_LE(took, Duration::seconds(3) + Duration::millis(20));
  // connect() again reports it, as Linux's does after a failed non-blocking connect.
  EXPECT_EQ(cli().connect(c, reinterpret_cast<sockaddr*>(&dst), sizeof dst), -1);
  EXPECT_EQ(errno, EHOSTUNREACH);
  EXPECT_EQ(ceng().l2_pending(), 0u);
}

TEST_F(L2AsyncTest, NextHopResolvesLater_SynLeavesAtOnce) {
  const int l = listen_v4(8);
  p.client.resolver.table.erase("198.18.0.1");
  p.client.resolver.pending.insert("198.18.0.1");
  auto dst = v4("198.18.0.1", 8);
  const int c = connect_in_progress(reinterpret_cast<sockaddr*>(&dst), sizeof dst);
  for (int i = 0; i < 50; ++i) p.step();
  EXPECT_EQ(p.server.eng->stats().rx_frames, 0u);  // the SYN waits for the MAC
  EXPECT_EQ(srv().accept(l, nullptr, nullptr), -1);

  p.client.resolver.pending.erase("198.18.0.1");
  p.client.resolver.table["198.18.0.1"] = p.server.mac;
  int s = -1;
  const int steps = steps_until([&] {
    if (s < 0) s = srv().accept(l, nullptr, nullptr);
    return s >= 0 && (cli().poll_events(c) & EPOLLOUT) != 0;
  });
  ASSERT_GE(steps, 0);
  // Within one poll interval (10 steps of 1 ms) and a round trip, not after the SYN's 1 s RTO.
  EXPECT_LE(steps, 14);
  EXPECT_EQ(so_error(c), 0);
  EXPECT_EQ(ceng().stats().l2_resolved, 1u);
  EXPECT_EQ(ceng().stats().l2_held_sent, 1u);
  EXPECT_EQ(ceng().stats().tx_no_neighbor, 0u);
  EXPECT_GT(round_trip(c, s, 500), 0);
}

// A frame from the destination is no proof of its address (the neighbour model: only the kernel
// or a segment TCP accepted for a connection teaches a MAC; issue 11 item 3): a SYN from the server
// to a closed port of the client leaves the next hop pending, until the "kernel" resolves it.
TEST_F(L2AsyncTest, FrameFromNextHop_TeachesNothing_StillWaitsForTheKernel) {
  const int l = listen_v4(9);
  p.client.resolver.table.erase("198.18.0.1");
  p.client.resolver.pending.insert("198.18.0.1");
  auto dst = v4("198.18.0.1", 9);
  const int c = connect_in_progress(reinterpret_cast<sockaddr*>(&dst), sizeof dst);
  p.step();
  const int sc = srv().socket(AF_INET);
  auto back = v4("198.18.0.2", 4444);
  EXPECT_EQ(srv().connect(sc, reinterpret_cast<sockaddr*>(&back), sizeof back), -1);
  for (int i = 0; i < 30; ++i) p.step();
  EXPECT_GT(ceng().stats().rx_frames, 0u);  // the server's SYN arrived (and was answered by a RST)
  EXPECT_EQ(ceng().l2_pending(), 1u);
  EXPECT_EQ(ceng().stats().l2_learned, 0u);
  EXPECT_EQ(ceng().stats().l2_held_sent, 0u);
  // The kernel answers: the held SYN leaves and the connection completes.
  p.client.resolver.pending.erase("198.18.0.1");
  p.client.resolver.table["198.18.0.1"] = p.server.mac;
  int s = -1;
  const int steps = steps_until(
      [&] {
        if (s < 0) s = srv().accept(l, nullptr, nullptr);
        return s >= 0 && (cli().poll_events(c) & EPOLLOUT) != 0;
      },
      100);
  ASSERT_GE(steps, 0);
  EXPECT_LE(steps, 14);
  EXPECT_EQ(ceng().l2_pending(), 0u);
  // The SYN, and the RST that answered the server's SYN: it waited for the next hop too.
  EXPECT_EQ(ceng().stats().l2_held_sent, 2u);
  EXPECT_EQ(ceng().stats().resolver_failures, 0u);
  EXPECT_EQ(so_error(c), 0);
}

TEST_F(L2AsyncTest, PendingTableBound_ENOBUFS_SameNextHopSharesASlot) {
  constexpr std::size_t kMax = engine::Engine::kMaxPendingNeighbors;
  std::vector<int> fds;
  for (std::size_t i = 0; i < kMax; ++i) {
    const std::string ip = "198.18.1." + std::to_string(i);
    p.client.resolver.pending.insert(ip);
    auto a = v4(ip.c_str(), 80);
    fds.push_back(connect_in_progress(reinterpret_cast<sockaddr*>(&a), sizeof a));
  }
  EXPECT_EQ(ceng().l2_pending(), kMax);
  // A next hop already pending takes no slot.
  auto again = v4("198.18.1.0", 81);
  fds.push_back(connect_in_progress(reinterpret_cast<sockaddr*>(&again), sizeof again));
  // A new one does not fit: ENOBUFS at once (no socket state changes; the caller may retry).
  p.client.resolver.pending.insert("198.18.2.1");
  auto more = v4("198.18.2.1", 80);
  const int c = cli().socket(AF_INET);
  EXPECT_EQ(cli().connect(c, reinterpret_cast<sockaddr*>(&more), sizeof more), -1);
  EXPECT_EQ(errno, ENOBUFS);
  EXPECT_EQ(ceng().stats().l2_pending_full, 1u);

  // One resolves (its two connections proceed to SYN-sent-for-real), which frees a slot.
  p.client.resolver.pending.erase("198.18.1.0");
  p.client.resolver.table["198.18.1.0"] = p.server.mac;
  for (int i = 0; i < 12; ++i) p.step();
  EXPECT_EQ(ceng().l2_pending(), kMax - 1);
  EXPECT_EQ(ceng().stats().l2_held_sent, 2u);
  EXPECT_EQ(cli().connect(c, reinterpret_cast<sockaddr*>(&more), sizeof more), -1);
  EXPECT_EQ(errno, EINPROGRESS);
  // All the others fail together when their time is up; each socket says so.
  ASSERT_GE(steps_until([&] { return ceng().l2_pending() == 0; }, 4000), 0);
  for (std::size_t i = 1; i < kMax; ++i) EXPECT_EQ(so_error(fds[i]), EHOSTUNREACH) << i;
  EXPECT_EQ(so_error(c), EHOSTUNREACH);
}

TEST_F(L2AsyncTest, NoRoute_EHostUnreachAtOnce_IPv6PendingFailsToo) {
  auto nowhere = v4("203.0.113.9", 80);
  const int c = cli().socket(AF_INET);
  EXPECT_EQ(cli().connect(c, reinterpret_cast<sockaddr*>(&nowhere), sizeof nowhere), -1);
  EXPECT_EQ(errno, EHOSTUNREACH);
  EXPECT_EQ(ceng().l2_pending(), 0u);

  p.client.resolver.pending.insert("fd00:198:18::77");
  auto d6 = v6("fd00:198:18::77", 80);
  const int c6 = connect_in_progress(reinterpret_cast<sockaddr*>(&d6), sizeof d6, AF_INET6);
  p.step();
  p.client.resolver.failed.insert("fd00:198:18::77");
  ASSERT_GE(steps_until([&] { return (cli().poll_events(c6) & EPOLLERR) != 0; }, 20), 0);
  EXPECT_EQ(so_error(c6), EHOSTUNREACH);
}

}  // namespace
}  // namespace xdptcp::testing
