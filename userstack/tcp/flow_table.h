// The connection demultiplexing table: FourTuple -> TCB index, open addressing with linear
// probing and backward-shift deletion (no tombstones, so lookups never degrade). Its capacity is
// fixed at construction (a power of two at least twice the bound on entries), so insert never
// allocates and never fails while the entry count stays within that bound.
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

  std::optional<std::uint32_t> find(const wire::FourTuple& t) const;
  // False when the tuple is already present or the table holds max_entries.
  bool insert(const wire::FourTuple& t, std::uint32_t value);
  // False when absent.
  bool erase(const wire::FourTuple& t);
  std::size_t size() const { return size_; }

 private:
  static constexpr std::uint32_t kEmpty = 0xFFFFFFFFu;
  struct Entry {
    wire::FourTuple tuple;
    std::uint32_t value = kEmpty;
    std::uint32_t hash = 0;
  };
  std::uint32_t hash_of(const wire::FourTuple& t) const;

  std::vector<Entry> slots_;
  std::size_t mask_;
  std::size_t size_ = 0;
  std::size_t max_entries_;
  HashKey key_;
};

}  // namespace xdptcp::tcp
