// DelayModel: when a frame that arrives now may leave, for `xdptcp-impair delay`.
//   release = arrival + delay + jitter + (reorder pick ? reorder_extra : 0)
// jitter is uniform in [0, jitter_ns]; a frame is a reorder pick with probability reorder_ppm / 10^6,
// and its extra delay lets the frames behind it overtake it. Jitter larger than the gap between two
// frames reorders them too (netem does the same). The generator is seeded, so a run's sequence of
// decisions is reproducible (the arrival times of a real network are not).
#pragma once

#include <cstdint>

namespace xdptcp::impair {

inline constexpr std::uint32_t kPpmOne = 1000000;

// Percent (0..100, fractions allowed) to parts per million, rounded; out of range is clamped.
std::uint32_t percent_to_ppm(double percent);

// splitmix64 seeding + xorshift64* (the same generator as bpf/impair.bpf.c).
class Rng {
 public:
  explicit Rng(std::uint64_t seed);
  std::uint32_t next32();
  std::uint64_t below(std::uint64_t bound);  // uniform enough in [0, bound) for bound < 2^32; 0 if bound 0
  bool chance_ppm(std::uint32_t ppm) { return ppm != 0 && next32() % kPpmOne < ppm; }

 private:
  std::uint64_t state_;
};

struct DelayParams {
  std::uint64_t delay_ns = 0;
  std::uint64_t jitter_ns = 0;
  std::uint32_t reorder_ppm = 0;
  std::uint64_t reorder_extra_ns = 0;
};

class DelayModel {
 public:
  struct Decision {
    std::uint64_t release_ns;
    bool reorder_pick;
  };
  DelayModel(DelayParams params, std::uint64_t seed) : p_(params), rng_(seed) {}
  Decision decide(std::uint64_t arrival_ns);
  const DelayParams& params() const { return p_; }

 private:
  DelayParams p_;
  Rng rng_;
};

}  // namespace xdptcp::impair
