// read, write, recv, send and their vector, message, file and fortified variants on stack
// connections. A descriptor that is not a stack connection goes to the C library untouched.
#include <signal.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <climits>
#include <cstring>

#include "api/preload/blocking.h"
#include "api/preload/interpose.h"
#include "api/preload/libc_calls.h"
#include "api/preload/process_state.h"

extern "C" void __chk_fail() __attribute__((noreturn));  // glibc's fortify failure (aborts)

namespace xdptcp::preload {

namespace {

bool is_conn(int fd) {
  return intercepting() && Process::get().fds().kind(fd) == Kind::kConn;
}
bool is_orphan(int fd) {
  return intercepting() && Process::get().fds().kind(fd) == Kind::kOrphan;
}

// Runs op (one non-blocking attempt on the stack socket) and, on a blocking descriptor, waits
// and retries until it does not say EAGAIN. `want` is EPOLLIN for reads, EPOLLOUT for writes.
template <typename Op>
ssize_t on_conn(int fd, std::uint32_t want, bool dontwait, Op op) {
  StackLock lock;
  Process& p = Process::get();
  FdEntry* e = p.fds().find(fd);
  if (e == nullptr || e->kind.load(std::memory_order_relaxed) != Kind::kConn ||
      p.state() != StackState::kRunning) {
    errno = EBADF;
    return -1;
  }
  for (;;) {
    const ssize_t r = op(p.ctx(), e->sid);
    if (r > 0 && want == EPOLLOUT && !e->nonblock) {
      // A blocking writer is not batching: it may next sleep in a call the stack never sees
      // (waitpid, a kernel-only read), so what it wrote leaves now, as the kernel's write would
      // send it. An event loop (non-blocking sockets) sends its whole batch at its next wait.
      p.ctx().poll_once();
    }
    if (r >= 0 || errno != EAGAIN || dontwait || e->nonblock) return r;
    const int sid = e->sid;
    Context& ctx = p.ctx();
    auto ready = [&ctx, sid, want] { return (ctx.poll_events(sid) & (want | EPOLLERR | EPOLLHUP)) != 0; };
    const auto timeout = want == EPOLLIN ? e->rcv_timeout_ms : e->snd_timeout_ms;
    if (wait_until(lock, ready, Deadline(static_cast<int>(timeout))) < 0) return -1;
    e = p.fds().find(fd);
    if (e == nullptr || e->kind.load(std::memory_order_relaxed) != Kind::kConn) {
      errno = EBADF;
      return -1;
    }
  }
}

// EPIPE raises SIGPIPE as the kernel's send does, unless MSG_NOSIGNAL.
ssize_t sent(ssize_t r, int flags) {
  if (r < 0 && errno == EPIPE && (flags & MSG_NOSIGNAL) == 0) {
    const int e = errno;
    (void)raise(SIGPIPE);
    errno = e;
  }
  return r;
}

constexpr int kRecvFlags = MSG_PEEK | MSG_DONTWAIT | MSG_WAITALL | MSG_NOSIGNAL | MSG_CMSG_CLOEXEC;
constexpr int kSendFlags = MSG_DONTWAIT | MSG_NOSIGNAL | MSG_MORE | MSG_EOR;

ssize_t recv_impl(int fd, void* buf, size_t len, int flags) {
  if ((flags & ~kRecvFlags) != 0) return set_errno(EOPNOTSUPP);  // MSG_OOB: no urgent data here
  const bool dontwait = (flags & MSG_DONTWAIT) != 0;
  const int cflags = flags & MSG_PEEK;
  auto* out = static_cast<char*>(buf);
  if ((flags & MSG_WAITALL) == 0 || (flags & MSG_PEEK) != 0) {
    return on_conn(fd, EPOLLIN, dontwait,
                   [out, len, cflags](Context& c, int sid) { return c.recv(sid, out, len, cflags); });
  }
  // MSG_WAITALL: until len bytes, EOF, an error, or a signal (returning what came so far).
  size_t got = 0;
  while (got < len) {
    const ssize_t r = on_conn(fd, EPOLLIN, dontwait, [out, len, got](Context& c, int sid) {
      return c.recv(sid, out + got, len - got, 0);
    });
    if (r < 0) return got > 0 ? static_cast<ssize_t>(got) : r;
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  return static_cast<ssize_t>(got);
}

ssize_t send_impl(int fd, const void* buf, size_t len, int flags) {
  if ((flags & ~kSendFlags) != 0) return set_errno(EOPNOTSUPP);
  const auto* in = static_cast<const char*>(buf);
  const int more = flags & MSG_MORE;  // held as by TCP_CORK until a send without it (Context::send)
  return sent(on_conn(fd, EPOLLOUT, (flags & MSG_DONTWAIT) != 0,
                      [in, len, more](Context& c, int sid) { return c.send(sid, in, len, more); }),
              flags);
}

void fill_peer(int fd, sockaddr* addr, socklen_t* len) {
  if (addr == nullptr || len == nullptr) return;
  (void)getpeername(fd, addr, len);
}

// sendfile onto a stack connection: read the file into a bounce buffer and write it (the stack
// has no page-cache path; docs/PRELOAD.md). The file offset advances only by what was sent.
ssize_t sendfile_impl(int out_fd, int in_fd, off_t* offset, size_t count) {
  thread_local std::array<char, 64 * 1024> bounce;
  size_t total = 0;
  while (total < count) {
    const size_t want = std::min(count - total, bounce.size());
    const ssize_t got = offset != nullptr ? pread(in_fd, bounce.data(), want, *offset)
                                          : libc().read(in_fd, bounce.data(), want);
    if (got < 0) return total > 0 ? static_cast<ssize_t>(total) : -1;
    if (got == 0) break;
    const ssize_t w = send_impl(out_fd, bounce.data(), static_cast<size_t>(got), MSG_NOSIGNAL);
    const ssize_t put = w < 0 ? 0 : w;
    if (offset != nullptr) {
      *offset += put;
    } else if (put < got) {
      (void)lseek(in_fd, put - got, SEEK_CUR);  // give back what was read and not sent
    }
    if (w < 0) {
      if (total > 0) return static_cast<ssize_t>(total);
      return sent(-1, 0);
    }
    total += static_cast<size_t>(w);
    if (w < got) break;  // the send buffer is full: the caller comes back on EPOLLOUT
  }
  return static_cast<ssize_t>(total);
}

}  // namespace

}  // namespace xdptcp::preload

using namespace xdptcp::preload;  // NOLINT(google-build-using-namespace): the C symbols below
using xdptcp::Context;
namespace wire = xdptcp::wire;

XDPTCP_EXPORT ssize_t read(int fd, void* buf, size_t len) {
  if (!is_conn(fd)) return is_orphan(fd) ? set_errno(EBADF) : libc().read(fd, buf, len);
  return recv_impl(fd, buf, len, 0);
}

XDPTCP_EXPORT ssize_t __read_chk(int fd, void* buf, size_t len, size_t buflen) {
  if (len > buflen) __chk_fail();
  return read(fd, buf, len);
}

XDPTCP_EXPORT ssize_t readv(int fd, const iovec* iov, int iovcnt) {
  if (!is_conn(fd)) return is_orphan(fd) ? set_errno(EBADF) : libc().readv(fd, iov, iovcnt);
  return on_conn(fd, EPOLLIN, false,
                 [iov, iovcnt](Context& c, int sid) { return c.readv(sid, iov, iovcnt); });
}

XDPTCP_EXPORT ssize_t write(int fd, const void* buf, size_t len) {
  if (!is_conn(fd)) return is_orphan(fd) ? set_errno(EBADF) : libc().write(fd, buf, len);
  return send_impl(fd, buf, len, 0);
}

XDPTCP_EXPORT ssize_t writev(int fd, const iovec* iov, int iovcnt) {
  if (!is_conn(fd)) return is_orphan(fd) ? set_errno(EBADF) : libc().writev(fd, iov, iovcnt);
  return sent(
      on_conn(fd, EPOLLOUT, false, [iov, iovcnt](Context& c, int sid) { return c.writev(sid, iov, iovcnt); }),
      0);
}

XDPTCP_EXPORT ssize_t recv(int fd, void* buf, size_t len, int flags) {
  if (!is_conn(fd))
    return is_orphan(fd) ? set_errno(EBADF) : libc().recvfrom(fd, buf, len, flags, nullptr, nullptr);
  return recv_impl(fd, buf, len, flags);
}

XDPTCP_EXPORT ssize_t __recv_chk(int fd, void* buf, size_t len, size_t buflen, int flags) {
  if (len > buflen) __chk_fail();
  return recv(fd, buf, len, flags);
}

XDPTCP_EXPORT ssize_t recvfrom(int fd, void* buf, size_t len, int flags, sockaddr* addr, socklen_t* alen) {
  if (!is_conn(fd)) {
    return is_orphan(fd) ? set_errno(EBADF) : libc().recvfrom(fd, buf, len, flags, addr, alen);
  }
  const ssize_t r = recv_impl(fd, buf, len, flags);
  if (r >= 0) fill_peer(fd, addr, alen);
  return r;
}

XDPTCP_EXPORT ssize_t __recvfrom_chk(int fd, void* buf, size_t len, size_t buflen, int flags, sockaddr* addr,
                                     socklen_t* alen) {
  if (len > buflen) __chk_fail();
  return recvfrom(fd, buf, len, flags, addr, alen);
}

XDPTCP_EXPORT ssize_t recvmsg(int fd, msghdr* msg, int flags) {
  if (!is_conn(fd)) return is_orphan(fd) ? set_errno(EBADF) : libc().recvmsg(fd, msg, flags);
  if (msg == nullptr) return set_errno(EFAULT);
  if ((flags & ~kRecvFlags) != 0) return set_errno(EOPNOTSUPP);
  const iovec* iov = msg->msg_iov;
  const int n = static_cast<int>(msg->msg_iovlen);
  ssize_t r = 0;
  if ((flags & MSG_PEEK) != 0) {
    // Peek into the first buffer only (MSG_PEEK readers pass one).
    r = n > 0 ? recv_impl(fd, iov[0].iov_base, iov[0].iov_len, flags) : 0;
  } else {
    r = on_conn(fd, EPOLLIN, (flags & MSG_DONTWAIT) != 0,
                [iov, n](Context& c, int sid) { return c.readv(sid, iov, n); });
  }
  if (r >= 0) {
    if (msg->msg_name != nullptr) fill_peer(fd, static_cast<sockaddr*>(msg->msg_name), &msg->msg_namelen);
    msg->msg_controllen = 0;  // no ancillary data on a stack socket
    msg->msg_flags = 0;
  }
  return r;
}

XDPTCP_EXPORT ssize_t send(int fd, const void* buf, size_t len, int flags) {
  if (!is_conn(fd)) return is_orphan(fd) ? set_errno(EBADF) : libc().sendto(fd, buf, len, flags, nullptr, 0);
  return send_impl(fd, buf, len, flags);
}

XDPTCP_EXPORT ssize_t sendto(int fd, const void* buf, size_t len, int flags, const sockaddr* addr,
                             socklen_t alen) {
  if (!is_conn(fd)) return is_orphan(fd) ? set_errno(EBADF) : libc().sendto(fd, buf, len, flags, addr, alen);
  return send_impl(fd, buf, len, flags);  // a connected TCP socket ignores the address, as Linux does
}

XDPTCP_EXPORT ssize_t sendmsg(int fd, const msghdr* msg, int flags) {
  if (!is_conn(fd)) return is_orphan(fd) ? set_errno(EBADF) : libc().sendmsg(fd, msg, flags);
  if (msg == nullptr) return set_errno(EFAULT);
  if ((flags & ~kSendFlags) != 0) return set_errno(EOPNOTSUPP);
  const iovec* iov = msg->msg_iov;
  const int n = static_cast<int>(msg->msg_iovlen);
  if ((flags & MSG_MORE) == 0) {
    return sent(on_conn(fd, EPOLLOUT, (flags & MSG_DONTWAIT) != 0,
                        [iov, n](Context& c, int sid) { return c.writev(sid, iov, n); }),
                flags);
  }
  // MSG_MORE: writev's loop, each piece sent with it (Linux tcp_sendmsg() corks the whole message).
  if (n < 0 || n > IOV_MAX) return set_errno(EINVAL);
  auto more = [iov, n](Context& c, int sid) -> ssize_t {
    ssize_t total = 0;
    for (int i = 0; i < n; ++i) {
      if (iov[i].iov_len == 0) continue;
      const ssize_t r = c.send(sid, iov[i].iov_base, iov[i].iov_len, MSG_MORE);
      if (r < 0) return total > 0 ? total : r;
      total += r;
      if (static_cast<size_t>(r) < iov[i].iov_len) break;  // send buffer full
    }
    return total;
  };
  return sent(on_conn(fd, EPOLLOUT, (flags & MSG_DONTWAIT) != 0, more), flags);
}

XDPTCP_EXPORT ssize_t sendfile(int out_fd, int in_fd, off_t* offset, size_t count) {
  if (!is_conn(out_fd))
    return is_orphan(out_fd) ? set_errno(EBADF) : libc().sendfile(out_fd, in_fd, offset, count);
  return sendfile_impl(out_fd, in_fd, offset, count);
}

XDPTCP_EXPORT ssize_t sendfile64(int out_fd, int in_fd, off64_t* offset, size_t count) {
  static_assert(sizeof(off_t) == sizeof(off64_t), "64-bit file offsets (x86-64, aarch64)");
  return sendfile(out_fd, in_fd, reinterpret_cast<off_t*>(offset), count);
}
