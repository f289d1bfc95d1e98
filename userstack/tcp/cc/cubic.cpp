// CUBIC (RFC 9438): see cubic.h.
#include "userstack/tcp/cc/cubic.h"

#include <algorithm>
#include <cmath>

namespace xdptcp::tcp {

namespace {

double to_seconds(Duration d) {
  return static_cast<double>(d.ns) / 1e9;
}

// §4.2 uses "the smoothed round-trip time"; before SRTT exists, the latest or minimum sample.
Duration rtt_of(const AckSample& s) {
  if (s.srtt.ns > 0) return s.srtt;
  if (s.rtt.ns > 0) return s.rtt;
  return s.min_rtt;
}

}  // namespace

void Cubic::init(std::uint32_t mss, std::uint32_t initial_cwnd, Instant now) {
  mss_ = std::max<std::uint32_t>(mss, 1);
  initial_cwnd_ = std::max(initial_cwnd, mss);
  cwnd_ = initial_cwnd_;
  ssthresh_ = cc::kMaxWindow;  // RFC 5681 §3.1: "arbitrarily high"
  w_max_ = k_ = w_est_ = cwnd_prior_ = cwnd_epoch_ = 0;
  epoch_start_ = last_ack_ = now;
  in_epoch_ = after_rto_ = rto_backed_off_ = false;
}

std::uint32_t Cubic::cwnd() const {
  return static_cast<std::uint32_t>(std::clamp(cwnd_, 0.0, static_cast<double>(cc::kMaxWindow)));
}

double Cubic::w_cubic(double t) const {
  // Eq. (1): W_cubic(t) = C * (t - K)^3 + W_max.
  const double d = t - k_;
  return kC * d * d * d + w_max_;
}

void Cubic::start_epoch(Instant now) {
  // §4.2: t_epoch is "the time at which the current congestion avoidance stage started" and
  // cwnd_epoch "the cwnd at the beginning of the current congestion avoidance stage".
  epoch_start_ = now;
  last_ack_ = now;
  in_epoch_ = true;
  cwnd_epoch_ = cwnd_segments();
  if (after_rto_ || cwnd_epoch_ >= w_max_) {
    // §4.8: "During the first congestion avoidance stage after a timeout, CUBIC increases its
    // congestion window size using Figure 1, where t is the elapsed time since the beginning of
    // the current congestion avoidance stage, K is set to 0, and W_max is set to the congestion
    // window size at the beginning of the current congestion avoidance stage."
    // §4.2: "In special cases, if cwnd_epoch is greater than W_max, K is set to 0", and §4.10
    // does the same when slow start ends without a loss (W_max undefined): the curve then
    // starts from the current window (Linux: bic_origin_point = cwnd).
    w_max_ = cwnd_epoch_;
    k_ = 0;
  } else {
    // Eq. (2): K = cubic_root((W_max - cwnd_epoch) / C).
    k_ = std::cbrt((w_max_ - cwnd_epoch_) / kC);
  }
  // §4.3: "W_est is set equal to cwnd_epoch at the start of the congestion avoidance stage."
  // (§4.8 says the same after a timeout.)
  w_est_ = cwnd_epoch_;
  after_rto_ = false;
}

void Cubic::on_ack(const AckSample& s) {
  rto_backed_off_ = false;  // new data acked: the next RTO is a new loss episode
  const std::uint32_t cw = cwnd();
  const bool in_slow_start = cw < ssthresh_;
  if (!cc::is_cwnd_limited(cw, s.bytes_in_flight, static_cast<std::uint32_t>(mss_), in_slow_start)) {
    // §5.8: "CUBIC does not increase its congestion window if a flow is application limited.
    // Per Section 4.2, it is required that t in Eq. 1 not include periods during which cwnd has
    // not been updated due to application-limited behavior": shift t_epoch over the gap.
    if (in_epoch_ && s.now > last_ack_) epoch_start_ += s.now - last_ack_;
    last_ack_ = s.now;
    return;
  }

  std::uint32_t acked = s.bytes_acked;
  if (in_slow_start) {
    // §4.10: "CUBIC MUST employ a slow-start algorithm when cwnd is no more than ssthresh";
    // RFC 5681's, with byte counting (window_growth.h).
    std::uint32_t c = cw;
    acked = cc::slow_start(c, ssthresh_, acked, static_cast<std::uint32_t>(mss_));
    cwnd_ = c;
    last_ack_ = s.now;
    if (acked == 0) return;
  }

  // Congestion avoidance.
  if (!in_epoch_) start_epoch(s.now);
  const double t = to_seconds(s.now - epoch_start_);
  const double rtt = to_seconds(rtt_of(s));
  const double cwnd_seg = std::max(cwnd_segments(), 1.0);
  const double segments_acked = acked / mss_;

  // §4.2: target = W_cubic(t + RTT), bounded to [cwnd, 1.5 * cwnd] so that "CUBIC's congestion
  // window increase rate is non-decreasing and is less than the increase rate of slow start".
  const double target = std::clamp(w_cubic(t + rtt), cwnd_seg, 1.5 * cwnd_seg);

  // §4.3 eq. (4): W_est = W_est + alpha_cubic * segments_acked / cwnd. "Once W_est has grown to
  // reach the cwnd at the time of most recently setting ssthresh -- that is, W_est >=
  // cwnd_prior -- the sender SHOULD set alpha_cubic to 1".
  const double alpha = w_est_ >= cwnd_prior_ ? 1.0 : kAlphaReno;
  w_est_ += alpha * segments_acked / cwnd_seg;

  double next;
  if (w_cubic(t) < w_est_) {
    // §4.3 Reno-friendly region: "If W_cubic(t) is less than W_est ... cwnd SHOULD be set to
    // W_est at each reception of a new ACK" (never lowering cwnd).
    next = std::max(cwnd_seg, w_est_);
  } else {
    // §4.4 concave (cwnd < W_max) and §4.5 convex (cwnd >= W_max) regions alike: "cwnd MUST be
    // incremented by (target - cwnd) / cwnd for each received ACK" (per segment acknowledged).
    next = cwnd_seg + (target - cwnd_seg) / cwnd_seg * segments_acked;
  }
  cwnd_ = std::min(next * mss_, static_cast<double>(cc::kMaxWindow));
  last_ack_ = s.now;
}

void Cubic::on_congestion_event(std::uint32_t bytes_in_flight, Instant) {
  const double cwnd_seg = cwnd_segments();
  w_max_prior_ = w_max_;
  // §4.7 fast convergence, before the reduction: "if cwnd < W_max and fast convergence is
  // enabled, further reduce W_max: W_max = cwnd * (1 + beta_cubic) / 2; otherwise, remember
  // cwnd before reduction: W_max = cwnd".
  w_max_ = (fast_convergence_ && cwnd_seg < w_max_) ? cwnd_seg * (1.0 + kBeta) / 2.0 : cwnd_seg;
  // §4.6: ssthresh = flight_size * beta_cubic; cwnd_prior = cwnd; on loss cwnd = max(ssthresh, 2);
  // ssthresh = max(ssthresh, 2) (the 2s are segments).
  cwnd_prior_ = cwnd_seg;
  const double reduced = std::max(bytes_in_flight * kBeta, 2.0 * mss_);
  ssthresh_ = static_cast<std::uint32_t>(reduced);
  cwnd_ = ssthresh_;
  in_epoch_ = false;  // a new congestion avoidance stage starts after recovery
}

void Cubic::on_recovery_exit(Instant) {
  // The reduced window of §4.6 takes effect when fast recovery (RFC 6675 / RFC 6582) ends; the
  // new epoch, and with it t, starts with the first congestion avoidance ACK.
  cwnd_ = ssthresh_;
  in_epoch_ = false;
}

void Cubic::on_rto(std::uint32_t bytes_in_flight, Instant) {
  // §4.8: "In the case of a timeout, CUBIC follows Reno to reduce cwnd [RFC5681] but sets
  // ssthresh using beta_cubic (same as in Section 4.6)". As for Reno (RFC 5681 §3.1), only the
  // first timeout of a segment lowers ssthresh.
  if (!rto_backed_off_) {
    w_max_prior_ = w_max_;
    cwnd_prior_ = cwnd_segments();
    ssthresh_ = static_cast<std::uint32_t>(std::max(bytes_in_flight * kBeta, 2.0 * mss_));
  }
  cwnd_ = mss_;  // RFC 5681 §3.1: loss window LW = 1 full-sized segment
  in_epoch_ = false;
  after_rto_ = true;
  rto_backed_off_ = true;
}

void Cubic::on_idle_restart(Instant) {
  // RFC 5681 §4.1 restart window, RW = min(IW, cwnd), with ssthresh = max(ssthresh, 3/4 cwnd)
  // as in Linux (tcp_cwnd_restart, RFC 2861 §3). W_max is kept: the next epoch's curve heads
  // back to it. The epoch ends: idle time must not count in t (§5.8).
  const std::uint32_t cw = cwnd();
  ssthresh_ = std::max(ssthresh_, cw / 4 * 3);
  cwnd_ = std::min(initial_cwnd_, cw);
  in_epoch_ = false;
}

void Cubic::undo(std::uint32_t prior_cwnd, std::uint32_t prior_ssthresh) {
  // RFC 9438 §4.9: after a spurious congestion event, restore the state from before it: cwnd,
  // ssthresh and W_max (Linux: max(cwnd, prior_cwnd), tcp_undo_cwnd_reduction()); the next
  // congestion avoidance ACK starts a new epoch from there.
  cwnd_ = std::max<double>(cwnd_, prior_cwnd);
  ssthresh_ = std::max(ssthresh_, prior_ssthresh);
  w_max_ = std::max(w_max_, w_max_prior_);
  in_epoch_ = false;
  after_rto_ = false;
  rto_backed_off_ = false;
}

}  // namespace xdptcp::tcp
