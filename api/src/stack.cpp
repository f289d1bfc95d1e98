// xdptcp::Stack over AF_XDP: the production assembly of engines, ports and kernel cooperation.
// Per engine: one AF_XDP socket on its queue (registered in the steering program's XSKMAP), one
// Engine with its own TcpStack, a KernelResolver, and a thread pinned to a core.
// Stack-wide (control path, under a mutex): listening-port claims (a kernel reservation and a
// steering rule per port), and the ephemeral range reserved with the kernel and split between
// engines.
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <latch>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "api/src/context_impl.h"
#include "api/src/kernel_resolver.h"
#include "userstack/base/queue_list.h"
#include "userstack/engine/engine_counters.h"
#include "userstack/io/afxdp/afxdp_port.h"
#include "userstack/io/multi_queue_io.h"
#include "userstack/kernel/iface_info.h"
#include "userstack/kernel/port_reservation.h"
#include "userstack/kernel/process_alive.h"
#include "userstack/kernel/socket_census.h"
#include "userstack/kernel/steer_rules.h"
#include "userstack/kernel/xdp_attach.h"
#include "userstack/time/monotonic_clock.h"

namespace xdptcp {
namespace detail {

namespace {

std::string key_of(const wire::SockAddr& a) {
  return a.to_string();
}

// The stack's TCP secret (tcp::StackConfig::secret), drawn once per stack from the kernel's CSPRNG
// and never 0 (0 would let each engine draw its own).
std::uint64_t draw_secret() {
  std::uint64_t s = 0;
  while (s == 0) {
    if (getrandom(&s, sizeof s, 0) != static_cast<ssize_t>(sizeof s)) {
      std::random_device rd;  // getrandom interrupted or unavailable
      s = (static_cast<std::uint64_t>(rd()) << 32) | rd();
    }
  }
  return s;
}

}  // namespace

// Listening ports: reserved with the kernel and steered to the stack the first time any engine
// listens; released when the last listener closes.
class StackPortClaims final : public PortClaims {
 public:
  // reserve: hold each port with a kernel socket of our own; false when the application's own
  // kernel socket already holds it (StackOptions::reserve_listening_ports).
  StackPortClaims(const kernel::SteerMapFds& maps, std::vector<wire::IpAddr> addrs, bool reserve)
      : maps_(maps), addrs_(std::move(addrs)), reserve_(reserve) {}
  // Ports still draining when the stack goes: their connections go with it.
  ~StackPortClaims() override {
    for (auto& [key, c] : claims_) {
      if (c.draining) finish(c);
    }
  }
  StackPortClaims(const StackPortClaims&) = delete;
  StackPortClaims& operator=(const StackPortClaims&) = delete;

 private:
  struct Claim {
    int count = 0;
    bool installed = false;
    kernel::SteerRule rule;
    kernel::PortReservation reservation;
    std::vector<wire::FourTuple> exceptions;  // steering exceptions added for kernel connections
    bool draining = false;                    // count 0: the listener closed, connections remain
    std::vector<wire::FourTuple> drained;     // those connections, in xdptcp_stack_flows
  };

 public:
  // Lists the live connections on a local port (the driven engine's; Stack::drive sets it). Unset
  // (several engines, each with its own connections): a closed listener's rule goes at once.
  using LiveConnections = std::function<void(std::uint16_t port, std::vector<wire::FourTuple>& out)>;
  void set_live_connections(LiveConnections f) {
    std::lock_guard lock(mu_);
    live_ = std::move(f);
  }

  int claim(const wire::SockAddr& local) override {
    std::lock_guard lock(mu_);
    Claim& c = claims_[key_of(local)];
    if (c.count == 0 && c.draining) {
      // Listening again on a port that was draining: the rule steers every flow again.
      if (kernel::set_rule_draining(maps_, c.rule, false)) {
        for (const auto& f : c.drained) (void)kernel::del_stack_flow(maps_, f);
        c.drained.clear();
        c.draining = false;
        ++c.count;
        return 0;
      }
      finish(c);
      claims_.erase(key_of(local));
      return claim_locked(local);
    }
    return claim_locked(local);
  }

  // Ends the draining of ports whose last connection has gone: their rule and steering exceptions
  // go. Called about once a second on the driving thread (Stack::tend).
  void tend() {
    std::lock_guard lock(mu_);
    if (!live_) return;
    for (auto it = claims_.begin(); it != claims_.end();) {
      Claim& c = it->second;
      if (!c.draining) {
        ++it;
        continue;
      }
      scratch_.clear();
      live_(c.rule.port_lo, scratch_);
      // Connections that ended leave the flow map (a tuple reused by a new connection of the
      // kernel's would otherwise come back here).
      std::erase_if(c.drained, [&](const wire::FourTuple& f) {
        if (std::find(scratch_.begin(), scratch_.end(), f) != scratch_.end()) return false;
        (void)kernel::del_stack_flow(maps_, f);
        return true;
      });
      if (!c.drained.empty()) {
        ++it;
        continue;
      }
      finish(c);
      it = claims_.erase(it);
    }
  }

