// What the end-to-end tests share: parsers for the outputs of the load tools they drive (wrk, ab,
// the example programs' --stats-on-exit lines) and a server process on the stack (xdptcp-httpd,
// xdptcp-echo) started in the background and stopped with the test.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "support/netns/netns_util.h"

namespace xdptcp::test::e2e {

// wrk's summary. wrk prints "Socket errors: ..." and "Non-2xx or 3xx responses: N" only when
// there are some, so absent lines mean zero.
struct WrkResult {
  bool parsed = false;  // the "N requests in" line was found
  std::uint64_t requests = 0;
  std::uint64_t connect_errors = 0, read_errors = 0, write_errors = 0, timeouts = 0;
  std::uint64_t non_2xx = 0;
  double requests_per_s = 0;
  std::uint64_t socket_errors() const { return connect_errors + read_errors + write_errors + timeouts; }
};
WrkResult parse_wrk(const std::string& out);

// ab's "Complete requests:" and "Failed requests:" (-1 when missing).
struct AbResult {
  long complete = -1;
  long failed = -1;
  long non_2xx = 0;  // "Non-2xx responses:" (printed only when some)
};
AbResult parse_ab(const std::string& out);

// The "stats engine K: key=value ..." lines of --stats-on-exit: one map per engine, in engine order.
struct EngineCounters {
  unsigned engine = 0;
  std::uint64_t conns_accepted = 0, conns_opened = 0, handoffs = 0, handoffs_in = 0, retransmits = 0;
};
std::vector<EngineCounters> parse_engine_stats(const std::string& out);

// An example server on the stack: "exec <build>/bin/<exe> --iface IF --port P <extra>". start()
// waits for its "listening" line.
class StackServer {
 public:
  StackServer(const std::string& exe, const std::string& iface, int port, const std::string& extra = "");
  // True once the server printed "listening" (false: it exited or took longer than `timeout`).
  bool started(std::chrono::milliseconds timeout = std::chrono::seconds(15));
  BackgroundCommand& process() { return *cmd_; }
  std::string output() const { return cmd_->output(); }
  // SIGTERM (the server stops its engines and prints its stats) and the exit code.
  int stop() { return cmd_->stop(15, std::chrono::seconds(5)); }
  int kill9() { return cmd_->stop(9, std::chrono::seconds(1)); }

 private:
  std::unique_ptr<BackgroundCommand> cmd_;
};

// curl from the peer namespace: "-s -o /dev/null -w '%{http_code} %{size_download}'" and the
// given extra options; exit code as curl's (7: refused, 28: timed out).
CommandResult curl_from(const Sandbox& sb, const std::string& url, const std::string& extra = "-m 5");

// "http://IP:PORT/" or "http://[IPv6]:PORT/".
std::string http_url(const std::string& ip, int port, const std::string& path = "/");

// Polls curl until the URL answers 200 (the stack's listeners are per engine, and IPv6 neighbour
// discovery on a fresh link can take a moment).
bool wait_http_ok(const Sandbox& sb, const std::string& url, std::chrono::milliseconds timeout);

// Polls until a TCP connect from the peer namespace to ip:port succeeds (the server's engines listen
// only once they run, after it printed "listening").
bool wait_tcp_ok(const Sandbox& sb, const std::string& ip, int port, std::chrono::milliseconds timeout);

}  // namespace xdptcp::test::e2e
