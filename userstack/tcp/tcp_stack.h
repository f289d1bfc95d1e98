// The per-core TCP instance: the public face of userstack/tcp.
//
// It consumes IP packets and a clock, and produces IP packets; it knows nothing of AF_XDP,
// Ethernet, threads or the kernel (design brief §3). The engine strips Ethernet and feeds
// input(); the simulator feeds it from an in-memory link. Socket operations are BSD-like and
// return negative errno values (the api/ layer turns them into -1/errno).
//
// Read first: tcp_connection.h (the TCB and the state machine), then this file's .cpp (demux,
// listeners, SYN backlog and cookies, TIME_WAIT reuse).
#pragma once

#include <sys/types.h>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "userstack/tcp/cc/congestion_control.h"
#include "userstack/tcp/rtt_estimator.h"
#include "userstack/tcp/tcp_info.h"
#include "userstack/tcp/tcp_state.h"
#include "userstack/tcp/tcp_stats.h"
#include "userstack/time/clock.h"
#include "userstack/wire/ip_addr.h"

namespace xdptcp::tcp {

// Where the TCP core writes the IP packets it sends (the engine puts them in UMEM frames after
// an Ethernet header; the simulator on its link). No allocation: the sink lends a buffer.
class PacketSink {
 public:
  virtual ~PacketSink() = default;
  // A buffer for one IP packet of up to the stack's MTU, or an empty span when none is
  // available now (TX ring full): the stack keeps its data queued, counts it, and tries again
  // at the next flush.
  virtual std::span<std::uint8_t> tx_acquire() = 0;
  // Sends the first `len` bytes of the buffer last returned by tx_acquire().
  virtual void tx_commit(std::size_t len) = 0;
};

// Readiness bits, with the values of <sys/epoll.h> so the api layer passes them through.
namespace events {
inline constexpr std::uint32_t kIn = 0x001;      // EPOLLIN: data, EOF, or a connection to accept
inline constexpr std::uint32_t kOut = 0x004;     // EPOLLOUT: send buffer space (or connect done)
inline constexpr std::uint32_t kErr = 0x008;     // EPOLLERR: pending SO_ERROR
inline constexpr std::uint32_t kHup = 0x010;     // EPOLLHUP: both directions shut
inline constexpr std::uint32_t kRdHup = 0x2000;  // EPOLLRDHUP: peer sent FIN
}  // namespace events

using SocketId = std::int32_t;
struct TcpConnection;

// Told when a socket's readiness may have changed (the epoll layer queues it; edge-triggered
// semantics are the listener's business). Called from inside input()/advance()/flush().
class SocketEventListener {
 public:
  virtual ~SocketEventListener() = default;
  virtual void on_socket_event(SocketId id, std::uint32_t events) = 0;
};

// Told about a segment that matches no connection, before the stack answers it (RST, or SYN-cookie
// validation at a listener), and about the connections this stack creates and frees. The engine
// uses it to hand a segment to the engine that is known to own its flow (design brief §5; issue 11,
// item 1): kHandedOff means the segment was taken and the stack does nothing; kHandoffDropped that
// the owner is known but could not take it (its hand-off ring was full: dropped and counted as
// DropReason::kHandoffRingFull; TCP retransmits it); kAnswerHere that no other engine is known to
// own it, so this stack answers as it would any unknown segment. A SYN without ACK is never
// offered: listeners are replicated, so every engine can take it.
class FlowMissHandler {
 public:
  enum class Miss : std::uint8_t { kAnswerHere, kHandedOff, kHandoffDropped };
  virtual ~FlowMissHandler() = default;
  virtual Miss on_flow_miss(const wire::FourTuple& tuple) = 0;
  // A connection entered this stack's flow table (passive or active open) / left it (TCB freed).
  virtual void on_flow_added(const wire::FourTuple& /*tuple*/) {}
  virtual void on_flow_removed(const wire::FourTuple& /*tuple*/) {}
};

// Consulted by connect() for each candidate ephemeral source port (RFC 6056 order, free ports
// only): the engine accepts the ports whose replies the NIC's RSS delivers to its own queue
// (design brief §5). The search is bounded: after kPortFilterTries rejected candidates, or when
// none in the range is accepted, connect() takes the first free candidate (the cross-engine
// hand-off then carries its replies) and counts it in TcpStats::port_filter_fallbacks. Not
// consulted for a port chosen by bind() or bind(port 0), where the remote is not yet known.
class PortFilter {
 public:
  static constexpr std::uint32_t kPortFilterTries = 512;
  virtual ~PortFilter() = default;
  virtual bool accept_local_port(const wire::FourTuple& candidate) = 0;
};

struct KeepaliveConfig {
  Duration idle = Duration::seconds(7200);  // RFC 1122 §4.2.3.6: default at least two hours
  Duration interval = Duration::seconds(75);
  unsigned probes = 9;
};

// Linux's net.core.rmem_max / wmem_max default (212992 on x86-64).
inline constexpr std::uint32_t kLinuxMemMax = 212992;

struct StackConfig {
  std::vector<wire::IpAddr> local_addrs;  // the addresses this stack answers for
  // IP MTU of the link; MSS = mtu - 40 (v4) / 60 (v6). Below kMinMtu (tcp_stack_core.h, 576)
  // it is raised to it; the sink's buffers must hold an MTU (a larger segment is dropped and
  // counted in TcpStats::tx_oversize).
  std::uint16_t mtu = 1500;
  std::size_t max_sockets = 4096;  // socket() fails with EMFILE at the bound
  // Default send / receive buffer sizes in bytes of data. SO_SNDBUF/SO_RCVBUF report twice
  // these, as Linux reports twice what was set (its sk_sndbuf/sk_rcvbuf count overhead).
  std::uint32_t sndbuf = 64 * 1024;
  std::uint32_t rcvbuf = 64 * 1024;
  // The largest SO_SNDBUF / SO_RCVBUF an application may set (before doubling): Linux's
  // net.core.wmem_max / rmem_max defaults; a larger sndbuf / rcvbuf above raises the bound to it.
  std::uint32_t wmem_max = kLinuxMemMax;
  std::uint32_t rmem_max = kLinuxMemMax;
  // Buffer memory budget of this stack (one per engine), in bytes: the send and receive data
  // of all its connections together never take more (Linux tcp_mem[2]). Storage is taken in
  // chunks as data arrives or is written and given back when read or acknowledged; an idle
  // connection holds none. At 3/4 of it (memory pressure, tcp_mem[1]) new connections get
  // 16 KiB buffers; at 7/8 new connections are refused (drop reason mem_refused); received data
  // that finds no memory is dropped as if outside the window (mem_full). Address space for it
  // is reserved at start, memory is committed only as used.
  std::size_t mem_budget = std::size_t{1} << 30;
  // Buffer auto-tuning (Linux tcp_moderate_rcvbuf, tcp_rmem[2] / tcp_wmem[2]): a socket whose
  // SO_RCVBUF / SO_SNDBUF the application did not set grows its receive buffer toward twice what
  // the application read in one round trip (2x the BDP) and its send buffer toward twice the
  // congestion window, up to these, within mem_budget (not under memory pressure). The window
  // scale of its SYN covers the receive maximum. 0: no auto-tuning.
  std::uint32_t rcvbuf_auto_max = 6 * 1024 * 1024;
  std::uint32_t sndbuf_auto_max = 4 * 1024 * 1024;
  std::uint16_t ephemeral_lo = 32768;  // active-open source ports [lo, hi]
  std::uint16_t ephemeral_hi = 60999;
  RtoConfig rto{};
  Duration time_wait = Duration::seconds(60);  // 2*MSL (Linux's TCP_TIMEWAIT_LEN)
  Duration delayed_ack = Duration::millis(40);
  unsigned max_retries = 15;  // data retransmissions before ETIMEDOUT (tcp_retries2)
  unsigned syn_retries = 6;
  unsigned synack_retries = 5;
  std::size_t syn_backlog = 1024;  // SYN-RECEIVED entries per stack; then SYN cookies
  bool syn_cookies = true;         // RFC 4987 §3.6
  CcAlgorithm cc = CcAlgorithm::kCubic;
  // RACK-TLP loss detection (RFC 8985) with SACK, as Linux's default net.ipv4.tcp_recovery = 1:
  // time-based loss detection with a reordering window, and tail loss probes. Off: RFC 6675's
  // DupThresh/IsLost rules. PRR (RFC 6937), D-SACK, undo and the rescue retransmission apply
  // either way.
  bool rack = true;
  KeepaliveConfig keepalive{};
  // Hold the ACK that answers a SYN-ACK (RFC 9293 §3.10.7.3: "data or controls that were queued
  // for transmission MAY be included") and the ACK of a FIN in ESTABLISHED (a delayed ACK, RFC 1122
  // §4.2.3.2; Linux enters pingpong mode there) until release_held_acks(): a driver that runs the
  // application between input() and the next flush then sends request+ACK and FIN+ACK as one
  // segment each, two frames fewer per short connection. The quick ACKs of data (the first
  // segments of a connection, TCP_QUICKACK) are held the same way, so that a reply carries them.
  // Off: they go at the next flush.
  bool hold_acks_for_app = false;
  std::uint64_t secret = 0;  // key for ISNs (RFC 6528) and cookies; 0: random
  // Initial window: 0 is RFC 6928's min(10*MSS, max(2*MSS, 14600)) bytes; n > 0 is n segments,
  // as Linux's tcp_init_cwnd() (TCP_INIT_CWND 10), which differs only for an MSS above 1460.
  std::uint32_t initial_window_segments = 0;
  // Other processes serve the same ports on the interface's other RX queues (the preload library
  // when a process holds only some queues, docs/ARCHITECTURE.md "Several processes"): a segment of
  // no connection here is dropped (kSiblingFlow) instead of answered with RST (§3.10.7.1), since
  // it may be a sibling's. Changeable at run time (TcpStack::set_siblings).
  bool siblings = false;
};

// Named sets of StackConfig values (xdptcp::StackOptions::profile). "default": StackConfig's own
// defaults, left as they are. "linux": every knob that shows on the wire set to Linux's value
// (RFC 6928 IW10 as 10 segments, RTO initial 1 s / min 200 ms / max 120 s (TCP_TIMEOUT_INIT,
// TCP_RTO_MIN, TCP_RTO_MAX), delayed ACK 40 ms (TCP_DELACK_MIN), tcp_syn_retries 6,
// tcp_synack_retries 5, tcp_retries2 15, keepalive 7200 s / 75 s / 9, TIME-WAIT 60 s
// (TCP_TIMEWAIT_LEN), SYN cookies on overflow, CUBIC, rmem_max/wmem_max 212992); MSS default 536,
// timestamps, SACK and window scaling are always Linux's. Buffers, addresses, ports, MTU and the
// secret are not touched. Returns false (and changes nothing) for an unknown name.
bool apply_stack_profile(StackConfig& cfg, std::string_view profile);

enum class SockOpt : std::uint8_t {
  kReuseAddr,
  // SO_RCVBUF / SO_SNDBUF with Linux's semantics (sock_setsockopt()): set v stores
  // max(2 * min(v as unsigned, rmem_max / wmem_max), SOCK_MIN_RCVBUF 2304 / SOCK_MIN_SNDBUF 4608)
  // (a negative v is a huge unsigned one: the maximum), and get returns that doubled value; the
  // buffer holds half of it in data. Before connect()/listen() it sizes the buffers and the window
  // scale (RFC 7323 §2.3: fixed by the SYN; a listener's children inherit it). After, as Linux
  // allows, the send buffer takes the new size at once when its queued bytes fit (else it keeps
  // its size), and the receive buffer grows (never shrinks: a window offered is not withdrawn,
  // RFC 9293 §3.8.6.2.1), its window still capped at 65535 << the scale chosen at the SYN.
  kRcvBuf,
  kSndBuf,
  kKeepAlive,
  kLinger /* seconds, -1 = off */,
  kNoDelay,
  kCongestion /* CcAlgorithm as int */,
  kError /* get only */,
  kKeepIdle,
  kKeepIntvl,
  kKeepCnt,
  // TCP_MAXSEG. get: the effective send MSS (less the timestamps option) once a handshake has
  // begun, else the value set, else 536 (Linux's TCP_MSS_DEFAULT). set: 0 (no cap) or 88..32767
  // (else -EINVAL, as Linux); caps the MSS option of SYNs and SYN-ACKs sent afterwards (a listener
  // passes it to its children), and so the send MSS too; the MTU-based MSS still caps it. Like
  // Linux it may be set at any time but changes nothing on a connection past its SYN.
  kMaxSeg,
  // TCP_USER_TIMEOUT in ms (RFC 5482): in the synchronized states, data unacknowledged (or a zero
  // window probed) for longer aborts the connection with ETIMEDOUT, after at least one
  // retransmission, instead of max_retries; with SO_KEEPALIVE it replaces the probe count. 0 =
  // default behaviour; < 0 -> -EINVAL. Inherited by a listener's children.
  kUserTimeout,
  // TCP_CORK: while set, a segment smaller than the MSS is held (even with TCP_NODELAY) until
  // clearing it, or a FIN, sends the rest (Linux tcp_push(); nginx sets it around a header and a
  // sendfile). Linux also flushes a corked tail after 200 ms; the stack holds it until uncorked.
  kCork,
  // TCP_QUICKACK (Linux tcp(7)). set 1: an ACK owed for received data (delayed, or held for the
  // application) goes at the next flush, and quick-ack mode is entered: the next in-order data
  // segments (up to 16, fewer for a small receive buffer) are acknowledged at once. set 0: quick-ack
  // mode ends; delayed ACKs (RFC 9293 §3.8.6.3) until the connection next idles longer than an
  // RTO. Not permanent, as in Linux. get: 1 while in quick-ack mode.
  kQuickAck,
};

// send() options (the api layer maps MSG_* flags to these).
struct SendFlags {
  // MSG_MORE (Linux tcp_sendmsg(): TCP_NAGLE_CORK for this call): a less-than-MSS tail is held as
  // by TCP_CORK until a send() without it, TCP_CORK cleared, TCP_NODELAY set, or the FIN.
  bool more = false;
};

// recv() options (the api layer maps MSG_* flags to these).
struct RecvFlags {
  // MSG_PEEK: copy without consuming, and send no window update (the buffer did not drain).
  bool peek = false;
};

// One TCB as `xdptcp-ctl ss` shows it (TcpStack::inspect): what `ss -tni` reports of a Linux socket.
struct SocketView {
  SocketId id = -1;  // the application's socket; -1 when it holds none (accept queue, orphan, TIME-WAIT)
  TcpState state = TcpState::kClosed;
  wire::IpFamily family = wire::IpFamily::kV4;
  wire::FourTuple tuple;  // a listener's remote is unspecified
  bool orphan = false;    // closed by the application, still finishing
  // ss's Recv-Q and Send-Q: bytes received in order and not read yet, and bytes not acknowledged
  // (sent or not); for a listener, its accept queue's length and bound (the backlog).
  std::uint32_t recv_q = 0;
  std::uint32_t send_q = 0;
  CcAlgorithm cc = CcAlgorithm::kCubic;
  TcpInfoSnapshot info;  // as tcp_info() fills it
};

class TcpStack {
 public:
  TcpStack(StackConfig cfg, PacketSink& sink, Instant now);
  ~TcpStack();
  TcpStack(const TcpStack&) = delete;
  TcpStack& operator=(const TcpStack&) = delete;

