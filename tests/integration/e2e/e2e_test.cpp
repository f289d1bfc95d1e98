// End to end on the real kernel: the example programs on the stack (xdptcp-httpd, xdptcp-echo,
// xdptcp-wget) over AF_XDP on a sandbox veth (tools/sandbox.sh), against unmodified kernel clients and
// servers in the peer namespace: curl over IPv4 and IPv6, wrk (keep-alive and Connection: close), ab,
// 100 MB through the echo server (SHA-256 of what came back), the kernel's own services (ping, a TCP
// server on another port) answering while the stack is under load, the port falling back to the
// kernel after kill -9 (design brief §4), two engines sharing the flows (§5), the stack as a client
// of a kernel HTTP server (active opens), the router topology (next hop = gateway), and bytes intact
// over an impaired link (§6: loss, duplication, corruption, reordering, delay).
//
// Needs root and the built tools (<build>/bin). Each test brings up its own sandbox (e2ea..e2ej,
// subnets 100..109: 198.18.200.0/24 and up) and takes it down again, even on failure.
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "integration/e2e/e2e_tools.h"
#include "support/netns/kernel_tcp_server.h"
#include "support/netns/netns_util.h"

namespace xdptcp::test::e2e {
namespace {

using namespace std::chrono_literals;

// Ports: the stack reserves a listening port in the ROOT namespace (a kernel socket bound to it, without
// SO_REUSEADDR), shared with every other sandbox and test there, so every test has its own ports, away
// from the usual 8080/7000: a TIME-WAIT left on a port by one test cannot stop the next from listening.
constexpr int kHttpPortBase = 28000;  // + the test's subnet
constexpr int kEchoPortBase = 27000;
constexpr int kBodySize = 10000;

class E2E : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!is_root()) GTEST_SKIP() << "needs root: network namespaces, XDP and AF_XDP";
    for (const char* exe : {"xdptcp-httpd", "xdptcp-echo", "xdptcp-wget"}) {
      if (!std::filesystem::exists(bin_path(exe))) GTEST_SKIP() << bin_path(exe) << " is not built";
    }
    for (const char* tool : {"curl", "wrk", "ab", "socat", "python3", "ping", "sha256sum"}) {
      if (!run(std::string("command -v ") + tool).ok()) GTEST_SKIP() << tool << " is not installed";
    }
  }

  // The test's own sandbox; the member outlives the servers a test declares, so they stop first.
  Sandbox& sandbox(const std::string& name, int subnet, int queues = 2, bool router = false) {
    sb_ = std::make_unique<Sandbox>(Sandbox::Options{name, queues, router, subnet});
    http_port_ = kHttpPortBase + subnet;
    echo_port_ = kEchoPortBase + subnet;
    const CommandResult up = sb_->up();
    EXPECT_TRUE(up.ok()) << up.output;
    return *sb_;
  }

  // A file of random bytes in the test's scratch directory.
  std::string random_file(const std::string& name, const std::string& size) {
    const std::string path = scratch(name);
    const CommandResult r = run("head -c " + size + " /dev/urandom > " + shell_quote(path));
    EXPECT_TRUE(r.ok()) << r.output;
    return path;
  }
  // A path in the test's own scratch directory, a fresh /tmp/xdptcp-e2e-XXXXXX removed with the test:
  // fixed names under /tmp could meet the files of another run, or of another user.
  std::string scratch(const std::string& name) {
    if (scratch_dir_.empty()) {
      char tmpl[] = "/tmp/xdptcp-e2e-XXXXXX";
      if (::mkdtemp(tmpl) == nullptr) {
        ADD_FAILURE() << "mkdtemp " << tmpl << ": " << std::strerror(errno);
        return "/nonexistent/" + name;
      }
      scratch_dir_ = tmpl;
    }
    return scratch_dir_ + "/" + name;
  }
  void TearDown() override {
    std::error_code ec;
    if (!scratch_dir_.empty()) std::filesystem::remove_all(scratch_dir_, ec);
  }

  static std::string sha256(const std::string& path) {
    const CommandResult r = run("sha256sum < " + path);
    return r.ok() ? r.output.substr(0, 64) : "sha256sum failed: " + r.output;
  }

  // Echoes `in` through xdptcp-echo at ip from the peer namespace; what comes back goes to `out`.
  // socat half-closes after the file (shut-down) and waits for the echo's FIN (-t).
  CommandResult echo_through(const Sandbox& sb, const std::string& ip, const std::string& in,
                             const std::string& out, int seconds) const {
    const std::string target = ip.find(':') != std::string::npos ? "TCP6:[" + ip + "]:" : "TCP4:" + ip + ":";
    return sb.in_peer("timeout " + std::to_string(seconds) + " socat -t " + std::to_string(seconds) +
                      " -b 65536 - " + target + std::to_string(echo_port_) + ",shut-down < " + in + " > " +
                      out);
  }

  // Waits until `server` printed its banner and answers 200 at url (fatal failure otherwise: call
  // it inside ASSERT_NO_FATAL_FAILURE).
  static void wait_serving(const Sandbox& sb, StackServer& server, const std::string& url) {
    ASSERT_TRUE(server.started()) << server.output();
    ASSERT_TRUE(wait_http_ok(sb, url, 10s)) << url << "\n" << server.output();
  }

  // curl over IPv4 and IPv6 from the peer: status 200 and the whole kBodySize-byte body.
  void expect_full_body_v4_and_v6(const Sandbox& sb, const StackServer& httpd) const {
    for (const std::string& ip : {sb.stack_ip4(), sb.stack_ip6()}) {
      const std::string url = http_url(ip, http_port_);
      ASSERT_TRUE(wait_http_ok(sb, url, 10s)) << url << "\n"
                                              << curl_from(sb, url).output << "\n"
                                              << httpd.output();
      const CommandResult r = curl_from(sb, url);
      EXPECT_TRUE(r.ok()) << r.output;
      EXPECT_EQ(r.output, "200 " + std::to_string(kBodySize)) << url;
    }
  }

  // A wrk run that went well: its summary parsed, no socket errors, no non-2xx answers and at
  // least 300 requests. `context` (what was run, the server's output) goes with a failure.
  static void expect_wrk_clean(const std::string& wrk_output, const std::string& context = "") {
    const WrkResult w = parse_wrk(wrk_output);
    ASSERT_TRUE(w.parsed) << wrk_output;
    EXPECT_EQ(w.socket_errors(), 0u) << context << "\n" << wrk_output;
    EXPECT_EQ(w.non_2xx, 0u) << wrk_output;
    EXPECT_GE(w.requests, 300u) << context << "\n" << wrk_output;
  }

  std::unique_ptr<Sandbox> sb_;
  std::string scratch_dir_;
  int http_port_ = 0;  // this test's ports (set by sandbox())
  int echo_port_ = 0;
};

