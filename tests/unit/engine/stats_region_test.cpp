// The stats region (userstack/engine/stats_region.h): writer and reader in one process over a
// temporary directory (no root): layout and names, the seqlock (a reader retries while a slot is
// being written, and never sees a torn copy under a writer that publishes without pause), stale
// regions (a dead pid, a reused pid), damaged files, and the engine's publishing (engine.h
// set_stats_region) on the in-memory link with a manual clock.
#include "userstack/engine/stats_region.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <thread>

#include "tests/support/engine/static_resolver.h"
#include "tests/support/sim/virtual_clock.h"
#include "userstack/engine/engine.h"
#include "userstack/engine/engine_counters.h"
#include "userstack/io/mem_link.h"
#include "userstack/wire/checksum.h"

namespace xdptcp::engine {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class StatsRegionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/xdptcp-stats-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  StatsRegion::Options options(std::uint32_t engines = 2, std::size_t counters = 3) const {
    StatsRegion::Options o;
    o.iface = "obtest0";
    o.engines = engines;
    o.queues = {0, 3};
    for (std::size_t i = 0; i < counters; ++i) o.names.push_back("group.c" + std::to_string(i));
    o.run_dir = dir_;
    return o;
  }
  std::unique_ptr<StatsRegion> make(const StatsRegion::Options& o) {
    auto r = StatsRegion::create(o);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().describe());
    return r.ok() ? std::move(r.value()) : nullptr;
  }

  std::string dir_;
};

