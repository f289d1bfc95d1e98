// The scenario runner: a virtual clock that jumps from timer to timer (TcpStack::next_timer), a
// capturing sink whose segments are stamped with the instant they left, and a fake peer whose
// sequence numbers are relative to its own ISN (peer_isn) while the stack's are relative to the
// ISN read from the stack's first SYN or SYN-ACK (RFC 6528 keeps it secret, as packetdrill does).
#include "tests/scenario/scenario_runner.h"

#include <sys/socket.h>

#include <cerrno>
#include <cmath>
#include <deque>
#include <map>
#include <stdexcept>
#include <string_view>

#include "tests/scenario/scenario_names.h"
#include "tests/unit/tcp/tcp_dialogue.h"

namespace xdptcp::tcp::scenario {
namespace {

using namespace wire::tcp_flags;
using test::CapturingSink;

// A script error or a failed expectation: unwinds to run_script(), which reports it.
struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::int64_t to_int(const std::string& s, const char* what) {
  std::size_t used = 0;
  std::int64_t v = 0;
  try {
    v = std::stoll(s, &used, 0);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != s.size() || s.empty()) throw Failure(std::string("bad ") + what + " '" + s + "'");
  return v;
}

Duration ms(double v) {
  return Duration::nanos(static_cast<std::int64_t>(std::llround(v * 1e6)));
}

std::string flags_str(std::uint8_t f) {
  std::string s;
  if (f & kSyn) s += 'S';
  if (f & kFin) s += 'F';
  if (f & kRst) s += 'R';
  if (f & kPsh) s += 'P';
  if (f & kAck) s += 'A';
  return s.empty() ? "-" : s;
}

std::string time_str(Duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(d.ns) / 1e6);
  return buf;
}

struct Emitted {
  Instant at;
  wire::IpAddr src, dst;
  wire::TcpRepr h;
  std::uint32_t len = 0;
};

class Runner {
 public:
  explicit Runner(const Script& script)
      : script_(script), cfg_(configure(script)), stack_(cfg_, sink_, start_) {}

  RunResult run() {
    const Line* current = nullptr;
    try {
      for (const Line& line : script_.lines) {
        current = &line;
        line_time_ = start_ + ms(line.time_ms);
        std::visit([&](const auto& a) { play(line, a); }, line.action);
      }
      current = nullptr;
      stack_.flush(now_);
      collect();
      if (!pending_.empty())
        throw Failure("the stack sent segments the script does not expect:" + pending_str());
    } catch (const Failure& f) {
      std::string msg;
      if (current)
        msg = "line " + std::to_string(current->number) + ": " + current->text + "\n";
      else
        msg = "at the end of the script\n";
      msg += f.what();
      msg += "\n--- dialogue so far (time in ms, relative numbers) ---\n" + trace_;
      return {false, msg};
    }
    return {true, {}};
  }

