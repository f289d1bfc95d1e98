// How `xdptcp-ctl ss` reads its command line and prints (tools/ctl/args.h, tools/ctl/ss_output.h),
// over listings built by hand (no root, no engine): ss's state filter names and groups, the ss -tn
// table (listeners first, IPv6 in brackets, a listener's peer as *), ss -ti's info line field by
// field, the JSON fields and their types, and the warnings for engines that did not answer.
#include "tools/ctl/ss_output.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <sstream>

#include "tools/ctl/args.h"

namespace xdptcp::ctl {
namespace {

using nlohmann::json;
namespace L = engine::linux_tcp_state;

engine::ConnRecord record(std::uint8_t state, const char* local, std::uint16_t lport, const char* remote,
                          std::uint16_t rport, bool v6 = false) {
  engine::ConnEntry e;
  e.family = v6 ? 6 : 4;
  e.state = state;
  e.local_port = lport;
  e.remote_port = rport;
  const int af = v6 ? AF_INET6 : AF_INET;
  EXPECT_EQ(::inet_pton(af, local, e.local_addr.data()), 1) << local;
  EXPECT_EQ(::inet_pton(af, remote, e.remote_addr.data()), 1) << remote;
  std::memcpy(e.cc.data(), "cubic", 5);
  e.snd_ssthresh = 0x7fffffff;
  e.reordering = 3;
  return engine::decode(e);
}

// Two processes: an echo server with two engines (a listener each, connections on both) and a
// redis-server with one engine that did not answer.
engine::ConnListing listing() {
  engine::ConnListing l;
  engine::ProcessConns echo;
  echo.pid = 4242;
  echo.comm = "xdptcp-echo";
  echo.path = "/run/xdptcp/eth1/stats.4242";
  echo.engine_count = 2;
  echo.conn_capacity = 16384;
  engine::EngineConns e0;
  e0.engine = 0;
  e0.answered = true;
  e0.rung = true;
  e0.wait_ms = 1.5;
  e0.polls = 33;
  e0.conns.push_back(record(L::kEstablished, "198.18.0.1", 7, "198.18.0.2", 51000));
  e0.conns.push_back(record(L::kListen, "0.0.0.0", 7, "0.0.0.0", 0));
  e0.conns.back().raw.recv_q = 1;
  e0.conns.back().raw.send_q = 1024;
  e0.conns.push_back(record(L::kTimeWait, "fd00::1", 7, "fd00::2", 40000, true));
  engine::EngineConns e1;
  e1.engine = 1;
  e1.answered = true;
  e1.truncated = 5;
  e1.conns.push_back(record(L::kEstablished, "198.18.0.1", 7, "198.18.0.2", 50000));
  e1.conns.back().raw.recv_q = 10;
  e1.conns.back().raw.send_q = 20;
  e1.conns.back().raw.flags = engine::kConnAppSocket;
  e1.conns.push_back(record(L::kListen, "::", 7, "::", 0, true));
  echo.engines = {e0, e1};
  engine::ProcessConns redis;
  redis.pid = 5151;
  redis.comm = "redis-server";
  redis.engine_count = 1;
  engine::EngineConns r0;
  r0.engine = 0;
  r0.ring_error = "pidfd_getfd: Operation not permitted";
  redis.engines = {r0};
  l.processes = {echo, redis};
  return l;
}

TEST(SsStates, NamesGroupsAndErrors) {
  auto bits = [](std::vector<std::string> n) { return parse_states(n).value(); };
  EXPECT_EQ(bits({}), 0u);
  EXPECT_EQ(bits({"established"}), state_bit(1));
  EXPECT_EQ(bits({"ESTAB"}), state_bit(1));
  EXPECT_EQ(bits({"listen"}), state_bit(10));
  EXPECT_EQ(bits({"Listening"}), state_bit(10));
  EXPECT_EQ(bits({"syn-recv", "time-wait"}), bits({"bucket"}));
  EXPECT_EQ(bits({"all"}), kAllStates);
  EXPECT_EQ(bits({"connected"}) & (state_bit(10) | state_bit(7)), 0u);
  EXPECT_NE(bits({"connected"}) & state_bit(2), 0u);
  EXPECT_EQ(bits({"synchronized"}) & state_bit(2), 0u);
  EXPECT_EQ(bits({"big"}) | bits({"bucket"}), kAllStates);
  for (const char* s :
       {"fin-wait-1", "fin-wait-2", "close-wait", "last-ack", "closing", "closed", "syn-sent"})
    EXPECT_NE(bits({s}), 0u) << s;
  const auto bad = parse_states({"established", "bogus"});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("--state: 'bogus'"), std::string::npos) << bad.error().message;
}

TEST(SsCommandLine, OptionsAndUsageErrors) {
  const char* argv[] = {"xdptcp-ctl", "ss",    "--iface", "eth1",   "--state",   "listening",
                        "-s",         "estab", "--info",  "--json", "--timeout", "2.5"};
  const ParseOutcome p = parse_command_line(12, argv);
  ASSERT_TRUE(p.command) << p.err;
  EXPECT_EQ(p.command->verb, Verb::kSs);
  EXPECT_EQ(p.command->iface, "eth1");
  EXPECT_EQ(p.command->states, state_bit(10) | state_bit(1));
  EXPECT_TRUE(p.command->info);
  EXPECT_TRUE(p.command->json);
  EXPECT_EQ(p.command->timeout_s, 2.5);
  const char* plain[] = {"xdptcp-ctl", "ss", "--iface", "eth1"};
  const ParseOutcome q = parse_command_line(4, plain);
  ASSERT_TRUE(q.command);
  EXPECT_EQ(q.command->states, 0u) << "no filter: every state, listeners included";
  EXPECT_FALSE(q.command->info);
  EXPECT_EQ(q.command->timeout_s, 1);
  const char* bad[] = {"xdptcp-ctl", "ss", "--iface", "eth1", "--state", "nonsense"};
  const ParseOutcome b = parse_command_line(6, bad);
  EXPECT_FALSE(b.command);
  EXPECT_EQ(b.exit_code, kExitUsage);
  EXPECT_NE(b.err.find("--state"), std::string::npos) << b.err;
  const char* noiface[] = {"xdptcp-ctl", "ss"};
  EXPECT_EQ(parse_command_line(2, noiface).exit_code, kExitUsage);
}

TEST(SsText, TableLikeSsTn) {
  const engine::ConnListing l = listing();
  std::ostringstream out;
  print_ss_text(out, l, {.iface = "eth1"});
  const std::string want =
      "State      Recv-Q  Send-Q  Local Address:Port  Peer Address:Port  Process\n"
      "LISTEN     1       1024    0.0.0.0:7           0.0.0.0:*          "
      "users:((\"xdptcp-echo\",pid=4242,engine=0))\n"
      "LISTEN     0       0       [::]:7              [::]:*             "
      "users:((\"xdptcp-echo\",pid=4242,engine=1))\n"
      "ESTAB      10      20      198.18.0.1:7        198.18.0.2:50000   "
      "users:((\"xdptcp-echo\",pid=4242,engine=1))\n"
      "ESTAB      0       0       198.18.0.1:7        198.18.0.2:51000   "
      "users:((\"xdptcp-echo\",pid=4242,engine=0))\n"
      "TIME-WAIT  0       0       [fd00::1]:7         [fd00::2]:40000    "
      "users:((\"xdptcp-echo\",pid=4242,engine=0))\n";
  EXPECT_EQ(out.str(), want);

  std::ostringstream listening;
  print_ss_text(listening, l, {.iface = "eth1", .states = parse_states({"listening"}).value()});
  const std::string text = listening.str();
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 3) << text;
  EXPECT_EQ(text.find("ESTAB"), std::string::npos);
}

