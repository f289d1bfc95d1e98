// Printing `xdptcp-ctl stats` (see stats_output.h and docs/xdptcp-ctl.md).
#include "tools/ctl/stats_output.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <map>
#include <sstream>
#include <utility>

namespace xdptcp::ctl {
namespace {

using engine::RegionSnapshot;
using nlohmann::json;

// What every counter means. The writer's names table is the authority on which counters exist;
// this only explains them (and gives Prometheus its HELP lines).
constexpr std::pair<std::string_view, std::string_view> kHelp[] = {
    {"engine.iterations", "Iterations of the engine's loop (polls)."},
    {"engine.rx_frames", "Frames the engine received from its AF_XDP socket(s)."},
    {"engine.rx_not_ip", "Received frames that were not IPv4 or IPv6."},
    {"engine.rx_bad_ethernet", "Received frames whose Ethernet header did not parse."},
    {"engine.tx_frames", "Frames the engine transmitted."},
    {"engine.tx_no_neighbor", "Segments not sent: no MAC known for the next hop (TCP retransmits)."},
    {"engine.resolver_failures", "Connects failed with EHOSTUNREACH: the next hop did not resolve."},
    {"engine.l2_pending_full", "Connects failed with ENOBUFS: too many next hops resolving at once."},
    {"engine.l2_resolved", "Next hops that resolved while connections waited."},
    {"engine.l2_held", "Segments held while their next hop resolved."},
    {"engine.l2_held_sent", "Held segments sent once their next hop resolved."},
    {"engine.l2_held_drops", "Held segments dropped (queue full, too big, no TX frame, failed)."},
    {"engine.handoffs_out", "Segments handed to the engine that owns their flow."},
    {"engine.handoffs_in", "Segments received from other engines."},
    {"engine.handoff_drops", "Segments dropped because the owner's hand-off ring was full."},
    {"engine.sleeps", "Times the engine slept waiting for frames or timers."},
    {"engine.flow_directory_full", "Flows the stack's flow directory had no room for (not handed off)."},
    {"engine.capture_frames", "Frames copied into the capture ring for xdptcp-ctl capture."},
    {"engine.capture_lost", "Frames xdptcp-ctl capture lost: the capture ring was full."},
    {"io.rx_frames", "Frames the AF_XDP RX ring(s) delivered."},
    {"io.tx_frames", "Frames submitted to the AF_XDP TX ring(s)."},
    {"io.tx_no_buffer", "Transmit attempts that found no free frame or ring slot."},
    {"io.kicks", "sendto() wake-ups of the kernel's transmit path."},
    {"io.fill_wakeups", "Wake-ups of the kernel for the FILL ring."},
    {"io.rx_dropped", "Kernel: frames dropped for lack of space (XDP_STATISTICS rx_dropped)."},
    {"io.rx_invalid", "Kernel: invalid RX descriptors."},
    {"io.rx_fill_empty", "Kernel: times the FILL ring was empty when a frame arrived."},
    {"io.rx_ring_full", "Kernel: frames dropped because the RX ring was full."},
    {"io.tx_invalid", "Kernel: invalid TX descriptors."},
    {"tcp.segments_in", "TCP segments received."},
    {"tcp.segments_out", "TCP segments sent."},
    {"tcp.data_bytes_in", "Payload bytes delivered in order to receive buffers."},
    {"tcp.data_bytes_out", "Payload bytes sent, retransmissions included."},
    {"tcp.retransmits", "Segments sent again (any cause)."},
    {"tcp.fast_retransmits", "Entries into fast recovery."},
    {"tcp.sack_recoveries", "Fast recoveries driven by SACK (RFC 6675)."},
    {"tcp.rtos", "Retransmission timer expirations."},
    {"tcp.tlp_probes", "Tail loss probes sent (RFC 8985)."},
    {"tcp.tlp_recoveries", "Losses repaired by a tail loss probe."},
    {"tcp.rack_reo_timeouts", "RACK reordering timer expirations."},
    {"tcp.rescue_retransmits", "RFC 6675 rescue retransmissions."},
    {"tcp.dsacks_out", "ACKs sent with a D-SACK block (RFC 2883)."},
    {"tcp.dsacks_in", "D-SACK blocks received."},
    {"tcp.spurious_undos", "Congestion window reductions undone as spurious (D-SACK, Eifel)."},
    {"tcp.persist_probes", "Zero-window probes sent."},
    {"tcp.keepalive_probes", "Keepalive probes sent."},
    {"tcp.delayed_acks", "ACKs sent by the delayed-ACK timer."},
    {"tcp.challenge_acks", "RFC 5961 challenge ACKs sent."},
    {"tcp.challenge_acks_limited", "Challenge ACKs suppressed by the RFC 5961 rate limits."},
    {"tcp.challenge_acks_socket_limited", "Challenge ACKs suppressed by the per-connection interval."},
    {"tcp.rsts_out", "RSTs sent."},
    {"tcp.rsts_in", "Acceptable RSTs received that reset a connection."},
    {"tcp.cookies_sent", "SYN cookies sent."},
    {"tcp.cookies_accepted", "Connections established from a valid SYN cookie."},
    {"tcp.conns_opened", "Active opens that reached ESTABLISHED."},
    {"tcp.conns_accepted", "Passive opens that reached ESTABLISHED."},
    {"tcp.conns_reset", "Connections ended by a RST received or sent."},
    {"tcp.conns_timed_out", "Connections ended with ETIMEDOUT."},
    {"tcp.conns_refused", "Active opens answered with RST (ECONNREFUSED)."},
    {"tcp.time_wait_recycled", "TIME-WAIT connections ended early because the connection table was full."},
    {"tcp.time_wait_reused", "TIME-WAIT connections taken over by a new SYN."},
    {"tcp.port_filter_fallbacks", "Active opens that found no source port hashing to their queue."},
    {"tcp.tx_buffer_unavailable", "Sends deferred because no transmit buffer was free."},
    {"tcp.tx_oversize", "Segments not sent: larger than the MTU or the transmit buffer."},
    {"tcp.mem_pressure_clamped",
     "Connections opened with 16 KiB buffers: buffer memory above 3/4 of its budget."},
    {"drop.malformed", "IP or TCP header did not parse."},
    {"drop.bad_checksum", "TCP checksum wrong."},
    {"drop.not_ours", "Destination address not one of ours, or not TCP."},
    {"drop.bad_options", "Malformed TCP option list."},
    {"drop.out_of_window", "Failed the acceptability test (an ACK was sent)."},
    {"drop.paws_reject", "PAWS: old timestamp."},
    {"drop.backlog_full", "Listener's accept queue full."},
    {"drop.syn_backlog_full", "SYN-RECEIVED table full and SYN cookies off."},
    {"drop.reassembly_full", "Out-of-order range could not be recorded."},
    {"drop.no_socket", "No connection or listener (answered with RST)."},
    {"drop.rst_no_socket", "A RST for no connection."},
    {"drop.bad_ack", "ACK outside the acceptable range (challenge ACK sent)."},
    {"drop.rst_out_of_window", "RST with a sequence number outside the window."},
    {"drop.rst_challenged", "RST in the window but not exact (challenge ACK sent)."},
    {"drop.syn_challenged", "SYN in a synchronized state (challenge ACK sent)."},
    {"drop.no_ack", "Segment without ACK in a synchronized state."},
    {"drop.bad_cookie", "ACK to a listener that was not a valid SYN cookie."},
    {"drop.no_tcb", "Connection table exhausted."},
    {"drop.state_drop", "Not meaningful in the connection's state."},
    {"drop.bad_flags", "Flags no valid segment has in its state."},
    {"drop.sibling_flow", "No connection here, on a port another process serves from other RX queues."},
    {"drop.handoff_ring_full",
     "The engine that owns the flow could not take it: its hand-off ring was full."},
    {"drop.mem_refused", "New connections refused: buffer memory above 7/8 of its budget."},
    {"drop.mem_full", "Data dropped (as outside the window): the buffer memory budget is used up."},
};

// The rows of the text table, each the sum of some region counters.
struct Row {
  std::string_view label;
  std::array<std::string_view, 3> names;
};
constexpr Row kRows[] = {
    {"rx_frames", {"engine.rx_frames"}},
    {"tx_frames", {"engine.tx_frames"}},
    {"segments_in", {"tcp.segments_in"}},
    {"segments_out", {"tcp.segments_out"}},
    {"conns_accepted", {"tcp.conns_accepted"}},
    {"conns_opened", {"tcp.conns_opened"}},
    {"conns_reset", {"tcp.conns_reset"}},
    {"conns_timed_out", {"tcp.conns_timed_out"}},
    {"conns_refused", {"tcp.conns_refused"}},
    {"retransmits", {"tcp.retransmits"}},
    {"handoffs_in", {"engine.handoffs_in"}},
    {"handoffs_out", {"engine.handoffs_out"}},
    {"kernel_rx_drops", {"io.rx_dropped", "io.rx_ring_full", "io.rx_invalid"}},
    {"polls", {"engine.iterations"}},
    {"sleeps", {"engine.sleeps"}},
    {"kicks", {"io.kicks"}},
};

constexpr std::string_view kDropPrefix = "drop.";

// "engine.rx_frames" -> {"engine", "rx_frames"}; the drop group's JSON key is "drops".
std::pair<std::string, std::string> split(std::string_view name) {
  const std::size_t dot = name.find('.');
  if (dot == std::string_view::npos) return {"other", std::string(name)};
  std::string g(name.substr(0, dot));
  if (g == "drop") g = "drops";
  return {g, std::string(name.substr(dot + 1))};
}

std::optional<std::size_t> index_of(const RegionSnapshot& r, std::string_view name) {
  for (std::size_t i = 0; i < r.names.size(); ++i) {
    if (r.names[i] == name) return i;
  }
  return std::nullopt;
}

std::uint64_t value(const RegionSnapshot& r, const RegionSnapshot::Engine& e, std::string_view name) {
  const auto i = index_of(r, name);
  return i && *i < e.values.size() ? e.values[*i] : 0;
}

// The engines' counters summed (for a process's total).
RegionSnapshot::Engine total_of(const RegionSnapshot& r) {
  RegionSnapshot::Engine t;
  t.values.assign(r.names.size(), 0);
  for (const auto& e : r.engines) {
    for (std::size_t i = 0; i < t.values.size() && i < e.values.size(); ++i) t.values[i] += e.values[i];
  }
  return t;
}

template <typename V>
json groups_json(const std::vector<std::string>& names, const std::vector<V>& values) {
  json g = json::object();
  for (std::size_t i = 0; i < names.size() && i < values.size(); ++i) {
    auto [group, counter] = split(names[i]);
    g[group][counter] = values[i];
  }
  return g;
}

bool is_removed(const StatsSample& s, const std::string& path) {
  return std::find(s.removed.begin(), s.removed.end(), path) != s.removed.end();
}

std::string queues_text(const std::vector<unsigned>& q, const char* sep) {
  std::string t;
  for (const unsigned x : q) t += (t.empty() ? "" : sep) + std::to_string(x);
  return t.empty() ? "none" : t;
}

double age_ms(const StatsSample& s, const RegionSnapshot::Engine& e) {
  return static_cast<double>(s.monotonic_ns - static_cast<std::int64_t>(e.published_ns)) / 1e6;
}

json process_head_json(const StatsSample& s, const RegionSnapshot& r) {
  json queues = json::array();
  for (const unsigned q : r.queues) queues.push_back(q);
  return json{{"pid", r.pid},
              {"comm", r.comm},
              {"state", r.stale() ? "stale" : "live"},
              {"stale_reason", r.stale() ? std::string(engine::to_string(r.liveness)) : std::string()},
              {"removed", is_removed(s, r.path)},
              {"start_time", r.start_time},
              {"created_unix_ns", r.created_unix_ns},
              {"path", r.path},
              {"layout_version", r.version},
              {"queues", queues},
              {"engine_count", r.engines.size()}};
}

// A table: a label column and value columns (already formatted).
void print_table(std::ostream& out, const std::vector<std::string>& head,
                 const std::vector<std::pair<std::string, std::vector<std::string>>>& rows,
                 const char* indent) {
  std::size_t label_w = 16;
  for (const auto& [l, v] : rows) label_w = std::max(label_w, l.size() + 1);
  std::size_t col_w = 10;
  for (const auto& h : head) col_w = std::max(col_w, h.size() + 2);
  for (const auto& [l, v] : rows) {
    for (const auto& x : v) col_w = std::max(col_w, x.size() + 2);
  }
  out << indent << std::string(label_w, ' ');
  for (const auto& h : head) out << std::right << std::setw(static_cast<int>(col_w)) << h;
  out << "\n";
  for (const auto& [l, v] : rows) {
    out << indent << std::left << std::setw(static_cast<int>(label_w)) << l;
    for (const auto& x : v) out << std::right << std::setw(static_cast<int>(col_w)) << x;
    out << "\n";
  }
  out << std::left;
}

std::string fmt_rate(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", v);
  return b;
}

std::string process_line(const StatsSample& s, const RegionSnapshot& r) {
  std::string t = "pid " + std::to_string(r.pid) + " " + (r.comm.empty() ? "?" : r.comm) + ": ";
  if (r.stale()) {
    t += std::string("STALE (") +
         (r.liveness == engine::Liveness::kDead ? "the process is gone" : "the pid is another process now") +
         "), " + r.path;
    t += is_removed(s, r.path) ? ", removed"
                               : "; `xdptcp-ctl stats --iface " + s.iface + " --clean` removes it";
    t += "; last published counters:";
  } else {
    t += "live, " + std::to_string(r.engines.size()) +
         (r.engines.size() == 1 ? " engine, queue" : " engines, queue") +
         (r.queues.size() == 1 ? " " : "s ") + queues_text(r.queues, ",");
  }
  return t;
}

// The table of one process: the summary rows and the non-zero drops, one column per engine and a
// total when there are several. `cell` formats an engine's (or the total's) value for a row.
template <typename Cell, typename NonZero>
void print_process_table(std::ostream& out, const RegionSnapshot& r, Cell cell, NonZero nonzero) {
  std::vector<std::string> head;
  for (const auto& e : r.engines) head.push_back("engine " + std::to_string(e.id));
  const bool with_total = r.engines.size() > 1;
  if (with_total) head.emplace_back("total");
  std::vector<std::pair<std::string, std::vector<std::string>>> rows;
  auto add = [&](std::string label, const std::vector<std::string_view>& names) {
    std::vector<std::string> v;
    for (std::size_t k = 0; k < r.engines.size(); ++k) v.push_back(cell(k, names));
    if (with_total) v.push_back(cell(r.engines.size(), names));
    rows.emplace_back(std::move(label), std::move(v));
  };
  for (const Row& row : kRows) {
    std::vector<std::string_view> names;
    for (const auto n : row.names) {
      if (!n.empty()) names.push_back(n);
    }
    add(std::string(row.label), names);
  }
  // Packet capture's counters once a capture has run (xdptcp-ctl capture).
  for (const std::string_view n : {"engine.capture_frames", "engine.capture_lost"}) {
    if (std::find(r.names.begin(), r.names.end(), n) != r.names.end() && nonzero(std::string(n)))
      add(std::string(n.substr(n.find('.') + 1)), {n});
  }
  for (const auto& n : r.names) {
    if (!n.starts_with(kDropPrefix) || !nonzero(n)) continue;
    add("drop " + n.substr(kDropPrefix.size()), {n});
  }
  print_table(out, head, rows, "    ");
  for (const auto& e : r.engines) {
    if (!e.consistent) out << "    (engine " << e.id << ": no consistent copy; its writer was mid-publish)\n";
    if (e.capture_active)
      out << "    (engine " << e.id << ": capturing for xdptcp-ctl pid " << e.capture_owner << ")\n";
  }
}

std::string escape_label(std::string_view v) {
  std::string o;
  for (const char c : v) {
    if (c == '\\' || c == '"') {
      o += '\\';
      o += c;
    } else if (c == '\n') {
      o += "\\n";
    } else {
      o += c;
    }
  }
  return o;
}

std::string metric_safe(std::string_view n) {
  std::string o;
  for (const char c : n) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    o += ok ? c : '_';
  }
  return o;
}

// The Prometheus family of a region counter: engine and tcp counters are per-engine counters of one
// namespace (xdptcp_engine_segments_in_total), the AF_XDP ones say io, drops are one family.
std::string family_of(std::string_view name) {
  const auto [group, counter] = split(name);
  if (group == "drops") return "xdptcp_tcp_drops_total";
  if (group == "engine" || group == "tcp") return "xdptcp_engine_" + metric_safe(counter) + "_total";
  return "xdptcp_engine_" + metric_safe(group) + "_" + metric_safe(counter) + "_total";
}

void family_head(std::ostream& out, const std::string& name, std::string_view help, const char* type) {
  out << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
}

// Matches a process of `before` to one of `after`.
const RegionSnapshot* find_region(const StatsSample& s, const RegionSnapshot& r) {
  for (const auto& x : s.regions.regions) {
    if (x.pid == r.pid && x.start_time == r.start_time && x.path == r.path) return &x;
  }
  return nullptr;
}

double rate(std::uint64_t a, std::uint64_t b, double seconds) {
  return b >= a && seconds > 0 ? static_cast<double>(b - a) / seconds : 0.0;
}

}  // namespace

