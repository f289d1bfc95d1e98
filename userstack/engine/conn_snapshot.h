// Connection snapshots: every engine's TCBs as `xdptcp-ctl ss` shows them, asked for and read back
// by another process through the stats region (stats_region.h, layout version 2).
//
// The protocol, per engine slot (SlotHeader's conn_request, sleep_state, wake_fd, serving):
//   reader  1. adds 1 to conn_request (sequentially consistent) and remembers the new value R;
//           2. compare-and-swaps sleep_state kAsleep -> kRung; when that succeeds the engine sleeps
//              (or is about to) and the reader rings its doorbell: the eventfd wake_fd of the writer
//              process, duplicated with pidfd_getfd(2) (root, or ptrace rights over the writer);
//           3. polls the engine's ConnAreaHeader (every millisecond, up to a timeout) until a
//              consistent copy (its seqlock even and unchanged across the copy) answers >= R.
//   engine  - once per poll(): one relaxed load of conn_request compared with the last value it
//             answered, nothing else; when it moved, a snapshot begins: `seq` odd, then the pool's
//             TCB slots are visited kConnSlotsPerPoll at a time over the next polls (the engine
//             does not sleep meanwhile), each live TCB encoded into the next entry, and finally
//             count, truncated and answer = the request value seen at the start, `seq` even;
//           - before sleeping: sleep_state = kAsleep (sequentially consistent), then one more look
//             at conn_request: a request that came meanwhile is served instead of sleeping;
//           - once awake: sleep_state = kAwake by exchange; kRung means a reader rings the doorbell
//             once, and the engine reads the eventfd (at this wake-up or a later one) to clear it.
// A busy engine costs nothing but that load; a sleeping one (its loop blocks in poll/epoll on its
// AF_XDP and doorbell descriptors, the preload library's inside the application's epoll_wait) is
// woken only when a reader asks. The doorbell is the engine's hand-off eventfd because it already is
// in every set an engine sleeps on, the application's epoll set included (Engine::poll_fds); a FIFO
// would be one more file per engine to clean up after a crash, and a signal would interrupt the
// application's own system calls under the preload library. Entries are written and copied as
// 64-bit words through std::atomic_ref, as the counters are.
#pragma once

#include <sys/types.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "userstack/base/result.h"
#include "userstack/engine/stats_region.h"

