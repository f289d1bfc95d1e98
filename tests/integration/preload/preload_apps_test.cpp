// Unmodified applications on the stack (issue 9): Debian's nginx and redis-server, run through
// xdptcp-run (LD_PRELOAD=libxdptcp-preload.so) on a sandbox veth, serve unmodified kernel clients in
// the peer namespace:
//   - nginx (one worker, daemon, sendfile, tcp_nopush): curl over IPv4 and IPv6 (64-byte and 1 MiB
//     files, byte-exact), wrk with keep-alive and with "Connection: close", ab; loopback through the
//     kernel's side of the hybrid listener; the steering program's counters prove that the traffic
//     went through xdptcp (a silent fallback to the kernel cannot pass);
//   - redis-server: redis-benchmark (set, get, incr, lpush), 1000 random values written and read back,
//     BGSAVE (a forked child that inherits the stack's sockets) while redis-benchmark runs; loopback;
//   - kill -9 of the application under load: its port answers from the kernel at once (connection
//     refused, not silence) and a kernel listener started afterwards on the port serves the peer.
//
// Needs root, the built xdptcp-run, libxdptcp-preload.so and xdptcp-ctl, and nginx / redis-server
// (each test skips, saying what is missing). Each test brings up its own sandbox (pa*, --subnet auto),
// works in its own /tmp directory, and stops every process it started in TearDown, even on failure.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/types.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iostream>
#include <memory>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "integration/preload/preload_test_util.h"
#include "support/netns/netns_util.h"

