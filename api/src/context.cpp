// xdptcp::Context: BSD-like calls over one engine's TcpStack, -1/errno like libc.
#include <netinet/tcp.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "api/src/context_impl.h"
#include "api/src/linux_tcp_info.h"

namespace xdptcp {

namespace {

// Negative errno from the TCP core -> -1 and errno.
template <typename T>
T ret(T r) {
  if (r < 0) {
    errno = static_cast<int>(-r);
    return -1;
  }
  return r;
}

int fail(int e) {
  errno = e;
  return -1;
}

}  // namespace

namespace detail {

ContextImpl::ContextImpl(engine::Engine& e, unsigned id, const std::atomic<bool>* stop, PortClaims* c)
    : engine(e),
      engine_id(id),
      stop_flag(stop),
      claims(c),
      listening(e.max_sockets(), 0),
      claimed(e.max_sockets()) {}

ContextImpl::~ContextImpl() {
  // Listeners still open when the application returns give their ports back.
  for (std::size_t fd = 0; fd < listening.size(); ++fd) {
    if (listening[fd] != 0 && claims != nullptr) claims->release(claimed[fd]);
  }
}

int from_sockaddr(const sockaddr* addr, socklen_t len, wire::SockAddr* out) {
  if (addr == nullptr) return -EFAULT;
  if (addr->sa_family == AF_INET) {
    if (len < static_cast<socklen_t>(sizeof(sockaddr_in))) return -EINVAL;
    const auto* sin = reinterpret_cast<const sockaddr_in*>(addr);
    out->ip = wire::IpAddr::v4_bytes(reinterpret_cast<const std::uint8_t*>(&sin->sin_addr));
    out->port = ntohs(sin->sin_port);
    return 0;
  }
  if (addr->sa_family == AF_INET6) {
    if (len < static_cast<socklen_t>(sizeof(sockaddr_in6))) return -EINVAL;
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(addr);
    out->ip = wire::IpAddr::v6_bytes(reinterpret_cast<const std::uint8_t*>(&sin6->sin6_addr));
    out->port = ntohs(sin6->sin6_port);
    return 0;
  }
  return -EAFNOSUPPORT;
}

void to_sockaddr(const wire::SockAddr& a, sockaddr* addr, socklen_t* len) {
  if (addr == nullptr || len == nullptr) return;
  sockaddr_storage ss{};
  socklen_t n = 0;
  if (a.ip.is_v4()) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(a.port);
    std::memcpy(&sin->sin_addr, a.ip.bytes.data(), 4);
    n = sizeof *sin;
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(a.port);
    std::memcpy(&sin6->sin6_addr, a.ip.bytes.data(), 16);
    n = sizeof *sin6;
  }
  // Like the kernel: copy what fits, report the full length.
  std::memcpy(addr, &ss, std::min(n, *len));
  *len = n;
}

}  // namespace detail

unsigned Context::engine_id() const {
  return impl_->engine_id;
}

bool Context::stopping() const {
  return impl_->stop_flag != nullptr && impl_->stop_flag->load(std::memory_order_relaxed);
}

ContextStats Context::stats() const {
  const tcp::TcpStats& t = impl_->engine.tcp().stats();
  const engine::EngineStats& e = impl_->engine.stats();
  ContextStats s;
  s.engine_id = impl_->engine_id;
  s.conns_accepted = t.conns_accepted;
  s.conns_opened = t.conns_opened;
  s.conns_reset = t.conns_reset;
  s.conns_timed_out = t.conns_timed_out;
  s.conns_refused = t.conns_refused;
  s.segments_in = t.segments_in;
  s.segments_out = t.segments_out;
  s.retransmits = t.retransmits;
  s.drops = t.total_drops();
  s.rx_frames = e.rx_frames;
  s.tx_frames = e.tx_frames;
  s.handoffs = e.handoffs_out;
  s.handoffs_in = e.handoffs_in;
  s.polls = e.iterations;
  s.sleeps = e.sleeps;
  const io::IoStats io = impl_->engine.io_stats();
  s.tx_kicks = io.kicks;
  s.rx_kernel_drops = io.rx_dropped + io.rx_ring_full;
  return s;
}

int Context::socket(int family, int type, int protocol) {
  if (family != AF_INET && family != AF_INET6) return fail(EAFNOSUPPORT);
  if ((type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) != SOCK_STREAM) return fail(EPROTONOSUPPORT);
  if (protocol != 0 && protocol != IPPROTO_TCP) return fail(EPROTONOSUPPORT);
  return ret(impl_->engine.tcp().socket(family == AF_INET ? wire::IpFamily::kV4 : wire::IpFamily::kV6));
}

