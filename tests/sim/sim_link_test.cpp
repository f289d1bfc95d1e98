// Unit tests of the simulator's link (tests/support/sim/sim_link.h) and virtual clock: timing
// with delay and bandwidth, the statistics of each impairment for a fixed seed, the bounds
// (bottleneck queue, slots) and determinism. No TCP involved.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "tests/support/sim/sim_link.h"
#include "tests/support/sim/virtual_clock.h"
#include "userstack/wire/ip.h"
#include "userstack/wire/tcp_header.h"

namespace xdptcp::sim {
namespace {

struct Delivery {
  Instant at;
  std::uint32_t dst;
  std::vector<std::uint8_t> bytes;
  bool operator==(const Delivery&) const = default;
};

// A packet whose first 4 bytes are its sequence number, the rest a pattern.
std::vector<std::uint8_t> make_packet(std::uint32_t seq, std::size_t len) {
  std::vector<std::uint8_t> p(len);
  for (std::size_t i = 0; i < len; ++i) p[i] = static_cast<std::uint8_t>(seq * 7 + i);
  std::memcpy(p.data(), &seq, sizeof seq);
  return p;
}

std::uint32_t seq_of(const std::vector<std::uint8_t>& p) {
  std::uint32_t s;
  std::memcpy(&s, p.data(), sizeof s);
  return s;
}

// Delivers everything, jumping the clock from one delivery to the next.
std::vector<Delivery> drain(SimLink& link, VirtualClock& clock) {
  std::vector<Delivery> out;
  while (auto t = link.next_delivery()) {
    clock.set(*t);
    link.deliver_due([&](std::uint32_t dst, std::span<const std::uint8_t> b, Instant at) {
      out.push_back({at, dst, {b.begin(), b.end()}});
    });
  }
  return out;
}

TEST(VirtualClock, SetBackwards_Ignored) {
  VirtualClock c(Instant{100});
  c.set(Instant{50});
  EXPECT_EQ(c.now().ns, 100);
  c.advance(Duration::nanos(5));
  c.set(Instant{200});
  EXPECT_EQ(c.now().ns, 200);
}

TEST(SimLink, Delay_DeliversAfterDelayInOrder) {
  VirtualClock clock;
  LinkConfig cfg;
  cfg.delay = Duration::millis(10);
  SimLink link(cfg, clock);
  for (std::uint32_t i = 0; i < 5; ++i) ASSERT_TRUE(link.send(make_packet(i, 100), 7));
  clock.advance(Duration::millis(9));
  EXPECT_EQ(link.deliver_due([](auto, auto, auto) {}), 0u) << "nothing may arrive before the delay";
  auto d = drain(link, clock);
  ASSERT_EQ(d.size(), 5u);
  for (std::uint32_t i = 0; i < 5; ++i) {
    EXPECT_EQ(d[i].at, Instant{} + Duration::millis(10));
    EXPECT_EQ(d[i].dst, 7u);
    EXPECT_EQ(d[i].bytes, make_packet(i, 100));
  }
  EXPECT_EQ(link.stats().delivered, 5u);
  EXPECT_EQ(link.free_slots(), cfg.slots);
}

TEST(SimLink, Bandwidth_SerialisesBackToBack) {
  VirtualClock clock;
  LinkConfig cfg;
  cfg.delay = Duration::millis(2);
  cfg.bandwidth_bps = 8'000'000;  // 1000 bytes take 1 ms
  SimLink link(cfg, clock);
  for (std::uint32_t i = 0; i < 4; ++i) ASSERT_TRUE(link.send(make_packet(i, 1000), 0));
  auto d = drain(link, clock);
  ASSERT_EQ(d.size(), 4u);
  for (std::uint32_t i = 0; i < 4; ++i) {
    EXPECT_EQ(d[i].at, Instant{} + Duration::millis(2 + 1 + i)) << "packet " << i;
    EXPECT_EQ(seq_of(d[i].bytes), i);
  }
  // An idle link starts serialising at once: a packet sent later is not queued behind old ones.
  clock.set(Instant{} + Duration::seconds(1));
  ASSERT_TRUE(link.send(make_packet(9, 500), 0));
  d = drain(link, clock);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].at, Instant{} + Duration::seconds(1) + Duration::micros(500) + Duration::millis(2));
}

