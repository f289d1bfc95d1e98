// Property test of the TCP core on impaired simulated links: for many seeds, random loss (up to
// 5%), reordering, duplication, corruption, delay, jitter and bandwidth, and random application
// read/write sizes and timing on both ends, every byte is delivered exactly once and in order
// in both directions (RFC 9293 §1: "reliable, in-order, byte-stream"), both ends reach CLOSED or
// TIME-WAIT (§3.6), and after 2*MSL (the TIME-WAIT timeout, §3.6.1) the stacks hold no
// connections and no sockets.
//
// XDPTCP_SIM_SEEDS=<n> changes the number of seeds (default 500), XDPTCP_SIM_SEED=<s> runs one,
// XDPTCP_SIM_MAX_FAILURES=<n> reports up to n failing seeds (default 5) before stopping;
// with XDPTCP_SIM_PCAP=<dir> a seed's traffic is written to <dir>/TcpProperty_seed_<s>.pcap.
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/sim/sim_network.h"

namespace xdptcp::sim {
namespace {

using tcp::SocketId;
using tcp::TcpState;

constexpr std::uint16_t kPort = 8080;

// The byte at stream offset i of direction `dir`: a multiplicative hash, so a byte delivered at
// the wrong offset (duplicated, skipped or reordered data) is caught.
std::uint8_t pattern(std::uint64_t salt, std::uint64_t i) {
  return static_cast<std::uint8_t>(((i + salt) * 0x9E3779B97F4A7C15ULL) >> 56);
}

struct Scenario {
  std::uint64_t seed = 0;
  bool v6 = false;
  LinkConfig link[2];
  tcp::StackConfig stack[2];
  std::uint64_t bytes[2] = {0, 0};  // to send from endpoint i
  std::uint32_t max_chunk = 0;      // largest single write/read
  Duration max_pause{};             // longest time an application waits between actions
  std::string describe() const {
    std::ostringstream o;
    o << "seed " << seed << (v6 ? " IPv6" : " IPv4") << " bytes " << bytes[0] << "/" << bytes[1]
      << " chunk<=" << max_chunk << " pause<=" << max_pause.as_micros() << "us";
    for (int i = 0; i < 2; ++i) {
      const LinkConfig& l = link[i];
      o << "\n  link " << i << ": loss " << l.loss << " reorder " << l.reorder << " dup " << l.duplicate
        << " corrupt " << l.corrupt << " delay " << l.delay.as_micros() << "us jitter "
        << l.jitter.as_micros() << "us bw " << l.bandwidth_bps << " queue " << l.queue_limit
        << "; stack sndbuf " << stack[i].sndbuf << " rcvbuf " << stack[i].rcvbuf << " cc "
        << static_cast<int>(stack[i].cc);
    }
    return o.str();
  }
};

Scenario make_scenario(std::uint64_t seed) {
  std::mt19937_64 r(seed * 0x2545F4914F6CDD1DULL + 1);
  auto uni = [&r](double lo, double hi) {
    return lo + (hi - lo) * static_cast<double>(r() >> 11) * 0x1.0p-53;
  };
  auto pick = [&r](std::uint64_t n) { return r() % n; };
  Scenario s;
  s.seed = seed;
  s.v6 = pick(4) == 0;
  const wire::IpAddr addr[2] = {
      s.v6 ? *wire::IpAddr::parse("fd00:5173::1") : wire::IpAddr::v4(198, 18, 7, 1),
      s.v6 ? *wire::IpAddr::parse("fd00:5173::2") : wire::IpAddr::v4(198, 18, 7, 2)};
  // Impairments are drawn once per scenario and used on both directions (each with its own seed).
  const double loss = pick(5) == 0 ? 0.0 : uni(0, 0.05);
  const double reorder = pick(3) == 0 ? 0.0 : uni(0, 0.05);
  const double dup = pick(3) == 0 ? 0.0 : uni(0, 0.03);
  const double corrupt = pick(3) == 0 ? 0.0 : uni(0, 0.02);
  const Duration delay = Duration::micros(static_cast<std::int64_t>(pick(50'001)));
  const Duration jitter = Duration::micros(static_cast<std::int64_t>(pick(4) == 0 ? 0 : pick(5'001)));
  static constexpr std::uint64_t kBw[] = {0, 0, 2'000'000, 10'000'000, 100'000'000, 1'000'000'000};
  const std::uint64_t bw = kBw[pick(6)];
  const std::size_t queue = 8 + pick(120);
  static constexpr std::uint32_t kBuf[] = {8 * 1024, 16 * 1024, 64 * 1024, 256 * 1024};
  for (int i = 0; i < 2; ++i) {
    LinkConfig& l = s.link[i];
    l.seed = seed * 2 + static_cast<std::uint64_t>(i) + 1;
    l.loss = loss;
    l.reorder = reorder;
    l.reorder_delay = Duration::micros(500 + static_cast<std::int64_t>(pick(5'000)));
    l.duplicate = dup;
    l.corrupt = corrupt;
    l.delay = delay;
    l.jitter = jitter;
    l.bandwidth_bps = bw;
    l.queue_limit = queue;
    tcp::StackConfig& c = s.stack[i];
    c.local_addrs = {addr[i]};
    c.max_sockets = 16;
    c.sndbuf = kBuf[pick(4)];
    c.rcvbuf = kBuf[pick(4)];
    c.cc = pick(2) == 0 ? tcp::CcAlgorithm::kNewReno : tcp::CcAlgorithm::kCubic;
    c.secret = seed * 31 + static_cast<std::uint64_t>(i) + 1;
    s.bytes[i] = 20'000 + pick(80'001);
  }
  s.max_chunk = static_cast<std::uint32_t>(1 + pick(16 * 1024));
  // At least 1 us: an application that asked to run again at the same instant forever would
  // only exercise the simulator's stall guard.
  s.max_pause = Duration::micros(1 + static_cast<std::int64_t>(pick(5'000)));
  return s;
}

// One end of the transfer: writes its bytes in random chunks, reads in random chunks, shuts its
// sending side when all are queued, and checks every byte it reads.
struct Peer {
  tcp::TcpStack* st = nullptr;
  SocketId sock = -1;
  std::uint64_t tx_salt = 0, rx_salt = 0;
  std::uint64_t tx_total = 0, rx_total = 0;
  std::uint64_t sent = 0, received = 0;
  bool shut = false, eof = false;
  std::string error;  // the first violation seen
  std::mt19937_64 rng;
  Instant next_action{};
  std::vector<std::uint8_t> buf;

  bool finished() const { return shut && eof; }

  void act(Instant now, std::uint32_t max_chunk) {
    if (sock < 0 || !error.empty()) return;
    const std::uint32_t ev = st->poll_events(sock);
    if ((ev & tcp::events::kErr) != 0) {
      int err = 0;
      st->getsockopt(sock, tcp::SockOpt::kError, &err);
      error = "socket error " + std::to_string(err) + " in " + std::string(to_string(st->state(sock)));
      return;
    }
    // Write one random-sized chunk.
    if (!shut && sent < tx_total && (ev & tcp::events::kOut) != 0) {
      const std::size_t n = std::min<std::uint64_t>(tx_total - sent, 1 + rng() % max_chunk);
      for (std::size_t k = 0; k < n; ++k) buf[k] = pattern(tx_salt, sent + k);
      const ssize_t w = st->send(sock, {buf.data(), n}, now);
      if (w > 0) {
        sent += static_cast<std::uint64_t>(w);
      } else if (w != -EAGAIN) {
        error = "send failed: " + std::to_string(w);
        return;
      }
    }
    if (!shut && sent == tx_total) {
      const int rc = st->shutdown(sock, SHUT_WR, now);
      if (rc != 0) {
        error = "shutdown failed: " + std::to_string(rc);
        return;
      }
      shut = true;
    }
    // Read one or more random-sized chunks.
    const int reads = 1 + static_cast<int>(rng() % 3);
    for (int i = 0; i < reads && !eof; ++i) {
      const std::size_t n = 1 + rng() % max_chunk;
      const ssize_t r = st->recv(sock, {buf.data(), n}, now);
      if (r == -EAGAIN) break;
      if (r < 0) {
        error = "recv failed: " + std::to_string(r);
        return;
      }
      if (r == 0) {
        eof = true;
        if (received != rx_total) {
          error = "EOF after " + std::to_string(received) + " of " + std::to_string(rx_total) + " bytes";
        }
        break;
      }
      for (ssize_t k = 0; k < r; ++k) {
        if (received + static_cast<std::uint64_t>(k) >= rx_total) {
          error = "more bytes than were sent";
          return;
        }
        if (buf[static_cast<std::size_t>(k)] != pattern(rx_salt, received + static_cast<std::uint64_t>(k))) {
          error = "wrong byte at offset " + std::to_string(received + static_cast<std::uint64_t>(k));
          return;
        }
      }
      received += static_cast<std::uint64_t>(r);
    }
  }
};

// Runs one scenario; returns "" or what went wrong.
std::string run_scenario(const Scenario& sc) {
  SimNetwork::Options opts;
  opts.name = "TcpProperty_seed_" + std::to_string(sc.seed);
  opts.seed = sc.seed;
  SimNetwork net(opts);
  const Duration time_wait = sc.stack[0].time_wait;
  net.add_stack(sc.stack[0], sc.link[0]);  // the server
  net.add_stack(sc.stack[1], sc.link[1]);  // the client
  tcp::TcpStack& server = net.stack(0);
  tcp::TcpStack& client = net.stack(1);
  const wire::SockAddr server_addr{sc.stack[0].local_addrs[0], kPort};

  const SocketId listener = server.socket(server_addr.ip.family);
  if (listener < 0 || server.bind(listener, server_addr) != 0 || server.listen(listener, 4) != 0) {
    return "listen failed";
  }
  Peer peer[2];
  std::mt19937_64 app_rng(sc.seed ^ 0xA5A5A5A5ULL);
  for (int i = 0; i < 2; ++i) {
    peer[i].st = &net.stack(static_cast<std::size_t>(i));
    peer[i].tx_salt = sc.seed * 4 + static_cast<std::uint64_t>(i);
    peer[i].rx_salt = sc.seed * 4 + static_cast<std::uint64_t>(1 - i);
    peer[i].tx_total = sc.bytes[i];
    peer[i].rx_total = sc.bytes[1 - i];
    peer[i].rng.seed(sc.seed * 7 + static_cast<std::uint64_t>(i));
    peer[i].buf.resize(sc.max_chunk);
  }
  peer[1].sock = client.socket(server_addr.ip.family);
  const int rc = client.connect(peer[1].sock, server_addr, net.now());
  if (rc != 0 && rc != -EINPROGRESS) return "connect failed: " + std::to_string(rc);

  net.set_app([&](Instant now) {
    if (peer[0].sock < 0) {
      wire::SockAddr from;
      const SocketId s = server.accept(listener, &from);
      if (s >= 0) peer[0].sock = s;
    }
    for (Peer& p : peer) {
      if (p.sock < 0) continue;
      if (now >= p.next_action) {
        p.act(now, sc.max_chunk);
        const Duration pause = Duration::nanos(
            1'000 + static_cast<std::int64_t>(app_rng() % static_cast<std::uint64_t>(sc.max_pause.ns)));
        p.next_action = now + pause;
      }
      // A timed wake-up only while there is something to do (room to write, or unread data);
      // otherwise the next delivery wakes the application, and a stuck connection costs no steps.
      // Asked again at every step: the network keeps only the earliest request, and forgets it
      // once it is due, so a later one made before then would be lost.
      const std::uint32_t ev = p.st->poll_events(p.sock);
      const bool work = (!p.shut && (ev & tcp::events::kOut) != 0) || (ev & tcp::events::kIn) != 0;
      if (!p.finished() && work) net.wake_app_at(p.next_action);
    }
  });
  auto settled = [&](const Peer& p) {
    return p.finished() && in(p.st->state(p.sock), {TcpState::kClosed, TcpState::kTimeWait});
  };
  const bool done = net.run_until(
      [&] {
        return !peer[0].error.empty() || !peer[1].error.empty() || (settled(peer[0]) && settled(peer[1]));
      },
      net.now() + Duration::seconds(600));
  for (int i = 0; i < 2; ++i) {
    if (!peer[i].error.empty()) return (i == 0 ? "server: " : "client: ") + peer[i].error;
  }
  if (!done || net.stalled()) {
    std::ostringstream o;
    o << (net.stalled() ? "stalled" : "not finished within 600 s") << " at t=" << net.now().ns / 1'000'000
      << " ms";
    for (int i = 0; i < 2; ++i) {
      o << "\n  " << (i == 0 ? "server" : "client") << ": sent " << peer[i].sent << "/" << peer[i].tx_total
        << " received " << peer[i].received << "/" << peer[i].rx_total << " shut " << peer[i].shut << " eof "
        << peer[i].eof << " state "
        << (peer[i].sock >= 0 ? to_string(peer[i].st->state(peer[i].sock)) : std::string_view("no socket"));
    }
    return o.str();
  }
  // Both ends are done: close everything; after 2*MSL nothing may remain (RFC 9293 §3.6.1).
  net.set_app({});
  server.close(peer[0].sock, net.now());
  client.close(peer[1].sock, net.now());
  server.close(listener, net.now());
  net.run_for(time_wait + Duration::seconds(5));
  for (int i = 0; i < 2; ++i) {
    tcp::TcpStack& st = net.stack(static_cast<std::size_t>(i));
    if (st.connection_count() != 0 || st.socket_count() != 0) {
      return std::string(i == 0 ? "server" : "client") + " still holds " +
             std::to_string(st.connection_count()) + " connections and " + std::to_string(st.socket_count()) +
             " sockets after 2*MSL";
    }
  }
  return "";
}

std::uint64_t env_u64(const char* name, std::uint64_t def) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : def;
}

TEST(TcpProperty, ImpairedLinks_EveryByteOnceInOrderAndCleanClose) {
  std::uint64_t first = 1;
  std::uint64_t count = env_u64("XDPTCP_SIM_SEEDS", 500);
  if (std::getenv("XDPTCP_SIM_SEED") != nullptr) {
    first = env_u64("XDPTCP_SIM_SEED", 1);
    count = 1;
  }
  const std::uint64_t max_failures =
      env_u64("XDPTCP_SIM_MAX_FAILURES", 5);  // then stop: one is enough to debug
  std::uint64_t failures = 0;
  for (std::uint64_t seed = first; seed < first + count && failures < max_failures; ++seed) {
    const Scenario sc = make_scenario(seed);
    const std::string err = run_scenario(sc);
    if (!err.empty()) {
      ++failures;
      ADD_FAILURE() << err << "\n  scenario: " << sc.describe() << "\n  rerun: XDPTCP_SIM_SEED=" << seed
                    << " XDPTCP_SIM_PCAP=/tmp " << ::testing::internal::GetArgvs()[0];
    }
  }
}

}  // namespace
}  // namespace xdptcp::sim