  // --- driving (the engine's loop, or the simulator) ---
  // One received IP packet (IPv4 or IPv6 header + TCP). Checksums are verified; anything bad
  // or not ours is counted (stats()) and dropped; a segment for no socket gets a RST
  // (RFC 9293 §3.10.7.1).
  // True when the segment was accepted for a connection this stack already has: it passed the
  // checks of RFC 9293 §3.10.7.4 through the ACK (sequence/PAWS, RST, SYN, acceptable ACK), or it
  // is the SYN-ACK answering our SYN (§3.10.7.3), or the ACK a SYN cookie validates. What the
  // engine may learn the peer's link address from (the neighbour model, docs/ARCHITECTURE.md):
  // a forged frame with a spoofed source address does not pass. A segment handed to another
  // engine is not accepted here.
  bool input(std::span<const std::uint8_t> ip_packet, Instant now);
  // Fires due timers (RTO, delayed ACK, persist, keepalive, TIME_WAIT, SYN-ACK retry) and
  // sends what they (and anything else pending) produced, as flush() does.
  void advance(Instant now);
  // Sends what sockets have queued (data, ACKs, FINs) into the sink. Call once per loop, after
  // input and the application's work: this is the socket-level batching. input() itself sends
  // only RSTs for segments with no connection and SYN-cookie SYN-ACKs (stateless replies); a
  // connection's ACKs, SYN-ACKs and data wait for flush() so that replies piggyback.
  void flush(Instant now);
  // The application has had its turn since the ACKs were held (hold_acks_for_app): the next
  // flush() sends them, with whatever the application queued. A driver about to sleep calls this
  // and flush(), so that nothing waits for the application longer than one loop.
  void release_held_acks();
  // The earliest instant at which advance() has work, or nullopt.
  std::optional<Instant> next_timer() const;

