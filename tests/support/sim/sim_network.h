// SimNetwork: N endpoints (an IP address and a tcp::TcpStack each) joined by simulated links,
// run on a virtual clock that jumps from one event to the next, so that a test with a 100 ms RTT
// and a 60 s TIME_WAIT runs in microseconds of real time.
//
// Each endpoint has its own uplink (a SimLink with its own impairments and seed); the stack's
// PacketSink lends the uplink's slots, and a committed packet is routed by its destination IP
// address to the endpoint that owns it (unknown destinations are dropped and counted). A "raw"
// endpoint has no stack: tests use it to inject hand-made packets (a SYN flood, say) and to
// look at what reaches it.
//
// run_until() drives everything as an engine's loop would (design brief §2): deliver every packet
// due now (TcpStack::input), fire timers (advance), let the application act (the app hook), send
// (flush); then jump to the next event: the earliest link delivery, stack timer or app wake-up.
//
// With XDPTCP_SIM_PCAP=<dir> every packet a stack sends or a test injects is also written to
// <dir>/<name>.pcap (name from Options) for Wireshark.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "tests/support/sim/pcap_sink.h"
#include "tests/support/sim/pcap_writer.h"
#include "tests/support/sim/sim_link.h"
#include "tests/support/sim/virtual_clock.h"
#include "userstack/tcp/tcp_stack.h"
#include "userstack/wire/ip_addr.h"

namespace xdptcp::sim {

class SimNetwork {
 public:
  struct Options {
    std::string name = "sim";  // names the pcap file
    std::uint64_t seed = 1;    // derives each stack's secret (ISNs, cookies) when it has none
    // Steps at one instant before run_until() gives up: a packet ping-pong at zero delay, or a
    // timer that never stops being due, is a bug to report rather than a hang.
    std::size_t max_steps_per_instant = 100'000;
    // The leak check at destruction (set_leak_reporter). A test that leaves a stack in a state
    // that cannot drain on purpose turns it off and says why.
    bool check_leaks = true;
  };
  // Called for each packet that reaches a raw endpoint.
  using RawReceiver = std::function<void(std::span<const std::uint8_t> ip_packet, Instant now)>;
  using AppHook = std::function<void(Instant now)>;
  static constexpr std::uint32_t kNoRoute = ~std::uint32_t{0};

  explicit SimNetwork(Options opts, Instant start = Instant{});
  ~SimNetwork();
  SimNetwork(const SimNetwork&) = delete;
  SimNetwork& operator=(const SimNetwork&) = delete;

  // An endpoint with a stack; its address is cfg.local_addrs (all of them route to it). Returns
  // its index.
  std::size_t add_stack(tcp::StackConfig cfg, const LinkConfig& uplink);
  // An endpoint without a stack answering for `addr`.
  std::size_t add_raw(const wire::IpAddr& addr, const LinkConfig& uplink, RawReceiver rx = {});

  tcp::TcpStack& stack(std::size_t i);  // i must be an endpoint with a stack
  // Segments every stack has sent (TcpStats::segments_out summed over the endpoints with one).
  std::uint64_t segments_out() const;
  SimLink& uplink(std::size_t i);
  std::size_t size() const { return eps_.size(); }
  VirtualClock& clock() { return clock_; }
  Instant now() const { return clock_.now(); }

  // Sends a hand-made IP packet on endpoint `from`'s uplink, routed by its destination address.
  bool inject(std::size_t from, std::span<const std::uint8_t> ip_packet);

  // The application: called once per step (after input and timers, before flush) with now.
  void set_app(AppHook hook) { app_ = std::move(hook); }
  // Asks for a step at `t` even when nothing else happens then (earliest request wins; the
  // request is spent when that step runs).
  void wake_app_at(Instant t);

  // Runs steps until pred() holds (true) or the next event lies beyond `deadline` (the clock is
  // left at the deadline, pred() is evaluated once more). False also when stalled().
  bool run_until(const std::function<bool()>& pred, Instant deadline);
  // Runs every event up to now + d.
  void run_for(Duration d);
  // One step at the current instant (deliver, advance, app, flush).
  void step();

  // The earliest pending event, or nullopt when the network is idle.
  std::optional<Instant> next_event() const;

  // The leak check (issue 11, item 7): as the application would when it exits, closes every socket
  // each stack still holds, then runs the network until every stack has freed every connection
  // (FIN exchanges, retransmissions given up, TIME-WAIT) and every link is idle, for at most
  // `limit` of virtual time. Returns what is left ("" when everything drained): a connection, a
  // socket id, a frame in flight or a buffer chunk still held is a leak.
  std::string drain_check(Duration limit = kDrainLimit);
  // Virtual time a drain may take: an orphan that retransmits into a dead link gives up after
  // tcp_retries2 (15) backed-off RTOs (about 15 minutes), then TIME-WAIT and FIN-WAIT-2 take 60 s.
  static constexpr Duration kDrainLimit = Duration::seconds(30 * 60);
  // Where the destructor reports a failed drain_check() (when Options::check_leaks). Set by the test
  // binaries (tests/sim/leak_reporter.cpp: a GoogleTest failure of the test that made the network);
  // unset, as in benchmarks, the destructor checks nothing.
  using LeakReporter = void (*)(const std::string& leaks);
  static void set_leak_reporter(LeakReporter r);

  bool stalled() const { return stalled_; }
  std::uint64_t unroutable() const { return unroutable_; }
  std::uint64_t steps() const { return steps_; }

 private:
  struct Endpoint;
  class UplinkSink;

  std::uint32_t route(std::span<const std::uint8_t> ip_packet) const;
  void deliver(std::size_t to, std::span<const std::uint8_t> pkt, Instant now);

  Options opts_;
  VirtualClock clock_;
  std::optional<PcapWriter> pcap_;
  std::vector<std::unique_ptr<Endpoint>> eps_;
  AppHook app_;
  std::optional<Instant> app_wake_;
  bool stalled_ = false;
  std::uint64_t unroutable_ = 0;
  std::uint64_t steps_ = 0;
  static LeakReporter leak_reporter_;
};

}  // namespace xdptcp::sim
