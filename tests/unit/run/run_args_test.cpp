// xdptcp-run's command line (tools/run/run_args.h): the interface (required, also XDPTCP_IFACE),
// addresses, engines, bind modes, the command (after `--`, or from the first positional on, its own
// options included), --help, exit codes for bad arguments, and the environment the command gets
// (preload_environment). Needs no root.
//
// CLI11 reads the XDPTCP_* fallbacks with getenv itself, so the tests that exercise them set the
// variables with setenv; the fixture clears every one of them before and after each test.
#include "tools/run/run_args.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <initializer_list>
#include <map>
#include <string>
#include <vector>

namespace xdptcp::run {
namespace {

constexpr const char* kVars[] = {"XDPTCP_IFACE",     "XDPTCP_ADDRESSES", "XDPTCP_ENGINES",
                                 "XDPTCP_BUSY_POLL", "XDPTCP_BIND_MODE", "XDPTCP_MAX_SOCKETS",
                                 "XDPTCP_LOG",       "XDPTCP_QUEUES",    "XDPTCP_MEM_BUDGET_MB"};

class RunArgs : public ::testing::Test {
 protected:
  void SetUp() override { clear(); }
  void TearDown() override { clear(); }
  static void clear() {
    for (const char* v : kVars) unsetenv(v);
  }

  static RunParse parse(std::initializer_list<const char*> args) {
    std::vector<const char*> argv{"xdptcp-run"};
    argv.insert(argv.end(), args.begin(), args.end());
    return parse_run_args(static_cast<int>(argv.size()), argv.data(),
                          [](const char* n) -> const char* { return std::getenv(n); });
  }

