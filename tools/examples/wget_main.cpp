// xdptcp-wget: an HTTP/1.1 load client ON the user-level stack (active opens): C concurrent
// connections spread over the engines, each doing GET requests (one per connection with
// "Connection: close", or many with --keepalive), until N requests were issued or S seconds passed.
// It counts completed responses (status line and Content-Length parsed, body read fully) and
// errors (connect failures, resets, early closes, bad responses, non-2xx, timeouts), and prints a
// summary with the rate and latency percentiles. Exit status: 0 when everything completed, 1 when
// there were errors or nothing completed, 2 when the stack could not start.
//
// Source addresses and ports are the stack's choice (its ephemeral range, per engine); the next
// hop's MAC comes from the kernel's neighbour table (Context::connect resolves it).
#include <arpa/inet.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstring>
#include <string_view>

#include "tools/examples/example_common.h"
#include "tools/examples/stats_print.h"

using namespace xdptcp;
using namespace xdptcp::examples;

namespace {

using SteadyClock = std::chrono::steady_clock;

struct Url {
  sockaddr_storage addr{};
  socklen_t len = 0;
  int family = AF_INET;
  std::string host;  // for the Host header, as written in the URL
  std::string path = "/";
};

// http://IPv4:PORT/path or http://[IPv6]:PORT/path (port optional, default 80). Names are not
// resolved: the stack serves addresses.
bool parse_url(const std::string& s, Url* u, std::string* why) {
  constexpr std::string_view kScheme = "http://";
  if (s.compare(0, kScheme.size(), kScheme) != 0) return *why = "must start with http://", false;
  std::string rest = s.substr(kScheme.size());
  const std::size_t slash = rest.find('/');
  const std::string hostport = rest.substr(0, slash);
  u->path = slash == std::string::npos ? "/" : rest.substr(slash);
  u->host = hostport;
  std::string ip;
  std::string port = "80";
  if (!hostport.empty() && hostport[0] == '[') {
    const std::size_t close = hostport.find(']');
    if (close == std::string::npos) return *why = "unterminated [IPv6 address]", false;
    ip = hostport.substr(1, close - 1);
    if (close + 1 < hostport.size()) {
      if (hostport[close + 1] != ':') return *why = "expected :PORT after ]", false;
      port = hostport.substr(close + 2);
    }
    u->family = AF_INET6;
  } else {
    const std::size_t colon = hostport.find(':');
    ip = hostport.substr(0, colon);
    if (colon != std::string::npos) port = hostport.substr(colon + 1);
    u->family = AF_INET;
  }
  int p = 0;
  const auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (ec != std::errc() || ptr != port.data() + port.size() || p < 1 || p > 65535) {
    return *why = "bad port '" + port + "'", false;
  }
  if (u->family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&u->addr);
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<std::uint16_t>(p));
    if (inet_pton(AF_INET, ip.c_str(), &a->sin_addr) != 1)
      return *why = "'" + ip + "' is not an IP address", false;
    u->len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&u->addr);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(static_cast<std::uint16_t>(p));
    if (inet_pton(AF_INET6, ip.c_str(), &a->sin6_addr) != 1)
      return *why = "'" + ip + "' is not an IPv6 address", false;
    u->len = sizeof *a;
  }
  return true;
}

enum Err { kConnect, kReset, kClosedEarly, kBadResponse, kStatus, kTimeout, kOther, kErrCount };
constexpr const char* kErrNames[kErrCount] = {"connect", "reset",   "closed_early", "bad_response",
                                              "status",  "timeout", "other"};

struct Options {
  StackOptions stack;
  std::string url;
  unsigned connections = 1;
  std::uint64_t requests = 0;  // total; 0 with no --duration: one per connection
  double duration_s = 0;
  bool keepalive = false;
  double timeout_s = 5;
  bool verbose = false;
  bool stats_on_exit = false;
};

