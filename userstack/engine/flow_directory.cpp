// FlowDirectory (flow_directory.h): a lock-free open-addressing table of flow owners.
#include "userstack/engine/flow_directory.h"

#include <algorithm>
#include <bit>
#include <random>

namespace xdptcp::engine {
namespace {

std::size_t slots_for(std::size_t flows) {
  // At least twice the flows (a load factor of 1/2 keeps probe windows short), and one window.
  return std::bit_ceil(std::max<std::size_t>(2 * flows, FlowDirectory::kProbe));
}

std::uint64_t draw_key() {
  std::random_device rd;  // once per stack, on the control path
  return (static_cast<std::uint64_t>(rd()) << 32) | rd();
}

}  // namespace

FlowDirectory::FlowDirectory(std::size_t flows)
    : slots_(new std::atomic<std::uint64_t>[slots_for(flows)]),
      mask_(slots_for(flows) - 1),
      key_(draw_key()) {
  for (std::size_t i = 0; i <= mask_; ++i) slots_[i].store(kEmpty, std::memory_order_relaxed);
}

std::uint64_t FlowDirectory::fingerprint(const wire::FourTuple& t) const {
  return wire::hash_four_tuple(t, key_);
}

std::uint64_t FlowDirectory::tag(std::uint64_t fp) {
  return (fp << 8) | (std::uint64_t{1} << 63);
}

bool FlowDirectory::insert(const wire::FourTuple& t, std::uint8_t owner) {
  const std::uint64_t fp = fingerprint(t);
  const std::uint64_t value = tag(fp) | owner;
  for (std::size_t i = 0; i < kProbe; ++i) {
    std::atomic<std::uint64_t>& s = slots_[(fp + i) & mask_];
    std::uint64_t cur = s.load(std::memory_order_relaxed);
    // Another engine may take the slot between the load and the swap: then probe on.
    while (cur == kEmpty || cur == kTombstone) {
      if (s.compare_exchange_weak(cur, value, std::memory_order_release, std::memory_order_relaxed))
        return true;
    }
  }
  return false;
}

void FlowDirectory::erase(const wire::FourTuple& t, std::uint8_t owner) {
  const std::uint64_t fp = fingerprint(t);
  const std::uint64_t value = tag(fp) | owner;
  for (std::size_t i = 0; i < kProbe; ++i) {
    std::atomic<std::uint64_t>& s = slots_[(fp + i) & mask_];
    std::uint64_t cur = s.load(std::memory_order_relaxed);
    if (cur == kEmpty) return;
    // Only the owner writes its own value, so no one else can change this slot meanwhile.
    if (cur == value && s.compare_exchange_strong(cur, kTombstone, std::memory_order_release)) return;
  }
}

std::optional<std::uint8_t> FlowDirectory::find(const wire::FourTuple& t) const {
  const std::uint64_t fp = fingerprint(t);
  const std::uint64_t want = tag(fp);
  for (std::size_t i = 0; i < kProbe; ++i) {
    const std::uint64_t cur = slots_[(fp + i) & mask_].load(std::memory_order_acquire);
    if (cur == kEmpty) return std::nullopt;
    if ((cur & ~std::uint64_t{0xFF}) == want) return static_cast<std::uint8_t>(cur & 0xFF);
  }
  return std::nullopt;
}

}  // namespace xdptcp::engine
