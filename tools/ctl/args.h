// xdptcp-ctl's command line: the subcommands, their arguments, validation of ports and addresses, and the
// exit codes. Kept apart from the commands themselves so that it can be tested without root.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "userstack/base/result.h"
#include "userstack/kernel/steer_rules.h"
#include "userstack/wire/ip_addr.h"

namespace xdptcp::ctl {

// The exit codes, as documented in --help and docs/xdptcp-ctl.md.
enum ExitCode : int {
  kExitOk = 0,
  kExitUsage = 1,       // bad command line or argument
  kExitPermission = 2,  // not root / missing CAP_NET_ADMIN, CAP_BPF
  kExitInterface = 3,   // unknown interface, or an XDP/kernel feature missing
  kExitState = 4,       // already attached / not attached / no such rule / rule exists
  kExitOther = 5,       // anything else
};

// The exit code for an error from the kernel library, by its errno (see userstack/kernel/xdp_attach.h).
int exit_code_for(const Error& e);

// The --help footer that lists the exit codes.
std::string exit_codes_help();

struct PortRange {
  std::uint16_t lo = 0;
  std::uint16_t hi = 0;
  bool operator==(const PortRange&) const = default;
};

// "P" or "P-Q" with 1 <= P <= Q <= 65535. EINVAL with a message naming --port otherwise.
Result<PortRange> parse_port_range(std::string_view text);

// A numeric IPv4 or IPv6 address (no scope, no prefix). EINVAL with a message naming --ip otherwise.
Result<wire::IpAddr> parse_address(std::string_view text);

enum class Mode : std::uint8_t { kAuto, kNative, kGeneric };

enum class Verb : std::uint8_t {
  kAttach,
  kDetach,
  kStatus,
  kSteerAdd,
  kSteerDel,
  kSteerList,
  kStats,
  kSs,
  kCapture,
};

struct Command {
  Verb verb = Verb::kStatus;
  std::string iface;  // empty: every attached interface (status only)
  Mode mode = Mode::kAuto;
  std::optional<PortRange> ports;
  std::optional<wire::IpAddr> addr;
  bool json = false;
  // stats
  bool prometheus = false;  // --prometheus: the Prometheus text exposition format
  bool clean = false;       // --clean: remove stale stats regions
  double watch_s = 0;       // --watch SECONDS: rates per second every SECONDS (0: one snapshot)
  unsigned count = 0;       // --count K: stop after K intervals of --watch (0: until interrupted)
  // ss
  std::uint32_t states = 0;              // --state: bit n for Linux's TCP state n (parse_states); 0: all
  std::vector<std::string> state_names;  // ... as given
  bool info = false;                     // --info: the TCP_INFO fields, as ss -i
  double timeout_s = 1;                  // --timeout SECONDS: for every engine to answer
  // capture (count: --count N frames, 0: no limit)
  std::string write_path;          // -w FILE.pcap ("-": standard output)
  std::uint16_t capture_port = 0;  // --port P: frames with TCP port P either side; 0: all
  double duration_s = 0;           // --duration SECONDS; 0: until --count or SIGINT
  int pid = 0;                     // --pid P: that process's engines only; 0: every process
  std::uint32_t ring_slots = 0;    // --ring N: records per engine ring (power of two); 0: the region's
  std::uint32_t snaplen = 0;       // --snaplen B: bytes kept of each frame; 0: the most a record holds
};

// Bit n stands for Linux's TCP state n (1 ESTABLISHED ... 11 CLOSING, include/net/tcp_states.h).
inline constexpr std::uint32_t state_bit(unsigned linux_state) {
  return std::uint32_t{1} << linux_state;
}
// Every state ss knows (1..11).
inline constexpr std::uint32_t kAllStates = 0xffe;

// ss's state filter names (ss(8) STATE-FILTER), case-insensitive: established, syn-sent, syn-recv,
// fin-wait-1, fin-wait-2, time-wait, closed, close-wait, last-ack, listening (or listen), closing,
// and the groups all, connected (all but listening and closed), synchronized (connected but
// syn-sent), bucket (syn-recv, time-wait), big (all but bucket). ss's column names (ESTAB,
// SYN-RECV, UNCONN) are accepted too. The union of the bits; EINVAL naming --state otherwise.
Result<std::uint32_t> parse_states(const std::vector<std::string>& names);

// What the command line asks for: a command to run, or an exit code with text to print (help, or a
// usage error).
struct ParseOutcome {
  std::optional<Command> command;
  int exit_code = kExitOk;
  std::string out;  // for stdout: help
  std::string err;  // for stderr: what is wrong with the command line
};

ParseOutcome parse_command_line(int argc, const char* const* argv);

// The rules that `steer add|del` with these arguments stands for: with --ip one rule of that address's
// family (the unspecified address 0.0.0.0 or :: means any address of its family); without it two, any
// IPv4 and any IPv6 address. owner_pid is 0: rules from xdptcp-ctl are permanent.
std::vector<kernel::SteerRule> rules_for(const PortRange& ports, const std::optional<wire::IpAddr>& addr);

}  // namespace xdptcp::ctl
