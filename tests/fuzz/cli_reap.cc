// Fuzz phasebox-reap's command line: the real grammar (helpers/phasebox-reap.cc, compiled
// here with its main() renamed; nothing is executed).  Properties: it stops with 0 or
// 100 or goes on, and when it goes on the next program is exactly what followed "--".
#define main phasebox_reap_main
#include "../../helpers/phasebox-reap.cc"
#undef main
#include "argv.hh"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
	fuzzargv::Argv a(data, size, prog);
	Options o;
	std::optional<int> rc;
	{
		fuzzargv::Quiet q;
		rc = parse(cli::split_at_separator(a.argc(), a.argv()), o);
	}
	fuzzargv::require_stop_or_go_on(rc);
	if (!rc) {
		FUZZ_REQUIRE(a.separator() && !a.next().empty());
		FUZZ_REQUIRE(o.next == a.next());
	}
	return 0;
}
