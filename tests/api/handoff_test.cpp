// The cross-engine hand-off (issue 11, item 1): a segment that reaches an engine without its flow
// is handed only to an engine known to own it (the flow directory, or an active open's port slice),
// at most once; a segment no engine is known to own is answered where it lands (one lookup, not one
// per engine, for a blind ACK or RST flood); a hand-off the owner cannot take (its ring is full) is
// dropped under a named reason; and the hand-off rings a sleeping owner's doorbell. Over two server
// engines of one stack with production configurations and a production-like random secret
// (tests/api/two_engines.h).
#include <poll.h>

#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/api/two_engines.h"

namespace xdptcp::testing {
namespace {

// An Ethernet frame from the client (198.18.0.2:sport) to the servers (198.18.0.1:dport) with a
// correct TCP checksum.
std::vector<std::uint8_t> client_frame(std::uint16_t sport, std::uint16_t dport, std::uint8_t flags,
                                       std::uint32_t seq, std::uint32_t ack) {
  wire::TcpRepr t;
  t.src_port = sport;
  t.dst_port = dport;
  t.seq = seq;
  t.ack = ack;
  t.flags = flags;
  t.window = 65535;
  const auto src = *wire::IpAddr::parse("198.18.0.2");
  const auto dst = *wire::IpAddr::parse("198.18.0.1");
  std::vector<std::uint8_t> f(14 + 20 + t.header_len());
  const std::span<std::uint8_t> out(f);
  wire::emit_ethernet({0x02, 0, 0, 0, 0, 1}, {0x02, 0, 0, 0, 0, 2}, wire::kEtherTypeIpv4, std::nullopt, out);
  wire::IpHeaderSpec ip{.src = src, .dst = dst, .payload_len = static_cast<std::uint16_t>(t.header_len())};
  wire::emit_ip(ip, out.subspan(14));
  wire::emit_tcp(t, out.subspan(34));
  wire::tcp_fill_checksum(src, dst, out.subspan(34));
  return f;
}

// A connection accepted by engine A (everything routed to queue 0), with its client and server fds.
struct Accepted {
  int client = -1;
  int server = -1;
};

Accepted connect_at_a(TwoEngines& t) {
  t.steer = [](const wire::TcpRepr&) { return 0; };
  Accepted c;
  c.client = t.open();
  for (int i = 0; i < 100 && c.server < 0; ++i) {
    t.step();
    c.server = t.server(0).accept(t.listener(0), nullptr, nullptr);
  }
  EXPECT_GE(c.server, 0);
  return c;
}

// Client writes `msg`; the server reads it at engine `e` and answers `reply`; true when both
// arrived whole.
bool exchange(TwoEngines& t, const Accepted& c, int e, const std::string& msg, const std::string& reply) {
  EXPECT_EQ(t.client().write(c.client, msg.data(), msg.size()), static_cast<ssize_t>(msg.size()));
  std::string got;
  std::string back;
  for (int i = 0; i < 300 && back.size() < reply.size(); ++i) {
    t.step();
    char buf[256];
    if (got.size() < msg.size()) {
      const ssize_t r = t.server(e).read(c.server, buf, sizeof buf);
      if (r > 0) got.append(buf, static_cast<std::size_t>(r));
      if (got == msg) {
        EXPECT_EQ(t.server(e).write(c.server, reply.data(), reply.size()),
                  static_cast<ssize_t>(reply.size()));
      }
    }
    const ssize_t r = t.client().read(c.client, buf, sizeof buf);
    if (r > 0) back.append(buf, static_cast<std::size_t>(r));
  }
  return got == msg && back == reply;
}

TEST(Handoff, PassiveFlowMovesToTheOtherQueue_HandedToItsOwnerOnce) {
  detail::StackImpl impl;
  describe_interface(impl);
  TwoEngines t(server_config(impl, 0, 2), server_config(impl, 1, 2), 0);
  const Accepted c = connect_at_a(t);
  ASSERT_TRUE(exchange(t, c, 0, "one", "ONE"));
  ASSERT_EQ(t.b().stats().handoffs_out, 0u);

  // The peer's RTO re-hashed the flow: its segments now reach B, which finds A in the directory.
  t.steer = [](const wire::TcpRepr&) { return 1; };
  EXPECT_TRUE(exchange(t, c, 0, "two", "TWO"));
  EXPECT_GE(t.b().stats().handoffs_out, 1u);
  EXPECT_EQ(t.a().stats().handoffs_in, t.b().stats().handoffs_out);
  EXPECT_EQ(t.a().stats().handoffs_out, 0u) << "a handed-off segment is not handed on";
  for (engine::Engine* e : {&t.a(), &t.b()}) {
    EXPECT_EQ(e->tcp().stats().rsts_out, 0u) << "engine " << e->id();
    EXPECT_EQ(e->tcp().stats().drop(tcp::DropReason::kHandoffRingFull), 0u);
  }
  EXPECT_EQ(t.b().tcp().stats().segments_in, 0u) << "B took none of the flow's segments for itself";
}

TEST(Handoff, BlindAckAndRstToUnknownFlows_AnsweredWhereTheyLand_NeverHandedOff) {
  detail::StackImpl impl;
  describe_interface(impl);
  TwoEngines t(server_config(impl, 0, 2), server_config(impl, 1, 2), 0);
  // A blind flood at B: ACKs and RSTs of flows no engine has, to the listening port and to a port
  // in A's ephemeral slice that A has no connection on.
  const std::uint16_t a_slice = detail::engine_config(impl, 0, 2).tcp.ephemeral_lo;
  constexpr int kAcks = 50;
  for (int i = 0; i < kAcks; ++i) {
    t.inject(
        1, client_frame(static_cast<std::uint16_t>(20000 + i), kPort, wire::tcp_flags::kAck, 1000u + i, 77));
    t.inject(1, client_frame(static_cast<std::uint16_t>(21000 + i), kPort, wire::tcp_flags::kRst, 5000, 0));
  }
  for (int i = 0; i < 5; ++i) t.step();
  EXPECT_EQ(t.b().stats().handoffs_out, 0u);
  EXPECT_EQ(t.a().tcp().stats().segments_in, 0u) << "A never saw the flood";
  EXPECT_EQ(t.b().tcp().stats().drop(tcp::DropReason::kBadCookie), static_cast<std::uint64_t>(kAcks));
  EXPECT_EQ(t.b().tcp().stats().drop(tcp::DropReason::kRstNoSocket), static_cast<std::uint64_t>(kAcks));
  EXPECT_EQ(t.b().tcp().stats().rsts_out, static_cast<std::uint64_t>(kAcks)) << "each blind ACK drew one RST";

  // A segment for a port in A's slice (A's active opens) is A's to answer: handed off once, and
  // A, which has no such connection, answers it without handing it back.
  t.inject(1, client_frame(80, a_slice, wire::tcp_flags::kAck, 1, 1));
  for (int i = 0; i < 5; ++i) t.step();
  EXPECT_EQ(t.b().stats().handoffs_out, 1u);
  EXPECT_EQ(t.a().stats().handoffs_in, 1u);
  EXPECT_EQ(t.a().stats().handoffs_out, 0u);
  EXPECT_EQ(t.a().tcp().stats().rsts_out, 1u);
}

TEST(Handoff, OwnersRingFull_DroppedUnderANamedReason_ThenFlowGoesOn) {
  detail::StackImpl impl;
  describe_interface(impl);
  TwoEngines t(server_config(impl, 0, 2), server_config(impl, 1, 2), 0);
  const Accepted c = connect_at_a(t);
  ASSERT_TRUE(exchange(t, c, 0, "one", "ONE"));
  const std::uint16_t sport = t.local_port(c.client);

  // B takes more of the flow's segments than A's inbox holds while A does not run: the rest are
  // dropped and counted under handoff_ring_full (and the engine's handoff_drops), none handed on.
  constexpr std::size_t kExtra = 40;
  const auto frame = client_frame(sport, kPort, wire::tcp_flags::kAck, 1, 1);
  for (std::size_t i = 0; i < engine::HandoffRing::kSlots + kExtra; ++i) {
    t.inject(1, frame);
    if (i % 64 == 63) t.b().poll();
  }
  t.b().poll();
  EXPECT_EQ(t.b().stats().handoffs_out, engine::HandoffRing::kSlots);
  EXPECT_EQ(t.b().tcp().stats().drop(tcp::DropReason::kHandoffRingFull), kExtra);
  EXPECT_EQ(t.b().stats().handoff_drops, kExtra);
  EXPECT_EQ(t.b().tcp().stats().rsts_out, 0u);

  // A drains its inbox (old, out-of-window ACKs: answered with ACKs, no harm), and the connection
  // goes on.
  EXPECT_TRUE(exchange(t, c, 0, "two", "TWO"));
  EXPECT_EQ(t.a().stats().handoffs_in, engine::HandoffRing::kSlots);
}

TEST(Handoff, SleepingOwner_HandOffRingsItsDoorbell) {
  detail::StackImpl impl;
  describe_interface(impl);
  TwoEngines t(server_config(impl, 0, 2), server_config(impl, 1, 2), 0);
  const Accepted c = connect_at_a(t);
  ASSERT_TRUE(exchange(t, c, 0, "one", "ONE"));
  const std::uint16_t sport = t.local_port(c.client);

  std::vector<int> fds;
  t.a().poll_fds(fds);
  std::vector<pollfd> pfds;
  for (int fd : fds) pfds.push_back({fd, POLLIN, 0});
  auto readable = [&] {
    for (auto& p : pfds) p.revents = 0;
    return ::poll(pfds.data(), pfds.size(), 0) > 0;
  };
  // A announces a sleep with nothing pending: its doorbell is quiet.
  ASSERT_TRUE(t.a().begin_sleep(Duration::seconds(1)).has_value());
  EXPECT_FALSE(readable());
  // B hands A a segment of A's flow while A sleeps: the doorbell rings.
  t.inject(1, client_frame(sport, kPort, wire::tcp_flags::kAck, 1, 1));
  t.b().poll();
  ASSERT_EQ(t.b().stats().handoffs_out, 1u);
  EXPECT_TRUE(readable());
  t.a().end_sleep();
  EXPECT_FALSE(readable()) << "end_sleep() reads the doorbell back";
  t.a().poll();
  EXPECT_EQ(t.a().stats().handoffs_in, 1u);
}

}  // namespace
}  // namespace xdptcp::testing
