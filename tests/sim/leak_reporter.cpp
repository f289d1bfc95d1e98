// Linked into every test binary that builds SimNetworks: a network's leak check at destruction
// (SimNetwork::drain_check, issue 11 item 7) fails the test that made it.
#include <string>

#include <gtest/gtest.h>

#include "tests/support/sim/sim_network.h"

namespace {

const bool kInstalled = [] {
  xdptcp::sim::SimNetwork::set_leak_reporter([](const std::string& leaks) { ADD_FAILURE() << leaks; });
  return true;
}();

}  // namespace
