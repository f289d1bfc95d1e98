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
#include "userstack/engine/ip_peek.h"
#include "userstack/engine/stats_region.h"
#include "userstack/tcp/tcp_connection.h"
#include "userstack/wire/ip.h"
#include "userstack/wire/tcp_header.h"

namespace xdptcp::engine {

Engine::Engine(EngineConfig cfg, io::PacketIo& io, const Clock& clock, L2Resolver* resolver)
    : cfg_(std::move(cfg)),
      io_(io),
      clock_(clock),
      resolver_(resolver),
      neighbors_(NeighborCache::slots_for(cfg_.tcp.max_sockets)) {
  cfg_.rx_batch = std::clamp<std::size_t>(cfg_.rx_batch, 1, kMaxBatch);
  // The IP MTU the stack may use is bounded by what a frame holds after the Ethernet header, with
  // room for an 802.1Q tag whatever our own: a peer that talks to us tagged is answered tagged.
  const std::size_t room = io_.frame_capacity() - (wire::kEthHeader + wire::kVlanTag);
  cfg_.tcp.mtu = static_cast<std::uint16_t>(std::min<std::size_t>(cfg_.tcp.mtu, room));
  // The application runs between two polls (EventQueue::wait), so an ACK it can answer waits for
  // it: poll() releases it after one turn, wait_for_work() before sleeping.
  cfg_.tcp.hold_acks_for_app = true;
  tcp_ = std::make_unique<tcp::TcpStack>(cfg_.tcp, *this, clock_.now());
  tcp_->set_event_listener(this);
  // Once, here: nothing of the resolution allocates afterwards.
  l2_held_ = std::make_unique<std::array<PendingNeighbor, kMaxPendingNeighbors>>();
  held_cap_ = cfg_.tcp.mtu;
  held_bytes_.assign(kMaxPendingNeighbors * kHeldPerNeighbor * held_cap_, 0);
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
  // Nothing is learned from a frame before TCP has accepted its segment for a connection (the
  // neighbour model, engine_neighbors.cpp): a forged source address must not redirect replies.
  if (tcp_->input(eth->payload, now)) learn_from_accepted(*eth, now);
}

std::span<std::uint8_t> Engine::tx_acquire() {
  tx_frame_ = io_.tx_acquire();
  if (tx_frame_.empty()) return {};
  return tx_frame_.subspan(eth_header_len());
}

void Engine::tx_commit(std::size_t len) {
  if (tx_frame_.empty()) return;
  const std::span<const std::uint8_t> ip = tx_frame_.subspan(eth_header_len(), len);
  const auto dst = ip_destination(ip);
  const auto nh = dst ? next_hop(*dst) : std::nullopt;
  // last_poll_: the clock as this iteration read it (an entry's TTL need not be exact to the µs).
  if (const auto n = nh ? neighbors_.lookup(*nh, last_poll_) : std::nullopt) {
    emit_frame(tx_frame_, len, *n);
  } else {
    no_neighbor(ip, nh);  // held while it resolves, or counted (engine_neighbors.cpp)
  }
  tx_frame_ = {};
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
