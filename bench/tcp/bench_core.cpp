// xdptcp-bench-core: the TCP core's own costs, two TcpStacks on a lossless zero-delay simulated
// link (tests/support/sim), no I/O: what one data segment costs to send and receive in a bulk
// transfer, what one request/response costs on a persistent connection, and what one short
// connection (handshake, 64 B request, 64 B response, close) costs. The simulator's share
// (a heap push/pop per packet) is included and small.
//
// Run: build/bin/xdptcp-bench-core [--benchmark_filter=...]. Per-item times are per segment
// (Bulk) or per transaction (the others); "segs" counts every segment both stacks sent.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "tests/support/sim/sim_network.h"
#include "tests/support/sim/tcp_apps.h"

namespace {

using namespace xdptcp;
using sim::LinkConfig;
using sim::SimNetwork;

const wire::IpAddr kServerIp = wire::IpAddr::v4(198, 18, 30, 1);
const wire::IpAddr kClientIp = wire::IpAddr::v4(198, 18, 30, 2);

tcp::StackConfig stack_config(const wire::IpAddr& ip) {
  tcp::StackConfig c;
  c.local_addrs = {ip};
  c.max_sockets = 256;
  c.time_wait = Duration::seconds(1);  // short, so the short-connection loop does not pile them up
  c.secret = 7;
  return c;
}

// Bulk: the client writes as fast as the window allows, the server reads everything. One item
// is one data segment (client -> server), its ACK traffic included.
void BM_BulkDataSegment(benchmark::State& state) {
  SimNetwork net(SimNetwork::Options{});
  net.add_stack(stack_config(kServerIp), LinkConfig{});
  net.add_stack(stack_config(kClientIp), LinkConfig{});
  tcp::TcpStack& server = net.stack(0);
  tcp::TcpStack& client = net.stack(1);
  const wire::SockAddr srv{kServerIp, 5001};
  const tcp::SocketId l = server.socket(wire::IpFamily::kV4);
  server.bind(l, srv);
  server.listen(l, 4);
  const tcp::SocketId c = client.socket(wire::IpFamily::kV4);
  client.connect(c, srv, net.now());
  tcp::SocketId a = -1;
  std::vector<std::uint8_t> buf(std::size_t{64} * 1024, 0x42);
  std::uint64_t received = 0;
  net.set_app([&](Instant now) {
    if (a < 0) a = server.accept(l, nullptr);
    while (client.send(c, buf, now) > 0) {
    }
    if (a >= 0) {
      for (ssize_t r; (r = server.recv(a, buf, now)) > 0;) received += static_cast<std::uint64_t>(r);
    }
  });
  std::uint64_t target = 1 << 20;
  const std::function<bool()> reached = [&] { return received >= target; };
  if (!net.run_until(reached, net.now() + Duration::seconds(60))) state.SkipWithError("warm-up failed");
  const std::uint64_t data_segs0 = client.stats().segments_out;
  const std::uint64_t segs0 = net.segments_out();
  const std::uint64_t bytes0 = received;
  for (auto _ : state) {
    target = received + std::uint64_t{64} * 1024;  // about 45 segments of 1460 bytes
    if (!net.run_until(reached, net.now() + Duration::seconds(60))) {
      state.SkipWithError("transfer stalled");
      break;
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(client.stats().segments_out - data_segs0));
  state.SetBytesProcessed(static_cast<std::int64_t>(received - bytes0));
  state.counters["segs"] = static_cast<double>(net.segments_out() - segs0);
}
BENCHMARK(BM_BulkDataSegment);

// Request/response on persistent connections: one item is one 64 B request and its 64 B response.
void BM_RequestResponse64(benchmark::State& state) {
  SimNetwork net(SimNetwork::Options{});
  net.add_stack(stack_config(kServerIp), LinkConfig{});
  net.add_stack(stack_config(kClientIp), LinkConfig{});
  const wire::SockAddr srv{kServerIp, 5002};
  sim::RrServer rr(net.stack(0), srv, 64, 64, 8);
  sim::RrClient client(net.stack(1), srv, 64, 64, 1, ~std::uint64_t{0} >> 1, true);
  net.set_app([&](Instant now) {
    rr.poll(now);
    client.poll(now);
  });
  std::uint64_t target = 100;
  const std::function<bool()> reached = [&] { return client.completed() >= target; };
  if (!net.run_until(reached, net.now() + Duration::seconds(60))) state.SkipWithError("warm-up failed");
  const std::uint64_t done0 = client.completed();
  const std::uint64_t segs0 = net.segments_out();
  for (auto _ : state) {
    target = client.completed() + 1;
    if (!net.run_until(reached, net.now() + Duration::seconds(60))) {
      state.SkipWithError("transaction stalled");
      break;
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(client.completed() - done0));
  state.counters["segs"] = static_cast<double>(net.segments_out() - segs0);
}
BENCHMARK(BM_RequestResponse64);

// Short connections in sequence: one item is connect, 64 B request, 64 B response, close (the
// client closes first, so TIME-WAIT is on its side; 10 ms of virtual time pass per connection so
// TIME-WAIT entries expire and are counted in the cost, as they would be in a server's life).
void BM_ShortConnection64(benchmark::State& state) {
  SimNetwork net(SimNetwork::Options{});
  net.add_stack(stack_config(kServerIp), LinkConfig{});
  net.add_stack(stack_config(kClientIp), LinkConfig{});
  const wire::SockAddr srv{kServerIp, 5003};
  sim::RrServer rr(net.stack(0), srv, 64, 64, 64);
  sim::RrClient client(net.stack(1), srv, 64, 64, 1, ~std::uint64_t{0} >> 1, false);
  net.set_app([&](Instant now) {
    rr.poll(now);
    client.poll(now);
  });
  std::uint64_t target = 0;
  const std::function<bool()> reached = [&] { return client.completed() >= target && rr.active() == 0; };
  const std::uint64_t segs0 = net.segments_out();
  for (auto _ : state) {
    target = client.completed() + 1;
    if (!net.run_until(reached, net.now() + Duration::seconds(60)) || client.failed() != 0) {
      state.SkipWithError("transaction failed");
      break;
    }
    net.clock().advance(Duration::millis(10));
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(client.completed()));
  state.counters["segs"] = static_cast<double>(net.segments_out() - segs0);
  state.counters["conns_left"] =
      static_cast<double>(net.stack(0).connection_count() + net.stack(1).connection_count());
}
BENCHMARK(BM_ShortConnection64);

}  // namespace

BENCHMARK_MAIN();
