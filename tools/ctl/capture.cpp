// xdptcp-ctl capture; see capture.h.
//
// The file is written with libpcap's dump functions on a "dead" handle (pcap_open_dead +
// pcap_dump_open): libpcap's live capture cannot be used, because the frames it would capture never
// reach the kernel's packet taps. The XDP program redirects the stack's frames into AF_XDP sockets
// before the taps run, and the engines' frames leave through the sockets' TX rings, which bypass
// them too; so `tcpdump -i IF` (or pcap_open_live) sees the kernel's own traffic only, and this
// command is its replacement for the stack's.
#include "tools/ctl/capture.h"

#include <net/if.h>
#include <pcap/pcap.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "userstack/engine/capture_reader.h"
#include "userstack/engine/stats_region.h"

namespace xdptcp::ctl {
namespace {

namespace cap = engine::capture;

volatile std::sig_atomic_t g_stop = 0;

extern "C" void on_stop_signal(int /*sig*/) {
  g_stop = 1;
}

// How often the rings are drained: a 512-record ring holds about 2 ms of a saturated 1 Gb/s link of
// full frames, far more of the small frames of request/response traffic.
constexpr auto kDrainInterval = std::chrono::milliseconds(2);

struct PcapCloser {
  void operator()(pcap_t* p) const { pcap_close(p); }
};
struct DumperCloser {
  void operator()(pcap_dumper_t* d) const { pcap_dump_close(d); }
};

int report_error(std::ostream& err, const Error& e) {
  err << "xdptcp-ctl: " << e.message << "\n";
  return exit_code_for(e);
}

}  // namespace

int cmd_capture(const Command& cmd, std::ostream& err) {
  if (::if_nametoindex(cmd.iface.c_str()) == 0)
    return report_error(err, Error{ENODEV, "no interface named '" + cmd.iface + "'"});

  // The processes to capture: every live one with a region on the interface, or --pid's.
  const engine::RegionListing listing = engine::list_stats_regions(cmd.iface);
  std::vector<std::unique_ptr<cap::Session>> sessions;
  bool denied = false;
  for (const auto& r : listing.regions) {
    if (r.stale() || (cmd.pid != 0 && r.pid != cmd.pid)) continue;
    auto s = cap::Session::open(r.path);
    if (!s) {
      denied = denied || s.error().code == EACCES || s.error().code == EPERM;
      err << "xdptcp-ctl: pid " << r.pid << " (" << r.comm << ") is not captured: " << s.error().describe()
          << "\n";
      continue;
    }
    sessions.push_back(std::move(s.value()));
  }
  if (denied && sessions.empty()) {
    err << "xdptcp-ctl: capture writes its request into each process's stats region: run as root (or as "
           "the process's user)\n";
    return kExitPermission;
  }
  if (sessions.empty()) {
    const std::string whom = cmd.pid != 0 ? "process " + std::to_string(cmd.pid) : "xdptcp process";
    return report_error(err,
                        Error{ENOENT, "nothing to capture: no " + whom + " runs on " + cmd.iface +
                                          " (its stats region under " + engine::stats_dir(cmd.iface) + ")"});
  }

  const std::uint32_t snaplen = cmd.snaplen == 0 ? cap::kMaxSnap : cmd.snaplen;
  std::unique_ptr<pcap_t, PcapCloser> dead(pcap_open_dead(DLT_EN10MB, static_cast<int>(snaplen)));
  if (!dead) return report_error(err, Error{ENOMEM, "pcap_open_dead failed"});
  std::unique_ptr<pcap_dumper_t, DumperCloser> dumper(pcap_dump_open(dead.get(), cmd.write_path.c_str()));
  if (!dumper) {
    return report_error(err, Error{EIO, "cannot write " + cmd.write_path + ": " + pcap_geterr(dead.get())});
  }

  // SIGINT/SIGTERM end the capture cleanly (the engines are told to stop); SIGKILL cannot, and the
  // engines notice that this process is gone within Engine::kStatsInterval.
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);

  cap::SessionOptions so;
  so.slots = cmd.ring_slots;
  so.snaplen = snaplen;
  so.port = cmd.capture_port;
  std::uint32_t engines = 0;
  std::vector<std::unique_ptr<cap::Session>> running;
  for (auto& s : sessions) {
    if (auto r = s->start(so); !r) {
      if (r.error().code == EINVAL) {  // bad options (--ring larger than the rings): the same everywhere
        err << "xdptcp-ctl: " << r.error().message << "\n";
        return kExitUsage;
      }
      err << "xdptcp-ctl: pid " << s->pid() << " (" << s->comm() << ") is not captured: " << r.error().message
          << "\n";
      continue;
    }
    engines += s->started();
    running.push_back(std::move(s));
  }
  for (const auto& s : running) {
    for (const std::string& w : s->warnings()) err << "xdptcp-ctl: " << w << "\n";
  }
  if (running.empty()) return report_error(err, Error{EBUSY, "no process could be captured"});
  err << "xdptcp-ctl: capturing on " << cmd.iface << " (" << engines << " engine" << (engines == 1 ? "" : "s")
      << " of " << running.size() << " process" << (running.size() == 1 ? "" : "es") << "), writing "
      << cmd.write_path << "\n";
  err.flush();

  std::uint64_t written = 0;
  std::vector<cap::Frame> batch;
  auto write_batch = [&] {
    // Frames of different engines interleave in time: each pass is written in timestamp order.
    std::stable_sort(batch.begin(), batch.end(),
                     [](const cap::Frame& a, const cap::Frame& b) { return a.ts_ns < b.ts_ns; });
    for (const cap::Frame& f : batch) {
      if (cmd.count != 0 && written == cmd.count) break;
      pcap_pkthdr h{};
      h.ts.tv_sec = static_cast<time_t>(f.ts_ns / 1'000'000'000ULL);
      h.ts.tv_usec = static_cast<suseconds_t>(f.ts_ns % 1'000'000'000ULL / 1000);
      h.caplen = static_cast<bpf_u_int32>(f.bytes.size());
      h.len = f.orig_len;
      pcap_dump(reinterpret_cast<u_char*>(dumper.get()), &h, f.bytes.data());
      ++written;
    }
    batch.clear();
    pcap_dump_flush(dumper.get());
  };

  const auto start = std::chrono::steady_clock::now();
  const auto deadline = cmd.duration_s > 0
                            ? start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                          std::chrono::duration<double>(cmd.duration_s))
                            : std::chrono::steady_clock::time_point::max();
  while (g_stop == 0 && (cmd.count == 0 || written < cmd.count) &&
         std::chrono::steady_clock::now() < deadline) {
    for (auto& s : running) s->drain(batch);
    write_batch();
    std::this_thread::sleep_for(kDrainInterval);
  }
  std::uint64_t lost = 0;
  for (auto& s : running) {
    s->stop(batch);
    lost += s->lost();
  }
  write_batch();
  dumper.reset();
  for (const auto& s : running) {
    for (const std::string& w : s->warnings()) err << "xdptcp-ctl: " << w << "\n";
  }
  err << written << " frame" << (written == 1 ? "" : "s") << " captured, " << lost
      << " lost to a full capture ring\n";
  return kExitOk;
}

}  // namespace xdptcp::ctl
