// Packet capture (issue 12 item 5, `xdptcp-ctl capture`): the frames an engine receives and sends,
// copied into a ring of its own in the stats region (stats_region.h, layout version 3) that
// xdptcp-ctl drains into a pcap file. `tcpdump` on the interface does not see these frames: the XDP
// program redirects received ones into the AF_XDP socket before the kernel's packet taps run, and
// the engine's transmissions leave through the socket's TX ring, which the kernel hands to the
// driver directly (no qdisc, no taps). So the engine itself has to copy them.
//
// One ring per engine, single producer (the engine's thread) and single consumer (one xdptcp-ctl):
//   - the area starts with a CaptureAreaHeader: a cache line the consumer writes (the claim and the
//     request), one with the consumer's index `tail`, one the engine writes (`head`, its answer, the
//     session's counts); then `slots` records of kSlotSize bytes: a RecordHeader and the frame's
//     first cap_len bytes;
//   - the engine writes record head % slots, then publishes head + n (release) once per batch; when
//     head - tail == slots (it reloads tail, acquire, only then) the frame is lost and counted;
//   - the consumer reads records [tail, head) (head acquire) and then advances tail (release).
// No lock, no system call on the engine's side: a bounds check, two memcpy and a counter a frame.
//
// Off by default: the engine tests `on()` once per RX burst and once per TX flush (a predictable
// branch per batch, never per frame). The handshake rides on the connection snapshots' request word
// (conn_snapshot.h): xdptcp-ctl claims the ring (owner: its pid, by compare-and-swap), writes what it
// wants (on/off, slots, snap length, port), adds 1 to `request`, and posts a request the way ss
// does (which rings the doorbell of a sleeping engine); the engine, which looks at that word once a
// poll anyway, takes the capture request up on that rare path and answers with `answered`. While
// on, the engine checks at its periodic publish (every 100 ms, Engine::kStatsInterval) that the
// owner still runs: an xdptcp-ctl killed -9 cannot switch capture off, so the engine does, and gives
// the claim back.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <span>

#include "userstack/engine/stats_region.h"

namespace xdptcp::engine::capture {

inline constexpr std::uint32_t kSlotSize = 2048;  // a record: header and frame, a power of two
inline constexpr std::uint32_t kMaxSlots = std::uint32_t{1} << 16;
inline constexpr std::uint32_t kDefaultSlots = 512;  // 1 MiB per engine, sparse until written

enum class Direction : std::uint8_t { kReceived = 0, kSent = 1 };

struct RecordHeader {
  std::uint64_t ts_ns = 0;     // CLOCK_REALTIME of the frame's batch
  std::uint32_t orig_len = 0;  // the frame's length on the wire
  std::uint16_t cap_len = 0;   // bytes that follow (the snap length bounds it)
  std::uint8_t direction = 0;  // Direction
  std::uint8_t reserved = 0;
};
static_assert(sizeof(RecordHeader) == 16);
inline constexpr std::uint32_t kMaxSnap = kSlotSize - sizeof(RecordHeader);

struct alignas(64) CaptureAreaHeader {
  // The consumer's line: written by the xdptcp-ctl that holds the ring.
  std::uint64_t owner = 0;        // its pid; 0: nobody captures (compare-and-swap to claim)
  std::uint64_t owner_start = 0;  // its start time (process_start_time), against pid reuse
  std::uint64_t request = 0;      // + 1 once the fields below say what it wants
  std::uint64_t want = 0;         // 1: capture, 0: stop
  std::uint64_t slots = 0;        // records to use: a power of two, at most the region's
  std::uint64_t snaplen = 0;      // bytes of a frame to keep, at most kMaxSnap
  std::uint64_t port = 0;         // TCP port either side must have; 0: every frame
  std::uint64_t reserved0 = 0;
  // The consumer's index, alone on its line.
  std::uint64_t tail = 0;
  std::uint64_t reserved1[7] = {};
  // The engine's line.
  std::uint64_t head = 0;        // records written (a running count; record head % slots next)
  std::uint64_t answered = 0;    // the request the engine acted on last
  std::uint64_t active = 0;      // 1 while the engine copies frames
  std::uint64_t start_head = 0;  // head when this capture began: the consumer reads from there
  std::uint64_t captured = 0;    // records written since then
  std::uint64_t lost = 0;        // frames lost to a full ring since then
  std::uint64_t reserved2[2] = {};
};
static_assert(sizeof(CaptureAreaHeader) == 192);

// Bytes of an engine's area with `slots` records (page-aligned, so areas never share a page).
constexpr std::uint64_t area_size(std::uint32_t slots) {
  return stats_layout::round_up(sizeof(CaptureAreaHeader) + std::uint64_t{slots} * kSlotSize, 4096);
}

// Whether a header's capture fields describe areas inside a file of `size` bytes.
bool valid_geometry(const stats_layout::RegionHeader& h, std::size_t size);

// Whether a frame (Ethernet, optionally one VLAN tag, IPv4 or IPv6, TCP) has `port` as its source or
// destination port. Fragments after the first and IPv6 extension headers do not match.
bool frame_has_port(std::span<const std::uint8_t> frame, std::uint16_t port);

// CLOCK_REALTIME in nanoseconds (the vDSO: no system call).
std::uint64_t realtime_ns();

// The engine's side of one ring. Every method runs on the engine's thread.
class Writer {
 public:
  // The ring in `area` (StatsRegion::capture_area) of `capacity` records; nullptr: none.
  void attach(std::uint8_t* area, std::uint32_t capacity);
  // Stops a capture under way (the engine ends, or leaves the region).
  void detach();
  bool on() const { return on_; }
  // The control path: when the consumer posted a new request, starts or stops as it asks. True
  // when a request was taken up.
  bool control();
  // While on, at most every few hundred milliseconds: stops when the owner no longer runs.
  void check_owner();
  // Copies one frame (while on): a record, or a loss when the ring is full.
  void add(std::span<const std::uint8_t> frame, Direction d, std::uint64_t ts_ns);
  // Publishes the records added since the last call (one release store).
  void publish();
  // Over the engine's life (its counters engine.capture_frames and capture_lost).
  std::uint64_t total_captured() const { return total_captured_; }
  std::uint64_t total_lost() const { return total_lost_; }

 private:
  void stop();
  std::uint8_t* area_ = nullptr;
  std::uint8_t* records_ = nullptr;
  std::uint32_t capacity_ = 0;
  bool on_ = false;
  std::uint64_t seen_ = 0;  // the request last taken up
  std::uint64_t slots_ = 0;
  std::uint32_t snaplen_ = 0;
  std::uint16_t port_ = 0;
  pid_t owner_ = 0;
  std::uint64_t owner_start_ = 0;
  std::uint64_t head_ = 0;
  std::uint64_t tail_cache_ = 0;
  std::uint64_t captured_ = 0;
  std::uint64_t lost_ = 0;
  std::uint64_t total_captured_ = 0;
  std::uint64_t total_lost_ = 0;
};

}  // namespace xdptcp::engine::capture
