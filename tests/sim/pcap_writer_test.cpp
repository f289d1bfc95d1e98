// Unit tests of the simulator's pcap writer: the bytes on disk follow pcap-savefile(5) with
// LINKTYPE_RAW and nanosecond timestamps, so Wireshark opens a failing test's traffic.
#include <gtest/gtest.h>

#include <unistd.h>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "tests/support/sim/pcap_writer.h"

namespace xdptcp::sim {
namespace {

std::uint32_t get32(const std::vector<std::uint8_t>& b, std::size_t off) {
  std::uint32_t v;
  std::memcpy(&v, b.data() + off, 4);
  return v;
}

std::string temp_dir() {
  char tmpl[] = "/tmp/xdptcp-sim-pcap-XXXXXX";
  const char* d = mkdtemp(tmpl);
  return d ? d : "/tmp";
}

TEST(PcapWriter, TwoPackets_HeaderAndRecordsAsSpecified) {
  const std::string dir = temp_dir();
  const std::string path = pcap_path(dir, "Suite.Name/seed 7");
  EXPECT_EQ(path, dir + "/Suite.Name_seed_7.pcap");
  {
    Result<PcapWriter> w = PcapWriter::open(path);
    ASSERT_TRUE(w.ok()) << w.error().describe();
    const std::uint8_t a[3] = {0x45, 1, 2};
    const std::uint8_t b[5] = {0x60, 3, 4, 5, 6};
    w->write(a, Instant{} + Duration::millis(1500));
    w->write(b, Instant{} + Duration::nanos(7));
    EXPECT_EQ(w->packets(), 2u);
  }
  std::ifstream in(path, std::ios::binary);
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_EQ(bytes.size(), 24u + 16 + 3 + 16 + 5);
  EXPECT_EQ(get32(bytes, 0), kPcapMagicNanos);
  EXPECT_EQ(bytes[4] | bytes[5] << 8, 2);  // version 2.4, host order (little-endian)
  EXPECT_EQ(bytes[6] | bytes[7] << 8, 4);
  EXPECT_EQ(get32(bytes, 16), kPcapSnapLen);
  EXPECT_EQ(get32(bytes, 20), kLinkTypeRaw);
  EXPECT_EQ(get32(bytes, 24), 1u);            // seconds
  EXPECT_EQ(get32(bytes, 28), 500'000'000u);  // nanoseconds
  EXPECT_EQ(get32(bytes, 32), 3u);            // captured length
  EXPECT_EQ(get32(bytes, 36), 3u);            // original length
  EXPECT_EQ(bytes[40], 0x45);
  EXPECT_EQ(get32(bytes, 43), 0u);
  EXPECT_EQ(get32(bytes, 47), 7u);
  EXPECT_EQ(get32(bytes, 51), 5u);
  EXPECT_EQ(bytes[59], 0x60);
  std::remove(path.c_str());
  rmdir(dir.c_str());
}

TEST(PcapWriter, MissingFolder_ErrorSaysWhatToDo) {
  Result<PcapWriter> w = PcapWriter::open("/nonexistent-xdptcp-dir/x.pcap");
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.error().message.find("XDPTCP_SIM_PCAP"), std::string::npos);
}

TEST(PcapWriter, DirFromEnv_UnsetOrEmptyMeansOff) {
  unsetenv("XDPTCP_SIM_PCAP");
  EXPECT_FALSE(pcap_dir_from_env().has_value());
  setenv("XDPTCP_SIM_PCAP", "", 1);
  EXPECT_FALSE(pcap_dir_from_env().has_value());
  setenv("XDPTCP_SIM_PCAP", "/tmp/x", 1);
  EXPECT_EQ(pcap_dir_from_env().value_or(""), "/tmp/x");
  unsetenv("XDPTCP_SIM_PCAP");
}

}  // namespace
}  // namespace xdptcp::sim
