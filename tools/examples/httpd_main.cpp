// xdptcp-httpd: an HTTP/1.1 server on the user-level stack that answers every GET with a body of
// --body-size bytes. Keep-alive by default (HTTP/1.1), "Connection: close" honoured, HTTP/1.0
// closes unless it asks for keep-alive; pipelined requests are answered in order, one response
// at a time (a request is not parsed until the previous response has been written out).
#include <arpa/inet.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>

#include "tools/examples/conn_table.h"
#include "tools/examples/example_common.h"

using namespace xdptcp;
using namespace xdptcp::examples;

namespace {

constexpr std::size_t kInBuf = std::size_t{16} * 1024;
constexpr std::size_t kHeaderMax = 512;

struct Server {
  Context& ctx;
  const ServerOptions& o;
  std::uint64_t body_size;
  std::vector<char> body;  // a chunk of the body, sent repeatedly
  std::vector<Conn> conns;
  int ep = -1;
};

bool contains_ci(std::string_view hay, std::string_view needle) {
  return std::search(hay.begin(), hay.end(), needle.begin(), needle.end(),
                     [](char a, char b) { return std::tolower(a) == std::tolower(b); }) != hay.end();
}

// Writes pending header and body bytes; true when the response is complete.
bool send_pending(Server& s, int fd, Conn& c) {
  while (c.header_left > 0) {
    const ssize_t w = s.ctx.write(fd, c.out.data() + c.out_off, c.header_left);
    if (w <= 0) return false;
    c.out_off += static_cast<std::size_t>(w);
    c.header_left -= static_cast<std::uint32_t>(w);
  }
  while (c.body_left > 0) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(c.body_left, s.body.size()));
    const ssize_t w = s.ctx.write(fd, s.body.data(), n);
    if (w <= 0) return false;
    c.body_left -= static_cast<std::uint64_t>(w);
  }
  return true;
}

// Handles complete requests in c.in; returns false when the connection must close now.
bool handle_requests(Server& s, int fd, Conn& c) {
  for (;;) {
    if (c.header_left > 0 || c.body_left > 0) {
      if (!send_pending(s, fd, c)) return errno == EAGAIN;
    }
    if (c.close_after) return false;
    const std::string_view in(c.in.data(), c.in_len);
    const std::size_t end = in.find("\r\n\r\n");
    if (end == std::string_view::npos) {
      // A request head that does not fit the buffer is refused, as servers do (431).
      return c.in_len < c.in.size();
    }
    const std::string_view head = in.substr(0, end + 4);
    const bool http10 = head.find("HTTP/1.0") != std::string_view::npos;
    const bool is_get = head.substr(0, 4) == "GET " || head.substr(0, 5) == "HEAD ";
    c.close_after =
        http10 ? !contains_ci(head, "connection: keep-alive") : contains_ci(head, "connection: close");
    const int hl =
        std::snprintf(c.out.data(), kHeaderMax,
                      is_get ? "HTTP/1.1 200 OK\r\nServer: xdptcp-httpd\r\nContent-Length: %llu\r\n"
                               "Content-Type: application/octet-stream\r\n%s\r\n"
                             : "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n%.0llu%s\r\n",
                      static_cast<unsigned long long>(is_get ? s.body_size : 0),
                      c.close_after ? "Connection: close\r\n" : (http10 ? "Connection: keep-alive\r\n" : ""));
    c.out_off = 0;
    c.header_left = static_cast<std::uint32_t>(hl);
    c.body_left = is_get && head.substr(0, 4) == "GET " ? s.body_size : 0;
    // Consume the request (requests carry no body in this server: GET/HEAD).
    std::memmove(c.in.data(), c.in.data() + head.size(), c.in_len - head.size());
    c.in_len -= head.size();
  }
}

void close_conn(Server& s, int fd) {
  s.ctx.close(fd);
  s.conns[static_cast<std::size_t>(fd)].open = false;
}

