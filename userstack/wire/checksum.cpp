// The Internet checksum (RFC 1071), its incremental update (RFC 1624) and the TCP
// pseudo-headers. Every received segment and every sent one passes through csum_partial(), so
// it sums 8 bytes per step.
#include "userstack/wire/checksum.h"

#include <cstring>

#include "userstack/base/byteorder.h"

namespace xdptcp::wire {

namespace {

// Adds with end-around carry (RFC 1071 §1: one's-complement addition).
inline std::uint64_t add64(std::uint64_t a, std::uint64_t b) {
  const std::uint64_t s = a + b;
  return s + (s < b ? 1 : 0);
}
inline std::uint32_t add32(std::uint32_t a, std::uint32_t b) {
  const std::uint32_t s = a + b;
  return s + (s < b ? 1 : 0);
}

// Folds a one's-complement sum to 16 bits without losing carries (RFC 1071 §2 (C)).
inline std::uint16_t fold64(std::uint64_t s) {
  s = (s & 0xffffffffULL) + (s >> 32);  // <= 2^33 - 2
  s = (s & 0xffffffffULL) + (s >> 32);  // <= 2^32
  s = (s & 0xffffULL) + (s >> 16);      // <= 0x1fffe
  s = (s & 0xffffULL) + (s >> 16);      // <= 0xffff
  s = (s & 0xffffULL) + (s >> 16);
  return static_cast<std::uint16_t>(s);
}

}  // namespace

std::uint32_t csum_partial(std::span<const std::uint8_t> data, std::uint32_t sum) {
  // RFC 1071 §2 (B): the one's-complement sum is byte-order independent, so the bytes are
  // summed as native (little-endian) 64-bit words, carries added back, and the folded 16-bit
  // result byte-swapped once into network order at the end. Every step starts at an even
  // offset, so the byte pairs line up with the big-endian 16-bit words of the RFC.
  const std::uint8_t* p = data.data();
  std::size_t n = data.size();
  std::uint64_t acc = 0;
  // Two independent accumulators let the adds of consecutive words overlap in the pipeline.
  std::uint64_t acc2 = 0;
  while (n >= 16) {
    std::uint64_t w0;
    std::uint64_t w1;
    std::memcpy(&w0, p, 8);
    std::memcpy(&w1, p + 8, 8);
    acc = add64(acc, w0);
    acc2 = add64(acc2, w1);
    p += 16;
    n -= 16;
  }
  acc = add64(acc, acc2);
  if (n >= 8) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    acc = add64(acc, w);
    p += 8;
    n -= 8;
  }
  if (n >= 4) {
    std::uint32_t w;
    std::memcpy(&w, p, 4);
    acc = add64(acc, w);
    p += 4;
    n -= 4;
  }
  if (n >= 2) {
    std::uint16_t w;
    std::memcpy(&w, p, 2);
    acc = add64(acc, w);
    p += 2;
    n -= 2;
  }
  if (n == 1) {
    // An odd last byte is the high byte of a word padded with zero (RFC 1071 §4.1); in the
    // little-endian view it is the low byte.
    acc = add64(acc, *p);
  }
  return add32(sum, bswap16(fold64(acc)));
}

std::uint16_t csum_fold(std::uint32_t sum) {
  return static_cast<std::uint16_t>(~fold64(sum));
}

std::uint32_t pseudo_header_sum(const IpAddr& src, const IpAddr& dst, std::uint8_t protocol,
                                std::uint32_t length) {
  // IPv4 (RFC 9293 §3.1): src, dst, zero, protocol, 16-bit TCP length.
  // IPv6 (RFC 8200 §8.1): src, dst, 32-bit upper-layer length, three zero bytes, next header.
  // Both reduce to the same sum of 16-bit words: addresses + protocol + length halves.
  // The address words are summed directly (native order, as in csum_partial) rather than
  // through csum_partial on 4- or 16-byte buffers: this runs for every segment sent and received.
  std::uint64_t acc;
  if (src.is_v4()) {
    std::uint32_t a;
    std::uint32_t b;
    std::memcpy(&a, src.bytes.data(), 4);
    std::memcpy(&b, dst.bytes.data(), 4);
    acc = std::uint64_t{a} + b;  // < 2^33: no carry out
  } else {
    std::uint64_t w[4];
    std::memcpy(w, src.bytes.data(), 16);
    std::memcpy(w + 2, dst.bytes.data(), 16);
    acc = add64(add64(w[0], w[1]), add64(w[2], w[3]));
  }
  // <= 0xffff + 0xff + 2 * 0xffff: fits in 32 bits.
  return std::uint32_t{bswap16(fold64(acc))} + protocol + (length >> 16) + (length & 0xffff);
}

std::uint16_t csum_update16(std::uint16_t old_csum, std::uint16_t old_word, std::uint16_t new_word) {
  // RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'). Unlike eqn. 2 it never produces 0xffff (-0)
  // for a nonzero sum, so the result equals recomputation from scratch.
  const std::uint32_t s = std::uint32_t{static_cast<std::uint16_t>(~old_csum)} +
                          std::uint32_t{static_cast<std::uint16_t>(~old_word)} + new_word;
  return static_cast<std::uint16_t>(~fold64(s));
}

std::uint16_t csum_update32(std::uint16_t old_csum, std::uint32_t old_value, std::uint32_t new_value) {
  // RFC 1624 eqn. 3 applied to both 16-bit halves at once.
  const std::uint32_t s = std::uint32_t{static_cast<std::uint16_t>(~old_csum)} +
                          std::uint32_t{static_cast<std::uint16_t>(~(old_value >> 16))} +
                          std::uint32_t{static_cast<std::uint16_t>(~old_value)} + (new_value >> 16) +
                          (new_value & 0xffff);
  return static_cast<std::uint16_t>(~fold64(s));
}

}  // namespace xdptcp::wire
