// xdptcp-run's command line with CLI11; see run_args.h.
#include "tools/run/run_args.h"

#include <CLI/CLI.hpp>
#include <sstream>

#include "userstack/base/queue_list.h"
#include "userstack/wire/ip_addr.h"

namespace xdptcp::run {

namespace {
constexpr int kExUsage = 64;
}

RunParse parse_run_args(int argc, const char* const* argv, const char* (*env)(const char*)) {
  RunParse p;
  RunOptions o;
  CLI::App app{
      "xdptcp-run: run an unmodified program with its TCP sockets on the xdptcp user-level stack.\n"
      "Sockets that listen on or connect through IFACE's addresses go to xdptcp; loopback, UDP, unix\n"
      "sockets and other interfaces stay with the kernel. Every option is also an XDPTCP_* variable.\n"
      "See docs/PRELOAD.md.",
      "xdptcp-run"};
  std::string addresses;
  app.add_option("--iface", o.iface, "interface to serve on (XDPTCP_IFACE)")->envname("XDPTCP_IFACE");
  app.add_option("--addresses", addresses, "comma-separated local addresses served (default: all of IFACE's)")
      ->envname("XDPTCP_ADDRESSES");
  app.add_option("--engines", o.engines, "engines; one event-loop thread drives one engine over every queue")
      ->envname("XDPTCP_ENGINES")
      ->check(CLI::Range(0u, 1u));
  app.add_flag("--busy-poll", o.busy_poll, "spin instead of sleeping when idle (dedicated cores)")
      ->envname("XDPTCP_BUSY_POLL");
  app.add_option("--bind-mode", o.bind_mode, "AF_XDP binding: auto, zerocopy or copy")
      ->envname("XDPTCP_BIND_MODE")
      ->check(CLI::IsMember({"auto", "zerocopy", "copy"}));
  app.add_option("--queues", o.queues,
                 "RX queues this application takes: auto (one per prefork worker, all free ones otherwise), "
                 "all, free, one, or a list (0,2); several applications on one interface each take their own")
      ->envname("XDPTCP_QUEUES")
      ->check(
          [](const std::string& v) -> std::string {
            if (v == "auto" || v == "all" || v == "free" || v == "one" || base::parse_queue_list(v))
              return "";
            return "'" + v + "' is not one of auto, all, free, one, or a list of queue numbers (0,2)";
          },
          "QUEUES");
  app.add_option("--max-sockets", o.max_sockets, "stack sockets at most (then EMFILE)")
      ->envname("XDPTCP_MAX_SOCKETS")
      ->check(CLI::Range(16u, 1u << 20));
  app.add_option(
         "--mem-budget", o.mem_budget_mib,
         "buffer memory per engine in MiB: above 3/4 small windows, above 7/8 new connections refused")
      ->envname("XDPTCP_MEM_BUDGET_MB")
      ->check(CLI::Range(1u, 1u << 20));
  app.add_option("--exit-linger-ms", o.exit_linger_ms,
                 "at exit, wait this long at most for closed connections to deliver their data and FIN "
                 "(0: do not wait)")
      ->envname("XDPTCP_EXIT_LINGER_MS")
      ->check(CLI::Range(0u, 3'600'000u));
  app.add_option("--log", o.log_level, "0: errors, 1: start-up (default), 2: every socket decision")
      ->envname("XDPTCP_LOG")
      ->check(CLI::Range(0, 2));
  app.add_option("command", o.command, "the program and its arguments (after --)")->required();
  app.prefix_command(false);
  app.allow_extras(false);
  // Everything after the first positional is the command's own (xdptcp-run nginx -g '...').
  app.positionals_at_end(true);

  std::vector<std::string> args;
  for (int i = argc - 1; i > 0; --i) args.emplace_back(argv[i]);
  (void)env;  // CLI11 reads the variables through getenv itself
  try {
    app.parse(args);
  } catch (const CLI::CallForHelp&) {
    p.out = app.help();
    return p;
  } catch (const CLI::ParseError& e) {
    std::ostringstream err;
    err << "xdptcp-run: " << e.what() << "\nRun with --help for the options.\n";
    p.err = err.str();
    p.exit_code = kExUsage;
    return p;
  }
  if (o.iface.empty()) {
    p.err = "xdptcp-run: --iface (or XDPTCP_IFACE): an interface name is required\n";
    p.exit_code = kExUsage;
    return p;
  }
  std::istringstream in(addresses);
  for (std::string a; std::getline(in, a, ',');) {
    if (a.empty()) continue;
    if (!wire::IpAddr::parse(a)) {
      p.err = "xdptcp-run: --addresses: '" + a + "' is not an IPv4 or IPv6 address\n";
      p.exit_code = kExUsage;
      return p;
    }
    o.addresses.push_back(a);
  }
  if (o.engines == 0) o.engines = 1;
  p.options = std::move(o);
  return p;
}

std::vector<std::pair<std::string, std::string>> preload_environment(const RunOptions& o,
                                                                     const std::string& library,
                                                                     const char* existing_ld_preload) {
  std::string addrs;
  for (const auto& a : o.addresses) addrs += (addrs.empty() ? "" : ",") + a;
  std::string preload = library;
  if (existing_ld_preload != nullptr && *existing_ld_preload != '\0')
    preload += std::string(":") + existing_ld_preload;
  return {
      {"XDPTCP_IFACE", o.iface},
      {"XDPTCP_ADDRESSES", addrs},
      {"XDPTCP_ENGINES", std::to_string(o.engines)},
      {"XDPTCP_BUSY_POLL", o.busy_poll ? "1" : "0"},
      {"XDPTCP_BIND_MODE", o.bind_mode},
      {"XDPTCP_QUEUES", o.queues},
      {"XDPTCP_MAX_SOCKETS", std::to_string(o.max_sockets)},
      {"XDPTCP_MEM_BUDGET_MB", std::to_string(o.mem_budget_mib)},
      {"XDPTCP_EXIT_LINGER_MS", std::to_string(o.exit_linger_ms)},
      {"XDPTCP_LOG", std::to_string(o.log_level)},
      {"LD_PRELOAD", preload},
  };
}

}  // namespace xdptcp::run
