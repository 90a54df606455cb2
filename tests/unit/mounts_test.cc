// mounts.hh: where the cgroup hierarchies are mounted, from mountinfo fixtures (see
// unit_util.hh for how they are found), and the mapping of hierarchy paths to files.
#include "common/mounts.hh"

#include "unit_util.hh"

#include <gtest/gtest.h>

#include <linux/magic.h>
#include <sys/statfs.h>

using phasebox::cgroup_fs_path;
using phasebox::CgroupMount;
using phasebox::CgroupMounts;
using phasebox::find_cgroup_mounts;
using phasebox::test::fixture;

namespace {

CgroupMounts mounts_of(const std::string& name)
{
	auto r = find_cgroup_mounts(fixture(name));
	EXPECT_TRUE(r.ok()) << name << ": " << (r.ok() ? "" : r.error().what);
	return r.ok() ? r.value() : CgroupMounts{};
}

void expect_mount(const CgroupMount& m, const char* target, const char* root, bool ro)
{
	EXPECT_EQ(m.target, target);
	EXPECT_EQ(m.root, root);
	EXPECT_EQ(m.read_only, ro) << target;
}

TEST(FindCgroupMounts, Hybrid)
{
	auto m = mounts_of("mountinfo-hybrid");
	expect_mount(m.unified, "/sys/fs/cgroup/unified", "/", false);
	EXPECT_EQ(m.v1.size(), 9u);
	for (const char* c : {"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids"})
		expect_mount(m.v1.at(c), (std::string("/sys/fs/cgroup/") + c).c_str(), "/", false);
	expect_mount(m.v1.at("name=systemd"), "/sys/fs/cgroup/systemd", "/", false);
	// The tmpfs below them is no cgroup mount.
	for (const auto& [ctl, mnt] : m.v1)
		EXPECT_NE(mnt.target, "/sys/fs/cgroup") << ctl;
}

TEST(FindCgroupMounts, PureV2Systemd)
{
	auto m = mounts_of("mountinfo-v2-systemd");
	expect_mount(m.unified, "/sys/fs/cgroup", "/", false);
	EXPECT_TRUE(m.v1.empty());
}

TEST(FindCgroupMounts, LegacyV1Only)
{
	auto m = mounts_of("mountinfo-v1-legacy");
	EXPECT_TRUE(m.unified.empty());
	EXPECT_EQ(m.unified.target, "");
	expect_mount(m.v1.at("cpu"), "/sys/fs/cgroup/cpu,cpuacct", "/", false);
	expect_mount(m.v1.at("cpuacct"), "/sys/fs/cgroup/cpu,cpuacct", "/", false);
	expect_mount(m.v1.at("net_cls"), "/sys/fs/cgroup/net_cls,net_prio", "/", false);
	expect_mount(m.v1.at("net_prio"), "/sys/fs/cgroup/net_cls,net_prio", "/", false);
	expect_mount(m.v1.at("cpuset"), "/sys/fs/cgroup/cpuset", "/", false);
	// OpenRC's named hierarchy, whose release agent path must not confuse the options.
	expect_mount(m.v1.at("name=openrc"), "/sys/fs/cgroup/openrc", "/", false);
	// A named hierarchy called "memory" is not the memory controller.
	expect_mount(m.v1.at("memory"), "/sys/fs/cgroup/memory", "/", false);
	expect_mount(m.v1.at("name=memory"), "/mnt/fake-memory", "/", false);
	// freezer is mounted twice: the first one in the table wins.
	expect_mount(m.v1.at("freezer"), "/sys/fs/cgroup/freezer", "/", false);
	for (const char* absent : {"hugetlb", "perf_event", "rdma", "misc", "name=systemd", "release_agent"})
		EXPECT_EQ(m.v1.count(absent), 0u) << absent;
}

TEST(FindCgroupMounts, DockerWithCgroupNamespace)
{
	auto m = mounts_of("mountinfo-docker-cgroupns");
	expect_mount(m.unified, "/sys/fs/cgroup", "/", true);
	EXPECT_TRUE(m.v1.empty());
}

TEST(FindCgroupMounts, DockerWithoutCgroupNamespace)
{
	auto m = mounts_of("mountinfo-docker-nocgroupns");
	expect_mount(m.unified, "/sys/fs/cgroup/unified", "/docker/4f1c0ffee5ba11", true);
	expect_mount(m.v1.at("freezer"), "/sys/fs/cgroup/freezer", "/docker/4f1c0ffee5ba11", true);
	expect_mount(m.v1.at("memory"), "/sys/fs/cgroup/memory", "/docker/4f1c0ffee5ba11", true);
	expect_mount(m.v1.at("name=systemd"), "/sys/fs/cgroup/systemd", "/docker/4f1c0ffee5ba11", true);
	EXPECT_EQ(m.v1.size(), 3u);
}

TEST(FindCgroupMounts, PrefersSysFsCgroup)
{
	auto m = mounts_of("mountinfo-v2-three");
	expect_mount(m.unified, "/sys/fs/cgroup", "/", false);
}

TEST(FindCgroupMounts, PrefersUnifiedOverOtherPlaces)
{
	auto m = mounts_of("mountinfo-v2-unified-late");
	expect_mount(m.unified, "/sys/fs/cgroup/unified", "/", false);
}

// Neither is a preferred place: the first one in the table is kept.
TEST(FindCgroupMounts, FirstOfEqualPlacesWins)
{
	auto m = mounts_of("mountinfo-v2-two-others");
	expect_mount(m.unified, "/mnt/a", "/", false);
}

// A container's read-only cgroup2 (root /docker/<id>) with a read-write one mounted over it
// at the same place, as one does to get a writable cgroupfs in a privileged container: the
// later mount is the one visible there, and its root is what maps hierarchy paths to files.
TEST(FindCgroupMounts, StackedMountOnTheSameTargetWins)
{
	auto m = mounts_of("mountinfo-stacked");
	expect_mount(m.unified, "/sys/fs/cgroup", "/", false);
	expect_mount(m.v1.at("freezer"), "/sys/fs/cgroup/freezer", "/", false);
	EXPECT_EQ(cgroup_fs_path(m.unified, "/phasebox"), "/sys/fs/cgroup/phasebox");
}

TEST(FindCgroupMounts, NoCgroupMountsIsNotAnError)
{
	auto m = mounts_of("mountinfo-none");
	EXPECT_TRUE(m.unified.empty());
	EXPECT_TRUE(m.v1.empty());
}

TEST(FindCgroupMounts, MissingFileIsAnError)
{
	auto r = find_cgroup_mounts("tests/unit/fixtures/no-such-mountinfo");
	ASSERT_FALSE(r.ok());
	EXPECT_EQ(r.error().err, ENOENT);
	EXPECT_NE(r.error().what.find("'tests/unit/fixtures/no-such-mountinfo'"), std::string::npos);
}

// The escaped mount point ("\040" for a space) comes back unescaped.
TEST(FindCgroupMounts, EscapedTarget)
{
	phasebox::test::TempDir tmp;
	std::string p = tmp / "mountinfo";
	FILE* f = std::fopen(p.c_str(), "w");
	ASSERT_NE(f, nullptr);
	std::fputs("22 1 259:2 / / rw,relatime - ext4 /dev/sda1 rw\n"
		   "40 22 0:26 / /mnt/my\\040cgroup ro,relatime - cgroup2 cgroup2 rw\n",
		   f);
	std::fclose(f);
	auto r = find_cgroup_mounts(p);
	ASSERT_TRUE(r.ok());
	expect_mount(r.value().unified, "/mnt/my cgroup", "/", true);
}

// A mount point that is not absolute is skipped (found by tests/fuzz/mountinfo); the
// absolute one of the same table is still found.
TEST(FindCgroupMounts, RelativeTargetIsSkipped)
{
	phasebox::test::TempDir tmp;
	std::string p = tmp / "mountinfo";
	FILE* f = std::fopen(p.c_str(), "w");
	ASSERT_NE(f, nullptr);
	std::fputs("22 1 259:2 / / rw,relatime - ext4 /dev/sda1 rw\n"
		   "40 22 0:26 / sys/fs/cgroup rw,relatime - cgroup2 cgroup2 rw\n"
		   "41 22 0:27 / fz rw,relatime - cgroup cgroup rw,freezer\n"
		   "42 22 0:28 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n",
		   f);
	std::fclose(f);
	auto r = find_cgroup_mounts(p);
	ASSERT_TRUE(r.ok());
	EXPECT_TRUE(r.value().unified.empty());
	EXPECT_EQ(r.value().v1.count("freezer"), 0u);
	ASSERT_EQ(r.value().v1.count("pids"), 1u);
	EXPECT_EQ(r.value().v1.at("pids").target, "/sys/fs/cgroup/pids");
}

// The live table of this machine agrees with the kernel about what is mounted where.
TEST(FindCgroupMounts, LiveTableMatchesTheKernel)
{
	auto r = find_cgroup_mounts();
	ASSERT_TRUE(r.ok()) << r.error().what;
	const auto& m = r.value();
	if (m.unified.empty() && m.v1.empty())
		GTEST_SKIP() << "no cgroup file system mounted here";
	if (!m.unified.empty()) {
		struct statfs s{};
		ASSERT_EQ(::statfs(m.unified.target.c_str(), &s), 0) << m.unified.target;
		EXPECT_EQ(static_cast<unsigned long>(s.f_type), CGROUP2_SUPER_MAGIC);
	}
	for (const auto& [ctl, mnt] : m.v1) {
		struct statfs s{};
		ASSERT_EQ(::statfs(mnt.target.c_str(), &s), 0) << mnt.target;
		EXPECT_EQ(static_cast<unsigned long>(s.f_type), CGROUP_SUPER_MAGIC) << ctl;
	}
}

// --- cgroup_fs_path ------------------------------------------------------------------

TEST(CgroupFsPath, WholeHierarchyMount)
{
	CgroupMount m{"/sys/fs/cgroup", "/", false};
	EXPECT_EQ(cgroup_fs_path(m, "/"), "/sys/fs/cgroup");
	EXPECT_EQ(cgroup_fs_path(m, "/phasebox/inv-1/main"), "/sys/fs/cgroup/phasebox/inv-1/main");
	EXPECT_EQ(cgroup_fs_path(m, "/a:b c"), "/sys/fs/cgroup/a:b c");
}

TEST(CgroupFsPath, SubtreeMount)
{
	CgroupMount m{"/sys/fs/cgroup", "/docker/abc", true};
	EXPECT_EQ(cgroup_fs_path(m, "/docker/abc"), "/sys/fs/cgroup");
	EXPECT_EQ(cgroup_fs_path(m, "/docker/abc/phasebox"), "/sys/fs/cgroup/phasebox");
	EXPECT_EQ(cgroup_fs_path(m, "/docker/abc/x/y"), "/sys/fs/cgroup/x/y");
}

TEST(CgroupFsPath, OutsideTheMountRoot)
{
	CgroupMount m{"/sys/fs/cgroup", "/docker/abc", true};
	EXPECT_EQ(cgroup_fs_path(m, "/"), "");
	EXPECT_EQ(cgroup_fs_path(m, "/docker"), "");
	EXPECT_EQ(cgroup_fs_path(m, "/docker/ab"), "");
	EXPECT_EQ(cgroup_fs_path(m, "/user.slice"), "");
	EXPECT_EQ(cgroup_fs_path(m, "/phasebox/leaves"), "");
	// The prefix trick: a sibling whose name starts like the root is not below it.
	EXPECT_EQ(cgroup_fs_path(m, "/docker/abcdef"), "");
	EXPECT_EQ(cgroup_fs_path(m, "/docker/abcdef/x"), "");
	EXPECT_EQ(cgroup_fs_path(m, "/docker/abc-x"), "");
}

TEST(CgroupFsPath, RejectsNonHierarchyPaths)
{
	CgroupMount whole{"/sys/fs/cgroup", "/", false};
	CgroupMount sub{"/sys/fs/cgroup", "/docker/abc", false};
	for (const CgroupMount* m : {&whole, &sub}) {
		EXPECT_EQ(cgroup_fs_path(*m, ""), "");
		EXPECT_EQ(cgroup_fs_path(*m, "docker/abc"), "");
		EXPECT_EQ(cgroup_fs_path(*m, "phasebox"), "");
	}
	CgroupMount none{};
	EXPECT_EQ(cgroup_fs_path(none, "/"), "");
	EXPECT_EQ(cgroup_fs_path(none, "/x"), "");
}

} // namespace
