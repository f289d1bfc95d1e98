// userstack/kernel's attach library used directly, as an application attaching for itself would:
// interface facts on a veth, the Attachment's RAII detach, open_pinned(), and status() of registered
// sockets (alive and stale owners). Root only; skips otherwise. Own veth pair: ctlik0/ctlik1.
#include <bpf/bpf.h>

#include <gtest/gtest.h>
#include <net/if.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <string>

#include "support/netns/netns_util.h"
#include "userstack/kernel/iface_info.h"
#include "userstack/kernel/xdp_attach.h"
#include "xdptcp/steer_abi.h"

namespace xdptcp::kernel {
namespace {

using test::run;

constexpr const char* kIf = "ctlik0";
constexpr const char* kPeer = "ctlik1";

bool has_xdp(const std::string& iface) {
  return run("ip link show dev " + iface).output.find("prog/xdp") != std::string::npos;
}

bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

class KernelAttachTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!test::is_root()) GTEST_SKIP() << "needs root: creates veth pairs and attaches XDP programs";
    cleanup();
    auto r = run(std::string("ip link add ") + kIf + " numrxqueues 3 numtxqueues 3 type veth peer name " +
                 kPeer + " numrxqueues 3 numtxqueues 3 && ip link set " + kIf +
                 " mtu 1400 up && ip link set " + kPeer + " up");
    ASSERT_TRUE(r.ok()) << r.output;
  }
  void TearDown() override {
    if (test::is_root()) cleanup();
  }
  static void cleanup() {
    (void)detach(kIf);
    (void)run(std::string("ip link del ") + kIf + " >/dev/null 2>&1");
    (void)run("rm -rf " + pin_dir(kIf));
  }
};

TEST_F(KernelAttachTest, InterfaceInfo_Veth_FactsMatchTheKernel) {
  auto info = interface_info(kIf);
  ASSERT_TRUE(info.ok()) << info.error().describe();
  EXPECT_EQ(info->ifindex, static_cast<int>(if_nametoindex(kIf)));
  EXPECT_EQ(info->mtu, 1400u);
  EXPECT_EQ(info->rx_queues, 3u);
  EXPECT_EQ(info->driver, "veth");
  EXPECT_TRUE(info->rss_key.empty()) << "veth has no RSS";
  auto addr = run(std::string("cat /sys/class/net/") + kIf + "/address");
  EXPECT_EQ(format_mac(info->mac) + "\n", addr.output);
}

TEST_F(KernelAttachTest, InterfaceInfo_Unknown_EnodevNamingIt) {
  auto info = interface_info("ctlnosuch1");
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.error().code, ENODEV);
  EXPECT_NE(info.error().message.find("'ctlnosuch1'"), std::string::npos);
}

TEST_F(KernelAttachTest, Attachment_Destroyed_DetachesAndUnpins) {
  {
    auto a = attach(kIf, XdpMode::kAuto);
    ASSERT_TRUE(a.ok()) << a.error().describe();
    EXPECT_EQ(a->info().mode, XdpMode::kNative);
    EXPECT_GT(a->info().prog_id, 0u);
    EXPECT_TRUE(has_xdp(kIf));
    auto maps = open_pinned(kIf);
    ASSERT_TRUE(maps.ok()) << maps.error().describe();
    EXPECT_GE(maps->fds().rules, 0);
    EXPECT_GE(maps->fds().counters, 0);
    EXPECT_GE(maps->fds().kernel_flows, 0);
    EXPECT_GE(maps->fds().stack_flows, 0);
  }
  EXPECT_FALSE(has_xdp(kIf));
  EXPECT_FALSE(exists(pin_dir(kIf)));
}

TEST_F(KernelAttachTest, Attachment_Kept_StaysUntilDetach) {
  {
    auto a = attach(kIf, XdpMode::kGeneric);
    ASSERT_TRUE(a.ok()) << a.error().describe();
    EXPECT_EQ(a->info().mode, XdpMode::kGeneric);
    a->keep();
  }
  EXPECT_TRUE(has_xdp(kIf));
  auto again = attach(kIf, XdpMode::kAuto);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, EEXIST);
  auto d = detach(kIf);
  ASSERT_TRUE(d.ok()) << d.error().describe();
  EXPECT_TRUE(d->was_attached);
  EXPECT_TRUE(d->removed_pins);
  EXPECT_FALSE(has_xdp(kIf));
}