struct Result {
  std::uint64_t completed = 0;
  std::uint64_t body_bytes = 0;
  std::uint64_t errors[kErrCount] = {};
  std::vector<std::uint32_t> latency_us;  // one per completed request
  ContextStats stats;
};

enum class Phase { kIdle, kConnecting, kSending, kReading };

struct Slot {
  Phase phase = Phase::kIdle;
  int fd = -1;
  SteadyClock::time_point started;   // of the current request (connect included when it opened one)
  SteadyClock::time_point deadline;  // of the current step
  std::size_t sent = 0;              // request bytes written
  std::string in;                    // response head bytes so far
  bool head_done = false;
  int status = 0;          // of the response being read
  bool until_eof = false;  // no Content-Length: the body ends with the connection
  bool server_closes = false;
  std::uint64_t body_left = 0;
};

struct Client {
  Context& ctx;
  const Options& o;
  const Url& url;
  std::string request;
  std::uint64_t budget;  // requests this engine may still start (UINT64_MAX: until the deadline)
  SteadyClock::time_point end;
  Result& r;
  std::vector<Slot> slots;
  int ep = -1;

  bool may_start(SteadyClock::time_point now) const { return budget > 0 && now < end && !ctx.stopping(); }

  void fail(Slot& s, Err e, int err_no) {
    ++r.errors[e];
    if (o.verbose) {
      std::fprintf(stderr, "engine %u: request failed: %s (%s)\n", ctx.engine_id(), kErrNames[e],
                   err_no != 0 ? std::strerror(err_no) : "-");
    }
    drop(s);
  }

  void drop(Slot& s) {
    if (s.fd >= 0) ctx.close(s.fd);  // close() removes it from the event queue
    s.fd = -1;
    s.phase = Phase::kIdle;
  }

  void begin_request(Slot& s, std::size_t idx, SteadyClock::time_point now) {
    if (budget != UINT64_MAX) --budget;
    s.started = now;
    s.deadline =
        now + std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(o.timeout_s));
    s.sent = 0;
    s.in.clear();
    s.head_done = s.until_eof = s.server_closes = false;
    s.status = 0;
    s.body_left = 0;
    if (s.fd >= 0) {  // keep-alive: the next request on the open connection
      s.phase = Phase::kSending;
      send_more(s, idx);
      return;
    }
    s.fd = ctx.socket(url.family);
    if (s.fd < 0) return fail(s, kConnect, errno);
    int one = 1;
    ctx.setsockopt(s.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    epoll_event ev{EPOLLOUT | EPOLLIN | EPOLLRDHUP, {}};
    ev.data.u64 = idx;
    if (ctx.epoll_ctl(ep, EPOLL_CTL_ADD, s.fd, &ev) < 0) return fail(s, kOther, errno);
    if (ctx.connect(s.fd, reinterpret_cast<const sockaddr*>(&url.addr), url.len) < 0 &&
        errno != EINPROGRESS) {
      return fail(s, kConnect, errno);
    }
    s.phase = Phase::kConnecting;
  }

  void send_more(Slot& s, std::size_t idx) {
    while (s.sent < request.size()) {
      const ssize_t w = ctx.write(s.fd, request.data() + s.sent, request.size() - s.sent);
      if (w < 0) {
        if (errno == EAGAIN) break;
        return fail(s, errno == ECONNRESET || errno == EPIPE ? kReset : kOther, errno);
      }
      s.sent += static_cast<std::size_t>(w);
    }
    const bool done = s.sent == request.size();
    if (done) s.phase = Phase::kReading;
    epoll_event ev{
        static_cast<std::uint32_t>(done ? (EPOLLIN | EPOLLRDHUP) : (EPOLLOUT | EPOLLIN | EPOLLRDHUP)), {}};
    ev.data.u64 = idx;
    ctx.epoll_ctl(ep, EPOLL_CTL_MOD, s.fd, &ev);
  }

