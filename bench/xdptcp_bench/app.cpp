// `xdptcp-bench app` (see app.h): the orchestration. Every process it starts is a child in its own
// process group (child_process.h): the server is `taskset -c S [xdptcp-run --iface I --]
// nginx|redis-server|memcached` (each program execs the next, so the child's pid is the server's:
// nginx's master, with `daemon off`, redis-server or memcached), the client `ip netns exec PEER
// taskset -c C wrk|redis-benchmark|xdptcp-bench memc-load`.
// The kernel's server listens on the sandbox's stack-side address on --port, xdptcp's on --port + 1,
// so that no steering rule of an xdptcp run can touch a kernel run. xdptcp-run attaches the steering
// program and leaves it attached (docs/PRELOAD.md); app detaches it after each xdptcp server has
// exited (and before each server starts), so that kernel runs see the link as the kernel alone has it
// (no XDP program on the server's end), as compare's kernel runs do.
#include "bench/xdptcp_bench/app.h"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "bench/xdptcp_bench/app_report.h"
#include "bench/xdptcp_bench/child_process.h"
#include "bench/xdptcp_bench/cpu_stat.h"
#include "bench/xdptcp_bench/sandbox.h"
#include "bench/xdptcp_bench/signals.h"
#include "userstack/kernel/xdp_attach.h"

namespace xdptcp::bench {
namespace {

constexpr int kServeTimeoutMs = 20000;  // from start to the first answer
constexpr int kExitTimeoutMs = 10000;   // from SIGTERM to every process gone and the port free
constexpr std::size_t kBodyBytes = 64;  // nginx's file: the 64-byte messages of compare's workloads

bool interrupted() {
  return stop_flag().load();
}

void on_hangup(int) {
  stop_flag().store(true);
}

long long now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Sleeps `ms` unless a signal comes first; false when interrupted.
bool nap(int ms) {
  usleep(static_cast<useconds_t>(ms) * 1000);
  return !interrupted();
}

std::string self_exe() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return {};
  buf[n] = '\0';
  return buf;
}

bool ok_status(int st) {
  return st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string tail_of(const std::string& path) {
  const std::string all = read_text(path);
  return all.size() > 2000 ? all.substr(all.size() - 2000) : all;
}

bool write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  return static_cast<bool>(out);
}

std::string load_average() {
  std::string s = read_text("/proc/loadavg");
  std::istringstream in(s);
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

std::string status_text(int st) {
  if (st == -1) return "not reaped";
  if (WIFEXITED(st)) return "exit status " + std::to_string(WEXITSTATUS(st));
  if (WIFSIGNALED(st)) return std::string("killed by signal ") + strsignal(WTERMSIG(st));
  return "status " + std::to_string(st);
}

// A process that has exited but not been reaped (its parent is gone, or has not waited yet) counts
// as gone.
bool alive(pid_t pid) {
  const std::string stat = read_text("/proc/" + std::to_string(pid) + "/stat");
  const auto p = stat.rfind(')');
  return p != std::string::npos && p + 2 < stat.size() && stat[p + 2] != 'Z' && stat[p + 2] != 'X';
}

// The live children of `parent` (nginx's workers), from /proc/<pid>/stat.
std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> out;
  DIR* d = opendir("/proc");
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    char* end = nullptr;
    const long pid = std::strtol(e->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    const std::string stat = read_text(std::string("/proc/") + e->d_name + "/stat");
    const auto p = stat.rfind(')');
    if (p == std::string::npos) continue;
    char state = 0;
    int ppid = 0;
    if (std::sscanf(stat.c_str() + p + 1, " %c %d", &state, &ppid) == 2 && ppid == parent && state != 'Z')
      out.push_back(static_cast<pid_t>(pid));
  }
  closedir(d);
  return out;
}

double processes_cpu(const std::vector<pid_t>& pids) {
  double s = 0;
  for (const pid_t p : pids) s += read_process_cpu(p);
  return s;
}

// What listens on TCP `port` in this (the root) namespace; empty when nothing does.
std::string listeners_on(int port) {
  std::string out;
  run_shell("ss -Hltn 'sport = :" + std::to_string(port) + "'", &out);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& a : v) {
    const bool quote = a.empty() || a.find_first_of(" \"'") != std::string::npos;
    s += (s.empty() ? "" : " ") + (quote ? "'" + a + "'" : a);
  }
  return s;
}

// One workload of an app: its name and the client's arguments after `taskset -c C`.
struct WorkloadSpec {
  std::string name;
  std::vector<std::string> extra;  // wrk: extra arguments; redis: the test ("set", "get")
};

