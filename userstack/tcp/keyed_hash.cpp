// SipHash-2-4, after the reference implementation (https://github.com/veorq/SipHash).
#include "userstack/tcp/keyed_hash.h"

#include <array>
#include <cstring>

namespace xdptcp::tcp {
namespace {

constexpr std::uint64_t rotl(std::uint64_t x, int b) {
  return (x << b) | (x >> (64 - b));
}

struct State {
  std::uint64_t v0, v1, v2, v3;
  void round() {
    v0 += v1;
    v1 = rotl(v1, 13);
    v1 ^= v0;
    v0 = rotl(v0, 32);
    v2 += v3;
    v3 = rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = rotl(v1, 17);
    v1 ^= v2;
    v2 = rotl(v2, 32);
  }
  void absorb(std::uint64_t m) {
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
};

std::uint64_t load_le64(const std::uint8_t* p) {
  std::uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;  // little-endian host (byteorder.h asserts it)
}

}  // namespace

std::uint64_t siphash24(const HashKey& key, std::span<const std::uint8_t> data) {
  State s{0x736f6d6570736575ULL ^ key.k0, 0x646f72616e646f6dULL ^ key.k1, 0x6c7967656e657261ULL ^ key.k0,
          0x7465646279746573ULL ^ key.k1};
  const std::size_t n = data.size();
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) s.absorb(load_le64(data.data() + i));
  std::uint64_t last = static_cast<std::uint64_t>(n & 0xff) << 56;
  for (std::size_t j = 0; i + j < n; ++j) last |= static_cast<std::uint64_t>(data[i + j]) << (8 * j);
  s.absorb(last);
  s.v2 ^= 0xff;
  for (int r = 0; r < 4; ++r) s.round();
  return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

std::uint64_t hash_tuple(const HashKey& key, const wire::FourTuple& t, std::uint32_t salt) {
  std::array<std::uint8_t, 40> buf{};
  std::memcpy(buf.data(), t.local.ip.bytes.data(), 16);
  std::memcpy(buf.data() + 16, t.remote.ip.bytes.data(), 16);
  std::memcpy(buf.data() + 32, &t.local.port, 2);
  std::memcpy(buf.data() + 34, &t.remote.port, 2);
  std::memcpy(buf.data() + 36, &salt, 4);
  return siphash24(key, buf);
}

}  // namespace xdptcp::tcp
