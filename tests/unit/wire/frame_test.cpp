// Whole-frame tests: Ethernet + 802.1Q + IPv4/IPv6 + TCP through the receive parse chain, and
// every truncation of such a frame (each copied into an exactly sized buffer, so that a read
// past the end is caught by AddressSanitizer).
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "unit/wire/wire_test_util.h"

namespace xdptcp::wire {
namespace {

using test::Bytes;

test::FrameSpec full_frame_spec(bool v6) {
  test::FrameSpec s;
  s.vlan_tci = 0x0064;
  if (v6) {
    s.src_ip = *IpAddr::parse("fd00::1");
    s.dst_ip = *IpAddr::parse("fd00::2");
  }
  s.tcp = test::full_syn();
  s.tcp.flags = tcp_flags::kAck | tcp_flags::kPsh;
  s.tcp.options.mss.reset();
  s.tcp.options.window_scale.reset();
  s.tcp.options.sack_count = 3;
  s.tcp.options.sack[0] = {100, 200};
  s.tcp.options.sack[1] = {300, 400};
  s.tcp.options.sack[2] = {500, 600};
  s.payload = Bytes{'G', 'E', 'T', ' ', '/', '\r', '\n'};
  return s;
}

TEST(Frame, FullVlanIpv4Tcp_ParsesAndChecksumVerifies) {
  const test::FrameSpec s = full_frame_spec(false);
  const Bytes f = test::build_frame(s);
  EXPECT_EQ(test::parse_chain(f), std::nullopt);
  auto eth = parse_ethernet(f);
  auto ip = parse_ip(eth->payload);
  auto tcp = parse_tcp(ip->payload);
  ASSERT_TRUE(tcp);
  EXPECT_EQ(tcp->repr, s.tcp);
  EXPECT_EQ(Bytes(tcp->payload.begin(), tcp->payload.end()), s.payload);
}

TEST(Frame, FullVlanIpv6Tcp_ParsesAndChecksumVerifies) {
  const test::FrameSpec s = full_frame_spec(true);
  const Bytes f = test::build_frame(s);
  EXPECT_EQ(test::parse_chain(f), std::nullopt);
}

void expect_every_truncation_fails(const Bytes& full) {
  for (std::size_t n = 0; n < full.size(); ++n) {
    // A heap buffer of exactly n bytes: ASan reports any read at or past index n.
    std::unique_ptr<std::uint8_t[]> buf(new std::uint8_t[n == 0 ? 1 : n]);
    std::copy(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n), buf.get());
    const auto err = test::parse_chain(std::span<const std::uint8_t>(buf.get(), n));
    EXPECT_NE(err, std::nullopt) << "truncated to " << n << " of " << full.size() << " bytes parsed";
  }
}

// The IP length field stops a truncated frame before parse_tcp sees it, so the TCP header is
// also truncated on its own: every cut inside the header (options included) must fail.
void expect_every_tcp_header_truncation_fails(const Bytes& frame, std::size_t tcp_offset) {
  const std::size_t hl = static_cast<std::size_t>(frame[tcp_offset + 12] >> 4) * 4;
  for (std::size_t n = 0; n < hl; ++n) {
    std::unique_ptr<std::uint8_t[]> buf(new std::uint8_t[n == 0 ? 1 : n]);
    std::copy(frame.begin() + static_cast<std::ptrdiff_t>(tcp_offset),
              frame.begin() + static_cast<std::ptrdiff_t>(tcp_offset + n), buf.get());
    EXPECT_FALSE(parse_tcp(std::span<const std::uint8_t>(buf.get(), n))) << "TCP header cut to " << n;
  }
}

TEST(Frame, EveryTruncationOfIpv4Frame_Errors) {
  const Bytes f = test::build_frame(full_frame_spec(false));
  expect_every_truncation_fails(f);
  expect_every_tcp_header_truncation_fails(f, kEthHeader + kVlanTag + kIpv4MinHeader);
}

TEST(Frame, EveryTruncationOfIpv6Frame_Errors) {
  const Bytes f = test::build_frame(full_frame_spec(true));
  expect_every_truncation_fails(f);
  expect_every_tcp_header_truncation_fails(f, kEthHeader + kVlanTag + kIpv6Header);
}

Bytes read_seed(const char* name) {
  const std::string path = std::string(XDPTCP_WIRE_CORPUS_DIR) + "/" + name;
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << "cannot open " << path;
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST(Frame, FuzzSeedFrames_ParseAsTheirNamesSay) {
  // The seeds' checksums were computed by tests/fuzz/wire/make_corpus.py, independently of
  // userstack/wire.
  for (const char* ok :
       {"v4_syn.bin", "v4_vlan_synack.bin", "v4_data_sack.bin", "v6_syn.bin", "v6_ext_ack.bin"}) {
    const Bytes f = read_seed(ok);
    EXPECT_EQ(test::parse_chain(f), std::nullopt) << ok;
  }
  EXPECT_EQ(test::parse_chain(read_seed("v4_fragment.bin")), ParseError::kFragment);
  const Bytes arp = read_seed("arp_request.bin");
  auto eth = parse_ethernet(arp);
  ASSERT_TRUE(eth);
  EXPECT_EQ(eth->ether_type, kEtherTypeArp);
  EXPECT_TRUE(parse_arp(eth->payload));
}

}  // namespace
}  // namespace xdptcp::wire
