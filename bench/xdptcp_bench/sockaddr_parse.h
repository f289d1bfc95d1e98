// Parsing "IP:PORT" / "[IPv6]:PORT" and "IP" into a sockaddr, for --target and --ip.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace xdptcp::bench {

// Fills ss/len from an address and port; false when the address is not IPv4 or IPv6.
inline bool make_sockaddr(const std::string& ip, int port, sockaddr_storage& ss, socklen_t& len) {
  std::memset(&ss, 0, sizeof ss);
  auto* a4 = reinterpret_cast<sockaddr_in*>(&ss);
  if (inet_pton(AF_INET, ip.c_str(), &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons(static_cast<uint16_t>(port));
    len = sizeof *a4;
    return true;
  }
  auto* a6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET6, ip.c_str(), &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(static_cast<uint16_t>(port));
    len = sizeof *a6;
    return true;
  }
  return false;
}

// "198.18.0.1:9000" or "[fd00::1]:9000".
inline bool parse_target(const std::string& t, sockaddr_storage& ss, socklen_t& len) {
  const auto colon = t.rfind(':');
  if (colon == std::string::npos || colon + 1 >= t.size()) return false;
  std::string host = t.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  char* end = nullptr;
  const long port = std::strtol(t.c_str() + colon + 1, &end, 10);
  if (*end != '\0' || port < 1 || port > 65535) return false;
  return make_sockaddr(host, static_cast<int>(port), ss, len);
}

}  // namespace xdptcp::bench
