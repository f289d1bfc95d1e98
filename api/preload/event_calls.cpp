// epoll, poll and select over a mix of stack sockets and kernel descriptors (design brief §8):
// the application's epoll set stays the kernel's and holds its kernel descriptors, the kernel side
// of each listener, and one more: the engine's wake-up set (readable when a frame arrives). Stack
// sockets are registered in the stack's own event queue. A wait first runs the engine and
// collects the stack's events; with none, it sleeps in the kernel's epoll_wait until a kernel fd,
// a frame, the next TCP timer or the timeout, so an idle application costs no CPU and a signal
// interrupts the wait with EINTR as it always does.
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include "api/preload/blocking.h"
#include "api/preload/interpose.h"
#include "api/preload/libc_calls.h"
#include "api/preload/process_state.h"

extern "C" void __chk_fail() __attribute__((noreturn));

namespace xdptcp::preload {

namespace {

constexpr std::uint32_t kPollBits = EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLRDHUP | EPOLLPRI;

void register_epoll(int epfd) {
  if (epfd < 0 || !intercepting()) return;
  StackLock lock;
  Process& p = Process::get();
  if (p.state() == StackState::kFailed || p.state() == StackState::kInherited) return;
  FdEntry* e = p.fds().slot(epfd);
  if (e == nullptr) return;
  e->reset();
  e->kind.store(Kind::kEpoll, std::memory_order_release);
}

// Under the lock, stack running: the wake-up set in the kernel's (every set a thread sleeps on
// drives the engine: timers, ACKs), and with need_queue the set's stack-side event queue (an
// engine has 32: only sets that hold stack sockets take one).
bool prepare_set(int epfd, FdEntry& set, bool need_queue) {
  Process& p = Process::get();
  if (need_queue && set.queue < 0) {
    set.queue = p.ctx().epoll_create();
    if (set.queue < 0) return false;
  }
  if (!set.wake_added) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kWakeTag;
    if (libc().epoll_ctl(epfd, EPOLL_CTL_ADD, p.wake_epfd(), &ev) < 0 && errno != EEXIST) return false;
    set.wake_added = true;
  }
  return true;
}

// Under the lock: the set's doorbell (Process::add_sleeper), made at its first sleep. -1 when it
// cannot be made (the sleep is then bounded).
int doorbell_of(int epfd, FdEntry& set) {
  if (set.doorbell >= 0) return set.doorbell;
  const int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) return -1;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kDoorbellTag;
  if (libc().epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
    (void)libc().close(fd);
    return -1;
  }
  set.doorbell = fd;
  return fd;
}

int ctl_listener(int epfd, FdEntry& set, int op, int fd, FdEntry& l, epoll_event* ev) {
  Context& ctx = Process::get().ctx();
  EpollBinding* b = l.binding(epfd);
  epoll_event tagged{};
  if (ev != nullptr) tagged.events = ev->events;
  tagged.data.u64 = kFdTagHigh | static_cast<std::uint32_t>(fd);
  if (op == EPOLL_CTL_ADD && b == nullptr) {
    b = l.binding(-1);
    if (b == nullptr) return set_errno(ENOSPC);  // more epoll sets than FdEntry::kMaxEpolls
  }
  if (b == nullptr && op != EPOLL_CTL_ADD) return set_errno(ENOENT);
  const int r = libc().epoll_ctl(epfd, op, fd, &tagged);
  if (r < 0) return r;
  for (const int sid : {l.sid, l.sid4}) {
    if (sid >= 0) (void)ctx.epoll_ctl(set.queue, op, sid, &tagged);
  }
  if (op == EPOLL_CTL_DEL) {
    *b = {};
    --set.xdptcp_members;
  } else {
    if (op == EPOLL_CTL_ADD) ++set.xdptcp_members;
    *b = {epfd, ev->events, ev->data.u64};
  }
  // Watched by no epoll set any more while its stack side lives: nginx's accept_mutex removes the
  // listeners of every worker but the mutex holder's, and the holder never hears of connections
  // that reached this process's queues (docs/PRELOAD.md). Said once.
  // Watched again after a removal (a closing listener is removed once, then closed): the
  // application takes turns at accepting with other processes (nginx's accept_mutex: every worker
  // but the mutex holder removes its listeners). The holder never hears of connections that reached
  // another process's stack, which would wait for their worker's turn, so a process that holds only
  // some queues gives its stack side of the listener up: its connections finish (the rule drains),
  // and new ones go to the kernel's listener, which every worker shares, as without xdptcp.
  // nginx also removes and adds its listener back every 16 accepts (ngx_reorder_accept_events(), so
  // that EPOLLEXCLUSIVE wakes another worker first): that pair comes with no wait in between, turns
  // at the mutex come with the application's waits while it is out.
  const bool watched =
      std::any_of(l.epolls.begin(), l.epolls.end(), [](const EpollBinding& x) { return x.epfd >= 0; });
  Process& p = Process::get();
  if (!watched) {
    l.was_unwatched = true;
    l.unwatched_at_wait = p.waits();
  }
  if (watched && l.was_unwatched && p.waits() != l.unwatched_at_wait && l.sid >= 0 && !p.holds_all_queues()) {
    p.log(0,
          "fd %d: the application takes turns at accepting with other processes (nginx's accept_mutex on?); "
          "its new connections go to the kernel from now on (use `accept_mutex off`, nginx's default, to "
          "serve them on the stack)",
          fd);
    for (const int sid : {l.sid, l.sid4}) {
      if (sid < 0) continue;
      (void)ctx.epoll_ctl(set.queue, EPOLL_CTL_DEL, sid, nullptr);
      if (p.unref(sid)) (void)ctx.close(sid);
    }
    l.sid = l.sid4 = -1;
    l.listen_failed = true;  // never again on the stack: the kernel side alone
  }
  return 0;
}