// The XDP program's counters, in the order of `enum xdptcp_counter`.
std::vector<std::pair<const char*, std::uint64_t>> xdp_rows(const kernel::SteerCounters& c) {
  return {{"seen", c.seen},
          {"redirected", c.redirected},
          {"pass_not_ours", c.pass_not_ours},
          {"pass_no_socket", c.pass_no_socket},
          {"malformed", c.malformed},
          {"pass_kernel_flow", c.pass_kernel_flow},
          {"pass_other_owner", c.pass_other_owner},
          {"pass_draining", c.pass_draining}};
}

std::string_view counter_help(std::string_view name) {
  for (const auto& [n, h] : kHelp) {
    if (n == name) return h;
  }
  return {};
}

json stats_json(const StatsSample& s) {
  json j{{"iface", s.iface}};
  if (s.xdp) {
    json c = json::object();
    for (const auto& [n, v] : xdp_rows(*s.xdp)) c[n] = v;
    j["counters"] = c;
  } else {
    j["counters"] = nullptr;
    j["xdp_error"] = s.xdp_error;
  }
  json procs = json::array();
  for (const auto& r : s.regions.regions) {
    json p = process_head_json(s, r);
    json engines = json::array();
    for (const auto& e : r.engines) {
      json ej = groups_json(r.names, e.values);
      ej["id"] = e.id;
      ej["publishes"] = e.publishes;
      ej["published_ns"] = e.published_ns;
      ej["age_ms"] = std::round(age_ms(s, e) * 10) / 10;
      ej["consistent"] = e.consistent;
      ej["capture_active"] = e.capture_active;
      ej["capture_owner"] = e.capture_owner != 0 ? json(e.capture_owner) : json(nullptr);
      engines.push_back(std::move(ej));
    }
    p["engines"] = std::move(engines);
    p["total"] = groups_json(r.names, total_of(r).values);
    procs.push_back(std::move(p));
  }
  j["processes"] = std::move(procs);
  json unreadable = json::array();
  for (const auto& u : s.regions.unreadable)
    unreadable.push_back({{"path", u.path}, {"error", u.error.describe()}});
  j["unreadable"] = std::move(unreadable);
  j["removed"] = s.removed;
  return j;
}

