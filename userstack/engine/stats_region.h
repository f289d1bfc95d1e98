// The stats region: one file per process in shared memory (/run/xdptcp/<iface>/stats.<pid>, on
// tmpfs) holding every engine's counters, so that xdptcp-ctl can read them from another process.
// Written by the engines without locks or system calls (issue 12); read by xdptcp-ctl stats.
//
// Layout (native byte order: writer and reader share the host), all offsets from the file's start:
//
//   [0, sizeof(RegionHeader))                  RegionHeader: who wrote it and where the rest is
//   [names_offset, + counter_count * kNameSize) the counters' names, NUL-padded ("tcp.segments_in")
//   [slots_offset, + engine_count * slot_size)  one slot per engine: SlotHeader, then counter_count
//                                               std::uint64_t values in the order of the names
//   [conn_offset, + engine_count * conn_area_size)  one connection snapshot area per engine (layout
//                                               version 2; conn_snapshot.h): what `xdptcp-ctl ss`
//                                               asks an engine for and reads back
//   [capture_offset, + engine_count * capture_area_size)  one packet capture ring per engine (layout
//                                               version 3; capture_ring.h): `xdptcp-ctl capture`
//
// The names table makes the file self-describing: a reader shows the counters a newer writer added
// without knowing them, and the order is the writer's business (engine_counters.h). A name is
// "group.counter"; the groups are engine (EngineStats), io (io::IoStats), tcp (tcp::TcpStats but its
// drops) and drop (one per tcp::DropReason, by its name).
//
// Consistency: each slot is a seqlock. The engine (the slot's only writer) makes `seq` odd, stores
// the values, and makes it even again (release); a reader loads `seq` (acquire), copies, and
// retries while it was odd or has changed meanwhile. Every shared word is accessed through
// std::atomic_ref, relaxed except for the sequence's ordering, so neither side has a data race. The
// queues in the header change too (a preload process takes more queues later) under `queue_seq`.
//
// The file is built under a temporary name and linked into place complete, so a reader never sees
// a half-written header. The Stack removes it (and the directory, once empty) when destroyed; a
// process killed before that leaves it behind, which readers recognise as stale: its pid is gone,
// or is another process now (the process start time, /proc/<pid>/stat field 22, differs).
#pragma once

#include <sys/types.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "userstack/base/result.h"

