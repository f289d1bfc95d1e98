// SIGINT/SIGTERM for the server and client modes: set a stop flag (and stop the xdptcp stack when
// one runs). Installed without SA_RESTART so blocking waits return early.
#pragma once

#include <atomic>

namespace xdptcp {
class Stack;
}

namespace xdptcp::bench {

std::atomic<bool>& stop_flag();
// Installs the handlers; `stack` (may be null) is stopped from the handler too.
void install_stop_handlers(Stack* stack);

}  // namespace xdptcp::bench
