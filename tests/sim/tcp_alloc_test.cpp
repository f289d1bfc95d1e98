// The per-packet path allocates nothing (design brief §2, style "no per-packet allocation"): this
// executable replaces the global operator new/delete to count allocations, warms two stacks up
// over a lossless simulated link, then asserts that a steady-state bulk transfer and a
// steady-state request/response loop perform zero allocations over thousands of segments.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <vector>

#include "tests/support/sim/sim_network.h"
#include "tests/support/sim/tcp_apps.h"

namespace {
std::atomic<std::uint64_t> g_allocations{0};

void* counted_alloc(std::size_t n, std::size_t align) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (n == 0) n = 1;
  void* p = align > alignof(std::max_align_t) ? std::aligned_alloc(align, (n + align - 1) / align * align)
                                              : std::malloc(n);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
}  // namespace

void* operator new(std::size_t n) {
  return counted_alloc(n, 0);
}
void* operator new[](std::size_t n) {
  return counted_alloc(n, 0);
}
void* operator new(std::size_t n, std::align_val_t a) {
  return counted_alloc(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a) {
  return counted_alloc(n, static_cast<std::size_t>(a));
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return counted_alloc(n, 0);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return counted_alloc(n, 0);
  } catch (...) {
    return nullptr;
  }
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}

namespace xdptcp::sim {
namespace {

using tcp::SocketId;

const wire::IpAddr kServerIp = wire::IpAddr::v4(198, 18, 11, 1);
const wire::IpAddr kClientIp = wire::IpAddr::v4(198, 18, 11, 2);

tcp::StackConfig stack_config(const wire::IpAddr& ip) {
  tcp::StackConfig c;
  c.local_addrs = {ip};
  c.max_sockets = 64;
  return c;
}

TEST(TcpAlloc, CounterWorks) {
  const std::uint64_t before = g_allocations.load();
  auto* v = new std::vector<int>(10);
  delete v;
  EXPECT_EQ(g_allocations.load() - before, 2u) << "the replaced operator new must be the one in use";
}

TEST(TcpAlloc, BulkTransferSteadyState_ZeroAllocationsPerSegment) {
  SimNetwork net(SimNetwork::Options{});
  net.add_stack(stack_config(kServerIp), LinkConfig{});
  net.add_stack(stack_config(kClientIp), LinkConfig{});
  tcp::TcpStack& server = net.stack(0);
  tcp::TcpStack& client = net.stack(1);
  const wire::SockAddr srv{kServerIp, 5001};
  const SocketId l = server.socket(wire::IpFamily::kV4);
  ASSERT_EQ(server.bind(l, srv), 0);
  ASSERT_EQ(server.listen(l, 4), 0);
  const SocketId c = client.socket(wire::IpFamily::kV4);
  client.connect(c, srv, net.now());
  SocketId a = -1;
  std::vector<std::uint8_t> buf(64 * 1024, 0x42);
  std::uint64_t received = 0;
  net.set_app([&](Instant now) {
    if (a < 0) a = server.accept(l, nullptr);
    while (client.send(c, buf, now) > 0) {
    }
    if (a >= 0) {
      for (ssize_t r; (r = server.recv(a, buf, now)) > 0;) received += static_cast<std::uint64_t>(r);
    }
  });
  const std::function<bool()> warm = [&] { return received >= 8u << 20; };
  ASSERT_TRUE(net.run_until(warm, net.now() + Duration::seconds(60)));

  std::uint64_t target = 0;
  const std::function<bool()> measured = [&] { return net.segments_out() >= target; };
  const std::uint64_t seg0 = net.segments_out();
  const std::uint64_t bytes0 = received;
  target = seg0 + 5000;
  const std::uint64_t alloc0 = g_allocations.load();
  const bool ok = net.run_until(measured, net.now() + Duration::seconds(60));
  const std::uint64_t allocs = g_allocations.load() - alloc0;  // read before any gtest macro runs
  ASSERT_TRUE(ok);
  EXPECT_EQ(allocs, 0u) << "over " << net.segments_out() - seg0 << " segments and " << received - bytes0
                        << " bytes";
  EXPECT_GT(received - bytes0, 2u << 20);
  EXPECT_GE(net.segments_out() - seg0, 5'000u);
}

TEST(TcpAlloc, RequestResponseSteadyState_ZeroAllocationsPerSegment) {
  SimNetwork net(SimNetwork::Options{});
  net.add_stack(stack_config(kServerIp), LinkConfig{});
  net.add_stack(stack_config(kClientIp), LinkConfig{});
  const wire::SockAddr srv{kServerIp, 5002};
  RrServer rr(net.stack(0), srv, 64, 64, 8);
  ASSERT_EQ(rr.setup_error(), 0);
  RrClient client(net.stack(1), srv, 64, 64, 4, 1'000'000'000, true);
  net.set_app([&](Instant now) {
    rr.poll(now);
    client.poll(now);
  });
  std::uint64_t target = 2000;
  const std::function<bool()> reached = [&] { return client.completed() >= target; };
  ASSERT_TRUE(net.run_until(reached, net.now() + Duration::seconds(60)));  // warm-up

  const std::uint64_t seg0 = net.segments_out();
  const std::uint64_t done0 = client.completed();
  target = done0 + 5000;
  const std::uint64_t alloc0 = g_allocations.load();
  const bool ok = net.run_until(reached, net.now() + Duration::seconds(600));
  const std::uint64_t allocs = g_allocations.load() - alloc0;  // read before any gtest macro runs
  ASSERT_TRUE(ok);
  EXPECT_EQ(allocs, 0u) << "over " << net.segments_out() - seg0 << " segments, " << client.completed() - done0
                        << " transactions";
  EXPECT_EQ(client.failed(), 0u);
  EXPECT_GE(net.segments_out() - seg0, 10'000u) << "a request and a response each way per transaction";
}

// A new connection per transaction (the short-connection benchmark's pattern): once the TCB
// slots are built and buffer chunks are warm, opening, using and closing a connection
// allocates nothing (rings are objects with inline chunk tables; chunks come from the pool).
TEST(TcpAlloc, ShortConnectionsSteadyState_ZeroAllocationsPerConnection) {
  SimNetwork net(SimNetwork::Options{});
  net.add_stack(stack_config(kServerIp), LinkConfig{});
  net.add_stack(stack_config(kClientIp), LinkConfig{});
  const wire::SockAddr srv{kServerIp, 5003};
  RrServer rr(net.stack(0), srv, 64, 64, 8);
  ASSERT_EQ(rr.setup_error(), 0);
  RrClient client(net.stack(1), srv, 64, 64, 4, 1'000'000'000, false);
  net.set_app([&](Instant now) {
    rr.poll(now);
    client.poll(now);
  });
  // Warm-up: past the client's TCB bound (2 * 64 + 1024), so every slot is built and TIME-WAITs
  // are being recycled.
  std::uint64_t target = 2000;
  const std::function<bool()> reached = [&] { return client.completed() >= target; };
  ASSERT_TRUE(net.run_until(reached, net.now() + Duration::seconds(600)));

  const std::uint64_t done0 = client.completed();
  target = done0 + 2000;
  const std::uint64_t alloc0 = g_allocations.load();
  const bool ok = net.run_until(reached, net.now() + Duration::seconds(600));
  const std::uint64_t allocs = g_allocations.load() - alloc0;  // read before any gtest macro runs
  ASSERT_TRUE(ok);
  EXPECT_EQ(allocs, 0u) << "over " << client.completed() - done0 << " connections";
  EXPECT_EQ(client.failed(), 0u);
}

}  // namespace
}  // namespace xdptcp::sim
