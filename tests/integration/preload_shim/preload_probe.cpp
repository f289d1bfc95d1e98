// preload_probe: an ordinary program (it knows nothing of xdptcp and is not linked with it) that
// preload_shim_test runs under xdptcp-run, so that every socket, epoll, poll, fcntl... call below
// goes through libxdptcp-preload.so. Each scenario checks what an application would see and exits
// 0 when everything held, 1 at the first failure (printing "FAIL <line>: <what>").
//
//   preload_probe SCENARIO STACK_IP PEER_IP PORT [PORT2]   a scenario (see main() for the names)
//   preload_probe client IP PORT [DELAY_MS]                the remote-controlled kernel peer
//
// The peer side is the same program in client mode, run without the library (in the sandbox's peer
// namespace, or in the root namespace for loopback). It connects, then obeys one-line commands the
// scenario sends over the connection itself, so that the scenario decides the timeline:
//   send:TEXT    write TEXT (no newline)          sleep:MS   sleep
//   echo:N       the next N bytes of the stream are data: write them back
//   shutwr       shutdown(SHUT_WR)                close      close and exit 0
// End of stream from the scenario ends it with status 0; an error (reset) with status 2.
//
// The scenario prints "READY" once its listener is up and the stack runs, and "NEXT" where the test
// is to start a second client; the test (preload_shim_test.cpp) waits for those words.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

// ---------------------------------------------------------------------------------------------
// Reporting

[[noreturn]] void fail_at(int line, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void fail_at(int line, const char* fmt, ...) {
  const int err = errno;
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  std::printf("FAIL %d: %s (errno %d: %s)\n", line, buf, err, std::strerror(err));
  std::fflush(stdout);
  std::exit(1);
}

#define CHECK(cond)                              \
  do {                                           \
    if (!(cond)) fail_at(__LINE__, "%s", #cond); \
  } while (0)
#define CHECKF(cond, ...)                        \
  do {                                           \
    if (!(cond)) fail_at(__LINE__, __VA_ARGS__); \
  } while (0)
#define CHECK_EQ(a, b)                                                             \
  do {                                                                             \
    const long long va_ = static_cast<long long>(a);                               \
    const long long vb_ = static_cast<long long>(b);                               \
    if (va_ != vb_) fail_at(__LINE__, "%s == %s: %lld != %lld", #a, #b, va_, vb_); \
  } while (0)
#define CHECK_STR(a, b)                                                                            \
  do {                                                                                             \
    const std::string sa_ = (a);                                                                   \
    const std::string sb_ = (b);                                                                   \
    if (sa_ != sb_) fail_at(__LINE__, "%s == %s: '%s' != '%s'", #a, #b, sa_.c_str(), sb_.c_str()); \
  } while (0)
#define CHECK_ERRNO(call, err)                                                              \
  do {                                                                                      \
    errno = 0;                                                                              \
    const long long r_ = static_cast<long long>(call);                                      \
    const int e_ = errno;                                                                   \
    if (r_ != -1 || e_ != (err)) {                                                          \
      fail_at(__LINE__, "%s: want -1 with %s, got %lld errno %d (%s)", #call, #err, r_, e_, \
              std::strerror(e_));                                                           \
    }                                                                                       \
  } while (0)

// Failures that let the scenario go on (so that one known shortfall does not hide what follows):
// printed at once, and the scenario exits 1 at its end (finish()).
int g_deferred = 0;
#define CHECK_LATER(cond)                                         \
  do {                                                            \
    if (!(cond)) {                                                \
      std::printf("FAIL %d (continuing): %s\n", __LINE__, #cond); \
      std::fflush(stdout);                                        \
      ++g_deferred;                                               \
    }                                                             \
  } while (0)

void say(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void say(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::vprintf(fmt, ap);
  va_end(ap);
  std::printf("\n");
  std::fflush(stdout);
}

std::int64_t now_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// ---------------------------------------------------------------------------------------------
// Addresses

struct Addr {
  sockaddr_storage ss{};
  socklen_t len = 0;
  int family() const { return ss.ss_family; }
};

Addr make_addr(const std::string& ip, int port) {
  Addr a;
  if (ip.find(':') == std::string::npos) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&a.ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(static_cast<std::uint16_t>(port));
    if (inet_pton(AF_INET, ip.c_str(), &sin->sin_addr) != 1) fail_at(__LINE__, "bad address %s", ip.c_str());
    a.len = sizeof *sin;
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&a.ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(static_cast<std::uint16_t>(port));
    if (inet_pton(AF_INET6, ip.c_str(), &sin6->sin6_addr) != 1)
      fail_at(__LINE__, "bad address %s", ip.c_str());
    a.len = sizeof *sin6;
  }
  return a;
}

std::string ip_of(const sockaddr_storage& ss) {
  char buf[INET6_ADDRSTRLEN] = "?";
  if (ss.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr, buf, sizeof buf);
  } else if (ss.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr, buf, sizeof buf);
  }
  return buf;
}

int port_of(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&ss)->sin_port);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_port);
  return -1;
}

struct Name {
  std::string ip;
  int port = -1;
};

Name sock_name(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0) fail_at(__LINE__, "getsockname(%d)", fd);
  return {ip_of(ss), port_of(ss)};
}

Name peer_name(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0) fail_at(__LINE__, "getpeername(%d)", fd);
  return {ip_of(ss), port_of(ss)};
}

// Whether the KERNEL socket behind fd is connected: the raw system call, past any interposition. A
// stack connection's descriptor is an unconnected placeholder (ENOTCONN); a kernel connection's is
// connected. This is how the scenarios tell who took a connection.
// PRELOAD_PROBE_REFERENCE=1: the scenario runs on the kernel alone (no preload), to show that what
// it expects is what Linux does; the checks that only make sense on the stack are skipped.
bool g_reference = false;

bool kernel_connected(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  return syscall(SYS_getpeername, fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0;
}

// A stack connection (always true in the reference run).
bool on_stack(int fd) {
  return g_reference || !kernel_connected(fd);
}

// ---------------------------------------------------------------------------------------------
// I/O helpers (poll first, so that a helper never blocks forever whatever the descriptor's mode)

void wait_fd(int fd, short events, int timeout_ms, int line) {
  pollfd p{fd, events, 0};
  const int r = poll(&p, 1, timeout_ms);
  if (r != 1)
    fail_at(line, "fd %d not ready (events 0x%x) within %d ms: poll returned %d", fd, events, timeout_ms, r);
}

void write_all(int fd, const std::string& s) {
  std::size_t off = 0;
  while (off < s.size()) {
    const ssize_t w = write(fd, s.data() + off, s.size() - off);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) {
      wait_fd(fd, POLLOUT, 10000, __LINE__);
      continue;
    }
    if (w <= 0) fail_at(__LINE__, "write(%d) of %zu bytes", fd, s.size() - off);
    off += static_cast<std::size_t>(w);
  }
}

