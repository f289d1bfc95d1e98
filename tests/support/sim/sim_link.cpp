// SimLink: see sim_link.h for the order in which impairments apply.
#include "tests/support/sim/sim_link.h"

#include <algorithm>
#include <cassert>
#include <cstring>

namespace xdptcp::sim {

SimLink::SimLink(const LinkConfig& cfg, const Clock& clock) : cfg_(cfg), clock_(clock), rng_(cfg.seed) {
  assert(cfg_.slots > 0 && cfg_.slots < kNone && cfg_.max_packet > 0);
  storage_.assign(cfg_.slots * cfg_.max_packet, 0);
  slots_.resize(cfg_.slots);
  free_.reserve(cfg_.slots);
  heap_.reserve(cfg_.slots);
  // Pop order hands out slot 0 first; any order would do, but a fixed one keeps runs identical.
  for (std::size_t i = cfg_.slots; i-- > 0;) free_.push_back(static_cast<std::uint32_t>(i));
  queue_ends_.resize(std::max<std::size_t>(cfg_.queue_limit, 1));
}

// 53 random bits as a double in [0, 1): the same on every standard library, unlike
// std::uniform_real_distribution, so a seed means the same trace everywhere.
double SimLink::unit() {
  return static_cast<double>(rng_() >> 11) * 0x1.0p-53;
}

std::uint64_t SimLink::below(std::uint64_t n) {
  return rng_() % n;
}

std::span<std::uint8_t> SimLink::tx_acquire() {
  if (pending_ == kNone) {
    if (free_.empty()) {
      ++stats_.tx_busy;
      return {};
    }
    pending_ = free_.back();
    free_.pop_back();
  }
  return {data(pending_), cfg_.max_packet};
}

bool SimLink::send(std::span<const std::uint8_t> packet, std::uint32_t dst) {
  if (packet.size() > cfg_.max_packet) {
    ++stats_.oversize;
    return false;
  }
  std::span<std::uint8_t> buf = tx_acquire();
  if (buf.empty()) return false;
  std::memcpy(buf.data(), packet.data(), packet.size());
  tx_commit(packet.size(), dst);
  return true;
}

void SimLink::tx_commit(std::size_t len, std::uint32_t dst) {
  if (pending_ == kNone) return;
  const std::uint32_t s = pending_;
  pending_ = kNone;
  assert(len <= cfg_.max_packet);
  ++stats_.sent;
  const Instant now = clock_.now();

  // Every packet makes the same draws whatever the configuration, so that turning one
  // impairment up does not reshuffle the others' choices for the same seed.
  const double u_loss = unit();
  const double u_reorder = unit();
  const double u_dup = unit();
  const double u_corrupt = unit();
  const double u_corrupt_dup = unit();
  const std::uint64_t r_jitter = rng_();

  if (u_loss < cfg_.loss) {
    ++stats_.lost;
    free_.push_back(s);
    return;
  }

  // 2. The bottleneck: a FIFO drained at bandwidth_bps; a packet is in it until its last bit
  // has been serialised.
  Instant depart = now;
  if (cfg_.bandwidth_bps > 0) {
    while (queue_len_ > 0 && queue_ends_[queue_head_] <= now) {
      queue_head_ = (queue_head_ + 1) % queue_ends_.size();
      --queue_len_;
    }
    if (queue_len_ >= cfg_.queue_limit) {
      ++stats_.queue_drops;
      free_.push_back(s);
      return;
    }
    const std::int64_t tx_ns = static_cast<std::int64_t>(
        (static_cast<unsigned __int128>(len) * 8 * 1'000'000'000) / cfg_.bandwidth_bps);
    depart = std::max(now, link_free_at_) + Duration::nanos(tx_ns);
    link_free_at_ = depart;
    queue_ends_[(queue_head_ + queue_len_) % queue_ends_.size()] = depart;
    ++queue_len_;
  }

  // 3. Propagation and jitter, never earlier than a packet committed before (no reordering),
  // unless jitter_reorders asks for independent per-packet jitter (netem, xdptcp-impair).
  Instant at = depart + cfg_.delay;
  if (cfg_.jitter.ns > 0) at += Duration::nanos(static_cast<std::int64_t>(r_jitter % (cfg_.jitter.ns + 1)));
  if (!cfg_.jitter_reorders) at = std::max(at, last_in_order_);

  // 4. Reordering: this packet is held back; the ones after it keep their times.
  if (u_reorder < cfg_.reorder) {
    ++stats_.reordered;
    at += cfg_.reorder_delay;
  } else {
    last_in_order_ = at;
  }

  slots_[s].len = static_cast<std::uint32_t>(len);
  slots_[s].dst = dst;

  // 5. Duplication: a copy right behind the original (same time, later in commit order).
  if (u_dup < cfg_.duplicate && !free_.empty()) {
    const std::uint32_t d = free_.back();
    free_.pop_back();
    ++stats_.duplicated;
    std::memcpy(data(d), data(s), len);
    slots_[d].len = slots_[s].len;
    slots_[d].dst = dst;
    if (u_corrupt_dup < cfg_.corrupt) corrupt_slot(d);
    schedule(s, at);
    schedule(d, at);
  } else {
    schedule(s, at);
  }
  // 6. Corruption of the original (after the copy, so the copy is corrupted independently).
  if (u_corrupt < cfg_.corrupt) corrupt_slot(s);
}

void SimLink::corrupt_slot(std::uint32_t s) {
  const std::uint32_t len = slots_[s].len;
  if (len == 0) return;
  ++stats_.corrupted;
  for (unsigned i = 0; i < cfg_.corrupt_bytes; ++i) {
    const std::uint64_t r = rng_();
    const std::size_t pos = static_cast<std::size_t>((r >> 8) % len);
    data(s)[pos] ^= static_cast<std::uint8_t>(1 + (r & 0xff) % 255);  // non-zero: always a change
  }
}

bool SimLink::earlier(std::uint32_t a, std::uint32_t b) const {
  const Slot& x = slots_[a];
  const Slot& y = slots_[b];
  return x.deliver_at != y.deliver_at ? x.deliver_at < y.deliver_at : x.order < y.order;
}

void SimLink::schedule(std::uint32_t s, Instant at) {
  slots_[s].deliver_at = at;
  slots_[s].order = next_order_++;
  heap_.push_back(s);  // within the reserved capacity: never reallocates
  std::push_heap(heap_.begin(), heap_.end(),
                 [this](std::uint32_t a, std::uint32_t b) { return earlier(b, a); });
}

std::uint32_t SimLink::pop_due(Instant now) {
  if (heap_.empty() || slots_[heap_.front()].deliver_at > now) return kNone;
  std::pop_heap(heap_.begin(), heap_.end(),
                [this](std::uint32_t a, std::uint32_t b) { return earlier(b, a); });
  const std::uint32_t s = heap_.back();
  heap_.pop_back();
  return s;
}

std::optional<Instant> SimLink::next_delivery() const {
  if (heap_.empty()) return std::nullopt;
  return slots_[heap_.front()].deliver_at;
}

}  // namespace xdptcp::sim
