// Fuzz phasebox-service's command line: the real grammar (helpers/phasebox-service.cc,
// compiled here with its main() renamed; nothing is executed).  Properties: it stops with
// 0 or 100 or goes on; when it goes on the next program is exactly what followed "--",
// --watch is a pid 1..2^22, --stop-timeout 1..600 s, --watch-start only digits, and the
// stop signal is the one --stop-signal names.
#define FUZZ_CLI_SOURCE "../../helpers/phasebox-service.cc"
#include "cli.hh"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
	fuzzargv::Argv a(data, size, prog);
	Options o;
	if (!fuzzcli::goes_on(a, o, parse))
		return 0;
	fuzzcli::require_next(a, o.next);
	FUZZ_REQUIRE(o.watch >= 1 && o.watch <= (1 << 22));
	FUZZ_REQUIRE(o.stop_timeout >= 1 && o.stop_timeout <= 600);
	FUZZ_REQUIRE(o.watch_start.find_first_not_of("0123456789") == std::string::npos);
	FUZZ_REQUIRE(stop_signals.count(o.stop_signal) == 1 &&
	             o.stop_sig == stop_signals.at(o.stop_signal));
	return 0;
}
