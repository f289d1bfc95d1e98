// dlsym(RTLD_NEXT) for every call the preload library interposes; see libc_calls.h.
#include "api/preload/libc_calls.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace xdptcp::preload {

namespace {

template <typename F>
void resolve(F*& out, const char* name) {
  void* p = dlsym(RTLD_NEXT, name);
  if (p == nullptr) {
    // Nothing can work without the C library's own call: say which, and stop.
    const char* msg = "xdptcp-preload: the C library has no ";
    (void)!::write(2, msg, std::strlen(msg));
    (void)!::write(2, name, std::strlen(name));
    (void)!::write(2, "\n", 1);
    std::abort();
  }
  out = reinterpret_cast<F*>(p);
}

LibcCalls load() {
  LibcCalls c{};
  resolve(c.socket, "socket");
  resolve(c.bind, "bind");
  resolve(c.listen, "listen");
  resolve(c.accept4, "accept4");
  resolve(c.connect, "connect");
  resolve(c.read, "read");
  resolve(c.readv, "readv");
  resolve(c.write, "write");
  resolve(c.writev, "writev");
  resolve(c.recvfrom, "recvfrom");
  resolve(c.recvmsg, "recvmsg");
  resolve(c.sendto, "sendto");
  resolve(c.sendmsg, "sendmsg");
  resolve(c.sendfile, "sendfile");
  resolve(c.close, "close");
  resolve(c.shutdown, "shutdown");
  resolve(c.fcntl, "fcntl64");
  resolve(c.ioctl, "ioctl");
  resolve(c.getsockopt, "getsockopt");
  resolve(c.setsockopt, "setsockopt");
  resolve(c.getsockname, "getsockname");
  resolve(c.getpeername, "getpeername");
  resolve(c.dup, "dup");
  resolve(c.dup2, "dup2");
  resolve(c.dup3, "dup3");
  resolve(c.epoll_create1, "epoll_create1");
  resolve(c.epoll_ctl, "epoll_ctl");
  resolve(c.epoll_pwait, "epoll_pwait");
  resolve(c.ppoll, "ppoll");
  resolve(c.pselect, "pselect");
  return c;
}

}  // namespace

const LibcCalls& libc() {
  static const LibcCalls calls = load();
  return calls;
}

}  // namespace xdptcp::preload