class AppBench {
 public:
  AppBench(const AppOptions& o, const Sandbox& sb, std::string dir, std::string run_bin)
      : o_(o), sb_(sb), dir_(std::move(dir)), run_bin_(std::move(run_bin)) {
    nginx_ = o_.app == "nginx";
    memcached_ = o_.app == "memcached";
    base_port_ = o_.port != 0 ? o_.port : (nginx_ ? 19081 : memcached_ ? 19211 : 19379);
    connections_ = o_.connections > 0 ? o_.connections : (nginx_ ? 64 : 50);
    requests_ = o_.requests;
    if (nginx_) {
      specs_ = {{"keepalive", {}}, {"close", {"-H", "Connection: close"}}};
    } else if (memcached_) {
      specs_ = {{"SET", {"set"}}, {"GET", {"get"}}};
    } else {
      specs_ = {{"SET", {"set"}}, {"GET", {"get"}}};
    }
    for (const auto& s : specs_) workloads_.push_back(AppWorkload{s.name, "", {}, {}});
  }

  bool prepare(std::string* error) {
    if (!nginx_) return true;
    std::string body(kBodyBytes - 1, 'x');
    body += '\n';
    for (const char* d : {"/www", "/tmp"}) mkdir((dir_ + d).c_str(), 0755);
    if (!write_text(dir_ + "/www/small.txt", body)) {
      *error = "cannot write " + dir_ + "/www/small.txt";
      return false;
    }
    return true;
  }

  // Starts the server on `stack`, runs every workload once (a warm-up, then the measured run) and
  // stops the server. False with *error when something failed (not when a client saw errors: those
  // are counted in the results).
  bool run_round(const std::string& stack, int round, std::string* error) {
    const bool on_xdptcp = stack == "xdptcp";
    const int port = base_port_ + (on_xdptcp ? 1 : 0);
    const std::string tag = "r" + std::to_string(round) + "-" + stack;
    const std::string slog = dir_ + "/" + tag + "-server.log";
    progress(round, "starting the %s server", stack);
    if (!detach_steering(error)) return false;
    if (!wait_port_free(port, 3000)) {
      *error = "TCP port " + std::to_string(port) + " is in use by another process (choose --port):\n" +
               listeners_on(port);
      return false;
    }
    std::vector<std::string> argv = {
        "sh",      "-c", "exec \"$0\" \"$@\" 1>&2",
        "taskset", "-c", o_.server_cpus.empty() ? std::to_string(o_.server_core) : o_.server_cpus};
    if (on_xdptcp) argv.insert(argv.end(), {run_bin_, "--iface", sb_.iface(), "--"});
    const std::vector<std::string> server = server_argv(port, slog, tag);
    if (server.empty()) {
      *error = "cannot write the server's configuration in " + dir_;
      return false;
    }
    argv.insert(argv.end(), server.begin(), server.end());
    Child srv;
    if (!spawn(argv, slog, srv, error)) return false;
    const pid_t pid = srv.pid;
    std::vector<pid_t> pids;
    bool ok = serve(stack, port, slog, srv, pids, error);
    for (std::size_t i = 0; ok && i < specs_.size(); ++i) {
      ok = run_workload(stack, round, port, i, pids, error);
    }
    // The server's log is checked again at the end: the preload says so when a socket could not go
    // to the stack, and nginx's master when it had to replace a worker.
    if (ok) ok = check_log(stack, slog, error);
    progress(round, "stopping the %s server", stack);
    const int st = stop_child(srv, SIGTERM, kExitTimeoutMs, nullptr);
    if (pids.empty()) pids.push_back(pid);
    const long long deadline = now_ms() + kExitTimeoutMs;
    auto any_alive = [&] { return std::any_of(pids.begin(), pids.end(), alive); };
    while ((any_alive() || !listeners_on(port).empty()) && now_ms() < deadline) usleep(20 * 1000);
    if (ok && any_alive()) {
      *error = stack + " server's processes did not exit within 10 s of SIGTERM; its log (" + slog + "):\n" +
               tail_of(slog);
      for (const pid_t p : pids)
        if (alive(p)) kill(p, SIGKILL);
      ok = false;
    } else if (ok && !listeners_on(port).empty()) {
      *error = "TCP port " + std::to_string(port) + " still has a listener after the " + stack +
               " server exited:\n" + listeners_on(port);
      ok = false;
    } else if (ok && WIFSIGNALED(st) && WTERMSIG(st) != SIGTERM) {
      *error =
          stack + " server ended with " + status_text(st) + "; its log (" + slog + "):\n" + tail_of(slog);
      ok = false;
    }
    if (on_xdptcp && !detach_steering(ok ? error : nullptr)) ok = false;
    if (interrupted()) {
      *error = "interrupted";
      return false;
    }
    return ok;
  }

