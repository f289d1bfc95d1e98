// Reading wrk's, redis-benchmark's and memc-load's output, and app's table and JSON (see app_report.h).
#include "bench/xdptcp_bench/app_report.h"
#include "bench/xdptcp_bench/round_stats.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

namespace xdptcp::bench {
namespace {

double ratio(double x, double k) {
  return k > 0 ? x / k : 0;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

// wrk's durations: "635.00us", "1.03ms", "2.00s", "1.00m".
double wrk_time_us(const std::string& s) {
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  const std::string unit = trim(end != nullptr ? end : "");
  if (unit == "us") return v;
  if (unit == "ms") return v * 1e3;
  if (unit == "s") return v * 1e6;
  if (unit == "m") return v * 60e6;
  if (unit == "h") return v * 3600e6;
  return v;
}

// One CSV line's fields without their quotes.
std::vector<std::string> csv_fields(const std::string& line) {
  std::vector<std::string> f;
  std::istringstream in(line);
  for (std::string x; std::getline(in, x, ',');) {
    x = trim(x);
    if (x.size() >= 2 && x.front() == '"' && x.back() == '"') x = x.substr(1, x.size() - 2);
    f.push_back(x);
  }
  return f;
}

}  // namespace

bool parse_wrk(const std::string& out, AppRun& r, std::string* error) {
  bool have_requests = false, have_rate = false;
  std::istringstream in(out);
  for (std::string raw; std::getline(in, raw);) {
    const std::string line = trim(raw);
    unsigned long long n = 0;
    char pct[8] = {};
    char val[32] = {};
    unsigned long long c = 0, rd = 0, w = 0, t = 0;
    if (std::sscanf(line.c_str(), "%llu requests in", &n) == 1 &&
        line.find(" requests in ") != std::string::npos) {
      r.requests = static_cast<double>(n);
      have_requests = true;
    } else if (line.rfind("Requests/sec:", 0) == 0) {
      r.rps = std::strtod(line.c_str() + std::strlen("Requests/sec:"), nullptr);
      have_rate = true;
    } else if (std::sscanf(line.c_str(), "Socket errors: connect %llu, read %llu, write %llu, timeout %llu",
                           &c, &rd, &w, &t) == 4) {
      r.errors += static_cast<double>(c + rd + w + t);
      r.error_detail += line + "\n";
    } else if (std::sscanf(line.c_str(), "Non-2xx or 3xx responses: %llu", &n) == 1) {
      r.errors += static_cast<double>(n);
      r.error_detail += line + "\n";
    } else if (std::sscanf(line.c_str(), "%7[0-9.]%% %31s", pct, val) == 2) {
      // "Latency Distribution" lines: 50% 635.00us ... 99% 2.39ms
      if (std::strcmp(pct, "50") == 0) r.p50_us = wrk_time_us(val);
      if (std::strcmp(pct, "99") == 0) r.p99_us = wrk_time_us(val);
    }
  }
  if (!have_requests || !have_rate) {
    *error = "wrk's report has no \"requests in\" or \"Requests/sec:\" line";
    return false;
  }
  return true;
}

bool parse_redis_csv(const std::string& out, const std::string& test, double requests, AppRun& r,
                     std::string* error) {
  bool found = false;
  std::istringstream in(out);
  for (std::string raw; std::getline(in, raw);) {
    const std::string line = trim(raw);
    if (line.empty()) continue;
    if (line.rfind("Error", 0) == 0) {
      r.errors += 1;
      if (r.error_detail.size() < 2000) r.error_detail += line + "\n";
      continue;
    }
    const auto f = csv_fields(line);
    // "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms",...
    if (f.size() >= 7 && f[0] == test) {
      r.rps = std::strtod(f[1].c_str(), nullptr);
      r.p50_us = std::strtod(f[4].c_str(), nullptr) * 1e3;
      r.p99_us = std::strtod(f[6].c_str(), nullptr) * 1e3;
      r.requests = requests;
      found = true;
    }
  }
  if (!found || r.rps <= 0) {
    *error = "redis-benchmark's CSV has no row for " + test;
    return false;
  }
  return true;
}

bool parse_memc_load(const std::string& out, AppRun& r, std::string* error) {
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    line = trim(line);
    if (line.empty() || line.front() != '{') continue;
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.contains("rps") || !j.contains("requests")) continue;
    r.rps = j.at("rps").get<double>();
    r.requests = j.at("requests").get<double>();
    r.p50_us = j.value("p50_us", 0.0);
    r.p99_us = j.value("p99_us", 0.0);
    r.errors = j.value("errors", 0.0);
    r.error_detail = j.value("error_detail", std::string());
    if (r.rps <= 0 && r.errors == 0) break;
    return true;
  }
  *error = "memc-load's output has no result line with requests > 0";
  return false;
}

