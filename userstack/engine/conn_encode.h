// A TCB as an entry of a connection snapshot (conn_snapshot.h): the engine's side of the encoding,
// apart from the reader's so that xdptcp-ctl does not link the TCP stack.
#pragma once

#include "userstack/engine/conn_snapshot.h"
#include "userstack/tcp/tcp_stack.h"

namespace xdptcp::engine {

// Linux's number for a state (linux_tcp_state), as its struct tcp_info's tcpi_state.
std::uint8_t linux_state(tcp::TcpState s);

ConnEntry encode_conn(const tcp::SocketView& v);

}  // namespace xdptcp::engine
