// Time as a value. The TCP core never reads a clock: the engine reads one once per loop
// iteration (or the simulator advances a virtual one) and passes `now` to every entry point.
#pragma once

#include <compare>
#include <cstdint>

namespace xdptcp {

// A span of time in nanoseconds.
struct Duration {
  std::int64_t ns = 0;

  static constexpr Duration nanos(std::int64_t v) { return {v}; }
  static constexpr Duration micros(std::int64_t v) { return {v * 1'000}; }
  static constexpr Duration millis(std::int64_t v) { return {v * 1'000'000}; }
  static constexpr Duration seconds(std::int64_t v) { return {v * 1'000'000'000}; }
  constexpr std::int64_t as_micros() const { return ns / 1'000; }
  constexpr std::int64_t as_millis() const { return ns / 1'000'000; }

  constexpr auto operator<=>(const Duration&) const =
      default;  // NOLINT(modernize-use-nullptr): false positive
  constexpr Duration operator+(Duration o) const { return {ns + o.ns}; }
  constexpr Duration operator-(Duration o) const { return {ns - o.ns}; }
  constexpr Duration operator*(std::int64_t k) const { return {ns * k}; }
  constexpr Duration operator/(std::int64_t k) const { return {ns / k}; }
  constexpr Duration& operator+=(Duration o) {
    ns += o.ns;
    return *this;
  }
  constexpr Duration& operator-=(Duration o) {
    ns -= o.ns;
    return *this;
  }
};

// A point in time, in nanoseconds since an arbitrary epoch (CLOCK_MONOTONIC for real engines,
// zero for the simulator).
struct Instant {
  std::int64_t ns = 0;

  constexpr auto operator<=>(const Instant&) const =
      default;  // NOLINT(modernize-use-nullptr): false positive
  constexpr Instant operator+(Duration d) const { return {ns + d.ns}; }
  constexpr Instant operator-(Duration d) const { return {ns - d.ns}; }
  constexpr Duration operator-(Instant o) const { return {ns - o.ns}; }
  constexpr Instant& operator+=(Duration d) {
    ns += d.ns;
    return *this;
  }
};

// A clock that can be read. The engine uses MonotonicClock; the simulator its own virtual one.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual Instant now() const = 0;
};

}  // namespace xdptcp
