// The hierarchical timing wheel of timer_wheel.h (Varghese & Lauck, scheme 7; the layout of the
// classic Linux timer wheel, with an occupancy bitmap per level so empty stretches cost nothing).
//
// Invariants, with c = current_tick_ (the next tick to process; every earlier tick is done):
//  - A timer with expiry tick e >= c sits at level L = the level whose range holds e - c at the
//    time it was linked (level L covers 64^L <= e - c < 64^(L+1); level 0 covers e - c < 64), in
//    slot (e >> 6L) & 63. Level 0 therefore holds exactly the ticks [c, c + 64), one per slot.
//  - A level-L slot is cascaded (its timers re-linked, landing on lower levels) when the wheel
//    processes the tick (e >> 6L) << 6L, the first tick of that slot's range. Relative to c, the
//    level-L slots in range order start at ceil(c / 64^L) (which, when c is a multiple of 64^L,
//    is the slot at c itself: its cascade is still pending) and run for 64 slots.
//  - Timers armed for a tick before c wait on the overdue list and fire at the next advance().
#include "userstack/time/timer_wheel.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <limits>

namespace xdptcp {

namespace {

// Tick numbers are kept well inside int64 so that differences of two of them never overflow.
constexpr std::int64_t kTickLimit = std::numeric_limits<std::int64_t>::max() / 4;

std::int64_t clamp_tick(__int128 t) {
  return static_cast<std::int64_t>(std::clamp<__int128>(t, -kTickLimit, kTickLimit));
}

__int128 floor_div(__int128 a, __int128 b) {
  __int128 q = a / b;
  if ((a % b != 0) && (a < 0)) --q;
  return q;
}

__int128 ceil_div(__int128 a, __int128 b) {
  __int128 q = a / b;
  if ((a % b != 0) && (a > 0)) ++q;
  return q;
}

void list_init(TimerNode& head) {
  head.prev = head.next = &head;
}
bool list_empty(const TimerNode& head) {
  return head.next == &head;
}

void list_push_back(TimerNode& head, TimerNode& node) {
  node.prev = head.prev;
  node.next = &head;
  head.prev->next = &node;
  head.prev = &node;
}

// Moves every node of `from` (a non-empty list) onto the empty list `to`.
void list_splice(TimerNode& from, TimerNode& to) {
  to.next = from.next;
  to.prev = from.prev;
  to.next->prev = &to;
  to.prev->next = &to;
  list_init(from);
}

// The first set bit of `bits` at or after position `from`, going round: its distance from `from`.
int rotating_distance(std::uint64_t bits, int from) {
  return std::countr_zero(std::rotr(bits, from));
}

}  // namespace

TimerWheel::TimerWheel(Instant start, Duration tick)
    : start_(start), tick_(tick.ns > 0 ? tick : Duration::nanos(1)) {
  for (auto& level : slots_) {
    for (auto& slot : level) list_init(slot.head);
  }
  list_init(overdue_);
}

TimerWheel::~TimerWheel() {
  auto release = [](TimerNode& head) {
    TimerNode* n = head.next;
    while (n != &head) {
      TimerNode* next = n->next;
      n->prev = n->next = nullptr;
      n = next;
    }
    list_init(head);
  };
  for (auto& level : slots_) {
    for (auto& slot : level) release(slot.head);
  }
  release(overdue_);
}

// The common case (t - start fits in int64, always so for real clocks) divides in 64 bits;
// only extreme Instants take the 128-bit path (a libgcc __divmodti4 call per conversion).
std::int64_t TimerWheel::ceil_tick(Instant t) const {
  std::int64_t d;
  if (!__builtin_sub_overflow(t.ns, start_.ns, &d)) {
    std::int64_t q = d / tick_.ns;
    if (d % tick_.ns != 0 && d > 0) ++q;
    return std::clamp<std::int64_t>(q, -kTickLimit, kTickLimit);
  }
  return clamp_tick(ceil_div(static_cast<__int128>(t.ns) - start_.ns, tick_.ns));
}

std::int64_t TimerWheel::floor_tick(Instant t) const {
  std::int64_t d;
  if (!__builtin_sub_overflow(t.ns, start_.ns, &d)) {
    std::int64_t q = d / tick_.ns;
    if (d % tick_.ns != 0 && d < 0) --q;
    return std::clamp<std::int64_t>(q, -kTickLimit, kTickLimit);
  }
  return clamp_tick(floor_div(static_cast<__int128>(t.ns) - start_.ns, tick_.ns));
}

Instant TimerWheel::tick_instant(std::int64_t tick) const {
  __int128 ns = static_cast<__int128>(start_.ns) + static_cast<__int128>(tick) * tick_.ns;
  ns = std::clamp<__int128>(ns, std::numeric_limits<std::int64_t>::min(),
                            std::numeric_limits<std::int64_t>::max());
  return Instant{static_cast<std::int64_t>(ns)};
}

void TimerWheel::arm(TimerNode& node, Instant when) {
  cancel(node);
  std::int64_t e = ceil_tick(when);
  // Beyond the span: clamp; the owner re-arms when it fires (timer_wheel.h).
  e = std::min(e, current_tick_ + kSpanTicks - 1);
  node.expiry_tick = e;
  ++armed_;
  if (e < current_tick_) {
    if (list_empty(overdue_) || e < overdue_min_tick_) overdue_min_tick_ = e;
    list_push_back(overdue_, node);
    return;
  }
  link(node);
}

// Links an armed node with expiry_tick >= current_tick_ into its level and slot.
void TimerWheel::link(TimerNode& node) {
  const std::int64_t delta = node.expiry_tick - current_tick_;
  const int level =
      delta < kSlots ? 0
                     : (static_cast<int>(std::bit_width(static_cast<std::uint64_t>(delta))) - 1) / kSlotBits;
  const int slot = static_cast<int>((node.expiry_tick >> (level * kSlotBits)) & (kSlots - 1));
  list_push_back(slots_[level][slot].head, node);
  occupied_[level] |= std::uint64_t{1} << slot;
}

// Removes an armed node from whatever list holds it (a slot, the overdue list, or the private list
// advance() or cascade() is working through) and clears the slot's bit when it empties.
void TimerWheel::unlink(TimerNode& node) {
  TimerNode* prev = node.prev;
  TimerNode* next = node.next;
  prev->next = next;
  next->prev = prev;
  node.prev = node.next = nullptr;
  if (prev != next) return;  // the list still holds another node
  // The list is now empty and `prev` is its head: if that is a wheel slot, clear its bit.
  const auto head = reinterpret_cast<std::uintptr_t>(prev);
  const auto first = reinterpret_cast<std::uintptr_t>(&slots_[0][0]);
  const auto past = reinterpret_cast<std::uintptr_t>(&slots_[kLevels - 1][kSlots - 1]) + sizeof(Slot);
  if (head < first || head >= past) return;
  const std::size_t index = (head - first) / sizeof(Slot);
  occupied_[index / kSlots] &= ~(std::uint64_t{1} << (index % kSlots));
}

void TimerWheel::cancel(TimerNode& node) {
  if (!node.armed()) return;
  unlink(node);
  --armed_;
}

// Re-links every timer of the level's slot that starts at current_tick_ (a multiple of 64^level).
void TimerWheel::cascade(int level) {
  const int slot = static_cast<int>((current_tick_ >> (level * kSlotBits)) & (kSlots - 1));
  const std::uint64_t bit = std::uint64_t{1} << slot;
  if ((occupied_[level] & bit) == 0) return;
  TimerNode pending;
  list_splice(slots_[level][slot].head, pending);
  occupied_[level] &= ~bit;
  while (!list_empty(pending)) {
    TimerNode& node = *pending.next;
    unlink(node);
    link(node);  // expiry - current_tick_ < 64^level now: lands on a lower level
  }
}

// Fires every node of `list`, detached from the wheel first so that callbacks may arm and cancel
// anything (including nodes still waiting on `list`, which cancel() unlinks from it).
std::size_t TimerWheel::fire_list(TimerNode& list, Instant now) {
  std::size_t fired = 0;
  while (!list_empty(list)) {
    TimerNode& node = *list.next;
    unlink(node);
    --armed_;
    ++fired;
    if (node.callback != nullptr) node.callback(node, now);
  }
  return fired;
}

// The first tick at which advance() has work: the exact expiry of the earliest level-0 timer, or
// the start of the earliest non-empty slot of a higher level (where it cascades), whichever is
// first. Always >= current_tick_.
std::optional<std::int64_t> TimerWheel::next_event_tick() const {
  std::optional<std::int64_t> best;
  for (int level = 0; level < kLevels; ++level) {
    if (occupied_[level] == 0) continue;
    const int shift = level * kSlotBits;
    const std::int64_t first = (current_tick_ + (std::int64_t{1} << shift) - 1) >> shift;
    const int from = static_cast<int>(first & (kSlots - 1));
    const std::int64_t tick = (first + rotating_distance(occupied_[level], from)) << shift;
    if (!best || tick < *best) best = tick;
  }
  return best;
}

std::size_t TimerWheel::advance(Instant now) {
  std::size_t fired = 0;
  if (!list_empty(overdue_)) {
    TimerNode due;
    list_splice(overdue_, due);
    fired += fire_list(due, now);
  }
  const std::int64_t now_tick = floor_tick(now);
  while (current_tick_ <= now_tick) {
    const std::optional<std::int64_t> next = next_event_tick();
    if (!next || *next > now_tick) {
      current_tick_ = now_tick + 1;
      break;
    }
    // Every tick before *next has nothing to fire or cascade: jump there.
    current_tick_ = *next;
    for (int level = kLevels - 1; level > 0; --level) {
      if ((current_tick_ & ((std::int64_t{1} << (level * kSlotBits)) - 1)) == 0) cascade(level);
    }
    const int slot = static_cast<int>(current_tick_ & (kSlots - 1));
    const std::uint64_t bit = std::uint64_t{1} << slot;
    // The tick is done before its callbacks run: what they arm for it or earlier is overdue.
    ++current_tick_;
    if ((occupied_[0] & bit) == 0) continue;
    TimerNode due;
    list_splice(slots_[0][slot].head, due);
    occupied_[0] &= ~bit;
    fired += fire_list(due, now);
  }
  return fired;
}

std::optional<Instant> TimerWheel::next_expiry() const {
  if (armed_ == 0) return std::nullopt;
  if (!list_empty(overdue_)) return tick_instant(overdue_min_tick_);
  const std::optional<std::int64_t> tick = next_event_tick();
  if (!tick) return std::nullopt;
  return tick_instant(*tick);
}

}  // namespace xdptcp
