// Where the kernel side's benchmark threads run: thread i of a server or client on core
// (first_core + i) % cores, as the xdptcp engines are placed (StackOptions::first_core).
#pragma once

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <thread>

namespace xdptcp::bench {

inline unsigned core_count() {
  return std::max(1u, std::thread::hardware_concurrency());
}

inline unsigned core_of(unsigned first_core, unsigned i) {
  return (first_core + i) % core_count();
}

// Pins the calling thread to `cpu`.
inline void pin_to(unsigned cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

}  // namespace xdptcp::bench
