// socket, bind, listen, accept, connect, close, shutdown, names and options: where a TCP socket
// is decided to be the stack's (design brief §8, docs/PRELOAD.md "Which sockets").
//
// socket() makes a real kernel socket and remembers it as a candidate; bind() to a served address
// (or the wildcard) and listen() make it a listener that both the stack (on the served addresses)
// and the kernel (loopback, other addresses, and before the stack starts) serve; connect() through
// the served interface makes it a stack connection whose kernel socket only holds the number.
// Everything else is the kernel's, untouched.
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdarg>
#include <cstring>

#include "api/preload/blocking.h"
#include "api/preload/interpose.h"
#include "api/preload/libc_calls.h"
#include "api/preload/process_state.h"

namespace xdptcp::preload {

namespace {

bool is_loopback(const wire::IpAddr& ip) {
  if (ip.is_v4()) return ip.bytes[0] == 127;
  static constexpr std::uint8_t kOne[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return std::memcmp(ip.bytes.data(), kOne, 16) == 0;
}

// The source address the kernel's routing would use towards dst (a connected UDP socket's name):
// the stack takes a connection when that address is one it serves.
bool route_source(const wire::SockAddr& dst, wire::IpAddr* src) {
  ReentryGuard g;
  const int family = dst.ip.is_v4() ? AF_INET : AF_INET6;
  const int s = libc().socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return false;
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  from_sock_addr({dst.ip, dst.port == 0 ? std::uint16_t{9} : dst.port}, false,
                 reinterpret_cast<sockaddr*>(&ss), &len);
  bool ok = libc().connect(s, reinterpret_cast<sockaddr*>(&ss), len) == 0;
  if (ok) {
    len = sizeof ss;
    wire::SockAddr me;
    ok = libc().getsockname(s, reinterpret_cast<sockaddr*>(&ss), &len) == 0 &&
         to_sock_addr(reinterpret_cast<sockaddr*>(&ss), len, &me) == 0;
    if (ok) *src = me.ip;
  }
  libc().close(s);
  return ok;
}

// The entry of a stack descriptor, re-read under the lock (another thread may have closed it).
FdEntry* entry_of(int fd, Kind k) {
  FdEntry* e = Process::get().fds().find(fd);
  return e != nullptr && e->kind.load(std::memory_order_acquire) == k ? e : nullptr;
}

// Drops a descriptor's stack state (its sockets closed when no other descriptor shares them).
void forget(FdEntry& e) {
  Process& p = Process::get();
  const Kind k = e.kind.load(std::memory_order_relaxed);
  if (p.state() == StackState::kRunning) {
    Context& ctx = p.ctx();
    if ((k == Kind::kConn || k == Kind::kListener) && e.sid >= 0 && p.unref(e.sid)) {
      (void)ctx.close(e.sid);
      // A blocking program's FIN leaves now (see on_conn in data_calls.cpp); an event loop's at
      // its next wait.
      if (k == Kind::kConn && !e.nonblock) ctx.poll_once();
    }
    if (k == Kind::kListener && e.sid4 >= 0 && p.unref(e.sid4)) (void)ctx.close(e.sid4);
    if (k == Kind::kEpoll && e.queue >= 0) (void)ctx.close(e.queue);
  }
  if (k == Kind::kEpoll && e.doorbell >= 0) (void)libc().close(e.doorbell);
  e.reset();
}

int accept_impl(int fd, sockaddr* addr, socklen_t* len, int flags) {
  if (!intercepting() || Process::get().fds().kind(fd) != Kind::kListener) {
    return libc().accept4(fd, addr, len, flags);
  }
  Process& p = Process::get();
  StackLock lock;
  FdEntry* e = entry_of(fd, Kind::kListener);
  if (e == nullptr || !p.ensure_started() || !p.use_listener(fd, *e)) {
    lock.unlock();
    return libc().accept4(fd, addr, len, flags);
  }
  for (;;) {
    Context& ctx = p.ctx();
    for (const int sid : {e->sid, e->sid4}) {
      if (sid < 0) continue;
      sockaddr_storage peer{};
      socklen_t plen = sizeof peer;
      const int c = ctx.accept(sid, reinterpret_cast<sockaddr*>(&peer), &plen);
      if (c < 0) continue;
      const int pfd = p.new_placeholder(e->family, (flags & SOCK_CLOEXEC) != 0);
      FdEntry* ce = pfd < 0 ? nullptr : p.fds().slot(pfd);
      if (ce == nullptr) {
        const int err = pfd < 0 ? errno : EMFILE;
        if (pfd >= 0) libc().close(pfd);
        (void)ctx.close(c);  // the kernel's accept fails the same way when it has no descriptor
        return set_errno(err);
      }
      ce->reset();
      ce->family = e->family;
      ce->nonblock = (flags & SOCK_NONBLOCK) != 0;
      ce->sid = c;
      ce->mapped = e->family == AF_INET6 && sid == e->sid4;
      p.ref(c);
      ce->kind.store(Kind::kConn, std::memory_order_release);
      if (addr != nullptr && len != nullptr) {
        wire::SockAddr a;
        if (to_sock_addr(reinterpret_cast<sockaddr*>(&peer), plen, &a) == 0)
          from_sock_addr(a, ce->mapped, addr, len);
      }
      p.log(2, "fd %d: accepted a stack connection on fd %d", pfd, fd);
      return pfd;
    }
    // The kernel's side (loopback, the interface's other addresses). Its socket is non-blocking
    // whatever the application asked (that is kept in the entry), so this never sleeps here.
    if (e->kernel_ready || !e->nonblock) {
      const int r = libc().accept4(fd, addr, len, flags);
      if (r >= 0 || errno != EAGAIN) return r;
      e->kernel_ready = false;
    }
    if (e->nonblock) return set_errno(EAGAIN);
    const int sid = e->sid;
    const int sid4 = e->sid4;
    auto ready = [&ctx, sid, sid4] {
      return ((ctx.poll_events(sid) | (sid4 >= 0 ? ctx.poll_events(sid4) : 0)) & EPOLLIN) != 0;
    };
    if (wait_until(lock, ready, Deadline(static_cast<int>(e->rcv_timeout_ms)), fd, &e->kernel_ready) < 0)
      return -1;
    e = entry_of(fd, Kind::kListener);
    if (e == nullptr || e->sid < 0) return set_errno(EBADF);
  }
}

}  // namespace

int close_stack_fd(int fd) {
  // Cleared before the kernel's close: once the number is free, another thread may get it.
  {
    StackLock lock;
    FdEntry* e = Process::get().fds().find(fd);
    if (e != nullptr && e->kind.load(std::memory_order_relaxed) != Kind::kNone) forget(*e);
  }
  return libc().close(fd);
}

// dup()'s bookkeeping: newfd now names what oldfd names.
void copy_entry(int oldfd, int newfd) {
  Process& p = Process::get();
  FdEntry* from = p.fds().find(oldfd);
  FdEntry* to = p.fds().slot(newfd);
  if (from == nullptr || to == nullptr) return;
  const Kind k = from->kind.load(std::memory_order_relaxed);
  if (k == Kind::kNone || k == Kind::kEpoll) return;  // a duplicated epoll set stays the kernel's
  to->reset();
  to->family = from->family;
  to->nonblock = from->nonblock;
  to->bound = from->bound;
  to->v6only = from->v6only;
  to->mapped = from->mapped;
  to->backlog = from->backlog;
  to->sid = from->sid;
  to->sid4 = from->sid4;
  to->local = from->local;
  to->options = from->options;
  to->option_count = from->option_count;
  if (k == Kind::kConn || k == Kind::kListener) {
    p.ref(to->sid);
    p.ref(to->sid4);
  }
  to->kind.store(k, std::memory_order_release);
}

}  // namespace xdptcp::preload

using namespace xdptcp::preload;  // NOLINT(google-build-using-namespace): the C symbols below
using xdptcp::Context;
namespace wire = xdptcp::wire;

XDPTCP_EXPORT int socket(int domain, int type, int protocol) {
  const int fd = libc().socket(domain, type, protocol);
  if (fd < 0 || !intercepting()) return fd;
  if ((domain != AF_INET && domain != AF_INET6) || (type & 0xf) != SOCK_STREAM ||
      (protocol != 0 && protocol != IPPROTO_TCP)) {
    return fd;
  }
  StackLock lock;
  Process& p = Process::get();
  if (p.state() == StackState::kFailed || p.state() == StackState::kInherited) return fd;
  FdEntry* e = p.fds().slot(fd);
  if (e == nullptr) return fd;  // beyond the table's bound: the kernel's
  e->reset();
  e->family = domain;
  e->nonblock = (type & SOCK_NONBLOCK) != 0;
  e->kind.store(Kind::kCandidate, std::memory_order_release);
  return fd;
}

XDPTCP_EXPORT int bind(int fd, const sockaddr* addr, socklen_t len) {
  // The kernel validates and holds the address (EADDRINUSE, EACCES as always); the stack's
  // listener takes the same address later.
  const int r = libc().bind(fd, addr, len);
  if (r < 0 || !intercepting() || Process::get().fds().kind(fd) != Kind::kCandidate) return r;
  StackLock lock;
  FdEntry* e = entry_of(fd, Kind::kCandidate);
  if (e == nullptr) return r;
  wire::SockAddr a;
  if (to_sock_addr(addr, len, &a) < 0) return r;
  if (a.port == 0 || is_loopback(a.ip) || (!a.ip.is_unspecified() && !Process::get().serves(a.ip))) {
    // Loopback, another interface's address, or an ephemeral client bind: the kernel's (a client
    // bind before connect to a served address is rare; it stays with the kernel).
    e->reset();
    return r;
  }
  e->bound = true;
  e->local = a;
  Process::get().log(2, "fd %d: bound to %s: the stack's if it listens or connects", fd,
                     a.to_string().c_str());
  return r;
}

XDPTCP_EXPORT int listen(int fd, int backlog) {
  if (!intercepting() || Process::get().fds().kind(fd) != Kind::kCandidate) return libc().listen(fd, backlog);
  StackLock lock;
  FdEntry* e = entry_of(fd, Kind::kCandidate);
  if (e == nullptr || !e->bound) {
    if (e != nullptr) e->reset();  // listen without bind: the kernel picks a port; it keeps it
    lock.unlock();
    return libc().listen(fd, backlog);
  }
  const int r = libc().listen(fd, backlog);
  if (r < 0) return r;
  // The kernel side stays non-blocking underneath (the application's choice is in the entry), so
  // that looking at it from accept() never sleeps in the kernel.
  const int fl = libc().fcntl(fd, F_GETFL);
  if (fl >= 0) (void)libc().fcntl(fd, F_SETFL, fl | O_NONBLOCK);
  e->backlog = backlog <= 0 ? 128 : backlog;
  e->kind.store(Kind::kListener, std::memory_order_release);
  Process& p = Process::get();
  // Not started: the stack starts where the listener is first used (an accept, an epoll set),
  // which for nginx is the worker after fork, and takes it then.
  if (p.state() == StackState::kRunning) (void)p.start_listener(fd, *e);
  return 0;
}

XDPTCP_EXPORT int accept(int fd, sockaddr* addr, socklen_t* len) {
  return accept_impl(fd, addr, len, 0);
}

XDPTCP_EXPORT int accept4(int fd, sockaddr* addr, socklen_t* len, int flags) {
  return accept_impl(fd, addr, len, flags);
}

XDPTCP_EXPORT int connect(int fd, const sockaddr* addr, socklen_t len) {
  if (!intercepting() || Process::get().fds().kind(fd) != Kind::kCandidate)
    return libc().connect(fd, addr, len);
  wire::SockAddr dst;
  if (to_sock_addr(addr, len, &dst) < 0) return libc().connect(fd, addr, len);
  Process& p = Process::get();
  StackLock lock;
  FdEntry* e = entry_of(fd, Kind::kCandidate);
  if (e == nullptr) {
    lock.unlock();
    return libc().connect(fd, addr, len);
  }
  wire::IpAddr src;
  // A socket the application bound before connecting stays with the kernel: bind() keeps only a
  // listener's address (a port-0 bind is the kernel's at once), and a source port it chose would
  // be outside the stack's ephemeral range, whose replies alone are steered to the stack.
  const bool ours = !e->bound && !is_loopback(dst.ip) && !dst.ip.is_unspecified() &&
                    route_source(dst, &src) && p.serves(src);
  // A process holding only some RX queues connects through the kernel: the replies would reach
  // whichever queue the peer's hash picks, possibly another process's.
  if (!ours || !p.ensure_started() || !p.holds_all_queues()) {
    e->reset();
    lock.unlock();
    return libc().connect(fd, addr, len);
  }
  Context& ctx = p.ctx();
  const int sid = ctx.socket(dst.ip.is_v4() ? AF_INET : AF_INET6);
  if (sid < 0) return -1;  // EMFILE: the stack's socket table is full
  replay_options(ctx, sid, *e);
  sockaddr_storage ss{};
  socklen_t sl = sizeof ss;
  from_sock_addr(dst, false, reinterpret_cast<sockaddr*>(&ss), &sl);
  const int r = ctx.connect(sid, reinterpret_cast<sockaddr*>(&ss), sl);
  const int err = errno;
  e->sid = sid;
  e->mapped = e->family == AF_INET6 && dst.ip.is_v4();
  p.ref(sid);
  e->kind.store(Kind::kConn, std::memory_order_release);
  p.log(2, "fd %d: connecting to %s on the stack", fd, dst.to_string().c_str());
  if (r == 0) return 0;
  if (err != EINPROGRESS) return set_errno(err);
  if (e->nonblock) return set_errno(EINPROGRESS);
  // A blocking connect waits for the handshake, then reports its outcome as the kernel does.
  auto done = [&ctx, sid] { return (ctx.poll_events(sid) & (EPOLLOUT | EPOLLERR | EPOLLHUP)) != 0; };
  if (wait_until(lock, done, Deadline(static_cast<int>(e->snd_timeout_ms))) < 0) {
    return errno == EAGAIN ? set_errno(EINPROGRESS) : -1;
  }
  int so_error = 0;
  socklen_t el = sizeof so_error;
  (void)p.ctx().getsockopt(sid, SOL_SOCKET, SO_ERROR, &so_error, &el);
  return so_error == 0 ? 0 : set_errno(so_error);
}

XDPTCP_EXPORT int close(int fd) {
  if (!intercepting() || Process::get().fds().kind(fd) == Kind::kNone) return libc().close(fd);
  return close_stack_fd(fd);
}

XDPTCP_EXPORT int shutdown(int fd, int how) {
  if (!intercepting()) return libc().shutdown(fd, how);
  const Kind k = Process::get().fds().kind(fd);
  if (k == Kind::kOrphan) return set_errno(EBADF);  // the parent's connection: not ours to end
  if (k != Kind::kConn) return libc().shutdown(fd, how);
  StackLock lock;
  FdEntry* e = entry_of(fd, Kind::kConn);
  if (e == nullptr) return set_errno(EBADF);
  return Process::get().ctx().shutdown(e->sid, how);
}

XDPTCP_EXPORT int getsockname(int fd, sockaddr* addr, socklen_t* len) {
  if (!intercepting() || Process::get().fds().kind(fd) != Kind::kConn)
    return libc().getsockname(fd, addr, len);
  StackLock lock;
  FdEntry* e = entry_of(fd, Kind::kConn);
  if (e == nullptr) return set_errno(EBADF);
  sockaddr_storage ss{};
  socklen_t sl = sizeof ss;
  if (Process::get().ctx().getsockname(e->sid, reinterpret_cast<sockaddr*>(&ss), &sl) < 0) return -1;
  wire::SockAddr a;
  if (to_sock_addr(reinterpret_cast<sockaddr*>(&ss), sl, &a) < 0) return set_errno(EINVAL);
  from_sock_addr(a, e->mapped, addr, len);
  return 0;
}

XDPTCP_EXPORT int getpeername(int fd, sockaddr* addr, socklen_t* len) {
  if (!intercepting() || Process::get().fds().kind(fd) != Kind::kConn)
    return libc().getpeername(fd, addr, len);
  StackLock lock;
  FdEntry* e = entry_of(fd, Kind::kConn);
  if (e == nullptr) return set_errno(EBADF);
  sockaddr_storage ss{};
  socklen_t sl = sizeof ss;
  if (Process::get().ctx().getpeername(e->sid, reinterpret_cast<sockaddr*>(&ss), &sl) < 0) return -1;
  wire::SockAddr a;
  if (to_sock_addr(reinterpret_cast<sockaddr*>(&ss), sl, &a) < 0) return set_errno(EINVAL);
  from_sock_addr(a, e->mapped, addr, len);
  return 0;
}

namespace {

std::uint32_t timeval_ms(const void* v, socklen_t len) {
  if (len < static_cast<socklen_t>(sizeof(timeval))) return 0;
  timeval tv{};
  std::memcpy(&tv, v, sizeof tv);
  return static_cast<std::uint32_t>(tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000);
}

// Options a stack connection answers although the stack core has no such option.
int conn_setsockopt(FdEntry& e, int level, int name, const void* value, socklen_t len) {
  if (level == SOL_SOCKET && (name == SO_RCVTIMEO || name == SO_SNDTIMEO)) {
    if (value == nullptr) return set_errno(EFAULT);
    if (len < static_cast<socklen_t>(sizeof(timeval))) return set_errno(EINVAL);
    (name == SO_RCVTIMEO ? e.rcv_timeout_ms : e.snd_timeout_ms) = timeval_ms(value, len);
    return 0;
  }
  // Meaningless on a connected socket, accepted by the kernel all the same.
  if ((level == SOL_SOCKET && name == SO_REUSEPORT) || (level == IPPROTO_TCP && name == TCP_DEFER_ACCEPT))
    return 0;
  if (level == IPPROTO_IPV6 && name == IPV6_V6ONLY) return set_errno(EINVAL);  // Linux: not once connected
  return Process::get().ctx().setsockopt(e.sid, level, name, value, len);
}

int conn_getsockopt(FdEntry& e, int level, int name, void* value, socklen_t* len) {
  if (value == nullptr || len == nullptr) return set_errno(EFAULT);
  auto put_int = [value, len](int v) {
    if (*len < static_cast<socklen_t>(sizeof(int))) return set_errno(EINVAL);
    std::memcpy(value, &v, sizeof v);
    *len = sizeof v;
    return 0;
  };
  if (level == SOL_SOCKET) {
    switch (name) {
      case SO_TYPE:
        return put_int(SOCK_STREAM);
      case SO_DOMAIN:
        return put_int(e.family);
      case SO_PROTOCOL:
        return put_int(IPPROTO_TCP);
      case SO_ACCEPTCONN:
        return put_int(0);
      case SO_RCVTIMEO:
      case SO_SNDTIMEO: {
        if (*len < static_cast<socklen_t>(sizeof(timeval))) return set_errno(EINVAL);
        const std::uint32_t ms = name == SO_RCVTIMEO ? e.rcv_timeout_ms : e.snd_timeout_ms;
        timeval tv{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
        std::memcpy(value, &tv, sizeof tv);
        *len = sizeof tv;
        return 0;
      }
      default:
        break;
    }
  }
  return Process::get().ctx().getsockopt(e.sid, level, name, value, len);
}

}  // namespace

XDPTCP_EXPORT int setsockopt(int fd, int level, int name, const void* value, socklen_t len) {
  if (!intercepting()) return libc().setsockopt(fd, level, name, value, len);
  const Kind k = Process::get().fds().kind(fd);
  if (k == Kind::kNone || k == Kind::kEpoll) return libc().setsockopt(fd, level, name, value, len);
  if (k == Kind::kOrphan) return set_errno(EBADF);
  StackLock lock;
  FdEntry* e = Process::get().fds().find(fd);
  if (e == nullptr) return set_errno(EBADF);
  if (k == Kind::kConn) return conn_setsockopt(*e, level, name, value, len);
  // A candidate or a listener: the kernel socket takes it (and says what is wrong); the stack's
  // socket gets it too, now or when it is created.
  const int r = libc().setsockopt(fd, level, name, value, len);
  if (r < 0) return r;
  if (level == SOL_SOCKET && (name == SO_RCVTIMEO || name == SO_SNDTIMEO)) {
    (name == SO_RCVTIMEO ? e->rcv_timeout_ms : e->snd_timeout_ms) = timeval_ms(value, len);
    return r;
  }
  int v = 0;
  if (value == nullptr || len != static_cast<socklen_t>(sizeof(int))) return r;
  std::memcpy(&v, value, sizeof v);
  if (level == IPPROTO_IPV6 && name == IPV6_V6ONLY) e->v6only = v != 0;
  e->save_option(level, name, v);
  if (k == Kind::kListener && Process::get().state() == StackState::kRunning) {
    for (const int sid : {e->sid, e->sid4}) {
      if (sid >= 0) (void)Process::get().ctx().setsockopt(sid, level, name, &v, sizeof v);
    }
  }
  return r;
}

XDPTCP_EXPORT int getsockopt(int fd, int level, int name, void* value, socklen_t* len) {
  if (!intercepting()) return libc().getsockopt(fd, level, name, value, len);
  const Kind k = Process::get().fds().kind(fd);
  if (k == Kind::kOrphan) return set_errno(EBADF);
  if (k != Kind::kConn) return libc().getsockopt(fd, level, name, value, len);
  StackLock lock;
  FdEntry* e = entry_of(fd, Kind::kConn);
  if (e == nullptr) return set_errno(EBADF);
  return conn_getsockopt(*e, level, name, value, len);
}

namespace {

// O_NONBLOCK is the open file's, which dup()'s descriptors share: under the lock, sets it on every
// descriptor of e's stack socket (when another holds it: unref then ref tells without a scan).
void set_nonblock(FdEntry& e, bool on) {
  e.nonblock = on;
  Process& p = Process::get();
  const Kind k = e.kind.load(std::memory_order_relaxed);
  if ((k != Kind::kConn && k != Kind::kListener) || e.sid < 0) return;
  const bool alone = p.unref(e.sid);
  p.ref(e.sid);
  if (alone) return;
  const int sid = e.sid;
  p.fds().for_each([k, sid, on](int, FdEntry& other) {
    if (other.kind.load(std::memory_order_relaxed) == k && other.sid == sid) other.nonblock = on;
  });
}

int fcntl_impl(int fd, int cmd, void* arg) {
  const auto larg = reinterpret_cast<long>(arg);
  if (!intercepting()) return libc().fcntl(fd, cmd, arg);
  const Kind k = Process::get().fds().kind(fd);
  if (k == Kind::kNone || k == Kind::kEpoll) return libc().fcntl(fd, cmd, arg);
  StackLock lock;
  FdEntry* e = Process::get().fds().find(fd);
  if (e == nullptr || e->kind.load(std::memory_order_relaxed) != k) return set_errno(EBADF);
  switch (cmd) {
    case F_GETFL: {
      int fl = libc().fcntl(fd, F_GETFL);
      if (fl < 0) return fl;
      fl = e->nonblock ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
      return fl;
    }
    case F_SETFL: {
      set_nonblock(*e, (larg & O_NONBLOCK) != 0);
      // A candidate's kernel socket behaves as asked (it may stay the kernel's); a listener's
      // stays non-blocking underneath; a placeholder is never waited on.
      if (k == Kind::kCandidate) return libc().fcntl(fd, F_SETFL, larg);
      if (k == Kind::kListener) return libc().fcntl(fd, F_SETFL, larg | O_NONBLOCK);
      return 0;
    }
    case F_DUPFD:
    case F_DUPFD_CLOEXEC: {
      const int n = libc().fcntl(fd, cmd, larg);
      if (n >= 0) copy_entry(fd, n);
      return n;
    }
    default:
      return libc().fcntl(fd, cmd, arg);
  }
}

}  // namespace

XDPTCP_EXPORT int fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);  // every fcntl argument fits a pointer (int, long or a pointer)
  va_end(ap);
  return fcntl_impl(fd, cmd, arg);
}

