// Attach/detach of the steering program through libxdp, map pinning, and status (see xdp_attach.h).
#include "userstack/kernel/xdp_attach.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <xdp/libxdp.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "steer.skel.h"
#include "userstack/kernel/iface_info.h"
#include "userstack/kernel/process_alive.h"
#include "xdptcp/steer_abi.h"

namespace xdptcp::kernel {
namespace {

constexpr const char* kBpffs = "/sys/fs/bpf";
constexpr std::array<const char*, 8> kMapNames = {
    "xdptcp_ports",    "xdptcp_rules",        "xdptcp_xsks",   "xdptcp_sockets",
    "xdptcp_counters", "xdptcp_kernel_flows", "xdptcp_config", "xdptcp_stack_flows"};
// The maps that steering ABI version 1 (before the steering exceptions) did not have; from here on
// every map is one a set pinned by an older xdptcp may lack (xdptcp_stack_flows came with ABI 4).
constexpr std::size_t kFirstMapOfAbi2 = 5;

// Collects what libbpf and libxdp print while it is alive, so that failures can quote the kernel's
// own explanation ("Kernel error message: ...") instead of spraying library output over ours. With
// XDPTCP_DEBUG set in the environment everything is also passed through to stderr.
// Not thread-safe: the print hooks of libbpf and libxdp are process-wide (control path only).
class LibraryLog {
 public:
  LibraryLog() {
    current_ = this;
    debug_ = std::getenv("XDPTCP_DEBUG") != nullptr;
    prev_bpf_ = libbpf_set_print(&LibraryLog::bpf_print);
    prev_xdp_ = libxdp_set_print(&LibraryLog::xdp_print);
  }
  ~LibraryLog() {
    libbpf_set_print(prev_bpf_);
    libxdp_set_print(prev_xdp_);
    current_ = nullptr;
  }
  LibraryLog(const LibraryLog&) = delete;
  LibraryLog& operator=(const LibraryLog&) = delete;

  // The last "Kernel error message: X" (extack) line, or the last warning; "" when none.
  std::string explanation() const {
    std::string last_warning;
    std::string kernel;
    std::size_t pos = 0;
    while (pos < text_.size()) {
      std::size_t end = text_.find('\n', pos);
      if (end == std::string::npos) end = text_.size();
      std::string line = text_.substr(pos, end - pos);
      pos = end + 1;
      if (line.empty()) continue;
      const std::string marker = "Kernel error message: ";
      const std::size_t k = line.find(marker);
      if (k != std::string::npos) kernel = line.substr(k + marker.size());
      last_warning = line;
    }
    return kernel.empty() ? last_warning : kernel;
  }
  void clear() { text_.clear(); }

 private:
  static int print(int level, const char* fmt, va_list ap) {
    LibraryLog* self = current_;
    char buf[1024];
    va_list copy;
    va_copy(copy, ap);
    std::vsnprintf(buf, sizeof(buf), fmt, copy);
    va_end(copy);
    if (self == nullptr) return 0;
    if (self->debug_) std::fputs(buf, stderr);
    // Debug output (verifier logs and the like) can be huge; keep warnings and information only.
    if (level <= LIBBPF_INFO && self->text_.size() < std::size_t{64} * 1024) self->text_ += buf;
    return 0;
  }
  static int bpf_print(enum libbpf_print_level level, const char* fmt, va_list ap) {
    return print(static_cast<int>(level), fmt, ap);
  }
  static int xdp_print(enum libxdp_print_level level, const char* fmt, va_list ap) {
    return print(static_cast<int>(level), fmt, ap);
  }

