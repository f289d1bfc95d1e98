// Several processes on one interface (issue 10): each process under xdptcp-run owns some RX queues
// of the sandbox's two-queue veth, and `xdptcp-ctl status --json` names the owner of each queue.
//   - nginx with two prefork workers (XDPTCP_QUEUES=auto: one queue per worker), in three
//     configurations (default, `listen ... reuseport`): wrk with keep-alive and
//     with a connection per request, no errors, both workers serve (their pids in the access log),
//     queue 0 and queue 1 owned by the two workers, the frames went through xdptcp; after nginx
//     stops, the queues and its rules are gone;
//   - `nginx -s reload` under `Connection: close` load: no client errors but the resets of what the
//     old workers' stacks had not accepted yet when they closed their listeners, and the new workers take
//     the queues once the old ones exit, and serve through the stack;
//   - nginx (--queues 0) and redis-server (--queues 1) side by side: both serve; kill -9 of one under
//     the other's load does not disturb the other, the dead one's port is refused by the kernel at
//     once, its queue is free, and a restarted instance takes the queue again and serves through it.
//
// Needs root, the built xdptcp-run, libxdptcp-preload.so and xdptcp-ctl, and nginx, wrk (and for the
// last test redis-server, redis-cli, redis-benchmark); each test skips, saying what is missing. Each
// test brings up its own sandbox (mpnw, mprl, mpkr; --subnet auto, 2 queues), works in its own /tmp
// directory, and stops every process it started in TearDown, even on failure.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "integration/preload/preload_test_util.h"
#include "support/netns/netns_util.h"

