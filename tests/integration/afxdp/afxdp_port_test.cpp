// AfXdpPort (userstack/io/afxdp/afxdp_port.h), the AF_XDP PacketIo, against the real kernel on the
// sandbox's multi-queue veth (design brief §2 and §7):
//  - RX: the steering program redirects SYNs sent from the peer namespace into one copy-mode socket
//    per queue; every SYN is received, no frame is lost from the UMEM, the kernel drops none.
//  - TX: SYNs built by hand (userstack/wire) leave through the TX ring, a kernel listener in the peer
//    answers each with a SYN-ACK that comes back on the RX rings; the transmit pool refills from the
//    COMPLETION ring; without tx_flush(), tx_acquire() stops at the bound and nothing leaks.
//  - bind modes (zero-copy refused on veth, auto falls back to copy), configuration errors, wait().
//
// Needs root (namespaces, XDP, AF_XDP). Sandbox "xsktest" on subnet 120 (198.18.240.0/24).
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "integration/afxdp/netns_socket.h"
#include "integration/afxdp/syn_frame.h"
#include "support/netns/netns_util.h"
#include "userstack/io/afxdp/afxdp_port.h"
#include "userstack/kernel/iface_info.h"
#include "userstack/kernel/steer_rules.h"
#include "userstack/kernel/xdp_attach.h"
#include "userstack/wire/tcp_header.h"

