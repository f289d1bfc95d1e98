// fuzz_engine_input: libFuzzer over an engine's frame input (Engine::poll -> handle_frame: Ethernet
// and VLAN parsing, neighbour learning, TCP input) with the cross-engine hand-off (flow directory,
// port slices, hand-off rings), not only TcpStack (issue 11, item 7).
//
// At start-up two server engines of one stack (queues 0 and 1, each on an in-memory link, one
// secret, ephemeral slices, one flow directory) and a client engine whose frames the harness steers
// to either queue (it plays the NIC's RSS). Three connections are opened: the client to the servers'
// listener over IPv4 and over IPv6 (passive opens at whichever engine the SYN reaches), and server A
// to the client's listener (an active open from A's ephemeral slice). Each input becomes one frame
// on one queue; the first byte steers how the rest is turned into a frame (so the fuzzer can learn
// the modes):
//   bits 0-1: 0 raw Ethernet frame (the rest, as is); 1 an IP packet (the rest) in an Ethernet
//             header; 2 a TCP segment (the rest: header and payload) of connection byte1 % 3, its
//             addresses and ports overwritten; 3 a TCP segment to the listener (addresses and
//             destination port overwritten)
//   bit 2:    the queue it arrives on
//   bit 3:    mode 2: sequence and acknowledgment numbers relative to the client's last segment of
//             that connection (small values land in the window)
//   bit 4:    leave the TCP checksum as given (else it is computed)
//   bit 5:    an 802.1Q tag (VLAN id from byte1)
//   bit 6:    from now on the client's frames reach the other queue (the peer's RTO re-hashed them:
//             the hand-off carries the flows)
//   bit 7:    advance the clock by 300 ms first (timers fire)
// After each frame the three engines run until quiet (bounded); a connection that died is opened
// again. Every hand-off pushed must have been taken by the end of a quiet pump.
#include <arpa/inet.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "tests/support/engine/static_resolver.h"
#include "tests/support/sim/virtual_clock.h"
#include "userstack/base/byteorder.h"
#include "userstack/engine/engine.h"
#include "userstack/engine/flow_directory.h"
#include "userstack/io/mem_link.h"
#include "userstack/io/multi_queue_io.h"
#include "userstack/wire/ethernet.h"
#include "userstack/wire/ip.h"
#include "userstack/wire/tcp_header.h"

namespace {

using namespace xdptcp;
using tcp::SocketId;
using tcp::TcpState;

constexpr std::uint16_t kServerPort = 80;
constexpr std::uint16_t kClientPort = 8080;
const wire::MacAddr kServerMac{0x02, 0, 0, 0, 0, 1};
const wire::MacAddr kClientMac{0x02, 0, 0, 0, 0, 2};
const wire::IpAddr kServer4 = *wire::IpAddr::parse("198.18.30.1");
const wire::IpAddr kClient4 = *wire::IpAddr::parse("198.18.30.2");
const wire::IpAddr kServer6 = *wire::IpAddr::parse("fd00:198:30::1");
const wire::IpAddr kClient6 = *wire::IpAddr::parse("fd00:198:30::2");

// The client's side of a two-queue NIC: receives what either server engine sends; sends each frame
// into queue (tuple parity, flipped when `rehashed`).
class SteeredPort final : public io::PacketIo {
 public:
  SteeredPort(io::PacketIo& q0, io::PacketIo& q1) : rx_({&q0, &q1}, true), queues_{&q0, &q1}, tx_(2048) {}
  bool rehashed = false;
  std::function<void(std::span<const std::uint8_t>)> on_send;  // sees each frame the client sends

  std::size_t rx_burst(std::span<io::RxFrame> out) override { return rx_.rx_burst(out); }
  void rx_release(std::span<const io::RxFrame> frames) override { rx_.rx_release(frames); }
  std::span<std::uint8_t> tx_acquire() override { return tx_; }
  void tx_commit(std::size_t len) override {
    // Ethernet (14) + IP version nibble; TCP ports at the IP payload's start.
    std::size_t q = 0;
    if (len >= 14 + 40 + 4) {
      const std::size_t l4 = 14 + ((tx_[14] >> 4) == 4 ? (tx_[14] & 0x0F) * 4u : 40u);
      if (l4 + 4 <= len) q = (tx_[l4 + 1] ^ tx_[l4 + 3]) & 1u;
    }
    if (rehashed) q ^= 1;
    if (on_send) on_send({tx_.data(), len});
    io::PacketIo& out = *queues_[q];
    const std::span<std::uint8_t> f = out.tx_acquire();
    if (f.size() < len) return;
    std::memcpy(f.data(), tx_.data(), len);
    out.tx_commit(len);
  }
  void tx_flush() override {}
  void wait(Duration /*timeout*/) override {}
  std::size_t frame_capacity() const override { return tx_.size(); }
  io::IoStats stats() const override { return {}; }

