// cgroup_limits.hh against a fixture tree standing in for cgroupfs: which controllers a
// limit needs, enabling them down a path (refused where a level does not offer one), the
// cgroup2 and v1 files written, and the parsers of the accounting files.
#include "common/cgroup_limits.hh"

#include "unit_util.hh"

#include <fcntl.h>
#include <fstream>
#include <gtest/gtest.h>
#include <sstream>
#include <sys/stat.h>

using namespace phasebox;
using phasebox::test::TempDir;
namespace lim = phasebox::limits;

namespace {

void put(const std::string& path, const std::string& data)
{
	std::ofstream f(path, std::ios::binary | std::ios::trunc);
	f << data;
	ASSERT_TRUE(f.good()) << path;
}

std::string get(const std::string& path)
{
	std::ifstream f(path, std::ios::binary);
	std::stringstream s;
	s << f.rdbuf();
	return s.str();
}

UniqueFd dirfd(const std::string& p) { return UniqueFd(::open(p.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)); }

lim::Limits limits(std::initializer_list<std::pair<lim::Key, const char*>> kv)
{
	lim::Limits l;
	for (auto& [k, v] : kv)
		EXPECT_TRUE(lim::set(l, k, v, 16ULL << 30).ok()) << v;
	return l;
}

// A cgroup2-like directory: cgroup.controllers offering `offered`, an empty subtree_control.
void cgdir(const std::string& p, const std::string& offered)
{
	::mkdir(p.c_str(), 0755);
	put(p + "/cgroup.controllers", offered + "\n");
	put(p + "/cgroup.subtree_control", "");
}

TEST(ControllersFor, OnlyWhatTheLimitsNeed)
{
	EXPECT_TRUE(controllers_for(lim::Limits{}).empty());
	auto l = limits({{lim::Key::memory_max, "1G"}, {lim::Key::memory_high, "1G"}, {lim::Key::cpu_weight, "5"}});
	EXPECT_EQ(controllers_for(l), (std::vector<std::string>{"memory", "cpu"}));
	l = limits({{lim::Key::io_weight, "5"}, {lim::Key::pids_max, "5"}});
	EXPECT_EQ(controllers_for(l), (std::vector<std::string>{"pids", "io"}));
}

TEST(EnableV2, WritesEachLevelDownThePath)
{
	TempDir t;
	cgdir(t.path(), "cpuset cpu io memory pids");
	cgdir(t / "phasebox", "cpu io memory pids");
	cgdir(t / "phasebox/inv-1", "cpu io memory pids");
	cgdir(t / "phasebox/inv-1/builds", "cpu io memory pids");
	auto root = dirfd(t.path());
	ASSERT_TRUE(enable_v2_controllers(root.get(), "phasebox/inv-1/builds", {"memory"}).ok());
	for (const char* d : {"", "/phasebox", "/phasebox/inv-1", "/phasebox/inv-1/builds"})
		EXPECT_EQ(get(t.path() + d + "/cgroup.subtree_control"), "+memory") << d;
	// Two controllers: one write each (a fixture file is overwritten in place, not
	// truncated, so the second write shows over the first).
	for (const char* d : {"", "/phasebox", "/phasebox/inv-1", "/phasebox/inv-1/builds"})
		put(t.path() + d + "/cgroup.subtree_control", "");
	ASSERT_TRUE(enable_v2_controllers(root.get(), "phasebox/inv-1/builds", {"memory", "pids"}).ok());
	for (const char* d : {"", "/phasebox", "/phasebox/inv-1", "/phasebox/inv-1/builds"})
		EXPECT_EQ(get(t.path() + d + "/cgroup.subtree_control"), "+pidsry") << d;
}

TEST(EnableV2, AlreadyEnabledIsNotWrittenAgain)
{
	TempDir t;
	cgdir(t.path(), "memory pids");
	put(t / "cgroup.subtree_control", "memory pids\n");
	cgdir(t / "leaves", "memory pids");
	auto root = dirfd(t.path());
	ASSERT_TRUE(enable_v2_controllers(root.get(), "leaves", {"memory"}).ok());
	EXPECT_EQ(get(t / "cgroup.subtree_control"), "memory pids\n");
	EXPECT_EQ(get(t / "leaves/cgroup.subtree_control"), "+memory");
}

TEST(EnableV2, RefusedWhereALevelDoesNotOfferIt)
{
	TempDir t;
	cgdir(t.path(), "memory pids");
	cgdir(t / "phasebox", "pids"); // memory not passed down
	auto root = dirfd(t.path());
	auto s = enable_v2_controllers(root.get(), "phasebox", {"memory"});
	ASSERT_FALSE(s.ok());
	EXPECT_EQ(s.error().err, ENOTSUP);
	EXPECT_EQ(s.error().what, "the memory controller is not offered in '/phasebox/cgroup.controllers'");
	// "memoryx" is not "memory": whole words only
	cgdir(t / "w", "memoryx");
	put(t / "cgroup.controllers", "memoryx\n");
	EXPECT_FALSE(enable_v2_controllers(root.get(), "", {"memory"}).ok());
}

TEST(WriteV2, FilesAndValues)
{
	TempDir t;
	for (const char* f : {"memory.max", "memory.high", "memory.swap.max", "pids.max", "cpu.max", "cpu.weight", "io.weight"})
		put(t / f, "");
	auto d = dirfd(t.path());
	auto l = limits({{lim::Key::memory_max, "8G"},
			 {lim::Key::memory_high, "6G"},
			 {lim::Key::memory_swap_max, "0"},
			 {lim::Key::pids_max, "500"},
			 {lim::Key::cpu_max, "2.5"},
			 {lim::Key::cpu_weight, "50"},
			 {lim::Key::io_weight, "200"}});
	for (const char* c : {"memory", "pids", "cpu", "io"})
		ASSERT_TRUE(write_v2_limits(d.get(), c, l).ok()) << c;
	EXPECT_EQ(get(t / "memory.max"), "8589934592");
	EXPECT_EQ(get(t / "memory.high"), "6442450944");
	EXPECT_EQ(get(t / "memory.swap.max"), "0");
	EXPECT_EQ(get(t / "pids.max"), "500");
	EXPECT_EQ(get(t / "cpu.max"), "250000 100000");
	EXPECT_EQ(get(t / "cpu.weight"), "50");
	EXPECT_EQ(get(t / "io.weight"), "default 200");
}

TEST(WriteV2, BfqWeightWithoutIoCost)
{
	TempDir t;
	put(t / "io.bfq.weight", "");
	auto d = dirfd(t.path());
	ASSERT_TRUE(write_v2_limits(d.get(), "io", limits({{lim::Key::io_weight, "5000"}})).ok());
	EXPECT_EQ(get(t / "io.bfq.weight"), "1000");
}

TEST(WriteV2, IoWeightWithoutIoCostOrBfqFailsClosedNamingCauseAndFix)
{
	TempDir t; // a leaf of a kernel with neither blk-iocost nor BFQ: no weight file at all
	put(t / "io.stat", "");
	auto d = dirfd(t.path());
	auto s = write_v2_limits(d.get(), "io", limits({{lim::Key::io_weight, "50"}}));
	ASSERT_FALSE(s.ok());
	EXPECT_EQ(s.error().err, ENOTSUP);
	EXPECT_EQ(s.error().what, "no BFQ I/O scheduler and no blk-iocost (select bfq for the build's disk: "
				  "echo bfq > /sys/block/<dev>/queue/scheduler; or unset PHASEBOX_IO_WEIGHT): "
				  "no 'io.weight' nor 'io.bfq.weight'");
	// nothing was made in its place
	EXPECT_EQ(::faccessat(d.get(), "io.bfq.weight", F_OK, 0), -1);
	// twin: no PHASEBOX_IO_WEIGHT, nothing to write there: no error (the io controller
	// still counts the phase's I/O)
	EXPECT_TRUE(write_v2_limits(d.get(), "io", limits({{lim::Key::pids_max, "5"}})).ok());
	EXPECT_TRUE(write_v2_limits(d.get(), "io", lim::Limits{}).ok());
}

TEST(WriteV2, MissingFileIsAnError)
{
	TempDir t;
	auto d = dirfd(t.path());
	auto s = write_v2_limits(d.get(), "memory", limits({{lim::Key::memory_max, "1G"}}));
	ASSERT_FALSE(s.ok());
	EXPECT_EQ(s.error().err, ENOENT);
	// twin: no limit for that controller writes nothing and succeeds
	EXPECT_TRUE(write_v2_limits(d.get(), "pids", limits({{lim::Key::memory_max, "1G"}})).ok());
}

TEST(WriteV1, FilesAndValues)
{
	TempDir t;
	for (const char* f : {"memory.limit_in_bytes", "memory.soft_limit_in_bytes", "memory.memsw.limit_in_bytes",
			      "pids.max", "cpu.cfs_period_us", "cpu.cfs_quota_us", "cpu.shares", "blkio.bfq.weight"})
		put(t / f, "");
	auto d = dirfd(t.path());
	auto l = limits({{lim::Key::memory_max, "1G"},
			 {lim::Key::memory_high, "512M"},
			 {lim::Key::memory_swap_max, "1G"},
			 {lim::Key::pids_max, "64"},
			 {lim::Key::cpu_max, "0.5"},
			 {lim::Key::cpu_weight, "50"},
			 {lim::Key::io_weight, "50"}});
	for (const char* c : {"memory", "pids", "cpu", "blkio"})
		ASSERT_TRUE(write_v1_limits(d.get(), c, l).ok()) << c;
	EXPECT_EQ(get(t / "memory.limit_in_bytes"), "1073741824");
	EXPECT_EQ(get(t / "memory.soft_limit_in_bytes"), "536870912");
	EXPECT_EQ(get(t / "memory.memsw.limit_in_bytes"), "2147483648");
	EXPECT_EQ(get(t / "pids.max"), "64");
	EXPECT_EQ(get(t / "cpu.cfs_period_us"), "100000");
	EXPECT_EQ(get(t / "cpu.cfs_quota_us"), "50000");
	EXPECT_EQ(get(t / "cpu.shares"), "512");
	EXPECT_EQ(get(t / "blkio.bfq.weight"), "50");
}

TEST(WriteV1, SwapNeedsMemoryMaxAndMemsw)
{
	TempDir t;
	put(t / "memory.limit_in_bytes", "");
	auto d = dirfd(t.path());
	auto s = write_v1_limits(d.get(), "memory", limits({{lim::Key::memory_swap_max, "1G"}}));
	ASSERT_FALSE(s.ok());
	EXPECT_NE(s.error().what.find("set PHASEBOX_MEMORY_MAX too"), std::string::npos);
	s = write_v1_limits(d.get(), "memory", limits({{lim::Key::memory_max, "1G"}, {lim::Key::memory_swap_max, "1G"}}));
	ASSERT_FALSE(s.ok());
	EXPECT_NE(s.error().what.find("swapaccount=1"), std::string::npos);
}

TEST(WriteV1, IoWeightWithoutBfqFailsClosedNamingCauseAndFix)
{
	TempDir t; // a v1 blkio leaf of a kernel without BFQ: the throttle and accounting files only
	put(t / "blkio.throttle.io_service_bytes_recursive", "Total 0\n");
	auto d = dirfd(t.path());
	auto s = write_v1_limits(d.get(), "blkio", limits({{lim::Key::io_weight, "50"}}));
	ASSERT_FALSE(s.ok());
	EXPECT_EQ(s.error().err, ENOTSUP);
	EXPECT_EQ(s.error().what, "no BFQ I/O scheduler (select bfq for the build's disk: "
				  "echo bfq > /sys/block/<dev>/queue/scheduler; or unset PHASEBOX_IO_WEIGHT): "
				  "no 'blkio.bfq.weight'");
	EXPECT_EQ(::faccessat(d.get(), "blkio.bfq.weight", F_OK, 0), -1);
	// twin: the blkio mirror without PHASEBOX_IO_WEIGHT (accounting only) writes nothing
	// and is no error; the other controllers' limits are not held up by it
	EXPECT_TRUE(write_v1_limits(d.get(), "blkio", limits({{lim::Key::pids_max, "5"}})).ok());
	EXPECT_TRUE(write_v1_limits(d.get(), "blkio", lim::Limits{}).ok());
	put(t / "pids.max", "");
	ASSERT_TRUE(write_v1_limits(d.get(), "pids", limits({{lim::Key::pids_max, "5"}, {lim::Key::io_weight, "50"}})).ok());
	EXPECT_EQ(get(t / "pids.max"), "5");
	// and with BFQ there, the same limit is written (capped at BFQ's 1000)
	put(t / "blkio.bfq.weight", "");
	ASSERT_TRUE(write_v1_limits(d.get(), "blkio", limits({{lim::Key::io_weight, "5000"}})).ok());
	EXPECT_EQ(get(t / "blkio.bfq.weight"), "1000");
}

TEST(Parsers, KeyedValue)
{
	EXPECT_EQ(keyed_value("usage_usec 5\nuser_usec 3000000\nsystem_usec 250\n", "user_usec"), 3000000u);
	EXPECT_EQ(keyed_value("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n", "oom_kill"), 3u);
	EXPECT_EQ(keyed_value("low 0\nhigh 2\nmax 7\noom 1\noom_kill 1\noom_group_kill 0\n", "oom_kill"), 1u);
	EXPECT_FALSE(keyed_value("oom_kill_disable 0\n", "oom_kill").has_value());
	EXPECT_FALSE(keyed_value("", "oom_kill").has_value());
}

TEST(Parsers, IoStatAndBlkio)
{
	auto [r, w] = io_stat_bytes("8:0 rbytes=100 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n"
				    "259:0 rbytes=5 wbytes=7 rios=1 wios=1 dbytes=0 dios=0\n");
	EXPECT_EQ(r, 105u);
	EXPECT_EQ(w, 27u);
	auto [r1, w1] = blkio_bytes("8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Async 0\n8:0 Discard 0\n"
				    "8:0 Total 12288\n8:16 Read 1\n8:16 Write 2\nTotal 12291\n");
	EXPECT_EQ(r1, 4097u);
	EXPECT_EQ(w1, 8194u);
	EXPECT_EQ(io_stat_bytes("").first, 0u);
}

TEST(ReadUsage, V2LeafFiles)
{
	TempDir t;
	put(t / "cpu.stat", "usage_usec 4000000\nuser_usec 3500000\nsystem_usec 500000\n");
	put(t / "memory.peak", "1048576\n");
	put(t / "memory.events", "low 0\nhigh 0\nmax 4\noom 2\noom_kill 2\n");
	put(t / "pids.peak", "37\n");
	put(t / "io.stat", "8:0 rbytes=10 wbytes=20\n");
	auto d = dirfd(t.path());
	Attached a;
	a.v2 = {"memory", "pids", "io"};
	Usage u = read_usage(d.get(), cgroupfs::Kind::v2, a);
	EXPECT_DOUBLE_EQ(*u.cpu_user_s, 3.5);
	EXPECT_DOUBLE_EQ(*u.cpu_system_s, 0.5);
	EXPECT_EQ(*u.mem_peak, 1048576u);
	EXPECT_EQ(*u.oom_kills, 2u);
	EXPECT_EQ(*u.pids_peak, 37u);
	EXPECT_EQ(*u.io_read, 10u);
	EXPECT_EQ(*u.io_write, 20u);
	// twin: controllers not in force are not read, even where files exist
	Usage none = read_usage(d.get(), cgroupfs::Kind::v2, Attached{});
	EXPECT_FALSE(none.mem_peak.has_value());
	EXPECT_FALSE(none.pids_peak.has_value());
	EXPECT_TRUE(none.cpu_user_s.has_value());
}

} // namespace