TEST(SimLink, BottleneckQueueFull_TailDrops) {
  VirtualClock clock;
  LinkConfig cfg;
  cfg.bandwidth_bps = 8'000'000;  // 1 ms per 1000-byte packet
  cfg.queue_limit = 10;
  SimLink link(cfg, clock);
  for (std::uint32_t i = 0; i < 25; ++i) link.send(make_packet(i, 1000), 0);
  EXPECT_EQ(link.stats().queue_drops, 15u);
  EXPECT_EQ(link.in_flight(), 10u);
  // After 3.5 ms three packets have left the queue: exactly three more fit.
  clock.set(Instant{} + Duration::micros(3500));
  for (std::uint32_t i = 25; i < 30; ++i) link.send(make_packet(i, 1000), 0);
  EXPECT_EQ(link.stats().queue_drops, 17u);
  auto d = drain(link, clock);
  ASSERT_EQ(d.size(), 13u);
  for (std::uint32_t i = 0; i < 10; ++i) EXPECT_EQ(seq_of(d[i].bytes), i) << "the first 10 were kept";
  for (std::uint32_t i = 10; i < 13; ++i) EXPECT_EQ(seq_of(d[i].bytes), i + 15) << "then 25, 26, 27";
}

TEST(SimLink, AllSlotsBusy_AcquireFailsUntilDelivery) {
  VirtualClock clock;
  LinkConfig cfg;
  cfg.delay = Duration::millis(1);
  cfg.slots = 4;
  SimLink link(cfg, clock);
  for (std::uint32_t i = 0; i < 4; ++i) ASSERT_TRUE(link.send(make_packet(i, 64), 0));
  EXPECT_TRUE(link.tx_acquire().empty());
  EXPECT_FALSE(link.send(make_packet(4, 64), 0));
  EXPECT_EQ(link.stats().tx_busy, 2u);
  EXPECT_EQ(drain(link, clock).size(), 4u);
  EXPECT_FALSE(link.tx_acquire().empty());
}

TEST(SimLink, AcquireTwice_SameBufferAndCommitWithoutAcquireIgnored) {
  VirtualClock clock;
  SimLink link(LinkConfig{}, clock);
  link.tx_commit(10, 0);
  EXPECT_EQ(link.stats().sent, 0u);
  auto a = link.tx_acquire();
  auto b = link.tx_acquire();
  EXPECT_EQ(a.data(), b.data());
  EXPECT_EQ(a.size(), LinkConfig{}.max_packet);
  link.tx_commit(10, 0);
  EXPECT_EQ(link.stats().sent, 1u);
}

TEST(SimLink, Oversize_Refused) {
  VirtualClock clock;
  LinkConfig cfg;
  cfg.max_packet = 100;
  SimLink link(cfg, clock);
  EXPECT_FALSE(link.send(make_packet(0, 101), 0));
  EXPECT_TRUE(link.send(make_packet(0, 100), 0));
  EXPECT_EQ(link.stats().oversize, 1u);
}

TEST(SimLink, Loss_RateWithinBoundsForFixedSeed) {
  VirtualClock clock;
  LinkConfig cfg;
  cfg.seed = 42;
  cfg.loss = 0.05;
  SimLink link(cfg, clock);
  constexpr int kN = 40'000;
  std::uint64_t got = 0;
  for (int i = 0; i < kN; ++i) {
    link.send(make_packet(static_cast<std::uint32_t>(i), 40), 0);
    got += link.deliver_due([](auto, auto, auto) {});
  }
  // Binomial: mean 2000, sigma ~44; +-250 is more than 5 sigma.
  EXPECT_NEAR(static_cast<double>(link.stats().lost), 2000.0, 250.0);
  EXPECT_EQ(got + link.stats().lost, static_cast<std::uint64_t>(kN));
}

TEST(SimLink, Duplication_EveryCopyIdenticalRightBehind) {
  VirtualClock clock;
  LinkConfig cfg;
  cfg.seed = 3;
  cfg.duplicate = 0.25;
  cfg.delay = Duration::millis(1);
  SimLink link(cfg, clock);
  constexpr std::uint32_t kN = 4000;
  std::vector<Delivery> d;
  for (std::uint32_t i = 0; i < kN; ++i) {
    link.send(make_packet(i, 60), 0);
    if (i % 100 == 99) {
      auto part = drain(link, clock);
      d.insert(d.end(), part.begin(), part.end());
    }
  }
  const std::uint64_t dups = link.stats().duplicated;
  EXPECT_NEAR(static_cast<double>(dups), 1000.0, 150.0);
  ASSERT_EQ(d.size(), kN + dups);
  std::vector<int> seen(kN, 0);
  std::uint32_t last = 0;
  for (std::size_t i = 0; i < d.size(); ++i) {
    const std::uint32_t s = seq_of(d[i].bytes);
    EXPECT_EQ(d[i].bytes, make_packet(s, 60));
    EXPECT_GE(s, last) << "duplication alone must not reorder";
    last = s;
    ++seen[s];
  }
  for (std::uint32_t s = 0; s < kN; ++s) EXPECT_GE(seen[s], 1);
}

