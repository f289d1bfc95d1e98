// The benchmark server's logic, once, for both stacks (Net is KernelNet or XdptcpNet): one
// listener per thread/engine, edge-triggered events, accept in batches until EAGAIN, then read
// each connection until EAGAIN. short/rr/latency echo what they read (a reply per request, and
// the connection is closed when the client's EOF is read); bulk sinks; bulk-reverse sources: it
// writes 64 KiB chunks until the send buffer is full, again on each EPOLLOUT, and discards what it
// reads until the client's EOF. A reply that does not fit
// the send buffer waits for EPOLLOUT in a per-connection buffer allocated the first time it is
// needed, so steady state allocates nothing.
#pragma once

#include <sys/epoll.h>

#include <cerrno>
#include <cstdint>
#include <vector>

#include "bench/xdptcp_bench/workload.h"

namespace xdptcp::bench {

struct ServerCounters {
  std::uint64_t accepted = 0;
  std::uint64_t closed = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::uint64_t errors = 0;
};

// What the server does with what it reads.
enum class ServeMode { kEcho, kSink, kSource };

inline ServeMode serve_mode(Workload w) {
  switch (w) {
    case Workload::kBulk:
      return ServeMode::kSink;
    case Workload::kBulkReverse:
      return ServeMode::kSource;
    case Workload::kShort:
    case Workload::kRr:
    case Workload::kLatency:
      break;
  }
  return ServeMode::kEcho;
}

template <class Net>
class ServerLoop {
 public:
  // max_fd bounds the connection table (fds at or above it are refused and closed).
  ServerLoop(Net& net, ServeMode mode, std::size_t max_fd) : net_(net), mode_(mode), conns_(max_fd) {}

  void run(int lfd, ServerCounters& c) {
    lfd_ = lfd;
    net_.ep_add(lfd, EPOLLIN | EPOLLET);
    epoll_event evs[256];
    while (!net_.stopping()) {
      const int n = net_.wait(evs, 256, 100);
      for (int i = 0; i < n; ++i) {
        const int fd = evs[i].data.fd;
        if (fd == lfd_) {
          accept_all(c);
        } else {
          serve(fd, c);
        }
      }
    }
  }

 private:
  struct Conn {
    bool open = false;
    std::size_t pend_off = 0, pend_len = 0;
    std::vector<char> pend;
  };

  void accept_all(ServerCounters& c) {
    for (;;) {
      const int fd = net_.accept(lfd_);
      if (fd < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) ++c.errors;
        if (errno == EINTR) continue;
        return;
      }
      if (static_cast<std::size_t>(fd) >= conns_.size()) {
        ++c.errors;
        net_.close(fd);
        continue;
      }
      ++c.accepted;
      Conn& cn = conns_[static_cast<std::size_t>(fd)];
      cn.open = true;
      cn.pend_off = cn.pend_len = 0;
      net_.ep_add(fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET);
      // The request often arrives with the handshake's last ACK: serve it now rather than after
      // another round through epoll (both stacks get the same treatment).
      serve(fd, c);
    }
  }

  void drop(int fd, ServerCounters& c) {
    conns_[static_cast<std::size_t>(fd)].open = false;
    net_.close(fd);
    ++c.closed;
  }

  // bulk-reverse: writes until the send buffer is full (EPOLLOUT brings us back); false when the
  // connection was dropped.
  bool source(int fd, ServerCounters& c) {
    for (;;) {
      const ssize_t w = net_.write(fd, buf_, sizeof buf_);
      if (w < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
        if (errno == EINTR) continue;
        if (errno != ECONNRESET && errno != EPIPE) ++c.errors;
        drop(fd, c);
        return false;
      }
      c.bytes_out += static_cast<std::uint64_t>(w);
    }
  }

  // Flushes pending output, then reads until EAGAIN, echoing (or sinking) what arrives.
  void serve(int fd, ServerCounters& c) {
    Conn& cn = conns_[static_cast<std::size_t>(fd)];
    if (!cn.open) return;
    if (mode_ == ServeMode::kSource && !source(fd, c)) return;
    while (cn.pend_len > 0) {
      const ssize_t w = net_.write(fd, cn.pend.data() + cn.pend_off, cn.pend_len);
      if (w < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;  // EPOLLOUT will bring us back
        ++c.errors;
        drop(fd, c);
        return;
      }
      cn.pend_off += static_cast<std::size_t>(w);
      cn.pend_len -= static_cast<std::size_t>(w);
    }
    for (;;) {
      const ssize_t r = net_.read(fd, buf_, sizeof buf_);
      if (r == 0) {
        drop(fd, c);
        return;
      }
      if (r < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        if (errno == EINTR) continue;
        if (errno != ECONNRESET) ++c.errors;
        drop(fd, c);
        return;
      }
      c.bytes_in += static_cast<std::uint64_t>(r);
      if (mode_ != ServeMode::kEcho) continue;
      const std::size_t len = static_cast<std::size_t>(r);
      const ssize_t w = net_.write(fd, buf_, len);
      std::size_t done = w < 0 ? 0 : static_cast<std::size_t>(w);
      if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        ++c.errors;
        drop(fd, c);
        return;
      }
      if (done < len) {
        if (cn.pend.size() < sizeof buf_) cn.pend.resize(sizeof buf_);
        std::copy(buf_ + done, buf_ + len, cn.pend.data());
        cn.pend_off = 0;
        cn.pend_len = len - done;
        return;  // read more once the reply has gone (EPOLLOUT)
      }
    }
  }

  Net& net_;
  ServeMode mode_;
  int lfd_ = -1;
  std::vector<Conn> conns_;
  char buf_[64 * 1024];
};

}  // namespace xdptcp::bench
