// Shared by the files that define the interposed C symbols.
#pragma once

#define XDPTCP_EXPORT extern "C" __attribute__((visibility("default")))

#include <cerrno>

namespace xdptcp::preload {

inline int set_errno(int e) {
  errno = e;
  return -1;
}

}  // namespace xdptcp::preload
