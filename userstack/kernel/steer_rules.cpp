// Steering rules and socket registration over the XDP program's maps; see steer_rules.h and
// bpf/include/xdptcp/steer_abi.h for the layout.
//
// Write ordering, because the XDP program reads while we write (array map updates copy the
// value in place, not atomically):
//   - adding: the slot is first written complete with family = 0 (free, so the program skips
//     it), then written again with the family set; only the family byte changes in the second
//     copy, so the program never sees a half-written rule as used. Then the bitmap gains bits.
//   - deleting: the slot is cleared (family 0 first), then the bitmap loses bits.
//   - draining on or off: the slot is written once with only its flags byte changed; a single byte
//     is never seen torn, and the other bytes are rewritten with the values they had.
// Bitmap words are 8-byte aligned and copied whole, so a port's bit is never seen torn.
#include "userstack/kernel/steer_rules.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "xdptcp/steer_abi.h"

namespace xdptcp::kernel {
namespace {

constexpr std::uint32_t kMaxRules = XDPTCP_MAX_RULES;
constexpr std::uint32_t kMaxQueues = XDPTCP_MAX_QUEUES;
constexpr std::size_t kMaxStackFlows = XDPTCP_MAX_STACK_FLOWS;

// libbpf (1.x) returns -errno from the low-level map calls.
Error bpf_error(int ret, std::string what) {
  return Error{ret < 0 ? -ret : EIO, std::move(what)};
}

Result<void> need_fd(int fd, const char* map) {
  if (fd >= 0) return {};
  return Error{EBADF, std::string("steering map ") + map +
                          " is not open: attach the XDP program (xdptcp-ctl attach) or load it first"};
}

std::string describe(const SteerRule& r) {
  std::string s = r.family == wire::IpFamily::kV4 ? "tcp/ipv4 " : "tcp/ipv6 ";
  if (r.any_addr) {
    s += "*";
  } else {
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(r.family == wire::IpFamily::kV4 ? AF_INET : AF_INET6, r.addr.bytes.data(), buf, sizeof buf);
    s += buf;
  }
  s += " port " + std::to_string(r.port_lo);
  if (r.port_hi != r.port_lo) s += "-" + std::to_string(r.port_hi);
  return s;
}

std::string owner_text(std::uint32_t pid) {
  return pid == 0 ? "permanent" : "of pid " + std::to_string(pid);
}

xdptcp_rule to_raw(const SteerRule& r) {
  xdptcp_rule raw{};
  raw.family = static_cast<__u8>(r.family);
  unsigned flags = 0;
  if (r.any_addr) flags |= XDPTCP_RULE_ANY_ADDR;
  if (r.draining) flags |= XDPTCP_RULE_DRAINING;
  raw.flags = static_cast<__u8>(flags);
  raw.port_lo = r.port_lo;
  raw.port_hi = r.port_hi;
  if (!r.any_addr) std::memcpy(raw.addr, r.addr.bytes.data(), r.family == wire::IpFamily::kV4 ? 4 : 16);
  raw.owner_pid = r.owner_pid;
  return raw;
}

SteerRule from_raw(const xdptcp_rule& raw) {
  SteerRule r;
  r.family = raw.family == XDPTCP_FAMILY_V6 ? wire::IpFamily::kV6 : wire::IpFamily::kV4;
  r.any_addr = (raw.flags & XDPTCP_RULE_ANY_ADDR) != 0;
  r.addr.family = r.family;
  if (!r.any_addr) std::memcpy(r.addr.bytes.data(), raw.addr, r.family == wire::IpFamily::kV4 ? 4 : 16);
  r.port_lo = raw.port_lo;
  r.port_hi = raw.port_hi;
  r.owner_pid = raw.owner_pid;
  r.draining = (raw.flags & XDPTCP_RULE_DRAINING) != 0;
  return r;
}

bool used(const xdptcp_rule& raw) {
  return raw.family != XDPTCP_FAMILY_NONE;
}

// Normalises a rule (the address of a wildcard rule is meaningless) and checks it.
Result<SteerRule> validated(const SteerRule& in) {
  SteerRule r = in;
  if (r.family != wire::IpFamily::kV4 && r.family != wire::IpFamily::kV6)
    return Error{EINVAL, "steering rule: family must be IPv4 or IPv6"};
  if (r.port_lo > r.port_hi)
    return Error{EINVAL, "steering rule " + describe(r) + ": first port is above the last port"};
  if (r.any_addr) {
    r.addr = wire::IpAddr{};
    r.addr.family = r.family;
  } else if (r.addr.family != r.family) {
    return Error{EINVAL, "steering rule: address family differs from the rule's family"};
  } else if (r.family == wire::IpFamily::kV4) {
    std::fill(r.addr.bytes.begin() + 4, r.addr.bytes.end(), std::uint8_t{0});
  }
  return r;
}

using Slots = std::array<xdptcp_rule, kMaxRules>;

Result<void> read_slots(int fd, Slots& slots) {
  for (std::uint32_t i = 0; i < kMaxRules; ++i) {
    int ret = bpf_map_lookup_elem(fd, &i, &slots[i]);
    if (ret != 0) return bpf_error(ret, "reading steering rule slot " + std::to_string(i));
  }
  return {};
}

Result<void> write_slot(int fd, std::uint32_t i, const xdptcp_rule& raw) {
  int ret = bpf_map_update_elem(fd, &i, &raw, BPF_ANY);
  if (ret != 0) return bpf_error(ret, "writing steering rule slot " + std::to_string(i));
  return {};
}

// xdptcp_ports := the union of the port ranges of the used slots, written as one value.
Result<void> write_bitmap(int fd, const Slots& slots) {
  auto bm = std::make_unique<xdptcp_port_bitmap>();
  for (const xdptcp_rule& raw : slots) {
    if (!used(raw)) continue;
    for (std::uint32_t p = raw.port_lo; p <= raw.port_hi; ++p) bm->words[p / 64] |= __u64{1} << (p % 64);
  }
  std::uint32_t zero = 0;
  int ret = bpf_map_update_elem(fd, &zero, bm.get(), BPF_ANY);
  if (ret != 0) return bpf_error(ret, "writing the steering port bitmap");
  return {};
}

// An exclusive flock on kSteerLockPath for the lifetime of the object: the rule table is
// read-modify-write, and several processes (applications, xdptcp-ctl) may change it at once.
class RuleTableLock {
 public:
  static Result<std::unique_ptr<RuleTableLock>> acquire() {
    int fd = ::open(kSteerLockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) fd = ::open(kSteerLockPath, O_RDONLY | O_CLOEXEC);  // created by root earlier
    if (fd < 0)
      return errno_error(std::string("opening the steering lock ") + kSteerLockPath +
                         ": run as root once (or xdptcp-ctl attach) so that it exists");
    while (::flock(fd, LOCK_EX) != 0) {
      if (errno == EINTR) continue;
      Error e = errno_error(std::string("locking ") + kSteerLockPath);
      ::close(fd);
      return e;
    }
    return std::unique_ptr<RuleTableLock>(new RuleTableLock(fd));
  }
  ~RuleTableLock() { ::close(fd_); }  // closing releases the flock
  RuleTableLock(const RuleTableLock&) = delete;
  RuleTableLock& operator=(const RuleTableLock&) = delete;