  static inline LibraryLog* current_ = nullptr;
  std::string text_;
  bool debug_ = false;
  libbpf_print_fn_t prev_bpf_ = nullptr;
  libxdp_print_fn_t prev_xdp_ = nullptr;
};

std::string with_explanation(std::string message, const LibraryLog& log) {
  std::string why = log.explanation();
  if (!why.empty()) message += " (" + why + ")";
  return message;
}

bool path_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::string map_pin_path(std::string_view ifname, const char* map) {
  return pin_dir(ifname) + "/" + map;
}

bool maps_pinned(std::string_view ifname) {
  return path_exists(pin_dir(ifname));
}

// Removes /sys/fs/bpf/xdptcp/<ifname> and everything in it (unpinning a map is unlinking its file),
// then the xdptcp directory itself when it is empty. True when something was removed.
bool remove_pins(std::string_view ifname) {
  const std::string dir = pin_dir(ifname);
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return false;
  while (const struct dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    ::unlink((dir + "/" + e->d_name).c_str());
  }
  ::closedir(d);
  ::rmdir(dir.c_str());
  ::rmdir(XDPTCP_PIN_ROOT);  // fails harmlessly while other interfaces are pinned
  return true;
}

Error permission_error(const std::string& what) {
  return Error{EPERM, what + ": permission denied; run as root or grant CAP_NET_ADMIN,CAP_BPF"};
}

// What is attached to the interface's XDP hook, and whether our program is among it.
struct HookState {
  bool attached = false;  // ours
  std::uint32_t prog_id = 0;
  std::uint32_t dispatcher_id = 0;
  bool multiprog = false;
  enum xdp_attach_mode mode = XDP_MODE_UNSPEC;
  std::vector<XdpProgramEntry> programs;
};

bool is_ours(const struct xdp_program* p) {
  const char* name = xdp_program__name(p);
  return name != nullptr && std::strcmp(name, XDPTCP_PROG_NAME) == 0;
}

// The multiprog of `ifindex`, closed on scope exit; null when nothing is attached.
class MultiProg {
 public:
  explicit MultiProg(int ifindex) : mp_(xdp_multiprog__get_from_ifindex(ifindex)) {
    const long err = libxdp_get_error(mp_);
    if (err != 0) {
      error_ = static_cast<int>(-err);
      mp_ = nullptr;
    }
  }
  ~MultiProg() {
    if (mp_ != nullptr) xdp_multiprog__close(mp_);
  }
  MultiProg(const MultiProg&) = delete;
  MultiProg& operator=(const MultiProg&) = delete;
  struct xdp_multiprog* get() const {
    return mp_;
  }
  // errno of the lookup; ENOENT means that no program is attached.
  int error() const { return error_; }

 private:
  struct xdp_multiprog* mp_;
  int error_ = 0;
};

Result<HookState> inspect_hook(int ifindex, std::string_view ifname) {
  HookState st;
  MultiProg mp(ifindex);
  if (mp.get() == nullptr) {
    if (mp.error() == 0 || mp.error() == ENOENT || mp.error() == ENODATA) return st;
    if (mp.error() == EPERM || mp.error() == EACCES) {
      return permission_error("cannot inspect the XDP programs of '" + std::string(ifname) + "'");
    }
    return Error{mp.error(), "cannot inspect the XDP programs of '" + std::string(ifname) + "'"};
  }
  st.mode = xdp_multiprog__attach_mode(mp.get());
  auto add = [&st](const struct xdp_program* p) {
    XdpProgramEntry e;
    e.id = xdp_program__id(p);
    const char* name = xdp_program__name(p);
    e.name = name != nullptr ? name : "";
    e.ours = is_ours(p);
    if (e.ours) {
      st.attached = true;
      st.prog_id = e.id;
    }
    st.programs.push_back(std::move(e));
  };
  if (xdp_multiprog__is_legacy(mp.get())) {
    if (const struct xdp_program* p = xdp_multiprog__main_prog(mp.get())) add(p);
  } else {
    st.multiprog = true;
    if (const struct xdp_program* d = xdp_multiprog__main_prog(mp.get()))
      st.dispatcher_id = xdp_program__id(d);
    for (struct xdp_program* p = xdp_multiprog__next_prog(nullptr, mp.get()); p != nullptr;
         p = xdp_multiprog__next_prog(p, mp.get())) {
      add(p);
    }
  }
  return st;
}

const char* mode_name(enum xdp_attach_mode m) {
  switch (m) {
    case XDP_MODE_NATIVE:
      return "native";
    case XDP_MODE_SKB:
      return "generic";
    case XDP_MODE_HW:
      return "offload";
    default:
      return "";
  }
}

// The ids of the maps a loaded program uses.
std::vector<std::uint32_t> prog_map_ids(std::uint32_t prog_id) {
  std::vector<std::uint32_t> ids;
  const int fd = bpf_prog_get_fd_by_id(prog_id);
  if (fd < 0) return ids;
  struct bpf_prog_info info;
  std::memset(&info, 0, sizeof(info));
  __u32 len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 && info.nr_map_ids > 0) {
    ids.resize(info.nr_map_ids);
    const __u32 n = info.nr_map_ids;
    std::memset(&info, 0, sizeof(info));
    info.nr_map_ids = n;
    info.map_ids = reinterpret_cast<std::uintptr_t>(ids.data());
    len = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) ids.clear();
  }
  ::close(fd);
  return ids;
}