// Exactly n bytes from fd within timeout_ms.
std::string read_exact(int fd, std::size_t n, int timeout_ms = 10000) {
  std::string out;
  const std::int64_t end = now_ms() + timeout_ms;
  char buf[4096];
  while (out.size() < n) {
    const std::int64_t left = end - now_ms();
    if (left <= 0)
      fail_at(__LINE__, "fd %d: %zu of %zu bytes ('%s') after %d ms", fd, out.size(), n, out.c_str(),
              timeout_ms);
    pollfd p{fd, POLLIN, 0};
    const int pr = poll(&p, 1, static_cast<int>(left));
    if (pr < 0 && errno == EINTR) continue;
    if (pr <= 0) continue;
    const ssize_t r = read(fd, buf, std::min(sizeof buf, n - out.size()));
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (r < 0) fail_at(__LINE__, "read(%d)", fd);
    if (r == 0)
      fail_at(__LINE__, "fd %d: end of stream after %zu of %zu bytes ('%s')", fd, out.size(), n, out.c_str());
    out.append(buf, static_cast<std::size_t>(r));
  }
  return out;
}

void expect_read(int fd, const std::string& want, int line) {
  const std::string got = read_exact(fd, want.size());
  if (got != want) fail_at(line, "fd %d read '%s', want '%s'", fd, got.c_str(), want.c_str());
}

// The remote-controlled peer on connection fd.
void remote(int fd, const std::string& command) {
  write_all(fd, command + "\n");
}

// ---------------------------------------------------------------------------------------------
// Descriptors

int listen_on(const std::string& ip, int port, int type_flags = 0) {
  const Addr a = make_addr(ip, port);
  const int fd = socket(a.family(), SOCK_STREAM | type_flags, 0);
  CHECKF(fd >= 0, "socket");
  const int one = 1;
  CHECK_EQ(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one), 0);
  CHECKF(bind(fd, reinterpret_cast<const sockaddr*>(&a.ss), a.len) == 0, "bind %s:%d", ip.c_str(), port);
  CHECKF(listen(fd, 16) == 0, "listen %s:%d", ip.c_str(), port);
  return fd;
}

// Starts the stack in this process (its first use of a stack socket: a poll of the listener), so
// that what the scenario checks next does not see the stack's own descriptors being created.
void start_stack(int listener) {
  pollfd p{listener, POLLIN, 0};
  CHECK(poll(&p, 1, 0) >= 0);
}

// The number the kernel would give the next new descriptor (the lowest free one).
int next_free_fd() {
  const int fd = open("/dev/null", O_RDONLY);
  CHECK(fd >= 0);
  close(fd);
  return fd;
}

int getfl(int fd) {
  const int fl = fcntl(fd, F_GETFL);
  CHECKF(fl >= 0, "F_GETFL %d", fd);
  return fl;
}

bool nonblocking(int fd) {
  return (getfl(fd) & O_NONBLOCK) != 0;
}

bool cloexec(int fd) {
  const int fl = fcntl(fd, F_GETFD);
  CHECKF(fl >= 0, "F_GETFD %d", fd);
  return (fl & FD_CLOEXEC) != 0;
}

volatile sig_atomic_t g_alarms = 0;
void on_alarm(int) {
  g_alarms = g_alarms + 1;
}

// SIGALRM in ms milliseconds, with a handler installed without SA_RESTART (interrupts waits).
void alarm_in(int ms) {
  struct sigaction sa {};
  sa.sa_handler = on_alarm;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;
  CHECK_EQ(sigaction(SIGALRM, &sa, nullptr), 0);
  itimerval it{};
  it.it_value.tv_sec = ms / 1000;
  it.it_value.tv_usec = (ms % 1000) * 1000;
  CHECK_EQ(setitimer(ITIMER_REAL, &it, nullptr), 0);
}

struct Args {
  std::string stack_ip;
  std::string peer_ip;
  int port = 0;
  int port2 = 0;
};

// ---------------------------------------------------------------------------------------------
// 1. Descriptor bookkeeping of accepted stack connections. Two clients.

void check_names(int c, const Args& a) {
  const Name me = sock_name(c);
  CHECK_STR(me.ip, a.stack_ip);
  CHECK_EQ(me.port, a.port);
  const Name peer = peer_name(c);
  CHECK_STR(peer.ip, a.peer_ip);
  CHECK(peer.port > 0);
}