namespace xdptcp::test::preload_apps {
namespace {

using namespace std::chrono_literals;
using namespace xdptcp::test::preload;  // NOLINT: the shared helpers
namespace fs = std::filesystem;

// Ports of their own for every test (other tests, and other people's servers, use the usual ones): the
// application's kernel socket holds the port in the ROOT namespace, shared with every sandbox.
constexpr int kNginxPort = 18080;
constexpr int kNginxKillPort = 18081;
constexpr int kRedisPort = 16380;
constexpr int kRedisKillPort = 16381;

constexpr int kValues = 1000;  // random values written to redis and read back

class PreloadApps : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!is_root()) GTEST_SKIP() << "needs root: network namespaces, XDP and AF_XDP";
    for (const std::string exe : {"xdptcp-run", "xdptcp-ctl", "../lib/libxdptcp-preload.so"}) {
      if (!fs::exists(bin_path(exe))) GTEST_SKIP() << bin_path(exe) << " is not built";
    }
    if (const std::string m = first_missing({"curl", "timeout", "python3"}); !m.empty()) {
      GTEST_SKIP() << m << " is not installed";
    }
    char tmpl[] = "/tmp/xdptcp-preload-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr) << std::strerror(errno);
    dir_ = tmpl;
  }

  void TearDown() override {
    stop_servers();
    sb_.reset();  // takes the sandbox down
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }

  // The test's own sandbox (a free subnet); fatal failure when it does not come up.
  void bring_up(const std::string& name) {
    sb_ =
        std::make_unique<Sandbox>(Sandbox::Options{.name = name, .queues = 2, .router = false, .subnet = -1});
    const CommandResult up = sb_->up();
    ASSERT_TRUE(up.ok()) << up.output;
    ASSERT_FALSE(sb_->iface().empty()) << "the sandbox did not come up: " << sb_->status().output;
    ASSERT_FALSE(sb_->stack_ip4().empty()) << sb_->status_env().output;
    ASSERT_FALSE(sb_->stack_ip6().empty()) << sb_->status_env().output;
  }
  Sandbox& sb() { return *sb_; }

  std::string path(const std::string& name) const { return dir_ + "/" + name; }

  // www/f64 and www/f1m: random bytes, served by nginx (and by python's http.server afterwards).
  void make_www() {
    fs::create_directories(path("www"));
    for (const auto& [name, size] : {std::pair<const char*, const char*>{"f64", "64"}, {"f1m", "1M"}}) {
      const CommandResult r = run("head -c " + std::string(size) + " /dev/urandom > " + path("www/") + name);
      ASSERT_TRUE(r.ok()) << r.output;
    }
  }

  // curl from the peer namespace into `out`: the HTTP status (curl's exit code on failure).
  CommandResult peer_curl(const std::string& url, const std::string& out) {
    return sb().in_peer("timeout 30 curl -sS -g -m 20 -o " + shell_quote(out) + " -w '%{http_code}' " +
                        shell_quote(url));
  }
  bool peer_http_ok(const std::string& url) {
    const CommandResult r =
        sb().in_peer("timeout 5 curl -s -g -m 2 -o /dev/null -w '%{http_code}' " + shell_quote(url));
    return r.ok() && r.output == "200";
  }

  // `got` has exactly the bytes of `want`.
  static void expect_same_bytes(const std::string& got, const std::string& want, const std::string& what) {
    const std::string g = read_file(got);
    const std::string w = read_file(want);
    EXPECT_EQ(g.size(), w.size()) << what;
    EXPECT_TRUE(g == w) << what << ": the body differs from " << want;
  }

  // The steering program's counter `name` on the sandbox's interface (-1 when it cannot be read).
  long long steer_counter(const std::string& name, std::string* output = nullptr) {
    return preload::steer_counter(sb().iface(), name, output);
  }

  std::string xdptcp_run() { return bin_path("xdptcp-run") + " --iface " + sb().iface() + " -- "; }

  // ---- nginx: a daemon (master and one worker) that the test reaches by pid ----

  // Starts nginx on `port` (IPv4 and IPv6) through xdptcp-run and waits until it serves www/f64 to
  // the peer over the stack's IPv4 address.
  void start_nginx(int port) {
    ASSERT_NO_FATAL_FAILURE(make_www());
    const std::string conf = path("nginx.conf");
    std::ostringstream c;
    c << "user root; worker_processes 1; daemon on; master_process on;\n"
      << "pid " << path("nginx.pid") << "; error_log " << path("error.log") << " info;\n"
      << "events { worker_connections 4096; }\n"
      << "http { sendfile on; tcp_nopush on; access_log off; keepalive_requests 100000;\n"
      << "  server { listen " << port << "; listen [::]:" << port << "; root " << path("www") << "; } }\n";
    ASSERT_TRUE(write_file(conf, c.str()));
    const CommandResult r = run(xdptcp_run() + tool_path("nginx") + " -e " + path("error.log") + " -c " +
                                conf + " > " + path("nginx.out") + " 2>&1 < /dev/null");
    ASSERT_TRUE(r.ok()) << r.output << nginx_diagnostics();
    ASSERT_TRUE(wait_until(
        [&] {
          nginx_master_ = static_cast<pid_t>(std::atol(read_file(path("nginx.pid")).c_str()));
          return alive(nginx_master_, "nginx");
        },
        10s))
        << "no nginx master in " << path("nginx.pid") << nginx_diagnostics();
    const std::string url = url_of(sb().stack_ip4(), port, "/f64");
    ASSERT_TRUE(wait_until([&] { return peer_http_ok(url); }, 30s, 200ms))
        << url << " does not answer 200" << nginx_diagnostics();
    nginx_workers_ = children_of(nginx_master_);
    ASSERT_EQ(nginx_workers_.size(), 1u) << "worker_processes 1" << nginx_diagnostics();
  }

  std::string nginx_diagnostics() {
    return "\n-- nginx output:\n" + read_file(path("nginx.out")) + "\n-- error.log (tail):\n" +
           tail(read_file(path("error.log")));
  }

  // ---- redis-server: a child of the test (xdptcp-run execs it) ----

  // Starts redis-server on `port` (the stack's IPv4 address and loopback) and waits for PING.
  void start_redis(int port) {
    redis_ = std::make_unique<BackgroundCommand>("exec " + xdptcp_run() + tool_path("redis-server") +
                                                 " --port " + std::to_string(port) + " --bind " +
                                                 shell_quote(sb().stack_ip4() + " 127.0.0.1") +
                                                 " --protected-mode no --dir " + dir_ + " --daemonize no");
    const std::string ping = redis_cli(sb().stack_ip4(), port, 5) + " PING";
    ASSERT_TRUE(wait_until([&] { return redis_->running() && trim(sb().in_peer(ping).output) == "PONG"; },
                           30s, 200ms))
        << "redis-server does not answer PING on " << sb().stack_ip4() << ":" << port << "\n"
        << redis_->output();
  }

  // ---- kill -9: the port is the kernel's again ----

  // From the peer, the port is refused at once (RST from the kernel, curl exit 7) over IPv4 and IPv6,
  // never left unanswered (exit 28).
  void expect_refused_at_once(int port) {
    preload::expect_refused_at_once(sb(), port, {sb().stack_ip4(), sb().stack_ip6()});
  }

  // A kernel listener (python's http.server) started on the port serves the peer: the steering no
  // longer captures the port.
  void expect_kernel_listener_serves(int port) {
    if (!fs::exists(path("www/f64"))) {
      ASSERT_NO_FATAL_FAILURE(make_www());
    }
    BackgroundCommand kernel("exec " + tool_path("python3") + " -u -m http.server " + std::to_string(port) +
                             " --bind " + sb().stack_ip4() + " --directory " + path("www"));
    ASSERT_TRUE(kernel.wait_for_output("Serving HTTP", 15s)) << kernel.output();
    const std::string url = url_of(sb().stack_ip4(), port, "/f64");
    const long long redirected = steer_counter("redirected");
    EXPECT_TRUE(wait_until([&] { return peer_http_ok(url); }, 5s, 100ms))
        << "the kernel's listener on port " << port << " does not serve the peer\n"
        << kernel.output();
    const CommandResult r = peer_curl(url, path("kernel-f64"));
    EXPECT_EQ(r.output, "200") << r.output;
    expect_same_bytes(path("kernel-f64"), path("www/f64"), "the kernel's listener");
    std::string stats;
    EXPECT_EQ(steer_counter("redirected", &stats), redirected)
        << "frames of the port still went to AF_XDP after the application died:\n"
        << stats;
  }

  // Every process this test started: redis (its process group), nginx's master and workers (SIGTERM,
  // then SIGKILL after 5 s).
  void stop_servers() {
    if (redis_) {
      (void)redis_->stop(SIGTERM, 5s);
      redis_.reset();
    }
    if (nginx_master_ > 0) {
      std::vector<pid_t> pids = nginx_workers_;
      if (alive(nginx_master_, "nginx")) {
        for (const pid_t p : children_of(nginx_master_)) pids.push_back(p);
        ::kill(nginx_master_, SIGTERM);
      }
      pids.push_back(nginx_master_);
      const auto all_gone = [&] {
        return std::none_of(pids.begin(), pids.end(), [](pid_t p) { return alive(p, "nginx"); });
      };
      if (!wait_until(all_gone, 5s, 50ms)) {
        for (const pid_t p : pids) {
          if (alive(p, "nginx")) ::kill(p, SIGKILL);
        }
        (void)wait_until(all_gone, 3s, 50ms);
      }
      nginx_master_ = -1;
      nginx_workers_.clear();
    }
  }

  std::unique_ptr<Sandbox> sb_;
  std::string dir_;
  pid_t nginx_master_ = -1;
  std::vector<pid_t> nginx_workers_;
  std::unique_ptr<BackgroundCommand> redis_;
};

