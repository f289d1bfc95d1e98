// Child processes for compare: spawned in their own process group (so that a server and its
// threads, or `ip netns exec` and what it runs, are stopped together), with stdout on a pipe and
// stderr in a log file. Every live child is in a registry that kill_all_children() empties; it is
// async-signal-safe, so compare's SIGINT handler can call it.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <string>
#include <vector>

namespace xdptcp::bench {

struct Child {
  pid_t pid = -1;
  int out_fd = -1;  // the child's stdout
};

// Starts argv[0] (searched in PATH). False with *error when fork/exec fails.
bool spawn(const std::vector<std::string>& argv, const std::string& stderr_path, Child& child,
           std::string* error);
// Reads the child's stdout until a line starting with `prefix`; false on EOF or timeout.
bool wait_for_line(Child& child, const std::string& prefix, int timeout_ms);
// Reads the child's stdout until EOF (or timeout); returns what was read.
std::string read_all(Child& child, int timeout_ms);
// Sends `sig` to the child's process group and reaps it, escalating to SIGKILL after timeout_ms.
// Returns the wait status (or -1) and the child's resource usage in *ru when given.
int stop_child(Child& child, int sig, int timeout_ms, rusage* ru);
// Waits for the child to exit by itself, killing it after timeout_ms. Returns the wait status.
int wait_child(Child& child, int timeout_ms, rusage* ru);
// Sends sig to every live child's process group. Async-signal-safe.
void kill_all_children(int sig);

}  // namespace xdptcp::bench
