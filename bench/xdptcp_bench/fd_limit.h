// The file-descriptor limit of the benchmark's client and server: the kernel-stack runs open one
// socket per connection, so the soft RLIMIT_NOFILE is raised to the hard one before they start.
#pragma once

#include <sys/resource.h>

#include <cstddef>

namespace xdptcp::bench {

// Raises the soft limit as far as the hard one allows; returns the limit now in force, capped at
// 2^20 (what the per-fd tables of the loops are sized by).
inline std::size_t raise_fd_limit() {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  getrlimit(RLIMIT_NOFILE, &rl);
  return rl.rlim_cur > (1u << 20) ? (1u << 20) : static_cast<std::size_t>(rl.rlim_cur);
}

}  // namespace xdptcp::bench
