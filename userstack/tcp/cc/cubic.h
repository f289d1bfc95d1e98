// CUBIC congestion control, RFC 9438: the cubic window curve W_cubic(t) = C*(t-K)^3 + W_max
// (§4.2) in its concave and convex regions (§4.4, §4.5), the Reno-friendly estimate W_est
// (§4.3), multiplicative decrease by beta_cubic = 0.7 (§4.6), fast convergence (§4.7), timeout
// (§4.8) and application-limited periods (§5.8). Slow start is RFC 5681's with Appropriate Byte
// Counting (§4.10 allows it); HyStart++ (RFC 9406) is NOT implemented. Spurious congestion event
// undo (§4.9) restores cwnd, ssthresh and W_max from before the event (CongestionControl::undo).
//
// Window quantities of the RFC are in segments and time in seconds; they are kept as double
// (exact for integer byte counts) and converted from the byte-valued cwnd at each use.
#pragma once

#include <cstdint>

#include "userstack/tcp/cc/congestion_control.h"
#include "userstack/tcp/cc/window_growth.h"

namespace xdptcp::tcp {

class Cubic final : public CongestionControl {
 public:
  static constexpr double kC = 0.4;     // RFC 9438 §4.1.1: C SHOULD be set to 0.4
  static constexpr double kBeta = 0.7;  // §4.1.1: beta_cubic SHOULD be set to 0.7
  static constexpr double kAlphaReno = 3.0 * (1.0 - kBeta) / (1.0 + kBeta);  // §4.3 alpha_cubic

  CcAlgorithm algorithm() const override { return CcAlgorithm::kCubic; }
  void init(std::uint32_t mss, std::uint32_t initial_cwnd, Instant now) override;
  void on_ack(const AckSample& s) override;
  void on_congestion_event(std::uint32_t bytes_in_flight, Instant now) override;
  void on_recovery_exit(Instant now) override;
  void on_rto(std::uint32_t bytes_in_flight, Instant now) override;
  void on_idle_restart(Instant now) override;

  std::uint32_t cwnd() const override;
  std::uint32_t ssthresh() const override { return ssthresh_; }
  void set_cwnd(std::uint32_t cwnd) override { cwnd_ = cwnd; }
  void undo(std::uint32_t prior_cwnd, std::uint32_t prior_ssthresh) override;

  // §4.7: fast convergence SHOULD be on, but "SHOULD be disabled" for a single flow alone on
  // its path. On by default, as in Linux.
  void set_fast_convergence(bool on) { fast_convergence_ = on; }

  // Introspection for tests and statistics (segments / seconds, as in the RFC).
  double w_max() const { return w_max_; }
  double k() const { return k_; }
  double w_est() const { return w_est_; }
  double cwnd_epoch() const { return cwnd_epoch_; }
  bool in_epoch() const { return in_epoch_; }
  // Eq. (1): W_cubic(t) in segments for t seconds after the start of this epoch.
  double w_cubic(double t) const;

 private:
  void start_epoch(Instant now);
  double cwnd_segments() const { return cwnd_ / mss_; }

  double mss_ = 1460;
  double cwnd_ = 4380;  // bytes, fractional between ACKs
  std::uint32_t initial_cwnd_ = 4380;
  std::uint32_t ssthresh_ = cc::kMaxWindow;
  double w_max_ = 0;       // segments, 0 until the first congestion event
  double k_ = 0;           // seconds, eq. (2)
  double w_est_ = 0;       // segments, §4.3
  double cwnd_prior_ = 0;  // segments, cwnd when ssthresh was last set (§4.3, §4.6)
  double cwnd_epoch_ = 0;  // segments, cwnd at the start of this congestion avoidance stage
  Instant epoch_start_{};  // t_epoch, shifted forward over application-limited periods (§5.8)
  Instant last_ack_{};
  double w_max_prior_ = 0;  // W_max before the last congestion event or RTO (§4.9 undo)
  bool in_epoch_ = false;
  bool after_rto_ = false;       // §4.8: the next epoch starts with K = 0, W_max = cwnd_epoch
  bool rto_backed_off_ = false;  // an RTO happened and no new data was acked since
  bool fast_convergence_ = true;
};

}  // namespace xdptcp::tcp