int Context::bind(int fd, const sockaddr* addr, socklen_t len) {
  wire::SockAddr a;
  if (const int e = detail::from_sockaddr(addr, len, &a); e < 0) return fail(-e);
  return ret(impl_->engine.tcp().bind(fd, a));
}

int Context::listen(int fd, int backlog) {
  auto& tcp = impl_->engine.tcp();
  wire::SockAddr local;
  if (const int e = tcp.getsockname(fd, &local); e < 0) return fail(-e);
  if (local.port == 0) return fail(EINVAL);  // listen without bind: the kernel would pick a port; we do not
  const bool needs_claim = impl_->claims != nullptr && impl_->listening[static_cast<std::size_t>(fd)] == 0;
  if (needs_claim) {
    if (const int e = impl_->claims->claim(local); e < 0) return fail(-e);
  }
  const int r = tcp.listen(fd, backlog);
  if (r < 0) {
    if (needs_claim) impl_->claims->release(local);
    return fail(-r);
  }
  if (needs_claim) {
    impl_->listening[static_cast<std::size_t>(fd)] = 1;
    impl_->claimed[static_cast<std::size_t>(fd)] = local;
  }
  return 0;
}

int Context::accept(int fd, sockaddr* addr, socklen_t* len) {
  wire::SockAddr peer;
  const int s = impl_->engine.tcp().accept(fd, &peer);
  if (s < 0) return fail(-s);
  detail::to_sockaddr(peer, addr, len);
  return s;
}

int Context::connect(int fd, const sockaddr* addr, socklen_t len) {
  wire::SockAddr a;
  if (const int e = detail::from_sockaddr(addr, len, &a); e < 0) return fail(-e);
  return ret(impl_->engine.connect(fd, a));
}

ssize_t Context::read(int fd, void* buf, std::size_t len) {
  return ret(impl_->engine.tcp().recv(fd, {static_cast<std::uint8_t*>(buf), len}, impl_->engine.now()));
}

ssize_t Context::write(int fd, const void* buf, std::size_t len) {
  return ret(impl_->engine.tcp().send(fd, {static_cast<const std::uint8_t*>(buf), len}, impl_->engine.now()));
}

ssize_t Context::readv(int fd, const iovec* iov, int iovcnt) {
  if (iovcnt < 0 || iovcnt > IOV_MAX) return fail(EINVAL);
  ssize_t total = 0;
  for (int i = 0; i < iovcnt; ++i) {
    if (iov[i].iov_len == 0) continue;
    const ssize_t r = impl_->engine.tcp().recv(
        fd, {static_cast<std::uint8_t*>(iov[i].iov_base), iov[i].iov_len}, impl_->engine.now());
    if (r < 0) return total > 0 ? total : ret(r);
    total += r;
    if (static_cast<std::size_t>(r) < iov[i].iov_len) break;  // drained (or EOF)
  }
  return total;
}

ssize_t Context::writev(int fd, const iovec* iov, int iovcnt) {
  if (iovcnt < 0 || iovcnt > IOV_MAX) return fail(EINVAL);
  ssize_t total = 0;
  for (int i = 0; i < iovcnt; ++i) {
    if (iov[i].iov_len == 0) continue;
    const ssize_t r = impl_->engine.tcp().send(
        fd, {static_cast<const std::uint8_t*>(iov[i].iov_base), iov[i].iov_len}, impl_->engine.now());
    if (r < 0) return total > 0 ? total : ret(r);
    total += r;
    if (static_cast<std::size_t>(r) < iov[i].iov_len) break;  // send buffer full
  }
  return total;
}

ssize_t Context::recv(int fd, void* buf, std::size_t len, int flags) {
  if ((flags & ~(MSG_PEEK | MSG_DONTWAIT | MSG_NOSIGNAL)) != 0) return fail(EOPNOTSUPP);
  const std::span<std::uint8_t> out{static_cast<std::uint8_t*>(buf), len};
  tcp::RecvFlags f;
  f.peek = (flags & MSG_PEEK) != 0;
  return ret(impl_->engine.tcp().recv(fd, out, impl_->engine.now(), f));
}

ssize_t Context::send(int fd, const void* buf, std::size_t len, int flags) {
  if ((flags & ~(MSG_MORE | MSG_DONTWAIT | MSG_NOSIGNAL | MSG_EOR)) != 0) return fail(EOPNOTSUPP);
  tcp::SendFlags f;
  f.more = (flags & MSG_MORE) != 0;  // Linux tcp_sendmsg(): TCP_NAGLE_CORK for this call
  return ret(
      impl_->engine.tcp().send(fd, {static_cast<const std::uint8_t*>(buf), len}, impl_->engine.now(), f));
}

