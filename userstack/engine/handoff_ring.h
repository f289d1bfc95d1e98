// A bounded single-producer single-consumer ring of frames between two engines: the hand-off
// path for a segment that arrives on an engine that does not own its flow (design brief §5: veth
// and RSS changes make this happen; the kernel's TCP re-hashes a flow to another TX queue after
// an RTO, which on veth moves it to another RX queue).
//
// Lock-free: the producer owns tail_, the consumer owns head_, each published with release and
// read with acquire. At the bound the frame is dropped and counted (TCP retransmits it), which
// is what a NIC does when its ring is full.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>

namespace xdptcp::engine {

class HandoffRing {
 public:
  static constexpr std::size_t kSlots = 512;  // power of two
  static constexpr std::size_t kFrameMax = 2048;

  struct Slot {
    std::uint16_t len = 0;
    std::uint8_t hops = 0;  // hand-offs this frame went through (1: it is answered where it lands)
    std::array<std::uint8_t, kFrameMax> bytes{};
  };

  HandoffRing() : slots_(new Slot[kSlots]) {}

  // Producer side. False (and the frame is not queued) when the ring is full or the frame too big.
  bool push(std::span<const std::uint8_t> frame, std::uint8_t hops) {
    if (frame.size() > kFrameMax) return false;
    const std::size_t tail = tail_.load(std::memory_order_relaxed);
    if (tail - head_.load(std::memory_order_acquire) == kSlots) return false;
    Slot& s = slots_[tail & (kSlots - 1)];
    std::memcpy(s.bytes.data(), frame.data(), frame.size());
    s.len = static_cast<std::uint16_t>(frame.size());
    s.hops = hops;
    tail_.store(tail + 1, std::memory_order_release);
    return true;
  }

  // Consumer side: the oldest frame, or nullptr when empty. Valid until pop().
  const Slot* front() const {
    const std::size_t head = head_.load(std::memory_order_relaxed);
    if (head == tail_.load(std::memory_order_acquire)) return nullptr;
    return &slots_[head & (kSlots - 1)];
  }
  void pop() { head_.store(head_.load(std::memory_order_relaxed) + 1, std::memory_order_release); }

 private:
  std::unique_ptr<Slot[]> slots_;
  alignas(64) std::atomic<std::size_t> head_{0};
  alignas(64) std::atomic<std::size_t> tail_{0};
};

}  // namespace xdptcp::engine
