// One xdptcp engine's Context behind the interface of net_kernel.h: the same benchmark logic,
// with the user-level stack's calls (no system calls; epoll_wait drives the engine).
#pragma once

#include <netinet/in.h>
#include <netinet/tcp.h>

#include "xdptcp/xdptcp.hpp"

namespace xdptcp::bench {

class XdptcpNet {
 public:
  explicit XdptcpNet(Context& ctx) : ctx_(ctx), ep_(ctx.epoll_create()) {}
  ~XdptcpNet() = default;
  XdptcpNet(const XdptcpNet&) = delete;
  XdptcpNet& operator=(const XdptcpNet&) = delete;

  bool valid() const { return ep_ >= 0; }
  bool stopping() const { return ctx_.stopping(); }
  int accept(int lfd) { return ctx_.accept(lfd, nullptr, nullptr); }
  ssize_t read(int fd, void* buf, std::size_t len) { return ctx_.read(fd, buf, len); }
  ssize_t write(int fd, const void* buf, std::size_t len) { return ctx_.write(fd, buf, len); }
  int close(int fd) { return ctx_.close(fd); }
  int tcp_socket(int family) { return ctx_.socket(family); }
  int connect(int fd, const sockaddr* a, socklen_t len) { return ctx_.connect(fd, a, len); }
  int so_error(int fd) {
    int e = 0;
    socklen_t l = sizeof e;
    if (ctx_.getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &l) < 0) return errno;
    return e;
  }
  void nodelay(int fd) {
    int one = 1;
    ctx_.setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  int ep_add(int fd, std::uint32_t events) {
    epoll_event ev{events, {}};
    ev.data.fd = fd;
    return ctx_.epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
  }
  int wait(epoll_event* evs, int n, int timeout_ms) { return ctx_.epoll_wait(ep_, evs, n, timeout_ms); }
  Context& context() { return ctx_; }

 private:
  Context& ctx_;
  int ep_;
};

}  // namespace xdptcp::bench
