// xdptcp: the C++ API. A user-level TCP stack beside the Linux kernel, one engine per NIC queue.
//
// The model is mTCP's: the application runs one thread per engine (Stack::run calls your function
// on each engine's pinned thread with that engine's Context), and each thread uses BSD-like socket
// calls and an epoll-like event queue on its Context. Sockets belong to the engine that created
// them; nothing is shared between engines, and nothing here takes a lock or makes a system call
// per packet. Listening sockets are per engine: every engine's thread listens on the same port
// (the stack claims the port once, with the kernel and in the XDP program).
//
// Errors: every call returns -1 and sets errno as libc does, with the same meanings (EAGAIN,
// EINPROGRESS, ECONNREFUSED, ECONNRESET, ETIMEDOUT, EADDRINUSE, ENOTCONN, EPIPE, EINVAL, EBADF,
// EMFILE). A complete example is in docs/API.md and tools/examples/.
//
//   auto stack = xdptcp::Stack::create({.iface = "eth1"});
//   stack.value()->run([](xdptcp::Context& ctx) {
//     int l = ctx.socket(AF_INET);
//     ctx.bind(l, ...); ctx.listen(l, 1024);
//     int ep = ctx.epoll_create();
//     ...
//     while (!ctx.stopping()) { int n = ctx.epoll_wait(ep, evs, 64, 100); ... }
//   });
#pragma once

#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace xdptcp {

namespace detail {
struct StackImpl;
struct ContextImpl;
}  // namespace detail

struct StackOptions {
  std::string iface;                   // the interface to serve on (required)
  std::vector<std::string> addresses;  // local addresses served; empty: every address of iface
  unsigned engines = 0;                // 0: one per RX queue; fewer: engine i serves queues i, i+engines, ...
  std::string bind_mode = "auto";      // AF_XDP: auto | zerocopy | copy
  std::string xdp_mode = "auto";       // when the stack attaches the program itself: auto | native | generic
  bool busy_poll = false;              // spin instead of sleeping in poll() (dedicated cores)
  bool pin_cores = true;               // engine i runs on CPU (first_core + i) % ncpu
  unsigned first_core = 0;             // with pin_cores: the CPU of engine 0
  std::size_t max_sockets = 16384;     // per engine; socket() fails with EMFILE beyond
  // Buffer memory budget per engine in MiB (StackConfig::mem_budget; 0: its default, 1024): the
  // send and receive data of all connections of an engine together. Above 3/4 new connections
  // get 16 KiB buffers, above 7/8 they are refused (docs/ARCHITECTURE.md, "Memory").
  std::size_t mem_budget_mib = 0;
  std::uint32_t rx_batch = 64;       // frames per receive burst
  std::uint32_t sndbuf = 64 * 1024;  // default SO_SNDBUF
  std::uint32_t rcvbuf = 64 * 1024;  // default SO_RCVBUF
  // How long an engine re-polls without sleeping after it last found work, before it sleeps in
  // poll() (adaptive polling; 0: sleep at once). An idle engine sleeps: it costs ~no CPU. Default
  // 0: measured on 2 shared cores, spinning steals the core from the peer (latency p50 12 -> 108 us).
  std::uint32_t spin_us = 0;
  // TIME-WAIT length in ms (0: 60 s, Linux's TCP_TIMEWAIT_LEN). A load generator that closes first
  // may shorten it, as Linux's tcp_tw_reuse lets a client reuse a TIME-WAIT tuple after 1 s.
  std::uint32_t time_wait_ms = 0;
  // listen() holds its port with a kernel socket of the stack's own (bound, never listening), so
  // no kernel socket can take it. False when the application already holds the port with its own
  // kernel socket (the preload library: the application's kernel listener serves loopback and the
  // interface's other addresses beside the stack).
  bool reserve_listening_ports = true;
  // TCP behaviour profile. "default": the stack's defaults (which already match Linux's except the
  // initial window for an MSS above 1460, RFC 6928's 14600 bytes). "linux": look like Linux on
  // the wire: IW10 as 10 segments (tcp_init_cwnd()), RTO initial 1 s / min 200 ms / max 120 s,
  // delayed ACK 40 ms, SYN retries 6, SYN-ACK retries 5, tcp_retries2 15, keepalive 7200/75/9,
  // TIME-WAIT 60 s, CUBIC, SO_RCVBUF/SO_SNDBUF bound 212992 (docs/API.md). The explicit options
  // above (sndbuf, rcvbuf, time_wait_ms) still apply on top. Stack::create refuses another name.
  std::string profile = "default";
  // Which of the interface's RX queues this stack takes; several processes can share an interface,
  // each on its own queues (docs/ARCHITECTURE.md, "Several processes on one interface"):
  //   "all"   every queue; fails when another live process holds one (the default);
  //   "free"  every queue no other live process holds; at least one (else EBUSY);
  //   "one"   the lowest-numbered such queue;
  //   "0,2"   exactly these queues, taken as "all" takes them.
  // "free" and "one" run one engine (engines 0 or 1) over what they get, which is what
  // Stack::drive needs; claim_free_queues adds to it later.
  // With fewer than all, segments of this stack's flows may arrive on another process's queue and
  // theirs on ours: such a segment is dropped here, never reset (tcp sibling_flow), and the
  // preload library makes active opens through the kernel. Stack::create refuses another name.
  std::string queues = "all";
};

