// xdptcp-ctl capture's side of the capture rings; see capture_reader.h and capture_ring.h.
#include "userstack/engine/capture_reader.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <bit>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <thread>

#include "userstack/engine/conn_snapshot.h"

namespace xdptcp::engine::capture {

namespace {

std::atomic_ref<std::uint64_t> word(std::uint8_t* p, std::size_t offset) {
  return std::atomic_ref<std::uint64_t>(*reinterpret_cast<std::uint64_t*>(p + offset));
}

constexpr std::size_t kOwner = offsetof(CaptureAreaHeader, owner);
constexpr std::size_t kTail = offsetof(CaptureAreaHeader, tail);
constexpr std::size_t kHead = offsetof(CaptureAreaHeader, head);
constexpr std::size_t kAnswered = offsetof(CaptureAreaHeader, answered);

bool serving(std::uint8_t* base, const stats_layout::RegionHeader& h, std::uint32_t e) {
  std::uint8_t* slot = base + h.slots_offset + std::size_t{e} * h.slot_size;
  const std::uint64_t w =
      word(slot, offsetof(stats_layout::SlotHeader, wake_fd)).load(std::memory_order_seq_cst);
  std::array<std::int32_t, 2> halves{};
  std::memcpy(halves.data(), &w, sizeof w);
  return halves[1] != 0;
}

}  // namespace

Session::~Session() {
  if (!stopped_) {
    std::vector<Frame> discard;
    stop(discard);
  }
  if (base_ != nullptr) ::munmap(base_, size_);
  if (fd_ >= 0) ::close(fd_);
}

Result<std::unique_ptr<Session>> Session::open(const std::string& path) {
  std::unique_ptr<Session> s(new Session());
  s->path_ = path;
  s->fd_ = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (s->fd_ < 0) return errno_error("cannot open " + path + " for writing");
  struct stat st {};
  if (::fstat(s->fd_, &st) != 0 || static_cast<std::size_t>(st.st_size) < sizeof(stats_layout::RegionHeader))
    return Error{EINVAL, path + ": not a stats region"};
  s->size_ = static_cast<std::size_t>(st.st_size);
  void* p = ::mmap(nullptr, s->size_, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd_, 0);
  if (p == MAP_FAILED) return errno_error("cannot map " + path);
  s->base_ = static_cast<std::uint8_t*>(p);
  std::memcpy(&s->h_, s->base_, sizeof s->h_);  // fixed once the file is in place
  const auto& h = s->h_;
  if (h.magic != stats_layout::kMagic) return Error{EINVAL, path + ": not a stats region"};
  if (h.version != stats_layout::kVersion) {
    return Error{EPROTO, path + ": layout version " + std::to_string(h.version) +
                             ", this xdptcp-ctl knows version " + std::to_string(stats_layout::kVersion) +
                             " (a different build of xdptcp)"};
  }
  s->pid_ = h.pid;
  s->comm_.assign(h.comm.data(), strnlen(h.comm.data(), h.comm.size()));
  const std::uint64_t slots_end = std::uint64_t{h.slots_offset} + std::uint64_t{h.slot_size} * h.engine_count;
  if (h.slot_header_size < sizeof(stats_layout::SlotHeader) || h.slot_size % 8 != 0 ||
      h.slots_offset % 8 != 0 || slots_end > s->size_ || h.file_size > s->size_) {
    return Error{EINVAL, path + ": inconsistent sizes"};
  }
  if (h.capture_slots == 0 || h.conn_capacity == 0)
    return Error{EOPNOTSUPP, path + ": the process has no capture rings"};
  if (!valid_geometry(h, s->size_)) return Error{EINVAL, path + ": inconsistent sizes"};
  s->capacity_ = h.capture_slots;
  return s;
}

void Session::post(Ring& r, bool want) {
  std::uint8_t* a = r.area;
  word(a, offsetof(CaptureAreaHeader, want)).store(want ? 1 : 0, std::memory_order_relaxed);
  // The fields before the request that announces them (the engine loads it with acquire).
  r.request = word(a, offsetof(CaptureAreaHeader, request)).fetch_add(1, std::memory_order_seq_cst) + 1;
  std::string why;
  if (!post_request(base_, h_, r.engine, &why))
    warnings_.push_back("engine " + std::to_string(r.engine) + " of pid " + std::to_string(pid_) +
                        " sleeps and could not be woken (" + why + "): it acts when it next wakes");
}

bool Session::wait_answers(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    bool all = true;
    for (Ring& r : rings_) all = word(r.area, kAnswered).load(std::memory_order_acquire) >= r.request && all;
    if (all) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

Result<void> Session::start(const SessionOptions& o) {
  const std::uint32_t slots = o.slots == 0 ? capacity_ : o.slots;
  if (!std::has_single_bit(slots) || slots < 2 || slots > capacity_)
    return Error{EINVAL, "--ring must be a power of two from 2 to " + std::to_string(capacity_) +
                             " (the capture ring of pid " + std::to_string(pid_) + ")"};
  if (o.snaplen == 0 || o.snaplen > kMaxSnap)
    return Error{EINVAL, "--snaplen must be from 1 to " + std::to_string(kMaxSnap)};
  const auto me = static_cast<std::uint64_t>(::getpid());
  const std::uint64_t my_start = process_start_time();
  for (std::uint32_t e = 0; e < h_.engine_count; ++e) {
    if (!serving(base_, h_, e)) continue;
    Ring r;
    r.engine = e;
    r.area = base_ + h_.capture_offset + std::size_t{e} * h_.capture_area_size;
    auto owner = word(r.area, kOwner);
    std::uint64_t held = 0;
    while (!owner.compare_exchange_strong(held, me, std::memory_order_seq_cst)) {
      // Held: by a live xdptcp-ctl (busy), or left by one killed before the engine noticed.
      const std::uint64_t start =
          word(r.area, offsetof(CaptureAreaHeader, owner_start)).load(std::memory_order_relaxed);
      if (liveness(static_cast<pid_t>(held), start) == Liveness::kLive) {
        for (Ring& taken : rings_) word(taken.area, kOwner).store(0, std::memory_order_seq_cst);
        rings_.clear();
        return Error{EBUSY, "engine " + std::to_string(e) + " of pid " + std::to_string(pid_) +
                                " is captured by xdptcp-ctl pid " + std::to_string(held) + " already"};
      }
    }
    word(r.area, offsetof(CaptureAreaHeader, owner_start)).store(my_start, std::memory_order_relaxed);
    word(r.area, offsetof(CaptureAreaHeader, slots)).store(slots, std::memory_order_relaxed);
    word(r.area, offsetof(CaptureAreaHeader, snaplen)).store(o.snaplen, std::memory_order_relaxed);
    word(r.area, offsetof(CaptureAreaHeader, port)).store(o.port, std::memory_order_relaxed);
    r.slots = slots;
    // Nothing of an earlier capture is read: the tail catches up with the head now, and with the
    // head the engine reports when it answers (start_head).
    r.tail = word(r.area, kHead).load(std::memory_order_acquire);
    word(r.area, kTail).store(r.tail, std::memory_order_release);
    rings_.push_back(r);
  }
  stopped_ = false;
  for (Ring& r : rings_) post(r, true);
  (void)wait_answers(o.answer_timeout);
  std::vector<Frame> none;
  for (Ring& r : rings_) {
    drain_ring(r, none);  // takes up the answer; nothing was captured before it
    if (r.answered) ++started_;
  }
  return {};
}

void Session::drain_ring(Ring& r, std::vector<Frame>& out) {
  std::uint8_t* a = r.area;
  if (!r.answered) {
    if (word(a, kAnswered).load(std::memory_order_acquire) < r.request) return;
    r.answered = true;
    r.tail = word(a, offsetof(CaptureAreaHeader, start_head)).load(std::memory_order_relaxed);
    word(a, kTail).store(r.tail, std::memory_order_release);
  }
  const std::uint64_t head = word(a, kHead).load(std::memory_order_acquire);
  if (head - r.tail > r.slots) r.tail = head - r.slots;  // cannot happen with a sound engine
  const std::uint8_t* records = a + sizeof(CaptureAreaHeader);
  for (; r.tail != head; ++r.tail) {
    const std::uint8_t* rec = records + (r.tail & (r.slots - 1)) * kSlotSize;
    RecordHeader rh;
    std::memcpy(&rh, rec, sizeof rh);
    Frame f;
    f.ts_ns = rh.ts_ns;
    f.orig_len = rh.orig_len;
    f.direction = rh.direction == 0 ? Direction::kReceived : Direction::kSent;
    f.pid = pid_;
    f.engine = r.engine;
    const std::size_t n = std::min<std::size_t>(rh.cap_len, kMaxSnap);
    f.bytes.assign(rec + sizeof rh, rec + sizeof rh + n);
    out.push_back(std::move(f));
  }
  word(a, kTail).store(r.tail, std::memory_order_release);  // the records are copied: the engine's again
}

void Session::drain(std::vector<Frame>& out) {
  for (Ring& r : rings_) drain_ring(r, out);
}

void Session::stop(std::vector<Frame>& out) {
  if (stopped_) return;
  stopped_ = true;
  for (Ring& r : rings_) {
    drain_ring(r, out);
    post(r, false);
  }
  // A process that ended meanwhile answers nothing (its last records are drained above).
  const bool live = liveness(pid_, h_.start_time) == Liveness::kLive;
  if (live && !wait_answers(std::chrono::milliseconds(1000)))
    warnings_.push_back(
        "an engine of pid " + std::to_string(pid_) +
        " did not answer the stop within a second: it stops once it sees this xdptcp-ctl gone");
  const auto me = static_cast<std::uint64_t>(::getpid());
  for (Ring& r : rings_) {
    const bool answered = word(r.area, kAnswered).load(std::memory_order_acquire) >= r.request;
    if (answered && r.answered) drain_ring(r, out);
    std::uint64_t expected = me;
    (void)word(r.area, kOwner).compare_exchange_strong(expected, 0, std::memory_order_seq_cst);
    // The records' pages go back to tmpfs (the file keeps its size; a later capture gets zeros).
    if (answered) {
      const auto off = static_cast<off_t>(h_.capture_offset + std::size_t{r.engine} * h_.capture_area_size +
                                          4096);  // the header's page stays
      const auto len = static_cast<off_t>(h_.capture_area_size - 4096);
      if (len > 0) (void)::fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len);
    }
  }
}

std::uint64_t Session::captured() const {
  std::uint64_t n = 0;
  for (const Ring& r : rings_)
    if (r.answered) n += word(r.area, offsetof(CaptureAreaHeader, captured)).load(std::memory_order_relaxed);
  return n;
}

std::uint64_t Session::lost() const {
  std::uint64_t n = 0;
  for (const Ring& r : rings_)
    if (r.answered) n += word(r.area, offsetof(CaptureAreaHeader, lost)).load(std::memory_order_relaxed);
  return n;
}

}  // namespace xdptcp::engine::capture
