// The socket and epoll calls of one engine, over its Engine and TcpStack: the implementation of
// xdptcp::Context. It does not know AF_XDP: the Stack (stack.cpp) builds it over AF_XDP engines,
// and tests build it over an engine on an in-memory link with a virtual clock.
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <optional>

#include "userstack/engine/engine.h"
#include "userstack/engine/event_queue.h"
#include "userstack/wire/ip_addr.h"
#include "xdptcp/xdptcp.hpp"

namespace xdptcp::detail {

// Claims a listening port for the stack (kernel reservation + steering rule) the first time any
// engine listens on it; releases it when the last engine's listener closes. Thread-safe (control
// path). Null in tests.
class PortClaims {
 public:
  virtual ~PortClaims() = default;
  virtual int claim(const wire::SockAddr& local) = 0;  // 0 or -errno
  virtual void release(const wire::SockAddr& local) = 0;
};

struct ContextImpl {
  static constexpr int kMaxEpolls = 32;  // = engine::Engine::kMaxEventQueues

  ContextImpl(engine::Engine& e, unsigned id, const std::atomic<bool>* stop, PortClaims* claims);
  ~ContextImpl();

  engine::Engine& engine;
  unsigned engine_id;
  const std::atomic<bool>* stop_flag;  // may be null
  PortClaims* claims;                  // may be null
  std::array<std::unique_ptr<engine::EventQueue>, kMaxEpolls> epolls{};
  std::array<engine::Event, 256> event_buf{};  // epoll_wait's staging (not a 4 KiB local per call)
  std::vector<std::uint8_t> listening;         // per socket id: a claimed listener (release on close)
  std::vector<wire::SockAddr> claimed;         // per socket id: what it claimed

  int epoll_base() const { return static_cast<int>(engine.max_sockets()); }
};

// sockaddr <-> SockAddr; EINVAL/EAFNOSUPPORT as the kernel's.
int from_sockaddr(const sockaddr* addr, socklen_t len, wire::SockAddr* out);
void to_sockaddr(const wire::SockAddr& a, sockaddr* addr, socklen_t* len);

}  // namespace xdptcp::detail
