// The reader's side of the connection snapshots (conn_snapshot.h): asking every engine, ringing
// the sleeping ones, collecting consistent copies.
#include "userstack/engine/conn_snapshot.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstring>
#include <memory>
#include <thread>

namespace xdptcp::engine {

using stats_layout::ConnAreaHeader;
using stats_layout::RegionHeader;
using stats_layout::SlotHeader;

namespace {

std::atomic_ref<std::uint64_t> word(std::uint8_t* base, std::size_t offset) {
  return std::atomic_ref<std::uint64_t>(*reinterpret_cast<std::uint64_t*>(base + offset));
}

std::string address_text(std::uint8_t family, const std::array<std::uint8_t, 16>& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  const int af = family == 6 ? AF_INET6 : AF_INET;
  return ::inet_ntop(af, a.data(), buf, sizeof buf) != nullptr ? buf : "?";
}

// The writer's doorbell `fd`, duplicated into this process: pidfd_getfd(2) needs ptrace rights
// over the writer (root, or its user without Yama's restrictions). Only an eventfd is accepted:
// the number could have been reused by another file had the engine ended meanwhile.
int duplicate_doorbell(pid_t pid, int fd, std::string* why) {
#if defined(SYS_pidfd_open) && defined(SYS_pidfd_getfd)
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    *why = std::string("pidfd_open: ") + std::strerror(errno);
    return -1;
  }
  const int dup = static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd, fd, 0));
  const int err = errno;
  ::close(pidfd);
  if (dup < 0) {
    *why = std::string("pidfd_getfd: ") + std::strerror(err);
    return -1;
  }
  char link[64] = {};
  const std::string self = "/proc/self/fd/" + std::to_string(dup);
  const ssize_t n = ::readlink(self.c_str(), link, sizeof link - 1);
  if (n <= 0 || std::string_view(link, static_cast<std::size_t>(n)) != "anon_inode:[eventfd]") {
    ::close(dup);
    *why = "descriptor " + std::to_string(fd) + " of pid " + std::to_string(pid) + " is no eventfd";
    return -1;
  }
  return dup;
#else
  (void)pid;
  (void)fd;
  *why = "pidfd_getfd is not available";
  return -1;
#endif
}

// One region mapped for writing: its engines asked, their answers collected.
class Asker {
 public:
  ~Asker() {
    if (base_ != nullptr) ::munmap(base_, size_);
  }

