// Parsers for wrk, ab and --stats-on-exit output, and the background stack server; see e2e_tools.h.
#include "integration/e2e/e2e_tools.h"

#include <regex>
#include <sstream>

namespace xdptcp::test::e2e {

namespace {

std::uint64_t to_u64(const std::string& s) {
  return static_cast<std::uint64_t>(std::stoull(s));
}

}  // namespace

WrkResult parse_wrk(const std::string& out) {
  WrkResult r;
  std::smatch m;
  static const std::regex requests(R"((\d+) requests in )");
  if (std::regex_search(out, m, requests)) {
    r.parsed = true;
    r.requests = to_u64(m[1].str());
  }
  static const std::regex errors(R"(Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+))");
  if (std::regex_search(out, m, errors)) {
    r.connect_errors = to_u64(m[1].str());
    r.read_errors = to_u64(m[2].str());
    r.write_errors = to_u64(m[3].str());
    r.timeouts = to_u64(m[4].str());
  }
  static const std::regex non2xx(R"(Non-2xx or 3xx responses: (\d+))");
  if (std::regex_search(out, m, non2xx)) r.non_2xx = to_u64(m[1].str());
  static const std::regex rps(R"(Requests/sec:\s+([0-9.]+))");
  if (std::regex_search(out, m, rps)) r.requests_per_s = std::stod(m[1].str());
  return r;
}

AbResult parse_ab(const std::string& out) {
  AbResult r;
  std::smatch m;
  static const std::regex complete(R"(Complete requests:\s+(\d+))");
  static const std::regex failed(R"(Failed requests:\s+(\d+))");
  static const std::regex non2xx(R"(Non-2xx responses:\s+(\d+))");
  if (std::regex_search(out, m, complete)) r.complete = std::stol(m[1].str());
  if (std::regex_search(out, m, failed)) r.failed = std::stol(m[1].str());
  if (std::regex_search(out, m, non2xx)) r.non_2xx = std::stol(m[1].str());
  return r;
}

std::vector<EngineCounters> parse_engine_stats(const std::string& out) {
  std::vector<EngineCounters> v;
  static const std::regex line(R"(stats engine (\d+): ([^\n]*))");
  static const std::regex kv(R"((\w+)=(\d+))");
  for (auto it = std::sregex_iterator(out.begin(), out.end(), line); it != std::sregex_iterator(); ++it) {
    EngineCounters c;
    c.engine = static_cast<unsigned>(std::stoul((*it)[1].str()));
    const std::string rest = (*it)[2].str();
    for (auto k = std::sregex_iterator(rest.begin(), rest.end(), kv); k != std::sregex_iterator(); ++k) {
      const std::string key = (*k)[1].str();
      const std::uint64_t val = to_u64((*k)[2].str());
      if (key == "conns_accepted") c.conns_accepted = val;
      if (key == "conns_opened") c.conns_opened = val;
      if (key == "handoffs") c.handoffs = val;
      if (key == "handoffs_in") c.handoffs_in = val;
      if (key == "retransmits") c.retransmits = val;
    }
    v.push_back(c);
  }
  return v;
}

StackServer::StackServer(const std::string& exe, const std::string& iface, int port, const std::string& extra)
    : cmd_(std::make_unique<BackgroundCommand>("exec " + bin_path(exe) + " --iface " + iface + " --port " +
                                               std::to_string(port) + " " + extra)) {}

bool StackServer::started(std::chrono::milliseconds timeout) {
  return cmd_->wait_for_output("listening", timeout);
}

CommandResult curl_from(const Sandbox& sb, const std::string& url, const std::string& extra) {
  return sb.in_peer("curl -s -o /dev/null -w '%{http_code} %{size_download}' " + extra + " " +
                    shell_quote(url));
}

std::string http_url(const std::string& ip, int port, const std::string& path) {
  const bool v6 = ip.find(':') != std::string::npos;
  return "http://" + (v6 ? "[" + ip + "]" : ip) + ":" + std::to_string(port) + path;
}

bool wait_http_ok(const Sandbox& sb, const std::string& url, std::chrono::milliseconds timeout) {
  return wait_until(
      [&] {
        const CommandResult r = curl_from(sb, url, "-m 2");
        return r.ok() && r.output.rfind("200 ", 0) == 0;
      },
      timeout, std::chrono::milliseconds(100));
}

bool wait_tcp_ok(const Sandbox& sb, const std::string& ip, int port, std::chrono::milliseconds timeout) {
  const bool v6 = ip.find(':') != std::string::npos;
  const std::string target = (v6 ? "TCP6:[" + ip + "]:" : "TCP4:" + ip + ":") + std::to_string(port);
  return wait_until([&] { return sb.in_peer("socat -u /dev/null " + target + ",connect-timeout=1").ok(); },
                    timeout, std::chrono::milliseconds(100));
}

}  // namespace xdptcp::test::e2e
