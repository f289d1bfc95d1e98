// SimNetwork: see sim_network.h. The step order mirrors the engine's loop (design brief §2).
#include "tests/support/sim/sim_network.h"

#include <string>

#include <cstdio>
#include <utility>

namespace xdptcp::sim {
namespace {

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// The destination address of an IPv4 or IPv6 packet, read without validating anything else (the
// receiving stack validates; a corrupted version nibble simply routes nowhere).
std::optional<wire::IpAddr> destination(std::span<const std::uint8_t> p) {
  if (p.empty()) return std::nullopt;
  const unsigned version = p[0] >> 4;
  if (version == 4 && p.size() >= 20) return wire::IpAddr::v4_bytes(p.data() + 16);
  if (version == 6 && p.size() >= 40) return wire::IpAddr::v6_bytes(p.data() + 24);
  return std::nullopt;
}

}  // namespace

// The PacketSink of one stack: lends its uplink's slots, routes at commit.
class SimNetwork::UplinkSink final : public tcp::PacketSink {
 public:
  UplinkSink(const SimNetwork& net, SimLink& link) : net_(net), link_(link) {}
  std::span<std::uint8_t> tx_acquire() override {
    last_ = link_.tx_acquire();
    return last_;
  }
  void tx_commit(std::size_t len) override {
    if (last_.empty() || len > last_.size()) return;
    link_.tx_commit(len, net_.route(last_.first(len)));
  }

