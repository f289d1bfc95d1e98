// TcpStack: the BSD-like socket API over StackCore (tcp_stack_core.h). Each call validates its
// socket and state and returns a negative errno as Linux would; protocol work is done by the
// core's input/output/timer functions.
#include "userstack/tcp/tcp_stack.h"

#include <sys/socket.h>
#include <algorithm>
#include <cerrno>

#include "userstack/tcp/tcp_stack_core.h"

namespace xdptcp::tcp {

namespace {
// TCP_MAXSEG bounds (Linux TCP_MIN_MSS, MAX_TCP_WINDOW) and the MSS of a socket with none yet
// (Linux TCP_MSS_DEFAULT; RFC 9293 §3.7.1's IPv4 default).
constexpr int kMinUserMss = 88;
// Linux SOCK_MIN_RCVBUF (TCP_SKB_MIN_TRUESIZE = 2048 + sizeof(struct sk_buff) on x86-64) and
// SOCK_MIN_SNDBUF (twice that): the least sk_rcvbuf / sk_sndbuf.
constexpr std::uint32_t kSockMinRcvBuf = 2304;
constexpr std::uint32_t kSockMinSndBuf = 2 * kSockMinRcvBuf;
constexpr int kMaxUserMss = 32767;
constexpr int kDefaultMss = 536;
}  // namespace

struct TcpStack::Impl {
  Impl(StackConfig cfg, PacketSink& sink, Instant now, TcpStats& stats, SocketEventListener* const& l)
      : core(std::move(cfg), sink, now, stats, l) {}
  StackCore core;
};

bool apply_stack_profile(StackConfig& cfg, std::string_view profile) {
  if (profile.empty() || profile == "default") return true;
  if (profile != "linux") return false;
  cfg.initial_window_segments = 10;                // tcp_init_cwnd(): TCP_INIT_CWND (RFC 6928)
  cfg.rto.initial = Duration::seconds(1);          // TCP_TIMEOUT_INIT (RFC 6298 (2.1))
  cfg.rto.min = Duration::millis(200);             // TCP_RTO_MIN
  cfg.rto.max = Duration::seconds(120);            // TCP_RTO_MAX
  cfg.delayed_ack = Duration::millis(40);          // TCP_DELACK_MIN (TCP_ATO_MIN)
  cfg.syn_retries = 6;                             // net.ipv4.tcp_syn_retries
  cfg.synack_retries = 5;                          // net.ipv4.tcp_synack_retries
  cfg.max_retries = 15;                            // net.ipv4.tcp_retries2
  cfg.keepalive.idle = Duration::seconds(7200);    // net.ipv4.tcp_keepalive_time
  cfg.keepalive.interval = Duration::seconds(75);  // net.ipv4.tcp_keepalive_intvl
  cfg.keepalive.probes = 9;                        // net.ipv4.tcp_keepalive_probes
  cfg.time_wait = Duration::seconds(60);           // TCP_TIMEWAIT_LEN
  cfg.syn_cookies = true;                          // net.ipv4.tcp_syncookies = 1
  cfg.cc = CcAlgorithm::kCubic;                    // net.ipv4.tcp_congestion_control
  cfg.rmem_max = kLinuxMemMax;                     // net.core.rmem_max
  cfg.wmem_max = kLinuxMemMax;                     // net.core.wmem_max
  return true;
}

TcpStack::TcpStack(StackConfig cfg, PacketSink& sink, Instant now)
    : impl_(std::make_unique<Impl>(std::move(cfg), sink, now, stats_, listener_)) {}

TcpStack::~TcpStack() = default;

bool TcpStack::input(std::span<const std::uint8_t> ip_packet, Instant now) {
  impl_->core.now = now;
  impl_->core.input(ip_packet);
  return impl_->core.accepted;
}

void TcpStack::set_flow_miss_handler(FlowMissHandler* h) {
  impl_->core.miss_handler = h;
}

void TcpStack::set_siblings(bool on) {
  impl_->core.cfg.siblings = on;
}

void TcpStack::set_port_filter(PortFilter* f) {
  impl_->core.port_filter = f;
}

void TcpStack::advance(Instant now) {
  StackCore& k = impl_->core;
  k.now = now;
  k.wheel.advance(now);
  k.flush_queue();
  k.wake_mem_waiters();
  // Free buffer memory beyond the warm bound goes back to the kernel, a little per call: the
  // timer path, never the packet path.
  k.chunks.trim(16);
}

void TcpStack::flush(Instant now) {
  impl_->core.now = now;
  impl_->core.flush_queue();
  impl_->core.wake_mem_waiters();
}

void TcpStack::release_held_acks() {
  impl_->core.release_held_acks();
}

std::optional<Instant> TcpStack::next_timer() const {
  return impl_->core.wheel.next_expiry();
}

SocketId TcpStack::socket(wire::IpFamily family) {
  StackCore& k = impl_->core;
  if (k.user_sockets >= k.cfg.max_sockets) return -EMFILE;
  TcpConnection* c = k.alloc_tcb();
  if (c == nullptr) return -ENOBUFS;  // every TCB is an orphan or embryo: the pool bound
  c->family = family;
  c->tuple.local.ip.family = family;
  c->tuple.remote.ip.family = family;
  return k.open_socket(*c);
}

int TcpStack::bind(SocketId s, const wire::SockAddr& local) {
  StackCore& k = impl_->core;
  TcpConnection* c = k.user_socket(s);
  if (c == nullptr) return -EBADF;
  if (c->bound || c->state != TcpState::kClosed) return -EINVAL;
  if (local.ip.family != c->family) return -EAFNOSUPPORT;
  if (!local.ip.is_unspecified() && !k.is_local_addr(local.ip)) return -EADDRNOTAVAIL;
  wire::SockAddr a = local;
  if (a.port == 0) {
    // Linux picks an ephemeral port for bind(port 0); choose one no bound socket uses.
    const std::uint32_t n = k.cfg.ephemeral_hi - k.cfg.ephemeral_lo + 1u;
    bool found = false;
    for (std::uint32_t i = 0; i < n && !found; ++i) {
      a.port = static_cast<std::uint16_t>(k.cfg.ephemeral_lo + (k.ephemeral_counter++ % n));
      found = !k.port_in_use(a, c, c->reuse_addr);
    }
    if (!found) return -EADDRINUSE;
  } else if (k.port_in_use(a, c, c->reuse_addr)) {
    return -EADDRINUSE;
  }
  c->tuple.local = a;
  c->bound = true;
  return 0;
}

int TcpStack::listen(SocketId s, int backlog) {
  StackCore& k = impl_->core;
  TcpConnection* c = k.user_socket(s);
  if (c == nullptr) return -EBADF;
  if (c->state == TcpState::kListen) {
    c->backlog = static_cast<std::uint32_t>(std::max(backlog, 1));
    return 0;
  }
  if (c->state != TcpState::kClosed || !c->bound) return -EINVAL;
  // Another listener on the same address and port? (bind allowed it with SO_REUSEADDR)
  if (k.find_listener(c->tuple.local) != nullptr &&
      k.find_listener(c->tuple.local)->tuple.local.ip == c->tuple.local.ip) {
    return -EADDRINUSE;
  }
  c->backlog = static_cast<std::uint32_t>(std::clamp(backlog, 1, 65535));
  k.listeners.push_back(c->index);
  k.set_state(*c, TcpState::kListen);
  return 0;
}

SocketId TcpStack::accept(SocketId s, wire::SockAddr* peer) {
  StackCore& k = impl_->core;
  TcpConnection* l = k.user_socket(s);
  if (l == nullptr) return -EBADF;
  if (l->state != TcpState::kListen) return -EINVAL;
  if (l->accept_head == kNoIndex) return -EAGAIN;
  if (k.user_sockets >= k.cfg.max_sockets) return -EMFILE;  // the child stays queued
  TcpConnection& c = k.at(l->accept_head);
  l->accept_head = c.accept_next;
  if (l->accept_head == kNoIndex) l->accept_tail = kNoIndex;
  --l->accept_count;
  c.accept_next = kNoIndex;
  c.in_accept_queue = false;
  // Accepted, the connection is the application's alone: closing the listener later must not
  // reset it (Linux inet_csk_listen_stop() resets only the accept queue), even once the
  // application has closed it and it is finishing its close.
  c.parent = kNoIndex;
  if (peer != nullptr) *peer = c.tuple.remote;
  return k.open_socket(c);
}

int TcpStack::connect(SocketId s, const wire::SockAddr& remote, Instant now) {
  StackCore& k = impl_->core;
  k.now = now;
  TcpConnection* c = k.user_socket(s);
  if (c == nullptr) return -EBADF;
  switch (c->state) {
    case TcpState::kClosed:
      break;
    case TcpState::kSynSent:
    case TcpState::kSynReceived:
      return -EALREADY;
    case TcpState::kListen:
      return -EINVAL;
    default:
      return -EISCONN;
  }
  if (c->so_error != 0 && !c->ever_established) {
    // connect() again after a non-blocking connect failed reports that failure and clears it, as
    // Linux's __inet_stream_connect() does (sock_error()).
    const int e = c->so_error;
    c->so_error = 0;
    return -e;
  }
  if (c->ever_established || c->so_error != 0) return -EISCONN;
  if (remote.ip.family != c->family) return -EAFNOSUPPORT;
  // Buffer memory above its high mark: no new connection (Linux fails with ENOBUFS when a
  // socket cannot be charged, sk_wmem_schedule()).
  if (k.mem_refuse()) return -ENOBUFS;
  wire::FourTuple t;
  t.remote = remote;
  t.local = c->tuple.local;
  if (t.local.ip.is_unspecified()) {
    // No routing here: the first local address of the family (the engine owns one per family).
    bool found = false;
    for (const auto& a : k.cfg.local_addrs) {
      if (a.family == c->family) {
        t.local.ip = a;
        found = true;
        break;
      }
    }
    if (!found) return -EADDRNOTAVAIL;
  }
  if (t.local.port == 0) {
    if (int r = k.pick_ephemeral(t); r < 0) return r;
  } else if (k.flow_taken(t)) {
    return -EADDRNOTAVAIL;
  }
  c->tuple = t;
  c->bound = true;
  k.init_send_side(*c, k.make_isn(t));
  c->rcv_adv = c->rcv_nxt;
  const std::uint64_t h = k.flows.hash(t);
  if (!k.add_flow(*c, h)) return -EAGAIN;
  k.set_state(*c, TcpState::kSynSent);
  k.queue_output(*c);  // the SYN goes at the next flush
  return -EINPROGRESS;
}

ssize_t TcpStack::send(SocketId s, std::span<const std::uint8_t> data, Instant now) {
  return send(s, data, now, SendFlags{});
}

ssize_t TcpStack::send(SocketId s, std::span<const std::uint8_t> data, Instant now, SendFlags flags) {
  StackCore& k = impl_->core;
  k.now = now;
  TcpConnection* c = k.user_socket(s);
  if (c == nullptr) return -EBADF;
  if (c->so_error != 0) {
    const int e = c->so_error;
    c->so_error = 0;
    return -e;
  }
  if (c->shut_wr || c->fin_queued) return -EPIPE;
  if (!in(c->state,
          {TcpState::kSynSent, TcpState::kSynReceived, TcpState::kEstablished, TcpState::kCloseWait})) {
    // Linux's error for any state that cannot send, a socket never connected (or listening)
    // included: sk_stream_wait_connect() returns EPIPE outside SYN-SENT/SYN-RECEIVED.
    return -EPIPE;
  }
  if (data.empty()) return 0;
  if (c->snd_buf->free_space() < data.size()) k.sndbuf_expand(*c);
  const std::size_t n = c->snd_buf->write(data);
  if (n == 0) {
    if (c->snd_buf->free_space() > 0 && !c->mem_wait) {
      // Room in the buffer, no memory for it (the budget is handed out): not writable until
      // chunks come back, so a poller does not spin on EAGAIN.
      k.add_mem_waiter(*c);
    }
    return -EAGAIN;
  }
  // MSG_MORE: Linux tcp_sendmsg() pushes with TCP_NAGLE_CORK; a send without it pushes the rest.
  c->msg_more = flags.more;
  k.queue_output(*c);
  return static_cast<ssize_t>(n);
}

ssize_t TcpStack::recv(SocketId s, std::span<std::uint8_t> out, Instant now) {
  return recv(s, out, now, RecvFlags{});
}

ssize_t TcpStack::recv(SocketId s, std::span<std::uint8_t> out, Instant now, RecvFlags flags) {
  StackCore& k = impl_->core;
  k.now = now;
  TcpConnection* c = k.user_socket(s);
  if (c == nullptr) return -EBADF;
  if (flags.peek && c->rcv_buf && !c->rcv_buf->empty() && !out.empty()) {
    // MSG_PEEK (Linux tcp_recvmsg()): the bytes stay queued, so the window did not open and no
    // window update is due (RFC 9293 §3.8.6.2.2 moves the edge only as the buffer drains).
    return static_cast<ssize_t>(c->rcv_buf->peek(out));
  }
  if (c->rcv_buf && !c->rcv_buf->empty() && !out.empty()) {
    // Both windows are capped at the largest that can be advertised (RFC 7323 §2.3: 65535 <<
    // Rcv.Wind.Shift; 65535 when the peer does not scale): free space beyond it is no update,
    // and an ACK that changes nothing would be a duplicate ACK to the sender (RFC 5681 §2).
    const std::uint32_t max_wnd = std::uint32_t{65535} << c->rcv_wscale;
    const auto cur = std::min<std::uint32_t>(
        static_cast<std::uint32_t>(c->rcv_adv > c->rcv_nxt ? c->rcv_adv - c->rcv_nxt : 0), max_wnd);
    const std::size_t n = c->rcv_buf->read(out);
    k.rcv_space_adjust(*c);  // auto-tuning: may grow the ring (a larger window, announced below)
    // Window update (RFC 9293 §3.8.6.2.2; Linux tcp_cleanup_rbuf()): tell the peer when the
    // window grows by two segments, or opens from below one segment.
    const auto free = std::min(static_cast<std::uint32_t>(c->rcv_buf->free_space()), max_wnd);
    if (in(c->state, {TcpState::kEstablished, TcpState::kFinWait1, TcpState::kFinWait2}) &&
        (free >= cur + 2u * c->rcv_mss || (cur < c->rcv_mss && free >= c->rcv_mss))) {
      c->ack_now = true;
      k.queue_output(*c);
    }
    return static_cast<ssize_t>(n);
  }
  if (c->so_error != 0) {
    const int e = c->so_error;
    c->so_error = 0;
    return -e;
  }
  if (c->fin_received || c->shut_rd) return 0;
  if (c->state == TcpState::kClosed) return c->ever_established ? 0 : -ENOTCONN;
  if (c->state == TcpState::kListen) return -ENOTCONN;
  if (out.empty()) return 0;
  return -EAGAIN;
}

int TcpStack::abort(SocketId s, int err, Instant now) {
  StackCore& k = impl_->core;
  k.now = now;
  TcpConnection* c = k.user_socket(s);
  if (c == nullptr) return -EBADF;
  if (c->state == TcpState::kListen) return -EINVAL;
  if (c->state != TcpState::kClosed) k.abort(*c, err, false);
  return 0;
}

int TcpStack::shutdown(SocketId s, int how, Instant now) {
  StackCore& k = impl_->core;
  k.now = now;
  TcpConnection* c = k.user_socket(s);
  if (c == nullptr) return -EBADF;
  if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR) return -EINVAL;
  if (in(c->state, {TcpState::kClosed, TcpState::kListen})) return -ENOTCONN;
  if (how == SHUT_RD || how == SHUT_RDWR) c->shut_rd = true;
  if ((how == SHUT_WR || how == SHUT_RDWR) && !c->shut_wr) {
    c->shut_wr = true;
    switch (c->state) {
      case TcpState::kSynSent:
        k.finish(*c);  // Linux tcp_close_state(): SYN-SENT -> CLOSE
        break;
      case TcpState::kSynReceived:
        c->fin_queued = true;  // "queue for processing after entering ESTABLISHED"
        break;
      case TcpState::kEstablished:
        c->fin_queued = true;
        k.set_state(*c, TcpState::kFinWait1);
        break;
      case TcpState::kCloseWait:
        c->fin_queued = true;
        k.set_state(*c, TcpState::kLastAck);
        break;
      default:
        break;
    }
    k.queue_output(*c);
  }
  k.notify(*c);
  return 0;
}

