// Packet capture rings (userstack/engine/capture_ring.h, capture_reader.h), the mechanism behind
// xdptcp-ctl capture, in one process without root: a server engine with a stats region in a
// temporary directory and a client engine on the in-memory link.
//   - off by default: traffic writes no record and the counters stay 0;
//   - a Session started while the engine polls gets the three-way handshake, data and FIN of a
//     connection in both directions, in order, with the frames' bytes; after stop() the ring is
//     off and released, and later traffic is not copied;
//   - a ring of 2 records that nobody drains keeps 2 and counts the rest as lost, in the session
//     and in the engine's counters engine.capture_frames / capture_lost;
//   - the port filter; a second session while one holds the ring is refused (EBUSY);
//   - an owner that is gone (a reaped child's pid) is noticed at the next periodic publish: the
//     engine stops copying and gives the claim back;
//   - frame_has_port on IPv4, IPv6, VLAN and non-TCP frames.
#include "userstack/engine/capture_ring.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <future>

#include "tests/support/engine/static_resolver.h"
#include "tests/support/sim/virtual_clock.h"
#include "userstack/engine/capture_reader.h"
#include "userstack/engine/engine.h"
#include "userstack/engine/engine_counters.h"
#include "userstack/io/mem_link.h"

namespace xdptcp::engine {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using capture::CaptureAreaHeader;
using capture::Direction;

const wire::IpAddr kServer = *wire::IpAddr::parse("198.18.0.1");
const wire::IpAddr kClient = *wire::IpAddr::parse("198.18.0.2");
constexpr std::uint16_t kPort = 80;

// The TCP flags byte of an untagged IPv4 frame, and its ports.
std::uint8_t tcp_flags(const std::vector<std::uint8_t>& f) {
  const std::size_t l4 = 14 + std::size_t{f.at(14) & 0x0fu} * 4;
  return f.at(l4 + 13);
}
std::uint16_t dst_port(const std::vector<std::uint8_t>& f) {
  const std::size_t l4 = 14 + std::size_t{f.at(14) & 0x0fu} * 4;
  return static_cast<std::uint16_t>((f.at(l4 + 2) << 8) | f.at(l4 + 3));
}
constexpr std::uint8_t kFin = 0x01, kSyn = 0x02, kAck = 0x10;

class CaptureRingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/xdptcp-capture-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    StatsRegion::Options o;
    o.iface = "cptest0";
    o.engines = 1;
    o.names = counters::names();
    o.run_dir = dir_;
    o.conn_capacity = 16;
    o.capture_slots = 64;
    auto r = StatsRegion::create(o);
    ASSERT_TRUE(r.ok()) << r.error().describe();
    region_ = std::move(r.value());