namespace xdptcp {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using io::AfXdpConfig;
using io::AfXdpPort;
using io::BindMode;
using test::Sandbox;

constexpr std::size_t kBatch = 64;

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Closes a file descriptor at scope exit.
struct FdGuard {
  int fd = -1;
  ~FdGuard() {
    if (fd >= 0) close(fd);
  }
};

class AfXdpPortTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!test::is_root()) return;
    sandbox_ = new Sandbox({.name = "xsktest", .queues = 2, .router = false, .subnet = 120});
    up_ = sandbox_->up();
  }
  static void TearDownTestSuite() {
    delete sandbox_;  // takes the sandbox down
    sandbox_ = nullptr;
  }

  void SetUp() override {
    if (!test::is_root()) GTEST_SKIP() << "needs root: network namespaces, XDP and AF_XDP sockets";
    ASSERT_TRUE(up_.ok()) << "sandbox.sh up failed:\n" << up_.output;
    sb_ = sandbox_;
    auto info = kernel::interface_info(sb_->iface());
    ASSERT_TRUE(info.ok()) << info.error().describe();
    stack_mac_.bytes = info->mac;
    queues_ = info->rx_queues;
    ASSERT_GE(queues_, 2u) << "the sandbox veth should have 2 queues";
    const std::string peer_if = sb_->var("PEER_IFACE");
    const auto pm = wire::MacAddr::parse(
        trim(test::run(test::in_netns(sb_->peer_ns(), "cat /sys/class/net/" + peer_if + "/address")).output));
    ASSERT_TRUE(pm.has_value()) << "cannot read the MAC of " << peer_if;
    peer_mac_ = *pm;
    stack_ip_ = *wire::IpAddr::parse(sb_->stack_ip4());
    peer_ip_ = *wire::IpAddr::parse(sb_->peer_ip4());
  }

  void TearDown() override {
    ports_.clear();  // sockets leave the XSKMAP as they close
    if (maps_) {
      for (const kernel::SteerRule& r : rules_) (void)kernel::del_rule(maps_->fds(), r);
    }
    rules_.clear();
    maps_.reset();
    attachment_.reset();  // detaches the program
  }

  // Attaches the steering program (native XDP) and opens its pinned maps.
  void attach_steering() {
    (void)kernel::detach(sb_->iface());  // leftovers of an interrupted run
    auto a = kernel::attach(sb_->iface(), kernel::XdpMode::kNative);
    ASSERT_TRUE(a.ok()) << a.error().describe();
    attachment_.emplace(std::move(a).value());
    auto m = kernel::open_pinned(sb_->iface());
    ASSERT_TRUE(m.ok()) << m.error().describe();
    maps_.emplace(std::move(m).value());
  }

  // Steers TCP to the stack's IPv4 address, ports [lo, hi], into the AF_XDP sockets.
  void steer(std::uint16_t lo, std::uint16_t hi) {
    kernel::SteerRule r;
    r.family = wire::IpFamily::kV4;
    r.addr = stack_ip_;
    r.port_lo = lo;
    r.port_hi = hi;
    r.owner_pid = static_cast<std::uint32_t>(getpid());
    const Result<void> ok = kernel::add_rule(maps_->fds(), r);
    ASSERT_TRUE(ok.ok()) << ok.error().describe();
    rules_.push_back(r);
  }

  AfXdpConfig config(std::uint32_t queue) const {
    AfXdpConfig c;
    c.ifname = sb_->iface();
    c.queue = queue;
    c.bind = BindMode::kCopy;
    return c;
  }

  // One copy-mode port per RX queue, each registered in the XSKMAP at open.
  void open_all_queues() {
    for (std::uint32_t q = 0; q < queues_; ++q) {
      AfXdpConfig c = config(q);
      c.xskmap_fd = maps_->fds().xsks;
      auto p = AfXdpPort::open(c);
      ASSERT_TRUE(p.ok()) << p.error().describe();
      // The queue's owner record: the program applies this process's rules (steer()) only on the
      // queues it owns (steer_abi.h, "Owners"); xskmap_fd puts the socket in the XSKMAP alone.
      auto reg =
          kernel::register_socket(maps_->fds(), q, p.value()->fd(), static_cast<std::uint32_t>(getpid()));
      ASSERT_TRUE(reg.ok()) << reg.error().describe();
      EXPECT_FALSE(p.value()->zero_copy());
      EXPECT_TRUE(p.value()->frames_accounted());
      ports_.push_back(std::move(p).value());
    }
  }

  bool all_accounted() const {
    for (const auto& p : ports_) {
      if (!p->frames_accounted()) return false;
    }
    return true;
  }

  // Takes everything waiting on every port's RX ring, in batches of kBatch; calls on_frame for each
  // frame and checks the frame accounting while the batch is held and after it is released.
  std::size_t drain(const std::function<void(std::span<const std::uint8_t>)>& on_frame) {
    std::size_t total = 0;
    std::array<io::RxFrame, kBatch> batch{};
    for (const auto& p : ports_) {
      for (;;) {
        const std::size_t n = p->rx_burst(batch);
        if (n == 0) break;
        EXPECT_TRUE(p->frames_accounted()) << "while holding a batch of " << n;
        for (std::size_t i = 0; i < n; ++i) on_frame(batch[i].data);
        p->rx_release(std::span<const io::RxFrame>(batch.data(), n));
        EXPECT_TRUE(p->frames_accounted()) << "after releasing a batch of " << n;
        total += n;
      }
    }
    return total;
  }

  test::SegmentSpec syn_to_stack(std::uint16_t src_port, std::uint16_t dst_port) const {
    test::SegmentSpec s;
    s.dst_mac = stack_mac_;
    s.src_mac = peer_mac_;
    s.src_ip = peer_ip_;
    s.dst_ip = stack_ip_;
    s.src_port = src_port;
    s.dst_port = dst_port;
    s.seq = 1000u * src_port;
    s.flags = wire::tcp_flags::kSyn;
    return s;
  }

  static inline Sandbox* sandbox_ = nullptr;
  static inline test::CommandResult up_;

  Sandbox* sb_ = nullptr;
  wire::MacAddr stack_mac_;
  wire::MacAddr peer_mac_;
  wire::IpAddr stack_ip_;
  wire::IpAddr peer_ip_;
  std::uint32_t queues_ = 0;
  std::optional<kernel::Attachment> attachment_;
  std::optional<kernel::PinnedSteerMaps> maps_;
  std::vector<kernel::SteerRule> rules_;
  std::vector<std::unique_ptr<AfXdpPort>> ports_;
};

