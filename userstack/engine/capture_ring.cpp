// The engine's side of a capture ring; see capture_ring.h.
#include "userstack/engine/capture_ring.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstring>
#include <ctime>

namespace xdptcp::engine::capture {

namespace {

std::atomic_ref<std::uint64_t> word(std::uint8_t* area, std::size_t offset) {
  return std::atomic_ref<std::uint64_t>(*reinterpret_cast<std::uint64_t*>(area + offset));
}

std::uint16_t be16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}

}  // namespace

bool valid_geometry(const stats_layout::RegionHeader& h, std::size_t size) {
  return h.capture_slot_size == kSlotSize && std::has_single_bit(h.capture_slots) &&
         h.capture_slots <= kMaxSlots && h.capture_offset % 4096 == 0 &&
         h.capture_area_size >= area_size(h.capture_slots) &&
         h.capture_offset + h.capture_area_size * h.engine_count <= size;
}

bool frame_has_port(std::span<const std::uint8_t> f, std::uint16_t port) {
  std::size_t at = 12;
  if (f.size() < at + 2) return false;
  std::uint16_t type = be16(f.data() + at);
  if (type == 0x8100 || type == 0x88a8) {  // one 802.1Q / 802.1ad tag
    at += 4;
    if (f.size() < at + 2) return false;
    type = be16(f.data() + at);
  }
  at += 2;
  std::size_t l4 = 0;
  if (type == 0x0800) {
    if (f.size() < at + 20) return false;
    const std::size_t ihl = std::size_t{f[at] & 0x0fu} * 4;
    const bool later_fragment = (be16(f.data() + at + 6) & 0x1fff) != 0;
    if (f[at + 9] != 6 || ihl < 20 || later_fragment) return false;
    l4 = at + ihl;
  } else if (type == 0x86dd) {
    if (f.size() < at + 40 || f[at + 6] != 6) return false;
    l4 = at + 40;
  } else {
    return false;
  }
  if (f.size() < l4 + 4) return false;
  return be16(f.data() + l4) == port || be16(f.data() + l4 + 2) == port;
}

std::uint64_t realtime_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

void Writer::attach(std::uint8_t* area, std::uint32_t capacity) {
  detach();
  area_ = area;
  capacity_ = area == nullptr ? 0 : capacity;
  if (area_ == nullptr) return;
  records_ = area_ + sizeof(CaptureAreaHeader);
  // Requests made before this engine served the ring were not for it; a capture an earlier engine
  // left on (it ended without detach) is over.
  seen_ = word(area_, offsetof(CaptureAreaHeader, request)).load(std::memory_order_acquire);
  head_ = word(area_, offsetof(CaptureAreaHeader, head)).load(std::memory_order_relaxed);
  word(area_, offsetof(CaptureAreaHeader, active)).store(0, std::memory_order_release);
}

void Writer::detach() {
  if (area_ != nullptr && on_) stop();
  area_ = nullptr;
  records_ = nullptr;
  capacity_ = 0;
}

bool Writer::control() {
  if (area_ == nullptr) return false;
  const std::uint64_t req = word(area_, offsetof(CaptureAreaHeader, request)).load(std::memory_order_acquire);
  if (req == seen_) return false;
  seen_ = req;
  const std::uint64_t want = word(area_, offsetof(CaptureAreaHeader, want)).load(std::memory_order_relaxed);
  const std::uint64_t owner = word(area_, offsetof(CaptureAreaHeader, owner)).load(std::memory_order_relaxed);
  const std::uint64_t slots = word(area_, offsetof(CaptureAreaHeader, slots)).load(std::memory_order_relaxed);
  if (want == 1 && owner != 0 && std::has_single_bit(slots) && slots <= capacity_) {
    slots_ = slots;
    const std::uint64_t snap =
        word(area_, offsetof(CaptureAreaHeader, snaplen)).load(std::memory_order_relaxed);
    snaplen_ = static_cast<std::uint32_t>(std::min<std::uint64_t>(snap == 0 ? kMaxSnap : snap, kMaxSnap));
    port_ = static_cast<std::uint16_t>(
        word(area_, offsetof(CaptureAreaHeader, port)).load(std::memory_order_relaxed));
    owner_ = static_cast<pid_t>(owner);
    owner_start_ = word(area_, offsetof(CaptureAreaHeader, owner_start)).load(std::memory_order_relaxed);
    captured_ = 0;
    lost_ = 0;
    tail_cache_ = word(area_, offsetof(CaptureAreaHeader, tail)).load(std::memory_order_acquire);
    word(area_, offsetof(CaptureAreaHeader, start_head)).store(head_, std::memory_order_relaxed);
    word(area_, offsetof(CaptureAreaHeader, captured)).store(0, std::memory_order_relaxed);
    word(area_, offsetof(CaptureAreaHeader, lost)).store(0, std::memory_order_relaxed);
    word(area_, offsetof(CaptureAreaHeader, active)).store(1, std::memory_order_relaxed);
    on_ = true;
  } else {
    if (on_) publish();
    on_ = false;
    word(area_, offsetof(CaptureAreaHeader, active)).store(0, std::memory_order_relaxed);
  }
  // The answer last: a consumer that sees it sees the fields above.
  word(area_, offsetof(CaptureAreaHeader, answered)).store(req, std::memory_order_release);
  return true;
}

void Writer::check_owner() {
  if (!on_ || liveness(owner_, owner_start_) == Liveness::kLive) return;
  stop();
  // Gives the claim back, unless another xdptcp-ctl took the ring over meanwhile.
  auto expected = static_cast<std::uint64_t>(owner_);
  (void)word(area_, offsetof(CaptureAreaHeader, owner))
      .compare_exchange_strong(expected, 0, std::memory_order_seq_cst);
}

void Writer::stop() {
  publish();
  on_ = false;
  word(area_, offsetof(CaptureAreaHeader, active)).store(0, std::memory_order_release);
}

void Writer::add(std::span<const std::uint8_t> frame, Direction d, std::uint64_t ts_ns) {
  if (port_ != 0 && !frame_has_port(frame, port_)) return;
  if (head_ - tail_cache_ >= slots_) {
    tail_cache_ = word(area_, offsetof(CaptureAreaHeader, tail)).load(std::memory_order_acquire);
    if (head_ - tail_cache_ >= slots_) {
      ++lost_;
      ++total_lost_;
      return;
    }
  }
  std::uint8_t* rec = records_ + (head_ & (slots_ - 1)) * kSlotSize;
  RecordHeader h;
  h.ts_ns = ts_ns;
  h.orig_len = static_cast<std::uint32_t>(frame.size());
  h.cap_len = static_cast<std::uint16_t>(std::min<std::size_t>(frame.size(), snaplen_));
  h.direction = static_cast<std::uint8_t>(d);
  std::memcpy(rec, &h, sizeof h);
  std::memcpy(rec + sizeof h, frame.data(), h.cap_len);
  ++head_;
  ++captured_;
  ++total_captured_;
}

void Writer::publish() {
  // The records before the index that makes them the consumer's (release).
  word(area_, offsetof(CaptureAreaHeader, captured)).store(captured_, std::memory_order_relaxed);
  word(area_, offsetof(CaptureAreaHeader, lost)).store(lost_, std::memory_order_relaxed);
  word(area_, offsetof(CaptureAreaHeader, head)).store(head_, std::memory_order_release);
}

}  // namespace xdptcp::engine::capture
