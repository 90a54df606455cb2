// procinfo.hh: process descriptions for the orphan report, and the live children of a
// process.  The children tests fork real processes and synchronise through pipes and
// waitid(WNOWAIT), never by sleeping.
#include "common/procinfo.hh"

#include "common/file.hh"

#include <gtest/gtest.h>
#include <thread>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <string>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

using phasebox::children_by_scan;
using phasebox::children_of;
using phasebox::describe_process;
using phasebox::orphan_report;
using phasebox::printable_cmdline;
using phasebox::ProcessInfo;

namespace {

bool contains(const std::vector<pid_t>& v, pid_t p) { return std::find(v.begin(), v.end(), p) != v.end(); }

// A pid no process can have: pids are below /proc/sys/kernel/pid_max.
pid_t impossible_pid()
{
	auto t = phasebox::read_file("/proc/sys/kernel/pid_max");
	EXPECT_TRUE(t.ok());
	return t.ok() ? static_cast<pid_t>(std::stol(t.value())) : 4194304;
}

// A forked child that blocks reading a pipe until released; `setup` runs in the child
// first (before it tells the parent it is ready).
class BlockedChild {
      public:
	template <class F> explicit BlockedChild(F setup)
	{
		int ready[2], hold[2];
		if (::pipe2(ready, O_CLOEXEC) != 0 || ::pipe2(hold, O_CLOEXEC) != 0)
			ADD_FAILURE() << "pipe2";
		pid_ = ::fork();
		if (pid_ == 0) {
			::close(ready[0]);
			::close(hold[1]);
			setup();
			char c = 'r';
			if (::write(ready[1], &c, 1) != 1)
				::_exit(2);
			while (::read(hold[0], &c, 1) < 0 && errno == EINTR) {
			}
			::_exit(0);
		}
		::close(ready[1]);
		::close(hold[0]);
		hold_ = hold[1];
		char c = 0;
		ssize_t n;
		do
			n = ::read(ready[0], &c, 1);
		while (n < 0 && errno == EINTR);
		EXPECT_EQ(n, 1) << "child did not get ready";
		::close(ready[0]);
	}
	BlockedChild(const BlockedChild&) = delete;
	BlockedChild& operator=(const BlockedChild&) = delete;
	~BlockedChild() { release_and_reap(); }
	pid_t pid() const { return pid_; }
	// Let the child exit and reap it; its exit status.
	int release_and_reap()
	{
		if (pid_ <= 0)
			return -1;
		::close(hold_);
		int ws = 0;
		EXPECT_EQ(::waitpid(pid_, &ws, 0), pid_);
		pid_ = -1;
		return ws;
	}

