// The RSS Toeplitz hash and queue choice; see toeplitz.h.
#include "userstack/engine/toeplitz.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "userstack/base/byteorder.h"

namespace xdptcp::engine {

std::uint32_t toeplitz_hash(std::span<const std::uint8_t> key, std::span<const std::uint8_t> input) {
  const auto key_byte = [&](std::size_t i) -> std::uint32_t { return i < key.size() ? key[i] : 0u; };
  // `window` holds key bits [8*i, 8*i + 32) while input byte i is consumed; each shift pulls in the
  // next key bit, taken from key byte i + 4.
  std::uint32_t window = key_byte(0) << 24 | key_byte(1) << 16 | key_byte(2) << 8 | key_byte(3);
  std::uint32_t result = 0;
  for (std::size_t i = 0; i < input.size(); ++i) {
    const std::uint32_t next = key_byte(i + 4);
    for (int b = 7; b >= 0; --b) {
      if ((input[i] >> b) & 1u) result ^= window;
      window = (window << 1) | ((next >> b) & 1u);
    }
  }
  return result;
}

std::uint32_t rss_hash_rx(std::span<const std::uint8_t> key, const wire::FourTuple& t) {
  // Source fields first: the peer sends, we receive.
  std::array<std::uint8_t, 36> in{};
  const std::size_t alen = t.remote.ip.size();
  std::memcpy(in.data(), t.remote.ip.bytes.data(), alen);
  std::memcpy(in.data() + alen, t.local.ip.bytes.data(), alen);
  store_be16(in.data() + 2 * alen, t.remote.port);
  store_be16(in.data() + 2 * alen + 2, t.local.port);
  return toeplitz_hash(key, std::span<const std::uint8_t>(in.data(), 2 * alen + 4));
}

std::optional<std::uint32_t> rss_queue(std::span<const std::uint32_t> indirection_table, std::uint32_t hash) {
  if (indirection_table.empty()) return std::nullopt;
  return indirection_table[hash % indirection_table.size()];
}

std::optional<std::uint32_t> RssConfig::rx_queue(const wire::FourTuple& t) const {
  if (!usable()) return std::nullopt;
  // The input and the 32-bit window that slides past its last bit: 12 + 4 (IPv4), 36 + 4 (IPv6).
  const std::size_t needed = t.remote.ip.is_v4() ? 16 : 40;
  if (key.size() < needed) return std::nullopt;
  return rss_queue(indirection, rss_hash_rx(key, t));
}

bool RssConfig::reaches(std::uint32_t queue) const {
  return std::find(indirection.begin(), indirection.end(), queue) != indirection.end();
}

}  // namespace xdptcp::engine
