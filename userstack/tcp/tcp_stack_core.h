// The TCP stack's internals: the TCB pool, flow table, listeners, timers and output queue, and
// the declarations of the functions that implement RFC 9293's event processing. Internal to
// userstack/tcp: TcpStack (tcp_stack.h) is the public face.
//
// The implementation is split by job:
//   tcp_stack.cpp     the socket API (socket/bind/listen/accept/connect/send/recv/close...)
//   tcp_pool.cpp      TCB pool, set_state(), events, abort/free, ISNs, ephemeral ports
//   tcp_input.cpp     segment arrival: parse, demux, SYN-SENT, the §3.10.7.4 pipeline, text, FIN
//   tcp_listen.cpp    LISTEN: passive open, SYN backlog, SYN cookies, TIME-WAIT reuse, RST replies
//   tcp_ack.cpp       the ACK field: RFC 5961 §5, window update, RTT, NewReno and SACK recovery
//   tcp_output.cpp    building segments: options, windows, Nagle, SWS, SACK blocks
//   tcp_timers.cpp    RTO, persist, delayed ACK, keepalive, FIN-WAIT-2 and TIME-WAIT
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "userstack/tcp/chunk_pool.h"
#include "userstack/tcp/flow_table.h"
#include "userstack/tcp/keyed_hash.h"
#include "userstack/tcp/tcp_connection.h"
#include "userstack/tcp/tcp_stack.h"
#include "userstack/time/timer_wheel.h"
#include "userstack/wire/tcp_header.h"

namespace xdptcp::tcp {

// One received segment, parsed and checksummed, with the tuple seen from our side.
struct Segment {
  wire::FourTuple tuple;  // local = destination, remote = source
  wire::TcpRepr h;
  std::span<const std::uint8_t> payload;
  SeqNum seq;
  SeqNum ack;
  std::uint64_t flow_hash = 0;  // flows.hash(tuple), computed once per received segment
  // SEG.LEN (RFC 9293 §3.4): payload plus one for SYN and one for FIN.
  std::uint32_t len() const {
    return static_cast<std::uint32_t>(payload.size()) + (h.has(wire::tcp_flags::kSyn) ? 1 : 0) +
           (h.has(wire::tcp_flags::kFin) ? 1 : 0);
  }
  bool syn() const { return h.has(wire::tcp_flags::kSyn); }
  bool ack_flag() const { return h.has(wire::tcp_flags::kAck); }
  bool rst() const { return h.has(wire::tcp_flags::kRst); }
  bool fin() const { return h.has(wire::tcp_flags::kFin); }
};

inline constexpr std::uint8_t kMaxWindowShift = 14;  // RFC 7323 §2.3
inline constexpr std::uint32_t kTsOptionLen = 12;    // NOP NOP + 10-byte timestamps option
// RFC 5961 §7 challenge-ACK limits, as Linux since 4.7 (tcp_send_challenge_ack()):
// per connection, at most one per kChallengeAckInterval (Linux __tcp_oow_rate_limited() with
// net.ipv4.tcp_invalid_ratelimit, 500 ms by default);
inline constexpr Duration kChallengeAckInterval = Duration::millis(500);
// per stack, a budget for each second drawn at random in [L/2, L + L/2) with L this (Linux
// net.ipv4.tcp_challenge_ack_limit, 1000 until 6.0), so its mean is L. A fixed L was the side
// channel of CVE-2016-5696 (Cao et al., "Off-Path TCP Exploits", USENIX Security 2016): an
// off-path attacker who spent the budget on a connection of its own and counted the challenge
// ACKs left could tell whether a guessed 4-tuple (and then sequence numbers) had drawn some.
inline constexpr std::uint32_t kChallengeAckLimit = 1000;
// The smallest IP MTU the stack works with: StackConfig::mtu below it (0 included) is raised to
// it. 576 is the datagram every IPv4 host must accept (RFC 791, RFC 1122 §3.3.3), which the
// default MSS of 536 fills (RFC 9293 §3.7.1). With it every MSS we advertise (576 - 60 = 516 at
// least, or TCP_MAXSEG >= 88) is above the floor of the peer's MSS (kMinSndMss), so a segment
// sized by the send MSS always fits the MTU (send_segment() checks it).
inline constexpr std::uint16_t kMinMtu = 576;
// The least send MSS, whatever the peer's MSS option says (an MSS of 1 would turn a window into
// thousands of segments: CVE-2019-11479). Linux floors it at tcp_min_snd_mss (48, TCP_MIN_SND_MSS).
inline constexpr std::uint16_t kMinSndMss = 64;
// Linux's TCP_MAX_QUICKACKS: the most segments a quick-ack mode acknowledges one by one.
inline constexpr std::uint8_t kMaxQuickAcks = 16;
// Linux's tcp_fin_timeout: an orphaned FIN-WAIT-2 connection is closed after this long.
inline constexpr Duration kFinWait2Timeout = Duration::seconds(60);
// Under memory pressure, a new connection's send and receive rings hold at most this (Linux
// clamps the window to 4 * advmss under tcp_memory_pressure; this is about 11 MSS at 1500).
inline constexpr std::uint32_t kPressureBuffer = 16 * 1024;
// RFC 7323 §5.5: TS.Recent older than 24 days is invalid for PAWS.
inline constexpr Duration kPawsIdle = Duration::seconds(24LL * 24 * 3600);

class StackCore {
 public:
  StackCore(StackConfig cfg, PacketSink& sink, Instant now, TcpStats& stats,
            SocketEventListener* const& listener);
  ~StackCore();

