// Fuzz phasebox-service's command line: the real grammar (helpers/phasebox-service.cc,
// compiled here with its main() renamed; nothing is executed).  Properties: it stops with
// 0 or 100 or goes on; when it goes on the next program is exactly what followed "--",
// --watch is a pid 1..2^22, --stop-timeout 1..600 s, --watch-start only digits, and the
// stop signal is the one --stop-signal names.
#define main phasebox_service_main
#include "../../helpers/phasebox-service.cc"
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
	if (rc)
		return 0;
	FUZZ_REQUIRE(a.separator() && !a.next().empty());
	FUZZ_REQUIRE(o.next == a.next());
	FUZZ_REQUIRE(o.watch >= 1 && o.watch <= (1 << 22));
	FUZZ_REQUIRE(o.stop_timeout >= 1 && o.stop_timeout <= 600);
	FUZZ_REQUIRE(o.watch_start.find_first_not_of("0123456789") == std::string::npos);
	FUZZ_REQUIRE(stop_signals.count(o.stop_signal) == 1 &&
	             o.stop_sig == stop_signals.at(o.stop_signal));
	return 0;
}