int scenario_fd(const Args& a) {
  const int l = listen_on(a.stack_ip, a.port);
  start_stack(l);
  say("READY");
  wait_fd(l, POLLIN, 20000, __LINE__);

  // A hole below another descriptor: the kernel's accept would fill it.
  const int hole = open("/dev/null", O_RDONLY);
  const int above = open("/dev/null", O_RDONLY);
  CHECK(hole >= 0 && above > hole);
  CHECK_EQ(close(hole), 0);
  CHECK_EQ(next_free_fd(), hole);
  sockaddr_storage peer{};
  socklen_t plen = sizeof peer;
  const int c1 = accept4(l, reinterpret_cast<sockaddr*>(&peer), &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
  CHECKF(c1 >= 0, "accept4");
  say("accepted fd %d (hole %d)", c1, hole);
  CHECK_EQ(c1, hole);
  CHECK(c1 < 1024);
  CHECK(on_stack(c1));  // the stack's, not a kernel connection
  struct stat st {};
  CHECK_EQ(fstat(c1, &st), 0);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK_STR(ip_of(peer), a.peer_ip);
  check_names(c1, a);
  CHECK_EQ(peer_name(c1).port, port_of(peer));

  // O_NONBLOCK as set: accept4's flag, fcntl(F_SETFL), ioctl(FIONBIO); FD_CLOEXEC from accept4.
  CHECK(nonblocking(c1));
  CHECK(cloexec(c1));
  char b[16];
  CHECK_ERRNO(read(c1, b, sizeof b), EAGAIN);  // non-blocking indeed: nothing has come
  CHECK_EQ(fcntl(c1, F_SETFL, getfl(c1) & ~O_NONBLOCK), 0);
  CHECK(!nonblocking(c1));
  int on = 1;
  CHECK_EQ(ioctl(c1, FIONBIO, &on), 0);
  CHECK(nonblocking(c1));
  on = 0;
  CHECK_EQ(ioctl(c1, FIONBIO, &on), 0);
  CHECK(!nonblocking(c1));
  CHECK_EQ(fcntl(c1, F_SETFL, getfl(c1) | O_NONBLOCK), 0);
  CHECK(nonblocking(c1));
  CHECK_EQ(fcntl(c1, F_SETFD, 0), 0);
  CHECK(!cloexec(c1));
  CHECK_EQ(fcntl(c1, F_SETFD, FD_CLOEXEC), 0);
  CHECK(cloexec(c1));

  // dup(): the lowest free number, the same stream; closing one of the two keeps the connection.
  const int expect_dup = next_free_fd();
  const int d = dup(c1);
  CHECK_EQ(d, expect_dup);
  CHECK(!cloexec(d));  // dup clears FD_CLOEXEC, as the kernel's does
  // O_NONBLOCK is the open file's, shared by its duplicates (F_SETFL on one is seen on the other).
  CHECK(nonblocking(d));
  CHECK_EQ(fcntl(d, F_SETFL, getfl(d) & ~O_NONBLOCK), 0);
  CHECK(!nonblocking(d));
  CHECK(!nonblocking(c1));
  on = 1;
  CHECK_EQ(ioctl(c1, FIONBIO, &on), 0);
  CHECK(nonblocking(d));
  remote(c1, "send:hello");
  expect_read(d, "hello", __LINE__);
  remote(d, "send:world");
  expect_read(c1, "world", __LINE__);
  remote(d, "echo:5");
  write_all(c1, "abcde");
  expect_read(d, "abcde", __LINE__);
  CHECK_EQ(close(c1), 0);
  CHECK_ERRNO(fcntl(c1, F_GETFD), EBADF);
  check_names(d, a);
  remote(d, "send:still");
  expect_read(d, "still", __LINE__);
  remote(d, "echo:4");
  write_all(d, "more");
  expect_read(d, "more", __LINE__);

  // Second connection: accept() without flags: blocking, no FD_CLOEXEC; F_DUPFD_CLOEXEC and dup2.
  const int expect2 = next_free_fd();
  const int c2 = accept(l, nullptr, nullptr);
  CHECKF(c2 >= 0, "accept");
  CHECK_EQ(c2, expect2);
  CHECK(!nonblocking(c2));
  CHECK(!cloexec(c2));
  check_names(c2, a);
  const int hi = fcntl(c2, F_DUPFD_CLOEXEC, 200);
  CHECK(hi >= 200);
  CHECK(cloexec(hi));
  CHECK_EQ(dup2(c2, 150), 150);
  remote(hi, "send:dupfd");
  expect_read(150, "dupfd", __LINE__);
  CHECK_EQ(close(c2), 0);
  CHECK_EQ(close(hi), 0);
  remote(150, "send:last");
  expect_read(150, "last", __LINE__);
  check_names(150, a);

  // Closing the last descriptor of each ends the connection: the clients see end of stream and
  // exit 0 (the test checks). The numbers are free again. (The listener first: see close_order.)
  CHECK_EQ(close(l), 0);
  CHECK_EQ(close(d), 0);
  CHECK_EQ(close(150), 0);
  CHECK_EQ(close(above), 0);
  for (const int fd : {c1, c2, d, hi, 150}) CHECK_ERRNO(fcntl(fd, F_GETFD), EBADF);
  return 0;
}

// ---------------------------------------------------------------------------------------------
// 2. One epoll set with a stack listener, a stack connection and kernel descriptors. One client.

struct Ev {
  std::uint64_t data;
  std::uint32_t events;
};

// Events from ep until `want` were collected or timeout_ms passed.
std::vector<Ev> collect(int ep, std::size_t want, int timeout_ms) {
  std::vector<Ev> out;
  const std::int64_t end = now_ms() + timeout_ms;
  while (out.size() < want) {
    const std::int64_t left = end - now_ms();
    if (left <= 0) break;
    epoll_event evs[16];
    const int n = epoll_wait(ep, evs, 16, static_cast<int>(left));
    if (n < 0 && errno == EINTR) continue;
    CHECKF(n >= 0, "epoll_wait");
    for (int i = 0; i < n; ++i) out.push_back({evs[i].data.u64, evs[i].events});
  }
  return out;
}

std::string describe(const std::vector<Ev>& evs) {
  std::string s;
  char buf[64];
  for (const Ev& e : evs) {
    std::snprintf(buf, sizeof buf, "[0x%llx ev 0x%x]", static_cast<unsigned long long>(e.data), e.events);
    s += buf;
  }
  return s.empty() ? "(none)" : s;
}

// The events of one epoll_wait that reports something (or none after timeout_ms).
std::vector<Ev> wait_once(int ep, int timeout_ms) {
  const std::int64_t end = now_ms() + timeout_ms;
  for (;;) {
    const std::int64_t left = end - now_ms();
    if (left <= 0) return {};
    epoll_event evs[16];
    const int n = epoll_wait(ep, evs, 16, static_cast<int>(left));
    if (n < 0 && errno == EINTR) continue;
    CHECKF(n >= 0, "epoll_wait");
    if (n == 0) continue;
    std::vector<Ev> out;
    for (int i = 0; i < n; ++i) out.push_back({evs[i].data.u64, evs[i].events});
    return out;
  }
}

// The next epoll_wait that reports anything reports exactly one event, for `data`, with every bit
// of `bits`.
void expect_one(int ep, std::uint64_t data, std::uint32_t bits, int line, int timeout_ms = 10000) {
  const std::vector<Ev> evs = wait_once(ep, timeout_ms);
  if (evs.size() != 1 || evs[0].data != data || (evs[0].events & bits) != bits) {
    fail_at(line, "want one event for 0x%llx with 0x%x, got %s", static_cast<unsigned long long>(data), bits,
            describe(evs).c_str());
  }
}

void expect_none(int ep, int ms, int line) {
  const std::vector<Ev> evs = collect(ep, 1, ms);
  if (!evs.empty()) fail_at(line, "want no event for %d ms, got %s", ms, describe(evs).c_str());
}

int scenario_epoll(const Args& a) {
  constexpr std::uint64_t kL = 0x1111'0000'0000'0001ULL, kPipe = 0x2222, kEvfd = 0x3333'0000'0000ULL,
                          kPair = 0x4444, kConn = 0xfeed'5555'0000'0005ULL;
  const int l = listen_on(a.stack_ip, a.port, SOCK_NONBLOCK);
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  CHECK(ep >= 0);
  int p[2];
  CHECK_EQ(pipe2(p, O_NONBLOCK), 0);
  const int efd = eventfd(0, EFD_NONBLOCK);
  CHECK(efd >= 0);
  int sp[2];
  CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sp), 0);
  auto add = [ep](int fd, std::uint32_t events, std::uint64_t data) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = data;
    CHECKF(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0, "EPOLL_CTL_ADD %d", fd);
  };
  auto mod = [ep](int fd, std::uint32_t events, std::uint64_t data) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = data;
    CHECKF(epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev) == 0, "EPOLL_CTL_MOD %d", fd);
  };
  add(l, EPOLLIN, kL);
  add(p[0], EPOLLIN, kPipe);
  add(efd, EPOLLIN, kEvfd);
  add(sp[0], EPOLLIN, kPair);
  expect_none(ep, 100, __LINE__);
  say("READY");

  // The listener: the client's connection.
  expect_one(ep, kL, EPOLLIN, __LINE__, 20000);
  const int c = accept4(l, nullptr, nullptr, SOCK_NONBLOCK);
  CHECKF(c >= 0, "accept4");
  CHECK(on_stack(c));
  CHECK_ERRNO(accept4(l, nullptr, nullptr, SOCK_NONBLOCK), EAGAIN);
  add(c, EPOLLIN | EPOLLET, kConn);
  expect_none(ep, 200, __LINE__);

  // Each kernel descriptor alone, then all together with the stack connection.
  char buf[64];
  CHECK_EQ(write(p[1], "p", 1), 1);
  expect_one(ep, kPipe, EPOLLIN, __LINE__);
  CHECK_EQ(read(p[0], buf, sizeof buf), 1);
  CHECK_EQ(eventfd_write(efd, 3), 0);
  expect_one(ep, kEvfd, EPOLLIN, __LINE__);
  eventfd_t v = 0;
  CHECK_EQ(eventfd_read(efd, &v), 0);
  CHECK_EQ(v, 3);
  CHECK_EQ(write(sp[1], "s", 1), 1);
  expect_one(ep, kPair, EPOLLIN, __LINE__);
  CHECK_EQ(read(sp[0], buf, sizeof buf), 1);
  expect_none(ep, 100, __LINE__);

  // Data from the peer, edge-triggered: one event per arrival, none while nothing new comes.
  remote(c, "send:abc");
  expect_one(ep, kConn, EPOLLIN, __LINE__);
  expect_none(ep, 300, __LINE__);
  remote(c, "send:def");
  expect_one(ep, kConn, EPOLLIN, __LINE__);
  expect_none(ep, 300, __LINE__);
  CHECK_STR(read_exact(c, 6), "abcdef");
  CHECK_ERRNO(read(c, buf, sizeof buf), EAGAIN);

  // Everything at once: one event each, with its own data.
  remote(c, "send:xyz");
  CHECK_EQ(write(p[1], "p", 1), 1);
  CHECK_EQ(eventfd_write(efd, 1), 0);
  CHECK_EQ(write(sp[1], "s", 1), 1);
  // The kernel descriptors are level-triggered: every wait reports them until the stack's data
  // has come too; the wait that reports it has all four, each once.
  std::vector<Ev> evs;
  const std::int64_t end = now_ms() + 10000;
  auto has_conn = [&evs] {
    for (const Ev& e : evs) {
      if (e.data == kConn) return true;
    }
    return false;
  };
  while (!has_conn() && now_ms() < end) {
    evs = wait_once(ep, 1000);
    CHECKF(evs.size() <= 4, "one wait reported %s", describe(evs).c_str());
  }
  CHECKF(evs.size() == 4, "want 4 events, got %s", describe(evs).c_str());
  for (const std::uint64_t want : {kConn, kPipe, kEvfd, kPair}) {
    int seen = 0;
    for (const Ev& e : evs) seen += e.data == want && (e.events & EPOLLIN) != 0 ? 1 : 0;
    CHECKF(seen == 1, "0x%llx reported %d times: %s", static_cast<unsigned long long>(want), seen,
           describe(evs).c_str());
  }
  CHECK_STR(read_exact(c, 3), "xyz");
  CHECK_EQ(read(p[0], buf, sizeof buf), 1);
  CHECK_EQ(eventfd_read(efd, &v), 0);
  CHECK_EQ(read(sp[0], buf, sizeof buf), 1);

  // EPOLLONESHOT: one report, then nothing until re-armed with EPOLL_CTL_MOD.
  constexpr std::uint64_t kOnce = 0x6666, kRearmed = 0x7777;
  mod(c, EPOLLIN | EPOLLONESHOT, kOnce);
  remote(c, "send:1");
  expect_one(ep, kOnce, EPOLLIN, __LINE__);
  CHECK_STR(read_exact(c, 1), "1");
  remote(c, "send:2");
  expect_none(ep, 500, __LINE__);
  mod(c, EPOLLIN | EPOLLONESHOT, kRearmed);
  expect_one(ep, kRearmed, EPOLLIN, __LINE__);
  CHECK_STR(read_exact(c, 1), "2");

  // Idle: a timed wait returns 0 after about the timeout and costs (almost) no CPU.
  constexpr std::uint64_t kLevel = 0x8888;
  mod(c, EPOLLIN | EPOLLRDHUP, kLevel);
  {
    const double cpu0 = cpu_seconds();
    const std::int64_t t0 = now_ms();
    epoll_event ev[4];
    const int n = epoll_wait(ep, ev, 4, 1000);
    const std::int64_t took = now_ms() - t0;
    const double cpu = cpu_seconds() - cpu0;
    say("idle epoll_wait(1000): %d events, %lld ms, %.3f s CPU", n, static_cast<long long>(took), cpu);
    CHECK_EQ(n, 0);
    CHECKF(took >= 950 && took < 3000, "epoll_wait(1000) took %lld ms", static_cast<long long>(took));
    CHECKF(cpu < 0.1, "an idle epoll_wait(1000) used %.3f s of CPU", cpu);
  }

  // A signal whose handler has no SA_RESTART ends the wait with EINTR.
  {
    const std::int64_t t0 = now_ms();
    g_alarms = 0;
    alarm_in(200);
    epoll_event ev[4];
    CHECK_ERRNO(epoll_wait(ep, ev, 4, 5000), EINTR);
    const std::int64_t took = now_ms() - t0;
    CHECK_EQ(g_alarms, 1);
    CHECKF(took >= 150 && took < 2500, "EINTR after %lld ms", static_cast<long long>(took));
  }

  // EPOLLRDHUP when the peer shuts its side down; then end of stream.
  remote(c, "shutwr");
  expect_one(ep, kLevel, EPOLLIN | EPOLLRDHUP, __LINE__);
  CHECK_EQ(read(c, buf, sizeof buf), 0);

  CHECK_EQ(epoll_ctl(ep, EPOLL_CTL_DEL, c, nullptr), 0);
  CHECK_ERRNO(epoll_ctl(ep, EPOLL_CTL_DEL, c, nullptr), ENOENT);
  CHECK_EQ(epoll_ctl(ep, EPOLL_CTL_DEL, l, nullptr), 0);
  CHECK_EQ(close(l), 0);  // the listener first: see close_order
  remote(c, "close");
  CHECK_EQ(close(c), 0);
  for (const int fd : {p[0], p[1], efd, sp[0], sp[1], ep}) CHECK_EQ(close(fd), 0);
  return 0;
}

