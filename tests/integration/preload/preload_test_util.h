// Helpers shared by the tests that run unmodified applications through xdptcp-run
// (preload_apps_test, preload_multiproc_test): text and file helpers, processes by pid (/proc),
// installed tools, wrk and redis-benchmark output, the steering program's counters and queue
// owners (xdptcp-ctl), and "the port is the kernel's again" after kill -9. Header-only.
#pragma once

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/types.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iostream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "support/netns/netns_util.h"

namespace xdptcp::test::preload {

inline std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  std::size_t b = 0;
  while (b < s.size() && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  return s.substr(b);
}

inline std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline bool write_file(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  return static_cast<bool>(out);
}

// The last `n` lines of `text` (for diagnostics).
inline std::string tail(const std::string& text, int n = 40) {
  std::size_t pos = text.size();
  for (int i = 0; i <= n && pos != std::string::npos && pos > 0; ++i) pos = text.rfind('\n', pos - 1);
  return pos == std::string::npos || pos == 0 ? text : text.substr(pos + 1);
}

// The lines of `text` (split at '\n' and '\r') that contain `needle`, joined with "; ".
inline std::string lines_with(const std::string& text, const std::string& needle) {
  std::string found, cur;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == '\n' || text[i] == '\r') {
      if (cur.find(needle) != std::string::npos) found += (found.empty() ? "" : "; ") + trim(cur);
      cur.clear();
    } else {
      cur += text[i];
    }
  }
  return found;
}

// Figures worth seeing in the log of a passing run.
inline void note(const std::string& what) {
  std::cout << "[     info ] " << what << std::endl;
}

// /proc/PID/stat: the command name and the state letter; false when there is no such process.
inline bool proc_stat(pid_t pid, std::string* comm, char* state, pid_t* ppid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return false;
  const auto open = line.find('(');
  const auto close = line.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close + 2 >= line.size()) return false;
  if (comm != nullptr) *comm = line.substr(open + 1, close - open - 1);
  if (state != nullptr) *state = line[close + 2];
  if (ppid != nullptr) *ppid = static_cast<pid_t>(std::strtol(line.c_str() + close + 4, nullptr, 10));
  return true;
}

// Whether `pid` runs (a zombie has closed its descriptors already: it counts as gone) and, when
// `comm` is given, is called that: a pid reused by another program is never signalled.
inline bool alive(pid_t pid, const std::string& comm = "") {
  if (pid <= 0) return false;
  std::string c;
  char state = 0;
  if (!proc_stat(pid, &c, &state, nullptr)) return false;
  if (state == 'Z' || state == 'X') return false;
  return comm.empty() || c == comm;
}

// The live children of `parent`.
inline std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> v;
  std::error_code ec;
  for (const auto& d : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = d.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    const auto pid = static_cast<pid_t>(std::stol(name));
    pid_t ppid = 0;
    char state = 0;
    if (proc_stat(pid, nullptr, &state, &ppid) && ppid == parent && state != 'Z') v.push_back(pid);
  }
  std::sort(v.begin(), v.end());
  return v;
}

// Stops the processes of `pids` that still run as `comm`: `sig`, then SIGKILL after `grace`.
inline void stop_processes(const std::vector<pid_t>& pids, const std::string& comm, int sig = SIGTERM,
                           std::chrono::milliseconds grace = std::chrono::seconds(5)) {
  for (const pid_t p : pids) {
    if (alive(p, comm)) ::kill(p, sig);
  }
  const auto all_gone = [&] {
    return std::none_of(pids.begin(), pids.end(), [&](pid_t p) { return alive(p, comm); });
  };
  if (!wait_until(all_gone, grace, std::chrono::milliseconds(50))) {
    for (const pid_t p : pids) {
      if (alive(p, comm)) ::kill(p, SIGKILL);
    }
    (void)wait_until(all_gone, std::chrono::seconds(3), std::chrono::milliseconds(50));
  }
}

// An installed program's path ("" when missing).
inline std::string tool_path(const std::string& tool) {
  const CommandResult r = run("command -v " + shell_quote(tool));
  return r.ok() ? trim(r.output) : std::string();
}

// The first of `tools` that is not installed ("" when all are): GTEST_SKIP only leaves the test from
// the test's own body, so the tests call this and skip themselves.
inline std::string first_missing(std::initializer_list<const char*> tools) {
  for (const char* t : tools) {
    if (tool_path(t).empty()) return t;
  }
  return {};
}

inline std::string url_of(const std::string& ip, int port, const std::string& path = "/") {
  const bool v6 = ip.find(':') != std::string::npos;
  return "http://" + (v6 ? "[" + ip + "]" : ip) + ":" + std::to_string(port) + path;
}

// The parts of wrk's summary that matter here.
struct WrkSummary {
  bool parsed = false;
  std::uint64_t requests = 0;
  bool socket_errors = false;  // wrk prints "Socket errors: ..." only when there were some
  bool non_2xx = false;        // and "Non-2xx or 3xx responses: N" only when there were some
  // The counts of those two lines (0 when absent).
  std::uint64_t connect_errors = 0, read_errors = 0, write_errors = 0, timeouts = 0, non_2xx_count = 0;
};

