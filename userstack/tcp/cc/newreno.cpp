// NewReno (RFC 5681, RFC 3465, RFC 6582): see newreno.h.
#include "userstack/tcp/cc/newreno.h"

#include <algorithm>

namespace xdptcp::tcp {

void NewReno::init(std::uint32_t mss, std::uint32_t initial_cwnd, Instant) {
  mss_ = std::max<std::uint32_t>(mss, 1);
  initial_cwnd_ = std::max(initial_cwnd, mss_);
  cwnd_ = initial_cwnd_;
  ssthresh_ = cc::kMaxWindow;  // RFC 5681 §3.1: "arbitrarily high"
  ca_bytes_acked_ = 0;
  rto_backed_off_ = false;
}

void NewReno::on_ack(const AckSample& s) {
  rto_backed_off_ = false;  // new data acked: the next RTO is a new loss episode
  const bool in_slow_start = cwnd_ < ssthresh_;
  if (!cc::is_cwnd_limited(cwnd_, s.bytes_in_flight, mss_, in_slow_start)) return;

  std::uint32_t acked = s.bytes_acked;
  if (in_slow_start) {
    // RFC 5681 §3.1: "The slow start algorithm is used when cwnd < ssthresh".
    acked = cc::slow_start(cwnd_, ssthresh_, acked, mss_);
    if (acked == 0) return;
  }
  // Congestion avoidance, RFC 3465 §2.1 (and RFC 5681 §3.1's byte-counting variant): "When
  // bytes_acked becomes greater than or equal to the value of the congestion window, bytes_acked
  // is reduced by the value of cwnd. Next, cwnd is incremented by a full-sized segment (SMSS)."
  // That is one SMSS per RTT, whatever the ACK pattern.
  ca_bytes_acked_ += acked;
  if (ca_bytes_acked_ >= cwnd_) {
    ca_bytes_acked_ -= cwnd_;
    cwnd_ = std::min(cwnd_ + mss_, cc::kMaxWindow);
  }
}

void NewReno::on_congestion_event(std::uint32_t bytes_in_flight, Instant) {
  // RFC 5681 §3.2 step 2 / RFC 6582 §3.2 step 2, eq. (4): ssthresh = max(FlightSize / 2, 2*SMSS).
  ssthresh_ = std::max(bytes_in_flight / 2, 2 * mss_);
  // The connection inflates to ssthresh + 3*SMSS (RFC 6582 §3.2 step 3) with set_cwnd, or uses
  // pipe with cwnd = ssthresh (RFC 6675 §5 step 4.2); the base value is ssthresh either way.
  cwnd_ = ssthresh_;
  ca_bytes_acked_ = 0;  // RFC 3465 §2.1: bytes_acked restarts after a reduction
}

void NewReno::on_recovery_exit(Instant) {
  // RFC 6582 §3.2 step 6 option (2): "Set cwnd to ssthresh" ("deflating" the window). Option (1)
  // needs FlightSize; the connection may apply cc::recovery_full_ack_cwnd() with set_cwnd.
  cwnd_ = ssthresh_;
  ca_bytes_acked_ = 0;
}

void NewReno::on_rto(std::uint32_t bytes_in_flight, Instant) {
  // RFC 5681 §3.1: "When a TCP sender detects segment loss using the retransmission timer and
  // the given segment has not yet been resent by way of the retransmission timer, the value of
  // ssthresh MUST be set to no more than the value given in equation (4)". A repeated RTO for
  // the same data (no ACK in between) leaves ssthresh alone, or FlightSize, now one segment,
  // would drive it to 2*SMSS.
  if (!rto_backed_off_) ssthresh_ = std::max(bytes_in_flight / 2, 2 * mss_);
  // "Furthermore, upon a timeout (as specified in [RFC2988]) cwnd MUST be set to no more than
  // the loss window, LW, which equals 1 full-sized segment".
  cwnd_ = mss_;
  ca_bytes_acked_ = 0;
  rto_backed_off_ = true;
}

void NewReno::on_idle_restart(Instant) {
  // Like Linux (tcp_cwnd_restart, after RFC 2861 §3), remember where the window was so that slow
  // start returns there: ssthresh = max(ssthresh, 3/4 cwnd).
  ssthresh_ = std::max(ssthresh_, cwnd_ / 4 * 3);
  // RFC 5681 §4.1: "if the TCP has not sent data in an interval exceeding the retransmission
  // timeout, cwnd is reduced to no more than RW before beginning transmission", RW = min(IW, cwnd).
  cwnd_ = std::min(initial_cwnd_, cwnd_);
  ca_bytes_acked_ = 0;
}

void NewReno::undo(std::uint32_t prior_cwnd, std::uint32_t prior_ssthresh) {
  // RFC 4015 §3.2 / Linux tcp_undo_cwnd_reduction(): the window from before the spurious event.
  cwnd_ = std::max(cwnd_, prior_cwnd);
  ssthresh_ = std::max(ssthresh_, prior_ssthresh);
  ca_bytes_acked_ = 0;
  rto_backed_off_ = false;
}

}  // namespace xdptcp::tcp