XDPTCP_EXPORT int fcntl64(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  return fcntl_impl(fd, cmd, arg);
}

XDPTCP_EXPORT int ioctl(int fd, unsigned long request, ...) {
  va_list ap;
  va_start(ap, request);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  if (!intercepting()) return libc().ioctl(fd, request, arg);
  const Kind k = Process::get().fds().kind(fd);
  if (k != Kind::kConn && k != Kind::kListener && k != Kind::kCandidate)
    return libc().ioctl(fd, request, arg);
  StackLock lock;
  FdEntry* e = Process::get().fds().find(fd);
  if (e == nullptr || e->kind.load(std::memory_order_relaxed) != k) return set_errno(EBADF);
  if (request == FIONBIO) {
    if (arg == nullptr) return set_errno(EFAULT);
    set_nonblock(*e, *static_cast<const int*>(arg) != 0);
    if (k == Kind::kCandidate) return libc().ioctl(fd, request, arg);
    return 0;
  }
  if (k == Kind::kConn && (request == FIONREAD || request == SIOCOUTQ || request == SIOCOUTQNSD)) {
    // FIONREAD == SIOCINQ; SIOCOUTQ and SIOCOUTQNSD as Linux's tcp_ioctl().
    if (arg == nullptr) return set_errno(EFAULT);
    Context& ctx = Process::get().ctx();
    const int n =
        request == FIONREAD ? ctx.readable_bytes(e->sid) : ctx.queued_bytes(e->sid, request == SIOCOUTQNSD);
    if (n < 0) return -1;
    *static_cast<int*>(arg) = n;
    return 0;
  }
  if (k == Kind::kConn) return set_errno(ENOTTY);  // what Linux says of a request a socket lacks
  return libc().ioctl(fd, request, arg);
}

