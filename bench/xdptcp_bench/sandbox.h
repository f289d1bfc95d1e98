// compare's network: tools/sandbox.sh's veth pair with its peer in a namespace, brought up on
// construction (on the first free subnet) and torn down on destruction, so that compare cleans up
// on every path. The peer namespace is tuned for a load generator that opens connections fast:
// a wide ephemeral port range and TIME_WAIT reuse (per namespace, so the machine is untouched).
#pragma once

#include <string>

namespace xdptcp::bench {

// Runs a shell command; returns its exit status and its stdout+stderr in *out (may be null).
int run_shell(const std::string& cmd, std::string* out);

class Sandbox {
 public:
  Sandbox(std::string script, std::string name, int queues)
      : script_(std::move(script)), name_(std::move(name)), queues_(queues) {}
  ~Sandbox() { down(); }
  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;

  // Brings the sandbox up; false with *error when it cannot.
  bool up(std::string* error);
  // Readies the peer end for an xdptcp client: removes sandbox.sh's XDP_PASS program (the client's
  // stack attaches its steering program there, which also keeps the veth in NAPI mode), and
  // narrows the kernel's ephemeral range to 1024-9999 so that xdptcp's active opens get
  // 10000-65535 (the stack takes the ports above the kernel's range).
  bool prepare_xdptcp_peer(std::string* error);
  void down();

  const std::string& iface() const { return iface_; }
  const std::string& peer_ns() const { return peer_ns_; }
  const std::string& peer_iface() const { return peer_iface_; }
  const std::string& stack_ip4() const { return stack_ip4_; }
  const std::string& peer_ip4() const { return peer_ip4_; }

 private:
  std::string script_, name_;
  int queues_;
  bool is_up_ = false;
  std::string iface_, peer_ns_, peer_iface_, stack_ip4_, peer_ip4_;
};

}  // namespace xdptcp::bench
