// The Transmission Control Block (RFC 9293 §3.3.1): one connection's state, with the RFC's
// field names, grouped and commented after VPP's tcp_connection_t, hot fields first.
//
// TCBs live in a pool of TcpStack (tcp_stack_core.h), constructed on first use and reused;
// opening a connection only makes its two ByteRings (objects without storage: chunks come with
// data), so a TCB slot reused allocates nothing.
// All behaviour lives in the stack's files: tcp_input.cpp (segment arrival), tcp_output.cpp,
// tcp_recovery.cpp (ACK processing and loss recovery), tcp_timers.cpp, tcp_listen.cpp. Every
// state change goes through StackCore::set_state().
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "userstack/tcp/assembler.h"
#include "userstack/tcp/byte_ring.h"
#include "userstack/tcp/cc/congestion_control.h"
#include "userstack/tcp/rtt_estimator.h"
#include "userstack/tcp/sack_scoreboard.h"
#include "userstack/tcp/seq.h"
#include "userstack/tcp/tcp_state.h"
#include "userstack/time/timer_wheel.h"
#include "userstack/wire/ip_addr.h"

namespace xdptcp::tcp {

class StackCore;

inline constexpr std::uint32_t kNoIndex = 0xFFFFFFFFu;

// The plain (copyable) variables of a TCB: reset by assigning TcbVars{}.
struct TcbVars {
  // Read-only view of the state; write it only through StackCore::set_state().
  TcpState state = TcpState::kClosed;

  // --- Send sequence variables (RFC 9293 §3.3.1, Figure 3) ---
  SeqNum snd_una;                 // oldest unacknowledged sequence number
  SeqNum snd_nxt;                 // next sequence number to send (pulled back to snd_una by an RTO)
  SeqNum snd_max;                 // highest sequence number sent + 1 (BSD's snd_max)
  std::uint32_t snd_wnd = 0;      // peer's window, scaled
  SeqNum snd_wl1;                 // segment sequence number used for the last window update
  SeqNum snd_wl2;                 // segment acknowledgment number used for the last window update
  SeqNum iss;                     // initial send sequence number
  std::uint32_t max_snd_wnd = 0;  // largest window the peer offered (SWS, RFC 5961 §5.2)
  SeqNum snd_buf_seq;             // sequence number of the first byte in snd_buf
  SeqNum snd_sml;                 // end of the last less-than-MSS segment sent (Minshall's Nagle)

  // --- Receive sequence variables ---
  SeqNum rcv_nxt;        // next sequence number expected
  SeqNum rcv_adv;        // right edge of the window last advertised (never moves left)
  SeqNum irs;            // initial receive sequence number
  SeqNum last_ack_sent;  // ACK field of our last segment (RFC 7323 §4.3 Last.ACK.sent)

  // --- Options negotiated in the handshake ---
  std::uint16_t snd_mss = 536;  // peer's MSS option (RFC 9293 §3.7.1 default 536 / 1220 v6)
  std::uint16_t rcv_mss = 536;  // our MSS (mtu - IP - TCP headers, capped by user_mss)
  std::uint16_t user_mss = 0;   // TCP_MAXSEG: caps the MSS we advertise (0: none); inherited
  std::uint8_t snd_wscale = 0;  // shift applied to windows the peer sends (RFC 7323 §2.3)
  std::uint8_t rcv_wscale = 0;  // shift applied to windows we send
  bool ws_ok = false;           // both sides sent window scale
  bool ts_ok = false;           // both sides sent timestamps (RFC 7323 §3.2)
  bool sack_ok = false;         // both sides sent SACK-permitted (RFC 2018 §2)
  std::uint32_t ts_recent = 0;  // RFC 7323 §4.3 TS.Recent
  Instant ts_recent_age{};      // when ts_recent was set (PAWS 24-day rule, RFC 7323 §5.5)
  std::uint32_t ts_offset = 0;  // added to our clock in TSval (RFC 7323 §5.4 randomization)

