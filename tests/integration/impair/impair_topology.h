// The three-namespace topology of the impairment tests, as an RAII guard:
//
//   imp-c (client)            imp-r (router)                    imp-s (server)
//   imp-c0 198.19.200.2 ---- imp-rc 198.19.200.1 | imp-rs 198.19.201.1 ---- imp-s0 198.19.201.2
//          fd00:696d:1::2           fd00:696d:1::1 | fd00:696d:2::1            fd00:696d:2::2
//
// Every veth end has checksum offloads, GRO, TSO and GSO off, so that senders compute full checksums
// (corruption is then caught by the receiver) and frames stay MTU-sized. The router forwards with the
// kernel until `xdptcp-impair delay` takes over. The constructor removes leftovers of an interrupted
// run first; the destructor deletes the namespaces (and with them the veths) even when a test failed.
#pragma once

#include <map>
#include <string>

#include "support/netns/netns_util.h"

namespace xdptcp::test {

class ImpairTopology {
 public:
  static constexpr const char* kClientNs = "imp-c";
  static constexpr const char* kRouterNs = "imp-r";
  static constexpr const char* kServerNs = "imp-s";
  static constexpr const char* kRouterClientSide = "imp-rc";
  static constexpr const char* kRouterServerSide = "imp-rs";
  static constexpr const char* kServer4 = "198.19.201.2";
  static constexpr const char* kServer6 = "fd00:696d:2::2";

  ImpairTopology();
  ~ImpairTopology();
  ImpairTopology(const ImpairTopology&) = delete;
  ImpairTopology& operator=(const ImpairTopology&) = delete;

  bool ok() const { return setup_.ok(); }
  const CommandResult& setup_result() const { return setup_; }

  CommandResult in_client(const std::string& cmd) const { return run(in_netns(kClientNs, cmd)); }
  CommandResult in_router(const std::string& cmd) const { return run(in_netns(kRouterNs, cmd)); }
  CommandResult in_server(const std::string& cmd) const { return run(in_netns(kServerNs, cmd)); }

  static void remove_all();

 private:
  CommandResult setup_;
};

// "name=value" lines (any key) as numbers; other lines ignored.
std::map<std::string, long long> parse_counters(const std::string& text);

// Minimum RTT in ms from ping's summary line, -1 when absent.
double ping_min_rtt_ms(const std::string& ping_output);
// Packet loss in percent from ping's summary line, -1 when absent.
double ping_loss_percent(const std::string& ping_output);

// A kernel-TCP counter of namespace `ns` (e.g. "TcpInCsumErrors"), from nstat; -1 when unknown.
long long nstat_counter(const std::string& ns, const std::string& name);

}  // namespace xdptcp::test