// curl over IPv4 and IPv6: status 200 and the whole body.
TEST_F(E2E, Curl_V4AndV6_FullBody) {
  Sandbox& sb = sandbox("e2ea", 100);
  ASSERT_FALSE(sb.iface().empty()) << "the sandbox did not come up";
  StackServer httpd("xdptcp-httpd", sb.iface(), http_port_, "--body-size " + std::to_string(kBodySize));
  ASSERT_TRUE(httpd.started()) << httpd.output();
  expect_full_body_v4_and_v6(sb, httpd);
  EXPECT_EQ(httpd.stop(), 0) << httpd.output();
}

// wrk for 3 s with keep-alive, then with "Connection: close" (a connection per request): no socket
// errors, no non-2xx, and a non-trivial number of requests.
TEST_F(E2E, Wrk_KeepAliveAndClose_NoSocketErrors) {
  Sandbox& sb = sandbox("e2eb", 101);
  ASSERT_FALSE(sb.iface().empty()) << "the sandbox did not come up";
  StackServer httpd("xdptcp-httpd", sb.iface(), http_port_);
  const std::string url = http_url(sb.stack_ip4(), http_port_);
  ASSERT_NO_FATAL_FAILURE(wait_serving(sb, httpd, url));
  for (const std::string& extra : {std::string(), std::string("-H 'Connection: close' ")}) {
    const CommandResult r = sb.in_peer("wrk -t 2 -c 16 -d 3s --timeout 2s " + extra + url);
    ASSERT_TRUE(r.ok()) << r.output;
    expect_wrk_clean(r.output, extra);
  }
  EXPECT_EQ(httpd.stop(), 0) << httpd.output();
}