 private:
  int claim_locked(const wire::SockAddr& local) {
    Claim& c = claims_[key_of(local)];
    if (c.count++ > 0) return 0;
    kernel::SteerRule rule;
    rule.family = local.ip.family;
    rule.any_addr = local.ip.is_unspecified();
    rule.addr = local.ip;
    rule.port_lo = rule.port_hi = local.port;
    rule.owner_pid = static_cast<std::uint32_t>(getpid());
    // Never steer a kernel connection away (issue 11): the rule would cut connections the kernel
    // holds on this (address, port): their segments would reach an engine that knows nothing of
    // them and answers RST. The reservation below is no guard: there is none when the
    // application's own kernel listener holds the port (the preload library), whose accepted
    // connections share it. listen() reports only errno, so the reason goes to stderr.
    std::string warning;
    if (reserve_) {
      // The native API: a kernel connection on a port the application asks the stack for is
      // someone else's; refuse the port.
      if (auto busy = kernel::check_no_kernel_connections(rule, addrs_, &warning); !busy) {
        std::fprintf(stderr, "xdptcp: listen: %s\n", busy.error().message.c_str());
        claims_.erase(key_of(local));
        return -busy.error().code;
      }
      if (!warning.empty()) std::fprintf(stderr, "xdptcp: listen: %s\n", warning.c_str());
      auto res = kernel::PortReservation::reserve(local.ip, local.port);
      if (!res) {
        claims_.erase(key_of(local));
        return -res.error().code;
      }
      c.reservation = std::move(res.value());
    } else {
      // The preload library: the connections are the application's own kernel listener's,
      // accepted before the stack started lazily. They stay with the kernel: a steering exception
      // per connection, in before the rule so that none of their segments is redirected.
      except_kernel_connections(rule, c, true);
    }
    auto r = kernel::add_rule(maps_, rule);
    if (!r && r.error().code != EEXIST) {
      for (const auto& f : c.exceptions) (void)kernel::del_kernel_flow(maps_, f);
      claims_.erase(key_of(local));
      return -r.error().code;
    }
    // EEXIST: an operator's permanent rule (xdptcp-ctl steer add) covers it; leave it alone.
    c.installed = r.ok();
    c.rule = rule;
    // A connection the kernel accepted between the census above and the rule: a second census
    // catches it (with a reservation of ours, one that slipped in before it). What stays open is a
    // segment of such a connection that arrived in that window: the engine answered it with RST
    // (no connection of its own), which ends the connection before its exception helps.
    except_kernel_connections(rule, c, false);
    return 0;
  }

 public:
  // Steering exceptions for the kernel connections each claimed port has now: they were accepted
  // by the kernel from queues that are ours since (Stack::claim_free_queues).
  void refresh_exceptions() {
    std::lock_guard lock(mu_);
    for (auto& [key, c] : claims_) except_kernel_connections(c.rule, c, false);
  }

  void release(const wire::SockAddr& local) override {
    std::lock_guard lock(mu_);
    auto it = claims_.find(key_of(local));
    if (it == claims_.end() || it->second.count == 0 || --it->second.count > 0) return;
    Claim& c = it->second;
    // The listener closed with connections it accepted still open (nginx's old workers during a
    // reload finish their requests): the rule drains. It keeps steering those flows here (their
    // segments would reach the kernel, which resets them) and passes the rest, new connections, to
    // the kernel, whose listener (the master's, the new workers') serves them (steer_abi.h).
    if (c.installed && live_ && start_draining(c, local)) {
      c.draining = true;
      return;
    }
    finish(c);
    claims_.erase(it);
  }

