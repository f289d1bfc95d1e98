// The runner must fail when the stack does not do what a script says: each case here changes
// one thing in a passing handshake script and expects the failure to name it.
#include <gtest/gtest.h>

#include <string>

#include "tests/scenario/scenario_runner.h"
#include "tests/scenario/scenario_script.h"

namespace xdptcp::tcp::scenario {
namespace {

const std::string kHandshake = R"(
config delayed_ack=40
0    socket() -> l
+0   bind(l, 8080) = 0
+0   listen(l, 8) = 0
+0   < S seq=0 win=65535 mss=1460 sackok ts=100,0 ws=7
+0   > SA seq=0 ack=1 mss=1460 sackok ts=0,100 ws=1
+10  < A seq=1 ack=1 win=512 ts=110,0
+0   accept(l) -> s
+0   < PA seq=1 ack=1 win=512 len=100 ts=120,0
)";

RunResult run(const std::string& text) {
  std::string err;
  auto s = parse_script(text, &err);
  EXPECT_TRUE(s.has_value()) << err;
  if (!s) return {};
  return run_script(*s);
}

TEST(ScenarioRunner, PassingScriptPasses) {
  const auto r = run(kHandshake + "+0 > A seq=1 ack=101\n+0 read(s, 1000) = 100\n");
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(ScenarioRunner, WrongAckFails) {
  const auto r = run(kHandshake + "+0 > A seq=1 ack=100\n");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.message.find("mismatch: ack"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("line 11"), std::string::npos) << r.message;
}

TEST(ScenarioRunner, WrongFlagsFail) {
  const auto r = run(kHandshake + "+0 > PA seq=1 ack=101\n");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.message.find("mismatch: flags"), std::string::npos) << r.message;
}

TEST(ScenarioRunner, UnexpectedSegmentFails) {
  const auto r = run(kHandshake + "+0 read(s, 1000) = 100\n");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.message.find("does not expect"), std::string::npos) << r.message;
}

TEST(ScenarioRunner, MissingSegmentFails) {
  const auto r = run(kHandshake + "+0 > A seq=1 ack=101\n+0 > A seq=1 ack=101\n");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.message.find("nothing sent"), std::string::npos) << r.message;
}

TEST(ScenarioRunner, LateSegmentFails) {
  // The quick ACK goes at once; a delayed ACK 40 ms later is not "now".
  const auto r = run(kHandshake + "+0 silence 10\n");
  EXPECT_FALSE(r.ok);
}

TEST(ScenarioRunner, EarlySegmentFails) {
  const auto r = run(kHandshake + "+20 > A seq=1 ack=101\n");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.message.find("before the tolerance window"), std::string::npos) << r.message;
}

TEST(ScenarioRunner, WrongOptionFails) {
  auto text = kHandshake;
  text.replace(text.find("ws=1"), 4, "ws=2");
  const auto r = run(text);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.message.find("window scale"), std::string::npos) << r.message;
}

TEST(ScenarioRunner, WrongCallResultFails) {
  const auto r = run(kHandshake + "+0 > A seq=1 ack=101\n+0 read(s, 1000) = 99\n");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.message.find("actual: 100"), std::string::npos) << r.message;
}

TEST(ScenarioRunner, WrongErrnoFails) {
  const auto r = run(kHandshake + "+0 > A seq=1 ack=101\n+0 accept(l) = -ECONNRESET\n");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.message.find("actual: -EAGAIN"), std::string::npos) << r.message;
}

TEST(ScenarioRunner, SyntaxErrorsNameTheLine) {
  std::string err;
  EXPECT_FALSE(parse_script("0 < Q seq=0\n", &err));
  EXPECT_NE(err.find("line 1"), std::string::npos) << err;
  EXPECT_FALSE(parse_script("0 socket() -> s\n+0 > A seq=1 bogus=3\n", &err));
  EXPECT_NE(err.find("line 2"), std::string::npos) << err;
  EXPECT_NE(err.find("bogus"), std::string::npos) << err;
  EXPECT_FALSE(parse_script("10 socket() -> s\n5 close(s) = 0\n", &err));
  EXPECT_NE(err.find("backwards"), std::string::npos) << err;
  EXPECT_FALSE(parse_script("config x=1\n", &err));
}

TEST(ScenarioRunner, UnknownConfigFails) {
  const auto r = run("config nonsense=1\n0 socket() -> s\n");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.message.find("nonsense"), std::string::npos) << r.message;
}

}  // namespace
}  // namespace xdptcp::tcp::scenario
