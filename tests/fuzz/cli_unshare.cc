// Fuzz phasebox-unshare's command line: the real grammar (helpers/phasebox-unshare.cc,
// compiled here with its main() renamed; nothing is executed).  Properties: it stops with
// 0 or 100 or goes on; when it goes on the next program is exactly what followed "--",
// --userns and --fallback hold one of their words, the hostname is 1-64 bytes of
// [A-Za-z0-9.-], --pid implies --mount and --proxy-socket needs --net.
#define FUZZ_CLI_SOURCE "../../helpers/phasebox-unshare.cc"
#include "cli.hh"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
	fuzzargv::Argv a(data, size, prog);
	Options o;
	if (!fuzzcli::goes_on(a, o, parse))
		return 0;
	fuzzcli::require_next(a, o.next);
	FUZZ_REQUIRE(fuzzargv::one_of(o.userns, {"auto", "never", "always"}));
	FUZZ_REQUIRE(fuzzargv::one_of(o.fallback, {"fail", "warn"}));
	FUZZ_REQUIRE(!o.hostname.empty() && o.hostname.size() <= 64);
	FUZZ_REQUIRE(o.hostname.find_first_not_of(
	                 "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") ==
	             std::string::npos);
	FUZZ_REQUIRE(!o.pid || o.mount);
	FUZZ_REQUIRE(o.proxy_socket.empty() || o.net);
	return 0;
}
