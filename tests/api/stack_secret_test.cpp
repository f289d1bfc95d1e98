// The engines of one Stack share one TCP secret (ISNs, SYN cookies, timestamp offsets): a flow's
// segments can reach any engine of the stack (hand-off, design brief §5), so a SYN cookie one engine
// issues is checked by another. Two engines with their own secrets answer such a handshake with a
// RST.
//
// The engines' configurations come from the production path: detail::engine_config over a
// detail::StackImpl, as Stack::run and Stack::drive build them. Both live in api/src/stack.cpp, so
// this test compiles that file in (a StackImpl without an interface: no port, no kernel object).
// Then two server engines (queues 0 and 1, one in-memory link each) and a client engine whose port
// sends each frame into the queue the test chooses (the test plays the NIC's RSS), all on one
// virtual clock in one thread.
#include "api/src/stack.cpp"  // IWYU pragma: keep

#include <arpa/inet.h>

#include <cstring>
#include <functional>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "tests/api/api_harness.h"
#include "userstack/wire/ethernet.h"
#include "userstack/wire/ip.h"
#include "userstack/wire/tcp_header.h"

namespace xdptcp::testing {
namespace {

constexpr std::uint16_t kPort = 80;
constexpr std::size_t kSynBacklog = 2;  // SYN-RECEIVED entries per engine; then SYN cookies

// The client's side of a two-queue NIC: receives what either server engine sends, and sends each
// frame into the queue route() picks (-1: the frame is lost).
class SteeredIo final : public io::PacketIo {
 public:
  using Route = std::function<int(std::span<const std::uint8_t> frame)>;
  SteeredIo(io::PacketIo& q0, io::PacketIo& q1, Route route)
      : rx_({&q0, &q1}, true), queues_{&q0, &q1}, route_(std::move(route)), tx_(q0.frame_capacity()) {}

  std::size_t rx_burst(std::span<io::RxFrame> out) override { return rx_.rx_burst(out); }
  void rx_release(std::span<const io::RxFrame> frames) override { rx_.rx_release(frames); }
  std::span<std::uint8_t> tx_acquire() override { return tx_; }
  void tx_commit(std::size_t len) override {
    const std::span<const std::uint8_t> frame(tx_.data(), len);
    const int q = route_(frame);
    if (q < 0) return;
    const std::span<std::uint8_t> out = queues_[static_cast<std::size_t>(q)]->tx_acquire();
    if (out.size() < len) return;
    std::memcpy(out.data(), frame.data(), len);
    queues_[static_cast<std::size_t>(q)]->tx_commit(len);
  }
  void tx_flush() override {}
  void wait(Duration /*timeout*/) override {}
  std::size_t frame_capacity() const override { return tx_.size(); }
  io::IoStats stats() const override { return {}; }