XDPTCP_EXPORT int dup(int fd) {
  const int n = libc().dup(fd);
  if (n < 0 || !intercepting() || Process::get().fds().kind(fd) == Kind::kNone) return n;
  StackLock lock;
  copy_entry(fd, n);
  return n;
}

namespace {
int dup_onto(int oldfd, int newfd, int flags, bool is_dup3) {
  if (!intercepting()) return is_dup3 ? libc().dup3(oldfd, newfd, flags) : libc().dup2(oldfd, newfd);
  Process& p = Process::get();
  if (p.fds().kind(oldfd) == Kind::kNone && p.fds().kind(newfd) == Kind::kNone) {
    return is_dup3 ? libc().dup3(oldfd, newfd, flags) : libc().dup2(oldfd, newfd);
  }
  StackLock lock;
  if (oldfd == newfd) return is_dup3 ? set_errno(EINVAL) : libc().dup2(oldfd, newfd);
  // The kernel closes newfd silently; its stack state goes first.
  if (FdEntry* old = p.fds().find(newfd);
      old != nullptr && old->kind.load(std::memory_order_relaxed) != Kind::kNone) {
    forget(*old);
  }
  const int r = is_dup3 ? libc().dup3(oldfd, newfd, flags) : libc().dup2(oldfd, newfd);
  if (r >= 0) copy_entry(oldfd, r);
  return r;
}
}  // namespace

XDPTCP_EXPORT int dup2(int oldfd, int newfd) {
  return dup_onto(oldfd, newfd, 0, false);
}

XDPTCP_EXPORT int dup3(int oldfd, int newfd, int flags) {
  return dup_onto(oldfd, newfd, flags, true);
}