// nginx on the stack: byte-exact bodies over IPv4 and IPv6 (64 bytes, and 1 MiB through sendfile),
// wrk with keep-alive and with a connection per request, ab; loopback still served by the kernel; and
// the frames really went through xdptcp.
TEST_F(PreloadApps, Nginx_CurlWrkAbLoopback_OverTheStack) {
  if (const std::string m = first_missing({"nginx", "wrk", "ab"}); !m.empty()) {
    GTEST_SKIP() << m << " is not installed";
  }
  ASSERT_NO_FATAL_FAILURE(bring_up("pang"));
  ASSERT_NO_FATAL_FAILURE(start_nginx(kNginxPort));

  for (const std::string& ip : {sb().stack_ip4(), sb().stack_ip6()}) {
    for (const std::string file : {"f64", "f1m"}) {
      const std::string url = url_of(ip, kNginxPort, "/" + file);
      const std::string got = path("got-" + file);
      const CommandResult r = peer_curl(url, got);
      EXPECT_EQ(r.output, "200") << url << " (exit " << r.exit_code << ")" << nginx_diagnostics();
      expect_same_bytes(got, path("www/" + file), url);
    }
  }

  const std::string url = url_of(sb().stack_ip4(), kNginxPort, "/f64");
  for (const auto& [extra, min] :
       {std::pair<std::string, std::uint64_t>{"", 300}, {"-H 'Connection: close' ", 200}}) {
    const CommandResult r = sb().in_peer("timeout 30 wrk -t 1 -c 64 -d 2s --timeout 3s " + extra + url);
    ASSERT_TRUE(r.ok()) << r.output;
    expect_wrk_clean(r.output, min, "wrk " + extra + url + nginx_diagnostics());
    note("wrk " + extra + ": " + lines_with(r.output, "requests in") + ", " +
         lines_with(r.output, "Requests/sec"));
  }

  const CommandResult ab = sb().in_peer("timeout 90 ab -q -n 2000 -c 32 -s 10 " + url);
  EXPECT_TRUE(ab.ok()) << ab.output;
  note("ab: " + lines_with(ab.output, "Requests per second"));
  EXPECT_NE(ab.output.find("Complete requests:      2000"), std::string::npos) << ab.output;
  EXPECT_NE(ab.output.find("Failed requests:        0"), std::string::npos) << ab.output;
  EXPECT_EQ(ab.output.find("Non-2xx responses"), std::string::npos) << ab.output;

  // At least a frame per ab connection went to the AF_XDP sockets (each has several): nginx did not
  // silently serve the peer from the kernel.
  std::string stats;
  const long long redirected = steer_counter("redirected", &stats);
  EXPECT_GE(redirected, 2000) << stats;
  note("frames redirected to xdptcp: " + std::to_string(redirected));

  // Loopback goes to nginx's own kernel socket.
  const CommandResult lo = run("timeout 20 curl -sS -m 15 -o " + path("got-lo") + " -w '%{http_code}' " +
                               url_of("127.0.0.1", kNginxPort, "/f1m"));
  EXPECT_EQ(lo.output, "200") << "exit " << lo.exit_code;
  expect_same_bytes(path("got-lo"), path("www/f1m"), "loopback");

  // The worker never crashed (the master would have replaced it).
  EXPECT_TRUE(alive(nginx_master_, "nginx")) << nginx_diagnostics();
  EXPECT_EQ(children_of(nginx_master_), nginx_workers_) << nginx_diagnostics();
}

