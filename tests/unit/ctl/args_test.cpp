// xdptcp-ctl's command line (tools/ctl/args.h): port ranges, addresses, subcommands, exit codes for bad
// arguments and for errors from the kernel library. Needs no root.
#include "tools/ctl/args.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <initializer_list>
#include <string>
#include <vector>

namespace xdptcp::ctl {
namespace {

ParseOutcome parse(std::initializer_list<const char*> args) {
  std::vector<const char*> argv{"xdptcp-ctl"};
  argv.insert(argv.end(), args.begin(), args.end());
  return parse_command_line(static_cast<int>(argv.size()), argv.data());
}

TEST(PortRange, SinglePort_ParsesAsRangeOfOne) {
  auto r = parse_port_range("80");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value(), (PortRange{80, 80}));
}

TEST(PortRange, Bounds_AcceptOneAnd65535) {
  EXPECT_EQ(parse_port_range("1").value(), (PortRange{1, 1}));
  EXPECT_EQ(parse_port_range("65535").value(), (PortRange{65535, 65535}));
  EXPECT_EQ(parse_port_range("1-65535").value(), (PortRange{1, 65535}));
}

TEST(PortRange, Range_ParsesBothEnds) {
  auto r = parse_port_range("8000-8100");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value(), (PortRange{8000, 8100}));
}

TEST(PortRange, OutOfRange_MessageNamesArgument) {
  auto r = parse_port_range("70000");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, EINVAL);
  EXPECT_EQ(r.error().message, "--port: '70000' is not a port (1-65535)");
}

TEST(PortRange, Malformed_Rejected) {
  for (const char* bad : {"", "0", "-1", "80-", "-80", "a", "80x", "8 0", "80-90-100", "100000", "+80",
                          "0-10", "10-70000", "0x50"}) {
    auto r = parse_port_range(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.error().message.rfind("--port: '", 0), 0u) << r.error().message;
    }
  }
}

TEST(PortRange, Reversed_RejectedAsEmpty) {
  auto r = parse_port_range("90-80");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("empty range"), std::string::npos);
}

TEST(Address, IPv4_Parsed) {
  auto a = parse_address("198.18.0.1");
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->is_v4());
  EXPECT_EQ(a->bytes[0], 198);
  EXPECT_EQ(a->bytes[3], 1);
  EXPECT_EQ(a->bytes[4], 0);
}

TEST(Address, IPv6_Parsed) {
  auto a = parse_address("fd00::1");
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE(a->is_v4());
  EXPECT_EQ(a->bytes[0], 0xfd);
  EXPECT_EQ(a->bytes[15], 1);
}

TEST(Address, Malformed_MessageNamesArgument) {
  for (const char* bad :
       {"", "198.18.0", "198.18.0.256", "fd00:::1", "fe80::1%eth0", "198.18.0.0/24", "host"}) {
    auto a = parse_address(bad);
    EXPECT_FALSE(a.ok()) << bad;
    if (!a.ok()) {
      EXPECT_EQ(a.error().message.rfind(std::string("--ip: '") + bad + "'", 0), 0u) << a.error().message;
    }
  }
}

TEST(RulesFor, NoAddress_TwoWildcardRulesOneOfEachFamily) {
  auto rules = rules_for(PortRange{80, 81}, std::nullopt);
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules[0].family, wire::IpFamily::kV4);
  EXPECT_EQ(rules[1].family, wire::IpFamily::kV6);
  for (const auto& r : rules) {
    EXPECT_TRUE(r.any_addr);
    EXPECT_EQ(r.port_lo, 80);
    EXPECT_EQ(r.port_hi, 81);
    EXPECT_EQ(r.owner_pid, 0u);  // xdptcp-ctl's rules are permanent
  }
}

TEST(RulesFor, Address_OneRuleOfItsFamily) {
  auto rules = rules_for(PortRange{443, 443}, parse_address("fd00::5").value());
  ASSERT_EQ(rules.size(), 1u);
  EXPECT_EQ(rules[0].family, wire::IpFamily::kV6);
  EXPECT_FALSE(rules[0].any_addr);
  EXPECT_EQ(rules[0].addr, parse_address("fd00::5").value());
}

TEST(RulesFor, UnspecifiedAddress_WildcardOfItsFamilyOnly) {
  auto rules = rules_for(PortRange{80, 80}, parse_address("0.0.0.0").value());
  ASSERT_EQ(rules.size(), 1u);
  EXPECT_EQ(rules[0].family, wire::IpFamily::kV4);
  EXPECT_TRUE(rules[0].any_addr);
}