// ---------------------------------------------------------------------------------------------
// 3. poll() and select() over a stack connection, a stack listener and a pipe. Two clients (the
// second when the scenario prints NEXT).

int scenario_poll(const Args& a) {
  const int l = listen_on(a.stack_ip, a.port);
  start_stack(l);
  say("READY");
  int p[2];
  CHECK_EQ(pipe(p), 0);
  char buf[64];

  // The listener and a pipe: the connection is reported, the pipe not.
  {
    pollfd f[2] = {{l, POLLIN, 0}, {p[0], POLLIN, 0}};
    CHECK_EQ(poll(f, 2, 20000), 1);
    CHECK_EQ(f[0].revents, POLLIN);
    CHECK_EQ(f[1].revents, 0);
  }
  const int c = accept(l, nullptr, nullptr);
  CHECKF(c >= 0, "accept");
  CHECK(on_stack(c));

  auto poll2 = [&](short cev, int timeout, pollfd* f) {
    f[0] = {c, cev, 0};
    f[1] = {p[0], POLLIN, 0};
    return poll(f, 2, timeout);
  };
  pollfd f[2];
  // Nothing yet: a timed poll returns 0 after about its timeout.
  std::int64_t t0 = now_ms();
  CHECK_EQ(poll2(POLLIN, 400, f), 0);
  std::int64_t took = now_ms() - t0;
  CHECKF(took >= 350 && took < 2500, "poll(400) took %lld ms", static_cast<long long>(took));
  CHECK_EQ(f[0].revents, 0);
  CHECK_EQ(f[1].revents, 0);
  // The pipe alone.
  CHECK_EQ(write(p[1], "x", 1), 1);
  CHECK_EQ(poll2(POLLIN, 5000, f), 1);
  CHECK_EQ(f[0].revents, 0);
  CHECK_EQ(f[1].revents, POLLIN);
  CHECK_EQ(read(p[0], buf, 1), 1);
  // The connection alone.
  remote(c, "send:hi");
  CHECK_EQ(poll2(POLLIN, 10000, f), 1);
  CHECK_EQ(f[0].revents, POLLIN);
  CHECK_EQ(f[1].revents, 0);
  CHECK_STR(read_exact(c, 2), "hi");
  // Both.
  remote(c, "send:yo");
  CHECK_EQ(write(p[1], "x", 1), 1);
  {
    const std::int64_t end = now_ms() + 10000;
    int n = 0;
    do {
      n = poll2(POLLIN, 100, f);
    } while (n < 2 && now_ms() < end);
    CHECK_EQ(n, 2);
    CHECK_EQ(f[0].revents, POLLIN);
    CHECK_EQ(f[1].revents, POLLIN);
  }
  CHECK_STR(read_exact(c, 2), "yo");
  CHECK_EQ(read(p[0], buf, 1), 1);
  // Writable at once; POLLIN not asked, not reported.
  CHECK_EQ(poll2(POLLOUT, 0, f), 1);
  CHECK_EQ(f[0].revents, POLLOUT);

  // select(): the same, with FD_SET bits.
  auto sel = [&](bool want_write, int timeout_ms, fd_set* rd, fd_set* wr) {
    FD_ZERO(rd);
    FD_ZERO(wr);
    FD_SET(c, rd);
    FD_SET(p[0], rd);
    if (want_write) FD_SET(c, wr);
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    return select(std::max(c, p[0]) + 1, rd, wr, nullptr, &tv);
  };
  fd_set rd, wr;
  t0 = now_ms();
  CHECK_EQ(sel(false, 400, &rd, &wr), 0);
  took = now_ms() - t0;
  CHECKF(took >= 350 && took < 2500, "select(400 ms) took %lld ms", static_cast<long long>(took));
  CHECK(!FD_ISSET(c, &rd) && !FD_ISSET(p[0], &rd));
  CHECK_EQ(write(p[1], "x", 1), 1);
  CHECK_EQ(sel(false, 5000, &rd, &wr), 1);
  CHECK(!FD_ISSET(c, &rd) && FD_ISSET(p[0], &rd));
  CHECK_EQ(read(p[0], buf, 1), 1);
  remote(c, "send:sel");
  CHECK_EQ(sel(false, 10000, &rd, &wr), 1);
  CHECK(FD_ISSET(c, &rd) && !FD_ISSET(p[0], &rd));
  CHECK_STR(read_exact(c, 3), "sel");
  CHECK_EQ(sel(true, 5000, &rd, &wr), 1);
  CHECK(FD_ISSET(c, &wr) && !FD_ISSET(c, &rd));

  // The listener with the connection and the pipe: the second client's arrival.
  say("NEXT");
  {
    pollfd g[3] = {{l, POLLIN, 0}, {c, POLLIN, 0}, {p[0], POLLIN, 0}};
    CHECK_EQ(poll(g, 3, 20000), 1);
    CHECK_EQ(g[0].revents, POLLIN);
    CHECK_EQ(g[1].revents, 0);
    CHECK_EQ(g[2].revents, 0);
  }
  const int c2 = accept(l, nullptr, nullptr);
  CHECKF(c2 >= 0, "accept");
  remote(c2, "close");

  // End of stream: POLLIN and POLLRDHUP once the peer shut its side down.
  remote(c, "shutwr");
  {
    pollfd g{c, static_cast<short>(POLLIN | POLLRDHUP), 0};
    CHECK_EQ(poll(&g, 1, 10000), 1);
    CHECKF((g.revents & (POLLIN | POLLRDHUP)) == (POLLIN | POLLRDHUP), "revents 0x%x", g.revents);
  }
  CHECK_EQ(read(c, buf, sizeof buf), 0);
  {
    pollfd g{c2, POLLIN, 0};
    CHECK_EQ(poll(&g, 1, 10000), 1);
  }
  CHECK_EQ(read(c2, buf, sizeof buf), 0);
  for (const int fd : {l, c, c2, p[0], p[1]}) CHECK_EQ(close(fd), 0);  // the listener first: see close_order
  return 0;
}

