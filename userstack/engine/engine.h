// One engine: one NIC queue, one thread, one TCP stack, run to completion (design brief §2).
// Read first: userstack/io/packet_io.h (its wire), userstack/tcp/tcp_stack.h (its TCP).
//
// An iteration of poll():
//   1. rx burst (up to rx_batch frames) from the PacketIo
//   2. parse Ethernet, hand the IP packet to TcpStack::input(); a segment TCP accepted for one of
//      its connections refreshes its on-link peer's link address (the neighbour model below)
//   3. release the RX frames in one batch
//   4. fire due timers (TcpStack::advance)
//   5. TCP output for every socket with something to send (TcpStack::flush), built straight into
//      transmit frames (this engine is the stack's PacketSink: it prepends the Ethernet header)
//   6. one tx flush: ring submit, a kick only when the kernel asks, completions reaped
// The application runs between iterations, in the same thread (EventQueue::wait drives poll()),
// so its reads and writes of a whole batch of ready sockets go out together in step 5.
//
// The engine takes its PacketIo and its Clock from whoever creates it: over AF_XDP with the
// monotonic clock in production, over an in-memory link with a virtual clock in tests.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "userstack/engine/capture_ring.h"
#include "userstack/engine/flow_directory.h"
#include "userstack/engine/handoff_ring.h"
#include "userstack/engine/neighbor_cache.h"
#include "userstack/engine/route_table.h"
#include "userstack/engine/toeplitz.h"
#include "userstack/io/packet_io.h"
#include "userstack/tcp/tcp_stack.h"
#include "userstack/time/clock.h"
#include "userstack/wire/ethernet.h"