  // ---- tcp_pool.cpp: pool, state, events ----
  TcpConnection* alloc_tcb();
  // Constructs the TCB of slot pool_built (pool_built < pool_size) and counts it built.
  TcpConnection& build_tcb();
  // Returns the TCB to the pool (disarms its timers, leaves the flow table).
  void free_tcb(TcpConnection& c);
  TcpConnection* user_socket(SocketId s) const;  // a socket the application holds, or null
  TcpConnection& at(std::uint32_t index) const { return pool_[index]; }
  // The flow table keeps no tuples: an entry's tuple is its TCB's (FlowTable's key_of).
  auto tcb_tuple() const {
    return [p = pool_](std::uint32_t i) -> const wire::FourTuple& { return p[i].tuple; };
  }
  std::optional<std::uint32_t> find_flow(const wire::FourTuple& t, std::uint64_t h) const {
    return flows.find(t, h, tcb_tuple());
  }
  bool flow_taken(const wire::FourTuple& t) const { return find_flow(t, flows.hash(t)).has_value(); }
  // Enters c (its tuple set) in the flow table under `hash` (flows.hash(c.tuple)) and tells the miss
  // handler; false when the table is full. The TCB leaves the table when it is freed (set_state).
  bool add_flow(TcpConnection& c, std::uint64_t hash);
  void set_state(TcpConnection& c, TcpState s);
  // Ends a connection: so_error = err (0: none), RST sent first when send_rst, CLOSED, freed
  // when no application holds it.
  void abort(TcpConnection& c, int err, bool send_rst);
  // CLOSED and freed when the application no longer holds it.
  void finish(TcpConnection& c);
  void notify(TcpConnection& c);
  std::uint32_t poll_events(const TcpConnection& c) const;
  // Gives the connection its two rings, sized by SO_SNDBUF/SO_RCVBUF (clamped under memory
  // pressure): ring objects only, no storage; chunks come when data is written (ByteRing).
  bool ensure_buffers(TcpConnection& c);
  // SO_SNDBUF / SO_RCVBUF set on a connection whose rings exist: re-sizes the send ring when its
  // queued bytes fit, grows the receive ring (out-of-order bytes kept), never shrinks it; no
  // growth under memory pressure.
  void resize_buffer(TcpConnection& c, bool rcv);
  // Drops a TCB's send ring, and its receive ring too when rcv_too (TIME-WAIT keeps no send
  // ring, nor a receive ring nobody can read; a freed TCB keeps none): their chunks go back.
  void release_buffers(TcpConnection& c, bool rcv_too);
  // Memory pressure (Linux tcp_mem): chunks in use at or above the low mark make new connections'
  // buffers small (kPressureBuffer) and stop growth; at or above the high mark new connections
  // are refused (DropReason::kMemRefused, connect() ENOBUFS). The pool's limit (the budget) is
  // the hard bound: a write beyond it stores nothing (DropReason::kMemFull for received data).
  bool mem_pressure() const { return chunks.in_use() >= mem_low_chunks; }
  // Tells the sockets whose send() found no chunk that they are writable again, once chunks are
  // free (called from flush() and advance(): one test when nobody waits).
  void wake_mem_waiters();
  void add_mem_waiter(TcpConnection& c);
  bool mem_refuse() const { return chunks.in_use() >= mem_high_chunks; }
  SeqNum make_isn(const wire::FourTuple& t) const;
  std::uint32_t ts_now(const TcpConnection& c) const;
  std::uint32_t ts_offset_for(const wire::FourTuple& t) const;
  std::uint8_t choose_wscale(std::uint32_t rcvbuf) const;
  // The receive buffer a connection's window scale must cover: SO_RCVBUF when set, else the
  // auto-tuning maximum (RFC 7323 §2.3: the shift is fixed by the SYN; Linux
  // tcp_select_initial_window() sizes it for tcp_rmem[2] the same way).
  std::uint32_t wscale_space(const TcpConnection& c) const;
  // Receive-buffer auto-tuning after the application read (Linux tcp_rcv_space_adjust()).
  void rcv_space_adjust(TcpConnection& c);
  // Send-buffer auto-tuning when the application finds its buffer full (Linux tcp_sndbuf_expand()).
  void sndbuf_expand(TcpConnection& c);
  std::uint16_t our_mss(wire::IpFamily f) const;
  // The MSS option we send: our_mss(), capped by TCP_MAXSEG (user_mss, 0 = none).
  std::uint16_t advertised_mss(wire::IpFamily f, std::uint16_t user_mss) const;
  // The connection's sending side at ISS, the CC chosen, buffers sized; false when out of memory.
  void init_send_side(TcpConnection& c, SeqNum iss);
  // Applies the options of the peer's SYN (RFC 9293 §3.7.1, RFC 7323 §2.2/§3.2, RFC 2018 §2).
  void apply_syn_options(TcpConnection& c, const wire::TcpOptions& o);
  void inherit_from_listener(TcpConnection& c, const TcpConnection& l, const wire::FourTuple& tuple);
  // After the handshake: initial window and cwnd (RFC 6928 / RFC 5681 §3.1), keepalive timer.
  void on_established(TcpConnection& c);
  bool is_local_addr(const wire::IpAddr& a) const;
  int pick_ephemeral(wire::FourTuple& t);
  bool port_in_use(const wire::SockAddr& local, const TcpConnection* except, bool reuse) const;