// A program attached with its pins gone (`ip netns exec` gives each command a bpffs of its own, which
// ends with it): the next attach adopts it (pins its maps again, kept) instead of refusing, so the
// next application on the interface gets the steering maps; a second attach then says EEXIST.
TEST_F(KernelAttachTest, AttachedWithoutPins_Adopted_MapsPinnedAgain_Kept) {
  {
    auto a = attach(kIf, XdpMode::kAuto);
    ASSERT_TRUE(a.ok()) << a.error().describe();
    a->keep();
  }
  std::error_code ec;
  std::filesystem::remove_all(pin_dir(kIf), ec);
  ASSERT_FALSE(exists(pin_dir(kIf)));
  ASSERT_FALSE(open_pinned(kIf).ok());
  {
    auto adopted = attach(kIf, XdpMode::kAuto);
    ASSERT_TRUE(adopted.ok()) << adopted.error().describe();
    bool noted = false;
    for (const auto& n : adopted->info().notes)
      noted = noted || n.find("pinned them again") != std::string::npos;
    EXPECT_TRUE(noted);
  }
  EXPECT_TRUE(has_xdp(kIf)) << "an adopted program is never detached by its adopter";
  auto maps = open_pinned(kIf);
  ASSERT_TRUE(maps.ok()) << maps.error().describe();
  EXPECT_GE(maps->fds().rules, 0);
  EXPECT_GE(maps->fds().stack_flows, 0);
  auto again = attach(kIf, XdpMode::kAuto);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, EEXIST);
  ASSERT_TRUE(detach(kIf).ok());
  EXPECT_FALSE(has_xdp(kIf));
}

TEST_F(KernelAttachTest, OpenPinned_NotAttached_Enoent) {
  auto maps = open_pinned(kIf);
  ASSERT_FALSE(maps.ok());
  EXPECT_EQ(maps.error().code, ENOENT);
  EXPECT_NE(maps.error().message.find("xdptcp-ctl attach --iface ctlik0"), std::string::npos);
}

// A set pinned by an xdptcp older than steering ABI 4 has no xdptcp_stack_flows pin: it still opens,
// with that map at -1, rules work, and draining says to re-attach.
TEST_F(KernelAttachTest, OpenPinned_SetWithoutStackFlows_OpensAndDrainingSaysReattach) {
  auto a = attach(kIf, XdpMode::kAuto);
  ASSERT_TRUE(a.ok()) << a.error().describe();
  ASSERT_EQ(::unlink((pin_dir(kIf) + "/xdptcp_stack_flows").c_str()), 0);
  auto maps = open_pinned(kIf);
  ASSERT_TRUE(maps.ok()) << maps.error().describe();
  EXPECT_EQ(maps->fds().stack_flows, -1);
  EXPECT_GE(maps->fds().kernel_flows, 0);
  SteerRule rule;
  rule.any_addr = true;
  rule.addr.family = wire::IpFamily::kV4;
  rule.port_lo = rule.port_hi = 80;
  rule.owner_pid = static_cast<std::uint32_t>(::getpid());
  ASSERT_TRUE(add_rule(maps->fds(), rule).ok());
  auto r = set_rule_draining(maps->fds(), rule, true);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, EBADF);
  EXPECT_NE(r.error().message.find("re-attach"), std::string::npos) << r.error().message;
  auto s = status(kIf);
  ASSERT_TRUE(s.ok()) << s.error().describe();
  ASSERT_EQ(s->rules.size(), 1u);
  EXPECT_FALSE(s->rules[0].draining);
}

TEST_F(KernelAttachTest, Status_RegisteredSockets_OwnersAliveOrStale) {
  auto a = attach(kIf, XdpMode::kAuto);
  ASSERT_TRUE(a.ok()) << a.error().describe();
  auto maps = open_pinned(kIf);
  ASSERT_TRUE(maps.ok());
  // Records as register_socket() leaves them: this process on queue 0, a pid that cannot exist
  // (above pid_max's ceiling of 2^22) on queue 2.
  struct xdptcp_socket_info live {
    static_cast<__u32>(::getpid()), 0, 1
  };
  struct xdptcp_socket_info dead {
    (1u << 22) + 7, 0, 2
  };
  __u32 q0 = 0, q2 = 2;
  ASSERT_EQ(bpf_map_update_elem(maps->fds().sockets, &q0, &live, BPF_ANY), 0);
  ASSERT_EQ(bpf_map_update_elem(maps->fds().sockets, &q2, &dead, BPF_ANY), 0);

  auto s = status(kIf);
  ASSERT_TRUE(s.ok()) << s.error().describe();
  EXPECT_TRUE(s->attached);
  EXPECT_FALSE(s->stale);
  EXPECT_EQ(s->rx_queues, 3u);
  ASSERT_EQ(s->sockets.size(), 2u);
  EXPECT_EQ(s->sockets[0].queue, 0u);
  EXPECT_TRUE(s->sockets[0].owner_alive);
  EXPECT_EQ(s->sockets[1].queue, 2u);
  EXPECT_EQ(s->sockets[1].owner_pid, (1u << 22) + 7);
  EXPECT_FALSE(s->sockets[1].owner_alive);
}

}  // namespace
}  // namespace xdptcp::kernel
