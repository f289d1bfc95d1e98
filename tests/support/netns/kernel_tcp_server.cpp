// KernelTcpServer: a one-line request/response server on the kernel's TCP; see kernel_tcp_server.h.
#include "support/netns/kernel_tcp_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace xdptcp::test {

Result<std::unique_ptr<KernelTcpServer>> KernelTcpServer::start(const std::string& addr, std::uint16_t port,
                                                                std::string prefix) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  const bool v6 = addr.find(':') != std::string::npos;
  if (v6) {
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(port);
    if (inet_pton(AF_INET6, addr.c_str(), &s6->sin6_addr) != 1)
      return Error{EINVAL, "bad IPv6 address " + addr};
    len = sizeof(sockaddr_in6);
  } else {
    auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
    s4->sin_family = AF_INET;
    s4->sin_port = htons(port);
    if (inet_pton(AF_INET, addr.c_str(), &s4->sin_addr) != 1)
      return Error{EINVAL, "bad IPv4 address " + addr};
    len = sizeof(sockaddr_in);
  }
  const int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno_error("socket() for the kernel test server");
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(fd, 64) != 0) {
    Error e = errno_error("binding the kernel test server to " + addr + " port " + std::to_string(port));
    ::close(fd);
    return e;
  }
  return std::unique_ptr<KernelTcpServer>(new KernelTcpServer(fd, std::move(prefix)));
}

KernelTcpServer::KernelTcpServer(int fd, std::string prefix) : fd_(fd), prefix_(std::move(prefix)) {
  thread_ = std::thread([this] { serve(); });
}

KernelTcpServer::~KernelTcpServer() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  ::close(fd_);
}

void KernelTcpServer::serve() {
  while (!stop_) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) continue;
    // Read one line (or until the client half-closes), with a bound on time and size.
    std::string line;
    char buf[512];
    for (int i = 0; i < 40 && line.find('\n') == std::string::npos && line.size() < 4096; ++i) {
      pollfd cp{c, POLLIN, 0};
      if (::poll(&cp, 1, 50) <= 0) continue;
      const ssize_t n = ::recv(c, buf, sizeof(buf), 0);
      if (n <= 0) break;
      line.append(buf, static_cast<std::size_t>(n));
    }
    if (const auto nl = line.find('\n'); nl != std::string::npos) line.resize(nl);
    const std::string reply = prefix_ + line + "\n";
    (void)::send(c, reply.data(), reply.size(), MSG_NOSIGNAL);
    ::close(c);
    ++served_;
  }
}

}  // namespace xdptcp::test
