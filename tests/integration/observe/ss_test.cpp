// `xdptcp-ctl ss` against running stacks (issue 12 item 3): every engine's connection snapshot
// (userstack/engine/conn_snapshot.h), asked for through the stats region, on sandbox veths with a
// kernel client in the peer namespace holding three connections open:
//   - xdptcp-echo (Stack::run, two engines): --json lists exactly the three connections with their
//     addresses and ports, ESTAB, and the listeners, LISTEN; --state filters; --info shows a
//     plausible rtt, cwnd and mss; a connection the client closes is gone or closing; after two
//     seconds without traffic the sleeping engines are woken and answer within a second.
//   - redis-server under xdptcp-run (Stack::drive: the preload library's engine, which sleeps
//     inside the application's epoll_wait) lists the same, and answers when idle too.
//   - nginx under xdptcp-run (master_process off): with no timer due it sleeps without bound, so
//     only the doorbell can make it answer.
// Needs root and python3 (the connection holder); skips without redis-server or nginx.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "support/netns/netns_util.h"

namespace xdptcp::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;

// Ports of their own (the stack reserves listening ports in the root namespace).
constexpr int kEchoPort = 29320;
constexpr int kRedisPort = 29321;
constexpr int kNginxPort = 29322;
constexpr int kHeld = 3;

std::string ctl(const std::string& args) {
  return bin_path("xdptcp-ctl") + " " + args;
}

// Holds `n` connections to host:port from the peer namespace: sends `payload` on each and reads
// the reply (so that each side has an RTT sample), prints "ports P1 P2 P3", closes the first when
// <flag>.close0 exists and ends when <flag>.exit does.
constexpr const char* kHolderScript = R"(import os, socket, sys, time
host, port, n, flag, payload = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
socks = []
for i in range(n):
    s = socket.create_connection((host, port), timeout=10)
    s.sendall(payload.encode().decode('unicode_escape').encode())
    s.recv(100)
    socks.append(s)
print("ports " + " ".join(str(s.getsockname()[1]) for s in socks), flush=True)
closed = False
while not os.path.exists(flag + ".exit"):
    if not closed and os.path.exists(flag + ".close0"):
        socks[0].close()
        closed = True
        print("closed0", flush=True)
    time.sleep(0.05)
)";