namespace xdptcp::engine {

class EventQueue;
class StatsRegion;

// Next-hop resolution, asynchronous: the engine never waits for it (issue 11 items 2 and 3). A
// connect() or a send whose next hop (EngineConfig::routes) has no neighbour entry asks lookup(),
// which answers at once: known, failed (no route through our interface), or pending after starting
// the resolution (the kernel: ARP/ND). The engine then polls the pending ones, all at once, every
// EngineConfig::l2_poll until they resolve, fail, or EngineConfig::l2_timeout passes. Production:
// the kernel's routing and neighbour tables (api/src/kernel_resolver.h over
// userstack/kernel/next_hop.h); tests: a fixed table.
enum class L2State : std::uint8_t { kKnown, kPending, kFailed };

struct L2Query {
  wire::IpAddr dst;  // the next hop the engine needs (the destination itself with no routes)
  L2State state = L2State::kPending;
  wire::MacAddr mac{};  // valid when kKnown
  // The resolver's scratch between lookup() and poll() (the kernel resolver: the next hop, i.e.
  // the gateway or dst itself, whose neighbour entry it watches).
  wire::IpAddr next_hop{};
};

class L2Resolver {
 public:
  virtual ~L2Resolver() = default;
  // Sets q.state (and q.mac when known) for q.dst; when the answer is not known yet, starts the
  // resolution and answers kPending. Must not sleep or wait for the network: at most a few quick
  // requests to the kernel, which answers them within the call.
  virtual void lookup(L2Query& q) = 0;
  // Re-examines queries that lookup() left kPending and updates their state (kPending: no news).
  // Called on the engine thread, at most every EngineConfig::l2_poll, never per packet.
  virtual void poll(std::span<L2Query> pending) = 0;
};

struct EngineConfig {
  tcp::StackConfig tcp;
  wire::MacAddr mac;  // our interface's MAC
  // Tag our frames carry towards a next hop the kernel resolved, when the interface is a VLAN
  // trunk. A peer learned from its own (accepted) frames is answered with the tag they carried.
  std::optional<std::uint16_t> vlan_tci;
  // The interface's routes (route_table.h): which next hop a destination needs. Empty: on-link.
  RouteTable routes;
  std::uint32_t id = 0;            // engine index == queue index
  std::uint32_t engine_count = 1;  // engines of the stack (hand-off rings are sized by it)
  std::size_t rx_batch = 64;       // frames per rx burst (<= kMaxBatch)
  // Adaptive polling: after an iteration that did work, wait_for_work() returns at once (the
  // caller re-polls) until this long has passed without work; only then does it sleep. Work
  // usually comes back within a round trip, so this saves the sleep/wake-up (and the kernel's
  // wake-up path) per batch, while an idle engine still sleeps. Zero: always sleep.
  Duration spin{};
  // The NIC's RSS key and indirection table (kernel::InterfaceInfo), empty when unknown (veth).
  // With more than one engine and a usable configuration whose table reaches this engine's queue,
  // connect() picks source ports whose replies the NIC delivers to this queue (design brief §5);
  // otherwise, and when no such port is free, replies that reach another engine are handed over.
  RssConfig rss;
  // Asynchronous next-hop resolution (see L2Resolver): how often the pending destinations are
  // polled, and how long one may stay pending before its connections fail with EHOSTUNREACH
  // (the kernel's own give-up time with default settings: 3 probes, 1 s apart).
  Duration l2_poll = Duration::millis(10);
  Duration l2_timeout = Duration::seconds(3);
  // How long a neighbour entry is good for without confirmation (neighbor_cache.h): one from the
  // kernel is asked for again after it, one learned from accepted segments is renewed by each (the
  // kernel's base_reachable_time, 30 s).
  Duration neighbor_ttl = Duration::seconds(30);
};

struct EngineStats {
  std::uint64_t iterations = 0;
  std::uint64_t rx_frames = 0;
  std::uint64_t rx_not_ip = 0;  // not IPv4/IPv6 (the XDP program should not send these)
  std::uint64_t rx_bad_ethernet = 0;
  std::uint64_t tx_frames = 0;
  std::uint64_t tx_no_neighbor = 0;     // no MAC for the next hop, none coming: not sent (TCP retransmits)
  std::uint64_t resolver_failures = 0;  // connects failed with EHOSTUNREACH (now or once pending)
  std::uint64_t l2_pending_full = 0;    // kMaxPendingNeighbors pending: connect ENOBUFS, send not held
  std::uint64_t l2_resolved = 0;        // pending next hops that resolved
  std::uint64_t l2_held = 0;            // segments held for a pending next hop
  std::uint64_t l2_held_sent = 0;       // ... sent once it resolved
  std::uint64_t l2_held_drops = 0;      // ... dropped: hold queue full, no TX frame, failed, timed out
  std::uint64_t handoffs_out = 0;       // segments passed to the engine owning their flow
  std::uint64_t handoffs_in = 0;
  std::uint64_t handoff_drops = 0;  // the owner's hand-off ring was full (TCP retransmits)
  std::uint64_t sleeps = 0;         // wait_for_work() calls that slept in the PacketIo
  // Flows this engine could not enter in the stack's FlowDirectory (at its bound): their segments
  // that reach another engine are answered there as unknown.
  std::uint64_t flow_directory_full = 0;
  std::uint64_t capture_frames = 0;      // frames copied into the capture ring (xdptcp-ctl capture)
  std::uint64_t capture_lost = 0;        // ... not copied: the ring was full
  std::uint64_t tx_no_route = 0;         // no route of ours to the destination: not sent (TCP retransmits)
  std::uint64_t neighbor_evictions = 0;  // next hops evicted from the full neighbour cache
  std::uint64_t l2_learned = 0;          // link addresses learned or changed from accepted segments
};

class Engine final : public tcp::PacketSink,
                     public tcp::SocketEventListener,
                     public tcp::FlowMissHandler,
                     public tcp::PortFilter {
 public:
  static constexpr std::size_t kMaxBatch = 256;
  static constexpr std::size_t kMaxEventQueues = 32;  // epoll sets: one per application thread
  // Next hops resolving at once (connect() to a new one fails with ENOBUFS at the bound; a send
  // for a new one is not sent, counted in l2_pending_full and tx_no_neighbor, and TCP retransmits
  // it), and the segments held for each until it resolves (the kernel's unres_qlen; the oldest is
  // dropped, counted in l2_held_drops), of up to the MTU each.
  static constexpr std::size_t kMaxPendingNeighbors = 64;
  static constexpr std::size_t kHeldPerNeighbor = 4;

  Engine(EngineConfig cfg, io::PacketIo& io, const Clock& clock, L2Resolver* resolver);
  ~Engine() override;
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // One iteration of the loop above. Returns the number of frames received.
  std::size_t poll();
  // Sleeps in the PacketIo until a frame may be ready, the next TCP timer is due, or `max` passes.
  void wait_for_work(Duration max);
  // wait_for_work() in two halves, for a caller that sleeps in its own poll/epoll set (the preload
  // library puts poll_fds() in the application's epoll). begin_sleep() sends what waited for the
  // application (held ACKs, queued output) and returns how long the caller may sleep: up to `max`,
  // less when a TCP timer is due first; nullopt when it must not sleep (spin window, a hand-off
  // pending). end_sleep() must follow every begin_sleep() once the caller wakes (or does not sleep).
  std::optional<Duration> begin_sleep(Duration max);
  void end_sleep();
  // The descriptors whose readability ends a sleep: the PacketIo's and the hand-off doorbell.
  void poll_fds(std::vector<int>& out) const;

  tcp::TcpStack& tcp() { return *tcp_; }
  const tcp::TcpStack& tcp() const { return *tcp_; }
  const Clock& clock() const { return clock_; }
  Instant now() const { return clock_.now(); }
  // The clock as the last poll() read it (no clock read).
  Instant last_poll_time() const { return last_poll_; }
  const EngineStats& stats() const { return stats_; }
  io::IoStats io_stats() const { return io_.stats(); }
  NeighborCache& neighbors() { return neighbors_; }
  std::uint32_t id() const { return cfg_.id; }
  std::size_t max_sockets() const { return cfg_.tcp.max_sockets; }

  // connect() through the engine. When the next hop's MAC is unknown it starts resolving it and
  // the connection waits in SYN-SENT (-EINPROGRESS) with its SYN held here; the SYN leaves as
  // soon as the MAC is known, or the connection fails with EHOSTUNREACH when the resolution does.
  // -EHOSTUNREACH at once when there is no route through our interface, -ENOBUFS when
  // kMaxPendingNeighbors other next hops are pending. Never waits for the resolution.
  int connect(tcp::SocketId s, const wire::SockAddr& remote);
  // The next hop a packet to `dst` needs (EngineConfig::routes), nullopt without a route.
  std::optional<wire::IpAddr> next_hop(const wire::IpAddr& dst) { return cfg_.routes.next_hop(dst); }
  // Next hops being resolved now.
  std::size_t l2_pending() const { return l2_pending_; }

  // The stack's engines, indexed by id (this one included), for the cross-engine hand-off, and the
  // directory of which engine owns each flow that the ephemeral port slices do not name (shared by
  // the engines; null: only the slices name owners). Set once, before any engine polls; every
  // engine must be constructed by then, and the directory must outlive them.
  void set_peers(std::span<Engine* const> engines, FlowDirectory* directory);

  // Publishes this engine's counters (engine_counters.h) into slot id() of `region` from now on, so
  // that xdptcp-ctl reads them from another process (stats_region.h): at once, then about every
  // kStatsInterval of the engine's clock (one compare per poll()), before sleeping when frames moved
  // since, and when the engine is destroyed. nullptr stops it. The region must outlive the engine.
  static constexpr Duration kStatsInterval = Duration::millis(100);
  // A region with connection snapshot areas also lets xdptcp-ctl ss ask this engine for its
  // connections (conn_snapshot.h): poll() compares the slot's request word with the last request
  // served (one relaxed load) and, when it moved, writes the snapshot over the next polls,
  // kConnSlotsPerPoll TCB slots each. The engine then has a doorbell (the hand-off eventfd, made
  // here when the stack has one engine) that a reader rings when the engine announced a sleep.
  void set_stats_region(StatsRegion* region);

  // Event queues register here to hear about readiness changes (at most kMaxEventQueues).
  bool attach(EventQueue* q);
  void detach(EventQueue* q);

 private:
  // tcp::PacketSink
  std::span<std::uint8_t> tx_acquire() override;
  void tx_commit(std::size_t len) override;
  // tcp::SocketEventListener
  void on_socket_event(tcp::SocketId id, std::uint32_t events) override;
  // tcp::FlowMissHandler: hands a segment for an unknown flow to the engine known to own it, and
  // keeps the flow directory up to date with this engine's flows.
  Miss on_flow_miss(const wire::FourTuple& tuple) override;
  void on_flow_added(const wire::FourTuple& tuple) override;
  void on_flow_removed(const wire::FourTuple& tuple) override;
  // The engine whose ephemeral port slice holds `port` (its active opens), or nullopt.
  std::optional<std::uint32_t> slice_owner(std::uint16_t port) const;
  // tcp::PortFilter: installed when EngineConfig::rss can predict the queue of our replies.
  bool accept_local_port(const wire::FourTuple& candidate) override;
  void drain_handoffs(Instant now);
  bool inboxes_pending() const;
  // Copies the counters into the stats region's slot; refresh_io also reads the kernel's AF_XDP
  // counters (a getsockopt per queue), which only the periodic publish does.
  void publish_stats(Instant now, bool refresh_io);
  // Takes up a snapshot request, or goes on with the snapshot under way (set_stats_region).
  void serve_conn_request(Instant now);
  // Packet capture (capture_ring.h), only while xdptcp-ctl captures: the batch's received frames,
  // the frames queued for the coming tx_flush().
  void capture_rx(std::size_t n);
  void capture_tx();
  // Moves whenever a frame is received, sent or handed over: the counters changed.
  std::uint64_t activity() const { return stats_.rx_frames + stats_.tx_frames + stats_.handoffs_in; }

  void handle_frame(std::span<const std::uint8_t> frame, Instant now);
  // The neighbour model (engine_neighbors.cpp; docs/ARCHITECTURE.md). A segment TCP accepted
  // for a connection: its on-link sender's MAC and tag refresh the cache.
  void learn_from_accepted(const wire::EthFrame& eth, Instant now);
  // Writes the Ethernet header for `n` in front of the IP packet of `ip_len` bytes that TCP wrote
  // at eth_header_len() into `frame`, moving the packet when n's tag changes the header's length.
  void emit_frame(std::span<std::uint8_t> frame, std::size_t ip_len, const Neighbor& n);
  // tx_commit() found no neighbour for `ip`: hold it while its next hop resolves, or count it.
  void no_neighbor(std::span<const std::uint8_t> ip, const std::optional<wire::IpAddr>& nh);
  // Asynchronous next-hop resolution (see L2Resolver and connect()). The held packets of pending
  // next hop i are slots [i * kHeldPerNeighbor, (i + 1) * kHeldPerNeighbor) of held_bytes_, of
  // held_cap_ bytes each.
  struct PendingNeighbor {
    Instant deadline{};
    std::uint8_t held = 0;  // packets held, oldest first
    std::array<std::uint16_t, kHeldPerNeighbor> len{};
  };
  // 0: MAC known (now in neighbors_), 1: pending, or -errno. `from_send`: a send, not connect():
  // at the bound it does not ask the resolver at all (no system call per segment under a flood).
  int resolve_next_hop(const wire::IpAddr& nh, Instant now, bool from_send);
  int find_pending(const wire::IpAddr& nh) const;                       // index into l2_queries_, or -1
  bool hold(std::span<const std::uint8_t> ip, const wire::IpAddr& nh);  // tx_commit, next hop pending
  std::uint8_t* held_slot(std::size_t i, std::size_t k) {
    return held_bytes_.data() + (i * kHeldPerNeighbor + k) * held_cap_;
  }
  void poll_pending(Instant now);
  void send_held(std::size_t i, const Neighbor& n);
  void fail_waiters(const wire::IpAddr& nh, Instant now);
  void remove_pending(std::size_t i);
  void learn(const wire::IpAddr& nh, const Neighbor& n, Instant now) {
    if (neighbors_.learn(nh, n, now + cfg_.neighbor_ttl)) ++stats_.neighbor_evictions;
  }
  std::size_t eth_header_len() const {
    return cfg_.vlan_tci ? wire::kEthHeader + wire::kVlanTag : wire::kEthHeader;
  }

  EngineConfig cfg_;
  Instant last_poll_{};
  io::PacketIo& io_;
  const Clock& clock_;
  L2Resolver* resolver_;
  std::unique_ptr<tcp::TcpStack> tcp_;
  NeighborCache neighbors_;
  std::span<std::uint8_t> tx_frame_;  // the frame lent to the TCP stack, Ethernet header included
  std::array<io::RxFrame, kMaxBatch> rx_{};
  std::array<EventQueue*, kMaxEventQueues> queues_{};
  // Hand-off: inbox_[j] carries frames from engine j to this one (single producer, single
  // consumer). The frame being processed, and whether it came through a hand-off (then it is
  // answered here whatever happens: a segment is handed off at most once).
  std::vector<std::unique_ptr<HandoffRing>> inbox_;
  std::vector<Engine*> peers_;
  FlowDirectory* directory_ = nullptr;
  // The doorbell: an eventfd in this engine's poll() set. A producer rings it only while this
  // engine sleeps (sleeping_), so the hand-off costs no system call while the engine is busy.
  int wake_fd_ = -1;
  std::atomic<bool> sleeping_{false};
  std::span<const std::uint8_t> current_frame_;
  std::uint8_t current_hops_ = 0;
  Instant last_work_{};  // when poll() last received, transmitted or handed off something
  EngineStats stats_{};
  // The stats region (set_stats_region): never due without one, so poll() pays one compare.
  StatsRegion* stats_region_ = nullptr;
  Instant next_publish_{std::numeric_limits<std::int64_t>::max()};
  std::uint64_t published_activity_ = 0;
  io::IoStats io_snapshot_{};  // the PacketIo's counters as the last periodic publish read them
  // Connection snapshots (set_stats_region). conn_request_ points at the region's request word, or
  // at no_request_ (never moving) without one, so that poll() needs no other test; conn_seen_ is
  // the request last served, kConnBuilding while a snapshot is under way (no request equals it, so
  // the same compare keeps the snapshot going, poll after poll).
  static constexpr std::uint64_t kConnBuilding = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t no_request_ = 0;
  std::uint64_t* conn_request_ = &no_request_;
  std::uint64_t conn_seen_ = 0;
  std::uint64_t conn_target_ = 0;  // the request the snapshot under way answers
  std::uint32_t conn_cursor_ = 0;  // the next TCB slot to visit
  std::uint32_t conn_count_ = 0;
  std::uint64_t conn_truncated_ = 0;
  std::uint64_t conn_polls_ = 0;
  bool conn_snapshots_ = false;  // the region takes snapshots: sleeps are announced in it
  // The capture ring in the stats region; on() is the one test per batch while nobody captures.
  capture::Writer capture_;
  // Rings of the doorbell that a reader announced (kRung) and end_sleep() has not read back yet.
  std::uint32_t rings_owed_ = 0;
  // Pending next hops: l2_queries_[0, l2_pending_) with their held packets at the same index in
  // l2_held_ and held_bytes_ (allocated once: kMaxPendingNeighbors * kHeldPerNeighbor * MTU, 384 KiB
  // at 1,500 bytes). Kept apart so that the resolver polls one contiguous span. Searched linearly,
  // only when a send finds no MAC.
  std::array<L2Query, kMaxPendingNeighbors> l2_queries_{};
  std::unique_ptr<std::array<PendingNeighbor, kMaxPendingNeighbors>> l2_held_;
  std::vector<std::uint8_t> held_bytes_;
  std::size_t held_cap_ = 0;
  std::size_t l2_pending_ = 0;
  Instant next_l2_poll_{};
  // Per socket id (sized max_sockets once): kL2Waiting while its connect waits for a next hop.
  enum : std::uint8_t { kL2None = 0, kL2Waiting = 1 };
  std::vector<std::uint8_t> l2_socket_;
};

}  // namespace xdptcp::engine