  // --- Buffers ---
  std::array<SeqNum, 4> sack_recent{};  // start of recently received out-of-order segments,
  std::uint8_t sack_recent_count = 0;   // most recent first (RFC 2018 §4 block order)

  // --- FIN bookkeeping ---
  bool fin_queued = false;            // close/shutdown(SHUT_WR): FIN follows the data in snd_buf
  bool fin_received = false;          // the peer's FIN has been received in order (EOF for the reader)
  std::optional<SeqNum> rcv_fin_seq;  // FIN seen out of order, at this sequence number

  // --- Retransmission (RFC 6298) and RTT ---
  std::uint8_t rtx_count = 0;  // consecutive expirations without progress
  bool persist_mode = false;   // rtx_timer currently serves as the persist timer
  std::uint8_t persist_backoff = 0;
  bool rtt_timing = false;  // a segment is being timed (RFC 6298 §3, Karn's rule)
  SeqNum rtt_seq;           // ... the timed segment's last byte + 1
  Instant rtt_start{};
  // TCP_USER_TIMEOUT (RFC 5482): how long data may wait for an acknowledgment before the
  // connection is aborted with ETIMEDOUT; zero: max_retries decides (Linux tcp_retries2).
  Duration user_timeout{};
  // Since when the connection has waited on the peer: the later of the first transmission of the
  // oldest unacknowledged data and the last ACK that advanced SND.UNA; while persisting, the
  // start of zero-window probing. user_timeout is measured from it.
  Instant stall_since{};

  // --- Loss recovery (RFC 5681, RFC 6582 NewReno, RFC 6675 SACK) ---
  CongestionControl* cc = nullptr;  // constructed in cc_storage
  CcAlgorithm cc_algo = CcAlgorithm::kCubic;
  std::uint8_t dupacks = 0;
  bool in_recovery = false;
  SeqNum recover;   // RFC 6582 "recover" / RFC 6675 RecoveryPoint
  SeqNum high_rxt;  // RFC 6675 HighRxt
  // Reordering window (RFC 8985 §6.2): once the peer has shown reordering, a hole that DupThresh
  // says is lost is first given reo_wnd to fill; rtx_timer counts it (reo_timer) and the RTO is
  // re-armed after.
  bool reordering_seen = false;  // RACK.reordering_seen
  bool reo_timer = false;        // rtx_timer currently counts the reordering window
  SeqNum reo_una;                // the hole (snd_una) it waits for
  Instant reo_deadline{};
  Instant last_send{};  // for restart after idle (RFC 5681 §4.1)

  // --- Modern loss recovery (issue 13 item 4; tcp_recovery.cpp) ---
  // RACK (RFC 8985 §6): the most recently sent segment known delivered; transmit times of the
  // outstanding bytes are in scoreboard.xmit(). Used when StackConfig::rack and SACK.
  bool rack_valid = false;
  Instant rack_xmit_ts{};         // RACK.xmit_ts
  SeqNum rack_end_seq;            // RACK.end_seq
  Duration rack_rtt{};            // RACK.rtt
  SeqNum rack_fack;               // highest end of anything delivered (reordering detection)
  std::uint8_t reo_wnd_mult = 1;  // RACK.reo_wnd_mult (D-SACK adaptation, §6.2 step 4)
  std::uint8_t reo_wnd_persist = 0;
  bool dsack_round_set = false;  // RACK.dsack_round
  SeqNum dsack_round;
  // TLP (RFC 8985 §7): rtx_timer counts the PTO (pto_timer); one probe outstanding at most.
  bool pto_timer = false;
  bool tlp_out = false;  // TLP.end_seq != None
  bool tlp_is_retrans = false;
  SeqNum tlp_left;     // the probe's first sequence number
  SeqNum tlp_end_seq;  // TLP.end_seq
  // PRR (RFC 6937 §3): bytes delivered / sent since recovery began, and RecoverFS.
  std::uint32_t prr_delivered = 0;
  std::uint32_t prr_out = 0;
  std::uint32_t prr_recover_fs = 0;
  // Spurious retransmission undo (RFC 2883 §5 D-SACK, RFC 3522 Eifel detection, RFC 4015
  // response): the window before the episode, the retransmissions not yet D-SACKed, and the
  // TSval of the first retransmission.
  bool undo_armed = false;
  bool undo_rto = false;  // the episode began with an RTO
  bool retrans_stamp_set = false;
  std::int32_t undo_retrans = 0;
  SeqNum undo_marker;  // snd_una when the episode began
  SeqNum undo_high;    // end of the highest retransmission of the episode
  std::uint32_t undo_cwnd = 0;
  std::uint32_t undo_ssthresh = 0;
  std::uint32_t retrans_stamp = 0;
  // RFC 6675 §4 NextSeg rule (4): RescueRxt.
  bool rescue_set = false;
  SeqNum rescue_rxt;
  // Receiver: a duplicate to report in the first SACK block of the next ACK (RFC 2883 §4).
  bool dsack_pending = false;
  SeqNum dsack_left;
  SeqNum dsack_right;

