// The names a scenario script uses for errno values, socket options and TCP_INFO fields
// (README.md), mapped to the stack's values.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string_view>

#include "userstack/tcp/tcp_info.h"
#include "userstack/tcp/tcp_stack.h"

namespace xdptcp::tcp::scenario {

// "EAGAIN" -> EAGAIN, ... (the errors the stack's calls return).
const std::map<std::string_view, int>& errno_names();
// "TCP_NODELAY" -> SockOpt::kNoDelay, ...
const std::map<std::string_view, SockOpt>& sockopt_names();
// "snd_cwnd" -> a reader of that TcpInfoSnapshot field, ...
using InfoField = std::function<std::int64_t(const TcpInfoSnapshot&)>;
const std::map<std::string_view, InfoField>& info_fields();

}  // namespace xdptcp::tcp::scenario
