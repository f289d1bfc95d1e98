// Remote IP -> next-hop MAC, the only layer-2 state an engine keeps. Filled from two sources:
// the source MAC of every frame a flow of ours arrives in (which is, by construction, the next
// hop towards that peer: the peer itself on-link, or the gateway), and the kernel's neighbour
// table (via L2Resolver) before an active open. xdptcp never sends ARP or ND itself.
//
// Bounded: a fixed open-addressing table of kSlots entries with linear probing over a short
// window; at the bound, the entry in the probe window that was used least recently is replaced
// (a miss only costs a re-learn from the next received frame or a resolver call).
//
// In front of the table sits the entry used last: an engine's frames mostly go to and come from
// one next hop (the gateway, or a few peers in turn), and learn() runs for every received frame
// and lookup() for every sent one, so the common case costs one address compare, no hash.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "userstack/wire/ethernet.h"
#include "userstack/wire/ip_addr.h"

namespace xdptcp::engine {

class NeighborCache {
 public:
  static constexpr std::size_t kSlots = 4096;  // power of two
  static constexpr std::size_t kProbe = 8;

  void learn(const wire::IpAddr& ip, const wire::MacAddr& mac) {
    Entry& l = slots_[last_];
    if (l.used && l.ip == ip && l.mac == mac) {
      l.stamp = ++clock_;  // still the most recently used: never the LRU victim
      return;
    }
    learn_slow(ip, mac);
  }

  std::optional<wire::MacAddr> lookup(const wire::IpAddr& ip) {
    Entry& l = slots_[last_];
    if (l.used && l.ip == ip) {
      l.stamp = ++clock_;
      return l.mac;
    }
    return lookup_slow(ip);
  }

  std::size_t size() const { return size_; }

 private:
  struct Entry {
    wire::IpAddr ip;
    wire::MacAddr mac;
    std::uint64_t stamp = 0;
    bool used = false;
  };

  void learn_slow(const wire::IpAddr& ip, const wire::MacAddr& mac) {
    const std::size_t h = hash(ip);
    Entry* victim = nullptr;
    for (std::size_t i = 0; i < kProbe; ++i) {
      Entry& e = slots_[(h + i) & (kSlots - 1)];
      if (e.used && e.ip == ip) {
        e.mac = mac;
        e.stamp = ++clock_;
        last_ = (h + i) & (kSlots - 1);
        return;
      }
      if (!e.used) {
        if (victim == nullptr || victim->used) victim = &e;
      } else if (victim == nullptr || (victim->used && e.stamp < victim->stamp)) {
        victim = &e;
      }
    }
    if (!victim->used) ++size_;
    *victim = Entry{ip, mac, ++clock_, true};
    last_ = static_cast<std::size_t>(victim - slots_.data());
  }

  std::optional<wire::MacAddr> lookup_slow(const wire::IpAddr& ip) {
    const std::size_t h = hash(ip);
    for (std::size_t i = 0; i < kProbe; ++i) {
      Entry& e = slots_[(h + i) & (kSlots - 1)];
      if (e.used && e.ip == ip) {
        e.stamp = ++clock_;
        last_ = (h + i) & (kSlots - 1);
        return e.mac;
      }
    }
    return std::nullopt;
  }
  static std::size_t hash(const wire::IpAddr& ip) {
    // FNV-1a over the address bytes: cheap, and this table is not exposed to chosen keys beyond
    // the peers that actually reach us.
    std::uint64_t h = 1469598103934665603ULL;
    for (std::size_t i = 0; i < ip.size(); ++i) h = (h ^ ip.bytes[i]) * 1099511628211ULL;
    return static_cast<std::size_t>(h ^ (h >> 29));
  }

  std::array<Entry, kSlots> slots_{};
  // The index of the slot used last. An index, not a copy: the fast path always compares against the
  // slot's current content, so an entry evicted and replaced there is never served stale.
  std::size_t last_ = 0;
  std::uint64_t clock_ = 0;
  std::size_t size_ = 0;
};

}  // namespace xdptcp::engine
