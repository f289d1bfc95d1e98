// ByteRing (byte_ring.h): a power-of-two ring over a table of chunks taken from a ChunkPool on
// first write and given back when no stored byte is left in them.
#include "userstack/tcp/byte_ring.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <cstring>

namespace xdptcp::tcp {

ByteRing::ByteRing(ChunkPool& pool, std::size_t capacity)
    : pool_(&pool),
      mask_(std::bit_ceil(std::max<std::size_t>(capacity, 1)) - 1),
      nslots_(static_cast<std::uint32_t>(std::max<std::size_t>((mask_ + 1) / pool.chunk_size(), 1))),
      shift_(static_cast<std::uint8_t>(std::countr_zero(pool.chunk_size()))) {
  // A table beyond the inline one: once per ring made (socket open or setsockopt), never per packet.
  if (nslots_ > kInlineSlots) big_ = std::make_unique<std::uint8_t*[]>(nslots_);
}

ByteRing::ByteRing(ByteRing&& o) noexcept
    : pool_(o.pool_),
      mask_(o.mask_),
      head_(o.head_),
      size_(o.size_),
      extent_(o.extent_),
      nslots_(o.nslots_),
      held_(o.held_),
      shift_(o.shift_),
      small_(o.small_),
      big_(std::move(o.big_)) {
  o.small_.fill(nullptr);
  o.held_ = 0;
  o.nslots_ = 1;
  o.size_ = o.extent_ = o.head_ = 0;
}

ByteRing& ByteRing::operator=(ByteRing&& o) noexcept {
  if (this == &o) return *this;
  release_all();
  pool_ = o.pool_;
  mask_ = o.mask_;
  head_ = o.head_;
  size_ = o.size_;
  extent_ = o.extent_;
  nslots_ = o.nslots_;
  held_ = o.held_;
  shift_ = o.shift_;
  small_ = o.small_;
  big_ = std::move(o.big_);
  o.small_.fill(nullptr);
  o.held_ = 0;
  o.nslots_ = 1;
  o.size_ = o.extent_ = o.head_ = 0;
  return *this;
}

void ByteRing::release_all() {
  if (held_ == 0) return;
  std::uint8_t** s = slots();
  for (std::uint32_t i = 0; i < nslots_ && held_ > 0; ++i) {
    if (s[i] != nullptr) {
      pool_->release(s[i]);
      s[i] = nullptr;
      --held_;
    }
  }
}

std::size_t ByteRing::copy_in(std::size_t at, const std::uint8_t* src, std::size_t len) {
  const std::size_t chunk = chunk_len();
  const std::size_t cap = capacity();
  std::uint8_t** s = slots();
  std::size_t done = 0;
  while (done < len) {
    const std::size_t slot = slot_of(at);
    const std::size_t seg_end = std::min((slot + 1) * chunk, cap);
    const std::size_t piece = std::min(len - done, seg_end - at);
    if (s[slot] == nullptr) {
      s[slot] = pool_->acquire();
      if (s[slot] == nullptr) break;  // the pool is at its budget: stored up to here
      ++held_;
    }
    std::memcpy(s[slot] + (at - slot * chunk), src + done, piece);
    done += piece;
    at = (at + piece) & mask_;
  }
  return done;
}

void ByteRing::copy_out(std::size_t at, std::uint8_t* dst, std::size_t len) const {
  const std::size_t chunk = chunk_len();
  const std::size_t cap = capacity();
  std::uint8_t* const* s = slots();
  std::size_t done = 0;
  while (done < len) {
    const std::size_t slot = slot_of(at);
    const std::size_t seg_end = std::min((slot + 1) * chunk, cap);
    const std::size_t piece = std::min(len - done, seg_end - at);
    assert(s[slot] != nullptr);  // stored bytes always have their chunk
    std::memcpy(dst + done, s[slot] + (at - slot * chunk), piece);
    done += piece;
    at = (at + piece) & mask_;
  }
}

std::size_t ByteRing::write(std::span<const std::uint8_t> data) {
  const std::size_t n = std::min(data.size(), free_space());
  if (n == 0) return 0;
  const std::size_t stored = copy_in((head_ + size_) & mask_, data.data(), n);
  size_ += stored;
  extent_ = std::max(extent_, size_);
  return stored;
}

std::size_t ByteRing::read(std::span<std::uint8_t> out) {
  const std::size_t n = peek(0, out);
  consume(n);
  return n;
}

std::size_t ByteRing::peek(std::size_t offset, std::span<std::uint8_t> out) const {
  if (offset >= size_) return 0;
  const std::size_t n = std::min(out.size(), size_ - offset);
  if (n == 0) return 0;
  copy_out((head_ + offset) & mask_, out.data(), n);
  return n;
}

void ByteRing::consume(std::size_t n) {
  assert(n <= size_);
  n = std::min(n, size_);
  if (n == 0) return;
  const std::size_t old_head = head_;
  head_ = (head_ + n) & mask_;
  size_ -= n;
  extent_ -= n;
  if (extent_ == 0) {
    // Drained: every chunk goes back, and the next byte lands at the start of a chunk.
    release_all();
    head_ = 0;
    return;
  }
  release_dead(old_head);
}

void ByteRing::release_dead(std::size_t old_head) {
  if (nslots_ == 1 || held_ == 0) return;
  const std::size_t chunk = chunk_len();
  // The chunks the front moved across: from the old front's chunk, one per boundary crossed
  // (all of them when it went further than the ring less a chunk).
  const std::size_t moved = (head_ - old_head) & mask_;
  const std::size_t crossed = std::min<std::size_t>((moved + (old_head & (chunk - 1))) >> shift_, nslots_);
  const std::size_t hc = slot_of(head_);
  const std::size_t live_end = (head_ & (chunk - 1)) + extent_;  // from the start of head's chunk
  std::uint8_t** s = slots();
  std::size_t j = slot_of(old_head);
  for (std::size_t k = 0; k < crossed; ++k, j = (j + 1) % nslots_) {
    const std::size_t d = (j + nslots_ - hc) % nslots_;
    if (s[j] != nullptr && d * chunk >= live_end) {
      pool_->release(s[j]);
      s[j] = nullptr;
      --held_;
    }
  }
}

std::size_t ByteRing::write_at(std::size_t offset, std::span<const std::uint8_t> data) {
  assert(offset >= size_);  // readable bytes are never overwritten
  if (offset < size_ || offset >= capacity()) return 0;
  const std::size_t n = std::min(data.size(), capacity() - offset);
  if (n == 0) return 0;
  const std::size_t stored = copy_in((head_ + offset) & mask_, data.data(), n);
  if (stored > 0) extent_ = std::max(extent_, offset + stored);
  return stored;
}

void ByteRing::commit(std::size_t n) {
  assert(n <= free_space());
  size_ += std::min(n, free_space());
  extent_ = std::max(extent_, size_);
}

bool ByteRing::copy_to(ByteRing& dst) const {
  assert(dst.capacity() >= size_);
  dst.clear();
  const std::size_t n = std::min(extent_, dst.capacity());
  const std::size_t chunk = chunk_len();
  std::uint8_t* const* s = slots();
  // Piece by piece of this ring, skipping chunks never written (holes before out-of-order data).
  std::size_t off = 0;
  while (off < n) {
    const std::size_t at = (head_ + off) & mask_;
    const std::size_t slot = slot_of(at);
    const std::size_t seg_end = std::min((slot + 1) * chunk, capacity());
    const std::size_t piece = std::min(n - off, seg_end - at);
    if (s[slot] != nullptr) {
      if (dst.copy_in(off & dst.mask_, s[slot] + (at - slot * chunk), piece) != piece) {
        dst.clear();
        return false;
      }
      dst.extent_ = off + piece;
    }
    off += piece;
  }
  dst.size_ = size_;
  dst.extent_ = std::max(dst.extent_, dst.size_);
  return true;
}

std::pair<std::span<const std::uint8_t>, std::span<const std::uint8_t>> ByteRing::readable(
    std::size_t offset, std::size_t len) const {
  if (offset >= size_) return {};
  len = std::min(len, size_ - offset);
  const std::size_t chunk = chunk_len();
  std::uint8_t* const* s = slots();
  auto piece_at = [&](std::size_t at, std::size_t want) {
    const std::size_t slot = slot_of(at);
    const std::size_t seg_end = std::min((slot + 1) * chunk, capacity());
    const std::size_t n = std::min(want, seg_end - at);
    return std::span<const std::uint8_t>(s[slot] + (at - slot * chunk), n);
  };
  const std::size_t at = (head_ + offset) & mask_;
  const auto first = piece_at(at, len);
  if (first.size() == len) return {first, {}};
  return {first, piece_at((at + first.size()) & mask_, len - first.size())};
}

}  // namespace xdptcp::tcp
