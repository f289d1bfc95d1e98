// The Toeplitz hash of Receive-Side Scaling and the NIC's queue choice, computed in software so
// that an engine can pick source ports whose replies the NIC delivers to its own queue (design
// brief §5). Pure computation; see Microsoft's "RSS Hashing Functions" and "Verifying the RSS
// Hash Calculation" for the definition and the vectors tests/unit/rss/ checks.
//
// The NIC hashes a segment as it ARRIVES: source = the peer's address and port, destination =
// ours. For the replies to our active open that means source = tuple.remote, destination =
// tuple.local, which is what rss_hash_rx() takes care of.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "userstack/wire/ip_addr.h"

namespace xdptcp::engine {

// ComputeHash(input, n) of the RSS specification: for each input bit from the left (the most
// significant bit of input[0] first) that is 1, XOR the leftmost 32 bits of the key, then shift
// the key one bit left. Bits beyond the end of the key count as zero (a NIC key is 40 bytes or
// more: enough for the 36-byte IPv6 TCP input).
std::uint32_t toeplitz_hash(std::span<const std::uint8_t> key, std::span<const std::uint8_t> input);

// The hash the NIC computes for a TCP segment of `t` that we receive: input = remote address,
// local address, remote port, local port, in network byte order (12 bytes for IPv4, 36 for IPv6;
// NDIS_HASH_TCP_IPV4 / NDIS_HASH_TCP_IPV6).
std::uint32_t rss_hash_rx(std::span<const std::uint8_t> key, const wire::FourTuple& t);

// The receive queue the NIC picks: indirection_table[hash % table size] (the low bits of the
// hash; table sizes are powers of two on every NIC we know, where % is the same as a mask).
// nullopt when the table is empty.
std::optional<std::uint32_t> rss_queue(std::span<const std::uint32_t> indirection_table, std::uint32_t hash);

// The NIC's RSS configuration as read with ETHTOOL_GRSSH: enough to predict the receive queue of
// a flow. Empty (usable() false) when the driver has no RSS (veth): then nothing can be predicted
// and a segment that reaches the wrong engine is handed to the owner instead.
struct RssConfig {
  std::vector<std::uint8_t> key;
  std::vector<std::uint32_t> indirection;

  // A key long enough for the IPv4 input plus one 32-bit window, and a table.
  bool usable() const { return key.size() >= 16 && !indirection.empty(); }
  // The queue the NIC delivers our received segments of `t` to; nullopt when !usable(), or for
  // IPv6 when the key is shorter than the 40 bytes the IPv6 input needs.
  std::optional<std::uint32_t> rx_queue(const wire::FourTuple& t) const;
  // Whether some entry of the table points at `queue` (if none does, no port can be chosen for it).
  bool reaches(std::uint32_t queue) const;
};

}  // namespace xdptcp::engine
