// elog.hh: the lines Portage's __elog_base writes (class prefix on every line of a
// message, escaping), the path rule, and the refusals of append() (symbolic links, FIFOs,
// hard links, world-writable directories, other users' files), each with its twin.
#include "common/elog.hh"

#include "unit_util.hh"

#include <fcntl.h>
#include <fstream>
#include <gtest/gtest.h>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

using namespace phasebox;
using phasebox::test::TempDir;

namespace
{

std::string slurp(const std::string& p)
{
	std::ifstream f(p);
	std::stringstream s;
	s << f.rdbuf();
	return s.str();
}

// The way collect_ebuild_messages() (lib/portage/elog/messages.py) reads the file: split
// at '\n' only, empty lines skipped, each line "<CLASS> <message>" with a known class.
bool portage_reads_every_line(const std::string& text, std::vector<std::string>& messages)
{
	size_t pos = 0;
	while (pos < text.size()) {
		size_t nl = text.find('\n', pos);
		if (nl == std::string::npos)
			nl = text.size();
		const std::string line = text.substr(pos, nl - pos);
		pos = nl + 1;
		if (line.empty())
			continue;
		const size_t sp = line.find(' ');
		if (sp == std::string::npos)
			return false;
		const std::string cls = line.substr(0, sp);
		if (cls != "ERROR" && cls != "INFO" && cls != "LOG" && cls != "QA" && cls != "WARN")
			return false;
		messages.push_back(line.substr(sp + 1));
	}
	return true;
}

// <dir>/t/logging, made the way Portage makes ${T}/logging (0755).
std::string logging_dir(const TempDir& d)
{
	const std::string t = d / "t";
	EXPECT_EQ(::mkdir(t.c_str(), 0755), 0);
	EXPECT_EQ(::mkdir((t + "/logging").c_str(), 0755), 0);
	EXPECT_EQ(::chmod((t + "/logging").c_str(), 0755), 0);
	return t + "/logging";
}

} // namespace

// --- format ----------------------------------------------------------------------------

TEST(Format, OneLineGetsTheClassAndASpace)
{
	EXPECT_EQ(elog::format(
	              elog::Class::qa,
	              "QA Notice: phasebox: src_compile of a/b-1 left 1 process running; killed:"),
	          "QA QA Notice: phasebox: src_compile of a/b-1 left 1 process running; killed:\n");
	EXPECT_EQ(elog::format(elog::Class::warn, "w"), "WARN w\n");
	EXPECT_EQ(elog::format(elog::Class::error, "e"), "ERROR e\n");
	EXPECT_EQ(elog::format(elog::Class::info, "i"), "INFO i\n");
	EXPECT_EQ(elog::format(elog::Class::log, "l"), "LOG l\n");
}

TEST(Format, EveryLineOfAMessageGetsTheClassAsEchoReadDoes)
{
	// __elog_base: echo -e "$*" | while read -r; do echo "${messagetype} ${REPLY}"; done
	EXPECT_EQ(elog::format(elog::Class::qa, "first\n  pid 1 (a): a\n  pid 2 (b): b"),
	          "QA first\nQA   pid 1 (a): a\nQA   pid 2 (b): b\n");
	// an empty line in the middle stays a line: "<CLASS> " (Portage keeps it: not empty)
	EXPECT_EQ(elog::format(elog::Class::warn, "a\n\nb"), "WARN a\nWARN \nWARN b\n");
	// a trailing newline is one more, empty, line (echo adds its own after it)
	EXPECT_EQ(elog::format(elog::Class::warn, "a\n"), "WARN a\nWARN \n");
	// leading and trailing blanks are kept (read -r into REPLY strips nothing)
	EXPECT_EQ(elog::format(elog::Class::error, "  x  "), "ERROR   x  \n");
}

