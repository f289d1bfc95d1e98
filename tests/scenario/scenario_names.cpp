// The script-facing names of errno values, socket options and TCP_INFO fields.
#include "tests/scenario/scenario_names.h"

#include <cerrno>

namespace xdptcp::tcp::scenario {

const std::map<std::string_view, int>& errno_names() {
  static const std::map<std::string_view, int> m = {
      {"EAGAIN", EAGAIN},
      {"EINPROGRESS", EINPROGRESS},
      {"ECONNREFUSED", ECONNREFUSED},
      {"ECONNRESET", ECONNRESET},
      {"ETIMEDOUT", ETIMEDOUT},
      {"ENOTCONN", ENOTCONN},
      {"EPIPE", EPIPE},
      {"EINVAL", EINVAL},
      {"EBADF", EBADF},
      {"EISCONN", EISCONN},
      {"EALREADY", EALREADY},
      {"EADDRINUSE", EADDRINUSE},
      {"EOPNOTSUPP", EOPNOTSUPP},
      {"ENOPROTOOPT", ENOPROTOOPT},
      {"EMFILE", EMFILE},
      {"EHOSTUNREACH", EHOSTUNREACH},
      {"ECONNABORTED", ECONNABORTED},
      {"EADDRNOTAVAIL", EADDRNOTAVAIL},
  };
  return m;
}

const std::map<std::string_view, SockOpt>& sockopt_names() {
  static const std::map<std::string_view, SockOpt> m = {
      {"SO_REUSEADDR", SockOpt::kReuseAddr},  {"SO_RCVBUF", SockOpt::kRcvBuf},
      {"SO_SNDBUF", SockOpt::kSndBuf},        {"SO_KEEPALIVE", SockOpt::kKeepAlive},
      {"SO_LINGER", SockOpt::kLinger},        {"TCP_NODELAY", SockOpt::kNoDelay},
      {"SO_ERROR", SockOpt::kError},          {"TCP_KEEPIDLE", SockOpt::kKeepIdle},
      {"TCP_KEEPINTVL", SockOpt::kKeepIntvl}, {"TCP_KEEPCNT", SockOpt::kKeepCnt},
      {"TCP_MAXSEG", SockOpt::kMaxSeg},       {"TCP_USER_TIMEOUT", SockOpt::kUserTimeout},
      {"TCP_CORK", SockOpt::kCork},           {"TCP_QUICKACK", SockOpt::kQuickAck},
  };
  return m;
}

const std::map<std::string_view, InfoField>& info_fields() {
  static const std::map<std::string_view, InfoField> m = {
      {"ca_state", [](const auto& i) { return static_cast<std::int64_t>(i.ca_state); }},
      {"retransmits", [](const auto& i) { return i.retransmits; }},
      {"probes", [](const auto& i) { return i.probes; }},
      {"backoff", [](const auto& i) { return i.backoff; }},
      {"options", [](const auto& i) { return i.options; }},
      {"snd_wscale", [](const auto& i) { return i.snd_wscale; }},
      {"rcv_wscale", [](const auto& i) { return i.rcv_wscale; }},
      {"rto", [](const auto& i) { return i.rto_us; }},
      {"ato", [](const auto& i) { return i.ato_us; }},
      {"snd_mss", [](const auto& i) { return i.snd_mss; }},
      {"rcv_mss", [](const auto& i) { return i.rcv_mss; }},
      {"advmss", [](const auto& i) { return i.advmss; }},
      {"unacked", [](const auto& i) { return i.unacked; }},
      {"sacked", [](const auto& i) { return i.sacked; }},
      {"rtt", [](const auto& i) { return i.rtt_us; }},
      {"rttvar", [](const auto& i) { return i.rttvar_us; }},
      {"snd_ssthresh", [](const auto& i) { return i.snd_ssthresh; }},
      {"snd_cwnd", [](const auto& i) { return i.snd_cwnd; }},
      {"rcv_space", [](const auto& i) { return i.rcv_space; }},
      {"rcv_wnd", [](const auto& i) { return i.rcv_wnd; }},
      {"snd_wnd", [](const auto& i) { return i.snd_wnd; }},
      {"notsent_bytes", [](const auto& i) { return i.notsent_bytes; }},
      {"total_retrans", [](const auto& i) { return i.total_retrans; }},
      {"bytes_acked", [](const auto& i) { return static_cast<std::int64_t>(i.bytes_acked); }},
      {"bytes_received", [](const auto& i) { return static_cast<std::int64_t>(i.bytes_received); }},
      {"bytes_retrans", [](const auto& i) { return static_cast<std::int64_t>(i.bytes_retrans); }},
      {"segs_out", [](const auto& i) { return i.segs_out; }},
      {"segs_in", [](const auto& i) { return i.segs_in; }},
      {"data_segs_out", [](const auto& i) { return i.data_segs_out; }},
      {"data_segs_in", [](const auto& i) { return i.data_segs_in; }},
  };
  return m;
}

}  // namespace xdptcp::tcp::scenario