int TcpStack::close(SocketId s, Instant now) {
  StackCore& k = impl_->core;
  k.now = now;
  TcpConnection* c = k.user_socket(s);
  if (c == nullptr) return -EBADF;
  k.close_socket(*c);
  c->orphan = true;
  switch (c->state) {
    case TcpState::kListen: {
      // Children not yet accepted are reset (Linux inet_csk_listen_stop()); embryos dropped.
      for (std::uint32_t i = 0; i < k.pool_built; ++i) {
        TcpConnection& ch = k.at(i);
        if (!ch.allocated || ch.parent != c->index || ch.user_open) continue;
        ch.parent = kNoIndex;
        ch.in_accept_queue = false;
        k.abort(ch, 0, ch.state != TcpState::kSynReceived);
      }
      c->accept_head = c->accept_tail = kNoIndex;
      c->accept_count = 0;
      k.finish(*c);
      return 0;
    }
    case TcpState::kClosed:
    case TcpState::kSynSent:
      k.finish(*c);  // RFC 9293 §3.10.4: delete the TCB
      return 0;
    default:
      break;
  }
  // RFC 9293 §3.10.4 / RFC 2525 §2.17: closing with unread data resets, so the peer knows it
  // was lost; SO_LINGER with a zero timeout resets too (Linux tcp_close()).
  const bool unread = c->rcv_buf && !c->rcv_buf->empty();
  if (c->linger == 0 || unread) {
    if (c->state != TcpState::kTimeWait) ++k.stats.conns_reset;
    k.abort(*c, 0, c->state != TcpState::kTimeWait);
    return 0;
  }
  switch (c->state) {
    case TcpState::kSynReceived:
      c->fin_queued = true;
      c->shut_wr = true;
      break;
    case TcpState::kEstablished:
      c->fin_queued = true;
      c->shut_wr = true;
      k.set_state(*c, TcpState::kFinWait1);
      break;
    case TcpState::kCloseWait:
      c->fin_queued = true;
      c->shut_wr = true;
      k.set_state(*c, TcpState::kLastAck);
      break;
    case TcpState::kFinWait2:
      k.wheel.arm(c->aux_timer, now + kFinWait2Timeout);
      break;
    default:
      break;  // FIN-WAIT-1, CLOSING, LAST-ACK, TIME-WAIT: already closing
  }
  k.queue_output(*c);
  return 0;
}