  // A parse that must succeed (a failure prints what the parser said).
  static RunOptions ok(std::initializer_list<const char*> args) {
    RunParse p = parse(args);
    EXPECT_TRUE(p.options.has_value()) << "exit " << p.exit_code << ": " << p.err;
    EXPECT_TRUE(p.err.empty()) << p.err;
    return p.options.value_or(RunOptions{});
  }
};

using Strings = std::vector<std::string>;

TEST_F(RunArgs, Minimal_DefaultsAndCommand) {
  const RunOptions o = ok({"--iface", "eth1", "--", "true"});
  EXPECT_EQ(o.iface, "eth1");
  EXPECT_TRUE(o.addresses.empty());
  EXPECT_EQ(o.engines, 1u);
  EXPECT_FALSE(o.busy_poll);
  EXPECT_EQ(o.bind_mode, "auto");
  EXPECT_EQ(o.max_sockets, 16384u);
  EXPECT_EQ(o.log_level, 1);
  EXPECT_EQ(o.command, Strings{"true"});
}

TEST_F(RunArgs, NoIface_ExitUsageAndMessageNamesIt) {
  const RunParse p = parse({"--", "true"});
  EXPECT_FALSE(p.options.has_value());
  EXPECT_EQ(p.exit_code, 64);
  EXPECT_NE(p.err.find("--iface"), std::string::npos) << p.err;
  EXPECT_NE(p.err.find("XDPTCP_IFACE"), std::string::npos) << p.err;
  EXPECT_TRUE(p.out.empty());
}

TEST_F(RunArgs, EmptyIface_Rejected) {
  const RunParse p = parse({"--iface", "", "--", "true"});
  EXPECT_FALSE(p.options.has_value());
  EXPECT_EQ(p.exit_code, 64);
  EXPECT_NE(p.err.find("--iface"), std::string::npos) << p.err;
}

TEST_F(RunArgs, NoCommand_ExitUsage) {
  const RunParse p = parse({"--iface", "eth1"});
  EXPECT_FALSE(p.options.has_value());
  EXPECT_EQ(p.exit_code, 64);
  EXPECT_NE(p.err.find("command"), std::string::npos) << p.err;
}

TEST_F(RunArgs, IfaceFromEnvironment_UsedWhenNoOption) {
  setenv("XDPTCP_IFACE", "veth9", 1);
  const RunOptions o = ok({"--", "true"});
  EXPECT_EQ(o.iface, "veth9");
}

TEST_F(RunArgs, IfaceOption_WinsOverEnvironment) {
  setenv("XDPTCP_IFACE", "veth9", 1);
  const RunOptions o = ok({"--iface", "eth1", "--", "true"});
  EXPECT_EQ(o.iface, "eth1");
}

TEST_F(RunArgs, Addresses_CommaSeparatedV4AndV6) {
  const RunOptions o = ok({"--iface", "eth1", "--addresses", "198.18.0.1,fd00:198:18::1", "--", "true"});
  EXPECT_EQ(o.addresses, (Strings{"198.18.0.1", "fd00:198:18::1"}));
}

TEST_F(RunArgs, Addresses_EmptyItemsSkipped) {
  const RunOptions o = ok({"--iface", "eth1", "--addresses", ",198.18.0.1,,10.0.0.1,", "--", "true"});
  EXPECT_EQ(o.addresses, (Strings{"198.18.0.1", "10.0.0.1"}));
}

TEST_F(RunArgs, Addresses_BadOneNamed) {
  for (const char* bad : {"198.18.0", "198.18.0.256", "eth1", "fd00:::1:::2", "1.2.3.4/24"}) {
    const std::string list = std::string("198.18.0.1,") + bad;
    const RunParse p = parse({"--iface", "eth1", "--addresses", list.c_str(), "--", "true"});
    EXPECT_FALSE(p.options.has_value()) << bad;
    EXPECT_EQ(p.exit_code, 64) << bad;
    EXPECT_NE(p.err.find("--addresses"), std::string::npos) << p.err;
    EXPECT_NE(p.err.find(std::string("'") + bad + "'"), std::string::npos) << p.err;
    EXPECT_EQ(p.err.find("'198.18.0.1'"), std::string::npos) << "the good address is not at fault: " << p.err;
  }
}

TEST_F(RunArgs, AddressesFromEnvironment) {
  setenv("XDPTCP_ADDRESSES", "198.18.2.1", 1);
  const RunOptions o = ok({"--iface", "eth1", "--", "true"});
  EXPECT_EQ(o.addresses, Strings{"198.18.2.1"});
  setenv("XDPTCP_ADDRESSES", "nonsense", 1);
  const RunParse p = parse({"--iface", "eth1", "--", "true"});
  EXPECT_EQ(p.exit_code, 64);
  EXPECT_NE(p.err.find("'nonsense'"), std::string::npos) << p.err;
}

TEST_F(RunArgs, Engines_ZeroAndOneMeanOne) {
  EXPECT_EQ(ok({"--iface", "eth1", "--engines", "0", "--", "true"}).engines, 1u);
  EXPECT_EQ(ok({"--iface", "eth1", "--engines", "1", "--", "true"}).engines, 1u);
}

TEST_F(RunArgs, Engines_OutOfRangeOrMalformed_ExitUsage) {
  for (const char* bad : {"2", "64", "-1", "x", ""}) {
    const RunParse p = parse({"--iface", "eth1", "--engines", bad, "--", "true"});
    EXPECT_FALSE(p.options.has_value()) << bad;
    EXPECT_EQ(p.exit_code, 64) << bad;
    EXPECT_NE(p.err.find("--engines"), std::string::npos) << bad << ": " << p.err;
  }
}

TEST_F(RunArgs, EnginesFromEnvironment_Checked) {
  setenv("XDPTCP_ENGINES", "4", 1);
  const RunParse p = parse({"--iface", "eth1", "--", "true"});
  EXPECT_FALSE(p.options.has_value());
  EXPECT_EQ(p.exit_code, 64);
}

TEST_F(RunArgs, BindMode_EachValueAccepted) {
  for (const char* mode : {"auto", "zerocopy", "copy"}) {
    EXPECT_EQ(ok({"--iface", "eth1", "--bind-mode", mode, "--", "true"}).bind_mode, mode);
  }
}

TEST_F(RunArgs, Queues_ModesAndListsAccepted_PassedOn) {
  EXPECT_EQ(ok({"--iface", "eth1", "--", "true"}).queues, "auto");
  for (const char* q : {"auto", "all", "free", "one", "0", "1,3", "63"}) {
    const RunOptions o = ok({"--iface", "eth1", "--queues", q, "--", "true"});
    EXPECT_EQ(o.queues, q);
  }
  setenv("XDPTCP_QUEUES", "one", 1);
  EXPECT_EQ(ok({"--iface", "eth1", "--", "true"}).queues, "one");
}

TEST_F(RunArgs, Queues_OtherValue_ExitUsageNamingIt) {
  for (const char* bad : {"two", "0,", ",1", "1,1", "64", "-1", "0;1", ""}) {
    const RunParse p = parse({"--iface", "eth1", "--queues", bad, "--", "true"});
    EXPECT_FALSE(p.options.has_value()) << bad;
    EXPECT_EQ(p.exit_code, 64) << bad;
    EXPECT_NE(p.err.find("--queues"), std::string::npos) << bad << ": " << p.err;
  }
}

TEST_F(RunArgs, BindMode_OtherValue_ExitUsageNamingIt) {
  for (const char* bad : {"fast", "Copy", "zero-copy", ""}) {
    const RunParse p = parse({"--iface", "eth1", "--bind-mode", bad, "--", "true"});
    EXPECT_FALSE(p.options.has_value()) << bad;
    EXPECT_EQ(p.exit_code, 64) << bad;
    EXPECT_NE(p.err.find("--bind-mode"), std::string::npos) << bad << ": " << p.err;
  }
}

TEST_F(RunArgs, BindModeFromEnvironment) {
  setenv("XDPTCP_BIND_MODE", "copy", 1);
  EXPECT_EQ(ok({"--iface", "eth1", "--", "true"}).bind_mode, "copy");
  setenv("XDPTCP_BIND_MODE", "warp", 1);
  EXPECT_EQ(parse({"--iface", "eth1", "--", "true"}).exit_code, 64);
}

TEST_F(RunArgs, OtherOptions_Parsed) {
  const RunOptions o =
      ok({"--iface", "eth1", "--busy-poll", "--max-sockets", "1024", "--log", "2", "--", "prog", "arg"});
  EXPECT_TRUE(o.busy_poll);
  EXPECT_EQ(o.max_sockets, 1024u);
  EXPECT_EQ(o.log_level, 2);
  EXPECT_EQ(o.command, (Strings{"prog", "arg"}));
}

TEST_F(RunArgs, MaxSocketsAndLog_OutOfRange_ExitUsage) {
  EXPECT_EQ(parse({"--iface", "eth1", "--max-sockets", "15", "--", "true"}).exit_code, 64);
  EXPECT_EQ(parse({"--iface", "eth1", "--max-sockets", "2000000", "--", "true"}).exit_code, 64);
  EXPECT_EQ(parse({"--iface", "eth1", "--log", "3", "--", "true"}).exit_code, 64);
  EXPECT_EQ(parse({"--iface", "eth1", "--log", "-1", "--", "true"}).exit_code, 64);
}

TEST_F(RunArgs, MemBudget_ParsedFromOptionOrEnvironment_ZeroIsUsage) {
  EXPECT_EQ(ok({"--iface", "eth1", "--", "true"}).mem_budget_mib, 1024u);
  EXPECT_EQ(ok({"--iface", "eth1", "--mem-budget", "256", "--", "true"}).mem_budget_mib, 256u);
  const RunParse bad = parse({"--iface", "eth1", "--mem-budget", "0", "--", "true"});
  EXPECT_EQ(bad.exit_code, 64);
  EXPECT_NE(bad.err.find("mem-budget"), std::string::npos) << bad.err;
  setenv("XDPTCP_MEM_BUDGET_MB", "64", 1);
  EXPECT_EQ(ok({"--iface", "eth1", "--", "true"}).mem_budget_mib, 64u);
}

TEST_F(RunArgs, CommandAfterDoubleDash_KeepsItsOwnOptions) {
  // Options after `--` belong to the command, even those named like xdptcp-run's.
  const RunOptions o = ok({"--iface", "eth1", "--", "prog", "--iface", "lo", "--log", "9", "-h", "--", "x"});
  EXPECT_EQ(o.iface, "eth1");
  EXPECT_EQ(o.log_level, 1);
  EXPECT_EQ(o.command, (Strings{"prog", "--iface", "lo", "--log", "9", "-h", "--", "x"}));
}

TEST_F(RunArgs, CommandWithoutDoubleDash_EverythingFromTheProgramOnIsItsOwn) {
  // xdptcp-run --iface eth1 nginx -g 'daemon off;'
  const RunOptions o = ok({"--iface", "eth1", "nginx", "-g", "daemon off;"});
  EXPECT_EQ(o.command, (Strings{"nginx", "-g", "daemon off;"}));
  const RunOptions o2 = ok({"--iface", "eth1", "redis-server", "--port", "6380", "--log", "2", "--help"});
  EXPECT_EQ(o2.command, (Strings{"redis-server", "--port", "6380", "--log", "2", "--help"}));
  EXPECT_EQ(o2.log_level, 1) << "--log after the program is the program's";
}

TEST_F(RunArgs, OptionsBeforeTheProgram_AreOurs) {
  const RunOptions o = ok({"--log", "0", "--iface", "eth1", "--bind-mode", "copy", "prog", "-x"});
  EXPECT_EQ(o.log_level, 0);
  EXPECT_EQ(o.bind_mode, "copy");
  EXPECT_EQ(o.command, (Strings{"prog", "-x"}));
}

TEST_F(RunArgs, Help_ExitZeroWithUsageOnStdout) {
  for (const char* h : {"--help", "-h"}) {
    const RunParse p = parse({h});
    EXPECT_FALSE(p.options.has_value()) << h;
    EXPECT_EQ(p.exit_code, 0) << h;
    EXPECT_TRUE(p.err.empty()) << p.err;
    EXPECT_NE(p.out.find("--iface"), std::string::npos) << p.out;
    EXPECT_NE(p.out.find("--bind-mode"), std::string::npos) << p.out;
  }
  // --help wins over missing arguments, and over everything else before the command.
  const RunParse p = parse({"--iface", "eth1", "--help", "--", "true"});
  EXPECT_EQ(p.exit_code, 0);
  EXPECT_FALSE(p.options.has_value());
}

TEST_F(RunArgs, UnknownOption_ExitUsageNamingIt) {
  const RunParse p = parse({"--iface", "eth1", "--bogus", "--", "true"});
  EXPECT_FALSE(p.options.has_value());
  EXPECT_EQ(p.exit_code, 64);
  EXPECT_NE(p.err.find("--bogus"), std::string::npos) << p.err;
  EXPECT_NE(p.err.find("--help"), std::string::npos) << "points at --help: " << p.err;
  EXPECT_TRUE(p.out.empty());
}

TEST_F(RunArgs, MissingOptionValue_ExitUsage) {
  EXPECT_EQ(parse({"--iface"}).exit_code, 64);
  EXPECT_EQ(parse({"--iface", "eth1", "--engines"}).exit_code, 64);
}

// preload_environment: what the command's environment gets.
std::map<std::string, std::string> env_map(const std::vector<std::pair<std::string, std::string>>& v) {
  std::map<std::string, std::string> m;
  for (const auto& [k, val] : v) {
    EXPECT_EQ(m.count(k), 0u) << k << " set twice";
    m[k] = val;
  }
  return m;
}

TEST(PreloadEnvironment, EveryVariableSetFromTheOptions) {
  RunOptions o;
  o.iface = "eth1";
  o.addresses = {"198.18.0.1", "fd00::1"};
  o.engines = 1;
  o.busy_poll = true;
  o.bind_mode = "copy";
  o.max_sockets = 2048;
  o.log_level = 2;
  o.command = {"prog"};
  const auto m = env_map(preload_environment(o, "/opt/xdptcp/lib/libxdptcp-preload.so", nullptr));
  EXPECT_EQ(m.at("XDPTCP_IFACE"), "eth1");
  EXPECT_EQ(m.at("XDPTCP_ADDRESSES"), "198.18.0.1,fd00::1");
  EXPECT_EQ(m.at("XDPTCP_ENGINES"), "1");
  EXPECT_EQ(m.at("XDPTCP_BUSY_POLL"), "1");
  EXPECT_EQ(m.at("XDPTCP_BIND_MODE"), "copy");
  EXPECT_EQ(m.at("XDPTCP_MAX_SOCKETS"), "2048");
  EXPECT_EQ(m.at("XDPTCP_MEM_BUDGET_MB"), "1024");
  EXPECT_EQ(m.at("XDPTCP_LOG"), "2");
  EXPECT_EQ(m.at("LD_PRELOAD"), "/opt/xdptcp/lib/libxdptcp-preload.so");
}

TEST(PreloadEnvironment, Defaults) {
  RunOptions o;
  o.iface = "eth1";
  const auto m = env_map(preload_environment(o, "/l.so", ""));
  EXPECT_EQ(m.at("XDPTCP_ADDRESSES"), "");
  EXPECT_EQ(m.at("XDPTCP_BUSY_POLL"), "0");
  EXPECT_EQ(m.at("XDPTCP_BIND_MODE"), "auto");
  EXPECT_EQ(m.at("XDPTCP_LOG"), "1");
  EXPECT_EQ(m.at("LD_PRELOAD"), "/l.so") << "an empty LD_PRELOAD adds nothing";
}

TEST(PreloadEnvironment, ExistingLdPreload_KeptAfterOurs) {
  RunOptions o;
  o.iface = "eth1";
  const auto m =
      env_map(preload_environment(o, "/l/libxdptcp-preload.so", "/usr/lib/libjemalloc.so:/x/y.so"));
  EXPECT_EQ(m.at("LD_PRELOAD"), "/l/libxdptcp-preload.so:/usr/lib/libjemalloc.so:/x/y.so");
}

// Round trip: the variables preload_environment sets parse back to the same options.
TEST_F(RunArgs, EnvironmentRoundTrip_ParsesBackToTheSameOptions) {
  RunOptions o;
  o.iface = "veth7";
  o.addresses = {"198.18.4.1"};
  o.busy_poll = true;
  o.bind_mode = "zerocopy";
  o.max_sockets = 999;
  o.log_level = 0;
  for (const auto& [k, v] : preload_environment(o, "/l.so", nullptr)) {
    if (k != "LD_PRELOAD") setenv(k.c_str(), v.c_str(), 1);
  }
  const RunOptions back = ok({"--", "prog"});
  EXPECT_EQ(back.iface, o.iface);
  EXPECT_EQ(back.addresses, o.addresses);
  EXPECT_EQ(back.engines, 1u);
  EXPECT_TRUE(back.busy_poll);
  EXPECT_EQ(back.bind_mode, o.bind_mode);
  EXPECT_EQ(back.max_sockets, o.max_sockets);
  EXPECT_EQ(back.log_level, o.log_level);
}

}  // namespace
}  // namespace xdptcp::run
