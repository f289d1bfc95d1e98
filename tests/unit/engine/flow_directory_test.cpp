// FlowDirectory (userstack/engine/flow_directory.h): owners found, erased by their owner only, the
// bound (a full probe window refuses), tombstones reused, and concurrent writers.
#include "userstack/engine/flow_directory.h"

#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace xdptcp::engine {
namespace {

wire::FourTuple tuple(std::uint16_t remote_port, std::uint16_t local_port = 80) {
  wire::FourTuple t;
  t.local = {*wire::IpAddr::parse("198.18.0.1"), local_port};
  t.remote = {*wire::IpAddr::parse("198.18.0.2"), remote_port};
  return t;
}

TEST(FlowDirectory, InsertFindErase_ByOwner) {
  FlowDirectory d(64);
  EXPECT_FALSE(d.find(tuple(1000)));
  ASSERT_TRUE(d.insert(tuple(1000), 3));
  ASSERT_TRUE(d.insert(tuple(1001), 0));
  EXPECT_EQ(d.find(tuple(1000)), 3);
  EXPECT_EQ(d.find(tuple(1001)), 0);
  EXPECT_FALSE(d.find(tuple(1000, 81))) << "another tuple";
  d.erase(tuple(1000), 2);  // not its owner: nothing
  EXPECT_EQ(d.find(tuple(1000)), 3);
  d.erase(tuple(1000), 3);
  EXPECT_FALSE(d.find(tuple(1000)));
  EXPECT_EQ(d.find(tuple(1001)), 0) << "a tombstone does not end the probe";
}

TEST(FlowDirectory, AtTheBound_InsertRefused_ThenRoomAfterErase) {
  FlowDirectory d(8);  // 16 slots, one probe window
  ASSERT_EQ(d.slots(), FlowDirectory::kProbe);
  std::uint16_t p = 1;
  for (; p <= FlowDirectory::kProbe; ++p) ASSERT_TRUE(d.insert(tuple(p), 1)) << p;
  EXPECT_FALSE(d.insert(tuple(p), 1)) << "every slot of the window is taken";
  EXPECT_FALSE(d.find(tuple(p)));
  for (std::uint16_t q = 1; q <= FlowDirectory::kProbe; ++q) EXPECT_EQ(d.find(tuple(q)), 1) << q;
  d.erase(tuple(5), 1);
  EXPECT_TRUE(d.insert(tuple(p), 0)) << "the tombstone is reused";
  EXPECT_EQ(d.find(tuple(p)), 0);
}

TEST(FlowDirectory, ConcurrentOwners_EachFindsItsOwn) {
  FlowDirectory d(4 * 5000);
  std::vector<std::thread> writers;
  for (std::uint8_t owner = 0; owner < 4; ++owner) {
    writers.emplace_back([&d, owner] {
      for (std::uint16_t i = 0; i < 5000; ++i) {
        ASSERT_TRUE(d.insert(tuple(i, static_cast<std::uint16_t>(1000 + owner)), owner));
      }
      for (std::uint16_t i = 0; i < 5000; i += 2)
        d.erase(tuple(i, static_cast<std::uint16_t>(1000 + owner)), owner);
    });
  }
  for (auto& w : writers) w.join();
  for (std::uint8_t owner = 0; owner < 4; ++owner) {
    for (std::uint16_t i = 0; i < 5000; ++i) {
      const auto found = d.find(tuple(i, static_cast<std::uint16_t>(1000 + owner)));
      if (i % 2 == 0) {
        EXPECT_FALSE(found) << i;
      } else {
        EXPECT_EQ(found, owner) << i;
      }
    }
  }
}

}  // namespace
}  // namespace xdptcp::engine
