// Per-stack TCP counters (one TcpStack per engine; summed across engines only when read, design
// brief §5). Every dropped segment is counted under exactly one named reason, after VPP's
// tcp_error.def and Linux's skb drop reasons: no strings on the hot path, tests assert on these.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace xdptcp::tcp {

enum class DropReason : std::uint8_t {
  kMalformed,       // IP or TCP header did not parse
  kBadChecksum,     // TCP checksum wrong
  kNotOurs,         // destination address not one of ours, or not TCP
  kBadOptions,      // malformed TCP option list
  kOutOfWindow,     // failed the RFC 9293 §3.10.7.4 acceptability test (an ACK was sent)
  kPawsReject,      // RFC 7323 §5.3 PAWS: old timestamp
  kBacklogFull,     // listener's accept queue full (Linux drops the SYN / final ACK)
  kSynBacklogFull,  // SYN-RECEIVED table full and SYN cookies off
  kReassemblyFull,  // out-of-order range could not be recorded (Assembler bound)
  kNoSocket,        // no connection or listener: answered with RST (RFC 9293 §3.10.7.1)
  kRstNoSocket,     // a RST for no socket: dropped silently (never RST a RST)
  kBadAck,          // ACK outside RFC 5961 §5.2's acceptable range (challenge ACK sent)
  kRstOutOfWindow,  // RST with sequence outside the window (RFC 5961 §3.2)
  kRstChallenged,   // RST in window but not exact: challenge ACK sent (RFC 5961 §3.2)
  kSynChallenged,   // SYN in a synchronized state: challenge ACK sent (RFC 5961 §4)
  kNoAck,           // segment without ACK in a synchronized state (RFC 9293 fifth check)
  kBadCookie,       // ACK to a listener that was not a valid SYN cookie
  kNoTcb,           // TCB pool exhausted (stack-wide bound on connections)
  kStateDrop,       // not meaningful in the connection's state (e.g. data after FIN)
  // Flags no valid segment has in its state (Linux SKB_DROP_REASON_TCP_FLAGS): at a listener a
  // SYN with FIN, or a segment with none of SYN, ACK and RST (Linux tcp_rcv_state_process()).
  kBadFlags,
  // No connection here, on a port that other processes also serve from other RX queues
  // (StackConfig::siblings): the segment may be one of theirs that the NIC moved to our queue (RSS
  // rehash after the peer's RTO), so it is dropped and counted, never answered with RST.
  kSiblingFlow,
  // The engine known to own the flow could not take the segment: its hand-off ring was full
  // (FlowMissHandler). TCP retransmits it, as after a full NIC ring.
  kHandoffRingFull,
  // The stack's buffer memory is above its high mark (StackConfig::mem_budget, 7/8): a new
  // connection (SYN, or the ACK of a SYN cookie) is refused, as Linux refuses under tcp_mem.
  kMemRefused,
  // Data in the window that found no buffer memory (the budget is handed out): dropped as if
  // outside the window and ACKed; the peer retransmits it.
  kMemFull,
  kCount
};

constexpr std::string_view to_string(DropReason r) {
  constexpr std::array<std::string_view, static_cast<std::size_t>(DropReason::kCount)> kNames = {
      "malformed",         "bad_checksum",
      "not_ours",          "bad_options",
      "out_of_window",     "paws_reject",
      "backlog_full",      "syn_backlog_full",
      "reassembly_full",   "no_socket",
      "rst_no_socket",     "bad_ack",
      "rst_out_of_window", "rst_challenged",
      "syn_challenged",    "no_ack",
      "bad_cookie",        "no_tcb",
      "state_drop",        "bad_flags",
      "sibling_flow",      "handoff_ring_full",
      "mem_refused",       "mem_full"};
  return kNames[static_cast<std::size_t>(r)];
}

struct TcpStats {
  // Segments
  std::uint64_t segments_in = 0;     // every TCP segment given to input()
  std::uint64_t segments_out = 0;    // every segment committed to the sink
  std::uint64_t data_bytes_in = 0;   // in-order payload delivered to receive buffers
  std::uint64_t data_bytes_out = 0;  // payload sent (retransmissions included)
  std::array<std::uint64_t, static_cast<std::size_t>(DropReason::kCount)> drops{};