// ab: 1000 short connections, 10 at a time, every one answered.
TEST_F(E2E, Ab_ThousandShortConnections_NoneFailed) {
  Sandbox& sb = sandbox("e2ec", 102);
  ASSERT_FALSE(sb.iface().empty()) << "the sandbox did not come up";
  StackServer httpd("xdptcp-httpd", sb.iface(), http_port_);
  const std::string url = http_url(sb.stack_ip4(), http_port_);
  ASSERT_NO_FATAL_FAILURE(wait_serving(sb, httpd, url));
  const CommandResult r = sb.in_peer("ab -q -n 1000 -c 10 -s 5 " + url);
  EXPECT_TRUE(r.ok()) << r.output;
  const AbResult a = parse_ab(r.output);
  EXPECT_EQ(a.complete, 1000) << r.output;
  EXPECT_EQ(a.failed, 0) << r.output;
  EXPECT_EQ(a.non_2xx, 0) << r.output;
  EXPECT_EQ(httpd.stop(), 0) << httpd.output();
}

// 100 MB of random bytes through xdptcp-echo: what comes back is what was sent (SHA-256).
TEST_F(E2E, Echo_100MB_ComesBackIntact) {
  Sandbox& sb = sandbox("e2ed", 103);
  ASSERT_FALSE(sb.iface().empty()) << "the sandbox did not come up";
  StackServer echo("xdptcp-echo", sb.iface(), echo_port_);
  ASSERT_TRUE(echo.started()) << echo.output();
  ASSERT_TRUE(wait_tcp_ok(sb, sb.stack_ip4(), echo_port_, 10s)) << echo.output();
  const std::string in = random_file("echo-in", "100M");
  const std::string out = scratch("echo-out");
  const CommandResult r = echo_through(sb, sb.stack_ip4(), in, out, 45);
  EXPECT_TRUE(r.ok()) << r.output;
  EXPECT_EQ(std::filesystem::file_size(out), 100u << 20);
  EXPECT_EQ(sha256(out), sha256(in));
  EXPECT_EQ(echo.stop(), 0) << echo.output();
}

// While wrk loads the stack, the kernel still answers ping and serves its own TCP port on the same
// address (design brief §4: everything the stack does not claim passes to the kernel).
TEST_F(E2E, KernelServices_UnderLoad_StillAnswer) {
  Sandbox& sb = sandbox("e2ee", 104);
  ASSERT_FALSE(sb.iface().empty()) << "the sandbox did not come up";
  constexpr int kKernelPort = 29090;
  auto kernel = KernelTcpServer::start(sb.stack_ip4(), kKernelPort, "kernel:");
  ASSERT_TRUE(kernel.ok()) << kernel.error().describe();
  StackServer httpd("xdptcp-httpd", sb.iface(), http_port_, "--stats-on-exit");
  const std::string url = http_url(sb.stack_ip4(), http_port_);
  ASSERT_NO_FATAL_FAILURE(wait_serving(sb, httpd, url));

  BackgroundCommand wrk(in_netns(sb.peer_ns(), "exec wrk -t 1 -c 16 -d 4s --timeout 2s " + url));
  std::this_thread::sleep_for(500ms);  // load established
  const CommandResult ping = sb.in_peer("ping -c 5 -i 0.2 -W 2 " + sb.stack_ip4());
  EXPECT_TRUE(ping.ok()) << ping.output;
  for (int i = 0; i < 3; ++i) {
    const CommandResult k =
        tcp_request_from(sb.peer_ns(), sb.stack_ip4(), kKernelPort, "hello" + std::to_string(i));
    EXPECT_NE(k.output.find("kernel:hello" + std::to_string(i)), std::string::npos) << k.output;
  }
  EXPECT_TRUE(wrk.running()) << "the kernel's answers must come while the stack is loaded:\n" << wrk.output();
  EXPECT_EQ(wrk.wait(10s), 0) << wrk.output();
  EXPECT_EQ(httpd.stop(), 0) << httpd.output();
  expect_wrk_clean(wrk.output(), httpd.output());
  EXPECT_GE(kernel.value()->served(), 3u);
}

