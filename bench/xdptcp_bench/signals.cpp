// Signal handling of the server and client modes (see signals.h).
#include "bench/xdptcp_bench/signals.h"

#include <csignal>

#include "xdptcp/xdptcp.hpp"

namespace xdptcp::bench {
namespace {
std::atomic<Stack*> g_stack{nullptr};

void on_signal(int) {
  stop_flag().store(true);
  if (Stack* s = g_stack.load()) s->stop();
}
}  // namespace

std::atomic<bool>& stop_flag() {
  static std::atomic<bool> f{false};
  return f;
}

void install_stop_handlers(Stack* stack) {
  g_stack.store(stack);
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

}  // namespace xdptcp::bench
