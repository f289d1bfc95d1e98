// The memcached load generator (see memc_load.h).
#include "bench/xdptcp_bench/memc_load.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/xdptcp_bench/fd_limit.h"
#include "bench/xdptcp_bench/latency_histogram.h"
#include "bench/xdptcp_bench/signals.h"
#include "bench/xdptcp_bench/sockaddr_parse.h"

namespace xdptcp::bench {
namespace {

constexpr std::size_t kMaxErrorDetail = 5;  // errors described in full; the rest are only counted
constexpr int kFillDepth = 64;              // sets in flight per connection while storing the keys
constexpr int kConnectTimeoutS = 3;
constexpr std::size_t kMinRoom = 16384;  // free bytes at the end of a receive buffer before a read
// An answer later than this is an error: on a veth link it means a request waited for a timer (a lost
// wake-up, a retransmission), not for a busy server.
constexpr std::uint64_t kStallNs = 1'000'000'000;

std::uint64_t now_ns() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count());
}

// Keys are "key:" and 8 digits; the value of key i is value_size bytes of a 26-letter cycle starting
// at letter i % 26, so that a value returned for the wrong key is seen, without a table of values.
class KeySpace {
 public:
  KeySpace(int keys, std::size_t value_size) : keys_(keys), value_size_(value_size) {
    pattern_.resize(value_size + 26);
    for (std::size_t j = 0; j < pattern_.size(); ++j) pattern_[j] = static_cast<char>('a' + j % 26);
  }
  int keys() const { return keys_; }
  std::size_t value_size() const { return value_size_; }
  // 12 characters, no terminator (--keys is at most 10^8).
  static void key(int i, char out[12]) {
    std::memcpy(out, "key:", 4);
    for (int d = 11; d >= 4; --d, i /= 10) out[d] = static_cast<char>('0' + i % 10);
  }
  std::string_view value(int i) const { return {pattern_.data() + i % 26, value_size_}; }

 private:
  int keys_;
  std::size_t value_size_;
  std::string pattern_;
};

enum class Op : std::uint8_t { kSet, kGet };

// xorshift64*: the key of each request, cheap and the same in every run.
struct Rng {
  std::uint64_t s;
  std::uint64_t next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 2685821657736338717ULL;
  }
};

struct InFlight {
  int key = 0;
  std::uint64_t sent_ns = 0;
};

struct Conn {
  int fd = -1;
  bool open = false;
  bool want_out = false;  // EPOLLOUT registered: `out` could not be sent whole
  std::string out;
  std::size_t out_off = 0;
  std::vector<char> in;  // received bytes [in_off, in_len) not yet parsed
  std::size_t in_off = 0, in_len = 0;
  std::vector<InFlight> ring;  // requests sent, oldest first (a ring of `pipeline` slots)
  std::size_t head = 0, count = 0;
};

class Load {
 public:
  Load(const MemcLoadOptions& o, const KeySpace& ks)
      : o_(o),
        ks_(ks),
        rng_{0x9e3779b97f4a7c15ULL},
        set_tail_(" 0 0 " + std::to_string(ks.value_size()) + "\r\n") {}

