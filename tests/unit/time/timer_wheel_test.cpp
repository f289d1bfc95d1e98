// Unit tests of the hierarchical timer wheel (userstack/time/timer_wheel.h): firing order, never
// early, tick boundaries, callbacks that arm and cancel, cascades across every level, clamping,
// next_expiry() as a lower bound, and a random comparison against a reference model.
#include "userstack/time/timer_wheel.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <vector>

namespace xdptcp {
namespace {

constexpr std::int64_t kSpan = std::int64_t{1} << 24;  // 64^4 ticks
const Instant kStart{1'000'000'000};

Instant at_ms(std::int64_t ms) {
  return kStart + Duration::millis(ms);
}

// Records every firing: which timer, and the `now` it was given.
struct Fired {
  int id;
  Instant now;
};

struct Recorder {
  std::vector<Fired> fired;
  std::function<void(int id, TimerNode& node, Instant now)> on_fire;  // optional extra action
};

struct TestTimer {
  TestTimer(Recorder& r, int i) : node(&TestTimer::fire, this), rec(&r), id(i) {}
  static void fire(TimerNode& n, Instant now) {
    auto* self = static_cast<TestTimer*>(n.context);
    self->rec->fired.push_back({self->id, now});
    if (self->rec->on_fire) self->rec->on_fire(self->id, n, now);
  }
  TimerNode node;
  Recorder* rec;
  int id;
};

std::vector<int> ids(const Recorder& r) {
  std::vector<int> out;
  for (const auto& f : r.fired) out.push_back(f.id);
  return out;
}

TEST(TimerWheel, Advance_FiresInExpiryOrder) {
  Recorder rec;
  TestTimer a(rec, 0), b(rec, 1), c(rec, 2), d(rec, 3);
  TimerWheel wheel(kStart);  // declared after the timers: destroyed first
  wheel.arm(c.node, at_ms(300));
  wheel.arm(a.node, at_ms(5));
  wheel.arm(d.node, at_ms(70'000));  // level 2
  wheel.arm(b.node, at_ms(100));     // level 1
  EXPECT_EQ(wheel.armed_count(), 4u);
  EXPECT_EQ(wheel.advance(at_ms(100'000)), 4u);
  EXPECT_EQ(ids(rec), (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(wheel.armed_count(), 0u);
  for (const auto& f : rec.fired) EXPECT_EQ(f.now, at_ms(100'000));
}

TEST(TimerWheel, Advance_NeverFiresEarly_RoundsUpToNextTick) {
  Recorder rec;
  TestTimer t(rec, 0);
  TimerWheel wheel(kStart);                             // declared after the timers: destroyed first
  wheel.arm(t.node, at_ms(1) + Duration::micros(500));  // 1.5 ms: due at the 2 ms tick
  EXPECT_EQ(wheel.advance(at_ms(1) + Duration::micros(500)), 0u);
  EXPECT_EQ(wheel.advance(at_ms(2) - Duration::nanos(1)), 0u);
  EXPECT_TRUE(t.node.armed());
  EXPECT_EQ(wheel.advance(at_ms(2)), 1u);
  EXPECT_FALSE(t.node.armed());
}

TEST(TimerWheel, Advance_ExactTickBoundary_FiresAtThatInstant) {
  Recorder rec;
  TestTimer t0(rec, 0), t5(rec, 5);
  TimerWheel wheel(kStart);    // declared after the timers: destroyed first
  wheel.arm(t0.node, kStart);  // tick 0: due at the very first advance(start)
  wheel.arm(t5.node, at_ms(5));
  EXPECT_EQ(wheel.advance(kStart), 1u);
  EXPECT_EQ(wheel.advance(at_ms(5) - Duration::nanos(1)), 0u);
  EXPECT_EQ(wheel.advance(at_ms(5)), 1u);
  EXPECT_EQ(ids(rec), (std::vector<int>{0, 5}));
}

TEST(TimerWheel, Advance_UnalignedStartAndSmallTick_NeverEarly) {
  const Instant start{123'456'789};
  const Duration tick = Duration::micros(100);
  TimerWheel wheel(start, tick);
  Recorder rec;
  TestTimer t(rec, 0);
  const Instant when = start + Duration::micros(250);  // rounds up to 300 us after start
  wheel.arm(t.node, when);
  EXPECT_EQ(wheel.advance(start + Duration::micros(299)), 0u);
  EXPECT_EQ(wheel.advance(start + Duration::micros(300)), 1u);
  EXPECT_GE(rec.fired.at(0).now, when);
  EXPECT_EQ(wheel.tick(), tick);
}

TEST(TimerWheel, Arm_InThePast_FiresAtNextAdvanceEvenWithinSameTick) {
  Recorder rec;
  TestTimer before_start(rec, 0), late(rec, 1);
  TimerWheel wheel(kStart);  // declared after the timers: destroyed first
  wheel.arm(before_start.node, kStart - Duration::seconds(5));
  EXPECT_EQ(wheel.advance(kStart - Duration::seconds(1)), 1u);  // even with `now` before start
  EXPECT_EQ(wheel.advance(at_ms(10) + Duration::micros(100)), 0u);
  wheel.arm(late.node, at_ms(3));
  ASSERT_TRUE(wheel.next_expiry().has_value());
  EXPECT_LE(*wheel.next_expiry(), at_ms(10));
  EXPECT_EQ(wheel.advance(at_ms(10) + Duration::micros(200)), 1u);  // same tick as before
  EXPECT_EQ(ids(rec), (std::vector<int>{0, 1}));
  EXPECT_EQ(wheel.armed_count(), 0u);
}

TEST(TimerWheel, Cancel_FromCallback_SameSlotTimerDoesNotFire) {
  Recorder rec;
  TestTimer a(rec, 0), b(rec, 1), c(rec, 2), later(rec, 3);
  TimerWheel wheel(kStart);  // declared after the timers: destroyed first
  wheel.arm(a.node, at_ms(7));
  wheel.arm(b.node, at_ms(7));
  wheel.arm(c.node, at_ms(7));
  wheel.arm(later.node, at_ms(9));
  // Whichever fires first cancels the other two of its tick and the later one.
  rec.on_fire = [&](int, TimerNode&, Instant) {
    wheel.cancel(a.node);
    wheel.cancel(b.node);
    wheel.cancel(c.node);
    wheel.cancel(later.node);
  };
  EXPECT_EQ(wheel.advance(at_ms(20)), 1u);
  EXPECT_EQ(rec.fired.size(), 1u);
  EXPECT_EQ(wheel.armed_count(), 0u);
  EXPECT_FALSE(a.node.armed() || b.node.armed() || c.node.armed() || later.node.armed());
  EXPECT_EQ(wheel.next_expiry(), std::nullopt);
}

TEST(TimerWheel, Cancel_NotArmed_IsNoOp) {
  Recorder rec;
  TestTimer a(rec, 0);
  TimerWheel wheel(kStart);  // declared after the timers: destroyed first
  wheel.cancel(a.node);
  EXPECT_EQ(wheel.armed_count(), 0u);
  wheel.arm(a.node, at_ms(1));
  wheel.cancel(a.node);
  wheel.cancel(a.node);
  EXPECT_EQ(wheel.armed_count(), 0u);
  EXPECT_EQ(wheel.advance(at_ms(10)), 0u);
}

TEST(TimerWheel, Arm_FromCallback_OtherTimerInSameSlotMovesLater) {
  Recorder rec;
  TestTimer a(rec, 0), b(rec, 1);
  TimerWheel wheel(kStart);  // declared after the timers: destroyed first
  wheel.arm(a.node, at_ms(4));
  wheel.arm(b.node, at_ms(4));
  bool moved = false;
  rec.on_fire = [&](int id, TimerNode&, Instant) {
    if (moved) return;
    moved = true;
    wheel.arm(id == 0 ? b.node : a.node, at_ms(4 + 64));  // the same level-0 slot, one turn later
  };
  EXPECT_EQ(wheel.advance(at_ms(67)), 1u);
  EXPECT_EQ(wheel.armed_count(), 1u);
  EXPECT_EQ(wheel.advance(at_ms(68)), 1u);
  EXPECT_EQ(rec.fired.at(1).now, at_ms(68));
}

TEST(TimerWheel, Arm_SelfFromCallback_PeriodicFiresEveryPeriodInOneAdvance) {
  Recorder rec;
  TestTimer t(rec, 0);
  TimerWheel wheel(kStart);  // declared after the timers: destroyed first
  Instant next = at_ms(10);
  rec.on_fire = [&](int, TimerNode& node, Instant) {
    next += Duration::millis(10);
    wheel.arm(node, next);
  };
  wheel.arm(t.node, next);
  EXPECT_EQ(wheel.advance(at_ms(100)), 10u);
  EXPECT_TRUE(t.node.armed());
  EXPECT_EQ(wheel.armed_count(), 1u);
  EXPECT_EQ(wheel.next_expiry(), at_ms(110));
}

TEST(TimerWheel, Arm_SelfAtNowFromCallback_FiresOnceThenAtNextAdvance) {
  Recorder rec;
  TestTimer t(rec, 0);
  TimerWheel wheel(kStart);  // declared after the timers: destroyed first
  rec.on_fire = [&](int, TimerNode& node, Instant now) { wheel.arm(node, now); };
  wheel.arm(t.node, at_ms(5));
  EXPECT_EQ(wheel.advance(at_ms(5)), 1u);  // re-armed for the tick just processed: no endless loop
  EXPECT_TRUE(t.node.armed());
  EXPECT_EQ(wheel.advance(at_ms(5)), 1u);  // ...it is overdue, and fires at the next advance()
  EXPECT_EQ(wheel.advance(at_ms(5) + Duration::micros(500)), 1u);
  EXPECT_EQ(rec.fired.size(), 3u);
  EXPECT_TRUE(t.node.armed());
}

TEST(TimerWheel, Arm_Rearm_MovesTimerAndCountsOnce) {
  Recorder rec;
  TestTimer t(rec, 0);
  TimerWheel wheel(kStart);  // declared after the timers: destroyed first
  wheel.arm(t.node, at_ms(50));
  wheel.arm(t.node, at_ms(20));
  wheel.arm(t.node, at_ms(30'000));
  wheel.arm(t.node, at_ms(40));
  EXPECT_EQ(wheel.armed_count(), 1u);
  EXPECT_EQ(wheel.advance(at_ms(39)), 0u);
  EXPECT_EQ(wheel.advance(at_ms(40)), 1u);
  EXPECT_EQ(wheel.advance(at_ms(100'000)), 0u);
}

// Every level boundary (64, 64^2, 64^3 ticks, and the span's end), approached from several
// alignments of the wheel's current tick: the timer fires exactly at its tick, not one before.
TEST(TimerWheel, Cascade_EveryLevelBoundary_FiresExactlyOnTime) {
  const std::int64_t boundaries[] = {63, 64, 65, 4095, 4096, 4097, 262143, 262144, 262145, kSpan - 1};
  const std::int64_t offsets[] = {0, 1, 37, 63, 64, 4095, 4096, 262143, 262144 + 17};
  for (std::int64_t offset : offsets) {
    for (std::int64_t delta : boundaries) {
      SCOPED_TRACE(testing::Message() << "offset " << offset << " delta " << delta);
      TimerWheel wheel(kStart);
      Recorder rec;
      TestTimer t(rec, 0);
      wheel.advance(at_ms(offset - 1));  // the wheel's next tick is `offset`
      const std::int64_t due = offset + delta;
      wheel.arm(t.node, at_ms(due));
      // Walk in uneven steps that land on and around the level boundaries.
      std::int64_t now = offset;
      std::int64_t step = 1;
      while (now < due - 1) {
        ASSERT_EQ(wheel.advance(at_ms(now)), 0u) << "fired early at " << now;
        const std::optional<Instant> ne = wheel.next_expiry();
        ASSERT_TRUE(ne.has_value());
        ASSERT_LE(*ne, at_ms(due));
        ASSERT_GT(*ne, at_ms(now));
        now = std::min(due - 1, now + step);
        step = step * 3 + 1;
      }
      ASSERT_EQ(wheel.advance(at_ms(due - 1)), 0u);
      ASSERT_EQ(wheel.advance(at_ms(due)), 1u);
      ASSERT_EQ(rec.fired.at(0).now, at_ms(due));
    }
  }
}

TEST(TimerWheel, Arm_BeyondSpan_ClampedToLastTickOfSpan) {
  Recorder rec;
  TestTimer t(rec, 0), far(rec, 1);
  TimerWheel wheel(kStart);  // declared after the timers: destroyed first
  wheel.advance(at_ms(99));  // next tick 100
  wheel.arm(t.node, at_ms(100) + Duration::seconds(10 * 3600));
  wheel.arm(far.node, Instant{INT64_MAX});
  const std::int64_t clamp = 100 + kSpan - 1;
  EXPECT_EQ(wheel.advance(at_ms(clamp - 1)), 0u);
  EXPECT_EQ(wheel.next_expiry(), at_ms(clamp));
  EXPECT_EQ(wheel.advance(at_ms(clamp)), 2u);
  EXPECT_EQ(wheel.armed_count(), 0u);
}

TEST(TimerWheel, NextExpiry_EmptyIsNullopt_OtherwiseBoundsEarliest) {
  Recorder rec;
  TestTimer a(rec, 0), b(rec, 1);
  TimerWheel wheel(kStart);  // declared after the timers: destroyed first
  EXPECT_EQ(wheel.next_expiry(), std::nullopt);
  wheel.arm(a.node, at_ms(30));
  EXPECT_EQ(wheel.next_expiry(), at_ms(30));  // level 0: exact
  wheel.arm(b.node, at_ms(10'000));
  EXPECT_EQ(wheel.next_expiry(), at_ms(30));
  wheel.cancel(a.node);
  const std::optional<Instant> ne = wheel.next_expiry();
  ASSERT_TRUE(ne.has_value());
  EXPECT_LE(*ne, at_ms(10'000));
  EXPECT_GT(*ne, at_ms(0));
  wheel.cancel(b.node);
  EXPECT_EQ(wheel.next_expiry(), std::nullopt);
}

// The simulator's use: jump the clock to next_expiry() and advance. Every timer fires exactly at
// its (rounded-up) expiry, and the number of jumps stays small.
TEST(TimerWheel, NextExpiry_JumpingThere_FiresEveryTimerExactlyOnTime) {
  std::mt19937_64 rng(7);
  const Duration tick = Duration::micros(10);
  const Instant start{5'000'003};
  Recorder rec;
  std::vector<std::unique_ptr<TestTimer>> timers;
  std::vector<Instant> due;
  TimerWheel wheel(start, tick);
  for (int i = 0; i < 300; ++i) {
    timers.push_back(std::make_unique<TestTimer>(rec, i));
    const std::int64_t ns = static_cast<std::int64_t>(rng() % (std::uint64_t{1} << (8 + rng() % 30)));
    const Instant when = start + Duration::nanos(ns);
    const std::int64_t ticks = (ns + tick.ns - 1) / tick.ns;
    due.push_back(start + tick * ticks);
    wheel.arm(timers.back()->node, when);
  }
  rec.on_fire = [&](int id, TimerNode&, Instant now) { EXPECT_EQ(now, due[id]) << "timer " << id; };
  int jumps = 0;
  Instant last = start - tick;
  while (std::optional<Instant> ne = wheel.next_expiry()) {
    ASSERT_GT(*ne, last);
    wheel.advance(*ne);
    last = *ne;
    ASSERT_LT(++jumps, 300 * 5);
  }
  EXPECT_EQ(rec.fired.size(), 300u);
}

TEST(TimerWheel, Destructor_DisarmsNodes) {
  Recorder rec;
  TestTimer a(rec, 0), b(rec, 1), c(rec, 2);
  {
    TimerWheel wheel(kStart);
    wheel.arm(a.node, at_ms(1));
    wheel.arm(b.node, at_ms(1'000'000));
    wheel.arm(c.node, kStart - Duration::seconds(1));  // overdue
  }
  EXPECT_FALSE(a.node.armed());
  EXPECT_FALSE(b.node.armed());
  EXPECT_FALSE(c.node.armed());
}

TEST(TimerWheel, ArmedCount_TracksArmCancelFire) {
  Recorder rec;
  std::vector<std::unique_ptr<TestTimer>> timers;
  TimerWheel wheel(kStart);
  for (int i = 0; i < 100; ++i) {
    timers.push_back(std::make_unique<TestTimer>(rec, i));
    wheel.arm(timers.back()->node, at_ms(i * 100));
  }
  EXPECT_EQ(wheel.armed_count(), 100u);
  for (int i = 0; i < 100; i += 2) wheel.cancel(timers[i]->node);
  EXPECT_EQ(wheel.armed_count(), 50u);
  EXPECT_EQ(wheel.advance(at_ms(4'999)), 25u);
  EXPECT_EQ(wheel.armed_count(), 25u);
  EXPECT_EQ(wheel.advance(at_ms(10'000)), 25u);
  EXPECT_EQ(wheel.armed_count(), 0u);
}

// ---- Random comparison against a reference model ----------------------------------------------
//
// The model keeps each armed timer's expiry tick and whether it was armed in the past. The wheel's
// firings are checked as they happen: a firing timer must be armed in the model, overdue ones come
// first, the rest in non-decreasing tick order with no due timer skipped. Callbacks perform random
// arms and cancels too (on both), including of themselves and of timers in the tick being fired.
class ModelHarness {
 public:
  ModelHarness(std::uint64_t seed, Instant start, Duration tick)
      : rng_(seed), start_(start), tick_(tick), wheel_(start, tick) {
    // timers_ is declared before wheel_, so the wheel is destroyed first and unlinks them.
    for (int i = 0; i < kTimers; ++i) timers_.push_back(std::make_unique<Timer>(this, i));
  }

  void run(int ops) {
    for (int op = 0; op < ops; ++op) {
      const unsigned r = rng_() % 100;
      if (r < 45) {
        arm(pick(), random_when());
      } else if (r < 60) {
        cancel(pick());
      } else if (r < 95) {
        advance(random_advance());
      } else if (std::optional<Instant> ne = wheel_.next_expiry()) {
        advance(*ne);
      }
      check_idle();
      if (testing::Test::HasFatalFailure()) return;
    }
  }

  std::size_t total_fired() const { return total_fired_; }

 private:
  static constexpr int kTimers = 64;
  struct Timer {
    Timer(ModelHarness* h, int i) : node(&Timer::fire, this), harness(h), id(i) {}
    static void fire(TimerNode& n, Instant now) {
      auto* t = static_cast<Timer*>(n.context);
      t->harness->on_fire(t->id, now);
    }
    TimerNode node;
    ModelHarness* harness;
    int id;
  };
  struct Armed {
    std::int64_t tick;
    bool overdue;
    std::uint64_t serial;  // when it was armed, to tell overdue timers armed during an advance
  };

  int pick() { return static_cast<int>(rng_() % kTimers); }
  Instant tick_instant(std::int64_t t) const { return start_ + tick_ * t; }
  std::int64_t floor_tick(Instant t) const {
    const std::int64_t d = (t - start_).ns;
    return d >= 0 ? d / tick_.ns : -((-d + tick_.ns - 1) / tick_.ns);
  }
  std::int64_t ceil_tick(Instant t) const {
    const std::int64_t d = (t - start_).ns;
    return d >= 0 ? (d + tick_.ns - 1) / tick_.ns : -((-d) / tick_.ns);
  }
  // The model's clock: the start of the next tick to process, give or take a fraction of a tick.
  Instant model_now() const { return tick_instant(current_) + Duration::nanos(rng_offset_); }

  Instant random_when() {
    const Instant base = model_now();
    const std::int64_t t = tick_.ns;
    switch (rng_() % 8) {
      case 0:
        return base - Duration::nanos(static_cast<std::int64_t>(rng_() % (t * 2000)));  // past
      case 1:
        return base + Duration::nanos(static_cast<std::int64_t>(rng_() % (t * 3)));  // now-ish
      case 2:
        return base + Duration::nanos(static_cast<std::int64_t>(rng_() % (t * 64)));
      case 3:
        return base + Duration::nanos(static_cast<std::int64_t>(rng_() % (t * 4096)));
      case 4:
        return base + Duration::nanos(static_cast<std::int64_t>(rng_() % (t * 262144)));
      case 5:
        return base + Duration::nanos(static_cast<std::int64_t>(rng_() % (t * kSpan)));
      case 6:
        return base + Duration::nanos(static_cast<std::int64_t>(rng_() % (t * kSpan * 4)));  // clamp
      default:
        return tick_instant(current_ + static_cast<std::int64_t>(rng_() % 4096));  // exact tick
    }
  }

  Instant random_advance() {
    const std::int64_t t = tick_.ns;
    std::int64_t step = 0;
    switch (rng_() % 6) {
      case 0:
        step = 0;
        break;
      case 1:
        step = static_cast<std::int64_t>(rng_() % (t * 4));
        break;
      case 2:
        step = static_cast<std::int64_t>(rng_() % (t * 100));
        break;
      case 3:
        step = static_cast<std::int64_t>(rng_() % (t * 5000));
        break;
      case 4:
        step = static_cast<std::int64_t>(rng_() % (t * 300000));
        break;
      default:
        step = static_cast<std::int64_t>(rng_() % (t * kSpan / 8));
        break;
    }
    return last_now_ + Duration::nanos(step);
  }

  void arm(int id, Instant when) {
    std::int64_t e = ceil_tick(when);
    e = std::min(e, current_ + kSpan - 1);
    model_[id] = Armed{e, e < current_, ++serial_};
    wheel_.arm(timers_[id]->node, when);
  }

  void cancel(int id) {
    model_.erase(id);
    wheel_.cancel(timers_[id]->node);
  }

  void advance(Instant now) {
    if (now < last_now_) now = last_now_;
    in_advance_ = true;
    overdue_phase_ = true;
    advance_serial_ = serial_;
    now_tick_ = floor_tick(now);
    advance_now_ = now;
    fired_this_advance_ = 0;
    const std::size_t n = wheel_.advance(now);
    in_advance_ = false;
    EXPECT_EQ(n, fired_this_advance_);
    total_fired_ += n;
    for (const auto& [id, a] : model_) {
      ASSERT_FALSE(a.overdue && a.serial <= advance_serial_) << "overdue timer " << id << " not fired";
      ASSERT_FALSE(!a.overdue && a.tick <= now_tick_)
          << "due timer " << id << " tick " << a.tick << " not fired by " << now_tick_;
    }
    current_ = std::max(current_, now_tick_ + 1);
    last_now_ = now;
    rng_offset_ = static_cast<std::int64_t>(rng_() % static_cast<std::uint64_t>(tick_.ns));
  }

  void on_fire(int id, Instant now) {
    ASSERT_TRUE(in_advance_);
    ASSERT_EQ(now, advance_now_);
    auto it = model_.find(id);
    ASSERT_NE(it, model_.end()) << "timer " << id << " fired but is not armed";
    const Armed a = it->second;
    ASSERT_FALSE(timers_[id]->node.armed());
    if (a.overdue) {
      ASSERT_TRUE(overdue_phase_) << "overdue timer " << id << " fired after on-time ones";
      ASSERT_LE(a.serial, advance_serial_) << "timer armed in the past during this advance fired in it";
    } else {
      if (overdue_phase_) {
        overdue_phase_ = false;
        for (const auto& [other, b] : model_) {
          ASSERT_FALSE(b.overdue && b.serial <= advance_serial_) << "overdue " << other << " not fired first";
        }
      }
      ASSERT_LE(a.tick, now_tick_) << "timer " << id << " fired early";
      for (const auto& [other, b] : model_) {
        ASSERT_FALSE(!b.overdue && b.tick < a.tick) << "timer " << other << " (tick " << b.tick
                                                    << ") skipped by " << id << " (tick " << a.tick << ")";
      }
      current_ = a.tick + 1;
    }
    model_.erase(it);
    ++fired_this_advance_;
    // A random action from inside the callback.
    const unsigned r = rng_() % 10;
    if (r < 3) {
      arm(id, random_when());  // re-arm self
    } else if (r < 5) {
      arm(pick(), random_when());
    } else if (r < 7) {
      cancel(pick());
    } else if (r < 8) {
      // Cancel or re-arm a timer due in this same tick, if any.
      for (const auto& [other, b] : model_) {
        if (!b.overdue && b.tick == current_ - 1) {
          if (rng_() % 2) {
            cancel(other);
          } else {
            arm(other, tick_instant(current_ + static_cast<std::int64_t>(rng_() % 70)));
          }
          break;
        }
      }
    }
  }

  void check_idle() {
    ASSERT_EQ(wheel_.armed_count(), model_.size());
    for (int i = 0; i < kTimers; ++i) ASSERT_EQ(timers_[i]->node.armed(), model_.count(i) == 1) << i;
    const std::optional<Instant> ne = wheel_.next_expiry();
    if (model_.empty()) {
      ASSERT_EQ(ne, std::nullopt);
      return;
    }
    ASSERT_TRUE(ne.has_value());
    std::int64_t earliest = INT64_MAX;
    bool overdue = false;
    for (const auto& [id, a] : model_) {
      earliest = std::min(earliest, a.tick);
      overdue = overdue || a.overdue;
    }
    ASSERT_LE(*ne, tick_instant(earliest)) << "next_expiry later than the earliest timer";
    if (!overdue) {
      ASSERT_GT(*ne, last_now_) << "next_expiry not after the last advance";
    }
  }

  std::mt19937_64 rng_;
  Instant start_;
  Duration tick_;
  std::vector<std::unique_ptr<Timer>> timers_;
  TimerWheel wheel_;
  std::map<int, Armed> model_;
  std::int64_t current_ = 0;  // next tick to process
  Instant last_now_{};
  std::int64_t rng_offset_ = 0;
  std::uint64_t serial_ = 0;
  bool in_advance_ = false;
  bool overdue_phase_ = false;
  std::uint64_t advance_serial_ = 0;
  std::int64_t now_tick_ = 0;
  Instant advance_now_{};
  std::size_t fired_this_advance_ = 0;
  std::size_t total_fired_ = 0;

 public:
  void set_last_now(Instant t) { last_now_ = t; }
};

TEST(TimerWheel, Property_MatchesReferenceModel_RandomOps) {
  for (std::uint64_t seed = 1; seed <= 6; ++seed) {
    SCOPED_TRACE(testing::Message() << "seed " << seed);
    const Instant start{static_cast<std::int64_t>(seed * 7'777'777)};
    const Duration tick = seed % 2 ? Duration::millis(1) : Duration::micros(33);
    ModelHarness h(seed, start, tick);
    h.set_last_now(start - tick);
    h.run(4000);
    if (HasFatalFailure()) return;
    EXPECT_GT(h.total_fired(), 500u);
  }
}

}  // namespace
}  // namespace xdptcp
