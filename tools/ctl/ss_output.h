// `xdptcp-ctl ss`: how the connection snapshots of every process's engines
// (userstack/engine/conn_snapshot.h) are printed: ss -tn's table, ss -ti's TCP_INFO line with
// --info, and JSON. Kept apart from the asking so that tests/unit/ctl can check it without root.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "userstack/engine/conn_snapshot.h"

namespace xdptcp::ctl {

struct SsView {
  std::string iface;
  std::uint32_t states = 0;  // args.h state_bit()s; 0: every state
  bool info = false;
};

// The sockets shown, in order: listeners first, then by local address and port, peer address and
// port, pid and engine.
struct SsRow {
  const engine::ProcessConns* process = nullptr;
  const engine::EngineConns* engine = nullptr;
  const engine::ConnRecord* conn = nullptr;
};
std::vector<SsRow> ss_rows(const engine::ConnListing& l, std::uint32_t states);

// "198.18.0.1:80", "[fd00::1]:80"; a listener's peer "0.0.0.0:*" / "[::]:*".
std::string ss_endpoint(const engine::ConnRecord& c, bool local);
// ss -i's line for one socket (without ss's leading tab): "ts sack cubic wscale:7,7 rto:204 ...".
std::string ss_info_text(const engine::ConnRecord& c);

nlohmann::json ss_json(const engine::ConnListing& l, const SsView& v);
void print_ss_text(std::ostream& out, const engine::ConnListing& l, const SsView& v);
// What the operator should know about the listing (for stderr): processes that could not be
// asked, engines that did not answer in time, snapshots that did not hold every TCB.
std::vector<std::string> ss_warnings(const engine::ConnListing& l, double timeout_s);

}  // namespace xdptcp::ctl