TEST_F(StatsRegionTest, CreatesFileWithHeaderNamesAndSlots) {
  auto r = make(options());
  ASSERT_NE(r, nullptr);
  const std::string want = dir_ + "/obtest0/stats." + std::to_string(::getpid());
  EXPECT_EQ(r->path(), want);
  struct stat st {};
  ASSERT_EQ(::stat(want.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  ASSERT_EQ(::stat((dir_ + "/obtest0").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0755u);

  const std::uint64_t v0[] = {1, 2, 3};
  const std::uint64_t v1[] = {10, 20, 30};
  r->publish(0, v0, 111);
  r->publish(1, v1, 222);
  auto s = read_stats_region(want);
  ASSERT_TRUE(s.ok()) << s.error().describe();
  EXPECT_EQ(s->pid, ::getpid());
  EXPECT_EQ(s->start_time, process_start_time());
  EXPECT_NE(s->start_time, 0u);
  EXPECT_EQ(s->iface, "obtest0");
  EXPECT_FALSE(s->comm.empty());
  EXPECT_EQ(s->queues, (std::vector<unsigned>{0, 3}));
  EXPECT_EQ(s->names, (std::vector<std::string>{"group.c0", "group.c1", "group.c2"}));
  EXPECT_EQ(s->liveness, Liveness::kLive);
  ASSERT_EQ(s->engines.size(), 2u);
  EXPECT_EQ(s->engines[0].values, (std::vector<std::uint64_t>{1, 2, 3}));
  EXPECT_EQ(s->engines[1].values, (std::vector<std::uint64_t>{10, 20, 30}));
  EXPECT_EQ(s->engines[0].published_ns, 111u);
  EXPECT_EQ(s->engines[1].published_ns, 222u);
  EXPECT_EQ(s->engines[0].publishes, 1u);
  EXPECT_TRUE(s->engines[0].consistent);
  EXPECT_EQ(s->engines[0].retries, 0u);

  r->set_queues(std::vector<unsigned>{1, 2, 1000});
  s = read_stats_region(want);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->queues, (std::vector<unsigned>{1, 2, 1000}));

  r.reset();  // the Stack's end: the file goes, and the directory with its last region
  EXPECT_FALSE(fs::exists(want));
  EXPECT_FALSE(fs::exists(dir_ + "/obtest0"));
  EXPECT_TRUE(fs::exists(dir_));
}

TEST_F(StatsRegionTest, SecondRegionOfTheProcessGetsItsOwnName) {
  auto a = make(options());
  auto b = make(options());
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->path(), a->path() + ".1");
  const RegionListing l = list_stats_regions("obtest0", dir_);
  EXPECT_EQ(l.regions.size(), 2u);
  EXPECT_TRUE(l.unreadable.empty());
  a.reset();
  EXPECT_TRUE(fs::exists(b->path())) << "the directory stays while a region is in it";
}

TEST_F(StatsRegionTest, RejectsBadOptions) {
  auto o = options();
  o.iface = "a/b";
  EXPECT_FALSE(StatsRegion::create(o).ok());
  o = options(0);
  EXPECT_FALSE(StatsRegion::create(o).ok());
  o = options();
  o.names.push_back(std::string(stats_layout::kNameSize, 'x'));
  EXPECT_FALSE(StatsRegion::create(o).ok());
}

// A reader that finds a slot mid-write waits for the writer, then returns the new values.
TEST_F(StatsRegionTest, ReaderRetriesWhileSlotIsBeingWritten) {
  auto r = make(options(1, 2));
  ASSERT_NE(r, nullptr);
  const std::uint64_t old_v[] = {1, 1};
  r->publish(0, old_v, 1);
  r->begin_write(0);  // the sequence is odd now
  std::atomic<bool> done{false};
  Result<RegionSnapshot> got = Error{};
  std::thread reader([&] {
    ReadOptions ro;
    ro.patience = 5s;
    got = read_stats_region(r->path(), ro);
    done = true;
  });
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(done.load()) << "the reader must not take a copy of a slot being written";
  const std::uint64_t new_v[] = {7, 8};
  r->end_write(0, new_v, 2);
  reader.join();
  ASSERT_TRUE(got.ok()) << got.error().describe();
  EXPECT_TRUE(got->engines[0].consistent);
  EXPECT_GT(got->engines[0].retries, 0u);
  EXPECT_EQ(got->engines[0].values, (std::vector<std::uint64_t>{7, 8}));
  EXPECT_EQ(got->engines[0].published_ns, 2u);
}

// A writer that never finishes (it died mid-write): the reader gives up after its patience and
// says the copy is not consistent.
TEST_F(StatsRegionTest, ReaderGivesUpOnSlotLeftMidWrite) {
  auto r = make(options(1, 2));
  ASSERT_NE(r, nullptr);
  r->begin_write(0);
  ReadOptions ro;
  ro.patience = 20ms;
  auto s = read_stats_region(r->path(), ro);
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(s->engines[0].consistent);
  EXPECT_GT(s->engines[0].retries, 0u);
}

// Every publish writes one number into every counter: a consistent copy has them all equal.
TEST_F(StatsRegionTest, NoTornCopiesUnderContinuousPublishing) {
  constexpr std::size_t kCounters = 100;
  auto r = make(options(1, kCounters));
  ASSERT_NE(r, nullptr);
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    std::vector<std::uint64_t> v(kCounters);
    for (std::uint64_t k = 1; !stop.load(std::memory_order_relaxed); ++k) {
      std::fill(v.begin(), v.end(), k);
      r->publish(0, v, k);
    }
  });
  unsigned consistent = 0;
  unsigned retried = 0;
  std::uint64_t last = 0;
  const auto until = std::chrono::steady_clock::now() + 300ms;
  while (std::chrono::steady_clock::now() < until) {
    ReadOptions ro;
    ro.patience = 1s;
    auto s = read_stats_region(r->path(), ro);
    ASSERT_TRUE(s.ok());
    const auto& e = s->engines[0];
    if (!e.consistent) continue;
    ++consistent;
    retried += e.retries > 0 ? 1 : 0;
    for (const std::uint64_t x : e.values) ASSERT_EQ(x, e.published_ns) << "torn copy";
    EXPECT_GE(e.published_ns, last) << "went backwards";
    last = e.published_ns;
  }
  stop = true;
  writer.join();
  EXPECT_GT(consistent, 10u);
  ::testing::Test::RecordProperty("reads_that_retried", static_cast<int>(retried));
}

