// A byte ring of fixed logical capacity whose storage comes and goes with its data: the send and
// receive buffers of a socket. The capacity (a power of two) is what the socket may hold (the
// window it advertises); the storage is a table of chunk pointers filled from a ChunkPool when a
// write reaches a chunk, and emptied as reads drain it. An empty ring holds no chunk, so an idle
// connection costs only this object.
//
// Offsets are relative to the first stored byte (the read position). Bytes beyond size() may be
// written with write_at() (out-of-order data awaiting reassembly) and made readable with commit().
// A write stops where a chunk cannot be had (the pool is at its budget) and returns the count
// stored: the caller decides what the bytes not stored mean (TCP: not received).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <utility>

#include "userstack/tcp/chunk_pool.h"

namespace xdptcp::tcp {

class ByteRing {
 public:
  // Up to this many chunk pointers live in the ring itself (128 KiB with 16 KiB chunks); a
  // larger ring (SO_RCVBUF/SO_SNDBUF) allocates its table once, when it is made.
  static constexpr std::size_t kInlineSlots = 8;

  ByteRing(ChunkPool& pool, std::size_t capacity);
  ~ByteRing() { release_all(); }
  ByteRing(ByteRing&& o) noexcept;
  ByteRing& operator=(ByteRing&& o) noexcept;
  ByteRing(const ByteRing&) = delete;
  ByteRing& operator=(const ByteRing&) = delete;

  std::size_t capacity() const { return mask_ + 1; }
  std::size_t size() const { return size_; }
  std::size_t free_space() const { return capacity() - size_; }
  bool empty() const { return size_ == 0; }
  // Bytes of chunks held now (what this ring costs beyond the object).
  std::size_t held_bytes() const { return held_ * chunk_len(); }
  std::size_t held_chunks() const { return held_; }

  // Appends up to free_space() bytes; returns how many were appended (fewer when the pool ran out).
  std::size_t write(std::span<const std::uint8_t> data);
  // Copies up to out.size() bytes from the front into out and removes them; returns the count.
  std::size_t read(std::span<std::uint8_t> out);
  // Copies bytes starting at `offset` (from the front) without removing them; returns the count.
  std::size_t peek(std::size_t offset, std::span<std::uint8_t> out) const;
  // Copies up to out.size() bytes from the front without removing them (what read() would
  // return; recv with MSG_PEEK); returns the count.
  std::size_t peek(std::span<std::uint8_t> out) const { return peek(0, out); }
  // Removes n <= size() bytes from the front; chunks left with nothing stored go back to the pool.
  void consume(std::size_t n);
  // Forgets everything, out-of-order bytes included, and gives every chunk back.
  void clear() {
    release_all();
    head_ = 0;
    size_ = 0;
    extent_ = 0;
  }

  // Stores data at `offset` from the front, where size() <= offset and the end fits in
  // capacity(); does not change size(). Returns the count stored (clipped to the capacity, and
  // to the chunks the pool could give).
  std::size_t write_at(std::size_t offset, std::span<const std::uint8_t> data);
  // Makes n bytes already placed after the end (by write_at) part of the readable data.
  void commit(std::size_t n);
  // Moves the contents into `dst` (a ring of another capacity, at least size()): the readable
  // bytes and what lies beyond them (out-of-order data), up to dst's capacity, at the same
  // offsets. For SO_SNDBUF/SO_RCVBUF set on a connection; `dst` is reset first. Returns false
  // (dst left empty) when the pool could not give dst its chunks.
  bool copy_to(ByteRing& dst) const;

  // The bytes [offset, offset + len) as at most two contiguous pieces (zero-copy access). Whole
  // when len <= the pool's chunk size (a segment: the stack's chunks are at least an MTU);
  // otherwise the pieces cover a prefix.
  std::pair<std::span<const std::uint8_t>, std::span<const std::uint8_t>> readable(std::size_t offset,
                                                                                   std::size_t len) const;

 private:
  std::size_t chunk_len() const { return std::size_t{1} << shift_; }
  // The chunk holding physical index `at` (one slot when the ring is smaller than a chunk).
  std::size_t slot_of(std::size_t at) const { return at >> shift_; }
  std::size_t slot_count() const { return nslots_; }
  std::uint8_t** slots() { return big_ ? big_.get() : small_.data(); }
  std::uint8_t* const* slots() const { return big_ ? big_.get() : small_.data(); }
  // Copies between `p` and the ring at physical index `at` (wrapping), allocating chunks when
  // writing; returns the bytes copied (a write stops at a chunk the pool cannot give).
  std::size_t copy_in(std::size_t at, const std::uint8_t* src, std::size_t len);
  void copy_out(std::size_t at, std::uint8_t* dst, std::size_t len) const;
  void release_all();
  // Gives back chunks that hold no byte of [head_, head_ + extent_).
  void release_dead(std::size_t old_head);

  ChunkPool* pool_;
  std::size_t mask_;
  std::size_t head_ = 0;    // physical index of the first stored byte
  std::size_t size_ = 0;    // readable bytes
  std::size_t extent_ = 0;  // bytes from head_ to the end of the furthest write (>= size_)
  std::uint32_t nslots_;
  std::uint32_t held_ = 0;  // non-null slots
  std::uint8_t shift_;      // log2 of the pool's chunk size
  std::array<std::uint8_t*, kInlineSlots> small_{};
  std::unique_ptr<std::uint8_t*[]> big_;
};

}  // namespace xdptcp::tcp