 private:
  explicit RuleTableLock(int fd) : fd_(fd) {}
  int fd_;
};

Result<void> need_rule_maps(const SteerMapFds& maps) {
  if (auto r = need_fd(maps.rules, "xdptcp_rules"); !r) return r;
  return need_fd(maps.ports, "xdptcp_ports");
}

// The draining flag needs a program that understands it: one with xdptcp_stack_flows (ABI 4). An
// older program would ignore the flag and keep steering new connections to the draining process.
Result<void> need_stack_flows_map(const SteerMapFds& maps) {
  if (maps.stack_flows >= 0) return {};
  if (maps.rules >= 0)
    return Error{EBADF,
                 "the steering maps were pinned by an xdptcp older than steering ABI 4, without draining "
                 "(xdptcp_stack_flows): re-attach the program (xdptcp-ctl detach, then xdptcp-ctl attach)"};
  return need_fd(maps.stack_flows, "xdptcp_stack_flows");
}

// Whether `rule` may be flagged draining: a process's rule (a permanent one has no flows of its own:
// the program would compare the flows' pids with 0 and pass everything), on a program that drains.
Result<void> check_can_drain(const SteerMapFds& maps, const SteerRule& rule) {
  if (rule.owner_pid == 0)
    return Error{EINVAL,
                 "steering rule " + describe(rule) +
                     " is permanent: only a process's rule can drain (it keeps that process's flows)"};
  return need_stack_flows_map(maps);
}

// Whether /proc/<pid> exists. Only a definite ENOENT counts as dead (the caller has checked that
// /proc is mounted); any other failure keeps the rule, since removing a live owner's rule is worse.
bool process_exists(std::uint32_t pid) {
  std::string path = "/proc/" + std::to_string(pid);
  return ::access(path.c_str(), F_OK) == 0 || errno != ENOENT;
}

// Removes the entries of xdptcp_stack_flows whose process no longer exists. One walk over the map,
// bounded by its size (a walk whose key another process deletes meanwhile restarts at the first key),
// collecting the keys first: deleting the key the walk continues from would restart it too.
Result<void> remove_stack_flows_of_dead_owners(int fd) {
  std::vector<xdptcp_flow_key> dead;
  std::unordered_map<std::uint32_t, bool> exists;  // one look at /proc per pid, not per flow
  xdptcp_flow_key key{};
  xdptcp_flow_key next{};
  const void* prev = nullptr;
  for (std::size_t n = 0; n < kMaxStackFlows; ++n) {
    int ret = bpf_map_get_next_key(fd, prev, &next);
    if (ret == -ENOENT) break;  // the end
    if (ret != 0) return bpf_error(ret, "walking xdptcp_stack_flows");
    key = next;
    prev = &key;
    std::uint32_t pid = 0;
    ret = bpf_map_lookup_elem(fd, &key, &pid);
    if (ret == -ENOENT) continue;  // removed by its owner meanwhile
    if (ret != 0) return bpf_error(ret, "reading xdptcp_stack_flows");
    if (pid == 0) continue;  // no process's (add_stack_flow refuses 0): not ours to judge
    auto [it, fresh] = exists.try_emplace(pid, true);
    if (fresh) it->second = process_exists(pid);
    if (!it->second) dead.push_back(key);
  }
  for (const xdptcp_flow_key& k : dead) {
    int ret = bpf_map_delete_elem(fd, &k);
    if (ret != 0 && ret != -ENOENT)
      return bpf_error(ret, "removing a dead process's flow from xdptcp_stack_flows");
  }
  return {};
}

Result<void> clear_socket_slot(const SteerMapFds& maps, std::uint32_t queue) {
  int ret = bpf_map_delete_elem(maps.xsks, &queue);
  if (ret != 0 && ret != -ENOENT)
    return bpf_error(ret, "removing the AF_XDP socket of queue " + std::to_string(queue));
  xdptcp_socket_info info{};
  ret = bpf_map_update_elem(maps.sockets, &queue, &info, BPF_ANY);
  if (ret != 0) return bpf_error(ret, "clearing the socket record of queue " + std::to_string(queue));
  return {};
}

// Whether `rule` may not join `existing`: one owner's rule twice, or a process's rule beside a
// permanent one of the same match, which already steers that traffic on every queue (the stack
// reads EEXIST as exactly that and leaves the permanent rule alone). A permanent rule may join
// process rules: they go when their processes exit, it stays.
bool conflicts(const SteerRule& existing, const SteerRule& rule) {
  return existing.same_match(rule) && (existing.owner_pid == 0 || existing.owner_pid == rule.owner_pid);
}

Error exists_error(const SteerRule& existing, const SteerRule& rule) {
  if (existing.owner_pid == rule.owner_pid)
    return Error{EEXIST,
                 "steering rule " + describe(rule) + " (" + owner_text(rule.owner_pid) + ") already exists"};
  return Error{EEXIST,
               "steering rule " + describe(rule) + " is covered by the permanent rule of the same match"};
}

// The common start of a change to the rule table: check the maps, validate the rule, take the
// table lock and read the table; `change(rule, slots)` then runs with the lock held.
template <typename Change>
Result<void> change_rule_table(const SteerMapFds& maps, const SteerRule& rule_in, Change&& change) {
  if (auto r = need_rule_maps(maps); !r) return r;
  auto rule = validated(rule_in);
  if (!rule) return rule.error();
  auto lock = RuleTableLock::acquire();
  if (!lock) return lock.error();
  Slots slots{};
  if (auto r = read_slots(maps.rules, slots); !r) return r;
  return change(rule.value(), slots);
}

}  // namespace

bool SteerRule::same_match(const SteerRule& o) const {
  return family == o.family && any_addr == o.any_addr && (any_addr || addr.bytes == o.addr.bytes) &&
         port_lo == o.port_lo && port_hi == o.port_hi;
}

Result<void> add_rule(const SteerMapFds& maps, const SteerRule& rule_in) {
  if (rule_in.draining)
    if (auto r = check_can_drain(maps, rule_in); !r) return r;
  return change_rule_table(maps, rule_in, [&](const SteerRule& rule, Slots& slots) -> Result<void> {
    int free_slot = -1;
    for (std::uint32_t i = 0; i < kMaxRules; ++i) {
      if (!used(slots[i])) {
        if (free_slot < 0) free_slot = static_cast<int>(i);
        continue;
      }
      const SteerRule existing = from_raw(slots[i]);
      if (conflicts(existing, rule)) return exists_error(existing, rule);
    }
    if (free_slot < 0)
      return Error{ENOSPC, "steering rule table full (" + std::to_string(kMaxRules) +
                               " rules): remove stale rules (xdptcp-ctl) or use port ranges"};

    auto idx = static_cast<std::uint32_t>(free_slot);
    xdptcp_rule raw = to_raw(rule);
    xdptcp_rule staged = raw;
    staged.family = XDPTCP_FAMILY_NONE;  // see the file comment: write it free first
    if (auto r = write_slot(maps.rules, idx, staged); !r) return r;
    if (auto r = write_slot(maps.rules, idx, raw); !r) return r;
    slots[idx] = raw;
    return write_bitmap(maps.ports, slots);
  });
}

Result<void> del_rule(const SteerMapFds& maps, const SteerRule& rule_in) {
  return change_rule_table(maps, rule_in, [&](const SteerRule& rule, Slots& slots) -> Result<void> {
    for (std::uint32_t i = 0; i < kMaxRules; ++i) {
      // Only the caller's own: another process's rule of the same match steers its own queues.
      if (!used(slots[i]) || slots[i].owner_pid != rule.owner_pid || !from_raw(slots[i]).same_match(rule))
        continue;
      slots[i] = xdptcp_rule{};
      if (auto r = write_slot(maps.rules, i, slots[i]); !r) return r;
      return write_bitmap(maps.ports, slots);
    }
    return Error{
        ENOENT, "steering rule " + describe(rule) + " (" + owner_text(rule.owner_pid) + ") is not installed"};
  });
}

Result<void> set_rule_draining(const SteerMapFds& maps, const SteerRule& rule_in, bool draining) {
  if (draining)
    if (auto r = check_can_drain(maps, rule_in); !r) return r;
  return change_rule_table(maps, rule_in, [&](const SteerRule& rule, Slots& slots) -> Result<void> {
    for (std::uint32_t i = 0; i < kMaxRules; ++i) {
      if (!used(slots[i]) || slots[i].owner_pid != rule.owner_pid || !from_raw(slots[i]).same_match(rule))
        continue;
      xdptcp_rule raw = slots[i];
      unsigned flags = raw.flags;
      if (draining) {
        flags |= XDPTCP_RULE_DRAINING;
      } else {
        flags &= ~static_cast<unsigned>(XDPTCP_RULE_DRAINING);
      }
      raw.flags = static_cast<__u8>(flags);
      if (raw.flags == slots[i].flags) return {};
      // In place (see the file comment): the match and the port bitmap stay as they are.
      return write_slot(maps.rules, i, raw);
    }
    return Error{
        ENOENT, "steering rule " + describe(rule) + " (" + owner_text(rule.owner_pid) + ") is not installed"};
  });
}

Result<std::vector<SteerRule>> list_rules(const SteerMapFds& maps) {
  if (auto r = need_fd(maps.rules, "xdptcp_rules"); !r) return r.error();
  Slots slots{};
  if (auto r = read_slots(maps.rules, slots); !r) return r.error();
  std::vector<SteerRule> out;
  for (const xdptcp_rule& raw : slots)
    if (used(raw)) out.push_back(from_raw(raw));
  return out;
}

Result<std::size_t> remove_rules_of_dead_owners(const SteerMapFds& maps) {
  if (auto r = need_rule_maps(maps); !r) return r.error();
  if (::access("/proc/self", F_OK) != 0)
    return errno_error("/proc is not mounted, so dead rule owners cannot be told apart: mount proc");
  auto lock = RuleTableLock::acquire();
  if (!lock) return lock.error();

  Slots slots{};
  if (auto r = read_slots(maps.rules, slots); !r) return r.error();
  std::size_t removed = 0;
  for (std::uint32_t i = 0; i < kMaxRules; ++i) {
    if (!used(slots[i]) || slots[i].owner_pid == 0 || process_exists(slots[i].owner_pid)) continue;
    slots[i] = xdptcp_rule{};
    if (auto r = write_slot(maps.rules, i, slots[i]); !r) return r.error();
    ++removed;
  }
  if (removed != 0)
    if (auto r = write_bitmap(maps.ports, slots); !r) return r.error();

  // Socket records: an XSKMAP entry vanishes with its socket, but the record that says who
  // registered it does not.
  if (maps.sockets >= 0 && maps.xsks >= 0) {
    auto owners = list_queue_owners(maps);
    if (!owners) return owners.error();
    for (const QueueOwner& o : owners.value()) {
      if (process_exists(o.pid)) continue;
      if (auto r = clear_socket_slot(maps, o.queue); !r) return r.error();
    }
  }

  // The flows of dead processes: their rules are gone, so the entries would only take room. The walk
  // may be long and touches no rule, so other processes may change the table meanwhile.
  lock.value().reset();
  if (maps.stack_flows >= 0)
    if (auto r = remove_stack_flows_of_dead_owners(maps.stack_flows); !r) return r.error();
  return removed;
}

namespace {

// The exception maps are absent from a set pinned by an older xdptcp (steering ABI 1), which
// open_pinned accepts for everything else.
Result<void> need_exception_maps(const SteerMapFds& maps) {
  if (maps.kernel_flows >= 0 && maps.config >= 0) return {};
  if (maps.rules >= 0)
    return Error{EBADF,
                 "the steering maps were pinned by an older xdptcp, without steering exceptions "
                 "(xdptcp_kernel_flows): re-attach the program (xdptcp-ctl detach, then xdptcp-ctl attach)"};
  return need_fd(maps.kernel_flows, "xdptcp_kernel_flows");
}

std::string describe(const wire::FourTuple& flow) {
  return flow.local.to_string() + " <-> " + flow.remote.to_string();
}

// The key of xdptcp_kernel_flows and xdptcp_stack_flows for `flow` (local = where its segments
// arrive), as the program builds it from a segment. `what` names the entry for errors.
Result<xdptcp_flow_key> flow_key(const wire::FourTuple& flow, const char* what) {
  if (flow.local.ip.family != flow.remote.ip.family ||
      (flow.local.ip.family != wire::IpFamily::kV4 && flow.local.ip.family != wire::IpFamily::kV6))
    return Error{EINVAL, std::string(what) + " " + describe(flow) +
                             ": the addresses must be of one family, IPv4 or IPv6"};
  xdptcp_flow_key key{};
  const bool v4 = flow.local.ip.family == wire::IpFamily::kV4;
  key.family = v4 ? XDPTCP_FAMILY_V4 : XDPTCP_FAMILY_V6;
  key.local_port = flow.local.port;
  key.remote_port = flow.remote.port;
  std::memcpy(key.local_addr, flow.local.ip.bytes.data(), v4 ? 4 : 16);
  std::memcpy(key.remote_addr, flow.remote.ip.bytes.data(), v4 ? 4 : 16);
  return key;
}

Result<xdptcp_flow_key> kernel_flow_key(const SteerMapFds& maps, const wire::FourTuple& flow) {
  if (auto r = need_exception_maps(maps); !r) return r.error();
  return flow_key(flow, "steering exception");
}

Result<xdptcp_flow_key> stack_flow_key(const SteerMapFds& maps, const wire::FourTuple& flow) {
  if (auto r = need_stack_flows_map(maps); !r) return r.error();
  return flow_key(flow, "stack flow");
}

}  // namespace

Result<void> add_kernel_flow(const SteerMapFds& maps, const wire::FourTuple& flow) {
  auto key = kernel_flow_key(maps, flow);
  if (!key) return key.error();
  const __u8 one = 1;
  int ret = bpf_map_update_elem(maps.kernel_flows, &key.value(), &one, BPF_ANY);
  if (ret != 0) return bpf_error(ret, "adding the steering exception " + describe(flow));
  // The flag after the entry: the program never looks up before there is something to find, and
  // once set it stays (clearing it could race with another process's add).
  std::uint32_t zero = 0;
  xdptcp_config cfg{};
  ret = bpf_map_lookup_elem(maps.config, &zero, &cfg);
  if (ret != 0) return bpf_error(ret, "reading xdptcp_config");
  if (cfg.kernel_flows == 0) {
    cfg.kernel_flows = 1;
    ret = bpf_map_update_elem(maps.config, &zero, &cfg, BPF_ANY);
    if (ret != 0) return bpf_error(ret, "writing xdptcp_config");
  }
  return {};
}

Result<void> del_kernel_flow(const SteerMapFds& maps, const wire::FourTuple& flow) {
  auto key = kernel_flow_key(maps, flow);
  if (!key) return key.error();
  int ret = bpf_map_delete_elem(maps.kernel_flows, &key.value());
  if (ret != 0 && ret != -ENOENT) return bpf_error(ret, "removing the steering exception " + describe(flow));
  return {};
}

Result<bool> has_kernel_flow(const SteerMapFds& maps, const wire::FourTuple& flow) {
  auto key = kernel_flow_key(maps, flow);
  if (!key) return key.error();
  __u8 v = 0;
  int ret = bpf_map_lookup_elem(maps.kernel_flows, &key.value(), &v);
  if (ret == -ENOENT) return false;
  if (ret != 0) return bpf_error(ret, "looking up the steering exception " + describe(flow));
  return true;
}

Result<void> add_stack_flow(const SteerMapFds& maps, const wire::FourTuple& flow, std::uint32_t pid) {
  auto key = stack_flow_key(maps, flow);
  if (!key) return key.error();
  if (pid == 0)
    return Error{EINVAL,
                 "stack flow " + describe(flow) + ": pid 0 is no process (a draining rule's owner is one)"};
  int ret = bpf_map_update_elem(maps.stack_flows, &key.value(), &pid, BPF_ANY);
  if (ret != 0) return bpf_error(ret, "adding the stack flow " + describe(flow));
  return {};
}

Result<void> del_stack_flow(const SteerMapFds& maps, const wire::FourTuple& flow) {
  auto key = stack_flow_key(maps, flow);
  if (!key) return key.error();
  int ret = bpf_map_delete_elem(maps.stack_flows, &key.value());
  if (ret != 0 && ret != -ENOENT) return bpf_error(ret, "removing the stack flow " + describe(flow));
  return {};
}

Result<bool> has_stack_flow(const SteerMapFds& maps, const wire::FourTuple& flow, std::uint32_t* pid) {
  auto key = stack_flow_key(maps, flow);
  if (!key) return key.error();
  std::uint32_t v = 0;
  int ret = bpf_map_lookup_elem(maps.stack_flows, &key.value(), &v);
  if (ret == -ENOENT) return false;
  if (ret != 0) return bpf_error(ret, "looking up the stack flow " + describe(flow));
  if (pid != nullptr) *pid = v;
  return true;
}

Result<SteerCounters> read_counters(const SteerMapFds& maps) {
  if (auto r = need_fd(maps.counters, "xdptcp_counters"); !r) return r.error();
  int ncpus = libbpf_num_possible_cpus();
  if (ncpus <= 0) return bpf_error(ncpus, "counting the possible CPUs (/sys/devices/system/cpu/possible)");
  std::vector<std::uint64_t> per_cpu(static_cast<std::size_t>(ncpus));
  std::array<std::uint64_t, XDPTCP_CTR_COUNT> sums{};
  for (std::uint32_t c = 0; c < XDPTCP_CTR_COUNT; ++c) {
    int ret = bpf_map_lookup_elem(maps.counters, &c, per_cpu.data());
    // An older program has fewer counters (ABI 1 lacks PASS_KERNEL_FLOW, ABI 2 PASS_OTHER_OWNER,
    // ABI 3 PASS_DRAINING): a missing one reads as 0.
    if (ret == -ENOENT && c >= XDPTCP_CTR_PASS_KERNEL_FLOW) continue;
    if (ret != 0) return bpf_error(ret, "reading steering counter " + std::to_string(c));
    for (std::uint64_t v : per_cpu) sums[c] += v;
  }
  SteerCounters out;
  out.seen = sums[XDPTCP_CTR_SEEN];
  out.redirected = sums[XDPTCP_CTR_REDIRECTED];
  out.pass_not_ours = sums[XDPTCP_CTR_PASS_NOT_OURS];
  out.pass_no_socket = sums[XDPTCP_CTR_PASS_NO_SOCKET];
  out.malformed = sums[XDPTCP_CTR_MALFORMED];
  out.pass_kernel_flow = sums[XDPTCP_CTR_PASS_KERNEL_FLOW];
  out.pass_other_owner = sums[XDPTCP_CTR_PASS_OTHER_OWNER];
  out.pass_draining = sums[XDPTCP_CTR_PASS_DRAINING];
  return out;
}

Result<void> register_socket(const SteerMapFds& maps, std::uint32_t queue, int xsk_fd, std::uint32_t pid) {
  if (auto r = need_fd(maps.xsks, "xdptcp_xsks"); !r) return r;
  if (auto r = need_fd(maps.sockets, "xdptcp_sockets"); !r) return r;
  if (queue >= kMaxQueues)
    return Error{EINVAL, "registering an AF_XDP socket on queue " + std::to_string(queue) +
                             ": the steering program supports queues 0.." + std::to_string(kMaxQueues - 1)};
  // The owner first (see steer_rules.h): the other way round, the new socket would sit for a moment
  // under the record of the queue's previous owner and receive what its unpruned rules select.
  xdptcp_socket_info previous{};
  int ret = bpf_map_lookup_elem(maps.sockets, &queue, &previous);
  if (ret != 0) return bpf_error(ret, "reading the socket record of queue " + std::to_string(queue));
  xdptcp_socket_info info{};
  info.owner_pid = pid;
  timespec ts{};
  ::clock_gettime(CLOCK_BOOTTIME, &ts);
  info.registered_ns = static_cast<__u64>(ts.tv_sec) * 1000000000ull + static_cast<__u64>(ts.tv_nsec);
  ret = bpf_map_update_elem(maps.sockets, &queue, &info, BPF_ANY);
  if (ret != 0) return bpf_error(ret, "writing the socket record of queue " + std::to_string(queue));
  ret = bpf_map_update_elem(maps.xsks, &queue, &xsk_fd, BPF_ANY);
  if (ret != 0) {
    (void)bpf_map_update_elem(maps.sockets, &queue, &previous, BPF_ANY);
    return bpf_error(ret, "putting the AF_XDP socket of queue " + std::to_string(queue) +
                              " in xdptcp_xsks (is it bound to this interface and queue?)");
  }
  return {};
}

Result<void> unregister_socket(const SteerMapFds& maps, std::uint32_t queue) {
  if (auto r = need_fd(maps.xsks, "xdptcp_xsks"); !r) return r;
  if (auto r = need_fd(maps.sockets, "xdptcp_sockets"); !r) return r;
  if (queue >= kMaxQueues)
    return Error{EINVAL, "unregistering queue " + std::to_string(queue) + ": beyond the steering program's " +
                             std::to_string(kMaxQueues) + " queues"};
  return clear_socket_slot(maps, queue);
}

Result<std::vector<QueueOwner>> list_queue_owners(const SteerMapFds& maps) {
  if (auto r = need_fd(maps.sockets, "xdptcp_sockets"); !r) return r.error();
  std::vector<QueueOwner> out;
  for (std::uint32_t q = 0; q < kMaxQueues; ++q) {
    xdptcp_socket_info info{};
    int ret = bpf_map_lookup_elem(maps.sockets, &q, &info);
    if (ret != 0) return bpf_error(ret, "reading the socket record of queue " + std::to_string(q));
    if (info.owner_pid != 0) out.push_back(QueueOwner{q, info.owner_pid, info.registered_ns});
  }
  return out;
}

}  // namespace xdptcp::kernel
