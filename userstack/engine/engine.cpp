// The per-core run-to-completion loop; see engine.h.
#include "userstack/engine/engine.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "userstack/base/byteorder.h"
#include "userstack/engine/conn_encode.h"
#include "userstack/engine/engine_counters.h"
#include "userstack/engine/event_queue.h"
#include "userstack/engine/stats_region.h"
#include "userstack/tcp/tcp_connection.h"
#include "userstack/wire/ip.h"
#include "userstack/wire/tcp_header.h"

namespace xdptcp::engine {

namespace {

// The source address of an IPv4 or IPv6 packet, read without a full parse (the TCP stack parses
// and validates; this only feeds the neighbour cache, and only for frames the stack accepts as
// well-formed IP).
std::optional<wire::IpAddr> ip_source(std::span<const std::uint8_t> ip) {
  if (ip.empty()) return std::nullopt;
  const unsigned version = ip[0] >> 4;
  if (version == 4 && ip.size() >= wire::kIpv4MinHeader) return wire::IpAddr::v4_bytes(ip.data() + 12);
  if (version == 6 && ip.size() >= wire::kIpv6Header) return wire::IpAddr::v6_bytes(ip.data() + 8);
  return std::nullopt;
}

std::optional<wire::IpAddr> ip_destination(std::span<const std::uint8_t> ip) {
  if (ip.empty()) return std::nullopt;
  const unsigned version = ip[0] >> 4;
  if (version == 4 && ip.size() >= wire::kIpv4MinHeader) return wire::IpAddr::v4_bytes(ip.data() + 16);
  if (version == 6 && ip.size() >= wire::kIpv6Header) return wire::IpAddr::v6_bytes(ip.data() + 24);
  return std::nullopt;
}

}  // namespace

Engine::Engine(EngineConfig cfg, io::PacketIo& io, const Clock& clock, L2Resolver* resolver)
    : cfg_(std::move(cfg)), io_(io), clock_(clock), resolver_(resolver) {
  cfg_.rx_batch = std::clamp<std::size_t>(cfg_.rx_batch, 1, kMaxBatch);
  // The IP MTU the stack may use is bounded by what a frame holds after the Ethernet header.
  const std::size_t room = io_.frame_capacity() - eth_header_len();
  cfg_.tcp.mtu = static_cast<std::uint16_t>(std::min<std::size_t>(cfg_.tcp.mtu, room));
  // The application runs between two polls (EventQueue::wait), so an ACK it can answer waits for
  // it: poll() releases it after one turn, wait_for_work() before sleeping.
  cfg_.tcp.hold_acks_for_app = true;
  tcp_ = std::make_unique<tcp::TcpStack>(cfg_.tcp, *this, clock_.now());
  tcp_->set_event_listener(this);
  // Once, here: nothing of the resolution allocates afterwards.
  l2_held_ = std::make_unique<std::array<PendingNeighbor, kMaxPendingNeighbors>>();
  l2_socket_.assign(cfg_.tcp.max_sockets, kL2None);
  if (cfg_.engine_count > 1) {
    inbox_.resize(cfg_.engine_count);
    for (std::uint32_t j = 0; j < cfg_.engine_count; ++j) {
      if (j != cfg_.id) inbox_[j] = std::make_unique<HandoffRing>();
    }
    tcp_->set_flow_miss_handler(this);
    // RSS port choice only where it can succeed: a table without this queue would reject every
    // port (each connect() would then search to the bound and fall back).
    if (cfg_.rss.usable() && cfg_.rss.reaches(cfg_.id)) tcp_->set_port_filter(this);
    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    io_.set_wake_fd(wake_fd_);
  }
}

Engine::~Engine() {
  if (stats_region_ != nullptr) {
    // Readers must not ring the doorbell once it is closed (its number may be reused).
    if (conn_snapshots_) stats_region_->set_serving(cfg_.id, -1, false);
    capture_.detach();
    publish_stats(clock_.now(), true);  // the final counters stay readable
  }
  if (wake_fd_ >= 0) {
    io_.set_wake_fd(-1);
    close(wake_fd_);
  }
}

std::size_t Engine::poll() {
  const Instant now = clock_.now();
  last_poll_ = now;
  ++stats_.iterations;
  tcp_->release_held_acks();  // the application has had its turn since they were held
  const std::size_t n = io_.rx_burst(std::span(rx_.data(), cfg_.rx_batch));
  for (std::size_t i = 0; i < n; ++i) {
    current_frame_ = rx_[i].data;
    handle_frame(rx_[i].data, now);
  }
  if (capture_.on()) [[unlikely]]
    capture_rx(n);
  if (n > 0) io_.rx_release(std::span<const io::RxFrame>(rx_.data(), n));
  stats_.rx_frames += n;
  const std::uint64_t before = stats_.tx_frames + stats_.handoffs_in;
  if (!inbox_.empty()) drain_handoffs(now);
  // Pending next hops, at most every l2_poll (one netlink dump for all of them), before TCP's
  // output so that the SYNs held for one that resolved leave in this iteration's flush.
  if (l2_pending_ > 0 && now >= next_l2_poll_) poll_pending(now);
  tcp_->advance(now);  // fires due timers, then flushes every socket's output
  if (capture_.on()) [[unlikely]]
    capture_tx();
  io_.tx_flush();
  if (n > 0 || stats_.tx_frames + stats_.handoffs_in != before) last_work_ = now;
  if (now >= next_publish_) publish_stats(now, true);
  // xdptcp-ctl ss: a relaxed load of a word in the engine's own slot, which nobody else writes
  // unless asking; the snapshot's work happens only then.
  if (std::atomic_ref<std::uint64_t>(*conn_request_).load(std::memory_order_relaxed) != conn_seen_)
    serve_conn_request(now);
  return n;
}

void Engine::wait_for_work(Duration max) {
  if (const std::optional<Duration> d = begin_sleep(max)) io_.wait(*d);
  end_sleep();
}

std::optional<Duration> Engine::begin_sleep(Duration max) {
  // Adaptive polling (see EngineConfig::spin): still within the spin window, re-poll.
  const Instant now = clock_.now();
  if (cfg_.spin.ns > 0 && now - last_work_ < cfg_.spin) return std::nullopt;
  // A connection snapshot under way is finished first: its reader waits for it.
  if (conn_seen_ == kConnBuilding) return std::nullopt;
  ++stats_.sleeps;
  // Nothing for the application this turn: what waited for it goes now, before the sleep.
  tcp_->release_held_acks();
  tcp_->flush(now);
  if (capture_.on()) [[unlikely]]
    capture_tx();
  io_.tx_flush();
  // What the engine did last is published before it sleeps, however long that is (the preload
  // library's engine may sleep until the application's next event): a copy without a system call,
  // made only when frames moved since the last publish.
  if (stats_region_ != nullptr && (now >= next_publish_ || activity() != published_activity_))
    publish_stats(now, now >= next_publish_);
  Duration d = max;
  if (auto t = tcp_->next_timer()) d = std::min(d, std::max(Duration{}, *t - now));
  // While capturing, the engine wakes for its periodic publish, which checks that the xdptcp-ctl
  // draining the ring still runs (a killed one cannot switch capture off).
  if (capture_.on()) d = std::min(d, kStatsInterval);
  if (l2_pending_ > 0) d = std::min(d, std::max(Duration{}, next_l2_poll_ - now));
  if (wake_fd_ >= 0) {
    // Announce the sleep, then look at the inboxes once more: a producer that pushed before
    // seeing the flag has its frame found here; one that pushes after rings the doorbell.
    // The same for xdptcp-ctl ss across processes: the sleep is announced in the stats region, and
    // a request posted before the reader could see the announcement is served instead of sleeping.
    sleeping_.store(true, std::memory_order_seq_cst);
    if (conn_snapshots_) stats_region_->announce_sleep(cfg_.id);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (inboxes_pending()) return std::nullopt;
    if (conn_snapshots_ &&
        std::atomic_ref<std::uint64_t>(*conn_request_).load(std::memory_order_seq_cst) != conn_seen_)
      return std::nullopt;
  }
  return d;
}

void Engine::end_sleep() {
  if (wake_fd_ >= 0) {
    sleeping_.store(false, std::memory_order_relaxed);
    if (conn_snapshots_ && stats_region_->end_sleep_was_rung(cfg_.id)) ++rings_owed_;
    // Hand-offs ring the doorbell of a stack with several engines at any time: it is cleared after
    // every sleep. A stack with one engine has it for xdptcp-ctl ss only, whose reader announces
    // each ring (kRung): read only when one is owed, so that an unasked engine's sleep costs no
    // extra system call. A ring announced but not yet written is read at a later wake-up (the
    // eventfd stays readable until then, so at most one sleep ends early); a reader killed between
    // announcing and ringing leaves one owed for good: a read that finds nothing at each wake-up,
    // never a doorbell left readable (which would end every sleep at once).
    if (!inbox_.empty() || rings_owed_ > 0) {
      std::uint64_t rung = 0;  // EAGAIN when not rung
      if (read(wake_fd_, &rung, sizeof rung) == static_cast<ssize_t>(sizeof rung) && rings_owed_ > 0)
        rings_owed_ = rung >= rings_owed_ ? 0 : rings_owed_ - static_cast<std::uint32_t>(rung);
    }
  }
}

void Engine::poll_fds(std::vector<int>& out) const {
  io_.poll_fds(out);
  if (wake_fd_ >= 0) out.push_back(wake_fd_);
}

void Engine::handle_frame(std::span<const std::uint8_t> frame, Instant now) {
  const auto eth = wire::parse_ethernet(frame);
  if (!eth) {
    ++stats_.rx_bad_ethernet;
    return;
  }
  if (eth->ether_type != wire::kEtherTypeIpv4 && eth->ether_type != wire::kEtherTypeIpv6) {
    ++stats_.rx_not_ip;
    return;
  }
  // The frame came from the next hop towards its source: remember where to send replies.
  if (auto src = ip_source(eth->payload)) neighbors_.learn(*src, eth->src);
  tcp_->input(eth->payload, now);
}

std::span<std::uint8_t> Engine::tx_acquire() {
  tx_frame_ = io_.tx_acquire();
  if (tx_frame_.empty()) return {};
  return tx_frame_.subspan(eth_header_len());
}

void Engine::tx_commit(std::size_t len) {
  if (tx_frame_.empty()) return;
  const std::size_t hl = eth_header_len();
  const std::span<const std::uint8_t> ip = tx_frame_.subspan(hl, len);
  const auto dst = ip_destination(ip);
  const auto mac = dst ? neighbors_.lookup(*dst) : std::nullopt;
  if (!mac) {
    // No next hop known. One being resolved (connect()) keeps the segment, a SYN, until it is:
    // the kernel queues packets for an INCOMPLETE neighbour the same way. Otherwise (the MAC is
    // learned from the peer's frames, or was evicted) the frame is not sent and TCP's
    // retransmission covers it. Either way the PacketIo lends the same buffer again.
    if (dst && l2_pending_ > 0 && hold(ip, *dst)) {
      tx_frame_ = {};
      return;
    }
    ++stats_.tx_no_neighbor;
    tx_frame_ = {};
    return;
  }
  const std::uint16_t type = (ip[0] >> 4) == 4 ? wire::kEtherTypeIpv4 : wire::kEtherTypeIpv6;
  wire::emit_ethernet(*mac, cfg_.mac, type, cfg_.vlan_tci, tx_frame_);
  io_.tx_commit(hl + len);
  ++stats_.tx_frames;
  tx_frame_ = {};
}

int Engine::connect(tcp::SocketId s, const wire::SockAddr& remote) {
  const Instant now = clock_.now();
  const bool tracked = s >= 0 && static_cast<std::size_t>(s) < l2_socket_.size();
  // A failed earlier connect reports its error first (TcpStack::connect), before any new
  // resolution starts.
  if (const tcp::TcpConnection* c = tcp_->connection(s); c != nullptr && c->so_error != 0) {
    return tcp_->connect(s, remote, now);
  }
  int pending = 0;
  if (!neighbors_.lookup(remote.ip)) {
    pending = resolve_next_hop(remote.ip, now);
    if (pending < 0) {
      if (pending == -EHOSTUNREACH) ++stats_.resolver_failures;
      return pending;
    }
  }
  // With the next hop pending the connection still enters SYN-SENT now: its SYN is held by
  // tx_commit() and sent by poll_pending() when the MAC is known.
  const int r = tcp_->connect(s, remote, now);
  if (r == -EINPROGRESS && tracked)
    l2_socket_[static_cast<std::size_t>(s)] = pending == 1 ? kL2Waiting : kL2None;
  return r;
}

int Engine::resolve_next_hop(const wire::IpAddr& dst, Instant now) {
  if (find_pending(dst) >= 0) return 1;  // another connect() already waits for it
  if (resolver_ == nullptr) return -EHOSTUNREACH;
  L2Query q;
  q.dst = dst;
  resolver_->lookup(q);  // never waits (L2Resolver)
  switch (q.state) {
    case L2State::kKnown:
      neighbors_.learn(dst, q.mac);
      return 0;
    case L2State::kFailed:
      return -EHOSTUNREACH;
    case L2State::kPending:
      break;
  }
  // Bounded: each pending next hop costs a slot of held packets and its share of every poll.
  // ENOBUFS (Linux's "insufficient resources") rather than EAGAIN, which a non-blocking connect()
  // caller would take for "in progress"; the application may retry once some have resolved.
  if (l2_pending_ == kMaxPendingNeighbors) {
    ++stats_.l2_pending_full;
    return -ENOBUFS;
  }
  if (l2_pending_ == 0) next_l2_poll_ = now + cfg_.l2_poll;
  l2_queries_[l2_pending_] = q;
  PendingNeighbor& p = (*l2_held_)[l2_pending_];
  p.deadline = now + cfg_.l2_timeout;
  p.held = 0;
  ++l2_pending_;
  return 1;
}

int Engine::find_pending(const wire::IpAddr& dst) const {
  for (std::size_t i = 0; i < l2_pending_; ++i) {
    if (l2_queries_[i].dst == dst) return static_cast<int>(i);
  }
  return -1;
}

bool Engine::hold(std::span<const std::uint8_t> ip, const wire::IpAddr& dst) {
  const int i = find_pending(dst);
  if (i < 0) return false;
  ++stats_.l2_held;
  if (ip.size() > kHeldBytes) {
    ++stats_.l2_held_drops;  // not a SYN; TCP retransmits it
    return true;
  }
  PendingNeighbor& p = (*l2_held_)[static_cast<std::size_t>(i)];
  if (p.held == kHeldPerNeighbor) {
    // Full: the oldest goes (a retransmitted SYN makes its predecessor redundant anyway).
    std::move(p.packets.begin() + 1, p.packets.end(), p.packets.begin());
    --p.held;
    ++stats_.l2_held_drops;
  }
  HeldPacket& h = p.packets[p.held++];
  h.len = static_cast<std::uint16_t>(ip.size());
  std::memcpy(h.bytes.data(), ip.data(), ip.size());
  return true;
}

void Engine::poll_pending(Instant now) {
  next_l2_poll_ = now + cfg_.l2_poll;
  resolver_->poll(std::span(l2_queries_.data(), l2_pending_));
  // Downwards: remove_pending() moves the last entry, already looked at, into the hole.
  for (std::size_t i = l2_pending_; i-- > 0;) {
    L2Query q = l2_queries_[i];
    // A frame from the destination may have taught the cache its next hop meanwhile: as good.
    if (q.state != L2State::kKnown) {
      if (const auto learned = neighbors_.lookup(q.dst)) {
        q.mac = *learned;
        q.state = L2State::kKnown;
      }
    }
    if (q.state == L2State::kKnown) {
      neighbors_.learn(q.dst, q.mac);
      send_held(i, q.mac);
      ++stats_.l2_resolved;
      remove_pending(i);
    } else if (q.state == L2State::kFailed || now >= (*l2_held_)[i].deadline) {
      stats_.l2_held_drops += (*l2_held_)[i].held;
      remove_pending(i);
      fail_waiters(q.dst, now);
    }
  }
}

void Engine::send_held(std::size_t i, const wire::MacAddr& mac) {
  PendingNeighbor& p = (*l2_held_)[i];
  const std::size_t hl = eth_header_len();
  for (std::size_t k = 0; k < p.held; ++k) {
    const HeldPacket& h = p.packets[k];
    const std::span<std::uint8_t> frame = io_.tx_acquire();
    if (frame.size() < hl + h.len) {
      stats_.l2_held_drops += p.held - k;  // TX ring full: TCP retransmits
      break;
    }
    const std::uint16_t type = (h.bytes[0] >> 4) == 4 ? wire::kEtherTypeIpv4 : wire::kEtherTypeIpv6;
    wire::emit_ethernet(mac, cfg_.mac, type, cfg_.vlan_tci, frame);
    std::memcpy(frame.data() + hl, h.bytes.data(), h.len);
    io_.tx_commit(hl + h.len);
    ++stats_.tx_frames;
    ++stats_.l2_held_sent;
  }
  p.held = 0;
}

void Engine::remove_pending(std::size_t i) {
  const std::size_t last = l2_pending_ - 1;
  if (i != last) {
    l2_queries_[i] = l2_queries_[last];
    (*l2_held_)[i] = (*l2_held_)[last];
  }
  (*l2_held_)[last].held = 0;
  --l2_pending_;
}

void Engine::fail_waiters(const wire::IpAddr& dst, Instant now) {
  // The connections waiting for `dst`: a scan of the per-socket marks, on this rare event only.
  for (std::size_t i = 0; i < l2_socket_.size(); ++i) {
    if (l2_socket_[i] != kL2Waiting) continue;
    const auto s = static_cast<tcp::SocketId>(i);
    const tcp::TcpConnection* c = tcp_->connection(s);
    if (c == nullptr || c->state != tcp::TcpState::kSynSent) {
      l2_socket_[i] = kL2None;  // resolved earlier, or closed: a stale mark
      continue;
    }
    if (!(c->tuple.remote.ip == dst)) continue;
    // The kernel gave up on the next hop: the connection fails with EHOSTUNREACH and sends no RST,
    // as Linux's does when its neighbour does not resolve (RFC 1122 §4.2.3.9).
    l2_socket_[i] = kL2None;
    (void)tcp_->abort(s, EHOSTUNREACH, now);
    ++stats_.resolver_failures;
  }
}

void Engine::set_stats_region(StatsRegion* region) {
  if (stats_region_ != nullptr && conn_snapshots_) stats_region_->set_serving(cfg_.id, -1, false);
  capture_.detach();
  stats_region_ = region != nullptr && cfg_.id < region->engines() ? region : nullptr;
  next_publish_ = Instant{std::numeric_limits<std::int64_t>::max()};
  conn_snapshots_ = false;
  conn_request_ = &no_request_;
  conn_seen_ = 0;
  if (stats_region_ == nullptr) return;
  if (stats_region_->conn_capacity() > 0) {
    // The doorbell a reader rings to wake this engine from its sleep (see end_sleep()). A stack of
    // several engines has it for hand-offs already; a one-engine stack gets one now, on the
    // control path. The preload library asks for poll_fds() after this (Stack::drive), so the
    // application's epoll set watches it too.
    if (wake_fd_ < 0) {
      wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
      if (wake_fd_ >= 0) io_.set_wake_fd(wake_fd_);
    }
    conn_request_ = stats_region_->conn_request_word(cfg_.id);
    // Requests made before this engine served the slot were not for it.
    conn_seen_ = std::atomic_ref<std::uint64_t>(*conn_request_).load(std::memory_order_seq_cst);
    conn_snapshots_ = true;
    // xdptcp-ctl capture posts its requests on the same word (capture_ring.h).
    capture_.attach(stats_region_->capture_area(cfg_.id), stats_region_->capture_slots());
    stats_region_->set_serving(cfg_.id, wake_fd_, true);
  }
  publish_stats(clock_.now(), true);
}

void Engine::serve_conn_request(Instant now) {
  StatsRegion& r = *stats_region_;  // conn_request_ moves only inside a region
  if (conn_seen_ != kConnBuilding) {
    // A new request: it may be xdptcp-ctl capture's (the snapshot is taken anyway, unread then).
    capture_.control();
    conn_target_ = std::atomic_ref<std::uint64_t>(*conn_request_).load(std::memory_order_relaxed);
    conn_seen_ = kConnBuilding;
    conn_cursor_ = 0;
    conn_count_ = 0;
    conn_truncated_ = 0;
    conn_polls_ = 0;
    r.begin_conn_snapshot(cfg_.id);
  }
  // A bounded share of the pool per poll: the snapshot never holds the engine for long, however
  // many connections it has (kConnSlotsPerPoll).
  ++conn_polls_;
  const std::uint32_t slots = tcp_->tcb_slots();
  const std::uint32_t end = conn_cursor_ + std::min(kConnSlotsPerPoll, slots - conn_cursor_);
  tcp::SocketView v;
  for (; conn_cursor_ < end; ++conn_cursor_) {
    if (!tcp_->inspect(conn_cursor_, &v, now)) continue;
    if (conn_count_ < r.conn_capacity()) {
      r.write_conn_entry(cfg_.id, conn_count_++, encode_conn(v));
    } else {
      ++conn_truncated_;
    }
  }
  if (conn_cursor_ == slots) {
    r.end_conn_snapshot(cfg_.id, conn_count_, conn_truncated_, conn_target_,
                        static_cast<std::uint64_t>(now.ns), conn_polls_);
    conn_seen_ = conn_target_;  // a request posted meanwhile differs: the next poll starts again
  }
}

void Engine::publish_stats(Instant now, bool refresh_io) {
  if (refresh_io) {
    io_snapshot_ = io_.stats();
    next_publish_ = now + kStatsInterval;
    if (capture_.on()) capture_.check_owner();  // an xdptcp-ctl killed -9 cannot stop the capture
  }
  stats_.capture_frames = capture_.total_captured();
  stats_.capture_lost = capture_.total_lost();
  std::array<std::uint64_t, counters::kCount> v;
  counters::fill(v, stats_, io_snapshot_, tcp_->stats());
  stats_region_->publish(cfg_.id, v, static_cast<std::uint64_t>(now.ns));
  published_activity_ = activity();
}

void Engine::capture_rx(std::size_t n) {
  if (n == 0) return;
  const std::uint64_t ts = capture::realtime_ns();
  for (std::size_t i = 0; i < n; ++i) capture_.add(rx_[i].data, capture::Direction::kReceived, ts);
  capture_.publish();
}

void Engine::capture_tx() {
  std::array<std::span<const std::uint8_t>, 64> frames;
  std::size_t got = io_.tx_queued(0, frames);
  if (got == 0) return;
  const std::uint64_t ts = capture::realtime_ns();
  for (std::size_t at = 0;;) {
    for (std::size_t i = 0; i < got; ++i) capture_.add(frames[i], capture::Direction::kSent, ts);
    at += got;
    if (got < frames.size()) break;
    got = io_.tx_queued(at, frames);
  }
  capture_.publish();
}

bool Engine::inboxes_pending() const {
  for (const auto& r : inbox_) {
    if (r && r->front() != nullptr) return true;
  }
  return false;
}

void Engine::set_peers(std::span<Engine* const> engines, FlowDirectory* directory) {
  peers_.assign(engines.begin(), engines.end());
  directory_ = peers_.size() > 1 ? directory : nullptr;
}

void Engine::drain_handoffs(Instant now) {
  for (auto& ring : inbox_) {
    if (!ring) continue;
    // Bounded per iteration (one ring's worth), so a busy peer cannot starve this engine's RX.
    for (std::size_t k = 0; k < HandoffRing::kSlots; ++k) {
      const HandoffRing::Slot* s = ring->front();
      if (s == nullptr) break;
      current_frame_ = {s->bytes.data(), s->len};
      current_hops_ = s->hops;
      handle_frame(current_frame_, now);
      ring->pop();
      ++stats_.handoffs_in;
    }
  }
  current_hops_ = 0;
}

std::optional<std::uint32_t> Engine::slice_owner(std::uint16_t port) const {
  for (std::uint32_t k = 0; k < peers_.size(); ++k) {
    const tcp::StackConfig& c = peers_[k]->cfg_.tcp;
    if (port >= c.ephemeral_lo && port <= c.ephemeral_hi) return k;
  }
  return std::nullopt;
}

tcp::FlowMissHandler::Miss Engine::on_flow_miss(const wire::FourTuple& tuple) {
  const auto n = static_cast<std::uint32_t>(peers_.size());
  // A segment handed here is answered here: handed off at most once (issue 11, item 1).
  if (n <= 1 || current_frame_.empty() || current_hops_ > 0) return Miss::kAnswerHere;
  // The owner is known from the flow directory (passive opens, flows from a bound port), else from
  // the ephemeral port slices, which name the owner of every active open from an ephemeral port
  // (design brief §5: replies reach the wrong queue on veth, whose RSS we cannot steer). A flow no
  // engine is known to own is answered here, as the stack answers any unknown segment: a SYN
  // cookie's ACK is checked here (the engines share the secret), anything else draws the RST. One
  // lookup per unknown segment, never one per engine.
  std::optional<std::uint32_t> owner;
  if (directory_ != nullptr) owner = directory_->find(tuple);
  if (!owner) owner = slice_owner(tuple.local.port);
  if (!owner || *owner == cfg_.id || *owner >= n) return Miss::kAnswerHere;
  Engine& e = *peers_[*owner];
  if (!e.inbox_[cfg_.id]->push(current_frame_, 1)) {
    ++stats_.handoff_drops;
    return Miss::kHandoffDropped;
  }
  ++stats_.handoffs_out;
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (e.sleeping_.load(std::memory_order_seq_cst)) {
    const std::uint64_t one = 1;
    (void)!write(e.wake_fd_, &one, sizeof one);
  }
  return Miss::kHandedOff;
}

void Engine::on_flow_added(const wire::FourTuple& tuple) {
  // Flows in this engine's own slice need no entry: the slice names their owner.
  if (directory_ == nullptr || slice_owner(tuple.local.port) == cfg_.id) return;
  if (!directory_->insert(tuple, static_cast<std::uint8_t>(cfg_.id))) ++stats_.flow_directory_full;
}

void Engine::on_flow_removed(const wire::FourTuple& tuple) {
  if (directory_ == nullptr || slice_owner(tuple.local.port) == cfg_.id) return;
  directory_->erase(tuple, static_cast<std::uint8_t>(cfg_.id));
}

bool Engine::accept_local_port(const wire::FourTuple& candidate) {
  // The NIC hashes the replies (remote -> local) to a queue; this engine is queue cfg_.id. An
  // IPv6 flow whose queue a short key cannot predict takes any port (the hand-off covers it).
  const std::optional<std::uint32_t> q = cfg_.rss.rx_queue(candidate);
  return !q || *q == cfg_.id;
}

bool Engine::attach(EventQueue* q) {
  for (auto& slot : queues_) {
    if (slot == nullptr) {
      slot = q;
      return true;
    }
  }
  return false;
}

void Engine::detach(EventQueue* q) {
  for (auto& slot : queues_) {
    if (slot == q) slot = nullptr;
  }
}

void Engine::on_socket_event(tcp::SocketId id, std::uint32_t events) {
  for (EventQueue* q : queues_) {
    if (q != nullptr) q->notify(id, events);
  }
}

}  // namespace xdptcp::engine