std::uint32_t map_id(int map_fd) {
  struct bpf_map_info info;
  std::memset(&info, 0, sizeof(info));
  __u32 len = sizeof(info);
  return bpf_obj_get_info_by_fd(map_fd, &info, &len) == 0 ? info.id : 0;
}

// The skeleton and the libxdp program made from its (not yet loaded) bpf_object; libxdp loads it when
// attaching, as an extension of its dispatcher. The program does not own the object: close it first.
struct LoadedProgram {
  struct steer* skel = nullptr;
  struct xdp_program* prog = nullptr;
  LoadedProgram() = default;
  LoadedProgram(const LoadedProgram&) = delete;
  LoadedProgram& operator=(const LoadedProgram&) = delete;
  ~LoadedProgram() {
    if (prog != nullptr) xdp_program__close(prog);
    if (skel != nullptr) steer__destroy(skel);
  }
};

Error attach_error(int err, std::string_view ifname, enum xdp_attach_mode m, const std::string& driver,
                   const LibraryLog& log) {
  const std::string ifs(ifname);
  if (err == EPERM || err == EACCES) return permission_error("cannot attach XDP to '" + ifs + "'");
  if (err == EOPNOTSUPP || err == ENOTSUP) {
    if (m == XDP_MODE_NATIVE) {
      return Error{EOPNOTSUPP,
                   with_explanation("native mode not supported by " +
                                        (driver.empty() ? "the driver of '" + ifs + "'" : driver) +
                                        ", try --mode generic",
                                    log)};
    }
    return Error{EOPNOTSUPP,
                 with_explanation("XDP not supported on '" + ifs + "' in " + mode_name(m) + " mode", log)};
  }
  if (err == EEXIST || err == EBUSY) {
    return Error{EEXIST, with_explanation("another XDP program that is not managed by libxdp occupies '" +
                                              ifs + "' in " + mode_name(m) +
                                              " mode; remove it (ip link set dev " + ifs + " xdp off)",
                                          log)};
  }
  return Error{err, with_explanation(std::string("cannot attach the steering program to '") + ifs + "' in " +
                                         mode_name(m) + " mode",
                                     log)};
}

Result<void> attach_in_mode(LoadedProgram& lp, int ifindex, std::string_view ifname, enum xdp_attach_mode m,
                            const std::string& driver, LibraryLog& log) {
  lp.skel = steer__open();
  if (lp.skel == nullptr) return errno_error("cannot open the steering program's BPF object");
  struct xdp_program_opts opts;
  std::memset(&opts, 0, sizeof(opts));
  opts.sz = sizeof(opts);
  opts.obj = lp.skel->obj;
  opts.prog_name = XDPTCP_PROG_NAME;
  struct xdp_program* prog = xdp_program__create(&opts);
  const long perr = libxdp_get_error(prog);
  if (prog == nullptr || perr != 0) {
    const int code = perr != 0 ? static_cast<int>(-perr) : EINVAL;
    return Error{code, with_explanation("cannot prepare the steering program for libxdp", log)};
  }
  lp.prog = prog;
  const int err = xdp_program__attach(lp.prog, ifindex, m, 0);
  if (err != 0) return attach_error(-err, ifname, m, driver, log);
  return {};
}

// /sys/fs/bpf/xdptcp/<ifname>, made when missing.
Result<void> make_pin_dir(std::string_view ifname) {
  ::mkdir(XDPTCP_PIN_ROOT, 0755);
  const std::string dir = pin_dir(ifname);
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return errno_error("cannot create " + dir);
  return {};
}

