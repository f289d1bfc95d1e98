// The congestion-control interface: one instance per connection, chosen per socket
// (TCP_CONGESTION). Algorithms: NewReno (RFC 5681 + RFC 6582) in newreno.{h,cpp},
// CUBIC (RFC 9438) in cubic.{h,cpp}. Loss detection and recovery bookkeeping (dupacks,
// SACK scoreboard, recovery point) live in the connection; this only decides cwnd/ssthresh.
//
// All sizes are bytes. Instances are placement-constructed into CcStorage inside the TCB, so
// choosing an algorithm allocates nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <string_view>

#include "userstack/time/clock.h"

namespace xdptcp::tcp {

enum class CcAlgorithm : std::uint8_t { kNewReno, kCubic };

// "reno"/"newreno" -> kNewReno, "cubic" -> kCubic (names as Linux's TCP_CONGESTION).
bool parse_cc_algorithm(std::string_view name, CcAlgorithm& out);
std::string_view cc_algorithm_name(CcAlgorithm a);

struct AckSample {
  std::uint32_t bytes_acked = 0;      // newly cumulatively acked bytes (and SACKed, where counted)
  std::uint32_t bytes_in_flight = 0;  // before this ACK (RFC 6675 pipe, or snd_nxt - snd_una)
  Duration rtt{};                     // latest RTT sample, zero when none (Karn's rule)
  Duration min_rtt{};                 // minimum RTT seen, zero when none
  Duration srtt{};                    // RFC 6298 SRTT, zero when none (CUBIC's RTT, RFC 9438 §4.2)
  Instant now{};
};

// Algorithms grow cwnd only when the flow is cwnd-limited (RFC 9438 §5.8, RFC 7661): in
// congestion avoidance when bytes_in_flight + SMSS > cwnd, in slow start when
// 2 * bytes_in_flight > cwnd (Linux's tcp_is_cwnd_limited). So bytes_in_flight must be filled.

class CongestionControl {
 public:
  virtual ~CongestionControl() = default;

  virtual CcAlgorithm algorithm() const = 0;
  // RFC 5681 §3.1 / RFC 6928: IW = min(10*MSS, max(2*MSS, 14600)) is the connection's choice;
  // init is called once the MSS is known (after the handshake).
  virtual void init(std::uint32_t mss, std::uint32_t initial_cwnd, Instant now) = 0;
  // An ACK advanced snd_una outside loss recovery (slow start / congestion avoidance).
  virtual void on_ack(const AckSample& s) = 0;
  // Loss detected by duplicate ACKs or SACK (entering fast recovery): set ssthresh and cwnd.
  // RFC 5681 §3.2 step 2 / RFC 9438 §4.6.
  virtual void on_congestion_event(std::uint32_t bytes_in_flight, Instant now) = 0;
  // Recovery ended (snd_una passed the recovery point), RFC 6582 §3.2 step 3 / RFC 9438 §4.6.
  virtual void on_recovery_exit(Instant now) = 0;
  // Retransmission timeout: RFC 5681 §3.1 eq. 4, cwnd = 1 MSS (loss window).
  virtual void on_rto(std::uint32_t bytes_in_flight, Instant now) = 0;
  // RFC 5681 §4.1: restart after idle longer than an RTO.
  virtual void on_idle_restart(Instant now) = 0;

  virtual std::uint32_t cwnd() const = 0;
  virtual std::uint32_t ssthresh() const = 0;
  // Inflates cwnd during fast recovery (NewReno's artificial inflation) or sets it; the
  // connection calls this per RFC 6582 §3.2 steps 3-4. Algorithms accept it as given.
  virtual void set_cwnd(std::uint32_t cwnd) = 0;
  // A congestion event proved spurious (D-SACK, RFC 2883 §5, or Eifel detection, RFC 3522):
  // restore the window from before it, as Linux's tcp_undo_cwnd_reduction(): cwnd =
  // max(cwnd, prior_cwnd), ssthresh = max(ssthresh, prior_ssthresh) (RFC 4015 §3.2 restores
  // both), and forget the RTO state (the timeout did not happen as far as cwnd goes).
  virtual void undo(std::uint32_t prior_cwnd, std::uint32_t prior_ssthresh) = 0;
};

// Storage large enough for any algorithm, so the TCB holds its controller inline.
struct alignas(std::max_align_t) CcStorage {
  unsigned char bytes[192];
};

// Constructs the algorithm into `storage` (destroying nothing: call destroy_cc first when
// replacing) and returns it.
CongestionControl* make_cc(CcAlgorithm a, CcStorage& storage);
void destroy_cc(CongestionControl* cc);

}  // namespace xdptcp::tcp