// Design brief §2 steps 1 and 4: steered SYNs land on the RX rings; frames return to FILL in batches.
TEST_F(AfXdpPortTest, SteeredSyns_ArriveOnRxRings_NoFrameLostNoKernelDrop) {
  constexpr std::uint16_t kPort = 47000;
  constexpr int kSyns = 2000;
  constexpr int kChunk = 100;  // below the veth's 256-entry XDP ring, so the peer never overruns it
  attach_steering();
  if (HasFatalFailure()) return;
  steer(kPort, kPort);
  open_all_queues();
  if (HasFatalFailure()) return;

  auto sock = test::packet_socket_in(sb_->peer_ns(), sb_->var("PEER_IFACE"));
  ASSERT_TRUE(sock.ok()) << sock.error().describe();
  FdGuard guard{sock.value()};

  int syns = 0;
  int others = 0;
  const auto on_frame = [&](std::span<const std::uint8_t> f) {
    const auto s = test::read_ipv4_tcp(f);
    if (s && s->dst_port == kPort && s->flags == wire::tcp_flags::kSyn && s->seq == 1000u * s->src_port) {
      ++syns;
    } else {
      ++others;
    }
  };
  std::array<std::uint8_t, 128> frame{};
  std::size_t received = 0;
  for (int sent = 0; sent < kSyns;) {
    for (int k = 0; k < kChunk && sent < kSyns; ++k, ++sent) {
      const std::size_t len =
          test::build_ipv4_tcp(syn_to_stack(static_cast<std::uint16_t>(20000 + sent), kPort), frame);
      ASSERT_GT(len, 0u);
      ASSERT_EQ(send(guard.fd, frame.data(), len, 0), static_cast<ssize_t>(len)) << std::strerror(errno);
    }
    const auto deadline = Clock::now() + 3s;
    while (received < static_cast<std::size_t>(sent) && Clock::now() < deadline) {
      received += drain(on_frame);
    }
    ASSERT_EQ(received, static_cast<std::size_t>(sent)) << "SYNs lost on the way to the RX rings";
  }
  EXPECT_EQ(syns, kSyns);
  EXPECT_EQ(others, 0) << "only the steered port reaches the sockets";
  std::uint64_t rx_frames = 0;
  for (const auto& p : ports_) {
    const io::IoStats st = p->stats();
    rx_frames += st.rx_frames;
    EXPECT_EQ(st.rx_fill_empty, 0u) << "the FILL ring ran dry";
    EXPECT_EQ(st.rx_dropped, 0u);
    EXPECT_EQ(st.rx_ring_full, 0u);
    EXPECT_EQ(st.rx_invalid, 0u);
    EXPECT_TRUE(p->frames_accounted());
    EXPECT_EQ(p->pool_size(), 4096u - 2048u) << "receiving never takes frames from the transmit pool";
  }
  EXPECT_EQ(rx_frames, static_cast<std::uint64_t>(kSyns));
  auto ctr = kernel::read_counters(maps_->fds());
  ASSERT_TRUE(ctr.ok()) << ctr.error().describe();
  EXPECT_GE(ctr->redirected, static_cast<std::uint64_t>(kSyns));
}

