// The connection demultiplexing table: FourTuple -> TCB index, open addressing with linear
// probing and backward-shift deletion (no tombstones, so lookups never degrade). Its capacity is
// fixed at construction (a power of two at least twice the bound on entries), so insert never
// allocates and never fails while the entry count stays within that bound.
//
// The table does not store tuples: a slot is 8 bytes, a 32-bit hash and the value (a TCB index),
// and the caller's key_of(value) gives the tuple an entry was inserted under (the TCB's own
// tuple, which must not change while the entry exists). A probe run then stays in one or two
// cache lines, the tuple is read only on a hash match, and that read is of the TCB the caller
// touches next anyway (the table of a 16k-socket engine is 512 KiB, not 3 MiB).
//
// The table hashes with wire::hash_four_tuple (a few 64-bit multiplies) under a 64-bit key derived
// from the stack's secret at construction, so peers cannot aim tuples at one probe run (hash
// flooding) without knowing it; SipHash stays for ISNs and SYN cookies, which need a PRF. Callers
// on the per-segment path compute hash() once and pass it to find/insert/erase; it must be this
// table's hash() of the same tuple.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "userstack/tcp/keyed_hash.h"
#include "userstack/wire/ip_addr.h"

namespace xdptcp::tcp {

class FlowTable {
 public:
  // Holds up to max_entries entries; the key keeps the hash unpredictable to peers.
  FlowTable(std::size_t max_entries, HashKey key);

  std::uint64_t hash(const wire::FourTuple& t) const { return wire::hash_four_tuple(t, hash_key_); }

  // KeyOf: const wire::FourTuple& (std::uint32_t value), the tuple stored under a value.
  template <typename KeyOf>
  std::optional<std::uint32_t> find(const wire::FourTuple& t, std::uint64_t hash, const KeyOf& key_of) const {
    const Probe p = probe(t, hash, key_of);
    if (!p.found) return std::nullopt;
    return slots_[p.slot].value;
  }
  // False when the tuple is already present or the table holds max_entries. key_of(value) must
  // already give t.
  template <typename KeyOf>
  bool insert(const wire::FourTuple& t, std::uint32_t value, std::uint64_t hash, const KeyOf& key_of) {
    if (size_ >= max_entries_) return false;
    const Probe p = probe(t, hash, key_of);
    if (p.found) return false;
    slots_[p.slot] = Slot{static_cast<std::uint32_t>(hash), value};
    ++size_;
    return true;
  }
  // False when absent.
  template <typename KeyOf>
  bool erase(const wire::FourTuple& t, std::uint64_t hash, const KeyOf& key_of) {
    const Probe p = probe(t, hash, key_of);
    if (p.found) remove_at(p.slot);
    return p.found;
  }
  std::size_t size() const { return size_; }
  // Bytes of the slot array (fixed at construction).
  std::size_t memory_bytes() const { return slots_.capacity() * sizeof(Slot); }

 private:
  static constexpr std::uint32_t kEmpty = 0xFFFFFFFFu;
  struct Slot {
    std::uint32_t hash = 0;
    std::uint32_t value = kEmpty;
  };
  // The probe run of hash: the slot holding t (found), or the empty slot that ends the run.
  struct Probe {
    std::size_t slot;
    bool found;
  };
  template <typename KeyOf>
  Probe probe(const wire::FourTuple& t, std::uint64_t hash, const KeyOf& key_of) const {
    const auto h = static_cast<std::uint32_t>(hash);
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Slot& e = slots_[i];
      if (e.value == kEmpty) return {i, false};
      if (e.hash == h && key_of(e.value) == t) return {i, true};
    }
  }
  void remove_at(std::size_t i);

  std::vector<Slot> slots_;
  std::size_t mask_;
  std::size_t size_ = 0;
  std::size_t max_entries_;
  std::uint64_t hash_key_;
};

}  // namespace xdptcp::tcp