  bool open(const std::string& path, ProcessConns& out) {
    out.path = path;
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) return fail(out, errno, "cannot open " + path + " for writing");
    struct stat st {};
    if (::fstat(fd, &st) != 0 || static_cast<std::size_t>(st.st_size) < sizeof(RegionHeader)) {
      ::close(fd);
      return fail(out, EINVAL, path + ": not a stats region");
    }
    size_ = static_cast<std::size_t>(st.st_size);
    void* p = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    const int err = errno;
    ::close(fd);
    if (p == MAP_FAILED) return fail(out, err, "cannot map " + path);
    base_ = static_cast<std::uint8_t*>(p);
    std::memcpy(&h_, base_, sizeof h_);  // fixed once the file is in place
    if (h_.magic != stats_layout::kMagic) return fail(out, EINVAL, path + ": not a stats region");
    if (h_.version != stats_layout::kVersion) {
      return fail(out, EPROTO,
                  path + ": layout version " + std::to_string(h_.version) +
                      ", this xdptcp-ctl knows version " + std::to_string(stats_layout::kVersion) +
                      " (a different build of xdptcp)");
    }
    out.pid = h_.pid;
    out.comm.assign(h_.comm.data(), strnlen(h_.comm.data(), h_.comm.size()));
    out.engine_count = h_.engine_count;
    out.conn_capacity = h_.conn_capacity;
    const std::uint64_t slots_end =
        std::uint64_t{h_.slots_offset} + std::uint64_t{h_.slot_size} * h_.engine_count;
    if (h_.slot_header_size < sizeof(SlotHeader) || h_.slot_size % 8 != 0 || h_.slots_offset % 8 != 0 ||
        slots_end > size_ || h_.file_size > size_) {
      return fail(out, EINVAL, path + ": inconsistent sizes");
    }
    if (h_.conn_capacity == 0)
      return fail(out, EOPNOTSUPP, path + ": the process takes no connection snapshots");
    if (h_.conn_entry_size < sizeof(ConnEntry) || h_.conn_entry_size % 8 != 0 || h_.conn_offset % 8 != 0 ||
        h_.conn_area_size % 8 != 0 ||
        sizeof(ConnAreaHeader) + std::uint64_t{h_.conn_capacity} * h_.conn_entry_size > h_.conn_area_size ||
        h_.conn_offset + h_.conn_area_size * h_.engine_count > size_) {
      return fail(out, EINVAL, path + ": inconsistent sizes");
    }
    return true;
  }

  // Asks every engine that serves its slot.
  void post(ProcessConns& out) {
    start_ = std::chrono::steady_clock::now();
    for (std::uint32_t e = 0; e < h_.engine_count; ++e) {
      const auto [fd, serving] = serving_of(e);
      if (!serving) continue;  // no engine there now (not started yet, or ended): nothing to ask
      EngineConns ec;
      ec.engine = e;
      Pending p;
      p.index = out.engines.size();
      p.engine = e;
      p.request =
          word(slot(e), offsetof(SlotHeader, conn_request)).fetch_add(1, std::memory_order_seq_cst) + 1;
      out.engines.push_back(std::move(ec));
      pending_.push_back(p);
      ring_if_asleep(out, p, fd);
    }
  }

  // One look at the engines that have not answered; true when none is left.
  bool collect(ProcessConns& out) {
    const auto now = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < pending_.size();) {
      Pending& p = pending_[i];
      EngineConns& ec = out.engines[p.index];
      if (try_copy(p, ec)) {
        ec.answered = true;
        ec.wait_ms = std::chrono::duration<double, std::milli>(now - start_).count();
        pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(i));
        continue;
      }
      // A sleep announced after the request was seen cannot happen (the engine looks at the request
      // after announcing); one that stays unanswered was not rung (no rights then): try again now
      // and then, in case rights were not the reason.
      if (now - p.last_ring > std::chrono::milliseconds(100)) {
        const auto [fd, serving] = serving_of(p.engine);
        if (serving) ring_if_asleep(out, p, fd);
      }
      ++i;
    }
    return pending_.empty();
  }

 private:
  struct Pending {
    std::size_t index = 0;  // in ProcessConns::engines
    std::uint32_t engine = 0;
    std::uint64_t request = 0;
    std::chrono::steady_clock::time_point last_ring{};
  };

  static bool fail(ProcessConns& out, int code, std::string why) {
    out.error_code = code;
    out.error = std::move(why);
    return false;
  }

  std::uint8_t* slot(std::uint32_t e) const {
    return base_ + h_.slots_offset + std::size_t{e} * h_.slot_size;
  }
  std::uint8_t* area(std::uint32_t e) const {
    return base_ + h_.conn_offset + std::size_t{e} * h_.conn_area_size;
  }

  std::pair<int, bool> serving_of(std::uint32_t e) const {
    const std::uint64_t w = word(slot(e), offsetof(SlotHeader, wake_fd)).load(std::memory_order_seq_cst);
    std::array<std::int32_t, 2> halves{};
    std::memcpy(halves.data(), &w, sizeof w);
    return {halves[0], halves[1] != 0};
  }

  // The reader's half of the sleep handshake: the doorbell is rung only for an engine that
  // announced a sleep, and only by the reader whose compare-and-swap took kAsleep to kRung, so the
  // engine owes exactly one read per kRung it finds. The descriptor is obtained first: a kRung
  // never goes without its ring.
  void ring_if_asleep(ProcessConns& out, Pending& p, int fd) {
    p.last_ring = std::chrono::steady_clock::now();
    EngineConns& ec = out.engines[p.index];
    auto state = word(slot(p.engine), offsetof(SlotHeader, sleep_state));
    if (fd < 0 || state.load(std::memory_order_seq_cst) != stats_layout::kAsleep) return;
    std::string why;
    const int dup = duplicate_doorbell(h_.pid, fd, &why);
    if (dup < 0) {
      ec.ring_error = why;
      return;
    }
    std::uint64_t expected = stats_layout::kAsleep;
    if (state.compare_exchange_strong(expected, stats_layout::kRung, std::memory_order_seq_cst)) {
      const std::uint64_t one = 1;
      if (::write(dup, &one, sizeof one) == static_cast<ssize_t>(sizeof one)) {
        ec.rung = true;
        ec.ring_error.clear();
      } else {
        ec.ring_error = std::string("write to the doorbell: ") + std::strerror(errno);
      }
    }
    ::close(dup);
  }

  // The engine's area when it answers p.request or later, copied under its seqlock.
  bool try_copy(const Pending& p, EngineConns& ec) const {
    std::uint8_t* a = area(p.engine);
    auto seq = word(a, offsetof(ConnAreaHeader, seq));
    const std::uint64_t s1 = seq.load(std::memory_order_acquire);
    if ((s1 & 1) != 0) return false;  // a snapshot is being taken
    const std::uint64_t answer = word(a, offsetof(ConnAreaHeader, answer)).load(std::memory_order_relaxed);
    if (answer < p.request) return false;
    const std::uint64_t count = std::min<std::uint64_t>(
        word(a, offsetof(ConnAreaHeader, count)).load(std::memory_order_relaxed), h_.conn_capacity);
    const std::uint64_t truncated =
        word(a, offsetof(ConnAreaHeader, truncated)).load(std::memory_order_relaxed);
    const std::uint64_t polls = word(a, offsetof(ConnAreaHeader, polls)).load(std::memory_order_relaxed);
    std::vector<ConnEntry> entries(count);
    std::array<std::uint64_t, sizeof(ConnEntry) / 8> w;
    for (std::uint64_t i = 0; i < count; ++i) {
      const std::size_t at = sizeof(ConnAreaHeader) + i * h_.conn_entry_size;
      for (std::size_t k = 0; k < w.size(); ++k) w[k] = word(a, at + k * 8).load(std::memory_order_relaxed);
      entries[i] = std::bit_cast<ConnEntry>(w);
    }
    std::atomic_thread_fence(std::memory_order_acquire);
    if (seq.load(std::memory_order_relaxed) != s1) return false;  // a new snapshot began: its turn
    ec.truncated = truncated;
    ec.polls = polls;
    ec.conns.clear();
    for (const ConnEntry& e : entries) ec.conns.push_back(decode(e));
    return true;
  }

  std::uint8_t* base_ = nullptr;
  std::size_t size_ = 0;
  RegionHeader h_{};
  std::vector<Pending> pending_;
  std::chrono::steady_clock::time_point start_{};
};

