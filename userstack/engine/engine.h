// One engine: one NIC queue, one thread, one TCP stack, run to completion (design brief §2).
// Read first: userstack/io/packet_io.h (its wire), userstack/tcp/tcp_stack.h (its TCP).
//
// An iteration of poll():
//   1. rx burst (up to rx_batch frames) from the PacketIo
//   2. parse Ethernet, learn the peer's next-hop MAC, hand the IP packet to TcpStack::input()
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
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "userstack/engine/handoff_ring.h"
#include "userstack/engine/neighbor_cache.h"
#include "userstack/engine/toeplitz.h"
#include "userstack/io/packet_io.h"
#include "userstack/tcp/tcp_stack.h"
#include "userstack/time/clock.h"
#include "userstack/wire/ethernet.h"

namespace xdptcp::engine {

class EventQueue;

// Finds the next-hop MAC for a destination on the control path (connect), through the kernel's
// routing and neighbour tables (userstack/kernel/next_hop.h) in production, or a fixed table in
// tests. May block briefly while the kernel resolves.
class L2Resolver {
 public:
  virtual ~L2Resolver() = default;
  virtual std::optional<wire::MacAddr> resolve(const wire::IpAddr& dst) = 0;
};

struct EngineConfig {
  tcp::StackConfig tcp;
  wire::MacAddr mac;                      // our interface's MAC
  std::optional<std::uint16_t> vlan_tci;  // tag our frames carry, when the interface is a VLAN trunk
  std::uint32_t id = 0;                   // engine index == queue index
  std::uint32_t engine_count = 1;         // engines of the stack (hand-off rings are sized by it)
  std::size_t rx_batch = 64;              // frames per rx burst (<= kMaxBatch)
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
};

struct EngineStats {
  std::uint64_t iterations = 0;
  std::uint64_t rx_frames = 0;
  std::uint64_t rx_not_ip = 0;  // not IPv4/IPv6 (the XDP program should not send these)
  std::uint64_t rx_bad_ethernet = 0;
  std::uint64_t tx_frames = 0;
  std::uint64_t tx_no_neighbor = 0;  // no MAC for the destination: segment dropped (TCP retransmits)
  std::uint64_t resolver_failures = 0;
  std::uint64_t handoffs_out = 0;  // segments passed to the engine owning their flow
  std::uint64_t handoffs_in = 0;
  std::uint64_t handoff_drops = 0;  // the owner's hand-off ring was full (TCP retransmits)
  std::uint64_t sleeps = 0;         // wait_for_work() calls that slept in the PacketIo
};

class Engine final : public tcp::PacketSink,
                     public tcp::SocketEventListener,
                     public tcp::FlowMissHandler,
                     public tcp::PortFilter {
 public:
  static constexpr std::size_t kMaxBatch = 256;
  static constexpr std::size_t kMaxEventQueues = 8;

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

  // connect() through the engine: makes sure the next hop's MAC is known first.
  int connect(tcp::SocketId s, const wire::SockAddr& remote);

  // The stack's engines, indexed by id (this one included), for the cross-engine hand-off. Set
  // once, before any engine polls; every engine must be constructed by then.
  void set_peers(std::span<Engine* const> engines);

  // Event queues register here to hear about readiness changes (at most kMaxEventQueues).
  bool attach(EventQueue* q);
  void detach(EventQueue* q);

 private:
  // tcp::PacketSink
  std::span<std::uint8_t> tx_acquire() override;
  void tx_commit(std::size_t len) override;
  // tcp::SocketEventListener
  void on_socket_event(tcp::SocketId id, std::uint32_t events) override;
  // tcp::FlowMissHandler: hands a segment for an unknown flow to the engine that may own it.
  bool on_flow_miss(const wire::FourTuple& tuple) override;
  // tcp::PortFilter: installed when EngineConfig::rss can predict the queue of our replies.
  bool accept_local_port(const wire::FourTuple& candidate) override;
  void drain_handoffs(Instant now);
  bool inboxes_pending() const;

  void handle_frame(std::span<const std::uint8_t> frame, Instant now);
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
  // consumer). The frame being processed and how many engines it has visited.
  std::vector<std::unique_ptr<HandoffRing>> inbox_;
  std::vector<Engine*> peers_;
  // The doorbell: an eventfd in this engine's poll() set. A producer rings it only while this
  // engine sleeps (sleeping_), so the hand-off costs no system call while the engine is busy.
  int wake_fd_ = -1;
  std::atomic<bool> sleeping_{false};
  std::span<const std::uint8_t> current_frame_;
  std::uint8_t current_hops_ = 0;
  Instant last_work_{};  // when poll() last received, transmitted or handed off something
  EngineStats stats_{};
};

}  // namespace xdptcp::engine
