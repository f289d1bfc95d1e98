// The benchmark's workloads and their wire protocol (binary, no framing beyond fixed sizes):
//   short   - connect, send a `size`-byte request, read the `size`-byte reply, close (client first);
//   rr      - the same request/reply, repeated on persistent connections;
//   latency - rr on one connection (ping-pong), reported as latency percentiles;
//   bulk    - the client writes without pause; the server sinks the bytes (the server receives);
//   bulk-reverse - the server writes without pause (64 KiB writes); the client sinks (the server sends).
// The server echoes for short, rr and latency, so a reply is exactly as long as its request.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

namespace xdptcp::bench {

enum class Workload { kShort, kRr, kBulk, kLatency, kBulkReverse };

inline const char* workload_name(Workload w) {
  switch (w) {
    case Workload::kShort:
      return "short";
    case Workload::kRr:
      return "rr";
    case Workload::kBulk:
      return "bulk";
    case Workload::kLatency:
      return "latency";
    case Workload::kBulkReverse:
      return "bulk-reverse";
  }
  return "?";
}

inline std::optional<Workload> parse_workload(const std::string& s) {
  if (s == "short") return Workload::kShort;
  if (s == "rr") return Workload::kRr;
  if (s == "bulk") return Workload::kBulk;
  if (s == "latency") return Workload::kLatency;
  if (s == "bulk-reverse") return Workload::kBulkReverse;
  return std::nullopt;
}

// Both bulk directions: throughput in bytes, CPU cost per megabyte.
inline bool is_bulk(Workload w) {
  return w == Workload::kBulk || w == Workload::kBulkReverse;
}

// Default message size: 64-byte requests (issue 5); bulk writes in 64 KiB chunks.
inline std::size_t default_size(Workload w) {
  return is_bulk(w) ? 64 * 1024 : 64;
}

// The largest message a client sends in one request (its static buffer).
inline constexpr std::size_t kMaxMessage = 1 << 20;

}  // namespace xdptcp::bench
