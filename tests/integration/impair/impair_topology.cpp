// ImpairTopology and parsing helpers (see impair_topology.h).
#include "integration/impair/impair_topology.h"

#include <cstdio>
#include <sstream>

namespace xdptcp::test {

namespace {

const char* kSetupScript = R"(set -e
for ns in imp-c imp-r imp-s; do ip netns add $ns; ip -n $ns link set lo up; done
ip link add imp-c0 netns imp-c type veth peer name imp-rc netns imp-r
ip link add imp-s0 netns imp-s type veth peer name imp-rs netns imp-r
for pair in imp-c:imp-c0 imp-r:imp-rc imp-r:imp-rs imp-s:imp-s0; do
  ns=${pair%%:*}; dev=${pair#*:}
  ip netns exec $ns ethtool -K $dev rx off tx off gro off tso off gso off >/dev/null
  ip -n $ns link set $dev up
done
ip -n imp-c addr add 198.19.200.2/24 dev imp-c0
ip -n imp-c addr add fd00:696d:1::2/64 dev imp-c0 nodad
ip -n imp-r addr add 198.19.200.1/24 dev imp-rc
ip -n imp-r addr add fd00:696d:1::1/64 dev imp-rc nodad
ip -n imp-r addr add 198.19.201.1/24 dev imp-rs
ip -n imp-r addr add fd00:696d:2::1/64 dev imp-rs nodad
ip -n imp-s addr add 198.19.201.2/24 dev imp-s0
ip -n imp-s addr add fd00:696d:2::2/64 dev imp-s0 nodad
ip -n imp-c route add default via 198.19.200.1
ip -n imp-c -6 route add default via fd00:696d:1::1
ip -n imp-s route add default via 198.19.201.1
ip -n imp-s -6 route add default via fd00:696d:2::1
ip netns exec imp-r sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
# Resolve every neighbour now, so that the first measured packet does not wait for ARP / ND.
ip netns exec imp-c ping -c 1 -W 2 198.19.201.2 >/dev/null
ip netns exec imp-c ping -6 -c 1 -W 3 fd00:696d:2::2 >/dev/null || ip netns exec imp-c ping -6 -c 1 -W 3 fd00:696d:2::2 >/dev/null
)";

double field_before(const std::string& text, const std::string& suffix) {
  const auto pos = text.find(suffix);
  if (pos == std::string::npos) return -1;
  auto start = text.rfind(' ', pos);
  start = start == std::string::npos ? 0 : start + 1;
  try {
    return std::stod(text.substr(start, pos - start));
  } catch (...) {
    return -1;
  }
}

}  // namespace

void ImpairTopology::remove_all() {
  (void)run("for ns in imp-c imp-r imp-s; do ip netns del $ns 2>/dev/null; done; true");
}

ImpairTopology::ImpairTopology() {
  remove_all();
  setup_ = run(kSetupScript);
}

ImpairTopology::~ImpairTopology() {
  remove_all();
}

std::map<std::string, long long> parse_counters(const std::string& text) {
  std::map<std::string, long long> m;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const auto eq = line.find('=');
    if (eq == std::string::npos || eq == 0 || line.find(' ') < eq) continue;
    try {
      m[line.substr(0, eq)] = std::stoll(line.substr(eq + 1));
    } catch (...) {
    }
  }
  return m;
}

double ping_min_rtt_ms(const std::string& out) {
  const auto pos = out.find("min/avg/max");
  if (pos == std::string::npos) return -1;
  const auto eq = out.find("= ", pos);
  if (eq == std::string::npos) return -1;
  try {
    return std::stod(out.substr(eq + 2));
  } catch (...) {
    return -1;
  }
}

double ping_loss_percent(const std::string& out) {
  return field_before(out, "% packet loss");
}

long long nstat_counter(const std::string& ns, const std::string& name) {
  const CommandResult r =
      run(in_netns(ns, "nstat -az " + name + " | awk '$1 == \"" + name + "\" {print $2}'"));
  if (!r.ok() || r.output.empty()) return -1;
  try {
    return std::stoll(r.output);
  } catch (...) {
    return -1;
  }
}

}  // namespace xdptcp::test