namespace xdptcp::test::preload_multiproc {
namespace {

using namespace std::chrono_literals;
using namespace xdptcp::test::preload;  // NOLINT: the shared helpers
namespace fs = std::filesystem;

// Ports of their own (the application's kernel socket holds the port in the ROOT namespace, shared
// with every sandbox and with preload_apps_test's 18080/18081/16380/16381).
constexpr int kWorkersPort = 18180;
constexpr int kReloadPort = 18181;
constexpr int kTwoAppsNginxPort = 18182;
constexpr int kTwoAppsRedisPort = 16480;

constexpr int kWrkConnections = 64;
constexpr int kProbes = 16;  // separate connections of a probe: each lands on a random RX queue

// One RX queue's AF_XDP socket record in `xdptcp-ctl status --json`, or one rule's owner.
struct Owner {
  int queue = -1;  // -1 for a rule
  pid_t pid = 0;
  std::string state;  // alive, dead, permanent
  std::string comm;
};

// The flat objects of the JSON array `key` (no nested arrays or objects in them: true of "sockets"
// and "rules").
std::vector<Owner> parse_owners(const std::string& json, const std::string& key) {
  std::vector<Owner> v;
  const auto k = json.find("\"" + key + "\"");
  if (k == std::string::npos) return v;
  const auto open = json.find('[', k);
  const auto close = json.find(']', open);
  if (open == std::string::npos || close == std::string::npos) return v;
  const std::string body = json.substr(open, close - open);
  static const std::regex object(R"(\{[^{}]*\})");
  static const std::regex queue(R"("queue"\s*:\s*(\d+))");
  static const std::regex pid(R"("owner_pid"\s*:\s*(\d+))");
  static const std::regex state(R"re("owner_state"\s*:\s*"([^"]*)")re");
  static const std::regex comm(R"re("owner_comm"\s*:\s*"([^"]*)")re");
  for (auto it = std::sregex_iterator(body.begin(), body.end(), object); it != std::sregex_iterator(); ++it) {
    const std::string o = it->str();
    Owner w;
    std::smatch m;
    if (std::regex_search(o, m, queue)) w.queue = std::stoi(m[1].str());
    if (std::regex_search(o, m, pid)) w.pid = static_cast<pid_t>(std::stol(m[1].str()));
    if (std::regex_search(o, m, state)) w.state = m[1].str();
    if (std::regex_search(o, m, comm)) w.comm = m[1].str();
    v.push_back(w);
  }
  return v;
}

std::string describe(const std::vector<Owner>& v) {
  if (v.empty()) return "(none)";
  std::string s;
  for (const Owner& o : v) {
    s += (s.empty() ? "" : "; ") + (o.queue >= 0 ? "queue " + std::to_string(o.queue) + ": " : "") + "pid " +
         std::to_string(o.pid) + " " + o.state + (o.comm.empty() ? "" : " " + o.comm);
  }
  return s;
}

// The queues with a live owner: queue -> pid.
std::map<int, pid_t> live_queue_owners(const std::vector<Owner>& sockets) {
  std::map<int, pid_t> m;
  for (const Owner& o : sockets) {
    if (o.state == "alive") m[o.queue] = o.pid;
  }
  return m;
}

// An nginx access log of "$pid $status" lines, from byte `from` on.
struct AccessCounts {
  std::map<pid_t, std::uint64_t> by_pid;
  std::uint64_t lines = 0;
  std::uint64_t non_2xx = 0;
};

AccessCounts count_access(const std::string& log, std::size_t from) {
  AccessCounts c;
  const std::string text = read_file(log);
  std::istringstream in(from < text.size() ? text.substr(from) : std::string());
  for (std::string line; std::getline(in, line);) {
    std::istringstream l(line);
    long pid = 0;
    int status = 0;
    if (!(l >> pid >> status)) continue;
    ++c.lines;
    ++c.by_pid[static_cast<pid_t>(pid)];
    if (status < 200 || status > 299) ++c.non_2xx;
  }
  return c;
}

std::string describe(const AccessCounts& c) {
  std::string s = std::to_string(c.lines) + " requests";
  for (const auto& [pid, n] : c.by_pid) s += ", pid " + std::to_string(pid) + ": " + std::to_string(n);
  return s;
}

std::size_t file_size(const std::string& path) {
  std::error_code ec;
  const auto n = fs::file_size(path, ec);
  return ec ? 0 : static_cast<std::size_t>(n);
}

std::string pids_str(const std::vector<pid_t>& v) {
  std::string s;
  for (const pid_t p : v) s += (s.empty() ? "" : ",") + std::to_string(p);
  return "{" + s + "}";
}

std::string wrk_errors(const WrkSummary& w) {
  return "connect " + std::to_string(w.connect_errors) + ", read " + std::to_string(w.read_errors) +
         ", write " + std::to_string(w.write_errors) + ", timeout " + std::to_string(w.timeouts) +
         ", non-2xx " + std::to_string(w.non_2xx_count);
}

class PreloadMultiProc : public ::testing::Test {
 protected:
  // One nginx instance: its files live in <dir>/<name>/.
  struct Nginx {
    std::string dir, conf, error_log, access_log, out;
    int port = 0;
    pid_t master = -1;
  };

  void SetUp() override {
    if (!is_root()) GTEST_SKIP() << "needs root: network namespaces, XDP and AF_XDP";
    for (const std::string exe : {"xdptcp-run", "xdptcp-ctl", "../lib/libxdptcp-preload.so"}) {
      if (!fs::exists(bin_path(exe))) GTEST_SKIP() << bin_path(exe) << " is not built";
    }
    if (const std::string m = first_missing({"curl", "timeout"}); !m.empty()) {
      GTEST_SKIP() << m << " is not installed";
    }
    char tmpl[] = "/tmp/xdptcp-mp-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr) << std::strerror(errno);
    dir_ = tmpl;
  }

  void TearDown() override {
    for (auto& r : redis_) (void)r->stop(SIGTERM, 5s);
    redis_.clear();
    std::vector<pid_t> pids(nginx_pids_.begin(), nginx_pids_.end());
    for (const pid_t m : std::vector<pid_t>(pids)) {
      if (alive(m, "nginx")) {
        for (const pid_t c : children_of(m)) pids.push_back(c);
      }
    }
    stop_processes(pids, "nginx");
    nginx_pids_.clear();
    sb_.reset();  // takes the sandbox down
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }

  // The test's own sandbox (a free subnet, 2 queues); fatal failure when it does not come up.
  void bring_up(const std::string& name) {
    sb_ =
        std::make_unique<Sandbox>(Sandbox::Options{.name = name, .queues = 2, .router = false, .subnet = -1});
    const CommandResult up = sb_->up();
    ASSERT_TRUE(up.ok()) << up.output;
    ASSERT_FALSE(sb_->iface().empty()) << "the sandbox did not come up: " << sb_->status().output;
    ASSERT_FALSE(sb_->stack_ip4().empty()) << sb_->status_env().output;
    ASSERT_EQ(sb_->var("QUEUES"), "2") << sb_->status_env().output;
    fs::create_directories(path("www"));
    const CommandResult r = run("head -c 64 /dev/urandom > " + path("www/f64"));
    ASSERT_TRUE(r.ok()) << r.output;
  }
  Sandbox& sb() { return *sb_; }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }

  // ---- the steering program: counters and owners ----

  long long counter(const std::string& name, std::string* output = nullptr) {
    return steer_counter(sb().iface(), name, output);
  }
  // The counters on one line (-1: not in this program's map).
  std::string counters() {
    std::string out, s;
    (void)counter("seen", &out);
    for (const char* c : {"seen", "redirected", "pass_not_ours", "pass_no_socket", "pass_kernel_flow",
                          "pass_other_owner", "pass_draining"}) {
      std::smatch m;
      const std::regex re("\"" + std::string(c) + R"("\s*:\s*(\d+))");
      s += (s.empty() ? "" : " ") + std::string(c) + "=" +
           (std::regex_search(out, m, re) ? m[1].str() : std::string("-1"));
    }
    return s;
  }
  std::string status_json() {
    return run(bin_path("xdptcp-ctl") + " status --iface " + sb().iface() + " --json").output;
  }
  std::vector<Owner> sockets() { return parse_owners(status_json(), "sockets"); }
  std::vector<Owner> rules() { return parse_owners(status_json(), "rules"); }

  // Waits up to `timeout` until exactly the queues in `want` have live owners, those pids.
  bool wait_owners(const std::map<int, pid_t>& want, std::chrono::milliseconds timeout, std::string* last) {
    return wait_until(
        [&] {
          const std::vector<Owner> s = sockets();
          *last = describe(s);
          return live_queue_owners(s) == want;
        },
        timeout, 100ms);
  }

  // Waits until queue 0 and queue 1 are owned by the two pids of `workers`, one each.
  bool wait_owned_by(const std::vector<pid_t>& workers, std::chrono::milliseconds timeout,
                     std::string* last) {
    return wait_until(
        [&] {
          const std::vector<Owner> s = sockets();
          *last = describe(s);
          const std::map<int, pid_t> live = live_queue_owners(s);
          if (live.size() != 2 || !live.contains(0) || !live.contains(1) || live.at(0) == live.at(1))
            return false;
          return std::all_of(live.begin(), live.end(), [&](const auto& q) {
            return std::find(workers.begin(), workers.end(), q.second) != workers.end();
          });
        },
        timeout, 100ms);
  }

  // `queue` has no live owner (no socket record, or a dead process's stale record).
  bool queue_free(int queue) { return !live_queue_owners(sockets()).contains(queue); }

  // ---- nginx: a daemon whose master and workers the test reaches by pid ----

  // Starts nginx `name` on `port` through xdptcp-run (with `--queues Q` unless `queues` is empty):
  // `workers` worker processes running as root, an access log of "$pid $status" lines. Waits until
  // the master has `workers` children and the peer gets 200 for /f64.
  void start_nginx(Nginx& n, const std::string& name, int port, int workers, const std::string& listen_extra,
                   const std::string& events_extra, const std::string& queues) {
    n.dir = path(name);
    n.conf = n.dir + "/nginx.conf";
    n.error_log = n.dir + "/error.log";
    n.access_log = n.dir + "/access.log";
    n.out = n.dir + "/nginx.out";
    n.port = port;
    fs::create_directories(n.dir);
    std::ostringstream c;
    c << "user root; worker_processes " << workers << "; daemon on; master_process on;\n"
      << "pid " << n.dir << "/nginx.pid; error_log " << n.error_log << " info;\n"
      << "events { worker_connections 4096; " << events_extra << " }\n"
      << "http { sendfile on; tcp_nopush on; keepalive_requests 100000;\n"
      << "  log_format pids '$pid $status $remote_port'; access_log " << n.access_log << " pids;\n"
      << "  server { listen " << port << listen_extra << "; root " << path("www") << "; } }\n";
    ASSERT_TRUE(write_file(n.conf, c.str()));
    const std::string q = queues.empty() ? "" : " --queues " + queues;
    const CommandResult r =
        run(bin_path("xdptcp-run") + " --iface " + sb().iface() + q + " -- " + tool_path("nginx") + " -e " +
            n.error_log + " -c " + n.conf + " > " + n.out + " 2>&1 < /dev/null");
    ASSERT_TRUE(r.ok()) << r.output << diagnostics(n);
    ASSERT_TRUE(wait_until(
        [&] {
          n.master = static_cast<pid_t>(std::atol(read_file(n.dir + "/nginx.pid").c_str()));
          return alive(n.master, "nginx");
        },
        10s))
        << "no nginx master in " << n.dir << "/nginx.pid" << diagnostics(n);
    nginx_pids_.insert(n.master);
    ASSERT_TRUE(wait_until([&] { return static_cast<int>(workers_of(n).size()) == workers; }, 10s))
        << "worker_processes " << workers << ": " << pids_str(workers_of(n)) << diagnostics(n);
    const std::string url = url_of(sb().stack_ip4(), port, "/f64");
    ASSERT_TRUE(wait_until([&] { return peer_http_ok(url); }, 20s, 100ms))
        << url << " does not answer 200" << diagnostics(n);
  }

  // The master's live children (remembered for TearDown).
  std::vector<pid_t> workers_of(const Nginx& n) {
    std::vector<pid_t> w = children_of(n.master);
    nginx_pids_.insert(w.begin(), w.end());
    return w;
  }

  // SIGTERM to the master (nginx's fast shutdown), SIGKILL to whatever is left after 5 s.
  void stop_nginx(Nginx& n) {
    std::vector<pid_t> pids = workers_of(n);
    pids.push_back(n.master);
    if (alive(n.master, "nginx")) ::kill(n.master, SIGTERM);
    const auto all_gone = [&] {
      return std::none_of(pids.begin(), pids.end(), [](pid_t p) { return alive(p, "nginx"); });
    };
    if (!wait_until(all_gone, 5s, 50ms)) {
      ADD_FAILURE() << "nginx " << pids_str(pids) << " did not stop on SIGTERM within 5 s" << diagnostics(n);
      stop_processes(pids, "nginx", SIGKILL, 3s);
    }
  }

  // kill -9 of the master (first: it would replace a worker killed before it), then its workers.
  void kill9_nginx(Nginx& n) {
    std::vector<pid_t> pids = {n.master};
    for (const pid_t p : workers_of(n)) pids.push_back(p);
    for (const pid_t p : pids) {
      if (alive(p, "nginx")) {
        EXPECT_EQ(::kill(p, SIGKILL), 0) << std::strerror(errno);
      }
    }
    ASSERT_TRUE(wait_until(
        [&] { return std::none_of(pids.begin(), pids.end(), [](pid_t p) { return alive(p, "nginx"); }); }, 5s,
        10ms))
        << "nginx survived kill -9";
  }

  // The signals nginx logged other than SIGCHLD and SIGIO, with their senders (a SIGTERM from a
  // pid that is not this test's means that something else stopped it).
  static std::string signals(const Nginx& n) {
    std::string found;
    std::istringstream in(read_file(n.error_log));
    for (std::string l; std::getline(in, l);) {
      if (l.find("received from") == std::string::npos || l.find("SIGCHLD") != std::string::npos ||
          l.find("SIGIO") != std::string::npos) {
        continue;
      }
      found += l + "\n";
    }
    return found + "(this test is pid " + std::to_string(::getpid()) + ")";
  }

  // The nginx output, the library's lines of the error log and the error log's tail.
  std::string diagnostics(const Nginx& n) {
    return "\n-- nginx output:\n" + read_file(n.out) + "\n-- xdptcp lines of " + n.error_log + ":\n" +
           lines_with(read_file(n.error_log), "xdptcp") + "\n-- error.log (tail):\n" +
           tail(read_file(n.error_log), 20) + "\n-- signals nginx received:\n" + signals(n) +
           "\n-- counters: " + counters() + "\n-- queue owners: " + describe(sockets());
  }

  // expect_wrk_clean, with nginx's diagnostics when it fails.
  void expect_wrk_ok(const std::string& out, std::uint64_t min_requests, const std::string& what,
                     const Nginx& n) {
    const WrkSummary w = parse_wrk(out);
    const bool clean = w.parsed && !w.socket_errors && !w.non_2xx && w.requests >= min_requests;
    expect_wrk_clean(out, min_requests, clean ? what : what + diagnostics(n));
  }

  bool peer_http_ok(const std::string& url) {
    const CommandResult r =
        sb().in_peer("timeout 5 curl -s -g -m 2 -o /dev/null -w '%{http_code}' " + shell_quote(url));
    return r.ok() && r.output == "200";
  }

  // kProbes curls, each on a connection of its own; how many got 200.
  int curl_probes(const std::string& url, std::string* output) {
    // Each has 2 s (a local request takes a millisecond); after 4 failures the rest are skipped.
    const CommandResult r = sb().in_peer(
        "f=0; for i in $(seq " + std::to_string(kProbes) + "); do timeout 5 curl -sS -g -m 2 -o /dev/null " +
        "-w '%{http_code} port %{local_port} %{time_total}s\\n' " + shell_quote(url) +
        " || f=$((f+1)); [ $f -ge 4 ] && echo 'probes stopped after 4 failures' && break; done; true");
    *output = r.output;
    int ok = 0;
    std::istringstream in(r.output);
    for (std::string l; std::getline(in, l);) ok += l.rfind("200 ", 0) == 0 ? 1 : 0;
    return ok;
  }

  CommandResult wrk(const std::string& url, bool close, const std::string& duration) {
    return sb().in_peer("timeout 40 wrk -t 1 -c " + std::to_string(kWrkConnections) + " -d " + duration +
                        " --timeout 3s " + (close ? "-H 'Connection: close' " : "") + url);
  }
  std::string wrk_background(const std::string& url, bool close, const std::string& duration) {
    return in_netns(sb().peer_ns(), "exec timeout 40 wrk -t 1 -c " + std::to_string(kWrkConnections) +
                                        " -d " + duration + " --timeout 3s " +
                                        (close ? "-H 'Connection: close' " : "") + url);
  }

  // ---- redis-server: a child of the test (xdptcp-run execs it) ----

  // Starts redis-server on `port` (the stack's IPv4 address and loopback) with `--queues Q`, and
  // waits for PING from the peer (which the kernel may answer until the stack holds its queue).
  BackgroundCommand* start_redis(int port, const std::string& queues) {
    redis_.push_back(std::make_unique<BackgroundCommand>(
        "exec " + bin_path("xdptcp-run") + " --iface " + sb().iface() + " --queues " + queues + " -- " +
        tool_path("redis-server") + " --port " + std::to_string(port) + " --bind " +
        shell_quote(sb().stack_ip4() + " 127.0.0.1") +
        " --protected-mode no --save '' --appendonly no --dir " + dir_ + " --daemonize no"));
    BackgroundCommand* r = redis_.back().get();
    const std::string ping = redis_cli(sb().stack_ip4(), port, 5) + " PING";
    EXPECT_TRUE(
        wait_until([&] { return r->running() && trim(sb().in_peer(ping).output) == "PONG"; }, 20s, 100ms))
        << "redis-server does not answer PING on " << sb().stack_ip4() << ":" << port << "\n"
        << r->output();
    return r;
  }

  // kProbes PINGs from the peer, each on a connection of its own; how many got PONG.
  int redis_pings(int port, std::string* output) {
    const CommandResult r = sb().in_peer(
        "f=0; for i in $(seq " + std::to_string(kProbes) + "); do " + redis_cli(sb().stack_ip4(), port, 3) +
        " PING || f=$((f+1)); [ $f -ge 4 ] && echo 'probes stopped after 4 failures' && break; done; true");
    *output = r.output;
    int ok = 0;
    std::istringstream in(r.output);
    for (std::string l; std::getline(in, l);) ok += trim(l) == "PONG" ? 1 : 0;
    return ok;
  }

  std::unique_ptr<Sandbox> sb_;
  std::string dir_;
  std::set<pid_t> nginx_pids_;  // every nginx master and worker seen, for TearDown
  std::vector<std::unique_ptr<BackgroundCommand>> redis_;
};

// nginx with two prefork workers: each takes one RX queue (XDPTCP_QUEUES=auto) and serves the
// connections that arrive on it, with the default listener and with `reuseport` (a listener per
// worker).
TEST_F(PreloadMultiProc, Nginx_TwoWorkers_EachServesItsQueue) {
  if (const std::string m = first_missing({"nginx", "wrk"}); !m.empty())
    GTEST_SKIP() << m << " is not installed";
  ASSERT_NO_FATAL_FAILURE(bring_up("mpnw"));
  struct Config {
    const char* name;
    const char* listen_extra;
    const char* events_extra;
  };
  // `accept_mutex on` has its own test below.
  for (const Config& cfg : {Config{"default", "", ""}, Config{"reuseport", " reuseport", ""}}) {
    SCOPED_TRACE(cfg.name);
    Nginx n;
    ASSERT_NO_FATAL_FAILURE(start_nginx(n, std::string("nw-") + cfg.name, kWorkersPort, 2, cfg.listen_extra,
                                        cfg.events_extra, ""));
    const std::vector<pid_t> workers = workers_of(n);
    std::string owners;
    EXPECT_TRUE(wait_owned_by(workers, 5s, &owners))
        << cfg.name << ": queues 0 and 1 should be owned by the workers " << pids_str(workers)
        << ", status: " << owners << diagnostics(n);
    note(std::string(cfg.name) + ": workers " + pids_str(workers) + ", queue owners: " + owners);
    // A worker owns its queue a moment before its rule for the port goes in (after a census of the
    // kernel's connections): a client connected in between is the kernel's for its whole life.
    std::string rules_now;
    EXPECT_TRUE(wait_until(
        [&] {
          const std::vector<Owner> r = rules();
          rules_now = describe(r);
          return std::all_of(workers.begin(), workers.end(), [&](pid_t w) {
            // Its two ephemeral-range rules (IPv4, IPv6: at start) and the port's.
            return std::count_if(r.begin(), r.end(), [&](const Owner& o) { return o.pid == w; }) >= 3;
          });
        },
        5s, 50ms))
        << "the workers' rules for the port: " << rules_now;

    const std::string url = url_of(sb().stack_ip4(), kWorkersPort, "/f64");
    std::string stats_before;
    const long long redirected = counter("redirected", &stats_before);
    std::uint64_t served = 0;
    for (const bool close : {false, true}) {
      const std::string what = std::string(cfg.name) + (close ? ", Connection: close" : ", keep-alive");
      const std::size_t from = file_size(n.access_log);
      const CommandResult r = wrk(url, close, "3s");
      EXPECT_TRUE(r.ok()) << what << ": " << r.output;
      expect_wrk_ok(r.output, close ? 1000 : 3000, "wrk " + what, n);
      const WrkSummary w = parse_wrk(r.output);
      served += w.requests;
      const AccessCounts c = count_access(n.access_log, from);
      note("wrk " + what + ": " + lines_with(r.output, "requests in") + "; access log: " + describe(c));
      EXPECT_EQ(c.non_2xx, 0u) << what << ": " << describe(c);
      EXPECT_GE(c.lines + kWrkConnections, w.requests) << what << ": the access log misses requests";
      for (const pid_t p : workers) {
        const std::uint64_t mine = c.by_pid.contains(p) ? c.by_pid.at(p) : 0;
        EXPECT_GE(mine * 10, c.lines) << what << ": worker " << p << " served " << mine << " of " << c.lines
                                      << " requests (< 10%): " << describe(c) << diagnostics(n);
      }
      for (const auto& [pid, count] : c.by_pid) {
        EXPECT_NE(std::find(workers.begin(), workers.end(), pid), workers.end())
            << what << ": pid " << pid << " (not a worker) served " << count;
      }
    }
    std::string stats;
    const long long grew = counter("redirected", &stats) - redirected;
    note(std::string(cfg.name) + ": redirected grew by " + std::to_string(grew) + "; " + counters());
    EXPECT_GE(grew, static_cast<long long>(served))
        << "fewer frames went to AF_XDP than requests were served\nbefore: " << stats_before
        << "\nafter: " << stats;
    EXPECT_EQ(workers_of(n), workers) << "a worker died and was replaced" << diagnostics(n);
    std::string now;
    EXPECT_TRUE(wait_owned_by(workers, 1s, &now)) << "the owners changed under load: " << now;

    // Stopped: its queue records and rules are gone.
    ASSERT_NO_FATAL_FAILURE(stop_nginx(n));
    std::string left;
    EXPECT_TRUE(wait_until(
        [&] {
          const std::vector<Owner> s = sockets();
          const std::vector<Owner> r = rules();
          left = "sockets: " + describe(s) + "; rules: " + describe(r);
          return s.empty() && std::none_of(r.begin(), r.end(), [&](const Owner& o) {
                   return std::find(workers.begin(), workers.end(), o.pid) != workers.end();
                 });
        },
        5s, 100ms))
        << cfg.name << ": after nginx stopped, status still shows " << left;
  }
}

// `accept_mutex on`: the workers take turns at accepting, and the mutex holder would never hear of
// connections that reached another worker's stack. Each worker notices the turns (its listener
// leaves its epoll set and comes back), says so, and gives its stack side of the listener up: new
// connections go to the kernel's shared listener (the stack's rule drains), served by both workers
// with no error. After a warm-up (the switch resets what the workers' stacks had not accepted yet),
// no client error at all.
TEST_F(PreloadMultiProc, Nginx_AcceptMutexOn_KernelTakesNewConnectionsNoErrors) {
  if (const std::string m = first_missing({"nginx", "wrk"}); !m.empty())
    GTEST_SKIP() << m << " is not installed";
  ASSERT_NO_FATAL_FAILURE(bring_up("mpam"));
  Nginx n;
  ASSERT_NO_FATAL_FAILURE(start_nginx(n, "mutex", kWorkersPort, 2, "", "accept_mutex on;", ""));
  const std::vector<pid_t> workers = workers_of(n);
  const std::string url = url_of(sb().stack_ip4(), kWorkersPort, "/f64");
  // Warm-up until both workers have switched (each says so once; the turns begin under load).
  auto switched = [&] {
    const std::string log = read_file(n.error_log);
    std::size_t count = 0;
    for (std::size_t at = log.find("takes turns at accepting"); at != std::string::npos;
         at = log.find("takes turns at accepting", at + 1)) {
      ++count;
    }
    return count >= workers.size();
  };
  for (int i = 0; i < 10 && !switched(); ++i) (void)wrk(url, i % 2 == 0, "1s");
  EXPECT_TRUE(switched()) << "the workers did not both say they switched" << diagnostics(n);
  for (const bool close : {false, true}) {
    const std::string what = close ? "accept_mutex, Connection: close" : "accept_mutex, keep-alive";
    const std::size_t from = file_size(n.access_log);
    const CommandResult r = wrk(url, close, "3s");
    EXPECT_TRUE(r.ok()) << what << ": " << r.output;
    expect_wrk_ok(r.output, close ? 1000 : 3000, "wrk " + what, n);
    const AccessCounts c = count_access(n.access_log, from);
    note("wrk " + what + ": " + lines_with(r.output, "requests in") + "; access log: " + describe(c));
    EXPECT_EQ(c.non_2xx, 0u) << what << ": " << describe(c);
    // Which worker serves is the mutex's choice (a busy holder keeps winning, on the kernel alone
    // too): only that every request was served by a worker is checked.
    for (const auto& [pid, count] : c.by_pid) {
      EXPECT_NE(std::find(workers.begin(), workers.end(), pid), workers.end())
          << what << ": pid " << pid << " (not a worker) served " << count;
    }
  }
  EXPECT_EQ(workers_of(n), workers) << "a worker died and was replaced" << diagnostics(n);
  ASSERT_NO_FATAL_FAILURE(stop_nginx(n));
}

// `nginx -s reload` under load: the new workers start while the old ones hold both queues (the kernel
// serves them meanwhile), the old ones drain and exit, and the new ones take the queues.
TEST_F(PreloadMultiProc, Nginx_Reload_NewWorkersTakeTheQueues) {
  if (const std::string m = first_missing({"nginx", "wrk"}); !m.empty())
    GTEST_SKIP() << m << " is not installed";
  ASSERT_NO_FATAL_FAILURE(bring_up("mprl"));
  Nginx n;
  ASSERT_NO_FATAL_FAILURE(start_nginx(n, "reload", kReloadPort, 2, "", "", ""));
  const std::vector<pid_t> old = workers_of(n);
  std::string owners;
  ASSERT_TRUE(wait_owned_by(old, 5s, &owners)) << "queues 0 and 1 should be owned by the workers "
                                               << pids_str(old) << ", status: " << owners << diagnostics(n);
  note("before the reload: workers " + pids_str(old) + ", queue owners: " + owners);

  const std::string url = url_of(sb().stack_ip4(), kReloadPort, "/f64");
  const std::string before = counters();
  BackgroundCommand load(wrk_background(url, true, "8s"));
  std::this_thread::sleep_for(2s);
  ASSERT_TRUE(load.running()) << load.output();
  const CommandResult reload =
      run(tool_path("nginx") + " -e " + n.error_log + " -c " + n.conf + " -s reload");
  ASSERT_TRUE(reload.ok()) << reload.output << diagnostics(n);
  const auto t_reload = std::chrono::steady_clock::now();
  const auto ms_since = [](std::chrono::steady_clock::time_point t) {
    return std::to_string(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t).count());
  };

  const bool old_gone = wait_until(
      [&] { return std::none_of(old.begin(), old.end(), [](pid_t p) { return alive(p, "nginx"); }); }, 15s,
      20ms);
  EXPECT_TRUE(old_gone) << "the old workers " << pids_str(old) << " did not exit within 15 s of the reload"
                        << diagnostics(n);
  const auto t_exit = std::chrono::steady_clock::now();
  note(old_gone ? "old workers gone " + ms_since(t_reload) + " ms after the reload"
                : "old workers " + pids_str(old) + " still running 15 s after the reload");
  std::vector<pid_t> fresh;
  EXPECT_TRUE(wait_until(
      [&] {
        fresh.clear();
        for (const pid_t p : workers_of(n)) {
          if (std::find(old.begin(), old.end(), p) == old.end()) fresh.push_back(p);
        }
        return fresh.size() == 2;
      },
      5s))
      << "new workers: " << pids_str(fresh) << diagnostics(n);
  EXPECT_TRUE(wait_owned_by(fresh, 5s, &owners))
      << "5 s after the old workers " << pids_str(old)
      << " exited, queues 0 and 1 should be owned by the new "
      << "workers " << pids_str(fresh) << "; status: " << owners << diagnostics(n);
  note("new workers " + pids_str(fresh) + " own the queues " + ms_since(t_exit) +
       " ms after the old ones exited: " + owners);

  EXPECT_NE(load.wait(40s), -1) << "wrk did not finish";
  const std::string after = counters();
  const WrkSummary w = parse_wrk(load.output());
  note("wrk across the reload: " + lines_with(load.output(), "requests in") + "; errors: " + wrk_errors(w));
  note("counters before: " + before);
  note("counters after:  " + after);
  EXPECT_TRUE(w.parsed) << load.output();
  EXPECT_GT(w.requests, 1000u) << load.output();
  // Each old worker's stack has its own accept queue (the kernel's nginx shares one listening
  // socket, whose queue the new workers inherit): the connections that completed their handshake
  // in an old worker's stack but were not accepted yet when it closed its listeners are reset, at
  // most one per client connection in flight (docs/PRELOAD.md, "Several processes"). Everything
  // else must be clean: no connect error, no timeout, no non-2xx, and connections the old workers
  // had accepted finish (draining; a reset of those would show as many more read errors).
  EXPECT_TRUE(w.connect_errors == 0 && w.timeouts == 0 && !w.non_2xx &&
              w.read_errors + w.write_errors <= static_cast<std::uint64_t>(kWrkConnections))
      << "wrk across nginx -s reload: " << wrk_errors(w) << "\n"
      << load.output() << "\ncounters before: " << before << "\ncounters after:  " << after << diagnostics(n);

  // New requests: the new workers serve them, through the stack.
  const std::size_t from = file_size(n.access_log);
  const long long redirected = counter("redirected");
  std::string out;
  EXPECT_EQ(curl_probes(url, &out), kProbes) << out << diagnostics(n);
  const long long grew = counter("redirected") - redirected;
  const AccessCounts c = count_access(n.access_log, from);
  note("after the reload: " + describe(c) + "; redirected grew by " + std::to_string(grew));
  EXPECT_EQ(c.lines, static_cast<std::uint64_t>(kProbes))
      << describe(c) << "\n-- access log (pid status port):\n"
      << tail(read_file(n.access_log).substr(std::min(from, file_size(n.access_log))), 80) << "\n-- curl:\n"
      << out;
  for (const auto& [pid, count] : c.by_pid) {
    EXPECT_NE(std::find(fresh.begin(), fresh.end(), pid), fresh.end())
        << "pid " << pid << " (not a new worker " << pids_str(fresh) << ") served " << count;
  }
  EXPECT_GE(grew, 3 * kProbes) << "the requests after the reload did not go through xdptcp: " << counters();
}

// nginx on queue 0 and redis-server on queue 1 of one interface: both serve; kill -9 of either under
// load of the other leaves the other undisturbed, frees the queue, and a restart takes it again.
TEST_F(PreloadMultiProc, TwoApps_NginxAndRedis_Kill9OneOtherUndisturbed) {
  if (const std::string m = first_missing({"nginx", "wrk", "redis-server", "redis-cli", "redis-benchmark"});
      !m.empty()) {
    GTEST_SKIP() << m << " is not installed";
  }
  ASSERT_NO_FATAL_FAILURE(bring_up("mpkr"));
  const std::string ip = sb().stack_ip4();
  const std::string url = url_of(ip, kTwoAppsNginxPort, "/f64");
  const std::string cli = redis_cli(ip, kTwoAppsRedisPort);
  const std::string bench = "timeout 60 redis-benchmark -h " + ip + " -p " +
                            std::to_string(kTwoAppsRedisPort) + " -q -t set,get -r 100000 -n ";

  Nginx n1;
  ASSERT_NO_FATAL_FAILURE(start_nginx(n1, "nginx-1", kTwoAppsNginxPort, 1, "", "", "0"));
  BackgroundCommand* redis = start_redis(kTwoAppsRedisPort, "1");
  ASSERT_FALSE(HasFailure());
  std::vector<pid_t> w1 = workers_of(n1);
  ASSERT_EQ(w1.size(), 1u);
  std::string owners;
  ASSERT_TRUE(wait_owners({{0, w1[0]}, {1, redis->pid()}}, 5s, &owners))
      << "queue 0 should be the nginx worker's (" << w1[0] << "), queue 1 redis-server's (" << redis->pid()
      << "); status: " << owners << diagnostics(n1) << "\n-- redis:\n"
      << tail(redis->output());
  note("queue owners: " + owners);

  // Both serve.
  {
    const long long redirected = counter("redirected");
    const CommandResult r = wrk(url, false, "3s");
    EXPECT_TRUE(r.ok()) << r.output;
    expect_wrk_ok(r.output, 3000, "wrk keep-alive on nginx", n1);
    note("wrk on nginx: " + lines_with(r.output, "requests in"));
    const CommandResult b = sb().in_peer(bench + "20000");
    EXPECT_TRUE(b.ok()) << b.output;
    expect_benchmark_clean(b.output, {"SET", "GET"}, "redis-benchmark\n" + tail(redis->output()));
    note("redis-benchmark: " + lines_with(b.output, "requests per second"));
    // A few values written and read back.
    std::mt19937_64 rng(std::random_device{}());
    std::string sets, gets, want;
    for (int i = 0; i < 20; ++i) {
      std::string v;
      for (std::size_t k = 0, len = 1 + rng() % 300; k < len; ++k) v += static_cast<char>('a' + rng() % 26);
      sets += "SET mp:k:" + std::to_string(i) + " " + v + "\n";
      gets += "GET mp:k:" + std::to_string(i) + "\n";
      want += v + "\n";
    }
    ASSERT_TRUE(write_file(path("set.txt"), sets));
    ASSERT_TRUE(write_file(path("get.txt"), gets));
    const CommandResult s = sb().in_peer(cli + " < " + path("set.txt"));
    EXPECT_TRUE(s.ok()) << s.output;
    const CommandResult g = sb().in_peer(cli + " < " + path("get.txt"));
    EXPECT_TRUE(g.ok()) << g.output;
    EXPECT_EQ(g.output, want) << "values read back from redis differ";
    EXPECT_GT(counter("redirected") - redirected, 20000) << counters();
  }

  // kill -9 redis under wrk on nginx.
  {
    BackgroundCommand load(wrk_background(url, false, "6s"));
    std::this_thread::sleep_for(1s);
    ASSERT_TRUE(load.running()) << load.output();
    EXPECT_EQ(redis->stop(SIGKILL, 5s), 128 + SIGKILL) << tail(redis->output());
    std::string s;
    EXPECT_TRUE(wait_until(
        [&] {
          s = describe(sockets());
          return queue_free(1);
        },
        3s, 50ms))
        << "queue 1 still has a live owner after kill -9 of redis: " << s;
    note("after kill -9 of redis: " + s);
    expect_refused_at_once(sb(), kTwoAppsRedisPort, {ip});
    EXPECT_TRUE(load.running()) << "wrk ended early: " << load.output();
    // A new redis takes queue 1 again (while nginx is under load).
    redis = start_redis(kTwoAppsRedisPort, "1");
    EXPECT_TRUE(wait_owners({{0, w1[0]}, {1, redis->pid()}}, 5s, &owners))
        << "the restarted redis-server (" << redis->pid() << ") should own queue 1; status: " << owners
        << "\n"
        << tail(redis->output());
    note("restarted redis: " + owners);
    EXPECT_NE(load.wait(40s), -1) << "wrk did not finish";
    expect_wrk_ok(load.output(), 3000, "wrk on nginx while redis was killed", n1);
    note("wrk on nginx across kill -9 of redis: " + lines_with(load.output(), "requests in"));
    // PING through the stack: half the connections land on queue 1, the restarted redis's.
    const long long redirected = counter("redirected");
    std::string out;
    EXPECT_EQ(redis_pings(kTwoAppsRedisPort, &out), kProbes) << out << "\n" << tail(redis->output());
    EXPECT_GT(counter("redirected"), redirected) << "no PING went through xdptcp: " << counters();
  }

  // kill -9 nginx under redis-benchmark.
  {
    BackgroundCommand load(in_netns(sb().peer_ns(), "exec " + bench + "200000"));
    std::this_thread::sleep_for(1s);
    ASSERT_TRUE(load.running()) << load.output();
    ASSERT_NO_FATAL_FAILURE(kill9_nginx(n1));
    std::string s;
    EXPECT_TRUE(wait_until(
        [&] {
          s = describe(sockets());
          return queue_free(0);
        },
        3s, 50ms))
        << "queue 0 still has a live owner after kill -9 of nginx: " << s;
    note("after kill -9 of nginx: " + s);
    expect_refused_at_once(sb(), kTwoAppsNginxPort, {ip});
    const bool under_load = load.running();
    // A new nginx takes queue 0 again.
    Nginx n2;
    ASSERT_NO_FATAL_FAILURE(start_nginx(n2, "nginx-2", kTwoAppsNginxPort, 1, "", "", "0"));
    const std::vector<pid_t> w2 = workers_of(n2);
    ASSERT_EQ(w2.size(), 1u);
    EXPECT_TRUE(wait_owners({{0, w2[0]}, {1, redis->pid()}}, 5s, &owners))
        << "the restarted nginx's worker (" << w2[0] << ") should own queue 0; status: " << owners
        << diagnostics(n2);
    note("restarted nginx: " + owners);
    EXPECT_EQ(load.wait(60s), 0) << load.output();
    EXPECT_TRUE(under_load) << "redis-benchmark ended before the checks after kill -9:\n" << load.output();
    expect_benchmark_clean(load.output(), {"SET", "GET"},
                           "redis-benchmark across kill -9 of nginx\n" + tail(redis->output()));
    note("redis-benchmark across kill -9 of nginx: " + lines_with(load.output(), "requests per second"));
    EXPECT_TRUE(redis->running()) << tail(redis->output());
    // curl through the stack: half the connections land on queue 0, the new worker's.
    const std::size_t from = file_size(n2.access_log);
    const long long redirected = counter("redirected");
    std::string out;
    EXPECT_EQ(curl_probes(url, &out), kProbes) << out << diagnostics(n2);
    EXPECT_GT(counter("redirected"), redirected) << "no request went through xdptcp: " << counters();
    const AccessCounts c = count_access(n2.access_log, from);
    EXPECT_EQ(c.lines, static_cast<std::uint64_t>(kProbes)) << describe(c);
    EXPECT_EQ(c.by_pid.size(), 1u) << describe(c);
    EXPECT_TRUE(c.by_pid.contains(w2[0])) << describe(c);
  }
}

}  // namespace
}  // namespace xdptcp::test::preload_multiproc
