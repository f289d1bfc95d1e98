// Fixture for frames on the queues of two processes (steer_abi.h, "Owners"): process A owns RX queue
// 0 and process B queue 1 of the two-queue veth of xsk_socket.h, each with a real AF_XDP socket
// bound there and registered as register_socket() does, so that a rule that applies redirects.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "bpf/steer_fixture.h"
#include "bpf/xsk_socket.h"
#include "userstack/kernel/steer_rules.h"

namespace xdptcp::test {

// Two owners' pids. The program compares pids and never asks whether they run.
inline constexpr std::uint32_t kPidA = 4001;
inline constexpr std::uint32_t kPidB = 4002;

// A socket on a queue whose previous socket was just closed: the kernel lets the queue go a moment
// later (the buffer pool is released from a work queue), and binding fails with EBUSY until then.
inline std::unique_ptr<BoundXsk> bind_when_free(const char* ifname, std::uint32_t queue) {
  auto xsk = std::make_unique<BoundXsk>(ifname, queue);
  for (int i = 0; i < 100 && xsk->fd() < 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    xsk = std::make_unique<BoundXsk>(ifname, queue);
  }
  return xsk;
}

class TwoOwnersFixture : public SteerFixture {
 protected:
  // Runs `body(ifindex)` with process A owning queue 0 and process B queue 1 of the two-queue veth.
  void with_two_owners(const std::function<void(int ifindex)>& body) {
    const std::string error = in_two_queue_veth([&](int ifindex) {
      BoundXsk a(kTwoQueueVeth, 0);
      BoundXsk b(kTwoQueueVeth, 1);
      ASSERT_GE(a.fd(), 0) << a.error();
      ASSERT_GE(b.fd(), 0) << b.error();
      auto ra = kernel::register_socket(maps_, 0, a.fd(), kPidA);
      ASSERT_TRUE(ra.ok()) << ra.error().describe();
      auto rb = kernel::register_socket(maps_, 1, b.fd(), kPidB);
      ASSERT_TRUE(rb.ok()) << rb.error().describe();
      body(ifindex);
    });
    ASSERT_TRUE(error.empty()) << error;
  }
};

}  // namespace xdptcp::test
