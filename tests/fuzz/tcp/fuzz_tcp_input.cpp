// fuzz_tcp_input: libFuzzer over the whole TCP receive path (TcpStack::input and what it sets
// off: the state machine, reassembly, SACK, ACK processing, the replies and timers).
//
// At start-up two stacks, a server with a listener and a client, are joined by an in-memory
// loopback and open one IPv4 and one IPv6 connection. Each input then becomes one packet for
// the server. Random bytes rarely pass the checksum or hit a connection, so the first byte steers
// how the rest is turned into a packet (so the fuzzer can learn the modes):
//   bit 0: IPv6 (else IPv4)
//   bit 1: raw: the rest is a whole IP packet, given as is (the other bits are ignored)
//   bit 2: to the established connection (addresses and both ports overwritten), else to the
//          listener (addresses and destination port overwritten, source port as given)
//   bit 3: sequence and acknowledgment numbers relative to the client's last segment (its
//          SEQ and ACK are added), so that small values land inside the window
//   bit 4: leave the TCP checksum as given (else it is computed)
//   bits 5-7: advance the clock by that many 50 ms steps first (timers fire)
// After each packet both stacks run and exchange packets until quiet; a connection that died is
// opened again, so the next input finds the same setting. Seed corpus: tests/fuzz/corpus/tcp
// (made by make_corpus.py).
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "userstack/base/byteorder.h"
#include "userstack/tcp/tcp_stack.h"
#include "userstack/wire/checksum.h"
#include "userstack/wire/ip.h"
#include "userstack/wire/tcp_header.h"

namespace {

using namespace xdptcp;
using tcp::SocketId;
using tcp::TcpStack;
using tcp::TcpState;

constexpr std::uint16_t kPort = 80;
constexpr std::size_t kMaxPacket = 2048;

const wire::IpAddr kServer4 = wire::IpAddr::v4(198, 18, 20, 1);
const wire::IpAddr kClient4 = wire::IpAddr::v4(198, 18, 20, 2);
const std::uint8_t kServer6Bytes[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x20, 1};
const std::uint8_t kClient6Bytes[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x20, 2};

// A bounded FIFO of packets: one stack's sink, read by the pump.
class QueueSink final : public tcp::PacketSink {
 public:
  std::span<std::uint8_t> tx_acquire() override {
    if (count_ == kSlots) return {};
    return slots_[(head_ + count_) % kSlots].bytes;
  }
  void tx_commit(std::size_t len) override {
    if (count_ == kSlots) return;
    slots_[(head_ + count_) % kSlots].len = len;
    ++count_;
  }
  bool empty() const { return count_ == 0; }
  std::span<const std::uint8_t> front() const { return {slots_[head_].bytes.data(), slots_[head_].len}; }
  void pop() {
    head_ = (head_ + 1) % kSlots;
    --count_;
  }

 private:
  static constexpr std::size_t kSlots = 256;
  struct Slot {
    std::array<std::uint8_t, kMaxPacket> bytes;
    std::size_t len = 0;
  };
  std::array<Slot, kSlots> slots_{};
  std::size_t head_ = 0, count_ = 0;
};

struct Conn {
  wire::IpFamily family;
  SocketId client = -1;
  SocketId server = -1;
  std::uint16_t client_port = 0;
  std::uint32_t last_seq = 0;  // of the client's last segment to the server
  std::uint32_t last_ack = 0;
};

struct World {
  Instant now{};
  QueueSink to_server;  // the client's sink
  QueueSink to_client;  // the server's sink
  std::optional<TcpStack> server;
  std::optional<TcpStack> client;
  std::array<SocketId, 2> listeners{-1, -1};  // IPv4, IPv6
  std::array<Conn, 2> conns{Conn{wire::IpFamily::kV4}, Conn{wire::IpFamily::kV6}};
  std::array<std::uint8_t, 64 * 1024> scratch{};

  World() {
    tcp::StackConfig sc;
    sc.local_addrs = {kServer4, wire::IpAddr::v6_bytes(kServer6Bytes)};
    sc.max_sockets = 64;
    sc.syn_backlog = 16;
    sc.secret = 1;
    tcp::StackConfig cc = sc;
    cc.local_addrs = {kClient4, wire::IpAddr::v6_bytes(kClient6Bytes)};
    cc.secret = 2;
    server.emplace(sc, to_client, now);
    client.emplace(cc, to_server, now);
    const wire::SockAddr listen_at[2] = {{kServer4, kPort}, {wire::IpAddr::v6_bytes(kServer6Bytes), kPort}};
    for (int i = 0; i < 2; ++i) {
      listeners[i] = server->socket(listen_at[i].ip.family);
      if (server->bind(listeners[i], listen_at[i]) != 0 || server->listen(listeners[i], 16) != 0)
        std::abort();
    }
    ensure_connections();
  }

  // Notes the client's sequence numbers on its way to the server (for bit 3).
  void observe(std::span<const std::uint8_t> pkt) {
    auto ip = wire::parse_ip(pkt);
    if (!ip.ok()) return;
    auto t = wire::parse_tcp(ip->payload);
    if (!t.ok()) return;
    for (Conn& c : conns) {
      if (c.client >= 0 && t->repr.src_port == c.client_port && ip->src.family == c.family) {
        c.last_seq = t->repr.seq;
        c.last_ack = t->repr.ack;
      }
    }
  }

