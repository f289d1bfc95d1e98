// Several processes serving one listening port from different RX queues of one interface
// (docs/ARCHITECTURE.md "Several processes"), modelled on the simulator: two server TcpStacks,
// "worker A" owning RX queue 0 and "worker B" owning queue 1, both listening on the same
// address:port with StackConfig::siblings, and one client TcpStack.
//
// A deterministic NIC (a raw endpoint that owns the servers' address) hands each client->server
// frame to the stack that owns queue hash(4-tuple, epoch) % 2. The epoch stands for the flow's
// transmit hash at the client: Linux picks a new sk_txhash when a socket retransmits on RTO
// (tcp_write_timeout() -> sk_rethink_txhash()), and on veth (whose RX queue follows the sender's
// TX queue) that moves the flow to another queue mid-connection; a test may also bump it by hand.
// Server->client frames reach the client directly, through a tap that counts RSTs. Everything
// runs on SimNetwork's virtual clock: no threads, no real time.
//
// What is checked: a segment of no connection at a sibling is dropped (DropReason::kSiblingFlow)
// rather than answered with RST (RFC 9293 §3.10.7.1), so a rehashed flow survives until it
// rehashes back; a SYN still opens a connection wherever it lands (§3.10.7.2); and once a
// process owns every queue (TcpStack::set_siblings(false)) §3.10.7.1's RST is back.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/sim/sim_network.h"
#include "userstack/tcp/tcp_stats.h"
#include "userstack/wire/ip.h"
#include "userstack/wire/tcp_header.h"

namespace xdptcp::sim {
namespace {

using tcp::DropReason;
using tcp::SocketId;
using tcp::TcpStack;
using tcp::TcpState;
using namespace wire::tcp_flags;

const wire::IpAddr kServerIp = wire::IpAddr::v4(198, 18, 11, 1);
const wire::IpAddr kClientIp = wire::IpAddr::v4(198, 18, 11, 2);
constexpr std::uint16_t kPort = 80;
constexpr std::size_t kQueues = 2;
constexpr std::size_t kA = 0;  // worker A owns RX queue 0
constexpr std::size_t kB = 1;  // worker B owns RX queue 1

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// The flow of a client port, as the servers see it.
wire::FourTuple flow(std::uint16_t client_port) {
  return wire::FourTuple{{kServerIp, kPort}, {kClientIp, client_port}};
}

// The RX queue of a flow's frames at a given epoch of its transmit hash.
std::size_t queue_of(std::uint16_t client_port, std::uint32_t epoch) {
  return wire::hash_four_tuple(flow(client_port), splitmix64(epoch + 1)) % kQueues;
}

// The first client port from `from` whose frames land on `queue` at epoch 0 and, when given, on
// `then` at epoch 1 (a SYN that moves once).
std::uint16_t port_on(std::size_t queue, std::uint16_t from = 40000,
                      std::optional<std::size_t> then = std::nullopt) {
  for (std::uint32_t p = from; p < 65536; ++p) {
    const auto port = static_cast<std::uint16_t>(p);
    if (queue_of(port, 0) == queue && (!then || queue_of(port, 1) == *then)) return port;
  }
  ADD_FAILURE() << "no client port for queue " << queue;
  return 0;
}

// Payloads both ends can recompute: the request of a client connection from its seed; the
// response from the request and the worker that answered (its first byte names the worker), so
// a client that compares bytes also checks who served it.
std::vector<std::uint8_t> request_bytes(std::size_t n, std::uint32_t seed) {
  std::vector<std::uint8_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>(splitmix64(seed * 1'000'003ULL + i));
  return v;
}
std::vector<std::uint8_t> response_bytes(std::size_t worker, const std::vector<std::uint8_t>& req,
                                         std::size_t n) {
  std::vector<std::uint8_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>(req[i % req.size()] ^ (i * 13));
  v[0] = static_cast<std::uint8_t>(worker);
  return v;
}

// One server process: accepts, reads a request of `request_len` bytes, answers it with
// `response_len` bytes, and closes when the client has closed.
class Worker {
 public:
  Worker(TcpStack& st, std::size_t id, std::size_t request_len, std::size_t response_len)
      : st_(st), id_(id), request_len_(request_len), response_len_(response_len) {
    listener_ = st_.socket(wire::IpFamily::kV4);
    setup_ = listener_ < 0 ? static_cast<int>(listener_) : st_.bind(listener_, {kServerIp, kPort});
    if (setup_ == 0) setup_ = st_.listen(listener_, 64);
  }
  int setup() const { return setup_; }