// Design brief §2 steps 6-8 and §7: hand-built SYNs through the TX ring reach the peer's kernel, whose
// SYN-ACKs (RFC 9293 §3.5, ack = our ISN + 1) come back steered; more frames than the TX ring holds,
// so the pool refills from the COMPLETION ring.
TEST_F(AfXdpPortTest, HandBuiltSyns_PeerKernelAnswersSynAck_PoolRefills) {
  constexpr std::uint16_t kListenPort = 47100;
  constexpr std::uint16_t kFirstPort = 41000;
  constexpr int kSyns = 3000;  // > ring_size (1024) and > the pool (2048)
  attach_steering();
  if (HasFatalFailure()) return;
  steer(kFirstPort, kFirstPort + kSyns - 1);
  open_all_queues();
  if (HasFatalFailure()) return;
  // The peer must know the stack's MAC before thousands of SYN-ACKs queue behind one ARP request.
  const test::CommandResult ping = sb_->in_peer("ping -c 1 -W 2 " + sb_->stack_ip4());
  ASSERT_TRUE(ping.ok()) << ping.output;
  auto lsock = test::tcp_listener_in(sb_->peer_ns(), sb_->peer_ip4(), kListenPort, 4096);
  ASSERT_TRUE(lsock.ok()) << lsock.error().describe();
  FdGuard listener{lsock.value()};

  AfXdpPort& tx = *ports_[0];
  const std::uint32_t initial_pool = tx.pool_size();
  std::vector<bool> answered(kSyns, false);
  int synacks = 0;
  const auto on_frame = [&](std::span<const std::uint8_t> f) {
    const auto s = test::read_ipv4_tcp(f);
    if (!s || s->src_port != kListenPort || s->flags != (wire::tcp_flags::kSyn | wire::tcp_flags::kAck))
      return;
    if (s->dst_port < kFirstPort || s->dst_port >= kFirstPort + kSyns) return;
    if (s->ack != 1000u * s->dst_port + 1) return;
    const int i = s->dst_port - kFirstPort;
    if (!answered[i]) ++synacks;  // the peer retransmits SYN-ACKs: count each flow once
    answered[i] = true;
  };

  test::SegmentSpec spec;
  spec.dst_mac = peer_mac_;
  spec.src_mac = stack_mac_;
  spec.src_ip = stack_ip_;
  spec.dst_ip = peer_ip_;
  spec.dst_port = kListenPort;
  spec.flags = wire::tcp_flags::kSyn;
  int sent = 0;
  // One SYN for flow i; false when no TX buffer is free (ring or pool full).
  const auto send_syn = [&](int i) {
    const std::span<std::uint8_t> buf = tx.tx_acquire();
    if (buf.empty()) return false;
    EXPECT_EQ(buf.size(), tx.frame_capacity());
    spec.src_port = static_cast<std::uint16_t>(kFirstPort + i);
    spec.seq = 1000u * spec.src_port;
    const std::size_t len = test::build_ipv4_tcp(spec, buf);
    EXPECT_GT(len, 0u);
    tx.tx_commit(len);
    return true;
  };
  auto deadline = Clock::now() + 15s;
  while (sent < kSyns && Clock::now() < deadline) {
    if (!send_syn(sent)) {  // ring or pool full: hand them over and reap completions
      tx.tx_flush();
      drain(on_frame);
      continue;
    }
    ++sent;
    ASSERT_TRUE(tx.frames_accounted()) << "after commit " << sent;
    if (sent % static_cast<int>(kBatch) == 0) {
      tx.tx_flush();
      ASSERT_TRUE(tx.frames_accounted()) << "after flush at " << sent;
      drain(on_frame);
    }
  }
  ASSERT_EQ(sent, kSyns) << "the transmit pool did not refill";
  // A SYN or SYN-ACK can be lost on the shared cores (a stalled vCPU leaves veth's 256-frame ring
  // full; the peer does not retransmit SYN-ACKs it sent as SYN cookies), so like TCP this sender
  // retransmits unanswered SYNs, once a second, and counts them.
  int resent = 0;
  deadline = Clock::now() + 10s;
  auto next_retry = Clock::now() + 1s;
  while ((tx.pool_size() != initial_pool || synacks < kSyns) && Clock::now() < deadline) {
    tx.tx_flush();
    drain(on_frame);
    if (Clock::now() >= next_retry && synacks < kSyns) {
      next_retry = Clock::now() + 1s;
      for (int i = 0; i < kSyns; ++i) {
        if (answered[i]) continue;
        if (!send_syn(i)) break;  // the rest at the next retry
        ++resent;
      }
    }
  }
  if (resent > 0) {
    std::uint64_t ring_full = 0;
    for (const auto& p : ports_) ring_full += p->stats().rx_ring_full;
    std::printf("note: %d SYNs were retransmitted; our RX rings dropped %llu frames when full\n", resent,
                static_cast<unsigned long long>(ring_full));
  }
  EXPECT_TRUE(all_accounted());
  EXPECT_EQ(tx.pool_size(), initial_pool) << "every transmitted frame comes back through COMPLETION";
  EXPECT_EQ(synacks, kSyns) << "the peer kernel answers every SYN it receives with a valid checksum";
  const io::IoStats st = tx.stats();
  EXPECT_EQ(st.tx_frames, static_cast<std::uint64_t>(kSyns + resent));
  EXPECT_GT(st.kicks, 0u) << "copy mode transmits only when kicked";
  EXPECT_EQ(st.tx_invalid, 0u);
  for (const auto& p : ports_) EXPECT_EQ(p->stats().rx_dropped, 0u);
}

