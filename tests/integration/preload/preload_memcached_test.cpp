// A multi-threaded application on the stack (issue 10): Debian's memcached, run unmodified through
// xdptcp-run (LD_PRELOAD=libxdptcp-preload.so). memcached's main thread accepts and hands each
// connection to one of -t N worker threads, each with its own libevent epoll set, so the threads
// share the process's one engine and must wake each other: a lost wake-up shows as a request that
// is never answered (the client's reads time out), not as a crash. From the peer namespace:
//   - 10,000 keys with distinct random binary values (a few bytes to ~100 kB) written over 8
//     concurrent connections, then read back over other connections (single gets and multi-gets)
//     and compared byte for byte;
//   - 32 connections of mixed get/set for 3 s, each on keys of its own, so that every reply is known;
//   - loopback still served by the kernel's side of the hybrid listener;
//   - the steering program's "redirected" counter proves that the frames went to AF_XDP, and every
//     worker thread used CPU (connections really were spread over the threads);
//   - SIGTERM: memcached exits with status 0 within a few seconds.
// Once with -t 4 and once with -t 1 (a main thread and one worker: still two threads on the engine).
//
// The client runs in this process: its threads enter the peer namespace (setns) before they open
// their sockets, which are the kernel's, so no client tool is needed. Needs root, the built
// xdptcp-run, libxdptcp-preload.so and xdptcp-ctl, and memcached (skips, saying what is missing).
// Each test brings up its own sandbox (mct4, mct1; --subnet auto) and stops memcached in TearDown.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "integration/preload/preload_test_util.h"
#include "support/netns/netns_util.h"
#include "support/netns/socket_util.h"

namespace xdptcp::test::preload_memcached {
namespace {

using preload::note;
using preload::read_file;
using preload::steer_counter;
using preload::tail;
using preload::tool_path;
using preload::trim;

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr int kKeys = 10000;   // keys written and read back
constexpr int kWriters = 8;    // connections that write them (and, shifted by one, read them)
constexpr int kMultiGet = 16;  // keys per multi-get in the read-back
constexpr int kLoadConnections = 32;
constexpr auto kLoadTime = 3s;
constexpr int kLoadKeys = 64;               // keys of each load connection
constexpr int kIoTimeoutS = 10;             // a read or write stalled this long is an error
constexpr std::size_t kBigValue = 100'000;  // the largest values: every 200th key
constexpr const char* kMemoryMb = "256";    // -m: room for every value, so nothing is evicted

// ---- the client: kernel sockets in the peer namespace ----

// Moves the calling thread into network namespace `ns` (/run/netns/<ns>): the sockets it opens
// afterwards live there. The destructor moves it back, so that a thread never runs the rest of
// the test in the peer's namespace.
class InNetns {
 public:
  explicit InNetns(const std::string& ns) {
    home_ = Fd(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    const Fd target(::open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC));
    if (home_.get() < 0 || target.get() < 0) {
      error_ = "cannot open the namespaces (/run/netns/" + ns + "): " + std::strerror(errno);
    } else if (::setns(target.get(), CLONE_NEWNET) != 0) {
      error_ = "setns into " + ns + ": " + std::strerror(errno);
    } else {
      entered_ = true;
    }
  }
  ~InNetns() {
    if (entered_ && ::setns(home_.get(), CLONE_NEWNET) != 0) std::abort();  // never run on elsewhere
  }
  InNetns(const InNetns&) = delete;
  InNetns& operator=(const InNetns&) = delete;
  bool ok() const { return entered_; }
  const std::string& error() const { return error_; }

