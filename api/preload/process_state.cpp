// The stack's life in an application's process; see process_state.h.
#include "api/preload/process_state.h"

#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "api/preload/blocking.h"
#include "api/preload/libc_calls.h"
#include "api/src/context_impl.h"
#include "userstack/kernel/iface_info.h"
#include "userstack/kernel/process_alive.h"

namespace xdptcp::preload {

thread_local int t_reentry = 0;

namespace {

void fork_prepare() {
  Process::get().before_fork();
}
void fork_parent() {
  Process::get().after_fork_parent();
}
void fork_child() {
  Process::get().after_fork_child();
}
void exit_handler() {
  Process::get().at_exit();
}

}  // namespace

Process& Process::get() {
  // Never destroyed: interposed calls may come from other libraries' destructors after ours.
  static Process* p = new Process();
  return *p;
}

Process::Process() : cfg_(read_config()) {
  if (!cfg_.error.empty()) {
    log(0, "%s; every socket stays with the kernel", cfg_.error.c_str());
  }
  if (!cfg_.enabled) return;
  // glibc's daemon() and system() fork inside libc, past any interposed fork(): atfork sees them.
  pthread_atfork(fork_prepare, fork_parent, fork_child);
  std::atexit(exit_handler);
}

void Process::log(int level, const char* fmt, ...) const {
  if (level > cfg_.log_level) return;
  char buf[512];
  int n = std::snprintf(buf, sizeof buf, "xdptcp-preload[%d]: ", static_cast<int>(getpid()));
  va_list ap;
  va_start(ap, fmt);
  n += std::vsnprintf(buf + n, sizeof buf - static_cast<std::size_t>(n), fmt, ap);
  va_end(ap);
  n = std::min<int>(n, static_cast<int>(sizeof buf) - 2);
  buf[n++] = '\n';
  (void)!libc().write(2, buf, static_cast<std::size_t>(n));
}

bool Process::serves(const wire::IpAddr& ip) {
  if (!served_loaded_) {
    ReentryGuard g;  // getifaddrs opens a netlink socket
    if (cfg_.addresses.empty()) {
      served_ = kernel::interface_addresses(cfg_.iface);
    } else {
      for (const auto& a : cfg_.addresses) {
        if (auto p = wire::IpAddr::parse(a)) served_.push_back(*p);
      }
    }
    served_loaded_ = true;
  }
  for (const auto& a : served_) {
    if (a == ip) return true;
  }
  return false;
}

namespace {

std::int64_t coarse_now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);  // vDSO: no system call
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

constexpr std::int64_t kRetryNs = 1'000'000'000;       // kWaiting: a start attempt per second
constexpr std::int64_t kFirstClaimNs = 2'000'000'000;  // siblings forked with us start first

// Whether another child of our parent is alive (a prefork server's other workers): such a worker
// may not have started its stack yet (nginx with accept_mutex on starts it only when it first
// holds the mutex), so the queue it will want must stay free. Scans /proc: once a second at most.
bool has_sibling_processes() {
  const pid_t self = getpid();
  const pid_t parent = getppid();
  DIR* d = opendir("/proc");
  if (d == nullptr) return true;  // cannot tell: do not grow
  bool found = false;
  while (dirent* de = readdir(d)) {
    char* end = nullptr;
    const long pid = std::strtol(de->d_name, &end, 10);
    if (end == de->d_name || *end != '\0' || pid == self) continue;
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE* f = std::fopen(path, "re");
    if (f == nullptr) continue;
    char buf[512];
    const std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    buf[n] = '\0';
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so parse after the last ')'.
    const char* close = std::strrchr(buf, ')');
    int ppid = 0;
    if (close != nullptr && std::sscanf(close + 1, " %*c %d", &ppid) == 1 && ppid == parent) {
      found = true;
      break;
    }
  }
  closedir(d);
  return found;
}

bool another_process_waits(const std::string& dir, pid_t self) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return false;
  bool found = false;
  while (dirent* de = readdir(d)) {
    int pid = 0;
    if (std::sscanf(de->d_name, "waiting.%d", &pid) != 1 || pid == self) continue;
    if (kernel::process_alive(static_cast<std::uint32_t>(pid))) {
      found = true;
      break;
    }
  }
  closedir(d);
  return found;
}

