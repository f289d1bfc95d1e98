// xdptcp-echo: an echo server on the user-level stack. Every engine listens on the port and
// echoes what each connection sends, with back-pressure: when a write is short the rest waits
// for EPOLLOUT and reading pauses until it has gone.
#include <arpa/inet.h>

#include <cerrno>
#include <cstring>

#include "tools/examples/conn_table.h"
#include "tools/examples/example_common.h"

using namespace xdptcp;
using namespace xdptcp::examples;

namespace {

constexpr std::size_t kBuf = std::size_t{64} * 1024;

void serve(Context& ctx, const ServerOptions& o) {
  int lfd[2] = {-1, -1};
  const int nl = listen_all(ctx, o, lfd);
  engine_listening(nl > 0);
  if (nl < 0) return;
  const int ep = ctx.epoll_create();
  for (int i = 0; i < nl; ++i) {
    epoll_event ev{EPOLLIN, {}};
    ev.data.fd = lfd[i];
    ctx.epoll_ctl(ep, EPOLL_CTL_ADD, lfd[i], &ev);
  }
  std::vector<Conn> conns(o.stack.max_sockets);
  // One read buffer for every connection: a connection keeps bytes of its own (cn.out) only
  // when a write was short, so an idle one costs the application nothing (as the stack's
  // buffers, docs/ARCHITECTURE.md "Memory").
  std::vector<char> scratch(kBuf);
  std::vector<epoll_event> evs(256);
  auto drop = [&](int fd) {
    ctx.close(fd);
    conns[static_cast<std::size_t>(fd)].open = false;
  };
  while (!ctx.stopping()) {
    const int n = ctx.epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), 100);
    for (int i = 0; i < n; ++i) {
      const int fd = evs[static_cast<std::size_t>(i)].data.fd;
      if (fd == lfd[0] || fd == lfd[1]) {
        for (;;) {
          const int c = ctx.accept(fd, nullptr, nullptr);
          if (c < 0) break;
          Conn& cn = conns[static_cast<std::size_t>(c)];
          cn.open = true;
          cn.out_off = cn.out_len = 0;
          epoll_event ev{EPOLLIN | EPOLLRDHUP, {}};
          ev.data.fd = c;
          ctx.epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
        }
        continue;
      }
      Conn& cn = conns[static_cast<std::size_t>(fd)];
      if (!cn.open) continue;
      // Flush what is pending first; read more only when nothing is.
      while (cn.out_len > 0) {
        const ssize_t w = ctx.write(fd, cn.out.data() + cn.out_off, cn.out_len);
        if (w < 0) break;
        cn.out_off += static_cast<std::size_t>(w);
        cn.out_len -= static_cast<std::size_t>(w);
      }
      if (cn.out_len > 0) {
        if (errno != EAGAIN) drop(fd);
        continue;
      }
      bool eof = false;
      for (;;) {
        const ssize_t r = ctx.read(fd, scratch.data(), kBuf);
        if (r == 0) {
          eof = true;
          break;
        }
        if (r < 0) {
          if (errno != EAGAIN) eof = true;
          break;
        }
        const ssize_t w = ctx.write(fd, scratch.data(), static_cast<std::size_t>(r));
        const std::size_t done = w < 0 ? 0 : static_cast<std::size_t>(w);
        if (done < static_cast<std::size_t>(r)) {
          // Back-pressure: the rest waits in the connection's own buffer (made the first time
          // the slot needs it, then kept with the slot).
          if (cn.out.size() != kBuf) cn.out.resize(kBuf);
          cn.out_off = 0;
          cn.out_len = static_cast<std::size_t>(r) - done;
          std::memcpy(cn.out.data(), scratch.data() + done, cn.out_len);
          break;
        }
      }
      epoll_event ev{static_cast<uint32_t>(cn.out_len > 0 ? EPOLLOUT : (EPOLLIN | EPOLLRDHUP)), {}};
      ev.data.fd = fd;
      if (eof && cn.out_len == 0) {
        drop(fd);
      } else {
        ctx.epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  return guarded_main("xdptcp-echo", [&] {
    CLI::App app{"xdptcp-echo: an echo server on the xdptcp user-level TCP stack"};
    ServerOptions o;
    add_server_options(app, o);
    bool stats_on_exit = false;
    app.add_flag("--stats-on-exit", stats_on_exit, "print every engine's counters when stopping");
    CLI11_PARSE(app, argc, argv);
    return run_server("xdptcp-echo", o, "", stats_on_exit, [&](Context& ctx) { serve(ctx, o); });
  });
}
