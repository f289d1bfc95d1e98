// Connection snapshots (userstack/engine/conn_snapshot.h), the mechanism behind xdptcp-ctl ss, in
// one process without root: the entry encoding and its decoding, the region's layout version 2,
// and the request/answer protocol between a reader (query_region, or the words poked by hand) and
// an engine serving a listener and three connections over the in-memory link: the answer lists
// them with their addresses, states and queues; a snapshot spans polls (kConnSlotsPerPoll) and the
// engine does not sleep meanwhile; a full area counts the rest as truncated; a sleeping engine is
// woken through its doorbell and nothing is left owing afterwards; an engine gone is not waited for.
#include "userstack/engine/conn_snapshot.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <future>
#include <set>
#include <thread>

#include "tests/support/engine/static_resolver.h"
#include "tests/support/sim/virtual_clock.h"
#include "userstack/engine/conn_encode.h"
#include "userstack/engine/engine.h"
#include "userstack/engine/engine_counters.h"
#include "userstack/io/mem_link.h"

namespace xdptcp::engine {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using stats_layout::ConnAreaHeader;
using stats_layout::RegionHeader;
using stats_layout::SlotHeader;

const wire::IpAddr kServer = *wire::IpAddr::parse("198.18.0.1");
const wire::IpAddr kClient = *wire::IpAddr::parse("198.18.0.2");
constexpr std::uint16_t kPort = 80;
constexpr int kBacklog = 16;

TEST(ConnEncoding, EveryFieldSurvivesEncodingAndDecoding) {
  tcp::SocketView v;
  v.id = 7;
  v.state = tcp::TcpState::kFinWait2;
  v.family = wire::IpFamily::kV6;
  v.tuple.local = {*wire::IpAddr::parse("fd00:198:18::1"), 8080};
  v.tuple.remote = {*wire::IpAddr::parse("fd00:198:18::2"), 51234};
  v.orphan = true;
  v.recv_q = 11;
  v.send_q = 12;
  v.cc = tcp::CcAlgorithm::kNewReno;
  tcp::TcpInfoSnapshot& i = v.info;
  i.ca_state = tcp::CaState::kRecovery;
  i.retransmits = 2;
  i.probes = 3;
  i.backoff = 4;
  i.options = tcp::tcpi_opt::kTimestamps | tcp::tcpi_opt::kSack | tcp::tcpi_opt::kWscale;
  i.snd_wscale = 7;
  i.rcv_wscale = 9;
  std::uint32_t n = 100;
  for (std::uint32_t* f : {&i.rto_us,
                           &i.ato_us,
                           &i.snd_mss,
                           &i.rcv_mss,
                           &i.advmss,
                           &i.pmtu,
                           &i.unacked,
                           &i.sacked,
                           &i.lost,
                           &i.last_data_sent_ms,
                           &i.last_data_recv_ms,
                           &i.last_ack_recv_ms,
                           &i.rtt_us,
                           &i.rttvar_us,
                           &i.min_rtt_us,
                           &i.snd_ssthresh,
                           &i.snd_cwnd,
                           &i.reordering,
                           &i.reord_seen,
                           &i.rcv_space,
                           &i.rcv_wnd,
                           &i.snd_wnd,
                           &i.notsent_bytes,
                           &i.total_retrans,
                           &i.segs_out,
                           &i.segs_in,
                           &i.data_segs_out,
                           &i.data_segs_in,
                           &i.delivered}) {
    *f = n++;
  }
  i.bytes_sent = 1ULL << 40;
  i.bytes_retrans = 5;
  i.bytes_acked = (1ULL << 40) - 5;
  i.bytes_received = 1ULL << 33;

  const ConnEntry e = encode_conn(v);
  // Through the file's words and back, as the engine writes and the reader copies it.
  const auto words = std::bit_cast<std::array<std::uint64_t, sizeof(ConnEntry) / 8>>(e);
  const ConnRecord r = decode(std::bit_cast<ConnEntry>(words));
  EXPECT_EQ(r.local_address, "fd00:198:18::1");
  EXPECT_EQ(r.remote_address, "fd00:198:18::2");
  EXPECT_EQ(r.state_name, "FIN-WAIT-2");
  EXPECT_EQ(r.cc, "reno");
  const ConnEntry& d = r.raw;
  EXPECT_EQ(d.family, 6);
  EXPECT_EQ(d.state, linux_tcp_state::kFinWait2);
  EXPECT_EQ(d.flags, kConnAppSocket | kConnOrphan);
  EXPECT_EQ(d.socket, 7);
  EXPECT_EQ(d.local_port, 8080);
  EXPECT_EQ(d.remote_port, 51234);
  EXPECT_EQ(d.recv_q, 11u);
  EXPECT_EQ(d.send_q, 12u);
  EXPECT_EQ(d.ca_state, 3);
  EXPECT_EQ(d.retransmits, 2);
  EXPECT_EQ(d.probes, 3);
  EXPECT_EQ(d.backoff, 4);
  EXPECT_EQ(d.options, 7);
  EXPECT_EQ(d.snd_wscale, 7);
  EXPECT_EQ(d.rcv_wscale, 9);
  n = 100;
  for (std::uint32_t f : {d.rto_us,
                          d.ato_us,
                          d.snd_mss,
                          d.rcv_mss,
                          d.advmss,
                          d.pmtu,
                          d.unacked,
                          d.sacked,
                          d.lost,
                          d.last_data_sent_ms,
                          d.last_data_recv_ms,
                          d.last_ack_recv_ms,
                          d.rtt_us,
                          d.rttvar_us,
                          d.min_rtt_us,
                          d.snd_ssthresh,
                          d.snd_cwnd,
                          d.reordering,
                          d.reord_seen,
                          d.rcv_space,
                          d.rcv_wnd,
                          d.snd_wnd,
                          d.notsent_bytes,
                          d.total_retrans,
                          d.segs_out,
                          d.segs_in,
                          d.data_segs_out,
                          d.data_segs_in,
                          d.delivered}) {
    EXPECT_EQ(f, n++);
  }
  EXPECT_EQ(d.bytes_sent, 1ULL << 40);
  EXPECT_EQ(d.bytes_retrans, 5u);
  EXPECT_EQ(d.bytes_acked, (1ULL << 40) - 5);
  EXPECT_EQ(d.bytes_received, 1ULL << 33);

  // A listener of no application socket, IPv4.
  tcp::SocketView l;
  l.state = tcp::TcpState::kListen;
  l.tuple.local = {wire::IpAddr{}, 80};
  const ConnRecord lr = decode(encode_conn(l));
  EXPECT_EQ(lr.local_address, "0.0.0.0");
  EXPECT_EQ(lr.remote_address, "0.0.0.0");
  EXPECT_EQ(lr.state_name, "LISTEN");
  EXPECT_EQ(lr.raw.flags, 0);
  EXPECT_EQ(lr.raw.socket, -1);
  EXPECT_EQ(lr.cc, "cubic");
}

TEST(ConnEncoding, LinuxStateNumbersAndSsNames) {
  using S = tcp::TcpState;
  const std::pair<S, const char*> want[] = {
      {S::kEstablished, "ESTAB"},    {S::kSynSent, "SYN-SENT"},    {S::kSynReceived, "SYN-RECV"},
      {S::kFinWait1, "FIN-WAIT-1"},  {S::kFinWait2, "FIN-WAIT-2"}, {S::kTimeWait, "TIME-WAIT"},
      {S::kCloseWait, "CLOSE-WAIT"}, {S::kLastAck, "LAST-ACK"},    {S::kListen, "LISTEN"},
      {S::kClosing, "CLOSING"},
  };
  for (const auto& [s, name] : want) EXPECT_EQ(ss_state_name(linux_state(s)), name) << tcp::to_string(s);
  // Linux's numbers (include/net/tcp_states.h).
  EXPECT_EQ(linux_state(S::kEstablished), 1);
  EXPECT_EQ(linux_state(S::kTimeWait), 6);
  EXPECT_EQ(linux_state(S::kListen), 10);
  EXPECT_EQ(linux_state(S::kClosing), 11);
  EXPECT_EQ(ss_state_name(0), "UNKNOWN");
  EXPECT_EQ(ss_state_name(12), "UNKNOWN");
}

// A server engine with a stats region in a temporary directory, listening on kServer:80, and a
// client engine on the other end of the in-memory link.
class ConnSnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/xdptcp-conns-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    server_.reset();
    client_.reset();
    region_.reset();
    fs::remove_all(dir_);
  }

  void start(std::uint32_t capacity = 64, std::size_t max_sockets = 16) {
    StatsRegion::Options o;
    o.iface = "sstest0";
    o.engines = 1;
    o.names = counters::names();
    o.run_dir = dir_;
    o.conn_capacity = capacity;
    auto r = StatsRegion::create(o);
    ASSERT_TRUE(r.ok()) << r.error().describe();
    region_ = std::move(r.value());

    EngineConfig sc;
    sc.mac.bytes = {0x02, 0, 0, 0, 0, 1};
    sc.tcp.local_addrs = {kServer};
    sc.tcp.max_sockets = max_sockets;
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
    ASSERT_EQ(s.listen(listener_, kBacklog), 0);
  }

  // n connections from the client, established.
  std::vector<tcp::SocketId> connect(int n) {
    std::vector<tcp::SocketId> ids;
    for (int i = 0; i < n; ++i) {
      const tcp::SocketId s = client_->tcp().socket(wire::IpFamily::kV4);
      EXPECT_EQ(client_->connect(s, {kServer, kPort}), -EINPROGRESS);
      ids.push_back(s);
    }
    run(10);
    for (const tcp::SocketId s : ids) EXPECT_EQ(client_->tcp().state(s), tcp::TcpState::kEstablished);
    return ids;
  }
  void run(int iterations) {
    for (int i = 0; i < iterations; ++i) {
      client_->poll();
      server_->poll();
      clock_.advance(Duration::millis(1));
    }
  }
  std::uint16_t local_port(tcp::SocketId s) const {
    wire::SockAddr a;
    client_->tcp().getsockname(s, &a);
    return a.port;
  }

  // query_region on another thread while this one keeps the engines polling (an engine answers
  // only from its loop).
  ProcessConns query_while_polling(ConnQuery q = {}) {
    auto f = std::async(std::launch::async, [&] { return query_region(region_->path(), q); });
    while (f.wait_for(200us) != std::future_status::ready) run(1);
    return f.get();
  }

  // The region's words, mapped for writing as a reader maps them.
  struct Raw {
    explicit Raw(const std::string& path) {
      const int fd = ::open(path.c_str(), O_RDWR);
      EXPECT_GE(fd, 0);
      size = static_cast<std::size_t>(::lseek(fd, 0, SEEK_END));
      base = static_cast<std::uint8_t*>(::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
      ::close(fd);
      std::memcpy(&h, base, sizeof h);
    }
    ~Raw() { ::munmap(base, size); }
    std::atomic_ref<std::uint64_t> slot_word(std::size_t offset) {
      return std::atomic_ref<std::uint64_t>(
          *reinterpret_cast<std::uint64_t*>(base + h.slots_offset + offset));
    }
    std::atomic_ref<std::uint64_t> area_word(std::size_t offset) {
      return std::atomic_ref<std::uint64_t>(*reinterpret_cast<std::uint64_t*>(base + h.conn_offset + offset));
    }
    std::uint8_t* base = nullptr;
    std::size_t size = 0;
    RegionHeader h{};
  };

  std::string dir_;
  sim::VirtualClock clock_{Instant{1'000'000'000}};
  io::MemLink link_{1024, 2048};
  testing::StaticResolver server_resolver_, client_resolver_;
  std::unique_ptr<StatsRegion> region_;
  std::unique_ptr<Engine> server_, client_;
  tcp::SocketId listener_ = -1;
};

TEST_F(ConnSnapshotTest, RegionLayoutVersion2WithSnapshotAreas) {
  start(64);
  auto s = read_stats_region(region_->path());
  ASSERT_TRUE(s.ok()) << s.error().describe();
  EXPECT_EQ(s.value().version, stats_layout::kVersion);
  EXPECT_EQ(s.value().conn_capacity, 64u);
  Raw raw(region_->path());
  EXPECT_EQ(raw.h.conn_entry_size, sizeof(ConnEntry));
  EXPECT_EQ(raw.h.conn_offset % 4096, 0u);
  EXPECT_GE(raw.h.conn_area_size, sizeof(ConnAreaHeader) + 64 * sizeof(ConnEntry));
  EXPECT_EQ(raw.h.file_size, raw.h.conn_offset + raw.h.conn_area_size);
  // The engine serves its slot, with a doorbell.
  const std::uint64_t w = raw.slot_word(offsetof(SlotHeader, wake_fd)).load();
  std::array<std::int32_t, 2> halves{};
  std::memcpy(halves.data(), &w, sizeof w);
  EXPECT_GE(halves[0], 0);
  EXPECT_EQ(halves[1], 1);
  // A region without areas.
  StatsRegion::Options o;
  o.iface = "sstest1";
  o.names = {"a.b"};
  o.run_dir = dir_;
  auto r = StatsRegion::create(o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(read_stats_region(r.value()->path()).value().conn_capacity, 0u);
  const ProcessConns none = query_region(r.value()->path());
  EXPECT_EQ(none.error_code, EOPNOTSUPP) << none.error;
}

TEST_F(ConnSnapshotTest, ListsTheListenerAndEveryConnection) {
  start();
  const std::vector<tcp::SocketId> ids = connect(3);
  // One accepted, two still in the accept queue; some data the server has not read.
  const tcp::SocketId accepted = server_->tcp().accept(listener_, nullptr);
  ASSERT_GE(accepted, 0);
  const std::uint8_t data[100] = {};
  ASSERT_EQ(client_->tcp().send(ids[0], data, clock_.now()), 100);
  run(5);

  const ProcessConns p = query_while_polling();
  ASSERT_TRUE(p.error.empty()) << p.error;
  EXPECT_EQ(p.pid, ::getpid());
  EXPECT_EQ(p.engine_count, 1u);
  ASSERT_EQ(p.engines.size(), 1u);
  const EngineConns& e = p.engines[0];
  EXPECT_TRUE(e.answered);
  EXPECT_EQ(e.truncated, 0u);
  EXPECT_EQ(e.polls, 1u) << "TCB slots are built as used (a handful here), kConnSlotsPerPoll a poll";
  ASSERT_EQ(e.conns.size(), 4u);
  int listeners = 0;
  std::set<std::uint16_t> peers;
  for (const ConnRecord& c : e.conns) {
    if (c.raw.state == linux_tcp_state::kListen) {
      ++listeners;
      EXPECT_EQ(c.local_address, "0.0.0.0");
      EXPECT_EQ(c.raw.local_port, kPort);
      EXPECT_EQ(c.raw.recv_q, 2u) << "two connections wait to be accepted";
      EXPECT_EQ(c.raw.send_q, static_cast<std::uint32_t>(kBacklog));
      EXPECT_EQ(c.raw.socket, listener_);
      continue;
    }
    EXPECT_EQ(c.state_name, "ESTAB");
    EXPECT_EQ(c.local_address, "198.18.0.1");
    EXPECT_EQ(c.remote_address, "198.18.0.2");
    EXPECT_EQ(c.raw.local_port, kPort);
    peers.insert(c.raw.remote_port);
    EXPECT_EQ(c.cc, "cubic");
    EXPECT_GT(c.raw.rtt_us, 0u);
    EXPECT_GE(c.raw.snd_cwnd, 1u);
    EXPECT_GT(c.raw.snd_mss, 0u);
    EXPECT_LT(c.raw.snd_mss, 1500u);
    if (c.raw.remote_port == local_port(ids[0])) {
      EXPECT_EQ(c.raw.recv_q, 100u) << "received, not read";
      EXPECT_EQ(c.raw.bytes_received, 100u);
    }
    // Which one the application holds: the accepted one.
    const bool app = (c.raw.flags & kConnAppSocket) != 0;
    EXPECT_EQ(app, c.raw.socket == accepted);
  }
  EXPECT_EQ(listeners, 1);
  EXPECT_EQ(peers, (std::set<std::uint16_t>{local_port(ids[0]), local_port(ids[1]), local_port(ids[2])}));

  // The client closes one: the server's side goes to CLOSE-WAIT, the client's is not in this region.
  const std::uint16_t closed = local_port(ids[1]);
  ASSERT_EQ(client_->tcp().close(ids[1], clock_.now()), 0);
  run(5);
  const ProcessConns after = query_while_polling();
  ASSERT_EQ(after.engines.size(), 1u);
  bool seen = false;
  for (const ConnRecord& c : after.engines[0].conns) {
    if (c.raw.remote_port != closed) continue;
    seen = true;
    EXPECT_EQ(c.state_name, "CLOSE-WAIT");
  }
  EXPECT_TRUE(seen);
}

// The request/answer protocol word by word: one relaxed load per poll until the request moves; the
// snapshot then spans polls (a pool larger than kConnSlotsPerPoll) with its seqlock odd, the
// engine refusing to sleep meanwhile; the answer names the request.
TEST_F(ConnSnapshotTest, RequestAnsweredOverSeveralPollsWithoutSleeping) {
  start(64, 2 * kConnSlotsPerPoll);
  // TCB slots are built as they are first used: open (and close) more sockets than a poll visits.
  {
    tcp::TcpStack& s = server_->tcp();
    std::vector<tcp::SocketId> opened;
    for (std::uint32_t i = 0; i < kConnSlotsPerPoll + 8; ++i) opened.push_back(s.socket(wire::IpFamily::kV4));
    for (const tcp::SocketId id : opened) ASSERT_EQ(s.close(id, clock_.now()), 0);
  }
  ASSERT_GT(server_->tcp().tcb_slots(), kConnSlotsPerPoll);
  ASSERT_LE(server_->tcp().tcb_slots(), 2 * kConnSlotsPerPoll);
  Raw raw(region_->path());
  auto request = raw.slot_word(offsetof(SlotHeader, conn_request));
  auto seq = raw.area_word(offsetof(ConnAreaHeader, seq));
  auto answer = raw.area_word(offsetof(ConnAreaHeader, answer));
  server_->poll();
  EXPECT_EQ(seq.load(), 0u) << "no request, no snapshot";
  const std::uint64_t r = request.fetch_add(1) + 1;
  server_->poll();
  EXPECT_EQ(seq.load() & 1, 1u) << "under way after one poll";
  EXPECT_FALSE(server_->begin_sleep(Duration::seconds(1)).has_value()) << "no sleep mid-snapshot";
  server_->end_sleep();
  server_->poll();
  EXPECT_EQ(seq.load(), 2u);
  EXPECT_EQ(answer.load(), r);
  EXPECT_EQ(raw.area_word(offsetof(ConnAreaHeader, count)).load(), 1u);  // the listener
  EXPECT_EQ(raw.area_word(offsetof(ConnAreaHeader, polls)).load(), 2u);
  server_->poll();
  EXPECT_EQ(seq.load(), 2u) << "answered: nothing more until the next request";
  // Two requests before the engine looks: one snapshot answers both.
  request.fetch_add(1);
  const std::uint64_t r3 = request.fetch_add(1) + 1;
  server_->poll();
  server_->poll();
  EXPECT_EQ(answer.load(), r3);
  EXPECT_EQ(seq.load(), 4u);
  // A request that arrives after the engine announced its sleep is served instead of the sleep;
  // one that arrived before it is found by the look that follows the announcement.
  request.fetch_add(1);
  EXPECT_FALSE(server_->begin_sleep(Duration::seconds(1)).has_value());
  server_->end_sleep();
}

TEST_F(ConnSnapshotTest, AFullAreaCountsTheRestAsTruncated) {
  start(2);
  connect(3);
  const ProcessConns p = query_while_polling();
  ASSERT_EQ(p.engines.size(), 1u);
  EXPECT_EQ(p.engines[0].conns.size(), 2u);
  EXPECT_EQ(p.engines[0].truncated, 2u);
}

// An engine that sleeps (here for up to 10 s: its loop blocks in poll() on its descriptors, the
// doorbell among them) answers at once: the reader finds kAsleep and rings. Many requests in a
// row, each racing the engine's sleep and wake-up, are all answered fast, and the doorbell is left
// clear (nothing owed) once the engine has slept again.
TEST_F(ConnSnapshotTest, SleepingEngineIsWokenAndAnswers) {
  start();
  connect(3);
  std::atomic<bool> stop{false};
  std::atomic<int> sleeps{0};
  std::vector<int> fds;
  server_->poll_fds(fds);
  ASSERT_EQ(fds.size(), 1u) << "the in-memory link has no descriptor: the doorbell only";
  std::thread loop([&] {
    while (!stop.load()) {
      server_->poll();
      if (const auto d = server_->begin_sleep(Duration::seconds(10))) {
        pollfd p{fds[0], POLLIN, 0};
        (void)::poll(&p, 1, static_cast<int>(d->as_millis()));
        sleeps.fetch_add(1);
      }
      server_->end_sleep();
    }
  });
  std::this_thread::sleep_for(20ms);  // into its first sleep
  int rung = 0;
  double worst_ms = 0;
  for (int k = 0; k < 100; ++k) {
    const ProcessConns p = query_region(region_->path());
    ASSERT_EQ(p.engines.size(), 1u);
    const EngineConns& e = p.engines[0];
    ASSERT_TRUE(e.answered) << "request " << k << ": " << e.ring_error;
    EXPECT_EQ(e.conns.size(), 4u);
    EXPECT_TRUE(e.ring_error.empty()) << e.ring_error;
    rung += e.rung ? 1 : 0;
    worst_ms = std::max(worst_ms, e.wait_ms);
    if (k % 3 == 0) std::this_thread::sleep_for(2ms);  // let it fall asleep again
  }
  EXPECT_GT(rung, 0) << "an idle engine sleeps: some requests must have rung";
  EXPECT_LT(worst_ms, 500) << "a 10 s sleep was not cut short";
  // Once the engine has slept and woken again, every ring has been read back.
  const int before = sleeps.load();
  const ProcessConns last = query_region(region_->path());  // wakes it (or finds it awake)
  ASSERT_TRUE(last.engines.at(0).answered);
  for (int i = 0; i < 2000 && sleeps.load() < before + 1; ++i) std::this_thread::sleep_for(1ms);
  stop.store(true);
  // The loop may be in a 10 s sleep: a reader's request wakes it (what the doorbell is for); it then
  // ends without answering.
  const ProcessConns wake = query_region(region_->path(), ConnQuery{.timeout = 50ms});
  loop.join();
  // Clear, unless the last request rang it while the loop was on its way out (its ring is then
  // read at the next wake-up, which does not come here).
  pollfd p{fds[0], POLLIN, 0};
  if (!wake.engines.at(0).rung) {
    EXPECT_EQ(::poll(&p, 1, 0), 0);
  }
}

TEST_F(ConnSnapshotTest, BusyEngineIsNotRungAndAnEngineGoneIsNotAskedFor) {
  start();
  connect(1);
  const ProcessConns p = query_while_polling();
  ASSERT_EQ(p.engines.size(), 1u);
  EXPECT_TRUE(p.engines[0].answered);
  EXPECT_FALSE(p.engines[0].rung) << "an engine that never announced a sleep needs no ring";
  EXPECT_EQ(p.engines[0].conns.size(), 2u);  // the listener and the server's end of the connection
  server_.reset();
  const auto t0 = std::chrono::steady_clock::now();
  const ProcessConns gone = query_region(region_->path());
  EXPECT_TRUE(gone.error.empty()) << gone.error;
  EXPECT_TRUE(gone.engines.empty()) << "no engine serves the slot now";
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 500ms) << "not waited for";
}

}  // namespace
}  // namespace xdptcp::engine