std::string run_dir(const std::string& iface) {
  return "/run/xdptcp/" + iface;
}

}  // namespace

bool Process::ensure_started() {
  if (state_ == StackState::kRunning) return true;
  if (state_ == StackState::kWaiting) {
    if (coarse_now_ns() < next_try_ns_) return false;
  } else if (state_ != StackState::kNotStarted) {
    return false;
  }
  if (!start()) {
    if (state_ == StackState::kWaiting) {
      next_try_ns_ = coarse_now_ns() + kRetryNs;
      return false;
    }
    state_ = StackState::kFailed;
    return false;
  }
  const bool late = state_ == StackState::kWaiting;
  if (late) set_waiting(false);
  state_ = StackState::kRunning;
  next_try_ns_ = coarse_now_ns() + kFirstClaimNs;
  // Listeners the application made before the stack ran (or before it forked) join it where they
  // are used (use_listener): nginx with `reuseport` leaves every worker's listening socket open in
  // every worker, and each worker must serve its own. Those already in an epoll set while the stack
  // waited for a queue join now.
  if (late) {
    fds_.for_each([this](int fd, FdEntry& e) {
      if (e.kind.load(std::memory_order_relaxed) != Kind::kListener || e.sid >= 0) return;
      const bool in_a_set =
          std::any_of(e.epolls.begin(), e.epolls.end(), [](const EpollBinding& b) { return b.epfd >= 0; });
      if (in_a_set && use_listener(fd, e)) join_listener_sets(fd, e);
    });
  }
  return true;
}