    EngineConfig sc;
    sc.mac.bytes = {0x02, 0, 0, 0, 0, 1};
    sc.tcp.local_addrs = {kServer};
    sc.tcp.max_sockets = 16;
    sc.tcp.secret = 1;
    server_ = std::make_unique<Engine>(sc, link_.a(), clock_, &server_resolver_);
    EngineConfig cc;
    cc.mac.bytes = {0x02, 0, 0, 0, 0, 2};
    cc.tcp.local_addrs = {kClient};
    cc.tcp.max_sockets = 16;
    cc.tcp.secret = 2;
    client_ = std::make_unique<Engine>(cc, link_.b(), clock_, &client_resolver_);
    client_resolver_.table[kServer.to_string()] = sc.mac;
    server_resolver_.table[kClient.to_string()] = cc.mac;
    server_->set_stats_region(region_.get());
    tcp::TcpStack& s = server_->tcp();
    listener_ = s.socket(wire::IpFamily::kV4);
    ASSERT_EQ(s.bind(listener_, {wire::IpAddr{}, kPort}), 0);
    ASSERT_EQ(s.listen(listener_, 8), 0);
    ASSERT_EQ(s.bind(s.socket(wire::IpFamily::kV4), {wire::IpAddr{}, 81}), 0);
  }
  void TearDown() override {
    server_.reset();
    client_.reset();
    region_.reset();
    fs::remove_all(dir_);
  }

  void run(int iterations) {
    for (int i = 0; i < iterations; ++i) {
      client_->poll();
      server_->poll();
      clock_.advance(Duration::millis(1));
    }
  }
  // A connection to `port` that sends "hello", gets "world" back, and is closed by both sides.
  void exchange(std::uint16_t port = kPort) {
    tcp::TcpStack& c = client_->tcp();
    tcp::TcpStack& s = server_->tcp();
    const tcp::SocketId cs = c.socket(wire::IpFamily::kV4);
    ASSERT_EQ(client_->connect(cs, {kServer, port}), -EINPROGRESS);
    run(5);
    ASSERT_EQ(c.state(cs), tcp::TcpState::kEstablished);
    const tcp::SocketId ss = s.accept(listener_, nullptr);
    ASSERT_GE(ss, 0);
    const std::array<std::uint8_t, 5> hello = {'h', 'e', 'l', 'l', 'o'};
    const std::array<std::uint8_t, 5> world = {'w', 'o', 'r', 'l', 'd'};
    ASSERT_EQ(c.send(cs, hello, clock_.now()), 5);
    run(3);
    std::array<std::uint8_t, 16> buf{};
    ASSERT_EQ(s.recv(ss, buf, clock_.now()), 5);
    ASSERT_EQ(s.send(ss, world, clock_.now()), 5);
    run(3);
    ASSERT_EQ(c.recv(cs, buf, clock_.now()), 5);
    ASSERT_EQ(c.close(cs, clock_.now()), 0);
    run(3);
    ASSERT_EQ(s.close(ss, clock_.now()), 0);
    run(5);
  }
  // Starts `session` on another thread while this one keeps the engines polling (an engine takes a
  // request up only in its loop).
  Result<void> start_while_polling(capture::Session& session, const capture::SessionOptions& o) {
    auto f = std::async(std::launch::async, [&] { return session.start(o); });
    while (f.wait_for(200us) != std::future_status::ready) run(1);
    return f.get();
  }
  void stop_while_polling(capture::Session& session, std::vector<capture::Frame>& out) {
    auto f = std::async(std::launch::async, [&] { session.stop(out); });
    while (f.wait_for(200us) != std::future_status::ready) run(1);
    f.get();
  }
  std::unique_ptr<capture::Session> open_session() {
    auto s = capture::Session::open(region_->path());
    EXPECT_TRUE(s.ok()) << s.error().describe();
    return s.ok() ? std::move(s.value()) : nullptr;
  }
  std::atomic_ref<std::uint64_t> area_word(std::size_t offset) {
    return std::atomic_ref<std::uint64_t>(
        *reinterpret_cast<std::uint64_t*>(region_->capture_area(0) + offset));
  }
  std::uint64_t counter(const std::string& name) {
    auto s = read_stats_region(region_->path());
    EXPECT_TRUE(s.ok());
    for (std::size_t i = 0; i < s.value().names.size(); ++i) {
      if (s.value().names[i] == name) return s.value().engines.at(0).values.at(i);
    }
    ADD_FAILURE() << "no counter " << name;
    return 0;
  }

  std::string dir_;
  sim::VirtualClock clock_{Instant{1'000'000'000}};
  io::MemLink link_{1024, 2048};
  testing::StaticResolver server_resolver_, client_resolver_;
  std::unique_ptr<StatsRegion> region_;
  std::unique_ptr<Engine> server_, client_;
  tcp::SocketId listener_ = -1;
};

TEST_F(CaptureRingTest, OffByDefaultNothingIsCopied) {
  auto s = read_stats_region(region_->path());
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s.value().version, 3u);
  EXPECT_EQ(s.value().capture_slots, 64u);
  exchange();
  EXPECT_EQ(area_word(offsetof(CaptureAreaHeader, head)).load(), 0u);
  EXPECT_EQ(area_word(offsetof(CaptureAreaHeader, active)).load(), 0u);
  run(200);  // a periodic publish
  EXPECT_EQ(counter("engine.capture_frames"), 0u);
  EXPECT_EQ(counter("engine.capture_lost"), 0u);
}