std::uint32_t Context::poll_events(int fd) const {
  const auto& tcp = impl_->engine.tcp();
  wire::SockAddr unused;
  if (tcp.getsockname(fd, &unused) == -EBADF) {
    errno = EBADF;
    return 0;
  }
  return tcp.poll_events(fd);
}

int Context::readable_bytes(int fd) const {
  const auto& tcp = impl_->engine.tcp();
  wire::SockAddr unused;
  if (tcp.getsockname(fd, &unused) == -EBADF) return fail(EBADF);
  if (tcp.state(fd) == tcp::TcpState::kListen) return fail(EINVAL);  // Linux: SIOCINQ on a listener
  return static_cast<int>(std::min<std::size_t>(tcp.readable_bytes(fd), INT32_MAX));
}

int Context::queued_bytes(int fd, bool unsent_only) const {
  const auto& tcp = impl_->engine.tcp();
  wire::SockAddr unused;
  if (tcp.getsockname(fd, &unused) == -EBADF) return fail(EBADF);
  const tcp::TcpState st = tcp.state(fd);
  if (st == tcp::TcpState::kListen) return fail(EINVAL);  // Linux tcp_ioctl()
  // Linux tcp_ioctl(): 0 in SYN-SENT and SYN-RECEIVED (write_seq - snd_una only once synchronized).
  if (st == tcp::TcpState::kSynSent || st == tcp::TcpState::kSynReceived) return 0;
  const std::size_t n = unsent_only ? tcp.unsent_bytes(fd) : tcp.unsent_or_unacked_bytes(fd);
  return static_cast<int>(std::min<std::size_t>(n, INT32_MAX));
}

std::size_t Context::closing_with_data() const {
  const tcp::TcpStack& t = impl_->engine.tcp();
  const Instant now = impl_->engine.now();
  std::size_t n = 0;
  tcp::SocketView v;
  for (std::uint32_t slot = 0; slot < t.tcb_slots(); ++slot) {
    if (!t.inspect(slot, &v, now)) continue;
    if (v.state == tcp::TcpState::kFinWait1 || v.state == tcp::TcpState::kClosing ||
        v.state == tcp::TcpState::kLastAck)
      ++n;
  }
  return n;
}

void Context::poll_once() {
  impl_->engine.poll();
}

