// NewReno congestion control: RFC 5681 slow start and congestion avoidance with Appropriate
// Byte Counting (RFC 3465, L = 2 SMSS), the RFC 5681 eq. (4) reduction on loss, the loss window
// on RTO, and restart after idle (§4.1). The fast-recovery inflation of RFC 6582 §3.2 is the
// connection's (see fast_recovery.h); this class owns cwnd and ssthresh only.
#pragma once

#include <cstdint>

#include "userstack/tcp/cc/congestion_control.h"
#include "userstack/tcp/cc/window_growth.h"

namespace xdptcp::tcp {

class NewReno final : public CongestionControl {
 public:
  CcAlgorithm algorithm() const override { return CcAlgorithm::kNewReno; }
  void init(std::uint32_t mss, std::uint32_t initial_cwnd, Instant now) override;
  void on_ack(const AckSample& s) override;
  void on_congestion_event(std::uint32_t bytes_in_flight, Instant now) override;
  void on_recovery_exit(Instant now) override;
  void on_rto(std::uint32_t bytes_in_flight, Instant now) override;
  void on_idle_restart(Instant now) override;

  std::uint32_t cwnd() const override { return cwnd_; }
  std::uint32_t ssthresh() const override { return ssthresh_; }
  void set_cwnd(std::uint32_t cwnd) override { cwnd_ = cwnd; }
  void undo(std::uint32_t prior_cwnd, std::uint32_t prior_ssthresh) override;

 private:
  std::uint32_t mss_ = 1460;
  std::uint32_t initial_cwnd_ = 4380;
  std::uint32_t cwnd_ = 4380;
  std::uint32_t ssthresh_ = cc::kMaxWindow;
  std::uint32_t ca_bytes_acked_ = 0;  // RFC 3465 §2.1 bytes_acked, congestion avoidance only
  bool rto_backed_off_ = false;       // an RTO happened and no new data was acked since
};

}  // namespace xdptcp::tcp
