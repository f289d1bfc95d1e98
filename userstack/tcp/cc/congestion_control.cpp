// Choosing and constructing a congestion-control algorithm: see congestion_control.h.
#include "userstack/tcp/cc/congestion_control.h"

#include "userstack/tcp/cc/cubic.h"
#include "userstack/tcp/cc/newreno.h"

namespace xdptcp::tcp {

// Every algorithm lives inline in the TCB: it must fit CcStorage.
static_assert(sizeof(NewReno) <= sizeof(CcStorage), "NewReno does not fit CcStorage: enlarge it");
static_assert(alignof(NewReno) <= alignof(CcStorage), "NewReno needs more alignment than CcStorage");
static_assert(sizeof(Cubic) <= sizeof(CcStorage), "Cubic does not fit CcStorage: enlarge it");
static_assert(alignof(Cubic) <= alignof(CcStorage), "Cubic needs more alignment than CcStorage");

bool parse_cc_algorithm(std::string_view name, CcAlgorithm& out) {
  // Linux's TCP_CONGESTION names are lower case and matched exactly.
  if (name == "reno" || name == "newreno") {
    out = CcAlgorithm::kNewReno;
    return true;
  }
  if (name == "cubic") {
    out = CcAlgorithm::kCubic;
    return true;
  }
  return false;
}

std::string_view cc_algorithm_name(CcAlgorithm a) {
  switch (a) {
    case CcAlgorithm::kNewReno:
      return "reno";
    case CcAlgorithm::kCubic:
      return "cubic";
  }
  return "unknown";
}

CongestionControl* make_cc(CcAlgorithm a, CcStorage& storage) {
  switch (a) {
    case CcAlgorithm::kCubic:
      return new (storage.bytes) Cubic();
    case CcAlgorithm::kNewReno:
      break;
  }
  return new (storage.bytes) NewReno();
}

void destroy_cc(CongestionControl* cc) {
  if (cc != nullptr) cc->~CongestionControl();
}

}  // namespace xdptcp::tcp