// redis-server on the stack: redis-benchmark, 1000 random values written and read back, BGSAVE while
// redis-benchmark runs (the child inherits the stack's sockets and must leave them alone), loopback.
TEST_F(PreloadApps, Redis_BenchmarkValuesBgsaveLoopback_OverTheStack) {
  if (const std::string m = first_missing({"redis-server", "redis-cli", "redis-benchmark"}); !m.empty()) {
    GTEST_SKIP() << m << " is not installed";
  }
  ASSERT_NO_FATAL_FAILURE(bring_up("parb"));
  ASSERT_NO_FATAL_FAILURE(start_redis(kRedisPort));
  const std::string ip = sb().stack_ip4();
  const std::string cli = redis_cli(ip, kRedisPort);

  const CommandResult bench =
      sb().in_peer("timeout 150 redis-benchmark -h " + ip + " -p " + std::to_string(kRedisPort) +
                   " -t set,get,incr,lpush -n 100000 -q");
  EXPECT_TRUE(bench.ok()) << bench.output;
  expect_benchmark_clean(bench.output, {"SET", "GET", "INCR", "LPUSH"},
                         "redis-benchmark\n" + tail(redis_->output()));
  note("redis-benchmark: " + lines_with(bench.output, "requests per second"));

  // 1000 random values (every 100th one 100 kB) through redis-cli --pipe, then read back with GETs.
  const auto seed = std::random_device{}();
  std::mt19937_64 rng(seed);
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_.";
  std::vector<std::string> values(kValues);
  std::string resp, gets;
  for (int i = 0; i < kValues; ++i) {
    const std::size_t len = i % 100 == 0 ? 100000 : 1 + rng() % 2000;
    for (std::size_t k = 0; k < len; ++k) values[i] += kAlphabet[rng() % (sizeof kAlphabet - 1)];
    const std::string key = "pa:k:" + std::to_string(i);
    resp += "*3\r\n$3\r\nSET\r\n$" + std::to_string(key.size()) + "\r\n" + key + "\r\n$" +
            std::to_string(values[i].size()) + "\r\n" + values[i] + "\r\n";
    gets += "GET " + key + "\n";
  }
  ASSERT_TRUE(write_file(path("set.resp"), resp));
  ASSERT_TRUE(write_file(path("get.txt"), gets));
  const CommandResult set = sb().in_peer(cli + " --pipe < " + path("set.resp"));
  EXPECT_TRUE(set.ok()) << set.output;
  EXPECT_NE(set.output.find("errors: 0, replies: " + std::to_string(kValues)), std::string::npos)
      << set.output;
  const CommandResult get = sb().in_peer(cli + " < " + path("get.txt") + " > " + path("got.txt"));
  EXPECT_TRUE(get.ok()) << get.output;
  {
    std::istringstream in(read_file(path("got.txt")));
    int n = 0, wrong = 0;
    for (std::string line; std::getline(in, line); ++n) {
      if (n < kValues && line != values[n] && wrong++ == 0) {
        ADD_FAILURE() << "GET pa:k:" << n << ": " << line.size() << " bytes, expected " << values[n].size()
                      << " (seed " << seed << ")";
      }
    }
    EXPECT_EQ(n, kValues) << "GET replies (seed " << seed << ")";
    EXPECT_EQ(wrong, 0) << "values read back differ (seed " << seed << ")";
  }

  // BGSAVE while redis-benchmark loads the server.
  const std::string saves_before = info_field(sb().in_peer(cli + " INFO persistence").output, "rdb_saves");
  ASSERT_FALSE(saves_before.empty()) << "INFO persistence has no rdb_saves";
  BackgroundCommand load(in_netns(sb().peer_ns(), "exec timeout 150 redis-benchmark -h " + ip + " -p " +
                                                      std::to_string(kRedisPort) +
                                                      " -t set,get,lpush -n 100000 -r 100000 -q"));
  std::this_thread::sleep_for(500ms);  // the load is on
  ASSERT_TRUE(load.running()) << load.output();
  const CommandResult bgsave = sb().in_peer(cli + " BGSAVE");
  EXPECT_TRUE(bgsave.output.find("Background saving started") != std::string::npos ||
              bgsave.output.find("already in progress") != std::string::npos)
      << bgsave.output;
  const bool under_load = load.running();
  std::string info;
  EXPECT_TRUE(wait_until(
      [&] {
        info = sb().in_peer(cli + " INFO persistence").output;
        return info_field(info, "rdb_bgsave_in_progress") == "0" &&
               info_field(info, "rdb_saves") != saves_before;
      },
      60s, 200ms))
      << info << "\n"
      << tail(redis_->output());
  EXPECT_EQ(info_field(info, "rdb_last_bgsave_status"), "ok") << info << "\n" << tail(redis_->output());
  EXPECT_TRUE(under_load) << "redis-benchmark finished before BGSAVE was issued:\n" << load.output();
  EXPECT_EQ(load.wait(150s), 0) << load.output();
  expect_benchmark_clean(load.output(), {"SET", "GET", "LPUSH"}, "redis-benchmark during BGSAVE");
  note("redis-benchmark during BGSAVE: " + lines_with(load.output(), "requests per second"));
  EXPECT_TRUE(fs::exists(path("dump.rdb")));

  // The parent still serves, over the stack and over loopback.
  for (const int i : {1, 7, 100}) {
    const CommandResult r = sb().in_peer(cli + " GET pa:k:" + std::to_string(i));
    EXPECT_TRUE(r.ok() && r.output == values[i] + "\n")
        << "GET pa:k:" << i << " after BGSAVE: " << tail(r.output, 3);
  }
  const std::string lo = redis_cli("127.0.0.1", kRedisPort);
  EXPECT_EQ(trim(run(lo + " PING").output), "PONG");
  const CommandResult r = run(lo + " GET pa:k:3");
  EXPECT_TRUE(r.ok() && r.output == values[3] + "\n") << "loopback GET: " << tail(r.output, 3);

  std::string stats;
  const long long redirected = steer_counter("redirected", &stats);
  EXPECT_GE(redirected, 100000) << stats;
  note("frames redirected to xdptcp: " + std::to_string(redirected));
  EXPECT_TRUE(redis_->running()) << tail(redis_->output());
}

