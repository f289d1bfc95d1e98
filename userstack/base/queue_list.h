// "0,2" -> {0, 2}: the RX queue list an operator gives an application (StackOptions::queues,
// XDPTCP_QUEUES, xdptcp-run --queues), parsed once for the library, the preload library and the
// launcher. Queue numbers below kMaxQueueNumber (steer_abi.h's XDPTCP_MAX_QUEUES), comma-separated,
// no repeats, nothing else.
#pragma once

#include <algorithm>
#include <charconv>
#include <optional>
#include <string_view>
#include <vector>

namespace xdptcp::base {

inline constexpr unsigned kMaxQueueNumber = 64;  // XDPTCP_MAX_QUEUES

inline std::optional<std::vector<unsigned>> parse_queue_list(std::string_view text) {
  std::vector<unsigned> out;
  while (!text.empty()) {
    const std::size_t comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    unsigned q = 0;
    const auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), q);
    if (item.empty() || ec != std::errc{} || end != item.data() + item.size() || q >= kMaxQueueNumber ||
        std::find(out.begin(), out.end(), q) != out.end()) {
      return std::nullopt;
    }
    out.push_back(q);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
    if (text.empty()) return std::nullopt;  // "0,"
  }
  if (out.empty()) return std::nullopt;
  return out;
}

}  // namespace xdptcp::base
