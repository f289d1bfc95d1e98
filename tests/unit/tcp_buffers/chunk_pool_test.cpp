// Unit tests of ChunkPool (userstack/tcp/chunk_pool.h) and of ByteRing's use of it: the budget
// bound and what happens at it (acquire null; a ring's write stores up to the chunk it could
// not get; nothing is corrupted and writing resumes once chunks come back), LIFO reuse, trim,
// and a ring's storage following its data (none when empty, chunks given back as they drain).
#include "userstack/tcp/chunk_pool.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <vector>

#include "userstack/tcp/byte_ring.h"

namespace xdptcp::tcp {
namespace {

std::vector<std::uint8_t> bytes(std::size_t n, std::uint8_t first = 0) {
  std::vector<std::uint8_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>(first + i);
  return v;
}

TEST(ChunkPool, Budget_RoundsDownToChunks_AtLeastOne) {
  EXPECT_EQ(ChunkPool(100 * 1024).limit_chunks(), 6u);  // 16 KiB chunks
  EXPECT_EQ(ChunkPool(1).limit_chunks(), 1u);
  EXPECT_EQ(ChunkPool(1024, 100).chunk_size(), 128u);  // a power of two
}

TEST(ChunkPool, AtTheBound_AcquireFails_UntilAChunkComesBack) {
  ChunkPool p(4 * 4096, 4096, 1);
  std::set<std::uint8_t*> got;
  for (int i = 0; i < 4; ++i) {
    std::uint8_t* c = p.acquire();
    ASSERT_NE(c, nullptr);
    std::fill(c, c + 4096, static_cast<std::uint8_t>(i));  // usable, disjoint storage
    got.insert(c);
  }
  EXPECT_EQ(got.size(), 4u);
  EXPECT_EQ(p.in_use(), 4u);
  EXPECT_EQ(p.free_chunks(), 0u);
  EXPECT_EQ(p.acquire(), nullptr);
  EXPECT_EQ(p.acquire(), nullptr);
  std::uint8_t* back = *got.begin();
  p.release(back);
  EXPECT_EQ(p.acquire(), back);  // last in, first out: the chunk still in cache
  EXPECT_EQ(p.acquire(), nullptr);
}

TEST(ChunkPool, BeyondTheWarmBound_TrimGivesPagesBack_AndChunksStayUsable) {
  ChunkPool p(8 * 4096, 4096, 2);
  std::vector<std::uint8_t*> c;
  for (int i = 0; i < 8; ++i) c.push_back(p.acquire());
  for (auto* x : c) p.release(x);
  EXPECT_EQ(p.in_use(), 0u);
  EXPECT_EQ(p.resident_chunks(), 8u);
  EXPECT_EQ(p.trim(3), 3u);  // bounded per call
  EXPECT_EQ(p.trim(100), 3u);
  EXPECT_EQ(p.trim(100), 0u);
  EXPECT_EQ(p.resident_chunks(), 2u);  // the warm ones
  // Every chunk can be had again, the trimmed ones included (their pages come back zeroed).
  std::set<std::uint8_t*> again;
  for (int i = 0; i < 8; ++i) {
    std::uint8_t* x = p.acquire();
    ASSERT_NE(x, nullptr);
    x[0] = 1;
    again.insert(x);
  }
  EXPECT_EQ(again.size(), 8u);
  EXPECT_EQ(p.acquire(), nullptr);
}

TEST(ChunkRing, Empty_HoldsNoStorage_AndWritesTakeChunksAsDataReachesThem) {
  ChunkPool p(1 << 20, 64);
  ByteRing r(p, 1024);  // 16 chunks
  EXPECT_EQ(r.held_chunks(), 0u);
  EXPECT_EQ(r.free_space(), 1024u);  // the capacity is what the socket may hold, not what it has
  r.write(bytes(1));
  EXPECT_EQ(r.held_chunks(), 1u);
  r.write(bytes(64));
  EXPECT_EQ(r.held_chunks(), 2u);
  // Out of order far ahead: only the chunk the bytes land in.
  EXPECT_EQ(r.write_at(900, bytes(10)), 10u);
  EXPECT_EQ(r.held_chunks(), 3u);
  EXPECT_EQ(p.in_use(), 3u);
}

TEST(ChunkRing, Drained_GivesEveryChunkBack_PartlyDrained_GivesBackTheChunksPassed) {
  ChunkPool p(1 << 20, 64);
  ByteRing r(p, 1024);
  r.write(bytes(300));  // chunks 0..4
  EXPECT_EQ(r.held_chunks(), 5u);
  std::vector<std::uint8_t> out(130);
  EXPECT_EQ(r.read(out), 130u);  // front at 130: chunks 0 and 1 passed
  EXPECT_EQ(out, bytes(130));
  EXPECT_EQ(r.held_chunks(), 3u);
  EXPECT_EQ(p.in_use(), 3u);
  std::vector<std::uint8_t> rest(170);
  EXPECT_EQ(r.read(rest), 170u);
  EXPECT_EQ(rest, bytes(170, 130));
  EXPECT_EQ(r.held_chunks(), 0u);
  EXPECT_EQ(p.in_use(), 0u);
}

TEST(ChunkRing, OutOfOrderBytesKeepTheirChunk_WhenTheFrontPassesThem) {
  ChunkPool p(1 << 20, 64);
  ByteRing r(p, 256);  // 4 chunks
  r.write(bytes(100));
  EXPECT_EQ(r.write_at(200, bytes(20, 50)), 20u);  // chunk 3
  std::vector<std::uint8_t> out(100);
  r.read(out);                     // front at 100; out-of-order bytes at 100 beyond the front remain
  EXPECT_EQ(r.held_chunks(), 2u);  // chunk 1 (front, empty but live) and chunk 3
  r.write(bytes(100, 100));        // fills [0, 100) after the front, up to the stored bytes
  r.commit(20);
  std::vector<std::uint8_t> all(120);
  EXPECT_EQ(r.read(all), 120u);
  std::vector<std::uint8_t> want = bytes(100, 100);
  auto tail = bytes(20, 50);
  want.insert(want.end(), tail.begin(), tail.end());
  EXPECT_EQ(all, want);
  EXPECT_EQ(p.in_use(), 0u);
}

// At the budget: a write stores what the chunks it could get hold, returns that count, and
// the ring stays consistent; writing resumes when another ring gives chunks back.
TEST(ChunkRing, AtTheBudget_WriteStoresWhatFits_NothingCorrupted_ResumesAfterRelease) {
  ChunkPool p(4 * 64, 64);  // 4 chunks for everyone
  ByteRing a(p, 1024);
  ByteRing b(p, 1024);
  EXPECT_EQ(a.write(bytes(150)), 150u);  // 3 chunks
  EXPECT_EQ(b.write(bytes(200, 7)), 64u) << "one chunk left";
  EXPECT_EQ(b.size(), 64u);
  EXPECT_EQ(b.write(bytes(10)), 0u);
  EXPECT_EQ(b.write_at(100, bytes(10)), 0u) << "out-of-order data finds no chunk either";
  EXPECT_EQ(b.size(), 64u);
  EXPECT_EQ(b.free_space(), 1024u - 64u);  // capacity unchanged: the window is not the memory
  std::vector<std::uint8_t> out(150);
  EXPECT_EQ(a.read(out), 150u);
  EXPECT_EQ(out, bytes(150));
  EXPECT_EQ(b.write(bytes(136, 71)), 136u);  // the chunks a gave back
  std::vector<std::uint8_t> got(200);
  EXPECT_EQ(b.read(got), 200u);
  EXPECT_EQ(got, bytes(200, 7));
  EXPECT_EQ(p.in_use(), 0u);
}

TEST(ChunkRing, CopyTo_ALargerRing_KeepsReadableAndOutOfOrderBytes) {
  ChunkPool p(1 << 20, 64);
  ByteRing r(p, 256);
  r.write(bytes(50));
  std::vector<std::uint8_t> skip(40);
  r.read(skip);
  r.write(bytes(30, 50));
  EXPECT_EQ(r.write_at(200, bytes(5, 99)), 5u);
  ByteRing big(p, 1024);
  ASSERT_TRUE(r.copy_to(big));
  r.clear();
  EXPECT_EQ(big.size(), 40u);
  big.commit(0);
  std::vector<std::uint8_t> out(40);
  EXPECT_EQ(big.peek(out), 40u);
  auto want = bytes(10, 40);
  auto more = bytes(30, 50);
  want.insert(want.end(), more.begin(), more.end());
  EXPECT_EQ(out, want);
  big.commit(0);
  auto [x, y] = big.readable(0, 10);
  EXPECT_EQ(x.size() + y.size(), 10u);
  // The out-of-order bytes at 200 moved at the same offset.
  big.write(bytes(160, 0));
  big.commit(5);
  std::vector<std::uint8_t> all(205);
  EXPECT_EQ(big.read(all), 205u);
  EXPECT_EQ(std::vector<std::uint8_t>(all.begin() + 200, all.end()), bytes(5, 99));
  EXPECT_EQ(p.in_use(), 0u);
}

TEST(ChunkRing, Move_TransfersTheChunks) {
  ChunkPool p(1 << 20, 64);
  ByteRing a(p, 1024);
  a.write(bytes(500));
  ByteRing b(std::move(a));
  EXPECT_EQ(p.in_use(), 8u);
  ByteRing c(p, 64);
  c = std::move(b);
  EXPECT_EQ(c.size(), 500u);
  std::vector<std::uint8_t> out(500);
  EXPECT_EQ(c.read(out), 500u);
  EXPECT_EQ(out, bytes(500));
  EXPECT_EQ(p.in_use(), 0u);
}

}  // namespace
}  // namespace xdptcp::tcp
