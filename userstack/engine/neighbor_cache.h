// Next hop -> link address (MAC and 802.1Q tag), the only layer-2 state an engine keeps (the
// neighbour model, docs/ARCHITECTURE.md). Keyed by the next hop as the kernel's neighbour table
// is (route_table.h: the gateway of a routed peer, the peer itself on-link), so every peer behind
// one gateway shares one entry. Filled from two sources only (issue 11 item 3):
//  - the kernel's neighbour table, through the engine's L2Resolver, when a send finds no entry;
//  - a segment that TCP accepted for a connection it already has (in window, right state), from
//    an on-link peer: its source MAC and tag. Never from an arbitrary frame, so a forged frame
//    with a spoofed source address cannot redirect the replies.
// xdptcp never sends ARP or ND itself.
//
// Bounded: a fixed open-addressing table, allocated once (slots_for(): a power of two at least the
// engine's max_sockets, since each connection needs at most one next hop), with linear probing over
// a short window. At the bound the entry of the probe window that was used least recently is
// replaced and counted (evictions()); a send that then misses asks the kernel again and waits for
// the answer in the engine's hold queue (engine.h), so an eviction costs a resolution, never a frame.
//
// Entries expire (the kernel's neighbour entries need confirmation too): an entry from the kernel
// is good for EngineConfig::neighbor_ttl, one from accepted segments is renewed by each of them. An
// expired entry is a miss, so the next send asks the kernel again: a gateway that changed its MAC
// (a failover) is followed within the TTL, without a frame from it.
//
// In front of the table sits the entry used last: an engine's frames mostly go to one next hop (the
// gateway, or a few peers in turn), so the common case costs one address compare, no hash.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>

#include "userstack/time/clock.h"
#include "userstack/wire/ethernet.h"
#include "userstack/wire/ip_addr.h"

namespace xdptcp::engine {

struct Neighbor {
  wire::MacAddr mac{};
  std::optional<std::uint16_t> vlan_tci;  // the 802.1Q tag frames to it carry, if any
  bool operator==(const Neighbor&) const = default;
};

class NeighborCache {
 public:
  static constexpr std::size_t kMinSlots = 256;
  static constexpr std::size_t kMaxSlots = 65536;
  static constexpr std::size_t kProbe = 8;

  // The table size for an engine of `max_sockets` connections.
  static constexpr std::size_t slots_for(std::size_t max_sockets) {
    return std::bit_ceil(std::clamp(max_sockets, kMinSlots, kMaxSlots));
  }

  explicit NeighborCache(std::size_t slots = kMinSlots)
      : mask_(std::bit_ceil(std::clamp(slots, kMinSlots, kMaxSlots)) - 1),
        slots_(std::make_unique<Entry[]>(mask_ + 1)) {}

  static constexpr Instant kNever{std::numeric_limits<std::int64_t>::max()};

  // Inserts or updates the entry of next hop `ip`, valid until `expires`; true when that evicted
  // another next hop.
  bool learn(const wire::IpAddr& ip, const Neighbor& n, Instant expires = kNever) {
    Entry& l = slots_[last_];
    if (l.used && l.ip == ip && l.n == n) {
      l.stamp = ++clock_;  // still the most recently used: never the LRU victim
      l.expires = expires;
      return false;
    }
    return learn_slow(ip, n, expires);
  }

  // The entry of `ip` unless it expired before `now`.
  std::optional<Neighbor> lookup(const wire::IpAddr& ip, Instant now = Instant{}) {
    Entry& l = slots_[last_];
    if (l.used && l.ip == ip) {
      if (l.expires < now) return std::nullopt;
      l.stamp = ++clock_;
      return l.n;
    }
    return lookup_slow(ip, now);
  }

  // Forgets `ip` (the kernel says its entry failed); true when there was one.
  bool forget(const wire::IpAddr& ip) {
    Entry* e = find(ip);
    if (e == nullptr) return false;
    e->used = false;
    --size_;
    return true;
  }

  std::size_t size() const { return size_; }
  std::size_t capacity() const { return mask_ + 1; }
  std::uint64_t evictions() const { return evictions_; }

 private:
  struct Entry {
    wire::IpAddr ip;
    Neighbor n;
    Instant expires{};
    std::uint64_t stamp = 0;
    bool used = false;
  };

  Entry* find(const wire::IpAddr& ip) {
    const std::size_t h = hash(ip);
    for (std::size_t i = 0; i < kProbe; ++i) {
      Entry& e = slots_[(h + i) & mask_];
      if (e.used && e.ip == ip) return &e;
    }
    return nullptr;
  }

  bool learn_slow(const wire::IpAddr& ip, const Neighbor& n, Instant expires) {
    const std::size_t h = hash(ip);
    Entry* victim = nullptr;
    for (std::size_t i = 0; i < kProbe; ++i) {
      Entry& e = slots_[(h + i) & mask_];
      if (e.used && e.ip == ip) {
        e.n = n;
        e.expires = expires;
        e.stamp = ++clock_;
        last_ = (h + i) & mask_;
        return false;
      }
      if (!e.used) {
        if (victim == nullptr || victim->used) victim = &e;
      } else if (victim == nullptr || (victim->used && e.stamp < victim->stamp)) {
        victim = &e;
      }
    }
    const bool evicted = victim->used;
    if (evicted) {
      ++evictions_;
    } else {
      ++size_;
    }
    *victim = Entry{ip, n, expires, ++clock_, true};
    last_ = static_cast<std::size_t>(victim - slots_.get());
    return evicted;
  }

  std::optional<Neighbor> lookup_slow(const wire::IpAddr& ip, Instant now) {
    Entry* e = find(ip);
    if (e == nullptr || e->expires < now) return std::nullopt;
    e->stamp = ++clock_;
    last_ = static_cast<std::size_t>(e - slots_.get());
    return e->n;
  }

  static std::size_t hash(const wire::IpAddr& ip) {
    // FNV-1a over the address bytes: cheap, and the keys are next hops (our gateways and on-link
    // peers that TCP or the kernel vouched for), not addresses an attacker picks freely.
    std::uint64_t h = 1469598103934665603ULL;
    for (std::size_t i = 0; i < ip.size(); ++i) h = (h ^ ip.bytes[i]) * 1099511628211ULL;
    return static_cast<std::size_t>(h ^ (h >> 29));
  }

  std::size_t mask_;
  std::unique_ptr<Entry[]> slots_;
  // The index of the slot used last. An index, not a copy: the fast path always compares against the
  // slot's current content, so an entry evicted and replaced there is never served stale.
  std::size_t last_ = 0;
  std::uint64_t clock_ = 0;
  std::size_t size_ = 0;
  std::uint64_t evictions_ = 0;
};

}  // namespace xdptcp::engine
