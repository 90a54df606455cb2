// cgroupfs.hh on ordinary directories: path walking that never follows a symlink or "..",
// pid lists, cgroup.events, tree removal.  The file-system check of open_root is tested
// against the real mounts here when there are any.  Killing and entering need a real
// delegated cgroup: the bats tests (tests/bats/cgroup.bats) cover those.
#include "common/cgroupfs.hh"

#include "common/mounts.hh"
#include "unit_util.hh"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

namespace cg = phasebox::cgroupfs;
using phasebox::UniqueFd;
using phasebox::test::TempDir;

namespace {

void put(const std::string& path, const std::string& data)
{
	std::ofstream f(path, std::ios::binary);
	f << data;
	ASSERT_TRUE(f.good()) << path;
}

UniqueFd open_dir_fd(const std::string& path)
{
	UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	EXPECT_TRUE(fd.valid()) << path;
	return fd;
}

bool is_dir(const std::string& path)
{
	struct stat st{};
	return ::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// Whether two fds name the same directory.
bool same_inode(int fd, const std::string& path)
{
	struct stat a{}, b{};
	return ::fstat(fd, &a) == 0 && ::stat(path.c_str(), &b) == 0 && a.st_dev == b.st_dev &&
	       a.st_ino == b.st_ino;
}

// --- is_plain_name -------------------------------------------------------------------

TEST(IsPlainName, Accepts)
{
	for (const char* n : {"a", "main", "builds", "inv-1", "x.pb1-2", "...", ".hidden", "a b", "a:b",
			      "caf\xc3\xa9"})
		EXPECT_TRUE(cg::is_plain_name(n)) << n;
}

TEST(IsPlainName, Rejects)
{
	for (const char* n : {"", ".", "..", "a/b", "/", "/a", "a/", "a\nb", "\n"})
		EXPECT_FALSE(cg::is_plain_name(n)) << n;
	EXPECT_FALSE(cg::is_plain_name(std::string("a\0b", 3)));
}

// --- open_dir ------------------------------------------------------------------------

TEST(OpenDir, WalksExistingComponents)
{
	TempDir d;
	ASSERT_EQ(::mkdir((d / "a").c_str(), 0755), 0);
	ASSERT_EQ(::mkdir((d / "a/b").c_str(), 0755), 0);
	UniqueFd root = open_dir_fd(d.path());
	auto r = cg::open_dir(root.get(), "a/b");
	ASSERT_TRUE(r.ok()) << r.error().what;
	EXPECT_TRUE(same_inode(r.value().get(), d / "a/b"));
	// Leading, doubled and trailing slashes are just separators, relative to the dirfd.
	for (const char* rel : {"/a/b", "a//b/", "//a/b//"}) {
		auto s = cg::open_dir(root.get(), rel);
		ASSERT_TRUE(s.ok()) << rel;
		EXPECT_TRUE(same_inode(s.value().get(), d / "a/b")) << rel;
	}
	// "" is the dirfd's own directory, a new fd for it.
	auto self = cg::open_dir(root.get(), "");
	ASSERT_TRUE(self.ok());
	EXPECT_NE(self.value().get(), root.get());
	EXPECT_TRUE(same_inode(self.value().get(), d.path()));
	int flags = ::fcntl(self.value().get(), F_GETFD);
	EXPECT_TRUE(flags & FD_CLOEXEC);
}

TEST(OpenDir, MissingWithoutCreate)
{
	TempDir d;
	UniqueFd root = open_dir_fd(d.path());
	auto r = cg::open_dir(root.get(), "a/b");
	ASSERT_FALSE(r.ok());
	EXPECT_EQ(r.error().err, ENOENT);
	EXPECT_EQ(r.error().what, "open '/a'");
	EXPECT_FALSE(is_dir(d / "a"));
}

TEST(OpenDir, CreateMakesMissingComponents)
{
	TempDir d;
	ASSERT_EQ(::mkdir((d / "a").c_str(), 0755), 0);
	UniqueFd root = open_dir_fd(d.path());
	auto r = cg::open_dir(root.get(), "a/b/c", true, 0700);
	ASSERT_TRUE(r.ok()) << r.error().what;
	EXPECT_TRUE(same_inode(r.value().get(), d / "a/b/c"));
	struct stat st{};
	ASSERT_EQ(::stat((d / "a/b/c").c_str(), &st), 0);
	EXPECT_EQ(st.st_mode & 0777, 0700u & ~static_cast<unsigned>(::umask(::umask(0))));
	// Again: existing components are fine.
	EXPECT_TRUE(cg::open_dir(root.get(), "a/b/c", true).ok());
}

TEST(OpenDir, RefusesDotDot)
{
	TempDir d;
	ASSERT_EQ(::mkdir((d / "a").c_str(), 0755), 0);
	UniqueFd root = open_dir_fd(d / "a");
	for (const char* rel : {"..", "../a", "x/../..", "./x", ".", "x/./y"}) {
		auto r = cg::open_dir(root.get(), rel, true);
		ASSERT_FALSE(r.ok()) << rel;
		EXPECT_EQ(r.error().err, EINVAL) << rel;
	}
	EXPECT_FALSE(is_dir(d / "x")); // nothing made outside the dirfd's tree
	EXPECT_FALSE(is_dir(d / "a/y"));
}

TEST(OpenDir, RefusesNewlineInAComponent)
{
	TempDir d;
	UniqueFd root = open_dir_fd(d.path());
	auto r = cg::open_dir(root.get(), "a\nb", true);
	ASSERT_FALSE(r.ok());
	EXPECT_EQ(r.error().err, EINVAL);
	EXPECT_FALSE(is_dir(d / "a\nb"));
}

// A symlink anywhere in the path stops the walk, with or without `create`, and nothing is
// made at the far end of the link.
TEST(OpenDir, RefusesSymlinkComponents)
{
	TempDir d;
	ASSERT_EQ(::mkdir((d / "real").c_str(), 0755), 0);
	ASSERT_EQ(::mkdir((d / "real/sub").c_str(), 0755), 0);
	ASSERT_EQ(::mkdir((d / "outside").c_str(), 0755), 0);
	ASSERT_EQ(::symlink((d / "outside").c_str(), (d / "real/link").c_str()), 0);
	ASSERT_EQ(::symlink((d / "real").c_str(), (d / "toplink").c_str()), 0);
	ASSERT_EQ(::symlink((d / "outside/made-through-link").c_str(), (d / "real/dangling").c_str()), 0);
	UniqueFd root = open_dir_fd(d.path());
	for (const char* rel : {"real/link", "real/link/x", "toplink", "toplink/sub", "real/dangling"})
		for (bool create : {false, true}) {
			auto r = cg::open_dir(root.get(), rel, create);
			ASSERT_FALSE(r.ok()) << rel << " create=" << create;
			EXPECT_TRUE(r.error().err == ELOOP || r.error().err == ENOTDIR)
			    << rel << ": " << r.error().err;
		}
	EXPECT_FALSE(is_dir(d / "outside/x"));
	EXPECT_FALSE(is_dir(d / "outside/made-through-link"));
	// The twin: the real path works.
	EXPECT_TRUE(cg::open_dir(root.get(), "real/sub").ok());
}

TEST(OpenDir, RefusesAFileComponent)
{
	TempDir d;
	put(d / "f", "");
	UniqueFd root = open_dir_fd(d.path());
	auto r = cg::open_dir(root.get(), "f/x", true);
	ASSERT_FALSE(r.ok());
	EXPECT_EQ(r.error().err, ENOTDIR);
}

// --- open_root -----------------------------------------------------------------------

TEST(OpenRoot, RefusesOtherFileSystems)
{
	for (auto kind : {cg::Kind::v2, cg::Kind::v1}) {
		auto r = cg::open_root("/tmp", kind);
		ASSERT_FALSE(r.ok());
		EXPECT_EQ(r.error().err, EXDEV);
		EXPECT_NE(r.error().what.find("'/tmp'"), std::string::npos) << r.error().what;
	}
	auto proc = cg::open_root("/proc", cg::Kind::v2);
	ASSERT_FALSE(proc.ok());
	EXPECT_EQ(proc.error().err, EXDEV);
	auto missing = cg::open_root("/nonexistent-phasebox", cg::Kind::v2);
	ASSERT_FALSE(missing.ok());
	EXPECT_EQ(missing.error().err, ENOENT);
	auto file = cg::open_root("/etc/passwd", cg::Kind::v2);
	ASSERT_FALSE(file.ok());
	EXPECT_EQ(file.error().err, ENOTDIR);
}

TEST(OpenRoot, AcceptsTheRightKindOnly)
{
	auto m = phasebox::find_cgroup_mounts();
	ASSERT_TRUE(m.ok());
	bool tested = false;
	if (!m.value().unified.empty()) {
		const auto& t = m.value().unified.target;
		EXPECT_TRUE(cg::open_root(t, cg::Kind::v2).ok()) << t;
		auto wrong = cg::open_root(t, cg::Kind::v1);
		ASSERT_FALSE(wrong.ok());
		EXPECT_EQ(wrong.error().err, EXDEV);
		tested = true;
	}
	if (m.value().v1.count("freezer")) {
		const auto& t = m.value().v1.at("freezer").target;
		EXPECT_TRUE(cg::open_root(t, cg::Kind::v1).ok()) << t;
		auto wrong = cg::open_root(t, cg::Kind::v2);
		ASSERT_FALSE(wrong.ok());
		EXPECT_EQ(wrong.error().err, EXDEV);
		tested = true;
	}
	if (!tested)
		GTEST_SKIP() << "no cgroup2 and no v1 freezer mounted here";
}

// --- list_pids -----------------------------------------------------------------------

TEST(ListPids, OneFile)
{
	TempDir d;
	put(d / "cgroup.procs", "30\n10\n20\n");
	UniqueFd root = open_dir_fd(d.path());
	auto r = cg::list_pids(root.get(), "cgroup.procs", false);
	ASSERT_TRUE(r.ok());
	EXPECT_EQ(r.value(), (std::vector<pid_t>{30, 10, 20}));
}

TEST(ListPids, SkipsJunk)
{
	TempDir d;
	put(d / "tasks", "\n0\n-5\nabc\n7\n\n8");
	UniqueFd root = open_dir_fd(d.path());
	auto r = cg::list_pids(root.get(), "tasks", false);
	ASSERT_TRUE(r.ok());
	EXPECT_EQ(r.value(), (std::vector<pid_t>{7, 8}));
}

TEST(ListPids, RecursiveSortedUniqueAndNoSymlinks)
{
	TempDir d;
	put(d / "cgroup.procs", "5\n3\n");
	ASSERT_EQ(::mkdir((d / "a").c_str(), 0755), 0);
	put(d / "a/cgroup.procs", "4\n3\n");
	ASSERT_EQ(::mkdir((d / "a/b").c_str(), 0755), 0);
	put(d / "a/b/cgroup.procs", "1\n");
	ASSERT_EQ(::mkdir((d / "empty").c_str(), 0755), 0);
	put(d / "empty/cgroup.procs", "");
	ASSERT_EQ(::mkdir((d / "outside").c_str(), 0755), 0);
	put(d / "outside/cgroup.procs", "999\n");
	ASSERT_EQ(::symlink((d / "outside").c_str(), (d / "a/link").c_str()), 0);
	UniqueFd a = open_dir_fd(d / "a");
	auto below_a = cg::list_pids(a.get(), "cgroup.procs", true);
	ASSERT_TRUE(below_a.ok());
	EXPECT_EQ(below_a.value(), (std::vector<pid_t>{1, 3, 4}));
	put(d / "outside/cgroup.procs", "");
	UniqueFd root = open_dir_fd(d.path());
	auto all = cg::list_pids(root.get(), "cgroup.procs", true);
	ASSERT_TRUE(all.ok());
	EXPECT_EQ(all.value(), (std::vector<pid_t>{1, 3, 4, 5}));
}

TEST(ListPids, MissingFileIsAnError)
{
	TempDir d;
	UniqueFd root = open_dir_fd(d.path());
	auto r = cg::list_pids(root.get(), "cgroup.procs", true);
	ASSERT_FALSE(r.ok());
	EXPECT_EQ(r.error().err, ENOENT);
	ASSERT_EQ(::symlink("/proc/self/status", (d / "cgroup.procs").c_str()), 0);
	auto link = cg::list_pids(root.get(), "cgroup.procs", false);
	ASSERT_FALSE(link.ok());
	EXPECT_EQ(link.error().err, ELOOP);
}

// --- populated -----------------------------------------------------------------------

TEST(Populated, ReadsCgroupEvents)
{
	TempDir d;
	UniqueFd root = open_dir_fd(d.path());
	put(d / "cgroup.events", "populated 1\nfrozen 0\n");
	auto yes = cg::populated(root.get());
	ASSERT_TRUE(yes.ok());
	EXPECT_TRUE(yes.value());
	put(d / "cgroup.events", "frozen 1\npopulated 0\n");
	auto no = cg::populated(root.get());
	ASSERT_TRUE(no.ok());
	EXPECT_FALSE(no.value());
}

TEST(Populated, Malformed)
{
	TempDir d;
	UniqueFd root = open_dir_fd(d.path());
	auto missing = cg::populated(root.get());
	ASSERT_FALSE(missing.ok());
	EXPECT_EQ(missing.error().err, ENOENT);
	put(d / "cgroup.events", "frozen 0\n");
	auto none = cg::populated(root.get());
	ASSERT_FALSE(none.ok());
	EXPECT_EQ(none.error().err, EINVAL);
	// Cut off right after the key: read as "not populated", without reading past the end.
	put(d / "cgroup.events", "populated ");
	auto cut = cg::populated(root.get());
	ASSERT_TRUE(cut.ok());
	EXPECT_FALSE(cut.value());
}

TEST(WaitUnpopulated, ReturnsAtOnceWhenEmpty)
{
	TempDir d;
	UniqueFd root = open_dir_fd(d.path());
	put(d / "cgroup.events", "populated 0\nfrozen 0\n");
	EXPECT_TRUE(cg::wait_unpopulated(root.get(), std::chrono::milliseconds(0)).ok());
}

// A regular file never signals POLLPRI: the timeout is what ends the wait.
TEST(WaitUnpopulated, TimesOut)
{
	TempDir d;
	UniqueFd root = open_dir_fd(d.path());
	put(d / "cgroup.events", "populated 1\n");
	auto s = cg::wait_unpopulated(root.get(), std::chrono::milliseconds(1));
	ASSERT_FALSE(s.ok());
	EXPECT_EQ(s.error().err, ETIMEDOUT);
	auto missing = cg::wait_unpopulated(open_dir_fd(d / "..").get(), std::chrono::milliseconds(1));
	EXPECT_FALSE(missing.ok());
}

// --- remove_tree ---------------------------------------------------------------------

TEST(RemoveTree, DepthFirst)
{
	TempDir d;
	for (const char* p : {"leaf", "leaf/a", "leaf/a/b", "leaf/c"})
		ASSERT_EQ(::mkdir((d / p).c_str(), 0755), 0);
	UniqueFd root = open_dir_fd(d.path());
	auto s = cg::remove_tree(root.get(), "leaf");
	ASSERT_TRUE(s.ok()) << s.error().what;
	EXPECT_FALSE(is_dir(d / "leaf"));
	// Already gone is fine.
	EXPECT_TRUE(cg::remove_tree(root.get(), "leaf").ok());
}

TEST(RemoveTree, RefusesBadNames)
{
	TempDir d;
	ASSERT_EQ(::mkdir((d / "keep").c_str(), 0755), 0);
	UniqueFd root = open_dir_fd(d / "keep");
	for (const char* n : {"", ".", "..", "a/b", "../keep"}) {
		auto s = cg::remove_tree(root.get(), n);
		ASSERT_FALSE(s.ok()) << n;
		EXPECT_EQ(s.error().err, EINVAL) << n;
	}
	EXPECT_TRUE(is_dir(d / "keep"));
}

// A symlink in the tree is neither followed nor removed through: what it points at stays.
TEST(RemoveTree, NeverFollowsSymlinks)
{
	TempDir d;
	ASSERT_EQ(::mkdir((d / "outside").c_str(), 0755), 0);
	ASSERT_EQ(::mkdir((d / "outside/precious").c_str(), 0755), 0);
	ASSERT_EQ(::mkdir((d / "leaf").c_str(), 0755), 0);
	ASSERT_EQ(::symlink((d / "outside").c_str(), (d / "leaf/link").c_str()), 0);
	ASSERT_EQ(::symlink((d / "outside").c_str(), (d / "toplink").c_str()), 0);
	UniqueFd root = open_dir_fd(d.path());
	EXPECT_FALSE(cg::remove_tree(root.get(), "leaf").ok()); // not empty: the link stays
	auto top = cg::remove_tree(root.get(), "toplink");
	ASSERT_FALSE(top.ok());
	EXPECT_TRUE(top.error().err == ELOOP || top.error().err == ENOTDIR) << top.error().err;
	EXPECT_TRUE(is_dir(d / "outside/precious"));
}

} // namespace
