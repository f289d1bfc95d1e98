// Per-connection state for the example servers: an array indexed by socket fd (fds are below the
// engine's max_sockets), so the servers allocate nothing per request.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace xdptcp::examples {

struct Conn {
  bool open = false;
  bool close_after = false;  // close once the pending output is sent
  std::size_t in_len = 0;    // bytes buffered in `in`
  std::vector<char> in;      // request bytes not yet handled
  std::size_t out_off = 0;   // echo: pending bytes in `out`
  std::size_t out_len = 0;
  std::vector<char> out;
  std::uint64_t body_left = 0;    // httpd: body bytes of the current response still to send
  std::uint32_t header_left = 0;  // httpd: header bytes still to send (from out)
};

}  // namespace xdptcp::examples
