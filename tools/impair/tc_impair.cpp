// Attaching the impairment program and reaching its maps (see tc_impair.h).
#include "tools/impair/tc_impair.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <net/if.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <vector>

#include "impair.skel.h"

namespace xdptcp::impair {
namespace {

bool g_verbose = false;

int libbpf_print(enum libbpf_print_level level, const char* fmt, va_list args) {
  (void)level;
  if (!g_verbose) return 0;
  return std::vfprintf(stderr, fmt, args);
}

// Closes a file descriptor when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

Result<int> ifindex_of(const std::string& iface) {
  const unsigned idx = if_nametoindex(iface.c_str());
  if (idx == 0) return Error{ENODEV, "no interface named '" + iface + "' (in this network namespace)"};
  return static_cast<int>(idx);
}

bpf_tc_attach_point attach_point(Hook h) {
  return h == Hook::kIngress ? BPF_TC_INGRESS : BPF_TC_EGRESS;
}

// The id of the program our filter holds on that hook; 0 when there is none (or no clsact qdisc).
std::uint32_t attached_prog_id(int ifindex, Hook hook) {
  DECLARE_LIBBPF_OPTS(bpf_tc_hook, h, .ifindex = ifindex, .attach_point = attach_point(hook));
  DECLARE_LIBBPF_OPTS(bpf_tc_opts, o, .handle = IMPAIR_TC_HANDLE, .priority = IMPAIR_TC_PRIORITY);
  if (bpf_tc_query(&h, &o) != 0) return 0;
  return o.prog_id;
}

// A map of program `prog_id`, found by name; the fd is the caller's.
Result<int> map_of_program(std::uint32_t prog_id, const char* map_name) {
  Fd prog(bpf_prog_get_fd_by_id(prog_id));
  if (prog.get() < 0) return errno_error("cannot open BPF program id " + std::to_string(prog_id));
  bpf_prog_info info{};
  std::uint32_t len = sizeof info;
  if (bpf_obj_get_info_by_fd(prog.get(), &info, &len) != 0)
    return errno_error("cannot read BPF program info");
  std::vector<std::uint32_t> ids(info.nr_map_ids);
  const std::string prog_name = info.name;
  info = bpf_prog_info{};
  info.nr_map_ids = static_cast<std::uint32_t>(ids.size());
  info.map_ids = reinterpret_cast<std::uintptr_t>(ids.data());
  len = sizeof info;
  if (bpf_obj_get_info_by_fd(prog.get(), &info, &len) != 0)
    return errno_error("cannot read BPF program info");
  for (std::uint32_t id : ids) {
    const int fd = bpf_map_get_fd_by_id(id);
    if (fd < 0) continue;
    bpf_map_info mi{};
    std::uint32_t mlen = sizeof mi;
    if (bpf_obj_get_info_by_fd(fd, &mi, &mlen) == 0 && std::strcmp(mi.name, map_name) == 0) return fd;
    ::close(fd);
  }
  return Error{ENOENT, "the filter's program '" + prog_name + "' has no map '" + map_name +
                           "': is another program attached with the same tc handle?"};
}

Result<void> write_config(int map_fd, int ifindex, const impair_config& cfg) {
  const auto key = static_cast<std::uint32_t>(ifindex);
  if (bpf_map_update_elem(map_fd, &key, &cfg, BPF_ANY) != 0) return errno_error("cannot write impair_config");
  return {};
}

std::string ppm_text(std::uint32_t ppm) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g%%", ppm / 10000.0);
  return buf;
}

}  // namespace

const char* hook_name(Hook h) {
  return h == Hook::kIngress ? "ingress" : "egress";
}

void set_libbpf_verbose(bool on) {
  g_verbose = on;
  libbpf_set_print(libbpf_print);
}

