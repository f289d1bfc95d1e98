// Round-trip time estimation and the retransmission timeout, RFC 6298.
// Karn's rule (§3) is the caller's: it passes samples only for segments not retransmitted
// (or from timestamps, RFC 7323 §4.1, which are unambiguous).
#pragma once

#include <cstdint>

#include "userstack/time/clock.h"

namespace xdptcp::tcp {

inline constexpr Duration kSynTimeoutRto = Duration::seconds(3);  // RFC 6298 (5.7)

struct RtoConfig {
  Duration initial = Duration::seconds(1);     // RFC 6298 (2.1)
  Duration min = Duration::millis(200);        // RFC 6298 (2.4) says 1 s; Linux uses 200 ms
  Duration max = Duration::seconds(120);       // RFC 6298 (2.5) allows a maximum of at least 60 s
  Duration granularity = Duration::millis(1);  // G in (2.2)/(2.3)
};

class RttEstimator {
 public:
  explicit RttEstimator(const RtoConfig& cfg = {});

  // A new measurement R: (2.2) for the first, (2.3) after, then RTO = SRTT + max(G, 4*RTTVAR),
  // clamped to [min, max]. Resets the backoff.
  void sample(Duration rtt);
  // (5.5): the timer expired; double the RTO (up to max).
  void backoff();
  // Undo the backoff when new data is acknowledged (RFC 6298 (5.7) note; Linux behaviour).
  void reset_backoff();
  // (5.7): the SYN (or SYN-ACK) timed out and the handshake has now completed: the RTO becomes
  // at least 3 s until the first measurement. Only without a sample (a timestamp may have
  // given one, RFC 7323 §4.1, which is better than the fallback; Linux does the same).
  void restore_after_syn_timeout();
  // §5 note: "a TCP implementation MAY clear SRTT and RTTVAR after backing off the timer
  // multiple times"; the next sample then initialises them per (2.2). RTO, its backoff and
  // min_rtt stay.
  void clear_estimates();

  Duration rto() const;  // current RTO including backoff
  Duration srtt() const { return srtt_; }
  Duration rttvar() const { return rttvar_; }
  Duration min_rtt() const { return min_rtt_; }
  bool has_sample() const { return has_sample_; }
  unsigned backoff_count() const { return backoffs_; }

 private:
  RtoConfig cfg_;
  Duration srtt_{};
  Duration rttvar_{};
  Duration rto_{};
  Duration min_rtt_{};
  bool has_sample_ = false;
  bool has_min_rtt_ = false;  // survives clear_estimates()
  unsigned backoffs_ = 0;
};

}  // namespace xdptcp::tcp
