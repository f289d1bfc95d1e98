// The stats region's writer and reader; see stats_region.h.
#include "userstack/engine/stats_region.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>
#include <type_traits>

#include "userstack/engine/capture_ring.h"
#include "userstack/engine/conn_snapshot.h"

namespace xdptcp::engine {

using stats_layout::ConnAreaHeader;
using stats_layout::RegionHeader;
using stats_layout::SlotHeader;

static_assert(std::is_trivially_copyable_v<RegionHeader>);
static_assert(std::is_trivially_copyable_v<SlotHeader>);
static_assert(sizeof(SlotHeader) == stats_layout::kSlotAlign);
static_assert(std::is_trivially_copyable_v<ConnAreaHeader> &&
              sizeof(ConnAreaHeader) == stats_layout::kSlotAlign);
static_assert(std::is_trivially_copyable_v<ConnEntry>);
static_assert(std::atomic_ref<std::uint64_t>::is_always_lock_free,
              "the seqlock needs lock-free 64-bit atomics: a lock would not work across processes");

namespace {

// A shared word, read or written atomically. The reader's mapping is read-only: an atomic load of
// a naturally aligned word is a plain load there, so casting away const never writes.
std::atomic_ref<std::uint64_t> word(const std::uint8_t* base, std::size_t offset) {
  return std::atomic_ref<std::uint64_t>(
      *reinterpret_cast<std::uint64_t*>(const_cast<std::uint8_t*>(base) + offset));
}

constexpr std::size_t kQueueSeq = offsetof(RegionHeader, queue_seq);
constexpr std::size_t kQueueCount = offsetof(RegionHeader, queue_count);  // in the word with `reserved`
constexpr std::size_t kQueueBits = offsetof(RegionHeader, queue_bits);
static_assert(kQueueCount % 8 == 0 && offsetof(RegionHeader, reserved) == kQueueCount + 4);
constexpr std::size_t kSeq = offsetof(SlotHeader, seq);
constexpr std::size_t kPublishedNs = offsetof(SlotHeader, published_ns);
constexpr std::size_t kPublishes = offsetof(SlotHeader, publishes);
constexpr std::size_t kConnRequest = offsetof(SlotHeader, conn_request);
constexpr std::size_t kSleepState = offsetof(SlotHeader, sleep_state);
constexpr std::size_t kWakeFd = offsetof(SlotHeader, wake_fd);  // in one word with `serving`
static_assert(kWakeFd % 8 == 0 && offsetof(SlotHeader, serving) == kWakeFd + 4);
constexpr std::size_t kPage = 4096;

template <std::size_t N>
void copy_padded(std::array<char, N>& out, std::string_view s) {
  out.fill('\0');
  std::memcpy(out.data(), s.data(), std::min(s.size(), N - 1));
}

template <std::size_t N>
std::string from_padded(const std::array<char, N>& a) {
  return std::string(a.data(), strnlen(a.data(), N));
}

std::string read_comm() {
  std::ifstream in("/proc/self/comm");
  std::string c;
  std::getline(in, c);
  return c;
}

struct ProcStat {
  char state = '?';
  std::uint64_t start_time = 0;
};

// /proc/<pid>/stat: fields 3 (state) and 22 (start time). The command (field 2) may hold spaces and
// parentheses, so the fields are counted from the last ')'.
std::optional<ProcStat> proc_stat(pid_t pid) {
  const std::string path = pid == 0 ? "/proc/self/stat" : "/proc/" + std::to_string(pid) + "/stat";
  std::ifstream in(path);
  std::string line;
  if (!std::getline(in, line)) return std::nullopt;
  const std::size_t close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(line.substr(close + 1));
  ProcStat s;
  std::string f;
  for (int n = 3; fields >> f; ++n) {
    if (n == 3) s.state = f.empty() ? '?' : f[0];
    if (n == 22) {
      s.start_time = std::strtoull(f.c_str(), nullptr, 10);
      return s;
    }
  }
  return std::nullopt;
}

// mkdir -p with mode 0755 for what it creates (the umask left aside: readers are other users).
Result<void> make_dirs(const std::string& path) {
  std::string at;
  std::size_t i = 0;
  while (i <= path.size()) {
    const std::size_t j = std::min(path.find('/', i), path.size());
    at = path.substr(0, j);
    i = j + 1;
    if (at.empty()) continue;
    if (::mkdir(at.c_str(), 0755) == 0) {
      (void)::chmod(at.c_str(), 0755);
    } else if (errno != EEXIST) {
      return errno_error("cannot create " + at);
    }
  }
  return {};
}

Error bad_file(const std::string& path, const std::string& why) {
  return Error{EINVAL, path + ": not a readable stats region (" + why + ")"};
}

// A mapping that goes with its scope.
struct Mapping {
  void* p = MAP_FAILED;
  std::size_t n = 0;
  ~Mapping() {
    if (p != MAP_FAILED) ::munmap(p, n);
  }
};

// The header's pid and start time, or nullopt when the file is no region of ours.
std::optional<std::pair<pid_t, std::uint64_t>> owner_of_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  RegionHeader h;
  const ssize_t n = ::pread(fd, &h, sizeof h, 0);
  ::close(fd);
  if (n != static_cast<ssize_t>(sizeof h) || h.magic != stats_layout::kMagic) return std::nullopt;
  return std::make_pair(static_cast<pid_t>(h.pid), h.start_time);
}

}  // namespace

