// ChunkPool (chunk_pool.h): one MAP_NORESERVE mapping carved into chunks, three free lists.
#include "userstack/tcp/chunk_pool.h"

#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <cassert>
#include <new>

namespace xdptcp::tcp {

ChunkPool::ChunkPool(std::size_t budget_bytes, std::size_t chunk_size, std::size_t warm_chunks)
    : chunk_size_(std::bit_ceil(std::max<std::size_t>(chunk_size, 8))),
      shift_(static_cast<unsigned>(std::countr_zero(chunk_size_))),
      limit_(std::max<std::size_t>(budget_bytes / chunk_size_, 1)),
      warm_max_(warm_chunks) {
  // Chunk indexes are 32-bit: a budget beyond 2^32 chunks (64 TiB of 16 KiB chunks) is clipped.
  limit_ = std::min<std::size_t>(limit_, std::size_t{0xFFFFFFFFu});
  map_len_ = limit_ * chunk_size_;
  // Address space only: pages are committed when first written (MAP_NORESERVE: no swap
  // reservation either), so a large budget costs nothing until data needs it.
  void* p =
      mmap(nullptr, map_len_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  base_ = static_cast<std::uint8_t*>(p);
  warm_.reserve(std::min(limit_, warm_max_));
  excess_.reserve(limit_);
  cold_.reserve(limit_);
}

ChunkPool::~ChunkPool() {
  if (base_ != nullptr) munmap(base_, map_len_);
}

std::uint8_t* ChunkPool::acquire() {
  std::uint32_t i;
  if (!warm_.empty()) {
    i = warm_.back();
    warm_.pop_back();
  } else if (!excess_.empty()) {
    i = excess_.back();
    excess_.pop_back();
  } else if (next_ < limit_) {
    i = next_++;
  } else if (!cold_.empty()) {
    i = cold_.back();
    cold_.pop_back();
  } else {
    return nullptr;  // the budget is handed out
  }
  ++in_use_;
  return base_ + (static_cast<std::size_t>(i) << shift_);
}

void ChunkPool::release(std::uint8_t* chunk) {
  assert(chunk >= base_ && chunk < base_ + map_len_);
  const auto i = static_cast<std::uint32_t>(static_cast<std::size_t>(chunk - base_) >> shift_);
  --in_use_;
  // Every list was reserved for all chunks: these pushes never allocate.
  if (warm_.size() < warm_max_) {
    warm_.push_back(i);
  } else {
    excess_.push_back(i);
  }
}

std::size_t ChunkPool::trim(std::size_t max) {
  std::size_t n = 0;
  while (n < max && !excess_.empty()) {
    const std::uint32_t i = excess_.back();
    excess_.pop_back();
    // Only whole pages can be given back: chunks smaller than a page (tests) stay resident.
    if (chunk_size_ >= 4096)
      madvise(base_ + (static_cast<std::size_t>(i) << shift_), chunk_size_, MADV_DONTNEED);
    cold_.push_back(i);
    ++n;
  }
  return n;
}

}  // namespace xdptcp::tcp