int TcpStack::getsockname(SocketId s, wire::SockAddr* out) const {
  const TcpConnection* c = impl_->core.user_socket(s);
  if (c == nullptr) return -EBADF;
  if (out != nullptr) *out = c->tuple.local;
  return 0;
}

int TcpStack::getpeername(SocketId s, wire::SockAddr* out) const {
  const TcpConnection* c = impl_->core.user_socket(s);
  if (c == nullptr) return -EBADF;
  if (in(c->state, {TcpState::kClosed, TcpState::kListen, TcpState::kSynSent})) return -ENOTCONN;
  if (out != nullptr) *out = c->tuple.remote;
  return 0;
}

int TcpStack::setsockopt(SocketId s, SockOpt opt, int value) {
  StackCore& k = impl_->core;
  TcpConnection* c = k.user_socket(s);
  if (c == nullptr) return -EBADF;
  const bool unconnected = in(c->state, {TcpState::kClosed, TcpState::kListen});
  switch (opt) {
    case SockOpt::kReuseAddr:
      c->reuse_addr = value != 0;
      return 0;
    case SockOpt::kRcvBuf:
    case SockOpt::kSndBuf: {
      // Linux sock_setsockopt(): val = min((u32)val, sysctl_{r,w}mem_max); sk_{rcv,snd}buf =
      // max(val * 2, SOCK_MIN_{RCV,SND}BUF). We keep the data size (half) and report the double.
      const bool rcv = opt == SockOpt::kRcvBuf;
      const std::uint32_t max =
          rcv ? std::max(k.cfg.rmem_max, k.cfg.rcvbuf) : std::max(k.cfg.wmem_max, k.cfg.sndbuf);
      const std::uint32_t min = rcv ? kSockMinRcvBuf / 2 : kSockMinSndBuf / 2;
      const std::uint32_t v = std::max(std::min(static_cast<std::uint32_t>(value), max), min);
      (rcv ? c->rcvbuf : c->sndbuf) = v;
      (rcv ? c->rcvbuf_locked : c->sndbuf_locked) = true;  // no auto-tuning (Linux SOCK_*BUF_LOCK)
      if (!unconnected) k.resize_buffer(*c, rcv);
      return 0;
    }
    case SockOpt::kKeepAlive:
      c->keepalive = value != 0;
      if (c->keepalive) {
        k.arm_keepalive(*c);
      } else if (!in(c->state, {TcpState::kTimeWait, TcpState::kFinWait2})) {
        k.wheel.cancel(c->aux_timer);
      }
      return 0;
    case SockOpt::kLinger:
      c->linger = value < 0 ? -1 : value;
      return 0;
    case SockOpt::kNoDelay:
      c->nodelay = value != 0;
      if (c->nodelay) c->msg_more = false;  // Linux: setting TCP_NODELAY pushes pending frames
      if (c->nodelay) k.queue_output(*c);
      return 0;
    case SockOpt::kCork:
      c->cork = value != 0;
      if (!c->cork) c->msg_more = false;
      if (!c->cork) k.queue_output(*c);  // uncorking pushes what was held
      return 0;
    case SockOpt::kQuickAck:
      if (value == 0) {
        c->quickack = 0;
        return 0;
      }
      k.enter_quickack(*c);
      // Linux __tcp_sock_set_quickack(): an ACK scheduled (delayed, or held for the
      // application) is sent now, in ESTABLISHED and CLOSE-WAIT.
      if (in(c->state, {TcpState::kEstablished, TcpState::kCloseWait}) &&
          (c->ack_now || c->last_ack_sent != c->rcv_nxt || c->delack_timer.armed())) {
        c->ack_now = true;
        c->ack_held = false;
        k.wheel.cancel(c->delack_timer);
        k.queue_output(*c);
      }
      return 0;
    case SockOpt::kCongestion: {
      if (value != static_cast<int>(CcAlgorithm::kNewReno) &&
          value != static_cast<int>(CcAlgorithm::kCubic)) {
        return -ENOENT;  // Linux: unknown algorithm
      }
      const auto algo = static_cast<CcAlgorithm>(value);
      if (algo == c->cc_algo) return 0;  // already in use: nothing to do (Linux returns 0 too)
      c->cc_algo = algo;
      if (!unconnected && c->cc != nullptr) {
        // Linux tcp_reinit_congestion_control(): a connection may change algorithm at any time;
        // the new one starts from the window and threshold the old one had reached.
        const std::uint32_t cwnd = c->cc->cwnd();
        const std::uint32_t ssthresh = c->cc->ssthresh();
        destroy_cc(c->cc);
        c->cc = make_cc(algo, c->cc_storage);
        c->cc->init(k.effective_mss(*c), cwnd, k.now);
        c->cc->undo(cwnd, ssthresh);
      }
      return 0;
    }
    case SockOpt::kError:
      return -ENOPROTOOPT;
    case SockOpt::kKeepIdle:
      if (value < 1) return -EINVAL;
      c->keep_idle = Duration::seconds(value);
      if (c->keepalive) k.arm_keepalive(*c);
      return 0;
    case SockOpt::kKeepIntvl:
      if (value < 1) return -EINVAL;
      c->keep_intvl = Duration::seconds(value);
      return 0;
    case SockOpt::kKeepCnt:
      if (value < 1) return -EINVAL;
      c->keep_cnt = static_cast<unsigned>(value);
      return 0;
    case SockOpt::kMaxSeg:
      // Linux do_tcp_setsockopt(): 0 clears; else TCP_MIN_MSS (88) .. MAX_TCP_WINDOW (32767).
      // Stored only: the next SYN or SYN-ACK (init_send_side) advertises min(MTU MSS, value).
      if (value != 0 && (value < kMinUserMss || value > kMaxUserMss)) return -EINVAL;
      c->user_mss = static_cast<std::uint16_t>(value);
      return 0;
    case SockOpt::kUserTimeout:
      // RFC 5482 / Linux: milliseconds, 0 restores the default; the timers read it when they fire.
      if (value < 0) return -EINVAL;
      c->user_timeout = Duration::millis(value);
      return 0;
  }
  return -ENOPROTOOPT;
}