// kill -9 under load: the AF_XDP sockets leave the XSKMAP with the process, so the port falls back to
// the kernel at once: RST ("connection refused", curl exit 7), never silence (exit 28). A new
// xdptcp-httpd takes the port over again; once it has stopped, a kernel listener on the port answers.
TEST_F(E2E, Kill9_UnderLoad_PortFallsBackToKernelThenRestarts) {
  Sandbox& sb = sandbox("e2ef", 105);
  ASSERT_FALSE(sb.iface().empty()) << "the sandbox did not come up";
  const std::string url = http_url(sb.stack_ip4(), http_port_);
  {
    StackServer httpd("xdptcp-httpd", sb.iface(), http_port_);
    ASSERT_NO_FATAL_FAILURE(wait_serving(sb, httpd, url));
    BackgroundCommand wrk(in_netns(sb.peer_ns(), "exec wrk -t 1 -c 16 -d 3s --timeout 1s " + url));
    std::this_thread::sleep_for(1s);
    ASSERT_TRUE(wrk.running()) << wrk.output();
    EXPECT_EQ(httpd.kill9(), 128 + 9);
    const CommandResult refused = curl_from(sb, url, "-m 3");
    EXPECT_EQ(refused.exit_code, 7) << "expected an immediate RST (connection refused), got: "
                                    << refused.output;
    (void)wrk.wait(10s);
  }
  {
    StackServer again("xdptcp-httpd", sb.iface(), http_port_, "--body-size " + std::to_string(kBodySize));
    ASSERT_TRUE(again.started()) << again.output();
    EXPECT_TRUE(wait_http_ok(sb, url, 10s)) << again.output();
    EXPECT_EQ(curl_from(sb, url).output, "200 " + std::to_string(kBodySize));
    EXPECT_EQ(again.stop(), 0) << again.output();
  }
  auto kernel = KernelTcpServer::start(sb.stack_ip4(), static_cast<std::uint16_t>(http_port_), "kernel:");
  ASSERT_TRUE(kernel.ok()) << kernel.error().describe();
  // The client closes first (socat sends nothing), so the TIME-WAIT stays in the peer namespace and the
  // port is free for the next run at once (the stack's port reservation does not bind over TIME-WAIT).
  EXPECT_TRUE(wait_tcp_ok(sb, sb.stack_ip4(), http_port_, 3s))
      << "the kernel's listener must get the port back";
  EXPECT_TRUE(wait_until([&] { return kernel.value()->served() >= 1; }, 3s));
}

// Two engines on a 2-queue veth: with 64 connections both engines accept flows (design brief §5).
TEST_F(E2E, TwoEngines_SixtyFourConnections_BothServe) {
  Sandbox& sb = sandbox("e2eg", 106, 2);
  ASSERT_FALSE(sb.iface().empty()) << "the sandbox did not come up";
  StackServer httpd("xdptcp-httpd", sb.iface(), http_port_, "--engines 2 --stats-on-exit");
  const std::string url = http_url(sb.stack_ip4(), http_port_);
  ASSERT_NO_FATAL_FAILURE(wait_serving(sb, httpd, url));
  const CommandResult r = sb.in_peer("wrk -t 2 -c 64 -d 3s --timeout 2s " + url);
  ASSERT_EQ(httpd.stop(), 0) << httpd.output();
  ASSERT_TRUE(r.ok()) << r.output;
  expect_wrk_clean(r.output, httpd.output());
  const auto engines = parse_engine_stats(httpd.output());
  ASSERT_EQ(engines.size(), 2u) << httpd.output();
  EXPECT_GT(engines[0].conns_accepted, 0u) << httpd.output();
  EXPECT_GT(engines[1].conns_accepted, 0u) << httpd.output();
  EXPECT_GE(engines[0].conns_accepted + engines[1].conns_accepted, 64u) << httpd.output();
}

// The stack as a client (active opens, its own ephemeral ports, the next hop's MAC from the kernel's
// neighbour table): xdptcp-wget against python's http.server in the peer namespace, 200 requests over
// 4 connections (2 engines: replies that reach the other engine's queue are handed over).
TEST_F(E2E, Wget_AgainstKernelHttpServer_AllComplete) {
  Sandbox& sb = sandbox("e2eh", 107);
  ASSERT_FALSE(sb.iface().empty()) << "the sandbox did not come up";
  const std::string dir = scratch("www");
  std::filesystem::create_directories(dir);
  ASSERT_TRUE(run("head -c 1000 /dev/urandom > " + dir + "/f").ok());
  BackgroundCommand server(in_netns(sb.peer_ns(), "exec python3 -u -m http.server " +
                                                      std::to_string(http_port_) + " --bind " +
                                                      sb.peer_ip4() + " --directory " + dir));
  ASSERT_TRUE(server.wait_for_output("Serving HTTP", 10s)) << server.output();
  const CommandResult r =
      run(bin_path("xdptcp-wget") + " --iface " + sb.iface() + " --url http://" + sb.peer_ip4() + ":" +
          std::to_string(http_port_) + "/f --connections 4 --requests 200 --timeout 5 --stats-on-exit -v");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("requests: 200 completed, 0 errors"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("200000 body bytes"), std::string::npos) << r.output;
  std::uint64_t opened = 0;
  for (const auto& e : parse_engine_stats(r.output)) opened += e.conns_opened;
  EXPECT_EQ(opened, 200u) << r.output;
}

