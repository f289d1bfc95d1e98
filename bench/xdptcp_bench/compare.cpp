// `xdptcp-bench compare` (see compare.h): the orchestration. Each round starts a server, waits
// for its "ready" line, runs the client in the peer namespace with --json, and stops the server
// with SIGINT. The kernel server listens on the stack-side address in the root namespace on its
// own port, for which no steering rule exists, so the kernel serves it; the xdptcp server is a
// separate process that exists only during its own runs (it attaches the steering program when it
// starts and detaches it when it stops), so kernel runs see no AF_XDP socket and no XDP program on
// the stack end. Before a kernel leg the sandbox's offloads are switched to the kernel's, and back
// before an xdptcp leg (sandbox.h); in the middle of each measured window both ends' offloads and
// XDP programs are read back for the report.
#include "bench/xdptcp_bench/compare.h"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <future>
#include <memory>
#include <thread>

#include "bench/xdptcp_bench/chart.h"
#include "bench/xdptcp_bench/child_process.h"
#include "bench/xdptcp_bench/client.h"
#include "bench/xdptcp_bench/compare_table.h"
#include "bench/xdptcp_bench/sandbox.h"

namespace xdptcp::bench {
namespace {

std::atomic<bool> g_interrupted{false};

void on_interrupt(int) {
  g_interrupted.store(true);
  kill_all_children(SIGTERM);
}

std::string self_exe() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "xdptcp-bench";
  buf[n] = '\0';
  return buf;
}

std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%g", v);
  return b;
}

void progress(const char* fmt, const char* a, int round, int rounds, const char* w) {
  std::fprintf(stderr, "\r\033[K[compare %s] round %d/%d: ", w, round, rounds);
  std::fprintf(stderr, fmt, a);
  std::fflush(stderr);
}

std::string tail_of(const std::string& path) {
  std::ifstream in(path);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return all.size() > 2000 ? all.substr(all.size() - 2000) : all;
}

class Runner {
 public:
  Runner(const CompareOptions& o, const std::string& client, const Sandbox& sb, std::string logdir)
      : o_(o), client_(client), sb_(sb), self_(self_exe()), logdir_(std::move(logdir)) {}

  // One server + client run of workload `wl`; false with *error on failure. *link: both ends as read
  // back in the middle of the measured window.
  bool run_one(const std::string& stack, Workload wl, int round, ClientResult& out, LinkState* link,
               std::string* error) {
    const int port = stack == "kernel" ? 19001 : 19002;
    const std::string w = workload_name(wl);
    const std::string slog = logdir_ + "/server-" + stack + ".log";
    const std::string clog = logdir_ + "/client-" + stack + ".log";
    std::vector<std::string> sargs = {self_,        "server",
                                      "--stack",    stack,
                                      "--workload", w,
                                      "--port",     std::to_string(port),
                                      "--engines",  std::to_string(o_.engines),
                                      "--ip",       sb_.stack_ip4()};
    // --busy-poll: the latency-tuned set-up of both stacks: every server thread or engine spins on
    // its own core from core 1 on, the client spins from core 0 (with --engines 1 each has a core).
    if (o_.busy_poll) sargs.insert(sargs.end(), {"--busy-poll", "--first-core", "1"});
    if (stack == "xdptcp") {
      sargs.insert(sargs.end(), {"--iface", sb_.iface(), "--rx-batch", std::to_string(o_.rx_batch)});
      if (o_.spin_us >= 0) sargs.insert(sargs.end(), {"--spin-us", std::to_string(o_.spin_us)});
    }
    progress("starting the %s server", stack.c_str(), round, o_.rounds, w.c_str());
    Child server;
    if (!spawn(sargs, slog, server, error)) return false;
    if (!wait_for_line(server, "ready", 20000)) {
      stop_child(server, SIGKILL, 2000, nullptr);
      *error = stack + " server did not become ready; its log (" + slog + "):\n" + tail_of(slog);
      return false;
    }
    std::vector<std::string> cargs = {"ip",
                                      "netns",
                                      "exec",
                                      sb_.peer_ns(),
                                      self_,
                                      "client",
                                      "--stack",
                                      client_,
                                      "--workload",
                                      w,
                                      "--target",
                                      sb_.stack_ip4() + ":" + std::to_string(port),
                                      "--duration",
                                      num(o_.duration_s),
                                      "--warmup",
                                      num(o_.warmup_s),
                                      "--json",
                                      "--server-pid",
                                      std::to_string(server.pid)};
    if (o_.connections > 0) cargs.insert(cargs.end(), {"--connections", std::to_string(o_.connections)});
    if (o_.size > 0) cargs.insert(cargs.end(), {"--size", std::to_string(o_.size)});
    if (o_.busy_poll) cargs.insert(cargs.end(), {"--busy-poll", "--pin", "--first-core", "0"});
    if (o_.client_threads > 0) cargs.insert(cargs.end(), {"--threads", std::to_string(o_.client_threads)});
    if (client_ == "xdptcp") {
      // One engine per queue of the peer end (as many as the server's side has).
      cargs.insert(cargs.end(), {"--iface", sb_.peer_iface(), "--rx-batch", std::to_string(o_.rx_batch)});
      if (o_.spin_us >= 0) cargs.insert(cargs.end(), {"--spin-us", std::to_string(o_.spin_us)});
    }
    progress("the client against the %s server", stack.c_str(), round, o_.rounds, w.c_str());
    Child client;
    if (!spawn(cargs, clog, client, error)) {
      stop_child(server, SIGTERM, 5000, nullptr);
      return false;
    }
    // The link is read where the leg is measured: an xdptcp client attaches its program to the peer
    // end when it starts, which changes what veth allows the stack end (sandbox.h).
    // On a loaded machine its stack may come up late: then read again until the program is there
    // or the window is over.
    const auto t0 = std::chrono::steady_clock::now();
    const auto probe_at = t0 + std::chrono::milliseconds(
                                   static_cast<int>((o_.warmup_s + std::min(o_.duration_s / 2, 1.0)) * 1000));
    const auto window_end =
        t0 + std::chrono::milliseconds(static_cast<int>((o_.warmup_s + o_.duration_s) * 1000));
    auto probe = std::async(std::launch::async, [this, probe_at, window_end] {
      std::this_thread::sleep_until(probe_at);
      LinkState l = sb_.read_link();
      while (client_ == "xdptcp" && l.peer_end.xdp.empty() && std::chrono::steady_clock::now() < window_end) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        l = sb_.read_link();
      }
      return l;
    });
    const int budget_ms = static_cast<int>((o_.duration_s + o_.warmup_s) * 1000) + 30000;
    const std::string json = read_all(client, budget_ms);
    const int cst = wait_child(client, 5000, nullptr);
    *link = probe.get();
    progress("stopping the %s server", stack.c_str(), round, o_.rounds, w.c_str());
    stop_child(server, SIGTERM, 10000, nullptr);
    if (g_interrupted) {
      *error = "interrupted";
      return false;
    }
    if (!WIFEXITED(cst) || WEXITSTATUS(cst) != 0) {
      *error = "client against the " + stack + " server failed; its log (" + clog + "):\n" + tail_of(clog) +
               "\nserver log (" + slog + "):\n" + tail_of(slog);
      return false;
    }
    try {
      out = client_result_from_json(nlohmann::json::parse(json));
    } catch (const std::exception& e) {
      *error = std::string("client output is not the expected JSON (") + e.what() + "): " + json;
      return false;
    }
    return true;
  }

 private:
  const CompareOptions& o_;
  const std::string& client_;
  const Sandbox& sb_;
  std::string self_, logdir_;
};

}  // namespace