  void set_event_listener(SocketEventListener* l) { listener_ = l; }
  void set_flow_miss_handler(FlowMissHandler* h);
  void set_port_filter(PortFilter* f);  // null: every free port is acceptable
  void set_siblings(bool on);           // StackConfig::siblings

  // --- BSD-like sockets; negative errno on failure ---
  SocketId socket(wire::IpFamily family);
  int bind(SocketId s, const wire::SockAddr& local);
  int listen(SocketId s, int backlog);
  SocketId accept(SocketId listener, wire::SockAddr* peer);            // -EAGAIN when none
  int connect(SocketId s, const wire::SockAddr& remote, Instant now);  // -EINPROGRESS
  ssize_t send(SocketId s, std::span<const std::uint8_t> data, Instant now);
  ssize_t send(SocketId s, std::span<const std::uint8_t> data, Instant now, SendFlags flags);
  ssize_t recv(SocketId s, std::span<std::uint8_t> out, Instant now);  // 0 at EOF
  // recv() with flags; with peek the same results (data, 0 at EOF, -EAGAIN, a pending error,
  // which is cleared as Linux's sock_error() does) but the bytes stay in the receive buffer.
  ssize_t recv(SocketId s, std::span<std::uint8_t> out, Instant now, RecvFlags flags);
  int shutdown(SocketId s, int how, Instant now);  // SHUT_RD/WR/RDWR
  int close(SocketId s, Instant now);
  // Ends the connection at once with `err` pending (SO_ERROR, EPOLLERR) and no RST: what Linux does
  // when the network says the host cannot be reached (tcp_v4_err(): a hard error in SYN-SENT, RFC
  // 1122 §4.2.3.9), e.g. the engine's next hop never resolved (EHOSTUNREACH). 0, -EBADF, -EINVAL
  // on a listener.
  int abort(SocketId s, int err, Instant now);
  int getsockname(SocketId s, wire::SockAddr* out) const;
  int getpeername(SocketId s, wire::SockAddr* out) const;
  int setsockopt(SocketId s, SockOpt opt, int value);
  int getsockopt(SocketId s, SockOpt opt, int* value);

