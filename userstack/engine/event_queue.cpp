// epoll semantics over the engine's sockets; see event_queue.h.
#include "userstack/engine/event_queue.h"

#include <cerrno>
#include <optional>

#include "userstack/engine/engine.h"

namespace xdptcp::engine {

namespace {
constexpr std::uint32_t kAlways = tcp::events::kErr | tcp::events::kHup;  // epoll(7): always reported
constexpr std::uint32_t kFlags = epoll_flags::kEdge | epoll_flags::kOneShot;
}  // namespace

EventQueue::EventQueue(Engine& engine) : engine_(engine) {
  attached_ = engine_.attach(this);
  // Socket ids are below max_sockets (tcp_stack.h); sizing once keeps the per-event path free
  // of allocation.
  const std::size_t n = engine_.max_sockets();
  interest_.resize(n);
  ready_.reserve(n);
}

EventQueue::~EventQueue() {
  if (attached_) engine_.detach(this);
}

void EventQueue::enqueue(tcp::SocketId s) {
  Interest& in = interest_[static_cast<std::size_t>(s)];
  if (in.queued) return;
  in.queued = true;
  ready_.push_back(s);  // at most one entry per socket: never beyond the reserved capacity
}

int EventQueue::ctl(int op, tcp::SocketId s, std::uint32_t events, std::uint64_t data) {
  if (s < 0 || static_cast<std::size_t>(s) >= interest_.size()) return -EBADF;
  wire::SockAddr unused;
  if (engine_.tcp().getsockname(s, &unused) == -EBADF) return -EBADF;
  Interest& in = interest_[static_cast<std::size_t>(s)];
  switch (op) {
    case epoll_flags::kCtlAdd:
      if (in.registered) return -EEXIST;
      in = Interest{events, data, true, in.queued, false};
      break;
    case epoll_flags::kCtlMod:
      if (!in.registered) return -ENOENT;
      in.mask = events;
      in.data = data;
      in.disabled = false;
      break;
    case epoll_flags::kCtlDel:
      if (!in.registered) return -ENOENT;
      in.registered = false;
      return 0;  // a queued entry is skipped and dropped by collect()
    default:
      return -EINVAL;
  }
  // Like Linux, a socket already ready is reported by the next wait, edge-triggered or not.
  if ((engine_.tcp().poll_events(s) & ((in.mask & ~kFlags) | kAlways)) != 0) enqueue(s);
  return 0;
}

void EventQueue::notify(tcp::SocketId s, std::uint32_t events) {
  if (s < 0 || static_cast<std::size_t>(s) >= interest_.size()) return;
  const Interest& in = interest_[static_cast<std::size_t>(s)];
  if (!in.registered || in.disabled) return;
  if ((events & ((in.mask & ~kFlags) | kAlways)) != 0) enqueue(s);
}

void EventQueue::forget(tcp::SocketId s) {
  if (s < 0 || static_cast<std::size_t>(s) >= interest_.size()) return;
  interest_[static_cast<std::size_t>(s)].registered = false;
}

int EventQueue::collect(std::span<Event> out) {
  std::size_t n = 0;
  std::size_t keep = 0;
  // Compacts ready_ in place (keep <= the read position): no allocation on the event path.
  for (std::size_t i = 0; i < ready_.size(); ++i) {  // NOLINT(modernize-loop-convert): writes ready_[keep]
    const tcp::SocketId s = ready_[i];
    Interest& in = interest_[static_cast<std::size_t>(s)];
    if (n == out.size()) {
      ready_[keep++] = s;  // no room this time: stays queued, in order
      continue;
    }
    const std::uint32_t ev =
        (in.registered && !in.disabled) ? engine_.tcp().poll_events(s) & ((in.mask & ~kFlags) | kAlways) : 0;
    if (ev == 0) {
      in.queued = false;
      continue;
    }
    out[n++] = Event{ev, in.data};
    if ((in.mask & epoll_flags::kOneShot) != 0) in.disabled = true;
    if ((in.mask & (epoll_flags::kEdge | epoll_flags::kOneShot)) != 0) {
      in.queued = false;  // edge-triggered: reported again only after the next change
    } else {
      ready_[keep++] = s;  // level-triggered: checked again at the next wait
    }
  }
  ready_.resize(keep);
  return static_cast<int>(n);
}

int EventQueue::wait(std::span<Event> out, Duration timeout) {
  std::optional<Instant> start;  // read only when waiting: a clock read per call is measurable
  for (;;) {
    engine_.poll();
    const int n = collect(out);
    if (n > 0 || timeout.ns == 0) return n;
    if (!start) start = engine_.last_poll_time();  // the first poll of this wait
    const Duration left = timeout.ns < 0 ? Duration::millis(100) : timeout - (engine_.now() - *start);
    if (left.ns <= 0) return 0;
    engine_.wait_for_work(left);
  }
}

}  // namespace xdptcp::engine
