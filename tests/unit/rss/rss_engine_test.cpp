// An engine with an RSS configuration picks, for its active opens, source ports whose replies the
// NIC would deliver to its own queue (design brief §5), over the in-memory link with a manual
// clock. The key is the RSS verification suite's; the indirection table is made up (four queues).
//
// There is no kernel integration test for this: veth, the only NIC the tests can create, has no
// RSS key or indirection table (ETHTOOL_GRSSH fails), so on veth the stack falls back to the
// cross-engine hand-off, which tests/api and the integration tests exercise.
#include <gtest/gtest.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "tests/support/engine/static_resolver.h"
#include "tests/support/sim/virtual_clock.h"
#include "userstack/engine/engine.h"
#include "userstack/engine/toeplitz.h"
#include "userstack/io/mem_link.h"

namespace xdptcp::engine {
namespace {

constexpr std::array<std::uint8_t, 40> kMsKey = {0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67,
                                                 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb,
                                                 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30,
                                                 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa};

const wire::IpAddr kServer4 = *wire::IpAddr::parse("198.18.0.1");
const wire::IpAddr kServer6 = *wire::IpAddr::parse("fd00:198:18::1");
const wire::IpAddr kClient4 = *wire::IpAddr::parse("198.18.0.2");
const wire::IpAddr kClient6 = *wire::IpAddr::parse("fd00:198:18::2");

// 128 entries spreading hashes over queues 0..3, as `ethtool -X eth0 equal 4` would.
RssConfig four_queues() {
  RssConfig rss;
  rss.key.assign(kMsKey.begin(), kMsKey.end());
  for (std::uint32_t i = 0; i < 128; ++i) rss.indirection.push_back(i % 4);
  return rss;
}

// A server engine (one engine, listening on port 80 for both families) and a client engine that
// is engine `id` of `count`, on the two ends of one in-memory link.
struct Rig {
  explicit Rig(RssConfig rss, std::uint32_t id = 1, std::uint32_t count = 4) : link(1024, 2048) {
    EngineConfig sc;
    sc.mac.bytes = {0x02, 0, 0, 0, 0, 1};
    sc.tcp.local_addrs = {kServer4, kServer6};
    sc.tcp.max_sockets = 256;
    sc.tcp.secret = 1;
    server = std::make_unique<Engine>(sc, link.a(), clock, &server_resolver);

    EngineConfig cc;
    cc.mac.bytes = {0x02, 0, 0, 0, 0, 2};
    cc.tcp.local_addrs = {kClient4, kClient6};
    cc.tcp.max_sockets = 256;
    cc.tcp.secret = 2;
    cc.tcp.ephemeral_lo = 40000;  // this engine's slice of the stack's range
    cc.tcp.ephemeral_hi = 47999;
    cc.id = id;
    cc.engine_count = count;
    cc.rss = std::move(rss);
    client = std::make_unique<Engine>(cc, link.b(), clock, &client_resolver);

    client_resolver.table[kServer4.to_string()] = sc.mac;
    client_resolver.table[kServer6.to_string()] = sc.mac;
    server_resolver.table[kClient4.to_string()] = cc.mac;
    server_resolver.table[kClient6.to_string()] = cc.mac;

    for (const wire::IpAddr& a : {kServer4, kServer6}) {
      tcp::TcpStack& s = server->tcp();
      const tcp::SocketId l = s.socket(a.family);
      EXPECT_EQ(s.bind(l, {a, 80}), 0);
      EXPECT_EQ(s.listen(l, 128), 0);
    }
  }

  // Opens `n` connections to `server_ip`:80 from the client engine; returns their socket ids.
  std::vector<tcp::SocketId> connect_many(const wire::IpAddr& server_ip, int n) {
    std::vector<tcp::SocketId> ids;
    for (int i = 0; i < n; ++i) {
      const tcp::SocketId s = client->tcp().socket(server_ip.family);
      EXPECT_EQ(client->connect(s, {server_ip, 80}), -EINPROGRESS);
      ids.push_back(s);
    }
    return ids;
  }

