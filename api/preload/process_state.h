// The preload library's state in one process: its settings, the descriptor table, and the xdptcp
// stack, which starts lazily in the process that first uses an xdptcp socket after the last fork
// (nginx creates its listeners in the master and serves them from a worker) and is left untouched
// by a forked child (redis's BGSAVE child closes the inherited listeners; the parent's connections
// must not notice). See docs/PRELOAD.md.
//
// Threads: one lock serialises every call into the stack (Context is single-threaded). A single
// event-loop application takes it uncontended; nothing blocks while holding it. The stack's own
// code calls socket(), bind(), close()... through the interposed symbols: a thread-local depth
// (ReentryGuard) sends those straight to the C library.
#pragma once

#include <sys/types.h>

#include <array>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "api/preload/fd_table.h"
#include "api/preload/preload_config.h"
#include "userstack/wire/ip_addr.h"
#include "xdptcp/xdptcp.hpp"

namespace xdptcp::preload {

enum class StackState : std::uint8_t {
  kNotStarted,  // no xdptcp socket used yet in this process
  kRunning,     // this process drives the stack
  kFailed,      // could not start (said why once): every socket stays with the kernel
  kInherited,   // a forked child of a process whose stack runs: the stack is the parent's
  kWaiting,     // every RX queue is another process's: the kernel serves; retried every second
};

// Tags that replace the application's epoll data for what the library registers itself.
inline constexpr std::uint64_t kWakeTag = 0x7864'7470'ffff'ffffULL;      // the engine's wake-up set
inline constexpr std::uint64_t kFdTagHigh = 0x7864'7470'0000'0000ULL;    // | fd: a listener's sides
inline constexpr std::uint64_t kDoorbellTag = 0x7864'7470'ffff'fffeULL;  // the set's doorbell
inline bool is_fd_tag(std::uint64_t d) {
  return (d & 0xffff'ffff'0000'0000ULL) == kFdTagHigh && d != kWakeTag && d != kDoorbellTag;
}

class Process {
 public:
  static Process& get();

  const PreloadConfig& config() const { return cfg_; }
  FdTable& fds() { return fds_; }
  std::mutex& mutex() { return mu_; }

  // Under the lock. Starts the stack when it is not running yet; false when it cannot run here
  // (failed, inherited, disabled).
  bool ensure_started();
  StackState state() const { return state_; }
  // kWaiting: ms until ensure_started() tries again (0: due now).
  int retry_in_ms() const;
  // Running and holding every RX queue of the interface: no other process receives this
  // process's flows, so active opens may go through the stack (else they stay with the kernel:
  // a reply that reached another process's queue would be lost).
  bool holds_all_queues() const { return state_ == StackState::kRunning && stack_->holds_all_queues(); }
  // Under the lock, from event loops (cheap: a coarse clock read): once a second, a running stack
  // that holds only some queues takes queues that nobody holds (a worker that exited, a single
  // nginx worker on a two-queue interface), unless another process waits for one.
  void maintain();
  // epoll waits so far (under the lock): tells a listener's brief removal from a turn without it.
  std::uint64_t waits() const { return waits_; }
  void count_wait() { ++waits_; }
  Context& ctx() { return *ctx_; }
  int wake_epfd() const { return wake_epfd_; }

  // Whether the stack serves `ip` (one of the interface's addresses, or XDPTCP_ADDRESSES).
  bool serves(const wire::IpAddr& ip);
  // Under the lock: a new kernel descriptor standing for a stack socket (dup of a private unbound
  // socket: no kernel socket allocated per connection), close-on-exec when asked.
  int new_placeholder(int family, bool cloexec);

  // Reference counts of stack sockets shared by several descriptors (dup).
  void ref(int sid);
  bool unref(int sid);  // true when the last descriptor is gone

  // Creates the stack's listeners of a listening entry (its kernel socket listens already).
  int start_listener(int fd, FdEntry& e);
  // Under the lock: the listener's stack side, made at its first use (an epoll set, accept,
  // poll); false when the stack does not run or cannot listen there (the kernel serves it).
  bool use_listener(int fd, FdEntry& e);

  // Threads of one process share the engine (memcached accepts on one thread and serves on
  // others, each with its own epoll set): whichever thread holds the lock drives it, and may
  // consume the frame another thread's sleep was woken for, or make that thread's sockets ready.
  // So a thread about to sleep with the lock released registers here with a doorbell (an eventfd
  // in what it sleeps on) and what it waits for: its set's stack event queue, or kAnyChange (a
  // blocking call or poll(): any frame received). Whoever releases the lock afterwards rings the
  // doorbells of the sleepers that now have something (ring_sleepers). Under the lock. A full
  // table (kMaxSleepers threads asleep at once) gives -1: the caller sleeps at most
  // kUnwatchedSleepMs.
  static constexpr int kAnyChange = -2;
  static constexpr std::size_t kMaxSleepers = 64;
  static constexpr int kUnwatchedSleepMs = 2;
  int add_sleeper(int queue, int doorbell);
  void remove_sleeper(int slot);
  // Under the lock, just before it is released: cheap when nobody sleeps.
  void ring_sleepers() {
    if (sleeping_ != 0) ring_slow();
  }

  void log(int level, const char* fmt, ...) const __attribute__((format(printf, 3, 4)));

  // pthread_atfork handlers.
  void before_fork();
  void after_fork_parent();
  void after_fork_child();
  void at_exit();

 private:
  Process();
  bool start();

  PreloadConfig cfg_;
  FdTable fds_;
  std::mutex mu_;
  StackState state_ = StackState::kNotStarted;
  pid_t owner_ = 0;
  std::unique_ptr<Stack> stack_;
  Context* ctx_ = nullptr;
  int wake_epfd_ = -1;
  int placeholder_[2] = {-1, -1};  // AF_INET, AF_INET6
  std::vector<std::uint16_t> refs_;
  std::vector<wire::IpAddr> served_;
  bool served_loaded_ = false;
  struct Sleeper {
    int queue = 0;  // 0..: a Context epoll id; kAnyChange
    int doorbell = -1;
    std::uint64_t activity = 0;  // Context::activity() when it went to sleep
    bool used = false;
    bool rung = false;
  };
  void ring_slow();
  std::string queue_mode();
  void set_waiting(bool on);
  void join_late_listeners();
  bool forked_ = false;  // after_fork_child ran in this process
  std::uint64_t waits_ = 0;
  std::int64_t next_try_ns_ = 0;  // kWaiting: next start attempt; kRunning: next maintain() claim
  std::string waiting_marker_;    // kWaiting: /run/xdptcp/<iface>/waiting.<pid>
  std::array<Sleeper, kMaxSleepers> sleepers_{};
  int sleeping_ = 0;
};

// Registers a listener's epoll bindings (made while the stack was not running: the kernel side
// alone, with the application's data) with the stack: the kernel side re-tagged, the stack side
// added to each set's queue. Under the lock, stack running. In event_calls.cpp.
void join_listener_sets(int fd, FdEntry& l);
// Under the lock: replaces the library's tags in events that a plain epoll_wait returned (a set
// re-tagged meanwhile by another thread) with the application's data, dropping the library's
// own; returns how many remain.
int untag_events(int epfd, epoll_event* events, int n);

// A doorbell of this thread's own (an eventfd; -1 when none can be made), for waits that are not
// on an epoll set of the application's (poll(), blocking calls). Read it empty after waking.
int thread_doorbell();
void drain_doorbell(int fd);

// Depth of calls into the stack on this thread: non-zero means "go straight to the C library".
extern thread_local int t_reentry;

struct ReentryGuard {
  ReentryGuard() { ++t_reentry; }
  ~ReentryGuard() { --t_reentry; }
  ReentryGuard(const ReentryGuard&) = delete;
  ReentryGuard& operator=(const ReentryGuard&) = delete;
};

// The process lock plus the re-entry mark: hold it for every call into the stack.
class StackLock {
 public:
  StackLock() : lock_(Process::get().mutex()) { ++t_reentry; }
  ~StackLock() {
    if (!lock_.owns_lock()) return;
    Process::get().ring_sleepers();
    --t_reentry;
  }
  StackLock(const StackLock&) = delete;
  StackLock& operator=(const StackLock&) = delete;
  void unlock() {
    Process::get().ring_sleepers();
    --t_reentry;
    lock_.unlock();
  }
  void lock() {
    lock_.lock();
    ++t_reentry;
  }

 private:
  std::unique_lock<std::mutex> lock_;
};

// Whether an interposed call should look at the table at all (library enabled, not re-entered).
inline bool intercepting() {
  return t_reentry == 0 && Process::get().config().enabled;
}

// Sets on the stack's socket `sid` the options the application set on e's kernel socket before the
// stack's socket existed (those the stack has; the kernel socket keeps the others).
void replay_options(Context& ctx, int sid, const FdEntry& e);

// sockaddr <-> SockAddr, IPv4-mapped IPv6 addresses unmapped (an AF_INET6 socket may connect to
// ::ffff:198.18.0.2, which the stack serves as IPv4). Negative errno on a bad address.
int to_sock_addr(const sockaddr* addr, socklen_t len, wire::SockAddr* out);
// As the kernel fills a sockaddr: copies what fits, sets *len to the full size. `as_v6` writes an
// IPv4 address as ::ffff:a.b.c.d (an AF_INET6 descriptor's view).
void from_sock_addr(const wire::SockAddr& a, bool as_v6, sockaddr* addr, socklen_t* len);

}  // namespace xdptcp::preload
