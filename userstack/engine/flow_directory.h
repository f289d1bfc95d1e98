// Which engine of a stack owns a flow that the ephemeral port slices do not name: the passive opens
// (and active opens from a port chosen by bind()). The cross-engine hand-off asks it when a segment
// arrives on an engine that has no connection for it (design brief §5: after an RTO the peer's
// kernel re-hashes the flow to another TX queue, which on veth is another RX queue here), so a
// segment is handed off only to an owner that is known, and at most once (issue 11, item 1). A flow
// the directory does not know is answered where it lands, as the stack would answer it: a SYN
// cookie is checked there (the engines share one secret), anything else draws the RST.
//
// Shared by the engines of one stack (threads of one process): each engine inserts and erases its
// own flows, when a connection is created and when its TCB is freed (the connection path, not the
// per-packet path), and any engine looks flows up on a miss. Lock-free: a slot is one 64-bit word,
// written with a compare-and-swap, holding a 55-bit fingerprint of the flow's keyed hash and the
// owner's engine id. The hash is keyed with a random key drawn at construction, so peers cannot aim
// tuples at one probe window.
//
// Bounded: a fixed table of slots (a power of two, at least twice the flows it is sized for), probed
// over a window of kProbe slots. At the bound (no free slot in the window) insert() fails and the
// flow stays unknown to the other engines: its misdelivered segments are answered where they land,
// as before the connection existed (counted by the caller). A false match (two flows with one
// fingerprint, about 2^-55 per lookup) hands a segment to an engine that answers it as unknown.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

#include "userstack/wire/ip_addr.h"

namespace xdptcp::engine {

class FlowDirectory {
 public:
  static constexpr std::size_t kProbe = 16;

  // Room for at least `flows` flows at once (the sum of the engines' TCB pools).
  explicit FlowDirectory(std::size_t flows);

  // Records that engine `owner` holds the flow. False at the bound.
  bool insert(const wire::FourTuple& t, std::uint8_t owner);
  // Forgets the flow `owner` recorded (nothing when it was never recorded).
  void erase(const wire::FourTuple& t, std::uint8_t owner);
  // The engine that holds the flow, or nullopt when none recorded it.
  std::optional<std::uint8_t> find(const wire::FourTuple& t) const;

  std::size_t slots() const { return mask_ + 1; }

 private:
  // A slot: 0 empty (ends a lookup's probe), kTombstone erased (reusable, does not end a probe),
  // else tag(fingerprint) | owner: the fingerprint's low 55 bits above the owner byte, top bit set
  // (so never 0 or kTombstone).
  static constexpr std::uint64_t kEmpty = 0;
  static constexpr std::uint64_t kTombstone = 1;

  std::uint64_t fingerprint(const wire::FourTuple& t) const;
  static std::uint64_t tag(std::uint64_t fp);

  std::unique_ptr<std::atomic<std::uint64_t>[]> slots_;
  std::size_t mask_;
  std::uint64_t key_;
};

}  // namespace xdptcp::engine
