// Summaries over a benchmark's rounds, shared by compare's and app's tables.
#pragma once

#include <algorithm>
#include <vector>

namespace xdptcp::bench {

inline double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// (max - min) / median, in percent; 0 when there is nothing to compare.
inline double spread_pct(const std::vector<double>& v, double med) {
  if (v.empty() || med <= 0) return 0;
  const auto [mn, mx] = std::minmax_element(v.begin(), v.end());
  return (*mx - *mn) / med * 100;
}

}  // namespace xdptcp::bench
