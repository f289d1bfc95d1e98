// TCP header view and value (RFC 9293 §3.1) with the options xdptcp uses: MSS (§3.2),
// window scale and timestamps (RFC 7323), SACK-permitted and SACK blocks (RFC 2018).
//
// Contract (after smoltcp): parse_tcp() validates lengths once and returns an error kind, never
// reading past the buffer; TcpRepr is the parsed value and emit_tcp() writes it back.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "userstack/wire/ip_addr.h"
#include "userstack/wire/parse_error.h"

namespace xdptcp::wire {

inline constexpr std::size_t kTcpMinHeader = 20;
inline constexpr std::size_t kTcpMaxHeader = 60;

namespace tcp_flags {
inline constexpr std::uint8_t kFin = 0x01;
inline constexpr std::uint8_t kSyn = 0x02;
inline constexpr std::uint8_t kRst = 0x04;
inline constexpr std::uint8_t kPsh = 0x08;
inline constexpr std::uint8_t kAck = 0x10;
inline constexpr std::uint8_t kUrg = 0x20;
inline constexpr std::uint8_t kEce = 0x40;
inline constexpr std::uint8_t kCwr = 0x80;
}  // namespace tcp_flags

struct TcpSackBlock {
  std::uint32_t left = 0;
  std::uint32_t right = 0;
  bool operator==(const TcpSackBlock&) const = default;
};

struct TcpTimestamps {
  std::uint32_t tsval = 0;
  std::uint32_t tsecr = 0;
  bool operator==(const TcpTimestamps&) const = default;
};

struct TcpOptions {
  std::optional<std::uint16_t> mss;
  std::optional<std::uint8_t> window_scale;  // shift count as received (RFC 7323 §2.3 clamps to 14)
  bool sack_permitted = false;
  std::optional<TcpTimestamps> timestamps;
  std::uint8_t sack_count = 0;  // valid entries in sack
  std::array<TcpSackBlock, 4> sack{};
  bool operator==(const TcpOptions&) const = default;
};

// The parsed header. Sequence numbers and ports in host order.
struct TcpRepr {
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  std::uint32_t seq = 0;
  std::uint32_t ack = 0;
  std::uint8_t flags = 0;
  std::uint16_t window = 0;  // raw, unscaled
  std::uint16_t urgent = 0;
  TcpOptions options;

  bool has(std::uint8_t f) const { return (flags & f) != 0; }
  // Encoded header length in bytes (20 + options, padded to 4) for emit_tcp().
  std::size_t header_len() const;
  bool operator==(const TcpRepr&) const = default;
};

struct TcpParsed {
  TcpRepr repr;
  std::size_t header_len = 0;  // data offset * 4
  std::span<const std::uint8_t> payload;
};

// Parses a TCP segment (header + payload, the IP payload). Unknown options are skipped; a
// malformed option list is an error (kBadOption). The checksum is NOT checked here: see
// tcp_checksum_ok(), which needs the pseudo-header. Options are reported as received whatever
// the flags (the TCP layer ignores MSS/window scale outside a SYN and clamps the shift to 14);
// an option whose length is not its fixed length is kBadOption (Linux ignores just that option).
ParseResult<TcpParsed> parse_tcp(std::span<const std::uint8_t> segment);

// Writes the header for `repr` into out (which must hold repr.header_len() bytes) with the
// checksum field zero; returns the header length, or 0 (nothing written) when out is too small.
// Options are laid out as Linux does (MSS, SACK-permitted+timestamps, NOP+window scale; NOP NOP
// timestamps; NOP NOP SACK blocks). SACK blocks that do not fit in the 40 option bytes after
// the other options are left out, the first ones kept (as Linux trims them); header_len()
// counts only the blocks that fit.
std::size_t emit_tcp(const TcpRepr& repr, std::span<std::uint8_t> out);

// Checksum over the pseudo-header and the whole segment (header + payload).
bool tcp_checksum_ok(const IpAddr& src, const IpAddr& dst, std::span<const std::uint8_t> segment);
// Computes and stores the checksum of a complete segment in place.
void tcp_fill_checksum(const IpAddr& src, const IpAddr& dst, std::span<std::uint8_t> segment);

}  // namespace xdptcp::wire