 private:
  // ---- configuration ----
  StackConfig configure(const Script& s) {
    StackConfig cfg = test::Dialogue::default_config();
    for (const auto& kv : s.config) {
      const std::string& k = kv.first;  // named (not a structured binding): the lambda captures them
      const std::string& v = kv.second;
      auto n = [&] { return to_int(v, k.c_str()); };
      if (k == "profile") {
        if (!apply_stack_profile(cfg, v)) throw std::invalid_argument("config profile: unknown '" + v + "'");
      } else if (k == "mtu")
        cfg.mtu = static_cast<std::uint16_t>(n());
      else if (k == "sndbuf")
        cfg.sndbuf = static_cast<std::uint32_t>(n());
      else if (k == "rcvbuf")
        cfg.rcvbuf = static_cast<std::uint32_t>(n());
      else if (k == "rto_initial")
        cfg.rto.initial = Duration::millis(n());
      else if (k == "rto_min")
        cfg.rto.min = Duration::millis(n());
      else if (k == "rto_max")
        cfg.rto.max = Duration::millis(n());
      else if (k == "time_wait")
        cfg.time_wait = Duration::millis(n());
      else if (k == "delayed_ack")
        cfg.delayed_ack = Duration::millis(n());
      else if (k == "max_retries")
        cfg.max_retries = static_cast<unsigned>(n());
      else if (k == "syn_retries")
        cfg.syn_retries = static_cast<unsigned>(n());
      else if (k == "synack_retries")
        cfg.synack_retries = static_cast<unsigned>(n());
      else if (k == "syn_backlog")
        cfg.syn_backlog = static_cast<std::size_t>(n());
      else if (k == "syn_cookies")
        cfg.syn_cookies = n() != 0;
      else if (k == "rack")
        cfg.rack = n() != 0;
      else if (k == "initial_window_segments")
        cfg.initial_window_segments = static_cast<std::uint32_t>(n());
      else if (k == "keepalive_idle")
        cfg.keepalive.idle = Duration::millis(n());
      else if (k == "keepalive_intvl")
        cfg.keepalive.interval = Duration::millis(n());
      else if (k == "keepalive_probes")
        cfg.keepalive.probes = static_cast<unsigned>(n());
      else if (k == "cc") {
        if (!parse_cc_algorithm(v, cfg.cc)) throw std::invalid_argument("config cc: unknown '" + v + "'");
      } else if (k == "tolerance")
        tolerance_ = std::stod(v);
      else if (k == "peer_isn")
        peer_isn_ = static_cast<std::uint32_t>(n());
      else if (k == "peer_port")
        peer_port_ = static_cast<std::uint16_t>(n());
      else if (k == "local_port")
        local_port_ = static_cast<std::uint16_t>(n());
      else
        throw std::invalid_argument("config: unknown key '" + k + "'");
    }
    return cfg;
  }

  // ---- the clock ----
  void collect() {
    for (auto& p : sink_.packets) {
      auto ip = wire::parse_ip(p);
      if (!ip.ok()) throw Failure("the stack sent a packet whose IP header does not parse");
      auto tcp = wire::parse_tcp(ip->payload);
      if (!tcp.ok()) throw Failure("the stack sent a segment whose TCP header does not parse");
      if (!wire::tcp_checksum_ok(ip->src, ip->dst, ip->payload))
        throw Failure("the stack sent a segment with a bad TCP checksum");
      Emitted e{now_, ip->src, ip->dst, tcp->repr, static_cast<std::uint32_t>(tcp->payload.size())};
      pending_.push_back(e);
    }
    sink_.packets.clear();
  }

  // Fires every timer due up to `until`, in order; stops early once a segment is out when
  // `stop_at_segment` (an expectation wants the first one).
  void advance(Instant until, bool stop_at_segment) {
    for (int guard = 0; guard < 1'000'000; ++guard) {
      if (stop_at_segment && !pending_.empty()) return;
      const auto next = stack_.next_timer();
      if (!next || *next > until) {
        if (until > now_) now_ = until;
        stack_.advance(now_);
        collect();
        return;
      }
      if (*next > now_) now_ = *next;
      stack_.advance(now_);
      collect();
      if (stack_.next_timer() == next && *next <= now_) now_ += Duration::micros(1);  // no livelock
    }
    throw Failure("the stack's timers do not settle (next_timer() keeps firing)");
  }

  // Before injecting or calling at time `t`: nothing may wait unexpected beyond the tolerance.
  void advance_strict(Instant t) {
    advance(t, false);
    if (!pending_.empty() && pending_.front().at + ms(tolerance_) < now_)
      throw Failure("the stack sent a segment the script does not expect:" + pending_str());
  }

