// Blocking calls on stack sockets: the application made its socket blocking (the default), so a
// call that would return EAGAIN waits, sleeping in the kernel on the engine's wake-up descriptor
// (and, for a listener, on its kernel side) with the process lock released. Never spins unless the
// user asked for busy polling (XDPTCP_BUSY_POLL).
#pragma once

#include <cstdint>
#include <functional>

#include "api/preload/process_state.h"

namespace xdptcp::preload {

// A point in CLOCK_MONOTONIC time after timeout_ms (<0 or 0 for "none": never expires).
struct Deadline {
  explicit Deadline(int timeout_ms);
  bool forever() const { return ns_ < 0; }
  // Milliseconds left (rounded up), 0 when passed, -1 forever.
  int remaining_ms() const;

 private:
  std::int64_t ns_ = -1;
};

// With the lock held and a sleep of *sleep_ms ahead (0: none, -1: unbounded): registers the
// sleeping thread (Process::add_sleeper) and returns its slot for remove_sleeper, or -1; the sleep
// is bounded to Process::kUnwatchedSleepMs when it could not be registered.
int watch_sleep(int queue, int doorbell, int* sleep_ms);

// With `lock` held: drives the engine until ready() is true. Sleeps between polls with the lock
// released. kernel_fd (or -1) is also slept on for POLLIN; when it becomes readable, *kernel_ready
// is set and the wait ends. Returns 0, or -1 with errno EINTR (a signal: the kernel's call would
// return EINTR too) or EAGAIN (the deadline passed, as SO_RCVTIMEO's expiry does).
int wait_until(StackLock& lock, const std::function<bool()>& ready, const Deadline& deadline,
               int kernel_fd = -1, bool* kernel_ready = nullptr);

}  // namespace xdptcp::preload
