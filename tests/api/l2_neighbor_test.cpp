// The neighbour model (issue 11 item 3; docs/ARCHITECTURE.md): two engines over the in-memory link,
// virtual time. A forged frame with the peer's source address does not redirect replies; a segment
// TCP accepted does teach a new MAC; a send with no neighbour waits while the "kernel" (the
// StaticResolver) resolves it and leaves once it does, or is dropped with a count after the timeout
// and retransmitted by TCP; peers behind a gateway share its entry; a peer that talks to us with an
// 802.1Q tag is answered with it.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "tests/api/api_harness.h"
#include "userstack/wire/checksum.h"
#include "userstack/wire/ip.h"
#include "userstack/wire/tcp_header.h"

namespace xdptcp::testing {
namespace {

const wire::MacAddr kAttacker{{0x02, 0xBA, 0xD0, 0, 0, 0x66}};
const wire::MacAddr kNewClientMac{{0x02, 0, 0, 0, 0, 0x22}};

struct Frame {
  std::vector<std::uint8_t> bytes;
  bool a_to_b = false;  // server -> client
};

// ApiPair with hooks: every frame is recorded; a client->server frame may be injected by the test.
class L2NeighborTest : public ::testing::Test {
 protected:
  explicit L2NeighborTest(const std::function<void(engine::EngineConfig&)>& server_tweak = {},
                          const std::function<void(engine::EngineConfig&)>& client_tweak = {})
      : link(1024, 2048),
        server(link.a(), clock, ip("198.18.0.1"), ip("fd00:198:18::1"), 1, server_tweak),
        client(link.b(), clock, ip("198.18.0.2"), ip("fd00:198:18::2"), 2, client_tweak) {
    client.resolver.table["198.18.0.1"] = server.mac;
    server.resolver.table["198.18.0.2"] = client.mac;
    link.set_filter([this](std::span<std::uint8_t> f, bool a_to_b) {
      frames.push_back({{f.begin(), f.end()}, a_to_b});
      return true;
    });
  }

  static wire::IpAddr ip(const char* t) { return *wire::IpAddr::parse(t); }
  Context& srv() { return *server.ctx; }
  Context& cli() { return *client.ctx; }
  engine::Engine& seng() { return *server.eng; }

  void step(Duration d = Duration::millis(1)) {
    server.eng->poll();
    client.eng->poll();
    clock.advance(d);
  }
  template <typename Pred>
  int steps_until(Pred pred, int max = 5000) {
    for (int i = 0; i < max; ++i) {
      if (pred()) return i;
      step();
    }
    return pred() ? max : -1;
  }

  // An established connection: client fd, server fd.
  struct Fds {
    int c = -1;
    int s = -1;
  };
  Fds established(std::uint16_t port = 80) {
    const int l = srv().socket(AF_INET);
    auto a = v4("198.18.0.1", port);
    EXPECT_EQ(srv().bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(srv().listen(l, 16), 0);
    const int c = cli().socket(AF_INET);
    EXPECT_EQ(cli().connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a), -1);
    int s = -1;
    EXPECT_GE(steps_until([&] {
                if (s < 0) s = srv().accept(l, nullptr, nullptr);
                return s >= 0 && (cli().poll_events(c) & EPOLLOUT) != 0;
              }),
              0);
    for (int i = 0; i < 5; ++i) step();  // the handshake's last ACK is in
    return {c, s};
  }

  // Server writes `msg`; steps until the client has read it all (-1: it did not arrive in `max`).
  int deliver(int c, int s, const std::string& msg, int max = 5000) {
    EXPECT_EQ(srv().write(s, msg.data(), msg.size()), static_cast<ssize_t>(msg.size()));
    std::string got;
    return steps_until(
        [&] {
          char buf[4096];
          for (ssize_t r; (r = cli().read(c, buf, sizeof buf)) > 0;)
            got.append(buf, static_cast<std::size_t>(r));
          return got == msg;
        },
        max);
  }

  // The last client->server frame whose TCP flags match `want` exactly, or nullopt.
  std::optional<std::vector<std::uint8_t>> last_client_frame(std::uint8_t want) const {
    for (std::size_t i = frames.size(); i-- > 0;) {  // the newest first
      const Frame& f = frames[i];
      if (f.a_to_b) continue;
      const auto eth = wire::parse_ethernet(f.bytes);
      if (!eth) continue;
      const auto iph = wire::parse_ip(eth->payload);
      if (!iph) continue;
      const auto tcp = wire::parse_tcp(iph->payload);
      if (tcp && tcp->repr.flags == want && tcp->payload.empty()) return f.bytes;
    }
    return std::nullopt;
  }