int TcpStack::getsockopt(SocketId s, SockOpt opt, int* value) {
  TcpConnection* c = impl_->core.user_socket(s);
  if (c == nullptr) return -EBADF;
  if (value == nullptr) return -EFAULT;
  switch (opt) {
    case SockOpt::kReuseAddr:
      *value = c->reuse_addr;
      return 0;
    case SockOpt::kRcvBuf:  // Linux reports the doubled value (sock_getsockopt(): sk_rcvbuf)
      *value = static_cast<int>(std::min<std::uint64_t>(std::uint64_t{c->rcvbuf} * 2, INT32_MAX));
      return 0;
    case SockOpt::kSndBuf:
      *value = static_cast<int>(std::min<std::uint64_t>(std::uint64_t{c->sndbuf} * 2, INT32_MAX));
      return 0;
    case SockOpt::kKeepAlive:
      *value = c->keepalive;
      return 0;
    case SockOpt::kLinger:
      *value = c->linger;
      return 0;
    case SockOpt::kNoDelay:
      *value = c->nodelay;
      return 0;
    case SockOpt::kCork:
      *value = c->cork;
      return 0;
    case SockOpt::kQuickAck:
      *value = c->quickack > 0 ? 1 : 0;
      return 0;
    case SockOpt::kCongestion:
      *value = static_cast<int>(c->cc_algo);
      return 0;
    case SockOpt::kError:
      *value = c->so_error;  // reading clears it, as SO_ERROR does
      c->so_error = 0;
      impl_->core.notify(*c);
      return 0;
    case SockOpt::kKeepIdle:
      *value = static_cast<int>(c->keep_idle.ns / 1'000'000'000);
      return 0;
    case SockOpt::kKeepIntvl:
      *value = static_cast<int>(c->keep_intvl.ns / 1'000'000'000);
      return 0;
    case SockOpt::kKeepCnt:
      *value = static_cast<int>(c->keep_cnt);
      return 0;
    case SockOpt::kMaxSeg:
      // Linux do_tcp_getsockopt(): mss_cache (the effective send MSS), or the value set while
      // CLOSED or LISTEN. A socket that never began a handshake has no send MSS yet: Linux's
      // initial mss_cache is TCP_MSS_DEFAULT (536, RFC 9293 §3.7.1's default).
      if (in(c->state, {TcpState::kClosed, TcpState::kListen}) &&
          (c->user_mss != 0 || !c->ever_established)) {
        *value = c->user_mss != 0 ? c->user_mss : kDefaultMss;
      } else {
        *value = static_cast<int>(impl_->core.effective_mss(*c));
      }
      return 0;
    case SockOpt::kUserTimeout:
      *value = static_cast<int>(c->user_timeout.as_millis());
      return 0;
  }
  return -ENOPROTOOPT;
}

std::size_t TcpStack::readable_bytes(SocketId s) const {
  const TcpConnection* c = impl_->core.user_socket(s);
  // In-order bytes only: out-of-order data lies beyond size() in the ring (ByteRing::write_at).
  return c != nullptr && c->rcv_buf ? c->rcv_buf->size() : 0;
}

std::size_t TcpStack::unsent_or_unacked_bytes(SocketId s) const {
  const TcpConnection* c = impl_->core.user_socket(s);
  return c != nullptr ? c->snd_buf_size() : 0;  // snd_buf is [SND.UNA's data, end of the writes)
}

std::size_t TcpStack::unsent_bytes(SocketId s) const {
  const TcpConnection* c = impl_->core.user_socket(s);
  return c != nullptr ? impl_->core.unsent_bytes(*c) : 0;
}

namespace {

// TCP_INFO of any TCB. `now` is the instant the snapshot is for (the "since" fields); a read does
// not move the stack's own clock, which only the driving entry points set.
void tcp_info_of(const StackCore& core, const TcpConnection& c, TcpInfoSnapshot& out, Instant now) {
  out = TcpInfoSnapshot{};
  core.fill_tcp_info(c, out);
  auto ms_since = [now](Instant t) {
    return static_cast<std::uint32_t>(std::max<std::int64_t>((now - t).as_millis(), 0));
  };
  if (c.ever_established) {
    out.last_data_sent_ms = ms_since(c.last_data_sent);
    out.last_data_recv_ms = ms_since(c.last_data_recv);
    out.last_ack_recv_ms = ms_since(c.last_rcv);
  }
}

}  // namespace

int TcpStack::tcp_info(SocketId s, TcpInfoSnapshot* out, Instant now) const {
  const TcpConnection* c = impl_->core.user_socket(s);
  if (c == nullptr) return -EBADF;
  if (out == nullptr) return -EFAULT;
  tcp_info_of(impl_->core, *c, *out, now);
  return 0;
}

std::uint32_t TcpStack::poll_events(SocketId s) const {
  const TcpConnection* c = impl_->core.user_socket(s);
  return c == nullptr ? 0 : impl_->core.poll_events(*c);
}

TcpState TcpStack::state(SocketId s) const {
  const TcpConnection* c = impl_->core.user_socket(s);
  return c == nullptr ? TcpState::kClosed : c->state;
}

std::size_t TcpStack::socket_count() const {
  return impl_->core.user_sockets;
}

void TcpStack::connections_on_port(std::uint16_t port, std::vector<wire::FourTuple>& out) const {
  const StackCore& k = impl_->core;
  for (std::uint32_t i = 0; i < k.pool_built; ++i) {
    const TcpConnection& c = k.at(i);
    if (c.state == TcpState::kClosed || c.state == TcpState::kListen || c.state == TcpState::kTimeWait)
      continue;
    if (c.tuple.local.port == port) out.push_back(c.tuple);
  }
}

std::size_t TcpStack::connection_count() const {
  return impl_->core.live_tcbs - impl_->core.listeners.size();
}

const TcpConnection* TcpStack::connection(SocketId s) const {
  return impl_->core.user_socket(s);
}

std::uint32_t TcpStack::tcb_slots() const {
  return impl_->core.pool_built;
}

TcpStack::MemoryUse TcpStack::memory_use() const {
  const StackCore& k = impl_->core;
  MemoryUse m;
  m.tcb_size = sizeof(TcpConnection);
  m.tcb_bytes = static_cast<std::size_t>(k.pool_built) * sizeof(TcpConnection);
  m.table_bytes = k.flows.memory_bytes() + k.socket_tcb.capacity() * sizeof(std::uint32_t) +
                  k.free_ids.capacity() * sizeof(SocketId) + k.listeners.capacity() * sizeof(std::uint32_t) +
                  (k.out_queue.capacity() + k.out_spare.capacity()) * sizeof(std::uint32_t);
  m.buffer_bytes = k.chunks.in_use_bytes();
  m.buffer_resident = k.chunks.resident_bytes();
  m.budget = k.chunks.limit_chunks() * k.chunks.chunk_size();
  return m;
}

bool TcpStack::inspect(std::uint32_t slot, SocketView* out, Instant now) const {
  const StackCore& k = impl_->core;
  if (slot >= k.pool_built || out == nullptr) return false;
  const TcpConnection& c = k.at(slot);
  // A free slot is CLOSED too; so is a socket the application made but never connected (ss lists
  // no unconnected TCP socket either).
  if (!c.allocated || c.state == TcpState::kClosed) return false;
  out->id = c.user_open ? c.id : -1;
  out->state = c.state;
  out->family = c.family;
  out->tuple = c.tuple;
  out->orphan = c.orphan;
  if (c.state == TcpState::kListen) {
    out->recv_q = c.accept_count;
    out->send_q = c.backlog;
  } else {
    out->recv_q = c.rcv_buf ? static_cast<std::uint32_t>(c.rcv_buf->size()) : 0;
    out->send_q = c.snd_buf_size();
  }
  out->cc = c.cc_algo;
  tcp_info_of(k, c, out->info, now);
  return true;
}

}  // namespace xdptcp::tcp