  void poll(Instant now) {
    for (SocketId s; (s = st_.accept(listener_, nullptr)) >= 0;) {
      wire::SockAddr peer{};
      st_.getpeername(s, &peer);
      conns_.push_back(Conn{s, peer.port});
    }
    std::array<std::uint8_t, 16384> buf{};
    for (Conn& c : conns_) {
      if (c.closed) continue;
      for (;;) {
        const ssize_t n = st_.recv(c.sock, buf, now);
        if (n > 0) {
          c.request.insert(c.request.end(), buf.begin(), buf.begin() + n);
          continue;
        }
        if (n != -EAGAIN) {  // EOF, or the connection failed
          c.eof = n == 0;
          c.error = n == 0 ? 0 : static_cast<int>(n);
          st_.close(c.sock, now);
          c.closed = true;
        }
        break;
      }
      if (c.closed || c.request.size() < request_len_) continue;
      if (c.response.empty()) c.response = response_bytes(id_, c.request, response_len_);
      while (c.sent < c.response.size()) {
        const ssize_t n = st_.send(c.sock, std::span(c.response).subspan(c.sent), now);
        if (n <= 0) break;
        c.sent += static_cast<std::size_t>(n);
      }
    }
  }

  struct Conn {
    SocketId sock;
    std::uint16_t client_port;
    std::vector<std::uint8_t> request;
    std::vector<std::uint8_t> response;
    std::size_t sent = 0;
    bool closed = false;
    bool eof = false;  // closed after the client's FIN (else after an error)
    int error = 0;
  };
  const std::vector<Conn>& conns() const { return conns_; }
  const Conn* conn(std::uint16_t client_port) const {
    for (const Conn& c : conns_) {
      if (c.client_port == client_port) return &c;
    }
    return nullptr;
  }

 private:
  TcpStack& st_;
  std::size_t id_;
  std::size_t request_len_, response_len_;
  SocketId listener_ = -1;
  int setup_ = 0;
  std::vector<Conn> conns_;
};

// The client's connections: each sends its request (up to `allowed` bytes of it, so that a test
// can pause mid-flow), reads the response, then closes.
class Client {
 public:
  Client(TcpStack& st, std::size_t response_len) : st_(st), response_len_(response_len) {}

  struct Conn {
    SocketId sock = -1;
    std::uint16_t port = 0;
    std::vector<std::uint8_t> request;
    std::size_t allowed = 0;
    std::size_t sent = 0;
    std::vector<std::uint8_t> response;
    bool closed = false;
    int error = 0;  // the error that ended it (-ECONNRESET after a RST)
  };

  // Opens a connection; `port` 0 lets the stack choose an ephemeral port. Returns its index.
  std::size_t connect(std::uint16_t port, std::size_t request_len, std::uint32_t seed, Instant now,
                      std::optional<std::size_t> allowed = std::nullopt) {
    Conn c;
    c.sock = st_.socket(wire::IpFamily::kV4);
    EXPECT_GE(c.sock, 0);
    if (port != 0) {
      EXPECT_EQ(st_.bind(c.sock, {kClientIp, port}), 0);
    }
    EXPECT_EQ(st_.connect(c.sock, {kServerIp, kPort}, now), -EINPROGRESS);
    wire::SockAddr local{};
    EXPECT_EQ(st_.getsockname(c.sock, &local), 0);
    c.port = local.port;
    c.request = request_bytes(request_len, seed);
    c.allowed = allowed.value_or(request_len);
    conns_.push_back(std::move(c));
    return conns_.size() - 1;
  }