// A process that died without removing its region (kill -9): the reader calls it stale, and
// remove_stale_region removes it; a live one is refused.
TEST_F(StatsRegionTest, DeadWritersRegionIsStaleAndRemovable) {
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto r = StatsRegion::create(options());
    if (!r) ::_exit(1);
    const std::uint64_t v[] = {5, 6, 7};
    r.value()->publish(0, v, 1);
    ::_exit(0);  // no destructor: the file stays, as after kill -9
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  auto live = make(options());  // ours, beside it
  ASSERT_NE(live, nullptr);

  const RegionListing l = list_stats_regions("obtest0", dir_);
  ASSERT_EQ(l.regions.size(), 2u);
  const RegionSnapshot* dead = nullptr;
  for (const auto& r : l.regions) {
    if (r.pid == child) dead = &r;
  }
  ASSERT_NE(dead, nullptr);
  EXPECT_EQ(dead->liveness, Liveness::kDead);
  EXPECT_TRUE(dead->stale());
  EXPECT_EQ(dead->engines[0].values, (std::vector<std::uint64_t>{5, 6, 7}));  // its last counters

  EXPECT_EQ(remove_stale_region(live->path()).error().code, EBUSY);
  EXPECT_TRUE(fs::exists(live->path()));
  ASSERT_TRUE(remove_stale_region(dead->path).ok());
  EXPECT_FALSE(fs::exists(dead->path));
  EXPECT_EQ(list_stats_regions("obtest0", dir_).regions.size(), 1u);
}

// A pid that runs again, as another process: the start time tells them apart.
TEST_F(StatsRegionTest, ReusedPidIsStale) {
  auto r = make(options());
  ASSERT_NE(r, nullptr);
  {
    const int fd = ::open(r->path().c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    const std::uint64_t other = process_start_time() + 1;
    ASSERT_EQ(::pwrite(fd, &other, sizeof other, offsetof(stats_layout::RegionHeader, start_time)),
              static_cast<ssize_t>(sizeof other));
    ::close(fd);
  }
  auto s = read_stats_region(r->path());
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->liveness, Liveness::kReused);
  EXPECT_EQ(liveness(::getpid(), process_start_time()), Liveness::kLive);
  // A new region of this process replaces the file it takes for a left-over.
  auto again = make(options());
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->path(), r->path());
  s = read_stats_region(again->path());
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->liveness, Liveness::kLive);
}

TEST_F(StatsRegionTest, ForkedChildDoesNotRemoveTheParentsRegion) {
  auto r = make(options());
  ASSERT_NE(r, nullptr);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    r.reset();  // the child's copy of the Stack going away
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(fs::exists(r->path()));
}

TEST_F(StatsRegionTest, DamagedFilesAreRefusedNotRead) {
  const std::string d = dir_ + "/obtest0";
  fs::create_directories(d);
  {
    std::FILE* f = std::fopen((d + "/stats.1").c_str(), "w");
    std::fputs("not a region", f);
    std::fclose(f);
  }
  auto r = make(options());
  ASSERT_NE(r, nullptr);
  // A region whose sizes claim more than the file holds.
  const std::string trunc = d + "/stats.2";
  fs::copy_file(r->path(), trunc);
  fs::resize_file(trunc, fs::file_size(trunc) - 64);
  EXPECT_EQ(read_stats_region(d + "/stats.1").error().code, EINVAL);
  EXPECT_EQ(read_stats_region(trunc).error().code, EINVAL);
  const RegionListing l = list_stats_regions("obtest0", dir_);
  EXPECT_EQ(l.regions.size(), 1u);
  EXPECT_EQ(l.unreadable.size(), 2u);
}