class SsIntegration : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!is_root()) GTEST_SKIP() << "needs root: network namespaces, XDP and AF_XDP";
    for (const char* exe : {"xdptcp-ctl", "xdptcp-echo"}) {
      if (!fs::exists(bin_path(exe))) GTEST_SKIP() << bin_path(exe) << " is not built";
    }
    if (!fs::exists("/usr/bin/python3")) GTEST_SKIP() << "python3 is not installed (the connection holder)";
    char tmpl[] = "/tmp/xdptcp-ssx-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    std::ofstream(dir_ + "/holder.py") << kHolderScript;
  }
  void TearDown() override {
    if (!dir_.empty()) std::ofstream(dir_ + "/flag.exit") << "";
    holder_.reset();
    server_.reset();
    if (sb_) {
      (void)run(ctl("detach --iface " + sb_->iface()));
      sb_.reset();
    }
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  Sandbox& sandbox(const std::string& name) {
    sb_ = std::make_unique<Sandbox>(Sandbox::Options{.name = name});
    const CommandResult up = sb_->up();
    EXPECT_TRUE(up.ok()) << up.output;
    const CommandResult at = run(ctl("attach --iface " + sb_->iface()));
    EXPECT_TRUE(at.ok()) << at.output;
    return *sb_;
  }

  // The holder's connections to the stack's port: their source ports.
  std::set<int> hold(int port, const std::string& payload) {
    holder_ = std::make_unique<BackgroundCommand>(
        in_netns(sb_->peer_ns(), "exec /usr/bin/python3 " + dir_ + "/holder.py " + sb_->stack_ip4() + " " +
                                     std::to_string(port) + " " + std::to_string(kHeld) + " " + dir_ +
                                     "/flag " + shell_quote(payload)));
    EXPECT_TRUE(holder_->wait_for_output("ports ", 20s)) << holder_->output();
    std::istringstream in(holder_->output().substr(holder_->output().find("ports ") + 6));
    std::set<int> ports;
    for (int p = 0, i = 0; i < kHeld && in >> p; ++i) ports.insert(p);
    EXPECT_EQ(ports.size(), static_cast<std::size_t>(kHeld)) << holder_->output();
    first_port_ =
        ports.empty() ? -1 : std::stoi(holder_->output().substr(holder_->output().find("ports ") + 6));
    return ports;
  }

  json ss_json(const std::string& extra = "", std::chrono::milliseconds* took = nullptr) {
    const auto t0 = std::chrono::steady_clock::now();
    const CommandResult r = run(ctl("ss --iface " + sb_->iface() + " --json " + extra));
    if (took != nullptr)
      *took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
    EXPECT_TRUE(r.ok()) << r.output;
    try {
      // stderr (warnings) follows the document in the output when there is any.
      return json::parse(r.output.substr(0, r.output.rfind('}') + 1));
    } catch (const json::exception& e) {
      ADD_FAILURE() << e.what() << "\n" << r.output;
      return json::object();
    }
  }

  // The sockets of `pid` in `j`, in state `state` ("" for every state).
  static std::vector<json> sockets_of(const json& j, pid_t pid, const std::string& state = "") {
    std::vector<json> out;
    for (const auto& s : j.value("sockets", json::array())) {
      if (s["pid"] == pid && (state.empty() || s["state"] == state)) out.push_back(s);
    }
    return out;
  }

  // Exactly the held connections, ESTAB, with their addresses and ports; the listener on `port`.
  void expect_held(const json& j, pid_t pid, const std::string& comm, int port, const std::set<int>& peers) {
    EXPECT_EQ(j["complete"], true) << j.dump(2);
    std::set<int> seen;
    for (const json& s : sockets_of(j, pid)) {
      EXPECT_EQ(s["comm"], comm);
      if (s["state"] == "LISTEN") continue;
      EXPECT_EQ(s["state"], "ESTAB") << s.dump();
      EXPECT_EQ(s["local"]["address"], sb_->stack_ip4()) << s.dump();
      EXPECT_EQ(s["local"]["port"], port) << s.dump();
      EXPECT_EQ(s["peer"]["address"], sb_->peer_ip4()) << s.dump();
      EXPECT_EQ(s["family"], "ipv4");
      seen.insert(s["peer"]["port"].get<int>());
    }
    EXPECT_EQ(seen, peers) << j.dump(2);
    EXPECT_EQ(sockets_of(j, pid, "ESTAB").size(), peers.size()) << "exactly the held connections";
    bool listener = false;
    for (const json& s : sockets_of(j, pid, "LISTEN")) {
      EXPECT_EQ(s["local"]["port"], port) << s.dump();
      EXPECT_TRUE(s["peer"].is_null());
      EXPECT_GT(s["send_q"].get<int>(), 0) << "a listener's Send-Q is its backlog";
      listener = listener || s["family"] == "ipv4";
    }
    EXPECT_TRUE(listener) << j.dump(2);
  }

  // After `idle` without traffic, ss still answers within a second: the engines that slept were
  // woken through their doorbells.
  void expect_answers_when_idle(pid_t pid, std::chrono::milliseconds idle = 2000ms) {
    std::this_thread::sleep_for(idle);
    std::chrono::milliseconds took{};
    const json j = ss_json("", &took);
    EXPECT_LT(took, 1000ms) << j.dump(2);
    EXPECT_EQ(j["complete"], true) << j.dump(2);
    bool found = false;
    int woken = 0;
    for (const auto& p : j["processes"]) {
      if (p["pid"] != pid) continue;
      found = true;
      for (const auto& e : p["engines"]) {
        EXPECT_EQ(e["answered"], true) << e.dump();
        EXPECT_LT(e["wait_ms"].get<double>(), 1000) << e.dump();
        EXPECT_TRUE(e["wake_error"].is_null()) << e.dump();
        woken += e["woken"].get<bool>() ? 1 : 0;
      }
    }
    EXPECT_TRUE(found) << j.dump(2);
    EXPECT_GT(woken, 0) << "an idle engine sleeps: the request had to wake it\n" << j.dump(2);
  }

  std::string dir_;
  int first_port_ = -1;
  std::unique_ptr<Sandbox> sb_;
  std::unique_ptr<BackgroundCommand> server_;
  std::unique_ptr<BackgroundCommand> holder_;
};