TEST(Format, AnEmptyMessageWritesNothing)
{
	// __elog_base returns 1 for an empty message and writes nothing.
	EXPECT_EQ(elog::format(elog::Class::qa, ""), "");
	// twin: a message of one newline is two empty lines, as echo|read makes it
	EXPECT_EQ(elog::format(elog::Class::qa, "\n"), "QA \nQA \n");
}

TEST(Format, ControlBytesAreEscapedTabsAndTextKept)
{
	EXPECT_EQ(elog::format(elog::Class::error, std::string("a\rb\x1b[31mc\x7f\td\x01", 13)),
	          "ERROR a\\x0db\\x1b[31mc\\x7f\td\\x01\n");
	// a NUL is a control byte like the others
	EXPECT_EQ(elog::format(elog::Class::warn, std::string("a\0b", 3)), "WARN a\\x00b\n");
	// twin: backslashes stay (no echo -e), UTF-8 stays
	EXPECT_EQ(elog::format(elog::Class::qa, "a\\nb \xc3\xa9t\xc3\xa9"),
	          "QA a\\nb \xc3\xa9t\xc3\xa9\n");
}

TEST(Format, AHostileMessageCannotForgeAnotherClassOrAnUnreadableLine)
{
	const std::string hostile = "x\nERROR forged\r\nQA\n\n\r\r";
	const std::string out = elog::format(elog::Class::qa, hostile);
	std::vector<std::string> messages;
	ASSERT_TRUE(portage_reads_every_line(out, messages)) << out;
	ASSERT_EQ(messages.size(), 5u) << out;
	EXPECT_EQ(messages[1], "ERROR forged\\x0d");
	for (size_t pos = 0; pos < out.size(); pos = out.find('\n', pos) + 1)
		EXPECT_EQ(out.compare(pos, 3, "QA "), 0) << out.substr(pos);
}

// --- check_path ---------------------------------------------------------------------------

TEST(CheckPath, PortagesOwnPathsAreAccepted)
{
	for (const char* phase :
	     {"unpack", "prepare", "configure", "compile", "test", "install", "setup", "other"})
		EXPECT_TRUE(
		    elog::check_path(std::string("/var/tmp/portage/cat/pf-1/temp/logging/") + phase)
		        .ok())
		    << phase;
}

TEST(CheckPath, AnythingElseIsRefusedNamingThePath)
{
	for (const char* bad :
	     {"", "logging/compile", "var/tmp/logging/compile", "/var/tmp/x/compile",
	      "/var/tmp/logging/", "/var/tmp/logging", "/var/tmp/logging/src_compile",
	      "/var/tmp/logging/build.log", "/var/tmp/logging/.compile",
	      "/var//tmp/logging/compile", "/var/./tmp/logging/compile",
	      "/var/../tmp/logging/compile", "/var/tmp/logging/../logging/compile",
	      "/var/tmp/logging//compile", "/etc/shadow", "/compile"}) {
		Status s = elog::check_path(bad);
		EXPECT_FALSE(s.ok()) << bad;
		if (!s.ok()) {
			EXPECT_NE(s.error().what.find("'" + std::string(bad) + "'"),
			          std::string::npos)
			    << s.error().what;
		}
	}
	EXPECT_FALSE(elog::check_path("/t/logging/" + std::string(4096, 'x')).ok());
	EXPECT_FALSE(elog::check_path(std::string("/t/logging/compile\0x", 20)).ok());
}

// --- append ----------------------------------------------------------------------------------

TEST(Append, CreatesThenAppends)
{
	TempDir d;
	const std::string dir = logging_dir(d), f = dir + "/compile";
	ASSERT_TRUE(elog::append(f, elog::format(elog::Class::qa, "one")).ok());
	ASSERT_TRUE(elog::append(f, elog::format(elog::Class::warn, "two\nthree")).ok());
	EXPECT_EQ(slurp(f), "QA one\nWARN two\nWARN three\n");
	struct stat st {
	};
	ASSERT_EQ(::stat(f.c_str(), &st), 0);
	EXPECT_TRUE(S_ISREG(st.st_mode));
	EXPECT_EQ(st.st_uid, ::geteuid());
	EXPECT_EQ(st.st_mode & 0022, 0u);
}

