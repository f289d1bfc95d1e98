// compare's chart through gnuplot (see chart.h).
#include "bench/xdptcp_bench/chart.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include <unistd.h>

namespace xdptcp::bench {

bool write_chart(const std::string& png, Workload w, const StackRounds& kernel, const StackRounds& xdptcp,
                 std::string* error) {
  const bool lat = w == Workload::kLatency;
  const bool bulk = is_bulk(w);
  auto fig = [&](const ClientResult& r) { return lat ? r.p99_us : bulk ? r.bytes_per_s / 1e6 : r.txn_per_s; };
  const std::string data = "/tmp/xdptcp-bench-chart." + std::to_string(getpid()) + ".dat";
  {
    std::ofstream d(data);
    const std::size_t n = std::max(kernel.rounds.size(), xdptcp.rounds.size());
    for (std::size_t i = 0; i < n; ++i) {
      d << (i + 1) << ' ' << (i < kernel.rounds.size() ? fig(kernel.rounds[i]) : 0) << ' '
        << (i < xdptcp.rounds.size() ? fig(xdptcp.rounds[i]) : 0) << '\n';
    }
  }
  const std::string ylabel = lat ? "p99 latency (us)" : bulk ? "MB/s" : "transactions/s";
  std::FILE* g = popen("gnuplot 2>&1", "w");
  if (g == nullptr) {
    *error = "cannot run gnuplot (install it: tools/install-deps.sh)";
    return false;
  }
  std::fprintf(g,
               "set terminal pngcairo size 800,450\nset output '%s'\n"
               "set title 'xdptcp-bench compare: %s'\nset xlabel 'round'\nset ylabel '%s'\n"
               "set yrange [0:*]\nset xtics 1\nset key outside bottom center horizontal\n"
               "set style data histograms\nset style fill solid 0.8\nset boxwidth 0.9\n"
               "plot '%s' using 2:xtic(1) title 'kernel', '' using 3 title 'xdptcp'\n",
               png.c_str(), workload_name(w), ylabel.c_str(), data.c_str());
  const int st = pclose(g);
  std::remove(data.c_str());
  if (st != 0) {
    *error = "gnuplot failed (exit " + std::to_string(st) + ") writing " + png;
    return false;
  }
  return true;
}

}  // namespace xdptcp::bench