// The bound of tx_acquire() (packet_io.h): with neither flush nor completions, it returns an empty
// span once the TX ring / pool is full, counts tx_no_buffer, and loses no frame.
TEST_F(AfXdpPortTest, TxWithoutFlush_AcquireStopsAtTheBound_NothingLeaks) {
  AfXdpConfig c = config(0);
  c.frame_count = 4096;
  c.fill_size = 2048;
  c.ring_size = 2048;  // the pool (frame_count - fill_size) and the TX ring run out together
  auto p = AfXdpPort::open(c);
  ASSERT_TRUE(p.ok()) << p.error().describe();
  AfXdpPort& port = *p.value();
  const std::uint32_t initial_pool = port.pool_size();
  ASSERT_EQ(initial_pool, 2048u);

  // An acquired, uncommitted buffer is lent again rather than leaked.
  const std::span<std::uint8_t> first = port.tx_acquire();
  ASSERT_FALSE(first.empty());
  EXPECT_EQ(port.tx_acquire().data(), first.data());
  EXPECT_EQ(port.pool_size(), initial_pool - 1);
  EXPECT_TRUE(port.frames_accounted());

  // Frames addressed to nobody (a locally administered MAC the peer does not have, an experimental
  // EtherType): the peer drops them at L2.
  const wire::MacAddr nobody{{0x02, 0, 0, 0, 0, 0x99}};
  std::uint32_t committed = 0;
  for (std::uint32_t i = 0; i < initial_pool + 100; ++i) {
    const std::span<std::uint8_t> buf = port.tx_acquire();
    if (buf.empty()) break;
    std::fill(buf.begin(), buf.begin() + 60, 0);
    wire::emit_ethernet(nobody, stack_mac_, 0x88b5, std::nullopt, buf);
    port.tx_commit(60);
    ++committed;
    ASSERT_TRUE(port.frames_accounted());
  }
  EXPECT_EQ(committed, initial_pool);
  EXPECT_EQ(port.pool_size(), 0u);
  EXPECT_EQ(port.stats().tx_no_buffer, 1u);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(port.tx_acquire().empty());
  EXPECT_EQ(port.stats().tx_no_buffer, 11u);
  EXPECT_TRUE(port.frames_accounted());
  EXPECT_EQ(port.stats().tx_frames, 0u) << "nothing is submitted before tx_flush()";

  const auto deadline = Clock::now() + 5s;
  while (port.pool_size() != initial_pool && Clock::now() < deadline) {
    port.tx_flush();
    ASSERT_TRUE(port.frames_accounted());
  }
  EXPECT_EQ(port.pool_size(), initial_pool);
  EXPECT_EQ(port.stats().tx_frames, initial_pool);
  EXPECT_GT(port.stats().kicks, 0u);
  EXPECT_EQ(port.stats().tx_invalid, 0u);
  // Nothing new submitted: flushing makes no system call (a kick per idle loop would cost a
  // sendto() each time an engine goes to sleep).
  const std::uint64_t kicks = port.stats().kicks;
  port.tx_flush();
  port.tx_flush();
  EXPECT_EQ(port.stats().kicks, kicks);
  EXPECT_FALSE(port.tx_acquire().empty()) << "the pool is usable again";
}

// Design brief §7: veth has no zero-copy; asking for it fails clearly, auto falls back to copy.
TEST_F(AfXdpPortTest, ZeroCopyOnVeth_RefusedWithHint_AutoFallsBackToCopy) {
  AfXdpConfig c = config(0);
  c.bind = BindMode::kZeroCopy;
  auto zc = AfXdpPort::open(c);
  ASSERT_FALSE(zc.ok()) << "veth has no AF_XDP zero-copy";
  EXPECT_NE(zc.error().code, EBUSY) << zc.error().describe();
  EXPECT_NE(zc.error().message.find("copy mode"), std::string::npos) << zc.error().describe();
  EXPECT_NE(zc.error().message.find(sb_->iface()), std::string::npos) << zc.error().describe();

  c.bind = BindMode::kAuto;
  auto aut = AfXdpPort::open(c);
  ASSERT_TRUE(aut.ok()) << aut.error().describe();
  EXPECT_FALSE(aut.value()->zero_copy());
  EXPECT_TRUE(aut.value()->frames_accounted());
  EXPECT_EQ(aut.value()->pool_size(), c.frame_count - c.fill_size);
  aut.value().reset();

  c.bind = BindMode::kCopy;
  auto copy = AfXdpPort::open(c);
  ASSERT_TRUE(copy.ok()) << copy.error().describe() << " (the queue must be free again after close)";
  EXPECT_FALSE(copy.value()->zero_copy());
}

