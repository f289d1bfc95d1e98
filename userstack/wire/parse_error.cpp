// Names of the parse errors, as printed in drop counters and test failures.
#include "userstack/wire/parse_error.h"

namespace xdptcp::wire {

std::string_view to_string(ParseError e) {
  switch (e) {
    case ParseError::kTruncated:
      return "truncated";
    case ParseError::kBadVersion:
      return "bad-version";
    case ParseError::kBadHeaderLength:
      return "bad-header-length";
    case ParseError::kBadTotalLength:
      return "bad-total-length";
    case ParseError::kFragment:
      return "fragment";
    case ParseError::kBadOption:
      return "bad-option";
    case ParseError::kBadChecksum:
      return "bad-checksum";
    case ParseError::kUnsupported:
      return "unsupported";
    case ParseError::kNotTcp:
      return "not-tcp";
  }
  return "unknown";
}

}  // namespace xdptcp::wire
