// What the preload library knows about a file descriptor. Every xdptcp socket is backed by a real
// kernel descriptor (design brief §8), so its number is the kernel's: small, unique, inherited by
// fork. The table is indexed by that number; an fd absent from it is the kernel's and every call
// on it falls straight through to the C library.
//
// Bounded: kMaxFds descriptors (a process with more keeps the rest on the kernel). Storage comes in
// chunks of kChunk entries, allocated the first time a descriptor in the chunk becomes xdptcp's
// (at socket()/accept(), never per packet) and never freed, so a lookup is two loads without a
// lock. Entries change only under the process lock (process_state.h).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "userstack/wire/ip_addr.h"

namespace xdptcp::preload {

enum class Kind : std::uint8_t {
  kNone,       // not ours: the kernel's
  kCandidate,  // a TCP socket whose address is not known yet (decided at bind/listen/connect)
  kListener,   // listening on a served (or the wildcard) address: the stack and the kernel both
  kConn,       // an xdptcp connection (accepted, or connected through the served interface)
  kOrphan,     // an xdptcp socket inherited across fork: its TCP state is the parent's
  kEpoll,      // an epoll set the application created (the kernel's), with its stack-side twin
};

// One setsockopt the application made before its socket became the stack's, replayed onto the
// stack's socket when it is created (the kernel socket has it already).
struct SavedOption {
  int level = 0;
  int name = 0;
  int value = 0;
};

// A listener's registration in one epoll set: the application's data, which the kernel and the
// stack see replaced by a tag naming the fd (so the two sides' events can be merged).
struct EpollBinding {
  int epfd = -1;
  std::uint32_t events = 0;
  std::uint64_t data = 0;
};

struct FdEntry {
  static constexpr std::size_t kMaxOptions = 12;
  static constexpr std::size_t kMaxEpolls = 8;

  std::atomic<Kind> kind{Kind::kNone};  // read without the lock on every call
  int family = 0;                       // AF_INET or AF_INET6, as the application created it
  bool nonblock = false;                // O_NONBLOCK as the application set it
  bool bound = false;
  bool v6only = false;
  bool kernel_ready = false;            // listener: the kernel side reported a connection to accept
  bool mapped = false;                  // conn: IPv4 seen through an AF_INET6 descriptor (::ffff:a.b.c.d)
  bool listen_failed = false;           // listener: the stack could not listen there (said once)
  bool was_unwatched = false;           // listener: removed from every epoll set once (ctl_listener)
  std::uint64_t unwatched_at_wait = 0;  // Process::waits() when it was last removed
  int backlog = 0;
  int sid = -1;   // the stack's socket (conn; listener in the descriptor's family)
  int sid4 = -1;  // listener on [::] without IPV6_V6ONLY: the stack's IPv4 listener
  wire::SockAddr local;
  std::uint32_t rcv_timeout_ms = 0;  // SO_RCVTIMEO / SO_SNDTIMEO for blocking calls (0: none)
  std::uint32_t snd_timeout_ms = 0;
  std::array<SavedOption, kMaxOptions> options{};
  std::uint8_t option_count = 0;
  std::array<EpollBinding, kMaxEpolls> epolls{};
  // kEpoll: the stack-side event queue (Context epoll id; -1 until the stack runs) and whether the
  // engine's wake-up descriptor is in the kernel set.
  int queue = -1;
  bool wake_added = false;
  int xdptcp_members = 0;  // kEpoll: stack sockets registered (0: a plain kernel epoll_wait)
  int doorbell = -1;       // kEpoll: eventfd in the kernel set (Process::add_sleeper); -1: none yet

  void reset();  // back to kNone, every field cleared
  void save_option(int level, int name, int value);
  EpollBinding* binding(int epfd);
};

class FdTable {
 public:
  static constexpr int kChunk = 4096;
  static constexpr int kChunks = 256;
  static constexpr int kMaxFds = kChunk * kChunks;  // 1,048,576

  // The entry of fd, or null when fd is out of range or its chunk was never used (not ours).
  FdEntry* find(int fd) const {
    if (fd < 0 || fd >= kMaxFds) return nullptr;
    FdEntry* c = chunks_[static_cast<std::size_t>(fd / kChunk)].load(std::memory_order_acquire);
    return c == nullptr ? nullptr : &c[fd % kChunk];
  }
  // Kind::kNone for an fd that is not ours.
  Kind kind(int fd) const {
    const FdEntry* e = find(fd);
    return e == nullptr ? Kind::kNone : e->kind.load(std::memory_order_acquire);
  }
  // The entry of fd, its chunk allocated if needed (under the process lock); null out of range.
  FdEntry* slot(int fd);

  template <typename F>
  void for_each(F&& f) {
    for (int c = 0; c < kChunks; ++c) {
      FdEntry* chunk = chunks_[static_cast<std::size_t>(c)].load(std::memory_order_acquire);
      if (chunk == nullptr) continue;
      for (int i = 0; i < kChunk; ++i) {
        if (chunk[i].kind.load(std::memory_order_relaxed) != Kind::kNone) f(c * kChunk + i, chunk[i]);
      }
    }
  }

 private:
  std::array<std::atomic<FdEntry*>, kChunks> chunks_{};
};

}  // namespace xdptcp::preload
