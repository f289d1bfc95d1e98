// Descriptor bookkeeping; see fd_table.h.
#include "api/preload/fd_table.h"

namespace xdptcp::preload {

void FdEntry::reset() {
  kind.store(Kind::kNone, std::memory_order_release);
  family = 0;
  nonblock = bound = v6only = kernel_ready = mapped = listen_failed = was_unwatched = false;
  unwatched_at_wait = 0;
  backlog = 0;
  sid = sid4 = -1;
  local = {};
  rcv_timeout_ms = snd_timeout_ms = 0;
  option_count = 0;
  epolls.fill({});
  queue = -1;
  wake_added = false;
  xdptcp_members = 0;
  doorbell = -1;
}

void FdEntry::save_option(int level, int name, int value) {
  for (std::size_t i = 0; i < option_count; ++i) {
    if (options[i].level == level && options[i].name == name) {
      options[i].value = value;
      return;
    }
  }
  // Bounded: past kMaxOptions distinct options the oldest is kept and the newest not replayed;
  // the kernel socket has it all the same. No application we know sets that many.
  if (option_count < kMaxOptions) options[option_count++] = {level, name, value};
}

EpollBinding* FdEntry::binding(int epfd) {
  for (auto& b : epolls) {
    if (b.epfd == epfd) return &b;
  }
  return nullptr;
}

FdEntry* FdTable::slot(int fd) {
  if (fd < 0 || fd >= kMaxFds) return nullptr;
  auto& c = chunks_[static_cast<std::size_t>(fd / kChunk)];
  FdEntry* chunk = c.load(std::memory_order_acquire);
  if (chunk == nullptr) {
    // Never freed: a lock-free reader may hold a pointer into it at any time.
    chunk = new FdEntry[kChunk];
    c.store(chunk, std::memory_order_release);
  }
  return &chunk[fd % kChunk];
}

}  // namespace xdptcp::preload