// Router topology: the peer is behind a router namespace, so the stack must send its replies to the
// gateway's MAC (learnt from the frames it received), over IPv4 and IPv6.
TEST_F(E2E, Router_Curl_RepliesViaGateway) {
  Sandbox& sb = sandbox("e2ei", 108, 2, true);
  ASSERT_FALSE(sb.iface().empty()) << "the sandbox did not come up";
  ASSERT_FALSE(sb.var("GATEWAY_IP4").empty()) << sb.status().output;
  StackServer httpd("xdptcp-httpd", sb.iface(), http_port_, "--body-size " + std::to_string(kBodySize));
  ASSERT_TRUE(httpd.started()) << httpd.output();
  expect_full_body_v4_and_v6(sb, httpd);
  EXPECT_EQ(httpd.stop(), 0) << httpd.output();
}

// Bytes intact over an impaired link (design brief §6): xdptcp-impair in the router namespace drops 2 %,
// duplicates 1 % and corrupts 0.5 % of the TCP frames on both router interfaces, and delays every frame
// 10 ms each way (jitter 2 ms, 2 % reordered). What comes back through xdptcp-echo equals what was sent.
// The size is XDPTCP_E2E_IMPAIR_MB (default 4, about 12 s): one flow moves about 380 KB/s each way over
// this link (2 % loss at 20 ms RTT bounds a TCP flow near 550 KB/s, Mathis et al.), so CI runs a few MB
// and XDPTCP_E2E_IMPAIR_MB=20 (about a minute) or 100 runs the long transfer.
TEST_F(E2E, ImpairedLink_EchoThroughRouter_BytesIntact) {
  const std::string impair = bin_path("xdptcp-impair");
  if (!std::filesystem::exists(impair)) GTEST_SKIP() << impair << " is not built (tools/impair)";
  Sandbox& sb = sandbox("e2ej", 109, 2, true);
  ASSERT_FALSE(sb.iface().empty()) << "the sandbox did not come up";
  const std::string rtr = sb.var("ROUTER_NS");
  ASSERT_FALSE(rtr.empty()) << sb.status().output;
  for (const char* dev : {"r0", "r1"}) {
    const CommandResult t =
        run(in_netns(rtr, impair + " tc --iface " + dev + " --loss 2 --dup 1 --corrupt 0.5 --seed 1"));
    ASSERT_TRUE(t.ok()) << t.output;
  }
  const char* env = std::getenv("XDPTCP_E2E_IMPAIR_MB");
  const int mb = env != nullptr ? std::max(1, std::atoi(env)) : 4;
  const int limit_s = mb <= 4 ? 60 : 15 * mb;
  // The forwarder outlives the transfer (--seconds only bounds it should the test die).
  BackgroundCommand delay(in_netns(
      rtr, "exec " + impair + " delay --in r0 --out r1 --delay 10 --jitter 2 --reorder 2 --seconds " +
               std::to_string(limit_s + 30)));
  ASSERT_TRUE(delay.wait_for_output("ready", 10s)) << delay.output();
  StackServer echo("xdptcp-echo", sb.iface(), echo_port_, "--stats-on-exit");
  ASSERT_TRUE(echo.started()) << echo.output();
  ASSERT_TRUE(wait_tcp_ok(sb, sb.stack_ip4(), echo_port_, 10s)) << echo.output();

  const std::string in = random_file("impair-in", std::to_string(mb) + "M");
  const std::string out = scratch("impair-out");
  const CommandResult r = echo_through(sb, sb.stack_ip4(), in, out, limit_s);
  EXPECT_TRUE(r.ok()) << r.output;
  EXPECT_EQ(std::filesystem::exists(out) ? std::filesystem::file_size(out) : 0u,
            static_cast<std::uintmax_t>(mb) << 20);
  EXPECT_EQ(sha256(out), sha256(in));

  // The link really was impaired, and the stack really recovered.
  std::string counters;
  for (const char* dev : {"r0", "r1"})
    counters += run(in_netns(rtr, impair + " stats --iface " + dev)).output;
  EXPECT_EQ(echo.stop(), 0) << echo.output();
  std::uint64_t retransmits = 0;
  for (const auto& e : parse_engine_stats(echo.output())) retransmits += e.retransmits;
  EXPECT_GT(retransmits, 0u) << echo.output() << counters;
  ::testing::Test::RecordProperty("impair_counters", counters);
}

}  // namespace
}  // namespace xdptcp::test::e2e
