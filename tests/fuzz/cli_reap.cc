// Fuzz phasebox-reap's command line: the real grammar (helpers/phasebox-reap.cc, compiled
// here with its main() renamed; nothing is executed).  Properties: it stops with 0 or
// 100 or goes on, and when it goes on the next program is exactly what followed "--".
#define FUZZ_CLI_SOURCE "../../helpers/phasebox-reap.cc"
#include "cli.hh"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
	fuzzargv::Argv a(data, size, prog);
	Options o;
	if (fuzzcli::goes_on(a, o, parse))
		fuzzcli::require_next(a, o.next);
	return 0;
}