TEST_F(StatsRegionTest, DeadTemporaryFilesAreListed) {
  const std::string d = dir_ + "/obtest0";
  fs::create_directories(d);
  // pid 2^22 + 1 is above the kernel's pid_max limit: no such process.
  const std::string tmp = d + "/.stats.4194305.0.tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "w");
  std::fclose(f);
  const RegionListing l = list_stats_regions("obtest0", dir_);
  EXPECT_TRUE(l.regions.empty());
  EXPECT_EQ(l.dead_temporaries, (std::vector<std::string>{tmp}));
}

TEST(EngineCounters, NamesAreUniqueGroupedAndFitTheTable) {
  const auto names = counters::names();
  EXPECT_EQ(names.size(), counters::kCount);
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()).size(), names.size());
  std::size_t drops = 0;
  for (const auto& n : names) {
    EXPECT_LT(n.size(), stats_layout::kNameSize) << n;
    const auto dot = n.find('.');
    ASSERT_NE(dot, std::string::npos) << n;
    const std::string g = n.substr(0, dot);
    EXPECT_TRUE(g == "engine" || g == "io" || g == "tcp" || g == "drop") << n;
    drops += g == "drop" ? 1 : 0;
  }
  EXPECT_EQ(drops, static_cast<std::size_t>(tcp::DropReason::kCount));
  EXPECT_EQ(names.back(), "drop." + std::string(tcp::to_string(tcp::DropReason::kMemFull)));
}

// The engine publishes at once, then at most every kStatsInterval from poll(), and before it
// sleeps when frames moved since; and once more when destroyed.
class EnginePublishTest : public StatsRegionTest {
 protected:
  // A TCP SYN from 198.18.0.2 to 198.18.0.1:80 whose checksum is wrong.
  void send_bad_checksum_syn() {
    const std::span<std::uint8_t> f = link_.b().tx_acquire();
    ASSERT_GE(f.size(), 54u);
    std::uint8_t frame[54] = {
        0x02, 0,    0, 0,  0, 1, 0x02, 0,    0,  0, 0, 2, 0x08, 0x00,                              // Ethernet
        0x45, 0,    0, 40, 0, 1, 0,    0,    64, 6, 0, 0, 198,  18,   0,    2,    198, 18, 0, 1,   // IPv4
        0x9c, 0x41, 0, 80, 0, 0, 0x03, 0xe8, 0,  0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0,   0,  0, 0};  // TCP
    const std::uint16_t ip_sum = wire::csum_fold(wire::csum_partial(std::span(frame + 14, 20)));
    frame[24] = static_cast<std::uint8_t>(ip_sum >> 8);
    frame[25] = static_cast<std::uint8_t>(ip_sum);
    const auto src = *wire::IpAddr::parse("198.18.0.2");
    const auto dst = *wire::IpAddr::parse("198.18.0.1");
    const std::uint16_t good = wire::csum_fold(
        wire::csum_partial(std::span(frame + 34, 20), wire::pseudo_header_sum(src, dst, 6, 20)));
    const std::uint16_t bad = good ^ 0x5555;
    frame[50] = static_cast<std::uint8_t>(bad >> 8);
    frame[51] = static_cast<std::uint8_t>(bad);
    std::copy(std::begin(frame), std::end(frame), f.begin());
    link_.b().tx_commit(sizeof frame);
  }
  std::uint64_t counter(const RegionSnapshot& s, const std::string& name) {
    for (std::size_t i = 0; i < s.names.size(); ++i) {
      if (s.names[i] == name) return s.engines.at(0).values.at(i);
    }
    ADD_FAILURE() << "no counter " << name;
    return 0;
  }
  RegionSnapshot read(const StatsRegion& r) {
    auto s = read_stats_region(r.path());
    EXPECT_TRUE(s.ok());
    return s.ok() ? s.value() : RegionSnapshot{};
  }

