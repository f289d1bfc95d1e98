// See xmit_log.h. Ranges lie within [snd_una, snd_max), less than 2^31 wide, so SeqNum
// comparisons among them are sound across the wrap.
#include "userstack/tcp/xmit_log.h"

#include <algorithm>

namespace xdptcp::tcp {

namespace {

std::int64_t make_stamp(Instant ts, bool retransmitted) {
  return (ts.ns & ~std::int64_t{1}) | (retransmitted ? 1 : 0);
}

// Merges the two sequence-adjacent records whose times are closest (see xmit_log.h).
template <std::size_t N>
void merge_closest(std::array<XmitRecord, N>& recs, std::size_t& count) {
  std::size_t best = 0;
  std::int64_t best_gap = INT64_MAX;
  for (std::size_t i = 0; i + 1 < count; ++i) {
    const std::int64_t gap = recs[i + 1].ts().ns - recs[i].ts().ns;
    const std::int64_t abs_gap = gap < 0 ? -gap : gap;
    if (abs_gap < best_gap) {
      best_gap = abs_gap;
      best = i;
    }
  }
  XmitRecord& a = recs[best];
  const XmitRecord& b = recs[best + 1];
  // The later time and either flag: looks sent later (lost later), and a retransmission's RTT
  // ambiguity (RFC 8985 §6.2 step 2) is kept.
  const Instant ts = std::max(a.ts(), b.ts());
  a = {a.left, b.right, make_stamp(ts, a.retransmitted() || b.retransmitted())};
  std::copy(recs.begin() + static_cast<std::ptrdiff_t>(best + 2),
            recs.begin() + static_cast<std::ptrdiff_t>(count),
            recs.begin() + static_cast<std::ptrdiff_t>(best + 1));
  --count;
}

}  // namespace

void XmitLog::record(SeqNum left, SeqNum right, Instant ts, bool retransmitted) {
  if (!(left < right)) return;
  const XmitRecord rec{left, right, make_stamp(ts, retransmitted)};
  // Rebuild: the parts of old records outside [left, right), and the new one in order. At most
  // one record is split in two, so kMaxRecords + 2 entries suffice before merging back.
  std::array<XmitRecord, kMaxRecords + 2> out{};
  std::size_t n = 0;
  bool placed = false;
  auto push = [&](const XmitRecord& r) {
    if (n > 0 && out[n - 1].right == r.left && out[n - 1].stamp == r.stamp) {
      out[n - 1].right = r.right;  // same instant, same flag: one record
    } else {
      out[n++] = r;
    }
  };
  for (std::size_t i = 0; i < count_; ++i) {
    const XmitRecord& r = records_[i];
    if (!placed && !(r.left < left)) {
      push(rec);
      placed = true;
    }
    if (r.right <= left || r.left >= right) {
      push(r);
      continue;
    }
    if (r.left < left) push({r.left, left, r.stamp});
    if (!placed) {
      push(rec);
      placed = true;
    }
    if (right < r.right) push({right, r.right, r.stamp});
  }
  if (!placed) push(rec);
  while (n > kMaxRecords) merge_closest(out, n);
  std::copy(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n), records_.begin());
  count_ = static_cast<std::uint32_t>(n);
}

void XmitLog::advance(SeqNum snd_una) {
  std::size_t out = 0;
  for (std::size_t i = 0; i < count_; ++i) {
    XmitRecord r = records_[i];
    if (r.right <= snd_una) continue;
    if (r.left < snd_una) r.left = snd_una;
    records_[out++] = r;
  }
  count_ = static_cast<std::uint32_t>(out);
}

}  // namespace xdptcp::tcp