  // --- ACK generation (RFC 9293 §3.8.6.3, RFC 1122 §4.2.3.2) ---
  bool ack_now = false;  // send an ACK at the next output
  // A pure ACK held back until the application has had its turn (StackConfig::hold_acks_for_app),
  // so that its reply (the request after a SYN-ACK, the FIN after a FIN, the response to a
  // request quick-ACKed) carries it.
  bool ack_held = false;
  bool in_output_queue = false;
  // The last challenge ACK (RFC 5961 §7 per-connection limit; Linux tp->last_oow_ack_time).
  bool challenge_acked = false;
  Instant last_challenge_ack{};
  // Quick-ack mode (Linux icsk_ack.quick; RFC 9293 §3.8.6.3 / RFC 1122 §4.2.3.2 let an ACK go
  // at once): this many more in-order data segments are acknowledged without the delayed-ACK
  // wait. Refilled at ESTABLISHED, after the peer was silent longer than an RTO, and by
  // TCP_QUICKACK; see StackCore::enter_quickack().
  std::uint8_t quickack = 0;

  // --- Keepalive (RFC 1122 §4.2.3.6); also FIN-WAIT-2 and TIME-WAIT timeouts ---
  Instant last_rcv{};  // last segment received (keepalive idle)
  std::uint8_t keepalive_probes_out = 0;

  // --- Socket ---
  std::int32_t id = -1;  // the socket id (== pool index) while user-visible
  wire::IpFamily family = wire::IpFamily::kV4;
  wire::FourTuple tuple;  // local and remote address; local only while unconnected
  bool bound = false;
  bool in_flow_table = false;
  std::uint64_t flow_hash = 0;  // the flow table's hash of `tuple` while in_flow_table
  bool user_open = false;       // the application holds it (socket()/accept() .. close())
  bool orphan = false;          // closed by the application, still finishing (Linux SOCK_DEAD)
  bool shut_rd = false;
  bool shut_wr = false;
  bool reuse_addr = false;
  bool nodelay = false;    // TCP_NODELAY: Nagle off
  bool cork = false;       // TCP_CORK: hold less-than-MSS segments until uncorked
  bool msg_more = false;   // the last send() had MSG_MORE: held as by TCP_CORK until one without
  bool keepalive = false;  // SO_KEEPALIVE
  int linger = -1;         // SO_LINGER seconds; 0 = RST on close; -1 = off
  int so_error = 0;        // pending error (positive errno), read by SO_ERROR
  bool ever_established = false;
  std::uint32_t sndbuf = 0;
  std::uint32_t rcvbuf = 0;
  Duration keep_idle{};
  Duration keep_intvl{};
  unsigned keep_cnt = 0;