  bool connect_all(std::string* error) {
    sockaddr_storage ss{};
    socklen_t len = 0;
    if (!parse_target(o_.target, ss, len)) {
      *error = "--target '" + o_.target + "' is not IP:PORT ([IPv6]:PORT)";
      return false;
    }
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) {
      *error = std::string("epoll_create1: ") + std::strerror(errno);
      return false;
    }
    conns_.resize(static_cast<std::size_t>(o_.connections));
    for (std::size_t i = 0; i < conns_.size(); ++i) {
      Conn& c = conns_[i];
      c.fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (c.fd < 0) {
        *error = std::string("socket: ") + std::strerror(errno);
        return false;
      }
      timeval tv{kConnectTimeoutS, 0};
      setsockopt(c.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);  // bounds the blocking connect
      if (connect(c.fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
        *error =
            "connect to " + o_.target + " (connection " + std::to_string(i) + "): " + std::strerror(errno);
        return false;
      }
      const int one = 1;
      setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      fcntl(c.fd, F_SETFL, fcntl(c.fd, F_GETFL) | O_NONBLOCK);
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = i;
      epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev);
      c.open = true;
      c.ring.resize(static_cast<std::size_t>(std::max(o_.pipeline, kFillDepth)));
      c.in.resize(4 * kMinRoom);
    }
    return true;
  }

  // Stores every key once (for gets), kFillDepth sets in flight per connection. False with *error
  // when a set failed or the server stopped answering.
  bool fill(std::string* error) {
    int next = 0;
    std::uint64_t stored = 0;
    const std::uint64_t want = static_cast<std::uint64_t>(ks_.keys());
    const std::uint64_t deadline = now_ns() + 60'000'000'000ULL;
    auto top_up = [&](Conn& c) {
      while (c.count < static_cast<std::size_t>(kFillDepth) && next < ks_.keys()) push(c, Op::kSet, next++);
      flush(c);
    };
    for (auto& c : conns_) top_up(c);
    while (stored < want) {
      if (stop_flag().load() || now_ns() > deadline) {
        *error = "storing the keys: " + std::to_string(stored) + " of " + std::to_string(want) +
                 " stored before " + (stop_flag().load() ? "the interruption" : "the 60 s limit");
        return false;
      }
      step(Op::kSet, 100, [&](Conn& c, bool ok) {
        if (ok) ++stored;
        top_up(c);
      });
      if (errors_ > 0) {
        *error = "storing the keys: " + detail_;
        return false;
      }
    }
    return true;
  }

  // The measured run: every connection keeps --pipeline requests of `op` in flight until the end.
  void measure(Op op, MemcLoadResult& r) {
    const std::uint64_t start = now_ns();
    end_ns_ = start + static_cast<std::uint64_t>(o_.duration_s * 1e9);
    measuring_ = true;
    auto top_up = [&](Conn& c) {
      while (c.open && c.count < static_cast<std::size_t>(o_.pipeline) && now_ns() < end_ns_)
        push(c, op, static_cast<int>(rng_.next() % static_cast<std::uint64_t>(ks_.keys())));
      flush(c);
    };
    for (auto& c : conns_) top_up(c);
    while (!stop_flag().load()) {
      const std::uint64_t now = now_ns();
      if (now >= end_ns_) break;
      const int ms = static_cast<int>(std::min<std::uint64_t>((end_ns_ - now) / 1'000'000 + 1, 100));
      step(op, ms, [&](Conn& c, bool ok) {
        if (ok) ++done_;
        top_up(c);
      });
      if (std::none_of(conns_.begin(), conns_.end(), [](const Conn& c) { return c.open; })) break;
    }
    // A request still unanswered a second after it was sent is an error: the server lost it (a
    // lost wake-up under xdptcp-run looks like this), which a rate alone would not show.
    const std::uint64_t stop = now_ns();
    for (auto& c : conns_) {
      if (!c.open || c.count == 0) continue;
      const std::uint64_t age = stop - c.ring[c.head].sent_ns;
      if (age > kStallNs)
        error("connection " + std::to_string(&c - conns_.data()) + ": a request unanswered for " +
              std::to_string(age / 1'000'000) + " ms");
    }
    r.duration_s = static_cast<double>(std::min(stop, end_ns_) - start) / 1e9;
    r.requests = done_;
    r.errors = errors_;
    r.error_detail = detail_;
    r.rps = r.duration_s > 0 ? static_cast<double>(done_) / r.duration_s : 0;
    r.p50_us = static_cast<double>(hist_.percentile(0.50)) / 1e3;
    r.p99_us = static_cast<double>(hist_.percentile(0.99)) / 1e3;
  }

  ~Load() {
    for (auto& c : conns_)
      if (c.fd >= 0) close(c.fd);
    if (ep_ >= 0) close(ep_);
  }

 private:
  void error(const std::string& what) {
    if (errors_++ < kMaxErrorDetail) detail_ += what + "\n";
  }

  // Appends one request for key `k` to the connection's output.
  void push(Conn& c, Op op, int k) {
    char key[12];
    ks_.key(k, key);
    if (op == Op::kGet) {
      c.out.append("get ").append(key, 12).append("\r\n");
    } else {
      c.out.append("set ").append(key, 12).append(set_tail_).append(ks_.value(k)).append("\r\n");
    }
    c.ring[(c.head + c.count) % c.ring.size()] = {k, now_ns()};
    ++c.count;
  }

  void flush(Conn& c) {
    while (c.open && c.out_off < c.out.size()) {
      const ssize_t n = send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
      if (n > 0) {
        c.out_off += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) break;
      close_conn(c, std::string("send: ") + std::strerror(errno));
      return;
    }
    if (c.out_off == c.out.size()) {
      c.out.clear();
      c.out_off = 0;
    }
    const bool want = c.open && c.out_off < c.out.size();
    if (want != c.want_out) {
      epoll_event ev{};
      ev.events = EPOLLIN | (want ? EPOLLOUT : 0u);
      ev.data.u64 = static_cast<std::uint64_t>(&c - conns_.data());
      epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
      c.want_out = want;
    }
  }

  void close_conn(Conn& c, const std::string& why) {
    if (!c.open) return;
    if (errors_++ < kMaxErrorDetail)
      detail_ += "connection " + std::to_string(&c - conns_.data()) + ": " + why + " (" +
                 std::to_string(c.count) + " request(s) unanswered)\n";
    c.open = false;
    epoll_ctl(ep_, EPOLL_CTL_DEL, c.fd, nullptr);
  }

  // One epoll wait; every complete reply is checked and passed to done(conn, ok).
  template <typename Done>
  void step(Op op, int timeout_ms, Done&& done) {
    epoll_event evs[256];
    const int n = epoll_wait(ep_, evs, 256, timeout_ms);
    for (int e = 0; e < n; ++e) {
      Conn& c = conns_[evs[e].data.u64];
      if (!c.open) continue;
      if ((evs[e].events & EPOLLOUT) != 0) flush(c);
      if ((evs[e].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) == 0) continue;
      if (!receive(c)) continue;
      for (;;) {
        bool ok = false;
        const int used = parse_reply(c, op, &ok);
        if (used == 0) break;
        if (used < 0) {
          close_conn(c, "a reply memcached's protocol does not allow; the connection is abandoned");
          break;
        }
        done(c, ok);
        if (!c.open) break;
      }
    }
  }

  // Reads what the socket has; false (and the connection closed) on EOF or an error. The buffer is
  // reused (no zeroing per read): consumed bytes are dropped by moving the rest to the front.
  bool receive(Conn& c) {
    for (;;) {
      if (c.in_off == c.in_len) c.in_off = c.in_len = 0;
      if (c.in.size() - c.in_len < kMinRoom) {
        std::memmove(c.in.data(), c.in.data() + c.in_off, c.in_len - c.in_off);
        c.in_len -= c.in_off;
        c.in_off = 0;
        if (c.in.size() - c.in_len < kMinRoom) c.in.resize(std::max<std::size_t>(2 * c.in.size(), kMinRoom));
      }
      const std::size_t room = c.in.size() - c.in_len;
      const ssize_t n = recv(c.fd, c.in.data() + c.in_len, room, 0);
      if (n > 0) {
        c.in_len += static_cast<std::size_t>(n);
        if (static_cast<std::size_t>(n) < room) return true;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return true;
      close_conn(c,
                 n == 0 ? "the server closed the connection" : std::string("recv: ") + std::strerror(errno));
      return false;
    }
  }

  // Parses the reply to the oldest request in flight: bytes used (0: incomplete; -1: not a reply).
  // *ok false when it is a well-formed reply that is not the expected one (an error).
  int parse_reply(Conn& c, Op op, bool* ok) {
    if (c.count == 0) return c.in_off < c.in_len ? -1 : 0;
    const std::string_view buf(c.in.data() + c.in_off, c.in_len - c.in_off);
    const std::size_t eol = buf.find("\r\n");
    if (eol == std::string_view::npos) return buf.size() > 4096 ? -1 : 0;
    const std::string_view line = buf.substr(0, eol);
    const InFlight f = c.ring[c.head];
    char key[12];
    ks_.key(f.key, key);
    std::size_t used = eol + 2;
    *ok = false;
    if (op == Op::kSet) {
      if (line == "STORED") {
        *ok = true;
      } else {
        error("set " + std::string(key, 12) + ": " + std::string(line));
      }
    } else if (line == "END") {
      error("get " + std::string(key, 12) + ": a miss (the key was stored)");
    } else if (line.starts_with("VALUE ")) {
      // VALUE <key> <flags> <bytes>\r\n<data>\r\nEND\r\n
      const std::size_t bytes =
          std::strtoul(std::string(line.substr(line.rfind(' ') + 1)).c_str(), nullptr, 10);
      if (buf.size() < used + bytes + 7) return 0;
      const std::string_view data = buf.substr(used, bytes);
      if (buf.substr(used + bytes, 7) != "\r\nEND\r\n") return -1;
      used += bytes + 7;
      if (line.substr(6, 12) != std::string_view(key, 12)) {
        error("get " + std::string(key, 12) + ": the reply is for " + std::string(line.substr(6, 12)));
      } else if (data != ks_.value(f.key)) {
        error("get " + std::string(key, 12) + ": " + std::to_string(bytes) +
              " bytes that are not the value stored");
      } else {
        *ok = true;
      }
    } else if (line.starts_with("ERROR") || line.starts_with("SERVER_ERROR") ||
               line.starts_with("CLIENT_ERROR")) {
      error(std::string(op == Op::kGet ? "get " : "set ") + std::string(key, 12) + ": " + std::string(line));
    } else {
      return -1;
    }
    c.in_off += used;
    c.head = (c.head + 1) % c.ring.size();
    --c.count;
    if (measuring_ && *ok) {
      const std::uint64_t took = now_ns() - f.sent_ns;
      hist_.record(took);
      if (took > kStallNs)
        error(std::string(key, 12) + ": answered after " + std::to_string(took / 1'000'000) + " ms");
    }
    return static_cast<int>(used);
  }

  const MemcLoadOptions& o_;
  const KeySpace& ks_;
  Rng rng_;
  const std::string set_tail_;  // " 0 0 <bytes>\r\n" after a set's key
  int ep_ = -1;
  std::vector<Conn> conns_;
  bool measuring_ = false;
  std::uint64_t end_ns_ = 0;
  std::uint64_t done_ = 0;
  std::uint64_t errors_ = 0;
  std::string detail_;
  LatencyHistogram hist_;
};