  // ---- tcp_info.cpp: TCP_INFO and queue sizes ----
  void fill_tcp_info(const TcpConnection& c, TcpInfoSnapshot& out) const;
  // Bytes in snd_buf never sent (beyond SND.MAX; not those an RTO pulled SND.NXT back over).
  std::uint32_t unsent_bytes(const TcpConnection& c) const;

  // ---- tcp_input.cpp ----
  void input(std::span<const std::uint8_t> packet);
  void segment_arrives(TcpConnection& c, const Segment& seg);
  void input_syn_sent(TcpConnection& c, const Segment& seg);
  void input_synchronized(TcpConnection& c, const Segment& seg);
  bool check_paws(TcpConnection& c, const Segment& seg);
  bool check_sequence(TcpConnection& c, const Segment& seg);
  bool check_rst(TcpConnection& c, const Segment& seg);
  bool check_syn(TcpConnection& c, const Segment& seg);
  void process_text(TcpConnection& c, const Segment& seg, SeqNum seq, std::span<const std::uint8_t> data);
  void process_fin(TcpConnection& c);
  void schedule_ack(TcpConnection& c);
  // Quick-ack mode (Linux tcp_incr_quickack()): at least min(receive buffer / (2 * RCV.MSS),
  // kMaxQuickAcks) segments, 2 when the buffer holds less, will be acknowledged at once.
  void enter_quickack(TcpConnection& c);
  // Remembers a duplicate for the next ACK's D-SACK block (RFC 2883).
  void note_dsack(TcpConnection& c, SeqNum left, SeqNum right);

