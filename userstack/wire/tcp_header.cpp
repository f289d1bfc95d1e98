// TCP header parse and emit (RFC 9293 §3.1) with the MSS, window scale, SACK and timestamp
// options, and the segment checksum over the pseudo-header.
#include "userstack/wire/tcp_header.h"

#include <algorithm>

#include "userstack/base/byteorder.h"
#include "userstack/wire/checksum.h"
#include "userstack/wire/ip.h"

namespace xdptcp::wire {

namespace {

// Option kinds and their fixed lengths (RFC 9293 §3.2, RFC 7323 §2.2 and §3.2, RFC 2018 §2-3).
constexpr std::uint8_t kOptEol = 0;
constexpr std::uint8_t kOptNop = 1;
constexpr std::uint8_t kOptMss = 2;
constexpr std::uint8_t kOptWindowScale = 3;
constexpr std::uint8_t kOptSackPermitted = 4;
constexpr std::uint8_t kOptSack = 5;
constexpr std::uint8_t kOptTimestamps = 8;
constexpr std::uint8_t kLenMss = 4;
constexpr std::uint8_t kLenWindowScale = 3;
constexpr std::uint8_t kLenSackPermitted = 2;
constexpr std::uint8_t kLenTimestamps = 10;
constexpr std::size_t kSackBlockLen = 8;
constexpr std::size_t kMaxOptionBytes = kTcpMaxHeader - kTcpMinHeader;  // 40

// The option layout emit_tcp() writes, computed once for header_len() and emit_tcp().
struct OptionLayout {
  std::size_t fixed = 0;        // bytes before the SACK blocks
  std::size_t sack_blocks = 0;  // blocks that fit (Linux also trims SACK blocks to the space left)
  std::size_t total() const { return fixed + (sack_blocks > 0 ? 4 + kSackBlockLen * sack_blocks : 0); }
};

OptionLayout layout_of(const TcpOptions& o) {
  OptionLayout l;
  if (o.mss) l.fixed += 4;  // MSS
  if (o.timestamps)
    l.fixed += 12;  // (SACKOK | NOP NOP) TS
  else if (o.sack_permitted)
    l.fixed += 4;                    // NOP NOP SACKOK
  if (o.window_scale) l.fixed += 4;  // NOP WS
  const std::size_t want = std::min<std::size_t>(o.sack_count, o.sack.size());
  if (want > 0 && l.fixed + 4 + kSackBlockLen <= kMaxOptionBytes) {
    l.sack_blocks = std::min(want, (kMaxOptionBytes - l.fixed - 4) / kSackBlockLen);
  }
  return l;
}

}  // namespace

std::size_t TcpRepr::header_len() const {
  return kTcpMinHeader + layout_of(options).total();
}

ParseResult<TcpParsed> parse_tcp(std::span<const std::uint8_t> segment) {
  if (segment.size() < kTcpMinHeader) return ParseError::kTruncated;
  const std::uint8_t* b = segment.data();
  const std::size_t hl = static_cast<std::size_t>(b[12] >> 4) * 4;
  if (hl < kTcpMinHeader || hl > segment.size()) return ParseError::kBadHeaderLength;

  TcpParsed out;
  TcpRepr& r = out.repr;
  r.src_port = load_be16(b);
  r.dst_port = load_be16(b + 2);
  r.seq = load_be32(b + 4);
  r.ack = load_be32(b + 8);
  r.flags = b[13];  // CWR ECE URG ACK PSH RST SYN FIN; the NS bit (RFC 3540, historic) is ignored
  r.window = load_be16(b + 14);
  r.urgent = load_be16(b + 18);

  // The option list (RFC 9293 §3.2). Every length is checked against the header end before
  // any byte of the option is read. RFC 9293 MUST-7 requires handling illegal lengths; we
  // reject the whole segment (kBadOption) where Linux's tcp_parse_options() stops parsing or
  // ignores the one option. Unknown kinds are skipped by their length (MUST-6).
  // What is present is reported as received: whether MSS and window scale count outside a
  // SYN (RFC 9293 §3.7.1, RFC 7323 §2.2) and the clamp of the shift to 14 (RFC 7323 §2.3) are
  // decisions of the TCP layer, which also logs the clamp.
  TcpOptions& o = r.options;
  std::size_t i = kTcpMinHeader;
  while (i < hl) {
    const std::uint8_t kind = b[i];
    if (kind == kOptEol) break;  // the rest is padding
    if (kind == kOptNop) {
      ++i;
      continue;
    }
    if (i + 1 >= hl) return ParseError::kBadOption;  // no room for the length byte
    const std::uint8_t len = b[i + 1];
    if (len < 2 || i + len > hl) return ParseError::kBadOption;
    const std::uint8_t* v = b + i + 2;
    switch (kind) {
      case kOptMss:
        if (len != kLenMss) return ParseError::kBadOption;
        o.mss = load_be16(v);
        break;
      case kOptWindowScale:
        if (len != kLenWindowScale) return ParseError::kBadOption;
        o.window_scale = v[0];
        break;
      case kOptSackPermitted:
        if (len != kLenSackPermitted) return ParseError::kBadOption;
        o.sack_permitted = true;
        break;
      case kOptSack: {
        // RFC 2018 §3: 2 + 8n bytes, n >= 1; at most 4 blocks fit in 40 bytes of options.
        if (len < 2 + kSackBlockLen || (len - 2) % kSackBlockLen != 0) return ParseError::kBadOption;
        const std::size_t n = (len - 2) / kSackBlockLen;
        o.sack_count = static_cast<std::uint8_t>(n);
        for (std::size_t k = 0; k < n; ++k) {
          o.sack[k].left = load_be32(v + k * kSackBlockLen);
          o.sack[k].right = load_be32(v + k * kSackBlockLen + 4);
        }
        break;
      }
      case kOptTimestamps:
        if (len != kLenTimestamps) return ParseError::kBadOption;
        o.timestamps = TcpTimestamps{load_be32(v), load_be32(v + 4)};
        break;
      default:
        break;
    }
    i += len;
  }

  out.header_len = hl;
  out.payload = segment.subspan(hl);
  return out;
}

std::size_t emit_tcp(const TcpRepr& repr, std::span<std::uint8_t> out) {
  const OptionLayout l = layout_of(repr.options);
  const std::size_t hl = kTcpMinHeader + l.total();
  if (out.size() < hl) return 0;
  std::uint8_t* b = out.data();
  store_be16(b, repr.src_port);
  store_be16(b + 2, repr.dst_port);
  store_be32(b + 4, repr.seq);
  store_be32(b + 8, repr.ack);
  b[12] = static_cast<std::uint8_t>((hl / 4) << 4);
  b[13] = repr.flags;
  store_be16(b + 14, repr.window);
  store_be16(b + 16, 0);  // checksum: tcp_fill_checksum() or the caller fills it
  store_be16(b + 18, repr.urgent);

  // Linux's tcp_options_write() order, so that our segments look like the kernel's to
  // middleboxes and in captures: MSS; SACKOK+TS or NOP NOP TS or NOP NOP SACKOK; NOP WS;
  // NOP NOP SACK blocks. Every option group is 4-byte aligned, so no trailing padding.
  const TcpOptions& o = repr.options;
  std::uint8_t* p = b + kTcpMinHeader;
  if (o.mss) {
    p[0] = kOptMss;
    p[1] = kLenMss;
    store_be16(p + 2, *o.mss);
    p += 4;
  }
  if (o.timestamps) {
    if (o.sack_permitted) {
      p[0] = kOptSackPermitted;
      p[1] = kLenSackPermitted;
    } else {
      p[0] = kOptNop;
      p[1] = kOptNop;
    }
    p[2] = kOptTimestamps;
    p[3] = kLenTimestamps;
    store_be32(p + 4, o.timestamps->tsval);
    store_be32(p + 8, o.timestamps->tsecr);
    p += 12;
  } else if (o.sack_permitted) {
    p[0] = kOptNop;
    p[1] = kOptNop;
    p[2] = kOptSackPermitted;
    p[3] = kLenSackPermitted;
    p += 4;
  }
  if (o.window_scale) {
    p[0] = kOptNop;
    p[1] = kOptWindowScale;
    p[2] = kLenWindowScale;
    p[3] = *o.window_scale;
    p += 4;
  }
  if (l.sack_blocks > 0) {
    p[0] = kOptNop;
    p[1] = kOptNop;
    p[2] = kOptSack;
    p[3] = static_cast<std::uint8_t>(2 + kSackBlockLen * l.sack_blocks);
    p += 4;
    for (std::size_t k = 0; k < l.sack_blocks; ++k) {
      store_be32(p, o.sack[k].left);
      store_be32(p + 4, o.sack[k].right);
      p += kSackBlockLen;
    }
  }
  return hl;
}

bool tcp_checksum_ok(const IpAddr& src, const IpAddr& dst, std::span<const std::uint8_t> segment) {
  // Summing a segment with a correct checksum field yields 0xffff, whose complement is 0.
  const std::uint32_t ph =
      pseudo_header_sum(src, dst, kIpProtoTcp, static_cast<std::uint32_t>(segment.size()));
  return csum_fold(csum_partial(segment, ph)) == 0;
}

void tcp_fill_checksum(const IpAddr& src, const IpAddr& dst, std::span<std::uint8_t> segment) {
  if (segment.size() < kTcpMinHeader) return;
  store_be16(segment.data() + 16, 0);
  const std::uint32_t ph =
      pseudo_header_sum(src, dst, kIpProtoTcp, static_cast<std::uint32_t>(segment.size()));
  store_be16(segment.data() + 16, csum_fold(csum_partial(segment, ph)));
}

}  // namespace xdptcp::wire