 private:
  io::MultiQueueIo rx_;
  std::array<io::PacketIo*, 2> queues_;
  std::vector<std::uint8_t> tx_;
};

struct Conn {
  wire::IpFamily family = wire::IpFamily::kV4;
  bool from_a = false;     // A's active open to the client (else the client's to the servers)
  SocketId opener = -1;    // the active side's socket (client's, or A's)
  SocketId acceptor = -1;  // the passive side's socket
  int acceptor_engine = -1;
  std::uint16_t opener_port = 0;
  std::uint32_t last_seq = 0;  // of the client's last segment of this connection
  std::uint32_t last_ack = 0;
};

engine::EngineConfig server_config(std::uint32_t id) {
  engine::EngineConfig ec;
  ec.mac = kServerMac;
  ec.id = id;
  ec.engine_count = 2;
  ec.tcp.local_addrs = {kServer4, kServer6};
  ec.tcp.max_sockets = 64;
  ec.tcp.syn_backlog = 8;
  ec.tcp.secret = 0x5eed5eed5eed5eedULL;  // one secret for the stack's engines
  ec.tcp.ephemeral_lo = id == 0 ? 40000 : 50000;
  ec.tcp.ephemeral_hi = id == 0 ? 49999 : 59999;
  return ec;
}

engine::EngineConfig client_config() {
  engine::EngineConfig ec;
  ec.mac = kClientMac;
  ec.tcp.local_addrs = {kClient4, kClient6};
  ec.tcp.max_sockets = 64;
  ec.tcp.secret = 7;
  return ec;
}

struct World {
  sim::VirtualClock clock{Instant{1'000'000'000}};
  engine::FlowDirectory directory{1024};
  io::MemLink link_a{512, 2048};
  io::MemLink link_b{512, 2048};
  SteeredPort client_io{link_a.b(), link_b.b()};
  testing::StaticResolver res_a, res_b, res_c;
  engine::Engine a{server_config(0), link_a.a(), clock, &res_a};
  engine::Engine b{server_config(1), link_b.a(), clock, &res_b};
  engine::Engine c{client_config(), client_io, clock, &res_c};
  std::array<engine::Engine*, 2> servers{&a, &b};
  std::array<std::array<SocketId, 2>, 2> listeners{};  // [engine][family]
  SocketId client_listener = -1;
  std::array<Conn, 3> conns{};
  std::array<std::uint8_t, 64 * 1024> scratch{};

  World() {
    for (auto* r : {&res_a, &res_b}) {
      r->table[kClient4.to_string()] = kClientMac;
      r->table[kClient6.to_string()] = kClientMac;
    }
    client_io.on_send = [this](std::span<const std::uint8_t> f) { observe_client(f); };
    res_c.table[kServer4.to_string()] = kServerMac;
    res_c.table[kServer6.to_string()] = kServerMac;
    a.set_peers(servers, &directory);
    b.set_peers(servers, &directory);
    for (std::size_t e = 0; e < 2; ++e) {
      const std::array<wire::SockAddr, 2> at = {wire::SockAddr{kServer4, kServerPort},
                                                wire::SockAddr{kServer6, kServerPort}};
      for (std::size_t f = 0; f < 2; ++f) {
        tcp::TcpStack& t = servers[e]->tcp();
        listeners[e][f] = t.socket(at[f].ip.family);
        if (t.bind(listeners[e][f], at[f]) != 0 || t.listen(listeners[e][f], 16) != 0) std::abort();
      }
    }
    client_listener = c.tcp().socket(wire::IpFamily::kV4);
    if (c.tcp().bind(client_listener, {kClient4, kClientPort}) != 0 ||
        c.tcp().listen(client_listener, 16) != 0)
      std::abort();
    conns[0].family = wire::IpFamily::kV4;
    conns[1].family = wire::IpFamily::kV6;
    conns[2].from_a = true;
    ensure_connections();
    // The setting every input starts from: a harness that cannot open its connections fuzzes
    // nothing but the listeners.
    for (const Conn& k : conns) {
      if (k.acceptor < 0) std::abort();
    }
  }

  // Notes the client's sequence numbers on its way out (for bit 3).
  void observe_client(std::span<const std::uint8_t> frame) {
    const auto eth = wire::parse_ethernet(frame);
    if (!eth) return;
    const auto ip = wire::parse_ip(eth->payload);
    if (!ip) return;
    const auto t = wire::parse_tcp(ip->payload);
    if (!t) return;
    for (Conn& k : conns) {
      const std::uint16_t client_side = k.from_a ? kClientPort : k.opener_port;
      const std::uint16_t server_side = k.from_a ? k.opener_port : kServerPort;
      if (t->repr.src_port == client_side && t->repr.dst_port == server_side && ip->src.family == k.family) {
        k.last_seq = t->repr.seq;
        k.last_ack = t->repr.ack;
      }
    }
  }

  // The applications accept and read whatever arrived, so windows reopen.
  void run_apps() {
    for (std::size_t e = 0; e < 2; ++e) {
      for (std::size_t f = 0; f < 2; ++f) {
        for (SocketId s; (s = servers[e]->tcp().accept(listeners[e][f], nullptr)) >= 0;) {
          wire::SockAddr peer;
          Conn& k = conns[f];
          if (k.opener >= 0 && k.acceptor < 0 && servers[e]->tcp().getpeername(s, &peer) == 0 &&
              peer.port == k.opener_port) {
            k.acceptor = s;
            k.acceptor_engine = static_cast<int>(e);
          } else {
            servers[e]->tcp().close(s, clock.now());  // one the fuzzer opened
          }
        }
      }
    }
    for (SocketId s; (s = c.tcp().accept(client_listener, nullptr)) >= 0;) {
      Conn& k = conns[2];
      if (k.opener >= 0 && k.acceptor < 0) {
        k.acceptor = s;
        k.acceptor_engine = 2;
      } else {
        c.tcp().close(s, clock.now());
      }
    }
    for (Conn& k : conns) {
      if (k.acceptor >= 0) (void)engine_of_acceptor(k).tcp().recv(k.acceptor, scratch, clock.now());
      if (k.opener >= 0) (void)opener_engine(k).tcp().recv(k.opener, scratch, clock.now());
    }
  }

  engine::Engine& opener_engine(const Conn& k) { return k.from_a ? a : c; }
  engine::Engine& engine_of_acceptor(const Conn& k) {
    return k.acceptor_engine == 2 ? c : *servers[static_cast<std::size_t>(k.acceptor_engine)];
  }

  // Runs the engines until nothing moves (bounded); once quiet, every hand-off pushed was taken.
  void pump() {
    auto moved = [this] {
      return a.stats().rx_frames + b.stats().rx_frames + c.stats().rx_frames + a.stats().handoffs_in +
             b.stats().handoffs_in + a.stats().tx_frames + b.stats().tx_frames + c.stats().tx_frames;
    };
    bool quiet = false;
    for (int round = 0; round < 64 && !quiet; ++round) {
      const std::uint64_t before = moved();
      a.poll();
      b.poll();
      c.poll();
      run_apps();
      clock.advance(Duration::micros(100));
      quiet = moved() == before && round > 0;
    }
    if (quiet && (a.stats().handoffs_out != b.stats().handoffs_in ||
                  b.stats().handoffs_out != a.stats().handoffs_in)) {
      std::abort();  // a hand-off pushed and never taken
    }
  }

  void ensure_connections() {
    for (Conn& k : conns) {
      engine::Engine& oe = opener_engine(k);
      const bool ok = k.opener >= 0 && k.acceptor >= 0 &&
                      oe.tcp().state(k.opener) == TcpState::kEstablished &&
                      engine_of_acceptor(k).tcp().state(k.acceptor) == TcpState::kEstablished;
      if (ok) continue;
      if (k.opener >= 0) oe.tcp().close(k.opener, clock.now());
      if (k.acceptor >= 0) engine_of_acceptor(k).tcp().close(k.acceptor, clock.now());
      k.opener = k.acceptor = -1;
      k.acceptor_engine = -1;
      pump();
      for (int attempt = 0; attempt < 2 && k.acceptor < 0; ++attempt) {
        k.opener = oe.tcp().socket(k.family);
        const wire::SockAddr to =
            k.from_a ? wire::SockAddr{kClient4, kClientPort}
                     : wire::SockAddr{k.family == wire::IpFamily::kV4 ? kServer4 : kServer6, kServerPort};
        const int rc = k.opener >= 0 ? oe.connect(k.opener, to) : k.opener;
        if (rc == 0 || rc == -EINPROGRESS) {
          wire::SockAddr local;
          if (oe.tcp().getsockname(k.opener, &local) == 0) k.opener_port = local.port;
          for (int i = 0; i < 20 && k.acceptor < 0; ++i) pump();
        }
        if (k.acceptor < 0) {
          // Reconnections leave TIME-WAITs behind, which fill the TCB pool on virtual time that
          // barely moves: let 2*MSL pass and try once more.
          if (k.opener >= 0) oe.tcp().close(k.opener, clock.now());
          k.opener = -1;
          clock.advance(tcp::StackConfig{}.time_wait + Duration::seconds(1));
          pump();
        }
      }
    }
  }
};

World& world() {
  static World* w = new World();  // lives for the process (libFuzzer never returns)
  return *w;
}

// Wraps an IP packet (or any payload) in an Ethernet header to the servers, tagged when asked.
std::size_t frame_around(std::span<const std::uint8_t> payload, std::uint16_t type,
                         std::optional<std::uint16_t> vlan, std::span<std::uint8_t> out) {
  const std::size_t hl = wire::emit_ethernet(kServerMac, kClientMac, type, vlan, out);
  const std::size_t n = std::min(payload.size(), out.size() - hl);
  std::memcpy(out.data() + hl, payload.data(), n);
  return hl + n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  World& w = world();
  const std::uint8_t mode = data[0];
  const std::uint8_t arg = data[1];
  const std::span<const std::uint8_t> rest(data + 2, size - 2);
  if (mode & 0x80) {
    w.clock.advance(Duration::millis(300));
    w.pump();
  }
  const std::size_t queue = (mode >> 2) & 1u;
  const std::optional<std::uint16_t> vlan =
      (mode & 0x20) ? std::optional<std::uint16_t>(static_cast<std::uint16_t>(arg) + 1) : std::nullopt;
  std::array<std::uint8_t, 2048> frame{};
  std::size_t len = 0;
  switch (mode & 3u) {
    case 0:
      len = std::min(rest.size(), frame.size());
      std::memcpy(frame.data(), rest.data(), len);
      break;
    case 1: {
      const std::uint16_t type =
          !rest.empty() && (rest[0] >> 4) == 6 ? wire::kEtherTypeIpv6 : wire::kEtherTypeIpv4;
      len = frame_around(rest, type, vlan, frame);
      break;
    }
    default: {
      if (rest.size() < 20 || rest.size() > 1400) return 0;
      std::array<std::uint8_t, 1500> seg{};
      std::memcpy(seg.data(), rest.data(), rest.size());
      const std::span<std::uint8_t> tcp(seg.data(), rest.size());
      wire::IpAddr src = kClient4, dst = kServer4;
      if ((mode & 3u) == 2) {
        const Conn& k = w.conns[arg % 3];
        if (k.family == wire::IpFamily::kV6) {
          src = kClient6;
          dst = kServer6;
        }
        const std::uint16_t sport = k.from_a ? kClientPort : k.opener_port;
        const std::uint16_t dport = k.from_a ? k.opener_port : kServerPort;
        store_be16(&tcp[0], sport);
        store_be16(&tcp[2], dport);
        if (mode & 0x08) {
          store_be32(&tcp[4], load_be32(&tcp[4]) + k.last_seq);
          store_be32(&tcp[8], load_be32(&tcp[8]) + k.last_ack);
        }
      } else {
        if (arg & 1) {
          src = kClient6;
          dst = kServer6;
        }
        store_be16(&tcp[2], kServerPort);
      }
      if (!(mode & 0x10)) wire::tcp_fill_checksum(src, dst, tcp);
      std::array<std::uint8_t, 1600> ip{};
      const wire::IpHeaderSpec spec{
          .src = src, .dst = dst, .payload_len = static_cast<std::uint16_t>(tcp.size())};
      const std::size_t ihl = wire::emit_ip(spec, ip);
      std::memcpy(ip.data() + ihl, tcp.data(), tcp.size());
      len = frame_around({ip.data(), ihl + tcp.size()},
                         src.family == wire::IpFamily::kV4 ? wire::kEtherTypeIpv4 : wire::kEtherTypeIpv6,
                         vlan, frame);
      break;
    }
  }
  io::PacketIo& q = queue == 0 ? w.link_a.b() : w.link_b.b();
  const std::span<std::uint8_t> out = q.tx_acquire();
  if (out.size() >= len && len > 0) {
    std::memcpy(out.data(), frame.data(), len);
    q.tx_commit(len);
  }
  if (mode & 0x40) w.client_io.rehashed = !w.client_io.rehashed;
  w.pump();
  w.ensure_connections();
  return 0;
}
