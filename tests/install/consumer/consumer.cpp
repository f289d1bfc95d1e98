// Uses the installed C++ and C headers; creating a stack on a missing interface must fail with a
// message naming it (no root needed).
#include <xdptcp/xdptcp.h>
#include <xdptcp/xdptcp.hpp>

#include <cstdio>

int main() {
  std::string err;
  auto s = xdptcp::Stack::create({.iface = "xdptcp-none0"}, &err);
  std::printf("C++: %s\n", err.c_str());
  xdptcp_options o;
  xdptcp_options_init(&o);
  o.iface = "xdptcp-none0";
  char buf[256] = {};
  xdptcp_stack* c = xdptcp_create(&o, buf, sizeof buf);
  std::printf("C: %s\n", buf);
  return (s == nullptr && c == nullptr) ? 0 : 1;
}
