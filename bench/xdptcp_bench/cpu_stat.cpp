// CPU time from /proc (see cpu_stat.h).
#include "bench/xdptcp_bench/cpu_stat.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace xdptcp::bench {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool parse_u64(std::string_view t, std::uint64_t& v) {
  const auto r = std::from_chars(t.data(), t.data() + t.size(), v);
  return r.ec == std::errc{} && r.ptr == t.data() + t.size();
}

// Splits a line into whitespace-separated words.
std::vector<std::string_view> words(std::string_view line) {
  std::vector<std::string_view> w;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    const std::size_t b = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > b) w.push_back(line.substr(b, i - b));
  }
  return w;
}

// The fields of a cpu line after its name; false when fewer than 7 or not numbers.
bool parse_times(const std::vector<std::string_view>& w, CpuTimes& t) {
  if (w.size() < 8) return false;
  std::uint64_t* f[] = {&t.user, &t.nice,    &t.system, &t.idle,  &t.iowait,
                        &t.irq,  &t.softirq, &t.steal,  &t.guest, &t.guest_nice};
  for (std::size_t i = 1; i < w.size() && i <= 10; ++i) {
    if (!parse_u64(w[i], *f[i - 1])) return false;
  }
  return true;
}

}  // namespace

std::uint64_t CpuTimes::busy() const {
  // guest time is also in user (guest_nice in nice): take it out rather than count it twice or as ours.
  const std::uint64_t u = user >= guest ? user - guest : 0;
  const std::uint64_t n = nice >= guest_nice ? nice - guest_nice : 0;
  return u + n + system + irq + softirq;
}

std::uint64_t CpuTimes::total() const {
  return user + nice + system + idle + iowait + irq + softirq + steal;
}

bool parse_proc_stat(std::string_view text, ProcStat& out) {
  out = ProcStat{};
  bool have_all = false;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    const std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (line.size() < 3 || line.substr(0, 3) != "cpu") continue;
    const auto w = words(line);
    if (w.empty()) continue;
    CpuTimes t;
    if (!parse_times(w, t)) continue;
    if (w[0] == "cpu") {
      out.all = t;
      have_all = true;
      continue;
    }
    std::uint64_t n = 0;
    if (!parse_u64(w[0].substr(3), n) || n > 65535) continue;
    if (out.cores.size() <= n) out.cores.resize(n + 1);
    out.cores[n] = t;
  }
  return have_all;
}

bool parse_cpu_list(std::string_view text, std::vector<unsigned>& out) {
  out.clear();
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  if (text.empty()) return false;
  while (!text.empty()) {
    const std::size_t comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    const std::size_t dash = item.find('-');
    std::uint64_t a = 0, b = 0;
    if (!parse_u64(item.substr(0, dash), a)) return false;
    b = a;
    if (dash != std::string_view::npos && !parse_u64(item.substr(dash + 1), b)) return false;
    if (b < a || b > 65535) return false;
    for (std::uint64_t c = a; c <= b; ++c) out.push_back(static_cast<unsigned>(c));
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return true;
}

double CpuSample::softirq_on(const std::vector<unsigned>& cores) const {
  double s = 0;
  for (const unsigned c : cores) {
    if (c < core_softirq_s.size()) s += core_softirq_s[c];
  }
  return s;
}

CpuSample sample_from(const ProcStat& s, double ticks_per_s) {
  CpuSample c;
  c.busy_s = static_cast<double>(s.all.busy()) / ticks_per_s;
  c.total_s = static_cast<double>(s.all.total()) / ticks_per_s;
  c.steal_s = static_cast<double>(s.all.steal) / ticks_per_s;
  c.softirq_s = static_cast<double>(s.all.softirq) / ticks_per_s;
  for (const auto& t : s.cores) c.core_softirq_s.push_back(static_cast<double>(t.softirq) / ticks_per_s);
  return c;
}

CpuSample read_cpu() {
  ProcStat s;
  if (!parse_proc_stat(slurp("/proc/stat"), s)) return CpuSample{};
  return sample_from(s, static_cast<double>(sysconf(_SC_CLK_TCK)));
}

double read_process_cpu(int pid) {
  const std::string buf = slurp("/proc/" + std::to_string(pid) + "/stat");
  // Fields after the command name, which is in parentheses and may hold spaces.
  const std::size_t p = buf.rfind(')');
  if (p == std::string::npos || p + 2 > buf.size()) return 0;
  unsigned long long utime = 0, stime = 0;
  // state(3) ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime(14) stime(15)
  if (std::sscanf(buf.c_str() + p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
                  &stime) != 2)
    return 0;
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

std::vector<unsigned> process_cores(int pid) {
  // A thread allowed on every core (a server's main thread, waiting in join) says nothing about where
  // the work runs: take the union of the pinned threads, and every core only when none is pinned.
  const long online = sysconf(_SC_NPROCESSORS_ONLN);
  std::vector<unsigned> every;
  for (long c = 0; c < online; ++c) every.push_back(static_cast<unsigned>(c));
  std::vector<unsigned> all;
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return all;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    const std::string st = slurp(dir + "/" + e->d_name + "/status");
    const std::size_t k = st.find("Cpus_allowed_list:");
    if (k == std::string::npos) continue;
    std::size_t b = k + std::strlen("Cpus_allowed_list:");
    while (b < st.size() && (st[b] == ' ' || st[b] == '\t')) ++b;
    const std::size_t end = st.find('\n', b);
    std::vector<unsigned> mine;
    if (parse_cpu_list(std::string_view(st).substr(b, end == std::string::npos ? std::string::npos : end - b),
                       mine) &&
        mine != every)
      all.insert(all.end(), mine.begin(), mine.end());
  }
  closedir(d);
  if (all.empty()) return every;
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  return all;
}

std::string cores_text(const std::vector<unsigned>& cores) {
  std::string s;
  for (std::size_t i = 0; i < cores.size();) {
    std::size_t j = i;
    while (j + 1 < cores.size() && cores[j + 1] == cores[j] + 1) ++j;
    if (!s.empty()) s += ',';
    s += std::to_string(cores[i]);
    if (j > i) s += "-" + std::to_string(cores[j]);
    i = j + 1;
  }
  return s;
}

}  // namespace xdptcp::bench
