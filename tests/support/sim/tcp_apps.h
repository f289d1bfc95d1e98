// Small applications on a TcpStack for simulations and benchmarks: a request/response server
// and client (short connections, or many transactions on persistent ones) and a bulk
// sender/receiver. They poll readiness once per step (SimNetwork's app hook) and allocate nothing
// after construction, so the steady-state allocation test and the benchmarks can use them.
#pragma once

#include <sys/socket.h>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "userstack/tcp/tcp_stack.h"

namespace xdptcp::sim {

// Serves fixed-size requests: for every `request` bytes received on a connection it sends
// `response` bytes; it closes a connection when the peer has closed it.
class RrServer {
 public:
  RrServer(tcp::TcpStack& st, const wire::SockAddr& addr, std::size_t request, std::size_t response,
           std::size_t max_conns = 1024)
      : st_(st),
        request_(request),
        response_(response),
        conns_(max_conns),
        buf_(request > response ? request : response, 0x5a) {
    listener_ = st_.socket(addr.ip.family);
    setup_error_ = listener_ < 0 ? static_cast<int>(listener_) : st_.bind(listener_, addr);
    if (setup_error_ == 0) setup_error_ = st_.listen(listener_, static_cast<int>(max_conns));
  }
  int setup_error() const { return setup_error_; }  // 0, or the negative errno of socket/bind/listen

  void poll(Instant now) {
    for (;;) {
      const tcp::SocketId s = st_.accept(listener_, nullptr);
      if (s < 0) break;
      Conn* c = free_slot();
      if (c == nullptr) {
        st_.close(s, now);
        ++rejected_;
        continue;
      }
      *c = Conn{s, 0, 0, 0};
      ++active_;
    }
    for (Conn& c : conns_) {
      if (c.sock < 0) continue;
      serve(c, now);
    }
  }

  void close_listener(Instant now) {
    if (listener_ >= 0) st_.close(listener_, now);
    listener_ = -1;
  }
  std::uint64_t responses() const { return responses_; }
  std::uint64_t closed() const { return closed_; }
  std::size_t active() const { return active_; }
  std::uint64_t rejected() const { return rejected_; }

 private:
  struct Conn {
    tcp::SocketId sock = -1;
    std::uint64_t received = 0;
    std::uint64_t answered = 0;  // responses fully queued
    std::size_t partial = 0;     // bytes of the current response already queued
  };

  Conn* free_slot() {
    for (Conn& c : conns_) {
      if (c.sock < 0) return &c;
    }
    return nullptr;
  }

  void serve(Conn& c, Instant now) {
    for (;;) {
      const ssize_t n = st_.recv(c.sock, {buf_.data(), buf_.size()}, now);
      if (n > 0) {
        c.received += static_cast<std::uint64_t>(n);
        continue;
      }
      if (n == 0) {  // EOF: the client is done
        st_.close(c.sock, now);
        c.sock = -1;
        --active_;
        ++closed_;
        return;
      }
      break;  // -EAGAIN, or an error the close below will clear
    }
    while (c.answered < c.received / request_) {
      const ssize_t n = st_.send(c.sock, {buf_.data(), response_ - c.partial}, now);
      if (n <= 0) return;
      c.partial += static_cast<std::size_t>(n);
      if (c.partial < response_) return;
      c.partial = 0;
      ++c.answered;
      ++responses_;
    }
    if ((st_.poll_events(c.sock) & tcp::events::kErr) != 0) {
      st_.close(c.sock, now);
      c.sock = -1;
      --active_;
      ++closed_;
    }
  }

  tcp::TcpStack& st_;
  std::size_t request_;
  std::size_t response_;
  tcp::SocketId listener_ = -1;
  int setup_error_ = 0;
  std::vector<Conn> conns_;
  std::vector<std::uint8_t> buf_;
  std::size_t active_ = 0;
  std::uint64_t responses_ = 0;
  std::uint64_t closed_ = 0;
  std::uint64_t rejected_ = 0;
};

// Runs `total` transactions over up to `parallel` connections at once: connect, send `request`
// bytes, read `response` bytes, then close (short mode) or send the next request on the same
// connection (persistent mode, total counts transactions across all connections).
class RrClient {
 public:
  RrClient(tcp::TcpStack& st, const wire::SockAddr& server, std::size_t request, std::size_t response,
           std::size_t parallel, std::uint64_t total, bool persistent)
      : st_(st),
        server_(server),
        request_(request),
        response_(response),
        persistent_(persistent),
        total_(total),
        slots_(parallel),
        buf_(request > response ? request : response, 0xa5) {}

