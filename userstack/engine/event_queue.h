// An epoll-like event queue over one engine's sockets, with Linux's semantics (epoll(7)):
// level-triggered by default, EPOLLET edge-triggered, EPOLLONESHOT disabled after one report
// until EPOLL_CTL_MOD re-arms it; EPOLLERR and EPOLLHUP always reported. wait() drives the
// engine (design brief §2 step 5): it runs loop iterations until something is ready or the
// timeout passes, so the application's epoll loop is the engine's loop.
//
// Bounded: interest and ready lists are arrays indexed by socket id, sized by the stack's
// max_sockets at construction; a socket is on the ready list at most once.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "userstack/tcp/tcp_stack.h"
#include "userstack/time/clock.h"

namespace xdptcp::engine {

class Engine;

// Flag values of <sys/epoll.h>.
namespace epoll_flags {
inline constexpr std::uint32_t kEdge = 1u << 31;     // EPOLLET
inline constexpr std::uint32_t kOneShot = 1u << 30;  // EPOLLONESHOT
inline constexpr int kCtlAdd = 1;                    // EPOLL_CTL_ADD
inline constexpr int kCtlDel = 2;                    // EPOLL_CTL_DEL
inline constexpr int kCtlMod = 3;                    // EPOLL_CTL_MOD
}  // namespace epoll_flags

struct Event {
  std::uint32_t events = 0;
  std::uint64_t data = 0;
};

class EventQueue {
 public:
  // Fails (valid() false) when the engine already has its maximum of event queues.
  explicit EventQueue(Engine& engine);
  ~EventQueue();
  EventQueue(const EventQueue&) = delete;
  EventQueue& operator=(const EventQueue&) = delete;

  bool valid() const { return attached_; }

  // EPOLL_CTL_ADD/MOD/DEL; 0 or -EEXIST, -ENOENT, -EBADF (no such socket), -EINVAL.
  int ctl(int op, tcp::SocketId s, std::uint32_t events, std::uint64_t data);
  // Up to out.size() ready events. Drives the engine until one is ready or `timeout` passes;
  // a negative timeout waits forever, zero runs one iteration and returns.
  int wait(std::span<Event> out, Duration timeout);
  // Ready events now, without driving the engine.
  int collect(std::span<Event> out);
  // Whether some socket may be ready (it was notified since the last collect, or stayed ready):
  // a thread sleeping on this queue's behalf must then be woken to collect (spurious: collect
  // finds nothing).
  bool may_have_events() const { return !ready_.empty(); }

  // From the engine: readiness of `s` may have changed.
  void notify(tcp::SocketId s, std::uint32_t events);
  // The socket was closed: drop its interest (close(2) does this for epoll).
  void forget(tcp::SocketId s);

 private:
  struct Interest {
    std::uint32_t mask = 0;  // requested events incl. EPOLLET/EPOLLONESHOT
    std::uint64_t data = 0;
    bool registered = false;
    bool queued = false;    // on ready_
    bool disabled = false;  // EPOLLONESHOT fired
  };
  void enqueue(tcp::SocketId s);

  Engine& engine_;
  bool attached_ = false;
  std::vector<Interest> interest_;    // indexed by socket id; sized once
  std::vector<tcp::SocketId> ready_;  // capacity = interest_.size(); never reallocates
};

}  // namespace xdptcp::engine
