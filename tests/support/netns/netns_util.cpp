// Shell commands, background processes, namespaces and the sandbox for integration tests; see netns_util.h.
#include "support/netns/netns_util.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace xdptcp::test {

namespace {

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

CommandResult run(const std::string& command) {
  CommandResult r;
  const std::string full = "exec 2>&1; " + command;
  FILE* p = ::popen(full.c_str(), "r");
  if (p == nullptr) {
    r.output = "popen failed for: " + command;
    return r;
  }
  std::array<char, 4096> buf{};
  std::size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  r.exit_code = decode_status(::pclose(p));
  return r;
}

std::string shell_quote(std::string_view s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'') {
      q += "'\\''";
    } else {
      q += c;
    }
  }
  return q + "'";
}

std::string in_netns(const std::string& ns, const std::string& command) {
  return "ip netns exec " + shell_quote(ns) + " sh -c " + shell_quote(command);
}

bool is_root() {
  return ::geteuid() == 0;
}

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout,
                std::chrono::milliseconds step) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return pred();
    std::this_thread::sleep_for(step);
  }
}

std::string sandbox_script() {
  return XDPTCP_SANDBOX_SH;
}
std::string bin_path(const std::string& name) {
  return std::string(XDPTCP_BIN_DIR) + "/" + name;
}

std::string as_nobody(const std::string& command) {
  return "cd / && setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all " + command;
}

// ---- ReadableCopy ----

ReadableCopy::ReadableCopy(const std::string& source) {
  namespace fs = std::filesystem;
  char tmpl[] = "/tmp/xdptcp-test-copy-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) {
    error_ = std::string("mkdtemp /tmp/xdptcp-test-copy-XXXXXX: ") + std::strerror(errno);
    return;
  }
  dir_ = tmpl;
  path_ = (fs::path(dir_) / fs::path(source).filename()).string();
  std::error_code ec;
  fs::copy_file(source, path_, ec);
  if (ec) {
    error_ = "cannot copy " + source + " to " + path_ + ": " + ec.message();
    return;
  }
  constexpr auto kAll = fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                        fs::perms::others_read | fs::perms::others_exec;  // 0755
  fs::permissions(dir_, kAll, ec);
  if (!ec) fs::permissions(path_, kAll, ec);
  if (ec) {
    error_ = "cannot make " + path_ + " readable: " + ec.message();
    return;
  }
  // Every directory above the copy must let others through, or the copy is no use.
  for (fs::path d = fs::path(dir_).parent_path();; d = d.parent_path()) {
    struct stat st {};
    if (::stat(d.c_str(), &st) != 0 || (st.st_mode & S_IXOTH) == 0) {
      error_ = "other users cannot enter " + d.string() + ", so they cannot reach " + path_;
      return;
    }
    if (d == d.root_path()) break;
  }
}

ReadableCopy::~ReadableCopy() {
  std::error_code ec;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
}

std::map<std::string, std::string> parse_env_lines(const std::string& text) {
  std::map<std::string, std::string> m;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const auto eq = line.find('=');
    if (eq == std::string::npos || eq == 0) continue;
    const std::string key = line.substr(0, eq);
    if (key.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != std::string::npos) continue;
    m[key] = line.substr(eq + 1);
  }
  return m;
}

// ---- BackgroundCommand ----

BackgroundCommand::BackgroundCommand(const std::string& command) {
  char tmpl[] = "/tmp/xdptcp-test-bg-XXXXXX";
  const int fd = ::mkstemp(tmpl);
  if (fd < 0) return;
  log_path_ = tmpl;
  pid_ = ::fork();
  if (pid_ == 0) {
    ::setpgid(0, 0);  // its own group, so that stop() reaches the children (ip netns exec, sh)
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::close(fd);
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(fd);
  if (pid_ > 0) ::setpgid(pid_, pid_);  // also from the parent: no race with an early stop()
}

BackgroundCommand::~BackgroundCommand() {
  if (pid_ > 0 && !reaped_) stop(SIGTERM, std::chrono::milliseconds(2000));
  if (!log_path_.empty()) ::unlink(log_path_.c_str());
}

bool BackgroundCommand::running() {
  if (pid_ <= 0 || reaped_) return false;
  int st = 0;
  const pid_t r = ::waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    reaped_ = true;
    status_ = decode_status(st);
    return false;
  }
  return r == 0;
}

std::string BackgroundCommand::output() const {
  std::ifstream in(log_path_);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool BackgroundCommand::wait_for_output(std::string_view needle, std::chrono::milliseconds timeout) {
  return wait_until(
      [&] {
        if (output().find(needle) != std::string::npos) return true;
        return false;
      },
      timeout);
}

int BackgroundCommand::wait(std::chrono::milliseconds timeout) {
  wait_until([&] { return !running(); }, timeout);
  return reaped_ ? status_ : -1;
}

int BackgroundCommand::stop(int sig, std::chrono::milliseconds grace) {
  if (pid_ <= 0) return -1;
  if (!running()) return status_;
  ::kill(-pid_, sig);
  if (wait(grace) == -1 && !reaped_) {
    ::kill(-pid_, SIGKILL);
    wait(std::chrono::milliseconds(2000));
  }
  return reaped_ ? status_ : -1;
}

// ---- Sandbox ----

Sandbox::Sandbox(Options options) : opt_(std::move(options)) {}

Sandbox::~Sandbox() {
  if (brought_up_) (void)down();
}

std::string Sandbox::args() const {
  return "--name " + shell_quote(opt_.name) + " --queues " + std::to_string(opt_.queues) +
         (opt_.router ? " --router" : "") + " --subnet " +
         (opt_.subnet < 0 ? std::string("auto") : std::to_string(opt_.subnet));
}

CommandResult Sandbox::up() {
  CommandResult r = run(sandbox_script() + " up " + args());
  if (r.ok()) {
    brought_up_ = true;
    const CommandResult e = status_env();
    if (!e.ok()) return e;
  }
  return r;
}

CommandResult Sandbox::down() {
  brought_up_ = false;
  env_.clear();
  return run(sandbox_script() + " down " + args());
}

CommandResult Sandbox::status() {
  return run(sandbox_script() + " status --name " + shell_quote(opt_.name));
}

CommandResult Sandbox::status_env() {
  CommandResult r = run(sandbox_script() + " status --env --name " + shell_quote(opt_.name));
  if (r.ok()) env_ = parse_env_lines(r.output);
  return r;
}

std::string Sandbox::var(const std::string& key) const {
  const auto it = env_.find(key);
  return it == env_.end() ? std::string() : it->second;
}

CommandResult Sandbox::in_peer(const std::string& command) const {
  return run(in_netns(peer_ns(), command));
}

// ---- clients ----

CommandResult tcp_request_from(const std::string& ns, const std::string& addr, int port,
                               const std::string& request, double timeout_s) {
  const bool v6 = addr.find(':') != std::string::npos;
  const std::string target =
      v6 ? "TCP6:[" + addr + "]:" + std::to_string(port) : "TCP4:" + addr + ":" + std::to_string(port);
  // -T: inactivity timeout once connected; connect-timeout: how long an unanswered SYN may take.
  std::ostringstream t, hard;
  t << timeout_s;
  hard << timeout_s + 2;  // socat's own timeouts should fire first
  const std::string cmd = "printf '%s\\n' " + shell_quote(request) + " | timeout " + hard.str() +
                          " socat -T " + t.str() + " - " + target + ",connect-timeout=" + t.str();
  return run(in_netns(ns, cmd));
}

}  // namespace xdptcp::test
