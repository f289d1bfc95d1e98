// TCP_INFO in Linux's layout (struct tcp_info of <linux/tcp.h>, which glibc's <netinet/tcp.h>
// truncates) from the stack's snapshot: the fields the stack tracks, zero elsewhere (see
// userstack/tcp/tcp_info.h). A separate file because <linux/tcp.h> and <netinet/tcp.h> clash.
#pragma once

#include <sys/socket.h>

#include "userstack/tcp/tcp_info.h"

namespace xdptcp::detail {

// Copies at most *len bytes, as the kernel does, and sets *len to what was copied.
void linux_tcp_info(const tcp::TcpInfoSnapshot& s, void* out, socklen_t* len);

}  // namespace xdptcp::detail
