// RTT estimation and RTO computation, RFC 6298 §2 and §5: see rtt_estimator.h.
// The RFC's constants: alpha = 1/8, beta = 1/4, K = 4 (§2). Arithmetic is in nanoseconds with
// integer division, so the rounding error is below a nanosecond per step.
#include "userstack/tcp/rtt_estimator.h"

#include <algorithm>

namespace xdptcp::tcp {

namespace {

constexpr std::int64_t kK = 4;  // RFC 6298 §2: K = 4

}  // namespace

RttEstimator::RttEstimator(const RtoConfig& cfg) : cfg_(cfg) {
  // (2.1) "Until a round-trip time (RTT) measurement has been made for a segment sent between
  // the sender and receiver, the sender SHOULD set RTO <- 1 second".
  rto_ = std::min(cfg_.initial, cfg_.max);
}

void RttEstimator::sample(Duration r) {
  if (r.ns < 0) return;  // a clock that went backwards measures nothing
  if (!has_sample_) {
    // (2.2) "When the first RTT measurement R is made, the host MUST set
    //   SRTT <- R
    //   RTTVAR <- R/2
    //   RTO <- SRTT + max (G, K*RTTVAR)"
    srtt_ = r;
    rttvar_ = r / 2;
    has_sample_ = true;
  } else {
    // (2.3) "When a subsequent RTT measurement R' is made, a host MUST set
    //   RTTVAR <- (1 - beta) * RTTVAR + beta * |SRTT - R'|
    //   SRTT <- (1 - alpha) * SRTT + alpha * R'
    // The value of SRTT used in the update to RTTVAR is its value before updating SRTT itself
    // using the second assignment." With alpha = 1/8 and beta = 1/4.
    const Duration diff = srtt_ > r ? srtt_ - r : r - srtt_;
    rttvar_ = (rttvar_ * 3 + diff) / 4;
    srtt_ = (srtt_ * 7 + r) / 8;
  }
  min_rtt_ = has_min_rtt_ ? std::min(min_rtt_, r) : r;
  has_min_rtt_ = true;
  // (2.2)/(2.3) "After the computation, a host MUST update RTO <- SRTT + max (G, K*RTTVAR)".
  Duration rto = srtt_ + std::max(cfg_.granularity, rttvar_ * kK);
  // (2.4) "Whenever RTO is computed, if it is less than 1 second, then the RTO SHOULD be rounded
  // up to 1 second" (our minimum is configurable, 200 ms by default as Linux).
  // (2.5) "A maximum value MAY be placed on RTO provided it is at least 60 seconds."
  rto_ = std::clamp(rto, cfg_.min, cfg_.max);
  // A fresh measurement replaces a backed-off RTO: §5 "the RTO is recomputed" after (5.7).
  backoffs_ = 0;
}

void RttEstimator::backoff() {
  // (5.5) "The host MUST set RTO <- RTO * 2 ("back off the timer"). The maximum value discussed
  // in (2.5) above may be used to provide an upper bound to this doubling operation."
  // The count keeps growing past the cap so that the caller can give up after N retries.
  ++backoffs_;
}

void RttEstimator::reset_backoff() {
  backoffs_ = 0;
}

Duration RttEstimator::rto() const {
  Duration r = rto_;
  // At most ~40 doublings reach any cap from 1 ns, so the loop is short and cannot overflow.
  for (unsigned i = 0; i < backoffs_ && r < cfg_.max; ++i) r = r * 2;
  return std::min(r, cfg_.max);
}

void RttEstimator::restore_after_syn_timeout() {
  // (5.7) "If the timer expires awaiting the ACK of a SYN segment and the TCP implementation is
  // using an RTO less than 3 seconds, the RTO MUST be re-initialized to 3 seconds when data
  // transmission begins (i.e., after the three-way handshake completes)."
  backoffs_ = 0;
  if (has_sample_) return;
  rto_ = std::min(std::max(rto_, kSynTimeoutRto), cfg_.max);
}

void RttEstimator::clear_estimates() {
  srtt_ = Duration{};
  rttvar_ = Duration{};
  has_sample_ = false;
}

}  // namespace xdptcp::tcp