  // ---- relative numbers ----
  std::string seg_str(const Emitted& e) const {
    const auto& h = e.h;
    std::string s = time_str(e.at - start_) + " > " + flags_str(h.flags);
    s += " seq=" + std::to_string(static_cast<std::int32_t>(h.seq - stack_isn_));
    if (h.has(kAck)) s += " ack=" + std::to_string(static_cast<std::int32_t>(h.ack - peer_isn_));
    s += " win=" + std::to_string(h.window) + " len=" + std::to_string(e.len);
    s += opts_str(h.options, peer_isn_, true);
    if (h.src_port != local_port_ || h.dst_port != peer_port_)
      s += " (ports " + std::to_string(h.src_port) + "->" + std::to_string(h.dst_port) + ")";
    return s;
  }
  std::string opts_str(const wire::TcpOptions& o, std::uint32_t sack_base, bool outbound) const {
    std::string s;
    if (o.mss) s += " mss=" + std::to_string(*o.mss);
    if (o.window_scale) s += " ws=" + std::to_string(*o.window_scale);
    if (o.sack_permitted) s += " sackok";
    if (o.timestamps) {
      const auto v = outbound ? static_cast<std::int32_t>(o.timestamps->tsval - stack_ts_base_)
                              : static_cast<std::int32_t>(o.timestamps->tsval);
      const auto e = outbound ? static_cast<std::int32_t>(o.timestamps->tsecr)
                              : static_cast<std::int32_t>(o.timestamps->tsecr - stack_ts_base_);
      s += " ts=" + std::to_string(v) + "," + std::to_string(e);
    }
    for (std::uint8_t i = 0; i < o.sack_count; ++i) {
      s += i == 0 ? " sack=" : ",";
      s += std::to_string(o.sack[i].left - sack_base) + ":" + std::to_string(o.sack[i].right - sack_base);
    }
    return s;
  }
  std::string pending_str() const {
    std::string s;
    for (const auto& e : pending_) s += "\n  " + seg_str(e);
    return s;
  }

  // ---- lines ----
  void play(const Line& /*line*/, const Inject& in) {
    advance_strict(line_time_);
    const SegmentSpec& sp = in.seg;
    if (!sp.seq || sp.seq->any) throw Failure("a < line needs seq=N");
    wire::TcpRepr h;
    h.src_port = peer_port_;
    h.dst_port = local_port_;
    h.flags = sp.flags;
    h.seq = peer_isn_ + static_cast<std::uint32_t>(sp.seq->value);
    if (sp.ack) {
      if (sp.ack->any) throw Failure("a < line cannot have ack=*");
      h.ack = stack_isn_ + static_cast<std::uint32_t>(sp.ack->value);
    } else if (sp.flags & kAck) {
      throw Failure("a < line with the ACK flag needs ack=N");
    }
    h.window = sp.win ? static_cast<std::uint16_t>(sp.win->value) : 65535;
    h.options.mss = sp.mss;
    if (sp.wscale) {
      if (sp.wscale->any) throw Failure("a < line cannot have ws=*");
      h.options.window_scale = static_cast<std::uint8_t>(sp.wscale->value);
    }
    h.options.sack_permitted = sp.sack_permitted;
    if (sp.ts) {
      std::uint32_t ecr = last_stack_tsval_;
      if (!sp.ts->second.any) ecr = stack_ts_base_ + static_cast<std::uint32_t>(sp.ts->second.value);
      if (sp.ts->first.any) throw Failure("a < line sets its own TSval (ts=V,E; E may be *)");
      h.options.timestamps = wire::TcpTimestamps{static_cast<std::uint32_t>(sp.ts->first.value), ecr};
    }
    for (const auto& [l, r] : sp.sack) {
      h.options.sack[h.options.sack_count++] = {stack_isn_ + l, stack_isn_ + r};
    }
    const auto payload = test::bytes(sp.len, static_cast<std::uint8_t>(sp.seq->value));
    const auto pkt = test::build_packet({peer_addr_, peer_port_}, {local_addr_, local_port_}, h, payload);
    trace_ += time_str(now_ - start_) + " < " + flags_str(h.flags) + " seq=" + std::to_string(sp.seq->value) +
              (sp.ack ? " ack=" + std::to_string(sp.ack->value) : "") + " win=" + std::to_string(h.window) +
              " len=" + std::to_string(sp.len) + opts_str(h.options, stack_isn_, false) + "\n";
    stack_.input(pkt, now_);
    stack_.flush(now_);
    collect();
  }