// ---------------------------------------------------------------------------------------------
// 4. Blocking calls, receive flags, FIONREAD and socket options. One client, which connects
// about a second after READY.

int scenario_blocking(const Args& a) {
  const int l = listen_on(a.stack_ip, a.port);
  start_stack(l);
  CHECK(!nonblocking(l));
  say("READY");
  std::int64_t t0 = now_ms();
  const int c = accept(l, nullptr, nullptr);  // blocks until the (late) client comes
  std::int64_t took = now_ms() - t0;
  CHECKF(c >= 0, "accept");
  say("blocking accept returned fd %d after %lld ms", c, static_cast<long long>(took));
  CHECKF(took >= 500, "accept returned after %lld ms: it did not wait for the client",
         static_cast<long long>(took));
  CHECK(on_stack(c));
  CHECK(!nonblocking(c));

  // A blocking read waits for the data.
  char buf[64];
  remote(c, "sleep:600");
  remote(c, "send:late");
  t0 = now_ms();
  ssize_t r = read(c, buf, sizeof buf);
  took = now_ms() - t0;
  CHECK_EQ(r, 4);
  CHECK_STR(std::string(buf, 4), "late");
  CHECKF(took >= 400, "read returned after %lld ms", static_cast<long long>(took));

  // A signal interrupts a blocking read (handler without SA_RESTART).
  g_alarms = 0;
  alarm_in(200);
  t0 = now_ms();
  CHECK_ERRNO(read(c, buf, sizeof buf), EINTR);
  CHECK_EQ(g_alarms, 1);
  took = now_ms() - t0;
  CHECKF(took >= 150 && took < 2500, "EINTR after %lld ms", static_cast<long long>(took));

  // SO_RCVTIMEO: EAGAIN after the timeout; getsockopt says what was set.
  timeval tv{0, 300'000};
  CHECK_EQ(setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
  timeval got{};
  socklen_t gl = sizeof got;
  CHECK_EQ(getsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &got, &gl), 0);
  CHECK_EQ(got.tv_sec, 0);
  CHECK_EQ(got.tv_usec, 300'000);
  t0 = now_ms();
  CHECK_ERRNO(read(c, buf, sizeof buf), EAGAIN);
  took = now_ms() - t0;
  CHECKF(took >= 250 && took < 2500, "SO_RCVTIMEO 300 ms: EAGAIN after %lld ms",
         static_cast<long long>(took));
  CHECK_ERRNO(recv(c, buf, sizeof buf, 0), EAGAIN);
  tv = {10, 0};
  CHECK_EQ(setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);

  // MSG_PEEK (waits like a read), then read returns the same bytes.
  remote(c, "send:peekaboo");
  r = recv(c, buf, sizeof buf, MSG_PEEK);
  CHECK_EQ(r, 8);
  CHECK_STR(std::string(buf, 8), "peekaboo");
  r = recv(c, buf, 4, MSG_PEEK);
  CHECK_EQ(r, 4);
  CHECK_STR(std::string(buf, 4), "peek");
  int avail = -1;
  CHECK_EQ(ioctl(c, FIONREAD, &avail), 0);
  CHECK_EQ(avail, 8);
  r = read(c, buf, sizeof buf);
  CHECK_EQ(r, 8);
  CHECK_STR(std::string(buf, 8), "peekaboo");
  CHECK_EQ(ioctl(c, FIONREAD, &avail), 0);
  CHECK_EQ(avail, 0);
  CHECK_ERRNO(recv(c, buf, sizeof buf, MSG_DONTWAIT), EAGAIN);

  // FIONREAD counts what arrived and was not read.
  remote(c, "send:12345");
  wait_fd(c, POLLIN, 10000, __LINE__);
  CHECK_EQ(ioctl(c, FIONREAD, &avail), 0);
  CHECK_EQ(avail, 5);
  CHECK_STR(read_exact(c, 5), "12345");

  // MSG_WAITALL: all of it, across two arrivals.
  remote(c, "send:ab");
  remote(c, "sleep:300");
  remote(c, "send:cd");
  t0 = now_ms();
  r = recv(c, buf, 4, MSG_WAITALL);
  took = now_ms() - t0;
  CHECK_EQ(r, 4);
  CHECK_STR(std::string(buf, 4), "abcd");
  CHECKF(took >= 200, "MSG_WAITALL returned after %lld ms", static_cast<long long>(took));

  // TCP_INFO in Linux's layout: established, with an RTT and an MSS.
  tcp_info ti{};
  socklen_t tl = sizeof ti;
  CHECK_EQ(getsockopt(c, IPPROTO_TCP, TCP_INFO, &ti, &tl), 0);
  say("TCP_INFO: state %u rtt %u us snd_mss %u", ti.tcpi_state, ti.tcpi_rtt, ti.tcpi_snd_mss);
  CHECK_EQ(ti.tcpi_state, 1);    // TCP_ESTABLISHED
  CHECK_LATER(ti.tcpi_rtt > 0);  // Linux never says 0 once it has a sample
  CHECK(ti.tcpi_snd_mss > 0);
  CHECK(ti.tcpi_snd_mss <= 1460);

  // TCP_NODELAY set and read back.
  int v = -1;
  socklen_t vl = sizeof v;
  CHECK_EQ(getsockopt(c, IPPROTO_TCP, TCP_NODELAY, &v, &vl), 0);
  CHECK_EQ(v, 0);
  v = 1;
  CHECK_EQ(setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v), 0);
  v = -1;
  vl = sizeof v;
  CHECK_EQ(getsockopt(c, IPPROTO_TCP, TCP_NODELAY, &v, &vl), 0);
  CHECK(v != 0);
  v = 0;
  CHECK_EQ(setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v), 0);
  vl = sizeof v;
  CHECK_EQ(getsockopt(c, IPPROTO_TCP, TCP_NODELAY, &v, &vl), 0);
  CHECK_EQ(v, 0);
  vl = sizeof v;
  CHECK_EQ(getsockopt(c, SOL_SOCKET, SO_TYPE, &v, &vl), 0);
  CHECK_EQ(v, SOCK_STREAM);
  vl = sizeof v;
  CHECK_EQ(getsockopt(c, SOL_SOCKET, SO_ERROR, &v, &vl), 0);
  CHECK_EQ(v, 0);

  // Options the stack lacks fail loudly instead of pretending (the kernel has them).
  if (!g_reference) {
    v = 0x10;
    CHECK_ERRNO(setsockopt(c, IPPROTO_IP, IP_TOS, &v, sizeof v), ENOPROTOOPT);
    v = 5;
    CHECK_ERRNO(setsockopt(c, IPPROTO_TCP, TCP_FASTOPEN, &v, sizeof v), ENOPROTOOPT);
    vl = sizeof v;
    CHECK_ERRNO(getsockopt(c, IPPROTO_TCP, TCP_FASTOPEN, &v, &vl), ENOPROTOOPT);
  }
  // An unknown ioctl on a socket is ENOTTY, as Linux says.
  CHECK_ERRNO(ioctl(c, TIOCGWINSZ, buf), ENOTTY);

  // The connection still works after all that.
  remote(c, "echo:2");
  write_all(c, "ok");
  expect_read(c, "ok", __LINE__);
  remote(c, "close");
  tv = {5, 0};
  CHECK_EQ(setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
  CHECK_EQ(read(c, buf, sizeof buf), 0);  // blocking read: end of stream
  CHECK_EQ(close(l), 0);
  CHECK_EQ(close(c), 0);
  return 0;
}

// ---------------------------------------------------------------------------------------------
// 5. fork: children close or touch inherited stack sockets; the parent's keep working. Two
// clients (the second at NEXT).

void child_atexit() {
  std::printf("child %d: atexit ran\n", static_cast<int>(getpid()));
  std::fflush(stdout);
}

int wait_child(pid_t pid) {
  int status = 0;
  const std::int64_t end = now_ms() + 15000;
  for (;;) {
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    CHECKF(r == 0, "waitpid");
    CHECKF(now_ms() < end, "child %d did not exit", static_cast<int>(pid));
    usleep(10'000);
  }
  CHECKF(WIFEXITED(status), "child status 0x%x", status);
  return WEXITSTATUS(status);
}

int scenario_fork(const Args& a) {
  const int l = listen_on(a.stack_ip, a.port);
  start_stack(l);
  say("READY");
  const int c = accept(l, nullptr, nullptr);
  CHECKF(c >= 0, "accept");
  CHECK(on_stack(c));
  remote(c, "send:one");
  expect_read(c, "one", __LINE__);

  // A child closes the inherited listener and connection and exits through exit().
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    std::atexit(child_atexit);
    if (close(l) != 0 || close(c) != 0) {
      std::printf("child: close: %s\n", std::strerror(errno));
      std::exit(3);
    }
    std::exit(0);
  }
  CHECK_EQ(wait_child(pid), 0);

  // The parent's connection is intact, both ways.
  remote(c, "send:two");
  expect_read(c, "two", __LINE__);
  remote(c, "echo:3");
  write_all(c, "xyz");
  expect_read(c, "xyz", __LINE__);

  // A child that uses the inherited connection gets EBADF (the connection is the parent's), and
  // can still close it. (The kernel lets the child use it: not in the reference run.)
  pid = g_reference ? -2 : fork();
  CHECK(pid >= 0 || pid == -2);
  if (pid == 0) {
    char b[8];
    int bad = 0;
    auto ebadf = [&bad](long long r, const char* what) {
      if (r != -1 || errno != EBADF) {
        std::printf("child: %s: want EBADF, got %lld errno %d\n", what, r, errno);
        ++bad;
      }
    };
    errno = 0;
    ebadf(read(c, b, sizeof b), "read");
    errno = 0;
    ebadf(recv(c, b, sizeof b, MSG_DONTWAIT), "recv");
    errno = 0;
    ebadf(write(c, "no", 2), "write");
    errno = 0;
    ebadf(send(c, "no", 2, MSG_NOSIGNAL), "send");
    errno = 0;
    ebadf(shutdown(c, SHUT_RDWR), "shutdown");
    int one = 1;
    errno = 0;
    ebadf(setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one), "setsockopt");
    if (close(c) != 0) ++bad;
    std::exit(bad == 0 ? 0 : 4);
  }
  if (pid > 0) CHECK_EQ(wait_child(pid), 0);
  remote(c, "send:three");
  expect_read(c, "three", __LINE__);

  // A child that exits without closing anything (the descriptors close with the process).
  pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) std::exit(0);
  CHECK_EQ(wait_child(pid), 0);
  remote(c, "echo:4");
  write_all(c, "four");
  expect_read(c, "four", __LINE__);

  // The listener still accepts, over the stack.
  say("NEXT");
  const int c2 = accept(l, nullptr, nullptr);
  CHECKF(c2 >= 0, "accept");
  CHECK(on_stack(c2));
  remote(c2, "send:new");
  expect_read(c2, "new", __LINE__);
  remote(c, "send:old");
  expect_read(c, "old", __LINE__);
  for (const int fd : {l, c, c2}) CHECK_EQ(close(fd), 0);  // the listener first: see close_order
  return 0;
}

