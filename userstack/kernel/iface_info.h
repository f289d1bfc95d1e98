// Facts about a network interface that the stack and xdptcp-ctl need: ifindex, MAC, MTU, the number of
// RX queues (one engine and one AF_XDP socket per queue) and the RSS hash key (to choose source ports
// whose replies come back to the engine that sent them, design brief §5).
// Read through ioctl(SIOCGIF*) and the ethtool ioctl; nothing here changes the interface.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "userstack/base/result.h"
#include "userstack/wire/ip_addr.h"

namespace xdptcp::kernel {

struct InterfaceInfo {
  std::string name;
  int ifindex = 0;
  std::array<std::uint8_t, 6> mac{};
  std::uint32_t mtu = 0;
  // RX queues that receive traffic: rx-only plus combined channels (ETHTOOL_GCHANNELS), or the count of
  // /sys/class/net/IF/queues/rx-* when the driver does not report channels. At least 1.
  std::uint32_t rx_queues = 1;
  std::string driver;                 // ETHTOOL_GDRVINFO, e.g. "veth", "mlx5_core"; empty if unknown
  std::vector<std::uint8_t> rss_key;  // ETHTOOL_GRSSH; empty when the driver has no RSS (veth)
  // ETHTOOL_GRSSH's indirection table: entry hash % size is the RX queue of a flow; empty when the
  // driver has none (veth).
  std::vector<std::uint32_t> rss_indir;
  // Whether the active hash is plain Toeplitz (ETH_RSS_HASH_TOP, or a driver that does not say)
  // with no input transform (ethtool's symmetric-xor and the like, kernel 6.8+): only then can the
  // stack predict the queue from rss_key and rss_indir.
  bool rss_toeplitz = false;
};

// Everything above for `ifname`. Errors: ENODEV with "no interface named '<ifname>'" when it does not
// exist; other errnos when an ioctl fails.
Result<InterfaceInfo> interface_info(std::string_view ifname);

// The ifindex alone; ENODEV with a message naming the interface when there is none.
Result<int> interface_index(std::string_view ifname);

// "02:fc:00:00:00:01"
std::string format_mac(const std::array<std::uint8_t, 6>& mac);

// Every address of `ifname` (getifaddrs), link-local IPv6 excluded: the stack does not do scoped
// addresses. Empty when the interface has none or does not exist.
std::vector<wire::IpAddr> interface_addresses(const std::string& ifname);

}  // namespace xdptcp::kernel
