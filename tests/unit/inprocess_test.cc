// inprocess.hh and exec_next() in-process: the chain run inside a shell (the builtin).
// Nothing here forks or executes: what the links may follow, the go-back token, and
// exec(2)'s close-on-exec done by hand.
#include "common/inprocess.hh"
#include "common/isolate.hh"
#include "common/spawn.hh"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

namespace ip = phasebox::inprocess;

namespace {

int fake_main(int, char**) { return 0; }

struct InProcess : ::testing::Test {
	void SetUp() override
	{
		ip::enable({"/usr/libexec/phasebox", {{"phasebox-reap", fake_main}, {"phasebox-unshare", fake_main}}});
	}
	void TearDown() override { ip::restore_shell(); }
};

bool is_open(int fd) { return ::fcntl(fd, F_GETFD) >= 0; }

TEST_F(InProcess, FindsOnlyTheExactPathOfAHelperInItsDirectory)
{
	EXPECT_TRUE(ip::active());
	EXPECT_EQ(ip::find("/usr/libexec/phasebox/phasebox-reap"), &fake_main);
	EXPECT_EQ(ip::find("/usr/libexec/phasebox/phasebox-unshare"), &fake_main);
	for (const char* other : {"phasebox-reap", "/usr/libexec/phasebox/phasebox-cgroup",
				  "/usr/libexec/phasebox/../phasebox/phasebox-reap",
				  "/usr/libexec/phasebox//phasebox-reap", "/usr/libexec/phasebox/phasebox-reapx",
				  "/tmp/phasebox-reap", "/bin/true", ""})
		EXPECT_EQ(ip::find(other), nullptr) << other;
}

TEST_F(InProcess, SelfDirIsTheHelpersDirectoryWhileActive)
{
	EXPECT_EQ(phasebox::isolate::self_dir(), "/usr/libexec/phasebox");
	ip::restore_shell();
	EXPECT_FALSE(ip::active());
	EXPECT_NE(phasebox::isolate::self_dir(), "/usr/libexec/phasebox"); // the test binary's own
}

TEST_F(InProcess, CloseOnExecClosesOnlyTheLinksCloseOnExecDescriptors)
{
	ip::restore_shell();
	int shell_cloexec = ::open("/dev/null", O_RDONLY | O_CLOEXEC); // the shell's, like bash's fd 255
	ip::enable({"/usr/libexec/phasebox", {}});
	int ours_cloexec = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
	int ours_inherited = ::open("/dev/null", O_RDONLY); // passed on, as exec would
	ip::close_on_exec();
	EXPECT_TRUE(is_open(shell_cloexec));
	EXPECT_FALSE(is_open(ours_cloexec));
	EXPECT_TRUE(is_open(ours_inherited));
	::close(shell_cloexec);
	::close(ours_inherited);
}

TEST_F(InProcess, TheLastLinksProgramGoesBackToTheShell)
{
	phasebox::Environment env = phasebox::Environment::capture();
	phasebox::ChildSpec spec;
	spec.argv = {ip::continue_token()};
	spec.env = &env;
	EXPECT_THROW(phasebox::exec_next(spec), ip::Continue);
	EXPECT_FALSE(ip::active()); // the shell is back as it was
}

TEST_F(InProcess, AnythingButAHelperOrTheTokenIsRefusedNotExecuted)
{
	phasebox::Environment env = phasebox::Environment::capture();
	phasebox::ChildSpec spec;
	spec.env = &env;
	for (auto argv : std::vector<std::vector<std::string>>{
		     {"/bin/true"}, {"/usr/libexec/phasebox/phasebox-cgroup"}, {ip::continue_token(), "x"}}) {
		spec.argv = argv;
		phasebox::SpawnFailure f = phasebox::exec_next(spec);
		EXPECT_EQ(f.exit_code, 126) << argv[0];
		EXPECT_NE(f.error.what.find("from the shell builtin"), std::string::npos) << f.error.what;
	}
	// --exec FILE never goes in-process, even naming a helper
	spec.argv = {"/usr/libexec/phasebox/phasebox-reap"};
	spec.file = "/usr/libexec/phasebox/phasebox-reap";
	EXPECT_EQ(phasebox::exec_next(spec).exit_code, 126);
	EXPECT_TRUE(ip::active());
}

} // namespace