namespace xdptcp::engine {

// Linux's TCP state numbers (include/net/tcp_states.h), the entries' `state`: stable in the file.
namespace linux_tcp_state {
inline constexpr std::uint8_t kEstablished = 1;
inline constexpr std::uint8_t kSynSent = 2;
inline constexpr std::uint8_t kSynRecv = 3;
inline constexpr std::uint8_t kFinWait1 = 4;
inline constexpr std::uint8_t kFinWait2 = 5;
inline constexpr std::uint8_t kTimeWait = 6;
inline constexpr std::uint8_t kClose = 7;
inline constexpr std::uint8_t kCloseWait = 8;
inline constexpr std::uint8_t kLastAck = 9;
inline constexpr std::uint8_t kListen = 10;
inline constexpr std::uint8_t kClosing = 11;
inline constexpr std::uint8_t kMax = 11;
}  // namespace linux_tcp_state

// ss's name of a Linux state ("ESTAB", "SYN-RECV", "LISTEN", ...), "UNKNOWN" otherwise.
std::string_view ss_state_name(std::uint8_t linux_state);

// ConnEntry::flags.
inline constexpr std::uint8_t kConnAppSocket = 1;  // the application holds it (a socket id)
inline constexpr std::uint8_t kConnOrphan = 2;     // closed by the application, still finishing

// One TCB in a snapshot: 256 bytes, native byte order, the tcp_info fields in Linux's units
// (userstack/tcp/tcp_info.h). Reserved bytes are zero; a later version may use them.
struct ConnEntry {
  std::uint8_t family = 0;  // 4 or 6
  std::uint8_t state = 0;   // linux_tcp_state
  std::uint8_t flags = 0;   // kConnAppSocket, kConnOrphan
  std::uint8_t ca_state = 0;
  std::uint8_t retransmits = 0;
  std::uint8_t probes = 0;
  std::uint8_t backoff = 0;
  std::uint8_t options = 0;  // TCPI_OPT_* bits
  std::uint8_t snd_wscale = 0;
  std::uint8_t rcv_wscale = 0;
  std::uint16_t local_port = 0;
  std::uint16_t remote_port = 0;
  std::uint16_t reserved0 = 0;
  std::int32_t socket = -1;  // the stack's socket id, -1 without one
  std::uint32_t recv_q = 0;  // a listener: its accept queue's length
  std::uint32_t send_q = 0;  // a listener: its backlog
  std::uint32_t reserved1 = 0;
  std::array<std::uint8_t, 16> local_addr{};  // IPv4 in the first 4 bytes
  std::array<std::uint8_t, 16> remote_addr{};
  std::array<char, 16> cc{};  // the congestion control's name (TCP_CA_NAME_MAX), NUL-padded
  std::uint32_t rto_us = 0;
  std::uint32_t ato_us = 0;
  std::uint32_t snd_mss = 0;
  std::uint32_t rcv_mss = 0;
  std::uint32_t advmss = 0;
  std::uint32_t pmtu = 0;
  std::uint32_t unacked = 0;
  std::uint32_t sacked = 0;
  std::uint32_t lost = 0;
  std::uint32_t last_data_sent_ms = 0;
  std::uint32_t last_data_recv_ms = 0;
  std::uint32_t last_ack_recv_ms = 0;
  std::uint32_t rtt_us = 0;
  std::uint32_t rttvar_us = 0;
  std::uint32_t min_rtt_us = 0;
  std::uint32_t snd_ssthresh = 0;
  std::uint32_t snd_cwnd = 0;
  std::uint32_t reordering = 0;
  std::uint32_t reord_seen = 0;
  std::uint32_t rcv_space = 0;
  std::uint32_t rcv_wnd = 0;
  std::uint32_t snd_wnd = 0;
  std::uint32_t notsent_bytes = 0;
  std::uint32_t total_retrans = 0;
  std::uint32_t segs_out = 0;
  std::uint32_t segs_in = 0;
  std::uint32_t data_segs_out = 0;
  std::uint32_t data_segs_in = 0;
  std::uint32_t delivered = 0;
  std::uint32_t reserved2 = 0;
  std::uint64_t bytes_sent = 0;
  std::uint64_t bytes_retrans = 0;
  std::uint64_t bytes_acked = 0;
  std::uint64_t bytes_received = 0;
  std::array<std::uint64_t, 3> reserved3{};
};
static_assert(sizeof(ConnEntry) == 256 && sizeof(ConnEntry) % 8 == 0);

// TCB slots an engine visits per poll() while it takes a snapshot: a few microseconds of work per
// iteration (the default pool of 2 * 16384 + 1024 slots takes 33 polls).
inline constexpr std::uint32_t kConnSlotsPerPoll = 1024;

// --- the reader's side (xdptcp-ctl ss) ---

// A decoded entry.
struct ConnRecord {
  ConnEntry raw;               // every field as the engine wrote it
  std::string local_address;   // "198.18.0.1", "fd00::1"
  std::string remote_address;  // unspecified ("0.0.0.0", "::") for a listener
  std::string state_name;      // ss's: "ESTAB"
  std::string cc;              // "cubic"
};
ConnRecord decode(const ConnEntry& e);

struct EngineConns {
  std::uint32_t engine = 0;
  bool answered = false;
  bool rung = false;       // its doorbell was rung (it slept)
  std::string ring_error;  // why the doorbell could not be rung (then it answers when it next wakes)
  double wait_ms = 0;      // from the request to the answer
  std::uint64_t truncated = 0;
  std::uint64_t polls = 0;
  std::vector<ConnRecord> conns;
};

struct ProcessConns {
  std::string path;  // its stats region
  pid_t pid = 0;
  std::string comm;
  std::uint32_t engine_count = 0;
  std::uint32_t conn_capacity = 0;
  std::string error;                 // the region could not be asked (permission, old layout, ...)
  int error_code = 0;                // ... its errno
  std::vector<EngineConns> engines;  // the engines serving their slot
};

struct ConnQuery {
  std::chrono::milliseconds timeout{1000};   // for every engine to answer
  std::chrono::microseconds interval{1000};  // between two looks at the unanswered ones
  std::string run_dir = std::string(kStatsRunDir);
};

struct ConnListing {
  std::vector<ProcessConns> processes;  // the live ones, by pid
  std::size_t stale = 0;                // regions of processes that are gone (xdptcp-ctl stats --clean)
  bool complete() const;                // every engine asked answered
};

// Asks every engine of every live process on `iface` for a snapshot, all at once, and collects the
// answers. Needs write access to the regions (the writer's user or root).
ConnListing query_connections(std::string_view iface, const ConnQuery& q = {});
// One region (a path as listed by list_stats_regions), for tests.
ProcessConns query_region(const std::string& path, const ConnQuery& q = {});

// Makes engine `engine` of the region mapped read-write at `base` (whose header is `h`, checked by
// the caller) look at its requests soon: adds 1 to its conn_request and rings its doorbell when it
// announced a sleep (the reader's half of the protocol above). xdptcp-ctl capture posts its
// requests this way (capture_ring.h); the engine answers with a snapshot too, which nobody reads.
// False, with *why, when the doorbell of a sleeping engine could not be rung (it then looks when it
// next wakes).
bool post_request(std::uint8_t* base, const stats_layout::RegionHeader& h, std::uint32_t engine,
                  std::string* why);

}  // namespace xdptcp::engine
