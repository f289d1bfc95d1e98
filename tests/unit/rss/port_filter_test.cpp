// TcpStack::set_port_filter: connect() offers each free ephemeral candidate to the filter, takes
// the first one it accepts, and falls back to the first free candidate after a bounded number of
// rejections (design brief §5: the engine's RSS port choice, with the hand-off as the safety net).
#include <gtest/gtest.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <set>
#include <vector>

#include "userstack/tcp/tcp_stack.h"

namespace xdptcp::tcp {
namespace {

class NullSink final : public PacketSink {
 public:
  std::span<std::uint8_t> tx_acquire() override { return buf_; }
  void tx_commit(std::size_t) override {}

 private:
  std::array<std::uint8_t, 2048> buf_{};
};

// Accepts the ports `accept` says yes to, and records every candidate it was asked about.
class RecordingFilter final : public PortFilter {
 public:
  explicit RecordingFilter(bool (*accept)(std::uint16_t)) : accept_(accept) {}
  bool accept_local_port(const wire::FourTuple& t) override {
    asked.push_back(t);
    return accept_(t.local.port);
  }
  std::vector<wire::FourTuple> asked;

 private:
  bool (*accept_)(std::uint16_t);
};

const wire::IpAddr kLocal = wire::IpAddr::v4(198, 18, 0, 1);
const wire::SockAddr kServer{wire::IpAddr::v4(198, 18, 0, 2), 80};
const Instant kNow{1'000'000'000};

StackConfig config(std::uint16_t lo, std::uint16_t hi) {
  StackConfig c;
  c.local_addrs = {kLocal};
  c.ephemeral_lo = lo;
  c.ephemeral_hi = hi;
  c.secret = 7;
  return c;
}

// Opens a socket and connects it to `remote`; returns its local port (0 on failure).
std::uint16_t open_to(TcpStack& s, const wire::SockAddr& remote) {
  const SocketId id = s.socket(wire::IpFamily::kV4);
  if (id < 0 || s.connect(id, remote, kNow) != -EINPROGRESS) return 0;
  wire::SockAddr local;
  s.getsockname(id, &local);
  return local.port;
}

TEST(PortFilter, Connect_TakesOnlyAcceptedPorts) {
  NullSink sink;
  TcpStack stack(config(40000, 40999), sink, kNow);
  RecordingFilter even([](std::uint16_t p) { return p % 2 == 0; });
  stack.set_port_filter(&even);
  std::set<std::uint16_t> ports;
  for (int i = 0; i < 50; ++i) {
    const std::uint16_t p = open_to(stack, kServer);
    ASSERT_NE(p, 0);
    EXPECT_EQ(p % 2, 0) << p;
    EXPECT_GE(p, 40000);
    EXPECT_LE(p, 40999);
    ports.insert(p);
  }
  EXPECT_EQ(ports.size(), 50u);  // each connection its own port
  EXPECT_EQ(stack.stats().port_filter_fallbacks, 0u);
  // The filter sees the whole candidate tuple: our address, the peer's address and port.
  ASSERT_FALSE(even.asked.empty());
  for (const auto& t : even.asked) {
    EXPECT_EQ(t.local.ip, kLocal);
    EXPECT_EQ(t.remote, kServer);
  }
}

// A port in use by a connection to the same peer is never offered to the filter.
TEST(PortFilter, Connect_BusyPortNotOffered) {
  NullSink sink;
  TcpStack stack(config(40000, 40009), sink, kNow);
  RecordingFilter only_40007([](std::uint16_t p) { return p == 40007; });
  stack.set_port_filter(&only_40007);
  EXPECT_EQ(open_to(stack, kServer), 40007);
  only_40007.asked.clear();
  const std::uint16_t second = open_to(stack, kServer);
  ASSERT_NE(second, 0);
  EXPECT_NE(second, 40007);
  for (const auto& t : only_40007.asked) EXPECT_NE(t.local.port, 40007);
  EXPECT_EQ(only_40007.asked.size(), 9u);  // the nine free ports, all rejected
  EXPECT_EQ(stack.stats().port_filter_fallbacks, 1u);
}

// No port in the range is acceptable: connect() still succeeds, with the port it would have
// chosen without a filter (the first free candidate in RFC 6056 order), and counts the fallback.
TEST(PortFilter, NoneAcceptable_FallsBackToFirstFreePort) {
  NullSink sink_a, sink_b;
  TcpStack filtered(config(40000, 40009), sink_a, kNow);
  TcpStack plain(config(40000, 40009), sink_b, kNow);
  RecordingFilter none([](std::uint16_t) { return false; });
  filtered.set_port_filter(&none);
  for (int i = 0; i < 3; ++i) {
    const std::uint16_t expected = open_to(plain, kServer);
    ASSERT_NE(expected, 0);
    EXPECT_EQ(open_to(filtered, kServer), expected);
  }
  EXPECT_EQ(filtered.stats().port_filter_fallbacks, 3u);
  EXPECT_EQ(none.asked.size(), 10u + 9u + 8u);  // every free port of the range, each time
}

// The search is bounded: in a large range where nothing is accepted, the filter is asked at most
// kPortFilterTries times before the fallback.
TEST(PortFilter, NoneAcceptable_SearchBounded) {
  NullSink sink;
  TcpStack stack(config(20000, 59999), sink, kNow);
  RecordingFilter none([](std::uint16_t) { return false; });
  stack.set_port_filter(&none);
  EXPECT_NE(open_to(stack, kServer), 0);
  EXPECT_EQ(none.asked.size(), PortFilter::kPortFilterTries);
  EXPECT_EQ(stack.stats().port_filter_fallbacks, 1u);
}

// Every port taken: the filter changes nothing, connect() fails as before.
TEST(PortFilter, RangeExhausted_AddrNotAvail) {
  NullSink sink;
  TcpStack stack(config(40000, 40001), sink, kNow);
  RecordingFilter all([](std::uint16_t) { return true; });
  stack.set_port_filter(&all);
  EXPECT_NE(open_to(stack, kServer), 0);
  EXPECT_NE(open_to(stack, kServer), 0);
  const SocketId id = stack.socket(wire::IpFamily::kV4);
  EXPECT_EQ(stack.connect(id, kServer, kNow), -EADDRNOTAVAIL);
}

// Removing the filter restores the plain choice.
TEST(PortFilter, Cleared_EveryFreePortAcceptable) {
  NullSink sink;
  TcpStack stack(config(40000, 40999), sink, kNow);
  RecordingFilter none([](std::uint16_t) { return false; });
  stack.set_port_filter(&none);
  stack.set_port_filter(nullptr);
  EXPECT_NE(open_to(stack, kServer), 0);
  EXPECT_TRUE(none.asked.empty());
  EXPECT_EQ(stack.stats().port_filter_fallbacks, 0u);
}

}  // namespace
}  // namespace xdptcp::tcp
