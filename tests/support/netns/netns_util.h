// Shell commands, background processes, network namespaces and the sandbox (tools/sandbox.sh) for the
// integration tests, which drive the real kernel as root. Part of the xdptcp_testsupport library.
//
// Typical use (see tests/integration/steering/steering_test.cpp):
//   Sandbox sb({.name = "sbt"});
//   ASSERT_TRUE(sb.up().ok());
//   BackgroundCommand probe(bin_path("xsk-probe") + " --iface " + sb.iface() + " --seconds 10");
//   probe.wait_for_output("ready", 5s);
//   auto r = sb.in_peer("ping -c 3 " + sb.stack_ip4());
//
// Commands run through /bin/sh -c with stdout and stderr captured together. Nothing here is meant for the
// per-packet path; it polls, forks and sleeps freely.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <string_view>

namespace xdptcp::test {

struct CommandResult {
  int exit_code = -1;  // the command's exit status; 128 + N when killed by signal N; -1 when not run
  std::string output;  // stdout and stderr, interleaved
  bool ok() const { return exit_code == 0; }
};

// Runs `command` with /bin/sh -c and waits for it.
CommandResult run(const std::string& command);

// `s` quoted for /bin/sh (single quotes).
std::string shell_quote(std::string_view s);

// `command` run inside network namespace `ns` ("ip netns exec NS sh -c '...'").
std::string in_netns(const std::string& ns, const std::string& command);

bool is_root();

// Polls `pred` every `step` until it is true or `timeout` has passed; returns its last value.
bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout,
                std::chrono::milliseconds step = std::chrono::milliseconds(20));

// Paths baked in at build time: the source tree's tools/sandbox.sh, and <build>/bin/<name>.
std::string sandbox_script();
std::string bin_path(const std::string& name);

// Running something as an unprivileged user. The checkout and the build tree may sit in a private
// (0700) directory, as in a fresh clone under `mktemp -d` (CI runs the tests that way, see .ci/run):
// nobody can read a script or run a program there. So a test that runs a file of the tree as nobody
// runs a ReadableCopy of it, never the file in place.
//
// `command` (one simple command: program and arguments) as user and group 65534 (nobody), without
// supplementary groups or inheritable capabilities, from "/" (the caller's directory may be private).
std::string as_nobody(const std::string& command);

// A copy of the file `source` that every user can read and execute, in a fresh directory (0755) of its
// own under /tmp (not $TMPDIR, which may be private too); the destructor removes the directory. ok() is
// false, and error() says why, when the copy could not be made or another user could not reach it.
class ReadableCopy {
 public:
  explicit ReadableCopy(const std::string& source);
  ~ReadableCopy();
  ReadableCopy(const ReadableCopy&) = delete;
  ReadableCopy& operator=(const ReadableCopy&) = delete;

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  const std::string& path() const { return path_; }  // the copy (same file name as `source`)

 private:
  std::string dir_;
  std::string path_;
  std::string error_;
};

// "KEY=value" lines (as printed by `sandbox.sh status --env`) as a map; other lines are ignored.
std::map<std::string, std::string> parse_env_lines(const std::string& text);

// A shell command running in the background in its own process group, with stdout and stderr going
// to a temporary file. The destructor stops it (SIGTERM, then SIGKILL after a grace period) and
// removes the file. Start a single program with "exec PROG ..." when its own exit status matters:
// otherwise the shell is the process that is waited for, and it dies of stop()'s signal itself.
class BackgroundCommand {
 public:
  explicit BackgroundCommand(const std::string& command);
  ~BackgroundCommand();
  BackgroundCommand(const BackgroundCommand&) = delete;
  BackgroundCommand& operator=(const BackgroundCommand&) = delete;

  pid_t pid() const { return pid_; }
  bool running();              // not exited yet
  std::string output() const;  // everything written so far
  // True once `needle` appears in the output; false after `timeout` or when the process exited without it.
  bool wait_for_output(std::string_view needle, std::chrono::milliseconds timeout);
  // Waits up to `timeout` for the process to exit on its own; the exit code as in CommandResult, or -1.
  int wait(std::chrono::milliseconds timeout);
  // Sends `sig` to the process group, waits up to `grace`, then SIGKILL; returns the exit code.
  int stop(int sig = 15, std::chrono::milliseconds grace = std::chrono::milliseconds(3000));

 private:
  pid_t pid_ = -1;
  int status_ = -1;  // decoded exit code once reaped
  bool reaped_ = false;
  std::string log_path_;
};

// A sandbox made with tools/sandbox.sh. up() brings it up (idempotently) and reads its facts; the
// destructor takes it down again if this object brought it up.
class Sandbox {
 public:
  struct Options {
    std::string name = "xdptcp";
    int queues = 2;
    bool router = false;
    // sandbox.sh --subnet K (198.18.<2K>.0/24 ...); -1: "auto", the first prefix no other interface
    // holds, so that tests never collide with another sandbox. Read the addresses with var().
    int subnet = -1;
  };
  explicit Sandbox(Options options);
  ~Sandbox();
  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;

  CommandResult up();
  CommandResult down();
  CommandResult status();      // the human-readable status
  CommandResult status_env();  // `status --env`, also reloads the facts

  // A fact from `status --env` ("" when unknown): IFACE, PEER_NS, PEER_IFACE, ROUTER_NS, STACK_IP4,
  // PEER_IP4, STACK_IP6, PEER_IP6, GATEWAY_IP4, GATEWAY_IP6, PIN_DIR, QUEUES, SANDBOX_UP, ...
  std::string var(const std::string& key) const;
  std::string iface() const { return var("IFACE"); }
  std::string peer_ns() const { return var("PEER_NS"); }
  std::string stack_ip4() const { return var("STACK_IP4"); }
  std::string peer_ip4() const { return var("PEER_IP4"); }
  std::string stack_ip6() const { return var("STACK_IP6"); }
  std::string peer_ip6() const { return var("PEER_IP6"); }
  std::string pin_dir() const { return var("PIN_DIR"); }

  // Runs `command` in the peer namespace.
  CommandResult in_peer(const std::string& command) const;
  // The common part of every sandbox.sh invocation: "--name N --queues Q [--router] --subnet K|auto".
  std::string args() const;

 private:
  Options opt_;
  std::map<std::string, std::string> env_;
  bool brought_up_ = false;
};

// A TCP client from namespace `ns` (via socat): connects to addr:port (IPv4 or IPv6), sends
// `request` and a newline, and returns what the server sent before closing. A refused connection
// ends with "Connection refused" in the output and a non-zero exit code.
CommandResult tcp_request_from(const std::string& ns, const std::string& addr, int port,
                               const std::string& request, double timeout_s = 3.0);

}  // namespace xdptcp::test