  // Retransmission and recovery
  std::uint64_t retransmits = 0;             // segments sent again (any cause)
  std::uint64_t fast_retransmits = 0;        // entering fast recovery (RFC 5681 §3.2 / RFC 6675 §5)
  std::uint64_t sack_recoveries = 0;         // of which SACK-based (RFC 6675)
  std::uint64_t rtos = 0;                    // retransmission timer expirations (RFC 6298 §5)
  std::uint64_t tlp_probes = 0;              // tail loss probes sent (RFC 8985 §7.3)
  std::uint64_t tlp_recoveries = 0;          // losses a probe repaired (RFC 8985 §7.4.2)
  std::uint64_t rack_reo_timeouts = 0;       // RACK reordering timer expirations (RFC 8985 §6.3)
  std::uint64_t rescue_retransmits = 0;      // RFC 6675 §4 NextSeg rule (4)
  std::uint64_t dsacks_out = 0;              // ACKs sent with a D-SACK block (RFC 2883)
  std::uint64_t dsacks_in = 0;               // D-SACK blocks received
  std::uint64_t spurious_undos = 0;          // congestion events undone (RFC 2883 §5, RFC 3522)
  std::uint64_t persist_probes = 0;          // zero-window probes (RFC 9293 §3.8.6.1)
  std::uint64_t keepalive_probes = 0;        // RFC 1122 §4.2.3.6
  std::uint64_t delayed_acks = 0;            // ACKs sent by the delayed-ACK timer
  std::uint64_t challenge_acks = 0;          // RFC 5961 challenge ACKs sent
  std::uint64_t challenge_acks_limited = 0;  // suppressed by the RFC 5961 §7 rate limits
  // of which by the per-connection interval (Linux TCPACKSkippedChallenge); the rest by the
  // stack's per-second budget
  std::uint64_t challenge_acks_socket_limited = 0;
  std::uint64_t rsts_out = 0;  // RSTs sent (any cause)
  std::uint64_t rsts_in = 0;   // acceptable RSTs that reset a connection

  // SYN cookies (RFC 4987 §3.6)
  std::uint64_t cookies_sent = 0;
  std::uint64_t cookies_accepted = 0;

  // Connections
  std::uint64_t conns_opened = 0;        // active opens that reached ESTABLISHED
  std::uint64_t conns_accepted = 0;      // passive opens that reached ESTABLISHED
  std::uint64_t conns_reset = 0;         // ended by a RST we received or sent
  std::uint64_t conns_timed_out = 0;     // ended with ETIMEDOUT (RTO, SYN or keepalive retries)
  std::uint64_t conns_refused = 0;       // active opens answered with RST (ECONNREFUSED)
  std::uint64_t time_wait_recycled = 0;  // oldest TIME-WAIT ended early: TCB pool at its bound
  std::uint64_t time_wait_reused = 0;    // TIME-WAIT taken over by a new SYN (RFC 6191)
  // Active opens whose PortFilter accepted no free port within its bound: the first free port
  // was taken instead (replies may reach another engine, which hands them over).
  std::uint64_t port_filter_fallbacks = 0;

  // Resources
  std::uint64_t tx_buffer_unavailable = 0;  // the sink had no buffer (TX ring full): retried later
  // Segments larger than the MTU or the sink's buffer: not sent (a link would drop them), the
  // RTO retransmits. Nonzero only with a sink whose buffers hold less than StackConfig::mtu.
  std::uint64_t tx_oversize = 0;
  // Connections opened with small buffers because buffer memory was above its low mark.
  std::uint64_t mem_pressure_clamped = 0;

  std::uint64_t drop(DropReason r) const { return drops[static_cast<std::size_t>(r)]; }
  std::uint64_t total_drops() const {
    std::uint64_t n = 0;
    for (std::uint64_t d : drops) n += d;
    return n;
  }
};

}  // namespace xdptcp::tcp
