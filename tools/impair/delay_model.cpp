// DelayModel and Rng (see delay_model.h).
#include "tools/impair/delay_model.h"

#include <cmath>

namespace xdptcp::impair {

std::uint32_t percent_to_ppm(double percent) {
  if (!(percent > 0.0)) return 0;  // also NaN
  if (percent >= 100.0) return kPpmOne;
  return static_cast<std::uint32_t>(std::llround(percent * 10000.0));
}

Rng::Rng(std::uint64_t seed) {
  std::uint64_t x = seed + 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  x ^= x >> 31;
  state_ = x != 0 ? x : 1;  // xorshift never leaves 0
}

std::uint32_t Rng::next32() {
  std::uint64_t x = state_;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  state_ = x;
  return static_cast<std::uint32_t>((x * 0x2545f4914f6cdd1dULL) >> 32);
}

std::uint64_t Rng::below(std::uint64_t bound) {
  if (bound == 0) return 0;
  const std::uint64_t r = (static_cast<std::uint64_t>(next32()) << 32) | next32();
  return r % bound;
}

DelayModel::Decision DelayModel::decide(std::uint64_t arrival_ns) {
  std::uint64_t release = arrival_ns + p_.delay_ns;
  if (p_.jitter_ns != 0) release += rng_.below(p_.jitter_ns + 1);
  const bool pick = rng_.chance_ppm(p_.reorder_ppm);
  if (pick) release += p_.reorder_extra_ns;
  return Decision{release, pick};
}

}  // namespace xdptcp::impair