void print_stats_text(std::ostream& out, const StatsSample& s) {
  out << s.iface << ":\n";
  if (s.xdp) {
    for (const auto& [name, v] : xdp_rows(*s.xdp))
      out << "  " << std::left << std::setw(17) << name << v << "\n";
  } else {
    out << "  steering program: " << s.xdp_error << "\n";
  }
  const auto& regions = s.regions.regions;
  if (regions.empty()) {
    out << "  no process runs xdptcp engines on " << s.iface << "\n";
  }
  for (const auto& r : regions) {
    out << "  " << process_line(s, r) << "\n";
    const RegionSnapshot::Engine total = total_of(r);
    auto engine_at = [&](std::size_t k) -> const RegionSnapshot::Engine& {
      return k < r.engines.size() ? r.engines[k] : total;
    };
    print_process_table(
        out, r,
        [&](std::size_t k, const std::vector<std::string_view>& names) {
          std::uint64_t v = 0;
          for (const auto n : names) v += value(r, engine_at(k), n);
          return std::to_string(v);
        },
        [&](const std::string& n) { return value(r, total, n) != 0; });
  }
  for (const auto& u : s.regions.unreadable) out << "  unreadable: " << u.error.describe() << "\n";
  for (const auto& t : s.regions.dead_temporaries) {
    if (!is_removed(s, t)) out << "  left-over temporary file of a dead process: " << t << "\n";
  }
  for (const auto& f : s.removed) out << "  removed " << f << "\n";
  for (const auto& e : s.clean_errors) out << "  not removed: " << e << "\n";
}

