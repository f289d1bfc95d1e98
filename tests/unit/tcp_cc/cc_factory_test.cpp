// Choosing an algorithm by name and constructing it in place (congestion_control.h).
#include <gtest/gtest.h>

#include "userstack/tcp/cc/congestion_control.h"
#include "userstack/tcp/cc/cubic.h"
#include "userstack/tcp/cc/newreno.h"

namespace xdptcp::tcp {
namespace {

TEST(CcFactory, Parse_LinuxNames) {
  CcAlgorithm a = CcAlgorithm::kCubic;
  ASSERT_TRUE(parse_cc_algorithm("reno", a));
  EXPECT_EQ(a, CcAlgorithm::kNewReno);
  a = CcAlgorithm::kCubic;
  ASSERT_TRUE(parse_cc_algorithm("newreno", a));
  EXPECT_EQ(a, CcAlgorithm::kNewReno);
  ASSERT_TRUE(parse_cc_algorithm("cubic", a));
  EXPECT_EQ(a, CcAlgorithm::kCubic);
}

TEST(CcFactory, Parse_UnknownName_RejectedAndOutputUntouched) {
  CcAlgorithm a = CcAlgorithm::kCubic;
  EXPECT_FALSE(parse_cc_algorithm("bbr", a));
  EXPECT_FALSE(parse_cc_algorithm("", a));
  EXPECT_FALSE(parse_cc_algorithm("Cubic", a));  // Linux matches names exactly
  EXPECT_FALSE(parse_cc_algorithm("cubic ", a));
  EXPECT_EQ(a, CcAlgorithm::kCubic);
}

TEST(CcFactory, Name_RoundTripsThroughParse) {
  for (CcAlgorithm a : {CcAlgorithm::kNewReno, CcAlgorithm::kCubic}) {
    CcAlgorithm back{};
    ASSERT_TRUE(parse_cc_algorithm(cc_algorithm_name(a), back));
    EXPECT_EQ(back, a);
  }
  EXPECT_EQ(cc_algorithm_name(CcAlgorithm::kNewReno), "reno");
  EXPECT_EQ(cc_algorithm_name(CcAlgorithm::kCubic), "cubic");
}

TEST(CcFactory, MakeCc_ConstructsInsideStorage) {
  CcStorage storage;
  for (CcAlgorithm a : {CcAlgorithm::kNewReno, CcAlgorithm::kCubic}) {
    CongestionControl* cc = make_cc(a, storage);
    ASSERT_NE(cc, nullptr);
    EXPECT_EQ(static_cast<void*>(cc), static_cast<void*>(storage.bytes));
    EXPECT_EQ(cc->algorithm(), a);
    cc->init(1000, 10000, {});
    EXPECT_EQ(cc->cwnd(), 10000u);
    cc->on_ack({.bytes_acked = 1000, .bytes_in_flight = 10000});
    EXPECT_EQ(cc->cwnd(), 11000u);
    destroy_cc(cc);
  }
}

TEST(CcFactory, MakeCc_ReplaceAlgorithmInSameStorage) {
  CcStorage storage;
  CongestionControl* cc = make_cc(CcAlgorithm::kCubic, storage);
  destroy_cc(cc);
  cc = make_cc(CcAlgorithm::kNewReno, storage);
  EXPECT_EQ(cc->algorithm(), CcAlgorithm::kNewReno);
  destroy_cc(cc);
  destroy_cc(nullptr);  // harmless
}

TEST(CcFactory, Storage_FitsEveryAlgorithm) {
  // Also enforced by static_assert in congestion_control.cpp.
  EXPECT_LE(sizeof(NewReno), sizeof(CcStorage));
  EXPECT_LE(sizeof(Cubic), sizeof(CcStorage));
  EXPECT_LE(alignof(Cubic), alignof(CcStorage));
}

}  // namespace
}  // namespace xdptcp::tcp
