// A latency histogram with HdrHistogram-like log buckets: 16 linear sub-buckets per power of two
// (at most 1/16 = 6.25% relative error), nanoseconds up to 2^63. Fixed size, no allocation in
// record(), so the client's loop allocates nothing; histograms of several threads merge by adding.
#pragma once

#include <array>
#include <bit>
#include <cstdint>

namespace xdptcp::bench {

class LatencyHistogram {
 public:
  static constexpr int kSubBits = 4;
  static constexpr int kSub = 1 << kSubBits;
  static constexpr int kBuckets = (64 - kSubBits + 1) * kSub;

  void record(std::uint64_t ns) {
    ++counts_[index(ns)];
    ++total_;
  }
  void merge(const LatencyHistogram& o) {
    for (int i = 0; i < kBuckets; ++i) counts_[i] += o.counts_[i];
    total_ += o.total_;
  }
  void reset() { *this = LatencyHistogram{}; }
  std::uint64_t count() const { return total_; }

  // The value at quantile q (0..1), as the midpoint of its bucket; 0 when empty.
  std::uint64_t percentile(double q) const {
    if (total_ == 0) return 0;
    auto rank = static_cast<std::uint64_t>(q * static_cast<double>(total_));
    if (rank >= total_) rank = total_ - 1;
    std::uint64_t seen = 0;
    for (int i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen > rank) return (lower(i) + lower(i + 1)) / 2;
    }
    return lower(kBuckets - 1);
  }

 private:
  // Values below 2^kSubBits are exact; above, the top kSubBits+1 bits select the bucket.
  static int index(std::uint64_t v) {
    if (v < static_cast<std::uint64_t>(kSub)) return static_cast<int>(v);
    const int msb = 63 - std::countl_zero(v);
    const int shift = msb - kSubBits;
    return (shift + 1) * kSub + static_cast<int>((v >> shift) & (kSub - 1));
  }
  static std::uint64_t lower(int i) {
    if (i < kSub) return static_cast<std::uint64_t>(i);
    const int shift = i / kSub - 1;
    return (static_cast<std::uint64_t>(kSub) + static_cast<std::uint64_t>(i % kSub)) << shift;
  }

  std::array<std::uint64_t, kBuckets> counts_{};
  std::uint64_t total_ = 0;
};

}  // namespace xdptcp::bench