TEST(SimLink, Reorder_HeldBackPacketsOvertaken) {
  VirtualClock clock;
  LinkConfig cfg;
  cfg.seed = 5;
  cfg.reorder = 0.1;
  cfg.reorder_delay = Duration::millis(3);
  cfg.delay = Duration::millis(1);
  SimLink link(cfg, clock);
  constexpr std::uint32_t kN = 2000;
  std::vector<Delivery> d;
  // One packet every 0.5 ms: a held-back packet is overtaken by about six others.
  for (std::uint32_t i = 0; i < kN; ++i) {
    link.send(make_packet(i, 60), 0);
    clock.advance(Duration::micros(500));
    link.deliver_due([&](std::uint32_t dst, std::span<const std::uint8_t> b, Instant at) {
      d.push_back({at, dst, {b.begin(), b.end()}});
    });
  }
  auto rest = drain(link, clock);
  d.insert(d.end(), rest.begin(), rest.end());
  ASSERT_EQ(d.size(), kN) << "reordering neither loses nor duplicates";
  std::size_t inversions = 0;
  std::vector<bool> seen(kN, false);
  for (std::size_t i = 0; i < d.size(); ++i) {
    const std::uint32_t s = seq_of(d[i].bytes);
    EXPECT_FALSE(seen[s]);
    seen[s] = true;
    if (i > 0 && s < seq_of(d[i - 1].bytes)) ++inversions;
    if (i > 0) {
      EXPECT_GE(d[i].at, d[i - 1].at) << "delivered in time order";
    }
  }
  EXPECT_NEAR(static_cast<double>(link.stats().reordered), 200.0, 70.0);
  EXPECT_GT(inversions, 100u);
}

TEST(SimLink, Jitter_WithinBoundsAndNeverReorders) {
  VirtualClock clock;
  LinkConfig cfg;
  cfg.seed = 11;
  cfg.delay = Duration::millis(10);
  cfg.jitter = Duration::millis(4);
  SimLink link(cfg, clock);
  std::vector<Delivery> d;
  std::vector<Instant> sent_at;
  for (std::uint32_t i = 0; i < 500; ++i) {
    sent_at.push_back(clock.now());
    link.send(make_packet(i, 60), 0);
    clock.advance(Duration::millis(1));
    link.deliver_due([&](std::uint32_t dst, std::span<const std::uint8_t> b, Instant at) {
      d.push_back({at, dst, {b.begin(), b.end()}});
    });
  }
  auto rest = drain(link, clock);
  d.insert(d.end(), rest.begin(), rest.end());
  ASSERT_EQ(d.size(), 500u);
  bool varied = false;
  for (std::uint32_t i = 0; i < 500; ++i) {
    EXPECT_EQ(seq_of(d[i].bytes), i);
    const Duration owd = d[i].at - sent_at[i];
    EXPECT_GE(owd, Duration::millis(10));
    // At most the jitter, plus the wait behind an earlier packet that drew more jitter.
    EXPECT_LE(owd, Duration::millis(14));
    if (owd != d[0].at - sent_at[0]) varied = true;
  }
  EXPECT_TRUE(varied);
}

TEST(SimLink, Corruption_AltersExactlyOneByte) {
  VirtualClock clock;
  LinkConfig cfg;
  cfg.seed = 9;
  cfg.corrupt = 1.0;
  SimLink link(cfg, clock);
  for (std::uint32_t i = 0; i < 1000; ++i) {
    const auto p = make_packet(i, 4 + i % 200);
    link.send(p, 0);
    link.deliver_due([&](std::uint32_t, std::span<const std::uint8_t> b, Instant) {
      ASSERT_EQ(b.size(), p.size());
      std::size_t diff = 0;
      for (std::size_t k = 0; k < b.size(); ++k) diff += b[k] != p[k];
      EXPECT_EQ(diff, 1u) << "packet " << i;
    });
  }
  EXPECT_EQ(link.stats().corrupted, 1000u);
}