  void poll(Instant now) {
    std::array<std::uint8_t, 16384> buf{};
    for (Conn& c : conns_) {
      if (c.closed) continue;
      const TcpState s = st_.state(c.sock);
      if (s != TcpState::kSynSent) {
        while (c.sent < std::min(c.allowed, c.request.size())) {
          const ssize_t n = st_.send(
              c.sock, std::span(c.request).subspan(c.sent, std::min(c.allowed, c.request.size()) - c.sent),
              now);
          if (n <= 0) break;
          c.sent += static_cast<std::size_t>(n);
        }
      }
      for (;;) {
        const ssize_t n = st_.recv(c.sock, buf, now);
        if (n > 0) {
          c.response.insert(c.response.end(), buf.begin(), buf.begin() + n);
          continue;
        }
        if (n != -EAGAIN) {  // EOF before the whole response, or an error: the connection ended
          c.error = static_cast<int>(n);
          st_.close(c.sock, now);
          c.closed = true;
        }
        break;
      }
      if (!c.closed && c.response.size() >= response_len_) {
        st_.close(c.sock, now);
        c.closed = true;
      }
    }
  }

  std::vector<Conn>& conns() { return conns_; }
  bool all_closed() const {
    return std::all_of(conns_.begin(), conns_.end(), [](const Conn& c) { return c.closed; });
  }

 private:
  TcpStack& st_;
  std::size_t response_len_;
  std::vector<Conn> conns_;
};

struct ModelOptions {
  bool b_siblings = true;  // B knows it has a sibling (A always does)
  std::size_t request_len = 2000;
  std::size_t response_len = 3000;
};

// The network: NIC and client tap first, so that the servers' and the client's address route to
// them (SimNetwork routes to the first endpoint that owns an address); then the two workers and
// the client, 5 ms one way.
class Model {
 public:
  explicit Model(ModelOptions o = ModelOptions{}) : net_(net_options()) {
    LinkConfig link;
    link.delay = Duration::millis(5);
    net_.add_raw(kServerIp, link, [this](std::span<const std::uint8_t> p, Instant now) { nic_rx(p, now); });
    net_.add_raw(kClientIp, link, [this](std::span<const std::uint8_t> p, Instant now) { tap_rx(p, now); });
    tcp::StackConfig server = stack_config(kServerIp);
    server.siblings = true;  // each worker owns one of the two queues
    ep_[kA] = net_.add_stack(server, link);
    server.siblings = o.b_siblings;
    ep_[kB] = net_.add_stack(server, link);
    client_ep_ = net_.add_stack(stack_config(kClientIp), link);
    workers_[kA].emplace(net_.stack(ep_[kA]), kA, o.request_len, o.response_len);
    workers_[kB].emplace(net_.stack(ep_[kB]), kB, o.request_len, o.response_len);
    client_.emplace(net_.stack(client_ep_), o.response_len);
    net_.set_app([this](Instant now) {
      for (std::size_t w = 0; w < kQueues; ++w) {
        if (alive_[w]) workers_[w]->poll(now);
      }
      client_->poll(now);
    });
  }

  TcpStack& worker_stack(std::size_t w) { return net_.stack(ep_[w]); }
  TcpStack& client_stack() { return net_.stack(client_ep_); }
  Worker& worker(std::size_t w) { return *workers_[w]; }
  Client& client() { return *client_; }
  SimNetwork& net() { return net_; }

  bool run_until(const std::function<bool()>& pred, Duration limit = Duration::seconds(120)) {
    return net_.run_until(pred, net_.now() + limit);
  }
  void run_for(Duration d) { net_.run_for(d); }

  // ---- the NIC ----
  std::uint32_t epoch(std::uint16_t port) { return flows_[port].epoch; }
  std::size_t queue(std::uint16_t port) { return queue_of(port, epoch(port)); }
  // Bumps the flow's epoch until its frames land on `q` (the test's explicit rehash).
  void rehash_to(std::uint16_t port, std::size_t q) {
    Flow& f = flows_[port];
    for (int i = 0; i < 64 && queue_of(port, f.epoch) != q; ++i) ++f.epoch;
    ASSERT_EQ(queue_of(port, f.epoch), q);
  }
  // Worker `w` exits; the other takes its queue (the preload's queue hand-over).
  void exit_worker(std::size_t w) {
    alive_[w] = false;
    owner_[w] = 1 - w;
  }
  // Frames delivered to each worker, in total and per flow.
  std::uint64_t frames_to(std::size_t w) const { return frames_[w]; }
  std::uint64_t frames_to(std::size_t w, std::uint16_t port) { return flows_[port].frames[w]; }
  std::uint64_t rehashes(std::uint16_t port) { return flows_[port].rto_rehashes; }

