// xdptcp-scenario: runs one TCP scenario script (tests/scenario/README.md) over the sans-I/O core
// and exits 0 when every expectation held. ctest runs it once per script.
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "tests/scenario/scenario_runner.h"
#include "tests/scenario/scenario_script.h"

int main(int argc, char** argv) {
  using namespace xdptcp::tcp::scenario;
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s SCRIPT.pkt\n", argv[0]);
    return 2;
  }
  std::ifstream in(argv[1]);
  if (!in) {
    std::fprintf(stderr, "%s: cannot read the script\n", argv[1]);
    return 2;
  }
  std::stringstream text;
  text << in.rdbuf();
  std::string error;
  const auto script = parse_script(text.str(), &error);
  if (!script) {
    std::fprintf(stderr, "%s: %s\n", argv[1], error.c_str());
    return 1;
  }
  const RunResult r = run_script(*script);
  if (!r.ok) {
    std::fprintf(stderr, "%s: FAILED at %s\n", argv[1], r.message.c_str());
    return 1;
  }
  std::printf("%s: passed (%zu lines)\n", argv[1], script->lines.size());
  return 0;
}
