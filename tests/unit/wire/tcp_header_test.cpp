// Tests of the TCP header parser and emitter (RFC 9293 §3.1-3.2) and its options: MSS
// (RFC 9293 §3.2), window scale and timestamps (RFC 7323), SACK (RFC 2018).
#include <gtest/gtest.h>

#include "unit/wire/wire_test_util.h"
#include "userstack/base/byteorder.h"
#include "userstack/wire/tcp_header.h"

namespace xdptcp::wire {
namespace {

using test::Bytes;
using test::from_hex;

// A SYN as Linux sends it: MSS 1460, SACK-permitted + timestamps, NOP + window scale 7.
const Bytes kLinuxSyn = from_hex(
    "a2b4 0050 12345678 00000000 a002 faf0 d2f4 0000"
    "020405b4 0402080a 0001e240 00000000 01030307");
// Linux's SYN-ACK to it (same option layout, TSecr echoing the SYN's TSval).
const Bytes kLinuxSynAck = from_hex(
    "0050 a2b4 9abcdef0 12345679 a012 fe88 0000 0000"
    "020405b4 0402080a 00bc614e 0001e240 01030307");
// A data segment carrying two SACK blocks after the timestamps and 5 bytes of payload.
const Bytes kDataWithSack = from_hex(
    "a2b4 0050 12345679 9abcdef1 d018 01f5 0000 0000"
    "0101080a 0001e241 00bc614e 01010512 9abce000 9abce5b4 9abcf000 9abcf5b4"
    "68656c6c6f");

Bytes zero_checksum(Bytes b) {
  b[16] = 0;
  b[17] = 0;
  return b;
}

TEST(TcpParse, LinuxSyn_AllOptionsDecoded) {
  auto p = parse_tcp(kLinuxSyn);
  ASSERT_TRUE(p) << to_string(p.error());
  const TcpRepr& r = p->repr;
  EXPECT_EQ(r.src_port, 41652);
  EXPECT_EQ(r.dst_port, 80);
  EXPECT_EQ(r.seq, 0x12345678u);
  EXPECT_EQ(r.ack, 0u);
  EXPECT_EQ(r.flags, tcp_flags::kSyn);
  EXPECT_TRUE(r.has(tcp_flags::kSyn));
  EXPECT_FALSE(r.has(tcp_flags::kAck));
  EXPECT_EQ(r.window, 64240);
  EXPECT_EQ(r.options.mss, 1460);
  EXPECT_TRUE(r.options.sack_permitted);
  ASSERT_TRUE(r.options.timestamps);
  EXPECT_EQ(r.options.timestamps->tsval, 123456u);
  EXPECT_EQ(r.options.timestamps->tsecr, 0u);
  EXPECT_EQ(r.options.window_scale, 7);
  EXPECT_EQ(r.options.sack_count, 0);
  EXPECT_EQ(p->header_len, 40u);
  EXPECT_TRUE(p->payload.empty());
  EXPECT_TRUE(tcp_checksum_ok(IpAddr::v4(198, 18, 0, 1), IpAddr::v4(198, 18, 0, 2), kLinuxSyn));
}

TEST(TcpEmit, LinuxSynRepr_BytesMatchLinuxLayout) {
  // emit_tcp lays options out as Linux's tcp_options_write(): same bytes as the capture.
  const TcpRepr r = parse_tcp(kLinuxSyn)->repr;
  EXPECT_EQ(r, test::full_syn());
  Bytes out(r.header_len());
  ASSERT_EQ(emit_tcp(r, out), 40u);
  EXPECT_EQ(out, zero_checksum(kLinuxSyn));
}

TEST(TcpParse, LinuxSynAck_OptionsAndAckDecoded) {
  auto p = parse_tcp(kLinuxSynAck);
  ASSERT_TRUE(p);
  const TcpRepr& r = p->repr;
  EXPECT_EQ(r.flags, tcp_flags::kSyn | tcp_flags::kAck);
  EXPECT_EQ(r.ack, 0x12345679u);
  EXPECT_EQ(r.window, 65160);
  EXPECT_EQ(r.options.mss, 1460);
  EXPECT_TRUE(r.options.sack_permitted);
  EXPECT_EQ(r.options.timestamps, (TcpTimestamps{12345678, 123456}));
  EXPECT_EQ(r.options.window_scale, 7);
  Bytes out(r.header_len());
  ASSERT_EQ(emit_tcp(r, out), kLinuxSynAck.size());
  EXPECT_EQ(out, kLinuxSynAck);
}

TEST(TcpParse, DataSegmentWithSackBlocks_BlocksAndPayloadDecoded) {
  // RFC 2018 §3: kind 5, length 2 + 8n; RFC 7323 Appendix A layout NOP NOP TS.
  auto p = parse_tcp(kDataWithSack);
  ASSERT_TRUE(p);
  const TcpRepr& r = p->repr;
  EXPECT_EQ(r.flags, tcp_flags::kAck | tcp_flags::kPsh);
  EXPECT_FALSE(r.options.mss);
  EXPECT_FALSE(r.options.sack_permitted);
  EXPECT_EQ(r.options.timestamps, (TcpTimestamps{123457, 12345678}));
  ASSERT_EQ(r.options.sack_count, 2);
  EXPECT_EQ(r.options.sack[0], (TcpSackBlock{0x9abce000, 0x9abce5b4}));
  EXPECT_EQ(r.options.sack[1], (TcpSackBlock{0x9abcf000, 0x9abcf5b4}));
  EXPECT_EQ(p->header_len, 52u);
  ASSERT_EQ(p->payload.size(), 5u);
  EXPECT_EQ(p->payload[0], 'h');
  Bytes out(r.header_len());
  ASSERT_EQ(emit_tcp(r, out), 52u);
  EXPECT_TRUE(std::equal(out.begin(), out.end(), kDataWithSack.begin()));
}

TEST(TcpEmitParse, EveryOptionCombination_RoundTrips) {
  // Every combination of MSS, window scale, SACK-permitted, timestamps and 0-4 SACK blocks:
  // emit, parse, and get the same value back. SACK blocks beyond the 40 option bytes
  // (RFC 9293 §3.1: data offset <= 15) are trimmed, first blocks kept.
  const std::optional<std::uint16_t> msss[] = {std::nullopt, 536, 1460};
  const std::optional<std::uint8_t> wss[] = {std::nullopt, 0, 14};
  int combos = 0;
  for (const auto& mss : msss) {
    for (const auto& ws : wss) {
      for (bool sackok : {false, true}) {
        for (bool ts : {false, true}) {
          for (std::uint8_t nsack = 0; nsack <= 4; ++nsack) {
            TcpRepr r;
            r.src_port = 1234;
            r.dst_port = 80;
            r.seq = 0xfffffff0u;
            r.ack = 77;
            r.flags = tcp_flags::kAck | tcp_flags::kEce | tcp_flags::kCwr;
            r.window = 0xffff;
            r.urgent = 3;
            r.options.mss = mss;
            r.options.window_scale = ws;
            r.options.sack_permitted = sackok;
            if (ts) r.options.timestamps = TcpTimestamps{0xdeadbeef, 0x01020304};
            r.options.sack_count = nsack;
            for (std::uint8_t k = 0; k < nsack; ++k) r.options.sack[k] = {1000u * k, 1000u * k + 500};

            const std::size_t hl = r.header_len();
            ASSERT_EQ(hl % 4, 0u);
            ASSERT_LE(hl, kTcpMaxHeader);
            Bytes seg(hl + 3, 0xee);  // 3 bytes of payload after the header
            ASSERT_EQ(emit_tcp(r, seg), hl);
            auto p = parse_tcp(seg);
            ASSERT_TRUE(p) << to_string(p.error());
            EXPECT_EQ(p->header_len, hl);
            EXPECT_EQ(p->payload.size(), 3u);

            const std::size_t used = 4 * (mss ? 1 : 0) + (ts ? 12 : sackok ? 4 : 0) + 4 * (ws ? 1 : 0);
            const std::size_t fit = used + 12 <= 40 ? std::min<std::size_t>(nsack, (40 - used - 4) / 8) : 0;
            TcpRepr expect = r;
            expect.options.sack_count = static_cast<std::uint8_t>(fit);
            for (std::size_t k = fit; k < 4; ++k) expect.options.sack[k] = {};
            EXPECT_EQ(p->repr, expect) << "mss " << mss.has_value() << " ws " << ws.has_value() << " sackok "
                                       << sackok << " ts " << ts << " nsack " << int{nsack};
            ++combos;
          }
        }
      }
    }
  }
  EXPECT_EQ(combos, 180);
}

TEST(TcpEmit, FourSackBlocksWithoutTimestamps_AllFit) {
  // RFC 2018 §3: without timestamps 4 blocks fit (4 + 32 = 36 of 40 bytes).
  TcpRepr r;
  r.options.sack_count = 4;
  EXPECT_EQ(r.header_len(), 20u + 36u);
  r.options.timestamps = TcpTimestamps{};
  EXPECT_EQ(r.header_len(), 20u + 12u + 28u);  // with timestamps only 3 (RFC 2018 §3)
}

TEST(TcpEmit, BufferTooSmall_ReturnsZeroAndWritesNothing) {
  const TcpRepr r = test::full_syn();
  Bytes out(r.header_len() - 1, 0xaa);
  EXPECT_EQ(emit_tcp(r, out), 0u);
  EXPECT_EQ(out, Bytes(r.header_len() - 1, 0xaa));
}

TEST(TcpParse, ShorterThanMinimumHeader_Truncated) {
  for (std::size_t n = 0; n < kTcpMinHeader; ++n) {
    const Bytes b(kLinuxSyn.begin(), kLinuxSyn.begin() + static_cast<std::ptrdiff_t>(n));
    auto p = parse_tcp(b);
    ASSERT_FALSE(p);
    EXPECT_EQ(p.error(), ParseError::kTruncated) << n;
  }
}

TEST(TcpParse, DataOffsetBelowFive_BadHeaderLength) {
  // RFC 9293 §3.1: the data offset counts 32-bit words of header, at least 5.
  for (std::uint8_t doff = 0; doff < 5; ++doff) {
    Bytes b = kLinuxSyn;
    b[12] = static_cast<std::uint8_t>(doff << 4);
    auto p = parse_tcp(b);
    ASSERT_FALSE(p);
    EXPECT_EQ(p.error(), ParseError::kBadHeaderLength);
  }
}

TEST(TcpParse, DataOffsetBeyondSegment_BadHeaderLength) {
  // The header claims 40 bytes, only 39 are present.
  const Bytes b(kLinuxSyn.begin(), kLinuxSyn.end() - 1);
  auto p = parse_tcp(b);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error(), ParseError::kBadHeaderLength);
}

// Parses a 20-byte header followed by the given option bytes (padded with EOL to a multiple of 4).
ParseResult<TcpParsed> parse_with_options(const Bytes& opts) {
  Bytes b = from_hex("04d2 0050 00000001 00000000 0010 ffff 0000 0000");
  b.insert(b.end(), opts.begin(), opts.end());
  while (b.size() % 4 != 0) b.push_back(0);
  b[12] = static_cast<std::uint8_t>((b.size() / 4) << 4);
  return parse_tcp(b);
}

TEST(TcpParse, MalformedOptionLengths_BadOption) {
  // RFC 9293 §3.2 MUST-7: an illegal option length must be handled; we drop the segment.
  const char* bad[] = {
      "0200",                         // MSS with length 0
      "0201",                         // length 1
      "010101 02",                    // a kind in the header's last byte: no length byte
      "0101 0303",                    // WS whose 3 bytes run one past the header end
      "020305b4",                     // MSS with length 3
      "0205 05b4 00",                 // MSS with length 5
      "030207",                       // WS with length 2
      "03040700",                     // WS with length 4
      "0403 00",                      // SACK-permitted with length 3
      "0808 00000001 0000",           // timestamps with length 8
      "080c 00000001 00000002 0000",  // timestamps with length 12
      "0509 00000001 00000002 00",    // SACK with a 7-byte block
      "0502",                         // SACK with no block
      "1e10 0000",                    // unknown kind whose length runs past the header
  };
  for (const char* hex : bad) {
    const Bytes o = from_hex(hex);
    auto p = parse_with_options(o);
    ASSERT_FALSE(p) << hex;
    EXPECT_EQ(p.error(), ParseError::kBadOption) << hex;
  }
}

TEST(TcpParse, UnknownOptions_SkippedByLength) {
  // RFC 9293 §3.2 MUST-6: unknown options are skipped using their length field. Kind 30
  // (MPTCP), kind 34 (TFO) and kind 254 (experimental) around a known MSS.
  auto p = parse_with_options(from_hex("1e04 0000 020405b4 2202 fe06 01020304"));
  ASSERT_TRUE(p) << to_string(p.error());
  EXPECT_EQ(p->repr.options.mss, 1460);
}

TEST(TcpParse, EndOfOptionList_RestIgnored) {
  // RFC 9293 §3.2: EOL ends the list; what follows is padding even if it looks malformed.
  auto p = parse_with_options(from_hex("020405b4 00 0200 ff"));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->repr.options.mss, 1460);
}

