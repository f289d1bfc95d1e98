// CPU time of the whole machine from /proc/stat (all cores): busy is everything but idle and
// iowait, in seconds. The benchmark's CPU cost per transaction is busy time over a measured
// window divided by the transactions in it.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstring>

namespace xdptcp::bench {

struct CpuSample {
  double busy_s = 0;
  double total_s = 0;
};

inline CpuSample read_cpu() {
  CpuSample s;
  std::FILE* f = std::fopen("/proc/stat", "r");
  if (f == nullptr) return s;
  unsigned long long v[10] = {};
  const int n = std::fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
                            &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]);
  std::fclose(f);
  if (n < 8) return s;
  // guest and guest_nice (v[8], v[9]) are already counted in user and nice.
  unsigned long long total = 0;
  for (int i = 0; i < 8; ++i) total += v[i];
  const double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
  s.total_s = static_cast<double>(total) / hz;
  s.busy_s = static_cast<double>(total - v[3] - v[4]) / hz;
  return s;
}

// CPU seconds (user + system, all threads) a process has used so far, from /proc/<pid>/stat;
// 0 when it cannot be read. Softirq work the kernel does in other contexts is not in it.
inline double read_process_cpu(int pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  std::FILE* f = std::fopen(path, "r");
  if (f == nullptr) return 0;
  char buf[1024];
  const std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  // Fields after the command name, which is in parentheses and may hold spaces.
  const char* p = std::strrchr(buf, ')');
  if (p == nullptr) return 0;
  unsigned long long utime = 0, stime = 0;
  // state(3) ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime(14) stime(15)
  if (std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
    return 0;
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace xdptcp::bench