  void run(int iterations) {
    for (int i = 0; i < iterations; ++i) {
      client->poll();
      server->poll();
      clock.advance(Duration::millis(1));
    }
  }

  wire::FourTuple tuple_of(tcp::SocketId s) const {
    wire::FourTuple t;
    client->tcp().getsockname(s, &t.local);
    client->tcp().getpeername(s, &t.remote);
    return t;
  }

  sim::VirtualClock clock{Instant{1'000'000'000}};
  io::MemLink link;
  testing::StaticResolver server_resolver, client_resolver;
  std::unique_ptr<Engine> server, client;
};

// Every active open's source port hashes, for the reply direction, to the client's queue (1);
// the handshakes complete over the link, and no connect() had to fall back.
TEST(RssEngine, Connect_SourcePortsHashToOwnQueue) {
  const RssConfig rss = four_queues();
  Rig rig(rss);
  std::vector<tcp::SocketId> ids = rig.connect_many(kServer4, 32);
  const std::vector<tcp::SocketId> ids6 = rig.connect_many(kServer6, 32);
  ids.insert(ids.end(), ids6.begin(), ids6.end());
  rig.run(10);
  std::set<std::uint16_t> ports;
  for (tcp::SocketId s : ids) {
    ASSERT_EQ(rig.client->tcp().state(s), tcp::TcpState::kEstablished);
    const wire::FourTuple t = rig.tuple_of(s);
    EXPECT_GE(t.local.port, 40000);
    EXPECT_LE(t.local.port, 47999);
    EXPECT_EQ(rss.rx_queue(t), 1u) << t.local.to_string() << " <- " << t.remote.to_string();
    ports.insert(t.local.port);
  }
  EXPECT_GT(ports.size(), 1u);
  EXPECT_EQ(rig.client->tcp().stats().port_filter_fallbacks, 0u);
  EXPECT_EQ(rig.server->tcp().stats().conns_accepted, 64u);
}

// The same with the client as engine 3: the choice follows the engine's own queue.
TEST(RssEngine, Connect_OtherEngineOtherQueue) {
  const RssConfig rss = four_queues();
  Rig rig(rss, 3, 4);
  for (tcp::SocketId s : rig.connect_many(kServer4, 16)) {
    EXPECT_EQ(rss.rx_queue(rig.tuple_of(s)), 3u);
  }
}

// One engine: nothing to steer between, so no filter; the ports land on every queue of the table
// (16 connections all hashing to queue 1 by chance would be a 4^-16 event).
TEST(RssEngine, SingleEngine_NoPortFilter) {
  const RssConfig rss = four_queues();
  Rig rig(rss, 0, 1);
  std::set<std::uint32_t> queues;
  for (tcp::SocketId s : rig.connect_many(kServer4, 16)) queues.insert(*rss.rx_queue(rig.tuple_of(s)));
  EXPECT_GT(queues.size(), 1u);
}

// No RSS configuration (veth): connect() picks ports as before, without searching or falling back.
TEST(RssEngine, NoRssConfig_PlainChoice) {
  Rig rig(RssConfig{});
  const RssConfig rss = four_queues();
  std::set<std::uint32_t> queues;
  for (tcp::SocketId s : rig.connect_many(kServer4, 16)) queues.insert(*rss.rx_queue(rig.tuple_of(s)));
  EXPECT_GT(queues.size(), 1u);
  EXPECT_EQ(rig.client->tcp().stats().port_filter_fallbacks, 0u);
}

// A table that never points at this engine's queue (e.g. `ethtool -X eth0 equal 2` on four
// engines): no port could pass, so the filter is not installed and connect() never searches.
TEST(RssEngine, TableWithoutOwnQueue_NoPortFilter) {
  RssConfig rss = four_queues();
  for (auto& q : rss.indirection) q %= 2;  // queues 0 and 1 only
  Rig rig(rss, 3, 4);
  for (tcp::SocketId s : rig.connect_many(kServer4, 8)) EXPECT_NE(rig.tuple_of(s).local.port, 0);
  EXPECT_EQ(rig.client->tcp().stats().port_filter_fallbacks, 0u);
}

}  // namespace
}  // namespace xdptcp::engine