void add_compare_options(CLI::App& app, CompareOptions& o) {
  app.add_option("--workload", o.workload,
                 "short | rr | bulk (both directions) | bulk-reverse (the server sends only) | latency")
      ->required();
  app.add_option("--duration", o.duration_s, "measured seconds per run")->check(CLI::PositiveNumber);
  app.add_option("--warmup", o.warmup_s, "seconds of load before measuring")->check(CLI::NonNegativeNumber);
  app.add_option("--rounds", o.rounds, "rounds (each runs both servers)")->check(CLI::Range(1, 100));
  app.add_option("--engines", o.engines, "xdptcp engines = kernel server threads")->check(CLI::Range(1, 64));
  app.add_option("--queues", o.queues, "sandbox queues (default: --engines)")->check(CLI::Range(1, 64));
  app.add_option("--connections", o.connections, "client connections (default: per workload)");
  app.add_option("--size", o.size, "request/reply bytes (bulk: bytes per write)");
  app.add_option("--client-threads", o.client_threads, "client threads (default: one per core, at most C)");
  app.add_option("--client", o.client,
                 "the client's stack (default: xdptcp, which loads servers hardest; kernel for bulk)")
      ->check(CLI::IsMember({"kernel", "xdptcp"}));
  app.add_option("--spin-us", o.spin_us, "xdptcp server and client: re-poll this long before sleeping")
      ->check(CLI::Range(0, 1000000));
  app.add_flag("--busy-poll", o.busy_poll,
               "both servers and the client spin on their own cores, the kernel's with SO_BUSY_POLL, "
               "SO_PREFER_BUSY_POLL and epoll busy polling (latency-tuned; use --engines 1)");
  app.add_option("--rx-batch", o.rx_batch, "xdptcp server: frames per receive burst")
      ->check(CLI::Range(1, 4096));
  app.add_flag("--json", o.json,
               "print one JSON object (top-level \"ratio\": the main figure, xdptcp/kernel)");
  app.add_option("--chart", o.chart, "write a PNG chart of the rounds (gnuplot)");
  app.add_flag("--keep-logs", o.keep_logs, "keep the last round's server and client logs (frame counters)");
  app.add_option("--sandbox-name", o.sandbox_name, "name of the sandbox to create (and remove)");
  app.add_flag("--keep-sandbox", o.keep_sandbox, "leave the sandbox up at the end, as sandbox.sh set it");
  app.add_option("--sandbox-script", o.sandbox_script, "path of tools/sandbox.sh");
}