namespace xdptcp::engine {

struct ConnEntry;  // conn_snapshot.h

namespace stats_layout {

inline constexpr std::uint64_t kMagic = 0x5453504354504458ULL;  // "XDPTCPST" in the file (little-endian)
// 2: the connection snapshots (conn_* fields, the SlotHeader's request words, the areas).
// 3: the capture rings (capture_* fields, the areas).
inline constexpr std::uint32_t kVersion = 3;
inline constexpr std::size_t kNameSize = 48;     // a counter's name with its NUL padding
inline constexpr std::size_t kCommSize = 16;     // TASK_COMM_LEN
inline constexpr std::size_t kIfaceSize = 16;    // IFNAMSIZ
inline constexpr std::size_t kMaxQueues = 1024;  // queues a header can list (bitmap)
inline constexpr std::size_t kSlotAlign = 64;    // a cache line: engines never share one

struct RegionHeader {
  std::uint64_t magic = kMagic;
  std::uint32_t version = kVersion;
  std::uint32_t header_size = 0;  // sizeof(RegionHeader) of the writer
  std::uint64_t file_size = 0;
  std::int32_t pid = 0;
  std::uint32_t engine_count = 0;
  std::uint64_t start_time = 0;       // the writer's start time: /proc/<pid>/stat field 22 (clock ticks)
  std::uint64_t created_unix_ns = 0;  // CLOCK_REALTIME when the region was made
  std::uint32_t counter_count = 0;
  std::uint32_t name_size = kNameSize;
  std::uint32_t names_offset = 0;
  std::uint32_t slots_offset = 0;
  std::uint32_t slot_size = 0;
  std::uint32_t slot_header_size = 0;
  std::array<char, kCommSize> comm{};    // /proc/self/comm, NUL-padded
  std::array<char, kIfaceSize> iface{};  // the interface, NUL-padded
  // Queues held (Stack::queues()): a bitmap, bit q of word q / 64, under the seqlock queue_seq.
  std::uint64_t queue_seq = 0;
  std::uint32_t queue_count = 0;
  std::uint32_t reserved = 0;
  std::array<std::uint64_t, kMaxQueues / 64> queue_bits{};
  // The connection snapshot areas (conn_snapshot.h): engine e's is conn_area_size bytes at
  // conn_offset + e * conn_area_size, a ConnAreaHeader and then room for conn_capacity entries of
  // conn_entry_size bytes. conn_capacity 0: the writer takes no snapshots.
  std::uint64_t conn_offset = 0;
  std::uint64_t conn_area_size = 0;
  std::uint32_t conn_capacity = 0;
  std::uint32_t conn_entry_size = 0;
  // The capture rings (capture_ring.h): engine e's is capture_area_size bytes at capture_offset +
  // e * capture_area_size, a CaptureAreaHeader and then capture_slots records of capture_slot_size
  // bytes. capture_slots 0: the writer cannot capture.
  std::uint64_t capture_offset = 0;
  std::uint64_t capture_area_size = 0;
  std::uint32_t capture_slots = 0;
  std::uint32_t capture_slot_size = 0;
};

struct alignas(kSlotAlign) SlotHeader {
  std::uint64_t seq = 0;           // seqlock: odd while the engine writes
  std::uint64_t published_ns = 0;  // the engine's clock (CLOCK_MONOTONIC in production) at publish
  std::uint64_t publishes = 0;     // how many times the slot was published
  std::uint32_t engine = 0;        // the engine's index (== the slot's)
  std::uint32_t reserved = 0;
  // The snapshot protocol (conn_snapshot.h), outside the seqlock: each word has one writer at a
  // time and is read on its own.
  std::uint64_t conn_request = 0;  // readers add 1 to ask for a snapshot; the engine loads it per poll
  std::uint64_t sleep_state = 0;   // kAwake, kAsleep (the engine's announcement), kRung (a reader's)
  std::int32_t wake_fd = -1;       // the engine's doorbell, an eventfd in the writer process; -1: none
  std::uint32_t serving = 0;       // 1 while an engine runs on the slot (it answers requests)
};

// SlotHeader::sleep_state.
inline constexpr std::uint64_t kAwake = 0;
inline constexpr std::uint64_t kAsleep = 1;
inline constexpr std::uint64_t kRung = 2;

// The head of an engine's connection snapshot area: a seqlock like a slot's. The engine makes
// `seq` odd when it begins a snapshot (which may take a few polls) and even once `count` entries,
// `answer` and the rest are written.
struct alignas(kSlotAlign) ConnAreaHeader {
  std::uint64_t seq = 0;
  std::uint64_t answer = 0;     // the value of conn_request when the snapshot began
  std::uint64_t count = 0;      // entries that follow, at most conn_capacity
  std::uint64_t truncated = 0;  // TCBs left out for want of room
  std::uint64_t taken_ns = 0;   // the engine's clock when the snapshot was complete
  std::uint64_t polls = 0;      // engine iterations the snapshot took
};

constexpr std::size_t round_up(std::size_t n, std::size_t a) {
  return (n + a - 1) / a * a;
}

}  // namespace stats_layout

// Where the regions of an interface live.
inline constexpr std::string_view kStatsRunDir = "/run/xdptcp";
std::string stats_dir(std::string_view iface, std::string_view run_dir = kStatsRunDir);

// Field 22 of /proc/<pid>/stat (the process start time in clock ticks since boot), 0 if unreadable.
// pid 0: this process.
std::uint64_t process_start_time(pid_t pid = 0);

// The writer: made by Stack::create, one slot published by each engine.
class StatsRegion {
 public:
  struct Options {
    std::string iface;
    std::uint32_t engines = 1;
    std::vector<unsigned> queues;
    std::vector<std::string> names;  // the counters of a slot, in order ("group.name", < kNameSize)
    std::string run_dir = std::string(kStatsRunDir);  // tests: a directory of their own
    // Entries in each engine's connection snapshot area (xdptcp-ctl ss); 0: no snapshots. The file
    // grows by about 256 bytes an entry, sparse on tmpfs until a snapshot writes them.
    std::uint32_t conn_capacity = 0;
    // Records in each engine's capture ring (xdptcp-ctl capture), a power of two; 0: no capture.
    // capture_ring.h's kSlotSize bytes a record, sparse on tmpfs until a capture writes them.
    std::uint32_t capture_slots = 0;
  };
  // Creates <run_dir>/<iface>/ (0755) and the file stats.<pid> in it (0644); a second region of the
  // same process on the same interface is stats.<pid>.1, and so on. A file of a dead process with
  // the same name is replaced.
  static Result<std::unique_ptr<StatsRegion>> create(const Options& o);
  // Unmaps; removes the file when this is the process that made it (a forked child inherits the
  // mapping, not the region).
  ~StatsRegion();
  StatsRegion(const StatsRegion&) = delete;
  StatsRegion& operator=(const StatsRegion&) = delete;

  const std::string& path() const { return path_; }
  std::uint32_t engines() const { return engines_; }
  std::size_t counters() const { return counters_; }

  // Engine `engine` (its thread only) publishes `values` (counters() of them, fewer leave the rest
  // as they were): a seqlock write, no system call, no lock.
  void publish(std::uint32_t engine, std::span<const std::uint64_t> values, std::uint64_t now_ns);
  // The halves of publish(), for tests that hold a slot mid-write.
  void begin_write(std::uint32_t engine);
  void end_write(std::uint32_t engine, std::span<const std::uint64_t> values, std::uint64_t now_ns);
  // The queues the process holds now (one writer: the stack's control path).
  void set_queues(std::span<const unsigned> queues);

