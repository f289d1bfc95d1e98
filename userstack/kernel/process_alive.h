// Whether a process exists, by its pid in our pid namespace: signal 0 (kill(2)) delivers nothing and
// only checks; EPERM means it exists but is another user's. Used for the owners of steering rules,
// RX queues and queue-waiting markers.
#pragma once

#include <signal.h>

#include <cerrno>
#include <cstdint>

namespace xdptcp::kernel {

inline bool process_alive(std::uint32_t pid) {
  return pid != 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM);
}

}  // namespace xdptcp::kernel
