// Waiting for a stack socket; see blocking.h.
#include "api/preload/blocking.h"

#include <poll.h>
#include <time.h>

#include <cerrno>

#include "api/preload/libc_calls.h"

namespace xdptcp::preload {

namespace {
std::int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}
}  // namespace

Deadline::Deadline(int timeout_ms) {
  if (timeout_ms > 0) ns_ = now_ns() + static_cast<std::int64_t>(timeout_ms) * 1'000'000;
}

int Deadline::remaining_ms() const {
  if (ns_ < 0) return -1;
  const std::int64_t left = ns_ - now_ns();
  return left <= 0 ? 0 : static_cast<int>((left + 999'999) / 1'000'000);
}

int watch_sleep(int queue, int doorbell, int* sleep_ms) {
  if (*sleep_ms == 0) return -1;
  const int slot = Process::get().add_sleeper(queue, doorbell);
  if (slot < 0 && (*sleep_ms < 0 || *sleep_ms > Process::kUnwatchedSleepMs))
    *sleep_ms = Process::kUnwatchedSleepMs;
  return slot;
}

int wait_until(StackLock& lock, const std::function<bool()>& ready, const Deadline& deadline, int kernel_fd,
               bool* kernel_ready) {
  Process& p = Process::get();
  for (;;) {
    Context& ctx = p.ctx();
    ctx.poll_once();
    if (ready()) return 0;
    const int left = deadline.remaining_ms();
    if (left == 0) {
      errno = EAGAIN;
      return -1;
    }
    int ms = p.config().busy_poll ? 0 : ctx.begin_sleep(left);
    // Another thread may drive the engine meanwhile (Process::add_sleeper): its doorbell wakes us.
    const int doorbell = thread_doorbell();
    const int sleeper = watch_sleep(Process::kAnyChange, doorbell, &ms);
    lock.unlock();
    pollfd fds[3] = {{p.wake_epfd(), POLLIN, 0}, {doorbell, POLLIN, 0}, {kernel_fd, POLLIN, 0}};
    timespec ts{ms / 1000, static_cast<long>(ms % 1000) * 1'000'000};
    const int r = libc().ppoll(fds, kernel_fd >= 0 ? 3 : 2, ms < 0 ? nullptr : &ts, nullptr);
    const int err = errno;
    lock.lock();
    p.remove_sleeper(sleeper);
    if (doorbell >= 0 && (fds[1].revents & POLLIN) != 0) drain_doorbell(doorbell);
    if (p.state() != StackState::kRunning) {
      errno = EBADF;
      return -1;
    }
    p.ctx().end_sleep();
    if (r < 0 && err == EINTR) {
      errno = EINTR;
      return -1;
    }
    if (kernel_fd >= 0 && (fds[2].revents & POLLIN) != 0) {
      if (kernel_ready != nullptr) *kernel_ready = true;
      return 0;
    }
  }
}

}  // namespace xdptcp::preload
