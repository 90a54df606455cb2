// Fuzz phasebox-proxy's command line: the real grammar (helpers/phasebox-proxy.cc,
// compiled here with its main() renamed; nothing is executed).  Properties: it stops with
// 0 or 100 or goes on; when it goes on the next program is exactly what followed "--",
// --socket was given and --upstream-socks is empty or an absolute path that fits a
// sockaddr_un.
#define FUZZ_CLI_SOURCE "../../helpers/phasebox-proxy.cc"
#include "cli.hh"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
	fuzzargv::Argv a(data, size, prog);
	Options o;
	if (!fuzzcli::goes_on(a, o, parse))
		return 0;
	fuzzcli::require_next(a, o.next);
	bool socket_given = false;
	for (int i = 1; i < a.argc() && a.word(static_cast<size_t>(i)) != "--"; ++i)
		socket_given =
		    socket_given || a.word(static_cast<size_t>(i)).rfind("--socket", 0) == 0;
	FUZZ_REQUIRE(socket_given);
	FUZZ_REQUIRE(o.upstream_socks.empty() ||
	             (o.upstream_socks[0] == '/' &&
	              o.upstream_socks.size() < sizeof(sockaddr_un::sun_path)));
	return 0;
}