TEST(TcpParse, WindowScaleAbove14_ReportedRaw) {
  // RFC 7323 §2.3: a shift above 14 is used as 14 and logged; the TCP layer clamps, the parser
  // reports what was received.
  auto p = parse_with_options(from_hex("01030309"));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->repr.options.window_scale, 9);
  p = parse_with_options(from_hex("010303ff"));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->repr.options.window_scale, 255);
}

TEST(TcpParse, FourSackBlocks_AllDecoded) {
  auto p = parse_with_options(
      from_hex("0101 0522 00000001 00000002 00000003 00000004 00000005 00000006 00000007 00000008"));
  ASSERT_TRUE(p);
  ASSERT_EQ(p->repr.options.sack_count, 4);
  EXPECT_EQ(p->repr.options.sack[3], (TcpSackBlock{7, 8}));
}

TEST(TcpChecksum, FilledChecksum_VerifiesAndDetectsCorruption) {
  const auto src = IpAddr::v4(198, 18, 0, 1);
  const auto dst = IpAddr::v4(198, 18, 0, 2);
  Bytes seg = zero_checksum(kDataWithSack);
  tcp_fill_checksum(src, dst, seg);
  EXPECT_TRUE(tcp_checksum_ok(src, dst, seg));
  EXPECT_FALSE(tcp_checksum_ok(src, IpAddr::v4(198, 18, 0, 3), seg));  // pseudo-header counts
  for (std::size_t i = 0; i < seg.size(); ++i) {
    Bytes bad = seg;
    bad[i] ^= 0x10;
    EXPECT_FALSE(tcp_checksum_ok(src, dst, bad)) << "flip in byte " << i;
  }
}

}  // namespace
}  // namespace xdptcp::wire
