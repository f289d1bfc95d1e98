// The parsed form of a TCP scenario script (the format is described in tests/scenario/README.md):
// a stack configuration and a list of timed lines, each one segment to inject, one segment the
// stack must send, a span in which it must send nothing, or one socket call and its result.
// Plain value types; scenario_parser.cpp builds them, scenario_runner.cpp plays them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace xdptcp::tcp::scenario {

// A number that may be written `*` (any value) in an expectation.
struct Field {
  bool any = false;
  std::int64_t value = 0;
};

// The TCP fields of one segment as a script writes them. Sequence and acknowledgment numbers
// are relative (to the ISN of the side that owns the space), timestamp values relative to the
// first TSval each side used. Unset optionals are not sent (inject) or not checked (expect).
struct SegmentSpec {
  std::uint8_t flags = 0;  // wire::tcp_flags bits
  std::optional<Field> seq;
  std::optional<Field> ack;
  std::optional<Field> win;
  std::uint32_t len = 0;
  bool options_given = false;  // any option token (or `noopts`): the option set is checked whole
  std::optional<std::uint16_t> mss;
  std::optional<Field> wscale;  // `ws=*`: present, any shift
  bool sack_permitted = false;
  std::optional<std::pair<Field, Field>> ts;  // TSval, TSecr
  std::vector<std::pair<std::uint32_t, std::uint32_t>> sack;
  std::optional<double> tolerance_ms;  // expect only: overrides the script's tolerance
  bool new_isn = false;  // expect only: a SYN that starts a new connection re-bases the stack's ISN
};

// A socket call: `name(args) = result` or `name(args) -> socket`.
struct Call {
  std::string name;
  std::vector<std::string> args;
  std::optional<std::string> binds;   // `-> s`: the result is a new socket named s (must be >= 0)
  std::optional<std::string> result;  // `= r`: an integer, -ERRNO, a name (state, poll) or `*`
};

struct Inject {
  SegmentSpec seg;
};
struct Expect {
  SegmentSpec seg;
};
struct Silence {
  double span_ms = 0;
};

struct Line {
  int number = 0;      // 1-based line in the file, for messages
  std::string text;    // the line as written
  double time_ms = 0;  // absolute script time
  std::variant<Inject, Expect, Silence, Call> action;
};

struct Script {
  std::vector<std::pair<std::string, std::string>> config;  // `config key=value ...` in order
  std::vector<Line> lines;
};

// Parses a script; on a syntax error returns nullopt and sets *error to "line N: what".
std::optional<Script> parse_script(const std::string& text, std::string* error);

}  // namespace xdptcp::tcp::scenario