  // ---- the client tap ----
  std::uint64_t rsts_to_client() const { return rsts_to_client_; }
  // The next `n` SYN-ACKs are lost on their way to the client.
  void lose_synacks(int n) { lose_synacks_ = n; }

 private:
  struct Flow {
    std::uint32_t epoch = 0;
    std::optional<std::uint32_t> end;  // one past the highest sequence number the client sent
    std::uint64_t rtos_seen = 0;       // the client stack's RTO count at the last rehash
    std::uint64_t rto_rehashes = 0;
    std::array<std::uint64_t, kQueues> frames{};
  };

  static SimNetwork::Options net_options() {
    SimNetwork::Options o;
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    o.name = std::string(info->test_suite_name()) + "." + info->name();
    return o;
  }
  static tcp::StackConfig stack_config(const wire::IpAddr& ip) {
    tcp::StackConfig c;
    c.local_addrs = {ip};
    c.max_sockets = 256;
    return c;
  }

  // A client->server frame: rehash the flow if the client has retransmitted on RTO since the
  // last one, then hand the frame to the owner of its queue.
  void nic_rx(std::span<const std::uint8_t> p, Instant now) {
    auto ip = wire::parse_ip(p);
    ASSERT_TRUE(ip.ok());
    auto tcp = wire::parse_tcp(ip->payload);
    ASSERT_TRUE(tcp.ok());
    const wire::TcpRepr& h = tcp->repr;
    Flow& f = flows_[h.src_port];
    const std::uint32_t len =
        static_cast<std::uint32_t>(tcp->payload.size()) + (h.has(kSyn) ? 1 : 0) + (h.has(kFin) ? 1 : 0);
    if (len > 0) {
      // A segment that starts below what the flow has sent is a retransmission; with the client's
      // RTO count up since the last rehash it is the RTO's (the flows here see no fast
      // retransmit: nothing is lost but what a sibling drops, and then no ACK comes back).
      const std::uint64_t rtos = net_.stack(client_ep_).stats().rtos;
      if (f.end && static_cast<std::int32_t>(h.seq - *f.end) < 0 && rtos > f.rtos_seen) {
        ++f.epoch;
        ++f.rto_rehashes;
        f.rtos_seen = rtos;
      }
      const std::uint32_t end = h.seq + len;
      if (!f.end || static_cast<std::int32_t>(end - *f.end) > 0) f.end = end;
    }
    const std::size_t w = owner_[queue_of(h.src_port, f.epoch)];
    ++f.frames[w];
    ++frames_[w];
    net_.stack(ep_[w]).input(p, now);
  }

  void tap_rx(std::span<const std::uint8_t> p, Instant now) {
    auto ip = wire::parse_ip(p);
    ASSERT_TRUE(ip.ok());
    auto tcp = wire::parse_tcp(ip->payload);
    ASSERT_TRUE(tcp.ok());
    const wire::TcpRepr& h = tcp->repr;
    if (h.has(kRst)) ++rsts_to_client_;
    if (h.has(kSyn) && h.has(kAck) && lose_synacks_ > 0) {
      --lose_synacks_;
      return;
    }
    net_.stack(client_ep_).input(p, now);
  }

