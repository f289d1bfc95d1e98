// CPU time from /proc: the whole machine's and each core's (/proc/stat), a process's own
// (/proc/<pid>/stat) and the cores a process's threads may run on (/proc/<pid>/task/*/status).
//
// Machine busy time is user + nice + system + irq + softirq, with guest and guest_nice taken out of
// user and nice (the kernel counts a guest's time in both) and steal left out: steal is time the
// hypervisor ran something else while this vCPU wanted to run, work this machine did not do, and on
// a shared KVM host it would charge a neighbour's load to whichever stack was measured at the time.
// idle and iowait are not busy. The benchmark's CPU cost per transaction is busy time over a
// measured window divided by the transactions in it.
//
// A process's utime + stime leave out softirq time (with CONFIG_IRQ_TIME_ACCOUNTING, as on Debian's
// kernels, softirq time is charged to the core, not to the task it interrupted), and softirq is where
// the kernel does its TCP receive work; so a server's CPU is its own time plus the softirq time of
// the cores its threads are pinned to (softirq_on); docs/PERFORMANCE.md says what that does and does
// not capture on a veth pair.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace xdptcp::bench {

// One "cpu" or "cpuN" line of /proc/stat, in clock ticks (USER_HZ).
struct CpuTimes {
  std::uint64_t user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0,
                guest = 0, guest_nice = 0;

  // Work this machine did: user + nice (without the guest time counted in them) + system + irq + softirq.
  std::uint64_t busy() const;
  // Elapsed time of the core(s): busy + guest + idle + iowait + steal (every tick once).
  std::uint64_t total() const;
};

struct ProcStat {
  CpuTimes all;                 // the "cpu" line
  std::vector<CpuTimes> cores;  // "cpuN" lines, indexed by N (a missing N stays zero)
};

// Parses the text of /proc/stat; false when it has no "cpu" line with at least the 7 fields of
// Linux 2.6 (user .. softirq; steal, guest and guest_nice are read when present).
bool parse_proc_stat(std::string_view text, ProcStat& out);

// Parses a CPU list as in /proc/<pid>/status Cpus_allowed_list ("0-3,8,10-11"); false on bad input.
bool parse_cpu_list(std::string_view text, std::vector<unsigned>& out);

struct CpuSample {
  double busy_s = 0;                   // all cores, without steal and guest
  double total_s = 0;                  // all cores' elapsed time
  double steal_s = 0;                  // all cores
  double softirq_s = 0;                // all cores
  std::vector<double> core_softirq_s;  // per core

  // Softirq seconds of these cores (those out of range count 0).
  double softirq_on(const std::vector<unsigned>& cores) const;
};

CpuSample sample_from(const ProcStat& s, double ticks_per_s);
// /proc/stat now; all zero when it cannot be read.
CpuSample read_cpu();

// CPU seconds (user + system, all threads) a process has used so far, from /proc/<pid>/stat;
// 0 when it cannot be read. Softirq work is not in it (see above).
double read_process_cpu(int pid);

// The cores the process's pinned threads may run on (the union of the Cpus_allowed_list of those
// threads not allowed on every online core), sorted; every online core when no thread is pinned or
// the process cannot be read.
std::vector<unsigned> process_cores(int pid);

// "0-1" style text of a sorted core list, for reports.
std::string cores_text(const std::vector<unsigned>& cores);

}  // namespace xdptcp::bench
