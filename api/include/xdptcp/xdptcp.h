/*
 * xdptcp: the C API, a thin layer over the C++ API (xdptcp.hpp); read that header for the
 * model. Every function taking a context runs on that engine's thread only. Functions return
 * -1 and set errno as libc does (the same meanings as the kernel's), unless noted.
 */
#ifndef XDPTCP_XDPTCP_H
#define XDPTCP_XDPTCP_H

/* A C header: typedefs and <stddef.h> on purpose. */
/* NOLINTBEGIN(modernize-use-using,modernize-deprecated-headers) */

#include <stddef.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xdptcp_stack xdptcp_stack;
typedef struct xdptcp_ctx xdptcp_ctx;

struct xdptcp_options {
  const char* iface;            /* required */
  const char* const* addresses; /* local addresses served; NULL: every address of iface */
  size_t n_addresses;
  unsigned engines;      /* 0: one per RX queue */
  const char* bind_mode; /* "auto" (NULL), "zerocopy", "copy" */
  const char* xdp_mode;  /* "auto" (NULL), "native", "generic" */
  int busy_poll;
  int pin_cores;           /* default 1 */
  size_t max_sockets;      /* per engine; default 16384 */
  unsigned rx_batch;       /* default 64 */
  unsigned sndbuf, rcvbuf; /* default 64 KiB */
};

/* Fills *o with the defaults. */
void xdptcp_options_init(struct xdptcp_options* o);
/* NULL on failure, with the reason in errbuf (what failed and what to do). */
xdptcp_stack* xdptcp_create(const struct xdptcp_options* o, char* errbuf, size_t errlen);
void xdptcp_destroy(xdptcp_stack* s);
unsigned xdptcp_engines(const xdptcp_stack* s);
/* Calls fn(ctx, arg) on every engine's thread; returns 0 when all have returned. */
int xdptcp_run(xdptcp_stack* s, void (*fn)(xdptcp_ctx* ctx, void* arg), void* arg);
/* Async-signal-safe. */
void xdptcp_stop(xdptcp_stack* s);

unsigned xdptcp_engine_id(xdptcp_ctx* c);
int xdptcp_stopping(xdptcp_ctx* c);

int xdptcp_socket(xdptcp_ctx* c, int domain, int type, int protocol);
int xdptcp_bind(xdptcp_ctx* c, int fd, const struct sockaddr* addr, socklen_t len);
int xdptcp_listen(xdptcp_ctx* c, int fd, int backlog);
int xdptcp_accept(xdptcp_ctx* c, int fd, struct sockaddr* addr, socklen_t* len);
int xdptcp_connect(xdptcp_ctx* c, int fd, const struct sockaddr* addr, socklen_t len);
ssize_t xdptcp_read(xdptcp_ctx* c, int fd, void* buf, size_t len);
ssize_t xdptcp_write(xdptcp_ctx* c, int fd, const void* buf, size_t len);
ssize_t xdptcp_readv(xdptcp_ctx* c, int fd, const struct iovec* iov, int iovcnt);
ssize_t xdptcp_writev(xdptcp_ctx* c, int fd, const struct iovec* iov, int iovcnt);
int xdptcp_shutdown(xdptcp_ctx* c, int fd, int how);
int xdptcp_close(xdptcp_ctx* c, int fd);
int xdptcp_getsockname(xdptcp_ctx* c, int fd, struct sockaddr* addr, socklen_t* len);
int xdptcp_getpeername(xdptcp_ctx* c, int fd, struct sockaddr* addr, socklen_t* len);
int xdptcp_setsockopt(xdptcp_ctx* c, int fd, int level, int name, const void* value, socklen_t len);
int xdptcp_getsockopt(xdptcp_ctx* c, int fd, int level, int name, void* value, socklen_t* len);

int xdptcp_epoll_create(xdptcp_ctx* c);
int xdptcp_epoll_ctl(xdptcp_ctx* c, int epfd, int op, int fd, struct epoll_event* event);
int xdptcp_epoll_wait(xdptcp_ctx* c, int epfd, struct epoll_event* events, int max_events, int timeout_ms);

#ifdef __cplusplus
}
#endif

/* NOLINTEND(modernize-use-using,modernize-deprecated-headers) */

#endif /* XDPTCP_XDPTCP_H */
