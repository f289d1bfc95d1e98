// The TCB pool, the one place where connection states change (set_state), readiness events,
// connection teardown, and the per-connection values derived from the stack's secret (ISNs,
// timestamp offsets, ephemeral ports).
#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <new>
#include <random>

#include "userstack/tcp/tcp_stack_core.h"
#include "userstack/wire/ip.h"

namespace xdptcp::tcp {
namespace {

HashKey make_key(std::uint64_t secret) {
  if (secret != 0) return HashKey{secret, secret * 0x9E3779B97F4A7C15ULL + 1};
  std::random_device rd;  // control path: once per stack
  auto r64 = [&rd] { return (static_cast<std::uint64_t>(rd()) << 32) | rd(); };
  return HashKey{r64(), r64()};
}

void rtx_cb(TimerNode& n, Instant now) {
  auto& c = *static_cast<TcpConnection*>(n.context);
  c.core->now = now;
  c.core->on_rtx_timer(c);
}
void delack_cb(TimerNode& n, Instant now) {
  auto& c = *static_cast<TcpConnection*>(n.context);
  c.core->now = now;
  c.core->on_delack_timer(c);
}
void aux_cb(TimerNode& n, Instant now) {
  auto& c = *static_cast<TcpConnection*>(n.context);
  c.core->now = now;
  c.core->on_aux_timer(c);
}

std::size_t pool_size_for(const StackConfig& cfg) {
  // Application sockets, plus embryonic children, plus as many orphans (closed by the
  // application, still in FIN-WAIT/LAST-ACK/TIME-WAIT) as there are sockets.
  return 2 * cfg.max_sockets + cfg.syn_backlog;
}

// Chunks hold at least an MTU, so that a segment's payload lies in at most two of them
// (ByteRing::readable(), one segment per emit with two pieces).
std::size_t chunk_size_for(const StackConfig& cfg) {
  return std::max<std::size_t>(ChunkPool::kDefaultChunkSize, std::bit_ceil(std::size_t{cfg.mtu}));
}

}  // namespace

StackCore::StackCore(StackConfig c, PacketSink& s, Instant start, TcpStats& st, SocketEventListener* const& l)
    : cfg(std::move(c)),
      sink(s),
      stats(st),
      listener(l),
      wheel(start),
      key(make_key(cfg.secret)),
      epoch(start),
      now(start),
      flows(pool_size_for(cfg), key),
      chunks(cfg.mem_budget, chunk_size_for(cfg)) {
  // A configured MTU too small for TCP (0 included) is raised to kMinMtu rather than trusted:
  // the MSS is derived from it (our_mss()), and segments are sized by it.
  if (cfg.mtu < kMinMtu) cfg.mtu = kMinMtu;
  mem_low_chunks = chunks.limit_chunks() * 3 / 4;
  mem_high_chunks = chunks.limit_chunks() * 7 / 8;
  pool_size = static_cast<std::uint32_t>(pool_size_for(cfg));
  // Address space for every TCB the bounds allow; alloc_tcb() constructs them as needed, so a
  // stack configured for a million sockets commits memory only for the TCBs it has used.
  pool_map_len = static_cast<std::size_t>(pool_size) * sizeof(TcpConnection);
  void* m =
      mmap(nullptr, pool_map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) throw std::bad_alloc();
  pool_ = static_cast<TcpConnection*>(m);
  socket_tcb.assign(cfg.max_sockets, kNoIndex);
  free_ids.reserve(cfg.max_sockets);
  for (std::size_t i = cfg.max_sockets; i-- > 0;) free_ids.push_back(static_cast<SocketId>(i));
  listeners.reserve(cfg.max_sockets);
  out_queue.reserve(pool_size);
  out_spare.reserve(pool_size);
  mem_waiters.reserve(pool_size);
}

StackCore::~StackCore() {
  for (std::uint32_t i = 0; i < pool_built; ++i) {
    wheel.cancel(pool_[i].rtx_timer);
    wheel.cancel(pool_[i].delack_timer);
    wheel.cancel(pool_[i].aux_timer);
  }
  for (std::uint32_t i = 0; i < pool_built; ++i) pool_[i].~TcpConnection();
  munmap(pool_, pool_map_len);
}

TcpConnection& StackCore::build_tcb() {
  // One TCB constructed in the next slot of the mapping: ~1.5 KiB touched once per slot in the
  // stack's life (the peak of connections held at once), then reused through the free list.
  TcpConnection& t = *new (&pool_[pool_built]) TcpConnection;
  t.index = pool_built++;
  t.core = this;
  t.rtx_timer.callback = rtx_cb;
  t.rtx_timer.context = &t;
  t.delack_timer.callback = delack_cb;
  t.delack_timer.context = &t;
  t.aux_timer.callback = aux_cb;
  t.aux_timer.context = &t;
  return t;
}

TcpConnection* StackCore::alloc_tcb() {
  if (free_head == kNoIndex && pool_built < pool_size) {
    TcpConnection& t = build_tcb();
    t.next_free = free_head;
    free_head = t.index;
  }
  if (free_head == kNoIndex) {
    // At the bound, end the oldest TIME-WAIT that no application holds, as Linux does past
    // tcp_max_tw_buckets (it skips TIME-WAIT): a busy server that closes first would otherwise
    // refuse new connections for 2*MSL. Bounded walk.
    std::uint32_t i = tw_head;
    for (int n = 0; i != kNoIndex && n < 16; ++n, i = pool_[i].tw_next) {
      if (!pool_[i].user_open) {
        ++stats.time_wait_recycled;
        finish(pool_[i]);
        break;
      }
    }
    if (free_head == kNoIndex) return nullptr;
  }
  TcpConnection& c = pool_[free_head];
  free_head = c.next_free;
  c.reset(cfg.rto);
  c.allocated = true;
  c.next_free = kNoIndex;
  c.sndbuf = cfg.sndbuf;
  c.rcvbuf = cfg.rcvbuf;
  c.cc_algo = cfg.cc;
  c.keep_idle = cfg.keepalive.idle;
  c.keep_intvl = cfg.keepalive.interval;
  c.keep_cnt = cfg.keepalive.probes;
  return &c;
}

void StackCore::free_tcb(TcpConnection& c) {
  if (!c.allocated) return;
  wheel.cancel(c.rtx_timer);
  wheel.cancel(c.delack_timer);
  wheel.cancel(c.aux_timer);
  if (c.state != TcpState::kClosed) set_state(c, TcpState::kClosed);
  if (c.cc != nullptr) destroy_cc(c.cc);
  c.cc = nullptr;
  release_buffers(c, true);
  c.reset(cfg.rto);
  c.allocated = false;
  c.next_free = free_head;
  free_head = c.index;
}

TcpConnection* StackCore::user_socket(SocketId s) const {
  if (s < 0 || static_cast<std::size_t>(s) >= socket_tcb.size()) return nullptr;
  const std::uint32_t i = socket_tcb[static_cast<std::size_t>(s)];
  if (i == kNoIndex) return nullptr;
  TcpConnection& c = pool_[i];
  return (c.allocated && c.user_open) ? &c : nullptr;
}

SocketId StackCore::open_socket(TcpConnection& c) {
  const SocketId s = free_ids.back();  // user_sockets < max_sockets: an id is free
  free_ids.pop_back();
  socket_tcb[static_cast<std::size_t>(s)] = c.index;
  c.user_open = true;
  c.id = s;
  ++user_sockets;
  return s;
}

void StackCore::close_socket(TcpConnection& c) {
  socket_tcb[static_cast<std::size_t>(c.id)] = kNoIndex;
  free_ids.push_back(c.id);  // at most max_sockets entries: within the reserved capacity
  c.user_open = false;
  c.id = -1;
  --user_sockets;
}

bool StackCore::add_flow(TcpConnection& c, std::uint64_t hash) {
  if (!flows.insert(c.tuple, c.index, hash, tcb_tuple())) return false;
  c.in_flow_table = true;
  c.flow_hash = hash;
  // The other engines learn who owns the flow (cross-engine hand-off); the connection path, once.
  if (miss_handler != nullptr) miss_handler->on_flow_added(c.tuple);
  return true;
}

void StackCore::set_state(TcpConnection& c, TcpState s) {
  const TcpState old = c.state;
  if (old == s) return;
  c.state = s;
  if (old == TcpState::kTimeWait) {
    (c.tw_prev != kNoIndex ? pool_[c.tw_prev].tw_next : tw_head) = c.tw_next;
    (c.tw_next != kNoIndex ? pool_[c.tw_next].tw_prev : tw_tail) = c.tw_prev;
    c.tw_prev = c.tw_next = kNoIndex;
  } else if (s == TcpState::kTimeWait) {
    c.tw_prev = tw_tail;
    c.tw_next = kNoIndex;
    (tw_tail != kNoIndex ? pool_[tw_tail].tw_next : tw_head) = c.index;
    tw_tail = c.index;
  }
  if (old == TcpState::kClosed) ++live_tcbs;
  if (old == TcpState::kListen) {
    for (std::size_t i = 0; i < listeners.size(); ++i) {
      if (listeners[i] == c.index) {
        listeners[i] = listeners.back();
        listeners.pop_back();
        break;
      }
    }
  }
  if (s == TcpState::kClosed) {
    --live_tcbs;
    wheel.cancel(c.rtx_timer);
    wheel.cancel(c.delack_timer);
    wheel.cancel(c.aux_timer);
    if (c.in_flow_table) {
      flows.erase(c.tuple, c.flow_hash, tcb_tuple());
      c.in_flow_table = false;
      if (miss_handler != nullptr) miss_handler->on_flow_removed(c.tuple);
    }
    if (c.syn_backlog_counted) {
      c.syn_backlog_counted = false;
      --syn_received;
    }
  }
  if (s == TcpState::kEstablished) c.ever_established = true;
  notify(c);
}

void StackCore::finish(TcpConnection& c) {
  set_state(c, TcpState::kClosed);
  if (!c.user_open) free_tcb(c);
}

void StackCore::abort(TcpConnection& c, int err, bool rst) {
  if (rst && c.state != TcpState::kClosed && c.state != TcpState::kListen) send_rst(c);
  if (err != 0) c.so_error = err;
  if (c.in_accept_queue && c.parent != kNoIndex) {
    // Leave the listener's queue: unlink (a short FIFO walk on the control path).
    TcpConnection& l = pool_[c.parent];
    std::uint32_t* link = &l.accept_head;
    std::uint32_t prev = kNoIndex;
    while (*link != kNoIndex && *link != c.index) {
      prev = *link;
      link = &pool_[*link].accept_next;
    }
    if (*link == c.index) {
      *link = c.accept_next;
      if (l.accept_tail == c.index) l.accept_tail = prev;
      --l.accept_count;
    }
    c.in_accept_queue = false;
  }
  finish(c);
}

std::uint32_t StackCore::poll_events(const TcpConnection& c) const {
  std::uint32_t ev = 0;
  if (c.state == TcpState::kListen) return c.accept_count > 0 ? events::kIn : 0;
  if (c.so_error != 0) ev |= events::kErr;
  const bool readable_data = c.rcv_buf && !c.rcv_buf->empty();
  if (readable_data || c.fin_received || c.shut_rd) ev |= events::kIn;
  if (c.fin_received) ev |= events::kRdHup;
  if (in(c.state, {TcpState::kEstablished, TcpState::kCloseWait}) && !c.fin_queued && c.snd_buf &&
      c.snd_buf->free_space() > 0 && !c.mem_wait) {
    ev |= events::kOut;
  }
  // Linux tcp_poll(): HUP when both directions are shut, or the connection is closed after
  // having existed (reset, timed out, or fully closed).
  const bool closed = c.state == TcpState::kClosed && (c.ever_established || c.so_error != 0);
  if (closed || (c.fin_received && c.fin_queued) || (c.shut_rd && c.shut_wr)) {
    ev |= events::kHup | events::kIn;
  }
  if (closed) ev |= events::kRdHup;
  return ev;
}

void StackCore::notify(TcpConnection& c) {
  if (listener != nullptr && c.user_open) listener->on_socket_event(c.id, poll_events(c));
}

namespace {

std::size_t ring_capacity(std::uint32_t want) {
  std::size_t cap = 1;
  while (cap < want) cap <<= 1;
  return cap;
}

}  // namespace

bool StackCore::ensure_buffers(TcpConnection& c) {
  // Under pressure a new connection's rings are small: its windows are clamped, as Linux's
  // tcp_enter_memory_pressure() clamps rcv_ssthresh; SO_*BUF keep what the application set.
  const bool pressure = mem_pressure();
  if (pressure) ++stats.mem_pressure_clamped;
  auto fit = [this, pressure](std::optional<ByteRing>& r, std::uint32_t want) {
    if (pressure) want = std::min(want, kPressureBuffer);
    const std::size_t cap = ring_capacity(want);
    if (r && r->capacity() == cap) {
      r->clear();
      return;
    }
    // A ring object only (no storage yet): no allocation for rings of up to
    // ByteRing::kInlineSlots chunks (128 KiB), the default sizes included.
    r.emplace(chunks, cap);
  };
  fit(c.snd_buf, c.sndbuf);
  fit(c.rcv_buf, c.rcvbuf);
  return true;
}

void StackCore::resize_buffer(TcpConnection& c, bool rcv) {
  std::optional<ByteRing>& r = rcv ? c.rcv_buf : c.snd_buf;
  if (!r) return;  // not yet made (or given back in TIME-WAIT): ensure_buffers() sizes it
  const std::size_t cap = ring_capacity(rcv ? c.rcvbuf : c.sndbuf);
  if (cap == r->capacity()) return;
  // Under memory pressure buffers are not grown (Linux tcp_should_expand_sndbuf(), tcp_clamp_window()).
  if (cap > r->capacity() && mem_pressure()) return;
  // Linux: a smaller sk_rcvbuf only lowers windows offered later (tcp_select_window() never
  // shrinks the right edge, RFC 9293 §3.8.6.2.1); the ring keeps what it may have to hold.
  if (rcv && cap < r->capacity()) return;
  if (!rcv && cap < r->size()) return;  // queued bytes would not fit: the send ring stays
  ByteRing next(chunks, cap);           // a ring object per setsockopt, never per packet
  if (!r->copy_to(next)) return;        // no memory for the copy: the ring stays as it is
  *r = std::move(next);
  if (!rcv) notify(c);  // room to write (Linux sk_write_space())
}

void StackCore::add_mem_waiter(TcpConnection& c) {
  if (mem_waiters.size() == mem_waiters.capacity()) {
    // Entries of TCBs freed since they waited (mem_wait cleared by reset) are stale, c's own
    // included: drop them (rare, O(pool)). Only a TCB freed and waiting again between two
    // compactions can leave a duplicate, so the reserved room practically always suffices.
    std::erase_if(mem_waiters, [this](std::uint32_t i) { return !pool_[i].mem_wait; });
  }
  c.mem_wait = true;
  mem_waiters.push_back(c.index);
}

void StackCore::wake_mem_waiters() {
  if (mem_waiters.empty() || chunks.free_chunks() == 0) return;
  for (const std::uint32_t i : mem_waiters) {
    TcpConnection& c = pool_[i];
    if (!c.mem_wait) continue;  // freed (or reset) since it waited
    c.mem_wait = false;
    notify(c);
  }
  mem_waiters.clear();
}

std::uint32_t StackCore::wscale_space(const TcpConnection& c) const {
  if (c.rcvbuf_locked || cfg.rcvbuf_auto_max == 0) return c.rcvbuf;
  return std::max(c.rcvbuf, cfg.rcvbuf_auto_max);
}

void StackCore::rcv_space_adjust(TcpConnection& c) {
  if (c.rcvbuf_locked || cfg.rcvbuf_auto_max == 0 || !c.rcv_buf || !c.rtt.has_sample()) return;
  const std::uint64_t read = c.bytes_received - c.rcv_buf->size();  // what the application took
  if (c.rcvq_time == Instant{}) {
    c.rcvq_time = now;
    c.rcvq_read = read;
    return;
  }
  if (now - c.rcvq_time < c.rtt.srtt()) return;  // once per round trip
  const std::uint64_t copied = read - c.rcvq_read;
  if (copied > c.rcvq_space) {
    c.rcvq_space = static_cast<std::uint32_t>(std::min<std::uint64_t>(copied, cfg.rcvbuf_auto_max));
    // Linux: rcvwin = 2 * copied + 16 * advmss, the buffer sized for it: the sender may double
    // its window in the next round trip (slow start) and the window must not hold it back.
    const std::uint64_t want =
        std::min<std::uint64_t>(2 * copied + std::uint64_t{16} * c.rcv_mss, cfg.rcvbuf_auto_max);
    // The window scale fixed by the SYN bounds what can be advertised (65535 << shift).
    const std::uint64_t cap = std::min<std::uint64_t>(want, std::uint64_t{65535} << c.rcv_wscale);
    if (cap > c.rcvbuf) {
      c.rcvbuf = static_cast<std::uint32_t>(cap);
      resize_buffer(c, true);  // no growth under memory pressure; a ring object, chunks with data
    }
  }
  c.rcvq_read = read;
  c.rcvq_time = now;
}

void StackCore::sndbuf_expand(TcpConnection& c) {
  if (c.sndbuf_locked || cfg.sndbuf_auto_max == 0 || !c.snd_buf || c.cc == nullptr) return;
  // Linux tcp_sndbuf_expand(): room for twice the congestion window (what is in flight, and as
  // much again queued for the next round trip's growth).
  const std::uint64_t want = std::min<std::uint64_t>(2ull * c.cc->cwnd(), cfg.sndbuf_auto_max);
  if (want <= c.sndbuf) return;
  c.sndbuf = static_cast<std::uint32_t>(want);
  resize_buffer(c, false);
}

void StackCore::release_buffers(TcpConnection& c, bool rcv_too) {
  c.snd_buf.reset();
  if (rcv_too) c.rcv_buf.reset();
}

SeqNum StackCore::make_isn(const wire::FourTuple& t) const {
  // RFC 6528 §3: ISN = M + F(localip, localport, remoteip, remoteport, secretkey), M a 4 µs timer.
  const auto m = static_cast<std::uint32_t>(now.ns / 4000);
  return SeqNum(m + static_cast<std::uint32_t>(hash_tuple(key, t, 0x15A15A15u)));
}

std::uint32_t StackCore::ts_offset_for(const wire::FourTuple& t) const {
  // RFC 7323 §5.4 / Linux: a per-connection offset from a keyed hash of the addresses, so a
  // cookie connection recomputes the same value.
  return static_cast<std::uint32_t>(hash_tuple(key, t, 0x7157A3Bu));
}

std::uint32_t StackCore::ts_now(const TcpConnection& c) const {
  // A 1 ms timestamp clock (RFC 7323 §5.4 allows 1 ms to 1 s per tick; Linux uses 1 ms).
  return static_cast<std::uint32_t>((now - epoch).as_millis()) + c.ts_offset;
}

std::uint8_t StackCore::choose_wscale(std::uint32_t rcvbuf) const {
  // RFC 7323 §2.3: the smallest shift that lets the window cover the receive buffer.
  std::uint8_t s = 0;
  while (s < kMaxWindowShift && (std::uint64_t{65535} << s) < rcvbuf) ++s;
  return s;
}

std::uint16_t StackCore::our_mss(wire::IpFamily f) const {
  const std::size_t hdr = wire::ip_header_len(f) + wire::kTcpMinHeader;
  return static_cast<std::uint16_t>(cfg.mtu - hdr);  // cfg.mtu >= kMinMtu (constructor)
}

std::uint16_t StackCore::advertised_mss(wire::IpFamily f, std::uint16_t user_mss) const {
  // TCP_MAXSEG lowers the MSS option (RFC 9293 §3.7.1: it must not exceed what we can receive),
  // never raises it above the MTU's (Linux tcp_mss_clamp()).
  const std::uint16_t mtu_mss = our_mss(f);
  return user_mss != 0 ? std::min(mtu_mss, user_mss) : mtu_mss;
}

void StackCore::init_send_side(TcpConnection& c, SeqNum iss) {
  c.iss = iss;
  c.snd_una = c.snd_nxt = c.snd_max = iss;
  c.snd_buf_seq = iss + 1;
  c.snd_sml = iss;
  c.recover = iss;
  c.high_rxt = iss;
  c.rcv_mss = advertised_mss(c.family, c.user_mss);
  c.snd_mss = c.family == wire::IpFamily::kV4 ? 536 : 1220;  // RFC 9293 §3.7.1, RFC 8200 §5
  c.rcv_wscale = choose_wscale(wscale_space(c));
  c.ts_offset = ts_offset_for(c.tuple);
  if (c.cc != nullptr) destroy_cc(c.cc);
  c.cc = make_cc(c.cc_algo, c.cc_storage);
  ensure_buffers(c);
}

void StackCore::apply_syn_options(TcpConnection& c, const wire::TcpOptions& o) {
  // An MSS option of 0 is ignored, as Linux tcp_parse_options() does ("if (in_mss)"): the
  // default of RFC 9293 §3.7.1 (536; 1220 for IPv6, RFC 8200 §5) applies.
  const std::uint16_t peer_mss =
      o.mss && *o.mss != 0 ? *o.mss : (c.family == wire::IpFamily::kV4 ? 536 : 1220);
  c.snd_mss = std::min(peer_mss, c.rcv_mss);
  // Floored (kMinSndMss, CVE-2019-11479); rcv_mss >= kMinSndMss (kMinMtu), so still <= rcv_mss.
  if (c.snd_mss < kMinSndMss) c.snd_mss = kMinSndMss;
  c.ws_ok = o.window_scale.has_value();
  c.snd_wscale = c.ws_ok ? std::min<std::uint8_t>(*o.window_scale, kMaxWindowShift) : 0;
  if (!c.ws_ok) c.rcv_wscale = 0;
  c.ts_ok = o.timestamps.has_value();
  if (c.ts_ok) {
    c.ts_recent = o.timestamps->tsval;
    c.ts_recent_age = now;
  }
  c.sack_ok = o.sack_permitted;
}

void StackCore::on_established(TcpConnection& c) {
  const std::uint32_t mss = effective_mss(c);
  // RFC 6928: IW = min(10*MSS, max(2*MSS, 14600)); or n segments (Linux tcp_init_cwnd()).
  const std::uint32_t iw = cfg.initial_window_segments > 0 ? cfg.initial_window_segments * mss
                                                           : std::min(10 * mss, std::max(2 * mss, 14600u));
  c.cc->init(mss, iw, now);
  c.last_rcv = now;
  c.last_send = now;
  c.last_data_sent = now;  // as Linux (lsndtime, lrcvtime): TCP_INFO's "since" starts here
  c.last_data_recv = now;
  set_state(c, TcpState::kEstablished);
  arm_keepalive(c);
  // Quick-ack mode at the start (Linux tcp_event_data_recv(): the first data enters it): the
  // peer's slow start grows with each ACK, and a delayed ACK of its first segment would hold
  // its initial window back for the delayed-ACK timeout (RFC 5681 §4.2 allows ACKing every segment).
  enter_quickack(c);
}

bool StackCore::is_local_addr(const wire::IpAddr& a) const {
  for (const auto& l : cfg.local_addrs) {
    if (l == a) return true;
  }
  return false;
}

bool StackCore::port_in_use(const wire::SockAddr& local, const TcpConnection* except, bool reuse) const {
  for (std::uint32_t i = 0; i < pool_built; ++i) {
    const TcpConnection& o = pool_[i];
    if (!o.allocated || !o.bound || &o == except || o.tuple.local.port != local.port) continue;
    if (o.family != local.ip.family) continue;
    if (!(o.tuple.local.ip == local.ip || o.tuple.local.ip.is_unspecified() || local.ip.is_unspecified())) {
      continue;
    }
    // Linux: SO_REUSEADDR on both lets a socket bind beside connections that are not listening.
    if (reuse && o.reuse_addr && o.state != TcpState::kListen) continue;
    return true;
  }
  return false;
}

int StackCore::pick_ephemeral(wire::FourTuple& t) {
  // RFC 6056 §3.3.3 (Algorithm 3): offset = F(local, remote, secret), then a counter.
  const std::uint32_t lo = cfg.ephemeral_lo;
  const std::uint32_t n =
      cfg.ephemeral_hi >= cfg.ephemeral_lo ? cfg.ephemeral_hi - cfg.ephemeral_lo + 1u : 0u;
  if (n == 0) return -EADDRNOTAVAIL;
  wire::FourTuple probe = t;
  probe.local.port = 0;
  const auto offset = static_cast<std::uint32_t>(hash_tuple(key, probe, 0xE9E3u));
  const auto port_at = [&](std::uint32_t i) {
    return static_cast<std::uint16_t>(lo + (offset + ephemeral_counter + i) % n);
  };
  // With a PortFilter (the engine's RSS choice), free candidates it rejects are passed over, at
  // most kPortFilterTries of them; then, or when no free port in the range is accepted, the first
  // free candidate is taken (the engine's cross-engine hand-off carries its replies).
  constexpr std::uint32_t kNone = ~0u;
  std::uint32_t first_free = kNone;
  std::uint32_t rejected = 0;
  for (std::uint32_t i = 0; i < n; ++i) {
    t.local.port = port_at(i);
    if (flow_taken(t)) continue;
    if (find_listener(t.local) != nullptr) continue;
    if (port_filter == nullptr || port_filter->accept_local_port(t)) {
      ephemeral_counter += i + 1;
      return 0;
    }
    if (first_free == kNone) first_free = i;
    if (++rejected >= PortFilter::kPortFilterTries) break;
  }
  if (first_free == kNone) return -EADDRNOTAVAIL;
  t.local.port = port_at(first_free);
  ephemeral_counter += first_free + 1;
  ++stats.port_filter_fallbacks;
  return 0;
}

}  // namespace xdptcp::tcp