  void play(const Line& line, const Expect& ex) {
    const SegmentSpec& sp = ex.seg;
    const Duration tol = ms(sp.tolerance_ms.value_or(tolerance_));
    advance(line_time_ + tol, true);
    const std::string want = "expected: " + line.text;
    if (pending_.empty())
      throw Failure(want + "\n  actual: nothing sent by " + time_str(line_time_ + tol - start_) + " ms");
    Emitted e = pending_.front();
    pending_.pop_front();
    if ((e.h.flags & kSyn) && (!stack_isn_known_ || sp.new_isn)) {
      stack_isn_ = e.h.seq;
      stack_isn_known_ = true;
      if (e.h.options.timestamps) stack_ts_base_ = e.h.options.timestamps->tsval;
      ts_base_known_ = e.h.options.timestamps.has_value();
      if (local_port_ == 0) local_port_ = e.h.src_port;
    }
    if (!ts_base_known_ && e.h.options.timestamps) {
      stack_ts_base_ = e.h.options.timestamps->tsval;
      ts_base_known_ = true;
    }
    if (e.h.options.timestamps) last_stack_tsval_ = e.h.options.timestamps->tsval;
    const std::string actual = seg_str(e);
    trace_ += actual + "\n";
    auto mismatch = [&](const std::string& what) {
      throw Failure(want + "\n  actual: " + actual + "\n  mismatch: " + what);
    };
    if (e.at < line_time_ - tol)
      mismatch("sent at " + time_str(e.at - start_) + " ms, before the tolerance window");
    if (e.h.src_port != local_port_ || e.h.dst_port != peer_port_ || e.dst != peer_addr_)
      mismatch("addressed elsewhere");
    if (e.h.flags != sp.flags) mismatch("flags");
    auto check = [&](const std::optional<Field>& f, std::uint32_t actual_rel, const char* what) {
      if (f && !f->any && actual_rel != static_cast<std::uint32_t>(f->value)) mismatch(what);
    };
    check(sp.seq, e.h.seq - stack_isn_, "seq");
    check(sp.ack, e.h.ack - peer_isn_, "ack");
    check(sp.win, e.h.window, "win");
    if (e.len != sp.len) mismatch("len");
    if (!sp.options_given) return;
    const auto& o = e.h.options;
    if (o.mss != sp.mss) mismatch("mss option");
    if (o.window_scale.has_value() != sp.wscale.has_value()) mismatch("window scale option present/absent");
    if (sp.wscale) check(sp.wscale, *o.window_scale, "window scale option");
    if (o.sack_permitted != sp.sack_permitted) mismatch("SACK-permitted option");
    if (o.timestamps.has_value() != sp.ts.has_value()) mismatch("timestamps option present/absent");
    if (sp.ts) {
      check(sp.ts->first, o.timestamps->tsval - stack_ts_base_, "TSval");
      check(sp.ts->second, o.timestamps->tsecr, "TSecr");
    }
    if (o.sack_count != sp.sack.size()) mismatch("number of SACK blocks");
    for (std::size_t i = 0; i < sp.sack.size(); ++i) {
      if (o.sack[i].left - peer_isn_ != sp.sack[i].first || o.sack[i].right - peer_isn_ != sp.sack[i].second)
        mismatch("SACK block " + std::to_string(i + 1));
    }
  }

