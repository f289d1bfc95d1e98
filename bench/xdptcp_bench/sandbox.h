// compare's network: tools/sandbox.sh's veth pair with its peer in a namespace, brought up on
// construction (on the first free subnet) and torn down on destruction, so that compare cleans up
// on every path. The peer namespace is tuned for a load generator that opens connections fast:
// a wide ephemeral port range and TIME_WAIT reuse (per namespace, so the machine is untouched).
//
// Offloads per leg. sandbox.sh turns checksum offloads and TSO/GSO/GRO off on both ends, which the
// xdptcp legs need: with tx checksum offload on, a veth passes the kernel's CHECKSUM_PARTIAL skbs to
// its peer with the TCP checksum never filled in (only the pseudo-header sum is there). That is fine
// from kernel to kernel, since the receiving kernel trusts CHECKSUM_PARTIAL (and CHECKSUM_UNNECESSARY)
// skbs, but XDP and AF_XDP see the raw frame, so an xdptcp stack on the receiving end would see a wrong
// checksum on every segment; TSO would hand it 64 KiB frames. A kernel leg does not need that, so
// use_kernel_offloads() gives the kernel its normal offloads for its own legs and restore() puts the
// sandbox's setting back for the xdptcp legs:
//  - kernel client (the kernel on both ends): every offload on both ends (rx/tx checksum, TSO, GSO,
//    GRO) and sandbox.sh's XDP_PASS program removed from the peer end, so that neither end has an XDP
//    program: veth clears TSO on a device whose peer has one (veth_fix_features), and the stack end
//    has none either (the xdptcp server's steering program exists only while its process runs).
//  - xdptcp client: the client's steering program on the peer end sees raw frames, so the stack end
//    keeps tx checksum offload (and with it TSO, which needs it) off; rx checksum, GSO and GRO are on
//    there. The peer end stays as the sandbox set it (no kernel TCP runs on it).
// What each end really had is read back during every leg (link_state.h) and reported.
#pragma once

#include <string>

#include "bench/xdptcp_bench/link_state.h"

namespace xdptcp::bench {

// Runs a shell command; returns its exit status and its stdout+stderr in *out (may be null).
int run_shell(const std::string& cmd, std::string* out);

class Sandbox {
 public:
  // keep: leave the sandbox up when this object goes (compare --keep-sandbox).
  Sandbox(std::string script, std::string name, int queues, bool keep = false)
      : script_(std::move(script)), name_(std::move(name)), queues_(queues), keep_(keep) {}
  ~Sandbox() {
    if (!keep_) down();
  }
  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;

  // Brings the sandbox up; false with *error when it cannot.
  bool up(std::string* error);
  // Readies the peer end for an xdptcp client: removes sandbox.sh's XDP_PASS program (the client's
  // stack attaches its steering program there, which also keeps the veth in NAPI mode), and
  // narrows the kernel's ephemeral range to 1024-9999 so that xdptcp's active opens get
  // 10000-65535 (the stack takes the ports above the kernel's range).
  bool prepare_xdptcp_peer(std::string* error);
  // The kernel's own offloads for a kernel server's leg (see the top of this file); kernel_client:
  // the client on the peer end is the kernel's too.
  bool use_kernel_offloads(bool kernel_client, std::string* error);
  // Back to the sandbox's setting (sandbox.sh up again, on the same subnet, then the xdptcp client's
  // preparation if it was made); does nothing when use_kernel_offloads was not called since.
  bool restore(std::string* error);
  // Both ends' offloads and XDP programs now.
  LinkState read_link() const;
  void down();

  const std::string& iface() const { return iface_; }
  const std::string& peer_ns() const { return peer_ns_; }
  const std::string& peer_iface() const { return peer_iface_; }
  const std::string& stack_ip4() const { return stack_ip4_; }
  const std::string& peer_ip4() const { return peer_ip4_; }

 private:
  std::string script_, name_;
  int queues_;
  bool keep_;
  bool is_up_ = false;
  int subnet_ = -1;
  bool xdptcp_peer_ = false;      // prepare_xdptcp_peer was called
  bool kernel_offloads_ = false;  // use_kernel_offloads was called and not yet restored
  std::string iface_, peer_ns_, peer_iface_, stack_ip4_, peer_ip4_;
};

}  // namespace xdptcp::bench