  // Parses the response head in s.in once it is complete; false on a malformed one.
  bool parse_head(Slot& s, std::size_t head_len) {
    int* status = &s.status;
    const std::string_view head(s.in.data(), head_len);
    // "HTTP/1.x SSS reason"
    if (head.size() < 12 || head.compare(0, 7, "HTTP/1.") != 0 || head[8] != ' ') return false;
    const auto [p, ec] = std::from_chars(head.data() + 9, head.data() + 12, *status);
    if (ec != std::errc() || p != head.data() + 12) return false;
    s.until_eof = true;
    // HTTP/1.0 closes after the response unless it says keep-alive (RFC 9112 §9.3).
    const bool http10 = head[7] == '0';
    bool keep_alive = false;
    std::size_t pos = head.find("\r\n");
    while (pos != std::string_view::npos && pos + 2 < head.size()) {
      const std::size_t next = head.find("\r\n", pos + 2);
      std::string line(head.substr(pos + 2, next - pos - 2));
      std::transform(line.begin(), line.end(), line.begin(), [](unsigned char c) { return std::tolower(c); });
      if (line.rfind("content-length:", 0) == 0) {
        const char* b = line.data() + 15;
        const char* e = line.data() + line.size();
        while (b < e && *b == ' ') ++b;
        const auto [q, ec2] = std::from_chars(b, e, s.body_left);
        if (ec2 != std::errc()) return false;
        s.until_eof = false;
      } else if (line.rfind("connection:", 0) == 0) {
        if (line.find("close") != std::string::npos) s.server_closes = true;
        if (line.find("keep-alive") != std::string::npos) keep_alive = true;
      }
      pos = next;
    }
    if (http10 && !keep_alive) s.server_closes = true;
    // HEAD-less GETs of 1xx/204/304 carry no body (RFC 9112 §6.3).
    if (*status / 100 == 1 || *status == 204 || *status == 304) {
      s.until_eof = false;
      s.body_left = 0;
    }
    return true;
  }

  void complete(Slot& s, std::size_t idx, SteadyClock::time_point now) {
    if (s.status / 100 != 2) {
      s.server_closes = true;
      return fail(s, kStatus, 0);
    }
    ++r.completed;
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(now - s.started).count();
    r.latency_us.push_back(static_cast<std::uint32_t>(std::min<long long>(us, UINT32_MAX)));
    if (!o.keepalive || s.server_closes || !may_start(now)) {
      drop(s);
      return;
    }
    begin_request(s, idx, now);
  }

  void on_readable(Slot& s, std::size_t idx, SteadyClock::time_point now) {
    char buf[std::size_t{16} * 1024];
    for (;;) {
      const ssize_t n = ctx.read(s.fd, buf, sizeof buf);
      if (n == 0) {
        if (s.head_done && s.until_eof) return complete(s, idx, now);
        return fail(s, kClosedEarly, 0);
      }
      if (n < 0) {
        if (errno == EAGAIN) return;
        return fail(s,
                    errno == ECONNRESET || errno == EPIPE ? kReset
                    : errno == ETIMEDOUT                  ? kTimeout
                                                          : kOther,
                    errno);
      }
      std::size_t off = 0;
      if (!s.head_done) {
        s.in.append(buf, static_cast<std::size_t>(n));
        const std::size_t head_end = s.in.find("\r\n\r\n");
        if (head_end == std::string::npos) {
          if (s.in.size() > std::size_t{16} * 1024) return fail(s, kBadResponse, 0);
          continue;
        }
        if (!parse_head(s, head_end + 4)) return fail(s, kBadResponse, 0);
        s.head_done = true;
        // Bytes after the head (in this read) are body.
        off = static_cast<std::size_t>(n) - (s.in.size() - (head_end + 4));
        if (!s.until_eof && s.body_left == 0) {
          if (off != static_cast<std::size_t>(n)) return fail(s, kBadResponse, 0);  // bytes beyond the body
          return complete(s, idx, now);
        }
      }
      const std::uint64_t got = static_cast<std::uint64_t>(n) - off;
      r.body_bytes += got;
      if (s.until_eof) continue;
      if (got > s.body_left) return fail(s, kBadResponse, 0);  // more than Content-Length said
      s.body_left -= got;
      if (s.body_left == 0) return complete(s, idx, now);
    }
  }

