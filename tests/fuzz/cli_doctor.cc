// Fuzz `phasebox doctor`'s command line: the real grammar (helpers/cmd/doctor.cc; its
// registration needs the registry, defined here as helpers/phasebox.cc does; nothing is
// probed).  Properties: it stops with 0 or 100 or goes on, and --fallback, when given,
// holds fail or warn.
#include "../../helpers/cmd/doctor.cc"
#include "argv.hh"

std::map<std::string, phasebox::cmd::Command>& phasebox::cmd::registry()
{
	static std::map<std::string, Command> r;
	return r;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
	fuzzargv::Argv a(data, size, "phasebox doctor");
	Options o;
	std::optional<int> rc;
	{
		fuzzargv::Quiet q;
		rc = parse(a.argc(), a.argv(), o);
	}
	fuzzargv::require_stop_or_go_on(rc);
	if (!rc)
		FUZZ_REQUIRE(o.fallback.empty() || fuzzargv::one_of(o.fallback, {"fail", "warn"}));
	return 0;
}
