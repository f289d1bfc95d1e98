// xdptcp-impair: link impairment for tests on kernels without netem (docs/IMPAIRMENT.md).
//   tc     attach bpf/impair.bpf.c to an interface: loss, duplication, corruption (tc_impair.h)
//   stats  print that program's counters
//   delay  forward between two interfaces with delay, jitter, reordering and a rate (forwarder.h)
// Run it inside the router namespace of the test topology, as root.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <exception>
#include <iostream>

#include "tools/impair/delay_model.h"
#include "tools/impair/forwarder.h"
#include "tools/impair/tc_impair.h"

namespace {

using namespace xdptcp::impair;

std::uint64_t ms_to_ns(double ms) {
  return ms > 0 ? static_cast<std::uint64_t>(ms * 1e6) : 0;
}

int fail(const xdptcp::Error& e) {
  std::cerr << "xdptcp-impair: " << e.describe() << "\n";
  return e.code == EPERM || e.code == EACCES ? 2 : e.code == ENODEV || e.code == ENOENT ? 3 : 5;
}

// main() without the exception guard.
int run(int argc, char** argv) {
  CLI::App app{
      "xdptcp-impair: loss, duplication, corruption, delay, jitter, reordering and rate limits "
      "for a test link, without netem. See docs/IMPAIRMENT.md."};
  app.require_subcommand(1);
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "show libbpf's messages (the verifier log on a load failure)");

  const std::map<std::string, Hook> hooks{{"ingress", Hook::kIngress}, {"egress", Hook::kEgress}};

  // tc
  TcSettings tc;
  double loss = 0, dup = 0, corrupt = 0;
  bool clear = false;
  CLI::App* tc_cmd =
      app.add_subcommand("tc", "attach (or reconfigure) the TC impairment program on an interface");
  tc_cmd->add_option("--iface", tc.iface, "interface (in this network namespace)")->required();
  tc_cmd->add_option("--hook", tc.hook, "clsact hook: egress (default; works with `delay`) or ingress")
      ->transform(CLI::CheckedTransformer(hooks, CLI::ignore_case));
  tc_cmd->add_option("--loss", loss, "percent of TCP frames dropped")->check(CLI::Range(0.0, 100.0));
  tc_cmd->add_option("--dup", dup, "percent of TCP frames sent twice")->check(CLI::Range(0.0, 100.0));
  tc_cmd
      ->add_option("--corrupt", corrupt, "percent of TCP frames with one byte flipped (checksum left stale)")
      ->check(CLI::Range(0.0, 100.0));
  tc_cmd->add_option("--dup-to", tc.dup_to,
                     "send duplicates out of this interface's egress, frame unchanged (bridges); default: "
                     "the copy re-enters the same hook and follows the original");
  tc_cmd->add_option("--seed", tc.seed, "random seed; 0 = the kernel's generator (not reproducible)")
      ->capture_default_str();
  tc_cmd->add_flag("--clear", clear, "detach instead (and remove the clsact qdisc when it is left empty)");

  // stats
  std::string stats_iface;
  Hook stats_hook = Hook::kEgress;
  CLI::App* stats_cmd = app.add_subcommand("stats", "print the TC program's counters for an interface");
  stats_cmd->add_option("--iface", stats_iface, "interface")->required();
  stats_cmd->add_option("--hook", stats_hook, "ingress or egress (default)")
      ->transform(CLI::CheckedTransformer(hooks, CLI::ignore_case));

  // delay
  ForwarderOptions fo;
  double delay_ms = 0, jitter_ms = 0, reorder = 0, reorder_extra_ms = -1;
  CLI::App* delay_cmd = app.add_subcommand(
      "delay", "forward between two interfaces with delay, jitter and reordering (replaces IP forwarding)");
  delay_cmd->add_option("--in", fo.iface_in, "one router interface (e.g. towards the client)")->required();
  delay_cmd->add_option("--out", fo.iface_out, "the other one (e.g. towards the server)")->required();
  delay_cmd->add_option("--delay", delay_ms, "one-way delay in ms, each direction")
      ->check(CLI::Range(0.0, 10000.0));
  delay_cmd->add_option("--jitter", jitter_ms, "extra random delay, uniform in [0, MS]")
      ->check(CLI::Range(0.0, 10000.0));
  delay_cmd
      ->add_option("--reorder", reorder, "percent of frames held back by --reorder-extra so later ones pass")
      ->check(CLI::Range(0.0, 100.0));
  delay_cmd
      ->add_option("--reorder-extra", reorder_extra_ms,
                   "extra delay of a reordered frame, ms (default: "
                   "the --delay, at least 1 ms)")
      ->check(CLI::Range(0.0, 10000.0));
  delay_cmd->add_option("--rate", fo.rate_mbit, "rate limit in Mbit/s, by tbf on both interfaces (0: none)")
      ->check(CLI::Range(0.0, 100000.0));
  delay_cmd->add_option("--queue", fo.queue_frames, "frames the delay queue holds; beyond: tail drop")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  delay_cmd->add_option("--seed", fo.seed, "random seed for jitter and reordering")->capture_default_str();
  delay_cmd->add_option("--seconds", fo.seconds, "stop after this long (default: on SIGINT / SIGTERM)");
  delay_cmd->add_flag("--keep-kernel-forwarding", fo.keep_kernel_forwarding,
                      "do not switch the namespace's IP forwarding off (frames would then cross twice)");

  CLI11_PARSE(app, argc, argv);
  set_libbpf_verbose(verbose);

  if (tc_cmd->parsed()) {
    if (clear) {
      auto r = tc_clear(tc.iface, tc.hook, std::cout);
      return r ? 0 : fail(r.error());
    }
    tc.loss_ppm = percent_to_ppm(loss);
    tc.dup_ppm = percent_to_ppm(dup);
    tc.corrupt_ppm = percent_to_ppm(corrupt);
    auto r = tc_apply(tc, std::cout);
    return r ? 0 : fail(r.error());
  }
  if (stats_cmd->parsed()) {
    auto c = tc_counters(stats_iface, stats_hook);
    if (!c) return fail(c.error());
    std::cout << "seen=" << c->seen << "\ndropped=" << c->dropped << "\nduplicated=" << c->duplicated
              << "\ndup_failed=" << c->dup_failed << "\ncorrupted=" << c->corrupted
              << "\npassed_other=" << c->passed_other << "\n";
    return 0;
  }
  fo.delay.delay_ns = ms_to_ns(delay_ms);
  fo.delay.jitter_ns = ms_to_ns(jitter_ms);
  fo.delay.reorder_ppm = percent_to_ppm(reorder);
  fo.delay.reorder_extra_ns = reorder_extra_ms >= 0 ? ms_to_ns(reorder_extra_ms)
                                                    : std::max<std::uint64_t>(fo.delay.delay_ns, 1'000'000);
  return run_forwarder(fo, std::cout, std::cerr);
}

}  // namespace

int main(int argc, char** argv) {
  // CLI11 and the standard library report failures (a bad option, memory) by throwing: say what
  // failed instead of letting std::terminate abort.
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "xdptcp-impair: " << e.what() << "\n";
  } catch (...) {
    std::cerr << "xdptcp-impair: unknown exception\n";
  }
  return 1;
}
