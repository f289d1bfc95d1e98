// Two whole applications' worth of stack (engine + API context) on the two ends of an in-memory
// Ethernet link, driven by one manual clock in one thread: the API tests run deterministically,
// with no kernel and no sleeping. Each side's epoll_wait(…, 0) runs one engine iteration.
#pragma once

#include <array>
#include <functional>
#include <memory>

#include <gtest/gtest.h>

#include "api/src/context_impl.h"
#include "tests/support/engine/drain_check.h"
#include "tests/support/engine/static_resolver.h"
#include "tests/support/sim/virtual_clock.h"
#include "userstack/engine/engine.h"
#include "userstack/io/mem_link.h"
#include "xdptcp/xdptcp.hpp"

namespace xdptcp::testing {

struct Host {
  // `tweak` adjusts the engine's configuration (routes, VLAN tag) before the engine is made.
  Host(io::PacketIo& io, const Clock& clock, wire::IpAddr ip4, wire::IpAddr ip6, std::uint8_t mac_last,
       const std::function<void(engine::EngineConfig&)>& tweak = {}) {
    engine::EngineConfig ec;
    ec.mac.bytes = {0x02, 0, 0, 0, 0, mac_last};
    ec.tcp.local_addrs = {ip4, ip6};
    ec.tcp.max_sockets = 256;
    ec.tcp.secret = 42 + mac_last;
    if (tweak) tweak(ec);
    eng = std::make_unique<engine::Engine>(ec, io, clock, &resolver);
    impl = std::make_unique<detail::ContextImpl>(*eng, 0, nullptr, nullptr);
    ctx = std::make_unique<Context>(impl.get());
    mac = ec.mac;
  }
  StaticResolver resolver;
  std::unique_ptr<engine::Engine> eng;
  std::unique_ptr<detail::ContextImpl> impl;
  std::unique_ptr<Context> ctx;
  wire::MacAddr mac;
};

struct ApiPair {
  ApiPair()
      : link(1024, 2048),
        server(link.a(), clock, *wire::IpAddr::parse("198.18.0.1"), *wire::IpAddr::parse("fd00:198:18::1"),
               1),
        client(link.b(), clock, *wire::IpAddr::parse("198.18.0.2"), *wire::IpAddr::parse("fd00:198:18::2"),
               2) {
    client.resolver.table["198.18.0.1"] = server.mac;
    client.resolver.table["fd00:198:18::1"] = server.mac;
    server.resolver.table["198.18.0.2"] = client.mac;
    server.resolver.table["fd00:198:18::2"] = client.mac;
  }
  // The leak check (tests/support/engine/drain_check.h) after every test over the pair.
  ~ApiPair() {
    const std::array<engine::Engine*, 2> engines{server.eng.get(), client.eng.get()};
    const std::array<io::MemPort*, 2> ports{&link.a(), &link.b()};
    EXPECT_EQ(drain_check(engines, ports, clock), "");
  }
  ApiPair(const ApiPair&) = delete;
  ApiPair& operator=(const ApiPair&) = delete;

  // One iteration of both engines, then time moves on.
  void step(Duration d = Duration::millis(1)) {
    server.eng->poll();
    client.eng->poll();
    clock.advance(d);
  }
  sim::VirtualClock clock{Instant{1'000'000'000}};
  io::MemLink link;
  Host server;
  Host client;
};

inline sockaddr_in v4(const char* ip, std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}

inline sockaddr_in6 v6(const char* ip, std::uint16_t port) {
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(port);
  inet_pton(AF_INET6, ip, &a.sin6_addr);
  return a;
}

}  // namespace xdptcp::testing
