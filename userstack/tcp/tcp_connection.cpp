// TcpConnection: construction and reset of a pooled TCB (the behaviour is in the stack's files).
#include "userstack/tcp/tcp_connection.h"

namespace xdptcp::tcp {

TcpConnection::TcpConnection() = default;

TcpConnection::~TcpConnection() {
  if (cc != nullptr) destroy_cc(cc);
}

void TcpConnection::reset(const RtoConfig& rto) {
  const std::uint32_t keep_next_free = next_free;
  const bool keep_allocated = allocated;
  const bool keep_queued = in_output_queue;  // the output queue still holds the index
  static_cast<TcbVars&>(*this) = TcbVars{};
  next_free = keep_next_free;
  allocated = keep_allocated;
  in_output_queue = keep_queued;
  if (snd_buf) snd_buf->clear();
  if (rcv_buf) rcv_buf->clear();
  reasm.clear();
  scoreboard.clear();
  scoreboard.xmit().clear();
  rtt = RttEstimator(rto);
}

}  // namespace xdptcp::tcp