// ---------------------------------------------------------------------------------------------
// 6. Loopback stays with the kernel: a wildcard listener serves 127.0.0.1 (kernel) and the peer
// (stack); a listener bound to 127.0.0.1 is the kernel's alone. Clients: the peer and 127.0.0.1 at
// READY, 127.0.0.1:PORT2 at NEXT.

int scenario_loopback(const Args& a) {
  const int l = listen_on("0.0.0.0", a.port);
  start_stack(l);
  say("READY");
  int stack_conns = 0;
  int kernel_conns = 0;
  int conns[2] = {-1, -1};
  for (int i = 0; i < 2; ++i) {
    sockaddr_storage peer{};
    socklen_t plen = sizeof peer;
    const int c = accept(l, reinterpret_cast<sockaddr*>(&peer), &plen);
    CHECKF(c >= 0, "accept");
    const std::string who = ip_of(peer);
    const bool kernel = kernel_connected(c);
    say("accepted %s:%d on fd %d: %s", who.c_str(), port_of(peer), c, kernel ? "kernel" : "stack");
    if (who == "127.0.0.1") {
      CHECKF(kernel, "a loopback connection was not the kernel's");
      CHECK_STR(sock_name(c).ip, "127.0.0.1");
      ++kernel_conns;
    } else {
      CHECK_STR(who, a.peer_ip);
      CHECKF(!kernel, "the peer's connection was not the stack's");
      CHECK_STR(sock_name(c).ip, a.stack_ip);
      ++stack_conns;
    }
    CHECK_EQ(sock_name(c).port, a.port);
    CHECK_STR(peer_name(c).ip, who);
    const std::string word = kernel ? "kernel" : "stack";
    remote(c, "send:" + word);
    expect_read(c, word, __LINE__);
    remote(c, "echo:4");
    write_all(c, "ping");
    expect_read(c, "ping", __LINE__);
    conns[i] = c;
  }
  CHECK_EQ(stack_conns, 1);
  CHECK_EQ(kernel_conns, 1);
  CHECK_EQ(close(l), 0);  // the listener first: see close_order
  for (const int c : conns) {
    remote(c, "close");
    CHECK_EQ(close(c), 0);
  }

  // Bound to 127.0.0.1: the kernel's alone.
  const int l2 = listen_on("127.0.0.1", a.port2);
  say("NEXT");
  const int c = accept(l2, nullptr, nullptr);
  CHECKF(c >= 0, "accept");
  CHECKF(kernel_connected(c), "the connection to 127.0.0.1 was not the kernel's");
  CHECK_STR(sock_name(c).ip, "127.0.0.1");
  CHECK_EQ(sock_name(c).port, a.port2);
  remote(c, "send:lo");
  expect_read(c, "lo", __LINE__);
  remote(c, "close");
  CHECK_EQ(close(c), 0);
  CHECK_EQ(close(l2), 0);
  return 0;
}