  // Connection snapshots (conn_snapshot.h), each for engine `engine` from its thread only.
  std::uint32_t conn_capacity() const { return conn_capacity_; }
  // The slot's request word: the engine loads it once per poll (std::atomic_ref, relaxed).
  std::uint64_t* conn_request_word(std::uint32_t engine);
  // The engine serves the slot with doorbell `wake_fd` (serving), or no longer (the fd is closed
  // next: readers must not ring it any more).
  void set_serving(std::uint32_t engine, int wake_fd, bool serving);
  // Before the engine sleeps: kAsleep (sequentially consistent, so that the engine's next look at
  // the request word and a reader's look at this one cannot both miss). The Dekker pattern of the
  // hand-off doorbell (engine.h), across processes.
  void announce_sleep(std::uint32_t engine);
  // Once awake: kAwake again; true when a reader found kAsleep and rang (or is about to ring) the
  // doorbell, whose count the engine then owes a read.
  bool end_sleep_was_rung(std::uint32_t engine);
  void begin_conn_snapshot(std::uint32_t engine);
  void write_conn_entry(std::uint32_t engine, std::uint32_t index, const ConnEntry& e);
  void end_conn_snapshot(std::uint32_t engine, std::uint64_t count, std::uint64_t truncated,
                         std::uint64_t answer, std::uint64_t now_ns, std::uint64_t polls);

  // Engine `engine`'s capture ring (capture_ring.h), nullptr without one.
  std::uint32_t capture_slots() const { return capture_slots_; }
  std::uint8_t* capture_area(std::uint32_t engine);

 private:
  StatsRegion() = default;
  std::uint8_t* base_ = nullptr;
  std::size_t size_ = 0;
  std::string path_;
  pid_t owner_ = 0;
  std::uint32_t engines_ = 0;
  std::size_t counters_ = 0;
  std::size_t slots_offset_ = 0;
  std::size_t slot_size_ = 0;
  std::uint32_t conn_capacity_ = 0;
  std::size_t conn_offset_ = 0;
  std::size_t conn_area_size_ = 0;
  std::uint32_t capture_slots_ = 0;
  std::size_t capture_offset_ = 0;
  std::size_t capture_area_size_ = 0;
};

// Creates the region for a stack, or says on stderr why there is none (the stack runs without: the
// counters stay readable inside the process). nullptr then.
std::unique_ptr<StatsRegion> create_stats_region_or_warn(const StatsRegion::Options& o);

// Whether a region's writer still runs.
enum class Liveness : std::uint8_t {
  kLive,
  kDead,    // no such process
  kReused,  // the pid is another process now (its start time differs)
};
std::string_view to_string(Liveness l);
// pid 0 or start_time 0 (unknown): judged by the pid alone.
Liveness liveness(pid_t pid, std::uint64_t start_time);

// A region as a reader sees it.
struct RegionSnapshot {
  std::string path;
  std::uint32_t version = 0;
  pid_t pid = 0;
  std::uint64_t start_time = 0;
  std::uint64_t created_unix_ns = 0;
  std::string comm;
  std::string iface;
  std::vector<unsigned> queues;
  std::uint32_t conn_capacity = 0;  // entries of each engine's connection snapshot (xdptcp-ctl ss)
  std::uint32_t capture_slots = 0;  // records in each engine's capture ring (xdptcp-ctl capture)
  std::vector<std::string> names;   // the counters, in slot order
  struct Engine {
    std::uint32_t id = 0;
    std::uint64_t published_ns = 0;
    std::uint64_t publishes = 0;
    std::vector<std::uint64_t> values;  // names.size() of them
    // false: no consistent copy within the reader's patience (its writer died mid-write, or
    // publishes faster than the reader copies); the values are the last copy taken.
    bool consistent = true;
    unsigned retries = 0;  // copies thrown away because the sequence moved
    // Its capture ring (capture_ring.h): whether it copies frames now, for which xdptcp-ctl (0: none).
    bool capture_active = false;
    pid_t capture_owner = 0;
  };
  std::vector<Engine> engines;
  Liveness liveness = Liveness::kLive;
  bool stale() const { return liveness != Liveness::kLive; }
};

struct ReadOptions {
  // How long to retry a slot whose sequence is odd or moves (a live writer holds it for well under
  // a microsecond); a stale region is read once.
  std::chrono::microseconds patience{20'000};
};

// Maps the file read-only, checks the header, copies every slot.
Result<RegionSnapshot> read_stats_region(const std::string& path, const ReadOptions& ro = {});

// The regions of an interface (files named stats.*, in name order) and what could not be read.
struct RegionListing {
  std::vector<RegionSnapshot> regions;
  struct Unreadable {
    std::string path;
    Error error;
  };
  std::vector<Unreadable> unreadable;
  // Temporary files left by a process that died while creating its region.
  std::vector<std::string> dead_temporaries;
};
RegionListing list_stats_regions(std::string_view iface, std::string_view run_dir = kStatsRunDir,
                                 const ReadOptions& ro = {});

// Removes a stale region's file (after checking again that its writer is gone): EBUSY when it runs.
Result<void> remove_stale_region(const std::string& path);
// Removes an interface's directory when no file is left in it (StatsRegion::create makes it again
// if it vanishes under a process that is making its region).
void remove_empty_stats_dir(const std::string& dir);

}  // namespace xdptcp::engine