  // A 16-bit word of the TCP header of an untagged IPv4 frame (no IP options), and its update with
  // the checksum adjusted incrementally (RFC 1624 eqn. 3).
  static std::uint16_t tcp_word(const std::vector<std::uint8_t>& f, std::size_t off) {
    const std::size_t at = wire::kEthHeader + wire::kIpv4MinHeader + off;
    return static_cast<std::uint16_t>(f[at] << 8 | f[at + 1]);
  }
  static void set_tcp_word(std::vector<std::uint8_t>& f, std::size_t off, std::uint16_t v) {
    const std::uint16_t old = tcp_word(f, off);
    const std::uint16_t hc = tcp_word(f, 16);
    std::uint32_t sum = static_cast<std::uint16_t>(~hc) + static_cast<std::uint16_t>(~old) + v;
    sum = (sum & 0xFFFF) + (sum >> 16);
    sum = (sum & 0xFFFF) + (sum >> 16);
    const auto put = [&](std::size_t o, std::uint16_t w) {
      const std::size_t at = wire::kEthHeader + wire::kIpv4MinHeader + o;
      f[at] = static_cast<std::uint8_t>(w >> 8);
      f[at + 1] = static_cast<std::uint8_t>(w);
    };
    put(off, v);
    put(16, static_cast<std::uint16_t>(~sum));
  }

  // Sends `frame` (Ethernet) from the client's side of the link with source MAC `src`.
  void inject(std::vector<std::uint8_t> frame, const wire::MacAddr& src) {
    std::copy(src.bytes.begin(), src.bytes.end(), frame.begin() + 6);
    const std::span<std::uint8_t> out = link.b().tx_acquire();
    ASSERT_GE(out.size(), frame.size());
    std::copy(frame.begin(), frame.end(), out.begin());
    link.b().tx_commit(frame.size());
  }

  // The Ethernet header of the last server->client frame.
  struct EthHead {
    wire::MacAddr dst;
    std::optional<std::uint16_t> vlan_tci;
  };
  std::optional<EthHead> last_server_eth() {
    for (std::size_t i = frames.size(); i-- > 0;) {  // the newest first
      const Frame& f = frames[i];
      if (!f.a_to_b) continue;
      const auto eth = wire::parse_ethernet(f.bytes);
      if (!eth) return std::nullopt;
      return EthHead{eth->dst, eth->vlan_tci};
    }
    return std::nullopt;
  }