// A listener registered while the stack waits for a queue: the kernel's registration with the
// application's data, and the binding remembered for join_listener_sets() when the stack starts.
int ctl_waiting_listener(int epfd, int op, int fd, FdEntry& l, epoll_event* ev) {
  EpollBinding* b = l.binding(epfd);
  if (op == EPOLL_CTL_ADD && b == nullptr) {
    b = l.binding(-1);
    if (b == nullptr) return set_errno(ENOSPC);  // more epoll sets than FdEntry::kMaxEpolls
  }
  const int r = libc().epoll_ctl(epfd, op, fd, ev);
  if (r < 0 || b == nullptr) return r;
  if (op == EPOLL_CTL_DEL) {
    *b = {};
  } else {
    *b = {epfd, ev->events, ev->data.u64};
  }
  return 0;
}

// The application's data for an event tagged with a listener's fd; false when gone.
bool untag(int epfd, std::uint64_t tag, int* fd, std::uint64_t* data) {
  *fd = static_cast<int>(tag & 0xffff'ffffu);
  FdEntry* l = Process::get().fds().find(*fd);
  if (l == nullptr || l->kind.load(std::memory_order_relaxed) != Kind::kListener) return false;
  const EpollBinding* b = l->binding(epfd);
  if (b == nullptr) return false;
  *data = b->data;
  return true;
}

}  // namespace

void join_listener_sets(int fd, FdEntry& l) {
  Process& p = Process::get();
  for (EpollBinding& b : l.epolls) {
    if (b.epfd < 0) continue;
    FdEntry* set = p.fds().find(b.epfd);
    if (set == nullptr || set->kind.load(std::memory_order_relaxed) != Kind::kEpoll ||
        !prepare_set(b.epfd, *set, true)) {
      continue;
    }
    epoll_event tagged{};
    tagged.events = b.events;
    tagged.data.u64 = kFdTagHigh | static_cast<std::uint32_t>(fd);
    // EPOLL_CTL_MOD refuses a registration made with EPOLLEXCLUSIVE (nginx's listeners without
    // accept_mutex): register it again instead.
    if (libc().epoll_ctl(b.epfd, EPOLL_CTL_MOD, fd, &tagged) < 0 &&
        (errno != EINVAL || libc().epoll_ctl(b.epfd, EPOLL_CTL_DEL, fd, nullptr) < 0 ||
         libc().epoll_ctl(b.epfd, EPOLL_CTL_ADD, fd, &tagged) < 0)) {
      p.log(0, "fd %d: cannot register the listener's stack side in epoll set %d (%s); the kernel serves it",
            fd, b.epfd, std::strerror(errno));
      continue;
    }
    // A connection may wait on the kernel side already: its readiness was reported untagged.
    l.kernel_ready = true;
    for (const int sid : {l.sid, l.sid4}) {
      if (sid >= 0) (void)p.ctx().epoll_ctl(set->queue, EPOLL_CTL_ADD, sid, &tagged);
    }
    ++set->xdptcp_members;
  }
}

