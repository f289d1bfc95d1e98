// io::MultiQueueIo: one engine over several queues (the preload library's single event-loop
// thread receives on every RX queue). Over in-memory links standing for the NIC's queues.
#include "userstack/io/multi_queue_io.h"

#include <gtest/gtest.h>

#include <array>
#include <cstring>

#include "userstack/io/mem_link.h"

namespace xdptcp::io {
namespace {

// Sends a one-byte frame tagged `tag` from the far end of `link` (the wire) to the near end.
void frame_from_wire(MemLink& link, std::uint8_t tag) {
  auto buf = link.b().tx_acquire();
  ASSERT_FALSE(buf.empty());
  buf[0] = tag;
  link.b().tx_commit(1);
}

TEST(MultiQueueIo, ReceivesFromEveryQueue_ReleasesEachToItsOwn) {
  MemLink q0(8);
  MemLink q1(8);
  MultiQueueIo io({&q0.a(), &q1.a()}, false);
  for (std::uint8_t i = 0; i < 3; ++i) frame_from_wire(q0, 0x10 + i);
  for (std::uint8_t i = 0; i < 2; ++i) frame_from_wire(q1, 0x20 + i);
  std::array<RxFrame, 16> rx{};
  const std::size_t n = io.rx_burst(rx);
  ASSERT_EQ(n, 5u);
  int from0 = 0;
  int from1 = 0;
  for (std::size_t i = 0; i < n; ++i) (rx[i].data[0] >> 4 == 1 ? from0 : from1)++;
  EXPECT_EQ(from0, 3);
  EXPECT_EQ(from1, 2);
  io.rx_release(std::span<const RxFrame>(rx.data(), n));
  EXPECT_EQ(q0.a().queued(), 0u);  // each queue got its own frames back
  EXPECT_EQ(q1.a().queued(), 0u);
  EXPECT_EQ(io.rx_burst(rx), 0u);
  EXPECT_EQ(io.stats().rx_frames, 5u);
}

TEST(MultiQueueIo, SmallBurst_NoQueueStarves) {
  MemLink q0(64);
  MemLink q1(64);
  MultiQueueIo io({&q0.a(), &q1.a()}, false);
  for (std::uint8_t i = 0; i < 20; ++i) frame_from_wire(q0, 0x10);
  for (std::uint8_t i = 0; i < 20; ++i) frame_from_wire(q1, 0x20);
  // Bursts of 4: the starting queue rotates, so both queues are served although each alone could
  // fill every burst.
  std::array<RxFrame, 4> rx{};
  int from1 = 0;
  for (int b = 0; b < 4; ++b) {
    const std::size_t n = io.rx_burst(rx);
    ASSERT_EQ(n, 4u);
    for (std::size_t i = 0; i < n; ++i) from1 += rx[i].data[0] == 0x20 ? 1 : 0;
    io.rx_release(std::span<const RxFrame>(rx.data(), n));
  }
  EXPECT_EQ(from1, 8);
  EXPECT_EQ(q0.a().queued() + q1.a().queued(), 24u);
}

TEST(MultiQueueIo, TransmitsThroughTheFirstQueue) {
  MemLink q0(8);
  MemLink q1(8);
  MultiQueueIo io({&q0.a(), &q1.a()}, false);
  auto buf = io.tx_acquire();
  ASSERT_FALSE(buf.empty());
  buf[0] = 0x42;
  io.tx_commit(1);
  io.tx_flush();
  std::array<RxFrame, 4> rx{};
  ASSERT_EQ(q0.b().rx_burst(rx), 1u);
  EXPECT_EQ(rx[0].data[0], 0x42);
  EXPECT_EQ(q1.b().rx_burst(rx), 0u);
}

// tx_queued (packet capture): the frames committed since the last flush, through every part and in
// pages, and none after the flush.
TEST(MultiQueueIo, TxQueuedListsTheFramesUntilTheFlush) {
  MemLink q0(8);
  MemLink q1(8);
  MultiQueueIo io({&q0.a(), &q1.a()}, false);
  for (std::uint8_t i = 0; i < 3; ++i) {
    auto buf = io.tx_acquire();
    ASSERT_FALSE(buf.empty());
    buf[0] = static_cast<std::uint8_t>(0x50 + i);
    io.tx_commit(1 + i);
  }
  std::array<std::span<const std::uint8_t>, 8> out{};
  ASSERT_EQ(io.tx_queued(0, out), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(out[i][0], 0x50 + i);
    EXPECT_EQ(out[i].size(), 1 + i);
  }
  // In pages of two: the second page holds the third frame.
  std::array<std::span<const std::uint8_t>, 2> page{};
  ASSERT_EQ(io.tx_queued(0, page), 2u);
  ASSERT_EQ(io.tx_queued(2, page), 1u);
  EXPECT_EQ(page[0][0], 0x52);
  EXPECT_EQ(io.tx_queued(3, page), 0u);
  io.tx_flush();
  EXPECT_EQ(io.tx_queued(0, out), 0u);
  // A frame the link could not deliver (the peer's queue full) is not listed: it never left.
  MemLink tiny(1);
  for (int i = 0; i < 2; ++i) {
    auto buf = tiny.a().tx_acquire();
    ASSERT_FALSE(buf.empty());
    tiny.a().tx_commit(1);
  }
  EXPECT_EQ(tiny.a().tx_queued(0, out), 1u);
}

}  // namespace
}  // namespace xdptcp::io