int Process::retry_in_ms() const {
  if (state_ != StackState::kWaiting) return -1;
  const std::int64_t left = next_try_ns_ - coarse_now_ns();
  return left <= 0 ? 0 : static_cast<int>((left + 999'999) / 1'000'000);
}

std::string Process::queue_mode() {
  if (cfg_.queues != "auto") return cfg_.queues;
  // A prefork worker (nginx, Apache prefork): forked after its listeners were made, with siblings
  // that serve the same listeners. One queue each, so that every worker serves some.
  bool inherited_listeners = false;
  fds_.for_each([&](int, FdEntry& e) {
    if (e.kind.load(std::memory_order_relaxed) == Kind::kListener) inherited_listeners = true;
  });
  return forked_ && inherited_listeners ? "one" : "free";
}

void Process::set_waiting(bool on) {
  if (on) {
    const std::string dir = run_dir(cfg_.iface);
    (void)mkdir("/run/xdptcp", 0755);
    (void)mkdir(dir.c_str(), 0755);
    waiting_marker_ = dir + "/waiting." + std::to_string(getpid());
    const int fd = ::open(waiting_marker_.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    if (fd >= 0) (void)libc().close(fd);
  } else if (!waiting_marker_.empty()) {
    (void)unlink(waiting_marker_.c_str());
    waiting_marker_.clear();
  }
}

void Process::maintain() {
  if (state_ != StackState::kRunning) return;
  const std::int64_t now = coarse_now_ns();
  if (now < next_try_ns_) return;
  next_try_ns_ = now + kRetryNs;
  {
    ReentryGuard g;
    stack_->tend();  // listeners closed with connections open: done draining?
  }
  // Only "auto" grows: an explicit choice (one, free, a list) is the operator's split between
  // applications (docs/PRELOAD.md).
  if (cfg_.queues != "auto" || stack_->holds_all_queues()) return;
  ReentryGuard g;
  if (another_process_waits(run_dir(cfg_.iface), getpid())) return;
  if (forked_ && has_sibling_processes()) return;  // a prefork worker's siblings take their own
  const unsigned taken = stack_->claim_free_queues(1);
  if (taken == 0) return;
  for (const int fd : ctx_->wait_fds()) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    (void)libc().epoll_ctl(wake_epfd_, EPOLL_CTL_ADD, fd, &ev);  // EEXIST for the ones it has
  }
  log(1, "took a queue nobody held: %s", stack_->describe().c_str());
}

bool Process::start() {
  ReentryGuard g;
  StackOptions o;
  o.iface = cfg_.iface;
  o.addresses = cfg_.addresses;
  o.engines = 1;  // one event-loop thread drives one engine over every queue (Stack::drive)
  o.bind_mode = cfg_.bind_mode;
  o.busy_poll = cfg_.busy_poll;
  o.pin_cores = false;  // the application's thread is the application's to place
  o.max_sockets = cfg_.max_sockets;
  o.mem_budget_mib = cfg_.mem_budget_mib;
  o.queues = queue_mode();
  // The application's own kernel socket holds each listening port (and serves loopback).
  o.reserve_listening_ports = false;
  std::string err;
  stack_ = Stack::create(o, &err);
  if (!stack_) {
    if (errno == EBUSY && o.queues != "all") {
      // Other processes hold every queue (siblings, or the workers a reload replaces): the kernel
      // serves this process's sockets until one is free.
      if (state_ != StackState::kWaiting) {
        log(1, "%s; the kernel serves this process's sockets meanwhile", err.c_str());
        state_ = StackState::kWaiting;
        set_waiting(true);
      }
      return false;
    }
    log(0, "cannot start the stack on %s: %s; every socket stays with the kernel", cfg_.iface.c_str(),
        err.c_str());
    if (state_ == StackState::kWaiting) set_waiting(false);
    return false;
  }
  ctx_ = stack_->drive(&err);
  if (ctx_ == nullptr) {
    log(0, "cannot drive the stack: %s; every socket stays with the kernel", err.c_str());
    stack_.reset();
    return false;
  }
  // One descriptor for the application's epoll sets and poll(): readable when a frame waits.
  wake_epfd_ = libc().epoll_create1(EPOLL_CLOEXEC);
  for (const int fd : ctx_->wait_fds()) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    (void)libc().epoll_ctl(wake_epfd_, EPOLL_CTL_ADD, fd, &ev);
  }
  refs_.assign(cfg_.max_sockets, 0);
  // The placeholders' originals now, with the stack's own descriptors: made at the first accept,
  // one would take the lowest free number, which the kernel's accept gives the application.
  placeholder_[0] = libc().socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  placeholder_[1] = libc().socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  owner_ = getpid();
  log(1, "%s", stack_->describe().c_str());
  return true;
}

int Process::add_sleeper(int queue, int doorbell) {
  if (doorbell < 0 || state_ != StackState::kRunning) return -1;
  for (std::size_t i = 0; i < sleepers_.size(); ++i) {
    Sleeper& s = sleepers_[i];
    if (s.used) continue;
    s = {queue, doorbell, ctx_->activity(), true, false};
    ++sleeping_;
    return static_cast<int>(i);
  }
  return -1;
}

void Process::remove_sleeper(int slot) {
  if (slot < 0 || static_cast<std::size_t>(slot) >= sleepers_.size()) return;
  Sleeper& s = sleepers_[static_cast<std::size_t>(slot)];
  if (!s.used) return;
  s.used = false;
  --sleeping_;
}

void Process::ring_slow() {
  if (state_ != StackState::kRunning) return;
  const std::uint64_t now = ctx_->activity();
  for (Sleeper& s : sleepers_) {
    if (!s.used || s.rung) continue;
    const bool due = s.queue == kAnyChange ? now != s.activity : ctx_->epoll_pending(s.queue);
    if (!due) continue;
    const std::uint64_t one = 1;
    (void)!libc().write(s.doorbell, &one, sizeof one);  // once per sleep: rung stays set
    s.rung = true;
  }
}

int thread_doorbell() {
  // Closed when the thread exits.
  struct Doorbell {
    int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    ~Doorbell() {
      if (fd >= 0) (void)libc().close(fd);
    }
  };
  thread_local Doorbell d;
  return d.fd;
}

void drain_doorbell(int fd) {
  std::uint64_t v = 0;
  (void)!libc().read(fd, &v, sizeof v);  // EAGAIN when not rung
}

int Process::new_placeholder(int family, bool cloexec) {
  const int k = family == AF_INET6 ? 1 : 0;
  if (placeholder_[k] < 0) {
    placeholder_[k] = libc().socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (placeholder_[k] < 0) return -1;
  }
  return libc().fcntl(placeholder_[k], cloexec ? F_DUPFD_CLOEXEC : F_DUPFD, 0);
}

void Process::ref(int sid) {
  if (sid >= 0 && static_cast<std::size_t>(sid) < refs_.size()) ++refs_[static_cast<std::size_t>(sid)];
}

bool Process::unref(int sid) {
  if (sid < 0 || static_cast<std::size_t>(sid) >= refs_.size()) return false;
  auto& r = refs_[static_cast<std::size_t>(sid)];
  if (r > 0) --r;
  return r == 0;
}

void replay_options(Context& ctx, int sid, const FdEntry& e) {
  // Options the stack's sockets take (docs/API.md); the others the kernel socket keeps alone.
  auto replayable = [](int level, int name) {
    if (level == SOL_SOCKET) {
      return name == SO_REUSEADDR || name == SO_RCVBUF || name == SO_SNDBUF || name == SO_KEEPALIVE;
    }
    return level == IPPROTO_TCP &&
           (name == TCP_NODELAY || name == TCP_KEEPIDLE || name == TCP_KEEPINTVL || name == TCP_KEEPCNT);
  };
  for (std::size_t i = 0; i < e.option_count; ++i) {
    const SavedOption& o = e.options[i];
    if (replayable(o.level, o.name)) (void)ctx.setsockopt(sid, o.level, o.name, &o.value, sizeof o.value);
  }
}

namespace {

int open_listener(Context& ctx, const FdEntry& e, const wire::SockAddr& local) {
  const int family = local.ip.is_v4() ? AF_INET : AF_INET6;
  const int sid = ctx.socket(family);
  if (sid < 0) return -errno;
  replay_options(ctx, sid, e);
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  from_sock_addr(local, false, reinterpret_cast<sockaddr*>(&ss), &len);
  if (ctx.bind(sid, reinterpret_cast<sockaddr*>(&ss), len) < 0 || ctx.listen(sid, e.backlog) < 0) {
    const int err = errno;
    (void)ctx.close(sid);
    return -err;
  }
  return sid;
}

}  // namespace

bool Process::use_listener(int fd, FdEntry& e) {
  if (e.sid >= 0) return true;
  if (state_ != StackState::kRunning || e.listen_failed) return false;
  if (start_listener(fd, e) == 0) return true;
  e.listen_failed = true;  // said why once; the kernel serves it alone
  return false;
}

int Process::start_listener(int fd, FdEntry& e) {
  const int sid = open_listener(*ctx_, e, e.local);
  if (sid < 0) {
    log(0, "fd %d: the stack cannot listen on %s (%s); the kernel serves it alone", fd,
        e.local.to_string().c_str(), std::strerror(-sid));
    return sid;
  }
  e.sid = sid;
  ref(sid);
  // [::] without IPV6_V6ONLY takes IPv4 too, as Linux's dual-stack socket does.
  if (e.family == AF_INET6 && e.local.ip.is_unspecified() && !e.v6only) {
    wire::SockAddr any4{wire::IpAddr::v4(0, 0, 0, 0), e.local.port};
    const int sid4 = open_listener(*ctx_, e, any4);
    if (sid4 >= 0) {
      e.sid4 = sid4;
      ref(sid4);
    }
  }
  log(2, "fd %d: listening on %s on the stack and the kernel", fd, e.local.to_string().c_str());
  return 0;
}

void Process::before_fork() {
  mu_.lock();
}

void Process::after_fork_parent() {
  mu_.unlock();
}

void Process::after_fork_child() {
  // The lock was taken in before_fork by the forking thread, the only one the child has.
  mu_.unlock();
  sleepers_.fill({});  // the parent's other threads do not exist here
  sleeping_ = 0;
  forked_ = true;
  if (state_ == StackState::kWaiting) {  // the parent waits; the child decides for itself
    waiting_marker_.clear();
    state_ = StackState::kNotStarted;
  }
  if (state_ != StackState::kRunning) return;  // not started: the child may start its own
  // The stack (its AF_XDP sockets, UMEM, TCP state) is the parent's. The child must never drive
  // it nor tear it down: its connections become orphans (close() only closes the descriptor),
  // its listeners plain kernel listeners, and the Stack object is left as it is (never freed).
  state_ = StackState::kInherited;
  // The child's copies of the AF_XDP sockets would keep them (and their XSKMAP entries) alive after
  // the parent dies, so that the port's frames went to a socket nobody reads instead of back to the
  // kernel: close them here (the parent's descriptors are its own). Their mappings stay, unused.
  {
    ReentryGuard g;
    for (const int fd : ctx_->wait_fds()) (void)libc().close(fd);
    if (wake_epfd_ >= 0) (void)libc().close(wake_epfd_);
    wake_epfd_ = -1;
  }
  (void)stack_.release();
  ctx_ = nullptr;
  fds_.for_each([](int, FdEntry& e) {
    switch (e.kind.load(std::memory_order_relaxed)) {
      case Kind::kConn:
        e.kind.store(Kind::kOrphan, std::memory_order_release);
        break;
      case Kind::kListener:
        e.sid = e.sid4 = -1;
        e.kind.store(Kind::kCandidate, std::memory_order_release);  // the kernel socket alone
        break;
      case Kind::kEpoll:
        e.queue = -1;
        e.xdptcp_members = 0;
        break;
      default:
        break;
    }
  });
}

void Process::at_exit() {
  std::lock_guard lock(mu_);
  set_waiting(false);
  if (state_ != StackState::kRunning || getpid() != owner_) return;
  ReentryGuard g;
  // The kernel would still send what the application wrote, and the FIN of every connection it
  // left open, after the process ended; the stack can only do it now (or its peers wait for data
  // that never comes, then get RST): close what is open and run the engine a few turns.
  fds_.for_each([this](int, FdEntry& e) {
    if (e.kind.load(std::memory_order_relaxed) == Kind::kConn && e.sid >= 0 && unref(e.sid)) {
      (void)ctx_->close(e.sid);
    }
  });
  // Then as long as closed connections still have data or a FIN unacknowledged, up to
  // XDPTCP_EXIT_LINGER_MS, sleeping on the engine's descriptors (wake_epfd_) between turns.
  for (int i = 0; i < 3; ++i) ctx_->poll_once();
  const Deadline deadline(static_cast<int>(cfg_.exit_linger_ms));
  for (int left;
       cfg_.exit_linger_ms > 0 && ctx_->closing_with_data() > 0 && (left = deadline.remaining_ms()) > 0;) {
    if (const int ms = ctx_->begin_sleep(left); ms > 0) {
      pollfd fd{wake_epfd_, POLLIN, 0};
      const timespec ts{ms / 1000, (ms % 1000) * 1'000'000L};
      (void)libc().ppoll(&fd, 1, &ts, nullptr);  // the kernel's, not ours
    }
    ctx_->end_sleep();
    ctx_->poll_once();
  }
  // Rules and XSKMAP entries go now; a process killed without exit loses its AF_XDP sockets with
  // it, and the steering program passes its ports back to the kernel at once.
  ctx_ = nullptr;
  stack_.reset();
  state_ = StackState::kFailed;
}

int to_sock_addr(const sockaddr* addr, socklen_t len, wire::SockAddr* out) {
  if (const int e = detail::from_sockaddr(addr, len, out); e < 0) return e;
  // ::ffff:a.b.c.d (RFC 4291 §2.5.5.2) is the IPv4 host a.b.c.d.
  static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (!out->ip.is_v4() && std::memcmp(out->ip.bytes.data(), kMapped, sizeof kMapped) == 0) {
    out->ip = wire::IpAddr::v4_bytes(out->ip.bytes.data() + 12);
  }
  return 0;
}

void from_sock_addr(const wire::SockAddr& a, bool as_v6, sockaddr* addr, socklen_t* len) {
  if (!a.ip.is_v4() || !as_v6) {
    detail::to_sockaddr(a, addr, len);
    return;
  }
  wire::IpAddr mapped;
  mapped.family = wire::IpFamily::kV6;
  mapped.bytes[10] = mapped.bytes[11] = 0xff;
  std::memcpy(mapped.bytes.data() + 12, a.ip.bytes.data(), 4);
  detail::to_sockaddr({mapped, a.port}, addr, len);
}

}  // namespace xdptcp::preload