void print_prometheus(std::ostream& out, const StatsSample& s) {
  const std::string iface = "iface=\"" + escape_label(s.iface) + "\"";
  if (s.xdp) {
    const auto rows = xdp_rows(*s.xdp);
    family_head(out, "xdptcp_xdp_seen_total", "Packets the XDP steering program looked at.", "counter");
    out << "xdptcp_xdp_seen_total{" << iface << "} " << rows[0].second << "\n";
    family_head(
        out, "xdptcp_xdp_packets_total",
        "Packets by the XDP steering program's verdict (redirected to AF_XDP, or passed to the kernel "
        "and why).",
        "counter");
    for (std::size_t i = 1; i < rows.size(); ++i) {
      out << "xdptcp_xdp_packets_total{" << iface << ",verdict=\"" << rows[i].first << "\"} "
          << rows[i].second << "\n";
    }
  }
  std::size_t live = 0;
  for (const auto& r : s.regions.regions) live += r.stale() ? 0 : 1;
  family_head(out, "xdptcp_stats_regions", "Stats regions of processes on the interface, by state.", "gauge");
  out << "xdptcp_stats_regions{" << iface << ",state=\"live\"} " << live << "\n";
  out << "xdptcp_stats_regions{" << iface << ",state=\"stale\"} " << s.regions.regions.size() - live << "\n";

  // Live processes only: a dead process's counters would keep its series alive.
  std::vector<const RegionSnapshot*> regions;
  for (const auto& r : s.regions.regions) {
    if (!r.stale()) regions.push_back(&r);
  }
  if (regions.empty()) return;
  family_head(out, "xdptcp_process_info", "A process running xdptcp engines on the interface (always 1).",
              "gauge");
  for (const auto* r : regions) {
    out << "xdptcp_process_info{" << iface << ",pid=\"" << r->pid << "\",comm=\"" << escape_label(r->comm)
        << "\",queues=\"" << queues_text(r->queues, ",") << "\",engines=\"" << r->engines.size() << "\"} 1\n";
  }
  family_head(out, "xdptcp_engine_publish_age_seconds",
              "Seconds since the engine last published its counters (about every 0.1 s while it runs).",
              "gauge");
  for (const auto* r : regions) {
    for (const auto& e : r->engines) {
      char v[32];
      std::snprintf(v, sizeof v, "%.3f", std::max(0.0, age_ms(s, e) / 1000));
      out << "xdptcp_engine_publish_age_seconds{" << iface << ",pid=\"" << r->pid << "\",engine=\"" << e.id
          << "\"} " << v << "\n";
    }
  }
  // Every counter name of every live region, in the first one's order (a newer writer's extra
  // counters after): each family's samples must come together.
  std::vector<std::string> names;
  for (const auto* r : regions) {
    for (const auto& n : r->names) {
      if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
    }
  }
  bool drops_done = false;
  for (const auto& n : names) {
    const bool drop = n.starts_with(kDropPrefix);
    if (drop && drops_done) continue;
    const std::string family = family_of(n);
    if (drop) {
      drops_done = true;
      family_head(out, family, "TCP segments dropped, by reason (docs/xdptcp-ctl.md).", "counter");
    } else {
      const std::string_view help = counter_help(n);
      family_head(out, family, help.empty() ? "xdptcp counter " + n : std::string(help), "counter");
    }
    for (const auto* r : regions) {
      for (const auto& e : r->engines) {
        const std::string labels =
            iface + ",pid=\"" + std::to_string(r->pid) + "\",engine=\"" + std::to_string(e.id) + "\"";
        if (!drop) {
          if (index_of(*r, n)) out << family << "{" << labels << "} " << value(*r, e, n) << "\n";
          continue;
        }
        for (const auto& d : r->names) {
          if (!d.starts_with(kDropPrefix)) continue;
          out << family << "{" << labels << ",reason=\"" << escape_label(d.substr(kDropPrefix.size()))
              << "\"} " << value(*r, e, d) << "\n";
        }
      }
    }
  }
}

