// The benchmark client's logic, once, for both stacks (Net is KernelNet or XdptcpNet): many
// non-blocking connections on one thread, edge-triggered events, each connection a small state
// machine (connecting -> sending -> receiving -> ...). Latency is measured per transaction: for
// short from connect() to the last reply byte, for rr/latency from the request's first write to
// the reply's last byte. Counters reset when the warm-up ends; nothing is allocated in the loop.
#pragma once

#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <vector>

#include "bench/xdptcp_bench/latency_histogram.h"
#include "bench/xdptcp_bench/workload.h"

namespace xdptcp::bench {

inline std::uint64_t now_ns() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count());
}

struct ClientCounters {
  std::uint64_t txns = 0;
  std::uint64_t bytes = 0;  // payload bytes sent (bulk) or received (others, bulk-reverse)
  std::uint64_t errors = 0;
  LatencyHistogram hist;
};

struct ClientPlan {
  Workload workload = Workload::kShort;
  sockaddr_storage target{};
  socklen_t target_len = 0;
  int connections = 1;
  std::size_t size = 64;
  std::uint64_t measure_start_ns = 0;  // counters reset when the clock passes this
  std::uint64_t end_ns = 0;
};

template <class Net>
class ClientLoop {
 public:
  ClientLoop(Net& net, const ClientPlan& plan, const char* payload, std::size_t max_fd)
      : net_(net), plan_(plan), payload_(payload), conns_(max_fd) {}

  // Runs until plan.end_ns (or the stack stops). on_measure_start is called once when the warm-up
  // ends, just after the counters reset.
  template <class F>
  void run(ClientCounters& c, F&& on_measure_start) {
    for (int i = 0; i < plan_.connections; ++i) {
      if (!open(c)) ++want_;
    }
    epoll_event evs[256];
    bool measuring = false;
    for (;;) {
      const std::uint64_t t = now_ns();
      if (!measuring && t >= plan_.measure_start_ns) {
        c = ClientCounters{};
        measuring = true;
        on_measure_start();
      }
      if (t >= plan_.end_ns || net_.stopping()) break;
      // Connections that failed to open (e.g. ports exhausted) are retried once per iteration.
      while (want_ > 0 && open(c)) --want_;
      const int n = net_.wait(evs, 256, 10);
      for (int i = 0; i < n; ++i) drive(evs[i].data.fd, evs[i].events, c);
    }
    for (std::size_t fd = 0; fd < conns_.size(); ++fd) {
      if (conns_[fd].state != State::kFree) net_.close(static_cast<int>(fd));
    }
  }

 private:
  enum class State { kFree, kConnecting, kSending, kReceiving };
  struct Conn {
    State state = State::kFree;
    std::size_t done = 0;  // bytes of the current request sent, or of the reply received
    std::uint64_t t0 = 0;
  };

  // Opens one connection; false when that fails (the caller counts it as wanted).
  bool open(ClientCounters& c) {
    const int fd = net_.tcp_socket(plan_.target.ss_family);
    if (fd < 0) {
      ++c.errors;
      return false;
    }
    if (static_cast<std::size_t>(fd) >= conns_.size()) {
      net_.close(fd);
      ++c.errors;
      return false;
    }
    net_.nodelay(fd);
    Conn& cn = conns_[static_cast<std::size_t>(fd)];
    cn.state = State::kConnecting;
    cn.done = 0;
    cn.t0 = now_ns();
    if (net_.connect(fd, reinterpret_cast<const sockaddr*>(&plan_.target), plan_.target_len) < 0 &&
        errno != EINPROGRESS) {
      cn.state = State::kFree;
      net_.close(fd);
      ++c.errors;
      return false;
    }
    net_.ep_add(fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET);
    return true;
  }

  void fail(int fd, ClientCounters& c) {
    ++c.errors;
    reopen(fd, c);
  }
  void reopen(int fd, ClientCounters& c) {
    conns_[static_cast<std::size_t>(fd)].state = State::kFree;
    net_.close(fd);
    if (!open(c)) ++want_;
  }

  // Advances one connection as far as it can go without blocking.
  void drive(int fd, std::uint32_t events, ClientCounters& c) {
    Conn& cn = conns_[static_cast<std::size_t>(fd)];
    if (cn.state == State::kFree) return;
    if (cn.state == State::kConnecting) {
      if ((events & (EPOLLERR | EPOLLHUP)) != 0 || net_.so_error(fd) != 0) return fail(fd, c);
      if ((events & (EPOLLOUT | EPOLLIN)) == 0) return;
      cn.state = State::kSending;
      cn.done = 0;
      if (plan_.workload != Workload::kShort) cn.t0 = now_ns();
    }
    if (plan_.workload == Workload::kBulkReverse) return sink(fd, c);
    for (;;) {
      if (cn.state == State::kSending) {
        const std::size_t len = plan_.size - cn.done;
        const ssize_t w = net_.write(fd, payload_ + cn.done, len);
        if (w < 0) {
          if (errno == EAGAIN || errno == EWOULDBLOCK) return;
          return fail(fd, c);
        }
        if (plan_.workload == Workload::kBulk) {
          c.bytes += static_cast<std::uint64_t>(w);
          continue;  // until EAGAIN
        }
        cn.done += static_cast<std::size_t>(w);
        if (cn.done < plan_.size) continue;
        cn.state = State::kReceiving;
        cn.done = 0;
      }
      // kReceiving: the reply is plan_.size bytes.
      const ssize_t r = net_.read(fd, rbuf_, sizeof rbuf_);
      if (r == 0) return fail(fd, c);  // the server closed before replying
      if (r < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        return fail(fd, c);
      }
      cn.done += static_cast<std::size_t>(r);
      c.bytes += static_cast<std::uint64_t>(r);
      if (cn.done < plan_.size) continue;
      const std::uint64_t t = now_ns();
      c.hist.record(t - cn.t0);
      ++c.txns;
      if (plan_.workload == Workload::kShort) return reopen(fd, c);
      cn.state = State::kSending;
      cn.done = 0;
      cn.t0 = t;
      if (t >= plan_.end_ns) return;
    }
  }

  // bulk-reverse: the server sends without pause; read (and count) until EAGAIN. The server never
  // closes first, so EOF is an error.
  void sink(int fd, ClientCounters& c) {
    for (;;) {
      const ssize_t r = net_.read(fd, rbuf_, sizeof rbuf_);
      if (r == 0) return fail(fd, c);
      if (r < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        if (errno == EINTR) continue;
        return fail(fd, c);
      }
      c.bytes += static_cast<std::uint64_t>(r);
    }
  }

  Net& net_;
  const ClientPlan& plan_;
  const char* payload_;
  std::vector<Conn> conns_;
  int want_ = 0;  // connections to (re)open
  char rbuf_[64 * 1024];
};

}  // namespace xdptcp::bench
