// Printing `xdptcp-ctl ss` (see ss_output.h and docs/xdptcp-ctl.md).
#include "tools/ctl/ss_output.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <optional>
#include <sstream>
#include <tuple>

#include "tools/ctl/args.h"

namespace xdptcp::ctl {
namespace {

using engine::ConnEntry;
using engine::ConnRecord;
using nlohmann::json;
namespace L = engine::linux_tcp_state;

// TCPI_OPT_* and enum tcp_ca_state (userstack/tcp/tcp_info.h).
constexpr std::uint8_t kOptTimestamps = 1;
constexpr std::uint8_t kOptSack = 2;
constexpr std::uint8_t kOptWscale = 4;
constexpr std::uint32_t kInfiniteSsthresh = 0x7fffffff;

const char* ca_state_name(std::uint8_t s) {
  static constexpr std::array<const char*, 5> kNames = {"open", "disorder", "cwr", "recovery", "loss"};
  return s < kNames.size() ? kNames[s] : "unknown";
}

bool is_listener(const ConnRecord& c) {
  return c.raw.state == L::kListen;
}

// ss's %g of milliseconds from microseconds ("0.153").
std::string ms_text(std::uint32_t us) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", us / 1000.0);
  return buf;
}

// ss's send rate: what cwnd segments of mss bytes per smoothed RTT come to, in bits per second
// (iproute2 tcp_show_info: cwnd * snd_mss * 8e6 / rtt_us); none before an RTT sample.
std::optional<double> send_bps(const ConnEntry& e) {
  if (e.rtt_us == 0 || e.snd_cwnd == 0 || e.snd_mss == 0) return std::nullopt;
  return static_cast<double>(e.snd_cwnd) * e.snd_mss * 8e6 / e.rtt_us;
}

json endpoint_json(const std::string& address, std::uint16_t port) {
  return {{"address", address}, {"port", port}};
}

json info_json(const ConnRecord& c) {
  const ConnEntry& e = c.raw;
  auto ms_or_null = [](std::uint32_t us, bool known) { return known ? json(us / 1000.0) : json(nullptr); };
  const bool sampled = e.rtt_us > 0;
  json j;
  j["congestion_control"] = c.cc;
  j["ca_state"] = ca_state_name(e.ca_state);
  j["ts"] = (e.options & kOptTimestamps) != 0;
  j["sack"] = (e.options & kOptSack) != 0;
  j["wscale"] = (e.options & kOptWscale) != 0 ? json::array({e.snd_wscale, e.rcv_wscale}) : json(nullptr);
  j["rto_ms"] = e.rto_us / 1000.0;
  j["ato_ms"] = e.ato_us / 1000.0;
  j["rtt_ms"] = ms_or_null(e.rtt_us, sampled);
  j["rttvar_ms"] = ms_or_null(e.rttvar_us, sampled);
  j["min_rtt_ms"] = ms_or_null(e.min_rtt_us, sampled);
  j["mss"] = e.snd_mss;
  j["rcv_mss"] = e.rcv_mss;
  j["advmss"] = e.advmss;
  j["pmtu"] = e.pmtu;
  j["cwnd"] = e.snd_cwnd;
  // Unknown without a congestion control (a listener: cwnd 0) and before the first congestion event.
  j["ssthresh"] =
      e.snd_cwnd == 0 || e.snd_ssthresh >= kInfiniteSsthresh ? json(nullptr) : json(e.snd_ssthresh);
  j["retrans"] = e.retransmits;
  j["total_retrans"] = e.total_retrans;
  j["backoff"] = e.backoff;
  j["probes"] = e.probes;
  j["unacked"] = e.unacked;
  j["sacked"] = e.sacked;
  j["lost"] = e.lost;
  j["bytes_sent"] = e.bytes_sent;
  j["bytes_retrans"] = e.bytes_retrans;
  j["bytes_acked"] = e.bytes_acked;
  j["bytes_received"] = e.bytes_received;
  j["segs_out"] = e.segs_out;
  j["segs_in"] = e.segs_in;
  j["data_segs_out"] = e.data_segs_out;
  j["data_segs_in"] = e.data_segs_in;
  j["last_send_ms"] = e.last_data_sent_ms;
  j["last_recv_ms"] = e.last_data_recv_ms;
  j["last_ack_ms"] = e.last_ack_recv_ms;
  j["rcv_space"] = e.rcv_space;
  j["rcv_wnd"] = e.rcv_wnd;
  j["snd_wnd"] = e.snd_wnd;
  j["notsent_bytes"] = e.notsent_bytes;
  j["reordering"] = e.reordering;
  j["reord_seen"] = e.reord_seen != 0;
  const auto bps = send_bps(e);
  j["send_rate_bps"] = bps ? json(*bps) : json(nullptr);
  // The stack does not measure delivery rates (userstack/tcp/tcp_info.h): always null.
  j["delivery_rate_bps"] = nullptr;
  return j;
}

std::string process_text(const SsRow& r) {
  return "users:((\"" + r.process->comm + "\",pid=" + std::to_string(r.process->pid) +
         ",engine=" + std::to_string(r.engine->engine) + "))";
}

}  // namespace

