// The cwnd arithmetic of NewReno fast recovery, RFC 6582 §3.2 steps 3-6, for the connection,
// which owns the recovery state (dupacks, recover) and applies the results with set_cwnd().
// With SACK (RFC 6675 §5) the connection uses pipe instead and needs none of this.
#pragma once

#include <algorithm>
#include <cstdint>

namespace xdptcp::tcp::cc {

// Step 3: after on_congestion_event() set ssthresh, "set cwnd to ssthresh plus 3*SMSS. This
// artificially 'inflates' the congestion window by the number of segments (three) that have
// left the network and the receiver has buffered."
constexpr std::uint32_t recovery_entry_cwnd(std::uint32_t ssthresh, std::uint32_t smss) {
  return ssthresh + 3 * smss;
}

// Step 4: "For each additional duplicate ACK received (after the third), increment cwnd by SMSS."
constexpr std::uint32_t recovery_dupack_cwnd(std::uint32_t cwnd, std::uint32_t smss) {
  return cwnd + smss;
}

// Step 5, partial ACK: "deflate the congestion window by the amount of new data acknowledged by
// the Cumulative Acknowledgment field. If the partial ACK acknowledges at least one SMSS of new
// data, then add back SMSS bytes to the congestion window." Never below one SMSS.
constexpr std::uint32_t recovery_partial_ack_cwnd(std::uint32_t cwnd, std::uint32_t bytes_acked,
                                                  std::uint32_t smss) {
  std::uint32_t c = cwnd > bytes_acked ? cwnd - bytes_acked : 0;
  if (bytes_acked >= smss) c += smss;
  return std::max(c, smss);
}

// Step 6, full ACK, option (1): "Set cwnd to min (ssthresh, max(FlightSize, SMSS) + SMSS)", which
// avoids the burst that option (2) (cwnd = ssthresh, what on_recovery_exit() does) can cause when
// little data is outstanding. flight_size is the amount outstanding after the full ACK.
constexpr std::uint32_t recovery_full_ack_cwnd(std::uint32_t ssthresh, std::uint32_t flight_size,
                                               std::uint32_t smss) {
  return std::min(ssthresh, std::max(flight_size, smss) + smss);
}

}  // namespace xdptcp::tcp::cc
