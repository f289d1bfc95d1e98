// xdptcp-ctl's command line (see args.h).
#include "tools/ctl/args.h"

#include <arpa/inet.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <iterator>
#include <sstream>
#include <utility>

namespace xdptcp::ctl {
namespace {

Error bad_port(std::string_view text, const char* why) {
  return Error{EINVAL, "--port: '" + std::string(text) + "' " + why};
}

// A decimal port 1..65535, nullopt otherwise.
std::optional<std::uint16_t> parse_port(std::string_view text) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  unsigned value = 0;
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || p != end || value < 1 || value > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

int exit_code_for(const Error& e) {
  switch (e.code) {
    case EPERM:
    case EACCES:
      return kExitPermission;
    case ENODEV:
    case ENXIO:
    case EOPNOTSUPP:
    case ENOSYS:
    case EPROTONOSUPPORT:
      return kExitInterface;
    case EEXIST:
    case ENOENT:
    case EALREADY:
    case EBUSY:
      return kExitState;
    default:
      return kExitOther;
  }
}

std::string exit_codes_help() {
  return "Exit codes:\n"
         "  0  success\n"
         "  1  bad command line or argument\n"
         "  2  permission: run as root or grant CAP_NET_ADMIN,CAP_BPF\n"
         "  3  unknown interface, or XDP / a kernel feature not available\n"
         "  4  state conflict: already attached, not attached, rule exists, no such rule\n"
         "  5  other failure\n"
         "See docs/xdptcp-ctl.md.";
}

Result<PortRange> parse_port_range(std::string_view text) {
  const std::size_t dash = text.find('-');
  if (dash == std::string_view::npos) {
    if (!all_digits(text)) return bad_port(text, "is not a port (1-65535)");
    auto p = parse_port(text);
    if (!p) return bad_port(text, "is not a port (1-65535)");
    return PortRange{*p, *p};
  }
  const std::string_view lo_text = text.substr(0, dash);
  const std::string_view hi_text = text.substr(dash + 1);
  if (!all_digits(lo_text) || !all_digits(hi_text)) {
    return bad_port(text, "is not a port or a port range (P or P-Q, 1-65535)");
  }
  auto lo = parse_port(lo_text);
  auto hi = parse_port(hi_text);
  if (!lo || !hi) return bad_port(text, "is not a port range (both ends must be ports, 1-65535)");
  if (*lo > *hi) return bad_port(text, "is an empty range (the first port must not exceed the second)");
  return PortRange{*lo, *hi};
}

Result<wire::IpAddr> parse_address(std::string_view text) {
  const std::string s(text);
  std::uint8_t buf[16] = {};
  if (s.find(':') == std::string::npos) {
    if (::inet_pton(AF_INET, s.c_str(), buf) == 1) return wire::IpAddr::v4_bytes(buf);
  } else if (::inet_pton(AF_INET6, s.c_str(), buf) == 1) {
    return wire::IpAddr::v6_bytes(buf);
  }
  return Error{EINVAL, "--ip: '" + s + "' is not an IPv4 or IPv6 address (e.g. 198.18.0.1 or fd00::1)"};
}

std::vector<kernel::SteerRule> rules_for(const PortRange& ports, const std::optional<wire::IpAddr>& addr) {
  auto make = [&ports](wire::IpFamily family) {
    kernel::SteerRule r;
    r.family = family;
    r.any_addr = true;
    r.addr = wire::IpAddr{};
    r.addr.family = family;
    r.port_lo = ports.lo;
    r.port_hi = ports.hi;
    r.owner_pid = 0;
    return r;
  };
  if (!addr) return {make(wire::IpFamily::kV4), make(wire::IpFamily::kV6)};
  kernel::SteerRule r = make(addr->family);
  const bool unspecified =
      std::all_of(addr->bytes.begin(), addr->bytes.end(), [](std::uint8_t b) { return b == 0; });
  if (!unspecified) {
    r.any_addr = false;
    r.addr = *addr;
  }
  return {r};
}

Result<std::uint32_t> parse_states(const std::vector<std::string>& names) {
  // Linux's numbers: 1 ESTABLISHED, 2 SYN_SENT, 3 SYN_RECV, 4 FIN_WAIT1, 5 FIN_WAIT2, 6 TIME_WAIT,
  // 7 CLOSE, 8 CLOSE_WAIT, 9 LAST_ACK, 10 LISTEN, 11 CLOSING.
  constexpr std::uint32_t kConnected = kAllStates & ~state_bit(10) & ~state_bit(7);
  constexpr std::uint32_t kBucket = state_bit(3) | state_bit(6);
  static const std::pair<std::string_view, std::uint32_t> kNames[] = {
      {"established", state_bit(1)},
      {"estab", state_bit(1)},
      {"syn-sent", state_bit(2)},
      {"syn-recv", state_bit(3)},
      {"syn-received", state_bit(3)},
      {"fin-wait-1", state_bit(4)},
      {"fin-wait-2", state_bit(5)},
      {"time-wait", state_bit(6)},
      {"closed", state_bit(7)},
      {"unconn", state_bit(7)},
      {"close-wait", state_bit(8)},
      {"last-ack", state_bit(9)},
      {"listening", state_bit(10)},
      {"listen", state_bit(10)},
      {"closing", state_bit(11)},
      {"all", kAllStates},
      {"connected", kConnected},
      {"synchronized", kConnected & ~state_bit(2)},
      {"bucket", kBucket},
      {"big", kAllStates & ~kBucket},
  };
  std::uint32_t bits = 0;
  for (const std::string& name : names) {
    std::string n = name;
    std::transform(n.begin(), n.end(), n.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    const auto* it =
        std::find_if(std::begin(kNames), std::end(kNames), [&n](const auto& e) { return e.first == n; });
    if (it == std::end(kNames)) {
      return Error{EINVAL, "--state: '" + name +
                               "' is not a state (established, syn-sent, syn-recv, fin-wait-1, fin-wait-2, "
                               "time-wait, closed, close-wait, last-ack, listening, closing, all, connected, "
                               "synchronized, bucket, big)"};
    }
    bits |= it->second;
  }
  return bits;
}

ParseOutcome parse_command_line(int argc, const char* const* argv) {
  ParseOutcome outcome;
  Command cmd;
  std::string mode_text = "auto";
  std::string port_text;
  std::string ip_text;

  CLI::App app{
      "xdptcp-ctl: attach xdptcp's XDP steering program to an interface and manage its steering rules",
      "xdptcp-ctl"};
  app.footer(exit_codes_help());
  app.require_subcommand(1);

  auto add_iface = [&cmd](CLI::App* sub, bool required) {
    CLI::Option* o = sub->add_option("--iface,-i", cmd.iface, "network interface, e.g. eth0");
    if (required) o->required();
  };

  CLI::App* attach = app.add_subcommand("attach", "attach the steering program and pin its maps");
  add_iface(attach, true);
  attach->add_option("--mode", mode_text, "XDP mode: auto (native, else generic), native or generic")
      ->check(CLI::IsMember({"auto", "native", "generic"}));

  CLI::App* detach = app.add_subcommand("detach", "detach the steering program and remove its pinned maps");
  add_iface(detach, true);

  CLI::App* status = app.add_subcommand("status", "show the state of one or every attached interface");
  add_iface(status, false);
  status->add_flag("--json", cmd.json, "print JSON");

  CLI::App* steer = app.add_subcommand("steer", "add, delete or list steering rules");
  steer->require_subcommand(1);
  std::vector<CLI::Option*> port_opts;
  std::vector<CLI::Option*> ip_opts;
  auto add_rule_options = [&](CLI::App* sub) {
    add_iface(sub, true);
    port_opts.push_back(
        sub->add_option("--port,-p", port_text, "TCP destination port P or range P-Q")->required());
    ip_opts.push_back(
        sub->add_option("--ip", ip_text, "destination address; without it, any IPv4 and any IPv6 address"));
  };
  CLI::App* steer_add = steer->add_subcommand("add", "steer TCP to --port (and --ip) into xdptcp");
  add_rule_options(steer_add);
  CLI::App* steer_del = steer->add_subcommand("del", "delete the rule(s) add installed with these arguments");
  add_rule_options(steer_del);
  CLI::App* steer_list = steer->add_subcommand("list", "list the steering rules");
  add_iface(steer_list, true);
  steer_list->add_flag("--json", cmd.json, "print JSON");

  CLI::App* stats = app.add_subcommand(
      "stats", "show the steering program's counters and those of every process's engines on the interface");
  add_iface(stats, true);
  CLI::Option* stats_json = stats->add_flag("--json", cmd.json, "print JSON");
  CLI::Option* prometheus =
      stats->add_flag("--prometheus", cmd.prometheus, "print the Prometheus text exposition format");
  CLI::Option* watch = stats->add_option("--watch", cmd.watch_s, "every SECONDS, print rates per second")
                           ->check(CLI::PositiveNumber);
  CLI::Option* count = stats->add_option("--count", cmd.count, "with --watch: stop after K intervals")
                           ->check(CLI::PositiveNumber);
  CLI::Option* clean =
      stats->add_flag("--clean", cmd.clean, "remove the stats regions of processes that died");
  prometheus->excludes(stats_json);

  CLI::App* ss = app.add_subcommand(
      "ss", "list the TCP connections of every process's engines on the interface, as ss -tn does");
  add_iface(ss, true);
  ss->add_option("--state,-s", cmd.state_names,
                 "only sockets in this state (ss's names: established, listening, time-wait, ..., all, "
                 "connected); repeatable");
  ss->add_flag("--info", cmd.info, "show the TCP_INFO fields (rtt, cwnd, mss, ...), as ss -i");
  ss->add_flag("--json", cmd.json, "print JSON");
  ss->add_option("--timeout", cmd.timeout_s, "seconds to wait for every engine to answer (default 1)")
      ->check(CLI::PositiveNumber);
  CLI::App* capture = app.add_subcommand(
      "capture",
      "record the frames the engines receive and send (after XDP redirection, which tcpdump does not see) "
      "into a pcap file");
  add_iface(capture, true);
  capture->add_option("-w,--write", cmd.write_path, "pcap file to write (- for standard output)")->required();
  capture->add_option("--count,-c", cmd.count, "stop after N frames")->check(CLI::PositiveNumber);
  capture->add_option("--port,-p", cmd.capture_port, "only frames with TCP port P (source or destination)")
      ->check(CLI::Range(1, 65535));
  capture->add_option("--duration", cmd.duration_s, "stop after SECONDS")->check(CLI::PositiveNumber);
  capture->add_option("--pid", cmd.pid, "only the engines of process PID")->check(CLI::PositiveNumber);
  capture
      ->add_option("--ring", cmd.ring_slots,
                   "records per engine's capture ring, a power of two (default: all the ring has, 512)")
      ->check(CLI::PositiveNumber);
  capture->add_option("--snaplen,-s", cmd.snaplen, "bytes kept of each frame (default and most: 2032)")
      ->check(CLI::Range(1, 2032));
  // Prometheus computes rates itself from the totals; --watch prints rates.
  watch->excludes(prometheus);
  watch->excludes(clean);
  count->needs(watch);

  std::ostringstream out;
  std::ostringstream err;
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e, out, err);
    outcome.exit_code = code == 0 ? kExitOk : kExitUsage;
    outcome.out = out.str();
    outcome.err = err.str();
    return outcome;
  }

