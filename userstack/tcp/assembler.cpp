// Assembler (assembler.h): a small sorted array of disjoint, non-touching byte ranges. At most
// kMaxRanges entries, so linear scans and shifts are cheaper than any tree.
#include "userstack/tcp/assembler.h"

#include <algorithm>
#include <limits>

namespace xdptcp::tcp {

Assembler::Assembler(std::size_t max_ranges) : max_ranges_(std::min(max_ranges, kMaxRanges)) {}

bool Assembler::add(std::uint32_t offset, std::uint32_t length) {
  // Offsets never come near 2^32 (they are bounded by the receive window); clip rather than wrap.
  length = std::min<std::uint32_t>(length, std::numeric_limits<std::uint32_t>::max() - offset);
  if (length == 0) return true;
  const std::uint32_t end = offset + length;

  // [first, last) are the ranges that overlap or touch the new one; they merge into one.
  std::size_t first = 0;
  while (first < count_ && ranges_[first].end() < offset) ++first;
  std::size_t last = first;
  while (last < count_ && ranges_[last].offset <= end) ++last;

  if (first == last) {  // disjoint from everything: insert at `first`
    if (count_ >= max_ranges_) return false;
    std::copy_backward(ranges_.begin() + first, ranges_.begin() + count_, ranges_.begin() + count_ + 1);
    ranges_[first] = ByteRange{offset, length};
    ++count_;
    return true;
  }
  const std::uint32_t merged_offset = std::min(offset, ranges_[first].offset);
  const std::uint32_t merged_end = std::max(end, ranges_[last - 1].end());
  ranges_[first] = ByteRange{merged_offset, merged_end - merged_offset};
  std::copy(ranges_.begin() + last, ranges_.begin() + count_, ranges_.begin() + first + 1);
  count_ -= last - first - 1;
  return true;
}

std::uint32_t Assembler::pop_front() {
  if (count_ == 0 || ranges_[0].offset != 0) return 0;
  const std::uint32_t len = ranges_[0].length;
  std::copy(ranges_.begin() + 1, ranges_.begin() + count_, ranges_.begin());
  --count_;
  for (std::size_t i = 0; i < count_; ++i) ranges_[i].offset -= len;
  return len;
}

}  // namespace xdptcp::tcp
