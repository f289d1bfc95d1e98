// A dialogue harness for TcpStack tests (after smoltcp's state tests and lwIP's test helpers):
// one TcpStack at 198.18.0.1 with a capturing PacketSink, a fake peer at 198.18.0.2 whose
// segments are fabricated relative to the connection's state and injected with input(), and a
// manual clock. Tests read as: put a socket in a state, send a segment, expect the segments.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "userstack/tcp/tcp_connection.h"
#include "userstack/tcp/tcp_stack.h"
#include "userstack/wire/ip.h"
#include "userstack/wire/tcp_header.h"

namespace xdptcp::tcp::test {

using namespace wire::tcp_flags;

// Records every IP packet the stack sends. `full` makes tx_acquire() fail (TX ring full).
class CapturingSink : public PacketSink {
 public:
  std::span<std::uint8_t> tx_acquire() override {
    if (full) return {};
    return {buf_.data(), buf_.size()};
  }
  void tx_commit(std::size_t len) override { packets.emplace_back(buf_.begin(), buf_.begin() + len); }
  std::vector<std::vector<std::uint8_t>> packets;
  bool full = false;

 private:
  std::array<std::uint8_t, 9000> buf_{};
};

// One emitted segment, parsed with wire (IP and TCP checksums verified).
struct Seg {
  wire::IpAddr src, dst;
  wire::TcpRepr h;
  std::vector<std::uint8_t> data;
  bool has(std::uint8_t f) const { return h.has(f); }
  std::string str() const {
    std::string s = "[";
    const char* names[] = {"FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"};
    for (int i = 0; i < 8; ++i) {
      if (h.flags & (1 << i)) s += std::string(names[i]) + " ";
    }
    return s + "seq=" + std::to_string(h.seq) + " ack=" + std::to_string(h.ack) +
           " win=" + std::to_string(h.window) + " len=" + std::to_string(data.size()) + "]";
  }
};

inline Seg parse_seg(const std::vector<std::uint8_t>& pkt) {
  auto ip = wire::parse_ip(pkt);
  EXPECT_TRUE(ip.ok());
  auto tcp = wire::parse_tcp(ip->payload);
  EXPECT_TRUE(tcp.ok());
  EXPECT_TRUE(wire::tcp_checksum_ok(ip->src, ip->dst, ip->payload));
  Seg s;
  s.src = ip->src;
  s.dst = ip->dst;
  s.h = tcp->repr;
  s.data.assign(tcp->payload.begin(), tcp->payload.end());
  return s;
}

inline std::vector<std::uint8_t> build_packet(const wire::SockAddr& src, const wire::SockAddr& dst,
                                              const wire::TcpRepr& h, std::span<const std::uint8_t> payload) {
  const std::size_t ihl = wire::ip_header_len(src.ip.family);
  const std::size_t thl = h.header_len();
  std::vector<std::uint8_t> pkt(ihl + thl + payload.size());
  wire::IpHeaderSpec spec;
  spec.src = src.ip;
  spec.dst = dst.ip;
  spec.payload_len = static_cast<std::uint16_t>(thl + payload.size());
  wire::emit_ip(spec, pkt);
  wire::emit_tcp(h, std::span(pkt).subspan(ihl, thl));
  if (!payload.empty()) std::memcpy(pkt.data() + ihl + thl, payload.data(), payload.size());
  wire::tcp_fill_checksum(src.ip, dst.ip, std::span(pkt).subspan(ihl));
  return pkt;
}

inline std::vector<std::uint8_t> bytes(std::size_t n, std::uint8_t seed = 0) {
  std::vector<std::uint8_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>(seed + i * 7);
  return v;
}

// What the fake peer puts in its SYN.
struct PeerOptions {
  std::optional<std::uint16_t> mss = 1460;
  std::optional<std::uint8_t> wscale = 7;
  bool sack = true;
  bool timestamps = true;
};

class Dialogue {
 public:
  static StackConfig default_config() {
    StackConfig cfg;
    cfg.local_addrs = {wire::IpAddr::v4(198, 18, 0, 1)};
    cfg.max_sockets = 16;
    cfg.syn_backlog = 8;
    cfg.secret = 42;
    cfg.cc = CcAlgorithm::kNewReno;
    // Exact windows for the configured buffers: no auto-tuning (as with SO_RCVBUF/SO_SNDBUF set);
    // tests of auto-tuning turn it on (tcp_autotune_test.cpp).
    cfg.rcvbuf_auto_max = 0;
    cfg.sndbuf_auto_max = 0;
    return cfg;
  }

