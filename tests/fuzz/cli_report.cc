// Fuzz `phasebox report`'s command line: the real grammar (helpers/cmd/report.cc; its
// registration needs the registry, which cli.hh defines; no log is
// read).  Properties: it stops with 0 or 100 or goes on; --sort holds memory, cpu or wall,
// --top is 1..100000.
#define FUZZ_CLI_SUBCOMMAND
#define FUZZ_CLI_SOURCE "../../helpers/cmd/report.cc"
#include "cli.hh"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
	fuzzargv::Argv a(data, size, "phasebox report");
	Options o;
	if (fuzzcli::goes_on(a, o, parse)) {
		FUZZ_REQUIRE(fuzzargv::one_of(o.sort, {"memory", "cpu", "wall"}));
		FUZZ_REQUIRE(o.top >= 1 && o.top <= 100000);
	}
	return 0;
}