  // ---- tcp_listen.cpp ----
  TcpConnection* find_listener(const wire::SockAddr& local) const;
  void input_listen(TcpConnection& l, const Segment& seg, std::optional<SeqNum> iss);
  void input_time_wait_syn(TcpConnection& c, const Segment& seg);
  bool accept_cookie(TcpConnection& l, const Segment& seg);
  void send_cookie_synack(TcpConnection& l, const Segment& seg);
  void enqueue_accept(TcpConnection& l, TcpConnection& child);
  // RFC 9293 §3.10.7.1: the RST answering a segment for which there is no connection.
  void send_rst_reply(const Segment& seg);

  // ---- tcp_ack.cpp ----
  // Fifth check: false when the segment must be dropped.
  bool process_ack(TcpConnection& c, const Segment& seg);
  void update_window(TcpConnection& c, const Segment& seg);
  void enter_recovery(TcpConnection& c);
  // DupThresh / IsLost say snd_una is lost: recovery now, or after the reordering window.
  void loss_detected(TcpConnection& c);
  std::uint32_t flight_size(const TcpConnection& c) const;

  // ---- tcp_recovery.cpp: RACK-TLP (RFC 8985), PRR (RFC 6937), undo (RFC 2883/3522/4015) ----
  bool rack_on(const TcpConnection& c) const { return cfg.rack && c.sack_ok; }
  Duration rack_reo_wnd(const TcpConnection& c) const;
  RackView rack_view(const TcpConnection& c) const;
  // RFC 8985 §6.2 steps 1-3 from what an ACK newly delivered.
  void rack_update(TcpConnection& c, const RackDelivered& d);
  // Step 5: lost segments start recovery (or are retransmitted in it); arms the reordering timer.
  void rack_detect(TcpConnection& c, bool from_timer);
  void on_dsack(TcpConnection& c, const SackBlock& b);
  bool eifel_spurious(const TcpConnection& c, const Segment& seg) const;
  void undo_begin(TcpConnection& c, bool rto);
  // A segment [seq, end) is sent again: counts it for the undo of the current episode.
  void undo_note_send(TcpConnection& c, SeqNum seq, SeqNum end);
  void undo(TcpConnection& c);
  // Bytes in flight during SACK recovery: RACK's (unSACKed, not lost) or RFC 6675 SetPipe.
  std::uint32_t recovery_pipe(const TcpConnection& c) const;
  void prr_on_ack(TcpConnection& c, std::uint32_t delivered);
  void schedule_loss_probe(TcpConnection& c);
  void on_pto(TcpConnection& c);
  bool retransmit_tail(TcpConnection& c, SeqNum& left);
  void tlp_on_ack(TcpConnection& c, SeqNum ack, bool advanced, bool not_dup,
                  const std::optional<SackBlock>& dsack);

  // ---- tcp_output.cpp ----
  void queue_output(TcpConnection& c);
  void flush_queue();
  // An ACK that waits for the application's turn when cfg.hold_acks_for_app (StackConfig).
  void hold_ack(TcpConnection& c);
  void release_held_acks();
  // Sends what the connection may send now; false when the sink had no buffer.
  bool output(TcpConnection& c);
  bool sack_recovery_output(TcpConnection& c);
  // Sends one segment of the connection: `len` payload bytes from seq, with `flags`.
  bool send_segment(TcpConnection& c, SeqNum seq, std::uint32_t len, std::uint8_t flags);
  // A segment without data or FIN carries SND.MAX, not SND.NXT (FreeBSD tcp_output): after an
  // RTO pulls snd_nxt back, SND.NXT may lie below the peer's RCV.NXT, and an ACK carrying it
  // would fail the peer's acceptability test (RFC 9293 §3.10.7.4) and be dropped.
  bool send_ack(TcpConnection& c) { return send_segment(c, c.snd_max, 0, wire::tcp_flags::kAck); }
  void send_challenge_ack(TcpConnection& c);
  bool send_rst(TcpConnection& c);
  bool retransmit_head(TcpConnection& c);
  // Writes an IP packet carrying `h` and the payload pieces into the sink.
  bool emit(const wire::FourTuple& t, const wire::TcpRepr& h, std::span<const std::uint8_t> p1 = {},
            std::span<const std::uint8_t> p2 = {});
  std::uint32_t effective_mss(const TcpConnection& c) const;
  // The most payload the next data segment may carry: effective_mss() less the room its SACK
  // blocks take (RFC 9293 §3.7.1: Eff.snd.MSS counts the options of the segment sent).
  std::uint32_t send_room(const TcpConnection& c) const;
  std::uint16_t window_field(TcpConnection& c, bool syn);
  void add_sack_blocks(const TcpConnection& c, wire::TcpOptions& o) const;