Result<void> pin_maps(struct bpf_object* obj, std::string_view ifname) {
  if (auto d = make_pin_dir(ifname); !d) return d.error();
  for (const char* name : kMapNames) {
    struct bpf_map* map = bpf_object__find_map_by_name(obj, name);
    if (map == nullptr) {
      return Error{ENOENT, std::string("the steering program has no map named ") + name +
                               " (steer_abi.h and steer.bpf.c disagree)"};
    }
    const std::string path = map_pin_path(ifname, name);
    const int err = bpf_map__pin(map, path.c_str());
    if (err != 0) return Error{-err, "cannot pin map " + std::string(name) + " at " + path};
  }
  return {};
}

// Pins again the maps of our program `prog_id`, attached to the interface, whose pins are gone: a
// bpffs mount ends with its mount namespace (`ip netns exec` gives every command one of its own), and
// the program stays attached without them. The maps are found by the program's map ids and named by
// their (15-character) kernel names. Every map of steering ABI 1 must be found; later ones are pinned
// when the program has them (open_pinned() copes with an older set).
Result<void> repin_maps(std::uint32_t prog_id, std::string_view ifname) {
  if (auto d = make_pin_dir(ifname); !d) return d.error();
  std::array<bool, kMapNames.size()> found{};
  for (const std::uint32_t id : prog_map_ids(prog_id)) {
    const int fd = bpf_map_get_fd_by_id(id);
    if (fd < 0) continue;
    struct bpf_map_info info;
    std::memset(&info, 0, sizeof(info));
    __u32 len = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0) {
      for (std::size_t i = 0; i < kMapNames.size(); ++i) {
        if (found[i] || std::string_view(kMapNames[i]).substr(0, BPF_OBJ_NAME_LEN - 1) != info.name) continue;
        const std::string path = map_pin_path(ifname, kMapNames[i]);
        if (bpf_obj_pin(fd, path.c_str()) != 0) {
          const int err = errno;
          ::close(fd);
          return Error{err, "cannot pin map " + std::string(kMapNames[i]) + " at " + path};
        }
        found[i] = true;
      }
    }
    ::close(fd);
  }
  for (std::size_t i = 0; i < kFirstMapOfAbi2; ++i) {
    if (!found[i]) {
      return Error{ENOENT, "the attached steering program (id " + std::to_string(prog_id) +
                               ") has no map named " + kMapNames[i]};
    }
  }
  return {};
}

}  // namespace

const char* to_string(XdpMode mode) {
  switch (mode) {
    case XdpMode::kAuto:
      return "auto";
    case XdpMode::kNative:
      return "native";
    case XdpMode::kGeneric:
      return "generic";
  }
  return "?";
}

std::string pin_dir(std::string_view ifname) {
  return std::string(XDPTCP_PIN_ROOT) + "/" + std::string(ifname);
}

Result<void> check_privileges() {
  struct __user_cap_header_struct hdr;
  std::memset(&hdr, 0, sizeof(hdr));
  hdr.version = _LINUX_CAPABILITY_VERSION_3;
  struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
  std::memset(data, 0, sizeof(data));
  if (::syscall(SYS_capget, &hdr, data) != 0) return errno_error("cannot read the process capabilities");
  auto has = [&data](int cap) { return (data[cap / 32].effective & (1u << (cap % 32))) != 0; };
  const bool bpf = has(CAP_BPF) || has(CAP_SYS_ADMIN);
  if (!has(CAP_NET_ADMIN) || !bpf) {
    return Error{EPERM, "managing XDP programs needs privileges: run as root or grant CAP_NET_ADMIN,CAP_BPF"};
  }
  return {};
}

Result<void> ensure_bpffs() {
  struct statfs fs;
  if (::statfs(kBpffs, &fs) == 0 && static_cast<unsigned long>(fs.f_type) == BPF_FS_MAGIC) return {};
  ::mkdir(kBpffs, 0755);
  if (::mount("bpf", kBpffs, "bpf", 0, nullptr) != 0) {
    const int err = errno;
    if (err == EPERM || err == EACCES) {
      return permission_error("cannot mount bpffs at /sys/fs/bpf (xdptcp pins its maps there)");
    }
    return Error{err,
                 "cannot mount bpffs at /sys/fs/bpf, which libxdp's dispatcher and xdptcp's pinned maps "
                 "need; mount it with `mount -t bpf bpf /sys/fs/bpf`"};
  }
  return {};
}