  // --- Listener / accept queue (a listener's children and a child's listener) ---
  std::uint32_t parent = kNoIndex;       // listener of a passive-open child
  std::uint32_t accept_head = kNoIndex;  // listener: completed children, FIFO
  std::uint32_t accept_tail = kNoIndex;
  std::uint32_t accept_next = kNoIndex;  // child: next in its listener's accept queue
  std::uint32_t tw_prev = kNoIndex;      // the stack's TIME-WAIT list, oldest first (recycling
  std::uint32_t tw_next = kNoIndex;      // at the TCB bound, StackCore::alloc_tcb)
  std::uint32_t accept_count = 0;        // listener: queue length
  std::uint32_t backlog = 0;             // listener: bound on accept_count
  bool in_accept_queue = false;
  bool syn_backlog_counted = false;  // child counted in the SYN-RECEIVED table

  // --- Per-connection counters, read only by TCP_INFO (tcp_info.h); cold, so last ---
  std::uint64_t bytes_sent = 0;      // payload, retransmissions included
  std::uint64_t bytes_retrans = 0;   // payload sent again
  std::uint64_t bytes_acked = 0;     // payload cumulatively acknowledged
  std::uint64_t bytes_received = 0;  // payload received in order
  std::uint32_t segs_out = 0;
  std::uint32_t segs_in = 0;
  std::uint32_t data_segs_out = 0;
  std::uint32_t data_segs_in = 0;
  std::uint32_t total_retrans = 0;  // segments sent again
  Instant last_data_sent{};         // set at ESTABLISHED, then by each data segment
  Instant last_data_recv{};

  // --- Memory (the stack's buffer budget, docs/ARCHITECTURE.md "Memory") ---
  // send() found room in the window but no buffer chunk: writable (EPOLLOUT) again only when the
  // stack's pool has chunks back (StackCore::wake_mem_waiters), as Linux's sk_stream_wait_memory().
  bool mem_wait = false;
  // SO_RCVBUF / SO_SNDBUF set by the application: no auto-tuning of that buffer (Linux
  // SOCK_RCVBUF_LOCK / SOCK_SNDBUF_LOCK). Inherited by a listener's children.
  bool rcvbuf_locked = false;
  bool sndbuf_locked = false;
  // Receive auto-tuning (StackCore::rcv_space_adjust, Linux rcvq_space): the most bytes the
  // application read in one round trip, and the count read and time at the start of this one.
  std::uint32_t rcvq_space = 0;
  std::uint64_t rcvq_read = 0;
  Instant rcvq_time{};

  // --- Pool ---
  std::uint32_t next_free = kNoIndex;
  bool allocated = false;
};

struct TcpConnection : TcbVars {
  TcpConnection();
  ~TcpConnection();
  TcpConnection(const TcpConnection&) = delete;
  TcpConnection& operator=(const TcpConnection&) = delete;

  // Forgets the connection (TcbVars{}, ranges, scoreboard, RTT); keeps the pool bookkeeping and
  // the buffers' storage (cleared) for reuse. Timers must be disarmed and cc destroyed first.
  void reset(const RtoConfig& rto);

  // Sequence number the FIN occupies (after every byte written to snd_buf).
  SeqNum fin_seq() const { return snd_buf_seq + snd_buf_size(); }
  std::uint32_t snd_buf_size() const { return snd_buf ? static_cast<std::uint32_t>(snd_buf->size()) : 0; }

  // --- Resources (not reset by assignment) ---
  std::optional<ByteRing> snd_buf;  // [snd_buf_seq, +size): unacknowledged and unsent data
  std::optional<ByteRing> rcv_buf;  // received in order, not yet read; out-of-order beyond
  Assembler reasm;                  // out-of-order ranges relative to rcv_nxt
  RttEstimator rtt;
  TimerNode rtx_timer;  // RTO, SYN/SYN-ACK retransmission, persist (never both at once)
  CcStorage cc_storage;
  SackScoreboard scoreboard;
  TimerNode delack_timer;
  TimerNode aux_timer;

  // --- Pool ---
  std::uint32_t index = kNoIndex;
  StackCore* core = nullptr;
};

}  // namespace xdptcp::tcp