      private:
	pid_t pid_ = -1;
	int hold_ = -1;
};

// --- printable_cmdline ---------------------------------------------------------------

TEST(PrintableCmdline, NulsBecomeSpacesTrailingDropped)
{
	EXPECT_EQ(printable_cmdline(std::string("sleep\0" "3600\0", 11)), "sleep 3600");
	EXPECT_EQ(printable_cmdline(std::string("a\0\0b\0", 5)), "a  b");
	EXPECT_EQ(printable_cmdline(std::string("a\0\0\0", 4)), "a");
	EXPECT_EQ(printable_cmdline(std::string("\0\0", 2)), "");
	EXPECT_EQ(printable_cmdline(std::string("\0a", 2)), " a");
	EXPECT_EQ(printable_cmdline(""), "");
	// A process that rewrote its argv may have no NUL at all.
	EXPECT_EQ(printable_cmdline("nginx: worker process"), "nginx: worker process");
}

TEST(PrintableCmdline, UnprintableBytesEscaped)
{
	EXPECT_EQ(printable_cmdline("a\nb"), "a\\x0ab");
	EXPECT_EQ(printable_cmdline("\t\r"), "\\x09\\x0d");
	EXPECT_EQ(printable_cmdline("\x1b[31mred"), "\\x1b[31mred"); // no terminal escapes
	EXPECT_EQ(printable_cmdline("\x7f"), "\\x7f");
	EXPECT_EQ(printable_cmdline("caf\xc3\xa9"), "caf\\xc3\\xa9");
	EXPECT_EQ(printable_cmdline("\xff"), "\\xff");
	EXPECT_EQ(printable_cmdline("\x01"), "\\x01");
	EXPECT_EQ(printable_cmdline(" ~"), " ~"); // the printable range's ends stay
}

TEST(PrintableCmdline, EveryByteGivesPrintableAscii)
{
	for (int c = 0; c < 256; ++c) {
		std::string out = printable_cmdline(std::string(1, static_cast<char>(c)) + "x");
		for (unsigned char o : out)
			EXPECT_TRUE(o >= 0x20 && o < 0x7f) << "byte " << c << " gave " << int(o);
	}
}

TEST(PrintableCmdline, Truncation)
{
	EXPECT_EQ(printable_cmdline(std::string(200, 'a')), std::string(200, 'a'));
	EXPECT_EQ(printable_cmdline(std::string(201, 'a')), std::string(200, 'a') + "...");
	EXPECT_EQ(printable_cmdline(std::string(5000, 'a')), std::string(200, 'a') + "...");
	EXPECT_EQ(printable_cmdline("abcdef", 3), "abc...");
	EXPECT_EQ(printable_cmdline("abc", 3), "abc");
	// Trailing NULs are not counted against the limit.
	EXPECT_EQ(printable_cmdline(std::string("abc\0\0\0\0", 7), 3), "abc");
}

// An escape is never cut in half; the result may pass `max` by at most one escape.
TEST(PrintableCmdline, TruncationKeepsEscapesWhole)
{
	std::string raw = std::string(199, 'a') + "\x01" + "bbb";
	std::string out = printable_cmdline(raw);
	EXPECT_EQ(out, std::string(199, 'a') + "\\x01...");
	std::string bin(1000, '\x01');
	out = printable_cmdline(bin, 10);
	EXPECT_EQ(out, "\\x01\\x01\\x01...");
	EXPECT_LE(printable_cmdline(std::string(1000, '\xff')).size(), 200u + 3 + 3);
}

// --- orphan_report -------------------------------------------------------------------

TEST(OrphanReport, NoneIsNoLines) { EXPECT_TRUE(orphan_report("src_compile of a/b-1", {}).empty()); }

TEST(OrphanReport, Singular)
{
	auto lines = orphan_report("src_compile of cat/pf-1", {{1234, "sleep", "sleep 3600"}});
	ASSERT_EQ(lines.size(), 2u);
	EXPECT_EQ(lines[0], " * QA Notice: phasebox: src_compile of cat/pf-1 left 1 process running; killed:");
	EXPECT_EQ(lines[1], " *   pid 1234 (sleep): sleep 3600");
}

TEST(OrphanReport, Plural)
{
	auto lines = orphan_report("src_test of dev-db/x-2", {{10, "a", "a -x"}, {11, "b", ""}, {12, "", ""}});
	ASSERT_EQ(lines.size(), 4u);
	EXPECT_EQ(lines[0], " * QA Notice: phasebox: src_test of dev-db/x-2 left 3 processes running; killed:");
	EXPECT_EQ(lines[1], " *   pid 10 (a): a -x");
	EXPECT_EQ(lines[2], " *   pid 11 (b): ");
	EXPECT_EQ(lines[3], " *   pid 12 (): ");
	for (const auto& l : lines) {
		EXPECT_EQ(l.rfind(" * ", 0), 0u) << l;
		EXPECT_EQ(l.find('\n'), std::string::npos) << l;
	}
}

// --- describe_process ----------------------------------------------------------------

TEST(DescribeProcess, Self)
{
	ProcessInfo me = describe_process(::getpid());
	EXPECT_EQ(me.pid, ::getpid());
	// comm is the executable's base name, cut to 15 bytes (TASK_COMM_LEN - 1).
	EXPECT_EQ(me.comm, std::string(program_invocation_short_name).substr(0, 15));
	EXPECT_EQ(me.comm.find('\n'), std::string::npos);
	// The command line starts with argv[0].
	EXPECT_EQ(me.cmdline.rfind(program_invocation_name, 0), 0u) << me.cmdline;
}

TEST(DescribeProcess, GoneProcessHasEmptyFields)
{
	pid_t none = impossible_pid();
	ProcessInfo p = describe_process(none);
	EXPECT_EQ(p.pid, none);
	EXPECT_EQ(p.comm, "");
	EXPECT_EQ(p.cmdline, "");
	p = describe_process(-1);
	EXPECT_EQ(p.comm, "");
	EXPECT_EQ(p.cmdline, "");
}

// A process that names itself with control bytes cannot put them into the report.
TEST(DescribeProcess, HostileCommIsEscaped)
{
	BlockedChild child([] { ::prctl(PR_SET_NAME, "ev\x1b[2Jil\n", 0, 0, 0); });
	ProcessInfo p = describe_process(child.pid());
	EXPECT_EQ(p.comm, "ev\\x1b[2Jil\\x0a");
	EXPECT_EQ(child.release_and_reap(), 0);
}

// --- children_of ---------------------------------------------------------------------

TEST(ChildrenOf, LiveChildListedThenGoneWhenReaped)
{
	pid_t pid;
	{
		BlockedChild child([] {});
		pid = child.pid();
		auto kids = children_of(::getpid());
		EXPECT_TRUE(contains(kids, pid));
		EXPECT_EQ(kids.size(), 1u); // this test binary has no other children
		// The child has none of its own, and is not its own parent.
		EXPECT_TRUE(children_of(pid).empty());
		EXPECT_EQ(child.release_and_reap(), 0);
	}
	EXPECT_FALSE(contains(children_of(::getpid()), pid));
}

TEST(ChildrenOf, ZombieIsNotListed)
{
	pid_t pid = ::fork();
	ASSERT_GE(pid, 0);
	if (pid == 0)
		::_exit(3);
	// Wait for the exit without reaping: the child stays a zombie.
	siginfo_t si{};
	ASSERT_EQ(::waitid(P_PID, static_cast<id_t>(pid), &si, WEXITED | WNOWAIT), 0);
	auto stat = phasebox::read_file("/proc/" + std::to_string(pid) + "/stat");
	ASSERT_TRUE(stat.ok());
	EXPECT_NE(stat.value().find(") Z "), std::string::npos) << stat.value();
	EXPECT_FALSE(contains(children_of(::getpid()), pid));
	int ws = 0;
	ASSERT_EQ(::waitpid(pid, &ws, 0), pid);
	EXPECT_EQ(WEXITSTATUS(ws), 3);
	EXPECT_FALSE(contains(children_of(::getpid()), pid));
}

// comm may hold ')' and spaces: the parent field is read after the last ')'.
TEST(ChildrenOf, CommWithParenthesesAndSpaces)
{
	BlockedChild child([] { ::prctl(PR_SET_NAME, "a) S 1 (b", 0, 0, 0); });
	EXPECT_TRUE(contains(children_of(::getpid()), child.pid()));
	EXPECT_FALSE(contains(children_of(1), child.pid()));
	EXPECT_EQ(child.release_and_reap(), 0);
}

// A child forked by another thread is in that thread's own children file.
TEST(ChildrenOf, ChildOfAnotherThreadIsListed)
{
	pid_t pid = -1;
	std::thread t([&pid] {
		pid = ::fork();
		if (pid == 0) {
			::pause();
			::_exit(0);
		}
	});
	t.join();
	ASSERT_GT(pid, 0);
	EXPECT_TRUE(contains(children_of(::getpid()), pid));
	EXPECT_TRUE(contains(children_by_scan(::getpid()), pid));
	::kill(pid, SIGKILL);
	ASSERT_EQ(::waitpid(pid, nullptr, 0), pid);
	EXPECT_FALSE(contains(children_of(::getpid()), pid));
}

// The fallback (no CONFIG_PROC_CHILDREN) sees what the children files show: live
// children, no zombie.
TEST(ChildrenOf, ScanAgreesWithChildrenFiles)
{
	BlockedChild a([] {}); // one at a time: a second would inherit a's pipe and block it
	pid_t z = ::fork();
	ASSERT_GE(z, 0);
	if (z == 0)
		::_exit(0);
	siginfo_t si{};
	ASSERT_EQ(::waitid(P_PID, static_cast<id_t>(z), &si, WEXITED | WNOWAIT), 0);
	auto files = children_of(::getpid()), scan = children_by_scan(::getpid());
	std::sort(files.begin(), files.end());
	std::sort(scan.begin(), scan.end());
	EXPECT_EQ(files, scan);
	EXPECT_TRUE(contains(scan, a.pid()));
	EXPECT_FALSE(contains(scan, z));
	ASSERT_EQ(::waitpid(z, nullptr, 0), z);
	EXPECT_EQ(a.release_and_reap(), 0);
}

TEST(ChildrenOf, NoSuchParent)
{
	EXPECT_TRUE(children_of(impossible_pid()).empty());
	EXPECT_TRUE(children_of(-1).empty());
}

} // namespace