Attachment::~Attachment() {
  if (armed_) (void)detach();
}

Attachment::Attachment(Attachment&& other) noexcept : info_(std::move(other.info_)), armed_(other.armed_) {
  other.armed_ = false;
}

Attachment& Attachment::operator=(Attachment&& other) noexcept {
  if (this != &other) {
    if (armed_) (void)detach();
    info_ = std::move(other.info_);
    armed_ = other.armed_;
    other.armed_ = false;
  }
  return *this;
}

Result<void> Attachment::detach() {
  if (!armed_) return {};
  armed_ = false;
  auto r = kernel::detach(info_.ifname);
  if (!r) return r.error();
  return {};
}

Result<Attachment> attach(std::string_view ifname, XdpMode mode) {
  const std::string ifs(ifname);
  if (auto r = check_privileges(); !r) return r.error();
  auto iface = interface_info(ifname);
  if (!iface) return iface.error();
  if (auto r = ensure_bpffs(); !r) return r.error();

  AttachInfo info;
  info.ifname = ifs;
  info.ifindex = iface->ifindex;

  auto hook = inspect_hook(info.ifindex, ifname);
  if (!hook) return hook.error();
  if (hook->attached && !maps_pinned(ifname)) {
    // Ours is attached but its pins are gone (see repin_maps): adopt it rather than refuse, so the
    // next application can use it. It was not attached by this process, so it is never detached by
    // it (kept).
    if (auto r = repin_maps(hook->prog_id, ifname); r) {
      info.prog_id = hook->prog_id;
      info.mode = hook->mode == XDP_MODE_SKB ? XdpMode::kGeneric : XdpMode::kNative;
      info.multiprog = hook->multiprog;
      info.notes.push_back("the steering program (id " + std::to_string(hook->prog_id) +
                           ") was attached to '" + ifs +
                           "' without its pinned maps (a bpffs of another mount namespace, such as `ip netns "
                           "exec`'s); pinned them again under " +
                           pin_dir(ifname));
      Attachment adopted(std::move(info));
      adopted.keep();
      return adopted;
    }
    remove_pins(ifname);
  }
  if (hook->attached) {
    return Error{EEXIST, "xdptcp is already attached to '" + ifs + "' (program id " +
                             std::to_string(hook->prog_id) + ", " + mode_name(hook->mode) +
                             " mode); detach it first with `xdptcp-ctl detach --iface " + ifs + "`"};
  }
  if (!hook->programs.empty() && !hook->multiprog) {
    // A program attached without libxdp's dispatcher cannot be shared, and libxdp will not replace it.
    const XdpProgramEntry& other = hook->programs.front();
    return Error{EEXIST, "another XDP program (" + other.name + ", id " + std::to_string(other.id) +
                             ") is attached to '" + ifs +
                             "' without libxdp's dispatcher, so xdptcp cannot share "
                             "the interface with it; remove it first (`xdp-loader unload " +
                             ifs + " --all` or `ip link set dev " + ifs + " xdp off`)"};
  }
  if (maps_pinned(ifname)) {
    remove_pins(ifname);
    info.notes.push_back("removed stale pinned maps under " + pin_dir(ifname) +
                         " (their program was no longer attached)");
  }

  std::vector<enum xdp_attach_mode> modes;
  if (mode == XdpMode::kGeneric) {
    modes = {XDP_MODE_SKB};
  } else if (mode == XdpMode::kNative) {
    modes = {XDP_MODE_NATIVE};
  } else {
    modes = {XDP_MODE_NATIVE, XDP_MODE_SKB};
  }

  LibraryLog log;
  Error last;
  for (std::size_t i = 0; i < modes.size(); ++i) {
    LoadedProgram lp;
    log.clear();
    auto r = attach_in_mode(lp, info.ifindex, ifname, modes[i], iface->driver, log);
    if (!r) {
      last = r.error();
      // Only a missing native mode is worth a second try; permission and conflicts fail the same way.
      const bool retry = i + 1 < modes.size() && last.code != EPERM && last.code != EEXIST;
      if (!retry) return last;
      const std::string why = log.explanation();
      info.notes.push_back("native XDP is not available on '" + ifs + "'" +
                           (why.empty() ? "" : " (" + why + ")") + "; fell back to generic (SKB) mode");
      continue;
    }
    info.mode = modes[i] == XDP_MODE_SKB ? XdpMode::kGeneric : XdpMode::kNative;
    if (auto p = pin_maps(lp.skel->obj, ifname); !p) {
      Error e = p.error();
      xdp_program__detach(lp.prog, info.ifindex, modes[i], 0);
      remove_pins(ifname);
      return e;
    }
    break;
  }

  auto after = inspect_hook(info.ifindex, ifname);
  if (after && after->attached) {
    info.prog_id = after->prog_id;
    info.dispatcher_id = after->dispatcher_id;
    info.multiprog = after->multiprog;
  }
  if (!info.multiprog) {
    info.notes.push_back("attached without libxdp's dispatcher: no other XDP program can share '" + ifs +
                         "'");
  }
  return Attachment(std::move(info));
}