  void play(const Line& /*line*/, const Silence& si) {
    advance_strict(line_time_);
    if (!pending_.empty())
      throw Failure("before the silence the stack sent a segment the script does not expect:" +
                    pending_str());
    advance(line_time_ + ms(si.span_ms), true);
    if (!pending_.empty()) {
      trace_ += seg_str(pending_.front()) + "\n";
      throw Failure("expected: no segment for " + time_str(ms(si.span_ms)) +
                    " ms\n  actual:" + pending_str());
    }
    advance(line_time_ + ms(si.span_ms), false);
  }

  SocketId sock(const Call& c, std::size_t i = 0) {
    if (c.args.size() <= i) throw Failure(c.name + "(): missing the socket argument");
    auto it = sockets_.find(c.args[i]);
    if (it == sockets_.end()) throw Failure(c.name + "(): unknown socket '" + c.args[i] + "'");
    return it->second;
  }
  std::int64_t arg(const Call& c, std::size_t i) {
    if (c.args.size() <= i) throw Failure(c.name + "(): missing argument " + std::to_string(i + 1));
    return to_int(c.args[i], "argument");
  }
  bool has_arg(const Call& c, std::size_t i, std::string_view word) {
    return c.args.size() > i && c.args[i] == word;
  }

  void play(const Line& line, const Call& c) {
    advance_strict(line_time_);
    std::int64_t rc = 0;
    std::string text;  // set instead of rc for state() and poll()
    const std::string& n = c.name;
    if (n == "socket") {
      rc = stack_.socket(wire::IpFamily::kV4);
    } else if (n == "bind") {
      const auto port = static_cast<std::uint16_t>(arg(c, 1));
      rc = stack_.bind(sock(c), {wire::IpAddr::v4(0, 0, 0, 0), port});
      if (rc == 0 && port != 0) local_port_ = port;
    } else if (n == "listen") {
      rc = stack_.listen(sock(c), c.args.size() > 1 ? static_cast<int>(arg(c, 1)) : 8);
    } else if (n == "accept") {
      rc = stack_.accept(sock(c), nullptr);
    } else if (n == "connect") {
      if (c.args.size() > 1) peer_port_ = static_cast<std::uint16_t>(arg(c, 1));
      rc = stack_.connect(sock(c), {peer_addr_, peer_port_}, now_);
    } else if (n == "write") {
      const auto data = test::bytes(static_cast<std::size_t>(arg(c, 1)));
      rc = stack_.send(sock(c), data, now_, SendFlags{.more = has_arg(c, 2, "more")});
    } else if (n == "read") {
      std::vector<std::uint8_t> buf(static_cast<std::size_t>(arg(c, 1)));
      rc = stack_.recv(sock(c), buf, now_, RecvFlags{.peek = has_arg(c, 2, "peek")});
    } else if (n == "shutdown") {
      const std::string how = c.args.size() > 1 ? c.args[1] : "";
      const int h = how == "rd" ? SHUT_RD : how == "wr" ? SHUT_WR : how == "rdwr" ? SHUT_RDWR : -1;
      if (h < 0) throw Failure("shutdown(s, rd|wr|rdwr)");
      rc = stack_.shutdown(sock(c), h, now_);
    } else if (n == "close") {
      rc = stack_.close(sock(c), now_);
    } else if (n == "setsockopt" || n == "getsockopt") {
      if (c.args.size() < 2) throw Failure(n + "(s, OPTION[, value])");
      auto it = sockopt_names().find(c.args[1]);
      if (it == sockopt_names().end()) throw Failure(n + "(): unknown option '" + c.args[1] + "'");
      if (n == "setsockopt") {
        rc = stack_.setsockopt(sock(c), it->second, static_cast<int>(arg(c, 2)));
      } else {
        int v = 0;
        rc = stack_.getsockopt(sock(c), it->second, &v);
        if (rc == 0) rc = v;
      }
    } else if (n == "info") {
      if (c.args.size() < 2) throw Failure("info(s, field)");
      TcpInfoSnapshot info;
      rc = stack_.tcp_info(sock(c), &info, now_);
      if (c.args[1] == "state") {
        text = to_string(info.state);
      } else {
        auto it = info_fields().find(c.args[1]);
        if (it == info_fields().end()) throw Failure("info(): unknown field '" + c.args[1] + "'");
        if (rc == 0) rc = it->second(info);
      }
    } else if (n == "state") {
      text = to_string(stack_.state(sock(c)));
    } else if (n == "poll") {
      const std::uint32_t ev = stack_.poll_events(sock(c));
      const std::pair<std::uint32_t, const char*> names[] = {{events::kIn, "IN"},
                                                             {events::kOut, "OUT"},
                                                             {events::kErr, "ERR"},
                                                             {events::kHup, "HUP"},
                                                             {events::kRdHup, "RDHUP"}};
      for (const auto& [bit, name] : names) {
        if (ev & bit) text += (text.empty() ? "" : "|") + std::string(name);
      }
      if (text.empty()) text = "0";
    } else if (n == "inq") {
      rc = static_cast<std::int64_t>(stack_.readable_bytes(sock(c)));
    } else if (n == "outq") {
      rc = static_cast<std::int64_t>(stack_.unsent_or_unacked_bytes(sock(c)));
    } else {
      throw Failure("unknown call '" + n + "'");
    }
    stack_.flush(now_);
    collect();
    const std::string got = text.empty() ? rc_str(rc) : text;
    trace_ += time_str(now_ - start_) + "   " + line.text + "   [got " + got + "]\n";
    if (c.binds) {
      if (rc < 0) throw Failure("expected a new socket, got " + got);
      sockets_[*c.binds] = static_cast<SocketId>(rc);
    } else if (c.result && *c.result != "*") {
      std::string want = *c.result;
      if (!text.empty()) {
        for (char& ch : want) ch = ch == '_' ? '-' : ch;
      } else if (want.starts_with("-E")) {
        auto it = errno_names().find(std::string_view(want).substr(1));
        if (it == errno_names().end()) throw Failure("unknown errno name " + want);
        want = rc_str(-it->second);
      } else {
        want = rc_str(to_int(want, "result"));
      }
      if (want != got) throw Failure("expected: " + *c.result + "\n  actual: " + got);
    }
  }