 private:
  const SimNetwork& net_;
  SimLink& link_;
  std::span<std::uint8_t> last_;
};

struct SimNetwork::Endpoint {
  std::vector<wire::IpAddr> addrs;
  std::unique_ptr<SimLink> uplink;
  std::unique_ptr<UplinkSink> sink;
  std::unique_ptr<PcapSink> pcap_sink;
  std::unique_ptr<tcp::TcpStack> stack;
  std::size_t max_sockets = 0;
  RawReceiver raw;
};

SimNetwork::SimNetwork(Options opts, Instant start) : opts_(std::move(opts)), clock_(start) {
  if (std::optional<std::string> dir = pcap_dir_from_env()) {
    const std::string path = pcap_path(*dir, opts_.name);
    Result<PcapWriter> w = PcapWriter::open(path);
    if (w.ok()) {
      pcap_.emplace(std::move(w).value());
    } else {
      std::fprintf(stderr, "sim: %s\n", w.error().describe().c_str());
    }
  }
}

SimNetwork::LeakReporter SimNetwork::leak_reporter_ = nullptr;

void SimNetwork::set_leak_reporter(LeakReporter r) {
  leak_reporter_ = r;
}

SimNetwork::~SimNetwork() {
  if (leak_reporter_ == nullptr || !opts_.check_leaks) return;
  // The owner's members that raw receivers use may be gone already (destroyed before this one):
  // no callback runs from here, and packets to raw endpoints are dropped.
  for (auto& ep : eps_) ep->raw = nullptr;
  if (std::string leaks = drain_check(); !leaks.empty()) leak_reporter_(leaks);
}

std::string SimNetwork::drain_check(Duration limit) {
  app_ = nullptr;  // the application has exited
  app_wake_.reset();
  for (const auto& ep : eps_) {
    if (!ep->stack) continue;
    for (std::size_t id = 0; id < ep->max_sockets; ++id) {
      (void)ep->stack->close(static_cast<tcp::SocketId>(id), clock_.now());
    }
  }
  auto drained = [this] {
    for (const auto& ep : eps_) {
      if (ep->stack && (ep->stack->socket_count() != 0 || ep->stack->connection_count() != 0)) return false;
    }
    return !next_event().has_value();
  };
  const Instant deadline = clock_.now() + limit;
  (void)run_until(drained, deadline);
  std::string leaks;
  for (std::size_t i = 0; i < eps_.size(); ++i) {
    const Endpoint& ep = *eps_[i];
    if (ep.stack && (ep.stack->socket_count() != 0 || ep.stack->connection_count() != 0)) {
      leaks += "endpoint " + std::to_string(i) + ": " + std::to_string(ep.stack->socket_count()) +
               " socket(s) and " + std::to_string(ep.stack->connection_count()) +
               " connection(s) left after every socket was closed; ";
    } else if (ep.stack && ep.stack->memory_use().buffer_bytes != 0) {
      leaks += "endpoint " + std::to_string(i) + ": " + std::to_string(ep.stack->memory_use().buffer_bytes) +
               " bytes of buffer chunks held with no connection left; ";
    }
  }
  if (const auto e = next_event(); e && leaks.empty()) {
    leaks += "the network is still busy (an event at " + std::to_string(e->ns) + " ns); ";
  }
  if (!leaks.empty()) {
    leaks = "leak check (" + opts_.name + ", " + std::to_string(limit.ns / 1'000'000'000) +
            " s of virtual time after closing every socket): " + leaks;
  }
  return leaks;
}

tcp::TcpStack& SimNetwork::stack(std::size_t i) {
  return *eps_[i]->stack;
}
std::uint64_t SimNetwork::segments_out() const {
  std::uint64_t n = 0;
  for (const auto& ep : eps_) {
    if (ep->stack) n += ep->stack->stats().segments_out;
  }
  return n;
}
SimLink& SimNetwork::uplink(std::size_t i) {
  return *eps_[i]->uplink;
}

std::size_t SimNetwork::add_stack(tcp::StackConfig cfg, const LinkConfig& uplink) {
  const std::size_t idx = eps_.size();
  if (cfg.secret == 0) cfg.secret = splitmix64(opts_.seed * 1'000'003 + idx) | 1;
  auto ep = std::make_unique<Endpoint>();
  ep->addrs = cfg.local_addrs;
  ep->uplink = std::make_unique<SimLink>(uplink, clock_);
  ep->sink = std::make_unique<UplinkSink>(*this, *ep->uplink);
  tcp::PacketSink* sink = ep->sink.get();
  if (pcap_) {
    ep->pcap_sink = std::make_unique<PcapSink>(*ep->sink, *pcap_, clock_);
    sink = ep->pcap_sink.get();
  }
  ep->max_sockets = cfg.max_sockets;
  ep->stack = std::make_unique<tcp::TcpStack>(std::move(cfg), *sink, clock_.now());
  eps_.push_back(std::move(ep));
  return idx;
}

std::size_t SimNetwork::add_raw(const wire::IpAddr& addr, const LinkConfig& uplink, RawReceiver rx) {
  auto ep = std::make_unique<Endpoint>();
  ep->addrs.push_back(addr);
  ep->uplink = std::make_unique<SimLink>(uplink, clock_);
  ep->raw = std::move(rx);
  eps_.push_back(std::move(ep));
  return eps_.size() - 1;
}

std::uint32_t SimNetwork::route(std::span<const std::uint8_t> ip_packet) const {
  const std::optional<wire::IpAddr> dst = destination(ip_packet);
  if (!dst) return kNoRoute;
  for (std::size_t i = 0; i < eps_.size(); ++i) {
    for (const wire::IpAddr& a : eps_[i]->addrs) {
      if (a == *dst) return static_cast<std::uint32_t>(i);
    }
  }
  return kNoRoute;
}

bool SimNetwork::inject(std::size_t from, std::span<const std::uint8_t> ip_packet) {
  if (pcap_) pcap_->write(ip_packet, clock_.now());
  return eps_[from]->uplink->send(ip_packet, route(ip_packet));
}

void SimNetwork::wake_app_at(Instant t) {
  if (!app_wake_ || t < *app_wake_) app_wake_ = t;
}

void SimNetwork::deliver(std::size_t to, std::span<const std::uint8_t> pkt, Instant now) {
  Endpoint& ep = *eps_[to];
  if (ep.stack) {
    ep.stack->input(pkt, now);
  } else if (ep.raw) {
    ep.raw(pkt, now);
  }
}

void SimNetwork::step() {
  ++steps_;
  const Instant now = clock_.now();
  for (std::size_t i = 0; i < eps_.size(); ++i) {
    eps_[i]->uplink->deliver_due([&](std::uint32_t dst, std::span<const std::uint8_t> pkt, Instant) {
      if (dst == kNoRoute) {
        ++unroutable_;
        return;
      }
      deliver(dst, pkt, now);
    });
  }
  for (auto& ep : eps_) {
    if (ep->stack) ep->stack->advance(now);
  }
  if (app_wake_ && *app_wake_ <= now) app_wake_.reset();
  if (app_) app_(now);
  for (auto& ep : eps_) {
    if (ep->stack) ep->stack->flush(now);
  }
}

std::optional<Instant> SimNetwork::next_event() const {
  std::optional<Instant> next = app_wake_;
  auto consider = [&next](std::optional<Instant> t) {
    if (t && (!next || *t < *next)) next = t;
  };
  for (const auto& ep : eps_) {
    consider(ep->uplink->next_delivery());
    if (ep->stack) consider(ep->stack->next_timer());
  }
  return next;
}

bool SimNetwork::run_until(const std::function<bool()>& pred, Instant deadline) {
  stalled_ = false;
  std::size_t same_instant = 0;
  for (;;) {
    step();
    if (pred()) return true;
    const std::optional<Instant> next = next_event();
    if (!next || *next > deadline) {
      clock_.set(deadline);
      if (pcap_) pcap_->flush();
      return pred();
    }
    if (*next <= clock_.now()) {
      if (++same_instant > opts_.max_steps_per_instant) {
        stalled_ = true;
        std::fprintf(stderr, "sim %s: stalled at t=%lld ns: events keep falling due without time passing\n",
                     opts_.name.c_str(), static_cast<long long>(clock_.now().ns));
        if (pcap_) pcap_->flush();
        return false;
      }
    } else {
      same_instant = 0;
      clock_.set(*next);
    }
  }
}

void SimNetwork::run_for(Duration d) {
  const Instant deadline = clock_.now() + d;
  (void)run_until([] { return false; }, deadline);
}

}  // namespace xdptcp::sim
