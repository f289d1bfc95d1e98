// xdptcp-bench: the kernel's TCP against xdptcp, side by side (issue 5).
//   xdptcp-bench server  --stack kernel|xdptcp --workload W ...   a benchmark server
//   xdptcp-bench client  --stack kernel|xdptcp --workload W --target IP:PORT ...   a load generator
//   xdptcp-bench compare --workload W ...   sandbox + both servers + the same client, alternating
//   xdptcp-bench app --app nginx|redis|memcached ...  an unmodified server on the kernel and under
//                                                    xdptcp-run
//   xdptcp-bench memc-load --target IP:PORT --op get|set ...  memcached load (app runs it)
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>

#include "bench/xdptcp_bench/app.h"
#include "bench/xdptcp_bench/client.h"
#include "bench/xdptcp_bench/compare.h"
#include "bench/xdptcp_bench/memc_load.h"
#include "bench/xdptcp_bench/server.h"

using namespace xdptcp::bench;

namespace {

std::map<std::string, Workload> workload_map() {
  return {{"short", Workload::kShort},
          {"rr", Workload::kRr},
          {"bulk", Workload::kBulk},
          {"latency", Workload::kLatency},
          {"bulk-reverse", Workload::kBulkReverse}};
}

// main() without the exception guard.
int run(int argc, char** argv) {
  CLI::App app{"xdptcp-bench: the kernel's TCP against xdptcp on the same link, with the same client"};
  app.require_subcommand(1);

  ServerOptions so;
  auto* srv = app.add_subcommand("server", "run a benchmark server");
  srv->add_option("--stack", so.stack, "kernel | xdptcp")->check(CLI::IsMember({"kernel", "xdptcp"}));
  srv->add_option("--workload", so.workload, "short | rr | bulk | bulk-reverse | latency")
      ->required()
      ->transform(CLI::CheckedTransformer(workload_map()));
  srv->add_option("--port", so.port, "TCP port")->check(CLI::Range(1, 65535));
  srv->add_option("--threads,--engines", so.threads,
                  "kernel threads / xdptcp engines (0: one per core/queue)");
  srv->add_option("--iface", so.iface, "xdptcp: interface to serve on");
  srv->add_option("--ip", so.ip, "address to listen on");
  srv->add_flag("!--no-pin", so.pin, "do not pin threads to cores");
  srv->add_flag("--busy-poll", so.busy_poll,
                "spin instead of sleeping when idle (kernel: epoll_wait timeout 0, SO_BUSY_POLL, "
                "SO_PREFER_BUSY_POLL, epoll busy polling)");
  srv->add_option("--first-core", so.first_core, "pin thread/engine i to core (N + i) % cores");
  srv->add_option("--rx-batch", so.rx_batch, "xdptcp: frames per receive burst")->check(CLI::Range(1, 4096));
  srv->add_option("--spin-us", so.spin_us, "xdptcp: re-poll this long after work before sleeping")
      ->check(CLI::Range(0, 1000000));

  ClientOptions co;
  bool json = false;
  auto* cli = app.add_subcommand("client", "run a benchmark client");
  cli->add_option("--stack", co.stack, "kernel | xdptcp")->check(CLI::IsMember({"kernel", "xdptcp"}));
  cli->add_option("--workload", co.workload, "short | rr | bulk | bulk-reverse | latency")
      ->required()
      ->transform(CLI::CheckedTransformer(workload_map()));
  cli->add_option("--target", co.target, "server IP:PORT ([IPv6]:PORT)")->required();
  cli->add_option("--connections", co.connections, "concurrent connections (default: per workload)");
  cli->add_option("--duration", co.duration_s, "measured seconds")->check(CLI::PositiveNumber);
  cli->add_option("--warmup", co.warmup_s, "seconds run before measuring")->check(CLI::NonNegativeNumber);
  cli->add_option("--size", co.size, "request/reply bytes (bulk: bytes per write)");
  cli->add_option("--threads,--engines", co.threads, "kernel threads / xdptcp engines");
  cli->add_option("--iface", co.iface, "xdptcp: interface to run on");
  cli->add_flag("--busy-poll", co.busy_poll,
                "spin instead of sleeping when idle (kernel: epoll_wait timeout 0, SO_BUSY_POLL, "
                "SO_PREFER_BUSY_POLL, epoll busy polling)");
  cli->add_flag("--pin", co.pin, "kernel: pin thread i to core (first-core + i) % cores");
  cli->add_option("--first-core", co.first_core, "pin thread/engine i to core (N + i) % cores");
  cli->add_option("--rx-batch", co.rx_batch, "xdptcp: frames per receive burst")->check(CLI::Range(1, 4096));
  cli->add_option("--spin-us", co.spin_us, "xdptcp: re-poll this long after work before sleeping")
      ->check(CLI::Range(0, 1000000));
  cli->add_option("--time-wait-ms", co.time_wait_ms, "xdptcp: TIME-WAIT length (ms)")
      ->check(CLI::Range(1, 600000));
  cli->add_flag("--json", json, "print one JSON object");
  cli->add_option("--server-pid", co.server_pid, "also measure this process's CPU time (the server's)");

  CompareOptions cmp;
  auto* com = app.add_subcommand("compare", "kernel server against xdptcp server, same client, alternating");
  add_compare_options(*com, cmp);
  com->get_option("--workload")->transform(CLI::CheckedTransformer(workload_map()));

  AppOptions ao;
  auto* apc = app.add_subcommand(
      "app",
      "an unmodified server (nginx, redis, memcached) on the kernel and under xdptcp-run, same client, "
      "alternating");
  add_app_options(*apc, ao);

  MemcLoadOptions mo;
  auto* mcl = app.add_subcommand("memc-load", "memcached load generator (kernel TCP; app runs it)");
  add_memc_load_options(*mcl, mo);

  CLI11_PARSE(app, argc, argv);

  if (apc->parsed()) return run_app(ao);
  if (mcl->parsed()) return run_memc_load(mo);

  if (srv->parsed()) return run_server(so);
  if (cli->parsed()) {
    ClientResult r;
    std::string err;
    if (!run_client(co, r, &err)) {
      std::fprintf(stderr, "client: %s\n", err.c_str());
      return 2;
    }
    if (json) {
      std::printf("%s\n", to_json(r).dump().c_str());
    } else {
      print_text(r);
    }
    return 0;
  }
  return run_compare(cmp);
}

}  // namespace

int main(int argc, char** argv) {
  // CLI11 and the standard library report failures by throwing: say what failed instead of aborting.
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "xdptcp-bench: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "xdptcp-bench: unknown exception\n");
  }
  return 1;
}
