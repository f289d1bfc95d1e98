// Reading back a veth end's offloads and XDP program (see link_state.h).
#include "bench/xdptcp_bench/link_state.h"

namespace xdptcp::bench {
namespace {

// The value of "name: on|off ..." at the start of a line of `ethtool -k` output; -1 when absent.
int feature(std::string_view text, std::string_view name) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t nl = text.find('\n', pos);
    std::string_view line =
        text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    if (line.size() > name.size() + 1 && line.substr(0, name.size()) == name && line[name.size()] == ':') {
      line.remove_prefix(name.size() + 1);
      while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
      if (line.substr(0, 2) == "on") return 1;
      if (line.substr(0, 3) == "off") return 0;
      return -1;
    }
  }
  return -1;
}

}  // namespace

bool parse_ethtool_k(std::string_view text, EndState& e) {
  const int rx = feature(text, "rx-checksumming"), tx = feature(text, "tx-checksumming"),
            tso = feature(text, "tcp-segmentation-offload"),
            gso = feature(text, "generic-segmentation-offload"),
            gro = feature(text, "generic-receive-offload");
  if (rx < 0 || tx < 0 || tso < 0 || gso < 0 || gro < 0) return false;
  e.rx = rx == 1;
  e.tx = tx == 1;
  e.tso = tso == 1;
  e.gso = gso == 1;
  e.gro = gro == 1;
  e.read = true;
  return true;
}

std::string parse_xdp_prog_name(std::string_view text) {
  const std::size_t p = text.find("prog/xdp ");
  if (p == std::string_view::npos) return "";
  const std::size_t n = text.find(" name ", p);
  if (n == std::string_view::npos) return "?";
  const std::size_t b = n + 6;
  std::size_t e = b;
  while (e < text.size() && text[e] != ' ' && text[e] != '\n') ++e;
  return std::string(text.substr(b, e - b));
}

std::string describe(const EndState& e) {
  if (!e.read) return "offloads unknown (ethtool -k failed)";
  auto f = [](const char* n, bool on) { return std::string(n) + (on ? " on" : " off"); };
  return f("rx", e.rx) + ", " + f("tx", e.tx) + ", " + f("tso", e.tso) + ", " + f("gso", e.gso) + ", " +
         f("gro", e.gro) + (e.xdp.empty() ? "; no XDP program" : "; XDP " + e.xdp);
}

nlohmann::json to_json(const EndState& e) {
  return nlohmann::json{{"read", e.read}, {"rx", e.rx},   {"tx", e.tx},  {"tso", e.tso},
                        {"gso", e.gso},   {"gro", e.gro}, {"xdp", e.xdp}};
}

nlohmann::json to_json(const LinkState& l) {
  return nlohmann::json{{"stack_end", to_json(l.stack_end)}, {"peer_end", to_json(l.peer_end)}};
}

}  // namespace xdptcp::bench
