// The C API: each function forwards to the C++ API (xdptcp.hpp). xdptcp_ctx is a Context.
#include "xdptcp/xdptcp.h"

#include <cstring>
#include <string>

#include "xdptcp/xdptcp.hpp"

struct xdptcp_stack {
  std::unique_ptr<xdptcp::Stack> stack;
};

namespace {
xdptcp::Context& ctx(xdptcp_ctx* c) {
  return *reinterpret_cast<xdptcp::Context*>(c);
}
}  // namespace

extern "C" {

void xdptcp_options_init(xdptcp_options* o) {
  std::memset(o, 0, sizeof *o);
  o->pin_cores = 1;
  o->max_sockets = 16384;
  o->rx_batch = 64;
  o->sndbuf = o->rcvbuf = 64 * 1024;
}

xdptcp_stack* xdptcp_create(const xdptcp_options* o, char* errbuf, size_t errlen) {
  auto report = [&](const std::string& m) {
    if (errbuf != nullptr && errlen > 0) {
      std::strncpy(errbuf, m.c_str(), errlen - 1);
      errbuf[errlen - 1] = '\0';
    }
  };
  if (o == nullptr || o->iface == nullptr) {
    report("options: iface is required");
    errno = EINVAL;
    return nullptr;
  }
  xdptcp::StackOptions so;
  so.iface = o->iface;
  for (size_t i = 0; i < o->n_addresses; ++i) so.addresses.emplace_back(o->addresses[i]);
  so.engines = o->engines;
  if (o->bind_mode != nullptr) so.bind_mode = o->bind_mode;
  if (o->xdp_mode != nullptr) so.xdp_mode = o->xdp_mode;
  so.busy_poll = o->busy_poll != 0;
  so.pin_cores = o->pin_cores != 0;
  if (o->max_sockets != 0) so.max_sockets = o->max_sockets;
  if (o->rx_batch != 0) so.rx_batch = o->rx_batch;
  if (o->sndbuf != 0) so.sndbuf = o->sndbuf;
  if (o->rcvbuf != 0) so.rcvbuf = o->rcvbuf;
  std::string err;
  auto s = xdptcp::Stack::create(so, &err);
  if (!s) {
    report(err);
    return nullptr;
  }
  return new xdptcp_stack{std::move(s)};
}

void xdptcp_destroy(xdptcp_stack* s) {
  delete s;
}
unsigned xdptcp_engines(const xdptcp_stack* s) {
  return s->stack->engines();
}

int xdptcp_run(xdptcp_stack* s, void (*fn)(xdptcp_ctx*, void*), void* arg) {
  s->stack->run([fn, arg](xdptcp::Context& c) { fn(reinterpret_cast<xdptcp_ctx*>(&c), arg); });
  return 0;
}

void xdptcp_stop(xdptcp_stack* s) {
  s->stack->stop();
}
unsigned xdptcp_engine_id(xdptcp_ctx* c) {
  return ctx(c).engine_id();
}
int xdptcp_stopping(xdptcp_ctx* c) {
  return ctx(c).stopping() ? 1 : 0;
}

int xdptcp_socket(xdptcp_ctx* c, int d, int t, int p) {
  return ctx(c).socket(d, t, p);
}
int xdptcp_bind(xdptcp_ctx* c, int fd, const sockaddr* a, socklen_t l) {
  return ctx(c).bind(fd, a, l);
}
int xdptcp_listen(xdptcp_ctx* c, int fd, int b) {
  return ctx(c).listen(fd, b);
}
int xdptcp_accept(xdptcp_ctx* c, int fd, sockaddr* a, socklen_t* l) {
  return ctx(c).accept(fd, a, l);
}
int xdptcp_connect(xdptcp_ctx* c, int fd, const sockaddr* a, socklen_t l) {
  return ctx(c).connect(fd, a, l);
}
ssize_t xdptcp_read(xdptcp_ctx* c, int fd, void* b, size_t n) {
  return ctx(c).read(fd, b, n);
}
ssize_t xdptcp_write(xdptcp_ctx* c, int fd, const void* b, size_t n) {
  return ctx(c).write(fd, b, n);
}
ssize_t xdptcp_readv(xdptcp_ctx* c, int fd, const iovec* v, int n) {
  return ctx(c).readv(fd, v, n);
}
ssize_t xdptcp_writev(xdptcp_ctx* c, int fd, const iovec* v, int n) {
  return ctx(c).writev(fd, v, n);
}
int xdptcp_shutdown(xdptcp_ctx* c, int fd, int how) {
  return ctx(c).shutdown(fd, how);
}
int xdptcp_close(xdptcp_ctx* c, int fd) {
  return ctx(c).close(fd);
}
int xdptcp_getsockname(xdptcp_ctx* c, int fd, sockaddr* a, socklen_t* l) {
  return ctx(c).getsockname(fd, a, l);
}
int xdptcp_getpeername(xdptcp_ctx* c, int fd, sockaddr* a, socklen_t* l) {
  return ctx(c).getpeername(fd, a, l);
}
int xdptcp_setsockopt(xdptcp_ctx* c, int fd, int lv, int nm, const void* v, socklen_t l) {
  return ctx(c).setsockopt(fd, lv, nm, v, l);
}
int xdptcp_getsockopt(xdptcp_ctx* c, int fd, int lv, int nm, void* v, socklen_t* l) {
  return ctx(c).getsockopt(fd, lv, nm, v, l);
}
int xdptcp_epoll_create(xdptcp_ctx* c) {
  return ctx(c).epoll_create();
}
int xdptcp_epoll_ctl(xdptcp_ctx* c, int ep, int op, int fd, epoll_event* e) {
  return ctx(c).epoll_ctl(ep, op, fd, e);
}
int xdptcp_epoll_wait(xdptcp_ctx* c, int ep, epoll_event* e, int n, int t) {
  return ctx(c).epoll_wait(ep, e, n, t);
}

}  // extern "C"
