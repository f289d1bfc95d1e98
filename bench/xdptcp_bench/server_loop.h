// The benchmark server's logic, once, for both stacks (Net is KernelNet or XdptcpNet): one
// listener per thread/engine, edge-triggered events, accept in batches until EAGAIN, then read
// each connection until EAGAIN. short/rr/latency echo what they read (a reply per request, and
// the connection is closed when the client's EOF is read); bulk sinks. A reply that does not fit
// the send buffer waits for EPOLLOUT in a per-connection buffer allocated the first time it is
// needed, so steady state allocates nothing.
#pragma once

#include <sys/epoll.h>

#include <cerrno>
#include <cstdint>
#include <vector>

namespace xdptcp::bench {

struct ServerCounters {
  std::uint64_t accepted = 0;
  std::uint64_t closed = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t errors = 0;
};

template <class Net>
class ServerLoop {
 public:
  // max_fd bounds the connection table (fds at or above it are refused and closed).
  ServerLoop(Net& net, bool sink, std::size_t max_fd) : net_(net), sink_(sink), conns_(max_fd) {}

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

  // Flushes pending output, then reads until EAGAIN, echoing (or sinking) what arrives.
  void serve(int fd, ServerCounters& c) {
    Conn& cn = conns_[static_cast<std::size_t>(fd)];
    if (!cn.open) return;
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
      if (sink_) continue;
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
  bool sink_;
  int lfd_ = -1;
  std::vector<Conn> conns_;
  char buf_[64 * 1024];
};

}  // namespace xdptcp::bench
