// Spawning, reading and stopping compare's child processes (see child_process.h).
#include "bench/xdptcp_bench/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>

namespace xdptcp::bench {
namespace {

constexpr int kMaxChildren = 16;
std::atomic<pid_t> g_children[kMaxChildren];

void remember(pid_t pid) {
  for (auto& slot : g_children) {
    pid_t zero = 0;
    if (slot.compare_exchange_strong(zero, pid)) return;
  }
}
void forget(pid_t pid) {
  for (auto& slot : g_children) {
    pid_t p = pid;
    if (slot.compare_exchange_strong(p, 0)) return;
  }
}

long long now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Waits for pid until deadline (ms, steady clock); true when reaped.
bool reap_until(pid_t pid, long long deadline, int* status, rusage* ru) {
  for (;;) {
    rusage tmp{};
    const pid_t r = wait4(pid, status, WNOHANG, ru != nullptr ? ru : &tmp);
    if (r == pid) return true;
    if (r < 0 && errno != EINTR) return true;  // already gone
    if (now_ms() >= deadline) return false;
    usleep(10 * 1000);
  }
}

}  // namespace

bool spawn(const std::vector<std::string>& argv, const std::string& stderr_path, Child& child,
           std::string* error) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) {
    *error = std::string("pipe: ") + std::strerror(errno);
    return false;
  }
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) {
    *error = std::string("fork: ") + std::strerror(errno);
    close(p[0]);
    close(p[1]);
    return false;
  }
  if (pid == 0) {
    setpgid(0, 0);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    dup2(p[1], STDOUT_FILENO);
    const int e = open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (e >= 0) dup2(e, STDERR_FILENO);
    execvp(args[0], args.data());
    _exit(127);
  }
  setpgid(pid, pid);  // also here, so that killpg works even before the child ran
  close(p[1]);
  child.pid = pid;
  child.out_fd = p[0];
  remember(pid);
  return true;
}

bool wait_for_line(Child& child, const std::string& prefix, int timeout_ms) {
  const long long deadline = now_ms() + timeout_ms;
  std::string line;
  for (;;) {
    const long long left = deadline - now_ms();
    if (left <= 0) return false;
    pollfd pfd{child.out_fd, POLLIN, 0};
    const int n = poll(&pfd, 1, static_cast<int>(left));
    if (n < 0 && errno == EINTR) return false;
    if (n <= 0) continue;
    char c;
    const ssize_t r = read(child.out_fd, &c, 1);
    if (r <= 0) return false;
    if (c == '\n') {
      if (line.rfind(prefix, 0) == 0) return true;
      line.clear();
    } else {
      line.push_back(c);
    }
  }
}

std::string read_all(Child& child, int timeout_ms) {
  const long long deadline = now_ms() + timeout_ms;
  std::string out;
  char buf[4096];
  for (;;) {
    const long long left = deadline - now_ms();
    if (left <= 0) break;
    pollfd pfd{child.out_fd, POLLIN, 0};
    const int n = poll(&pfd, 1, static_cast<int>(left));
    if (n < 0 && errno == EINTR) break;
    if (n <= 0) continue;
    const ssize_t r = read(child.out_fd, buf, sizeof buf);
    if (r <= 0) break;
    out.append(buf, static_cast<std::size_t>(r));
  }
  return out;
}

int stop_child(Child& child, int sig, int timeout_ms, rusage* ru) {
  if (child.pid <= 0) return -1;
  killpg(child.pid, sig);
  int status = -1;
  if (!reap_until(child.pid, now_ms() + timeout_ms, &status, ru)) {
    killpg(child.pid, SIGKILL);
    reap_until(child.pid, now_ms() + 5000, &status, ru);
  }
  forget(child.pid);
  if (child.out_fd >= 0) close(child.out_fd);
  child = Child{};
  return status;
}

int wait_child(Child& child, int timeout_ms, rusage* ru) {
  if (child.pid <= 0) return -1;
  int status = -1;
  if (!reap_until(child.pid, now_ms() + timeout_ms, &status, ru)) return stop_child(child, SIGKILL, 5000, ru);
  forget(child.pid);
  if (child.out_fd >= 0) close(child.out_fd);
  child = Child{};
  return status;
}

void kill_all_children(int sig) {
  for (auto& slot : g_children) {
    const pid_t p = slot.load();
    if (p > 0) killpg(p, sig);
  }
}

}  // namespace xdptcp::bench