class Context;

// One engine's counters (Context::stats()), read on that engine's thread. Engines share nothing,
// so these are per engine; sum them across engines when a total is wanted (design brief §5).
struct ContextStats {
  unsigned engine_id = 0;
  std::uint64_t conns_accepted = 0;  // passive opens that reached ESTABLISHED
  std::uint64_t conns_opened = 0;    // active opens that reached ESTABLISHED
  std::uint64_t conns_reset = 0;     // ended by a RST received or sent
  std::uint64_t conns_timed_out = 0;
  std::uint64_t conns_refused = 0;  // active opens answered with RST
  std::uint64_t segments_in = 0;
  std::uint64_t segments_out = 0;
  std::uint64_t retransmits = 0;
  std::uint64_t drops = 0;  // TCP segments dropped, every reason summed
  std::uint64_t rx_frames = 0;
  std::uint64_t tx_frames = 0;
  std::uint64_t handoffs = 0;     // segments this engine handed to the engine owning their flow
  std::uint64_t handoffs_in = 0;  // segments other engines handed to this one
  std::uint64_t polls = 0;        // loop iterations (receive bursts)
  std::uint64_t sleeps = 0;       // times the engine slept waiting for frames or timers
  std::uint64_t tx_kicks = 0;     // sendto() calls that woke the kernel's transmit path
  // Frames the kernel dropped before this engine saw them (AF_XDP statistics): RX ring full, no
  // FILL buffer, or other. Non-zero means the engine fell behind (raise rx_batch or the ring size).
  std::uint64_t rx_kernel_drops = 0;
};

class Stack {
 public:
  // Opens AF_XDP sockets on every engine's queue, registers them with the steering program
  // (attached by `xdptcp-ctl attach`, or attached here when it is not, and detached on
  // destruction), and reserves the ephemeral port range with the kernel. Returns nullptr and
  // sets *error (what failed and what to do) on failure.
  static std::unique_ptr<Stack> create(const StackOptions& options, std::string* error);
  ~Stack();
  Stack(const Stack&) = delete;
  Stack& operator=(const Stack&) = delete;

  unsigned engines() const;
  // The RX queues this stack holds, ascending (StackOptions::queues).
  std::vector<unsigned> queues() const;
  // Whether it holds every RX queue of the interface.
  bool holds_all_queues() const;
  // A stack driven by the caller's thread (Stack::drive) takes up to `max` more RX queues that no
  // live process holds now, on that thread, and returns how many it took (0 when none is free).
  // The new queues' descriptors join Context::wait_fds(). When it then holds every queue, its
  // engine answers segments of no connection with RST again (StackOptions::queues).
  unsigned claim_free_queues(unsigned max);
  // A driven stack's housekeeping, about once a second on the driving thread: a listener that
  // closed while connections it accepted were open keeps steering those connections here
  // ("draining", so that a reloading server's old process finishes them while the kernel's
  // listener takes the new ones); tend() ends the draining once they are gone.
  void tend();
  // Runs fn on every engine's thread with that engine's Context; returns when all have returned.
  void run(const std::function<void(Context&)>& fn);
  // For an application that runs its own event loop (the preload library): builds the stack's one
  // engine (StackOptions::engines = 1; it serves every queue) on the calling thread, without
  // starting threads, and returns its Context, valid until the Stack is destroyed. The caller
  // drives it with the Context's epoll_wait, or with poll_once()/begin_sleep() around its own
  // poll/epoll set holding wait_fds(). Returns nullptr and sets *error when the stack has several
  // engines. Repeated calls return the same Context.
  Context* drive(std::string* error);
  // Asks every engine to stop: Context::stopping() turns true and epoll_wait returns early.
  // Safe from a signal handler.
  void stop();
  // Human-readable facts: interface, engines, AF_XDP mode obtained, XDP mode, addresses.
  std::string describe() const;

 private:
  explicit Stack(std::unique_ptr<detail::StackImpl> impl);
  std::unique_ptr<detail::StackImpl> impl_;
};

// One engine's view: sockets and event queues live here. Use only from the engine's thread.
class Context {
 public:
  unsigned engine_id() const;
  bool stopping() const;
  // This engine's counters (see ContextStats).
  ContextStats stats() const;

