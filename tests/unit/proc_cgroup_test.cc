// proc_cgroup.hh: parsing /proc/<pid>/cgroup ("hierarchy-ID:controller-list:cgroup-path").
#include "common/proc_cgroup.hh"

#include <gtest/gtest.h>

#include <string>

using phasebox::parse_proc_cgroup;
using phasebox::ProcCgroups;

namespace {

ProcCgroups parse_ok(const std::string& text)
{
	auto r = parse_proc_cgroup(text);
	EXPECT_TRUE(r.ok()) << text << ": " << (r.ok() ? "" : r.error().what);
	return r.ok() ? r.value() : ProcCgroups{};
}

void expect_einval(const std::string& text)
{
	auto r = parse_proc_cgroup(text);
	ASSERT_FALSE(r.ok()) << "accepted: " << text;
	EXPECT_EQ(r.error().err, EINVAL) << text;
	EXPECT_FALSE(r.error().what.empty());
}

// The layout of the machine these tests were written on: v1 controllers plus a cgroup2
// at /sys/fs/cgroup/unified, the process in a memory cgroup of its own.
TEST(ParseProcCgroup, Hybrid)
{
	auto pc = parse_ok("9:name=systemd:/\n"
			   "8:pids:/\n"
			   "6:freezer:/phasebox/leaves/x.pb1\n"
			   "4:memory:/process_api/abc\n"
			   "1:cpu:/\n"
			   "0::/\n");
	EXPECT_EQ(pc.unified, "/");
	EXPECT_EQ(pc.v1.size(), 5u);
	EXPECT_EQ(pc.v1.at("name=systemd"), "/");
	EXPECT_EQ(pc.v1.at("pids"), "/");
	EXPECT_EQ(pc.v1.at("freezer"), "/phasebox/leaves/x.pb1");
	EXPECT_EQ(pc.v1.at("memory"), "/process_api/abc");
	EXPECT_EQ(pc.v1.at("cpu"), "/");
	EXPECT_EQ(pc.v1.count(""), 0u);
}

TEST(ParseProcCgroup, PureV2)
{
	auto pc = parse_ok("0::/user.slice/user-1000.slice/session-2.scope\n");
	EXPECT_EQ(pc.unified, "/user.slice/user-1000.slice/session-2.scope");
	EXPECT_TRUE(pc.v1.empty());
}

TEST(ParseProcCgroup, NoTrailingNewlineAndBlankLines)
{
	EXPECT_EQ(parse_ok("0::/a").unified, "/a");
	EXPECT_EQ(parse_ok("\n\n0::/b\n\n").unified, "/b");
	auto empty = parse_ok("");
	EXPECT_EQ(empty.unified, "");
	EXPECT_TRUE(empty.v1.empty());
}

TEST(ParseProcCgroup, V1OnlyHasNoUnifiedPath)
{
	auto pc = parse_ok("2:freezer:/x\n1:name=openrc:/y\n");
	EXPECT_EQ(pc.unified, "");
	EXPECT_EQ(pc.v1.at("freezer"), "/x");
	EXPECT_EQ(pc.v1.at("name=openrc"), "/y");
}

// Only the first two colons separate fields: a cgroup name may contain ':' (leaf names do:
// "cat:pf-1:src_compile.pb12").
TEST(ParseProcCgroup, PathWithColons)
{
	auto pc = parse_ok("0::/phasebox/leaves/dev-libs:foo-1:src_compile.pb12\n"
			   "3:freezer:/a:b::c:\n");
	EXPECT_EQ(pc.unified, "/phasebox/leaves/dev-libs:foo-1:src_compile.pb12");
	EXPECT_EQ(pc.v1.at("freezer"), "/a:b::c:");
}

TEST(ParseProcCgroup, PathWithSpaces)
{
	EXPECT_EQ(parse_ok("0::/a b/ c\n").unified, "/a b/ c");
}

TEST(ParseProcCgroup, CommaSeparatedControllers)
{
	auto pc = parse_ok("2:cpu,cpuacct:/x\n5:net_cls,net_prio:/y\n");
	EXPECT_EQ(pc.v1.size(), 4u);
	EXPECT_EQ(pc.v1.at("cpu"), "/x");
	EXPECT_EQ(pc.v1.at("cpuacct"), "/x");
	EXPECT_EQ(pc.v1.at("net_cls"), "/y");
	EXPECT_EQ(pc.v1.at("net_prio"), "/y");
	EXPECT_EQ(pc.v1.count("cpu,cpuacct"), 0u);
}

// "0:<controllers>:" is a v1 hierarchy numbered 0, not the unified one.
TEST(ParseProcCgroup, IdZeroWithControllersIsV1)
{
	auto pc = parse_ok("0:freezer:/x\n");
	EXPECT_EQ(pc.unified, "");
	EXPECT_EQ(pc.v1.at("freezer"), "/x");
}

TEST(ParseProcCgroup, MalformedLines)
{
	expect_einval("garbage\n");
	expect_einval("0\n");
	expect_einval("0:\n");
	expect_einval("1:cpu\n");
	expect_einval("0::\n");                 // empty path
	expect_einval("0::relative/path\n");    // relative path
	expect_einval("0:: /leading-space\n");
	expect_einval("1:cpu:x\n");
	// One bad line spoils the whole file, wherever it is.
	expect_einval("0::/\n1:cpu\n");
	expect_einval("1:cpu\n0::/\n");
	expect_einval("9:name=systemd:/\n4:memory:relative\n0::/\n");
	// A NUL byte anywhere (found by tests/fuzz/proc_cgroup).
	expect_einval(std::string("0::/pha\0box/x\n", 15));
	expect_einval(std::string("4:mem\0ory:/\n", 13));
}

TEST(ParseProcCgroup, ReadsOwnProcessFile)
{
	auto r = phasebox::read_proc_cgroup();
	ASSERT_TRUE(r.ok()) << r.error().what;
	// Every kernel with cgroups shows at least one hierarchy here.
	EXPECT_TRUE(!r.value().unified.empty() || !r.value().v1.empty());
	if (!r.value().unified.empty()) {
		EXPECT_EQ(r.value().unified[0], '/');
	}
	auto bad = phasebox::read_proc_cgroup(-1);
	EXPECT_FALSE(bad.ok());
}

} // namespace
