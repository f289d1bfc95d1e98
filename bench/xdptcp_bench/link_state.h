// What each end of compare's veth pair had during a leg, read back from the kernel rather than
// assumed: the offloads `ethtool -k` shows and the XDP program `ip -d link show` names. compare
// records it per round (JSON "link") and prints one line per stack, so the table says exactly what
// each stack ran with.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace xdptcp::bench {

struct EndState {
  bool read = false;  // false: ethtool could not be run or read
  bool rx = false;    // rx-checksumming
  bool tx = false;    // tx-checksumming
  bool tso = false;   // tcp-segmentation-offload
  bool gso = false;   // generic-segmentation-offload
  bool gro = false;   // generic-receive-offload
  std::string xdp;    // the attached XDP program's name ("" when none)

  bool all_on() const { return rx && tx && tso && gso && gro; }
  bool all_off() const { return !rx && !tx && !tso && !gso && !gro; }
};

struct LinkState {
  EndState stack_end;  // the servers' end, root namespace
  EndState peer_end;   // the client's end, peer namespace
};

// Fills the offload fields from `ethtool -k` output; false when a field is missing.
bool parse_ethtool_k(std::string_view text, EndState& e);
// The name of the XDP program in `ip -d link show dev X` output ("" when none).
std::string parse_xdp_prog_name(std::string_view text);

// "rx on, tx off, tso off, gso on, gro on; XDP xdp_pass" (or "; no XDP program").
std::string describe(const EndState& e);
nlohmann::json to_json(const EndState& e);
nlohmann::json to_json(const LinkState& l);

}  // namespace xdptcp::bench