 private:
  // Lists the claim's live connections in xdptcp_stack_flows and marks its rule draining: those
  // connections stay steered here, new ones go to the kernel. False (nothing changed) when there
  // is nothing to keep or the steering cannot (an older program: said on stderr).
  bool start_draining(Claim& c, const wire::SockAddr& local) {
    scratch_.clear();
    live_(local.port, scratch_);
    std::erase_if(scratch_, [&](const wire::FourTuple& f) {
      return !(f.local.ip == local.ip || local.ip.is_unspecified());
    });
    std::optional<Error> failed;
    for (const auto& f : scratch_) {
      auto r = kernel::add_stack_flow(maps_, f, static_cast<std::uint32_t>(getpid()));
      if (r) {
        c.drained.push_back(f);
      } else {
        failed = r.error();
      }
    }
    bool drains = false;
    if (!c.drained.empty()) {
      auto r = kernel::set_rule_draining(maps_, c.rule, true);
      drains = r.ok();
      if (!r) failed = r.error();
    }
    if (failed) {
      std::fprintf(stderr,
                   "xdptcp: listener %s: %zu connection(s) open; the kernel will reset those the steering "
                   "cannot keep: %s\n",
                   local.to_string().c_str(), scratch_.size(), failed->describe().c_str());
    }
    if (!drains) {
      for (const auto& f : c.drained) (void)kernel::del_stack_flow(maps_, f);
      c.drained.clear();
    }
    return drains;
  }

  // The rule and the steering exceptions of a claim that ends.
  void finish(Claim& c) {
    if (!c.installed) return;
    (void)kernel::del_rule(maps_, c.rule);
    // After the rule: without it the exceptions change nothing. With the rule left to its other
    // owner (not installed by us) they stay, and go by LRU eviction.
    for (const auto& f : c.exceptions) (void)kernel::del_kernel_flow(maps_, f);
    for (const auto& f : c.drained) (void)kernel::del_stack_flow(maps_, f);
  }

  // Adds a steering exception (steer_rules.h, add_kernel_flow) for each connected kernel socket
  // that `rule` would steer and `c` has none for yet, and names them on stderr. A census or an
  // exception that fails is reported, not fatal: the rule goes in as before the exceptions
  // existed. `before_rule` only words the message.
  void except_kernel_connections(const kernel::SteerRule& rule, Claim& c, bool before_rule) {
    auto all = kernel::kernel_tcp_sockets();
    if (!all) {
      std::fprintf(stderr,
                   "xdptcp: listen: warning: cannot list the kernel's TCP sockets (%s); port %u steered "
                   "without keeping its kernel connections\n",
                   all.error().describe().c_str(), static_cast<unsigned>(rule.port_lo));
      return;
    }
    std::string kept;
    std::size_t n = 0;
    for (const auto& s : kernel::steered_by(all.value(), rule, addrs_, false)) {
      const wire::FourTuple flow{s.local, s.remote};
      if (std::find(c.exceptions.begin(), c.exceptions.end(), flow) != c.exceptions.end()) continue;
      if (auto r = kernel::add_kernel_flow(maps_, flow); !r) {
        std::fprintf(stderr, "xdptcp: listen: warning: kernel connection %s will be cut: %s\n",
                     s.to_string().c_str(), r.error().describe().c_str());
        continue;
      }
      c.exceptions.push_back(flow);
      if (n++ < 4) kept += " " + s.to_string() + ";";
    }
    if (n == 0) return;
    if (n > 4) kept += " and " + std::to_string(n - 4) + " more;";
    std::fprintf(stderr,
                 "xdptcp: listen: port %u: %zu kernel connection(s)%s stay with the kernel (steering "
                 "exceptions):%s\n",
                 static_cast<unsigned>(rule.port_lo), n, before_rule ? "" : " accepted meanwhile",
                 kept.c_str());
  }
  std::mutex mu_;
  kernel::SteerMapFds maps_;
  std::vector<wire::IpAddr> addrs_;
  bool reserve_;
  std::map<std::string, Claim> claims_;
  LiveConnections live_;
  std::vector<wire::FourTuple> scratch_;  // live_'s output, kept between calls
};

// An engine built on the caller's thread (Stack::drive), with what it runs on.
struct DrivenEngine {
  DrivenEngine(const engine::EngineConfig& ec, io::PacketIo& io, unsigned ifindex,
               const std::atomic<bool>* stop, PortClaims* claims)
      : resolver(ifindex), eng(ec, io, clock, &resolver), ci(eng, 0, stop, claims), ctx(&ci) {}
  MonotonicClock clock;
  KernelResolver resolver;
  engine::Engine eng;
  ContextImpl ci;
  Context ctx;
};

// The engines' next-hop table from the kernel's routes of the interface.
engine::RouteTable route_table(std::vector<kernel::PrefixRoute> routes) {
  // Bounded (RouteTable::kMaxRoutes): default routes first, then the most specific, so that a
  // table too long loses its broadest non-default prefixes (whose destinations then have no route
  // through the stack: counted, tx_no_route) rather than the default.
  std::stable_sort(routes.begin(), routes.end(),
                   [](const kernel::PrefixRoute& a, const kernel::PrefixRoute& b) {
                     if ((a.prefix_len == 0) != (b.prefix_len == 0)) return a.prefix_len == 0;
                     return a.prefix_len > b.prefix_len;
                   });
  engine::RouteTable t;
  for (const kernel::PrefixRoute& r : routes) {
    if (!t.add({r.prefix, r.prefix_len, r.gateway})) break;
  }
  return t;
}

struct StackImpl {
  StackOptions opts;
  kernel::InterfaceInfo info;
  std::optional<kernel::Attachment> attachment;  // when the stack attached the program itself
  kernel::PinnedSteerMaps maps;
  std::vector<std::unique_ptr<io::AfXdpPort>> ports;     // one per RX queue held
  std::vector<unsigned> queue_ids;                       // ports[i] is on RX queue queue_ids[i]
  std::vector<std::unique_ptr<io::MultiQueueIo>> multi;  // per engine serving several queues
  std::vector<io::PacketIo*> engine_io;                  // per engine: its port, or its multi
  std::unique_ptr<DrivenEngine> driven;                  // Stack::drive()
  std::unique_ptr<engine::StatsRegion> stats;            // the engines' counters for xdptcp-ctl stats
  kernel::PortRange ephemeral{};
  std::vector<wire::IpAddr> addrs;
  std::unique_ptr<StackPortClaims> claims;
  std::atomic<bool> stop{false};
  std::vector<kernel::SteerRule> ephemeral_rules;  // steering the replies to our active opens
  io::BindMode bind = io::BindMode::kAuto;
  // One secret for every engine (ISNs, SYN cookies, timestamp offsets): a flow's segments can reach
  // any engine (hand-off), so a cookie issued by one is checked by another.
  std::uint64_t secret = draw_secret();
  // The interface's routes (route_table()): every engine keys its neighbour cache by next hop.
  engine::RouteTable routes;