TEST_F(CaptureRingTest, SessionGetsBothDirectionsOfAConnectionThenStops) {
  auto session = open_session();
  ASSERT_TRUE(session);
  ASSERT_TRUE(start_while_polling(*session, {}).ok());
  EXPECT_EQ(session->started(), 1u);
  EXPECT_EQ(area_word(offsetof(CaptureAreaHeader, active)).load(), 1u);
  EXPECT_EQ(area_word(offsetof(CaptureAreaHeader, owner)).load(), static_cast<std::uint64_t>(::getpid()));
  exchange();
  std::vector<capture::Frame> frames;
  session->drain(frames);
  stop_while_polling(*session, frames);
  EXPECT_EQ(area_word(offsetof(CaptureAreaHeader, active)).load(), 0u);
  EXPECT_EQ(area_word(offsetof(CaptureAreaHeader, owner)).load(), 0u);
  EXPECT_EQ(session->lost(), 0u);
  EXPECT_EQ(session->captured(), frames.size());

  // SYN in, SYN-ACK out, ACK in, data each way, and a FIN each way, in the order they passed.
  ASSERT_GE(frames.size(), 8u);
  EXPECT_EQ(frames[0].direction, Direction::kReceived);
  EXPECT_EQ(tcp_flags(frames[0].bytes), kSyn);
  EXPECT_EQ(dst_port(frames[0].bytes), kPort);
  EXPECT_EQ(frames[1].direction, Direction::kSent);
  EXPECT_EQ(tcp_flags(frames[1].bytes), kSyn | kAck);
  EXPECT_EQ(frames[2].direction, Direction::kReceived);
  auto has = [&](Direction d, const std::string& payload) {
    for (const auto& f : frames) {
      const std::string text(f.bytes.begin(), f.bytes.end());
      if (f.direction == d && text.ends_with(payload)) return true;
    }
    return false;
  };
  EXPECT_TRUE(has(Direction::kReceived, "hello"));
  EXPECT_TRUE(has(Direction::kSent, "world"));
  int fins_in = 0, fins_out = 0;
  for (const auto& f : frames) {
    if ((tcp_flags(f.bytes) & kFin) == 0) continue;
    (f.direction == Direction::kReceived ? fins_in : fins_out)++;
  }
  EXPECT_EQ(fins_in, 1);
  EXPECT_EQ(fins_out, 1);
  for (std::size_t i = 0; i < frames.size(); ++i) {
    EXPECT_EQ(frames[i].orig_len, frames[i].bytes.size());
    EXPECT_EQ(frames[i].pid, ::getpid());
    if (i > 0) {
      EXPECT_GE(frames[i].ts_ns, frames[i - 1].ts_ns);
    }
  }
  // The realtime clock, not the engine's (virtual) one.
  EXPECT_NEAR(static_cast<double>(frames[0].ts_ns), static_cast<double>(capture::realtime_ns()), 60e9);

  // Off again: later traffic is not copied.
  const std::uint64_t head = area_word(offsetof(CaptureAreaHeader, head)).load();
  exchange();
  EXPECT_EQ(area_word(offsetof(CaptureAreaHeader, head)).load(), head);
  run(200);
  EXPECT_EQ(counter("engine.capture_frames"), frames.size());
}

TEST_F(CaptureRingTest, AFullRingCountsLossesInTheSessionAndTheCounters) {
  auto session = open_session();
  ASSERT_TRUE(session);
  ASSERT_TRUE(start_while_polling(*session, {.slots = 2}).ok());
  exchange();  // about 10 frames, never drained meanwhile
  std::vector<capture::Frame> frames;
  session->drain(frames);
  EXPECT_EQ(frames.size(), 2u);
  stop_while_polling(*session, frames);
  EXPECT_EQ(session->captured(), 2u);
  EXPECT_GE(session->lost(), 6u);
  run(200);
  EXPECT_EQ(counter("engine.capture_frames"), 2u);
  EXPECT_EQ(counter("engine.capture_lost"), session->lost());
  // Bad options are refused with the option's name.
  auto again = open_session();
  const auto bad = again->start({.slots = 3});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("--ring"), std::string::npos);
}

TEST_F(CaptureRingTest, PortFilterAndASecondSessionIsRefused) {
  auto session = open_session();
  ASSERT_TRUE(session);
  ASSERT_TRUE(start_while_polling(*session, {.port = 81}).ok());
  auto second = open_session();
  const auto busy = second->start({});
  ASSERT_FALSE(busy.ok());
  EXPECT_EQ(busy.error().code, EBUSY);
  exchange(kPort);  // not port 81
  std::vector<capture::Frame> frames;
  session->drain(frames);
  EXPECT_TRUE(frames.empty());
  // A SYN to port 81 (bound, not listening: the stack answers with a RST) passes the filter.
  const tcp::SocketId cs = client_->tcp().socket(wire::IpFamily::kV4);
  ASSERT_EQ(client_->connect(cs, {kServer, 81}), -EINPROGRESS);
  run(3);
  session->drain(frames);
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(dst_port(frames[0].bytes), 81);
  EXPECT_EQ(tcp_flags(frames[1].bytes) & 0x04, 0x04);  // RST
  stop_while_polling(*session, frames);
}

