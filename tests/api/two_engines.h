// Two server engines of one stack (queues 0 and 1, one in-memory link each) and a client engine
// whose port sends each frame into the queue the test chooses (the test plays the NIC's RSS), all on
// one virtual clock in one thread. The servers' configurations come from the production path:
// detail::engine_config over a detail::StackImpl, as Stack::run and Stack::drive build them. Both
// live in api/src/stack.cpp, so this header compiles that file in: include it from one source file
// of a test binary only (a StackImpl without an interface: no port, no kernel object).
#pragma once

#include "api/src/stack.cpp"  // IWYU pragma: keep

#include <arpa/inet.h>

#include <cstring>
#include <functional>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "tests/api/api_harness.h"
#include "tests/support/engine/drain_check.h"
#include "userstack/engine/flow_directory.h"
#include "userstack/wire/ethernet.h"
#include "userstack/wire/ip.h"
#include "userstack/wire/tcp_header.h"

namespace xdptcp::testing {

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
inline std::optional<wire::TcpRepr> tcp_of(std::span<const std::uint8_t> frame) {
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
inline void describe_interface(detail::StackImpl& impl) {
  impl.info.mac = {0x02, 0, 0, 0, 0, 1};
  impl.info.mtu = 1500;
  impl.addrs = {*wire::IpAddr::parse("198.18.0.1")};
  impl.ephemeral = {40000, 65535};
  impl.opts.max_sockets = 64;
}

// Engine i of n of a stack, configured by detail::engine_config (the production path), with a
// small SYN backlog so that a few SYNs make it answer with cookies.
inline engine::EngineConfig server_config(const detail::StackImpl& impl, unsigned i, unsigned n) {
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
    eng_a_.set_peers(all, &directory_);
    eng_b_.set_peers(all, &directory_);
    client_.resolver.table["198.18.0.1"] = a.mac;
    // The kernel's neighbour table as the servers see it: an engine learns no MAC from a SYN.
    server_resolver_.table["198.18.0.2"] = client_.mac;
    for (Context* ctx : {&ctx_a_, &ctx_b_}) listeners_.push_back(listen(*ctx));
  }

  // The leak check (tests/support/engine/drain_check.h) after every test over the engines.
  ~TwoEngines() {
    const std::array<engine::Engine*, 3> engines{&eng_a_, &eng_b_, client_.eng.get()};
    const std::array<io::MemPort*, 4> ports{&link_a_.a(), &link_a_.b(), &link_b_.a(), &link_b_.b()};
    EXPECT_EQ(drain_check(engines, ports, clock_), "");
  }
  TwoEngines(const TwoEngines&) = delete;
  TwoEngines& operator=(const TwoEngines&) = delete;

  engine::Engine& a() { return eng_a_; }
  engine::Engine& b() { return eng_b_; }
  Context& server(int e) { return e == 0 ? ctx_a_ : ctx_b_; }
  int listener(int e) const { return listeners_[static_cast<std::size_t>(e)]; }
  Context& client() { return *client_.ctx; }
  // Where the client's frames go (-1: lost) when set; otherwise as route() describes.
  std::function<int(const wire::TcpRepr&)> steer;

  // Puts a frame on queue q's wire, as the client's NIC would.
  void inject(int q, std::span<const std::uint8_t> frame) {
    io::PacketIo& io = q == 0 ? link_a_.b() : link_b_.b();
    const std::span<std::uint8_t> out = io.tx_acquire();
    ASSERT_GE(out.size(), frame.size());
    std::memcpy(out.data(), frame.data(), frame.size());
    io.tx_commit(frame.size());
  }

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

 public:
  // SYNs go to A; the flood's other segments are lost; the rest go to ack_queue_ (or where steer
  // says, when set).
  int route(std::span<const std::uint8_t> frame) {
    const std::optional<wire::TcpRepr> h = tcp_of(frame);
    if (!h) return 0;
    if (steer) return steer(*h);
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

 private:
  int ack_queue_;
  sim::VirtualClock clock_{Instant{1'000'000'000}};
  engine::FlowDirectory directory_{1024};  // before the engines, which use it until destroyed
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

}  // namespace xdptcp::testing
