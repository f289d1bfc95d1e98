// xdptcp-run: checks that the stack can run (interface, rights, kernel features), then runs the
// command with libxdptcp-preload.so preloaded. See docs/PRELOAD.md.
#include <linux/capability.h>
#include <linux/if_xdp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>

#include "tools/run/run_args.h"
#include "userstack/kernel/iface_info.h"
#include "userstack/kernel/xdp_attach.h"

namespace {

constexpr int kExUnavailable = 69;  // EX_UNAVAILABLE: the interface or a kernel feature is missing
constexpr int kExNoPerm = 77;       // EX_NOPERM

// The effective capability set of this process (/proc/self/status CapEff).
unsigned long long effective_caps() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("CapEff:", 0) == 0) return std::strtoull(line.c_str() + 7, nullptr, 16);
  }
  return 0;
}

// libxdptcp-preload.so: beside this program's lib directory (build tree: build/bin -> build/lib;
// installed: <prefix>/bin -> <prefix>/<libdir>), or XDPTCP_PRELOAD_LIBRARY.
std::string find_library() {
  if (const char* p = std::getenv("XDPTCP_PRELOAD_LIBRARY"); p != nullptr && *p != '\0') return p;
  char self[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return {};
  self[n] = '\0';
  std::string dir(self);
  dir = dir.substr(0, dir.rfind('/'));
  const std::string prefix = dir.substr(0, dir.rfind('/'));
  for (const std::string& cand :
       {prefix + "/lib/libxdptcp-preload.so", prefix + "/" XDPTCP_LIBDIR "/libxdptcp-preload.so"}) {
    struct stat st {};
    if (stat(cand.c_str(), &st) == 0) return cand;
  }
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  xdptcp::run::RunParse parsed =
      xdptcp::run::parse_run_args(argc, argv, [](const char* n) -> const char* { return std::getenv(n); });
  std::cout << parsed.out;
  std::cerr << parsed.err;
  if (!parsed.options) return parsed.exit_code;
  const xdptcp::run::RunOptions& o = *parsed.options;

  auto info = xdptcp::kernel::interface_info(o.iface);
  if (!info) {
    std::cerr << "xdptcp-run: --iface " << o.iface << ": " << info.error().describe() << "\n";
    return kExUnavailable;
  }
  // AF_XDP sockets need CAP_NET_RAW; the steering program and its maps CAP_NET_ADMIN and CAP_BPF
  // (CAP_SYS_ADMIN before Linux 5.8).
  const unsigned long long caps = effective_caps();
  auto has = [caps](int c) { return (caps >> c & 1ULL) != 0; };
  if (!has(CAP_NET_RAW) || !has(CAP_NET_ADMIN) || !(has(CAP_BPF) || has(CAP_SYS_ADMIN))) {
    std::cerr
        << "xdptcp-run: needs root, or CAP_NET_RAW, CAP_NET_ADMIN and CAP_BPF, to open AF_XDP sockets and "
           "use the steering program on "
        << o.iface << "; run it with sudo\n";
    return kExNoPerm;
  }
  const int probe = socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (probe < 0) {
    std::cerr << "xdptcp-run: this kernel has no AF_XDP sockets (" << std::strerror(errno)
              << "); it needs CONFIG_XDP_SOCKETS=y (Linux 4.18 or later)\n";
    return kExUnavailable;
  }
  close(probe);
  const auto served = xdptcp::kernel::interface_addresses(o.iface);
  if (served.empty() && o.addresses.empty()) {
    std::cerr << "xdptcp-run: " << o.iface << " has no address; add one (`ip addr add ... dev " << o.iface
              << "`) or pass --addresses\n";
    return kExUnavailable;
  }
  // The steering program outlives the application: attached here (as `xdptcp-ctl attach` does)
  // when the interface has none, and left attached, so that an application's exit never detaches it
  // from under another one on the same interface, and an application whose workers drop their
  // rights needs none to load it. `xdptcp-ctl detach` removes it.
  if (!xdptcp::kernel::open_pinned(o.iface)) {
    auto att = xdptcp::kernel::attach(o.iface, xdptcp::kernel::XdpMode::kAuto);
    if (!att && att.error().code != EEXIST) {
      std::cerr << "xdptcp-run: cannot attach the steering program to " << o.iface << ": "
                << att.error().describe() << "\n";
      return kExUnavailable;
    }
    if (att) {
      att.value().keep();
      if (o.log_level >= 1) {
        std::cerr << "xdptcp-run: attached the steering program to " << o.iface << " ("
                  << xdptcp::kernel::to_string(att.value().info().mode) << "); `xdptcp-ctl detach --iface "
                  << o.iface << "` removes it\n";
      }
    }
  }
  const std::string lib = find_library();
  if (lib.empty()) {
    std::cerr
        << "xdptcp-run: cannot find libxdptcp-preload.so next to this program; set XDPTCP_PRELOAD_LIBRARY to "
           "its path\n";
    return kExUnavailable;
  }
  for (const auto& [k, v] : xdptcp::run::preload_environment(o, lib, std::getenv("LD_PRELOAD"))) {
    setenv(k.c_str(), v.c_str(), 1);
  }
  std::vector<char*> args;
  for (const auto& a : o.command) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  execvp(args[0], args.data());
  std::cerr << "xdptcp-run: cannot run " << o.command[0] << ": " << std::strerror(errno) << "\n";
  return errno == ENOENT ? 127 : 126;
}