std::string stats_dir(std::string_view iface, std::string_view run_dir) {
  return std::string(run_dir) + "/" + std::string(iface);
}

std::uint64_t process_start_time(pid_t pid) {
  const auto s = proc_stat(pid);
  return s ? s->start_time : 0;
}

std::string_view to_string(Liveness l) {
  switch (l) {
    case Liveness::kLive:
      return "live";
    case Liveness::kDead:
      return "dead";
    case Liveness::kReused:
      break;
  }
  return "reused";
}

Liveness liveness(pid_t pid, std::uint64_t start_time) {
  if (pid <= 0) return Liveness::kDead;
  // EPERM: it exists, owned by someone we may not signal.
  if (::kill(pid, 0) != 0 && errno == ESRCH) return Liveness::kDead;
  const auto s = proc_stat(pid);
  if (!s) return Liveness::kDead;  // gone meanwhile
  // A killed process whose parent has not reaped it yet keeps its pid but runs no more.
  if (s->state == 'Z' || s->state == 'X') return Liveness::kDead;
  if (start_time != 0 && s->start_time != start_time) return Liveness::kReused;
  return Liveness::kLive;
}

Result<std::unique_ptr<StatsRegion>> StatsRegion::create(const Options& o) {
  namespace L = stats_layout;
  if (o.iface.empty() || o.iface.size() >= L::kIfaceSize || o.iface.find('/') != std::string::npos) {
    return Error{EINVAL, "stats region: '" + o.iface + "' is not an interface name"};
  }
  if (o.engines == 0) return Error{EINVAL, "stats region: no engines"};
  for (const auto& n : o.names) {
    if (n.empty() || n.size() >= L::kNameSize)
      return Error{EINVAL, "stats region: bad counter name '" + n + "'"};
  }
  const std::string dir = stats_dir(o.iface, o.run_dir);

  const std::size_t count = o.names.size();
  RegionHeader h;
  h.header_size = sizeof(RegionHeader);
  h.pid = static_cast<std::int32_t>(::getpid());
  h.engine_count = o.engines;
  h.start_time = process_start_time();
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  h.created_unix_ns =
      static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
  h.counter_count = static_cast<std::uint32_t>(count);
  h.names_offset = static_cast<std::uint32_t>(L::round_up(sizeof(RegionHeader), L::kSlotAlign));
  h.slots_offset =
      static_cast<std::uint32_t>(L::round_up(h.names_offset + count * L::kNameSize, L::kSlotAlign));
  h.slot_header_size = sizeof(SlotHeader);
  h.slot_size = static_cast<std::uint32_t>(L::round_up(sizeof(SlotHeader) + count * 8, L::kSlotAlign));
  const std::uint64_t slots_end = h.slots_offset + std::uint64_t{h.slot_size} * o.engines;
  if (o.conn_capacity > 0) {
    // Pages of their own: a snapshot's writes never share a line with the counters.
    h.conn_capacity = o.conn_capacity;
    h.conn_entry_size = sizeof(ConnEntry);
    h.conn_offset = L::round_up(slots_end, kPage);
    h.conn_area_size =
        L::round_up(sizeof(ConnAreaHeader) + std::uint64_t{o.conn_capacity} * sizeof(ConnEntry), kPage);
  }
  h.file_size = h.conn_capacity > 0 ? h.conn_offset + h.conn_area_size * o.engines : slots_end;
  if (o.capture_slots > 0) {
    if (!std::has_single_bit(o.capture_slots) || o.capture_slots > capture::kMaxSlots)
      return Error{EINVAL, "stats region: capture_slots must be a power of two up to " +
                               std::to_string(capture::kMaxSlots)};
    h.capture_slots = o.capture_slots;
    h.capture_slot_size = capture::kSlotSize;
    h.capture_offset = L::round_up(h.file_size, kPage);
    h.capture_area_size = capture::area_size(o.capture_slots);
    h.file_size = h.capture_offset + h.capture_area_size * o.engines;
  }
  copy_padded(h.comm, read_comm());
  copy_padded(h.iface, o.iface);

  // Built under a name readers skip, then linked into place complete.
  // The directory goes when its last region does (remove_empty_stats_dir): one that vanishes
  // between its creation and the open is made again.
  std::string tmp;
  int fd = -1;
  bool make_dir = true;
  for (int n = 0, missing = 0; fd < 0 && n < 100; ++n) {
    if (make_dir) {
      if (auto r = make_dirs(dir); !r) return r.error();
    }
    tmp = dir + "/.stats." + std::to_string(h.pid) + "." + std::to_string(n) + ".tmp";
    fd = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    make_dir = fd < 0 && errno == ENOENT;
    if (fd < 0 && errno != EEXIST && (errno != ENOENT || ++missing > 3)) {
      return errno_error("stats region: cannot create " + tmp);
    }
  }
  if (fd < 0) return errno_error("stats region: cannot create a temporary file in " + dir);
  auto fail = [&](const std::string& what) {
    Error e = errno_error("stats region: " + what);
    ::close(fd);
    ::unlink(tmp.c_str());
    return e;
  };
  (void)::fchmod(fd, 0644);  // readable by every user whatever the umask
  if (::ftruncate(fd, static_cast<off_t>(h.file_size)) != 0) return fail("cannot size " + tmp);
  void* p = ::mmap(nullptr, h.file_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return fail("cannot map " + tmp);
  ::close(fd);
  std::unique_ptr<StatsRegion> r(new StatsRegion());
  r->base_ = static_cast<std::uint8_t*>(p);
  r->size_ = h.file_size;
  r->owner_ = h.pid;
  r->engines_ = o.engines;
  r->counters_ = count;
  r->slots_offset_ = h.slots_offset;
  r->slot_size_ = h.slot_size;
  r->conn_capacity_ = h.conn_capacity;
  r->conn_offset_ = h.conn_offset;
  r->conn_area_size_ = h.conn_area_size;
  r->capture_slots_ = h.capture_slots;
  r->capture_offset_ = h.capture_offset;
  r->capture_area_size_ = h.capture_area_size;
  std::memcpy(r->base_, &h, sizeof h);
  for (std::size_t i = 0; i < count; ++i) {
    std::memcpy(r->base_ + h.names_offset + i * L::kNameSize, o.names[i].data(), o.names[i].size());
  }
  for (std::uint32_t e = 0; e < o.engines; ++e) {
    SlotHeader s;
    s.engine = e;
    std::memcpy(r->base_ + r->slots_offset_ + e * r->slot_size_, &s, sizeof s);
  }
  r->set_queues(o.queues);

  // stats.<pid>, or stats.<pid>.N beside a live region of this process on the same interface.
  for (int n = 0; n < 64; ++n) {
    std::string name = dir + "/stats." + std::to_string(h.pid) + (n == 0 ? "" : "." + std::to_string(n));
    if (::link(tmp.c_str(), name.c_str()) == 0) {
      ::unlink(tmp.c_str());
      r->path_ = std::move(name);
      return r;
    }
    if (errno != EEXIST) break;
    // A left-over of a process that had our pid (or of no process at all) is replaced.
    const auto owner = owner_of_file(name);
    if (!owner || liveness(owner->first, owner->second) != Liveness::kLive) {
      if (::rename(tmp.c_str(), name.c_str()) == 0) {
        r->path_ = std::move(name);
        return r;
      }
      break;
    }
  }
  Error e = errno_error("stats region: cannot name " + tmp + " stats." + std::to_string(h.pid));
  ::unlink(tmp.c_str());
  return e;  // r unmaps; its path_ is empty, so nothing else is removed
}

StatsRegion::~StatsRegion() {
  if (base_ != nullptr) ::munmap(base_, size_);
  if (!path_.empty() && ::getpid() == owner_) {
    ::unlink(path_.c_str());
    remove_empty_stats_dir(path_.substr(0, path_.rfind('/')));
  }
}

void StatsRegion::begin_write(std::uint32_t engine) {
  std::uint8_t* slot = base_ + slots_offset_ + engine * slot_size_;
  auto seq = word(slot, kSeq);
  seq.store(seq.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  // Orders the odd sequence before the values: a reader that sees a new value sees the odd number.
  std::atomic_thread_fence(std::memory_order_release);
}

void StatsRegion::end_write(std::uint32_t engine, std::span<const std::uint64_t> values,
                            std::uint64_t now_ns) {
  std::uint8_t* slot = base_ + slots_offset_ + engine * slot_size_;
  word(slot, kPublishedNs).store(now_ns, std::memory_order_relaxed);
  auto publishes = word(slot, kPublishes);
  publishes.store(publishes.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  const std::size_t n = std::min(values.size(), counters_);
  for (std::size_t i = 0; i < n; ++i) {
    word(slot, sizeof(SlotHeader) + i * 8).store(values[i], std::memory_order_relaxed);
  }
  auto seq = word(slot, kSeq);
  seq.store(seq.load(std::memory_order_relaxed) + 1, std::memory_order_release);
}

void StatsRegion::publish(std::uint32_t engine, std::span<const std::uint64_t> values, std::uint64_t now_ns) {
  if (engine >= engines_) return;
  begin_write(engine);
  end_write(engine, values, now_ns);
}

void StatsRegion::set_queues(std::span<const unsigned> queues) {
  auto seq = word(base_, kQueueSeq);
  seq.store(seq.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  std::array<std::uint64_t, stats_layout::kMaxQueues / 64> bits{};
  std::uint64_t count = 0;
  for (const unsigned q : queues) {
    if (q >= stats_layout::kMaxQueues) continue;
    if ((bits[q / 64] & (std::uint64_t{1} << (q % 64))) == 0) ++count;
    bits[q / 64] |= std::uint64_t{1} << (q % 64);
  }
  word(base_, kQueueCount).store(count, std::memory_order_relaxed);  // `reserved` stays 0
  for (std::size_t i = 0; i < bits.size(); ++i)
    word(base_, kQueueBits + i * 8).store(bits[i], std::memory_order_relaxed);
  seq.store(seq.load(std::memory_order_relaxed) + 1, std::memory_order_release);
}

std::uint64_t* StatsRegion::conn_request_word(std::uint32_t engine) {
  return reinterpret_cast<std::uint64_t*>(base_ + slots_offset_ + engine * slot_size_ + kConnRequest);
}

void StatsRegion::set_serving(std::uint32_t engine, int wake_fd, bool serving) {
  if (engine >= engines_) return;
  // One word, so that a reader never sees the doorbell of one engine with another's flag.
  const std::array<std::int32_t, 2> halves = {wake_fd, serving ? 1 : 0};
  std::uint64_t w = 0;
  std::memcpy(&w, halves.data(), sizeof w);
  word(base_ + slots_offset_ + engine * slot_size_, kWakeFd).store(w, std::memory_order_seq_cst);
}

void StatsRegion::announce_sleep(std::uint32_t engine) {
  word(base_ + slots_offset_ + engine * slot_size_, kSleepState)
      .store(stats_layout::kAsleep, std::memory_order_seq_cst);
}

bool StatsRegion::end_sleep_was_rung(std::uint32_t engine) {
  auto w = word(base_ + slots_offset_ + engine * slot_size_, kSleepState);
  // A load first: the exchange (a locked instruction) only when the engine did announce a sleep.
  if (w.load(std::memory_order_relaxed) == stats_layout::kAwake) return false;
  return w.exchange(stats_layout::kAwake, std::memory_order_seq_cst) == stats_layout::kRung;
}

void StatsRegion::begin_conn_snapshot(std::uint32_t engine) {
  auto seq = word(base_ + conn_offset_ + engine * conn_area_size_, offsetof(ConnAreaHeader, seq));
  // Odd; one left odd by an engine that ended mid-snapshot stays so (no reader copied it).
  seq.store((seq.load(std::memory_order_relaxed) & ~std::uint64_t{1}) + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);  // as begin_write: odd before the entries
}

void StatsRegion::write_conn_entry(std::uint32_t engine, std::uint32_t index, const ConnEntry& e) {
  if (index >= conn_capacity_) return;
  const auto w = std::bit_cast<std::array<std::uint64_t, sizeof(ConnEntry) / 8>>(e);
  const std::size_t at =
      conn_offset_ + engine * conn_area_size_ + sizeof(ConnAreaHeader) + index * sizeof(ConnEntry);
  for (std::size_t i = 0; i < w.size(); ++i) word(base_, at + i * 8).store(w[i], std::memory_order_relaxed);
}

void StatsRegion::end_conn_snapshot(std::uint32_t engine, std::uint64_t count, std::uint64_t truncated,
                                    std::uint64_t answer, std::uint64_t now_ns, std::uint64_t polls) {
  std::uint8_t* area = base_ + conn_offset_ + engine * conn_area_size_;
  word(area, offsetof(ConnAreaHeader, answer)).store(answer, std::memory_order_relaxed);
  word(area, offsetof(ConnAreaHeader, count)).store(count, std::memory_order_relaxed);
  word(area, offsetof(ConnAreaHeader, truncated)).store(truncated, std::memory_order_relaxed);
  word(area, offsetof(ConnAreaHeader, taken_ns)).store(now_ns, std::memory_order_relaxed);
  word(area, offsetof(ConnAreaHeader, polls)).store(polls, std::memory_order_relaxed);
  auto seq = word(area, offsetof(ConnAreaHeader, seq));
  seq.store(seq.load(std::memory_order_relaxed) + 1, std::memory_order_release);
}

std::uint8_t* StatsRegion::capture_area(std::uint32_t engine) {
  if (capture_slots_ == 0 || engine >= engines_) return nullptr;
  return base_ + capture_offset_ + engine * capture_area_size_;
}

std::unique_ptr<StatsRegion> create_stats_region_or_warn(const StatsRegion::Options& o) {
  auto r = StatsRegion::create(o);
  if (!r) {
    std::fprintf(stderr, "xdptcp: warning: no stats region for xdptcp-ctl stats (%s)\n",
                 r.error().describe().c_str());
    return nullptr;
  }
  return std::move(r.value());
}

namespace {

// One seqlock read of `words` words at `offset` (whose sequence is at seq_offset) into `out`;
// false when it must be retried.
bool try_copy(const std::uint8_t* base, std::size_t seq_offset, std::size_t offset,
              std::span<std::uint64_t> out) {
  const auto seq = word(base, seq_offset);
  const std::uint64_t s1 = seq.load(std::memory_order_acquire);
  for (std::size_t i = 0; i < out.size(); ++i)
    out[i] = word(base, offset + i * 8).load(std::memory_order_relaxed);
  // Orders the copies before the second look: a value from a later write shows in a later sequence.
  std::atomic_thread_fence(std::memory_order_acquire);
  const std::uint64_t s2 = seq.load(std::memory_order_relaxed);
  return (s1 & 1) == 0 && s1 == s2;
}

// try_copy until it succeeds or the patience runs out; the number of failed copies, and whether
// the last one succeeded.
std::pair<unsigned, bool> seq_copy(const std::uint8_t* base, std::size_t seq_offset, std::size_t offset,
                                   std::span<std::uint64_t> out, bool patient,
                                   std::chrono::microseconds patience) {
  const auto deadline = std::chrono::steady_clock::now() + patience;
  unsigned retries = 0;
  for (;;) {
    if (try_copy(base, seq_offset, offset, out)) return {retries, true};
    ++retries;
    if (!patient || std::chrono::steady_clock::now() >= deadline) return {retries, false};
    // The writer holds a slot for a few hundred nanoseconds; after that it may have been preempted.
    if (retries > 64) std::this_thread::yield();
  }
}

}  // namespace

Result<RegionSnapshot> read_stats_region(const std::string& path, const ReadOptions& ro) {
  namespace L = stats_layout;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno_error("cannot open " + path);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    Error e = errno_error("cannot stat " + path);
    ::close(fd);
    return e;
  }
  const auto size = static_cast<std::size_t>(st.st_size);
  if (size < sizeof(RegionHeader)) {
    ::close(fd);
    return bad_file(path, "too short");
  }
  Mapping m;
  m.n = size;
  m.p = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (m.p == MAP_FAILED) return errno_error("cannot map " + path);
  const auto* base = static_cast<const std::uint8_t*>(m.p);
  RegionHeader h;
  std::memcpy(&h, base, sizeof h);  // the fields below never change after the file is in place
  if (h.magic != L::kMagic) return bad_file(path, "wrong magic number");
  if (h.version != L::kVersion) {
    return bad_file(path, "layout version " + std::to_string(h.version) + "; this reader knows version " +
                              std::to_string(L::kVersion));
  }
  // Every offset is checked against the file before it is used: a damaged file is refused, not read
  // past its end.
  const std::uint64_t names_end =
      std::uint64_t{h.names_offset} + std::uint64_t{h.counter_count} * h.name_size;
  const std::uint64_t slots_end = std::uint64_t{h.slots_offset} + std::uint64_t{h.slot_size} * h.engine_count;
  if (h.header_size < sizeof(RegionHeader) || h.file_size > size || h.name_size == 0 || names_end > size ||
      slots_end > size || h.slots_offset % 8 != 0 || h.slot_size % 8 != 0 ||
      h.slot_header_size < sizeof(SlotHeader) || h.slot_header_size % 8 != 0 ||
      h.slot_header_size + std::uint64_t{h.counter_count} * 8 > h.slot_size ||
      (h.conn_capacity > 0 &&
       (h.conn_entry_size < sizeof(ConnEntry) || h.conn_entry_size % 8 != 0 || h.conn_offset % 8 != 0 ||
        h.conn_area_size % 8 != 0 ||
        sizeof(ConnAreaHeader) + std::uint64_t{h.conn_capacity} * h.conn_entry_size > h.conn_area_size ||
        h.conn_offset + h.conn_area_size * h.engine_count > size)) ||
      (h.capture_slots > 0 && !capture::valid_geometry(h, size))) {
    return bad_file(path, "inconsistent sizes");
  }
  RegionSnapshot s;
  s.path = path;
  s.version = h.version;
  s.pid = h.pid;
  s.start_time = h.start_time;
  s.created_unix_ns = h.created_unix_ns;
  s.comm = from_padded(h.comm);
  s.iface = from_padded(h.iface);
  s.conn_capacity = h.conn_capacity;
  s.capture_slots = h.capture_slots;
  s.liveness = liveness(h.pid, h.start_time);
  const bool patient = !s.stale();
  // The queues: count and bitmap under queue_seq.
  std::array<std::uint64_t, 1 + L::kMaxQueues / 64> q{};
  static_assert(kQueueBits == kQueueCount + 8);
  (void)seq_copy(base, kQueueSeq, kQueueCount, q, patient, ro.patience);
  for (unsigned b = 0; b < L::kMaxQueues; ++b) {
    if ((q[1 + b / 64] & (std::uint64_t{1} << (b % 64))) != 0) s.queues.push_back(b);
  }
  for (std::uint32_t i = 0; i < h.counter_count; ++i) {
    const char* n = reinterpret_cast<const char*>(base + h.names_offset + std::size_t{i} * h.name_size);
    s.names.emplace_back(n, strnlen(n, h.name_size));
  }
  for (std::uint32_t e = 0; e < h.engine_count; ++e) {
    const std::size_t slot = h.slots_offset + std::size_t{e} * h.slot_size;
    RegionSnapshot::Engine en;
    en.id = e;
    // The slot's header words and its values in one consistent copy.
    std::vector<std::uint64_t> words(h.slot_header_size / 8 + h.counter_count);
    const auto [retries, ok] = seq_copy(base, slot + kSeq, slot, words, patient, ro.patience);
    en.retries = retries;
    en.consistent = ok;
    en.published_ns = words[kPublishedNs / 8];
    en.publishes = words[kPublishes / 8];
    en.values.assign(words.begin() + static_cast<std::ptrdiff_t>(h.slot_header_size / 8), words.end());
    if (h.capture_slots > 0) {
      const std::size_t area = h.capture_offset + std::size_t{e} * h.capture_area_size;
      en.capture_active =
          word(base, area + offsetof(capture::CaptureAreaHeader, active)).load(std::memory_order_acquire) !=
          0;
      en.capture_owner = static_cast<pid_t>(
          word(base, area + offsetof(capture::CaptureAreaHeader, owner)).load(std::memory_order_relaxed));
    }
    s.engines.push_back(std::move(en));
  }
  return s;
}

RegionListing list_stats_regions(std::string_view iface, std::string_view run_dir, const ReadOptions& ro) {
  RegionListing out;
  const std::string dir = stats_dir(iface, run_dir);
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;  // no process ever made a region here
  std::vector<std::string> files;
  while (const dirent* ent = ::readdir(d)) {
    const std::string_view n = ent->d_name;
    if (n.starts_with("stats.")) {
      files.push_back(dir + "/" + std::string(n));
    } else if (n.starts_with(".stats.") && n.ends_with(".tmp")) {
      // .stats.<pid>.<n>.tmp: a region being made, or left by a process that died making it.
      const pid_t pid = static_cast<pid_t>(std::strtol(std::string(n.substr(7)).c_str(), nullptr, 10));
      if (liveness(pid, 0) != Liveness::kLive) out.dead_temporaries.push_back(dir + "/" + std::string(n));
    }
  }
  ::closedir(d);
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    auto r = read_stats_region(f, ro);
    if (r) {
      out.regions.push_back(std::move(r.value()));
    } else if (r.error().code != ENOENT) {  // ENOENT: removed since the listing
      out.unreadable.push_back({f, r.error()});
    }
  }
  std::stable_sort(out.regions.begin(), out.regions.end(),
                   [](const RegionSnapshot& a, const RegionSnapshot& b) { return a.pid < b.pid; });
  return out;
}

void remove_empty_stats_dir(const std::string& dir) {
  (void)::rmdir(dir.c_str());  // ENOTEMPTY: another process's region (or one being made) is in it
}

Result<void> remove_stale_region(const std::string& path) {
  const auto owner = owner_of_file(path);
  if (owner && liveness(owner->first, owner->second) == Liveness::kLive) {
    return Error{EBUSY, path + ": its process (pid " + std::to_string(owner->first) + ") still runs"};
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return errno_error("cannot remove " + path);
  return {};
}

}  // namespace xdptcp::engine
