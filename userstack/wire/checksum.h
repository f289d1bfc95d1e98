// The Internet checksum (RFC 1071), incremental update (RFC 1624) and the TCP pseudo-headers
// for IPv4 (RFC 9293 §3.1) and IPv6 (RFC 8200 §8.1).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "userstack/wire/ip_addr.h"

namespace xdptcp::wire {

// Accumulates 16-bit big-endian words into a 32-bit one's-complement sum (not yet folded).
// Sums may be chained: csum_partial(b, csum_partial(a, 0)) == sum over a||b when a has even length.
std::uint32_t csum_partial(std::span<const std::uint8_t> data, std::uint32_t sum = 0);
// Folds a partial sum to 16 bits and complements it: the value to store in the header.
std::uint16_t csum_fold(std::uint32_t sum);
// Partial sum of the TCP pseudo-header for `src`, `dst` (same family) and a TCP length.
std::uint32_t pseudo_header_sum(const IpAddr& src, const IpAddr& dst, std::uint8_t protocol,
                                std::uint32_t length);
// RFC 1624 eqn. 3: the new checksum when a 16-bit field changes from old_word to new_word.
std::uint16_t csum_update16(std::uint16_t old_csum, std::uint16_t old_word, std::uint16_t new_word);
std::uint16_t csum_update32(std::uint16_t old_csum, std::uint32_t old_value, std::uint32_t new_value);

}  // namespace xdptcp::wire