  // Runs both stacks and carries their packets until nothing moves (bounded).
  void pump() {
    for (int round = 0; round < 64; ++round) {
      server->advance(now);
      client->advance(now);
      drain_apps();
      server->flush(now);
      client->flush(now);
      if (to_server.empty() && to_client.empty()) return;
      while (!to_server.empty()) {
        observe(to_server.front());
        server->input(to_server.front(), now);
        to_server.pop();
      }
      while (!to_client.empty()) {
        client->input(to_client.front(), now);
        to_client.pop();
      }
      now += Duration::micros(10);
    }
  }

  // The applications read whatever arrived, so windows reopen; the server accepts.
  void drain_apps() {
    for (int i = 0; i < 2; ++i) {
      for (SocketId s; (s = server->accept(listeners[i], nullptr)) >= 0;) {
        Conn& c = conns[i];
        wire::SockAddr peer;
        if (c.client >= 0 && c.server < 0 && server->getpeername(s, &peer) == 0 &&
            peer.port == c.client_port) {
          c.server = s;
        } else {
          server->close(s, now);  // a connection the fuzzer opened
        }
      }
    }
    for (Conn& c : conns) {
      if (c.server >= 0) (void)server->recv(c.server, scratch, now);
      if (c.client >= 0) (void)client->recv(c.client, scratch, now);
    }
  }

  int open_client(Conn& c, const wire::IpAddr& dst) {
    c.client = client->socket(c.family);
    if (c.client < 0) return c.client;
    return client->connect(c.client, wire::SockAddr{dst, kPort}, now);
  }

  // Opens each connection again when the last input ended it.
  void ensure_connections() {
    for (Conn& c : conns) {
      const bool ok = c.client >= 0 && c.server >= 0 && client->state(c.client) == TcpState::kEstablished &&
                      server->state(c.server) == TcpState::kEstablished;
      if (ok) continue;
      if (c.client >= 0) client->close(c.client, now);
      if (c.server >= 0) server->close(c.server, now);
      c.client = c.server = -1;
      // Let the closes finish (RST, FIN exchange) before opening again.
      pump();
      const wire::IpAddr dst =
          c.family == wire::IpFamily::kV4 ? kServer4 : wire::IpAddr::v6_bytes(kServer6Bytes);
      int rc = open_client(c, dst);
      if (rc != 0 && rc != -EINPROGRESS) {
        // Every reconnection leaves a TIME-WAIT behind; on virtual time that barely moves they
        // fill the TCB pool (its bound: socket() gives ENOBUFS). Let 2*MSL pass and retry.
        if (c.client >= 0) client->close(c.client, now);
        now += tcp::StackConfig{}.time_wait + Duration::seconds(1);
        pump();
        rc = open_client(c, dst);
      }
      if (rc != 0 && rc != -EINPROGRESS) {
        std::fprintf(stderr, "harness: socket %d connect rc %d\n", c.client, rc);
        std::abort();  // the harness itself is broken
      }
      wire::SockAddr local;
      client->getsockname(c.client, &local);
      c.client_port = local.port;
      pump();
      // Some data from the client so that SEQ/ACK are known and the receive path is warm.
      static const std::uint8_t kHello[] = "hello";
      (void)client->send(c.client, kHello, now);
      pump();
    }
  }

  void one_input(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return;
    const std::uint8_t ctrl = data[0];
    std::span<const std::uint8_t> rest(data + 1, size - 1);
    now += Duration::millis(50) * (ctrl >> 5);
    if ((ctrl & 0x02) != 0) {
      server->input(rest, now);
    } else {
      const bool v6 = (ctrl & 0x01) != 0;
      Conn& c = conns[v6 ? 1 : 0];
      const wire::IpAddr src = v6 ? wire::IpAddr::v6_bytes(kClient6Bytes) : kClient4;
      const wire::IpAddr dst = v6 ? wire::IpAddr::v6_bytes(kServer6Bytes) : kServer4;
      const std::size_t hl = wire::ip_header_len(src.family);
      std::array<std::uint8_t, kMaxPacket> pkt{};
      const std::size_t seg_len = std::min(rest.size(), kMaxPacket - hl);
      std::memcpy(pkt.data() + hl, rest.data(), seg_len);
      std::uint8_t* seg = pkt.data() + hl;
      if (seg_len >= 20) {
        if ((ctrl & 0x04) != 0) store_be16(seg, c.client_port);
        store_be16(seg + 2, kPort);
        if ((ctrl & 0x08) != 0) {
          store_be32(seg + 4, load_be32(seg + 4) + c.last_seq);
          store_be32(seg + 8, load_be32(seg + 8) + c.last_ack);
        }
        if ((ctrl & 0x10) == 0) {
          store_be16(seg + 16, 0);
          wire::tcp_fill_checksum(src, dst, {seg, seg_len});
        }
      }
      wire::IpHeaderSpec ip;
      ip.src = src;
      ip.dst = dst;
      ip.payload_len = static_cast<std::uint16_t>(seg_len);
      wire::emit_ip(ip, pkt);
      server->input({pkt.data(), hl + seg_len}, now);
    }
    pump();
    ensure_connections();
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static World* world = new World();  // lives for the whole run (reachable: not a leak)
  world->one_input(data, size);
  return 0;
}