// ---------------------------------------------------------------------------------------------
// 7. Active opens: to the peer through the served interface (the stack), blocking and
// non-blocking; to 127.0.0.1 (the kernel). Echo servers: the peer's at PEER_IP:PORT, the root
// namespace's at 127.0.0.1:PORT2 (socat ... EXEC:cat).

int connect_to(const std::string& ip, int port, bool nonblock) {
  const Addr dst = make_addr(ip, port);
  const int s = socket(dst.family(), SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0);
  CHECK(s >= 0);
  const int r = connect(s, reinterpret_cast<const sockaddr*>(&dst.ss), dst.len);
  if (!nonblock) {
    CHECKF(r == 0, "connect to %s:%d", ip.c_str(), port);
    return s;
  }
  CHECKF(r == -1 && errno == EINPROGRESS, "non-blocking connect to %s:%d returned %d", ip.c_str(), port, r);
  wait_fd(s, POLLOUT, 10000, __LINE__);
  int err = -1;
  socklen_t el = sizeof err;
  CHECK_EQ(getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &el), 0);
  CHECKF(err == 0, "SO_ERROR %d (%s)", err, std::strerror(err));
  return s;
}

void echo_check(int s, const std::string& text) {
  write_all(s, text);
  expect_read(s, text, __LINE__);
}

