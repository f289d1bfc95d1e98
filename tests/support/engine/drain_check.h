// The leak check of tests over engines on in-memory links (issue 11, item 7): as the applications
// would when they exit, closes every socket each engine's stack still holds, then runs the engines
// until every connection is freed (FIN exchanges, retransmissions given up, TIME-WAIT) and no frame
// waits on a link, for at most `limit` of virtual time. Returns what is left ("" when everything
// drained): a connection, a socket id, a frame or a buffer chunk still there is a leak. Header-only test
// support.
#pragma once

#include <functional>
#include <span>
#include <string>

#include "tests/support/sim/virtual_clock.h"
#include "userstack/engine/engine.h"
#include "userstack/io/mem_link.h"

namespace xdptcp::testing {

inline std::string drain_check(std::span<engine::Engine* const> engines, std::span<io::MemPort* const> ports,
                               sim::VirtualClock& clock, Duration limit = Duration::seconds(30 * 60)) {
  for (engine::Engine* e : engines) {
    for (std::size_t id = 0; id < e->max_sockets(); ++id) {
      (void)e->tcp().close(static_cast<tcp::SocketId>(id), clock.now());
    }
  }
  auto left = [&] {
    std::string what;
    for (engine::Engine* e : engines) {
      if (e->tcp().socket_count() != 0 || e->tcp().connection_count() != 0) {
        what += "engine " + std::to_string(e->id()) + ": " + std::to_string(e->tcp().socket_count()) +
                " socket(s) and " + std::to_string(e->tcp().connection_count()) + " connection(s) left; ";
      }
      if (const std::size_t b = e->tcp().memory_use().buffer_bytes; b != 0) {
        what +=
            "engine " + std::to_string(e->id()) + ": " + std::to_string(b) + " bytes of buffer chunks held; ";
      }
    }
    for (std::size_t i = 0; i < ports.size(); ++i) {
      if (ports[i]->queued() != 0)
        what +=
            "port " + std::to_string(i) + ": " + std::to_string(ports[i]->queued()) + " frame(s) queued; ";
    }
    return what;
  };
  const Instant deadline = clock.now() + limit;
  // Small steps first (the closing handshakes), then whole seconds (retransmissions, TIME-WAIT).
  for (int i = 0; clock.now() < deadline; ++i) {
    for (engine::Engine* e : engines) e->poll();
    if (left().empty()) break;
    clock.advance(i < 1000 ? Duration::millis(1) : Duration::seconds(1));
  }
  std::string what = left();
  if (!what.empty()) what = "leak check (after closing every socket and running the engines): " + what;
  return what;
}

}  // namespace xdptcp::testing
