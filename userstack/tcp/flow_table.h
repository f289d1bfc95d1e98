// The connection demultiplexing table: FourTuple -> TCB index, open addressing with linear
// probing and backward-shift deletion (no tombstones, so lookups never degrade). Its capacity is
// fixed at construction (a power of two at least twice the bound on entries), so insert never
// allocates and never fails while the entry count stays within that bound.
//
// Values are distinct indexes below max_entries (TCB indexes: a TCB is in the table under one
// tuple at most). That lets a slot be 8 bytes, a 32-bit hash and the value, with the tuples kept
// apart in an array indexed by value: a probe run stays in one or two cache lines, and the tuple
// is read once, on a hash match (the table of a 16k-socket engine is 512 KiB, not 3 MiB).
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

  std::optional<std::uint32_t> find(const wire::FourTuple& t) const { return find(t, hash(t)); }
  std::optional<std::uint32_t> find(const wire::FourTuple& t, std::uint64_t hash) const;
  // False when the tuple is already present, the table holds max_entries, or value is not below
  // max_entries. A value must not be in the table under another tuple.
  bool insert(const wire::FourTuple& t, std::uint32_t value) { return insert(t, value, hash(t)); }
  bool insert(const wire::FourTuple& t, std::uint32_t value, std::uint64_t hash);
  // False when absent.
  bool erase(const wire::FourTuple& t) { return erase(t, hash(t)); }
  bool erase(const wire::FourTuple& t, std::uint64_t hash);
  std::size_t size() const { return size_; }

 private:
  static constexpr std::uint32_t kEmpty = 0xFFFFFFFFu;
  struct Slot {
    std::uint32_t hash = 0;
    std::uint32_t value = kEmpty;
  };
  std::vector<Slot> slots_;
  std::vector<wire::FourTuple> tuples_;  // by value
  std::size_t mask_;
  std::size_t size_ = 0;
  std::size_t max_entries_;
  std::uint64_t hash_key_;
};

}  // namespace xdptcp::tcp
