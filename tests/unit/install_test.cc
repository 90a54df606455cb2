// install.hh: a program finds its own installation from its own path, and LIBEXECDIR as
// built only where that finds nothing.  Each tree is a scratch directory; the decoy stands
// for what another `make install` left at the built-in path.
#include "common/install.hh"

#include "unit_util.hh"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sys/stat.h>

namespace ins = phasebox::install;
using phasebox::test::TempDir;

namespace
{

// A file at `path` (its directories made) with `mode`.
void put(const std::string& path, mode_t mode)
{
	std::filesystem::create_directories(std::filesystem::path(path).parent_path());
	std::ofstream(path) << "#!/bin/sh\n";
	ASSERT_EQ(::chmod(path.c_str(), mode), 0) << path;
}

class Install : public ::testing::Test
{
      protected:
	TempDir t;
	std::string decoy;
	void SetUp() override
	{
		decoy = t / "decoy/libexec/phasebox";
		put(decoy + "/phasebox-cgroup", 0755);
	}
};

} // namespace

TEST_F(Install, AnInstallFindsItsOwnLibexecBesideBindirNotTheBuiltIn)
{
	put(t / "a/bin/phasebox", 0755);
	put(t / "a/libexec/phasebox/phasebox-cgroup", 0755);
	ins::Helpers h = ins::helpers_for(t / "a/bin/phasebox", decoy);
	EXPECT_EQ(h.dir, t / "a/libexec/phasebox"); // named without ".."
	EXPECT_FALSE(h.as_built);
}

TEST_F(Install, TheBuildTreeFindsTheHelpersBesideTheProgram)
{
	put(t / "build/phasebox", 0755);
	put(t / "build/phasebox-cgroup", 0755);
	ins::Helpers h = ins::helpers_for(t / "build/phasebox", decoy);
	EXPECT_EQ(h.dir, t / "build");
	EXPECT_FALSE(h.as_built);
}

TEST_F(Install, BesideBindirWinsOverTheProgramsOwnDirectory)
{
	put(t / "a/bin/phasebox", 0755);
	put(t / "a/bin/phasebox-cgroup", 0755);
	put(t / "a/libexec/phasebox/phasebox-cgroup", 0755);
	EXPECT_EQ(ins::helpers_for(t / "a/bin/phasebox", decoy).dir, t / "a/libexec/phasebox");
}

// The negative twins: with nothing of its own, the program falls back to the built-in path.
TEST_F(Install, NothingNextToTheProgramFallsBackToLibexecdirAsBuilt)
{
	put(t / "lone/bin/phasebox", 0755);
	ins::Helpers h = ins::helpers_for(t / "lone/bin/phasebox", decoy);
	EXPECT_EQ(h.dir, decoy);
	EXPECT_TRUE(h.as_built);
}

TEST_F(Install, APhaseboxCgroupThatIsNotAnExecutableFileDoesNotCount)
{
	put(t / "a/bin/phasebox", 0755);
	put(t / "a/libexec/phasebox/phasebox-cgroup", 0644);
	std::filesystem::create_directories(t / "a/bin/phasebox-cgroup");
	ins::Helpers h = ins::helpers_for(t / "a/bin/phasebox", decoy);
	EXPECT_EQ(h.dir, decoy);
	EXPECT_TRUE(h.as_built);
}

TEST_F(Install, NoOwnPathFallsBackToLibexecdirAsBuilt)
{
	for (const char* exe : {"", "phasebox", "bin/phasebox"}) {
		ins::Helpers h = ins::helpers_for(exe, decoy);
		EXPECT_EQ(h.dir, decoy) << exe;
		EXPECT_TRUE(h.as_built) << exe;
	}
}

TEST(InstallSelf, TheProgramsOwnPathIsAbsolute)
{
	const std::string exe = ins::self_exe();
	ASSERT_FALSE(exe.empty());
	EXPECT_EQ(exe[0], '/');
	EXPECT_EQ(exe.substr(exe.rfind('/') + 1), "unit-tests");
	EXPECT_STREQ(ins::built_libexecdir(), PHASEBOX_LIBEXECDIR);
}
