// FlowTable: see flow_table.h.
#include "userstack/tcp/flow_table.h"

namespace xdptcp::tcp {

namespace {

// The table's key: a SipHash PRF output of the stack's key, so it reveals nothing about the key
// that ISNs and SYN cookies use.
std::uint64_t table_key(const HashKey& key) {
  static constexpr std::uint8_t kLabel[] = {'f', 'l', 'o', 'w', 't', 'a', 'b', 'l', 'e'};
  return siphash24(key, kLabel);
}

}  // namespace

FlowTable::FlowTable(std::size_t max_entries, HashKey key)
    : max_entries_(max_entries), hash_key_(table_key(key)) {
  std::size_t cap = 16;
  while (cap < 2 * max_entries) cap <<= 1;
  slots_.resize(cap);
  mask_ = cap - 1;
}

void FlowTable::remove_at(std::size_t i) {
  // Backward-shift deletion (Knuth 6.4 algorithm R): move later entries of the probe run into
  // the hole when their home slot does not lie cyclically in (hole, their position].
  std::size_t hole = i;
  for (std::size_t j = (hole + 1) & mask_;; j = (j + 1) & mask_) {
    const Slot& e = slots_[j];
    if (e.value == kEmpty) break;
    const std::size_t home = e.hash & mask_;
    const bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
    if (!stays) {
      slots_[hole] = e;
      hole = j;
    }
  }
  slots_[hole].value = kEmpty;
  --size_;
}

}  // namespace xdptcp::tcp