// kill -9 of nginx (master, then worker) under wrk: the port answers from the kernel at once, and a
// kernel listener started afterwards gets the peer's connections.
TEST_F(PreloadApps, Nginx_Kill9UnderLoad_PortBackToKernel) {
  if (const std::string m = first_missing({"nginx", "wrk"}); !m.empty())
    GTEST_SKIP() << m << " is not installed";
  ASSERT_NO_FATAL_FAILURE(bring_up("pakn"));
  ASSERT_NO_FATAL_FAILURE(start_nginx(kNginxKillPort));
  const std::string url = url_of(sb().stack_ip4(), kNginxKillPort, "/f64");
  BackgroundCommand wrk(in_netns(sb().peer_ns(), "exec timeout 30 wrk -t 1 -c 64 -d 3s --timeout 1s " + url));
  std::this_thread::sleep_for(1s);
  ASSERT_TRUE(wrk.running()) << wrk.output();
  // The master first: it would replace a worker killed before it.
  std::vector<pid_t> pids = {nginx_master_};
  for (const pid_t p : children_of(nginx_master_)) pids.push_back(p);
  for (const pid_t p : pids) {
    if (alive(p, "nginx")) {
      EXPECT_EQ(::kill(p, SIGKILL), 0) << std::strerror(errno);
    }
  }
  ASSERT_TRUE(wait_until(
      [&] { return std::none_of(pids.begin(), pids.end(), [](pid_t p) { return alive(p); }); }, 5s, 10ms))
      << "nginx survived kill -9";
  expect_refused_at_once(kNginxKillPort);
  EXPECT_NE(wrk.wait(30s), -1) << "wrk did not finish";
  const WrkSummary w = parse_wrk(wrk.output());
  EXPECT_GT(w.requests, 0u) << "nginx served nothing before kill -9:\n" << wrk.output();
  note("wrk around kill -9: " + std::to_string(w.requests) + " requests");
  ASSERT_NO_FATAL_FAILURE(expect_kernel_listener_serves(kNginxKillPort));
}