  sim::VirtualClock clock{Instant{1'000'000'000}};
  io::MemLink link;
  Host server;
  Host client;
  std::vector<Frame> frames;
};

TEST_F(L2NeighborTest, ForgedSourceFrames_DoNotRedirectReplies) {
  // The client's SYN, kept for replay: a well-formed segment from the client's address.
  const Fds fds = established();
  const int c = fds.c;
  const int s = fds.s;
  const auto syn = last_client_frame(wire::tcp_flags::kSyn);
  ASSERT_TRUE(syn.has_value());
  const std::uint64_t learned = seng().stats().l2_learned;
  // An attacker replays it with its own MAC: the SYN of an established connection is answered with
  // a challenge ACK (RFC 5961 §4), not accepted. Before issue 11 item 3 the engine learned
  // 198.18.0.2 -> attacker from this frame, before TCP looked at it.
  inject(*syn, kAttacker);
  step();
  ASSERT_TRUE(seng().neighbors().lookup(ip("198.18.0.2")).has_value());
  EXPECT_EQ(seng().neighbors().lookup(ip("198.18.0.2"))->mac, client.mac);
  // A SYN to the listener from a new port (a new flow, not yet validated): no learning either.
  auto other = *syn;
  set_tcp_word(other, 0, static_cast<std::uint16_t>(tcp_word(other, 0) + 1));  // the source port
  inject(other, kAttacker);
  step();
  EXPECT_EQ(seng().neighbors().lookup(ip("198.18.0.2"))->mac, client.mac);
  EXPECT_EQ(seng().stats().l2_learned, learned);
  // Replies go to the client, and arrive.
  ASSERT_GE(deliver(c, s, "after the forgery"), 0);
  const auto eth = last_server_eth();
  ASSERT_TRUE(eth.has_value());
  EXPECT_EQ(eth->dst, client.mac);
  for (const Frame& f : frames) {
    if (f.a_to_b) EXPECT_NE(wire::parse_ethernet(f.bytes)->dst, kAttacker);
  }
}

TEST_F(L2NeighborTest, AcceptedSegment_NewMac_Learned_RepliesFollowIt) {
  const Fds fds = established();
  const int c = fds.c;
  const int s = fds.s;
  ASSERT_GE(deliver(c, s, "hello"), 0);
  for (int i = 0; i < 50; ++i) step();  // the client's ACK of it is in
  // The client's last pure ACK, now from a new MAC (a failover, a replaced NIC): it is in window
  // for the established connection, so TCP accepts it and the engine learns the new address.
  const auto ack = last_client_frame(wire::tcp_flags::kAck);
  ASSERT_TRUE(ack.has_value());
  const std::uint64_t learned = seng().stats().l2_learned;
  inject(*ack, kNewClientMac);
  step();
  EXPECT_EQ(seng().stats().l2_learned, learned + 1);
  EXPECT_EQ(seng().neighbors().lookup(ip("198.18.0.2"))->mac, kNewClientMac);
  ASSERT_GE(deliver(c, s, "to the new MAC"), 0);
  // The first data frame after the change went to the new MAC (the client's own ACKs since then
  // may have moved it back: the link delivers whatever the destination).
  bool saw = false;
  for (const Frame& f : frames) {
    if (f.a_to_b && wire::parse_ethernet(f.bytes)->dst == kNewClientMac) saw = true;
  }
  EXPECT_TRUE(saw);
}

TEST_F(L2NeighborTest, SendWithoutNeighbour_WaitsForResolution_SentOnceResolved) {
  const Fds fds = established();
  const int c = fds.c;
  const int s = fds.s;
  // The entry goes (an eviction), and the kernel now needs to resolve the client again.
  ASSERT_TRUE(seng().neighbors().forget(ip("198.18.0.2")));
  server.resolver.table.erase("198.18.0.2");
  server.resolver.pending.insert("198.18.0.2");
  const std::string msg = "waits for ARP";
  ASSERT_EQ(srv().write(s, msg.data(), msg.size()), static_cast<ssize_t>(msg.size()));
  for (int i = 0; i < 5; ++i) step();
  EXPECT_EQ(seng().l2_pending(), 1u) << "the send asked the resolver, without a frame from the peer";
  EXPECT_GE(seng().stats().l2_held, 1u);
  EXPECT_EQ(seng().stats().tx_no_neighbor, 0u);
  // Resolved: the held segment leaves at the next poll of the pending next hops, long before
  // TCP's retransmission timer (200 ms at least) would have sent it again.
  server.resolver.pending.erase("198.18.0.2");
  server.resolver.table["198.18.0.2"] = client.mac;
  std::string got;
  const int steps = steps_until([&] {
    char buf[64];
    for (ssize_t r; (r = cli().read(c, buf, sizeof buf)) > 0;) got.append(buf, static_cast<std::size_t>(r));
    return got == msg;
  });
  ASSERT_GE(steps, 0);
  EXPECT_LE(steps, 15);
  EXPECT_GE(seng().stats().l2_held_sent, 1u);
  EXPECT_EQ(seng().stats().l2_held_drops, 0u);
  EXPECT_EQ(seng().tcp().stats().retransmits, 0u);
}

TEST_F(L2NeighborTest, SendWithoutNeighbour_TimesOut_DroppedWithCount_TcpRetransmitsLater) {
  const Fds fds = established();
  const int c = fds.c;
  const int s = fds.s;
  ASSERT_TRUE(seng().neighbors().forget(ip("198.18.0.2")));
  server.resolver.table.erase("198.18.0.2");
  server.resolver.pending.insert("198.18.0.2");  // the kernel never answers...
  const std::string msg = "survives a lost neighbour";
  ASSERT_EQ(srv().write(s, msg.data(), msg.size()), static_cast<ssize_t>(msg.size()));
  for (int i = 0; i < 3200; ++i) step();  // past l2_timeout (3 s)
  EXPECT_GE(seng().stats().l2_held_drops, 1u) << "dropped after the timeout, and counted";
  EXPECT_EQ(seng().stats().l2_held_sent, 0u);
  EXPECT_GE(seng().tcp().stats().retransmits, 1u);  // TCP never saw it acknowledged
  // ... until it does: TCP's next retransmission asks again (held until the answer comes, or sent at
  // once when the kernel answers at once), and the data arrives.
  const int lookups = server.resolver.lookups + server.resolver.polls;
  server.resolver.pending.erase("198.18.0.2");
  server.resolver.table["198.18.0.2"] = client.mac;
  std::string got;
  ASSERT_GE(steps_until(
                [&] {
                  char buf[64];
                  for (ssize_t r; (r = cli().read(c, buf, sizeof buf)) > 0;)
                    got.append(buf, static_cast<std::size_t>(r));
                  return got == msg;
                },
                20000),
            0);
  EXPECT_GT(server.resolver.lookups + server.resolver.polls, lookups);
}

// A SYN flood from on-link sources the kernel cannot resolve (spoofed): each SYN-ACK needs a next
// hop. The first kMaxPendingNeighbors start a resolution each and wait in the hold queue; past the
// bound a SYN-ACK is not held, counted (l2_pending_full, tx_no_neighbor), and costs no resolver call
// (no system call per SYN of the flood). The genuine client keeps being served.
TEST_F(L2NeighborTest, SynFloodFromUnresolvableSources_PendingBounded_RestCounted_NoResolverCalls) {
  const Fds fds = established();
  const auto syn = last_client_frame(wire::tcp_flags::kSyn);
  ASSERT_TRUE(syn.has_value());
  constexpr std::size_t kMax = engine::Engine::kMaxPendingNeighbors;
  constexpr std::size_t kFlood = kMax + 20;
  const int lookups_before = server.resolver.lookups;
  for (std::size_t i = 0; i < kFlood; ++i) {
    auto f = *syn;
    // Source 198.18.1.<i> (the IPv4 source's last two bytes), checksums updated incrementally
    // (RFC 1624): the IP header's and the TCP pseudo-header's.
    const std::size_t src = wire::kEthHeader + 12 + 2;
    const auto old = static_cast<std::uint16_t>(f[src] << 8 | f[src + 1]);
    const auto now = static_cast<std::uint16_t>(1 << 8 | static_cast<std::uint8_t>(i));
    f[src] = static_cast<std::uint8_t>(now >> 8);
    f[src + 1] = static_cast<std::uint8_t>(now);
    const auto fix = [&](std::size_t at) {
      const auto c = static_cast<std::uint16_t>(f[at] << 8 | f[at + 1]);
      const std::uint16_t n = wire::csum_update16(c, old, now);
      f[at] = static_cast<std::uint8_t>(n >> 8);
      f[at + 1] = static_cast<std::uint8_t>(n);
    };
    fix(wire::kEthHeader + 10);
    fix(wire::kEthHeader + wire::kIpv4MinHeader + 16);
    server.resolver.pending.insert("198.18.1." + std::to_string(i));
    inject(f, kAttacker);
  }
  for (int i = 0; i < 3; ++i) step();  // rx bursts of up to rx_batch (64) frames
  EXPECT_EQ(seng().l2_pending(), kMax);
  EXPECT_EQ(server.resolver.lookups - lookups_before, static_cast<int>(kMax));
  EXPECT_EQ(seng().stats().l2_pending_full, kFlood - kMax);
  EXPECT_EQ(seng().stats().tx_no_neighbor, kFlood - kMax);
  EXPECT_EQ(seng().stats().l2_held, kMax);
  EXPECT_EQ(seng().stats().l2_learned, 0u);
  EXPECT_EQ(seng().neighbors().size(), 1u);  // the client only
  // The genuine client is still served, at once.
  EXPECT_GE(deliver(fds.c, fds.s, "still here", 20), 0);
  // The flood's sources never resolve: after l2_timeout their held SYN-ACKs are dropped and
  // counted. (The SYN-ACKs' retransmissions start new resolutions meanwhile, still at most
  // kMaxPendingNeighbors at once.)
  for (int i = 0; i < 3100; ++i) step();
  EXPECT_GE(seng().stats().l2_held_drops, kMax);
  EXPECT_LE(seng().l2_pending(), kMax);
  EXPECT_EQ(seng().stats().l2_held_sent, 0u);
}

// The client reaches the server through a gateway (198.18.0.254, a route of its table), whose
// MAC is the server's here. Its 802.1Q tag (VLAN 100) comes with every frame it sends.
class L2GatewayVlanTest : public L2NeighborTest {
 protected:
  L2GatewayVlanTest()
      : L2NeighborTest({}, [](engine::EngineConfig& ec) {
          ec.vlan_tci = kTci;
          ec.routes.add({ip("198.18.0.0"), 24, std::nullopt});
          ec.routes.add({ip("0.0.0.0"), 0, ip("198.18.0.254")});
          ec.routes.add({ip("198.18.0.1"), 32, ip("198.18.0.254")});
        }) {
    client.resolver.table.erase("198.18.0.1");
    client.resolver.table["198.18.0.254"] = server.mac;
  }
  static constexpr std::uint16_t kTci = 100;
};

TEST_F(L2GatewayVlanTest, RoutedPeer_KeyedByGateway_TaggedInTaggedOut) {
  const Fds fds = established();
  const int c = fds.c;
  const int s = fds.s;
  // The client's cache holds the gateway, not the destination.
  EXPECT_TRUE(client.eng->neighbors().lookup(ip("198.18.0.254")).has_value());
  EXPECT_FALSE(client.eng->neighbors().lookup(ip("198.18.0.1")).has_value());
  EXPECT_EQ(client.eng->neighbors().size(), 1u);
  EXPECT_EQ(client.eng->next_hop(ip("198.19.5.5")), ip("198.18.0.254"));
  // The client's frames reach the (untagged) server tagged; the server answers the validated
  // flow with the same tag.
  ASSERT_GE(deliver(c, s, "tagged"), 0);
  const auto n = seng().neighbors().lookup(ip("198.18.0.2"));
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->vlan_tci, std::optional<std::uint16_t>(kTci));
  const auto eth = last_server_eth();
  ASSERT_TRUE(eth.has_value());
  EXPECT_EQ(eth->vlan_tci, std::optional<std::uint16_t>(kTci));
  EXPECT_EQ(eth->dst, client.mac);
  // Bidirectional data keeps working with the tag moved in front of each packet.
  const std::string up = "from the client";
  ASSERT_EQ(cli().write(c, up.data(), up.size()), static_cast<ssize_t>(up.size()));
  std::string got;
  ASSERT_GE(steps_until([&] {
              char buf[64];
              for (ssize_t r; (r = srv().read(s, buf, sizeof buf)) > 0;)
                got.append(buf, static_cast<std::size_t>(r));
              return got == up;
            }),
            0);
}

TEST_F(L2GatewayVlanTest, GatewayChangesMac_FollowedAfterTheTtl_WithoutAFrameFromIt) {
  const Fds fds = established();
  const int c = fds.c;
  const int s = fds.s;
  // A failover: the kernel now resolves the gateway to another MAC. The entry learned from it is
  // good for neighbor_ttl (30 s); nothing from the gateway would change it before (routed: the
  // client learns nothing from the frames it forwards).
  const wire::MacAddr failover{{0x02, 0, 0, 0, 0, 0x99}};
  client.resolver.table["198.18.0.254"] = failover;
  const auto last_client_dst = [&] {
    for (std::size_t i = frames.size(); i-- > 0;) {
      if (!frames[i].a_to_b) return wire::parse_ethernet(frames[i].bytes)->dst;
    }
    return wire::MacAddr{};
  };
  const auto send = [&](const std::string& msg) {
    ASSERT_EQ(cli().write(c, msg.data(), msg.size()), static_cast<ssize_t>(msg.size()));
    std::string got;
    ASSERT_GE(steps_until([&] {
                char buf[64];
                for (ssize_t r; (r = srv().read(s, buf, sizeof buf)) > 0;)
                  got.append(buf, static_cast<std::size_t>(r));
                return got == msg;
              }),
              0);
  };
  send("before");
  EXPECT_EQ(last_client_dst(), server.mac);
  for (int i = 0; i < 31; ++i) step(Duration::seconds(1));
  send("after");
  EXPECT_EQ(last_client_dst(), failover);
  EXPECT_EQ(client.eng->neighbors().lookup(ip("198.18.0.254"))->mac, failover);
}

}  // namespace
}  // namespace xdptcp::testing