 private:
  Fd home_;
  bool entered_ = false;
  std::string error_;
};

// One memcached text-protocol connection with blocking I/O, every read and write bounded by
// kIoTimeoutS: a request the server never answers becomes an error with a message, not a hang.
// Each call returns false and sets error() on anything unexpected.
class McConn {
 public:
  bool connect(const std::string& ip, int port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    if (::inet_pton(AF_INET, ip.c_str(), &a.sin_addr) != 1) return fail("not an IPv4 address: " + ip);
    fd_ = Fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (fd_.get() < 0) return fail_errno("socket");
    timeval tv{kIoTimeoutS, 0};
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    const int one = 1;
    ::setsockopt(fd_.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(fd_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
      return fail_errno("connect to " + ip + ":" + std::to_string(port));
    return true;
  }

  bool set(std::string_view key, std::string_view value) {
    std::string req = "set " + std::string(key) + " 0 0 " + std::to_string(value.size()) + "\r\n";
    req.append(value);
    req += "\r\n";
    std::string line;
    if (!send_all(req) || !read_line(&line)) return false;
    if (line != "STORED") return fail("set " + std::string(key) + ": the server answered '" + line + "'");
    return true;
  }

  // `get k1 k2 ...`: the values of the keys that exist, in the order the server sent them.
  bool get(const std::vector<std::string>& keys, std::vector<std::pair<std::string, std::string>>* hits) {
    std::string req = "get";
    for (const auto& k : keys) req += " " + k;
    req += "\r\n";
    if (!send_all(req)) return false;
    hits->clear();
    for (;;) {
      std::string line;
      if (!read_line(&line)) return false;
      if (line == "END") return true;
      // VALUE <key> <flags> <bytes>
      std::istringstream in(line);
      std::string word, key;
      unsigned flags = 0;
      std::size_t bytes = 0;
      if (!(in >> word >> key >> flags >> bytes) || word != "VALUE" || flags != 0)
        return fail("get: unexpected line '" + line.substr(0, 200) + "'");
      std::string value, crlf;
      if (!read_exact(bytes, &value) || !read_exact(2, &crlf)) return false;
      if (crlf != "\r\n") return fail("get " + key + ": the value is not followed by CRLF");
      hits->emplace_back(std::move(key), std::move(value));
    }
  }

  // `version`: the server's answer ("VERSION 1.6.18").
  bool version(std::string* answer) {
    if (!send_all("version\r\n") || !read_line(answer)) return false;
    return answer->rfind("VERSION ", 0) == 0 || fail("version: the server answered '" + *answer + "'");
  }

  // `stats`: name -> value.
  bool stats(std::map<std::string, std::string>* out) {
    if (!send_all("stats\r\n")) return false;
    for (;;) {
      std::string line;
      if (!read_line(&line)) return false;
      if (line == "END") return true;
      std::istringstream in(line);
      std::string word, name, value;
      if (!(in >> word >> name >> value) || word != "STAT")
        return fail("stats: unexpected line '" + line + "'");
      (*out)[name] = value;
    }
  }

  const std::string& error() const { return error_; }

 private:
  bool fail(const std::string& what) {
    if (error_.empty()) error_ = what;
    return false;
  }
  bool fail_errno(const std::string& what) { return fail(what + ": " + std::strerror(errno)); }

  bool send_all(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0)
        return fail_errno(errno == EAGAIN ? "send: stalled for " + std::to_string(kIoTimeoutS) + " s"
                                          : "send");
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // Reads more bytes into the buffer; false on EOF, error or timeout.
  bool fill() {
    if (pos_ > 0 && pos_ == buf_.size()) {
      buf_.clear();
      pos_ = 0;
    }
    char tmp[65536];
    for (;;) {
      const ssize_t n = ::recv(fd_.get(), tmp, sizeof tmp, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n == 0) return fail("the server closed the connection");
      if (n < 0) {
        return errno == EAGAIN
                   ? fail("no answer within " + std::to_string(kIoTimeoutS) + " s (a lost wake-up?)")
                   : fail_errno("recv");
      }
      buf_.append(tmp, static_cast<std::size_t>(n));
      return true;
    }
  }

  bool read_line(std::string* line) {
    for (;;) {
      const std::size_t eol = buf_.find("\r\n", pos_);
      if (eol != std::string::npos) {
        line->assign(buf_, pos_, eol - pos_);
        pos_ = eol + 2;
        return true;
      }
      if (buf_.size() - pos_ > 4096) return fail("a reply line longer than 4 kB");
      if (!fill()) return false;
    }
  }

  bool read_exact(std::size_t n, std::string* out) {
    while (buf_.size() - pos_ < n) {
      if (!fill()) return false;
    }
    out->assign(buf_, pos_, n);
    pos_ += n;
    return true;
  }

  Fd fd_;
  std::string buf_;
  std::size_t pos_ = 0;
  std::string error_;
};

// What one client thread did.
struct Tally {
  std::uint64_t requests = 0;  // requests sent (each is at least one frame to the server)
  std::uint64_t sets = 0, gets = 0, hits = 0, verified = 0;
  std::uint64_t errors = 0;
  std::string first_error;
  void error(const std::string& what) {
    if (errors++ == 0) first_error = what;
  }
};

Tally merge(const std::vector<Tally>& v, std::string* errors) {
  Tally t;
  for (std::size_t i = 0; i < v.size(); ++i) {
    t.requests += v[i].requests;
    t.sets += v[i].sets;
    t.gets += v[i].gets;
    t.hits += v[i].hits;
    t.verified += v[i].verified;
    t.errors += v[i].errors;
    if (v[i].errors > 0)
      *errors += "connection " + std::to_string(i) + ": " + std::to_string(v[i].errors) +
                 " error(s), first: " + v[i].first_error + "\n";
  }
  return t;
}

// Runs fn(i) on `n` threads, each inside namespace `ns`, and waits for all of them.
void on_threads_in(const std::string& ns, int n, std::vector<Tally>& tallies,
                   const std::function<void(int, Tally&)>& fn) {
  tallies.assign(static_cast<std::size_t>(n), Tally{});
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      Tally& t = tallies[static_cast<std::size_t>(i)];
      const InNetns in(ns);
      if (!in.ok()) {
        t.error(in.error());
        return;
      }
      fn(i, t);
    });
  }
  for (auto& t : threads) t.join();
}

std::string key_of(int i) {
  return "mc:key:" + std::to_string(i);
}

// 10,000 distinct values: the key's number, then random bytes (all 256 values, CR and LF among
// them). Sizes: every 200th ~100 kB, every 50th 10-60 kB, every 10th 1-8 kB, the rest 0-300 bytes
// after the number (a few bytes for the smallest).
std::vector<std::string> make_values(std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::string> v(kKeys);
  for (int i = 0; i < kKeys; ++i) {
    std::size_t extra = 0;
    if (i % 200 == 7) {
      extra = kBigValue + rng() % 2048;
    } else if (i % 50 == 3) {
      extra = 10'000 + rng() % 50'000;
    } else if (i % 10 == 1) {
      extra = 1'000 + rng() % 7'000;
    } else {
      extra = rng() % 301;
    }
    std::string& s = v[static_cast<std::size_t>(i)];
    s = std::to_string(i) + ":";
    s.reserve(s.size() + extra);
    for (std::size_t k = 0; k < extra; ++k) s += static_cast<char>(rng() & 0xff);
  }
  return v;
}

class PreloadMemcached : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!is_root()) GTEST_SKIP() << "needs root: network namespaces, XDP and AF_XDP";
    for (const std::string exe : {"xdptcp-run", "xdptcp-ctl", "../lib/libxdptcp-preload.so"}) {
      if (!fs::exists(bin_path(exe))) GTEST_SKIP() << bin_path(exe) << " is not built";
    }
    if (tool_path("memcached").empty())
      GTEST_SKIP() << "memcached is not installed (apt-get install memcached)";
  }

  void TearDown() override {
    if (memcached_) {
      (void)memcached_->stop(SIGKILL, 3s);  // after a failure only: the tests stop it with SIGTERM
      memcached_.reset();
    }
    sb_.reset();  // takes the sandbox down
  }

  void bring_up(const std::string& name) {
    sb_ =
        std::make_unique<Sandbox>(Sandbox::Options{.name = name, .queues = 2, .router = false, .subnet = -1});
    const CommandResult up = sb_->up();
    ASSERT_TRUE(up.ok()) << up.output;
    ASSERT_FALSE(sb_->iface().empty()) << "the sandbox did not come up: " << sb_->status().output;
    ASSERT_FALSE(sb_->stack_ip4().empty()) << sb_->status_env().output;
  }
  Sandbox& sb() { return *sb_; }

  // memcached -t `threads` on a free port of the root namespace (its kernel socket holds the port
  // there, beside everything else on the machine), listening on the wildcard address: the stack
  // serves the sandbox's address, the kernel loopback. Waits until `version` answers from the peer.
  void start_memcached(int threads) {
    port_ = free_port();
    ASSERT_NE(port_, 0) << "no free TCP port";
    memcached_ = std::make_unique<BackgroundCommand>(
        "exec " + bin_path("xdptcp-run") + " --iface " + sb().iface() + " -- " + tool_path("memcached") +
        " -u root -t " + std::to_string(threads) + " -l 0.0.0.0 -p " + std::to_string(port_) + " -U 0 -m " +
        kMemoryMb + " -c 4096");
    // memcached registers its listener in its epoll set at start-up, which starts the stack (the
    // preload's start-up line). A connection made before the stack's steering rule is in would be
    // the kernel's (and the preload would say it stays with the kernel): the peer waits for the line.
    ASSERT_TRUE(memcached_->wait_for_output("engine(s), AF_XDP", 30s))
        << "no start-up line of the stack from the preload\n"
        << memcached_->output();
    std::this_thread::sleep_for(300ms);  // the listener's rule goes in just after the line
    std::string last;
    const bool up = wait_until(
        [&] {
          if (!memcached_->running()) return false;
          const InNetns in(sb().peer_ns());
          McConn c;
          const bool ok = in.ok() && c.connect(sb().stack_ip4(), port_) && c.version(&last);
          if (!ok) last = in.ok() ? c.error() : in.error();
          return ok;
        },
        30s, 200ms);
    ASSERT_TRUE(up) << "memcached does not answer `version` on " << sb().stack_ip4() << ":" << port_
                    << " (last answer: '" << last << "')\n"
                    << memcached_->output();
    note("memcached -t " + std::to_string(threads) + " on port " + std::to_string(port_) + ": " + trim(last));
  }

  std::string diagnostics() {
    return memcached_ ? "\n-- memcached's output:\n" + tail(memcached_->output(), 60) : "";
  }

  // The worker threads' CPU ticks (/proc/PID/task/*/stat of the threads named "mc-worker").
  std::vector<unsigned long long> worker_ticks() {
    std::vector<unsigned long long> ticks;
    std::error_code ec;
    for (const auto& d : fs::directory_iterator("/proc/" + std::to_string(memcached_->pid()) + "/task", ec)) {
      const std::string stat = read_file(d.path().string() + "/stat");
      const auto open = stat.find('('), close = stat.rfind(')');
      if (open == std::string::npos || close == std::string::npos) continue;
      if (stat.substr(open + 1, close - open - 1) != "mc-worker") continue;
      unsigned long long utime = 0, stime = 0;
      std::istringstream in(stat.substr(close + 2));
      std::string skip;
      for (int f = 3; f < 14; ++f) in >> skip;  // state .. cmajflt
      in >> utime >> stime;
      ticks.push_back(utime + stime);
    }
    return ticks;
  }

  // The whole check for one memcached: values, load, loopback, counters, threads, SIGTERM.
  void check_memcached(int threads) {
    ASSERT_NO_FATAL_FAILURE(start_memcached(threads));
    const std::string ip = sb().stack_ip4();
    const int port = port_;
    const long long redirected_before = steer_counter(sb().iface(), "redirected");

    // 1. 10,000 values written over kWriters connections (key i on connection i % kWriters), then
    // read back over the next connection (so by another worker thread than wrote it), alternately
    // with single gets and multi-gets of kMultiGet keys.
    const auto seed = std::random_device{}();
    const std::vector<std::string> values = make_values(seed);
    std::vector<Tally> tallies;
    const auto t0 = std::chrono::steady_clock::now();
    on_threads_in(sb().peer_ns(), kWriters, tallies, [&](int w, Tally& t) {
      McConn c;
      if (!c.connect(ip, port)) return t.error(c.error());
      for (int i = w; i < kKeys; i += kWriters) {
        ++t.requests;
        if (!c.set(key_of(i), values[static_cast<std::size_t>(i)])) return t.error(c.error());
        ++t.sets;
      }
    });
    std::string errors;
    const Tally written = merge(tallies, &errors);
    EXPECT_EQ(written.errors, 0u) << "writing (seed " << seed << "):\n" << errors << diagnostics();
    EXPECT_EQ(written.sets, static_cast<std::uint64_t>(kKeys)) << errors;

    on_threads_in(sb().peer_ns(), kWriters, tallies, [&](int r, Tally& t) {
      McConn c;
      if (!c.connect(ip, port)) return t.error(c.error());
      std::vector<int> mine;
      for (int i = (r + 1) % kWriters; i < kKeys; i += kWriters) mine.push_back(i);
      std::vector<std::pair<std::string, std::string>> hits;
      bool multi = false;
      for (std::size_t at = 0; at < mine.size(); multi = !multi) {
        const std::size_t n = multi ? std::min<std::size_t>(kMultiGet, mine.size() - at) : 1;
        std::vector<std::string> keys;
        for (std::size_t k = 0; k < n; ++k) keys.push_back(key_of(mine[at + k]));
        ++t.requests;
        t.gets += n;
        if (!c.get(keys, &hits)) return t.error(c.error());
        // memcached answers the keys it has in the order they were asked for.
        std::size_t h = 0;
        for (std::size_t k = 0; k < n; ++k) {
          const int i = mine[at + k];
          if (h >= hits.size() || hits[h].first != keys[k]) {
            t.error("get " + keys[k] + ": missing from the reply");
            continue;
          }
          ++t.hits;
          const std::string& want = values[static_cast<std::size_t>(i)];
          const std::string& got = hits[h++].second;
          if (got == want) {
            ++t.verified;
          } else {
            const auto diff = std::mismatch(got.begin(), got.end(), want.begin(), want.end());
            t.error("get " + keys[k] + ": " + std::to_string(got.size()) + " bytes, expected " +
                    std::to_string(want.size()) + ", first difference at byte " +
                    std::to_string(diff.first - got.begin()));
          }
        }
        if (h != hits.size()) t.error("get: " + std::to_string(hits.size() - h) + " value(s) not asked for");
        at += n;
      }
    });
    errors.clear();
    const Tally read = merge(tallies, &errors);
    const double values_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_EQ(read.errors, 0u) << "reading back (seed " << seed << "):\n" << errors << diagnostics();
    EXPECT_EQ(read.verified, static_cast<std::uint64_t>(kKeys)) << "values read back equal to those written";
    std::size_t bytes = 0;
    for (const auto& v : values) bytes += v.size();
    note(std::to_string(written.sets) + " values (" + std::to_string(bytes / 1024) + " KiB) written and " +
         std::to_string(read.verified) + " read back identical over " + std::to_string(kWriters) +
         " connections in " + std::to_string(values_s).substr(0, 4) + " s");

    // 2. Load: kLoadConnections connections for kLoadTime, 1 set in 4, on keys of their own.
    const auto end = std::chrono::steady_clock::now() + kLoadTime;
    on_threads_in(sb().peer_ns(), kLoadConnections, tallies, [&](int w, Tally& t) {
      std::mt19937_64 rng(seed + 1 + static_cast<std::uint64_t>(w));
      std::vector<std::string> last(kLoadKeys);  // "" = never set
      McConn c;
      if (!c.connect(ip, port)) return t.error(c.error());
      std::vector<std::pair<std::string, std::string>> hits;
      while (std::chrono::steady_clock::now() < end) {
        const int k = static_cast<int>(rng() % kLoadKeys);
        const std::string key = "mc:load:" + std::to_string(w) + ":" + std::to_string(k);
        std::string& want = last[static_cast<std::size_t>(k)];
        ++t.requests;
        if (rng() % 4 == 0) {
          std::string v = std::to_string(t.requests) + ":";
          const std::size_t n = 1 + rng() % 2000;
          for (std::size_t b = 0; b < n; ++b) v += static_cast<char>(rng() & 0xff);
          if (!c.set(key, v)) return t.error(c.error());
          ++t.sets;
          want = std::move(v);
          continue;
        }
        ++t.gets;
        if (!c.get({key}, &hits)) return t.error(c.error());
        if (want.empty()) {
          if (!hits.empty()) t.error("get " + key + ": a value for a key never set");
          continue;
        }
        if (hits.size() != 1 || hits[0].first != key) {
          t.error("get " + key + ": missing from the reply");
        } else if (hits[0].second != want) {
          t.error("get " + key + ": not the value last set");
        } else {
          ++t.hits;
          ++t.verified;
        }
      }
    });
    errors.clear();
    const Tally load = merge(tallies, &errors);
    EXPECT_EQ(load.errors, 0u) << "load:\n" << errors << diagnostics();
    // Some hundreds of requests per connection at the least (tens of thousands are usual).
    EXPECT_GE(load.requests, 100u * kLoadConnections) << "load: too few requests served" << diagnostics();
    note("load: " + std::to_string(load.requests) + " requests (" + std::to_string(load.sets) + " sets, " +
         std::to_string(load.gets) + " gets, " + std::to_string(load.verified) + " values checked) over " +
         std::to_string(kLoadConnections) + " connections in " + std::to_string(kLoadTime.count()) + " s");

    // 3. Loopback: the kernel's side of the hybrid listener, same memcached (a value written over
    // the stack is there).
    {
      McConn c;
      std::vector<std::pair<std::string, std::string>> hits;
      const bool ok = c.connect("127.0.0.1", port) && c.get({key_of(5)}, &hits);
      EXPECT_TRUE(ok) << "loopback: " << c.error();
      EXPECT_TRUE(ok && hits.size() == 1 && hits[0].second == values[5]) << "loopback: get " << key_of(5);
    }

    // 4. The frames went to AF_XDP (each request is at least one), memcached has the threads it was
    // asked for, nothing was evicted, and every worker served some of the connections.
    std::string stats_out;
    const long long redirected = steer_counter(sb().iface(), "redirected", &stats_out);
    EXPECT_GE(redirected_before, 0) << "no steering program on " << sb().iface() << " once memcached served";
    const auto requests = static_cast<long long>(written.requests + read.requests + load.requests);
    EXPECT_GE(redirected - std::max(0LL, redirected_before), requests)
        << "fewer frames went to AF_XDP than requests were sent: memcached was served by the kernel?\n"
        << stats_out;
    note("frames redirected to xdptcp: " + std::to_string(redirected - redirected_before) + " for " +
         std::to_string(requests) + " requests");
    {
      McConn c;
      std::map<std::string, std::string> st;
      bool ok = false;
      {
        const InNetns in(sb().peer_ns());
        ok = in.ok() && c.connect(ip, port) && c.stats(&st);
      }
      ASSERT_TRUE(ok) << "stats: " << c.error();
      EXPECT_EQ(st["threads"], std::to_string(threads));
      EXPECT_EQ(st["evictions"], "0");
      note("memcached stats: threads " + st["threads"] + ", total_connections " + st["total_connections"] +
           ", cmd_get " + st["cmd_get"] + ", cmd_set " + st["cmd_set"] + ", evictions " + st["evictions"]);
    }
    const std::vector<unsigned long long> ticks = worker_ticks();
    EXPECT_EQ(ticks.size(), static_cast<std::size_t>(threads)) << "threads named mc-worker";
    std::string per;
    for (const auto t : ticks) per += (per.empty() ? "" : ", ") + std::to_string(t);
    EXPECT_TRUE(std::all_of(ticks.begin(), ticks.end(), [](auto t) { return t > 0; }))
        << "a worker thread used no CPU: " << per;
    note("CPU ticks of the worker threads: " + per);

    // The preload started the stack and took the listener.
    const std::string out = memcached_->output();
    EXPECT_NE(out.find("engine(s), AF_XDP"), std::string::npos)
        << "no start-up line of the stack" << diagnostics();
    for (const char* bad : {"stays with the kernel", "the kernel serves it alone", "cannot start"}) {
      EXPECT_EQ(out.find(bad), std::string::npos) << diagnostics();
    }

    // 5. SIGTERM: memcached leaves its event loop and exits with status 0, soon.
    ASSERT_TRUE(memcached_->running()) << diagnostics();
    const auto s0 = std::chrono::steady_clock::now();
    ::kill(memcached_->pid(), SIGTERM);
    const int status = memcached_->wait(10s);
    const auto took =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - s0);
    EXPECT_EQ(status, 0) << "memcached's exit status after SIGTERM (-1: still running after 10 s)"
                         << diagnostics();
    EXPECT_LT(took, 5s) << diagnostics();
    note("memcached exited with status " + std::to_string(status) + " " + std::to_string(took.count()) +
         " ms after SIGTERM");
  }

  std::unique_ptr<Sandbox> sb_;
  std::unique_ptr<BackgroundCommand> memcached_;
  int port_ = 0;
};

// The main thread accepts; four workers serve, each from its own epoll set.
TEST_F(PreloadMemcached, FourThreads_ValuesLoadLoopbackSigterm_OverTheStack) {
  ASSERT_NO_FATAL_FAILURE(bring_up("mct4"));
  check_memcached(4);
}

// -t 1: still two threads (the accepting main thread and one worker) on one engine.
TEST_F(PreloadMemcached, OneThread_ValuesLoadLoopbackSigterm_OverTheStack) {
  ASSERT_NO_FATAL_FAILURE(bring_up("mct1"));
  check_memcached(1);
}

}  // namespace
}  // namespace xdptcp::test::preload_memcached