json rates_json(const StatsSample& before, const StatsSample& after, double seconds) {
  json j{{"iface", after.iface}, {"interval_s", seconds}};
  if (before.xdp && after.xdp) {
    json c = json::object();
    const auto a = xdp_rows(*before.xdp);
    const auto b = xdp_rows(*after.xdp);
    for (std::size_t i = 0; i < a.size(); ++i) c[a[i].first] = rate(a[i].second, b[i].second, seconds);
    j["counters"] = c;
  } else {
    j["counters"] = nullptr;
  }
  json procs = json::array();
  for (const auto& r : after.regions.regions) {
    const RegionSnapshot* p = find_region(before, r);
    if (p == nullptr || p->names != r.names) continue;  // new in this interval: no rate yet
    json pj = process_head_json(after, r);
    json engines = json::array();
    auto rates = [&](const RegionSnapshot::Engine& e0, const RegionSnapshot::Engine& e1) {
      std::vector<double> v(r.names.size());
      for (std::size_t i = 0; i < v.size() && i < e0.values.size() && i < e1.values.size(); ++i)
        v[i] = rate(e0.values[i], e1.values[i], seconds);
      return v;
    };
    for (std::size_t k = 0; k < r.engines.size() && k < p->engines.size(); ++k) {
      json ej = groups_json(r.names, rates(p->engines[k], r.engines[k]));
      ej["id"] = r.engines[k].id;
      engines.push_back(std::move(ej));
    }
    pj["engines"] = std::move(engines);
    pj["total"] = groups_json(r.names, rates(total_of(*p), total_of(r)));
    procs.push_back(std::move(pj));
  }
  j["processes"] = std::move(procs);
  return j;
}