void serve(Context& ctx, const ServerOptions& o, std::uint64_t body_size) {
  Server s{ctx,
           o,
           body_size,
           std::vector<char>(
               std::min<std::uint64_t>(std::max<std::uint64_t>(body_size, 1), std::uint64_t{64} * 1024), 'x'),
           std::vector<Conn>(o.stack.max_sockets),
           -1};
  int lfd[2] = {-1, -1};
  const int nl = listen_all(ctx, o, lfd);
  engine_listening(nl > 0);
  if (nl < 0) return;
  s.ep = ctx.epoll_create();
  for (int i = 0; i < nl; ++i) {
    epoll_event ev{EPOLLIN, {}};
    ev.data.fd = lfd[i];
    ctx.epoll_ctl(s.ep, EPOLL_CTL_ADD, lfd[i], &ev);
  }
  std::vector<epoll_event> evs(256);
  while (!ctx.stopping()) {
    const int n = ctx.epoll_wait(s.ep, evs.data(), static_cast<int>(evs.size()), 100);
    for (int i = 0; i < n; ++i) {
      const int fd = evs[static_cast<std::size_t>(i)].data.fd;
      if (fd == lfd[0] || fd == lfd[1]) {
        for (;;) {
          const int c = ctx.accept(fd, nullptr, nullptr);
          if (c < 0) break;
          Conn& cn = s.conns[static_cast<std::size_t>(c)];
          cn.open = true;
          cn.close_after = false;
          cn.in_len = cn.out_off = 0;
          cn.header_left = 0;
          cn.body_left = 0;
          if (cn.in.size() != kInBuf) cn.in.resize(kInBuf);
          if (cn.out.size() != kHeaderMax) cn.out.resize(kHeaderMax);
          int one = 1;
          ctx.setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          epoll_event ev{EPOLLIN | EPOLLRDHUP, {}};
          ev.data.fd = c;
          ctx.epoll_ctl(s.ep, EPOLL_CTL_ADD, c, &ev);
        }
        continue;
      }
      Conn& cn = s.conns[static_cast<std::size_t>(fd)];
      if (!cn.open) continue;
      bool peer_done = false;
      while (cn.in_len < cn.in.size()) {
        const ssize_t r = ctx.read(fd, cn.in.data() + cn.in_len, cn.in.size() - cn.in_len);
        if (r > 0) {
          cn.in_len += static_cast<std::size_t>(r);
          continue;
        }
        if (r == 0 || errno != EAGAIN) peer_done = true;
        break;
      }
      const bool keep = handle_requests(s, fd, cn);
      const bool pending = cn.header_left > 0 || cn.body_left > 0;
      if (!keep || (peer_done && !pending)) {
        close_conn(s, fd);
        continue;
      }
      epoll_event ev{static_cast<uint32_t>(pending ? (EPOLLOUT | EPOLLRDHUP) : (EPOLLIN | EPOLLRDHUP)), {}};
      ev.data.fd = fd;
      ctx.epoll_ctl(s.ep, EPOLL_CTL_MOD, fd, &ev);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  return guarded_main("xdptcp-httpd", [&] {
    CLI::App app{"xdptcp-httpd: an HTTP/1.1 server on the xdptcp user-level TCP stack"};
    ServerOptions o;
    std::uint64_t body_size = 64;
    add_server_options(app, o);
    bool stats_on_exit = false;
    app.add_flag("--stats-on-exit", stats_on_exit, "print every engine's counters when stopping");
    app.add_option("--body-size", body_size, "bytes in every response body")
        ->check(CLI::Range(0ULL, 1ULL << 34));
    CLI11_PARSE(app, argc, argv);
    return run_server("xdptcp-httpd", o, ", " + std::to_string(body_size) + "-byte bodies", stats_on_exit,
                      [&](Context& ctx) { serve(ctx, o, body_size); });
  });
}