TEST_F(CaptureRingTest, AnOwnerThatIsGoneIsNoticedAndTheRingReleased) {
  // A pid that no process has any more: a child that exited and was reaped.
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) ::_exit(0);
  ASSERT_EQ(::waitpid(child, nullptr, 0), child);
  // What an xdptcp-ctl would write before it was killed -9: a claim, a request, and the engine's
  // request word moved (post_request, without a doorbell: the engine polls).
  area_word(offsetof(CaptureAreaHeader, owner)).store(static_cast<std::uint64_t>(child));
  area_word(offsetof(CaptureAreaHeader, want)).store(1);
  area_word(offsetof(CaptureAreaHeader, slots)).store(8);
  area_word(offsetof(CaptureAreaHeader, request)).fetch_add(1);
  std::atomic_ref<std::uint64_t>(*region_->conn_request_word(0)).fetch_add(1);
  server_->poll();
  EXPECT_EQ(area_word(offsetof(CaptureAreaHeader, active)).load(), 1u);
  // At the next periodic publish (kStatsInterval) the engine finds the owner gone.
  run(150);
  EXPECT_EQ(area_word(offsetof(CaptureAreaHeader, active)).load(), 0u);
  EXPECT_EQ(area_word(offsetof(CaptureAreaHeader, owner)).load(), 0u);
  const std::uint64_t head = area_word(offsetof(CaptureAreaHeader, head)).load();
  exchange();
  EXPECT_EQ(area_word(offsetof(CaptureAreaHeader, head)).load(), head) << "copying after the owner died";
  // The ring is free for the next xdptcp-ctl.
  auto session = open_session();
  ASSERT_TRUE(start_while_polling(*session, {}).ok());
  std::vector<capture::Frame> frames;
  stop_while_polling(*session, frames);
}

TEST(CaptureFrameFilter, PortsOfIpv4Ipv6AndTaggedFrames) {
  // Ethernet + IPv4 (IHL 5) + TCP 1234 -> 80.
  std::vector<std::uint8_t> v4(14 + 20 + 20, 0);
  v4[12] = 0x08;
  v4[14] = 0x45;
  v4[14 + 9] = 6;
  v4[34] = 0x04;
  v4[35] = 0xd2;
  v4[37] = 80;
  EXPECT_TRUE(capture::frame_has_port(v4, 80));
  EXPECT_TRUE(capture::frame_has_port(v4, 1234));
  EXPECT_FALSE(capture::frame_has_port(v4, 81));
  auto udp = v4;
  udp[14 + 9] = 17;
  EXPECT_FALSE(capture::frame_has_port(udp, 80));
  auto fragment = v4;
  fragment[14 + 7] = 1;  // offset 8 bytes: no TCP header here
  EXPECT_FALSE(capture::frame_has_port(fragment, 80));
  // The same, tagged.
  std::vector<std::uint8_t> tagged(v4.begin(), v4.begin() + 12);
  for (std::uint8_t b : {0x81, 0x00, 0x00, 0x05}) tagged.push_back(b);
  tagged.insert(tagged.end(), v4.begin() + 12, v4.end());
  EXPECT_TRUE(capture::frame_has_port(tagged, 80));
  // IPv6 + TCP 443 -> 5000.
  std::vector<std::uint8_t> v6(14 + 40 + 20, 0);
  v6[12] = 0x86;
  v6[13] = 0xdd;
  v6[14] = 0x60;
  v6[14 + 6] = 6;
  v6[54] = 0x01;
  v6[55] = 0xbb;
  v6[56] = 0x13;
  v6[57] = 0x88;
  EXPECT_TRUE(capture::frame_has_port(v6, 443));
  EXPECT_TRUE(capture::frame_has_port(v6, 5000));
  EXPECT_FALSE(capture::frame_has_port(v6, 80));
  // Too short to say.
  EXPECT_FALSE(capture::frame_has_port(std::span(v4.data(), 36), 80));
}

}  // namespace
}  // namespace xdptcp::engine