// --probe: one `version` over a blocking connection.
int probe(const MemcLoadOptions& o) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (!parse_target(o.target, ss, len)) {
    std::fprintf(stderr, "memc-load: --target '%s' is not IP:PORT\n", o.target.c_str());
    return 2;
  }
  const int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string line;
  if (fd >= 0 && connect(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0 &&
      send(fd, "version\r\n", 9, MSG_NOSIGNAL) == 9) {
    char buf[256];
    for (;;) {
      const ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      line.append(buf, static_cast<std::size_t>(n));
      if (line.find("\r\n") != std::string::npos) break;
    }
  }
  const int err = errno;
  if (fd >= 0) close(fd);
  const auto eol = line.find("\r\n");
  if (eol == std::string::npos) {
    std::printf("no answer: %s\n", std::strerror(err));
    return 1;
  }
  std::printf("%s\n", line.substr(0, eol).c_str());
  return line.starts_with("VERSION ") ? 0 : 1;
}

}  // namespace

void add_memc_load_options(CLI::App& app, MemcLoadOptions& o) {
  app.add_option("--target", o.target, "memcached's IP:PORT ([IPv6]:PORT)")->required();
  app.add_option("--op", o.op, "get | set")->check(CLI::IsMember({"get", "set"}));
  app.add_option("--connections", o.connections, "connections")->check(CLI::Range(1, 60000));
  app.add_option("--duration", o.duration_s, "measured seconds")->check(CLI::PositiveNumber);
  app.add_option("--keys", o.keys, "keys the requests are spread over (at random)")
      ->check(CLI::Range(1, 100000000));
  app.add_option("--value-size", o.value_size, "bytes per value")->check(CLI::Range(1, 1000000));
  app.add_option("--pipeline", o.pipeline, "requests in flight per connection (1: request/response)")
      ->check(CLI::Range(1, 1024));
  app.add_flag("--probe", o.probe, "send one `version`, print the answer, exit 0 when it is VERSION");
}

int run_memc_load(const MemcLoadOptions& o) {
  if (o.probe) return probe(o);
  install_stop_handlers(nullptr);
  raise_fd_limit();
  const KeySpace ks(o.keys, o.value_size);
  Load load(o, ks);
  std::string err;
  if (!load.connect_all(&err) || (o.op == "get" && !load.fill(&err))) {
    std::fprintf(stderr, "memc-load: %s\n", err.c_str());
    return 2;
  }
  MemcLoadResult r;
  load.measure(o.op == "get" ? Op::kGet : Op::kSet, r);
  if (stop_flag().load()) {
    std::fprintf(stderr, "memc-load: interrupted\n");
    return 130;
  }
  const nlohmann::json j{{"op", o.op},
                         {"connections", o.connections},
                         {"pipeline", o.pipeline},
                         {"keys", o.keys},
                         {"value_size", o.value_size},
                         {"duration_s", r.duration_s},
                         {"requests", r.requests},
                         {"rps", r.rps},
                         {"p50_us", r.p50_us},
                         {"p99_us", r.p99_us},
                         {"errors", r.errors},
                         {"error_detail", r.error_detail}};
  std::printf("%s\n", j.dump().c_str());
  return 0;
}

}  // namespace xdptcp::bench