void print_rates_text(std::ostream& out, const StatsSample& before, const StatsSample& after,
                      double seconds) {
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.1f", seconds);
  out << after.iface << ": per second over the last " << secs << " s\n";
  if (before.xdp && after.xdp) {
    const auto a = xdp_rows(*before.xdp);
    const auto b = xdp_rows(*after.xdp);
    for (std::size_t i = 0; i < a.size(); ++i) {
      out << "  " << std::left << std::setw(17) << a[i].first
          << fmt_rate(rate(a[i].second, b[i].second, seconds)) << "\n";
    }
  } else {
    out << "  steering program: " << after.xdp_error << "\n";
  }
  for (const auto& r : after.regions.regions) {
    const RegionSnapshot* p = find_region(before, r);
    if (p == nullptr || p->names != r.names || p->engines.size() != r.engines.size()) {
      out << "  " << process_line(after, r) << " (new: rates from the next interval)\n";
      continue;
    }
    out << "  " << process_line(after, r) << "\n";
    const RegionSnapshot::Engine t0 = total_of(*p);
    const RegionSnapshot::Engine t1 = total_of(r);
    auto pair_at =
        [&](std::size_t k) -> std::pair<const RegionSnapshot::Engine*, const RegionSnapshot::Engine*> {
      if (k < r.engines.size()) return {&p->engines[k], &r.engines[k]};
      return {&t0, &t1};
    };
    print_process_table(
        out, r,
        [&](std::size_t k, const std::vector<std::string_view>& names) {
          const auto [e0, e1] = pair_at(k);
          double v = 0;
          for (const auto n : names) v += rate(value(*p, *e0, n), value(r, *e1, n), seconds);
          return fmt_rate(v);
        },
        [&](const std::string& n) { return value(r, t1, n) != value(*p, t0, n); });
  }
  out.flush();
}

