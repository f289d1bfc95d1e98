// SipHash-2-4 (Aumasson & Bernstein), the keyed hash behind ISNs (RFC 6528 §3's F()), SYN
// cookies (RFC 4987 §3.6), timestamp offsets (RFC 7323 §5.4) and the flow table, so that an
// attacker who does not know the stack's secret can predict none of them.
#pragma once

#include <cstdint>
#include <span>

#include "userstack/wire/ip_addr.h"

namespace xdptcp::tcp {

struct HashKey {
  std::uint64_t k0 = 0;
  std::uint64_t k1 = 0;
};

std::uint64_t siphash24(const HashKey& key, std::span<const std::uint8_t> data);

// Hash of a connection's 4-tuple plus a 32-bit salt (to derive independent values from one key).
std::uint64_t hash_tuple(const HashKey& key, const wire::FourTuple& t, std::uint32_t salt);

}  // namespace xdptcp::tcp
