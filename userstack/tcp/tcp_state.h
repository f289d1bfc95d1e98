// RFC 9293 §3.3.2 connection states, printed with the RFC's spelling.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string_view>

namespace xdptcp::tcp {

enum class TcpState : std::uint8_t {
  kClosed,
  kListen,
  kSynSent,
  kSynReceived,
  kEstablished,
  kFinWait1,
  kFinWait2,
  kCloseWait,
  kClosing,
  kLastAck,
  kTimeWait,
};

constexpr std::string_view to_string(TcpState s) {
  switch (s) {
    case TcpState::kClosed:
      return "CLOSED";
    case TcpState::kListen:
      return "LISTEN";
    case TcpState::kSynSent:
      return "SYN-SENT";
    case TcpState::kSynReceived:
      return "SYN-RECEIVED";
    case TcpState::kEstablished:
      return "ESTABLISHED";
    case TcpState::kFinWait1:
      return "FIN-WAIT-1";
    case TcpState::kFinWait2:
      return "FIN-WAIT-2";
    case TcpState::kCloseWait:
      return "CLOSE-WAIT";
    case TcpState::kClosing:
      return "CLOSING";
    case TcpState::kLastAck:
      return "LAST-ACK";
    case TcpState::kTimeWait:
      return "TIME-WAIT";
  }
  return "?";
}

// Multi-state predicates read like the RFC: in(s, {kFinWait1, kClosing, kLastAck}).
constexpr bool in(TcpState s, std::initializer_list<TcpState> set) {
  for (TcpState x : set) {
    if (x == s) return true;
  }
  return false;
}

}  // namespace xdptcp::tcp