// A program that writes a file to a peer, closes and exits at once: the kernel would send what is
// still in the send buffer, and the FIN, after the process ended; the stack does it before the process
// ends (XDPTCP_EXIT_LINGER_MS). 8 MiB leaves megabytes in the auto-tuned send buffer at close: with the
// three engine turns exit() used to take (XDPTCP_EXIT_LINGER_MS=0 still does that), the peer got a
// truncated file. (socat -u lingers 0.5 s after EOF on its own, which hides this on a short link.)
TEST_F(PreloadApps, WritesAFileClosesAndExits_PeerGetsEveryByte) {
  if (const std::string m = first_missing({"socat", "python3"}); !m.empty())
    GTEST_SKIP() << m << " is not installed";
  ASSERT_NO_FATAL_FAILURE(bring_up("pasx"));
  const std::string sent = path("sent.bin");
  const std::string got = path("got.bin");
  ASSERT_TRUE(run("head -c 8M /dev/urandom > " + sent).ok());
  constexpr int kPort = 18090;
  BackgroundCommand sink(
      in_netns(sb().peer_ns(), "exec timeout 30 socat -u TCP4-LISTEN:" + std::to_string(kPort) +
                                   ",reuseaddr OPEN:" + shell_quote(got) + ",creat,trunc"));
  std::this_thread::sleep_for(300ms);
  const std::string py = "import socket; s = socket.create_connection(('" + sb().peer_ip4() + "', " +
                         std::to_string(kPort) + ")); s.sendall(open('" + sent +
                         "', 'rb').read()); s.close()";
  const CommandResult r = run("timeout 30 " + xdptcp_run() + "python3 -c " + shell_quote(py) + " 2>&1");
  EXPECT_TRUE(r.ok()) << r.output;
  EXPECT_EQ(sink.wait(30s), 0) << sink.output();
  expect_same_bytes(got, sent, "the file written through the stack before the writer exited");
}

// kill -9 of redis-server under redis-benchmark: likewise.
TEST_F(PreloadApps, Redis_Kill9UnderLoad_PortBackToKernel) {
  if (const std::string m = first_missing({"redis-server", "redis-cli", "redis-benchmark"}); !m.empty()) {
    GTEST_SKIP() << m << " is not installed";
  }
  ASSERT_NO_FATAL_FAILURE(bring_up("pakr"));
  ASSERT_NO_FATAL_FAILURE(start_redis(kRedisKillPort));
  BackgroundCommand load(in_netns(sb().peer_ns(), "exec timeout 30 redis-benchmark -h " + sb().stack_ip4() +
                                                      " -p " + std::to_string(kRedisKillPort) +
                                                      " -t set,get -n 10000000 -r 100000 -q"));
  std::this_thread::sleep_for(1s);
  ASSERT_TRUE(load.running()) << load.output();
  EXPECT_EQ(redis_->stop(SIGKILL, 5s), 128 + SIGKILL) << tail(redis_->output());
  ASSERT_FALSE(redis_->running());
  expect_refused_at_once(kRedisKillPort);
  load.stop();  // it would try the kernel's listener next
  ASSERT_NO_FATAL_FAILURE(expect_kernel_listener_serves(kRedisKillPort));
}

}  // namespace
}  // namespace xdptcp::test::preload_apps