TEST_F(SsIntegration, EchoServer_HeldConnectionsFiltersInfoCloseAndIdle) {
  Sandbox& sb = sandbox("ssxe");
  server_ = std::make_unique<BackgroundCommand>("exec " + bin_path("xdptcp-echo") + " --iface " + sb.iface() +
                                                " --port " + std::to_string(kEchoPort));
  ASSERT_TRUE(server_->wait_for_output("listening", 15s)) << server_->output();
  const pid_t pid = server_->pid();
  const std::set<int> peers = hold(kEchoPort, "hello\\n");
  ASSERT_EQ(peers.size(), static_cast<std::size_t>(kHeld));

  const json all = ss_json();
  expect_held(all, pid, "xdptcp-echo", kEchoPort, peers);
  // Every address, both families, on each of the two engines.
  EXPECT_EQ(sockets_of(all, pid, "LISTEN").size(), 4u) << all.dump(2);

  // --state: ss's names.
  const json listening = ss_json("--state listen");
  EXPECT_EQ(sockets_of(listening, pid).size(), 4u) << listening.dump(2);
  EXPECT_EQ(sockets_of(listening, pid, "LISTEN").size(), 4u);
  const json established = ss_json("--state established");
  EXPECT_EQ(sockets_of(established, pid).size(), static_cast<std::size_t>(kHeld)) << established.dump(2);
  EXPECT_EQ(sockets_of(ss_json("--state connected"), pid).size(), static_cast<std::size_t>(kHeld));

  // --info: what ss -ti shows, plausible on a veth.
  const json info = ss_json("--info --state estab");
  for (const json& s : sockets_of(info, pid, "ESTAB")) {
    const json& i = s["info"];
    ASSERT_TRUE(i["rtt_ms"].is_number()) << s.dump(2);
    EXPECT_GT(i["rtt_ms"].get<double>(), 0) << s.dump(2);
    EXPECT_LT(i["rtt_ms"].get<double>(), 1000) << s.dump(2);
    EXPECT_GE(i["cwnd"].get<int>(), 1) << s.dump(2);
    EXPECT_GT(i["mss"].get<int>(), 0) << s.dump(2);
    EXPECT_LT(i["mss"].get<int>(), 1500) << s.dump(2);
    EXPECT_EQ(i["bytes_received"], 6) << "hello\\n";
    EXPECT_EQ(i["bytes_sent"], 6) << "echoed";
    EXPECT_EQ(i["congestion_control"], "cubic");
    EXPECT_TRUE(i["ts"].get<bool>());
  }

  // The text forms.
  const CommandResult text = run(ctl("ss --iface " + sb.iface()));
  ASSERT_TRUE(text.ok()) << text.output;
  EXPECT_EQ(text.output.rfind("State", 0), 0u) << text.output;
  for (const int p : peers) {
    EXPECT_NE(text.output.find(sb.peer_ip4() + ":" + std::to_string(p)), std::string::npos) << text.output;
  }
  EXPECT_NE(text.output.find("users:((\"xdptcp-echo\",pid=" + std::to_string(pid)), std::string::npos);
  const CommandResult text_info = run(ctl("ss --iface " + sb.iface() + " --info --state estab"));
  EXPECT_NE(text_info.output.find(" rtt:"), std::string::npos) << text_info.output;
  EXPECT_NE(text_info.output.find(" cwnd:"), std::string::npos) << text_info.output;

  // The client closes one: on the server it is gone, or on its way out.
  std::ofstream(dir_ + "/flag.close0") << "";
  ASSERT_TRUE(holder_->wait_for_output("closed0", 5s)) << holder_->output();
  std::this_thread::sleep_for(100ms);
  const json after = ss_json();
  const std::set<std::string> closing = {"CLOSE-WAIT", "LAST-ACK",   "CLOSING",
                                         "TIME-WAIT",  "FIN-WAIT-1", "FIN-WAIT-2"};
  int remaining = 0;
  for (const json& s : sockets_of(after, pid)) {
    if (s["state"] == "LISTEN") continue;
    if (s["peer"]["port"] == first_port_) {
      EXPECT_TRUE(closing.contains(s["state"].get<std::string>())) << s.dump();
    } else {
      EXPECT_EQ(s["state"], "ESTAB") << s.dump();
      ++remaining;
    }
  }
  EXPECT_EQ(remaining, kHeld - 1) << after.dump(2);
  EXPECT_TRUE(wait_until(
      [&] {
        for (const json& s : sockets_of(ss_json(), pid)) {
          if (!s["peer"].is_null() && s["peer"]["port"] == first_port_) return false;
        }
        return true;
      },
      3s, 100ms))
      << "the closed connection is still listed";

  // Idle: two seconds without a frame, and the answer still comes within a second.
  expect_answers_when_idle(pid);
}

