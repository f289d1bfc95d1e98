/* xdptcp-echo-c: the echo server in C, on the C API (api/include/xdptcp/xdptcp.h): the complete
 * example of docs/API.md. Usage: xdptcp-echo-c IFACE PORT */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xdptcp/xdptcp.h"

static xdptcp_stack* g_stack;
static int g_port;

static void on_signal(int sig) {
  (void)sig;
  xdptcp_stop(g_stack);
}

/* Runs on every engine's thread with that engine's context. */
static void serve(xdptcp_ctx* c, void* arg) {
  (void)arg;
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)g_port);
  int l = xdptcp_socket(c, AF_INET, SOCK_STREAM, 0);
  if (l < 0 || xdptcp_bind(c, l, (struct sockaddr*)&a, sizeof a) < 0 || xdptcp_listen(c, l, 1024) < 0) {
    fprintf(stderr, "engine %u: listen: %s\n", xdptcp_engine_id(c), strerror(errno));
    return;
  }
  int ep = xdptcp_epoll_create(c);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = l};
  xdptcp_epoll_ctl(c, ep, EPOLL_CTL_ADD, l, &ev);
  struct epoll_event evs[64];
  char buf[16384];
  while (!xdptcp_stopping(c)) {
    int n = xdptcp_epoll_wait(c, ep, evs, 64, 100);
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (fd == l) {
        int s;
        while ((s = xdptcp_accept(c, l, NULL, NULL)) >= 0) {
          struct epoll_event cev = {.events = EPOLLIN | EPOLLRDHUP, .data.fd = s};
          xdptcp_epoll_ctl(c, ep, EPOLL_CTL_ADD, s, &cev);
        }
        continue;
      }
      ssize_t r;
      while ((r = xdptcp_read(c, fd, buf, sizeof buf)) > 0) {
        /* A short write drops the rest: a real server keeps it and waits for EPOLLOUT
         * (tools/examples/echo_main.cpp does). */
        xdptcp_write(c, fd, buf, (size_t)r);
      }
      if (r == 0 || (r < 0 && errno != EAGAIN)) xdptcp_close(c, fd);
    }
  }
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s IFACE PORT\n", argv[0]);
    return 1;
  }
  g_port = atoi(argv[2]);
  if (g_port <= 0 || g_port > 65535) {
    fprintf(stderr, "PORT: '%s' is not a port (1-65535)\n", argv[2]);
    return 1;
  }
  struct xdptcp_options o;
  xdptcp_options_init(&o);
  o.iface = argv[1];
  char err[256];
  g_stack = xdptcp_create(&o, err, sizeof err);
  if (g_stack == NULL) {
    fprintf(stderr, "xdptcp-echo-c: %s\n", err);
    return 2;
  }
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  printf("xdptcp-echo-c: %u engine(s) on %s, port %d\n", xdptcp_engines(g_stack), argv[1], g_port);
  fflush(stdout);
  xdptcp_run(g_stack, serve, NULL);
  xdptcp_destroy(g_stack);
  return 0;
}
