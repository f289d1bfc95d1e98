// Sockets made inside another network namespace from the test process itself: the calling thread
// enters the namespace (setns), creates the socket, and comes back. A socket stays in the namespace
// it was created in, so the test can then send on it from its own namespace, without a child process.
#pragma once

#include <functional>
#include <string>

#include "userstack/base/result.h"

namespace xdptcp::test {

// Runs `fn` with the calling thread in network namespace `ns` (/run/netns/<ns>, as `ip netns` names
// them) and returns it to its own namespace afterwards. Returns what `fn` returned.
Result<int> in_netns_thread(const std::string& ns, const std::function<Result<int>()>& fn);

// An AF_PACKET raw socket bound to `ifname` in namespace `ns`: send() on it puts whole Ethernet
// frames on that interface. The caller closes the fd.
Result<int> packet_socket_in(const std::string& ns, const std::string& ifname);

// A TCP listener on addr:port (IPv4) in namespace `ns` with the given backlog; never accepts. The
// caller closes the fd.
Result<int> tcp_listener_in(const std::string& ns, const std::string& addr, int port, int backlog);

}  // namespace xdptcp::test
