// Big-endian loads and stores on unaligned bytes, for the wire formats.
// memcpy + byteswap compiles to one mov + bswap; never cast packet bytes to packed structs.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>

namespace xdptcp {

inline constexpr std::uint16_t bswap16(std::uint16_t v) {
  return static_cast<std::uint16_t>((v << 8) | (v >> 8));
}
inline constexpr std::uint32_t bswap32(std::uint32_t v) {
  return __builtin_bswap32(v);
}

inline std::uint16_t load_be16(const std::uint8_t* p) {
  std::uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return bswap16(v);
}
inline std::uint32_t load_be32(const std::uint8_t* p) {
  std::uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return bswap32(v);
}
inline void store_be16(std::uint8_t* p, std::uint16_t v) {
  v = bswap16(v);
  std::memcpy(p, &v, sizeof v);
}
inline void store_be32(std::uint8_t* p, std::uint32_t v) {
  v = bswap32(v);
  std::memcpy(p, &v, sizeof v);
}

static_assert(std::endian::native == std::endian::little, "xdptcp assumes a little-endian host");

}  // namespace xdptcp
