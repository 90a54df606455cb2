// Fuzz `phasebox report` on its log (helpers/cmd/report.cc, the whole command: load,
// aggregate, the tables, the suggestions, --json): the log holds what every writer
// appended, a package's name included, and may be damaged.  The first byte picks the
// options, the rest is the log (a memfd).  Property: whatever the lines, report reads the
// file and exits 0 — a line that is no record is counted and skipped, never a crash or an
// exception.
#include "../../helpers/cmd/report.cc"
#include "argv.hh"

#include <sys/mman.h>

std::map<std::string, phasebox::cmd::Command>& phasebox::cmd::registry()
{
	static std::map<std::string, Command> r;
	return r;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
	static int fd = ::memfd_create("report-log", MFD_CLOEXEC);
	FUZZ_REQUIRE(fd >= 0);
	if (size == 0)
		return 0;
	FUZZ_REQUIRE(::ftruncate(fd, 0) == 0);
	FUZZ_REQUIRE(::pwrite(fd, data + 1, size - 1, 0) == static_cast<ssize_t>(size - 1));
	std::string log = "/proc/self/fd/" + std::to_string(fd);
	const char* sorts[] = {"memory", "cpu", "wall"};
	std::vector<std::string> words = {"phasebox report", "--log", log, "--sort",
	                                  sorts[data[0] % 3]};
	if (data[0] & 4)
		words.emplace_back("--json");
	if (data[0] & 8)
		words.emplace_back("--no-chart");
	if (data[0] & 16) {
		words.emplace_back("--package");
		words.emplace_back(data[0] & 32 ? "a/*" : "b-1");
	}
	if (data[0] & 64) {
		words.emplace_back("--since");
		words.emplace_back("2026-01-01");
	}
	std::vector<char*> argv;
	for (auto& w : words)
		argv.push_back(w.data());
	argv.push_back(nullptr);
	int rc;
	{
		fuzzargv::Quiet q;
		rc = run(static_cast<int>(words.size()), argv.data());
	}
	FUZZ_REQUIRE(rc == 0);
	return 0;
}
