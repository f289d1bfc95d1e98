// XDPTCP_* variables; see preload_config.h.
#include "api/preload/preload_config.h"

#include <cstdlib>
#include <string_view>

#include "userstack/base/queue_list.h"

namespace xdptcp::preload {

namespace {

bool parse_uint(const char* text, unsigned long long lo, unsigned long long hi, unsigned long long* out) {
  if (text == nullptr || *text == '\0') return false;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(text, &end, 10);
  if (*end != '\0' || v < lo || v > hi) return false;
  *out = v;
  return true;
}

}  // namespace

PreloadConfig read_config() {
  PreloadConfig c;
  const char* iface = std::getenv("XDPTCP_IFACE");
  if (iface == nullptr || *iface == '\0') return c;  // inert: every socket stays with the kernel
  c.iface = iface;
  auto bad = [&c](std::string var, std::string why) {
    c.error = var + ": " + why;
    return c;
  };
  if (const char* a = std::getenv("XDPTCP_ADDRESSES"); a != nullptr && *a != '\0') {
    std::string_view rest(a);
    while (!rest.empty()) {
      const std::size_t comma = rest.find(',');
      const std::string_view item = rest.substr(0, comma);
      if (!item.empty()) c.addresses.emplace_back(item);
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  unsigned long long v = 0;
  if (const char* e = std::getenv("XDPTCP_ENGINES"); e != nullptr && *e != '\0') {
    if (!parse_uint(e, 0, 1, &v)) {
      return bad("XDPTCP_ENGINES", std::string("'") + e +
                                       "': an application's event-loop thread drives one engine, which "
                                       "serves every queue; use 1 (or 0)");
    }
    c.engines = 1;
  }
  if (const char* b = std::getenv("XDPTCP_BUSY_POLL"); b != nullptr && *b != '\0') {
    if (!parse_uint(b, 0, 1, &v)) return bad("XDPTCP_BUSY_POLL", std::string("'") + b + "' is not 0 or 1");
    c.busy_poll = v == 1;
  }
  if (const char* m = std::getenv("XDPTCP_BIND_MODE"); m != nullptr && *m != '\0') {
    const std::string_view mode(m);
    if (mode != "auto" && mode != "zerocopy" && mode != "copy") {
      return bad("XDPTCP_BIND_MODE", std::string("'") + m + "' is not one of auto, zerocopy, copy");
    }
    c.bind_mode = m;
  }
  if (const char* q = std::getenv("XDPTCP_QUEUES"); q != nullptr && *q != '\0') {
    const std::string_view mode(q);
    if (mode != "auto" && mode != "all" && mode != "free" && mode != "one" && !base::parse_queue_list(mode)) {
      return bad(
          "XDPTCP_QUEUES",
          std::string("'") + q + "' is not one of auto, all, free, one, or a list of queue numbers (0,2)");
    }
    c.queues = q;
  }
  if (const char* s = std::getenv("XDPTCP_MAX_SOCKETS"); s != nullptr && *s != '\0') {
    if (!parse_uint(s, 16, 1u << 20, &v)) {
      return bad("XDPTCP_MAX_SOCKETS", std::string("'") + s + "' is not a number from 16 to 1048576");
    }
    c.max_sockets = v;
  }
  if (const char* s = std::getenv("XDPTCP_MEM_BUDGET_MB"); s != nullptr && *s != '\0') {
    if (!parse_uint(s, 1, 1u << 20, &v)) {
      return bad("XDPTCP_MEM_BUDGET_MB", std::string("'") + s + "' is not a number of MiB from 1 to 1048576");
    }
    c.mem_budget_mib = v;
  }
  if (const char* s = std::getenv("XDPTCP_EXIT_LINGER_MS"); s != nullptr && *s != '\0') {
    if (!parse_uint(s, 0, 3'600'000, &v)) {
      return bad("XDPTCP_EXIT_LINGER_MS", std::string("'") + s + "' is not a number of ms from 0 to 3600000");
    }
    c.exit_linger_ms = static_cast<unsigned>(v);
  }
  if (const char* l = std::getenv("XDPTCP_LOG"); l != nullptr && *l != '\0') {
    if (!parse_uint(l, 0, 2, &v)) return bad("XDPTCP_LOG", std::string("'") + l + "' is not 0, 1 or 2");
    c.log_level = static_cast<int>(v);
  }
  c.enabled = true;
  return c;
}

}  // namespace xdptcp::preload
