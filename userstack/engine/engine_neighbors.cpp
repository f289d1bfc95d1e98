// The engine's layer 2, the neighbour model (issue 11 items 2 and 3; docs/ARCHITECTURE.md):
//  - what a packet needs: the next hop of its destination (EngineConfig::routes, route_table.h),
//    whose link address (MAC, 802.1Q tag) is one entry of the NeighborCache;
//  - where entries come from: the kernel's neighbour table (L2Resolver, asynchronous), or a segment
//    TCP accepted for one of its connections (learn_from_accepted); never an arbitrary frame;
//  - a send whose next hop has no entry: held (bounded, with a deadline) while the kernel resolves
//    it, sent when it does, dropped with a count when it fails or times out; TCP retransmits.
#include <algorithm>
#include <cerrno>
#include <cstring>

#include "userstack/engine/engine.h"
#include "userstack/engine/ip_peek.h"
#include "userstack/tcp/tcp_connection.h"

namespace xdptcp::engine {

void Engine::learn_from_accepted(const wire::EthFrame& eth, Instant now) {
  const auto src = ip_source(eth.payload);
  if (!src) return;
  // Only from an on-link peer: the frame's source MAC is then the peer's own. A routed peer's
  // frames come from whichever router forwarded them, which need not be the gateway our route to
  // it names (asymmetric routing); the gateway's entry comes from the kernel alone.
  const auto nh = next_hop(*src);
  if (!nh || !(*nh == *src)) return;
  const Neighbor n{eth.src, eth.vlan_tci};
  const auto known = neighbors_.lookup(*src, now);
  if (!known || !(*known == n)) ++stats_.l2_learned;
  learn(*src, n, now);  // renews the entry's TTL (both calls hit the front entry)
}

void Engine::emit_frame(std::span<std::uint8_t> frame, std::size_t ip_len, const Neighbor& n) {
  const std::size_t at = eth_header_len();  // where TCP wrote the IP packet
  const std::size_t hl = n.vlan_tci ? wire::kEthHeader + wire::kVlanTag : wire::kEthHeader;
  const std::uint16_t type = (frame[at] >> 4) == 4 ? wire::kEtherTypeIpv4 : wire::kEtherTypeIpv6;
  // A peer whose tagging differs from our interface's (it talked to us tagged on an untagged
  // interface, or the reverse): the packet moves by the tag's 4 bytes. The constructor bounded the
  // MTU so that a tagged header always fits.
  if (hl != at) std::memmove(frame.data() + hl, frame.data() + at, ip_len);
  wire::emit_ethernet(n.mac, cfg_.mac, type, n.vlan_tci, frame);
  io_.tx_commit(hl + ip_len);
  ++stats_.tx_frames;
}

void Engine::no_neighbor(std::span<const std::uint8_t> ip, const std::optional<wire::IpAddr>& nh) {
  // Not sent here is never lost silently: held (sent once the next hop resolves, or counted in
  // l2_held_drops), or counted now (tx_no_route, tx_no_neighbor); TCP's retransmission timer,
  // which did not see the segment acknowledged, sends it again either way.
  if (!nh) {
    ++stats_.tx_no_route;
    return;
  }
  if (l2_pending_ > 0 && hold(ip, *nh)) return;
  // Unknown (never resolved, evicted, or forgotten after a failure): ask the kernel now rather
  // than wait for a frame from the peer.
  const Instant now = clock_.now();
  const int r = resolve_next_hop(*nh, now, /*from_send=*/true);
  if (r == 0) {
    emit_frame(tx_frame_, ip.size(), *neighbors_.lookup(*nh, now));
    return;
  }
  if (r == 1 && hold(ip, *nh)) return;
  ++stats_.tx_no_neighbor;
}

int Engine::connect(tcp::SocketId s, const wire::SockAddr& remote) {
  const Instant now = clock_.now();
  const bool tracked = s >= 0 && static_cast<std::size_t>(s) < l2_socket_.size();
  // A failed earlier connect reports its error first (TcpStack::connect), before any new
  // resolution starts.
  if (const tcp::TcpConnection* c = tcp_->connection(s); c != nullptr && c->so_error != 0) {
    return tcp_->connect(s, remote, now);
  }
  const auto nh = next_hop(remote.ip);
  if (!nh) {
    ++stats_.resolver_failures;
    return -EHOSTUNREACH;  // no route through our interface
  }
  int pending = 0;
  if (!neighbors_.lookup(*nh, now)) {
    pending = resolve_next_hop(*nh, now, /*from_send=*/false);
    if (pending < 0) {
      if (pending == -EHOSTUNREACH) ++stats_.resolver_failures;
      return pending;
    }
  }
  // With the next hop pending the connection still enters SYN-SENT now: its SYN is held by
  // tx_commit() and sent by poll_pending() when the MAC is known.
  const int r = tcp_->connect(s, remote, now);
  if (r == -EINPROGRESS && tracked)
    l2_socket_[static_cast<std::size_t>(s)] = pending == 1 ? kL2Waiting : kL2None;
  return r;
}

int Engine::resolve_next_hop(const wire::IpAddr& nh, Instant now, bool from_send) {
  if (find_pending(nh) >= 0) return 1;  // another connect() or send already waits for it
  if (resolver_ == nullptr) return -EHOSTUNREACH;
  // Bounded: each pending next hop costs a slot of held packets and its share of every poll.
  // ENOBUFS (Linux's "insufficient resources") rather than EAGAIN, which a non-blocking connect()
  // caller would take for "in progress"; the application may retry once some have resolved. A
  // send at the bound asks nothing (a flood of SYNs from unresolvable sources costs no system call
  // per SYN-ACK); connect() still asks, since the answer may be "known".
  if (from_send && l2_pending_ == kMaxPendingNeighbors) {
    ++stats_.l2_pending_full;
    return -ENOBUFS;
  }
  L2Query q;
  q.dst = nh;
  resolver_->lookup(q);  // never waits (L2Resolver)
  switch (q.state) {
    case L2State::kKnown:
      learn(nh, Neighbor{q.mac, cfg_.vlan_tci}, now);
      return 0;
    case L2State::kFailed:
      return -EHOSTUNREACH;
    case L2State::kPending:
      break;
  }
  if (l2_pending_ == kMaxPendingNeighbors) {
    ++stats_.l2_pending_full;
    return -ENOBUFS;
  }
  if (l2_pending_ == 0) next_l2_poll_ = now + cfg_.l2_poll;
  l2_queries_[l2_pending_] = q;
  PendingNeighbor& p = (*l2_held_)[l2_pending_];
  p.deadline = now + cfg_.l2_timeout;
  p.held = 0;
  ++l2_pending_;
  return 1;
}

int Engine::find_pending(const wire::IpAddr& nh) const {
  for (std::size_t i = 0; i < l2_pending_; ++i) {
    if (l2_queries_[i].dst == nh) return static_cast<int>(i);
  }
  return -1;
}

bool Engine::hold(std::span<const std::uint8_t> ip, const wire::IpAddr& nh) {
  const int found = find_pending(nh);
  if (found < 0) return false;
  const auto i = static_cast<std::size_t>(found);
  ++stats_.l2_held;
  PendingNeighbor& p = (*l2_held_)[i];
  if (p.held == kHeldPerNeighbor) {
    // Full: the oldest goes (the kernel's unres_qlen does the same); TCP retransmits it.
    for (std::size_t k = 1; k < kHeldPerNeighbor; ++k) {
      std::memcpy(held_slot(i, k - 1), held_slot(i, k), p.len[k]);
      p.len[k - 1] = p.len[k];
    }
    --p.held;
    ++stats_.l2_held_drops;
  }
  const std::size_t n = std::min(ip.size(), held_cap_);  // TCP never writes more than the MTU
  std::memcpy(held_slot(i, p.held), ip.data(), n);
  p.len[p.held++] = static_cast<std::uint16_t>(n);
  return true;
}

void Engine::poll_pending(Instant now) {
  next_l2_poll_ = now + cfg_.l2_poll;
  resolver_->poll(std::span(l2_queries_.data(), l2_pending_));
  // Downwards: remove_pending() moves the last entry, already looked at, into the hole.
  for (std::size_t i = l2_pending_; i-- > 0;) {
    const L2Query q = l2_queries_[i];
    std::optional<Neighbor> n;
    if (q.state == L2State::kKnown) {
      n = Neighbor{q.mac, cfg_.vlan_tci};
      learn(q.dst, *n, now);
    } else {
      // An accepted segment from the peer may have taught the cache its address meanwhile.
      n = neighbors_.lookup(q.dst, now);
    }
    if (n) {
      send_held(i, *n);
      ++stats_.l2_resolved;
      remove_pending(i);
    } else if (q.state == L2State::kFailed || now >= (*l2_held_)[i].deadline) {
      stats_.l2_held_drops += (*l2_held_)[i].held;
      remove_pending(i);
      fail_waiters(q.dst, now);
    }
  }
}

void Engine::send_held(std::size_t i, const Neighbor& n) {
  PendingNeighbor& p = (*l2_held_)[i];
  const std::size_t at = eth_header_len();
  for (std::size_t k = 0; k < p.held; ++k) {
    const std::span<std::uint8_t> frame = io_.tx_acquire();
    if (frame.size() < wire::kEthHeader + wire::kVlanTag + p.len[k]) {
      stats_.l2_held_drops += p.held - k;  // TX ring full: TCP retransmits
      break;
    }
    std::memcpy(frame.data() + at, held_slot(i, k), p.len[k]);
    emit_frame(frame, p.len[k], n);
    ++stats_.l2_held_sent;
  }
  p.held = 0;
}

void Engine::remove_pending(std::size_t i) {
  const std::size_t last = l2_pending_ - 1;
  if (i != last) {
    l2_queries_[i] = l2_queries_[last];
    PendingNeighbor& to = (*l2_held_)[i];
    const PendingNeighbor& from = (*l2_held_)[last];
    for (std::size_t k = 0; k < from.held; ++k) std::memcpy(held_slot(i, k), held_slot(last, k), from.len[k]);
    to = from;
  }
  (*l2_held_)[last].held = 0;
  --l2_pending_;
}

void Engine::fail_waiters(const wire::IpAddr& nh, Instant now) {
  // The connections waiting for `nh`: a scan of the per-socket marks, on this rare event only.
  for (std::size_t i = 0; i < l2_socket_.size(); ++i) {
    if (l2_socket_[i] != kL2Waiting) continue;
    const auto s = static_cast<tcp::SocketId>(i);
    const tcp::TcpConnection* c = tcp_->connection(s);
    if (c == nullptr || c->state != tcp::TcpState::kSynSent) {
      l2_socket_[i] = kL2None;  // resolved earlier, or closed: a stale mark
      continue;
    }
    const auto its = next_hop(c->tuple.remote.ip);
    if (!its || !(*its == nh)) continue;
    // The kernel gave up on the next hop: the connection fails with EHOSTUNREACH and sends no RST,
    // as Linux's does when its neighbour does not resolve (RFC 1122 §4.2.3.9).
    l2_socket_[i] = kL2None;
    (void)tcp_->abort(s, EHOSTUNREACH, now);
    ++stats_.resolver_failures;
  }
}

}  // namespace xdptcp::engine