  void poll(Instant now) {
    for (Slot& s : slots_) step(s, now);
  }
  bool done() const { return completed_ >= total_; }
  std::uint64_t completed() const { return completed_; }
  std::uint64_t failed() const { return failed_; }
  std::size_t open() const {
    std::size_t n = 0;
    for (const Slot& s : slots_) n += s.sock >= 0;
    return n;
  }
  // Closes every connection still open (persistent mode, at the end).
  void close_all(Instant now) {
    for (Slot& s : slots_) {
      if (s.sock >= 0) st_.close(s.sock, now);
      s = Slot{};
    }
  }

 private:
  enum class Phase : std::uint8_t { kIdle, kConnecting, kWaiting, kDone /* persistent, all started */ };
  struct Slot {
    tcp::SocketId sock = -1;
    Phase phase = Phase::kIdle;
    std::size_t sent = 0;      // bytes of the current request queued
    std::size_t received = 0;  // bytes of the current response read
  };

  void fail(Slot& s, Instant now) {
    ++failed_;
    st_.close(s.sock, now);
    s = Slot{};
  }

  void step(Slot& s, Instant now) {
    if (s.phase == Phase::kIdle) {
      if (started_ >= total_) return;
      s.sock = st_.socket(server_.ip.family);
      if (s.sock < 0) return;
      const int rc = st_.connect(s.sock, server_, now);
      if (rc != 0 && rc != -EINPROGRESS) {
        fail(s, now);
        return;
      }
      ++started_;
      s.phase = Phase::kConnecting;
    }
    if (s.phase == Phase::kDone) return;
    const std::uint32_t ev = st_.poll_events(s.sock);
    if ((ev & (tcp::events::kErr | tcp::events::kHup)) != 0 && (ev & tcp::events::kIn) == 0) {
      fail(s, now);
      return;
    }
    if (s.phase == Phase::kConnecting) {
      if ((ev & tcp::events::kOut) == 0) return;
      s.phase = Phase::kWaiting;
      s.sent = 0;
      s.received = 0;
    }
    while (s.sent < request_) {  // kWaiting: finish queueing the request, then read the response
      const ssize_t n = st_.send(s.sock, {buf_.data(), request_ - s.sent}, now);
      if (n <= 0) return;
      s.sent += static_cast<std::size_t>(n);
    }
    for (;;) {
      const ssize_t n = st_.recv(s.sock, {buf_.data(), response_ - s.received}, now);
      if (n == 0) {
        fail(s, now);  // the server closed before answering
        return;
      }
      if (n < 0) return;
      s.received += static_cast<std::size_t>(n);
      if (s.received < response_) continue;
      ++completed_;
      if (persistent_ && started_ < total_) {
        ++started_;
        s.sent = 0;
        s.received = 0;
        while (s.sent < request_) {
          const ssize_t m = st_.send(s.sock, {buf_.data(), request_ - s.sent}, now);
          if (m <= 0) return;
          s.sent += static_cast<std::size_t>(m);
        }
        continue;
      }
      if (persistent_) {
        s.phase = Phase::kDone;  // the connection stays open until close_all()
      } else {
        st_.close(s.sock, now);
        s = Slot{};
      }
      return;
    }
  }

  tcp::TcpStack& st_;
  wire::SockAddr server_;
  std::size_t request_;
  std::size_t response_;
  bool persistent_;
  std::uint64_t total_;
  std::uint64_t started_ = 0;
  std::uint64_t completed_ = 0;
  std::uint64_t failed_ = 0;
  std::vector<Slot> slots_;
  std::vector<std::uint8_t> buf_;
};

}  // namespace xdptcp::sim