TEST(CommandLine, Attach_DefaultsToAutoMode) {
  auto p = parse({"attach", "--iface", "eth9"});
  ASSERT_TRUE(p.command.has_value()) << p.err;
  EXPECT_EQ(p.command->verb, Verb::kAttach);
  EXPECT_EQ(p.command->iface, "eth9");
  EXPECT_EQ(p.command->mode, Mode::kAuto);
}

TEST(CommandLine, AttachGeneric_ModeParsed) {
  auto p = parse({"attach", "-i", "eth9", "--mode", "generic"});
  ASSERT_TRUE(p.command.has_value()) << p.err;
  EXPECT_EQ(p.command->mode, Mode::kGeneric);
}

TEST(CommandLine, UnknownMode_ExitsUsage) {
  auto p = parse({"attach", "--iface", "eth9", "--mode", "turbo"});
  EXPECT_FALSE(p.command.has_value());
  EXPECT_EQ(p.exit_code, kExitUsage);
  EXPECT_NE(p.err.find("--mode"), std::string::npos) << p.err;
}

TEST(CommandLine, MissingIface_ExitsUsage) {
  for (auto args : {std::initializer_list<const char*>{"attach"}, {"detach"}, {"stats"}, {"steer", "list"}}) {
    auto p = parse(args);
    EXPECT_FALSE(p.command.has_value());
    EXPECT_EQ(p.exit_code, kExitUsage);
    EXPECT_NE(p.err.find("--iface"), std::string::npos) << p.err;
  }
}

TEST(CommandLine, NoSubcommand_ExitsUsage) {
  auto p = parse({});
  EXPECT_FALSE(p.command.has_value());
  EXPECT_EQ(p.exit_code, kExitUsage);
}

TEST(CommandLine, UnknownSubcommand_ExitsUsage) {
  auto p = parse({"frobnicate"});
  EXPECT_FALSE(p.command.has_value());
  EXPECT_EQ(p.exit_code, kExitUsage);
}

TEST(CommandLine, Help_ExitsZeroAndListsExitCodes) {
  auto p = parse({"--help"});
  EXPECT_FALSE(p.command.has_value());
  EXPECT_EQ(p.exit_code, kExitOk);
  EXPECT_NE(p.out.find("Exit codes:"), std::string::npos);
  EXPECT_NE(p.out.find("4  state conflict"), std::string::npos);
}

TEST(CommandLine, SubcommandHelp_ShowsItsOptionsAndExitCodes) {
  auto p = parse({"steer", "add", "--help"});
  EXPECT_EQ(p.exit_code, kExitOk);
  EXPECT_NE(p.out.find("--port"), std::string::npos) << p.out;
  EXPECT_NE(p.out.find("Exit codes:"), std::string::npos) << p.out;
}

TEST(CommandLine, SteerAddBadPort_ExitsUsageNamingPort) {
  auto p = parse({"steer", "add", "--iface", "eth9", "--port", "70000"});
  EXPECT_FALSE(p.command.has_value());
  EXPECT_EQ(p.exit_code, kExitUsage);
  EXPECT_NE(p.err.find("--port: '70000' is not a port (1-65535)"), std::string::npos) << p.err;
}

TEST(CommandLine, SteerAddBadAddress_ExitsUsageNamingIp) {
  auto p = parse({"steer", "add", "--iface", "eth9", "--port", "80", "--ip", "300.1.1.1"});
  EXPECT_FALSE(p.command.has_value());
  EXPECT_EQ(p.exit_code, kExitUsage);
  EXPECT_NE(p.err.find("--ip: '300.1.1.1'"), std::string::npos) << p.err;
}

TEST(CommandLine, SteerAddWithoutPort_ExitsUsage) {
  auto p = parse({"steer", "add", "--iface", "eth9"});
  EXPECT_FALSE(p.command.has_value());
  EXPECT_EQ(p.exit_code, kExitUsage);
  EXPECT_NE(p.err.find("--port"), std::string::npos) << p.err;
}

TEST(CommandLine, SteerAddEmptyPort_ExitsUsage) {
  auto p = parse({"steer", "add", "--iface", "eth9", "--port", ""});
  EXPECT_FALSE(p.command.has_value());
  EXPECT_EQ(p.exit_code, kExitUsage);
}

