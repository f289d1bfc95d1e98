// The real clock of an engine: CLOCK_MONOTONIC, read once per loop iteration (design brief §2).
// Tests and the simulator use a virtual clock instead; nothing in userstack/tcp reads a clock.
#pragma once

#include <ctime>

#include "userstack/time/clock.h"

namespace xdptcp {

class MonotonicClock final : public Clock {
 public:
  // clock_gettime(CLOCK_MONOTONIC) goes through the vDSO: no system call on Linux.
  static Instant read() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return Instant{static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec};
  }
  Instant now() const override { return read(); }
};

}  // namespace xdptcp