// One socket per queue (design brief §7): a second open of a taken queue fails with EBUSY (after
// the bounded retry), and a queue just closed can be reopened at once, although the kernel frees it
// in deferred work.
TEST_F(AfXdpPortTest, QueueTaken_SecondOpenEbusy_ClosedQueueReopens) {
  AfXdpConfig c = config(1);
  auto first = AfXdpPort::open(c);
  ASSERT_TRUE(first.ok()) << first.error().describe();
  auto second = AfXdpPort::open(c);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, EBUSY) << second.error().describe();
  EXPECT_NE(second.error().message.find("queue 1"), std::string::npos) << second.error().describe();

  for (int round = 0; round < 3; ++round) {
    // Transmit a little first: in-flight frames keep the old socket alive a bit longer.
    AfXdpPort& p = *first.value();
    for (int i = 0; i < 64; ++i) {
      const std::span<std::uint8_t> buf = p.tx_acquire();
      if (buf.empty()) break;
      std::fill(buf.begin(), buf.begin() + 60, 0);
      wire::emit_ethernet(wire::MacAddr{{0x02, 0, 0, 0, 0, 0x99}}, stack_mac_, 0x88b5, std::nullopt, buf);
      p.tx_commit(60);
    }
    p.tx_flush();
    first.value().reset();
    first = AfXdpPort::open(c);
    ASSERT_TRUE(first.ok()) << "round " << round << ": " << first.error().describe();
  }
}

// packet_io.h: wait() sleeps in poll() for the timeout when nothing arrives, returns at once with
// busy polling, and returns early when a frame is waiting.
TEST_F(AfXdpPortTest, Wait_SleepsForTimeout_BusyPollReturnsAtOnce_FrameWakesEarly) {
  constexpr std::uint16_t kPort = 47200;
  attach_steering();
  if (HasFatalFailure()) return;
  steer(kPort, kPort);
  open_all_queues();
  if (HasFatalFailure()) return;

  auto t0 = Clock::now();
  ports_[0]->wait(Duration::millis(50));
  auto took = Clock::now() - t0;
  EXPECT_GE(took, 40ms) << "nothing arrives: wait() sleeps for the timeout";
  EXPECT_LT(took, 2s);

  // A frame on the ring: one of the queues' wait() returns well before its timeout.
  auto sock = test::packet_socket_in(sb_->peer_ns(), sb_->var("PEER_IFACE"));
  ASSERT_TRUE(sock.ok()) << sock.error().describe();
  FdGuard guard{sock.value()};
  std::array<std::uint8_t, 128> frame{};
  const std::size_t len = test::build_ipv4_tcp(syn_to_stack(20000, kPort), frame);
  ASSERT_EQ(send(guard.fd, frame.data(), len, 0), static_cast<ssize_t>(len));
  ASSERT_TRUE(test::wait_until(
      [&] {
        auto c = kernel::read_counters(maps_->fds());
        return c.ok() && c->redirected >= 1;
      },
      2000ms));
  bool woke_early = false;
  for (const auto& p : ports_) {
    t0 = Clock::now();
    p->wait(Duration::millis(500));
    took = Clock::now() - t0;
    std::array<io::RxFrame, kBatch> batch{};
    const std::size_t n = p->rx_burst(batch);
    if (n > 0) {
      woke_early = took < 100ms;
      p->rx_release(std::span<const io::RxFrame>(batch.data(), n));
    }
  }
  EXPECT_TRUE(woke_early) << "wait() must return at once when a frame is waiting";
  ports_.clear();

  AfXdpConfig c = config(0);
  c.busy_poll = true;
  auto bp = AfXdpPort::open(c);
  ASSERT_TRUE(bp.ok()) << bp.error().describe();
  t0 = Clock::now();
  bp.value()->wait(Duration::millis(50));
  EXPECT_LT(Clock::now() - t0, 20ms) << "busy polling: wait() never sleeps";
}

// Configuration errors are found before any socket exists, with a message saying what to change.
TEST(AfXdpPortConfig, BadFrameSizeOrRing_Einval_UnknownInterface_Enodev) {
  AfXdpConfig c;
  c.ifname = "lo";
  c.frame_size = 1000;
  auto r = AfXdpPort::open(c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, EINVAL);
  EXPECT_NE(r.error().message.find("frame_size"), std::string::npos) << r.error().describe();

  c.frame_size = 2048;
  c.ring_size = 1000;
  r = AfXdpPort::open(c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, EINVAL);
  EXPECT_NE(r.error().message.find("power"), std::string::npos) << r.error().describe();

  c.ring_size = 1024;
  c.fill_size = 4096;  // leaves no frame for the TX ring
  r = AfXdpPort::open(c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, EINVAL);
  EXPECT_NE(r.error().message.find("frame_count"), std::string::npos) << r.error().describe();

  c = AfXdpConfig{};
  c.ifname = "xsktest-none";
  r = AfXdpPort::open(c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ENODEV);
  EXPECT_NE(r.error().message.find("xsktest-none"), std::string::npos) << r.error().describe();
}

}  // namespace
}  // namespace xdptcp
