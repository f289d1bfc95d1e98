// The per-stack (so per-engine) store of buffer memory: fixed-size chunks that the send and
// receive rings (ByteRing) of every connection draw from while they hold data, and give back
// when drained, so memory follows data and an idle connection holds none.
//
// Bound: at most limit_chunks() chunks are handed out at once (StackConfig::mem_budget);
// acquire() returns null at the bound and the caller treats the bytes as not stored (TCP drops
// the segment as if outside the window, or send() takes fewer bytes).
//
// No allocation after construction: the whole budget is one anonymous mapping reserved with
// MAP_NORESERVE, so it costs address space, not memory, until a chunk is first touched; the
// free lists are reserved for every chunk. acquire() and release() are O(1) pushes and pops.
// Released chunks are reused last-in first-out (still in cache). Beyond `warm_chunks` free
// resident chunks, released ones are queued for trim(), which gives their pages back to the
// kernel (madvise MADV_DONTNEED): called from the timer path, never per packet, so memory left
// after a burst returns to the system while the hot set stays resident.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace xdptcp::tcp {

class ChunkPool {
 public:
  static constexpr std::size_t kDefaultChunkSize = std::size_t{16} * 1024;

  // chunk_size: a power of two (rounded up). budget_bytes: the most bytes handed out at once
  // (rounded down to whole chunks, at least one chunk). warm_chunks: free chunks kept resident.
  ChunkPool(std::size_t budget_bytes, std::size_t chunk_size = kDefaultChunkSize,
            std::size_t warm_chunks = 256);
  ~ChunkPool();
  ChunkPool(const ChunkPool&) = delete;
  ChunkPool& operator=(const ChunkPool&) = delete;

  std::size_t chunk_size() const { return chunk_size_; }
  std::size_t limit_chunks() const { return limit_; }
  std::size_t in_use() const { return in_use_; }  // chunks handed out
  std::size_t in_use_bytes() const { return in_use_ * chunk_size_; }
  std::size_t free_chunks() const { return limit_ - in_use_; }
  // Chunks whose pages may be resident: handed out, or free and not yet trimmed.
  std::size_t resident_chunks() const { return in_use_ + warm_.size() + excess_.size(); }
  std::size_t resident_bytes() const { return resident_chunks() * chunk_size_; }

  // A chunk of chunk_size() bytes (contents undefined), or null when limit_chunks() are out.
  std::uint8_t* acquire();
  // Gives back a chunk from acquire().
  void release(std::uint8_t* chunk);
  // Returns the pages of up to `max` free chunks beyond the warm bound to the kernel; returns
  // how many. Control/timer path only (one madvise per chunk).
  std::size_t trim(std::size_t max);

 private:
  std::uint8_t* base_ = nullptr;
  std::size_t map_len_ = 0;
  std::size_t chunk_size_;
  unsigned shift_;
  std::size_t limit_;
  std::size_t warm_max_;
  std::size_t in_use_ = 0;
  std::uint32_t next_ = 0;             // chunks [next_, limit_) were never handed out (untouched)
  std::vector<std::uint32_t> warm_;    // free, resident, most recently released last
  std::vector<std::uint32_t> excess_;  // free, resident, beyond the warm bound: trim() candidates
  std::vector<std::uint32_t> cold_;    // free, pages given back
};

}  // namespace xdptcp::tcp
