// `xdptcp-impair tc` and `xdptcp-impair stats`: attach bpf/impair.bpf.c to a clsact hook of an
// interface, set its loss / duplication / corruption, read its counters, detach it.
//
// The filter is a cls_bpf direct-action filter with a fixed handle and priority (impair_abi.h), so a
// second `tc` on the same interface and hook finds it and only rewrites its configuration (counters
// keep counting). The maps are not pinned: the tool reaches them through the program that the filter
// holds (program id -> map ids -> names), so nothing needs bpffs and nothing is left behind once the
// filter is removed.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

#include "userstack/base/result.h"
#include "xdptcp/impair_abi.h"

namespace xdptcp::impair {

enum class Hook { kIngress, kEgress };
const char* hook_name(Hook h);

struct TcSettings {
  std::string iface;
  Hook hook = Hook::kEgress;
  std::uint32_t loss_ppm = 0;
  std::uint32_t dup_ppm = 0;
  std::uint32_t corrupt_ppm = 0;
  std::string dup_to;  // empty: the copy re-enters the same hook of the same interface
  std::uint64_t seed = 1;
};

// Attaches (creating the clsact qdisc when missing) or reconfigures; prints what it did to `out`.
Result<void> tc_apply(const TcSettings& s, std::ostream& out);

// Removes our filter from `hook` of `iface`; then removes the clsact qdisc if no filter is left on
// either of its hooks. Succeeds when nothing was attached.
Result<void> tc_clear(const std::string& iface, Hook hook, std::ostream& out);

// Counters summed over CPUs. ENOENT when the program is not attached there.
Result<impair_counters> tc_counters(const std::string& iface, Hook hook);

// libbpf's own messages on stderr (off by default; the tool prints its own).
void set_libbpf_verbose(bool on);

}  // namespace xdptcp::impair