  sim::VirtualClock clock_{Instant{1'000'000'000}};
  io::MemLink link_{64, 2048};
  testing::StaticResolver resolver_;
};

TEST_F(EnginePublishTest, PublishesPeriodicallyBeforeSleepingAndAtTheEnd) {
  StatsRegion::Options o = options(1, 0);
  o.names = counters::names();
  auto region = make(o);
  ASSERT_NE(region, nullptr);
  EngineConfig ec;
  ec.mac.bytes = {0x02, 0, 0, 0, 0, 1};
  ec.tcp.local_addrs = {*wire::IpAddr::parse("198.18.0.1")};
  ec.tcp.max_sockets = 16;
  auto eng = std::make_unique<Engine>(ec, link_.a(), clock_, &resolver_);
  eng->set_stats_region(region.get());
  RegionSnapshot s = read(*region);
  EXPECT_EQ(s.engines[0].publishes, 1u);  // at once

  eng->poll();
  clock_.advance(Duration::millis(50));
  eng->poll();
  EXPECT_EQ(read(*region).engines[0].publishes, 1u) << "published before the interval";
  clock_.advance(Duration::millis(60));
  eng->poll();
  s = read(*region);
  EXPECT_EQ(s.engines[0].publishes, 2u);
  EXPECT_EQ(counter(s, "engine.iterations"), 3u);
  EXPECT_EQ(s.engines[0].published_ns, static_cast<std::uint64_t>(clock_.now().ns));

  // A frame between two periodic publishes: not published by poll() (one compare per iteration)...
  clock_.advance(Duration::millis(10));
  send_bad_checksum_syn();
  eng->poll();
  s = read(*region);
  EXPECT_EQ(s.engines[0].publishes, 2u);
  EXPECT_EQ(counter(s, "drop.bad_checksum"), 0u);
  // ... but before the engine sleeps.
  ASSERT_TRUE(eng->begin_sleep(Duration::seconds(1)).has_value());
  eng->end_sleep();
  s = read(*region);
  EXPECT_EQ(s.engines[0].publishes, 3u);
  EXPECT_EQ(counter(s, "drop.bad_checksum"), 1u);
  EXPECT_EQ(counter(s, "tcp.segments_in"), 1u);
  EXPECT_EQ(counter(s, "engine.rx_frames"), 1u);
  EXPECT_EQ(counter(s, "engine.sleeps"), 1u);
  // The PacketIo's counters cost a getsockopt on AF_XDP: only the periodic publish reads them.
  EXPECT_EQ(counter(s, "io.rx_frames"), 0u);
  // Nothing moved: the next sleep publishes nothing.
  eng->poll();
  ASSERT_TRUE(eng->begin_sleep(Duration::seconds(1)).has_value());
  eng->end_sleep();
  EXPECT_EQ(read(*region).engines[0].publishes, 3u);

  eng.reset();
  s = read(*region);
  EXPECT_EQ(s.engines[0].publishes, 4u);  // the final counters
  EXPECT_EQ(counter(s, "engine.iterations"), 5u);
  EXPECT_EQ(counter(s, "io.rx_frames"), 1u);
}

TEST_F(EnginePublishTest, EngineWithoutSlotPublishesNothing) {
  StatsRegion::Options o = options(1, 0);
  o.names = counters::names();
  auto region = make(o);
  ASSERT_NE(region, nullptr);
  EngineConfig ec;
  ec.id = 1;  // the region has one slot only (engine 0's)
  ec.engine_count = 2;
  ec.tcp.local_addrs = {*wire::IpAddr::parse("198.18.0.1")};
  ec.tcp.max_sockets = 16;
  Engine eng(ec, link_.a(), clock_, &resolver_);
  eng.set_stats_region(region.get());
  eng.poll();
  EXPECT_EQ(read(*region).engines[0].publishes, 0u);
}

}  // namespace
}  // namespace xdptcp::engine
