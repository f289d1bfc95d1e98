// AF_XDP sockets and network namespaces for the steering program's redirect tests.
//
// BoundXsk: one UMEM and one AF_XDP socket (copy mode) bound to a queue of an interface of the
// calling thread's network namespace, so that it can be registered in xdptcp_xsks. No traffic flows:
// BPF_PROG_TEST_RUN only reports the verdict.
//
// Network namespaces are per thread, so a test that needs devices of its own runs on a short-lived
// thread that unshares one (in_private_netns): the rest of the test process stays where it was, and
// names cannot collide with other tests running at the same time. Devices go with the namespace,
// which lives as long as a socket bound in it does.
#pragma once

#include <net/if.h>
#include <sched.h>
#include <sys/mman.h>
#include <xdp/xsk.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>

namespace xdptcp::test {

class BoundXsk {
 public:
  static constexpr std::size_t kFrames = 64;
  static constexpr std::size_t kFrameSize = XSK_UMEM__DEFAULT_FRAME_SIZE;

  BoundXsk(const char* ifname, std::uint32_t queue) { create(ifname, queue); }
  ~BoundXsk() {
    if (xsk_) xsk_socket__delete(xsk_);
    if (umem_) xsk_umem__delete(umem_);
    if (buf_ != MAP_FAILED) ::munmap(buf_, kFrames * kFrameSize);
  }
  BoundXsk(const BoundXsk&) = delete;
  BoundXsk& operator=(const BoundXsk&) = delete;

  int fd() const { return xsk_ ? xsk_socket__fd(xsk_) : -1; }
  const std::string& error() const { return error_; }

 private:
  void create(const char* ifname, std::uint32_t queue) {
    buf_ = ::mmap(nullptr, kFrames * kFrameSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf_ == MAP_FAILED) {
      error_ = std::string("mmap: ") + std::strerror(errno);
      return;
    }
    int err = xsk_umem__create(&umem_, buf_, kFrames * kFrameSize, &fill_, &comp_, nullptr);
    if (err != 0) {
      umem_ = nullptr;
      error_ = std::string("xsk_umem__create: ") + std::strerror(-err);
      return;
    }
    xsk_socket_config cfg{};
    cfg.rx_size = XSK_RING_CONS__DEFAULT_NUM_DESCS;
    cfg.tx_size = XSK_RING_PROD__DEFAULT_NUM_DESCS;
    cfg.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD;  // we test our own program
    cfg.bind_flags = XDP_COPY;
    err = xsk_socket__create(&xsk_, ifname, queue, umem_, &rx_, &tx_, &cfg);
    if (err != 0) {
      xsk_ = nullptr;
      error_ = std::string("xsk_socket__create on ") + ifname + " queue " + std::to_string(queue) + ": " +
               std::strerror(-err);
    }
  }

  void* buf_ = MAP_FAILED;
  xsk_umem* umem_ = nullptr;
  xsk_socket* xsk_ = nullptr;
  xsk_ring_prod fill_{}, tx_{};
  xsk_ring_cons comp_{}, rx_{};
  std::string error_;
};

// Runs `body` on a thread of its own in a fresh network namespace; returns "" or why the namespace
// could not be made (body then does not run).
inline std::string in_private_netns(const std::function<void()>& body) {
  std::string error;
  std::thread t([&] {
    if (::unshare(CLONE_NEWNET) != 0) {
      error = std::string("unshare(CLONE_NEWNET): ") + std::strerror(errno);
      return;
    }
    body();
  });
  t.join();
  return error;
}

// The name of the veth end that in_two_queue_veth creates.
inline constexpr const char* kTwoQueueVeth = "xq0";

// Runs `body(ifindex)` in a fresh network namespace holding a veth pair whose end kTwoQueueVeth has
// two RX queues (BPF_PROG_TEST_RUN presents a frame on queue q of a device only when it has more
// than q RX queues; the loopback device has one). Returns "" or why the setup failed.
inline std::string in_two_queue_veth(const std::function<void(int ifindex)>& body) {
  std::string error;
  std::string ns_error = in_private_netns([&] {
    // The child of system() inherits this thread's namespace, not the process's first one.
    const std::string cmd = std::string("ip link add ") + kTwoQueueVeth +
                            " numrxqueues 2 numtxqueues 2 type veth peer name xq1 numrxqueues 2 numtxqueues 2"
                            " && ip link set xq0 up && ip link set xq1 up";
    if (std::system(cmd.c_str()) != 0) {
      error = "creating a two-queue veth pair failed: " + cmd;
      return;
    }
    const unsigned ifindex = ::if_nametoindex(kTwoQueueVeth);
    if (ifindex == 0) {
      error = std::string("if_nametoindex(") + kTwoQueueVeth + "): " + std::strerror(errno);
      return;
    }
    body(static_cast<int>(ifindex));
  });
  return ns_error.empty() ? error : ns_error;
}

}  // namespace xdptcp::test