// The receiver must catch every corruption: a one-byte flip anywhere in a valid IPv4/TCP packet
// fails the IPv4 header checksum (RFC 791 §3.1), the TCP checksum (RFC 9293 §3.1), or parsing.
TEST(SimLink, Corruption_CaughtByIpOrTcpChecksum) {
  const wire::IpAddr src = wire::IpAddr::v4(198, 18, 0, 1);
  const wire::IpAddr dst = wire::IpAddr::v4(198, 18, 0, 2);
  std::vector<std::uint8_t> pkt(20 + 20 + 100);
  wire::TcpRepr tcp;
  tcp.src_port = 1234;
  tcp.dst_port = 80;
  tcp.seq = 1000;
  tcp.ack = 2000;
  tcp.flags = wire::tcp_flags::kAck | wire::tcp_flags::kPsh;
  tcp.window = 65535;
  ASSERT_EQ(wire::emit_tcp(tcp, std::span(pkt).subspan(20)), 20u);
  for (std::size_t i = 40; i < pkt.size(); ++i) pkt[i] = static_cast<std::uint8_t>(i * 13);
  wire::tcp_fill_checksum(src, dst, std::span(pkt).subspan(20));
  wire::IpHeaderSpec ip{src, dst, wire::kIpProtoTcp, static_cast<std::uint16_t>(pkt.size() - 20)};
  ASSERT_EQ(wire::emit_ip(ip, pkt), 20u);
  auto accepted = [](std::span<const std::uint8_t> b) {
    auto ipp = wire::parse_ip(b);
    if (!ipp.ok() || ipp.value().protocol != wire::kIpProtoTcp) return false;
    return wire::tcp_checksum_ok(ipp.value().src, ipp.value().dst, ipp.value().payload);
  };
  ASSERT_TRUE(accepted(pkt));

  VirtualClock clock;
  LinkConfig cfg;
  cfg.seed = 17;
  cfg.corrupt = 1.0;
  SimLink link(cfg, clock);
  int caught = 0;
  for (int i = 0; i < 5000; ++i) {
    link.send(pkt, 0);
    link.deliver_due(
        [&](std::uint32_t, std::span<const std::uint8_t> b, Instant) { caught += !accepted(b); });
  }
  EXPECT_EQ(caught, 5000);
}

std::vector<Delivery> impaired_trace(std::uint64_t seed) {
  VirtualClock clock;
  LinkConfig cfg;
  cfg.seed = seed;
  cfg.delay = Duration::millis(5);
  cfg.jitter = Duration::millis(2);
  cfg.bandwidth_bps = 10'000'000;
  cfg.queue_limit = 8;
  cfg.loss = 0.05;
  cfg.duplicate = 0.05;
  cfg.reorder = 0.05;
  cfg.corrupt = 0.05;
  SimLink link(cfg, clock);
  std::vector<Delivery> out;
  for (std::uint32_t i = 0; i < 3000; ++i) {
    link.send(make_packet(i, 40 + (i * 37) % 1400), i % 3);
    clock.advance(Duration::micros(100 + (i % 7) * 150));
    link.deliver_due([&](std::uint32_t dst, std::span<const std::uint8_t> b, Instant at) {
      out.push_back({at, dst, {b.begin(), b.end()}});
    });
  }
  auto rest = drain(link, clock);
  out.insert(out.end(), rest.begin(), rest.end());
  return out;
}

TEST(SimLink, SameSeed_IdenticalTrace) {
  const auto a = impaired_trace(1234);
  const auto b = impaired_trace(1234);
  ASSERT_FALSE(a.empty());
  EXPECT_TRUE(a == b);
  EXPECT_FALSE(a == impaired_trace(1235)) << "a different seed should give a different trace";
}

TEST(SimLink, SendFromDeliveryCallback_DueAtOnceDeliveredInSameCall) {
  VirtualClock clock;
  SimLink link(LinkConfig{}, clock);  // zero delay
  link.send(make_packet(0, 10), 0);
  std::vector<std::uint32_t> order;
  link.deliver_due([&](std::uint32_t, std::span<const std::uint8_t> b, Instant) {
    std::uint32_t s;
    std::memcpy(&s, b.data(), 4);
    order.push_back(s);
    if (s < 3) link.send(make_packet(s + 1, 10), 0);
  });
  EXPECT_EQ(order, (std::vector<std::uint32_t>{0, 1, 2, 3}));
  EXPECT_EQ(link.free_slots(), LinkConfig{}.slots);
}

}  // namespace
}  // namespace xdptcp::sim