  void on_event(std::size_t idx, std::uint32_t events, SteadyClock::time_point now) {
    Slot& s = slots[idx];
    if (s.fd < 0) return;
    if (s.phase == Phase::kConnecting) {
      int err = 0;
      socklen_t len = sizeof err;
      if (ctx.getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
      if (err != 0) return fail(s, err == ETIMEDOUT ? kTimeout : kConnect, err);
      if ((events & EPOLLOUT) == 0) {
        if ((events & (EPOLLERR | EPOLLHUP)) != 0) return fail(s, kConnect, ECONNREFUSED);
        return;
      }
      s.phase = Phase::kSending;
    }
    if (s.phase == Phase::kSending) {
      send_more(s, idx);
      if (s.fd < 0 || s.phase != Phase::kReading) return;
    }
    if (s.phase == Phase::kReading) on_readable(s, idx, now);
  }

  void run() {
    ep = ctx.epoll_create();
    if (ep < 0) {
      std::fprintf(stderr, "engine %u: epoll_create: %s\n", ctx.engine_id(), std::strerror(errno));
      ++r.errors[kOther];
      return;
    }
    r.latency_us.reserve(budget != UINT64_MAX
                             ? static_cast<std::size_t>(std::min<std::uint64_t>(budget, 1u << 24))
                             : 1u << 20);
    std::vector<epoll_event> evs(256);
    for (;;) {
      const auto now = SteadyClock::now();
      bool active = false;
      for (std::size_t i = 0; i < slots.size(); ++i) {
        Slot& s = slots[i];
        if (s.phase == Phase::kIdle && may_start(now)) begin_request(s, i, now);
        if (s.phase != Phase::kIdle && now >= s.deadline) fail(s, kTimeout, 0);
        active = active || s.phase != Phase::kIdle;
      }
      if (!active && !may_start(now)) break;
      const int n = ctx.epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), 10);
      const auto t = SteadyClock::now();
      for (int i = 0; i < n; ++i) {
        const auto& ev = evs[static_cast<std::size_t>(i)];
        on_event(static_cast<std::size_t>(ev.data.u64), ev.events, t);
      }
    }
    for (Slot& s : slots) drop(s);
    // Give the FINs of the last connections a moment to go out and be acknowledged.
    epoll_event ev;
    const auto linger_until = SteadyClock::now() + std::chrono::milliseconds(200);
    while (SteadyClock::now() < linger_until && !ctx.stopping()) ctx.epoll_wait(ep, &ev, 1, 20);
    ctx.close(ep);
  }
};

std::uint32_t percentile(const std::vector<std::uint32_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto k = static_cast<std::size_t>(std::lround(p / 100.0 * static_cast<double>(sorted.size() - 1)));
  return sorted[std::min(k, sorted.size() - 1)];
}

// An even share of `total` for part i of n.
std::uint64_t share(std::uint64_t total, unsigned i, unsigned n) {
  return total / n + (i < total % n ? 1 : 0);
}