  // Removes the steering program xdptcp-run left on the sandbox's stack end (nothing to do when
  // none is attached).
  bool detach_steering(std::string* error) const {
    auto d = kernel::detach(sb_.iface());
    if (d || d.error().code == ENOENT) return true;
    if (error != nullptr)
      *error = "cannot detach the steering program from " + sb_.iface() + ": " + d.error().describe();
    return false;
  }

  std::vector<AppWorkload>& workloads() { return workloads_; }
  long requests() const { return requests_; }
  int connections() const { return connections_; }

  // The client's command lines, for the table (the port as PORT: the kernel's is --port, xdptcp's
  // --port + 1).
  void describe_clients() {
    for (std::size_t i = 0; i < specs_.size(); ++i) {
      auto a = client_argv(specs_[i], "PORT", o_.duration_s, requests_);
      a.erase(a.begin(), a.begin() + 4);  // ip netns exec PEER
      workloads_[i].client = joined(a);
    }
  }

 private:
  void progress(int round, const char* fmt, const std::string& a) const {
    std::fprintf(stderr, "\r\033[K[app %s] round %d/%d: ", o_.app.c_str(), round, o_.rounds);
    std::fprintf(stderr, fmt, a.c_str());
    std::fflush(stderr);
  }

  bool wait_port_free(int port, int timeout_ms) const {
    const long long deadline = now_ms() + timeout_ms;
    while (!listeners_on(port).empty()) {
      if (now_ms() >= deadline || !nap(50)) return false;
    }
    return true;
  }

