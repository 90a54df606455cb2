// file.hh: whole-file reads and one-write writes, never through a symlink.
#include "common/file.hh"

#include "common/fd.hh"
#include "unit_util.hh"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <unistd.h>

using phasebox::pread_all;
using phasebox::read_file;
using phasebox::read_file_at;
using phasebox::UniqueFd;
using phasebox::write_file_at;
using phasebox::test::TempDir;

namespace {

void put(const std::string& path, const std::string& data)
{
	std::ofstream f(path, std::ios::binary);
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

TEST(ReadFile, WholeFileByteForByte)
{
	TempDir d;
	std::string data("line 1\n\0binary\xff\n", 16);
	put(d / "f", data);
	auto r = read_file(d / "f");
	ASSERT_TRUE(r.ok()) << r.error().what;
	EXPECT_EQ(r.value(), data);
	put(d / "empty", "");
	auto e = read_file(d / "empty");
	ASSERT_TRUE(e.ok());
	EXPECT_EQ(e.value(), "");
}

// Bigger than the 4 KiB read buffer: every chunk is kept, in order.
TEST(ReadFile, LargerThanOneBuffer)
{
	TempDir d;
	std::string data;
	for (int i = 0; i < 5000; ++i)
		data += std::to_string(i) + "\n";
	put(d / "big", data);
	auto r = read_file(d / "big");
	ASSERT_TRUE(r.ok());
	EXPECT_EQ(r.value(), data);
}

TEST(ReadFile, PseudoFile)
{
	auto r = read_file("/proc/self/stat");
	ASSERT_TRUE(r.ok());
	EXPECT_EQ(r.value().rfind(std::to_string(::getpid()) + " (", 0), 0u);
}

TEST(ReadFile, Errors)
{
	TempDir d;
	auto missing = read_file(d / "missing");
	ASSERT_FALSE(missing.ok());
	EXPECT_EQ(missing.error().err, ENOENT);
	EXPECT_EQ(missing.error().what, "open '" + (d / "missing") + "'");
	auto dir = read_file(d.path());
	ASSERT_FALSE(dir.ok());
	EXPECT_EQ(dir.error().err, EISDIR);
	EXPECT_EQ(dir.error().what, "read '" + d.path() + "'");
}

TEST(ReadFile, RefusesASymlink)
{
	TempDir d;
	put(d / "target", "secret");
	ASSERT_EQ(::symlink((d / "target").c_str(), (d / "link").c_str()), 0);
	auto r = read_file(d / "link");
	ASSERT_FALSE(r.ok());
	EXPECT_EQ(r.error().err, ELOOP);
	UniqueFd dfd(::open(d.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	auto at = read_file_at(dfd.get(), "link");
	ASSERT_FALSE(at.ok());
	EXPECT_EQ(at.error().err, ELOOP);
	// Its twin: the target itself reads fine.
	auto ok = read_file_at(dfd.get(), "target");
	ASSERT_TRUE(ok.ok());
	EXPECT_EQ(ok.value(), "secret");
}

TEST(WriteFileAt, WritesAnExistingFile)
{
	TempDir d;
	put(d / "f", "");
	UniqueFd dfd(::open(d.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	auto s = write_file_at(dfd.get(), "f", "1234\n");
	ASSERT_TRUE(s.ok()) << s.error().what;
	EXPECT_EQ(get(d / "f"), "1234\n");
}

// Made for cgroupfs files: no O_CREAT, no O_TRUNC.
TEST(WriteFileAt, NeverCreates)
{
	TempDir d;
	UniqueFd dfd(::open(d.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	auto s = write_file_at(dfd.get(), "new", "x");
	ASSERT_FALSE(s.ok());
	EXPECT_EQ(s.error().err, ENOENT);
	EXPECT_EQ(s.error().what, "open 'new'");
	EXPECT_NE(::access((d / "new").c_str(), F_OK), 0);
}

TEST(WriteFileAt, RefusesASymlink)
{
	TempDir d;
	put(d / "target", "untouched");
	ASSERT_EQ(::symlink("target", (d / "link").c_str()), 0);
	UniqueFd dfd(::open(d.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	auto s = write_file_at(dfd.get(), "link", "pwned");
	ASSERT_FALSE(s.ok());
	EXPECT_EQ(s.error().err, ELOOP);
	EXPECT_EQ(get(d / "target"), "untouched");
	// A dangling symlink is not created through either.
	ASSERT_EQ(::symlink("nowhere", (d / "dangling").c_str()), 0);
	auto s2 = write_file_at(dfd.get(), "dangling", "x");
	ASSERT_FALSE(s2.ok());
	EXPECT_EQ(s2.error().err, ELOOP);
	EXPECT_NE(::access((d / "nowhere").c_str(), F_OK), 0);
}

TEST(WriteFileAt, WriteErrorIsReported)
{
	UniqueFd dev(::open("/dev", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	ASSERT_TRUE(dev.valid());
	auto s = write_file_at(dev.get(), "full", "x");
	ASSERT_FALSE(s.ok());
	EXPECT_EQ(s.error().err, ENOSPC);
	EXPECT_EQ(s.error().what, "write 'full'");
	EXPECT_TRUE(write_file_at(dev.get(), "null", "x").ok());
}

TEST(PreadAll, ReadsFromOffsetZero)
{
	TempDir d;
	put(d / "f", "abcdef");
	UniqueFd fd(::open((d / "f").c_str(), O_RDONLY | O_CLOEXEC));
	ASSERT_EQ(::lseek(fd.get(), 4, SEEK_SET), 4);
	auto r = pread_all(fd.get());
	ASSERT_TRUE(r.ok());
	EXPECT_EQ(r.value(), "abcdef");
	// And again: the file offset is not used.
	r = pread_all(fd.get());
	ASSERT_TRUE(r.ok());
	EXPECT_EQ(r.value(), "abcdef");
}

TEST(PreadAll, Errors)
{
	int p[2];
	ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
	UniqueFd r(p[0]), w(p[1]);
	auto pipe_read = pread_all(r.get());
	ASSERT_FALSE(pipe_read.ok());
	EXPECT_EQ(pipe_read.error().err, ESPIPE);
	auto bad = pread_all(-1);
	ASSERT_FALSE(bad.ok());
	EXPECT_EQ(bad.error().err, EBADF);
}

} // namespace
