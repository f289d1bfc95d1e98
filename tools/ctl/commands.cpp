// xdptcp-ctl's commands (see commands.h).
#include "tools/ctl/commands.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tools/ctl/capture.h"
#include "tools/ctl/ss_output.h"
#include "tools/ctl/stats_output.h"
#include "userstack/engine/conn_snapshot.h"
#include "userstack/engine/stats_region.h"
#include "userstack/kernel/steer_rules.h"
#include "userstack/kernel/xdp_attach.h"
#include "xdptcp/steer_abi.h"

namespace xdptcp::ctl {
namespace {

using nlohmann::json;

int fail(std::ostream& err, const Error& e) {
  // The kernel library words these errors itself; strerror would only repeat them.
  const bool worded =
      e.code == EPERM || e.code == ENODEV || e.code == EEXIST || e.code == ENOENT || e.code == EOPNOTSUPP;
  err << "xdptcp-ctl: " << (worded ? e.message : e.describe()) << "\n";
  return exit_code_for(e);
}

kernel::XdpMode to_kernel(Mode m) {
  switch (m) {
    case Mode::kNative:
      return kernel::XdpMode::kNative;
    case Mode::kGeneric:
      return kernel::XdpMode::kGeneric;
    case Mode::kAuto:
      break;
  }
  return kernel::XdpMode::kAuto;
}

std::string addr_text(const wire::IpAddr& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  const int af = a.is_v4() ? AF_INET : AF_INET6;
  return ::inet_ntop(af, a.bytes.data(), buf, sizeof(buf)) != nullptr ? buf : "?";
}

std::string ports_text(const kernel::SteerRule& r) {
  return r.port_lo == r.port_hi ? std::to_string(r.port_lo)
                                : std::to_string(r.port_lo) + "-" + std::to_string(r.port_hi);
}

const char* family_text(wire::IpFamily f) {
  return f == wire::IpFamily::kV4 ? "ipv4" : "ipv6";
}

// The process behind a rule's or a queue's owner pid, as the operator needs it: several processes
// share an interface, and a pid alone does not say which one (or whether it still runs).
enum class OwnerState { kPermanent, kAlive, kDead };

const char* state_name(OwnerState s) {
  switch (s) {
    case OwnerState::kPermanent:
      return "permanent";
    case OwnerState::kAlive:
      return "alive";
    case OwnerState::kDead:
      break;
  }
  return "dead";
}

struct Owner {
  std::uint32_t pid = 0;
  OwnerState state = OwnerState::kPermanent;  // kPermanent: pid 0, a rule of xdptcp-ctl
  std::string comm;                           // /proc/PID/comm while alive ("?" if unreadable), else ""
};

Owner owner_of(std::uint32_t pid) {
  Owner o;
  o.pid = pid;
  if (pid == 0) return o;
  const std::string dir = "/proc/" + std::to_string(pid);
  // Only a definite ENOENT means dead, as when steer_rules.cpp prunes: a process we may not
  // inspect still runs.
  if (::access(dir.c_str(), F_OK) != 0 && errno == ENOENT) {
    o.state = OwnerState::kDead;
    return o;
  }
  o.state = OwnerState::kAlive;
  std::ifstream in(dir + "/comm");
  if (!std::getline(in, o.comm) || o.comm.empty()) o.comm = "?";
  return o;
}

// "permanent", "pid 1234 nginx" or "pid 1234 dead".
std::string owner_text(const Owner& o) {
  if (o.state == OwnerState::kPermanent) return state_name(o.state);
  return "pid " + std::to_string(o.pid) + " " +
         (o.state == OwnerState::kAlive ? o.comm : state_name(o.state));
}

void add_owner_json(json& j, const Owner& o) {
  j["owner_pid"] = o.pid;
  j["owner_state"] = state_name(o.state);
  j["owner_comm"] = o.comm;
}

// "ipv4 any port 80 (pid 1234 nginx)", with ", draining" inside the parentheses for a rule whose
// process closed its listener and keeps only the connections it has (steer_abi.h, "Draining").
std::string rule_text(const kernel::SteerRule& r) {
  return std::string(family_text(r.family)) + " " + (r.any_addr ? "any" : addr_text(r.addr)) + " port " +
         ports_text(r) + " (" + owner_text(owner_of(r.owner_pid)) + (r.draining ? ", draining" : "") + ")";
}

json rule_json(const kernel::SteerRule& r) {
  json j{{"family", family_text(r.family)},
         {"addr", r.any_addr ? "any" : addr_text(r.addr)},
         {"port_lo", r.port_lo},
         {"port_hi", r.port_hi},
         {"draining", r.draining}};
  add_owner_json(j, owner_of(r.owner_pid));
  return j;
}

json counters_json(const kernel::SteerCounters& c) {
  json j = json::object();
  for (const auto& [name, value] : xdp_rows(c)) j[name] = value;
  return j;
}

void print_counters(std::ostream& out, const kernel::SteerCounters& c, const char* indent) {
  for (const auto& [name, value] : xdp_rows(c))
    out << indent << std::left << std::setw(17) << name << value << "\n";
}

json socket_json(const kernel::QueueSocket& q) {
  const Owner o = owner_of(q.owner_pid);
  json j{{"queue", q.queue}};
  add_owner_json(j, o);
  // owner_alive predates owner_state; kept for scripts that read it, from the same look at /proc.
  j["owner_alive"] = o.state == OwnerState::kAlive;
  j["registered_ns"] = q.registered_ns;
  return j;
}

std::string socket_text(const kernel::QueueSocket& q) {
  const Owner o = owner_of(q.owner_pid);
  std::string s = "queue " + std::to_string(q.queue) + ": " + owner_text(o);
  if (o.state == OwnerState::kDead) s += " (stale record: the process is gone)";
  return s;
}

json status_json(const kernel::SteerStatus& s) {
  json programs = json::array();
  for (const auto& p : s.programs) programs.push_back(json{{"id", p.id}, {"name", p.name}, {"ours", p.ours}});
  json rules = json::array();
  for (const auto& r : s.rules) rules.push_back(rule_json(r));
  json sockets = json::array();
  for (const auto& q : s.sockets) sockets.push_back(socket_json(q));
  return json{{"iface", s.ifname},
              {"ifindex", s.ifindex},
              {"attached", s.attached},
              {"pinned", s.pinned},
              {"stale", s.stale},
              {"pin_dir", kernel::pin_dir(s.ifname)},
              {"mode", s.mode},
              {"prog_id", s.prog_id},
              {"dispatcher_id", s.dispatcher_id},
              {"multiprog", s.multiprog},
              {"driver", s.driver},
              {"rx_queues", s.rx_queues},
              {"programs", programs},
              {"rules", rules},
              {"sockets", sockets},
              {"counters", counters_json(s.counters)}};
}

void print_status(std::ostream& out, const kernel::SteerStatus& s) {
  out << s.ifname << ": ";
  if (s.stale) {
    out << "STALE: maps pinned under " << kernel::pin_dir(s.ifname)
        << (s.ifindex == 0 ? " but the interface is gone"
            : s.attached   ? " do not belong to the attached program"
                           : " but the program is no longer attached")
        << "; `xdptcp-ctl detach --iface " << s.ifname << "` removes them";
    if (s.ifindex != 0) out << ", `xdptcp-ctl attach --iface " << s.ifname << "` replaces them";
    out << "\n";
  } else if (s.attached) {
    out << "attached, " << s.mode << " mode, program id " << s.prog_id;
    if (s.multiprog) out << " in libxdp dispatcher id " << s.dispatcher_id;
    out << "\n  maps pinned under " << kernel::pin_dir(s.ifname) << "\n";
  } else {
    out << "not attached\n";
  }
  if (s.ifindex != 0) {
    out << "  driver " << (s.driver.empty() ? "?" : s.driver) << ", " << s.rx_queues << " RX queue"
        << (s.rx_queues == 1 ? "" : "s") << "\n";
  }
  if (!s.programs.empty()) {
    out << "  XDP programs (" << s.mode << "):";
    for (const auto& p : s.programs)
      out << " " << p.name << " (id " << p.id << (p.ours ? ", ours" : "") << ")";
    out << "\n";
  }
  if (!s.pinned) return;
  out << "  rules: " << s.rules.size() << "\n";
  for (const auto& r : s.rules) out << "    " << rule_text(r) << "\n";
  out << "  sockets: " << s.sockets.size() << "\n";
  for (const auto& q : s.sockets) out << "    " << socket_text(q) << "\n";
  out << "  counters:\n";
  print_counters(out, s.counters, "    ");
}

int cmd_attach(const Command& cmd, std::ostream& out, std::ostream& err) {
  auto a = kernel::attach(cmd.iface, to_kernel(cmd.mode));
  if (!a) return fail(err, a.error());
  a->keep();
  const kernel::AttachInfo& info = a->info();
  for (const auto& n : info.notes) out << "note: " << n << "\n";
  out << "attached " << XDPTCP_PROG_NAME << " to " << info.ifname << " in " << kernel::to_string(info.mode)
      << " mode (program id " << info.prog_id;
  if (info.multiprog) out << ", libxdp dispatcher id " << info.dispatcher_id;
  out << "); maps pinned under " << kernel::pin_dir(info.ifname) << "\n";
  return kExitOk;
}

int cmd_detach(const Command& cmd, std::ostream& out, std::ostream& err) {
  auto d = kernel::detach(cmd.iface);
  if (!d) return fail(err, d.error());
  for (const auto& n : d->notes) out << "note: " << n << "\n";
  if (d->was_attached) out << "detached " << XDPTCP_PROG_NAME << " from " << cmd.iface << "\n";
  if (d->removed_pins) out << "removed " << kernel::pin_dir(cmd.iface) << "\n";
  return kExitOk;
}

int cmd_status(const Command& cmd, std::ostream& out, std::ostream& err) {
  std::vector<std::string> names;
  if (!cmd.iface.empty()) {
    names.push_back(cmd.iface);
  } else {
    if (auto p = kernel::check_privileges(); !p) return fail(err, p.error());
    names = kernel::pinned_interfaces();
  }
  int code = kExitOk;
  json all = json::array();
  if (names.empty() && !cmd.json) out << "xdptcp is not attached to any interface\n";
  for (const auto& name : names) {
    auto s = kernel::status(name);
    if (!s) {
      code = std::max(code, fail(err, s.error()));
      continue;
    }
    // The processes' stats regions (stats_region.h): stale ones are worth a line.
    const engine::RegionListing regions = engine::list_stats_regions(name);
    if (cmd.json) {
      all.push_back(status_json(s.value()));
      all.back()["stats_regions"] = regions_status_json(regions);
    } else {
      print_status(out, s.value());
      if (const std::string r = regions_summary(regions, name); !r.empty())
        out << "  stats regions: " << r << "\n";
    }
  }
  if (cmd.json) out << (cmd.iface.empty() ? all : (all.empty() ? json::object() : all[0])).dump(2) << "\n";
  return code;
}

// The pinned maps, refusing stale ones: rules put there would steer nothing.
Result<kernel::PinnedSteerMaps> open_live_maps(const std::string& iface) {
  if (auto p = kernel::check_privileges(); !p) return p.error();
  auto s = kernel::status(iface);
  if (!s) return s.error();
  if (!s->pinned) {
    return Error{ENOENT,
                 "xdptcp is not attached to '" + iface + "'; run `xdptcp-ctl attach --iface " + iface + "`"};
  }
  if (s->stale) {
    return Error{ENOENT, "the maps pinned for '" + iface +
                             "' are stale (the program is no longer attached); run "
                             "`xdptcp-ctl attach --iface " +
                             iface + "`"};
  }
  return kernel::open_pinned(iface);
}

int cmd_steer_add(const Command& cmd, std::ostream& out, std::ostream& err) {
  auto maps = open_live_maps(cmd.iface);
  if (!maps) return fail(err, maps.error());
  // Rules of processes that died are removed whenever xdptcp-ctl changes the table (design brief §4).
  if (auto pruned = kernel::remove_rules_of_dead_owners(maps->fds()); pruned && pruned.value() > 0) {
    out << "note: removed " << pruned.value() << " rule(s) of processes that no longer exist\n";
  }
  const std::vector<kernel::SteerRule> rules = rules_for(*cmd.ports, cmd.addr);
  for (std::size_t i = 0; i < rules.size(); ++i) {
    auto r = kernel::add_rule(maps->fds(), rules[i]);
    if (!r) {
      // All or nothing: undo the rules this command already added.
      for (std::size_t j = 0; j < i; ++j) (void)kernel::del_rule(maps->fds(), rules[j]);
      Error e = r.error();
      if (e.code == EEXIST)
        e.message = "a rule for " + rule_text(rules[i]) + " exists already on '" + cmd.iface + "'";
      return fail(err, e);
    }
  }
  for (const auto& r : rules) out << "added " << rule_text(r) << " on " << cmd.iface << "\n";
  return kExitOk;
}

// steer del removes permanent rules only (owner 0, as steer add installs them): a process's rule of
// the same match is that process's to remove. Names such rules, so that a failed del explains itself.
std::string process_rules_note(const kernel::SteerMapFds& maps,
                               const std::vector<kernel::SteerRule>& wanted) {
  auto installed = kernel::list_rules(maps);
  if (!installed) return {};
  std::string owners;
  for (const auto& r : installed.value()) {
    const bool same = std::any_of(wanted.begin(), wanted.end(),
                                  [&r](const kernel::SteerRule& w) { return w.same_match(r); });
    if (!same || r.owner_pid == 0) continue;
    owners += (owners.empty() ? "" : ", ") + owner_text(owner_of(r.owner_pid));
  }
  if (owners.empty()) return {};
  return "; rules of that match belong to processes (" + owners +
         "): a process removes its own when it stops, and a dead one's go at the next `steer add` or stack "
         "start";
}

int cmd_steer_del(const Command& cmd, std::ostream& out, std::ostream& err) {
  if (auto p = kernel::check_privileges(); !p) return fail(err, p.error());
  auto maps = kernel::open_pinned(cmd.iface);
  if (!maps) return fail(err, maps.error());
  std::size_t removed = 0;
  const std::vector<kernel::SteerRule> rules = rules_for(*cmd.ports, cmd.addr);
  for (const auto& rule : rules) {
    auto r = kernel::del_rule(maps->fds(), rule);
    if (r) {
      out << "deleted " << rule_text(rule) << " on " << cmd.iface << "\n";
      ++removed;
    } else if (r.error().code != ENOENT) {
      return fail(err, r.error());
    }
  }
  if (removed == 0) {
    std::string what = (cmd.addr ? addr_text(*cmd.addr) : std::string("any address")) + " port " +
                       std::to_string(cmd.ports->lo) +
                       (cmd.ports->hi != cmd.ports->lo ? "-" + std::to_string(cmd.ports->hi) : std::string());
    return fail(
        err, Error{ENOENT, "no permanent rule for " + what + " on '" + cmd.iface +
                               "' (see `xdptcp-ctl steer list`)" + process_rules_note(maps->fds(), rules)});
  }
  return kExitOk;
}

int cmd_steer_list(const Command& cmd, std::ostream& out, std::ostream& err) {
  auto maps = kernel::open_pinned(cmd.iface);
  if (!maps) return fail(err, maps.error());
  auto rules = kernel::list_rules(maps->fds());
  if (!rules) return fail(err, rules.error());
  if (cmd.json) {
    json arr = json::array();
    for (const auto& r : rules.value()) arr.push_back(rule_json(r));
    out << json{{"iface", cmd.iface}, {"rules", arr}}.dump(2) << "\n";
    return kExitOk;
  }
  if (rules->empty()) out << "no rules on " << cmd.iface << "\n";
  for (const auto& r : rules.value()) out << rule_text(r) << "\n";
  return kExitOk;
}

std::int64_t monotonic_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// The steering program's counters and every process's stats region; with `clean`, stale regions
// (and temporary files of processes that died making theirs) are removed. *xdp_error: why the
// program's counters are missing.
StatsSample take_sample(const std::string& iface, bool clean, std::optional<Error>* xdp_error) {
  StatsSample s;
  s.iface = iface;
  auto maps = kernel::open_pinned(iface);
  if (maps) {
    auto c = kernel::read_counters(maps->fds());
    if (c) {
      s.xdp = c.value();
    } else {
      *xdp_error = c.error();
    }
  } else {
    *xdp_error = maps.error();
  }
  if (*xdp_error)
    s.xdp_error = (*xdp_error)->code == ENOENT ? (*xdp_error)->message : (*xdp_error)->describe();
  s.regions = engine::list_stats_regions(iface);
  if (clean) {
    for (const auto& r : s.regions.regions) {
      if (!r.stale()) continue;
      if (auto rm = engine::remove_stale_region(r.path)) {
        s.removed.push_back(r.path);
      } else {
        s.clean_errors.push_back(rm.error().describe());
      }
    }
    for (const auto& t : s.regions.dead_temporaries) {
      if (::unlink(t.c_str()) == 0 || errno == ENOENT) {
        s.removed.push_back(t);
      } else {
        s.clean_errors.push_back(t + ": " + std::strerror(errno));
      }
    }
    if (!s.removed.empty()) engine::remove_empty_stats_dir(engine::stats_dir(iface));
  }
  s.monotonic_ns = monotonic_ns();
  return s;
}

int cmd_stats(const Command& cmd, std::ostream& out, std::ostream& err) {
  std::optional<Error> xdp_error;
  StatsSample s = take_sample(cmd.iface, cmd.clean, &xdp_error);
  // Without the program's counters and without any region there is nothing to show: fail as
  // before regions existed (exit 4, "not attached").
  if (xdp_error && s.regions.regions.empty() && s.regions.dead_temporaries.empty() &&
      s.regions.unreadable.empty()) {
    return fail(err, *xdp_error);
  }
  if (cmd.watch_s <= 0) {
    if (cmd.json) {
      out << stats_json(s).dump(2) << "\n";
    } else if (cmd.prometheus) {
      print_prometheus(out, s);
    } else {
      print_stats_text(out, s);
    }
    return s.clean_errors.empty() ? kExitOk : kExitOther;
  }
  // --watch: rates over each interval, from samples taken on a fixed schedule (no drift).
  using Clock = std::chrono::steady_clock;
  const auto period = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(cmd.watch_s));
  auto taken = Clock::now();
  auto next = taken;
  for (unsigned k = 0; cmd.count == 0 || k < cmd.count; ++k) {
    next += period;
    std::this_thread::sleep_until(next);
    std::optional<Error> e;
    StatsSample t = take_sample(cmd.iface, false, &e);
    const auto now = Clock::now();
    const double seconds = std::chrono::duration<double>(now - taken).count();
    if (cmd.json) {
      out << rates_json(s, t, seconds).dump() << "\n";  // one line per interval
    } else {
      if (k > 0) out << "\n";
      print_rates_text(out, s, t, seconds);
    }
    out.flush();
    s = std::move(t);
    taken = now;
  }
  return kExitOk;
}

// Every engine of every live process on the interface asked for its connections at once
// (userstack/engine/conn_snapshot.h); what did not answer is said on stderr and in the exit code.
int cmd_ss(const Command& cmd, std::ostream& out, std::ostream& err) {
  if (::if_nametoindex(cmd.iface.c_str()) == 0) {
    return fail(err, Error{ENODEV, "no interface named '" + cmd.iface + "'"});
  }
  engine::ConnQuery q;
  q.timeout = std::chrono::milliseconds(static_cast<std::int64_t>(cmd.timeout_s * 1000));
  const engine::ConnListing l = engine::query_connections(cmd.iface, q);
  const SsView v{.iface = cmd.iface, .states = cmd.states, .info = cmd.info};
  if (cmd.json) {
    out << ss_json(l, v).dump(2) << "\n";
  } else {
    print_ss_text(out, l, v);
  }
  for (const std::string& w : ss_warnings(l, cmd.timeout_s)) err << "xdptcp-ctl: " << w << "\n";
  bool denied = false;
  for (const auto& p : l.processes) denied = denied || p.error_code == EACCES || p.error_code == EPERM;
  if (denied) {
    err << "xdptcp-ctl: ss writes its request into each process's stats region: run as root (or as the "
           "process's user)\n";
    return kExitPermission;
  }
  return l.complete() ? kExitOk : kExitOther;
}

}  // namespace

int run(const Command& cmd, std::ostream& out, std::ostream& err) {
  switch (cmd.verb) {
    case Verb::kAttach:
      return cmd_attach(cmd, out, err);
    case Verb::kDetach:
      return cmd_detach(cmd, out, err);
    case Verb::kStatus:
      return cmd_status(cmd, out, err);
    case Verb::kSteerAdd:
      return cmd_steer_add(cmd, out, err);
    case Verb::kSteerDel:
      return cmd_steer_del(cmd, out, err);
    case Verb::kSteerList:
      return cmd_steer_list(cmd, out, err);
    case Verb::kStats:
      return cmd_stats(cmd, out, err);
    case Verb::kSs:
      return cmd_ss(cmd, out, err);
    case Verb::kCapture:
      return cmd_capture(cmd, err);
  }
  return kExitOther;
}

}  // namespace xdptcp::ctl