int untag_events(int epfd, epoll_event* events, int n) {
  int kept = 0;
  for (int i = 0; i < n; ++i) {
    std::uint64_t data = events[i].data.u64;
    if (data == kWakeTag || data == kDoorbellTag) continue;
    int fd = -1;
    if (is_fd_tag(data) && !untag(epfd, data, &fd, &data)) continue;
    events[kept] = events[i];
    events[kept].data.u64 = data;
    ++kept;
  }
  return kept;
}

namespace {

// The set's wait while every RX queue is another process's (StackState::kWaiting): the kernel's
// epoll_wait, woken each second to try to start the stack; once it runs, *started is set and the
// caller takes the stack's path. Returns what the kernel's wait returned otherwise.
int wait_while_waiting(StackLock& lock, int epfd, epoll_event* events, int max, int timeout,
                       const sigset_t* sigmask, bool* started) {
  Process& p = Process::get();
  const Deadline deadline(timeout);
  for (;;) {
    if (p.ensure_started()) {
      *started = true;
      return 0;
    }
    const int left = deadline.remaining_ms();
    int t = p.retry_in_ms();
    if (p.state() != StackState::kWaiting) t = left;
    if (left >= 0 && (t < 0 || left < t)) t = left;
    lock.unlock();
    int r = libc().epoll_pwait(epfd, events, max, t, sigmask);
    const int err = errno;
    lock.lock();
    // Another thread may have started the stack and re-tagged this set's listeners meanwhile.
    if (r > 0) r = untag_events(epfd, events, r);
    if (r > 0) return r;
    if (r < 0) return set_errno(err);
    if (timeout == 0 || (timeout > 0 && deadline.remaining_ms() == 0)) return 0;
  }
}

int wait_impl(int epfd, epoll_event* events, int max, int timeout, const sigset_t* sigmask) {
  if (!intercepting() || Process::get().fds().kind(epfd) != Kind::kEpoll) {
    return libc().epoll_pwait(epfd, events, max, timeout, sigmask);
  }
  if (events == nullptr || max <= 0) return set_errno(EINVAL);
  Process& p = Process::get();
  StackLock lock;
  if (p.state() == StackState::kWaiting) {
    bool started = false;
    const int r = wait_while_waiting(lock, epfd, events, max, timeout, sigmask, &started);
    if (!started) return r;
  }
  FdEntry* set = p.fds().find(epfd);
  if (p.state() != StackState::kRunning || set == nullptr || !prepare_set(epfd, *set, false)) {
    lock.unlock();
    return libc().epoll_pwait(epfd, events, max, timeout, sigmask);
  }
  const Deadline deadline(timeout);
  // Listener events seen this call (stack side), so the kernel side's can be merged into them.
  std::array<std::pair<int, int>, 16> listeners{};  // (fd, index in events)
  for (;;) {
    std::size_t nl = 0;
    set = p.fds().find(epfd);
    if (set == nullptr || set->kind.load(std::memory_order_relaxed) != Kind::kEpoll) return set_errno(EBADF);
    p.maintain();
    p.count_wait();
    // One engine turn, then the set's stack-side ready events (none without a queue).
    int n = 0;
    if (set->queue >= 0) {
      n = std::max(0, p.ctx().epoll_wait(set->queue, events, max, 0));
    } else {
      p.ctx().poll_once();
    }
    int kept = 0;
    for (int i = 0; i < n; ++i) {
      int fd = -1;
      std::uint64_t data = events[i].data.u64;
      if (is_fd_tag(data) && !untag(epfd, data, &fd, &data)) continue;
      events[kept] = events[i];
      events[kept].data.u64 = data;
      if (fd >= 0 && nl < listeners.size()) listeners[nl++] = {fd, kept};
      ++kept;
    }
    n = kept;
    const int left = deadline.remaining_ms();
    int sleep_ms =
        (n > 0 || timeout == 0 || p.config().busy_poll) ? 0 : p.ctx().begin_sleep(timeout < 0 ? -1 : left);
    const bool slept = n == 0;
    const int sleeper = watch_sleep(set->queue >= 0 ? set->queue : Process::kAnyChange,
                                    sleep_ms != 0 ? doorbell_of(epfd, *set) : -1, &sleep_ms);
    lock.unlock();
    const int k = n < max ? libc().epoll_pwait(epfd, events + n, max - n, sleep_ms, sigmask) : 0;
    const int err = errno;
    lock.lock();
    p.remove_sleeper(sleeper);
    if (p.state() != StackState::kRunning) return n > 0 ? n : set_errno(EBADF);
    if (slept) p.ctx().end_sleep();
    if (k < 0) return n > 0 ? n : set_errno(err);
    bool woke = false;
    int total = n;
    for (int i = n; i < n + k; ++i) {
      std::uint64_t data = events[i].data.u64;
      if (data == kWakeTag || data == kDoorbellTag) {
        if (data == kDoorbellTag) drain_doorbell(set->doorbell);
        woke = true;
        continue;
      }
      if (is_fd_tag(data)) {
        int fd = -1;
        if (!untag(epfd, data, &fd, &data)) continue;
        p.fds().find(fd)->kernel_ready = true;
        const auto* same =
            std::find_if(listeners.begin(), listeners.begin() + static_cast<std::ptrdiff_t>(nl),
                         [fd](const auto& x) { return x.first == fd; });
        if (same != listeners.begin() + static_cast<std::ptrdiff_t>(nl)) {
          events[same->second].events |= events[i].events;  // one event per fd, as epoll reports
          continue;
        }
      }
      events[total] = events[i];
      events[total].data.u64 = data;
      ++total;
    }
    if (total > 0) return total;
    if (woke) continue;  // a frame: run the engine
    if (timeout == 0 || (timeout > 0 && deadline.remaining_ms() == 0)) return 0;
  }
}

// poll() over pollfds of which some are stack sockets; see the file comment.
int poll_impl(pollfd* fds, nfds_t nfds, int timeout, const sigset_t* sigmask) {
  Process& p = Process::get();
  bool any = false;
  if (intercepting() && p.state() != StackState::kFailed) {
    for (nfds_t i = 0; i < nfds && !any; ++i) {
      const Kind k = p.fds().kind(fds[i].fd);
      any = k == Kind::kConn || k == Kind::kListener;
    }
  }
  if (!any) {
    timespec ts{timeout / 1000, static_cast<long>(timeout % 1000) * 1'000'000};
    return libc().ppoll(fds, nfds, timeout < 0 ? nullptr : &ts, sigmask);
  }
  StackLock lock;
  if (!p.ensure_started()) {
    lock.unlock();
    timespec ts{timeout / 1000, static_cast<long>(timeout % 1000) * 1'000'000};
    return libc().ppoll(fds, nfds, timeout < 0 ? nullptr : &ts, sigmask);
  }
  thread_local std::vector<pollfd> kfds;  // grows to the largest set, then never reallocates
  kfds.resize(nfds + 2);
  const int doorbell = thread_doorbell();
  const Deadline deadline(timeout);
  for (;;) {
    Context& ctx = p.ctx();
    ctx.poll_once();
    int ready = 0;
    for (nfds_t i = 0; i < nfds; ++i) {
      kfds[i] = fds[i];
      kfds[i].revents = 0;
      fds[i].revents = 0;
      FdEntry* e = p.fds().find(fds[i].fd);
      const Kind k = e == nullptr ? Kind::kNone : e->kind.load(std::memory_order_relaxed);
      if (k != Kind::kConn && k != Kind::kListener) continue;
      if (k == Kind::kListener) (void)p.use_listener(fds[i].fd, *e);
      std::uint32_t ev = 0;
      if (e->sid >= 0) ev |= ctx.poll_events(e->sid);
      if (e->sid4 >= 0) ev |= ctx.poll_events(e->sid4);
      const auto want = static_cast<std::uint32_t>(fds[i].events) | EPOLLERR | EPOLLHUP;
      std::uint32_t rev = ev & want & kPollBits;
      if ((fds[i].events & POLLRDNORM) != 0 && (ev & EPOLLIN) != 0) rev |= POLLRDNORM;
      if ((fds[i].events & POLLWRNORM) != 0 && (ev & EPOLLOUT) != 0) rev |= POLLWRNORM;
      fds[i].revents = static_cast<short>(rev);
      if (rev != 0) ++ready;
      if (k == Kind::kConn) kfds[i].fd = -1;  // the placeholder says nothing; the kernel skips -1
      // A listener's kernel side stays in the kernel's set (POLLIN: a loopback connection).
    }
    kfds[nfds] = {p.wake_epfd(), POLLIN, 0};
    kfds[nfds + 1] = {doorbell, POLLIN, 0};
    const int left = deadline.remaining_ms();
    int ms =
        (ready > 0 || timeout == 0 || p.config().busy_poll) ? 0 : ctx.begin_sleep(timeout < 0 ? -1 : left);
    const bool slept = ready == 0;
    const int sleeper = watch_sleep(Process::kAnyChange, doorbell, &ms);
    lock.unlock();
    timespec ts{ms / 1000, static_cast<long>(ms % 1000) * 1'000'000};
    const int r = libc().ppoll(kfds.data(), nfds + 2, ms < 0 ? nullptr : &ts, sigmask);
    const int err = errno;
    lock.lock();
    p.remove_sleeper(sleeper);
    if (doorbell >= 0 && (kfds[nfds + 1].revents & POLLIN) != 0) drain_doorbell(doorbell);
    if (p.state() != StackState::kRunning) return set_errno(EBADF);
    if (slept) p.ctx().end_sleep();
    if (r < 0) return ready > 0 ? ready : set_errno(err);
    int total = 0;
    for (nfds_t i = 0; i < nfds; ++i) {
      if (kfds[i].fd >= 0 && kfds[i].revents != 0) {
        FdEntry* e = p.fds().find(fds[i].fd);
        if (e != nullptr && e->kind.load(std::memory_order_relaxed) == Kind::kListener)
          e->kernel_ready = true;
        fds[i].revents = static_cast<short>(fds[i].revents | kfds[i].revents);
      }
      if (fds[i].revents != 0) ++total;
    }
    if (total > 0) return total;
    if (timeout == 0 || (timeout > 0 && deadline.remaining_ms() == 0)) return 0;
  }
}

int timeout_ms_of(const timespec* ts) {
  if (ts == nullptr) return -1;
  return static_cast<int>(ts->tv_sec * 1000 + (ts->tv_nsec + 999'999) / 1'000'000);
}

// select() through poll_impl when a stack socket is in one of the sets.
int select_impl(int nfds, fd_set* rd, fd_set* wr, fd_set* ex, const timespec* ts, const sigset_t* sigmask) {
  Process& p = Process::get();
  bool any = false;
  if (intercepting()) {
    for (int fd = 0; fd < nfds && !any; ++fd) {
      const bool asked = (rd != nullptr && FD_ISSET(fd, rd)) || (wr != nullptr && FD_ISSET(fd, wr));
      const Kind k = asked ? p.fds().kind(fd) : Kind::kNone;
      any = k == Kind::kConn || k == Kind::kListener;
    }
  }
  if (!any) return libc().pselect(nfds, rd, wr, ex, ts, sigmask);
  std::vector<pollfd> pfds;  // select() is the slow interface; the stack's users are on epoll
  for (int fd = 0; fd < nfds; ++fd) {
    short ev = 0;
    if (rd != nullptr && FD_ISSET(fd, rd)) ev |= POLLIN;
    if (wr != nullptr && FD_ISSET(fd, wr)) ev |= POLLOUT;
    if (ex != nullptr && FD_ISSET(fd, ex)) ev |= POLLPRI;
    if (ev != 0) pfds.push_back({fd, ev, 0});
  }
  const int r = poll_impl(pfds.data(), pfds.size(), timeout_ms_of(ts), sigmask);
  if (r < 0) return r;
  if (rd != nullptr) FD_ZERO(rd);
  if (wr != nullptr) FD_ZERO(wr);
  if (ex != nullptr) FD_ZERO(ex);
  int count = 0;
  for (const pollfd& f : pfds) {
    if (rd != nullptr && (f.revents & (POLLIN | POLLHUP | POLLERR)) != 0 && (f.events & POLLIN) != 0) {
      FD_SET(f.fd, rd);
      ++count;
    }
    if (wr != nullptr && (f.revents & (POLLOUT | POLLERR)) != 0 && (f.events & POLLOUT) != 0) {
      FD_SET(f.fd, wr);
      ++count;
    }
    if (ex != nullptr && (f.revents & POLLPRI) != 0) {
      FD_SET(f.fd, ex);
      ++count;
    }
  }
  return count;
}

}  // namespace

}  // namespace xdptcp::preload

using namespace xdptcp::preload;  // NOLINT(google-build-using-namespace): the C symbols below
using xdptcp::Context;
namespace wire = xdptcp::wire;

XDPTCP_EXPORT int epoll_create1(int flags) {
  const int fd = libc().epoll_create1(flags);
  register_epoll(fd);
  return fd;
}

XDPTCP_EXPORT int epoll_create(int size) {
  if (size <= 0) return set_errno(EINVAL);
  return epoll_create1(0);
}

XDPTCP_EXPORT int epoll_ctl(int epfd, int op, int fd, epoll_event* ev) {
  if (!intercepting()) return libc().epoll_ctl(epfd, op, fd, ev);
  Process& p = Process::get();
  const Kind k = p.fds().kind(fd);
  if ((k != Kind::kConn && k != Kind::kListener) || p.fds().kind(epfd) != Kind::kEpoll) {
    return libc().epoll_ctl(epfd, op, fd, ev);
  }
  if (op != EPOLL_CTL_DEL && ev == nullptr) return set_errno(EFAULT);
  StackLock lock;
  FdEntry* set = p.fds().find(epfd);
  FdEntry* e = p.fds().find(fd);
  if (e == nullptr || e->kind.load(std::memory_order_relaxed) != k) return set_errno(EBADF);
  // The first use of a stack socket in an epoll set starts the stack in this process (after the
  // application's last fork). A listener whose stack cannot run is the kernel's alone.
  if (!p.ensure_started() || (k == Kind::kListener && !p.use_listener(fd, *e))) {
    if (p.state() == StackState::kWaiting && k == Kind::kListener)
      return ctl_waiting_listener(epfd, op, fd, *e, ev);
    lock.unlock();
    return libc().epoll_ctl(epfd, op, fd, ev);
  }
  if (!prepare_set(epfd, *set, true)) return set_errno(ENOMEM);
  if (k == Kind::kListener) return ctl_listener(epfd, *set, op, fd, *e, ev);
  const int r = p.ctx().epoll_ctl(set->queue, op, e->sid, ev);
  if (r == 0) set->xdptcp_members += op == EPOLL_CTL_ADD ? 1 : op == EPOLL_CTL_DEL ? -1 : 0;
  return r;
}

XDPTCP_EXPORT int epoll_wait(int epfd, epoll_event* events, int max, int timeout) {
  return wait_impl(epfd, events, max, timeout, nullptr);
}

XDPTCP_EXPORT int epoll_pwait(int epfd, epoll_event* events, int max, int timeout, const sigset_t* sigmask) {
  return wait_impl(epfd, events, max, timeout, sigmask);
}

XDPTCP_EXPORT int epoll_pwait2(int epfd, epoll_event* events, int max, const timespec* ts,
                               const sigset_t* sigmask) {
  return wait_impl(epfd, events, max, timeout_ms_of(ts), sigmask);
}

XDPTCP_EXPORT int poll(pollfd* fds, nfds_t nfds, int timeout) {
  return poll_impl(fds, nfds, timeout, nullptr);
}

XDPTCP_EXPORT int __poll_chk(pollfd* fds, nfds_t nfds, int timeout, size_t fdslen) {
  if (fdslen / sizeof(pollfd) < nfds) __chk_fail();
  return poll_impl(fds, nfds, timeout, nullptr);
}

XDPTCP_EXPORT int ppoll(pollfd* fds, nfds_t nfds, const timespec* ts, const sigset_t* sigmask) {
  return poll_impl(fds, nfds, timeout_ms_of(ts), sigmask);
}

XDPTCP_EXPORT int __ppoll_chk(pollfd* fds, nfds_t nfds, const timespec* ts, const sigset_t* sigmask,
                              size_t fdslen) {
  if (fdslen / sizeof(pollfd) < nfds) __chk_fail();
  return poll_impl(fds, nfds, timeout_ms_of(ts), sigmask);
}

XDPTCP_EXPORT int select(int nfds, fd_set* rd, fd_set* wr, fd_set* ex, timeval* tv) {
  if (tv == nullptr) return select_impl(nfds, rd, wr, ex, nullptr, nullptr);
  const timespec ts{tv->tv_sec, tv->tv_usec * 1000};
  return select_impl(nfds, rd, wr, ex, &ts, nullptr);
}

XDPTCP_EXPORT int pselect(int nfds, fd_set* rd, fd_set* wr, fd_set* ex, const timespec* ts,
                          const sigset_t* sigmask) {
  return select_impl(nfds, rd, wr, ex, ts, sigmask);
}
