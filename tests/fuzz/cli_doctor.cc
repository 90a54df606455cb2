// Fuzz `phasebox doctor`'s command line: the real grammar (helpers/cmd/doctor.cc; its
// registration needs the registry, which cli.hh defines; nothing is
// probed).  Properties: it stops with 0 or 100 or goes on, and --fallback, when given,
// holds fail or warn.
#define FUZZ_CLI_SUBCOMMAND
#define FUZZ_CLI_SOURCE "../../helpers/cmd/doctor.cc"
#include "cli.hh"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
	fuzzargv::Argv a(data, size, "phasebox doctor");
	Options o;
	if (fuzzcli::goes_on(a, o, parse))
		FUZZ_REQUIRE(o.fallback.empty() || fuzzargv::one_of(o.fallback, {"fail", "warn"}));
	return 0;
}