  // ---- tcp_timers.cpp ----
  void arm_rto(TcpConnection& c);
  void arm_persist(TcpConnection& c);
  void cancel_rtx(TcpConnection& c);
  void arm_keepalive(TcpConnection& c);
  void enter_time_wait(TcpConnection& c);
  void on_rtx_timer(TcpConnection& c);
  void on_delack_timer(TcpConnection& c);
  void on_aux_timer(TcpConnection& c);

  // ---- state ----
  StackConfig cfg;
  PacketSink& sink;
  TcpStats& stats;
  SocketEventListener* const& listener;
  FlowMissHandler* miss_handler = nullptr;  // the engine's cross-engine hand-off, or null
  // Set by input() when the segment was accepted for a connection (TcpStack::input's answer).
  bool accepted = false;
  PortFilter* port_filter = nullptr;  // the engine's RSS source-port choice, or null
  TimerWheel wheel;
  HashKey key;
  Instant epoch;
  Instant now;

  // The TCBs: pool_size slots of address space (one MAP_NORESERVE mapping), of which the first
  // pool_built are constructed. A slot is constructed when first needed, so memory follows the
  // connections the stack has had at once, not max_sockets (1 M sockets reserve address space).
  TcpConnection* pool_ = nullptr;
  std::size_t pool_map_len = 0;
  std::uint32_t pool_size = 0;
  std::uint32_t pool_built = 0;
  std::uint32_t free_head = kNoIndex;
  // TIME-WAIT TCBs in the order they entered it (so oldest first: the duration is fixed).
  std::uint32_t tw_head = kNoIndex;
  std::uint32_t tw_tail = kNoIndex;
  std::size_t user_sockets = 0;  // held by the application (bound: cfg.max_sockets)
  // Socket ids are not TCB indexes: the pool also holds orphans and embryos, and ids must stay
  // below max_sockets (event queues and the API's descriptor space are sized by it). socket_tcb
  // maps an id to its TCB (kNoIndex: free); free_ids is a stack of free ids (reserved, never grows).
  std::vector<std::uint32_t> socket_tcb;
  std::vector<SocketId> free_ids;
  SocketId open_socket(TcpConnection& c);  // gives c an id; the caller checked user_sockets
  void close_socket(TcpConnection& c);
  std::size_t live_tcbs = 0;     // allocated TCBs not CLOSED
  std::size_t syn_received = 0;  // passive children in SYN-RECEIVED (bound: cfg.syn_backlog)
  FlowTable flows;
  std::vector<std::uint32_t> listeners;  // LISTEN TCBs (reserved: never reallocates)
  std::vector<std::uint32_t> out_queue;  // connections with output pending
  std::vector<std::uint32_t> out_spare;
  // The buffer memory of every connection (StackConfig::mem_budget), and its pressure marks.
  ChunkPool chunks;
  std::size_t mem_low_chunks = 0;
  std::size_t mem_high_chunks = 0;
  // TCBs with mem_wait set (each once; reserved for the pool: never reallocates).
  std::vector<std::uint32_t> mem_waiters;
  std::uint32_t ephemeral_counter = 0;
  std::uint16_t ip_ident = 0;
  // RFC 5961 §7 global budget (send_challenge_ack()): the second it was drawn for (now.ns / 1 s;
  // Linux jiffies / HZ) and what is left of it.
  std::int64_t challenge_second = -1;
  std::uint32_t challenge_budget = 0;
};

}  // namespace xdptcp::tcp
