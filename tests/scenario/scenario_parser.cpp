// The scenario script parser: one line at a time, tokens split on blanks (a call's parentheses
// keep their arguments together). Small on purpose: the grammar is in README.md.
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <sstream>
#include <string_view>

#include "tests/scenario/scenario_script.h"
#include "userstack/wire/tcp_header.h"

namespace xdptcp::tcp::scenario {
namespace {

using namespace wire::tcp_flags;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    const std::size_t end = s.find(sep, start);
    const std::string_view piece = trim(s.substr(start, end == std::string_view::npos ? end : end - start));
    if (!piece.empty()) out.emplace_back(piece);
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return out;
}

bool parse_int(std::string_view s, std::int64_t* out) {
  if (s.empty()) return false;
  const auto* end = s.data() + s.size();
  auto r = std::from_chars(s.data(), end, *out);
  return r.ec == std::errc{} && r.ptr == end;
}

bool parse_number(std::string_view s, double* out) {
  if (s.empty()) return false;
  const std::string tmp(s);
  char* end = nullptr;
  *out = std::strtod(tmp.c_str(), &end);
  return end == tmp.c_str() + tmp.size() && *out >= 0;
}

bool parse_field(std::string_view s, Field* out) {
  if (s == "*") {
    out->any = true;
    return true;
  }
  return parse_int(s, &out->value);
}

bool parse_flags(std::string_view s, std::uint8_t* out) {
  *out = 0;
  for (char c : s) {
    switch (c) {
      case 'S':
        *out |= kSyn;
        break;
      case 'F':
        *out |= kFin;
        break;
      case 'R':
        *out |= kRst;
        break;
      case 'P':
        *out |= kPsh;
        break;
      case 'A':
      case '.':
        *out |= kAck;
        break;
      default:
        return false;
    }
  }
  return !s.empty();
}

// `seq=1 ack=1 win=65535 len=100 mss=1460 ws=7 sackok ts=100,* sack=1:101,201:301 noopts ...`
bool parse_segment(const std::vector<std::string>& tok, std::size_t first, SegmentSpec* seg,
                   std::string* err) {
  if (first >= tok.size() || !parse_flags(tok[first], &seg->flags)) {
    *err = "expected flags (letters of S F R P A, or . for ACK) after < or >";
    return false;
  }
  for (std::size_t i = first + 1; i < tok.size(); ++i) {
    const std::string& t = tok[i];
    const std::size_t eq = t.find('=');
    const std::string key = t.substr(0, eq);
    const std::string val = eq == std::string::npos ? "" : t.substr(eq + 1);
    std::int64_t n = 0;
    Field f;
    auto bad = [&] {
      *err = "bad value in '" + t + "'";
      return false;
    };
    if (key == "seq" || key == "ack" || key == "win") {
      if (!parse_field(val, &f)) return bad();
      (key == "seq" ? seg->seq : key == "ack" ? seg->ack : seg->win) = f;
    } else if (key == "len") {
      if (!parse_int(val, &n) || n < 0 || n > 65000) return bad();
      seg->len = static_cast<std::uint32_t>(n);
    } else if (key == "mss") {
      if (!parse_int(val, &n) || n < 0 || n > 65535) return bad();
      seg->mss = static_cast<std::uint16_t>(n);
      seg->options_given = true;
    } else if (key == "ws") {
      if (!parse_field(val, &f) || (!f.any && (f.value < 0 || f.value > 255))) return bad();
      seg->wscale = f;
      seg->options_given = true;
    } else if (key == "sackok" && val.empty()) {
      seg->sack_permitted = true;
      seg->options_given = true;
    } else if (key == "noopts" && val.empty()) {
      seg->options_given = true;
    } else if (key == "newisn" && val.empty()) {
      seg->new_isn = true;
    } else if (key == "ts") {
      const auto parts = split(val, ',');
      Field a, b;
      if (parts.size() != 2 || !parse_field(parts[0], &a) || !parse_field(parts[1], &b)) return bad();
      seg->ts = std::pair{a, b};
      seg->options_given = true;
    } else if (key == "sack") {
      for (const auto& blk : split(val, ',')) {
        const auto lr = split(blk, ':');
        std::int64_t l = 0, r = 0;
        if (lr.size() != 2 || !parse_int(lr[0], &l) || !parse_int(lr[1], &r)) return bad();
        seg->sack.emplace_back(static_cast<std::uint32_t>(l), static_cast<std::uint32_t>(r));
      }
      if (seg->sack.empty() || seg->sack.size() > 4) return bad();
      seg->options_given = true;
    } else if (key == "tol") {
      double d = 0;
      if (!parse_number(val, &d)) return bad();
      seg->tolerance_ms = d;
    } else {
      *err = "unknown segment field '" + t + "'";
      return false;
    }
  }
  return true;
}

// `name(a, b) = r` or `name(a) -> s`
bool parse_call(std::string_view s, Call* call, std::string* err) {
  const std::size_t open = s.find('(');
  const std::size_t close = s.find(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) {
    *err = "expected <, >, silence, or a call name(args)";
    return false;
  }
  call->name = std::string(trim(s.substr(0, open)));
  call->args = split(s.substr(open + 1, close - open - 1), ',');
  const std::string_view rest = trim(s.substr(close + 1));
  if (rest.starts_with("->")) {
    call->binds = std::string(trim(rest.substr(2)));
    if (call->binds->empty()) {
      *err = "expected a socket name after ->";
      return false;
    }
  } else if (rest.starts_with("=")) {
    call->result = std::string(trim(rest.substr(1)));
    if (call->result->empty()) {
      *err = "expected a result after =";
      return false;
    }
  } else if (!rest.empty()) {
    *err = "expected '= result' or '-> name' after the call";
    return false;
  }
  return !call->name.empty();
}

}  // namespace