int scenario_connect(const Args& a) {
  for (const bool nonblock : {false, true}) {
    const int s = connect_to(a.peer_ip, a.port, nonblock);
    CHECKF(!kernel_connected(s), "the connection to %s went through the kernel", a.peer_ip.c_str());
    CHECK_STR(peer_name(s).ip, a.peer_ip);
    CHECK_EQ(peer_name(s).port, a.port);
    const Name me = sock_name(s);
    CHECK_STR(me.ip, a.stack_ip);
    CHECK(me.port > 0);
    say("stack connection %s:%d -> %s:%d (%s)", me.ip.c_str(), me.port, a.peer_ip.c_str(), a.port,
        nonblock ? "non-blocking" : "blocking");
    echo_check(s, nonblock ? "over the stack, non-blocking" : "over the stack");
    echo_check(s, std::string(20000, 'z'));  // several segments each way
    CHECK_EQ(shutdown(s, SHUT_WR), 0);
    char b[8];
    wait_fd(s, POLLIN, 10000, __LINE__);
    CHECK_EQ(read(s, b, sizeof b), 0);  // cat saw the end and ended too
    CHECK_EQ(close(s), 0);
  }
  const int k = connect_to("127.0.0.1", a.port2, false);
  CHECKF(kernel_connected(k), "the connection to 127.0.0.1 was not the kernel's");
  CHECK_STR(sock_name(k).ip, "127.0.0.1");
  echo_check(k, "over loopback");
  CHECK_EQ(close(k), 0);
  return 0;
}

// ---------------------------------------------------------------------------------------------
// 8. Closing order: the application closes a connection, then its listener, and goes on running
// (driving the stack through another stack socket). The connection's last data and FIN must reach
// the peer, which sees an orderly end of stream (the test checks its exit status): closing a
// listener must not reset the connections it once accepted. One client.

int scenario_close_order(const Args& a) {
  const int l = listen_on(a.stack_ip, a.port);
  const int other = listen_on(a.stack_ip, a.port2);  // a stack socket to drive the engine with
  start_stack(l);
  say("READY");
  const int c = accept(l, nullptr, nullptr);
  CHECKF(c >= 0, "accept");
  remote(c, "echo:5");
  write_all(c, "hello");
  expect_read(c, "hello", __LINE__);
  remote(c, "sleep:1");  // the last bytes the peer reads before the end of the stream
  CHECK_EQ(close(c), 0);
  CHECK_EQ(close(l), 0);
  // Run the stack for a while (poll on a stack listener drives the engine), as a server would.
  pollfd p{other, POLLIN, 0};
  CHECK_EQ(poll(&p, 1, 1500), 0);
  CHECK_EQ(close(other), 0);
  return 0;
}

// ---------------------------------------------------------------------------------------------
// The remote-controlled peer.

int client(const std::string& ip, int port, int delay_ms) {
  if (delay_ms > 0) usleep(static_cast<useconds_t>(delay_ms) * 1000);
  const Addr dst = make_addr(ip, port);
  int s = -1;
  const std::int64_t end = now_ms() + 15000;
  for (;;) {
    s = socket(dst.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) return 2;
    if (connect(s, reinterpret_cast<const sockaddr*>(&dst.ss), dst.len) == 0) break;
    const int err = errno;
    close(s);
    if (err != ECONNREFUSED || now_ms() > end) {
      std::fprintf(stderr, "client: connect %s:%d: %s\n", ip.c_str(), port, std::strerror(err));
      return 2;
    }
    usleep(100'000);
  }
  std::fprintf(stderr, "client: connected to %s:%d\n", ip.c_str(), port);
  std::string in;
  char buf[4096];
  auto fill = [&]() -> int {  // 1 more data, 0 end of stream, -1 error
    const ssize_t r = read(s, buf, sizeof buf);
    if (r < 0 && errno == EINTR) return 1;
    if (r < 0) {
      std::fprintf(stderr, "client: read: %s\n", std::strerror(errno));
      return -1;
    }
    if (r == 0) return 0;
    in.append(buf, static_cast<std::size_t>(r));
    return 1;
  };
  auto put = [s](const std::string& text) {
    std::size_t off = 0;
    while (off < text.size()) {
      const ssize_t w = write(s, text.data() + off, text.size() - off);
      if (w <= 0) {
        std::fprintf(stderr, "client: write: %s\n", std::strerror(errno));
        std::exit(2);
      }
      off += static_cast<std::size_t>(w);
    }
  };
  for (;;) {
    const std::size_t nl = in.find('\n');
    if (nl == std::string::npos) {
      const int f = fill();
      if (f == 0) {
        std::fprintf(stderr, "client: end of stream\n");
        close(s);
        return in.empty() ? 0 : 2;
      }
      if (f < 0) return 2;
      continue;
    }
    const std::string cmd = in.substr(0, nl);
    in.erase(0, nl + 1);
    if (cmd.rfind("send:", 0) == 0) {
      put(cmd.substr(5));
    } else if (cmd.rfind("sleep:", 0) == 0) {
      usleep(static_cast<useconds_t>(std::atoi(cmd.c_str() + 6)) * 1000);
    } else if (cmd.rfind("echo:", 0) == 0) {
      const std::size_t n = std::strtoul(cmd.c_str() + 5, nullptr, 10);
      while (in.size() < n) {
        const int f = fill();
        if (f <= 0) {
          std::fprintf(stderr, "client: stream ended inside echo data\n");
          return 2;
        }
      }
      put(in.substr(0, n));
      in.erase(0, n);
    } else if (cmd == "shutwr") {
      shutdown(s, SHUT_WR);
    } else if (cmd == "close") {
      std::fprintf(stderr, "client: closing\n");
      close(s);
      return 0;
    } else {
      std::fprintf(stderr, "client: unknown command '%s'\n", cmd.c_str());
      return 2;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  const std::string scenario = argc > 1 ? argv[1] : "";
  if (scenario == "client" && argc >= 4) {
    return client(argv[2], std::atoi(argv[3]), argc > 4 ? std::atoi(argv[4]) : 0);
  }
  if (argc < 5) {
    std::fprintf(stderr,
                 "usage: preload_probe fd|epoll|poll|blocking|fork|loopback|connect|close_order STACK_IP "
                 "PEER_IP PORT [PORT2]\n"
                 "       preload_probe client IP PORT [DELAY_MS]\n");
    return 64;
  }
  signal(SIGPIPE, SIG_IGN);
  const char* ref = std::getenv("PRELOAD_PROBE_REFERENCE");
  g_reference = ref != nullptr && std::strcmp(ref, "1") == 0;
  const Args a{argv[2], argv[3], std::atoi(argv[4]), argc > 5 ? std::atoi(argv[5]) : 0};
  int (*run)(const Args&) = nullptr;
  if (scenario == "fd") run = scenario_fd;
  if (scenario == "epoll") run = scenario_epoll;
  if (scenario == "poll") run = scenario_poll;
  if (scenario == "blocking") run = scenario_blocking;
  if (scenario == "fork") run = scenario_fork;
  if (scenario == "loopback") run = scenario_loopback;
  if (scenario == "connect") run = scenario_connect;
  if (scenario == "close_order") run = scenario_close_order;
  if (run == nullptr) {
    std::fprintf(stderr, "preload_probe: unknown scenario '%s'\n", scenario.c_str());
    return 64;
  }
  const int rc = run(a);
  if (g_deferred > 0) {
    std::printf("FAIL: %d check(s) failed\n", g_deferred);
    return 1;
  }
  std::printf("PASS %s\n", scenario.c_str());
  return rc;
}
