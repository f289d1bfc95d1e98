// The kernel's sockets behind the small interface that server_loop.h and client_loop.h are
// written against, so the same benchmark logic runs on both stacks. Each thread has its own
// epoll instance; every call is one system call.
#pragma once

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <string>

#include "bench/xdptcp_bench/kernel_busy_poll.h"

namespace xdptcp::bench {

class KernelNet {
 public:
  // spin: never sleep in epoll_wait (timeout 0), as a latency-tuned server on a dedicated core does,
  // with the kernel's busy polling on the epoll instance and on the sockets this opens
  // (kernel_busy_poll.h; what the kernel refused is in busy_poll_failures()).
  KernelNet(const std::atomic<bool>& stop, bool spin)
      : stop_(stop), spin_(spin), ep_(::epoll_create1(EPOLL_CLOEXEC)) {
    if (spin_ && ep_ >= 0) failures_ = busy_poll_epoll(ep_);
  }
  ~KernelNet() {
    if (ep_ >= 0) ::close(ep_);
  }
  KernelNet(const KernelNet&) = delete;
  KernelNet& operator=(const KernelNet&) = delete;

  bool valid() const { return ep_ >= 0; }
  bool stopping() const { return stop_.load(std::memory_order_relaxed); }
  int accept(int lfd) { return ::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC); }
  ssize_t read(int fd, void* buf, std::size_t len) { return ::recv(fd, buf, len, 0); }
  ssize_t write(int fd, const void* buf, std::size_t len) { return ::send(fd, buf, len, MSG_NOSIGNAL); }
  int close(int fd) { return ::close(fd); }
  int tcp_socket(int family) {
    const int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (spin_ && fd >= 0 && !sock_failed_) {
      const std::string f = busy_poll_socket(fd);
      sock_failed_ = !f.empty();  // report once, not per connection
      failures_ += f;
    }
    return fd;
  }
  // "" when every busy-poll setting took (or spin is off).
  const std::string& busy_poll_failures() const { return failures_; }
  int connect(int fd, const sockaddr* a, socklen_t len) { return ::connect(fd, a, len); }
  int so_error(int fd) {
    int e = 0;
    socklen_t l = sizeof e;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &l) < 0) return errno;
    return e;
  }
  void nodelay(int fd) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  int ep_add(int fd, std::uint32_t events) {
    epoll_event ev{events, {}};
    ev.data.fd = fd;
    return ::epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
  }
  int wait(epoll_event* evs, int n, int timeout_ms) {
    return ::epoll_wait(ep_, evs, n, spin_ ? 0 : timeout_ms);
  }

 private:
  const std::atomic<bool>& stop_;
  bool spin_;
  int ep_;
  bool sock_failed_ = false;
  std::string failures_;
};

}  // namespace xdptcp::bench