  auto usage_error = [&outcome](const Error& e) {
    outcome.exit_code = kExitUsage;
    outcome.err = e.message + "\nRun with --help for more information.\n";
    return outcome;
  };

  if (attach->parsed()) {
    cmd.verb = Verb::kAttach;
    cmd.mode = mode_text == "native" ? Mode::kNative : mode_text == "generic" ? Mode::kGeneric : Mode::kAuto;
  } else if (detach->parsed()) {
    cmd.verb = Verb::kDetach;
  } else if (status->parsed()) {
    cmd.verb = Verb::kStatus;
  } else if (stats->parsed()) {
    cmd.verb = Verb::kStats;
  } else if (ss->parsed()) {
    cmd.verb = Verb::kSs;
    auto st = parse_states(cmd.state_names);
    if (!st) return usage_error(st.error());
    cmd.states = st.value();
  } else if (capture->parsed()) {
    cmd.verb = Verb::kCapture;
    if (cmd.ring_slots != 0 && (cmd.ring_slots < 2 || (cmd.ring_slots & (cmd.ring_slots - 1)) != 0))
      return usage_error(Error{
          EINVAL, "--ring: " + std::to_string(cmd.ring_slots) + " is not a power of two of at least 2"});
  } else if (steer_add->parsed()) {
    cmd.verb = Verb::kSteerAdd;
  } else if (steer_del->parsed()) {
    cmd.verb = Verb::kSteerDel;
  } else if (steer_list->parsed()) {
    cmd.verb = Verb::kSteerList;
  }
  auto given = [](const std::vector<CLI::Option*>& opts) {
    return std::any_of(opts.begin(), opts.end(), [](const CLI::Option* o) { return o->count() > 0; });
  };
  if (given(port_opts)) {
    auto p = parse_port_range(port_text);
    if (!p) return usage_error(p.error());
    cmd.ports = p.value();
  }
  if (given(ip_opts)) {
    auto a = parse_address(ip_text);
    if (!a) return usage_error(a.error());
    cmd.addr = a.value();
  }
  outcome.command = std::move(cmd);
  return outcome;
}

}  // namespace xdptcp::ctl