std::vector<SsRow> ss_rows(const engine::ConnListing& l, std::uint32_t states) {
  std::vector<SsRow> rows;
  for (const auto& p : l.processes) {
    for (const auto& e : p.engines) {
      for (const auto& c : e.conns) {
        if (states != 0 && (c.raw.state > L::kMax || (states & state_bit(c.raw.state)) == 0)) continue;
        rows.push_back({&p, &e, &c});
      }
    }
  }
  auto key = [](const SsRow& r) {
    const ConnEntry& e = r.conn->raw;
    return std::make_tuple(!is_listener(*r.conn), e.family, e.local_addr, e.local_port, e.remote_addr,
                           e.remote_port, r.process->pid, r.engine->engine);
  };
  std::stable_sort(rows.begin(), rows.end(),
                   [&key](const SsRow& a, const SsRow& b) { return key(a) < key(b); });
  return rows;
}

std::string ss_endpoint(const ConnRecord& c, bool local) {
  const bool v6 = c.raw.family == 6;
  if (!local && is_listener(c)) return v6 ? "[::]:*" : "0.0.0.0:*";
  const std::string& a = local ? c.local_address : c.remote_address;
  const std::string port = std::to_string(local ? c.raw.local_port : c.raw.remote_port);
  return v6 ? "[" + a + "]:" + port : a + ":" + port;
}

std::string ss_info_text(const ConnRecord& c) {
  // iproute2's tcp_show_info(), field by field, in its order and with its conditions.
  const ConnEntry& e = c.raw;
  std::ostringstream o;
  auto add = [&o](const std::string& s) {
    if (o.tellp() > 0) o << ' ';
    o << s;
  };
  auto num = [](auto v) { return std::to_string(v); };
  if ((e.options & kOptTimestamps) != 0) add("ts");
  if ((e.options & kOptSack) != 0) add("sack");
  if (!c.cc.empty()) add(c.cc);
  if ((e.options & kOptWscale) != 0) add("wscale:" + num(e.snd_wscale) + "," + num(e.rcv_wscale));
  if (e.rto_us != 0 && e.rto_us != 3'000'000) add("rto:" + ms_text(e.rto_us));
  if (e.backoff != 0) add("backoff:" + num(e.backoff));
  if (e.rtt_us != 0) add("rtt:" + ms_text(e.rtt_us) + "/" + ms_text(e.rttvar_us));
  if (e.ato_us != 0) add("ato:" + ms_text(e.ato_us));
  if (e.snd_mss != 0) add("mss:" + num(e.snd_mss));
  if (e.pmtu != 0) add("pmtu:" + num(e.pmtu));
  if (e.rcv_mss != 0) add("rcvmss:" + num(e.rcv_mss));
  if (e.advmss != 0) add("advmss:" + num(e.advmss));
  if (e.snd_cwnd != 0) add("cwnd:" + num(e.snd_cwnd));
  if (e.snd_cwnd != 0 && e.snd_ssthresh < 0xFFFF) add("ssthresh:" + num(e.snd_ssthresh));
  if (e.bytes_sent != 0) add("bytes_sent:" + num(e.bytes_sent));
  if (e.bytes_retrans != 0) add("bytes_retrans:" + num(e.bytes_retrans));
  if (e.bytes_acked != 0) add("bytes_acked:" + num(e.bytes_acked));
  if (e.bytes_received != 0) add("bytes_received:" + num(e.bytes_received));
  if (e.segs_out != 0) add("segs_out:" + num(e.segs_out));
  if (e.segs_in != 0) add("segs_in:" + num(e.segs_in));
  if (e.data_segs_out != 0) add("data_segs_out:" + num(e.data_segs_out));
  if (e.data_segs_in != 0) add("data_segs_in:" + num(e.data_segs_in));
  if (const auto bps = send_bps(e)) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "send %.0fbps", *bps);  // ss -n prints the rate unscaled
    add(buf);
  }
  if (e.last_data_sent_ms != 0) add("lastsnd:" + num(e.last_data_sent_ms));
  if (e.last_data_recv_ms != 0) add("lastrcv:" + num(e.last_data_recv_ms));
  if (e.last_ack_recv_ms != 0) add("lastack:" + num(e.last_ack_recv_ms));
  if (e.unacked != 0) add("unacked:" + num(e.unacked));
  if (e.retransmits != 0 || e.total_retrans != 0)
    add("retrans:" + num(e.retransmits) + "/" + num(e.total_retrans));
  if (e.lost != 0) add("lost:" + num(e.lost));
  if (e.sacked != 0 && !is_listener(c)) add("sacked:" + num(e.sacked));
  if (e.reordering != 3) add("reordering:" + num(e.reordering));
  if (e.reord_seen != 0) add("reord_seen:" + num(e.reord_seen));
  if (e.rcv_space != 0) add("rcv_space:" + num(e.rcv_space));
  if (e.notsent_bytes != 0) add("notsent:" + num(e.notsent_bytes));
  if (e.min_rtt_us != 0) add("minrtt:" + ms_text(e.min_rtt_us));
  if (e.snd_wnd != 0) add("snd_wnd:" + num(e.snd_wnd));
  if (e.rcv_wnd != 0) add("rcv_wnd:" + num(e.rcv_wnd));
  return o.str();
}