  ~StackImpl() {
    if (claims) claims->set_live_connections(nullptr);  // the engine goes first: nothing drains now
    driven.reset();  // its listeners give their ports back while the maps are still open
    for (const auto& r : ephemeral_rules) (void)kernel::del_rule(maps.fds(), r);
    for (const unsigned q : queue_ids) (void)kernel::unregister_socket(maps.fds(), q);
    ports.clear();
  }
};

// Opens an AF_XDP socket on RX queue q and registers it as ours with the steering program.
Result<io::AfXdpPort*> open_queue(StackImpl& impl, unsigned q, bool retry_busy) {
  io::AfXdpConfig pc;
  pc.retry_busy = retry_busy;
  pc.ifname = impl.opts.iface;
  pc.queue = q;
  pc.bind = impl.bind;
  pc.busy_poll = impl.opts.busy_poll;
  auto port = io::AfXdpPort::open(pc);
  if (!port) return port.error();
  auto reg =
      kernel::register_socket(impl.maps.fds(), q, port.value()->fd(), static_cast<std::uint32_t>(getpid()));
  if (!reg) return reg.error();
  impl.ports.push_back(std::move(port.value()));
  impl.queue_ids.push_back(q);
  return impl.ports.back().get();
}

}  // namespace detail

namespace {

template <typename T>
bool fail_with(std::string* error, const Result<T>& r) {
  if (error != nullptr) *error = r.error().describe();
  return false;
}

// The RX queues below `count` that no other live process holds (xdptcp_sockets records each
// queue's owner; a dead owner's socket is gone with it). *held names the others' owners.
std::vector<unsigned> free_queues(const kernel::SteerMapFds& maps, unsigned count, std::string* held) {
  std::vector<bool> taken(count, false);
  if (auto owners = kernel::list_queue_owners(maps)) {
    const auto self = static_cast<std::uint32_t>(getpid());
    for (const auto& o : owners.value()) {
      if (o.queue >= count || o.pid == self) continue;
      if (!kernel::process_alive(o.pid)) continue;  // died
      taken[o.queue] = true;
      if (!held->empty()) *held += ", ";
      *held += "queue " + std::to_string(o.queue) + ": pid " + std::to_string(o.pid);
    }
  }
  std::vector<unsigned> out;
  for (unsigned q = 0; q < count; ++q) {
    if (!taken[q]) out.push_back(q);
  }
  return out;
}

}  // namespace

Stack::Stack(std::unique_ptr<detail::StackImpl> impl) : impl_(std::move(impl)) {}
Stack::~Stack() = default;

std::unique_ptr<Stack> Stack::create(const StackOptions& options, std::string* error) {
  auto set = [error](std::string m) {
    if (error != nullptr) *error = std::move(m);
    return nullptr;
  };
  if (options.iface.empty()) return set("--iface: an interface name is required");
  auto impl = std::make_unique<detail::StackImpl>();
  impl->opts = options;

  auto info = kernel::interface_info(options.iface);
  if (!info) return fail_with(error, info), nullptr;
  impl->info = info.value();
  // The interface's routes, read once, for the engines' next-hop keys (the neighbour model,
  // docs/ARCHITECTURE.md). Unreadable: an empty table keys the cache by destination, the resolver
  // still answering with the MAC of the kernel's next hop for it.
  if (auto nl = kernel::NetlinkRoutes::open()) {
    if (auto r = nl.value()->routes(static_cast<int>(impl->info.ifindex)))
      impl->routes = detail::route_table(r.value());
  }

  io::BindMode bind = io::BindMode::kAuto;
  if (options.bind_mode == "zerocopy") {
    bind = io::BindMode::kZeroCopy;
  } else if (options.bind_mode == "copy") {
    bind = io::BindMode::kCopy;
  } else if (options.bind_mode != "auto") {
    return set("bind mode: '" + options.bind_mode + "' is not one of auto, zerocopy, copy");
  }
  if (tcp::StackConfig probe; !tcp::apply_stack_profile(probe, options.profile)) {
    return set("profile: '" + options.profile + "' is not one of default, linux");
  }
  const auto queue_list = base::parse_queue_list(options.queues);
  if (options.queues != "all" && options.queues != "free" && options.queues != "one" && !queue_list) {
    return set("queues: '" + options.queues +
               "' is not one of all, free, one, or a list of queue numbers (0,2)");
  }
  kernel::XdpMode xdp = kernel::XdpMode::kAuto;
  if (options.xdp_mode == "native") {
    xdp = kernel::XdpMode::kNative;
  } else if (options.xdp_mode == "generic") {
    xdp = kernel::XdpMode::kGeneric;
  } else if (options.xdp_mode != "auto") {
    return set("xdp mode: '" + options.xdp_mode + "' is not one of auto, native, generic");
  }

  // The steering program: reuse xdptcp-ctl's attachment, or attach for ourselves.
  auto maps = kernel::open_pinned(options.iface);
  if (!maps) {
    auto att = kernel::attach(options.iface, xdp);
    if (!att) return fail_with(error, att), nullptr;
    impl->attachment.emplace(std::move(att.value()));
    maps = kernel::open_pinned(options.iface);
    if (!maps) return fail_with(error, maps), nullptr;
  }
  impl->maps = std::move(maps.value());
  if (impl->maps.fds().stack_flows < 0) {
    std::fprintf(
        stderr,
        "xdptcp: warning: the steering program on %s is older than this xdptcp (no xdptcp_stack_flows "
        "map): a listener that closes will not drain its connections; re-attach it (`xdptcp-ctl detach "
        "--iface %s` when no xdptcp process runs, then `xdptcp-ctl attach --iface %s`)\n",
        options.iface.c_str(), options.iface.c_str(), options.iface.c_str());
  }
  // Rules and sockets left by processes that died are the kernel's again (design brief §4).
  (void)kernel::remove_rules_of_dead_owners(impl->maps.fds());

  if (options.addresses.empty()) {
    impl->addrs = kernel::interface_addresses(options.iface);
  } else {
    for (const auto& a : options.addresses) {
      auto ip = wire::IpAddr::parse(a);
      if (!ip) return set("address: '" + a + "' is not an IPv4 or IPv6 address");
      impl->addrs.push_back(*ip);
    }
  }
  if (impl->addrs.empty())
    return set("interface " + options.iface + " has no address; add one or pass addresses");

  // The queues to take (StackOptions::queues): with "free" and "one", those no other live process
  // holds (its AF_XDP socket would refuse our bind with EBUSY after a 2 s retry).
  std::vector<unsigned> candidates;
  if (queue_list) {
    for (const unsigned q : *queue_list) {
      if (q >= impl->info.rx_queues) {
        return set("queues: " + options.iface + " has no RX queue " + std::to_string(q) + " (it has " +
                   std::to_string(impl->info.rx_queues) + ")");
      }
    }
    candidates = *queue_list;
  } else if (options.queues == "all") {
    for (unsigned q = 0; q < impl->info.rx_queues; ++q) candidates.push_back(q);
  } else {
    std::string held;
    candidates = free_queues(impl->maps.fds(), impl->info.rx_queues, &held);
    if (candidates.empty()) {
      if (error != nullptr) {
        *error = "no free RX queue on " + options.iface + ": every queue is held by another process (" +
                 held + "); it can be taken when one of them exits";
      }
      errno = EBUSY;
      return nullptr;
    }
  }
  const auto queues = static_cast<unsigned>(candidates.size());
  // "free" and "one" serve what they get with one engine (the preload library's Stack::drive).
  const bool exact = options.queues == "all" || queue_list;  // every candidate, or fail
  const unsigned engines = !exact ? 1 : options.engines == 0 ? queues : options.engines;
  if (!exact && options.engines > 1) {
    return set("engines: queues '" + options.queues + "' runs one engine over the queues it gets (" +
               std::to_string(options.engines) + " requested)");
  }
  if (engines > queues) {
    // An engine without a queue would receive nothing: its connections' replies would all be
    // handed over from the others. Refuse rather than run a useless engine.
    return set("engines: " + std::to_string(engines) + " requested but " + options.iface + " has " +
               std::to_string(queues) + " RX queue(s); run at most " + std::to_string(queues) +
               " engines, or add queues with `ethtool -L " + options.iface + " combined " +
               std::to_string(engines) + "`");
  }
  // Fewer engines than queues: engine i serves queues i, i + engines, ... (every queue needs an
  // AF_XDP socket, or the steering program passes its flows to the kernel, which resets them).
  // Active opens use ports above the kernel's ephemeral range, reserved so the kernel never
  // picks them, split evenly between engines (so an engine knows which engine owns a port).
  auto krange = kernel::kernel_ephemeral_range();
  if (!krange) return fail_with(error, krange), nullptr;
  const unsigned lo = std::max<unsigned>(krange->hi + 1u, 1024u);
  if (lo + 1024 > 65536) {
    return set("the kernel's ephemeral range " + std::to_string(krange->lo) + "-" +
               std::to_string(krange->hi) +
               " leaves fewer than 1024 ports for xdptcp; lower net.ipv4.ip_local_port_range's upper bound");
  }
  impl->ephemeral = {static_cast<std::uint16_t>(lo), 65535};
  // Kernel sockets may still use ports of the range (an explicit bind takes a reserved port):
  // steering those ports would cut them, so the range starts above the highest one (issue 11).
  std::string narrowed;
  auto clear = kernel::ephemeral_range_clear_of_kernel(impl->ephemeral, impl->addrs, engines, &narrowed);
  if (!clear) return fail_with(error, clear), nullptr;
  impl->ephemeral = clear.value();
  if (!narrowed.empty()) std::fprintf(stderr, "xdptcp: %s\n", narrowed.c_str());
  // Best effort: without the reservation the range is still outside the kernel's own.
  (void)kernel::reserve_range(impl->ephemeral);
  // Replies to active opens arrive on those ports: steer them to the stack, or the kernel gets
  // the SYN-ACKs (and answers them with RST).
  for (const auto& a : impl->addrs) {
    kernel::SteerRule rule;
    rule.family = a.family;
    rule.addr = a;
    rule.port_lo = impl->ephemeral.lo;
    rule.port_hi = impl->ephemeral.hi;
    rule.owner_pid = static_cast<std::uint32_t>(getpid());
    auto r = kernel::add_rule(impl->maps.fds(), rule);
    if (r) {
      impl->ephemeral_rules.push_back(rule);
    } else if (r.error().code != EEXIST) {  // EEXIST: an operator's permanent rule covers it
      return fail_with(error, r), nullptr;
    }
  }

  impl->bind = bind;
  if (exact) {
    for (const unsigned q : candidates) {
      auto port = detail::open_queue(*impl, q, true);
      if (!port) return fail_with(error, port), nullptr;
    }
  } else {
    // Processes forked together (prefork workers) race for the same free queue: the loser's bind
    // fails with EBUSY at once and it tries the next. A queue whose owner has just exited refuses
    // binds for a moment too: those are tried again with the retry when nothing else was free.
    const std::size_t want = options.queues == "one" ? 1 : candidates.size();
    std::optional<Error> last;
    for (const bool retry : {false, true}) {
      for (const unsigned q : candidates) {
        if (impl->queue_ids.size() >= want) break;
        if (std::find(impl->queue_ids.begin(), impl->queue_ids.end(), q) != impl->queue_ids.end()) continue;
        auto port = detail::open_queue(*impl, q, retry);
        if (!port) last = port.error();
      }
      if (!impl->queue_ids.empty()) break;
      std::string held;
      candidates = free_queues(impl->maps.fds(), impl->info.rx_queues, &held);  // who won meanwhile
      if (candidates.empty()) {
        if (error != nullptr) *error = "no free RX queue on " + options.iface + " (" + held + ")";
        errno = EBUSY;
        return nullptr;
      }
    }
    if (impl->queue_ids.empty()) {
      if (error != nullptr) *error = last ? last->describe() : "no RX queue could be opened";
      errno = last ? last->code : EBUSY;
      return nullptr;
    }
  }
  const auto held_queues = static_cast<unsigned>(impl->queue_ids.size());
  if (engines > held_queues) {
    return set("engines: " + std::to_string(engines) + " requested but this process holds " +
               std::to_string(held_queues) + " RX queue(s) of " + options.iface);
  }
  for (unsigned e = 0; e < engines; ++e) {
    std::vector<io::PacketIo*> parts;
    for (unsigned q = e; q < held_queues; q += engines) parts.push_back(impl->ports[q].get());
    // A stack on some queues only may take more later (claim_free_queues): its one engine needs a
    // MultiQueueIo to add them to.
    if (parts.size() == 1 && (exact || engines > 1)) {
      impl->engine_io.push_back(parts[0]);
    } else {
      impl->multi.push_back(std::make_unique<io::MultiQueueIo>(std::move(parts), options.busy_poll));
      impl->engine_io.push_back(impl->multi.back().get());
    }
  }
  impl->claims = std::make_unique<detail::StackPortClaims>(impl->maps.fds(), impl->addrs,
                                                           options.reserve_listening_ports);
  impl->stats =
      engine::counters::create_stats_region(options.iface, engines, impl->queue_ids, options.max_sockets);
  return std::unique_ptr<Stack>(new Stack(std::move(impl)));
}

std::vector<unsigned> Stack::queues() const {
  std::vector<unsigned> q = impl_->queue_ids;
  std::sort(q.begin(), q.end());
  return q;
}

bool Stack::holds_all_queues() const {
  return impl_->queue_ids.size() >= impl_->info.rx_queues;
}

unsigned Stack::claim_free_queues(unsigned max) {
  detail::StackImpl& im = *impl_;
  if (!im.driven || im.multi.size() != 1 || im.engine_io.size() != 1) return 0;
  std::string held;
  unsigned taken = 0;
  for (const unsigned q : free_queues(im.maps.fds(), im.info.rx_queues, &held)) {
    if (taken >= max) break;
    if (std::find(im.queue_ids.begin(), im.queue_ids.end(), q) != im.queue_ids.end()) continue;
    auto port = detail::open_queue(im, q, false);  // EBUSY: its owner just left; next time
    if (!port || !im.multi[0]->add_part(port.value())) continue;
    ++taken;
  }
  if (taken > 0) {
    im.driven->eng.tcp().set_siblings(!holds_all_queues());
    if (im.stats) im.stats->set_queues(im.queue_ids);
    // The kernel's listener served these queues until now: its connections stay with it.
    im.claims->refresh_exceptions();
  }
  return taken;
}

void Stack::tend() {
  impl_->claims->tend();
}

unsigned Stack::engines() const {
  return static_cast<unsigned>(impl_->engine_io.size());
}

void Stack::stop() {
  impl_->stop.store(true, std::memory_order_relaxed);
}

std::string Stack::describe() const {
  std::ostringstream o;
  o << "interface " << impl_->info.name << " (" << impl_->info.driver << "), ";
  if (holds_all_queues()) {
    o << impl_->ports.size() << " queue(s)";
  } else {
    o << "RX queue(s)";
    for (const unsigned q : queues()) o << ' ' << q;
    o << " of " << impl_->info.rx_queues << " (the others are other processes' or the kernel's)";
  }
  o << ", " << engines() << " engine(s), AF_XDP "
    << (impl_->ports.empty() || !impl_->ports[0]->zero_copy() ? "copy" : "zero-copy") << " mode";
  if (impl_->attachment) {
    o << ", steering program attached by this process (" << kernel::to_string(impl_->attachment->info().mode)
      << ")";
  } else {
    o << ", steering program attached by xdptcp-ctl";
  }
  const engine::RssConfig rss{impl_->info.rss_key, impl_->info.rss_indir};
  o << (engines() > 1 && impl_->info.rss_toeplitz && rss.usable()
            ? ", active-open ports chosen by the NIC's RSS hash"
            : "");
  o << ", addresses";
  for (const auto& a : impl_->addrs) o << ' ' << a.to_string();
  return o.str();
}

namespace detail {

// Engine i's configuration: the stack's options, addresses, MTU and its slice of the ephemeral
// range (the slice names the engine that owns an active open's replies, design brief §5).
engine::EngineConfig engine_config(const StackImpl& impl, unsigned i, unsigned n) {
  const unsigned span = (65536u - impl.ephemeral.lo) / n;
  engine::EngineConfig ec;
  ec.id = i;
  ec.engine_count = n;
  ec.rx_batch = impl.opts.rx_batch;
  std::copy(impl.info.mac.begin(), impl.info.mac.end(), ec.mac.bytes.begin());
  ec.tcp.local_addrs = impl.addrs;
  ec.routes = impl.routes;
  ec.tcp.mtu = static_cast<std::uint16_t>(std::min<std::uint32_t>(impl.info.mtu, 65535));
  ec.tcp.max_sockets = impl.opts.max_sockets;
  if (impl.opts.mem_budget_mib != 0) ec.tcp.mem_budget = impl.opts.mem_budget_mib << 20;
  (void)tcp::apply_stack_profile(ec.tcp, impl.opts.profile);  // explicit options below win
  ec.tcp.sndbuf = impl.opts.sndbuf;
  ec.tcp.rcvbuf = impl.opts.rcvbuf;
  ec.tcp.secret = impl.secret;
  // Some queues but not all (a configuration built without queues, as in tests, has no siblings).
  ec.tcp.siblings = !impl.queue_ids.empty() && impl.queue_ids.size() < impl.info.rx_queues;
  if (impl.opts.time_wait_ms != 0) ec.tcp.time_wait = Duration::millis(impl.opts.time_wait_ms);
  ec.spin = Duration::micros(impl.opts.spin_us);
  ec.tcp.ephemeral_lo = static_cast<std::uint16_t>(impl.ephemeral.lo + i * span);
  ec.tcp.ephemeral_hi =
      static_cast<std::uint16_t>(i + 1 == n ? 65535u : impl.ephemeral.lo + (i + 1) * span - 1);
  // Design brief §5: with the NIC's RSS key and table each engine picks, within its slice,
  // source ports whose replies come back to its queue; without them (veth) the hand-off does.
  // An engine serving several queues cannot name one, so it takes any port.
  if (impl.info.rss_toeplitz && impl.ports.size() == n && impl.queue_ids.size() == impl.info.rx_queues)
    ec.rss = {impl.info.rss_key, impl.info.rss_indir};
  return ec;
}

}  // namespace detail

Context* Stack::drive(std::string* error) {
  if (impl_->driven) return &impl_->driven->ctx;
  if (engines() != 1) {
    if (error != nullptr) {
      *error = "drive: the stack has " + std::to_string(engines()) +
               " engines; a stack driven by the caller's thread has one (StackOptions::engines = 1), which "
               "serves every queue";
    }
    return nullptr;
  }
  impl_->driven =
      std::make_unique<detail::DrivenEngine>(detail::engine_config(*impl_, 0, 1), *impl_->engine_io[0],
                                             impl_->info.ifindex, &impl_->stop, impl_->claims.get());
  impl_->driven->eng.set_stats_region(impl_->stats.get());
  // One engine holds every connection: a listener that closes can drain (StackPortClaims).
  impl_->claims->set_live_connections(
      [t = &impl_->driven->eng.tcp()](std::uint16_t port, auto& out) { t->connections_on_port(port, out); });
  return &impl_->driven->ctx;
}

void Stack::run(const std::function<void(Context&)>& fn) {
  const unsigned n = engines();
  const unsigned ncpu = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> threads;
  // Every engine must exist before any of them polls: they hand frames to each other.
  std::vector<engine::Engine*> all(n, nullptr);
  std::latch constructed(n);
  std::latch finished(n);  // no engine is destroyed while another may still hand it frames
  // Which engine owns each flow the ephemeral slices do not name: room for every engine's TCBs.
  const tcp::StackConfig tc = detail::engine_config(*impl_, 0, n).tcp;
  engine::FlowDirectory directory(std::size_t{n} * (2 * tc.max_sockets + tc.syn_backlog));
  for (unsigned i = 0; i < n; ++i) {
    threads.emplace_back([this, i, n, ncpu, &fn, &all, &constructed, &finished, &directory] {
      if (impl_->opts.pin_cores) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET((impl_->opts.first_core + i) % ncpu, &set);
        pthread_setaffinity_np(pthread_self(), sizeof set, &set);
      }
      MonotonicClock clock;
      detail::KernelResolver resolver(impl_->info.ifindex);
      engine::Engine eng(detail::engine_config(*impl_, i, n), *impl_->engine_io[i], clock, &resolver);
      eng.set_stats_region(impl_->stats.get());
      all[i] = &eng;
      constructed.arrive_and_wait();
      eng.set_peers(all, &directory);
      detail::ContextImpl ci(eng, i, &impl_->stop, impl_->claims.get());
      Context ctx(&ci);
      fn(ctx);
      finished.arrive_and_wait();
    });
  }
  for (auto& t : threads) t.join();
}

}  // namespace xdptcp