// Asks all `askers` at once and waits for them together: the engines work in parallel.
void ask_all(std::vector<std::pair<std::unique_ptr<Asker>, ProcessConns*>>& askers, const ConnQuery& q) {
  for (auto& [a, out] : askers) a->post(*out);
  const auto deadline = std::chrono::steady_clock::now() + q.timeout;
  for (;;) {
    bool done = true;
    for (auto& [a, out] : askers) done = a->collect(*out) && done;
    if (done || std::chrono::steady_clock::now() >= deadline) return;
    std::this_thread::sleep_for(q.interval);
  }
}

}  // namespace

std::string_view ss_state_name(std::uint8_t s) {
  namespace L = linux_tcp_state;
  switch (s) {
    case L::kEstablished:
      return "ESTAB";
    case L::kSynSent:
      return "SYN-SENT";
    case L::kSynRecv:
      return "SYN-RECV";
    case L::kFinWait1:
      return "FIN-WAIT-1";
    case L::kFinWait2:
      return "FIN-WAIT-2";
    case L::kTimeWait:
      return "TIME-WAIT";
    case L::kClose:
      return "UNCONN";
    case L::kCloseWait:
      return "CLOSE-WAIT";
    case L::kLastAck:
      return "LAST-ACK";
    case L::kListen:
      return "LISTEN";
    case L::kClosing:
      return "CLOSING";
    default:
      break;
  }
  return "UNKNOWN";
}

