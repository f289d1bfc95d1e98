// Unit tests of ByteRing (userstack/tcp/byte_ring.h): capacity rounding, wrap-around, peek at
// offsets, out-of-order write_at + commit, the two-piece readable() view, and a random
// comparison against std::deque, with one chunk per ring and with many small chunks (storage
// taken as data comes and given back as it drains). The ChunkPool's own tests: chunk_pool_test.cpp.
#include "userstack/tcp/byte_ring.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <optional>
#include <random>
#include <vector>

namespace xdptcp::tcp {
namespace {

// One chunk holds any ring of these tests whole: the ring behaves as one contiguous buffer.
ChunkPool& pool() {
  static ChunkPool p(std::size_t{64} << 20);
  return p;
}

std::vector<std::uint8_t> seq_bytes(std::size_t n, std::uint8_t first = 0) {
  std::vector<std::uint8_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>(first + i);
  return v;
}

std::vector<std::uint8_t> concat(std::pair<std::span<const std::uint8_t>, std::span<const std::uint8_t>> p) {
  std::vector<std::uint8_t> v(p.first.begin(), p.first.end());
  v.insert(v.end(), p.second.begin(), p.second.end());
  return v;
}

TEST(ByteRing, Construct_RoundsCapacityUpToPowerOfTwo) {
  EXPECT_EQ(ByteRing(pool(), 1000).capacity(), 1024u);
  EXPECT_EQ(ByteRing(pool(), 4096).capacity(), 4096u);
  EXPECT_EQ(ByteRing(pool(), 0).capacity(), 1u);
  ByteRing r(pool(), 5);
  EXPECT_EQ(r.capacity(), 8u);
  EXPECT_TRUE(r.empty());
  EXPECT_EQ(r.free_space(), 8u);
}

TEST(ByteRing, Write_Full_AcceptsOnlyFreeSpace) {
  ByteRing r(pool(), 8);
  const auto data = seq_bytes(12);
  EXPECT_EQ(r.write(data), 8u);
  EXPECT_EQ(r.size(), 8u);
  EXPECT_EQ(r.free_space(), 0u);
  EXPECT_EQ(r.write(data), 0u);
  std::vector<std::uint8_t> out(12);
  EXPECT_EQ(r.read(out), 8u);
  out.resize(8);
  EXPECT_EQ(out, seq_bytes(8));
  EXPECT_TRUE(r.empty());
}

TEST(ByteRing, WriteRead_WrapAround_PreservesOrder) {
  ByteRing r(pool(), 8);
  std::vector<std::uint8_t> out(8);
  ASSERT_EQ(r.write(seq_bytes(6)), 6u);
  ASSERT_EQ(r.read(std::span(out).first(5)), 5u);  // head at 5
  ASSERT_EQ(r.write(seq_bytes(7, 100)), 7u);       // wraps: 3 at the end, 4 at the start
  EXPECT_EQ(r.size(), 8u);
  ASSERT_EQ(r.read(out), 8u);
  std::vector<std::uint8_t> expected{5};
  for (std::uint8_t b : seq_bytes(7, 100)) expected.push_back(b);
  EXPECT_EQ(out, expected);
}

TEST(ByteRing, Peek_AtOffsets_DoesNotConsume) {
  ByteRing r(pool(), 16);
  std::vector<std::uint8_t> scratch(10);
  r.write(seq_bytes(10));
  r.read(scratch);             // head at 10
  r.write(seq_bytes(12, 50));  // 6 before the wrap, 6 after
  std::vector<std::uint8_t> out(4);
  EXPECT_EQ(r.peek(4, out), 4u);  // straddles the wrap
  EXPECT_EQ(out, (std::vector<std::uint8_t>{54, 55, 56, 57}));
  EXPECT_EQ(r.peek(10, out), 2u);  // clipped to size()
  EXPECT_EQ(out[0], 60);
  EXPECT_EQ(out[1], 61);
  EXPECT_EQ(r.peek(12, out), 0u);
  EXPECT_EQ(r.peek(100, out), 0u);
  EXPECT_EQ(r.size(), 12u);
}

// peek(out): the front, as read() would return it, left in place (recv with MSG_PEEK).
TEST(ByteRing, PeekFront_AcrossTheWrap_SameBytesAsRead) {
  ByteRing r(pool(), 8);
  std::vector<std::uint8_t> scratch(6);
  r.write(seq_bytes(6));
  r.read(scratch);            // head at 6
  r.write(seq_bytes(5, 30));  // physical 6,7 then 0..2
  std::vector<std::uint8_t> peeked(8), got(8);
  EXPECT_EQ(r.peek(std::span(peeked)), 5u);  // clipped to size()
  EXPECT_EQ(r.size(), 5u);
  EXPECT_EQ(r.peek(std::span(peeked).first(3)), 3u);
  EXPECT_EQ(r.read(got), 5u);
  peeked.resize(5);
  got.resize(5);
  EXPECT_EQ(peeked, seq_bytes(5, 30));
  EXPECT_EQ(got, peeked);
  EXPECT_EQ(r.peek(std::span(peeked)), 0u);  // empty
}

TEST(ByteRing, Consume_AdvancesFront) {
  ByteRing r(pool(), 8);
  r.write(seq_bytes(5));
  r.consume(3);
  EXPECT_EQ(r.size(), 2u);
  std::vector<std::uint8_t> out(2);
  r.peek(0, out);
  EXPECT_EQ(out, (std::vector<std::uint8_t>{3, 4}));
  r.consume(2);
  EXPECT_TRUE(r.empty());
}

TEST(ByteRing, WriteAtThenCommit_OutOfOrderBecomesReadable) {
  ByteRing r(pool(), 16);
  std::vector<std::uint8_t> scratch(12);
  r.write(seq_bytes(12));
  r.read(scratch);  // head at 12: later writes wrap
  ASSERT_EQ(r.write(seq_bytes(2, 0)), 2u);
  // A hole at [2, 5), then out-of-order bytes at [5, 9) straddling the physical end.
  EXPECT_EQ(r.write_at(5, seq_bytes(4, 5)), 4u);
  EXPECT_EQ(r.size(), 2u);                        // not yet readable
  EXPECT_EQ(r.write_at(2, seq_bytes(3, 2)), 3u);  // the hole fills
  r.commit(7);
  EXPECT_EQ(r.size(), 9u);
  std::vector<std::uint8_t> out(9);
  EXPECT_EQ(r.read(out), 9u);
  EXPECT_EQ(out, seq_bytes(9));
}

TEST(ByteRing, WriteAt_ClippedToCapacity) {
  ByteRing r(pool(), 8);
  r.write(seq_bytes(2));
  EXPECT_EQ(r.write_at(6, seq_bytes(5)), 2u);
  EXPECT_EQ(r.write_at(8, seq_bytes(5)), 0u);
  EXPECT_EQ(r.size(), 2u);
}

TEST(ByteRing, Readable_TwoPiecesAcrossTheWrap) {
  ByteRing r(pool(), 8);
  std::vector<std::uint8_t> scratch(5);
  r.write(seq_bytes(6));
  r.read(scratch);            // head at 5, one byte left (a drained ring starts again at 0)
  r.write(seq_bytes(7, 20));  // physical 6,7 then 0..4
  auto [a, b] = r.readable(1, 7);
  EXPECT_EQ(a.size(), 2u);
  EXPECT_EQ(b.size(), 5u);
  EXPECT_EQ(concat(r.readable(1, 7)), seq_bytes(7, 20));
  auto [c, d] = r.readable(4, 2);  // wholly after the wrap: one piece
  EXPECT_EQ(c.size(), 2u);
  EXPECT_TRUE(d.empty());
  EXPECT_EQ(concat(r.readable(4, 2)), (std::vector<std::uint8_t>{23, 24}));
  EXPECT_EQ(concat(r.readable(6, 100)), (std::vector<std::uint8_t>{25, 26}));  // clipped to size()
  auto [e, f] = r.readable(8, 1);
  EXPECT_TRUE(e.empty() && f.empty());
}

// Random operations on the ring and on a std::deque model (with a map of out-of-order bytes):
// every read, peek and readable() view must agree.
// chunk_size 0: the shared pool (one chunk per ring); else a pool of chunks of that size, whose
// chunks in use must always be the ring's, and none once nothing is stored.
void random_ops(std::size_t chunk_size) {
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    SCOPED_TRACE(testing::Message() << "seed " << seed << " chunk " << chunk_size);
    std::mt19937_64 rng(seed);
    std::optional<ChunkPool> own;
    if (chunk_size != 0) own.emplace(std::size_t{1} << 20, chunk_size);
    ChunkPool& cp = own ? *own : pool();
    const std::size_t view_max = own ? cp.chunk_size() : ~std::size_t{0};
    ByteRing ring(cp, std::size_t{1} << (3 + seed));
    std::deque<std::uint8_t> model;
    std::vector<int> pending(ring.capacity(), -1);  // bytes placed by write_at, by offset; -1 = none
    std::uint8_t next = 0;
    const std::size_t cap = ring.capacity();
    for (int op = 0; op < 20000; ++op) {
      const std::size_t len = rng() % (cap + 3);
      switch (rng() % 6) {
        case 0: {  // write
          std::vector<std::uint8_t> data(len);
          for (auto& b : data) b = next++;
          const std::size_t n = ring.write(data);
          ASSERT_EQ(n, std::min(len, cap - model.size()));
          // write() overwrites what write_at() placed at [size, size + n)
          for (std::size_t i = 0; i < n; ++i) pending[model.size() + i] = -1;
          model.insert(model.end(), data.begin(), data.begin() + static_cast<std::ptrdiff_t>(n));
          break;
        }
        case 1: {  // read
          std::vector<std::uint8_t> out(len);
          const std::size_t n = ring.read(out);
          ASSERT_EQ(n, std::min(len, model.size()));
          for (std::size_t i = 0; i < n; ++i) {
            ASSERT_EQ(out[i], model.front());
            model.pop_front();
          }
          // pending offsets are relative to the front: shift them down
          std::vector<int> shifted(cap, -1);
          for (std::size_t i = n; i < cap; ++i) shifted[i - n] = pending[i];
          pending = shifted;
          break;
        }
        case 2: {  // peek at an offset
          const std::size_t offset = rng() % (cap + 1);
          std::vector<std::uint8_t> out(len);
          const std::size_t n = ring.peek(offset, out);
          ASSERT_EQ(n, offset < model.size() ? std::min(len, model.size() - offset) : 0u);
          for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(out[i], model[offset + i]);
          break;
        }
        case 3: {  // readable view
          const std::size_t offset = rng() % (cap + 1);
          const auto view = concat(ring.readable(offset, len));
          std::size_t n = offset < model.size() ? std::min(len, model.size() - offset) : 0u;
          if (n <= view_max) {
            ASSERT_EQ(view.size(), n);  // whole up to a chunk
          } else {
            ASSERT_LE(view.size(), n);  // longer: a prefix of at least one chunk
            ASSERT_GE(view.size(), view_max);
            n = view.size();
          }
          for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(view[i], model[offset + i]);
          break;
        }
        case 4: {  // write_at after the end
          if (model.size() == cap) break;
          const std::size_t offset = model.size() + rng() % (cap - model.size());
          std::vector<std::uint8_t> data(len);
          for (auto& b : data) b = next++;
          const std::size_t n = ring.write_at(offset, data);
          ASSERT_EQ(n, std::min(len, cap - offset));
          for (std::size_t i = 0; i < n; ++i) pending[offset + i] = data[i];
          break;
        }
        default: {  // commit the placed bytes that are contiguous with the end
          std::size_t n = 0;
          while (model.size() + n < cap && pending[model.size() + n] >= 0) ++n;
          n = std::min<std::size_t>(n, rng() % (n + 1) + n / 2);
          for (std::size_t i = 0; i < n; ++i) {
            model.push_back(static_cast<std::uint8_t>(pending[model.size()]));
            pending[model.size() - 1] = -1;
          }
          ring.commit(n);
          break;
        }
      }
      ASSERT_EQ(ring.size(), model.size());
      ASSERT_EQ(ring.free_space(), cap - model.size());
      if (own) {
        ASSERT_EQ(cp.in_use(), ring.held_chunks());
        const bool any_pending = std::any_of(pending.begin(), pending.end(), [](int b) { return b >= 0; });
        if (model.empty() && !any_pending) {
          ASSERT_EQ(ring.held_chunks(), 0u) << "drained ring holds chunks";
        }
        // Memory follows data: at most the chunks the stored span touches, plus one (a span
        // of n bytes starting mid-chunk touches ceil(n / chunk) + 1 chunks).
        std::size_t span = model.size();
        for (std::size_t i = 0; i < pending.size(); ++i) {
          if (pending[i] >= 0) span = std::max(span, i + 1);
        }
        ASSERT_LE(ring.held_chunks(), std::min<std::size_t>(span / cp.chunk_size() + 2,
                                                            std::max<std::size_t>(cap / cp.chunk_size(), 1)));
      }
    }
    ring.clear();
    if (own) {
      ASSERT_EQ(cp.in_use(), 0u);
    }
  }
}

TEST(ByteRing, Property_MatchesDequeModel_RandomOps) {
  random_ops(0);
}

// The same with many chunks per ring (8 and 16 bytes; the smallest ring has one).
TEST(ByteRing, Property_SmallChunks_MatchesDequeModel_AndHoldsOnlyWhatIsStored) {
  random_ops(8);
  random_ops(16);
}

}  // namespace
}  // namespace xdptcp::tcp