AppSummary summarize_app(const std::vector<AppRun>& rounds) {
  AppSummary s;
  std::vector<double> rps, cpu, scpu, p50, p99;
  for (const auto& r : rounds) {
    rps.push_back(r.rps);
    cpu.push_back(r.requests > 0 ? r.cpu_busy_s / r.requests * 1e6 : 0);
    scpu.push_back(r.requests > 0 ? r.server_cpu_s / r.requests * 1e6 : 0);
    p50.push_back(r.p50_us);
    p99.push_back(r.p99_us);
    s.errors += r.errors;
  }
  s.rps = median(rps);
  s.spread_pct = spread_pct(rps, s.rps);
  s.cpu_us = median(cpu);
  s.server_cpu_us = median(scpu);
  s.p50_us = median(p50);
  s.p99_us = median(p99);
  return s;
}

void print_app_table(const std::vector<std::string>& header, const std::vector<AppWorkload>& workloads) {
  for (const auto& h : header) std::printf("%s\n", h.c_str());
  std::printf("%-10s %-7s %12s %8s %10s %10s %9s %9s %7s\n", "workload", "stack", "req/s", "spread", "us/req",
              "server", "p50 us", "p99 us", "errors");
  for (const auto& w : workloads) {
    const AppSummary k = summarize_app(w.kernel), x = summarize_app(w.xdptcp);
    auto row = [&](const char* stack, const AppSummary& s) {
      std::printf("%-10s %-7s %12.1f %7.1f%% %10.2f %10.2f %9.1f %9.1f %7.0f\n", w.name.c_str(), stack, s.rps,
                  s.spread_pct, s.cpu_us, s.server_cpu_us, s.p50_us, s.p99_us, s.errors);
    };
    row("kernel", k);
    row("xdptcp", x);
    std::printf("%-10s %-7s %11.2fx %8s %9.2fx %9.2fx %8.2fx %8.2fx\n", w.name.c_str(), "ratio",
                ratio(x.rps, k.rps), "", ratio(x.cpu_us, k.cpu_us), ratio(x.server_cpu_us, k.server_cpu_us),
                ratio(x.p50_us, k.p50_us), ratio(x.p99_us, k.p99_us));
  }
  std::printf(
      "req/s: median over rounds; spread = (max-min)/median; us/req = the machine's busy CPU (all cores) per "
      "request; server = the server processes' user+system CPU per request; ratio = xdptcp/kernel\n");
  for (const auto& w : workloads) std::printf("%-10s %s\n", w.name.c_str(), w.client.c_str());
}

nlohmann::json app_workload_json(const AppWorkload& w) {
  const AppSummary k = summarize_app(w.kernel), x = summarize_app(w.xdptcp);
  auto side = [](const std::vector<AppRun>& runs, const AppSummary& s) {
    nlohmann::json rounds = nlohmann::json::array();
    for (const auto& r : runs) {
      rounds.push_back({{"rps", r.rps},
                        {"requests", r.requests},
                        {"p50_us", r.p50_us},
                        {"p99_us", r.p99_us},
                        {"errors", r.errors},
                        {"error_detail", r.error_detail},
                        {"cpu_busy_s", r.cpu_busy_s},
                        {"server_cpu_s", r.server_cpu_s},
                        {"wall_s", r.wall_s}});
    }
    return nlohmann::json{{"throughput", s.rps},
                          {"throughput_unit", "req/s"},
                          {"spread_pct", s.spread_pct},
                          {"cpu_us_per_req", s.cpu_us},
                          {"server_cpu_us_per_req", s.server_cpu_us},
                          {"p50_us", s.p50_us},
                          {"p99_us", s.p99_us},
                          {"errors", s.errors},
                          {"rounds", rounds}};
  };
  return nlohmann::json{{"workload", w.name},
                        {"client", w.client},
                        {"ratio", ratio(x.rps, k.rps)},
                        {"ratios",
                         {{"throughput", ratio(x.rps, k.rps)},
                          {"cpu_per_req", ratio(x.cpu_us, k.cpu_us)},
                          {"server_cpu_per_req", ratio(x.server_cpu_us, k.server_cpu_us)},
                          {"p50", ratio(x.p50_us, k.p50_us)},
                          {"p99", ratio(x.p99_us, k.p99_us)}}},
                        {"kernel", side(w.kernel, k)},
                        {"xdptcp", side(w.xdptcp, x)}};
}

}  // namespace xdptcp::bench