  std::uint32_t poll_events(SocketId s) const;  // level-triggered readiness (events::)
  // ioctl queue sizes; 0 for an unknown socket (the api layer owns descriptors and reports EBADF
  // itself) and for a listener (Linux's -EINVAL there is the api layer's, from state()).
  // FIONREAD/SIOCINQ: bytes recv() can return now (in order; the FIN not counted).
  std::size_t readable_bytes(SocketId s) const;
  // SIOCOUTQ: bytes in the send buffer not yet acknowledged, sent or not (the FIN not counted).
  std::size_t unsent_or_unacked_bytes(SocketId s) const;
  // SIOCOUTQNSD: bytes in the send buffer never sent (retransmissions pending are not unsent).
  std::size_t unsent_bytes(SocketId s) const;
  // TCP_INFO: fills *out (see tcp_info.h for what is tracked); 0, -EBADF for an unknown socket,
  // -EFAULT for a null out.
  int tcp_info(SocketId s, TcpInfoSnapshot* out, Instant now) const;
  TcpState state(SocketId s) const;  // kClosed for an unknown id
  const TcpStats& stats() const { return stats_; }
  std::size_t socket_count() const;
  // Appends the connections (neither listeners nor TIME-WAIT) on local port `port`: what a
  // listener that closed leaves to drain (the steering keeps them, api/src/stack.cpp). Scans the
  // TCB pool: once a second at most, not per packet.
  void connections_on_port(std::uint16_t port, std::vector<wire::FourTuple>& out) const;
  std::size_t connection_count() const;  // TCBs not CLOSED, TIME_WAIT included, listeners not
  // The TCB behind an application's socket (null when unknown), for tests and diagnostics.
  const TcpConnection* connection(SocketId s) const;
  // Every TCB, for diagnostics (xdptcp-ctl ss through the engine's connection snapshot): the pool's
  // slots are [0, tcb_slots()), and inspect() fills *out for the TCB in `slot` when it is a listener
  // or a connection in any state but CLOSED, whether the application holds it or not (accept queue,
  // orphans, TIME-WAIT); false for a free or CLOSED slot. Read-only; a caller may visit the slots a
  // few at a time between packets (a TCB may then be seen twice or not at all, as with ss).
  std::uint32_t tcb_slots() const;
  // What the stack's memory holds (docs/ARCHITECTURE.md, "Memory"): for tests and diagnostics.
  struct MemoryUse {
    std::size_t tcb_bytes = 0;        // TCBs constructed so far (the most held at once)
    std::size_t tcb_size = 0;         // sizeof one TCB
    std::size_t table_bytes = 0;      // flow table, socket map and queues: fixed by max_sockets
    std::size_t buffer_bytes = 0;     // buffer chunks held by connections now
    std::size_t buffer_resident = 0;  // chunks that may be resident: held, or free and warm
    std::size_t budget = 0;           // StackConfig::mem_budget, in whole chunks
    std::size_t total() const { return tcb_bytes + table_bytes + buffer_resident; }
  };
  MemoryUse memory_use() const;
  bool inspect(std::uint32_t slot, SocketView* out, Instant now) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  SocketEventListener* listener_ = nullptr;
  TcpStats stats_{};
};

}  // namespace xdptcp::tcp
