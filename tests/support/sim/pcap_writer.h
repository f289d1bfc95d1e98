// PcapWriter: writes IP packets to a classic pcap file (LINKTYPE_RAW = 101, nanosecond
// timestamps) that Wireshark and tcpdump read, so a failing simulation can be looked at.
// Format: https://www.tcpdump.org/manpages/pcap-savefile.5.html (global header, then one
// 16-byte record header per packet), written in host byte order as the magic number says.
//
// SimNetwork opens one per run when the environment variable XDPTCP_SIM_PCAP names a folder
// (see pcap_dir_from_env()).
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "userstack/base/result.h"
#include "userstack/time/clock.h"

namespace xdptcp::sim {

inline constexpr std::uint32_t kPcapMagicNanos = 0xa1b23c4d;
inline constexpr std::uint32_t kLinkTypeRaw = 101;  // raw IPv4/IPv6, no link header
inline constexpr std::uint32_t kPcapSnapLen = 65535;

class PcapWriter {
 public:
  // Creates (truncates) `path` and writes the global header.
  static Result<PcapWriter> open(const std::string& path);

  PcapWriter(PcapWriter&& o) noexcept : f_(o.f_), packets_(o.packets_) { o.f_ = nullptr; }
  PcapWriter& operator=(PcapWriter&&) = delete;
  PcapWriter(const PcapWriter&) = delete;
  ~PcapWriter();

  // Appends one packet stamped with `t` (virtual time: seconds since the simulation's epoch).
  void write(std::span<const std::uint8_t> ip_packet, Instant t);
  void flush();
  std::uint64_t packets() const { return packets_; }

 private:
  explicit PcapWriter(std::FILE* f) : f_(f) {}
  std::FILE* f_ = nullptr;
  std::uint64_t packets_ = 0;
};

// The folder named by XDPTCP_SIM_PCAP, or nullopt when it is unset or empty.
std::optional<std::string> pcap_dir_from_env();

// A file name safe for any file system made from a run's name ("Suite.Test/seed 7" ->
// "Suite.Test_seed_7.pcap") inside `dir`.
std::string pcap_path(std::string_view dir, std::string_view run_name);

}  // namespace xdptcp::sim