inline WrkSummary parse_wrk(const std::string& out) {
  WrkSummary w;
  std::smatch m;
  static const std::regex requests(R"((\d+) requests in )");
  if (std::regex_search(out, m, requests)) {
    w.parsed = true;
    w.requests = std::stoull(m[1].str());
  }
  w.socket_errors = out.find("Socket errors") != std::string::npos;
  w.non_2xx = out.find("Non-2xx") != std::string::npos;
  static const std::regex errors(R"(Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+))");
  if (std::regex_search(out, m, errors)) {
    w.connect_errors = std::stoull(m[1].str());
    w.read_errors = std::stoull(m[2].str());
    w.write_errors = std::stoull(m[3].str());
    w.timeouts = std::stoull(m[4].str());
  }
  static const std::regex non2xx(R"(Non-2xx or 3xx responses: (\d+))");
  if (std::regex_search(out, m, non2xx)) w.non_2xx_count = std::stoull(m[1].str());
  return w;
}

// A wrk run that went well: a summary, no socket errors, no non-2xx answers, at least `min_requests`.
inline void expect_wrk_clean(const std::string& out, std::uint64_t min_requests, const std::string& context) {
  const WrkSummary w = parse_wrk(out);
  ASSERT_TRUE(w.parsed) << context << "\n" << out;
  EXPECT_FALSE(w.socket_errors) << context << "\n" << out;
  EXPECT_FALSE(w.non_2xx) << context << "\n" << out;
  EXPECT_GE(w.requests, min_requests) << context << "\n" << out;
}

// redis-benchmark -q: one "NAME: N requests per second, ..." line per test (the progress lines before
// it are overwritten with '\r'), and no error text anywhere.
inline void expect_benchmark_clean(const std::string& out, std::initializer_list<const char*> tests,
                                   const std::string& context) {
  std::vector<std::string> lines;
  std::string cur;
  for (const char c : out) {
    if (c == '\n' || c == '\r') {
      if (!trim(cur).empty()) lines.push_back(trim(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!trim(cur).empty()) lines.push_back(trim(cur));
  for (const char* t : tests) {
    const std::regex line(std::string("^") + t + R"(: ([0-9.]+) requests per second)");
    bool found = false;
    for (const auto& l : lines) {
      std::smatch m;
      if (std::regex_search(l, m, line) && std::stod(m[1].str()) > 0) found = true;
    }
    EXPECT_TRUE(found) << context << ": no requests-per-second line for " << t << " in:\n" << out;
  }
  const std::string low = lower(out);
  for (const char* bad : {"error", "refused", "reset by peer", "could not connect", "timeout", "timed out"}) {
    EXPECT_EQ(low.find(bad), std::string::npos) << context << ": '" << bad << "' in:\n" << out;
  }
}

// A field of redis's INFO output ("" when absent).
inline std::string info_field(const std::string& info, const std::string& key) {
  std::istringstream in(info);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(key + ":", 0) == 0) return trim(line.substr(key.size() + 1));
  }
  return {};
}

inline std::string redis_cli(const std::string& ip, int port, int seconds = 30) {
  return "timeout " + std::to_string(seconds) + " redis-cli -h " + ip + " -p " + std::to_string(port);
}

// The steering program's counter `name` on `iface` (-1 when it cannot be read); `output` gets what
// `xdptcp-ctl stats --json` printed.
inline long long steer_counter(const std::string& iface, const std::string& name,
                               std::string* output = nullptr) {
  const CommandResult r = run(bin_path("xdptcp-ctl") + " stats --iface " + iface + " --json");
  if (output != nullptr) *output = r.output;
  std::smatch m;
  const std::regex re("\"" + name + R"("\s*:\s*(\d+))");
  if (!r.ok() || !std::regex_search(r.output, m, re)) return -1;
  return std::stoll(m[1].str());
}

// From the peer, `port` on each of `ips` is refused at once (RST from the kernel, curl exit 7), never
// left unanswered (exit 28).
inline void expect_refused_at_once(const Sandbox& sb, int port, const std::vector<std::string>& ips) {
  for (const std::string& ip : ips) {
    const std::string url = url_of(ip, port, "/f64");
    const auto t0 = std::chrono::steady_clock::now();
    const CommandResult r =
        sb.in_peer("timeout 15 curl -sS -g --connect-timeout 5 -m 5 -o /dev/null " + shell_quote(url));
    const auto took = std::chrono::steady_clock::now() - t0;
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(took).count();
    note(url + " after kill -9: curl exit " + std::to_string(r.exit_code) + " after " + std::to_string(ms) +
         " ms");
    EXPECT_EQ(r.exit_code, 7) << url << ": expected connection refused (7) from the kernel; 28 (timeout) "
                              << "means the steering still captures the port: " << r.output;
    EXPECT_LT(took, std::chrono::seconds(2)) << url << ": the refusal took " << ms << " ms";
  }
}

}  // namespace xdptcp::test::preload
