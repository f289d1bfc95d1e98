// Plays a scenario Script against one TcpStack (the sans-I/O core) with a virtual clock: the
// script's fake peer injects segments, the runner checks every segment the stack sends against
// the script's expectations, in order and in time. See README.md for the format and the rules.
#pragma once

#include <string>

#include "tests/scenario/scenario_script.h"

namespace xdptcp::tcp::scenario {

struct RunResult {
  bool ok = false;
  // On failure: the script line, what was expected and what the stack did, then the dialogue
  // trace up to that point.
  std::string message;
};

RunResult run_script(const Script& script);

}  // namespace xdptcp::tcp::scenario
