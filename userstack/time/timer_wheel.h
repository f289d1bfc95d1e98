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

// One timer. Not copyable or movable while armed (the wheel holds pointers to it).
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

  // Arms (or re-arms) `node` to fire at `when`. A time in the past fires at the next advance().
  void arm(TimerNode& node, Instant when);
  // Disarms `node`; a no-op when it is not armed.
  void cancel(TimerNode& node);

  // Fires every timer due at or before `now`, in order of expiry tick. Callbacks may arm or
  // cancel any timer, including the one firing. Returns the number fired.
  std::size_t advance(Instant now);

  // A lower bound on the earliest expiry (never later than it, and strictly after the last
  // advance()), or nullopt when nothing is armed. Sleeping until then never misses a timer;
  // the simulator jumps its clock there.
  std::optional<Instant> next_expiry() const;

  std::size_t armed_count() const { return armed_; }
  Duration tick() const { return tick_; }

 private:
  // Implementation-defined; see timer_wheel.cpp.
  struct Slot {
    TimerNode head;  // sentinel of a circular doubly-linked list
  };
  void link(TimerNode& node);
  void cascade(int level);

  Instant start_;
  Duration tick_;
  std::int64_t current_tick_ = 0;
  std::size_t armed_ = 0;
  Slot slots_[kLevels][kSlots];
};

}  // namespace xdptcp
