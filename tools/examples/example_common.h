// What the example programs share: their command-line options (CLI11), signal handling that stops
// the stack, creating the stack with a clear message when that fails, the servers' start/run/exit
// sequence, and a main() guard that turns an escaping exception into a message and exit status 1.
#pragma once

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "tools/examples/stats_print.h"
#include "xdptcp/xdptcp.hpp"

namespace xdptcp::examples {

struct ServerOptions {
  StackOptions stack;
  std::string ip;  // listen address; empty: any (both families)
  int port = 0;
};

// The stack's options every example takes after its own (--iface is the program's: its help differs).
inline void add_stack_options(CLI::App& app, StackOptions& o) {
  app.add_option("--engines", o.engines, "engines (default: one per RX queue)");
  app.add_option("--bind-mode", o.bind_mode, "AF_XDP bind: auto|zerocopy|copy")
      ->check(CLI::IsMember({"auto", "zerocopy", "copy"}));
  app.add_option("--xdp-mode", o.xdp_mode, "XDP mode when attaching: auto|native|generic")
      ->check(CLI::IsMember({"auto", "native", "generic"}));
  app.add_flag("--busy-poll", o.busy_poll, "spin instead of sleeping (dedicated cores)");
}

inline void add_server_options(CLI::App& app, ServerOptions& o) {
  app.add_option("--iface", o.stack.iface, "interface to serve on")->required();
  app.add_option("--port", o.port, "TCP port to listen on")->required()->check(CLI::Range(1, 65535));
  app.add_option("--ip", o.ip, "address to listen on (default: every address of the interface)");
  add_stack_options(app, o.stack);
}

inline std::atomic<Stack*>& running_stack() {
  static std::atomic<Stack*> s{nullptr};
  return s;
}

inline void on_signal(int) {
  if (Stack* s = running_stack().load()) s->stop();
}

// Creates the stack or prints why not and returns nullptr.
inline std::unique_ptr<Stack> start_stack(const char* prog, const StackOptions& o) {
  if (geteuid() != 0) {
    std::fprintf(stderr, "%s: needs root (or CAP_NET_ADMIN, CAP_NET_RAW and CAP_BPF) for AF_XDP and XDP\n",
                 prog);
    return nullptr;
  }
  std::string err;
  auto s = Stack::create(o, &err);
  if (!s) {
    std::fprintf(stderr, "%s: %s\n", prog, err.c_str());
    return nullptr;
  }
  running_stack().store(s.get());
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  return s;
}

// Start-up across engines: the "listening" banner is printed once every engine listens (so a
// script that waits for it can connect at once), and a listen failure on any engine stops the
// stack and makes the program exit non-zero.
struct Startup {
  std::atomic<unsigned> ready{0};
  std::atomic<bool> failed{false};
  unsigned engines = 1;
  std::string banner;
};

inline Startup& startup() {
  static Startup s;
  return s;
}

inline void engine_listening(bool ok) {
  Startup& s = startup();
  if (!ok) {
    s.failed.store(true);
    if (Stack* st = running_stack().load()) st->stop();
    return;
  }
  if (s.ready.fetch_add(1) + 1 == s.engines) {
    std::printf("%s\n", s.banner.c_str());
    std::fflush(stdout);
  }
}

// Binds and listens on every family the options ask for; returns the number of listeners (the
// fds are written to fds[0..1]) or -1 after printing the error.
inline int listen_all(Context& ctx, const ServerOptions& o, int fds[2]) {
  int n = 0;
  auto one = [&](int family, const std::string& ip) -> bool {
    sockaddr_storage ss{};
    socklen_t len = 0;
    if (family == AF_INET) {
      auto* a = reinterpret_cast<sockaddr_in*>(&ss);
      a->sin_family = AF_INET;
      a->sin_port = htons(static_cast<uint16_t>(o.port));
      if (!ip.empty() && inet_pton(AF_INET, ip.c_str(), &a->sin_addr) != 1) return false;
      len = sizeof *a;
    } else {
      auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
      a->sin6_family = AF_INET6;
      a->sin6_port = htons(static_cast<uint16_t>(o.port));
      if (!ip.empty() && inet_pton(AF_INET6, ip.c_str(), &a->sin6_addr) != 1) return false;
      len = sizeof *a;
    }
    const int fd = ctx.socket(family);
    if (fd < 0 || ctx.bind(fd, reinterpret_cast<sockaddr*>(&ss), len) < 0 || ctx.listen(fd, 4096) < 0) {
      std::fprintf(stderr, "engine %u: listen on port %d (%s): %s\n", ctx.engine_id(), o.port,
                   family == AF_INET ? "IPv4" : "IPv6", std::strerror(errno));
      return false;
    }
    fds[n++] = fd;
    return true;
  };
  if (o.ip.empty()) {
    if (!one(AF_INET, "") || !one(AF_INET6, "")) return -1;
  } else {
    const int fam = o.ip.find(':') != std::string::npos ? AF_INET6 : AF_INET;
    if (!one(fam, o.ip)) {
      if (n == 0) std::fprintf(stderr, "--ip: '%s' is not a usable address\n", o.ip.c_str());
      return -1;
    }
  }
  return n;
}

// The servers' life after option parsing: start the stack (exit 2 when it cannot), print
// "<prog>: listening on ADDR port P<detail>; <stack>" once every engine listens, run serve(ctx) on
// every engine, print the counters when asked, and exit 1 when an engine could not listen.
template <typename Serve>
int run_server(const char* prog, const ServerOptions& o, const std::string& detail, bool stats_on_exit,
               Serve&& serve) {
  auto stack = start_stack(prog, o.stack);
  if (!stack) return 2;
  startup().banner = std::string(prog) + ": listening on " + (o.ip.empty() ? "every address" : o.ip) +
                     " port " + std::to_string(o.port) + detail + "; " + stack->describe();
  startup().engines = stack->engines();
  std::vector<ContextStats> stats(stack->engines());
  stack->run([&](Context& ctx) {
    serve(ctx);
    stats[ctx.engine_id()] = ctx.stats();  // each engine writes its own slot
  });
  if (stats_on_exit) print_stats(stdout, stats);
  if (startup().failed.load()) {
    std::fprintf(stderr, "%s: could not listen on every engine; stopped\n", prog);
    return 1;
  }
  std::printf("%s: stopped\n", prog);
  return 0;
}

// Runs a program's main body; an exception that escapes it (CLI11's own errors included, should
// printing help fail) is reported as "<prog>: what" with exit status 1 instead of std::terminate.
template <typename Body>
int guarded_main(const char* prog, Body&& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", prog, e.what());
  } catch (...) {
    std::fprintf(stderr, "%s: unknown exception\n", prog);
  }
  return 1;
}

}  // namespace xdptcp::examples