std::optional<Script> parse_script(const std::string& text, std::string* error) {
  Script script;
  std::istringstream in(text);
  std::string raw;
  int number = 0;
  double last_time = 0;
  auto fail = [&](const std::string& what) {
    *error = "line " + std::to_string(number) + ": " + what + "\n  " + raw;
    return std::nullopt;
  };
  while (std::getline(in, raw)) {
    ++number;
    std::string_view line = raw;
    if (const std::size_t hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    line = trim(line);
    if (line.empty()) continue;
    auto tok = split(line, ' ');
    if (tok.front() == "config") {
      if (!script.lines.empty()) return fail("config must come before the first timed line");
      for (std::size_t i = 1; i < tok.size(); ++i) {
        const std::size_t eq = tok[i].find('=');
        if (eq == std::string::npos) return fail("config expects key=value, got '" + tok[i] + "'");
        script.config.emplace_back(tok[i].substr(0, eq), tok[i].substr(eq + 1));
      }
      continue;
    }
    Line l;
    l.number = number;
    l.text = std::string(line);
    const bool relative = tok.front().starts_with('+');
    double t = 0;
    if (!parse_number(relative ? tok.front().substr(1) : tok.front(), &t))
      return fail("a line starts with its time in ms: 120 (absolute) or +40 (after the previous line)");
    l.time_ms = relative ? last_time + t : t;
    if (l.time_ms < last_time) return fail("time goes backwards");
    if (tok.size() < 2) return fail("nothing to do at this time");
    std::string err;
    if (tok[1] == "<" || tok[1] == ">") {
      SegmentSpec seg;
      if (!parse_segment(tok, 2, &seg, &err)) return fail(err);
      if (tok[1] == "<") {
        if (seg.tolerance_ms || seg.new_isn) return fail("tol= and newisn apply to > lines only");
        l.action = Inject{seg};
      } else {
        l.action = Expect{seg};
      }
      last_time = l.time_ms;
    } else if (tok[1] == "silence") {
      double span = 0;
      if (tok.size() != 3 || !parse_number(tok[2], &span)) return fail("silence takes one span in ms");
      l.action = Silence{span};
      last_time = l.time_ms + span;
    } else {
      const std::size_t at = line.find(tok[1]);
      Call call;
      if (!parse_call(line.substr(at), &call, &err)) return fail(err);
      l.action = call;
      last_time = l.time_ms;
    }
    script.lines.push_back(std::move(l));
  }
  if (script.lines.empty()) {
    *error = "the script has no timed lines";
    return std::nullopt;
  }
  return script;
}

}  // namespace xdptcp::tcp::scenario