  // The server's command line (after taskset and xdptcp-run); writes nginx's configuration.
  std::vector<std::string> server_argv(int port, const std::string& log, const std::string& tag) const {
    const std::string addr = sb_.stack_ip4();
    if (memcached_) {
      // Debian's defaults but for the threads (--memcached-threads), the address and the port; no
      // UDP; 1 GiB so that nothing is evicted.
      return {"memcached",
              "-u",
              "root",
              "-t",
              std::to_string(o_.memcached_threads),
              "-l",
              addr,
              "-p",
              std::to_string(port),
              "-U",
              "0",
              "-m",
              "1024",
              "-c",
              "4096"};
    }
    if (!nginx_) {
      return {"redis-server",
              "--port",
              std::to_string(port),
              "--bind",
              addr,
              "--protected-mode",
              "no",
              "--dir",
              dir_,
              "--daemonize",
              "no",
              "--save",
              "",
              "--appendonly",
              "no"};
    }
    // The configuration of the manual measurements (issue 9), with `daemon off` (the master stays
    // this program's child, so that its pid is known and its process group stops with it), the
    // sandbox's address (no clash with other servers on the port) and every path in the run's
    // directory.
    const std::string conf = dir_ + "/" + tag + "-nginx.conf";
    std::ostringstream c;
    c << "user root;\nworker_processes " << o_.nginx_workers << ";\ndaemon off;\nmaster_process on;\n"
      << "pid " << dir_ << "/" << tag << "-nginx.pid;\n"
      << "error_log " << log << " info;\n"
      << "events { worker_connections 4096; }\n"
      << "http {\n  sendfile on; tcp_nopush on; access_log off; keepalive_requests 100000;\n"
      << "  default_type text/plain;\n";
    if (o_.open_file_cache) c << "  open_file_cache max=1000 inactive=60s;\n";
    for (const char* t : {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"})
      c << "  " << t << "_temp_path " << dir_ << "/tmp/" << t << ";\n";
    c << "  server { listen " << addr << ":" << port << "; root " << dir_ << "/www; }\n}\n";
    if (!write_text(conf, c.str())) return {};
    return {"nginx", "-p", dir_ + "/", "-e", log, "-c", conf};
  }

  // Waits until the server answers from the peer namespace (curl / redis-cli PING, through the
  // stack under test), then records its processes and checks that xdptcp serves it.
  bool serve(const std::string& stack, int port, const std::string& slog, Child& srv,
             std::vector<pid_t>& pids, std::string* error) {
    const std::string addr = sb_.stack_ip4();
    const std::string ns = "ip netns exec " + sb_.peer_ns() + " ";
    std::string probe =
        nginx_ ? ns + "curl -s -o /dev/null -w '%{http_code} %{size_download}' --max-time 2 http://" + addr +
                     ":" + std::to_string(port) + "/small.txt"
               : ns + "timeout 3 redis-cli -h " + addr + " -p " + std::to_string(port) + " PING";
    std::string want = nginx_ ? "200 " + std::to_string(kBodyBytes) : "PONG";
    if (memcached_) {
      probe =
          ns + "timeout 5 " + self_exe() + " memc-load --probe --target " + addr + ":" + std::to_string(port);
      want = "VERSION " + server_version_number();
    }
    const long long deadline = now_ms() + kServeTimeoutMs;
    if (memcached_ && stack == "xdptcp") {
      // memcached starts the stack at start-up (its listener goes into its epoll set at once). A probe
      // connected before the stack's steering rule is in would be the kernel's, and the preload would
      // warn that it stays with the kernel (check_log fails the run): probe once the start-up line is
      // out and the rule has had time to follow it.
      while (read_text(slog).find("engine(s), AF_XDP") == std::string::npos && now_ms() < deadline) {
        int st = 0;
        if (waitpid(srv.pid, &st, WNOHANG) == srv.pid) {
          *error = stack + " server exited (" + status_text(st) + ") before serving; its log (" + slog +
                   "):\n" + tail_of(slog);
          return false;
        }
        if (!nap(20)) {
          *error = "interrupted";
          return false;
        }
      }
      if (!nap(300)) {
        *error = "interrupted";
        return false;
      }
    }
    std::string out;
    for (;;) {
      int st = 0;
      if (waitpid(srv.pid, &st, WNOHANG) == srv.pid) {
        *error = stack + " server exited (" + status_text(st) + ") before serving; its log (" + slog +
                 "):\n" + tail_of(slog);
        return false;
      }
      run_shell(probe, &out);
      while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
      if (out == want) break;
      if (now_ms() >= deadline) {
        *error = stack + " server did not answer `" + probe + "` within " +
                 std::to_string(kServeTimeoutMs / 1000) + " s (last answer: '" + out + "'); its log (" +
                 slog + "):\n" + tail_of(slog);
        return false;
      }
      if (!nap(100)) {
        *error = "interrupted";
        return false;
      }
    }
    pids = {srv.pid};
    for (const pid_t c : children_of(srv.pid)) pids.push_back(c);
    return check_log(stack, slog, error);
  }

  // Under xdptcp-run the preload says which stack serves: its start-up line in the process that
  // runs the stack (nginx's worker) and a warning when a socket stays with the kernel. A kernel run
  // must show no trace of it.
  bool check_log(const std::string& stack, const std::string& slog, std::string* error) const {
    const std::string log = read_text(slog);
    if (nginx_ && log.find(" exited on signal ") != std::string::npos) {
      *error = "an nginx process of the " + stack + " server died (\"exited on signal\"); its log (" + slog +
               "):\n" + tail_of(slog);
      return false;
    }
    const bool preload = log.find("xdptcp-preload[") != std::string::npos;
    if (stack == "kernel") {
      if (preload)
        *error =
            "the kernel's server ran with libxdptcp-preload.so; its log (" + slog + "):\n" + tail_of(slog);
      return !preload;
    }
    for (const char* bad : {"stays with the kernel", "the kernel serves it alone"}) {
      if (log.find(bad) != std::string::npos) {
        *error = std::string("under xdptcp-run, the preload says \"") + bad + "\"; the server's log (" +
                 slog + "):\n" + tail_of(slog);
        return false;
      }
    }
    if (!preload || log.find("engine(s), AF_XDP") == std::string::npos) {
      *error =
          "under xdptcp-run, the server's log has no start-up line of the stack (\"xdptcp-preload[pid]: "
          "interface ...\"); its log (" +
          slog + "):\n" + tail_of(slog);
      return false;
    }
    return true;
  }

  std::vector<std::string> client_argv(const WorkloadSpec& w, const std::string& port, int seconds,
                                       long requests) const {
    std::vector<std::string> a = {
        "ip", "netns", "exec", sb_.peer_ns(), "taskset", "-c", std::to_string(o_.client_core)};
    const std::string addr = sb_.stack_ip4();
    if (nginx_) {
      a.insert(a.end(), {"wrk", "-t1", "-c" + std::to_string(connections_),
                         "-d" + std::to_string(seconds) + "s", "--latency"});
      a.insert(a.end(), w.extra.begin(), w.extra.end());
      a.push_back("http://" + addr + ":" + port + "/small.txt");
    } else if (memcached_) {
      a.insert(a.end(), {self_exe(), "memc-load", "--target", addr + ":" + port, "--op", w.extra.at(0),
                         "--connections", std::to_string(connections_), "--duration", std::to_string(seconds),
                         "--value-size", std::to_string(o_.value_size), "--keys", std::to_string(o_.keys),
                         "--pipeline", std::to_string(o_.pipeline)});
    } else {
      a.insert(a.end(), {"redis-benchmark", "-h", addr, "-p", port, "-c", std::to_string(connections_), "-n",
                         std::to_string(requests), "-t", w.extra.at(0), "--csv"});
    }
    return a;
  }

  // Runs the client once; false with *error when it failed to run or its output cannot be read.
  bool run_client_once(const std::string& stack, const WorkloadSpec& w, int port, int seconds, long requests,
                       const std::string& clog, const std::vector<pid_t>& pids, AppRun& r,
                       std::string* error) {
    const auto argv = client_argv(w, std::to_string(port), seconds, requests);
    const int budget_ms = timed() ? (seconds + 60) * 1000 : 60000 + static_cast<int>(requests / 2);
    const CpuSample c0 = read_cpu();
    const double s0 = processes_cpu(pids);
    const long long t0 = now_ms();
    Child cl;
    if (!spawn(argv, clog, cl, error)) return false;
    const std::string out = read_all(cl, budget_ms);
    const bool timed_out = !interrupted() && now_ms() - t0 >= budget_ms;
    const int st = interrupted() ? stop_child(cl, SIGTERM, 5000, nullptr) : wait_child(cl, 5000, nullptr);
    const long long t1 = now_ms();
    const CpuSample c1 = read_cpu();
    const double s1 = processes_cpu(pids);
    if (interrupted()) {
      *error = "interrupted";
      return false;
    }
    if (!out.empty()) {
      std::ofstream(clog, std::ios::app) << "--- stdout ---\n" << out;
    }
    if (timed_out || !ok_status(st)) {
      *error = "`" + joined(argv) + "` against the " + stack + " server " +
               (timed_out ? "did not finish within " + std::to_string(budget_ms / 1000) + " s"
                          : "failed (" + status_text(st) + ")") +
               "; its output (" + clog + "):\n" + tail_of(clog);
      return false;
    }
    std::string perr;
    const bool parsed = nginx_       ? parse_wrk(out, r, &perr)
                        : memcached_ ? parse_memc_load(out, r, &perr)
                                     : parse_redis_csv(out, w.name, static_cast<double>(requests), r, &perr);
    if (!parsed) {
      *error = perr + " (against the " + stack + " server); its output (" + clog + "):\n" + tail_of(clog);
      return false;
    }
    r.cpu_busy_s = c1.busy_s - c0.busy_s;
    r.server_cpu_s = s1 - s0;
    r.wall_s = static_cast<double>(t1 - t0) / 1e3;
    return true;
  }

  bool run_workload(const std::string& stack, int round, int port, std::size_t i,
                    const std::vector<pid_t>& pids, std::string* error) {
    const WorkloadSpec& w = specs_[i];
    const std::string base = dir_ + "/r" + std::to_string(round) + "-" + stack + "-" + w.name;
    if (o_.warmup_s > 0) {
      progress(round, ("warm-up of " + w.name + " on the %s server").c_str(), stack);
      const long n = std::max(1000L, static_cast<long>(rate_estimate_ * o_.warmup_s));
      AppRun warm;
      if (!run_client_once(stack, w, port, o_.warmup_s, n, base + "-warmup.log", pids, warm, error))
        return false;
      if (warm.errors > 0) {
        std::fprintf(stderr, "\n[app %s] round %d: the warm-up of %s on the %s server saw %.0f errors:\n%s",
                     o_.app.c_str(), round, w.name.c_str(), stack.c_str(), warm.errors,
                     warm.error_detail.c_str());
      }
      if (!timed() && !rate_measured_) {
        // The first warm-up's rate sizes the later warm-ups and, without --requests, every measured
        // run: about --duration s each, the same N for every run of both stacks.
        rate_measured_ = true;
        rate_estimate_ = std::max(1000.0, warm.rps);
        if (requests_ == 0) requests_ = std::max(1000L, static_cast<long>(warm.rps * o_.duration_s));
      }
    }
    if (!timed() && requests_ == 0) requests_ = 50000L * o_.duration_s;
    progress(round, (w.name + " on the %s server").c_str(), stack);
    AppRun r;
    if (!run_client_once(stack, w, port, o_.duration_s, requests_, base + ".log", pids, r, error))
      return false;
    if (r.errors > 0) {
      std::fprintf(stderr, "\n[app %s] round %d: %s on the %s server: %.0f errors:\n%s", o_.app.c_str(),
                   round, w.name.c_str(), stack.c_str(), r.errors, r.error_detail.c_str());
    }
    (stack == "kernel" ? workloads_[i].kernel : workloads_[i].xdptcp).push_back(r);
    return true;
  }

  const AppOptions& o_;
  const Sandbox& sb_;
  std::string dir_, run_bin_;
  // Whether the client runs for --duration (wrk, memc-load) rather than for a number of requests
  // (redis-benchmark -n).
  bool timed() const { return nginx_ || memcached_; }
  // "1.6.18" from `memcached -V` ("memcached 1.6.18"): what the probe's `version` must answer.
  static std::string server_version_number() {
    std::string out;
    run_shell("memcached -V", &out);
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    return out.substr(out.rfind(' ') + 1);
  }

  bool nginx_ = true;
  bool memcached_ = false;
  int base_port_ = 0;
  int connections_ = 0;
  long requests_ = 0;
  double rate_estimate_ = 20000;  // redis: requests/s, sizes the warm-ups once the first has measured it
  bool rate_measured_ = false;
  std::vector<WorkloadSpec> specs_;
  std::vector<AppWorkload> workloads_;
};

// The programs each app needs, with what is missing said.
bool check_programs(const AppOptions& o, std::string* missing) {
  const std::vector<std::string> need =
      o.app == "nginx" ? std::vector<std::string>{"nginx", "wrk", "curl", "taskset", "ss", "ip"}
      : o.app == "memcached"
          ? std::vector<std::string>{"memcached", "taskset", "ss", "ip"}
          : std::vector<std::string>{"redis-server", "redis-benchmark", "redis-cli", "taskset", "ss", "ip"};
  for (const auto& p : need) {
    if (!ok_status(run_shell("command -v " + p + " >/dev/null", nullptr)))
      *missing += (missing->empty() ? "" : " ") + p;
  }
  return missing->empty();
}

std::string server_version(const AppOptions& o) {
  std::string out;
  run_shell(o.app == "nginx"       ? "nginx -v"
            : o.app == "memcached" ? "memcached -V"
                                   : "redis-server --version",
            &out);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  if (o.app == "memcached") return out;  // "memcached 1.6.18"
  if (o.app == "nginx") {
    const auto p = out.find("nginx/");
    return p == std::string::npos ? out : out.substr(p);
  }
  const auto p = out.find("v=");
  return p == std::string::npos ? out : "redis " + out.substr(p + 2, out.find(' ', p) - p - 2);
}

// Removes the run's directory (logs, configurations, nginx's files) unless asked to keep it;
// returns `status`.
int remove_logs(const std::string& dir, bool keep, int status) {
  if (keep) {
    std::fprintf(stderr, "app: the logs and configurations are in %s\n", dir.c_str());
    return status;
  }
  if (std::system(("rm -rf '" + dir + "'").c_str()) != 0)
    std::fprintf(stderr, "app: could not remove %s\n", dir.c_str());
  return status;
}

}  // namespace

void add_app_options(CLI::App& app, AppOptions& o) {
  app.add_option("--app", o.app, "nginx | redis | memcached")
      ->required()
      ->check(CLI::IsMember({"nginx", "redis", "memcached"}));
  app.add_option("--duration", o.duration_s, "measured seconds per run (wrk -d; redis: sizes --requests)")
      ->check(CLI::Range(1, 3600));
  app.add_option("--warmup", o.warmup_s, "seconds of unmeasured load before each measured run")
      ->check(CLI::Range(0, 600));
  app.add_option("--rounds", o.rounds, "rounds (each runs both stacks' servers)")->check(CLI::Range(1, 100));
  app.add_option("--requests", o.requests,
                 "redis: requests per test (redis-benchmark -n); default: about --duration s at the first "
                 "warm-up's rate")
      ->check(CLI::Range(1L, 1000000000L));
  app.add_option("--connections", o.connections,
                 "client connections (default: nginx 64, redis and memcached 50)")
      ->check(CLI::Range(1, 100000));
  app.add_option("--port", o.port,
                 "the kernel server's port; xdptcp's is one above (default: nginx 19081, redis 19379, "
                 "memcached 19211)")
      ->check(CLI::Range(1, 65534));
  app.add_option("--memcached-threads", o.memcached_threads,
                 "memcached: worker threads (memcached -t; default 2)")
      ->check(CLI::Range(1, 64));
  app.add_option("--value-size", o.value_size, "memcached: bytes per value (default 32)")
      ->check(CLI::Range(1, 1000000));
  app.add_option("--pipeline", o.pipeline,
                 "memcached: requests in flight per connection (default 1: request/response)")
      ->check(CLI::Range(1, 1024));
  app.add_option("--keys", o.keys, "memcached: keys the requests are spread over (default 10000)")
      ->check(CLI::Range(1, 10000000));
  app.add_option("--queues", o.queues, "sandbox veth queues")->check(CLI::Range(1, 64));
  app.add_flag("--open-file-cache", o.open_file_cache,
               "nginx: open_file_cache on for both stacks (no open/fstat/close of the file per request)");
  app.add_option("--nginx-workers", o.nginx_workers,
                 "nginx: worker_processes, the same for both stacks (under xdptcp-run each worker takes one "
                 "RX queue: give the sandbox as many --queues)")
      ->check(CLI::Range(1, 64));
  app.add_option("--server-cpus", o.server_cpus,
                 "CPUs the server may run on, as taskset takes them (\"0,1\"); default: --server-core");
  app.add_option("--server-core", o.server_core, "core the server runs on (taskset)");
  app.add_option("--client-core", o.client_core, "core the client runs on (taskset)");
  app.add_flag("--json", o.json, "print one JSON object");
  app.add_flag("--keep-logs", o.keep_logs,
               "keep the servers' and clients' logs and configurations, and say where");
  app.add_option("--sandbox-name", o.sandbox_name, "name of the sandbox to create (and remove)");
  app.add_option("--sandbox-script", o.sandbox_script, "path of tools/sandbox.sh");
  app.add_option("--xdptcp-run", o.xdptcp_run, "path of xdptcp-run (default: beside this program)");
}

int run_app(const AppOptions& o) {
  if (geteuid() != 0) {
    std::fprintf(stderr, "app: needs root (network namespaces, veth, XDP, AF_XDP)\n");
    return 2;
  }
  std::string missing;
  if (!check_programs(o, &missing)) {
    std::fprintf(stderr, "app: missing programs: %s (apt-get install %s)\n", missing.c_str(),
                 o.app == "nginx"       ? "nginx wrk curl"
                 : o.app == "memcached" ? "memcached util-linux iproute2"
                                        : "redis-server redis-tools");
    return 2;
  }
  std::string run_bin = o.xdptcp_run;
  if (run_bin.empty()) {
    const std::string self = self_exe();
    run_bin = self.substr(0, self.rfind('/') + 1) + "xdptcp-run";
  }
  if (access(run_bin.c_str(), X_OK) != 0) {
    std::fprintf(stderr, "app: cannot run %s (build the xdptcp-run target, or pass --xdptcp-run)\n",
                 run_bin.c_str());
    return 2;
  }
  const unsigned cores = static_cast<unsigned>(sysconf(_SC_NPROCESSORS_ONLN));
  if (o.server_core >= cores || o.client_core >= cores) {
    std::fprintf(stderr, "app: --server-core and --client-core must be below %u (this machine's cores)\n",
                 cores);
    return 2;
  }
  install_stop_handlers(nullptr);  // SIGINT, SIGTERM: the stop flag; waits return early
  struct sigaction sa {};
  sa.sa_handler = on_hangup;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGHUP, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);

