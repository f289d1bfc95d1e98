// The consumer's side of the capture rings (capture_ring.h): what `xdptcp-ctl capture` does with
// one process's stats region. Claims each engine's ring, asks the engines to copy frames, drains the
// rings, and at the end asks them to stop, waits for their answer, drains the rest and gives the
// rings back (and their pages to tmpfs).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "userstack/base/result.h"
#include "userstack/engine/capture_ring.h"
#include "userstack/engine/stats_region.h"

namespace xdptcp::engine::capture {

struct SessionOptions {
  std::uint32_t slots = 0;  // records per ring; 0: all the region has. Power of two.
  std::uint32_t snaplen = kMaxSnap;
  std::uint16_t port = 0;                          // 0: every frame
  std::chrono::milliseconds answer_timeout{1000};  // for the engines to take a request up
};

struct Frame {
  std::uint64_t ts_ns = 0;  // CLOCK_REALTIME
  std::uint32_t orig_len = 0;
  Direction direction = Direction::kReceived;
  pid_t pid = 0;
  std::uint32_t engine = 0;
  std::vector<std::uint8_t> bytes;  // the captured part (cap_len bytes)
};

// One process's region. Not thread-safe; one per region.
class Session {
 public:
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Maps the region read-write. EPROTO for another layout version, EOPNOTSUPP when the process has
  // no capture rings (or takes no snapshots, which carry the requests).
  static Result<std::unique_ptr<Session>> open(const std::string& path);
  pid_t pid() const { return pid_; }
  const std::string& comm() const { return comm_; }
  std::uint32_t capacity() const { return capacity_; }

  // Claims the ring of every engine serving its slot (a ring held by a live xdptcp-ctl: EBUSY; one
  // left by a dead one is taken over) and asks the engine to capture; waits up to answer_timeout
  // for the answers. An engine that does not answer in time (asleep, doorbell not rung) is kept:
  // it starts when it next looks. EINVAL for bad options.
  Result<void> start(const SessionOptions& o);
  // Engines that answered the start.
  std::uint32_t started() const { return started_; }
  // Appends the frames written since the last drain.
  void drain(std::vector<Frame>& out);
  // Asks the engines to stop, waits for their answer, drains the rest (into out), releases the
  // rings. Called once; the destructor does it (without frames) when it was not.
  void stop(std::vector<Frame>& out);
  // Sums over the engines of this capture (final after stop()).
  std::uint64_t captured() const;
  std::uint64_t lost() const;
  // What went wrong with single engines (a doorbell not rung, no answer to the stop).
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  Session() = default;
  struct Ring {
    std::uint32_t engine = 0;
    std::uint8_t* area = nullptr;
    std::uint64_t request = 0;  // the last request posted
    std::uint64_t tail = 0;
    std::uint64_t slots = 0;
    bool answered = false;  // the start was taken up (tail moved to its start_head)
  };
  void post(Ring& r, bool want);
  bool wait_answers(std::chrono::milliseconds timeout);
  void drain_ring(Ring& r, std::vector<Frame>& out);

  std::string path_;
  int fd_ = -1;
  std::uint8_t* base_ = nullptr;
  std::size_t size_ = 0;
  stats_layout::RegionHeader h_{};
  pid_t pid_ = 0;
  std::string comm_;
  std::uint32_t capacity_ = 0;
  std::uint32_t started_ = 0;
  bool stopped_ = true;
  std::vector<Ring> rings_;
  std::vector<std::string> warnings_;
};

}  // namespace xdptcp::engine::capture
