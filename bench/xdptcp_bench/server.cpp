// The benchmark server on either stack (see server.h).
#include "bench/xdptcp_bench/server.h"

#include <netinet/tcp.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include "bench/xdptcp_bench/core_pinning.h"
#include "bench/xdptcp_bench/engine_report.h"
#include "bench/xdptcp_bench/fd_limit.h"
#include "bench/xdptcp_bench/kernel_busy_poll.h"
#include "bench/xdptcp_bench/net_kernel.h"
#include "bench/xdptcp_bench/net_xdptcp.h"
#include "bench/xdptcp_bench/server_loop.h"
#include "bench/xdptcp_bench/signals.h"
#include "bench/xdptcp_bench/sockaddr_parse.h"
#include "xdptcp/xdptcp.hpp"

namespace xdptcp::bench {
namespace {

void sum_into(ServerCounters& t, const ServerCounters& c) {
  t.accepted += c.accepted;
  t.closed += c.closed;
  t.bytes_in += c.bytes_in;
  t.bytes_out += c.bytes_out;
  t.errors += c.errors;
}

void print_totals(const char* stack, const std::vector<ServerCounters>& per) {
  ServerCounters t;
  for (const auto& c : per) sum_into(t, c);
  std::fprintf(stderr,
               "xdptcp-bench server (%s): accepted %llu, closed %llu, bytes in %llu, bytes out %llu, errors "
               "%llu\n",
               stack, static_cast<unsigned long long>(t.accepted), static_cast<unsigned long long>(t.closed),
               static_cast<unsigned long long>(t.bytes_in), static_cast<unsigned long long>(t.bytes_out),
               static_cast<unsigned long long>(t.errors));
}

void announce_ready(const char* what) {
  std::printf("ready: %s\n", what);
  std::fflush(stdout);
}

// A kernel listener with SO_REUSEPORT (one per thread: the kernel spreads connections over them
// by hash, with no shared accept queue) and TCP_NODELAY (inherited by accepted sockets). With
// pinning, SO_INCOMING_CPU ties listener i to core i: since Linux 6.2 the reuseport group then hands a
// connection to the listener of the core its packets arrive on (locality, as a tuned kernel server has).
int kernel_listener(const ServerOptions& o, int incoming_cpu) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (!make_sockaddr(o.ip.empty() ? "0.0.0.0" : o.ip, o.port, ss, len)) {
    std::fprintf(stderr, "server: --ip '%s' is not an IPv4/IPv6 address\n", o.ip.c_str());
    return -1;
  }
  const int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (incoming_cpu >= 0) ::setsockopt(fd, SOL_SOCKET, SO_INCOMING_CPU, &incoming_cpu, sizeof incoming_cpu);
  // --busy-poll: accepted sockets inherit the listener's busy-poll options (kernel_busy_poll.h).
  if (o.busy_poll) {
    const std::string failed = busy_poll_socket(fd);
    if (!failed.empty()) std::fprintf(stderr, "server: busy polling on the listener:%s\n", failed.c_str());
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) < 0 || ::listen(fd, 4096) < 0) {
    std::fprintf(stderr, "server: bind/listen on %s port %d: %s\n", o.ip.c_str(), o.port,
                 std::strerror(errno));
    ::close(fd);
    return -1;
  }
  return fd;
}

int run_kernel(const ServerOptions& o) {
  install_stop_handlers(nullptr);
  const unsigned n = o.threads != 0 ? o.threads : core_count();
  const std::size_t max_fd = raise_fd_limit();
  std::vector<int> lfds;
  for (unsigned i = 0; i < n; ++i) {
    const int fd = kernel_listener(o, o.pin ? static_cast<int>(core_of(o.first_core, i)) : -1);
    if (fd < 0) return 2;
    lfds.push_back(fd);
  }
  announce_ready(
      o.busy_poll ? "kernel (busy-poll: SO_BUSY_POLL, SO_PREFER_BUSY_POLL, SO_BUSY_POLL_BUDGET, EPIOCSPARAMS)"
                  : "kernel");
  std::vector<ServerCounters> per(n);
  std::vector<std::thread> threads;
  for (unsigned i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      if (o.pin) pin_to(core_of(o.first_core, i));
      KernelNet net(stop_flag(), o.busy_poll);
      if (!net.busy_poll_failures().empty())
        std::fprintf(stderr, "server: thread %u: busy polling:%s\n", i, net.busy_poll_failures().c_str());
      auto loop = std::make_unique<ServerLoop<KernelNet>>(net, serve_mode(o.workload), max_fd);
      loop->run(lfds[i], per[i]);
    });
  }
  for (auto& t : threads) t.join();
  for (int fd : lfds) ::close(fd);
  print_totals("kernel", per);
  return 0;
}

int run_xdptcp(const ServerOptions& o) {
  if (o.iface.empty()) {
    std::fprintf(stderr, "server: --stack xdptcp needs --iface\n");
    return 2;
  }
  StackOptions so;
  so.iface = o.iface;
  so.engines = o.threads;
  so.busy_poll = o.busy_poll;
  so.pin_cores = o.pin;
  so.first_core = o.first_core;
  so.rx_batch = o.rx_batch;
  if (o.spin_us >= 0) so.spin_us = static_cast<std::uint32_t>(o.spin_us);
  if (!o.ip.empty()) so.addresses.push_back(o.ip);
  std::string err;
  auto stack = Stack::create(so, &err);
  if (!stack) {
    std::fprintf(stderr, "server: %s\n", err.c_str());
    return 2;
  }
  install_stop_handlers(stack.get());
  std::fprintf(stderr, "xdptcp-bench server: %s\n", stack->describe().c_str());
  const unsigned n = stack->engines();
  std::vector<ServerCounters> per(n);
  std::vector<ContextStats> stats(n);
  std::atomic<unsigned> listening{0};
  std::atomic<bool> failed{false};
  stack->run([&](Context& ctx) {
    sockaddr_storage ss{};
    socklen_t len = 0;
    make_sockaddr(o.ip.empty() ? "0.0.0.0" : o.ip, o.port, ss, len);
    const int lfd = ctx.socket(ss.ss_family);
    if (lfd < 0 || ctx.bind(lfd, reinterpret_cast<sockaddr*>(&ss), len) < 0 || ctx.listen(lfd, 4096) < 0) {
      std::fprintf(stderr, "server: engine %u: listen on port %d: %s\n", ctx.engine_id(), o.port,
                   std::strerror(errno));
      failed = true;
      stack->stop();
      return;
    }
    if (listening.fetch_add(1) + 1 == n) announce_ready("xdptcp");
    XdptcpNet net(ctx);
    auto loop = std::make_unique<ServerLoop<XdptcpNet>>(net, serve_mode(o.workload), so.max_sockets);
    loop->run(lfd, per[ctx.engine_id()]);
    ctx.close(lfd);
    stats[ctx.engine_id()] = ctx.stats();
  });
  print_totals("xdptcp", per);
  print_engine_report("server", stats);
  return failed ? 2 : 0;
}

}  // namespace

int run_server(const ServerOptions& o) {
  return o.stack == "xdptcp" ? run_xdptcp(o) : run_kernel(o);
}

}  // namespace xdptcp::bench