  static std::string rc_str(std::int64_t rc) {
    if (rc < 0) {
      for (const auto& [name, v] : errno_names()) {
        if (-rc == v) return "-" + std::string(name);
      }
    }
    return std::to_string(rc);
  }

  const Script& script_;
  double tolerance_ = 2.0;  // ms
  std::uint32_t peer_isn_ = 1'000'000;
  std::uint16_t peer_port_ = 40000;
  std::uint16_t local_port_ = 0;
  wire::IpAddr local_addr_ = wire::IpAddr::v4(198, 18, 0, 1);
  wire::IpAddr peer_addr_ = wire::IpAddr::v4(198, 18, 0, 2);
  std::uint32_t stack_isn_ = 0;
  bool stack_isn_known_ = false;
  std::uint32_t stack_ts_base_ = 0;
  bool ts_base_known_ = false;
  std::uint32_t last_stack_tsval_ = 0;
  std::map<std::string, SocketId, std::less<>> sockets_;
  std::deque<Emitted> pending_;
  std::string trace_;
  Instant line_time_{};

  // Declared last: configure() above fills tolerance_ and the peer's numbers first.
  Instant start_{1'000'000'000};
  Instant now_{1'000'000'000};
  CapturingSink sink_;
  StackConfig cfg_;
  TcpStack stack_;
};

}  // namespace

RunResult run_script(const Script& script) {
  try {
    Runner r(script);
    return r.run();
  } catch (const std::exception& e) {
    return {false, std::string("configuration: ") + e.what()};
  }
}

}  // namespace xdptcp::tcp::scenario