int Context::begin_sleep(int max_ms) {
  const Duration max = max_ms < 0 ? Duration::seconds(3600) : Duration::millis(max_ms);
  const std::optional<Duration> d = impl_->engine.begin_sleep(max);
  if (!d) return 0;
  if (max_ms < 0 && !impl_->engine.tcp().next_timer()) return -1;
  return static_cast<int>(std::min<std::int64_t>((d->ns + 999'999) / 1'000'000, INT32_MAX));
}

void Context::end_sleep() {
  impl_->engine.end_sleep();
}

std::vector<int> Context::wait_fds() const {
  std::vector<int> fds;
  impl_->engine.poll_fds(fds);
  return fds;
}

int Context::shutdown(int fd, int how) {
  return ret(impl_->engine.tcp().shutdown(fd, how, impl_->engine.now()));
}

int Context::close(int fd) {
  if (fd >= impl_->epoll_base()) {
    const int k = fd - impl_->epoll_base();
    if (k >= detail::ContextImpl::kMaxEpolls || !impl_->epolls[static_cast<std::size_t>(k)])
      return fail(EBADF);
    impl_->epolls[static_cast<std::size_t>(k)].reset();
    return 0;
  }
  const int r = impl_->engine.tcp().close(fd, impl_->engine.now());
  if (r < 0) return fail(-r);
  for (auto& q : impl_->epolls) {
    if (q) q->forget(fd);
  }
  if (fd >= 0 && impl_->listening[static_cast<std::size_t>(fd)] != 0) {
    impl_->listening[static_cast<std::size_t>(fd)] = 0;
    impl_->claims->release(impl_->claimed[static_cast<std::size_t>(fd)]);
  }
  return 0;
}

int Context::getsockname(int fd, sockaddr* addr, socklen_t* len) {
  wire::SockAddr a;
  if (const int e = impl_->engine.tcp().getsockname(fd, &a); e < 0) return fail(-e);
  detail::to_sockaddr(a, addr, len);
  return 0;
}

int Context::getpeername(int fd, sockaddr* addr, socklen_t* len) {
  wire::SockAddr a;
  if (const int e = impl_->engine.tcp().getpeername(fd, &a); e < 0) return fail(-e);
  detail::to_sockaddr(a, addr, len);
  return 0;
}

namespace {

bool map_option(int level, int name, tcp::SockOpt* out) {
  if (level == SOL_SOCKET) {
    switch (name) {
      case SO_REUSEADDR:
        *out = tcp::SockOpt::kReuseAddr;
        return true;
      case SO_RCVBUF:
        *out = tcp::SockOpt::kRcvBuf;
        return true;
      case SO_SNDBUF:
        *out = tcp::SockOpt::kSndBuf;
        return true;
      case SO_KEEPALIVE:
        *out = tcp::SockOpt::kKeepAlive;
        return true;
      case SO_LINGER:
        *out = tcp::SockOpt::kLinger;
        return true;
      case SO_ERROR:
        *out = tcp::SockOpt::kError;
        return true;
      default:
        return false;
    }
  }
  if (level == IPPROTO_TCP) {
    switch (name) {
      case TCP_NODELAY:
        *out = tcp::SockOpt::kNoDelay;
        return true;
      case TCP_CONGESTION:
        *out = tcp::SockOpt::kCongestion;
        return true;
      case TCP_KEEPIDLE:
        *out = tcp::SockOpt::kKeepIdle;
        return true;
      case TCP_KEEPINTVL:
        *out = tcp::SockOpt::kKeepIntvl;
        return true;
      case TCP_KEEPCNT:
        *out = tcp::SockOpt::kKeepCnt;
        return true;
      case TCP_MAXSEG:
        *out = tcp::SockOpt::kMaxSeg;
        return true;
      case TCP_USER_TIMEOUT:
        *out = tcp::SockOpt::kUserTimeout;
        return true;
      case TCP_CORK:
        *out = tcp::SockOpt::kCork;
        return true;
      case TCP_QUICKACK:
        *out = tcp::SockOpt::kQuickAck;
        return true;
      default:
        return false;
    }
  }
  return false;
}

}  // namespace

int Context::setsockopt(int fd, int level, int name, const void* value, socklen_t len) {
  // Linux's order of checks (sock_setsockopt(), do_tcp_setsockopt()): at a level it knows, the
  // length first (EINVAL below an int, whatever the name), then the copy (EFAULT), then the name
  // (ENOPROTOOPT); TCP_CONGESTION takes a string of at least one byte.
  if (level != SOL_SOCKET && level != IPPROTO_TCP) return fail(ENOPROTOOPT);
  const bool cong = level == IPPROTO_TCP && name == TCP_CONGESTION;
  if (cong ? len < 1 : len < static_cast<socklen_t>(sizeof(int))) return fail(EINVAL);
  if (value == nullptr) return fail(EFAULT);
  tcp::SockOpt opt{};
  if (!map_option(level, name, &opt)) return fail(ENOPROTOOPT);
  int v = 0;
  if (opt == tcp::SockOpt::kLinger) {
    if (len < static_cast<socklen_t>(sizeof(linger))) return fail(EINVAL);
    const auto* l = static_cast<const linger*>(value);
    v = l->l_onoff != 0 ? l->l_linger : -1;
  } else if (opt == tcp::SockOpt::kCongestion) {
    tcp::CcAlgorithm a{};
    const std::string_view nm(static_cast<const char*>(value), strnlen(static_cast<const char*>(value), len));
    if (!tcp::parse_cc_algorithm(nm, a)) return fail(ENOENT);  // Linux: unknown algorithm
    v = static_cast<int>(a);
  } else if (opt == tcp::SockOpt::kError) {
    return fail(ENOPROTOOPT);  // get only
  } else {
    std::memcpy(&v, value, sizeof v);
  }
  return ret(impl_->engine.tcp().setsockopt(fd, opt, v));
}

int Context::getsockopt(int fd, int level, int name, void* value, socklen_t* len) {
  if (level == IPPROTO_TCP && name == TCP_INFO) {
    if (value == nullptr || len == nullptr) return fail(EFAULT);
    tcp::TcpInfoSnapshot info;
    if (const int e = impl_->engine.tcp().tcp_info(fd, &info, impl_->engine.now()); e < 0) return fail(-e);
    detail::linux_tcp_info(info, value, len);
    return 0;
  }
  tcp::SockOpt opt{};
  if (!map_option(level, name, &opt)) return fail(ENOPROTOOPT);
  if (value == nullptr || len == nullptr) return fail(EFAULT);
  // Linux (sock_getsockopt(), do_tcp_getsockopt()): a length that is negative as an int is
  // EINVAL; a short one gets the value truncated to it, and *len says how much was written.
  if (static_cast<int>(*len) < 0) return fail(EINVAL);
  int v = 0;
  if (const int e = impl_->engine.tcp().getsockopt(fd, opt, &v); e < 0) return fail(-e);
  if (opt == tcp::SockOpt::kLinger) {
    linger l{v >= 0 ? 1 : 0, v >= 0 ? v : 0};
    const std::size_t n = std::min<std::size_t>(*len, sizeof l);
    std::memcpy(value, &l, n);
    *len = static_cast<socklen_t>(n);
  } else if (opt == tcp::SockOpt::kCongestion) {
    const std::string_view nm = tcp::cc_algorithm_name(static_cast<tcp::CcAlgorithm>(v));
    const std::size_t n = std::min<std::size_t>(*len, nm.size());
    std::memcpy(value, nm.data(), n);
    if (n < *len) static_cast<char*>(value)[n] = '\0';
    *len = static_cast<socklen_t>(n);
  } else {
    const std::size_t n = std::min<std::size_t>(*len, sizeof v);
    std::memcpy(value, &v, n);
    *len = static_cast<socklen_t>(n);
  }
  return 0;
}

int Context::epoll_create() {
  for (int k = 0; k < detail::ContextImpl::kMaxEpolls; ++k) {
    auto& slot = impl_->epolls[static_cast<std::size_t>(k)];
    if (!slot) {
      slot = std::make_unique<engine::EventQueue>(impl_->engine);
      if (!slot->valid()) {
        slot.reset();
        return fail(EMFILE);
      }
      return impl_->epoll_base() + k;
    }
  }
  return fail(EMFILE);
}

namespace {
engine::EventQueue* find_epoll(detail::ContextImpl* impl, int epfd) {
  const int k = epfd - impl->epoll_base();
  if (k < 0 || k >= detail::ContextImpl::kMaxEpolls) return nullptr;
  return impl->epolls[static_cast<std::size_t>(k)].get();
}
}  // namespace

bool Context::epoll_pending(int epfd) const {
  const engine::EventQueue* q = find_epoll(impl_, epfd);
  return q != nullptr && q->may_have_events();
}

std::uint64_t Context::activity() const {
  const engine::EngineStats& e = impl_->engine.stats();
  return e.rx_frames + e.handoffs_in;
}

int Context::epoll_ctl(int epfd, int op, int fd, epoll_event* event) {
  engine::EventQueue* q = find_epoll(impl_, epfd);
  if (q == nullptr) return fail(EBADF);
  if (fd == epfd) return fail(EINVAL);
  if (op != EPOLL_CTL_DEL && event == nullptr) return fail(EFAULT);
  const std::uint32_t ev = event != nullptr ? event->events : 0;
  const std::uint64_t data = event != nullptr ? event->data.u64 : 0;
  return ret(q->ctl(op, fd, ev, data));
}

int Context::epoll_wait(int epfd, epoll_event* events, int max_events, int timeout_ms) {
  engine::EventQueue* q = find_epoll(impl_, epfd);
  if (q == nullptr) return fail(EBADF);
  if (max_events <= 0 || events == nullptr) return fail(EINVAL);
  auto& buf = impl_->event_buf;
  const std::size_t cap = std::min<std::size_t>(static_cast<std::size_t>(max_events), buf.size());
  // A finite timeout needs the clock; 0 and -1 (the busy cases) cost no read beyond the engine's.
  const Instant start = timeout_ms > 0 ? impl_->engine.now() : Instant{};
  for (bool first = true;; first = false) {
    // Slices of at most 100 ms, so stop() is noticed even when nothing happens.
    Duration slice = Duration::millis(100);
    if (timeout_ms == 0) {
      slice = Duration{};
    } else if (timeout_ms > 0) {
      const Duration elapsed = first ? Duration{} : impl_->engine.now() - start;
      slice = std::min(slice, std::max(Duration{}, Duration::millis(timeout_ms) - elapsed));
    }
    const int n = q->wait(std::span(buf.data(), cap), slice);
    for (int i = 0; i < n; ++i) {
      events[i].events = buf[static_cast<std::size_t>(i)].events;
      events[i].data.u64 = buf[static_cast<std::size_t>(i)].data;
    }
    if (n > 0 || slice.ns == 0 || stopping()) return n;
    if (timeout_ms >= 0 && impl_->engine.now() - start >= Duration::millis(timeout_ms)) return 0;
  }
}

}  // namespace xdptcp
