// Test fixture for the XDP steering program: loads a fresh copy of bpf/steer.bpf.c from its
// skeleton (fresh maps for every test), and runs it on a frame with BPF_PROG_TEST_RUN, reporting
// the verdict together with the one counter that moved.
//
// Under BPF_PROG_TEST_RUN the frame arrives on RX queue 0 of no real interface, so a matching
// frame finds no AF_XDP socket: the program's answer is XDP_PASS counted as PASS_NO_SOCKET (for a
// permanent rule; a process's rule needs its pid as queue 0's owner, see steer_abi.h "Owners").
// run_on() presents the frame as arriving on a given queue of a given interface instead.
#pragma once

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <ostream>
#include <string>
#include <vector>

#include "bpf/test_frames.h"
#include "steer.skel.h"
#include "userstack/kernel/steer_rules.h"
#include "xdptcp/steer_abi.h"

namespace xdptcp::test {

// Which outcome counter moved (exactly one must, besides SEEN).
enum class Outcome {
  kRedirected,
  kPassNotOurs,
  kPassNoSocket,
  kMalformed,
  kPassKernelFlow,
  kPassOtherOwner,
  kPassDraining,
  kNoneOrSeveral
};

inline const char* outcome_name(Outcome o) {
  switch (o) {
    case Outcome::kRedirected:
      return "REDIRECTED";
    case Outcome::kPassNotOurs:
      return "PASS_NOT_OURS";
    case Outcome::kPassNoSocket:
      return "PASS_NO_SOCKET";
    case Outcome::kMalformed:
      return "MALFORMED";
    case Outcome::kPassKernelFlow:
      return "PASS_KERNEL_FLOW";
    case Outcome::kPassOtherOwner:
      return "PASS_OTHER_OWNER";
    case Outcome::kPassDraining:
      return "PASS_DRAINING";
    case Outcome::kNoneOrSeveral:
      return "<no or several counters moved, or SEEN did not move by 1>";
  }
  return "?";
}

inline const char* action_name(std::uint32_t a) {
  switch (a) {
    case XDP_ABORTED:
      return "XDP_ABORTED";
    case XDP_DROP:
      return "XDP_DROP";
    case XDP_PASS:
      return "XDP_PASS";
    case XDP_TX:
      return "XDP_TX";
    case XDP_REDIRECT:
      return "XDP_REDIRECT";
    default:
      return "XDP_?";
  }
}

// What one run of the program did.
struct Observed {
  std::uint32_t action = 0;
  Outcome outcome = Outcome::kNoneOrSeveral;
  bool operator==(const Observed&) const = default;
};

inline std::ostream& operator<<(std::ostream& os, const Observed& o) {
  return os << action_name(o.action) << " counted " << outcome_name(o.outcome);
}

inline constexpr Observed kNotOurs{XDP_PASS, Outcome::kPassNotOurs};
inline constexpr Observed kNoSocket{XDP_PASS, Outcome::kPassNoSocket};
inline constexpr Observed kMalformed{XDP_PASS, Outcome::kMalformed};
inline constexpr Observed kRedirected{XDP_REDIRECT, Outcome::kRedirected};
inline constexpr Observed kKernelFlow{XDP_PASS, Outcome::kPassKernelFlow};
inline constexpr Observed kOtherOwner{XDP_PASS, Outcome::kPassOtherOwner};
inline constexpr Observed kDraining{XDP_PASS, Outcome::kPassDraining};

// The flow of a frame's segment as the program keys it (xdptcp_kernel_flows, xdptcp_stack_flows):
// local = its destination, remote = its source.
inline wire::FourTuple flow_of(const FrameSpec& s) {
  wire::FourTuple t;
  if (s.family == 4) {
    t.local.ip = wire::IpAddr::v4(s.dst4[0], s.dst4[1], s.dst4[2], s.dst4[3]);
    t.remote.ip = wire::IpAddr::v4(s.src4[0], s.src4[1], s.src4[2], s.src4[3]);
  } else {
    t.local.ip = wire::IpAddr::v6_bytes(s.dst6.data());
    t.remote.ip = wire::IpAddr::v6_bytes(s.src6.data());
  }
  t.local.port = s.dport;
  t.remote.port = s.sport;
  return t;
}

// A pid that certainly named a process a moment ago and names none now (reaped child).
inline std::uint32_t dead_pid() {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return static_cast<std::uint32_t>(pid);
}

inline int quiet_libbpf(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level != LIBBPF_WARN) return 0;
  return std::vfprintf(stderr, fmt, args);
}

class SteerFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: loads the XDP steering program (CAP_BPF)";
    libbpf_set_print(quiet_libbpf);
    skel_ = steer::open_and_load();
    ASSERT_NE(skel_, nullptr) << "loading bpf/steer.bpf.c failed: errno " << errno;
    maps_.ports = bpf_map__fd(skel_->maps.xdptcp_ports);
    maps_.rules = bpf_map__fd(skel_->maps.xdptcp_rules);
    maps_.xsks = bpf_map__fd(skel_->maps.xdptcp_xsks);
    maps_.sockets = bpf_map__fd(skel_->maps.xdptcp_sockets);
    maps_.counters = bpf_map__fd(skel_->maps.xdptcp_counters);
    maps_.kernel_flows = bpf_map__fd(skel_->maps.xdptcp_kernel_flows);
    maps_.config = bpf_map__fd(skel_->maps.xdptcp_config);
    maps_.stack_flows = bpf_map__fd(skel_->maps.xdptcp_stack_flows);
    prog_fd_ = bpf_program__fd(skel_->progs.xdptcp_steer);
  }
  void TearDown() override { steer::destroy(skel_); }

  kernel::SteerCounters counters() {
    auto c = kernel::read_counters(maps_);
    EXPECT_TRUE(c.ok()) << c.error().describe();
    return c.ok() ? c.value() : kernel::SteerCounters{};
  }

  // Runs the program once on `frame`; returns -errno of BPF_PROG_TEST_RUN, or 0 and fills `out`.
  // With `ifindex` != 0 the frame arrives on RX queue `queue` of that interface, which must exist
  // in the calling thread's network namespace and have more than `queue` RX queues.
  int run_raw(const std::vector<std::uint8_t>& frame, Observed& out, int ifindex = 0,
              std::uint32_t queue = 0) {
    const kernel::SteerCounters before = counters();
    bpf_test_run_opts opts{};
    opts.sz = sizeof opts;
    opts.data_in = frame.data();
    opts.data_size_in = static_cast<__u32>(frame.size());
    opts.repeat = 1;
    xdp_md ctx{};
    if (ifindex != 0) {
      ctx.data_end = static_cast<__u32>(frame.size());  // the kernel insists: data 0, data_end the size
      ctx.ingress_ifindex = static_cast<__u32>(ifindex);
      ctx.rx_queue_index = queue;
      opts.ctx_in = &ctx;
      opts.ctx_size_in = sizeof ctx;
    }
    int err = bpf_prog_test_run_opts(prog_fd_, &opts);
    if (err != 0) return err;
    const kernel::SteerCounters after = counters();
    out.action = opts.retval;
    out.outcome = moved(before, after);
    return 0;
  }

  Observed run(const std::vector<std::uint8_t>& frame) {
    Observed o;
    int err = run_raw(frame, o);
    EXPECT_EQ(err, 0) << "BPF_PROG_TEST_RUN on a " << frame.size() << "-byte frame";
    return o;
  }

  // The frame as arriving on RX queue `queue` of interface `ifindex` (see run_raw).
  Observed run_on(const std::vector<std::uint8_t>& frame, int ifindex, std::uint32_t queue) {
    Observed o;
    int err = run_raw(frame, o, ifindex, queue);
    EXPECT_EQ(err, 0) << "BPF_PROG_TEST_RUN on ifindex " << ifindex << " queue " << queue;
    return o;
  }

  // Writes queue `queue`'s owner record as register_socket() does, without a socket: enough for the
  // program's owner check (a matching rule then applies and finds no socket).
  void set_queue_owner(std::uint32_t queue, std::uint32_t pid) {
    xdptcp_socket_info info{};
    info.owner_pid = pid;
    info.registered_ns = 1;
    ASSERT_EQ(bpf_map_update_elem(maps_.sockets, &queue, &info, BPF_ANY), 0);
  }

  void add(const kernel::SteerRule& r) {
    auto res = kernel::add_rule(maps_, r);
    ASSERT_TRUE(res.ok()) << res.error().describe();
  }

  static kernel::SteerRule any_v4(std::uint16_t lo, std::uint16_t hi) {
    kernel::SteerRule r;
    r.family = wire::IpFamily::kV4;
    r.any_addr = true;
    r.port_lo = lo;
    r.port_hi = hi;
    return r;
  }
  static kernel::SteerRule owned(kernel::SteerRule r, std::uint32_t pid) {
    r.owner_pid = pid;
    return r;
  }
  static kernel::SteerRule any_v6(std::uint16_t lo, std::uint16_t hi) {
    kernel::SteerRule r = any_v4(lo, hi);
    r.family = wire::IpFamily::kV6;
    return r;
  }
  static kernel::SteerRule host_v4(const Addr4& a, std::uint16_t lo, std::uint16_t hi) {
    kernel::SteerRule r = any_v4(lo, hi);
    r.any_addr = false;
    r.addr = wire::IpAddr::v4(a[0], a[1], a[2], a[3]);
    return r;
  }
  static kernel::SteerRule host_v6(const Addr6& a, std::uint16_t lo, std::uint16_t hi) {
    kernel::SteerRule r = any_v6(lo, hi);
    r.any_addr = false;
    r.addr = wire::IpAddr::v6_bytes(a.data());
    return r;
  }

  steer* skel_ = nullptr;
  kernel::SteerMapFds maps_;
  int prog_fd_ = -1;

 private:
  // The one outcome counter that rose by exactly 1 while SEEN rose by 1 and the others stayed.
  static Outcome moved(const kernel::SteerCounters& b, const kernel::SteerCounters& a) {
    if (a.seen != b.seen + 1) return Outcome::kNoneOrSeveral;
    constexpr int kOutcomes = 7;
    const std::uint64_t d[kOutcomes] = {a.redirected - b.redirected,
                                        a.pass_not_ours - b.pass_not_ours,
                                        a.pass_no_socket - b.pass_no_socket,
                                        a.malformed - b.malformed,
                                        a.pass_kernel_flow - b.pass_kernel_flow,
                                        a.pass_other_owner - b.pass_other_owner,
                                        a.pass_draining - b.pass_draining};
    const Outcome names[kOutcomes] = {
        Outcome::kRedirected,     Outcome::kPassNotOurs,    Outcome::kPassNoSocket, Outcome::kMalformed,
        Outcome::kPassKernelFlow, Outcome::kPassOtherOwner, Outcome::kPassDraining};
    Outcome found = Outcome::kNoneOrSeveral;
    int n = 0;
    for (int i = 0; i < kOutcomes; ++i) {
      if (d[i] == 0) continue;
      if (d[i] != 1) return Outcome::kNoneOrSeveral;
      found = names[i];
      ++n;
    }
    return n == 1 ? found : Outcome::kNoneOrSeveral;
  }
};

}  // namespace xdptcp::test