Result<DetachInfo> detach(std::string_view ifname) {
  const std::string ifs(ifname);
  if (auto r = check_privileges(); !r) return r.error();
  DetachInfo out;
  const bool pinned = maps_pinned(ifname);
  auto idx = interface_index(ifname);
  if (!idx) {
    if (!pinned) return idx.error();
    out.removed_pins = remove_pins(ifname);
    out.notes.push_back("interface '" + ifs + "' no longer exists; removed its stale pinned maps");
    return out;
  }

  LibraryLog log;
  {
    MultiProg mp(idx.value());
    if (mp.get() == nullptr && mp.error() != 0 && mp.error() != ENOENT && mp.error() != ENODATA) {
      if (mp.error() == EPERM || mp.error() == EACCES) {
        return permission_error("cannot inspect the XDP programs of '" + ifs + "'");
      }
      return Error{mp.error(), with_explanation("cannot inspect the XDP programs of '" + ifs + "'", log)};
    }
    if (mp.get() != nullptr) {
      const enum xdp_attach_mode m = xdp_multiprog__attach_mode(mp.get());
      int err = 0;
      if (xdp_multiprog__is_legacy(mp.get())) {
        const struct xdp_program* main = xdp_multiprog__main_prog(mp.get());
        if (main != nullptr && is_ours(main)) {
          out.was_attached = true;
          err = xdp_multiprog__detach(mp.get());
        }
      } else {
        for (struct xdp_program* p = xdp_multiprog__next_prog(nullptr, mp.get()); p != nullptr;
             p = xdp_multiprog__next_prog(p, mp.get())) {
          if (!is_ours(p)) continue;
          out.was_attached = true;
          // Detaching one program rebuilds the dispatcher with the others, or removes it when we were
          // the only one.
          err = xdp_program__detach(p, idx.value(), m, 0);
          break;
        }
      }
      if (err != 0) {
        if (-err == EPERM || -err == EACCES) return permission_error("cannot detach XDP from '" + ifs + "'");
        return Error{-err, with_explanation("cannot detach the steering program from '" + ifs + "'", log)};
      }
    }
  }
  if (!out.was_attached && !pinned) {
    return Error{ENOENT, "xdptcp is not attached to '" + ifs + "'"};
  }
  out.removed_pins = remove_pins(ifname);
  if (!out.was_attached)
    out.notes.emplace_back("the program was no longer attached; removed stale pinned maps");
  return out;
}

PinnedSteerMaps::PinnedSteerMaps(PinnedSteerMaps&& other) noexcept : fds_(other.fds_) {
  other.fds_ = SteerMapFds{};
}

PinnedSteerMaps& PinnedSteerMaps::operator=(PinnedSteerMaps&& other) noexcept {
  if (this != &other) {
    close_all();
    fds_ = other.fds_;
    other.fds_ = SteerMapFds{};
  }
  return *this;
}

void PinnedSteerMaps::close_all() {
  for (int* fd : {&fds_.ports, &fds_.rules, &fds_.xsks, &fds_.sockets, &fds_.counters, &fds_.kernel_flows,
                  &fds_.config, &fds_.stack_flows}) {
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }
}

