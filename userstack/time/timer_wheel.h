// A hierarchical timing wheel (Varghese & Lauck): O(1) arm and cancel, amortised O(1) expiry.
// One wheel per engine, driven by the `now` the engine (or the simulator) passes in; it never
// reads a clock. Timers are intrusive nodes owned by their users (a TCB holds its RTO, delayed-ACK,
// persist, keepalive and TIME_WAIT nodes), so arming allocates nothing.
//
// Resolution is one tick (default 1 ms); a timer fires at the first advance() whose `now` is at or
// after its expiry rounded up to the next tick, never early. Expiries further away than the
// wheel's span (levels * 6 bits of ticks, about 4.6 hours at 1 ms) are clamped to the span and
// re-armed on firing by whoever owns them (TCP's longest timer, keepalive's 2 hours, fits).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "userstack/time/clock.h"

namespace xdptcp {

class TimerWheel;

// One timer. Not copyable or movable while armed (the wheel holds pointers to it): cancel it, or
// destroy the wheel, before destroying it.
struct TimerNode {
  using Callback = void (*)(TimerNode& node, Instant now);

  TimerNode() = default;
  explicit TimerNode(Callback cb, void* ctx = nullptr) : callback(cb), context(ctx) {}
  TimerNode(const TimerNode&) = delete;
  TimerNode& operator=(const TimerNode&) = delete;

  bool armed() const { return prev != nullptr; }

  Callback callback = nullptr;
  void* context = nullptr;  // for the callback: usually the owning object

  // Wheel bookkeeping; only TimerWheel touches these.
  TimerNode* prev = nullptr;
  TimerNode* next = nullptr;
  std::int64_t expiry_tick = 0;
};

class TimerWheel {
 public:
  static constexpr int kLevels = 4;
  static constexpr int kSlotBits = 6;
  static constexpr int kSlots = 1 << kSlotBits;

  explicit TimerWheel(Instant start, Duration tick = Duration::millis(1));
  ~TimerWheel();  // unlinks every armed node (they stay valid, disarmed)
  TimerWheel(const TimerWheel&) = delete;
  TimerWheel& operator=(const TimerWheel&) = delete;

  // Arms (or re-arms) `node` to fire at `when`. A time in the past (a tick already processed)
  // fires at the next advance(), whatever its `now`. A time beyond the span is clamped to it.
  void arm(TimerNode& node, Instant when);
  // Disarms `node`; a no-op when it is not armed.
  void cancel(TimerNode& node);

  // Fires every timer due at or before `now`, in order of expiry tick (timers armed in the past
  // first). Callbacks may arm or cancel any timer, including the one firing; a timer a callback
  // arms for a tick already processed fires at the next advance(), so a callback re-arming itself
  // "now" cannot loop forever. Callbacks must not call advance(). Returns the number fired.
  std::size_t advance(Instant now);

  // A lower bound on the earliest expiry (never later than it, and strictly after the last
  // advance()), or nullopt when nothing is armed. Sleeping until then never misses a timer;
  // the simulator jumps its clock there. When a timer armed in the past is waiting, it returns
  // that timer's (already passed) expiry: the next advance() fires it.
  std::optional<Instant> next_expiry() const;

  std::size_t armed_count() const { return armed_; }
  Duration tick() const { return tick_; }

 private:
  // Implementation: see timer_wheel.cpp for the invariants. Level L slot s holds the timers whose
  // expiry tick e has (e >> 6L) & 63 == s and that are due to cascade (L > 0) or fire (L == 0)
  // when the wheel reaches tick ((e >> 6L) << 6L). A bitmap per level marks the non-empty slots so
  // advance() and next_expiry() skip empty stretches in O(levels).
  struct Slot {
    TimerNode head;  // sentinel of a circular doubly-linked list
  };
  static constexpr std::int64_t kSpanTicks = std::int64_t{1} << (kLevels * kSlotBits);

  void link(TimerNode& node);
  void cascade(int level);
  void unlink(TimerNode& node);
  std::size_t fire_list(TimerNode& list, Instant now);
  std::optional<std::int64_t> next_event_tick() const;
  std::int64_t ceil_tick(Instant t) const;
  std::int64_t floor_tick(Instant t) const;
  Instant tick_instant(std::int64_t tick) const;

  Instant start_;
  Duration tick_;
  // The next tick advance() has to process: every tick before it has been processed.
  std::int64_t current_tick_ = 0;
  std::size_t armed_ = 0;
  std::uint64_t occupied_[kLevels] = {};  // bit s of occupied_[L]: slots_[L][s] is non-empty
  Slot slots_[kLevels][kSlots];
  // Timers armed for a tick already processed: fired first by the next advance(), in arm order.
  TimerNode overdue_;
  std::int64_t overdue_min_tick_ = 0;  // lower bound of the overdue expiries (when non-empty)
};

}  // namespace xdptcp
