// accounting.hh: the JSON record (and its inverse), the build-log line, the OOM message,
// the log path rule, and appending with rotation.
#include "common/accounting.hh"

#include "unit_util.hh"

#include <fstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sstream>
#include <sys/stat.h>

using namespace phasebox;
namespace acc = phasebox::accounting;
using phasebox::test::TempDir;

namespace {

acc::Record sample()
{
	acc::Record r;
	r.package = "dev-qt/qtwebengine-6.8.1";
	r.phase = "src_compile";
	r.uid = 250;
	r.status = 137;
	r.start = 1796100000.25;
	r.wall_s = 3600.5;
	r.usage.cpu_user_s = 7000.125;
	r.usage.cpu_system_s = 300;
	r.usage.mem_peak = 8ULL << 30;
	r.usage.pids_peak = 40;
	r.usage.oom_kills = 3;
	EXPECT_TRUE(limits::set(r.limits, limits::Key::memory_max, "8G", 16ULL << 30).ok());
	r.makeopts = "-j16";
	r.orphans = 1;
	r.writer = "phasebox-keeper";
	return r;
}

std::string slurp(const std::string& p)
{
	std::ifstream f(p);
	std::stringstream s;
	s << f.rdbuf();
	return s.str();
}

TEST(Json, FieldsAndRoundTrip)
{
	std::string line = acc::to_json(sample());
	EXPECT_EQ(line.find('\n'), std::string::npos);
	auto j = nlohmann::json::parse(line);
	EXPECT_EQ(j["package"], "dev-qt/qtwebengine-6.8.1");
	EXPECT_EQ(j["mem_peak"], 8ULL << 30);
	EXPECT_EQ(j["limits"]["memory_max"], "8G");
	EXPECT_EQ(j["time"], "2026-12-01T05:40:00Z"); // the end: start + wall
	EXPECT_FALSE(j.contains("io_read"));
	auto back = acc::from_json(line);
	ASSERT_TRUE(back.ok());
	EXPECT_EQ(back.value().package, "dev-qt/qtwebengine-6.8.1");
	EXPECT_EQ(*back.value().usage.oom_kills, 3u);
	EXPECT_EQ(back.value().limits.text(limits::Key::memory_max), "8G");
	EXPECT_EQ(acc::to_json(back.value()), line);
	EXPECT_FALSE(acc::from_json("not json").ok());
	EXPECT_FALSE(acc::from_json("[]").ok());
	EXPECT_FALSE(acc::from_json(R"({"limits":{"memory_max":"8X"}})").ok());
}

TEST(Json, HostileStringsStayOneLine)
{
	acc::Record r = sample();
	r.package = "cat/p\n\"x\xff";
	std::string line = acc::to_json(r);
	EXPECT_EQ(line.find('\n'), std::string::npos);
	EXPECT_TRUE(nlohmann::json::accept(line));
}

TEST(Messages, SummaryAndOom)
{
	acc::Record r = sample();
	EXPECT_EQ(acc::summary_line(r),
		  " * phasebox: src_compile of dev-qt/qtwebengine-6.8.1: 3600.5 s, CPU 7000.1 s user + 300.0 s system, "
		  "peak 8.0 GiB, 40 tasks at most, 3 OOM-killed, 1 left running (killed), MAKEOPTS=-j16, limits: "
		  "PHASEBOX_MEMORY_MAX=8G");
	auto oom = acc::oom_lines(r);
	ASSERT_EQ(oom.size(), 2u);
	EXPECT_EQ(oom[0], " * phasebox: src_compile of dev-qt/qtwebengine-6.8.1 hit PHASEBOX_MEMORY_MAX=8G (peak 8.0 GiB, 3 "
			  "processes OOM-killed)");
	EXPECT_EQ(oom[1], " * phasebox: hint: lower the make jobs for this package (MAKEOPTS=-j16) or raise "
			  "PHASEBOX_MEMORY_MAX, in package.env");
	r.usage.oom_kills = 0;
	EXPECT_TRUE(acc::oom_lines(r).empty());
	r.usage.oom_kills.reset();
	EXPECT_TRUE(acc::oom_lines(r).empty());
	// an OOM under someone else's limit says so
	r = sample();
	r.limits = limits::Limits{};
	oom = acc::oom_lines(r);
	ASSERT_EQ(oom.size(), 2u);
	EXPECT_NE(oom[0].find("ran out of memory"), std::string::npos);
	EXPECT_NE(oom[0].find("not phasebox's"), std::string::npos);
}

TEST(LogPath, Rule)
{
	EXPECT_TRUE(acc::check_log_path("/var/log/phasebox/accounting.jsonl").ok());
	for (const char* p : {"", "rel.jsonl", "/etc/passwd", "/var/log/.jsonl", "/var/log/x.json", "/var/../etc/x.jsonl",
			      "/var/./x.jsonl", "/var//x.jsonl", "/x.jsonl/"})
		EXPECT_FALSE(acc::check_log_path(p).ok()) << p;
}

TEST(Append, LinesAndRotation)
{
	TempDir t;
	const std::string log = t / "log/a.jsonl";
	ASSERT_TRUE(acc::append(log, "{\"n\":1}", 20).ok());
	ASSERT_TRUE(acc::append(log, "{\"n\":2}", 20).ok());
	EXPECT_EQ(slurp(log), "{\"n\":1}\n{\"n\":2}\n");
	// a third line would pass 20 bytes: the file is rotated to .1 first
	ASSERT_TRUE(acc::append(log, "{\"n\":3}", 20).ok());
	EXPECT_EQ(slurp(log), "{\"n\":3}\n");
	EXPECT_EQ(slurp(log + ".1"), "{\"n\":1}\n{\"n\":2}\n");
	struct stat st{};
	ASSERT_EQ(::stat(log.c_str(), &st), 0);
	EXPECT_EQ(st.st_mode & 0777, 0644u);
}

TEST(Append, RefusesASymlinkAndAnOpenDirectory)
{
	TempDir t;
	::mkdir((t / "d").c_str(), 0755);
	ASSERT_EQ(::symlink("/etc/hostname", (t / "d/a.jsonl").c_str()), 0);
	EXPECT_FALSE(acc::append(t / "d/a.jsonl", "{}").ok());
	::mkdir((t / "open").c_str(), 0777);
	::chmod((t / "open").c_str(), 0777);
	auto s = acc::append(t / "open/a.jsonl", "{}");
	ASSERT_FALSE(s.ok());
	EXPECT_NE(s.error().what.find("writable by others"), std::string::npos);
}

} // namespace

// tests/fuzz/accounting (seed "ranges") fails without the fix: get<uint64_t>() of 1e300 (or -1) and time_t(1e300) are
// out-of-range conversions.  Such fields read as unset; the record still writes.
TEST(Json, OutOfRangeNumbersReadAsUnset)
{
	auto r = acc::from_json(
	    R"({"package":"a/b-1","phase":"src_compile","mem_peak":1e300,"io_read":-1,"start":1e300,"cpu_user_s":2.5})");
	ASSERT_TRUE(r.ok());
	EXPECT_FALSE(r.value().usage.mem_peak.has_value());
	EXPECT_FALSE(r.value().usage.io_read.has_value());
	EXPECT_EQ(r.value().usage.cpu_user_s, 2.5);
	EXPECT_EQ(r.value().start, 1e300);
	EXPECT_NE(acc::to_json(r.value()).find(R"("package":"a/b-1")"), std::string::npos);
}