TEST(SsText, InfoLineLikeSsTi) {
  engine::ConnRecord c = record(L::kEstablished, "198.18.0.1", 7, "198.18.0.2", 51000);
  engine::ConnEntry& e = c.raw;
  e.options = 1 | 2 | 4;
  e.snd_wscale = 7;
  e.rcv_wscale = 10;
  e.rto_us = 204'000;
  e.rtt_us = 1'500;
  e.rttvar_us = 750;
  e.ato_us = 40'000;
  e.snd_mss = 1448;
  e.pmtu = 1500;
  e.rcv_mss = 536;
  e.advmss = 1448;
  e.snd_cwnd = 10;
  e.snd_ssthresh = 7;
  e.bytes_sent = 100;
  e.bytes_acked = 100;
  e.bytes_received = 50;
  e.segs_out = 4;
  e.segs_in = 5;
  e.data_segs_out = 1;
  e.data_segs_in = 1;
  e.last_data_sent_ms = 12;
  e.retransmits = 1;
  e.total_retrans = 3;
  e.rcv_space = 65536;
  e.min_rtt_us = 1'000;
  e.snd_wnd = 64512;
  EXPECT_EQ(ss_info_text(c),
            "ts sack cubic wscale:7,10 rto:204 rtt:1.5/0.75 ato:40 mss:1448 pmtu:1500 rcvmss:536 advmss:1448 "
            "cwnd:10 ssthresh:7 bytes_sent:100 bytes_acked:100 bytes_received:50 segs_out:4 segs_in:5 "
            "data_segs_out:1 data_segs_in:1 send 77226667bps lastsnd:12 retrans:1/3 rcv_space:65536 minrtt:1 "
            "snd_wnd:64512");
  // A listener has no congestion window: no ssthresh, no send rate.
  engine::ConnRecord lr = record(L::kListen, "0.0.0.0", 7, "0.0.0.0", 0);
  lr.raw.snd_ssthresh = 0;
  lr.raw.snd_mss = 536;
  EXPECT_EQ(ss_info_text(lr), "cubic mss:536");
}