  SimNetwork net_;
  std::array<std::size_t, kQueues> ep_{};
  std::size_t client_ep_ = 0;
  std::array<std::optional<Worker>, kQueues> workers_;
  std::optional<Client> client_;
  std::array<bool, kQueues> alive_{true, true};
  std::array<std::size_t, kQueues> owner_{kA, kB};  // the worker that owns each queue
  std::map<std::uint16_t, Flow> flows_;             // by client port
  std::array<std::uint64_t, kQueues> frames_{};
  std::uint64_t rsts_to_client_ = 0;
  int lose_synacks_ = 0;
};

// Waits until worker w holds `n` request bytes of the flow and the client has them all
// acknowledged: a quiet point mid-flow.
bool served_part(Model& m, std::size_t w, const Client::Conn& c, std::size_t n) {
  const Worker::Conn* sc = m.worker(w).conn(c.port);
  return sc != nullptr && sc->request.size() == n && m.client_stack().unsent_or_unacked_bytes(c.sock) == 0;
}

// Case 1. Connections from the client's ephemeral ports spread over both queues; each worker
// accepts exactly the flows of its queue and answers them, and never sees the other's segments
// (no kSiblingFlow, no RST).
TEST(TcpSiblings, ConnectionsSpreadOverQueues_EachWorkerServesItsOwn) {
  Model m;
  ASSERT_EQ(m.worker(kA).setup(), 0);
  ASSERT_EQ(m.worker(kB).setup(), 0);
  constexpr std::uint32_t kConns = 16;
  for (std::uint32_t i = 0; i < kConns; ++i) m.client().connect(0, 2000, i, m.net().now());
  ASSERT_TRUE(m.run_until([&] { return m.client().all_closed(); }));
  m.run_for(Duration::seconds(1));  // the workers close after the client's FIN

  std::array<std::size_t, kQueues> on_queue{};
  for (const Client::Conn& c : m.client().conns()) {
    const std::size_t q = m.queue(c.port);
    ++on_queue[q];
    EXPECT_EQ(m.epoch(c.port), 0u) << "no RTO, so no rehash";
    EXPECT_EQ(m.frames_to(1 - q, c.port), 0u);
    const Worker::Conn* sc = m.worker(q).conn(c.port);
    ASSERT_NE(sc, nullptr) << "port " << c.port << " queue " << q;
    EXPECT_EQ(m.worker(1 - q).conn(c.port), nullptr);
    EXPECT_EQ(sc->request, c.request);
    EXPECT_TRUE(sc->eof);
    EXPECT_EQ(c.error, 0);
    EXPECT_EQ(c.response, response_bytes(q, c.request, 3000)) << "served by worker " << q;
  }
  for (std::size_t w = 0; w < kQueues; ++w) {
    SCOPED_TRACE(w);
    EXPECT_GT(on_queue[w], 0u) << "the hash should spread " << kConns << " flows over both queues";
    EXPECT_EQ(m.worker(w).conns().size(), on_queue[w]);
    const tcp::TcpStats& st = m.worker_stack(w).stats();
    EXPECT_EQ(st.conns_accepted, on_queue[w]);
    EXPECT_EQ(st.drop(DropReason::kSiblingFlow), 0u);
    EXPECT_EQ(st.rsts_out, 0u);
    EXPECT_EQ(m.worker_stack(w).connection_count(), 0u);  // the client closed first
  }
  EXPECT_EQ(m.rsts_to_client(), 0u);
  EXPECT_EQ(m.client_stack().stats().rtos, 0u);
}

// Case 2. An established flow of A's is moved to B's queue mid-request (the test bumps its
// epoch). B has no connection for it and, as a sibling, drops its segments without a RST; the
// client, hearing nothing, retransmits on RTO, which rehashes the flow (Linux
// sk_rethink_txhash()) until it is back on A; A then gets every byte in order and the response
// goes back whole.
TEST(TcpSiblings, MidFlowRehashToSibling_DroppedNotReset_CompletesAfterRtoRehashesBack) {
  ModelOptions o;
  o.request_len = 40000;
  o.response_len = 100000;
  Model m(o);
  const std::uint16_t port = port_on(kA);
  const std::size_t i = m.client().connect(port, o.request_len, 7, m.net().now(), 10000);
  ASSERT_TRUE(m.run_until([&] { return served_part(m, kA, m.client().conns()[i], 10000); }));
  EXPECT_EQ(m.frames_to(kB), 0u);

  m.rehash_to(port, kB);
  m.client().conns()[i].allowed = o.request_len;
  ASSERT_TRUE(m.run_until([&] { return m.client().all_closed(); }));
  m.run_for(Duration::seconds(1));

  const Client::Conn& c = m.client().conns()[i];
  EXPECT_EQ(c.error, 0);
  EXPECT_EQ(c.response, response_bytes(kA, c.request, o.response_len));
  const Worker::Conn* sc = m.worker(kA).conn(port);
  ASSERT_NE(sc, nullptr);
  EXPECT_EQ(sc->request, c.request);
  EXPECT_TRUE(sc->eof);
  EXPECT_EQ(m.queue(port), kA);  // rehashed back
  EXPECT_GE(m.rehashes(port), 1u);
  EXPECT_GE(m.client_stack().stats().rtos, m.rehashes(port));

  const tcp::TcpStats& b = m.worker_stack(kB).stats();
  EXPECT_GT(m.frames_to(kB, port), 0u);
  EXPECT_EQ(b.drop(DropReason::kSiblingFlow), m.frames_to(kB, port)) << "every frame B got is dropped";
  EXPECT_EQ(b.drop(DropReason::kNoSocket), 0u);
  EXPECT_EQ(b.rsts_out, 0u);
  EXPECT_EQ(b.segments_out, 0u);
  EXPECT_TRUE(m.worker(kB).conns().empty());
  EXPECT_EQ(m.rsts_to_client(), 0u);
  EXPECT_EQ(m.client_stack().stats().rsts_in, 0u);
  EXPECT_EQ(m.worker_stack(kA).stats().rsts_out, 0u);
}

// Case 2's control: B without siblings answers the moved flow's first segment with a RST
// (§3.10.7.1: <SEQ=SEG.ACK><CTL=RST>, which is exactly the client's RCV.NXT, so the client
// accepts it) and the connection A was serving dies half way.
TEST(TcpSiblings, MidFlowRehash_SiblingWithoutSiblingsFlag_ResetsTheConnection) {
  ModelOptions o;
  o.b_siblings = false;
  o.request_len = 40000;
  o.response_len = 100000;
  Model m(o);
  const std::uint16_t port = port_on(kA);
  const std::size_t i = m.client().connect(port, o.request_len, 7, m.net().now(), 10000);
  ASSERT_TRUE(m.run_until([&] { return served_part(m, kA, m.client().conns()[i], 10000); }));

  m.rehash_to(port, kB);
  m.client().conns()[i].allowed = o.request_len;
  ASSERT_TRUE(m.run_until([&] { return m.client().all_closed(); }));

  const Client::Conn& c = m.client().conns()[i];
  EXPECT_EQ(c.error, -ECONNRESET);
  EXPECT_TRUE(c.response.empty());
  EXPECT_GE(m.rsts_to_client(), 1u);
  EXPECT_EQ(m.client_stack().stats().rsts_in, 1u);
  EXPECT_EQ(m.client_stack().stats().rtos, 0u);  // reset before any RTO
  const tcp::TcpStats& b = m.worker_stack(kB).stats();
  EXPECT_GE(b.rsts_out, 1u);
  EXPECT_GE(b.drop(DropReason::kNoSocket), 1u);
  EXPECT_EQ(b.drop(DropReason::kSiblingFlow), 0u);
  const Worker::Conn* sc = m.worker(kA).conn(port);
  ASSERT_NE(sc, nullptr);
  EXPECT_EQ(sc->request.size(), 10000u);  // A never got the rest
}

// Case 3. A SYN that lands on B's queue, for a flow A never saw, opens a connection at B
// (RFC 9293 §3.10.7.2: siblings change only what answers a segment of no connection), while A
// serves a flow of its own on the same port at the same time.
TEST(TcpSiblings, SynOnSiblingsQueue_ServedByThatSibling) {
  Model m;
  const std::uint16_t pa = port_on(kA);
  const std::uint16_t pb = port_on(kB);
  m.client().connect(pa, 2000, 1, m.net().now());
  m.client().connect(pb, 2000, 2, m.net().now());
  ASSERT_TRUE(m.run_until([&] { return m.client().all_closed(); }));
  m.run_for(Duration::seconds(1));

  EXPECT_EQ(m.frames_to(kA, pb), 0u);
  EXPECT_EQ(m.frames_to(kB, pa), 0u);
  for (const Client::Conn& c : m.client().conns()) {
    const std::size_t w = c.port == pa ? kA : kB;
    EXPECT_EQ(c.error, 0);
    EXPECT_EQ(c.response, response_bytes(w, c.request, 3000));
    ASSERT_NE(m.worker(w).conn(c.port), nullptr);
    EXPECT_EQ(m.worker(w).conn(c.port)->request, c.request);
    EXPECT_EQ(m.worker(1 - w).conn(c.port), nullptr);
  }
  for (std::size_t w = 0; w < kQueues; ++w) {
    EXPECT_EQ(m.worker_stack(w).stats().conns_accepted, 1u);
    EXPECT_EQ(m.worker_stack(w).stats().drop(DropReason::kSiblingFlow), 0u);
    EXPECT_EQ(m.worker_stack(w).stats().rsts_out, 0u);
  }
  EXPECT_EQ(m.rsts_to_client(), 0u);
}

// Case 4. A exits with a connection open (its TCBs go with it, no RST) and B takes its queue.
// While B still thinks it has a sibling, the orphaned flow's segments are dropped; once B owns
// every queue (set_siblings(false)) a segment of no connection is answered with a RST again
// (§3.10.7.1), so the client learns at its next retransmission instead of after max_retries.
// New connections on A's old queue are B's.
TEST(TcpSiblings, OwnerExits_SiblingOwnsEveryQueue_NoConnectionAnsweredWithRstAgain) {
  ModelOptions o;
  o.request_len = 4000;
  o.response_len = 1000;
  Model m(o);
  const std::uint16_t port = port_on(kA);
  const std::size_t i = m.client().connect(port, o.request_len, 3, m.net().now(), 2000);
  ASSERT_TRUE(m.run_until([&] { return served_part(m, kA, m.client().conns()[i], 2000); }));
  m.run_for(Duration::seconds(1));  // A's delayed ACK and all: A is quiet
  ASSERT_FALSE(m.worker_stack(kA).next_timer().has_value());
  const std::uint64_t a_out = m.worker_stack(kA).stats().segments_out;

  m.exit_worker(kA);
  m.client().conns()[i].allowed = o.request_len;  // the rest of the request, to nobody
  ASSERT_TRUE(m.run_until([&] { return m.client_stack().stats().rtos >= 1; }));
  const tcp::TcpStats& b = m.worker_stack(kB).stats();
  const std::uint64_t dropped = b.drop(DropReason::kSiblingFlow);
  EXPECT_GE(dropped, 2u);  // the rest of the request, two segments; the RTO's copy is on its way
  EXPECT_EQ(b.rsts_out, 0u);
  EXPECT_EQ(m.rsts_to_client(), 0u);
  EXPECT_FALSE(m.client().conns()[i].closed);

  m.worker_stack(kB).set_siblings(false);  // B now owns both queues
  ASSERT_TRUE(m.run_until([&] { return m.client().conns()[i].closed; }));
  EXPECT_EQ(m.client().conns()[i].error, -ECONNRESET);
  EXPECT_EQ(b.drop(DropReason::kSiblingFlow), dropped);
  EXPECT_EQ(b.drop(DropReason::kNoSocket), 1u);
  EXPECT_EQ(b.rsts_out, 1u);
  EXPECT_EQ(m.rsts_to_client(), 1u);
  EXPECT_EQ(m.client_stack().stats().rsts_in, 1u);
  EXPECT_EQ(m.worker_stack(kA).stats().segments_out, a_out) << "A is gone";

  // A new connection on A's old queue is served by B.
  const std::uint16_t p2 = port_on(kA, static_cast<std::uint16_t>(port + 1));
  const std::size_t j = m.client().connect(p2, o.request_len, 4, m.net().now());
  ASSERT_TRUE(m.run_until([&] { return m.client().conns()[j].closed; }));
  EXPECT_EQ(m.client().conns()[j].error, 0);
  EXPECT_EQ(m.client().conns()[j].response,
            response_bytes(kB, m.client().conns()[j].request, o.response_len));
  EXPECT_EQ(m.frames_to(kA, p2), 0u);
}

// A SYN retransmitted on RTO is rehashed like any segment (Linux rethinks the txhash of a SYN
// too), so two workers can each hold an embryo of one flow, each with its own ISN. Here A's
// SYN-ACK is lost, the client's second SYN lands on B, and A's retransmitted SYN-ACK and B's
// SYN-ACK reach the client at the same instant, A's first (SimNetwork delivers the uplinks in
// endpoint order): the client is ESTABLISHED with A, but its flow is now on B's queue.
// B's embryo sees an ACK of an ISN it never sent: §3.10.7.4 would answer <SEQ=SEG.ACK><CTL=RST>,
// and SEG.ACK is the client's RCV.NXT, so the client would take the RST; as a sibling B drops it
// instead. The client's RTO moves the flow again (to B, then to A) and A serves it; B's embryo
// dies after its SYN-ACK retries (synack_retries), never accepted.
TEST(TcpSiblings, SynRehashedOnRto_OwnerSynAckWins_SiblingsEmbryoSendsNoRst) {
  Model m;
  const std::uint16_t port = port_on(kA, 40000, kB);
  m.lose_synacks(1);
  const std::size_t i = m.client().connect(port, 2000, 5, m.net().now());
  ASSERT_TRUE(m.run_until([&] { return m.client().all_closed(); }));
  m.run_for(Duration::seconds(120));  // past B's SYN-ACK retries

  const Client::Conn& c = m.client().conns()[i];
  EXPECT_EQ(c.error, 0);
  EXPECT_EQ(c.response, response_bytes(kA, c.request, 3000));
  ASSERT_NE(m.worker(kA).conn(port), nullptr);
  EXPECT_EQ(m.worker(kA).conn(port)->request, c.request);
  EXPECT_GE(m.rehashes(port), 2u);  // the SYN's, and the data's RTO
  EXPECT_GT(m.frames_to(kB, port), 1u);
  const tcp::TcpStats& b = m.worker_stack(kB).stats();
  EXPECT_GE(b.drop(DropReason::kSiblingFlow), 1u);
  EXPECT_GE(b.drop(DropReason::kBadAck), 1u);  // the embryo's unacceptable ACKs
  EXPECT_EQ(b.rsts_out, 0u);
  EXPECT_EQ(b.conns_accepted, 0u);
  EXPECT_TRUE(m.worker(kB).conns().empty());
  EXPECT_EQ(m.worker_stack(kB).connection_count(), 0u);  // the embryo timed out
  EXPECT_EQ(m.rsts_to_client(), 0u);
}

// The same race without the siblings flag at B: the embryo's RST resets the client's connection
// with A (what Linux's tcp_check_req() would do too for an ACK of another ISN).
TEST(TcpSiblings, SynRehashedOnRto_SiblingWithoutSiblingsFlag_EmbryoResetsTheConnection) {
  ModelOptions o;
  o.b_siblings = false;
  Model m(o);
  const std::uint16_t port = port_on(kA, 40000, kB);
  m.lose_synacks(1);
  const std::size_t i = m.client().connect(port, 2000, 5, m.net().now());
  ASSERT_TRUE(m.run_until([&] { return m.client().all_closed(); }));
  EXPECT_EQ(m.client().conns()[i].error, -ECONNRESET);
  // One RST per segment of the client's first flight (ACK and request); the first resets.
  EXPECT_GE(m.worker_stack(kB).stats().rsts_out, 1u);
  EXPECT_EQ(m.rsts_to_client(), m.worker_stack(kB).stats().rsts_out);
  EXPECT_EQ(m.client_stack().stats().rsts_in, 1u);
  EXPECT_TRUE(m.client().conns()[i].response.empty());
}

// The other outcome of the race: A's first two SYN-ACKs are lost, so B's answer to the rehashed
// SYN establishes the connection and B serves it; A's embryo keeps retransmitting its SYN-ACK,
// the client answers each with an ACK (RFC 9293 §3.10.7.4: unacceptable segment; RFC 5961 §4),
// which now reaches B's connection and harms nothing; A's embryo dies after its retries.
TEST(TcpSiblings, SynRehashedOnRto_SiblingServesIt) {
  Model m;
  const std::uint16_t port = port_on(kA, 40000, kB);
  m.lose_synacks(2);
  const std::size_t i = m.client().connect(port, 2000, 5, m.net().now());
  ASSERT_TRUE(m.run_until([&] { return m.client().all_closed(); }));
  m.run_for(Duration::seconds(120));  // past A's SYN-ACK retries

  const Client::Conn& c = m.client().conns()[i];
  EXPECT_EQ(c.error, 0);
  EXPECT_EQ(c.response, response_bytes(kB, c.request, 3000));
  ASSERT_NE(m.worker(kB).conn(port), nullptr);
  EXPECT_EQ(m.worker(kB).conn(port)->request, c.request);
  EXPECT_EQ(m.rehashes(port), 1u);
  EXPECT_EQ(m.frames_to(kA, port), 1u);  // the first SYN
  for (std::size_t w = 0; w < kQueues; ++w) {
    EXPECT_EQ(m.worker_stack(w).stats().conns_accepted, w == kB ? 1u : 0u);
    EXPECT_EQ(m.worker_stack(w).stats().rsts_out, 0u);
    EXPECT_EQ(m.worker_stack(w).connection_count(), 0u);
  }
  EXPECT_TRUE(m.worker(kA).conns().empty());
  EXPECT_EQ(m.rsts_to_client(), 0u);
}

}  // namespace
}  // namespace xdptcp::sim
