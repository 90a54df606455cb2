// Fuzz `phasebox report`'s command line: the real grammar (helpers/cmd/report.cc; its
// registration needs the registry, defined here as helpers/phasebox.cc does; no log is
// read).  Properties: it stops with 0 or 100 or goes on; --sort holds memory, cpu or wall,
// --top is 1..100000.
#include "../../helpers/cmd/report.cc"
#include "argv.hh"

std::map<std::string, phasebox::cmd::Command>& phasebox::cmd::registry()
{
	static std::map<std::string, Command> r;
	return r;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
	fuzzargv::Argv a(data, size, "phasebox report");
	Options o;
	std::optional<int> rc;
	{
		fuzzargv::Quiet q;
		rc = parse(a.argc(), a.argv(), o);
	}
	fuzzargv::require_stop_or_go_on(rc);
	if (!rc) {
		FUZZ_REQUIRE(fuzzargv::one_of(o.sort, {"memory", "cpu", "wall"}));
		FUZZ_REQUIRE(o.top >= 1 && o.top <= 100000);
	}
	return 0;
}