TEST(CommandLine, SteerDel_RangeAndAddressParsed) {
  auto p = parse({"steer", "del", "--iface", "eth9", "--port", "8000-8010", "--ip", "198.18.0.1"});
  ASSERT_TRUE(p.command.has_value()) << p.err;
  EXPECT_EQ(p.command->verb, Verb::kSteerDel);
  EXPECT_EQ(*p.command->ports, (PortRange{8000, 8010}));
  EXPECT_EQ(*p.command->addr, parse_address("198.18.0.1").value());
}

TEST(CommandLine, StatusWithoutIface_MeansAllInterfaces) {
  auto p = parse({"status"});
  ASSERT_TRUE(p.command.has_value()) << p.err;
  EXPECT_EQ(p.command->verb, Verb::kStatus);
  EXPECT_TRUE(p.command->iface.empty());
}

TEST(CommandLine, StatsJson_FlagParsed) {
  auto p = parse({"stats", "--iface", "eth9", "--json"});
  ASSERT_TRUE(p.command.has_value()) << p.err;
  EXPECT_EQ(p.command->verb, Verb::kStats);
  EXPECT_TRUE(p.command->json);
}

TEST(CommandLine, Capture_OptionsParsed) {
  auto p = parse({"capture", "--iface", "eth9", "-w", "/tmp/x.pcap", "--count", "10", "--port", "8080",
                  "--duration", "2.5", "--pid", "42", "--ring", "64", "--snaplen", "128"});
  ASSERT_TRUE(p.command.has_value()) << p.err;
  EXPECT_EQ(p.command->verb, Verb::kCapture);
  EXPECT_EQ(p.command->iface, "eth9");
  EXPECT_EQ(p.command->write_path, "/tmp/x.pcap");
  EXPECT_EQ(p.command->count, 10u);
  EXPECT_EQ(p.command->capture_port, 8080);
  EXPECT_DOUBLE_EQ(p.command->duration_s, 2.5);
  EXPECT_EQ(p.command->pid, 42);
  EXPECT_EQ(p.command->ring_slots, 64u);
  EXPECT_EQ(p.command->snaplen, 128u);
  auto d = parse({"capture", "-i", "eth9", "-w", "-"});
  ASSERT_TRUE(d.command.has_value()) << d.err;
  EXPECT_EQ(d.command->count, 0u);
  EXPECT_EQ(d.command->capture_port, 0);
  EXPECT_EQ(d.command->ring_slots, 0u);
  EXPECT_EQ(d.command->snaplen, 0u);
}

TEST(CommandLine, Capture_BadArguments_ExitUsageNamingThem) {
  const std::pair<std::vector<const char*>, const char*> bad[] = {
      {{"capture", "--iface", "eth9"}, "--write"},
      {{"capture", "--iface", "eth9", "-w", "f", "--ring", "3"}, "--ring"},
      {{"capture", "--iface", "eth9", "-w", "f", "--ring", "1"}, "--ring"},
      {{"capture", "--iface", "eth9", "-w", "f", "--port", "0"}, "--port"},
      {{"capture", "--iface", "eth9", "-w", "f", "--port", "70000"}, "--port"},
      {{"capture", "--iface", "eth9", "-w", "f", "--snaplen", "5000"}, "--snaplen"},
      {{"capture", "--iface", "eth9", "-w", "f", "--duration", "-1"}, "--duration"},
  };
  for (const auto& [args, name] : bad) {
    std::vector<const char*> argv{"xdptcp-ctl"};
    argv.insert(argv.end(), args.begin(), args.end());
    const ParseOutcome p = parse_command_line(static_cast<int>(argv.size()), argv.data());
    EXPECT_FALSE(p.command.has_value()) << name;
    EXPECT_EQ(p.exit_code, kExitUsage) << name;
    EXPECT_NE(p.err.find(name), std::string::npos) << p.err;
  }
}

TEST(ExitCodes, ErrnosMapToDocumentedCodes) {
  EXPECT_EQ(exit_code_for(Error{EPERM, ""}), kExitPermission);
  EXPECT_EQ(exit_code_for(Error{EACCES, ""}), kExitPermission);
  EXPECT_EQ(exit_code_for(Error{ENODEV, ""}), kExitInterface);
  EXPECT_EQ(exit_code_for(Error{EOPNOTSUPP, ""}), kExitInterface);
  EXPECT_EQ(exit_code_for(Error{EEXIST, ""}), kExitState);
  EXPECT_EQ(exit_code_for(Error{ENOENT, ""}), kExitState);
  EXPECT_EQ(exit_code_for(Error{ENOSPC, ""}), kExitOther);
  EXPECT_EQ(exit_code_for(Error{EIO, ""}), kExitOther);
}

}  // namespace
}  // namespace xdptcp::ctl
