// A checker of the Prometheus text exposition format (version 0.0.4) for the tests of
// `xdptcp-ctl stats --prometheus`: every line is a # HELP, a # TYPE or a sample of the grammar
//   metric_name [ "{" label_name "=" `"` label_value `"` { "," ... } "}" ] value
// each family has at most one HELP and one TYPE, both before its samples, and a family's samples
// come together (what node_exporter's textfile collector requires). Header-only test support.
#pragma once

#include <cstdlib>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace xdptcp::test {

struct PrometheusParse {
  std::vector<std::string> errors;           // empty: the text is valid
  std::map<std::string, double> samples;     // "name{labels}" as printed -> value
  std::map<std::string, std::string> types;  // family -> counter|gauge|...
};

inline PrometheusParse parse_prometheus(const std::string& text) {
  static const std::regex kSample(
      R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")"
      R"((?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")*\})? )"
      R"(([-+]?(?:[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?|NaN|\+Inf|-Inf))$)");
  static const std::regex kHelp(R"(^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .*$)");
  static const std::regex kType(
      R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$)");
  PrometheusParse p;
  std::set<std::string> helped;
  std::set<std::string> finished;  // families whose samples are over
  std::string current;             // the family of the last sample
  std::istringstream in(text);
  std::string line;
  int n = 0;
  auto err = [&](const std::string& what) {
    p.errors.push_back("line " + std::to_string(n) + ": " + what + ": " + line);
  };
  while (std::getline(in, line)) {
    ++n;
    std::smatch m;
    if (line.empty()) continue;
    if (line.rfind("#", 0) == 0) {
      if (std::regex_match(line, m, kHelp)) {
        if (!helped.insert(m[1]).second) err("second HELP");
      } else if (std::regex_match(line, m, kType)) {
        if (p.types.count(m[1]) != 0) err("second TYPE");
        if (finished.count(m[1]) != 0 || current == m[1]) err("TYPE after samples");
        p.types[m[1]] = m[2];
      } else if (line.rfind("# HELP", 0) == 0 || line.rfind("# TYPE", 0) == 0) {
        err("malformed HELP/TYPE");
      }
      continue;
    }
    if (!std::regex_match(line, m, kSample)) {
      err("not a sample");
      continue;
    }
    std::string family = m[1];
    // A counter's samples may carry the family name with _total (the family named without it).
    if (p.types.count(family) == 0 && family.size() > 6 && family.ends_with("_total") &&
        p.types.count(family.substr(0, family.size() - 6)) != 0) {
      family = family.substr(0, family.size() - 6);
    }
    if (family != current) {
      if (!current.empty()) finished.insert(current);
      if (finished.count(family) != 0) err("family's samples not together");
      current = family;
    }
    const std::string series = std::string(m[1]) + std::string(m[2]);
    if (p.samples.count(series) != 0) err("duplicate series");
    p.samples[series] = std::strtod(std::string(m[3]).c_str(), nullptr);
  }
  return p;
}

}  // namespace xdptcp::test