 private:
  io::MultiQueueIo rx_;
  std::array<io::PacketIo*, 2> queues_;
  Route route_;
  std::vector<std::uint8_t> tx_;
};

// The TCP header of an Ethernet + IP frame, or nullopt.
std::optional<wire::TcpRepr> tcp_of(std::span<const std::uint8_t> frame) {
  const auto eth = wire::parse_ethernet(frame);
  if (!eth) return std::nullopt;
  const auto ip = wire::parse_ip(eth->payload);
  if (!ip || ip->protocol != wire::kIpProtoTcp) return std::nullopt;
  const auto tcp = wire::parse_tcp(ip->payload);
  if (!tcp) return std::nullopt;
  return tcp->repr;
}

// What Stack::create fills in from the interface (one address, its MAC and MTU) and the kernel's
// ephemeral range, without opening anything.
void describe_interface(detail::StackImpl& impl) {
  impl.info.mac = {0x02, 0, 0, 0, 0, 1};
  impl.info.mtu = 1500;
  impl.addrs = {*wire::IpAddr::parse("198.18.0.1")};
  impl.ephemeral = {40000, 65535};
  impl.opts.max_sockets = 64;
}

// Engine i of n of a stack, configured by detail::engine_config (the production path), with a
// small SYN backlog so that a few SYNs make it answer with cookies.
engine::EngineConfig server_config(const detail::StackImpl& impl, unsigned i, unsigned n) {
  engine::EngineConfig ec = detail::engine_config(impl, i, n);
  ec.tcp.syn_backlog = kSynBacklog;
  return ec;
}

struct Outcome {
  int accepted_on = -1;  // the engine whose listener accepted the connection
  int client_error = 0;  // the client socket's SO_ERROR at the end
  bool echoed = false;   // the client's "ping" reached the server and its "pong" came back
};

// Server engines A (queue 0) and B (queue 1) built from configs `a` and `b`, listening on port 80
// on both (listeners are replicated), and a client. A SYN flood to A fills A's SYN backlog (the
// flood's final ACKs are lost), so A answers the next SYN with a cookie; that connection's final ACK
// and everything after it goes to queue `ack_queue`.
class TwoEngines {
 public:
  TwoEngines(const engine::EngineConfig& a, const engine::EngineConfig& b, int ack_queue)
      : ack_queue_(ack_queue),
        link_a_(1024, 2048),
        link_b_(1024, 2048),
        client_io_(link_a_.b(), link_b_.b(), [this](std::span<const std::uint8_t> f) { return route(f); }),
        eng_a_(a, link_a_.a(), clock_, &server_resolver_),
        eng_b_(b, link_b_.a(), clock_, &server_resolver_),
        impl_a_(eng_a_, 0, nullptr, nullptr),
        impl_b_(eng_b_, 1, nullptr, nullptr),
        ctx_a_(&impl_a_),
        ctx_b_(&impl_b_),
        client_(client_io_, clock_, *wire::IpAddr::parse("198.18.0.2"),
                *wire::IpAddr::parse("fd00:198:18::2"), 2) {
    const std::array<engine::Engine*, 2> all{&eng_a_, &eng_b_};
    eng_a_.set_peers(all);
    eng_b_.set_peers(all);
    client_.resolver.table["198.18.0.1"] = a.mac;
    // The kernel's neighbour table as the servers see it: an engine learns no MAC from a SYN.
    server_resolver_.table["198.18.0.2"] = client_.mac;
    for (Context* ctx : {&ctx_a_, &ctx_b_}) listeners_.push_back(listen(*ctx));
  }

  engine::Engine& a() { return eng_a_; }
  engine::Engine& b() { return eng_b_; }

  void step() {
    eng_a_.poll();
    eng_b_.poll();
    client_.eng->poll();
    clock_.advance(Duration::millis(1));
  }

  // Opens kSynBacklog connections whose SYNs reach A and whose final ACKs are lost.
  void syn_flood() {
    for (std::size_t i = 0; i < kSynBacklog; ++i) flood_ports_.insert(local_port(open()));
    for (int i = 0; i < 20; ++i) step();
  }

  // One more connection (A answers it with a cookie), then ping and pong over it.
  Outcome cookie_connection() {
    Outcome o;
    Context& cli = *client_.ctx;
    const int c = open();
    int s = -1;
    for (int i = 0; i < 200 && s < 0; ++i) {
      step();
      for (int e = 0; e < 2 && s < 0; ++e) {
        s = (e == 0 ? ctx_a_ : ctx_b_).accept(listeners_[static_cast<std::size_t>(e)], nullptr, nullptr);
        if (s >= 0) o.accepted_on = e;
      }
    }
    if (s >= 0) {
      Context& srv = o.accepted_on == 0 ? ctx_a_ : ctx_b_;
      EXPECT_EQ(cli.write(c, "ping", 4), 4);
      std::string got;
      std::string back;
      for (int i = 0; i < 200 && back.size() < 4; ++i) {
        step();
        char buf[16];
        if (got.size() < 4) {
          const ssize_t r = srv.read(s, buf, sizeof buf);
          if (r > 0) got.append(buf, static_cast<std::size_t>(r));
          if (got == "ping") {
            EXPECT_EQ(srv.write(s, "pong", 4), 4);
          }
        }
        const ssize_t r = cli.read(c, buf, sizeof buf);
        if (r > 0) back.append(buf, static_cast<std::size_t>(r));
      }
      o.echoed = got == "ping" && back == "pong";
    } else {
      for (int i = 0; i < 20; ++i) step();  // let a RST arrive
    }
    socklen_t len = sizeof o.client_error;
    EXPECT_EQ(cli.getsockopt(c, SOL_SOCKET, SO_ERROR, &o.client_error, &len), 0);
    return o;
  }