  int socket(int family = AF_INET, int type = SOCK_STREAM, int protocol = 0);
  int bind(int fd, const sockaddr* addr, socklen_t len);
  int listen(int fd, int backlog);
  int accept(int fd, sockaddr* addr, socklen_t* len);
  int connect(int fd, const sockaddr* addr, socklen_t len);  // non-blocking: -1/EINPROGRESS
  ssize_t read(int fd, void* buf, std::size_t len);
  ssize_t write(int fd, const void* buf, std::size_t len);
  ssize_t readv(int fd, const iovec* iov, int iovcnt);
  ssize_t writev(int fd, const iovec* iov, int iovcnt);
  int shutdown(int fd, int how);
  int close(int fd);
  int getsockname(int fd, sockaddr* addr, socklen_t* len);
  int getpeername(int fd, sockaddr* addr, socklen_t* len);
  // SOL_SOCKET: SO_REUSEADDR, SO_RCVBUF, SO_SNDBUF, SO_KEEPALIVE, SO_LINGER, SO_ERROR (get);
  // IPPROTO_TCP: TCP_NODELAY, TCP_CONGESTION ("reno", "cubic"), TCP_KEEPIDLE/INTVL/CNT, TCP_MAXSEG,
  // TCP_USER_TIMEOUT, TCP_CORK, TCP_QUICKACK, TCP_INFO (get: Linux's struct tcp_info, the fields the
  // stack tracks). SO_RCVBUF/SO_SNDBUF as Linux: the value is doubled, bounded, settable on a
  // connection (docs/API.md). Linux's errors: a length below an int EINVAL (before the name), a
  // short getsockopt length truncates; others (Linux options not implemented here, docs/API.md)
  // fail with ENOPROTOOPT.
  int setsockopt(int fd, int level, int name, const void* value, socklen_t len);
  int getsockopt(int fd, int level, int name, void* value, socklen_t* len);

  int epoll_create();
  int epoll_ctl(int epfd, int op, int fd, epoll_event* event);
  // Drives the engine (receive, TCP, timers, transmit) until an event is ready or timeout_ms
  // passes (-1: until stop()).
  int epoll_wait(int epfd, epoll_event* events, int max_events, int timeout_ms);

  // recv(2) flags: MSG_PEEK (the data stays to be read again), MSG_DONTWAIT (every call here is
  // non-blocking anyway); others fail with EOPNOTSUPP. MSG_WAITALL is the caller's loop.
  ssize_t recv(int fd, void* buf, std::size_t len, int flags);
  // send(2) flags: MSG_MORE (Linux: the less-than-MSS tail is held, as by TCP_CORK, until a send
  // without it, TCP_CORK cleared, TCP_NODELAY set, or shutdown/close), MSG_DONTWAIT, MSG_NOSIGNAL
  // (no signal is raised here anyway), MSG_EOR (ignored); others fail with EOPNOTSUPP. write() is
  // send() with no flags.
  ssize_t send(int fd, const void* buf, std::size_t len, int flags);
  // Level-triggered readiness of one socket now, as epoll bits (EPOLLIN, EPOLLOUT, EPOLLERR,
  // EPOLLHUP, EPOLLRDHUP), for poll(2) and select(2) emulation. EBADF: 0 and errno set.
  std::uint32_t poll_events(int fd) const;
  // Bytes the application can read now (FIONREAD, SIOCINQ); -1/EBADF, -1/EINVAL on a listener.
  int readable_bytes(int fd) const;
  // Bytes in the send buffer (Linux tcp_ioctl()): SIOCOUTQ, not yet acknowledged, sent or not; or
  // with unsent_only SIOCOUTQNSD, never sent. 0 while the handshake is in progress, as Linux;
  // -1/EBADF, -1/EINVAL on a listener.
  int queued_bytes(int fd, bool unsent_only) const;

  // Connections the application has closed whose data or FIN the peer has not acknowledged yet
  // (FIN-WAIT-1, CLOSING, LAST-ACK): what the kernel would go on sending after the process exits,
  // and a user-level stack can send only while its process lives. Scans the connection table (at
  // exit, not per packet).
  std::size_t closing_with_data() const;

  // --- Driving the engine from the caller's own event loop (see Stack::drive) ---
  // One engine iteration (receive, TCP input, timers, transmit) without sleeping.
  void poll_once();
  // Call before the caller sleeps on wait_fds(): sends what waited for the application (ACKs held
  // for its reply, queued output) and returns how long it may sleep, in ms: at most max_ms (-1: no
  // limit), less when a TCP timer is due first; 0: do not sleep (spin window, pending work). Then
  // end_sleep() once it wakes.
  int begin_sleep(int max_ms);
  void end_sleep();
  // Descriptors that become readable when the engine has frames or hand-offs waiting.
  std::vector<int> wait_fds() const;
  // For callers that share one engine between threads (one thread drives while others sleep on
  // their own sets): whether epoll set epfd may have events to collect now (false: EBADF too),
  // and a count that grows whenever the engine received frames or hand-offs (a sleeper waiting
  // for any change compares it).
  bool epoll_pending(int epfd) const;
  std::uint64_t activity() const;

  explicit Context(detail::ContextImpl* impl) : impl_(impl) {}
  detail::ContextImpl* impl() { return impl_; }

 private:
  detail::ContextImpl* impl_;
};

}  // namespace xdptcp
