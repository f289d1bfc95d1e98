// Benchmarks of TimerWheel (userstack/time/timer_wheel.h) at the loads an engine sees: many
// connections each holding a few timers that are re-armed far more often than they fire (RTO
// and delayed ACK are pushed back on every ACK), and an advance() every loop iteration.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "userstack/time/timer_wheel.h"

namespace xdptcp {
namespace {

const Instant kStart{1'000'000'000};

void count_fire(TimerNode& node, Instant) {
  ++*static_cast<std::uint64_t*>(node.context);
}

// Random expiries from 1 ms to ~65 s: spread over levels 0 to 2 like RTO, delayed ACK, TIME_WAIT.
std::vector<Duration> random_delays(std::size_t n) {
  std::mt19937_64 rng(42);
  std::vector<Duration> d(n);
  for (auto& x : d) x = Duration::micros(1000 + static_cast<std::int64_t>(rng() % (1u << (10 + rng() % 16))));
  return d;
}

// Arms nodes[i] at kStart + delays[i], each counting into *fired: the wheel's population.
void populate(TimerWheel& wheel, std::vector<TimerNode>& nodes, const std::vector<Duration>& delays,
              std::uint64_t* fired) {
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    nodes[i].callback = count_fire;
    nodes[i].context = fired;
    wheel.arm(nodes[i], kStart + delays[i]);
  }
}

// Arm then cancel one timer among `range` armed ones (the wheel's population).
void BM_ArmCancel(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  std::uint64_t fired = 0;
  std::vector<TimerNode> nodes(n);
  TimerWheel wheel(kStart);
  const auto delays = random_delays(n);
  populate(wheel, nodes, delays, &fired);
  TimerNode probe(count_fire, &fired);
  std::size_t i = 0;
  for (auto _ : state) {
    wheel.arm(probe, kStart + delays[i]);
    wheel.cancel(probe);
    i = (i + 1) % n;
  }
  for (auto& node : nodes) wheel.cancel(node);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ArmCancel)->Arg(1)->Arg(1 << 10)->Arg(1 << 16);

// Re-arming an armed timer (the RTO on every ACK).
void BM_Rearm(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  std::uint64_t fired = 0;
  std::vector<TimerNode> nodes(n);
  TimerWheel wheel(kStart);
  const auto delays = random_delays(n);
  populate(wheel, nodes, delays, &fired);
  std::size_t i = 0;
  for (auto _ : state) {
    wheel.arm(nodes[i], kStart + delays[(i * 7) % n]);
    i = (i + 1) % n;
  }
  for (auto& node : nodes) wheel.cancel(node);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Rearm)->Arg(1 << 10)->Arg(1 << 16);

// The engine loop: advance by 1 ms per iteration with `range` periodic timers (each re-arms
// itself 1 to 200 ms ahead when it fires). Reports the timers fired per second.
struct Periodic {
  TimerNode node;
  TimerWheel* wheel;
  Duration period;
};

void BM_AdvancePeriodic(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  TimerWheel wheel(kStart);
  std::vector<std::unique_ptr<Periodic>> timers;
  std::mt19937_64 rng(1);
  for (std::size_t i = 0; i < n; ++i) {
    auto p = std::make_unique<Periodic>();
    p->wheel = &wheel;
    p->period = Duration::millis(1 + static_cast<std::int64_t>(rng() % 200));
    p->node.context = p.get();
    p->node.callback = [](TimerNode& node, Instant now) {
      auto* self = static_cast<Periodic*>(node.context);
      self->wheel->arm(node, now + self->period);
    };
    wheel.arm(p->node, kStart + p->period);
    timers.push_back(std::move(p));
  }
  Instant now = kStart;
  std::uint64_t fired = 0;
  for (auto _ : state) {
    now += Duration::millis(1);
    fired += wheel.advance(now);
  }
  for (auto& p : timers) wheel.cancel(p->node);
  state.SetItemsProcessed(static_cast<std::int64_t>(fired));
}
BENCHMARK(BM_AdvancePeriodic)->Arg(1 << 10)->Arg(1 << 16);

// An idle engine: advance() with nothing due (a few far timers) costs O(levels), not O(ticks).
void BM_AdvanceIdle(benchmark::State& state) {
  std::uint64_t fired = 0;
  TimerNode far(count_fire, &fired);
  TimerWheel wheel(kStart);
  Instant now = kStart;
  wheel.arm(far, kStart + Duration::seconds(3600));
  for (auto _ : state) {
    now += Duration::micros(10);
    benchmark::DoNotOptimize(wheel.advance(now));
  }
  wheel.cancel(far);
}
BENCHMARK(BM_AdvanceIdle);

}  // namespace
}  // namespace xdptcp

BENCHMARK_MAIN();