 private:
  // SYNs go to A; the flood's other segments are lost; the rest go to ack_queue_.
  int route(std::span<const std::uint8_t> frame) {
    const std::optional<wire::TcpRepr> h = tcp_of(frame);
    if (!h) return 0;
    if (h->has(wire::tcp_flags::kSyn) && !h->has(wire::tcp_flags::kAck)) return 0;
    if (flood_ports_.contains(h->src_port)) return -1;
    return ack_queue_;
  }

  static int listen(Context& ctx) {
    const int l = ctx.socket(AF_INET);
    EXPECT_GE(l, 0);
    auto addr = v4("198.18.0.1", kPort);
    EXPECT_EQ(ctx.bind(l, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(ctx.listen(l, 16), 0);
    return l;
  }

  int open() {
    Context& cli = *client_.ctx;
    const int c = cli.socket(AF_INET);
    EXPECT_GE(c, 0);
    auto addr = v4("198.18.0.1", kPort);
    EXPECT_EQ(cli.connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof addr), -1);
    return c;
  }

  std::uint16_t local_port(int fd) {
    sockaddr_in local{};
    socklen_t len = sizeof local;
    EXPECT_EQ(client_.ctx->getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len), 0);
    return ntohs(local.sin_port);
  }

  int ack_queue_;
  sim::VirtualClock clock_{Instant{1'000'000'000}};
  io::MemLink link_a_;
  io::MemLink link_b_;
  SteeredIo client_io_;
  StaticResolver server_resolver_;
  engine::Engine eng_a_;
  engine::Engine eng_b_;
  detail::ContextImpl impl_a_;
  detail::ContextImpl impl_b_;
  Context ctx_a_;
  Context ctx_b_;
  Host client_;
  std::vector<int> listeners_;
  std::set<std::uint16_t> flood_ports_;
};

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

// With two engines, the engine that checks a cookie is the one the final ACK is handed to: the
// engine it reaches first has no connection for it and offers it to the other (Engine::on_flow_miss),
// which, being the last to be offered it, answers as TCP would (the listener's cookie check).
struct CookieCase {
  int ack_queue;
  int checked_by;
  const char* name;
};

void PrintTo(const CookieCase& c, std::ostream* os) {
  *os << c.name;
}

class StackSecretCookie : public ::testing::TestWithParam<CookieCase> {};

TEST_P(StackSecretCookie, SynFloodAtA_CookieCheckedByTheOtherEngine_Connects) {
  detail::StackImpl impl;
  describe_interface(impl);
  TwoEngines t(server_config(impl, 0, 2), server_config(impl, 1, 2), GetParam().ack_queue);
  t.syn_flood();
  ASSERT_EQ(t.a().tcp().stats().cookies_sent, 0u) << "the flood itself fits the SYN backlog";

  const Outcome o = t.cookie_connection();
  EXPECT_EQ(t.a().tcp().stats().cookies_sent, 1u);
  engine::Engine& checker = GetParam().checked_by == 0 ? t.a() : t.b();
  EXPECT_EQ(checker.tcp().stats().cookies_accepted, 1u);
  EXPECT_EQ(o.accepted_on, GetParam().checked_by);
  EXPECT_EQ(o.client_error, 0) << std::strerror(o.client_error);
  EXPECT_TRUE(o.echoed);
  for (engine::Engine* e : {&t.a(), &t.b()}) {
    EXPECT_EQ(e->tcp().stats().drop(tcp::DropReason::kBadCookie), 0u);
    EXPECT_EQ(e->tcp().stats().rsts_out, 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(FinalAck, StackSecretCookie,
                         ::testing::Values(CookieCase{0, 1, "BackAtA_HandedToB"},
                                           CookieCase{1, 0, "AtB_HandedToA"}),
                         [](const auto& p) { return std::string(p.param.name); });

// The bug class the shared secret removes: engines that drew their own secrets (as every engine
// did before Stack gave them one) reset a connection whose cookie one issued and the other checks.
TEST(StackSecret, EnginesWithTheirOwnSecrets_CookieCheckedByTheOther_Reset) {
  detail::StackImpl own_a;
  detail::StackImpl own_b;
  describe_interface(own_a);
  describe_interface(own_b);
  TwoEngines t(server_config(own_a, 0, 2), server_config(own_b, 1, 2), /*ack_queue=*/0);
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
