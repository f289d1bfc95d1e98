// `xdptcp-bench app` (app.h): reading the clients' output (wrk, redis-benchmark --csv, memc-load) and the
// summary per workload: per stack the median and spread over rounds of requests/s, the machine's
// busy CPU us per request and the server processes' CPU us per request, latency medians, errors, and
// the xdptcp/kernel ratio of each; as a text table (like compare_table.h's) or JSON.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace xdptcp::bench {

// One measured client run against one server.
struct AppRun {
  double rps = 0;       // requests per second, as the client computed it
  double requests = 0;  // requests completed
  double p50_us = 0, p99_us = 0;
  double errors = 0;         // wrk: socket errors + non-2xx/3xx responses; redis: "Error" lines; memc-load's
  std::string error_detail;  // the client's lines about them
  double cpu_busy_s = 0;     // the whole machine's busy time over the run (/proc/stat)
  double server_cpu_s = 0;   // user + system time of the server's processes over the run
  double wall_s = 0;         // the client process's lifetime
};

// wrk's report (with --latency): "N requests in", "Requests/sec:", the 50% and 99% latency lines,
// "Socket errors: connect a, read b, write c, timeout d" and "Non-2xx or 3xx responses: n". False
// with *error when the report lacks the request count or rate.
bool parse_wrk(const std::string& out, AppRun& r, std::string* error);
// redis-benchmark --csv for one test ("SET", "GET"): the test's row (rps, p50 and p99 in ms). Since
// Redis 7 the benchmark exits non-zero on the first error reply or connection error (app reports
// that run as failed); "Error..." lines, which older versions print with -e, are counted as errors.
// `requests` is what -n asked for.
bool parse_redis_csv(const std::string& out, const std::string& test, double requests, AppRun& r,
                     std::string* error);

// `xdptcp-bench memc-load`'s JSON line (memc_load.h): requests, rps, p50/p99 and its errors (misses,
// error replies, wrong values, closed connections) with their description. False with *error when
// the output has no such object.
bool parse_memc_load(const std::string& out, AppRun& r, std::string* error);

struct AppWorkload {
  std::string name;    // keepalive, close, SET, GET (redis and memcached)
  std::string client;  // the client's command, for the reader
  std::vector<AppRun> kernel, xdptcp;
};

struct AppSummary {
  double rps = 0;            // median over rounds
  double spread_pct = 0;     // (max - min) / median of rps
  double cpu_us = 0;         // median machine busy CPU us per request
  double server_cpu_us = 0;  // median server-process CPU us per request
  double p50_us = 0, p99_us = 0;
  double errors = 0;  // total over rounds
};

AppSummary summarize_app(const std::vector<AppRun>& rounds);
// Header lines (the app, set-up, load average) first, then one block per workload.
void print_app_table(const std::vector<std::string>& header, const std::vector<AppWorkload>& workloads);
nlohmann::json app_workload_json(const AppWorkload& w);

}  // namespace xdptcp::bench
