// ByteRing (byte_ring.h): a power-of-two ring of bytes; every copy is at most two memcpy calls,
// one up to the end of the buffer and one from its start.
#include "userstack/tcp/byte_ring.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <cstring>

namespace xdptcp::tcp {

ByteRing::ByteRing(std::size_t capacity)
    // Not zeroed: only bytes that were written are ever read, and zeroing 64 KiB per buffer
    // was the largest cost of a connection's first use of a TCB.
    : buf_(std::make_unique_for_overwrite<std::uint8_t[]>(std::bit_ceil(std::max<std::size_t>(capacity, 1)))),
      mask_(std::bit_ceil(std::max<std::size_t>(capacity, 1)) - 1) {}

namespace {

// Copies `len` bytes into the ring at physical index `at` (wrapping).
void copy_in(std::uint8_t* ring, std::size_t mask, std::size_t at, const std::uint8_t* src, std::size_t len) {
  const std::size_t first = std::min(len, mask + 1 - at);
  std::memcpy(ring + at, src, first);
  if (len > first) std::memcpy(ring, src + first, len - first);
}

// Copies `len` bytes out of the ring from physical index `at` (wrapping).
void copy_out(const std::uint8_t* ring, std::size_t mask, std::size_t at, std::uint8_t* dst,
              std::size_t len) {
  const std::size_t first = std::min(len, mask + 1 - at);
  std::memcpy(dst, ring + at, first);
  if (len > first) std::memcpy(dst + first, ring, len - first);
}

}  // namespace

std::size_t ByteRing::write(std::span<const std::uint8_t> data) {
  const std::size_t n = std::min(data.size(), free_space());
  if (n == 0) return 0;
  copy_in(buf_.get(), mask_, (head_ + size_) & mask_, data.data(), n);
  size_ += n;
  return n;
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
  copy_out(buf_.get(), mask_, (head_ + offset) & mask_, out.data(), n);
  return n;
}

void ByteRing::consume(std::size_t n) {
  assert(n <= size_);
  n = std::min(n, size_);
  head_ = (head_ + n) & mask_;
  size_ -= n;
}

std::size_t ByteRing::write_at(std::size_t offset, std::span<const std::uint8_t> data) {
  assert(offset >= size_);  // readable bytes are never overwritten
  if (offset < size_ || offset >= capacity()) return 0;
  const std::size_t n = std::min(data.size(), capacity() - offset);
  if (n == 0) return 0;
  copy_in(buf_.get(), mask_, (head_ + offset) & mask_, data.data(), n);
  return n;
}

void ByteRing::commit(std::size_t n) {
  assert(n <= free_space());
  size_ += std::min(n, free_space());
}

void ByteRing::copy_to(ByteRing& dst) const {
  assert(dst.capacity() >= size_);
  dst.clear();
  const std::size_t n = std::min(capacity(), dst.capacity());
  copy_out(buf_.get(), mask_, head_, dst.buf_.get(), n);
  dst.size_ = size_;
}

std::pair<std::span<const std::uint8_t>, std::span<const std::uint8_t>> ByteRing::readable(
    std::size_t offset, std::size_t len) const {
  if (offset >= size_) return {};
  len = std::min(len, size_ - offset);
  const std::size_t at = (head_ + offset) & mask_;
  const std::size_t first = std::min(len, capacity() - at);
  return {std::span<const std::uint8_t>(buf_.get() + at, first),
          std::span<const std::uint8_t>(buf_.get(), len - first)};
}

}  // namespace xdptcp::tcp
