// The engines of one Stack share one TCP secret (ISNs, SYN cookies, timestamp offsets): a flow's
// segments can reach any engine of the stack (hand-off, design brief §5), so a SYN cookie one engine
// issues is checked by another: by the engine the final ACK reaches, with no hand-off (issue 11,
// item 1). Two engines with their own secrets answer such a handshake with a RST.
// The engines: tests/api/two_engines.h.
#include <cstring>
#include <string>

#include <gtest/gtest.h>

#include "tests/api/two_engines.h"

namespace xdptcp::testing {
namespace {

TEST(StackSecret, EnginesOfOneStack_OneNonzeroSecret_EachStackItsOwn) {
  detail::StackImpl one;
  detail::StackImpl two;
  describe_interface(one);
  describe_interface(two);
  for (unsigned n : {1u, 2u, 4u}) {
    for (unsigned i = 0; i < n; ++i) {
      const engine::EngineConfig ec = detail::engine_config(one, i, n);
      EXPECT_NE(ec.tcp.secret, 0u) << "engine " << i << " of " << n << " would draw its own";
      EXPECT_EQ(ec.tcp.secret, detail::engine_config(one, 0, n).tcp.secret) << "engine " << i << " of " << n;
    }
  }
  EXPECT_NE(detail::engine_config(one, 0, 2).tcp.secret, detail::engine_config(two, 0, 2).tcp.secret)
      << "two stacks drew the same secret";
}

// With two engines, the engine that checks a cookie is the one its final ACK reaches: no engine is
// known to own the flow (a cookie keeps no state), so it is not handed off; the listener there
// checks the cookie by the secret the engines share.
struct CookieCase {
  int ack_queue;
  const char* name;
};

void PrintTo(const CookieCase& c, std::ostream* os) {
  *os << c.name;
}

class StackSecretCookie : public ::testing::TestWithParam<CookieCase> {};

TEST_P(StackSecretCookie, SynFloodAtA_CookieCheckedWhereTheAckLands_Connects) {
  detail::StackImpl impl;
  describe_interface(impl);
  TwoEngines t(server_config(impl, 0, 2), server_config(impl, 1, 2), GetParam().ack_queue);
  t.syn_flood();
  ASSERT_EQ(t.a().tcp().stats().cookies_sent, 0u) << "the flood itself fits the SYN backlog";

  const Outcome o = t.cookie_connection();
  EXPECT_EQ(t.a().tcp().stats().cookies_sent, 1u);
  engine::Engine& checker = GetParam().ack_queue == 0 ? t.a() : t.b();
  EXPECT_EQ(checker.tcp().stats().cookies_accepted, 1u);
  EXPECT_EQ(o.accepted_on, GetParam().ack_queue);
  EXPECT_EQ(o.client_error, 0) << std::strerror(o.client_error);
  EXPECT_TRUE(o.echoed);
  for (engine::Engine* e : {&t.a(), &t.b()}) {
    EXPECT_EQ(e->tcp().stats().drop(tcp::DropReason::kBadCookie), 0u);
    EXPECT_EQ(e->tcp().stats().rsts_out, 0u);
    EXPECT_EQ(e->stats().handoffs_out, 0u) << "engine " << e->id();
  }
}

INSTANTIATE_TEST_SUITE_P(FinalAck, StackSecretCookie,
                         ::testing::Values(CookieCase{0, "BackAtA"}, CookieCase{1, "AtB"}),
                         [](const auto& p) { return std::string(p.param.name); });

// The bug class the shared secret removes: engines that drew their own secrets (as every engine
// did before Stack gave them one) reset a connection whose cookie one issued and the other checks.
TEST(StackSecret, EnginesWithTheirOwnSecrets_CookieCheckedByTheOther_Reset) {
  detail::StackImpl own_a;
  detail::StackImpl own_b;
  describe_interface(own_a);
  describe_interface(own_b);
  TwoEngines t(server_config(own_a, 0, 2), server_config(own_b, 1, 2), /*ack_queue=*/1);
  t.syn_flood();
  const Outcome o = t.cookie_connection();
  EXPECT_EQ(t.a().tcp().stats().cookies_sent, 1u);
  EXPECT_EQ(t.b().tcp().stats().cookies_accepted, 0u);
  EXPECT_EQ(t.b().tcp().stats().drop(tcp::DropReason::kBadCookie), 1u);
  EXPECT_EQ(o.accepted_on, -1);
  EXPECT_EQ(o.client_error, ECONNRESET) << std::strerror(o.client_error);
}

}  // namespace
}  // namespace xdptcp::testing

namespace xdptcp {
namespace {

// A bad StackOptions value gets a message naming it, before anything is attached or opened
// (loopback: an interface every machine has, no rights needed to read its facts).
TEST(StackOptionsCheck, UnknownProfile_RefusedNamingIt) {
  StackOptions o;
  o.iface = "lo";
  o.profile = "bsd";
  std::string error;
  EXPECT_EQ(Stack::create(o, &error), nullptr);
  EXPECT_NE(error.find("profile: 'bsd'"), std::string::npos) << error;
}

}  // namespace
}  // namespace xdptcp