  explicit Dialogue(StackConfig cfg = default_config())
      : now(Instant{1'000'000'000}), stack(std::move(cfg), sink, now) {}

  // ---- the stack side ----
  std::vector<Seg> take() {
    stack.flush(now);
    std::vector<Seg> out;
    for (auto& p : sink.packets) out.push_back(parse_seg(p));
    sink.packets.clear();
    return out;
  }
  // Exactly one segment is sent; returns it.
  Seg take_one() {
    auto v = take();
    EXPECT_EQ(v.size(), 1u) << describe(v);
    return v.empty() ? Seg{} : v.front();
  }
  void expect_none() {
    auto v = take();
    EXPECT_TRUE(v.empty()) << describe(v);
  }
  static std::string describe(const std::vector<Seg>& v) {
    std::string s;
    for (auto& x : v) s += x.str() + " ";
    return s;
  }
  void advance(Duration d) {
    now += d;
    stack.advance(now);
  }
  const TcpConnection& tcb(SocketId s) const { return *stack.connection(s); }

  // ---- the fake peer ----
  wire::SockAddr local{wire::IpAddr::v4(198, 18, 0, 1), 80};
  wire::SockAddr peer{wire::IpAddr::v4(198, 18, 0, 2), 40000};
  std::uint32_t peer_seq = 1000;      // next sequence number the peer sends
  std::uint32_t peer_ack = 0;         // what the peer acknowledges
  std::uint16_t peer_window = 65535;  // raw window field the peer sends
  std::uint32_t peer_ts = 5000;       // peer's TSval clock
  bool peer_ts_on = true;             // peer sends timestamps (after the SYN)
  std::uint32_t our_tsval = 0;        // last TSval seen from the stack (echoed by the peer)

  void inject(std::uint8_t flags, std::span<const std::uint8_t> payload = {},
              std::optional<std::uint32_t> seq = {}, std::optional<std::uint32_t> ack = {},
              wire::TcpOptions opts = {}) {
    wire::TcpRepr h;
    h.src_port = peer.port;
    h.dst_port = local.port;
    h.seq = seq.value_or(peer_seq);
    h.ack = (flags & kAck) ? ack.value_or(peer_ack) : 0;
    h.flags = flags;
    h.window = peer_window;
    h.options = opts;
    if (peer_ts_on && !h.options.timestamps && !(flags & kSyn))
      h.options.timestamps = wire::TcpTimestamps{peer_ts, our_tsval};
    auto pkt = build_packet(peer, local, h, payload);
    accepted = stack.input(pkt, now);
  }
  bool accepted = false;  // what TcpStack::input answered for the last injected segment
  // Data (or a bare ACK) in order from the peer; advances peer_seq.
  void send_data(std::span<const std::uint8_t> d, std::uint8_t extra = 0) {
    inject(static_cast<std::uint8_t>(kAck | extra), d);
    peer_seq += static_cast<std::uint32_t>(d.size()) + ((extra & kFin) ? 1 : 0);
  }
  void ack(std::uint32_t a) {
    peer_ack = a;
    inject(kAck);
  }
  void note(const Seg& s) {
    if (s.h.options.timestamps) our_tsval = s.h.options.timestamps->tsval;
  }

  wire::TcpOptions syn_options(const PeerOptions& p) const {
    wire::TcpOptions o;
    o.mss = p.mss;
    o.window_scale = p.wscale;
    o.sack_permitted = p.sack;
    if (p.timestamps) o.timestamps = wire::TcpTimestamps{peer_ts, 0};
    return o;
  }

  SocketId listen_on(std::uint16_t port = 80, int backlog = 8) {
    SocketId l = stack.socket(wire::IpFamily::kV4);
    EXPECT_GE(l, 0);
    EXPECT_EQ(stack.bind(l, {wire::IpAddr::v4(0, 0, 0, 0), port}), 0);
    EXPECT_EQ(stack.listen(l, backlog), 0);
    return l;
  }

  // Passive open through the 3-way handshake; returns the accepted socket.
  SocketId open_passive(SocketId listener, PeerOptions p = {}) {
    peer_ts_on = p.timestamps;
    inject(kSyn, {}, peer_seq, {}, syn_options(p));
    Seg synack = take_one();
    EXPECT_TRUE(synack.has(kSyn) && synack.has(kAck)) << synack.str();
    note(synack);
    peer_seq += 1;
    peer_ack = synack.h.seq + 1;
    inject(kAck);
    SocketId s = stack.accept(listener, nullptr);
    EXPECT_GE(s, 0);
    return s;
  }

  // Active open: connect, answer the SYN with a SYN-ACK, collect the ACK.
  SocketId open_active(PeerOptions p = {}, Seg* syn_out = nullptr) {
    SocketId s = stack.socket(wire::IpFamily::kV4);
    EXPECT_EQ(stack.connect(s, peer, now), -EINPROGRESS);
    Seg syn = take_one();
    EXPECT_TRUE(syn.has(kSyn) && !syn.has(kAck)) << syn.str();
    local.port = syn.h.src_port;
    peer.port = syn.h.dst_port;
    if (syn_out) *syn_out = syn;
    note(syn);
    peer_ts_on = p.timestamps;
    wire::TcpOptions o = syn_options(p);
    if (o.timestamps) o.timestamps->tsecr = our_tsval;
    inject(kSyn | kAck, {}, peer_seq, syn.h.seq + 1, o);
    peer_seq += 1;
    peer_ack = syn.h.seq + 1;
    Seg a = take_one();
    EXPECT_TRUE(a.has(kAck) && !a.has(kSyn)) << a.str();
    note(a);
    return s;
  }

  CapturingSink sink;
  Instant now;
  TcpStack stack;
};

}  // namespace xdptcp::tcp::test