TEST(Append, TheSameThroughADescriptorKeptOpen)
{
	TempDir d;
	const std::string f = logging_dir(d) + "/install";
	auto fd = elog::open(f);
	ASSERT_TRUE(fd.ok()) << fd.error().what;
	ASSERT_TRUE(elog::write(fd.value().get(), "QA a\n").ok());
	ASSERT_TRUE(elog::write(fd.value().get(), "QA b\n").ok());
	EXPECT_EQ(slurp(f), "QA a\nQA b\n");
	EXPECT_NE(::fcntl(fd.value().get(), F_GETFD) & FD_CLOEXEC, 0);
	EXPECT_NE(::fcntl(fd.value().get(), F_GETFL) & O_APPEND, 0);
}

TEST(Append, TheDirectoryIsNeverCreated)
{
	TempDir d;
	const std::string t = d / "t";
	ASSERT_EQ(::mkdir(t.c_str(), 0755), 0);
	Status s = elog::append(t + "/logging/compile", "QA x\n");
	ASSERT_FALSE(s.ok());
	EXPECT_EQ(s.error().err, ENOENT);
	struct stat st {
	};
	EXPECT_NE(::lstat((t + "/logging").c_str(), &st), 0);
	// twin: with the directory, the file is made
	ASSERT_EQ(::mkdir((t + "/logging").c_str(), 0755), 0);
	EXPECT_TRUE(elog::append(t + "/logging/compile", "QA x\n").ok());
}

TEST(Append, ASymbolicLinkAtTheFileIsRefusedNeverFollowed)
{
	TempDir d;
	const std::string dir = logging_dir(d), victim = d / "victim", dangling = d / "absent";
	{
		std::ofstream(victim) << "precious\n";
	}
	ASSERT_EQ(::symlink(victim.c_str(), (dir + "/compile").c_str()), 0);
	ASSERT_EQ(::symlink(dangling.c_str(), (dir + "/install").c_str()), 0);
	Status s = elog::append(dir + "/compile", "QA x\n");
	ASSERT_FALSE(s.ok());
	EXPECT_EQ(s.error().err, ELOOP);
	EXPECT_NE(s.error().what.find("is a symbolic link"), std::string::npos) << s.error().what;
	EXPECT_EQ(slurp(victim), "precious\n");
	// a dangling one: nothing is created where it points
	EXPECT_FALSE(elog::append(dir + "/install", "QA x\n").ok());
	struct stat st {
	};
	EXPECT_NE(::lstat(dangling.c_str(), &st), 0);
	// twin: the same file named directly takes the line
	EXPECT_TRUE(elog::append(dir + "/test", "QA x\n").ok());
	EXPECT_EQ(slurp(dir + "/test"), "QA x\n");
}

TEST(Append, ASymbolicLinkAnywhereInThePathIsRefused)
{
	TempDir d;
	const std::string real = d / "real";
	ASSERT_EQ(::mkdir(real.c_str(), 0755), 0);
	ASSERT_EQ(::mkdir((real + "/logging").c_str(), 0755), 0);
	// the logging directory itself a link, and a link higher up
	ASSERT_EQ(::mkdir((d / "t").c_str(), 0755), 0);
	ASSERT_EQ(::symlink((real + "/logging").c_str(), (d / "t/logging").c_str()), 0);
	ASSERT_EQ(::symlink(real.c_str(), (d / "up").c_str()), 0);
	for (const std::string& p : {d / "t/logging/compile", d / "up/logging/compile"}) {
		Status s = elog::append(p, "QA x\n");
		ASSERT_FALSE(s.ok()) << p;
		EXPECT_EQ(s.error().err, ELOOP) << s.error().what;
		EXPECT_NE(s.error().what.find("is a symbolic link"), std::string::npos)
		    << s.error().what;
	}
	struct stat st {
	};
	EXPECT_NE(::lstat((real + "/logging/compile").c_str(), &st), 0);
	// twin: the real path is written
	EXPECT_TRUE(elog::append(real + "/logging/compile", "QA x\n").ok());
}

