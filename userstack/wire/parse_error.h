// Why a frame could not be parsed. Every parser returns one of these instead of reading past
// the end of its buffer; the engine counts each kind (they are drop reasons).
#pragma once

#include <cstdint>
#include <string_view>
#include <variant>

namespace xdptcp::wire {

enum class ParseError : std::uint8_t {
  kTruncated,        // shorter than its header claims or than the minimum header
  kBadVersion,       // IP version field does not match
  kBadHeaderLength,  // IHL < 5, TCP data offset < 5, or beyond the buffer
  kBadTotalLength,   // IP total/payload length disagrees with the frame
  kFragment,         // IPv4 fragment (MF set or offset != 0) or IPv6 fragment header: not handled
  kBadOption,        // malformed TCP option list
  kBadChecksum,
  kUnsupported,  // a protocol or extension header we do not handle
  kNotTcp,
};

std::string_view to_string(ParseError e);

// A value or a parse error, without exceptions (std::expected is C++23).
template <typename T>
class ParseResult {
 public:
  ParseResult(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  ParseResult(ParseError error) : v_(error) {}    // NOLINT(google-explicit-constructor)
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  const T& value() const { return std::get<0>(v_); }
  T& value() { return std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  const T& operator*() const { return std::get<0>(v_); }
  ParseError error() const { return std::get<1>(v_); }

 private:
  std::variant<T, ParseError> v_;
};

}  // namespace xdptcp::wire
