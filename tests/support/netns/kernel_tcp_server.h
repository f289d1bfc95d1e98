// KernelTcpServer: a tiny request/response server on the kernel's own TCP stack, for integration tests
// that show the kernel still serving its ports while xdptcp steers others (design brief §4).
// Part of the xdptcp_testsupport library.
//
// It listens on addr:port in the namespace of the calling thread (the root namespace in the tests),
// and for every connection reads one line and answers "<prefix><line>\n", then closes. One thread,
// connections served one at a time: it is for correctness checks, not load.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "userstack/base/result.h"

namespace xdptcp::test {

class KernelTcpServer {
 public:
  // Binds and listens (IPv4 or IPv6 by the form of `addr`) and starts serving.
  static Result<std::unique_ptr<KernelTcpServer>> start(const std::string& addr, std::uint16_t port,
                                                        std::string prefix = "kernel:");
  ~KernelTcpServer();
  KernelTcpServer(const KernelTcpServer&) = delete;
  KernelTcpServer& operator=(const KernelTcpServer&) = delete;

  std::uint64_t served() const { return served_.load(); }  // connections answered

 private:
  KernelTcpServer(int fd, std::string prefix);
  void serve();

  int fd_;
  std::string prefix_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> served_{0};
  std::thread thread_;
};

}  // namespace xdptcp::test