int run_compare(const CompareOptions& o) {
  if (geteuid() != 0) {
    std::fprintf(stderr, "compare: needs root (network namespaces, veth, XDP, AF_XDP)\n");
    return 2;
  }
  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGHUP, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);

  char tmpl[] = "/tmp/xdptcp-bench.XXXXXX";
  const char* logdir = mkdtemp(tmpl);
  if (logdir == nullptr) {
    std::fprintf(stderr, "compare: mkdtemp: %s\n", std::strerror(errno));
    return 2;
  }
  const char* w = workload_name(o.workload);
  std::fprintf(stderr, "[compare %s] bringing up sandbox '%s'", w, o.sandbox_name.c_str());
  // One queue per engine, as on a NIC sized for the engines: a queue without an engine would pass
  // its flows to the kernel (which has no listener on the xdptcp port and resets them).
  Sandbox sb(o.sandbox_script, o.sandbox_name, static_cast<int>(o.queues != 0 ? o.queues : o.engines),
             o.keep_sandbox);
  std::string err;
  if (!sb.up(&err)) {
    std::fprintf(stderr, "\ncompare: %s\n", err.c_str());
    return 2;
  }
  const std::string client = !o.client.empty() ? o.client : is_bulk(o.workload) ? "kernel" : "xdptcp";
  if (client == "xdptcp" && !sb.prepare_xdptcp_peer(&err)) {
    std::fprintf(stderr, "\ncompare: %s\n", err.c_str());
    return 2;
  }
  Runner runner(o, client, sb, logdir);
  // One pair of legs per direction: bulk measures the server receiving and the server sending.
  struct Direction {
    Workload w;
    StackRounds kernel{"kernel", {}, {}}, xdptcp{"xdptcp", {}, {}};
  };
  std::vector<Direction> dirs(o.workload == Workload::kBulk ? 2 : 1);
  dirs[0].w = o.workload;
  if (dirs.size() == 2) dirs[1].w = Workload::kBulkReverse;
  auto fail = [&](const std::string& e) {
    std::fprintf(stderr, "\ncompare: %s\n", e.c_str());
    kill_all_children(SIGKILL);
    std::string ignored;
    if (o.keep_sandbox) (void)sb.restore(&ignored);  // a kept sandbox is left as sandbox.sh set it
    return g_interrupted ? 130 : 1;                  // sb's destructor brings the sandbox down (unless kept)
  };
  for (int r = 0; r < o.rounds && !g_interrupted; ++r) {
    // Alternate which server goes first, so that a drift over time favours neither; a stack's legs of
    // both directions run back to back, so the offloads change twice per round at most.
    const bool kernel_first = r % 2 == 0;
    for (int i = 0; i < 2; ++i) {
      const bool k = (i == 0) == kernel_first;
      const bool offloads_ok = k ? sb.use_kernel_offloads(client == "kernel", &err) : sb.restore(&err);
      if (!offloads_ok) return fail(err);
      for (auto& d : dirs) {
        ClientResult res;
        LinkState link;
        if (!runner.run_one(k ? "kernel" : "xdptcp", d.w, r + 1, res, &link, &err)) return fail(err);
        StackRounds& s = k ? d.kernel : d.xdptcp;
        s.rounds.push_back(res);
        s.links.push_back(link);
      }
    }
  }
  // Leave the sandbox as sandbox.sh set it (it matters with --keep-sandbox).
  if (!sb.restore(&err)) return fail(err);
  std::fprintf(stderr, "\r\033[K");
  if (g_interrupted) return 130;
  const StackRounds& kernel = dirs[0].kernel;
  const StackRounds& xdptcp = dirs[0].xdptcp;
  if (o.json) {
    nlohmann::json j = table_json(o.workload, kernel, xdptcp);
    j["client"] = client;
    if (dirs.size() == 2) j["server_sends"] = table_json(dirs[1].w, dirs[1].kernel, dirs[1].xdptcp);
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("client: %s\n", client.c_str());
    if (dirs.size() == 2) {
      print_table(o.workload, kernel, xdptcp, "== bulk, the server receives (the client sends)");
      std::printf("\n");
      print_table(dirs[1].w, dirs[1].kernel, dirs[1].xdptcp,
                  "== bulk, the server sends (the client receives)");
    } else {
      print_table(o.workload, kernel, xdptcp);
    }
  }
  if (!o.chart.empty()) {
    if (!write_chart(o.chart, o.workload, kernel, xdptcp, &err)) {
      std::fprintf(stderr, "compare: chart: %s\n", err.c_str());
      return 1;
    }
    std::fprintf(stderr, "compare: chart written to %s\n", o.chart.c_str());
  }
  if (o.keep_logs) {
    std::fprintf(stderr, "compare: the last round's logs are in %s\n", logdir);
    return 0;
  }
  std::string rm = std::string("rm -rf ") + logdir;
  if (std::system(rm.c_str()) != 0) std::fprintf(stderr, "compare: could not remove %s\n", logdir);
  return 0;
}

}  // namespace xdptcp::bench
