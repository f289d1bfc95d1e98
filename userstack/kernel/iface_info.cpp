// Interface facts through SIOCGIF* and the ethtool ioctl (see iface_info.h).
#include "userstack/kernel/iface_info.h"

#include <dirent.h>
#include <ifaddrs.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace xdptcp::kernel {
namespace {

// A datagram socket used only as a handle for interface ioctls; closed on scope exit.
class IoctlSocket {
 public:
  IoctlSocket() : fd_(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {
    if (fd_ < 0) fd_ = ::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  }
  ~IoctlSocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  IoctlSocket(const IoctlSocket&) = delete;
  IoctlSocket& operator=(const IoctlSocket&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

bool fill_ifreq(struct ifreq& ifr, std::string_view name) {
  std::memset(&ifr, 0, sizeof(ifr));
  if (name.empty() || name.size() >= IFNAMSIZ) return false;
  std::memcpy(ifr.ifr_name, name.data(), name.size());
  return true;
}

Error no_such_interface(std::string_view name) {
  return Error{ENODEV, "no interface named '" + std::string(name) + "' (see `ip link`)"};
}

// ethtool ioctl with `data` as the command buffer; returns 0 or an errno.
int ethtool(const IoctlSocket& sock, std::string_view name, void* data) {
  struct ifreq ifr;
  if (!fill_ifreq(ifr, name)) return EINVAL;
  ifr.ifr_data = static_cast<char*>(data);
  return ::ioctl(sock.fd(), SIOCETHTOOL, &ifr) < 0 ? errno : 0;
}

// Number of /sys/class/net/IF/queues/rx-* entries, 0 when the directory cannot be read.
std::uint32_t count_sysfs_rx_queues(std::string_view name) {
  std::string path = "/sys/class/net/" + std::string(name) + "/queues";
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) return 0;
  std::uint32_t n = 0;
  while (const struct dirent* e = ::readdir(dir)) {
    if (std::strncmp(e->d_name, "rx-", 3) == 0) ++n;
  }
  ::closedir(dir);
  return n;
}

std::uint32_t rx_queue_count(const IoctlSocket& sock, std::string_view name) {
  struct ethtool_channels ch;
  std::memset(&ch, 0, sizeof(ch));
  ch.cmd = ETHTOOL_GCHANNELS;
  if (ethtool(sock, name, &ch) == 0) {
    // Combined channels carry RX and TX; rx-only channels add receive queues of their own.
    std::uint32_t n = ch.rx_count + ch.combined_count;
    if (n > 0) return n;
  }
  std::uint32_t n = count_sysfs_rx_queues(name);
  return n > 0 ? n : 1;
}

std::string driver_name(const IoctlSocket& sock, std::string_view name) {
  struct ethtool_drvinfo info;
  std::memset(&info, 0, sizeof(info));
  info.cmd = ETHTOOL_GDRVINFO;
  if (ethtool(sock, name, &info) != 0) return {};
  info.driver[sizeof(info.driver) - 1] = '\0';
  return info.driver;
}

// ETH_RSS_HASH_TOP: bit 0 of ethtool_rxfh.hfunc ("toeplitz" in ETH_SS_RSS_HASH_FUNCS); the macro
// lives in the kernel's internal header, not in the UAPI one.
constexpr std::uint8_t kRssHashToeplitz = 1u << 0;

// Two calls, as ethtool(8) does: the first with zero sizes asks for the sizes, the second fetches the
// indirection table followed by the key. Leaves `info`'s RSS fields empty when the driver has none.
void read_rss(const IoctlSocket& sock, std::string_view name, InterfaceInfo& info) {
  struct ethtool_rxfh head;
  std::memset(&head, 0, sizeof(head));
  head.cmd = ETHTOOL_GRSSH;
  if (ethtool(sock, name, &head) != 0 || (head.key_size == 0 && head.indir_size == 0)) return;
  const std::size_t indir_bytes = std::size_t{head.indir_size} * sizeof(std::uint32_t);
  std::vector<std::uint8_t> buf(sizeof(struct ethtool_rxfh) + indir_bytes + head.key_size);
  struct ethtool_rxfh req = head;
  req.cmd = ETHTOOL_GRSSH;
  std::memcpy(buf.data(), &req, sizeof(req));
  if (ethtool(sock, name, buf.data()) != 0) return;
  struct ethtool_rxfh got;
  std::memcpy(&got, buf.data(), sizeof(got));
  if (got.indir_size != head.indir_size || got.key_size != head.key_size) return;  // changed meanwhile
  const std::uint8_t* indir = buf.data() + sizeof(struct ethtool_rxfh);
  info.rss_indir.resize(head.indir_size);
  if (indir_bytes > 0) std::memcpy(info.rss_indir.data(), indir, indir_bytes);
  const std::uint8_t* key = indir + indir_bytes;
  info.rss_key.assign(key, key + head.key_size);
  // hfunc: the active function as one ETH_RSS_HASH_* bit (0 when the driver does not say). The
  // byte after it is `input_xfrm` from kernel 6.8 on (rsvd8[0] in older UAPI headers): any bit
  // there (RXH_XFRM_SYM_XOR, ...) transforms the input before hashing.
  const std::uint8_t input_xfrm = got.rsvd8[0];
  info.rss_toeplitz = (got.hfunc == 0 || got.hfunc == kRssHashToeplitz) && input_xfrm == 0;
}

}  // namespace

Result<int> interface_index(std::string_view ifname) {
  if (ifname.empty() || ifname.size() >= IFNAMSIZ) return no_such_interface(ifname);
  const unsigned idx = ::if_nametoindex(std::string(ifname).c_str());
  if (idx == 0) return no_such_interface(ifname);
  return static_cast<int>(idx);
}

Result<InterfaceInfo> interface_info(std::string_view ifname) {
  auto idx = interface_index(ifname);
  if (!idx) return idx.error();
  IoctlSocket sock;
  if (sock.fd() < 0) return errno_error("cannot open a socket for interface ioctls");

  InterfaceInfo info;
  info.name = std::string(ifname);
  info.ifindex = idx.value();

  struct ifreq ifr;
  fill_ifreq(ifr, ifname);
  if (::ioctl(sock.fd(), SIOCGIFHWADDR, &ifr) < 0) {
    return errno_error("cannot read the MAC address of '" + info.name + "'");
  }
  std::memcpy(info.mac.data(), ifr.ifr_hwaddr.sa_data, info.mac.size());

  fill_ifreq(ifr, ifname);
  if (::ioctl(sock.fd(), SIOCGIFMTU, &ifr) < 0) {
    return errno_error("cannot read the MTU of '" + info.name + "'");
  }
  info.mtu = static_cast<std::uint32_t>(ifr.ifr_mtu);

  info.rx_queues = rx_queue_count(sock, ifname);
  info.driver = driver_name(sock, ifname);
  read_rss(sock, ifname, info);
  return info;
}

std::string format_mac(const std::array<std::uint8_t, 6>& mac) {
  char buf[18];
  std::snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
                mac[5]);
  return buf;
}

std::vector<wire::IpAddr> interface_addresses(const std::string& ifname) {
  std::vector<wire::IpAddr> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  for (ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || ifname != i->ifa_name) continue;
    if (i->ifa_addr->sa_family == AF_INET) {
      const auto* sin = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
      out.push_back(wire::IpAddr::v4_bytes(reinterpret_cast<const std::uint8_t*>(&sin->sin_addr)));
    } else if (i->ifa_addr->sa_family == AF_INET6) {
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(i->ifa_addr);
      const auto* b = reinterpret_cast<const std::uint8_t*>(&sin6->sin6_addr);
      if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) continue;
      out.push_back(wire::IpAddr::v6_bytes(b));
    }
  }
  freeifaddrs(list);
  return out;
}

}  // namespace xdptcp::kernel
