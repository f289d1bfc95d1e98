// Bringing compare's sandbox up and down (see sandbox.h).
#include "bench/xdptcp_bench/sandbox.h"

#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>

namespace xdptcp::bench {

int run_shell(const std::string& cmd, std::string* out) {
  std::FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return -1;
  char buf[512];
  std::string s;
  while (std::fgets(buf, sizeof buf, p) != nullptr) s += buf;
  const int st = pclose(p);
  if (out != nullptr) *out = s;
  return st;
}

bool Sandbox::up(std::string* error) {
  std::string out;
  // Subnets other sandboxes (other tests, other helpers) hold are refused by sandbox.sh; take the
  // first free one from 40 up (198.18.80.0/24 onwards), away from the usual 0.
  bool ok = false;
  for (int k = 40; k < 100 && !ok; ++k) {
    ok = run_shell(script_ + " up --name " + name_ + " --queues " + std::to_string(queues_) + " --subnet " +
                       std::to_string(k),
                   &out) == 0;
    if (ok) subnet_ = k;
    if (!ok && out.find("already in use") == std::string::npos) break;
  }
  if (!ok) {
    *error = "tools/sandbox.sh up failed:\n" + out;
    return false;
  }
  is_up_ = true;
  run_shell(script_ + " status --name " + name_ + " --env", &out);
  std::map<std::string, std::string> env;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    const auto eq = line.find('=');
    if (eq != std::string::npos) env[line.substr(0, eq)] = line.substr(eq + 1);
  }
  iface_ = env["IFACE"];
  peer_ns_ = env["PEER_NS"];
  peer_iface_ = env["PEER_IFACE"];
  stack_ip4_ = env["STACK_IP4"];
  peer_ip4_ = env["PEER_IP4"];
  if (iface_.empty() || peer_ns_.empty() || stack_ip4_.empty()) {
    *error = "tools/sandbox.sh status --env did not give IFACE/PEER_NS/STACK_IP4:\n" + out;
    return false;
  }
  // The load generator opens tens of thousands of connections per second and closes first, so
  // its side holds the TIME_WAITs: reuse them and use the widest port range.
  run_shell("ip netns exec " + peer_ns_ +
                " sysctl -qw net.ipv4.tcp_tw_reuse=1 'net.ipv4.ip_local_port_range=1024 65000'",
            nullptr);
  return true;
}

bool Sandbox::prepare_xdptcp_peer(std::string* error) {
  std::string out;
  if (peer_iface_.empty()) {
    *error = "tools/sandbox.sh status --env did not give PEER_IFACE";
    return false;
  }
  if (run_shell("ip netns exec " + peer_ns_ + " ip link set dev " + peer_iface_ + " xdp off", &out) != 0) {
    *error = "cannot remove the XDP program from " + peer_ns_ + "/" + peer_iface_ + ":\n" + out;
    return false;
  }
  if (run_shell("ip netns exec " + peer_ns_ + " sysctl -qw 'net.ipv4.ip_local_port_range=1024 9999'", &out) !=
      0) {
    *error = "cannot set the ephemeral port range in " + peer_ns_ + ":\n" + out;
    return false;
  }
  xdptcp_peer_ = true;
  return true;
}

bool Sandbox::use_kernel_offloads(bool kernel_client, std::string* error) {
  std::string out;
  kernel_offloads_ = true;
  const std::string in_peer = "ip netns exec " + peer_ns_ + " ";
  // First the peer end's XDP program: while it is there, veth does not let the stack end turn TSO on
  // at all (the request is ignored, not remembered).
  if (kernel_client && run_shell(in_peer + "ip link set dev " + peer_iface_ + " xdp off", &out) != 0) {
    *error = "cannot remove the XDP program from " + peer_ns_ + "/" + peer_iface_ + ":\n" + out;
    return false;
  }
  // tx checksum offload only when the peer end hands frames to the kernel (see sandbox.h); TSO is
  // requested either way and the kernel drops it without tx checksum offload.
  const std::string stack_cmd = "ethtool -K " + iface_ + " rx on tx " + (kernel_client ? "on" : "off") +
                                " tso on gso on gro on >/dev/null";
  if (run_shell(stack_cmd, &out) != 0) {
    *error = "cannot turn the kernel's offloads on (" + stack_cmd + "):\n" + out;
    return false;
  }
  if (!kernel_client) return true;
  const std::string peer_cmd =
      in_peer + "ethtool -K " + peer_iface_ + " rx on tx on tso on gso on gro on >/dev/null";
  if (run_shell(peer_cmd, &out) != 0) {
    *error = "cannot turn the kernel's offloads on (" + peer_cmd + "):\n" + out;
    return false;
  }
  return true;
}

bool Sandbox::restore(std::string* error) {
  if (!kernel_offloads_) return true;
  std::string out;
  // `up` is idempotent: on the same subnet and queues it turns the offloads off on both ends again
  // and puts its XDP_PASS program back on the peer end.
  if (run_shell(script_ + " up --name " + name_ + " --queues " + std::to_string(queues_) + " --subnet " +
                    std::to_string(subnet_),
                &out) != 0) {
    *error = "tools/sandbox.sh up (restoring the sandbox's offloads) failed:\n" + out;
    return false;
  }
  kernel_offloads_ = false;
  return !xdptcp_peer_ || prepare_xdptcp_peer(error);
}

LinkState Sandbox::read_link() const {
  LinkState l;
  auto end = [](const std::string& prefix, const std::string& dev) {
    EndState e;
    std::string out;
    if (run_shell(prefix + "ethtool -k " + dev, &out) == 0) parse_ethtool_k(out, e);
    if (run_shell(prefix + "ip -d link show dev " + dev, &out) == 0) e.xdp = parse_xdp_prog_name(out);
    return e;
  };
  l.stack_end = end("", iface_);
  l.peer_end = end("ip netns exec " + peer_ns_ + " ", peer_iface_);
  return l;
}

void Sandbox::down() {
  if (!is_up_) return;
  is_up_ = false;
  run_shell(script_ + " down --name " + name_, nullptr);
}

}  // namespace xdptcp::bench
