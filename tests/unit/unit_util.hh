// Helpers shared by the unit tests.
//
// Fixture files are found relative to the current directory: `make check-unit` runs
// build/unit-tests from the top of the repository, so "tests/unit/fixtures/<name>" is
// where they are.  Run the binary by hand from the repository root too.
#pragma once

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

namespace phasebox::test {

inline std::string fixture(const std::string& name)
{
	std::string p = "tests/unit/fixtures/" + name;
	struct stat st{};
	if (::stat(p.c_str(), &st) != 0)
		ADD_FAILURE() << "fixture " << p << " not found: run the tests from the repository root";
	return p;
}

// A fresh directory below $TMPDIR (or /tmp), removed with everything in it.
// std::filesystem::remove_all never follows symlinks, so a test's hostile symlinks are safe.
class TempDir {
      public:
	TempDir()
	{
		const char* t = std::getenv("TMPDIR");
		std::string tmpl = std::string(t && *t ? t : "/tmp") + "/phasebox-unit.XXXXXX";
		if (!::mkdtemp(tmpl.data()))
			ADD_FAILURE() << "mkdtemp: " << std::strerror(errno);
		path_ = tmpl;
	}
	TempDir(const TempDir&) = delete;
	TempDir& operator=(const TempDir&) = delete;
	~TempDir()
	{
		std::error_code ec;
		std::filesystem::remove_all(path_, ec);
	}
	const std::string& path() const { return path_; }
	std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

      private:
	std::string path_;
};

} // namespace phasebox::test