json ss_json(const engine::ConnListing& l, const SsView& v) {
  json j;
  j["iface"] = v.iface;
  j["complete"] = l.complete();
  j["stale_regions"] = l.stale;
  json sockets = json::array();
  for (const SsRow& r : ss_rows(l, v.states)) {
    const ConnRecord& c = *r.conn;
    json s;
    s["state"] = c.state_name;
    s["recv_q"] = c.raw.recv_q;
    s["send_q"] = c.raw.send_q;
    s["family"] = c.raw.family == 6 ? "ipv6" : "ipv4";
    s["local"] = endpoint_json(c.local_address, c.raw.local_port);
    s["peer"] = is_listener(c) ? json(nullptr) : endpoint_json(c.remote_address, c.raw.remote_port);
    s["pid"] = r.process->pid;
    s["comm"] = r.process->comm;
    s["engine"] = r.engine->engine;
    s["app_socket"] = (c.raw.flags & engine::kConnAppSocket) != 0;
    s["orphan"] = (c.raw.flags & engine::kConnOrphan) != 0;
    if (v.info) s["info"] = info_json(c);
    sockets.push_back(std::move(s));
  }
  j["sockets"] = std::move(sockets);
  json procs = json::array();
  for (const auto& p : l.processes) {
    json pj;
    pj["pid"] = p.pid;
    pj["comm"] = p.comm;
    pj["region"] = p.path;
    pj["engine_count"] = p.engine_count;
    pj["snapshot_capacity"] = p.conn_capacity;
    pj["error"] = p.error.empty() ? json(nullptr) : json(p.error);
    json engines = json::array();
    for (const auto& e : p.engines) {
      engines.push_back({{"engine", e.engine},
                         {"answered", e.answered},
                         {"woken", e.rung},
                         {"wake_error", e.ring_error.empty() ? json(nullptr) : json(e.ring_error)},
                         {"wait_ms", e.wait_ms},
                         {"polls", e.polls},
                         {"sockets", e.conns.size()},
                         {"truncated", e.truncated}});
    }
    pj["engines"] = std::move(engines);
    procs.push_back(std::move(pj));
  }
  j["processes"] = std::move(procs);
  return j;
}

void print_ss_text(std::ostream& out, const engine::ConnListing& l, const SsView& v) {
  const std::vector<SsRow> rows = ss_rows(l, v.states);
  std::vector<std::array<std::string, 6>> cells;
  cells.push_back({"State", "Recv-Q", "Send-Q", "Local Address:Port", "Peer Address:Port", "Process"});
  for (const SsRow& r : rows) {
    const ConnRecord& c = *r.conn;
    cells.push_back({c.state_name, std::to_string(c.raw.recv_q), std::to_string(c.raw.send_q),
                     ss_endpoint(c, true), ss_endpoint(c, false), process_text(r)});
  }
  std::array<std::size_t, 6> width{};
  for (const auto& row : cells) {
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  for (std::size_t k = 0; k < cells.size(); ++k) {
    std::string line;
    for (std::size_t i = 0; i < cells[k].size(); ++i) {
      line += cells[k][i];
      if (i + 1 < cells[k].size()) line += std::string(width[i] - cells[k][i].size() + 2, ' ');
    }
    out << line << "\n";
    if (v.info && k > 0) out << "\t " << ss_info_text(*rows[k - 1].conn) << "\n";
  }
}

std::vector<std::string> ss_warnings(const engine::ConnListing& l, double timeout_s) {
  std::vector<std::string> w;
  char t[32];
  std::snprintf(t, sizeof t, "%g", timeout_s);
  for (const auto& p : l.processes) {
    const std::string who = "pid " + std::to_string(p.pid) + (p.comm.empty() ? "" : " (" + p.comm + ")");
    if (!p.error.empty()) {
      w.push_back(who + ": not asked: " + p.error);
      continue;
    }
    for (const auto& e : p.engines) {
      const std::string eng = who + " engine " + std::to_string(e.engine);
      if (!e.answered) {
        w.push_back(eng + " did not answer within " + std::string(t) + " s: its connections are missing" +
                    (e.ring_error.empty() ? "" : " (it could not be woken: " + e.ring_error + ")"));
      } else if (e.truncated > 0) {
        w.push_back(eng + ": " + std::to_string(e.truncated) + " more connections than its snapshot holds (" +
                    std::to_string(p.conn_capacity) + ") are not shown");
      }
    }
  }
  return w;
}

}  // namespace xdptcp::ctl
