// xdptcp-ctl: attaches xdptcp's XDP steering program to interfaces and manages its steering rules.
// See docs/xdptcp-ctl.md; the command line is in args.h, the commands in commands.h.
#include <iostream>

#include "tools/ctl/args.h"
#include "tools/ctl/commands.h"

int main(int argc, char** argv) {
  xdptcp::ctl::ParseOutcome parsed = xdptcp::ctl::parse_command_line(argc, argv);
  std::cout << parsed.out;
  std::cerr << parsed.err;
  if (!parsed.command) return parsed.exit_code;
  return xdptcp::ctl::run(*parsed.command, std::cout, std::cerr);
}