// The preload library: redis-server through xdptcp-run drives one engine from its event loop.
TEST_F(SsIntegration, PreloadedRedis_HeldConnectionsAndIdle) {
  for (const char* tool : {"redis-server", "redis-cli"}) {
    if (!run(std::string("command -v ") + tool).ok()) GTEST_SKIP() << tool << " is not installed";
  }
  if (!fs::exists(bin_path("xdptcp-run"))) GTEST_SKIP() << bin_path("xdptcp-run") << " is not built";
  Sandbox& sb = sandbox("ssxr");
  const std::string redis = run("command -v redis-server").output;
  server_ = std::make_unique<BackgroundCommand>(
      "exec " + bin_path("xdptcp-run") + " --iface " + sb.iface() + " -- " +
      redis.substr(0, redis.find('\n')) + " --port " + std::to_string(kRedisPort) + " --bind " +
      sb.stack_ip4() + " --protected-mode no --save '' --dir " + dir_ + " --daemonize no");
  const std::string ping = "redis-cli -h " + sb.stack_ip4() + " -p " + std::to_string(kRedisPort) + " PING";
  ASSERT_TRUE(
      wait_until([&] { return server_->running() && sb.in_peer(ping).output.find("PONG") == 0; }, 30s, 200ms))
      << server_->output();
  const pid_t pid = server_->pid();  // xdptcp-run execs redis-server
  const std::set<int> peers = hold(kRedisPort, "PING\\r\\n");
  ASSERT_EQ(peers.size(), static_cast<std::size_t>(kHeld));
  // redis-cli's PINGs may still be finishing (TIME-WAIT is the client's, but LAST-ACK is ours).
  json j;
  ASSERT_TRUE(wait_until(
      [&] {
        j = ss_json();
        return sockets_of(j, pid).size() == static_cast<std::size_t>(kHeld) + 1;
      },
      3s, 100ms))
      << j.dump(2);
  expect_held(j, pid, "redis-server", kRedisPort, peers);
  const json info = ss_json("--info --state established");
  for (const json& s : sockets_of(info, pid, "ESTAB")) {
    EXPECT_GT(s["info"]["rtt_ms"].get<double>(), 0) << s.dump(2);
    EXPECT_LT(s["info"]["rtt_ms"].get<double>(), 1000) << s.dump(2);
    EXPECT_EQ(s["info"]["bytes_sent"], 7) << "+PONG\\r\\n";
  }
  expect_answers_when_idle(pid);
}

// nginx with no timer due sleeps in epoll_wait without a bound: only the doorbell wakes it.
TEST_F(SsIntegration, PreloadedNginx_SleepingWithoutBoundIsWoken) {
  if (!run("command -v nginx").ok()) GTEST_SKIP() << "nginx is not installed";
  if (!fs::exists(bin_path("xdptcp-run"))) GTEST_SKIP() << bin_path("xdptcp-run") << " is not built";
  Sandbox& sb = sandbox("ssxn");
  const std::string conf = dir_ + "/nginx.conf";
  fs::create_directories(dir_ + "/www");
  std::ofstream(dir_ + "/www/index.html") << "hello\n";
  std::ofstream(conf) << "user root; worker_processes 1; daemon off; master_process off;\n"
                      << "pid " << dir_ << "/nginx.pid; error_log " << dir_ << "/error.log info;\n"
                      << "events { worker_connections 1024; }\n"
                      << "http { access_log off; keepalive_timeout 300s;\n"
                      << "  server { listen " << kNginxPort << "; root " << dir_ << "/www; } }\n";
  const std::string nginx = run("command -v nginx").output;
  server_ = std::make_unique<BackgroundCommand>("exec " + bin_path("xdptcp-run") + " --iface " + sb.iface() +
                                                " -- " + nginx.substr(0, nginx.find('\n')) + " -e " + dir_ +
                                                "/error.log -c " + conf);
  const std::string get = "timeout 5 curl -s -m 2 -o /dev/null -w '%{http_code}' http://" + sb.stack_ip4() +
                          ":" + std::to_string(kNginxPort) + "/";
  ASSERT_TRUE(wait_until([&] { return server_->running() && sb.in_peer(get).output == "200"; }, 30s, 200ms))
      << server_->output();
  const pid_t pid = server_->pid();
  // Keep-alive connections holding an HTTP/1.1 request's worth of state, idle for 300 s.
  const std::set<int> peers = hold(kNginxPort, "GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n");
  ASSERT_EQ(peers.size(), static_cast<std::size_t>(kHeld));
  json j;
  ASSERT_TRUE(wait_until(
      [&] {
        j = ss_json();
        return sockets_of(j, pid).size() == static_cast<std::size_t>(kHeld) + 1;
      },
      3s, 100ms))
      << j.dump(2);
  expect_held(j, pid, "nginx", kNginxPort, peers);
  expect_answers_when_idle(pid);
}

}  // namespace
}  // namespace xdptcp::test