// main() without the exception guard.
int run(int argc, char** argv) {
  CLI::App app{"xdptcp-wget: an HTTP/1.1 load client on the xdptcp user-level TCP stack"};
  Options o;
  app.add_option("--iface", o.stack.iface, "interface the stack runs on")->required();
  app.add_option("--url", o.url, "http://IP:PORT/path or http://[IPv6]:PORT/path")->required();
  app.add_option("--connections,-c", o.connections, "concurrent connections (spread over the engines)")
      ->check(CLI::Range(1u, 100000u));
  auto* req = app.add_option("--requests,-n", o.requests, "requests in total (default: one per connection)")
                  ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 40));
  app.add_option("--duration,-d", o.duration_s, "seconds to run instead of a request count")
      ->check(CLI::PositiveNumber)
      ->excludes(req);
  app.add_flag("--keepalive,-k", o.keepalive, "many requests per connection (default: Connection: close)");
  app.add_option("--timeout", o.timeout_s, "seconds allowed for one request, connect included")
      ->check(CLI::PositiveNumber);
  add_stack_options(app, o.stack);
  app.add_flag("--verbose,-v", o.verbose, "print every failed request");
  app.add_flag("--stats-on-exit", o.stats_on_exit, "print every engine's counters at the end");
  CLI11_PARSE(app, argc, argv);

  Url url;
  std::string why;
  if (!parse_url(o.url, &url, &why)) {
    std::fprintf(stderr, "xdptcp-wget: --url '%s': %s\n", o.url.c_str(), why.c_str());
    return 2;
  }
  if (o.requests == 0 && o.duration_s == 0) o.requests = o.connections;

  auto stack = start_stack("xdptcp-wget", o.stack);
  if (!stack) return 2;
  const unsigned n = stack->engines();
  std::fprintf(stderr, "xdptcp-wget: %s, %u connection(s), %s; %s\n", o.url.c_str(), o.connections,
               o.keepalive ? "keep-alive" : "Connection: close", stack->describe().c_str());

  std::string request = "GET " + url.path + " HTTP/1.1\r\nHost: " + url.host +
                        "\r\nUser-Agent: xdptcp-wget\r\n" + (o.keepalive ? "" : "Connection: close\r\n") +
                        "\r\n";
  std::vector<Result> results(n);
  const auto start = SteadyClock::now();
  const auto end = o.duration_s > 0 ? start + std::chrono::duration_cast<SteadyClock::duration>(
                                                  std::chrono::duration<double>(o.duration_s))
                                    : SteadyClock::time_point::max();
  stack->run([&](Context& ctx) {
    const unsigned i = ctx.engine_id();
    const auto conns = static_cast<std::size_t>(share(o.connections, i, n));
    Result& r = results[i];
    if (conns > 0) {
      Client c{ctx,
               o,
               url,
               request,
               o.requests > 0 ? share(o.requests, i, n) : UINT64_MAX,
               end,
               r,
               std::vector<Slot>(conns),
               -1};
      c.run();
    }
    r.stats = ctx.stats();
  });
  const double secs = std::chrono::duration<double>(SteadyClock::now() - start).count();

  Result total;
  std::vector<ContextStats> stats;
  for (Result& r : results) {
    total.completed += r.completed;
    total.body_bytes += r.body_bytes;
    for (int e = 0; e < kErrCount; ++e) total.errors[e] += r.errors[e];
    total.latency_us.insert(total.latency_us.end(), r.latency_us.begin(), r.latency_us.end());
    stats.push_back(r.stats);
  }
  std::sort(total.latency_us.begin(), total.latency_us.end());
  std::uint64_t errors = 0;
  for (std::uint64_t e : total.errors) errors += e;
  std::printf("requests: %" PRIu64 " completed, %" PRIu64 " errors in %.3f s: %.1f req/s, %" PRIu64
              " body bytes\n",
              total.completed, errors, secs, secs > 0 ? static_cast<double>(total.completed) / secs : 0.0,
              total.body_bytes);
  std::printf("errors:");
  for (int e = 0; e < kErrCount; ++e) std::printf(" %s=%" PRIu64, kErrNames[e], total.errors[e]);
  std::printf("\nlatency us: p50=%u p90=%u p99=%u p99.9=%u max=%u\n", percentile(total.latency_us, 50),
              percentile(total.latency_us, 90), percentile(total.latency_us, 99),
              percentile(total.latency_us, 99.9), total.latency_us.empty() ? 0u : total.latency_us.back());
  if (o.stats_on_exit) print_stats(stdout, stats);
  std::fflush(stdout);
  return errors > 0 || total.completed == 0 ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  return guarded_main("xdptcp-wget", [&] { return run(argc, argv); });
}