TEST(Append, AFifoIsRefusedWithoutBlocking)
{
	TempDir d;
	const std::string dir = logging_dir(d);
	ASSERT_EQ(::mkfifo((dir + "/compile").c_str(), 0644), 0);
	// nothing reads it: the open fails at once (ENXIO) instead of blocking
	EXPECT_FALSE(elog::append(dir + "/compile", "QA x\n").ok());
	// something reads it: opened, and refused as no regular file, nothing written
	const int rd = ::open((dir + "/compile").c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	ASSERT_GE(rd, 0);
	Status s = elog::append(dir + "/compile", "QA x\n");
	ASSERT_FALSE(s.ok());
	EXPECT_NE(s.error().what.find("is not a regular file"), std::string::npos)
	    << s.error().what;
	char c;
	EXPECT_LE(::read(rd, &c, 1), 0);
	::close(rd);
}

TEST(Append, AHardLinkIsRefused)
{
	TempDir d;
	const std::string dir = logging_dir(d), other = d / "other";
	{
		std::ofstream(other) << "precious\n";
	}
	ASSERT_EQ(::link(other.c_str(), (dir + "/compile").c_str()), 0);
	Status s = elog::append(dir + "/compile", "QA x\n");
	ASSERT_FALSE(s.ok());
	EXPECT_NE(s.error().what.find("2 links"), std::string::npos) << s.error().what;
	EXPECT_EQ(slurp(other), "precious\n");
	// twin: once it is the only name, it is written
	ASSERT_EQ(::unlink(other.c_str()), 0);
	EXPECT_TRUE(elog::append(dir + "/compile", "QA x\n").ok());
}

TEST(Append, AWorldWritableDirectoryIsRefused)
{
	TempDir d;
	const std::string dir = logging_dir(d);
	ASSERT_EQ(::chmod(dir.c_str(), 01777), 0);
	Status s = elog::append(dir + "/compile", "QA x\n");
	ASSERT_FALSE(s.ok());
	EXPECT_NE(s.error().what.find("writable by everyone"), std::string::npos) << s.error().what;
	struct stat st {
	};
	EXPECT_NE(::lstat((dir + "/compile").c_str(), &st), 0);
	// twin: group-writable (the portage group's) is fine
	ASSERT_EQ(::chmod(dir.c_str(), 0775), 0);
	EXPECT_TRUE(elog::append(dir + "/compile", "QA x\n").ok());
}

TEST(Append, RootRefusesAThirdUsersFileButTakesTheDirectoryOwnersOne)
{
	if (::geteuid() != 0)
		GTEST_SKIP() << "needs root (chown); tests/bats/elog.bats runs the same as root";
	TempDir d;
	const std::string dir = logging_dir(d);
	ASSERT_EQ(::chown(dir.c_str(), 250, 250), 0); // the build user's ${T}/logging
	const std::string third = dir + "/compile", owners = dir + "/test";
	{
		std::ofstream(third) << "";
		std::ofstream(owners) << "";
	}
	ASSERT_EQ(::chown(third.c_str(), 1234, 1234), 0);
	ASSERT_EQ(::chown(owners.c_str(), 250, 250), 0);
	Status s = elog::append(third, "QA x\n");
	ASSERT_FALSE(s.ok());
	EXPECT_NE(s.error().what.find("belongs to uid 1234"), std::string::npos) << s.error().what;
	EXPECT_EQ(slurp(third), "");
	// twin: the directory owner's file, and a new one (root's), are written
	EXPECT_TRUE(elog::append(owners, "QA x\n").ok());
	EXPECT_TRUE(elog::append(dir + "/install", "QA x\n").ok());
	EXPECT_EQ(slurp(owners), "QA x\n");
}
