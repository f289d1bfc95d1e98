// xdptcp-ctl capture: the frames every engine on an interface receives and sends, into a pcap file
// (userstack/engine/capture_ring.h for how the engines copy them, capture_reader.h for the rings).
#pragma once

#include <ostream>

#include "tools/ctl/args.h"

namespace xdptcp::ctl {

// Runs `capture` (Verb::kCapture): progress and the final "N frames captured, M lost to a full
// capture ring" on `err` (as tcpdump reports), the file at cmd.write_path. Returns the exit code.
int cmd_capture(const Command& cmd, std::ostream& err);

}  // namespace xdptcp::ctl
