// A clock for the simulator: it stands still until the test (or SimNetwork::run_until) moves it,
// so a 100 ms RTT costs no wall time and every run with the same seed is identical
// (design brief §3 "Time is an input"; picoquic's simulator does the same).
#pragma once

#include <cassert>

#include "userstack/time/clock.h"

namespace xdptcp::sim {

class VirtualClock final : public Clock {
 public:
  explicit VirtualClock(Instant start = Instant{}) : now_(start) {}

  Instant now() const override { return now_; }

  // Moves the clock to `t`. Time never runs backwards: an earlier `t` is ignored (a caller that
  // computes "the next event" may find one already due).
  void set(Instant t) {
    if (t > now_) now_ = t;
  }
  void advance(Duration d) {
    assert(d.ns >= 0);
    now_ += d;
  }

 private:
  Instant now_;
};

}  // namespace xdptcp::sim