  char tmpl[] = "/tmp/xdptcp-bench-app.XXXXXX";
  const char* dir = mkdtemp(tmpl);
  if (dir == nullptr) {
    std::fprintf(stderr, "app: mkdtemp: %s\n", std::strerror(errno));
    return 2;
  }
  chmod(dir, 0755);
  const std::string load_start = load_average();
  std::fprintf(stderr, "[app %s] bringing up sandbox '%s'", o.app.c_str(), o.sandbox_name.c_str());
  Sandbox sb(o.sandbox_script, o.sandbox_name, static_cast<int>(o.queues));
  std::string err;
  if (!sb.up(&err)) {
    std::fprintf(stderr, "\napp: %s\n", err.c_str());
    return 2;
  }
  AppBench bench(o, sb, dir, run_bin);
  if (!bench.prepare(&err)) {
    std::fprintf(stderr, "\napp: %s\n", err.c_str());
    return 2;
  }
  // The kernel's runs get the kernel's offloads on both ends, the xdptcp runs the sandbox's (the
  // client is always the kernel's; sandbox.h). Each setting is read back once, before its first run's
  // server starts (the xdptcp runs' steering program comes with xdptcp-run, after the reading).
  LinkState links[2];  // kernel, xdptcp
  bool have_link[2] = {false, false};
  for (int r = 0; r < o.rounds && !interrupted(); ++r) {
    // Alternate which server goes first, so that a drift over time favours neither.
    const bool kernel_first = r % 2 == 0;
    for (int i = 0; i < 2; ++i) {
      const bool k = (i == 0) == kernel_first;
      if (!(k ? sb.use_kernel_offloads(true, &err) : sb.restore(&err))) {
        std::fprintf(stderr, "\napp: %s\n", err.c_str());
        return 1;
      }
      if (!have_link[k ? 0 : 1]) {
        links[k ? 0 : 1] = sb.read_link();
        have_link[k ? 0 : 1] = true;
      }
      if (!bench.run_round(k ? "kernel" : "xdptcp", r + 1, &err)) {
        std::fprintf(stderr, "\napp: %s\n", err.c_str());
        kill_all_children(SIGKILL);
        if (interrupted()) return remove_logs(dir, o.keep_logs, 130);  // sb's destructor: the sandbox
        std::fprintf(stderr, "app: the logs are in %s\n", dir);
        return 1;
      }
    }
  }
  std::fprintf(stderr, "\r\033[K");
  if (interrupted()) return remove_logs(dir, o.keep_logs, 130);
  if (!sb.restore(&err)) {
    std::fprintf(stderr, "app: %s\n", err.c_str());
    return 1;
  }
  bench.describe_clients();
  const std::string load_end = load_average();
  double errors = 0;
  for (const auto& w : bench.workloads()) {
    for (const auto* side : {&w.kernel, &w.xdptcp})
      for (const auto& r : *side) errors += r.errors;
  }
  const std::string version = server_version(o);
  if (o.json) {
    nlohmann::json ws = nlohmann::json::object();
    for (const auto& w : bench.workloads()) ws[w.name] = app_workload_json(w);
    nlohmann::json j{{"app", o.app},
                     {"server", version},
                     {"rounds", o.rounds},
                     {"duration_s", o.duration_s},
                     {"warmup_s", o.warmup_s},
                     {"connections", bench.connections()},
                     {"server_core", o.server_core},
                     {"client_core", o.client_core},
                     {"queues", o.queues},
                     {"load_average", {{"start", load_start}, {"end", load_end}}},
                     {"errors", errors},
                     {"link", {{"kernel", to_json(links[0])}, {"xdptcp", to_json(links[1])}}},
                     {"workloads", ws}};
    if (o.app == "redis") j["requests"] = bench.requests();
    if (o.app == "nginx") j["nginx_workers"] = o.nginx_workers;
    if (!o.server_cpus.empty()) j["server_cpus"] = o.server_cpus;
    if (o.app == "memcached") {
      j["memcached_threads"] = o.memcached_threads;
      j["value_size"] = o.value_size;
      j["keys"] = o.keys;
      j["pipeline"] = o.pipeline;
    }
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    const std::string per_run = o.app != "redis" ? std::to_string(o.duration_s) + " s per run"
                                                 : std::to_string(bench.requests()) + " requests per run";
    std::vector<std::string> header;
    const std::string detail =
        o.app == "nginx" ? ", 64-byte body, " + std::to_string(o.nginx_workers) + " worker(s)"
        : o.app == "memcached"
            ? ", -t " + std::to_string(o.memcached_threads) + ", " + std::to_string(o.value_size) +
                  "-byte values, " + std::to_string(o.keys) + " keys, pipeline " + std::to_string(o.pipeline)
            : "";
    header.push_back("app " + o.app + " (" + version + detail + "): " + std::to_string(o.rounds) +
                     " rounds per stack, " + per_run + " after " + std::to_string(o.warmup_s) +
                     " s of warm-up; server on core(s) " +
                     (o.server_cpus.empty() ? std::to_string(o.server_core) : o.server_cpus) +
                     ", client on core " + std::to_string(o.client_core) + " (taskset); sandbox veth, " +
                     std::to_string(o.queues) + " queue(s)");
    header.push_back("load average (1, 5, 15 min): " + load_start + " at the start, " + load_end +
                     " at the end");
    header.push_back("kernel runs: stack end " + describe(links[0].stack_end) + " | peer end " +
                     describe(links[0].peer_end));
    header.push_back("xdptcp runs: stack end " + describe(links[1].stack_end) + " | peer end " +
                     describe(links[1].peer_end) + " (read before the server started; xdptcp-run attaches " +
                     "its steering program to the stack end)");
    print_app_table(header, bench.workloads());
  }
  if (errors > 0) {
    std::fprintf(stderr, "app: the client saw %.0f errors (see the errors column); the logs are in %s\n",
                 errors, dir);
    return 1;
  }
  return remove_logs(dir, o.keep_logs, 0);
}

}  // namespace xdptcp::bench