Result<PinnedSteerMaps> open_pinned(std::string_view ifname) {
  const std::string ifs(ifname);
  if (!maps_pinned(ifname)) {
    return Error{ENOENT, "xdptcp is not attached to '" + ifs + "' (nothing pinned under " + pin_dir(ifname) +
                             "); run `xdptcp-ctl attach --iface " + ifs + "`"};
  }
  PinnedSteerMaps maps;
  SteerMapFds fds{};
  int* slots[] = {&fds.ports,    &fds.rules,        &fds.xsks,   &fds.sockets,
                  &fds.counters, &fds.kernel_flows, &fds.config, &fds.stack_flows};
  static_assert(std::size(slots) == kMapNames.size(), "one fd per pinned map");
  for (std::size_t i = 0; i < kMapNames.size(); ++i) {
    const std::string path = map_pin_path(ifname, kMapNames[i]);
    const int fd = bpf_obj_get(path.c_str());
    if (fd < 0 && errno == ENOENT && i >= kFirstMapOfAbi2) {
      // Pinned by an older xdptcp (steering ABI 1 lacks the exception maps, ABI 3 and older
      // xdptcp_stack_flows): everything else works, and add_kernel_flow or set_rule_draining say
      // why they cannot (their map is not open).
      continue;
    }
    if (fd < 0) {
      const int err = errno;
      PinnedSteerMaps partial(fds);  // closes what was opened
      if (err == EPERM || err == EACCES) return permission_error("cannot open " + path);
      std::string why = "cannot open pinned map " + path;
      why.append("; re-attach with `xdptcp-ctl attach --iface ").append(ifs).append("`");
      return Error{err == ENOENT ? ENOENT : err, why};
    }
    *slots[i] = fd;
  }
  return PinnedSteerMaps(fds);
}

Result<SteerStatus> status(std::string_view ifname) {
  SteerStatus s;
  s.ifname = std::string(ifname);
  s.pinned = maps_pinned(ifname);
  bool maps_match = true;

  auto iface = interface_info(ifname);
  if (!iface) {
    if (!s.pinned) return iface.error();
  } else {
    s.ifindex = iface->ifindex;
    s.rx_queues = iface->rx_queues;
    s.driver = iface->driver;
    LibraryLog log;
    auto hook = inspect_hook(s.ifindex, ifname);
    if (!hook) return hook.error();
    s.attached = hook->attached;
    s.prog_id = hook->prog_id;
    s.dispatcher_id = hook->dispatcher_id;
    s.multiprog = hook->multiprog;
    s.mode = hook->programs.empty() ? "" : mode_name(hook->mode);
    s.programs = std::move(hook->programs);
  }

  if (s.pinned) {
    auto maps = open_pinned(ifname);
    if (!maps) return maps.error();
    const SteerMapFds& fds = maps->fds();
    if (s.attached) {
      const std::vector<std::uint32_t> ids = prog_map_ids(s.prog_id);
      const std::uint32_t rules_id = map_id(fds.rules);
      maps_match = std::find(ids.begin(), ids.end(), rules_id) != ids.end();
    }
    auto rules = list_rules(fds);
    if (!rules) return rules.error();
    s.rules = std::move(rules.value());
    auto counters = read_counters(fds);
    if (!counters) return counters.error();
    s.counters = counters.value();
    for (std::uint32_t q = 0; q < XDPTCP_MAX_QUEUES; ++q) {
      struct xdptcp_socket_info si;
      std::memset(&si, 0, sizeof(si));
      if (bpf_map_lookup_elem(fds.sockets, &q, &si) != 0 || si.owner_pid == 0) continue;
      s.sockets.push_back(QueueSocket{q, si.owner_pid, process_alive(si.owner_pid), si.registered_ns});
    }
  }
  s.stale = s.pinned && (!s.attached || !maps_match);
  return s;
}

std::vector<std::string> pinned_interfaces() {
  std::vector<std::string> names;
  DIR* d = ::opendir(XDPTCP_PIN_ROOT);
  if (d == nullptr) return names;
  while (const struct dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    if (path_exists(std::string(XDPTCP_PIN_ROOT) + "/" + e->d_name + "/xdptcp_rules"))
      names.emplace_back(e->d_name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace xdptcp::kernel