Result<void> tc_apply(const TcSettings& s, std::ostream& out) {
  set_libbpf_verbose(g_verbose);
  Result<int> ifindex = ifindex_of(s.iface);
  if (!ifindex) return ifindex.error();
  impair_config cfg{};
  cfg.loss_ppm = s.loss_ppm;
  cfg.dup_ppm = s.dup_ppm;
  cfg.corrupt_ppm = s.corrupt_ppm;
  cfg.seed = s.seed;
  if (!s.dup_to.empty()) {
    Result<int> to = ifindex_of(s.dup_to);
    if (!to) return Error{to.error().code, "--dup-to: " + to.error().message};
    cfg.dup_ifindex = static_cast<std::uint32_t>(to.value());
  }
  const std::string what = s.iface + " " + hook_name(s.hook) + ": loss " + ppm_text(s.loss_ppm) + ", dup " +
                           ppm_text(s.dup_ppm) + ", corrupt " + ppm_text(s.corrupt_ppm) + ", seed " +
                           std::to_string(s.seed);

  if (const std::uint32_t id = attached_prog_id(ifindex.value(), s.hook); id != 0) {
    Result<int> map = map_of_program(id, IMPAIR_CONFIG_MAP);
    if (!map) return map.error();
    Fd map_fd(map.value());
    if (auto w = write_config(map_fd.get(), ifindex.value(), cfg); !w) return w;
    out << "reconfigured " << what << "\n";
    return {};
  }

  DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex.value(), .attach_point = attach_point(s.hook));
  if (const int rc = bpf_tc_hook_create(&hook); rc != 0 && rc != -EEXIST) {
    return Error{-rc, "cannot create the clsact qdisc on " + s.iface +
                          " (is CONFIG_NET_SCH_INGRESS enabled? run as root)"};
  }
  struct impair* skel = impair__open_and_load();
  if (skel == nullptr) {
    return errno_error(
        "cannot load the impairment program (needs root or CAP_BPF+CAP_NET_ADMIN; "
        "--verbose shows the verifier's log)");
  }
  const int prog_fd =
      bpf_program__fd(s.hook == Hook::kIngress ? skel->progs.impair_ingress : skel->progs.impair_egress);
  Result<void> result = write_config(bpf_map__fd(skel->maps.impair_config), ifindex.value(), cfg);
  if (result.ok()) {
    DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = prog_fd, .flags = BPF_TC_F_REPLACE,
                        .handle = IMPAIR_TC_HANDLE, .priority = IMPAIR_TC_PRIORITY);
    if (const int rc = bpf_tc_attach(&hook, &opts); rc != 0) {
      result = Error{-rc, "cannot attach the cls_bpf filter to " + s.iface + " " + hook_name(s.hook) +
                              " (is CONFIG_NET_CLS_BPF enabled?)"};
    }
  }
  // The filter holds the program and the program its maps: our references can go.
  impair__destroy(skel);
  if (result.ok()) out << "attached " << what << "\n";
  return result;
}

Result<void> tc_clear(const std::string& iface, Hook hook, std::ostream& out) {
  set_libbpf_verbose(g_verbose);
  Result<int> ifindex = ifindex_of(iface);
  if (!ifindex) return ifindex.error();
  DECLARE_LIBBPF_OPTS(bpf_tc_hook, h, .ifindex = ifindex.value(), .attach_point = attach_point(hook));
  if (attached_prog_id(ifindex.value(), hook) != 0) {
    DECLARE_LIBBPF_OPTS(bpf_tc_opts, o, .handle = IMPAIR_TC_HANDLE, .priority = IMPAIR_TC_PRIORITY);
    if (const int rc = bpf_tc_detach(&h, &o); rc != 0) {
      return Error{-rc, "cannot detach the impairment filter from " + iface + " " + hook_name(hook)};
    }
    out << "detached from " << iface << " " << hook_name(hook) << "\n";
  } else {
    out << "nothing attached to " << iface << " " << hook_name(hook) << "\n";
  }
  // Remove the clsact qdisc only when it is empty, so that other users' filters survive. libbpf cannot
  // list filters; tc can.
  const std::string cmd = "tc filter show dev " + iface + " ingress 2>/dev/null; tc filter show dev " +
                          iface + " egress 2>/dev/null";
  std::string listing;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[256];
    while (std::fgets(buf, sizeof buf, p) != nullptr) listing += buf;
    ::pclose(p);
    if (listing.empty()) {
      DECLARE_LIBBPF_OPTS(bpf_tc_hook, both, .ifindex = ifindex.value(),
                          .attach_point = static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS));
      if (bpf_tc_hook_destroy(&both) == 0) out << "removed the clsact qdisc of " << iface << "\n";
    }
  }
  return {};
}

Result<impair_counters> tc_counters(const std::string& iface, Hook hook) {
  set_libbpf_verbose(g_verbose);
  Result<int> ifindex = ifindex_of(iface);
  if (!ifindex) return ifindex.error();
  const std::uint32_t id = attached_prog_id(ifindex.value(), hook);
  if (id == 0) {
    return Error{ENOENT, std::string("no impairment program on ") + iface + " " + hook_name(hook) +
                             " (attach one with: xdptcp-impair tc --iface " + iface + " ...)"};
  }
  Result<int> map = map_of_program(id, IMPAIR_COUNTERS_MAP);
  if (!map) return map.error();
  Fd map_fd(map.value());
  const int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return Error{-ncpu, "cannot count the possible CPUs"};
  std::vector<impair_counters> per_cpu(static_cast<std::size_t>(ncpu));
  const auto key = static_cast<std::uint32_t>(ifindex.value());
  impair_counters sum{};
  if (bpf_map_lookup_elem(map_fd.get(), &key, per_cpu.data()) != 0) {
    if (errno == ENOENT) return sum;  // no frame seen yet
    return errno_error("cannot read impair_counters");
  }
  for (const impair_counters& c : per_cpu) {
    sum.seen += c.seen;
    sum.dropped += c.dropped;
    sum.duplicated += c.duplicated;
    sum.dup_failed += c.dup_failed;
    sum.corrupted += c.corrupted;
    sum.passed_other += c.passed_other;
  }
  return sum;
}

}  // namespace xdptcp::impair