ConnRecord decode(const ConnEntry& e) {
  ConnRecord r;
  r.raw = e;
  r.local_address = address_text(e.family, e.local_addr);
  r.remote_address = address_text(e.family, e.remote_addr);
  r.state_name = std::string(ss_state_name(e.state));
  r.cc.assign(e.cc.data(), strnlen(e.cc.data(), e.cc.size()));
  return r;
}

bool post_request(std::uint8_t* base, const RegionHeader& h, std::uint32_t engine, std::string* why) {
  std::uint8_t* slot = base + h.slots_offset + std::size_t{engine} * h.slot_size;
  word(slot, offsetof(SlotHeader, conn_request)).fetch_add(1, std::memory_order_seq_cst);
  const std::uint64_t w = word(slot, offsetof(SlotHeader, wake_fd)).load(std::memory_order_seq_cst);
  std::array<std::int32_t, 2> halves{};
  std::memcpy(halves.data(), &w, sizeof w);
  auto state = word(slot, offsetof(SlotHeader, sleep_state));
  if (halves[0] < 0 || halves[1] == 0 || state.load(std::memory_order_seq_cst) != stats_layout::kAsleep)
    return true;
  // As Asker::ring_if_asleep: the descriptor first, so that a kRung never goes without its ring.
  const int dup = duplicate_doorbell(h.pid, halves[0], why);
  if (dup < 0) return false;
  std::uint64_t expected = stats_layout::kAsleep;
  bool ok = true;
  if (state.compare_exchange_strong(expected, stats_layout::kRung, std::memory_order_seq_cst)) {
    const std::uint64_t one = 1;
    if (::write(dup, &one, sizeof one) != static_cast<ssize_t>(sizeof one)) {
      *why = std::string("write to the doorbell: ") + std::strerror(errno);
      ok = false;
    }
  }
  ::close(dup);
  return ok;
}

bool ConnListing::complete() const {
  for (const auto& p : processes) {
    if (!p.error.empty()) return false;
    for (const auto& e : p.engines) {
      if (!e.answered) return false;
    }
  }
  return true;
}

ProcessConns query_region(const std::string& path, const ConnQuery& q) {
  ProcessConns out;
  std::vector<std::pair<std::unique_ptr<Asker>, ProcessConns*>> askers;
  auto a = std::make_unique<Asker>();
  if (a->open(path, out)) askers.emplace_back(std::move(a), &out);
  ask_all(askers, q);
  return out;
}

ConnListing query_connections(std::string_view iface, const ConnQuery& q) {
  ConnListing l;
  // The listing checks each region and its writer's liveness; only live writers are asked.
  const RegionListing regions =
      list_stats_regions(iface, q.run_dir, ReadOptions{std::chrono::microseconds(0)});
  std::vector<std::string> paths;
  for (const auto& r : regions.regions) {
    if (r.stale()) {
      ++l.stale;
    } else {
      paths.push_back(r.path);
    }
  }
  l.processes.resize(paths.size());
  std::vector<std::pair<std::unique_ptr<Asker>, ProcessConns*>> askers;
  for (std::size_t i = 0; i < paths.size(); ++i) {
    auto a = std::make_unique<Asker>();
    if (a->open(paths[i], l.processes[i])) askers.emplace_back(std::move(a), &l.processes[i]);
  }
  ask_all(askers, q);
  return l;
}

}  // namespace xdptcp::engine