std::string regions_summary(const engine::RegionListing& l, const std::string& iface) {
  if (l.regions.empty() && l.dead_temporaries.empty()) return {};
  std::string live;
  std::string stale;
  std::size_t nl = 0;
  std::size_t ns = 0;
  for (const auto& r : l.regions) {
    const std::string who = "pid " + std::to_string(r.pid) + " " + (r.comm.empty() ? "?" : r.comm);
    if (r.stale()) {
      stale += (ns++ ? ", " : "") + who;
    } else {
      live += (nl++ ? ", " : "") + who;
    }
  }
  std::string t = std::to_string(nl) + " live" + (nl ? " (" + live + ")" : "");
  if (ns > 0 || !l.dead_temporaries.empty()) {
    t += ", " + std::to_string(ns) + " stale" + (ns ? " (" + stale + ")" : "");
    if (!l.dead_temporaries.empty())
      t += " and " + std::to_string(l.dead_temporaries.size()) + " left-over file(s)";
    t += ": `xdptcp-ctl stats --iface " + iface + " --clean` removes them";
  }
  return t;
}

json regions_status_json(const engine::RegionListing& l) {
  json a = json::array();
  for (const auto& r : l.regions) {
    a.push_back({{"pid", r.pid},
                 {"comm", r.comm},
                 {"state", r.stale() ? "stale" : "live"},
                 {"stale_reason", r.stale() ? std::string(engine::to_string(r.liveness)) : std::string()},
                 {"path", r.path}});
  }
  return a;
}

}  // namespace xdptcp::ctl
