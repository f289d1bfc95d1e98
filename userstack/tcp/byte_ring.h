// A fixed-capacity byte ring: the storage of a socket's send and receive buffers.
// Allocated once at construction (capacity rounded up to a power of two); no allocation after.
//
// Offsets are relative to the first stored byte (the read position). Bytes beyond size() may be
// written with write_at() (out-of-order data awaiting reassembly) and made readable with commit().
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <utility>

namespace xdptcp::tcp {

class ByteRing {
 public:
  explicit ByteRing(std::size_t capacity);

  std::size_t capacity() const { return mask_ + 1; }
  std::size_t size() const { return size_; }
  std::size_t free_space() const { return capacity() - size_; }
  bool empty() const { return size_ == 0; }

  // Appends up to free_space() bytes; returns how many were appended.
  std::size_t write(std::span<const std::uint8_t> data);
  // Copies up to out.size() bytes from the front into out and removes them; returns the count.
  std::size_t read(std::span<std::uint8_t> out);
  // Copies bytes starting at `offset` (from the front) without removing them; returns the count.
  std::size_t peek(std::size_t offset, std::span<std::uint8_t> out) const;
  // Copies up to out.size() bytes from the front without removing them (what read() would
  // return; recv with MSG_PEEK); returns the count.
  std::size_t peek(std::span<std::uint8_t> out) const { return peek(0, out); }
  // Removes n <= size() bytes from the front.
  void consume(std::size_t n);
  // Forgets everything, out-of-order bytes included, and starts again at the start of the
  // storage: a reused buffer's first bytes land in cache lines the last connection warmed.
  void clear() {
    head_ = 0;
    size_ = 0;
  }

  // Stores data at `offset` from the front, where size() <= offset and the end fits in
  // capacity(); does not change size(). Returns the count stored (clipped to the capacity).
  std::size_t write_at(std::size_t offset, std::span<const std::uint8_t> data);
  // Makes n bytes already placed after the end (by write_at) part of the readable data.
  void commit(std::size_t n);
  // Moves the contents into `dst` (a ring of another capacity, at least size()): the readable
  // bytes and what lies beyond them (out-of-order data), up to dst's capacity, at the same
  // offsets. For SO_SNDBUF/SO_RCVBUF set on a connection; `dst` is reset first.
  void copy_to(ByteRing& dst) const;

  // The bytes [offset, offset + len) as at most two contiguous pieces (zero-copy access).
  std::pair<std::span<const std::uint8_t>, std::span<const std::uint8_t>> readable(std::size_t offset,
                                                                                   std::size_t len) const;

 private:
  std::unique_ptr<std::uint8_t[]> buf_;
  std::size_t mask_;
  std::size_t head_ = 0;  // index of the first stored byte
  std::size_t size_ = 0;
};

}  // namespace xdptcp::tcp