TEST(SsJson, FieldsAndTypes) {
  const engine::ConnListing l = listing();
  const json j = ss_json(l, {.iface = "eth1", .info = true});
  EXPECT_EQ(j["iface"], "eth1");
  EXPECT_EQ(j["complete"], false) << "redis-server's engine did not answer";
  EXPECT_EQ(j["stale_regions"], 0);
  ASSERT_EQ(j["sockets"].size(), 5u);
  const json& listener = j["sockets"][0];
  EXPECT_EQ(listener["state"], "LISTEN");
  EXPECT_EQ(listener["recv_q"], 1);
  EXPECT_EQ(listener["send_q"], 1024);
  EXPECT_EQ(listener["family"], "ipv4");
  EXPECT_EQ(listener["local"], (json{{"address", "0.0.0.0"}, {"port", 7}}));
  EXPECT_TRUE(listener["peer"].is_null());
  EXPECT_EQ(listener["pid"], 4242);
  EXPECT_EQ(listener["comm"], "xdptcp-echo");
  EXPECT_EQ(listener["engine"], 0);
  const json& s = j["sockets"][2];
  EXPECT_EQ(s["state"], "ESTAB");
  EXPECT_EQ(s["peer"], (json{{"address", "198.18.0.2"}, {"port", 50000}}));
  EXPECT_EQ(s["app_socket"], true);
  EXPECT_EQ(s["orphan"], false);
  const std::set<std::string> info_fields = {"congestion_control",
                                             "ca_state",
                                             "ts",
                                             "sack",
                                             "wscale",
                                             "rto_ms",
                                             "ato_ms",
                                             "rtt_ms",
                                             "rttvar_ms",
                                             "min_rtt_ms",
                                             "mss",
                                             "rcv_mss",
                                             "advmss",
                                             "pmtu",
                                             "cwnd",
                                             "ssthresh",
                                             "retrans",
                                             "total_retrans",
                                             "backoff",
                                             "probes",
                                             "unacked",
                                             "sacked",
                                             "lost",
                                             "bytes_sent",
                                             "bytes_retrans",
                                             "bytes_acked",
                                             "bytes_received",
                                             "segs_out",
                                             "segs_in",
                                             "data_segs_out",
                                             "data_segs_in",
                                             "last_send_ms",
                                             "last_recv_ms",
                                             "last_ack_ms",
                                             "rcv_space",
                                             "rcv_wnd",
                                             "snd_wnd",
                                             "notsent_bytes",
                                             "reordering",
                                             "reord_seen",
                                             "send_rate_bps",
                                             "delivery_rate_bps"};
  std::set<std::string> got;
  for (const auto& [k, v] : s["info"].items()) got.insert(k);
  EXPECT_EQ(got, info_fields);
  EXPECT_TRUE(s["info"]["rtt_ms"].is_null()) << "no RTT sample";
  EXPECT_TRUE(s["info"]["ssthresh"].is_null()) << "infinite";
  EXPECT_TRUE(s["info"]["send_rate_bps"].is_null());
  EXPECT_TRUE(s["info"]["delivery_rate_bps"].is_null());
  EXPECT_EQ(s["info"]["congestion_control"], "cubic");
  EXPECT_EQ(s["info"]["ca_state"], "open");
  EXPECT_FALSE(ss_json(l, {.iface = "eth1"})["sockets"][0].contains("info")) << "only with --info";

  ASSERT_EQ(j["processes"].size(), 2u);
  const json& p = j["processes"][0];
  EXPECT_EQ(p["pid"], 4242);
  EXPECT_EQ(p["engine_count"], 2);
  EXPECT_EQ(p["snapshot_capacity"], 16384);
  EXPECT_TRUE(p["error"].is_null());
  EXPECT_EQ(p["engines"][0], (json{{"engine", 0},
                                   {"answered", true},
                                   {"woken", true},
                                   {"wake_error", nullptr},
                                   {"wait_ms", 1.5},
                                   {"polls", 33},
                                   {"sockets", 3},
                                   {"truncated", 0}}));
  EXPECT_EQ(p["engines"][1]["truncated"], 5);
  EXPECT_EQ(j["processes"][1]["engines"][0]["answered"], false);

  const json only = ss_json(l, {.iface = "eth1", .states = parse_states({"time-wait"}).value()});
  ASSERT_EQ(only["sockets"].size(), 1u);
  EXPECT_EQ(only["sockets"][0]["family"], "ipv6");
  EXPECT_EQ(only["sockets"][0]["local"]["address"], "fd00::1");
}

TEST(SsWarnings, UnansweredTruncatedAndErrors) {
  engine::ConnListing l = listing();
  engine::ProcessConns denied;
  denied.pid = 6000;
  denied.comm = "nginx";
  denied.error = "cannot open /run/xdptcp/eth1/stats.6000 for writing: Permission denied";
  l.processes.push_back(denied);
  const std::vector<std::string> w = ss_warnings(l, 1);
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(
      w[0],
      "pid 4242 (xdptcp-echo) engine 1: 5 more connections than its snapshot holds (16384) are not shown");
  EXPECT_EQ(
      w[1],
      "pid 5151 (redis-server) engine 0 did not answer within 1 s: its connections are missing (it could not "
      "be woken: pidfd_getfd: Operation not permitted)");
  EXPECT_EQ(
      w[2],
      "pid 6000 (nginx): not asked: cannot open /run/xdptcp/eth1/stats.6000 for writing: Permission denied");
}

}  // namespace
}  // namespace xdptcp::ctl
