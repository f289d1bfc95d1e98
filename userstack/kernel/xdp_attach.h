// Attaching the XDP steering program (bpf/steer.bpf.c) to an interface, pinning its maps, detaching it,
// opening the pinned maps, and reporting the state. Used by xdptcp-ctl and by applications that attach
// for themselves (design brief §4). Read bpf/include/xdptcp/steer_abi.h first: it names the maps.
//
// The program is attached through libxdp, so that it runs in libxdp's multi-program dispatcher and other
// XDP programs can share the interface: ours returns XDP_PASS for every flow that is not ours, and the
// dispatcher then runs the next program. Its maps are pinned under /sys/fs/bpf/xdptcp/<ifname>/<map>, so
// that applications find them without the right to load programs.
//
// Errors carry errnos chosen so that callers can classify them (xdptcp-ctl maps them to exit codes):
//   EPERM       not root / missing CAP_NET_ADMIN, CAP_BPF
//   ENODEV      no such interface
//   EOPNOTSUPP  XDP not supported in the requested mode, or a kernel feature is missing
//   EEXIST      already attached
//   ENOENT      not attached (nothing pinned, or the pinned maps are stale)
//   others      whatever the kernel or libxdp reported
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "userstack/base/result.h"
#include "userstack/kernel/steer_rules.h"

namespace xdptcp::kernel {

enum class XdpMode : std::uint8_t {
  kAuto,     // native, and generic (SKB) when the driver has no native XDP
  kNative,   // in the driver, before an skb exists
  kGeneric,  // after the skb is built: works on every interface, slower
};
const char* to_string(XdpMode mode);  // "auto", "native", "generic"

// /sys/fs/bpf/xdptcp/<ifname>
std::string pin_dir(std::string_view ifname);

// EPERM with "run as root or grant CAP_NET_ADMIN,CAP_BPF" unless the process holds CAP_NET_ADMIN and
// CAP_BPF (or CAP_SYS_ADMIN, which implies CAP_BPF on older kernels).
Result<void> check_privileges();

// Mounts bpffs at /sys/fs/bpf unless it is mounted there already (statfs magic BPF_FS_MAGIC).
Result<void> ensure_bpffs();

// What attach() obtained.
struct AttachInfo {
  std::string ifname;
  int ifindex = 0;
  XdpMode mode = XdpMode::kNative;  // native or generic, never auto
  std::uint32_t prog_id = 0;        // our program
  std::uint32_t dispatcher_id = 0;  // libxdp's dispatcher, 0 when attached without it
  bool multiprog = false;           // through the dispatcher (other programs may coexist)
  std::vector<std::string> notes;   // for the user: fallbacks taken, stale state cleaned
};

// An attached steering program. Detaches in its destructor unless keep() was called (xdptcp-ctl keeps
// the program attached after it exits; an application attaching for itself lets it go with it).
class Attachment {
 public:
  explicit Attachment(AttachInfo info) : info_(std::move(info)) {}
  ~Attachment();
  Attachment(Attachment&& other) noexcept;
  Attachment& operator=(Attachment&& other) noexcept;
  Attachment(const Attachment&) = delete;
  Attachment& operator=(const Attachment&) = delete;

  const AttachInfo& info() const { return info_; }
  void keep() { armed_ = false; }
  Result<void> detach();  // detaches now; the destructor then does nothing

 private:
  AttachInfo info_;
  bool armed_ = true;
};

// Attaches the steering program to `ifname` and pins its maps. "auto" tries native first and falls back to
// generic, saying so in info().notes. Pinned maps left by a program that is no longer attached (stale)
// are removed first. EEXIST when our program is attached already.
Result<Attachment> attach(std::string_view ifname, XdpMode mode);

struct DetachInfo {
  bool was_attached = false;  // our program was attached and has been detached
  bool removed_pins = false;  // pinned maps were removed
  std::vector<std::string> notes;
};

// Detaches only our program (others in the dispatcher stay), then removes the pinned maps. When only
// stale pins exist (program gone, or the interface gone), removes them and succeeds with a note. ENOENT
// when there is nothing to detach.
Result<DetachInfo> detach(std::string_view ifname);

// The pinned maps of `ifname`, owned: the fds close with this object.
class PinnedSteerMaps {
 public:
  PinnedSteerMaps() = default;
  explicit PinnedSteerMaps(SteerMapFds fds) : fds_(fds) {}
  ~PinnedSteerMaps() { close_all(); }
  PinnedSteerMaps(PinnedSteerMaps&& other) noexcept;
  PinnedSteerMaps& operator=(PinnedSteerMaps&& other) noexcept;
  PinnedSteerMaps(const PinnedSteerMaps&) = delete;
  PinnedSteerMaps& operator=(const PinnedSteerMaps&) = delete;

  const SteerMapFds& fds() const { return fds_; }

 private:
  void close_all();
  SteerMapFds fds_{-1, -1, -1, -1, -1};
};

// Opens the maps pinned by attach(). ENOENT with "run xdptcp-ctl attach --iface IF" when there are none.
// Does not check that the program is still attached (that needs privileges an application may lack);
// status() does. A set pinned by an older xdptcp opens with the maps it lacks left at -1: steering
// ABI 1 has no xdptcp_kernel_flows and xdptcp_config (add_kernel_flow fails with EBADF saying to
// re-attach), ABI 3 and older no xdptcp_stack_flows (set_rule_draining and add_stack_flow fail so);
// rules, sockets and counters work.
Result<PinnedSteerMaps> open_pinned(std::string_view ifname);

// A program attached to the interface's XDP hook (ours or another one).
struct XdpProgramEntry {
  std::uint32_t id = 0;
  std::string name;
  bool ours = false;
};

// An AF_XDP socket registered in xdptcp_sockets (steer_abi.h).
struct QueueSocket {
  std::uint32_t queue = 0;
  std::uint32_t owner_pid = 0;
  bool owner_alive = false;         // false: the process is gone and the entry is stale
  std::uint64_t registered_ns = 0;  // CLOCK_BOOTTIME
};

struct SteerStatus {
  std::string ifname;
  int ifindex = 0;        // 0 when the interface no longer exists
  bool attached = false;  // our program runs on the interface
  bool pinned = false;    // our maps are pinned
  bool stale = false;     // pinned, but the program is no longer attached (or the interface is gone)
  std::string mode;       // "native", "generic", "offload", or "" when nothing is attached
  std::uint32_t prog_id = 0;
  std::uint32_t dispatcher_id = 0;
  bool multiprog = false;
  std::vector<XdpProgramEntry> programs;  // every program on the hook, in run order
  std::uint32_t rx_queues = 0;
  std::string driver;
  std::vector<SteerRule> rules;      // empty unless pinned
  std::vector<QueueSocket> sockets;  // registered queues only
  SteerCounters counters{};
};

// The state of `ifname`. Not an error when nothing is attached (attached == pinned == false); ENODEV when
// the interface does not exist and nothing is pinned for it either.
Result<SteerStatus> status(std::string_view ifname);

// Names of the interfaces with a directory under /sys/fs/bpf/xdptcp, sorted.
std::vector<std::string> pinned_interfaces();

}  // namespace xdptcp::kernel
