// Sockets made inside another network namespace; see netns_socket.h.
#include "integration/afxdp/netns_socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

namespace xdptcp::test {

Result<int> in_netns_thread(const std::string& ns, const std::function<Result<int>()>& fn) {
  const int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (self < 0) return errno_error("cannot open /proc/thread-self/ns/net");
  const std::string path = "/run/netns/" + ns;
  const int target = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    Error e = errno_error("cannot open " + path + " (is the sandbox up?)");
    close(self);
    return e;
  }
  if (setns(target, CLONE_NEWNET) != 0) {
    Error e = errno_error("setns into " + ns + " (needs root)");
    close(target);
    close(self);
    return e;
  }
  Result<int> r = fn();
  // Back home; a thread left in the peer namespace would run the rest of the test there.
  const bool back = setns(self, CLONE_NEWNET) == 0;
  close(target);
  close(self);
  if (!back) return errno_error("setns back into the test's own namespace");
  return r;
}

Result<int> packet_socket_in(const std::string& ns, const std::string& ifname) {
  return in_netns_thread(ns, [&]() -> Result<int> {
    const unsigned idx = if_nametoindex(ifname.c_str());
    if (idx == 0) return errno_error("no interface " + ifname + " in namespace " + ns);
    const int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);  // protocol 0: send only
    if (fd < 0) return errno_error("AF_PACKET socket");
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_ifindex = static_cast<int>(idx);
    sll.sll_protocol = 0;
    if (bind(fd, reinterpret_cast<sockaddr*>(&sll), sizeof sll) != 0) {
      Error e = errno_error("bind AF_PACKET socket to " + ifname);
      close(fd);
      return e;
    }
    return fd;
  });
}

Result<int> tcp_listener_in(const std::string& ns, const std::string& addr, int port, int backlog) {
  return in_netns_thread(ns, [&]() -> Result<int> {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return errno_error("TCP socket");
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    if (inet_pton(AF_INET, addr.c_str(), &a.sin_addr) != 1) {
      close(fd);
      return Error{EINVAL, "not an IPv4 address: " + addr};
    }
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd, backlog) != 0) {
      Error e = errno_error("listen on " + addr + ":" + std::to_string(port) + " in " + ns);
      close(fd);
      return e;
    }
    return fd;
  });
}

}  // namespace xdptcp::test
